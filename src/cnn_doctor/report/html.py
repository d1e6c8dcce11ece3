"""A single self-contained ``report.html`` per run directory, assembled from sections.

Each capability (training curves, diagnosis, data check, ablation, repair) contributes a
``ReportSection`` -- a title, some HTML, and PNG images -- and ``write_report`` renders them into
one page with the images embedded as base64, so the file can be mailed or attached to an issue on
its own. Pages and finding cards are Jinja2 templates with autoescaping on: text from a run
(layer names, loss names, file paths) can never inject markup.

Findings are rendered once here, for every command: the summary, the evidence in words with its
numbers and the thresholds it was compared with, the raw JSON behind a fold, the fixes, and the
plots that support it right beside it.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from cnn_doctor.atomic import atomic_write_text
from cnn_doctor.diagnose.findings import Finding, rank_findings

_SECTIONS_DIR = "report_sections"
_IMAGE_SCHEME = "cnn-doctor-image:"

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.92em} td,th{border:1px solid #ddd;
padding:.3em .6em;vertical-align:top;text-align:left} th{background:#f5f5f5}
.critical{color:#b00020;font-weight:bold} .warning{color:#b26a00;font-weight:bold}
.info{color:#555} img{max-width:100%;border:1px solid #eee;margin:.5em 0} code{background:#f3f3f3;
padding:0 .2em}
.verdict{font-size:1.15em;padding:.7em 1em;border-radius:6px;margin:1em 0;border-left:6px solid}
.verdict-bad{background:#fdecee;border-color:#b00020} .verdict-warn{background:#fff6e5;
border-color:#b26a00} .verdict-ok{background:#eaf6ec;border-color:#2e7d32}
.finding{border:1px solid #ddd;border-radius:6px;margin:1.2em 0;padding:.2em 1em 1em}
.finding h3{margin:.6em 0 .3em;font-size:1.05em} .finding .tag{font-size:.8em;color:#555;
font-weight:normal} .card-body{display:flex;gap:1.2em;flex-wrap:wrap}
.card-text{flex:1 1 420px;min-width:300px} .card-plots{flex:1 1 100%;min-width:300px}
.evidence li{margin:.15em 0} details{margin:.4em 0;color:#444} pre{white-space:pre-wrap;
font-size:.8em;background:#f7f7f7;padding:.5em;max-height:18em;overflow:auto}
.fixes li{margin:.25em 0}
"""

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_PAGE = _ENV.from_string(
    """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ css }}</style></head><body>
<h1>{{ title }}</h1><p><code>{{ run_dir }}</code></p>
{% for section in sections %}
<h2>{{ section.title }}</h2>{{ section.body }}
{% for image in section.images %}{{ image }}{% endfor %}
{% endfor %}
</body></html>"""
)

_CARD = _ENV.from_string(
    """<div class="finding" id="finding-{{ f.id }}">
<h3>{{ rank }}. <span class="{{ f.severity }}">{{ f.severity }}</span> &middot;
<code>{{ f.id }}</code>
<span class="tag">{{ f.area }}, confidence {{ '%.2f'|format(f.confidence) }}</span></h3>
<div class="card-body"><div class="card-text">
<p>{{ f.summary }}</p>
{% if sentences %}<p><b>Evidence</b></p><ul class="evidence">
{% for s in sentences %}<li>{{ s }}</li>{% endfor %}</ul>{% endif %}
{% if f.fixes %}<p><b>What to change</b></p><ol class="fixes">
{% for fix in f.fixes %}<li><code>{{ fix.change }}</code> &mdash; {{ fix.why }}</li>{% endfor %}
</ol>{% endif %}
<details><summary>raw evidence (JSON)</summary><pre>{{ raw }}</pre></details>
</div>{% if plots %}<div class="card-plots">{% for p in plots %}{{ p }}{% endfor %}</div>{% endif %}
</div></div>"""
)


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
        atomic_write_text(folder / f"{key}.json", json.dumps(payload, indent=2))


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


# --- evidence in words ---------------------------------------------------------------------
def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.3g}"


def _words(value: Any, *, depth: int = 0) -> str:
    """A value as a reader wants it: numbers to 3 significant digits, long series shortened."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return _number(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if depth >= 2:
            return "{…}"
        # Keys inside a value are names (layers, forms, classes): kept verbatim, "name = value".
        parts = [_entry(k, v, depth) for k, v in list(value.items())[:8]]
        more = ", …" if len(value) > 8 else ""
        return "; ".join(parts) + more
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            shown = [_words(v) for v in value]
            if len(shown) > 8:
                shown = shown[:3] + ["…"] + shown[-4:]
            # brackets, not arrows: a list may be per epoch, per layer or per channel
            return (
                "[" + ", ".join(shown) + "]" if len(value) > 1 else (shown[0] if shown else "none")
            )
        if depth >= 1:
            return f"{len(value)} item(s)"
        shown = [_words(v, depth=depth + 1) for v in value[:5]]
        return ", ".join(shown) + (f", … ({len(value)} in all)" if len(value) > 5 else "")
    return str(value)


def _entry(key: Any, value: Any, depth: int) -> str:
    text = _words(value, depth=depth + 1)
    return f"{key} ({text})" if isinstance(value, Mapping) else f"{key} = {text}"


def _label(key: Any) -> str:
    text = str(key).replace("_", " ")
    return re.sub(r"\bval\b", "validation", text)


def evidence_sentences(evidence: Mapping[str, Any]) -> list[str]:
    """The evidence of a finding as short sentences: measured values first, then what they were
    compared with (and its source), then how it relates to other findings."""
    sentences = []
    for key, value in evidence.items():
        if key in ("thresholds", "likely_consequence_of", "escalated_because"):
            continue
        sentences.append(f"{_label(key).capitalize()}: {_words(value)}.")
    thresholds = dict(evidence.get("thresholds") or {})
    source = thresholds.pop("source", None)
    if thresholds:
        compared = ", ".join(f"{_label(k)} {_words(v)}" for k, v in thresholds.items())
        tail = f" (source: {source})." if source else "."
        sentences.append(f"Compared with: {compared}{tail}")
    elif source:
        sentences.append(f"Source: {source}.")
    causes = evidence.get("likely_consequence_of")
    if causes:
        sentences.append(
            "Probably a consequence of "
            + ", ".join(str(c) for c in causes)
            + ", found in the same run: fix that first."
        )
    if evidence.get("escalated_because"):
        sentences.append(f"Critical because the run fails: {evidence['escalated_because']}")
    return sentences


def image_ref(path: Path, alt: str = "") -> Markup:
    """An <img> that ``write_report`` embeds from ``path`` (so section JSON stays small)."""
    alt = alt or Path(path).stem
    return Markup('<img alt="{}" src="{}{}">').format(alt, _IMAGE_SCHEME, str(Path(path).resolve()))


def findings_html(
    findings: Sequence[Finding], plots: Mapping[str, Sequence[Path]] | None = None
) -> str:
    """The ranked findings as cards; ``plots`` maps a finding id to the images that support it."""
    if not findings:
        return "<p>No problems found by the checks that could run.</p>"
    cards = []
    for rank, f in enumerate(rank_findings(findings), start=1):
        images = [image_ref(p) for p in (plots or {}).get(f.id, ()) if Path(p).is_file()]
        cards.append(
            _CARD.render(
                f=f,
                rank=rank,
                sentences=evidence_sentences(f.evidence),
                raw=json.dumps(f.evidence, indent=1, default=str),
                plots=images,
            )
        )
    return "".join(cards)


def verdict_html(state: str, sentence: str) -> str:
    """The one-line verdict banner that opens a diagnosis."""
    tone = {"diverged": "bad", "not learning": "bad", "learning": "ok"}.get(state, "warn")
    return str(
        Markup('<div class="verdict verdict-{}"><b>Verdict:</b> {}</div>').format(tone, sentence)
    )


def _embed(match: re.Match[str]) -> str:
    path = Path(match.group(1))
    if not path.is_file():
        return 'src=""'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'src="data:image/png;base64,{data}"'


def write_report(run_dir: Path, title: str = "cnn-doctor report") -> Path:
    """Render every saved section of ``run_dir`` into ``run_dir/report.html``."""
    sections = []
    for section in load_sections(run_dir):
        images = [image_ref(p) for p in section.images if Path(p).is_file()]
        sections.append(
            {"title": section.title, "body": Markup(section.body_html), "images": images}
        )
    page = _PAGE.render(title=title, css=Markup(_CSS), run_dir=str(run_dir), sections=sections)
    page = re.sub(rf'src="{re.escape(_IMAGE_SCHEME)}([^"]+)"', _embed, page)
    out = Path(run_dir) / "report.html"
    atomic_write_text(out, page)
    return out
