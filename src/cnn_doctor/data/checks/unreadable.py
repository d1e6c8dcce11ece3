"""Records the reader could not use: a truncated tail, or a label byte outside the class list.

The strict loader refuses such files outright (right for training); ``data-check`` reads them
with ``records.read_split_tolerant``, keeps every record it can, and lists the rest here, so the
report says *which* records are broken instead of only that a file is.
"""

from __future__ import annotations

from cnn_doctor.data.checks.base import DataCheckInput, IssueManager, register
from cnn_doctor.diagnose.findings import Finding, Fix


@register
class UnreadableRecords(IssueManager):
    """Records that could not be parsed (truncated, bad label byte, missing file)."""

    name = "unreadable_records"
    order = 10
    description = "records that could not be parsed (truncated file, label byte out of range)"

    def missing(self, data: DataCheckInput) -> str | None:
        if data.unreadable is None:
            return "the images were given as arrays, not read from files: nothing to scan"
        return None

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        bad = list(data.unreadable or ())
        if not bad:
            return []
        files = sorted({r.file for r in bad})
        reasons: dict[str, int] = {}
        for r in bad:
            kind = " ".join(r.reason.split(":")[0].split(" ")[:2])  # "label byte", "truncated …"
            reasons[kind] = reasons.get(kind, 0) + 1
        return [
            Finding(
                id=self.name,
                area="data",
                severity="critical",
                confidence=1.0,
                summary=(
                    f"{len(bad)} records cannot be read ({', '.join(files)}); training refuses "
                    "these files until they are replaced or cleaned."
                ),
                evidence={
                    "count": len(bad),
                    "by_reason": reasons,
                    "files": files,
                    "records": [
                        {"item": [r.split, r.index], "file": r.file, "reason": r.reason}
                        for r in bad[:200]
                    ],
                },
                fixes=(
                    Fix(
                        "re-download or re-copy the damaged files",
                        "a truncated or overwritten batch file is the usual cause",
                    ),
                    Fix(
                        "cnn-doctor data-check --export-clean clean/ ; then data.data_dir=clean",
                        "writes only the readable records, in the same layout",
                    ),
                ),
                items=tuple((r.split, int(r.index)) for r in bad),
            )
        ]
