"""report.html: findings rendered as readable cards, run text escaped, images embedded."""

from __future__ import annotations

import base64

from cnn_doctor.diagnose.findings import Finding, Fix
from cnn_doctor.report.curves import new_figure, save_figure
from cnn_doctor.report.html import (
    ReportSection,
    evidence_sentences,
    findings_html,
    verdict_html,
    write_report,
)


def _finding(summary: str = "The loss applies softmax twice.") -> Finding:
    return Finding(
        id="double_softmax",
        area="architecture",
        severity="critical",
        confidence=0.95,
        summary=summary,
        evidence={
            "forms": {"loss_from_logits": {"from_logits": True}},
            "dead_fraction_by_layer": {"conv2d_1": 0.03125},
            "val_accuracy": [0.1, 0.12, 0.125],
            "thresholds": {"tolerance": 0.001, "source": "exact bound"},
            "likely_consequence_of": ["unnormalized_inputs"],
        },
        fixes=(Fix("optim.lr=0.01", "smaller steps"),),
    )


def test_evidence_reads_as_sentences_with_names_verbatim():
    sentences = evidence_sentences(_finding().evidence)
    assert "Forms: loss_from_logits (from_logits = yes)." in sentences
    assert "Dead fraction by layer: conv2d_1 = 0.0312." in sentences
    assert "Validation accuracy: [0.1, 0.12, 0.125]." in sentences
    assert "Compared with: tolerance 0.001 (source: exact bound)." in sentences
    assert any("consequence of unnormalized_inputs" in s for s in sentences)


def test_run_text_cannot_inject_markup():
    html = findings_html([_finding("layer <script>alert(1)</script>")])
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_write_report_embeds_images_and_renders_sections(tmp_path):
    fig = new_figure(3, 2)
    fig.subplots().plot([0, 1], [1, 0])
    png = save_figure(fig, tmp_path / "plot.png")
    body = verdict_html("not learning", "At chance.") + findings_html(
        [_finding()], {"double_softmax": [png]}
    )
    ReportSection("Diagnosis", body, order=10).save(tmp_path, "diagnosis")
    page = write_report(tmp_path).read_text()
    assert "verdict-bad" in page and "double_softmax" in page
    encoded = base64.b64encode(png.read_bytes()).decode("ascii")
    assert f"data:image/png;base64,{encoded}" in page
    assert "cnn-doctor-image:" not in page
