"""The ranked findings table for the terminal (shared by ``Doctor.report`` and the CLI).

The table keeps to what fits an 80-column terminal (rank, id, severity, confidence, summary);
the fixes follow underneath, numbered like the rows, because a fix and its reason need the width.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cnn_doctor.diagnose.findings import Finding, rank_findings

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}
_VERDICT_STYLE = {"diverged": "bold red", "not learning": "bold red", "learning": "bold green"}


def findings_table(findings: Sequence[Finding], title: str = "Diagnosis") -> Table:
    """Most likely root cause first."""
    table = Table(title=title, expand=False)
    table.add_column("#", justify="right")
    table.add_column("id", no_wrap=True)
    table.add_column("severity")
    table.add_column("conf.", justify="right")
    table.add_column("summary")
    for rank, f in enumerate(rank_findings(findings), start=1):
        table.add_row(
            str(rank),
            f"{f.id}\n[dim]{f.area}[/]",
            f"[{_STYLE[f.severity]}]{f.severity}[/]",
            f"{f.confidence:.2f}",
            escape(f.summary),
        )
    return table


def print_diagnosis(diagnosis: object, console: Console | None = None) -> None:
    """Print the verdict, the findings table and fixes (or a one-line all-clear), then what could
    not be judged and which detectors were skipped."""
    console = console or Console()
    findings = rank_findings(list(getattr(diagnosis, "findings", diagnosis)))
    skipped: dict[str, str] = dict(getattr(diagnosis, "skipped", {}) or {})
    limited: dict[str, str] = dict(getattr(diagnosis, "limited", {}) or {})
    verdict = getattr(diagnosis, "verdict", None)
    if verdict is not None:
        style = _VERDICT_STYLE.get(verdict.state, "yellow")
        console.print(f"[{style}]Verdict:[/] {escape(verdict.sentence)}")
    if findings:
        console.print(findings_table(findings))
        console.print("[bold]What to change[/] (first fix of each finding first):")
        for rank, f in enumerate(findings, start=1):
            for i, fix in enumerate(f.fixes):
                lead = f"{rank:>3}." if i == 0 else "    "
                console.print(f"{lead} [bold]{escape(fix.change)}[/] — {escape(fix.why)}")
    else:
        console.print("[green]No problems found[/] by the detectors that could run.")
    for ident, reason in sorted(limited.items()):
        console.print(f"[yellow]{ident}: could not judge:[/] {escape(reason)}")
    if skipped:
        console.print(f"[dim]Skipped {len(skipped)} detector(s):[/]")
        for ident, reason in sorted(skipped.items()):
            console.print(f"[dim]  {ident}: {escape(reason)}[/]")
