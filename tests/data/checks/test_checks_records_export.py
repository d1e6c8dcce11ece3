"""Damaged files are read record by record; --export-clean writes a loadable, smaller copy."""

from __future__ import annotations

import numpy as np
from dc_planting import balanced_labels, jpeg, natural_images

from cnn_doctor.data.checks import export_clean, load_check_input, run_data_check_suite
from cnn_doctor.data.checks.records import find_layout_dir
from cnn_doctor.data.cifar10 import RECORD_BYTES, load_cifar10, write_dataset


def _write(root, x, y, xt, yt):
    return write_dataset(root, x, y, xt, yt, [f"c{i}" for i in range(10)])


def test_bad_label_bytes_and_a_truncated_tail_become_unreadable_items(tmp_path) -> None:
    folder = _write(
        tmp_path,
        natural_images(50),
        balanced_labels(50),
        natural_images(10, 2),
        balanced_labels(10),
    )
    raw = bytearray((folder / "data_batch_2.bin").read_bytes())  # records 10..19
    raw[3 * RECORD_BYTES] = 200  # record 13: label byte 200
    (folder / "data_batch_2.bin").write_bytes(bytes(raw))
    test_raw = (folder / "test_batch.bin").read_bytes()
    (folder / "test_batch.bin").write_bytes(test_raw[: -RECORD_BYTES // 2])  # test 9 truncated
    data, notes = load_check_input(tmp_path, download=False)
    assert notes and "strict loader" in notes[0]
    assert data.n_train == 49 and data.n_test == 9
    result = run_data_check_suite(data, ["unreadable_records", "degenerate_images"])
    (finding,) = result.findings
    assert finding.id == "unreadable_records" and finding.severity == "critical"
    assert set(finding.items) == {("train", 13), ("test", 9)}
    assert data.record_index("train", [12, 13]).tolist() == [12, 14]  # row 13 is record 14


def test_find_layout_dir_accepts_the_parent_or_the_folder(tmp_path) -> None:
    folder = _write(
        tmp_path, natural_images(10), balanced_labels(10), natural_images(5), balanced_labels(5)
    )
    assert find_layout_dir(tmp_path) == folder == find_layout_dir(folder)


def test_export_clean_drops_flagged_records_and_keeps_the_test_set(tmp_path) -> None:
    x, xt = natural_images(60, 1), natural_images(20, 2)
    x[40] = x[3]  # exact duplicate
    x[41] = 0  # blank
    xt[5] = jpeg(x[10], 70)  # leak: train 10 is removed, test 5 kept
    _write(tmp_path / "src", x, balanced_labels(60), xt, balanced_labels(20))
    data, _ = load_check_input(tmp_path / "src", download=False)
    result = run_data_check_suite(data)
    exported = export_clean(data, result.findings, tmp_path / "clean")
    removed = exported.removal_list.read_text().splitlines()
    assert removed[0] == "split\tindex\tfinding\tdetail"
    rows = {tuple(line.split("\t")[:3]) for line in removed[1:]}
    assert rows == {
        ("train", "40", "exact_duplicates"),
        ("train", "41", "degenerate_images"),
        ("train", "10", "train_test_leakage"),
    }
    clean = load_cifar10(tmp_path / "clean", download=False)
    assert len(clean.x_train) == 57 and len(clean.x_test) == 20
    kept = np.setdiff1d(np.arange(60), [10, 40, 41])
    np.testing.assert_array_equal(clean.x_train, x[kept])  # order preserved
    assert exported.kept == {"train": 57, "test": 20}
