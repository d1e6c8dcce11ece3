"""PNG grids of offenders: sizes follow the layout, bad input is refused with a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnn_doctor.data.image_grid import save_image_grid, save_pair_grid


def test_grid_has_one_tile_per_image_upscaled(tmp_path) -> None:
    images = np.random.default_rng(0).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    path = save_image_grid(
        images, tmp_path / "g.png", captions=[["a", "b"]] * 7, columns=4, scale=2, title="seven"
    )
    with Image.open(path) as png:
        width, height = png.size
    assert width > 4 * 64 and height > 2 * 64  # 4 columns, 2 rows of 64-px tiles
    assert width < 4 * 64 + 200


def test_pair_grid_puts_two_images_per_tile(tmp_path) -> None:
    a = np.zeros((3, 32, 32, 3), np.uint8)
    path = save_pair_grid(a, a + 255, tmp_path / "p.png", columns=3, scale=1)
    with Image.open(path) as png:
        assert png.size[0] >= 3 * 64


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((2, 32, 32), np.uint8), "NHWC"),
        (np.zeros((2, 32, 32, 3), np.float32), "uint8"),
        (np.zeros((0, 32, 32, 3), np.uint8), "no images"),
    ],
)
def test_bad_images_are_refused(tmp_path, images, message) -> None:
    with pytest.raises(ValueError, match=message):
        save_image_grid(images, tmp_path / "x.png")


def test_caption_count_must_match(tmp_path) -> None:
    with pytest.raises(ValueError, match="captions"):
        save_image_grid(np.zeros((2, 32, 32, 3), np.uint8), tmp_path / "x.png", captions=["a"])
