"""PNG grids of flagged images, so a person can *look* at what a data check found.

A table that says "image 31,207 is a near-duplicate of 8,112" convinces nobody; the two thumbnails
side by side do. Images are upscaled with nearest-neighbour (no smoothing: a 32×32 record should
look like what the network sees), each with a short caption underneath. Pillow only — no
matplotlib figure machinery, so a grid of 60 thumbnails takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnn_doctor.atomic import atomic_write

_BACKGROUND = (255, 255, 255)
_TEXT = (30, 30, 30)
_PAIR_GAP = 2  # pixels between the two halves of a pair
_CELL_GAP = 10


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _text_height(font: ImageFont.ImageFont) -> int:
    left, top, right, bottom = font.getbbox("Ag")
    return int(bottom - top) + 3


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be NHWC with 1 or 3 channels, got shape {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (raw pixels), got {images.dtype}")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def _fit_caption(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """Shorten ``text`` with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _render(
    cells: Sequence[Sequence[np.ndarray]],
    captions: Sequence[Sequence[str]],
    path: Path,
    *,
    columns: int,
    scale: int,
    title: str | None,
) -> Path:
    font = _font()
    line = _text_height(font)
    per_cell = max(len(c) for c in cells)
    h, w = cells[0][0].shape[:2]
    tile_w = per_cell * w * scale + (per_cell - 1) * _PAIR_GAP
    tile_w = max(tile_w, 64)
    lines = max(len(c) for c in captions) if captions else 0
    tile_h = h * scale + lines * line
    columns = max(1, min(columns, len(cells)))
    rows = -(-len(cells) // columns)
    top = line + 6 if title else 0
    canvas = Image.new(
        "RGB",
        (columns * (tile_w + _CELL_GAP) + _CELL_GAP, top + rows * (tile_h + _CELL_GAP) + _CELL_GAP),
        _BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text(
            (_CELL_GAP, 3),
            _fit_caption(draw, title, font, canvas.width - 20),
            fill=_TEXT,
            font=font,
        )
    for n, (images, texts) in enumerate(zip(cells, captions, strict=True)):
        row, col = divmod(n, columns)
        x0 = _CELL_GAP + col * (tile_w + _CELL_GAP)
        y0 = top + _CELL_GAP + row * (tile_h + _CELL_GAP)
        for k, image in enumerate(images):
            thumb = Image.fromarray(image).resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(thumb, (x0 + k * (w * scale + _PAIR_GAP), y0))
        for j, text in enumerate(texts):
            draw.text(
                (x0, y0 + h * scale + j * line + 1),
                _fit_caption(draw, text, font, tile_w),
                fill=_TEXT,
                font=font,
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda handle: canvas.save(handle, format="PNG", optimize=True))


def save_image_grid(
    images: np.ndarray,
    path: str | Path,
    *,
    captions: Sequence[str | Sequence[str]] | None = None,
    columns: int = 10,
    scale: int = 3,
    title: str | None = None,
) -> Path:
    """Write ``images`` (uint8 NHWC) as one PNG grid, each with up to a few caption lines.

    Args:
        images: the offenders, worst first.
        path: where the PNG goes (parent folders are created).
        captions: one per image; a string, or a list of short lines (e.g. index, label, score).
        columns: thumbnails per row.
        scale: nearest-neighbour upscaling factor (3 turns 32×32 into 96×96).
        title: one line above the grid.

    Example:
        >>> save_image_grid(x[[4, 17]], "grid.png", captions=["train 4", "train 17"])
    """
    images = _check_images(images, "images")
    if len(images) == 0:
        raise ValueError("no images to draw")
    texts = _normalise_captions(captions, len(images))
    return _render(
        [[im] for im in images], texts, Path(path), columns=columns, scale=scale, title=title
    )


def save_pair_grid(
    left: np.ndarray,
    right: np.ndarray,
    path: str | Path,
    *,
    captions: Sequence[str | Sequence[str]] | None = None,
    columns: int = 5,
    scale: int = 3,
    title: str | None = None,
) -> Path:
    """Write pairs (``left[i]`` beside ``right[i]``) as one PNG grid: duplicates and leaks.

    Showing the two records of a pair touching each other is what makes a near-duplicate (or a
    false alarm) obvious at a glance.
    """
    left = _check_images(left, "left")
    right = _check_images(right, "right")
    if len(left) != len(right):
        raise ValueError(f"left and right differ in length ({len(left)} vs {len(right)})")
    if len(left) == 0:
        raise ValueError("no pairs to draw")
    texts = _normalise_captions(captions, len(left))
    return _render(
        [[a, b] for a, b in zip(left, right, strict=True)],
        texts,
        Path(path),
        columns=columns,
        scale=scale,
        title=title,
    )


def _normalise_captions(
    captions: Sequence[str | Sequence[str]] | None, count: int
) -> list[list[str]]:
    if captions is None:
        return [[] for _ in range(count)]
    if len(captions) != count:
        raise ValueError(f"{len(captions)} captions for {count} images")
    return [[c] if isinstance(c, str) else list(c) for c in captions]
