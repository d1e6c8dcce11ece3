"""A single self-contained ``report.html`` per run directory, assembled from sections.

Each capability (training curves, diagnosis, data check, ablation) contributes a ``ReportSection``
— a title, some HTML, and PNG images — and ``write_report`` embeds the images as base64 so the file
can be mailed or attached to an issue on its own.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cnn_doctor.diagnose.findings import Finding, rank_findings

_SECTIONS_DIR = "report_sections"

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em} td,th{border:1px solid #ddd;
padding:.3em .6em;vertical-align:top;text-align:left} th{background:#f5f5f5}
.critical{color:#b00020;font-weight:bold} .warning{color:#b26a00;font-weight:bold}
.info{color:#555} img{max-width:100%;border:1px solid #eee;margin:.5em 0} code{background:#f3f3f3;
padding:0 .2em}
"""


@dataclass
class ReportSection:
    title: str
    body_html: str = ""
    images: list[Path] = field(default_factory=list)
    order: int = 50  # lower comes first

    def save(self, run_dir: Path, key: str) -> None:
        """Persist the section so a later ``report`` call can rebuild the whole page."""
        folder = Path(run_dir) / _SECTIONS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "title": self.title,
            "body_html": self.body_html,
            "images": [str(Path(p).resolve()) for p in self.images],
            "order": self.order,
        }
        (folder / f"{key}.json").write_text(json.dumps(payload, indent=2))


def load_sections(run_dir: Path) -> list[ReportSection]:
    folder = Path(run_dir) / _SECTIONS_DIR
    sections = []
    for file in sorted(folder.glob("*.json")):
        raw = json.loads(file.read_text())
        sections.append(
            ReportSection(
                raw["title"],
                raw["body_html"],
                [Path(p) for p in raw["images"]],
                raw.get("order", 50),
            )
        )
    return sorted(sections, key=lambda s: s.order)


def findings_table_html(findings: Sequence[Finding]) -> str:
    """The ranked findings as an HTML table (same columns as the terminal table)."""
    if not findings:
        return "<p>No problems found.</p>"
    rows = []
    for rank, f in enumerate(rank_findings(findings), start=1):
        evidence = html.escape(json.dumps(f.evidence, default=str)[:600])
        fixes = "<br>".join(
            f"<code>{html.escape(fix.change)}</code> — {html.escape(fix.why)}" for fix in f.fixes
        )
        rows.append(
            f"<tr><td>{rank}</td><td><code>{html.escape(f.id)}</code></td><td>{f.area}</td>"
            f"<td class='{f.severity}'>{f.severity}</td><td>{f.confidence:.2f}</td>"
            f"<td>{html.escape(f.summary)}</td><td><small>{evidence}</small></td>"
            f"<td>{fixes}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th>id</th><th>area</th><th>severity</th><th>conf.</th><th>summary</th>"
        "<th>evidence</th><th>fixes</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _image_tag(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(Path(path).stem)}' src='data:image/png;base64,{data}'>"


def write_report(run_dir: Path, title: str = "cnn-doctor report") -> Path:
    """Render every saved section of ``run_dir`` into ``run_dir/report.html``."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p><code>{html.escape(str(run_dir))}</code></p>"]
    for section in load_sections(run_dir):
        parts.append(f"<h2>{html.escape(section.title)}</h2>{section.body_html}")
        parts.extend(_image_tag(p) for p in section.images if Path(p).is_file())
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    out = Path(run_dir) / "report.html"
    out.write_text(page)
    return out
