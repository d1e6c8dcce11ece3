"""``--export-clean DIR``: a copy of the dataset without the flagged records, plus what was removed.

The copy is written in the same binary layout (``cifar-10-batches-bin/``), so ``data.data_dir=DIR``
trains on it unchanged, and kept records stay in their original order. ``removed.tsv`` lists every
removed record by its *original* ``split``/``index`` and the finding that removed it.

What is removed, by finding: the items of ``exact_duplicates``, ``near_duplicates``,
``degenerate_images`` and ``label_issues``; for ``train_test_leakage`` the *train partners* of the
leaked test images (not the test images: the test set stays the one everyone reports on, and the
leak is closed all the same). ``outlier_images`` are not removed by default — unusual is not wrong.
Unreadable records are absent from the copy by construction and listed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_doctor.atomic import atomic_write_text
from cnn_doctor.data.checks.base import DataCheckInput
from cnn_doctor.diagnose.findings import Finding

DEFAULT_REMOVE = (
    "exact_duplicates",
    "near_duplicates",
    "train_test_leakage",
    "degenerate_images",
    "label_issues",
    "unreadable_records",
)
REMOVAL_LIST = "removed.tsv"


@dataclass(frozen=True)
class ExportResult:
    folder: Path  # the written cifar-10-batches-bin folder
    removal_list: Path
    removed: dict[str, int]  # per split
    kept: dict[str, int]


def records_to_remove(
    findings: Iterable[Finding], remove: Sequence[str] = DEFAULT_REMOVE
) -> dict[tuple[str, int], tuple[str, str]]:
    """``(split, index) -> (finding id, detail)`` for every record the export drops."""
    out: dict[tuple[str, int], tuple[str, str]] = {}
    for finding in findings:
        if finding.id not in remove:
            continue
        if finding.id == "train_test_leakage":
            for pair in finding.evidence.get("pairs", []):
                test_index = pair["item"][1]
                partners = pair.get("all_train_partners") or [pair["partner"][1]]
                for idx in partners:
                    out.setdefault(
                        ("train", int(idx)), (finding.id, f"copy of test record {test_index}")
                    )
            continue
        for split, index in finding.items:
            out.setdefault((split, int(index)), (finding.id, ""))
    return out


def export_clean(
    data: DataCheckInput,
    findings: Sequence[Finding],
    directory: str | Path,
    *,
    remove: Sequence[str] = DEFAULT_REMOVE,
) -> ExportResult:
    """Write ``data`` minus the flagged records to ``directory`` (see module docstring)."""
    from cnn_doctor.data.cifar10 import write_dataset

    if data.x_test is None or data.y_test is None:
        raise ValueError("export needs the test split too (the layout has a test_batch.bin)")
    drop = records_to_remove(findings, remove)
    keep_rows = {}
    for split, n in (("train", data.n_train), ("test", data.n_test)):
        records = data.record_index(split, np.arange(n))
        dropped = np.array([(split, int(r)) in drop for r in records], dtype=bool)
        keep_rows[split] = np.flatnonzero(~dropped)
    folder = write_dataset(
        directory,
        data.x_train[keep_rows["train"]],
        data.y_train[keep_rows["train"]],
        data.x_test[keep_rows["test"]],
        data.y_test[keep_rows["test"]],
        data.class_names,
    )
    removal = Path(directory) / REMOVAL_LIST
    lines = ["split\tindex\tfinding\tdetail"]
    lines += [f"{s}\t{i}\t{fid}\t{detail}" for (s, i), (fid, detail) in sorted(drop.items())]
    atomic_write_text(removal, "\n".join(lines) + "\n")
    removed = {s: sum(1 for (sp, _) in drop if sp == s) for s in ("train", "test")}
    kept = {s: int(len(r)) for s, r in keep_rows.items()}
    return ExportResult(Path(folder), removal, removed, kept)
