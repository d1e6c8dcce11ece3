"""What a repair leaves behind: before/after tables, overlaid curves, ``fixed.toml``, report.html.

Built from ``repair.json`` alone (plus the runs' ``metrics.jsonl``), so a finished or interrupted
repair can be rendered again at any time.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnn_doctor.atomic import atomic_write_text
from cnn_doctor.config import Config
from cnn_doctor.diagnose.findings import Finding
from cnn_doctor.investigate.ablation import BASELINE, NOISE_FACTOR
from cnn_doctor.investigate.space import apply_params
from cnn_doctor.repair.acceptance import MIN_NOISE_SD
from cnn_doctor.repair.candidates import Candidate, Suggestion
from cnn_doctor.repair.results import RepairResult, Step, Tried
from cnn_doctor.repair.state import RepairState
from cnn_doctor.report.curves import new_figure, save_epoch_overlay

FIXED_TOML = "fixed.toml"
CURVES_PNG = "repair_curves.png"
SUMMARY_MD = "repair.md"
RULE = (
    f"A change is accepted when its gain > {NOISE_FACTOR:g} x the standard error of the "
    f"difference of means (seed sd pooled over the round's arms, floor {100 * MIN_NOISE_SD:g} pt)."
)


def final_changes(state: RepairState) -> dict[str, Any]:
    rounds = state.rounds
    if not rounds:
        return {}
    last = rounds[-1]
    return dict(last.get("changes_after") or last.get("changes") or {})


def fixed_config(state: RepairState) -> Config:
    """The user's full config with every accepted change (not the short budget)."""
    changes = final_changes(state)
    return apply_params(state.original, changes) if changes else state.original


def _steps_and_tried(state: RepairState) -> tuple[list[Step], list[Tried]]:
    steps, tried = [], []
    for rnd in state.rounds:
        cands = {c["name"]: Candidate.from_dict(c) for c in rnd.get("candidates") or []}
        judgement = rnd.get("judgement")
        for c in rnd.get("not_run") or []:
            tried.append(Tried(rnd["index"], c["change"], c["finding"], "not_run", 0, None, None))
        if not judgement:
            continue
        for v in judgement["verdicts"]:
            cand = cands.get(v["name"])
            if cand is None:
                continue
            if v["status"] == "accepted":
                steps.append(
                    Step(
                        rnd["index"],
                        cand.change,
                        cand.finding,
                        judgement["baseline_mean"],
                        v["mean"],
                        v["gain"],
                        v["stderr"],
                        v["n"],
                        float(rnd.get("seconds", 0.0)),
                        dict(cand.overrides),
                    )
                )
            else:
                tried.append(
                    Tried(
                        rnd["index"],
                        cand.change,
                        cand.finding,
                        v["status"],
                        v["n"],
                        v["gain"],
                        v["stderr"],
                        v.get("error", ""),
                    )
                )
    return steps, tried


def _baseline_value(state: RepairState) -> float | None:
    if not state.rounds:
        return None
    first = state.rounds[0]
    if first.get("judgement"):
        return first["judgement"]["baseline_mean"]
    return (first.get("diagnosis") or {}).get("value")


def _remaining_findings(state: RepairState) -> list[Finding] | None:
    """The findings of the final config's diagnosis (``None`` when it was not diagnosed)."""
    final = final_changes(state)
    for rnd in reversed(state.rounds):
        if rnd.get("diagnosis") and dict(rnd.get("changes") or {}) == final:
            return [Finding.from_dict(f) for f in rnd["diagnosis"].get("findings", [])]
    return None


def _suggestions(state: RepairState) -> list[Suggestion]:
    seen, out = set(), []
    for rnd in state.rounds:
        for s in rnd.get("suggestions") or []:
            key = (s["change"], s["finding"])
            if key not in seen:
                seen.add(key)
                out.append(Suggestion(**s))
    return out


def _runs(rnd: dict[str, Any], variant: str) -> list[Path]:
    return [
        Path(r["run_dir"])
        for r in rnd.get("runs", [])
        if r["variant"] == variant and r.get("run_dir")
    ]


def _mean_curve(run_dirs: Sequence[Path], key: str) -> list[float]:
    """Per-epoch mean of ``key`` over the runs that recorded it."""
    curves = []
    for run_dir in run_dirs:
        path = run_dir / "metrics.jsonl"
        if path.is_file():
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            curves.append([row.get(key) for row in rows])
    if not curves:
        return []
    length = min(len(c) for c in curves)
    out = []
    for i in range(length):
        values = [c[i] for c in curves if c[i] is not None]
        out.append(sum(values) / len(values) if values else float("nan"))
    return out


def plot_repair_curves(state: RepairState, steps: Sequence[Step], path: Path) -> Path | None:
    """Validation accuracy and training loss per epoch: the original, then after each accepted
    change (mean over seeds), overlaid. Matplotlib's Figure API: no global backend switch."""
    lines: list[tuple[str, list[Path]]] = []
    if state.rounds:
        lines.append(("original", _runs(state.rounds[0], BASELINE)))
    by_round = {r["index"]: r for r in state.rounds}
    applied: list[str] = []
    for step in steps:
        rnd = by_round[step.round]
        applied.append(step.change)
        lines.append((" + ".join(applied), _runs(rnd, rnd.get("accepted", ""))))
    lines = [(label, dirs) for label, dirs in lines if dirs]
    if not lines:
        return None
    fig = new_figure(10, 3.8)
    ax_acc, ax_loss = fig.subplots(1, 2)
    for label, dirs in lines:
        short = label if len(label) <= 48 else "…" + label[-47:]
        acc = _mean_curve(dirs, "val_accuracy")
        loss = _mean_curve(dirs, "loss")
        ax_acc.plot(
            range(1, len(acc) + 1), acc, marker="o", markersize=3, label=f"{short} (n={len(dirs)})"
        )
        ax_loss.plot(range(1, len(loss) + 1), loss, marker="o", markersize=3, label=short)
    ax_acc.set_title("validation accuracy (mean over seeds)")
    ax_loss.set_title("training loss (mean over seeds)")
    return save_epoch_overlay(fig, path)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _pts(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.1f}"


def _source(state: RepairState) -> str:
    model = state.data.get("model")
    return f"--model {model}" if model else "the pipeline config"


def write_fixed_toml(state: RepairState, steps: Sequence[Step], path: Path) -> Path:
    fixed = fixed_config(state)
    lines = [f"# cnn-doctor fix ({state.folder.name}): the original config + accepted changes"]
    for s in steps:
        lines.append(
            f"#   {s.change}  (answers {s.finding}; {_pts(s.gain)} ± {100 * s.stderr:.1f} pts SE, "
            f"{s.seeds} seeds, short run)"
        )
    if not steps:
        lines.append("#   no change passed the seed test: this is the original config")
    lines.append(
        "# the gains were measured on the short run: cnn-doctor train -c fixed.toml "
        + " ".join(f"--set {o}" for o in state.data["short"])
    )
    if state.data.get("model"):
        lines.append(f"# with your model: add --model {state.data['model']}")
    atomic_write_text(path, "\n".join(lines) + "\n\n" + fixed.to_toml())
    return path


def markdown(result: RepairResult) -> str:
    """The before/after table, the rejected candidates and the suggestions, as markdown."""
    out = [
        f"## cnn-doctor fix — {result.folder.name}",
        "",
        f"Short-run validation accuracy: original {_pct(result.baseline)}"
        + (f" → fixed {_pct(result.final)}" if result.steps else " (unchanged)")
        + (f"; default recipe {_pct(result.reference)}" if result.reference is not None else "")
        + f". Stopped: {result.stop_reason}. Wall time {result.seconds / 60:.1f} min.",
        "",
        RULE,
        "",
        "| round | accepted change | answers | before | after | gain ± SE (pts) | seeds | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result.steps:
        out.append(
            f"| {s.round} | `{s.change}` | {s.finding} | {_pct(s.before)} | {_pct(s.after)} | "
            f"{_pts(s.gain)} ± {100 * s.stderr:.1f} | {s.seeds} | {s.seconds:.0f} |"
        )
    if not result.steps:
        out.append("| – | none | | | | | | |")
    out += [
        "",
        "| round | candidate | answers | outcome | seeds | effect ± SE (pts) |",
        "|---|---|---|---|---|---|",
    ]
    for t in result.tried:
        effect = f"{_pts(t.gain)} ± {100 * t.stderr:.1f}" if t.gain is not None else t.error or "–"
        out.append(f"| {t.round} | `{t.change}` | {t.finding} | {t.status} | {t.n} | {effect} |")
    if result.suggestions:
        out += ["", "Unproven suggestions (not a change the A/B can apply):", ""]
        out += [f"- `{s.change}` ({s.finding}): {s.why} — {s.reason}" for s in result.suggestions]
    if result.remaining_findings:
        ids = ", ".join(f.id for f in result.remaining_findings)
        out += ["", f"Findings on the final config: {ids}"]
    if result.confirm:
        out += ["", "Confirmation on the full data at equal wall time (1 seed each):", ""]
        out += [f"- {label}: {confirm_text(row)}" for label, row in result.confirm.items()]
    return "\n".join(out) + "\n"


def confirm_text(row: dict[str, Any]) -> str:
    """One confirmation run as a line: its accuracy, epochs and seconds, or why it failed."""
    if row.get("error"):
        return f"failed: {row['error']}"
    budget = f" (time budget {row['time_budget']})" if row.get("time_budget") else ""
    return (
        f"best val {_pct(row.get('best_val_accuracy'))}, test {_pct(row.get('test_accuracy'))}, "
        f"{row.get('epochs')} epochs in {row.get('seconds')} s{budget}"
    )


def _section_html(result: RepairResult, md: str) -> str:
    rows = (
        "".join(
            f"<tr><td>{s.round}</td><td><code>{html.escape(s.change)}</code></td>"
            f"<td>{html.escape(s.finding)}</td>"
            f"<td>{_pct(s.before)}</td><td>{_pct(s.after)}</td>"
            f"<td>{_pts(s.gain)} ± {100 * s.stderr:.1f}</td><td>{s.seeds}</td>"
            f"<td>{s.seconds:.0f}</td></tr>"
            for s in result.steps
        )
        or "<tr><td colspan=8>no change passed the seed test</td></tr>"
    )
    tried = "".join(
        f"<tr><td>{t.round}</td><td><code>{html.escape(t.change)}</code></td>"
        f"<td>{html.escape(t.finding)}</td><td>{t.status}</td><td>{t.n}</td><td>"
        + (f"{_pts(t.gain)} ± {100 * t.stderr:.1f}" if t.gain is not None else html.escape(t.error))
        + "</td></tr>"
        for t in result.tried
    )
    sugg = "".join(
        f"<li><code>{html.escape(s.change)}</code> ({html.escape(s.finding)}): "
        f"{html.escape(s.why)} — <i>{html.escape(s.reason)}</i></li>"
        for s in result.suggestions
    )
    head = html.escape(md.splitlines()[2])
    return (
        f"<p>{head}</p><p>{html.escape(RULE)} Fixed config: <code>{FIXED_TOML}</code>.</p>"
        "<table><tr><th>round</th><th>accepted change</th><th>answers</th><th>before</th>"
        "<th>after</th><th>gain ± SE (pts)</th><th>seeds</th><th>seconds</th></tr>"
        f"{rows}</table>"
        + (
            "<p>Rejected / not accepted:</p><table><tr><th>round</th><th>candidate</th>"
            "<th>answers</th><th>outcome</th><th>seeds</th><th>effect ± SE (pts) or error</th>"
            f"</tr>{tried}</table>"
            if tried
            else ""
        )
        + (f"<p>Unproven suggestions:</p><ul>{sugg}</ul>" if sugg else "")
    )


def write_outputs(state: RepairState, *, console: Any = None) -> RepairResult:
    """Write every output file and return the ``RepairResult`` (printed when ``console``)."""
    from cnn_doctor.report.html import ReportSection, write_report

    steps, tried = _steps_and_tried(state)
    folder = state.folder
    reference = (state.data.get("reference") or {}).get("value")
    result = RepairResult(
        folder=folder,
        original=state.original,
        fixed=fixed_config(state),
        steps=steps,
        tried=tried,
        suggestions=_suggestions(state),
        remaining_findings=_remaining_findings(state) or [],
        stop_reason=state.data.get("stop_reason") or "interrupted",
        seconds=float(state.data.get("spent_seconds", 0.0)),
        baseline=_baseline_value(state),
        final=steps[-1].after if steps else _baseline_value(state),
        reference=reference,
        confirm=state.data.get("confirm"),
    )
    files = {"fixed": write_fixed_toml(state, steps, folder / FIXED_TOML)}
    curves = plot_repair_curves(state, steps, folder / CURVES_PNG)
    if curves is not None:
        files["curves"] = curves
    md = markdown(result)
    atomic_write_text(folder / SUMMARY_MD, md)
    files["markdown"] = folder / SUMMARY_MD
    ReportSection(
        "Repair (cnn-doctor fix)", _section_html(result, md), [curves] if curves else [], order=15
    ).save(folder, "repair")
    files["report"] = write_report(folder, title=f"cnn-doctor fix — {folder.name}")
    result.files = files
    if console is not None:
        print_result(result, console)
    return result


def print_result(result: RepairResult, console: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="accepted changes (short run, mean over seeds)", title_justify="left")
    for col in ("round", "change", "answers", "before", "after", "gain ± SE (pts)", "seeds", "s"):
        table.add_column(col)
    for s in result.steps:
        table.add_row(
            str(s.round),
            escape(s.change),
            s.finding,
            _pct(s.before),
            _pct(s.after),
            f"{_pts(s.gain)} ± {100 * s.stderr:.1f}",
            str(s.seeds),
            f"{s.seconds:.0f}",
        )
    if not result.steps:
        table.add_row("–", "none passed the seed test", "", _pct(result.baseline), "", "", "", "")
    console.print(table)
    if result.tried:
        rejected = Table(title="not accepted", title_justify="left")
        for col in (
            "round",
            "candidate",
            "answers",
            "outcome",
            "seeds",
            "effect ± SE (pts) / error",
        ):
            rejected.add_column(col)
        for t in result.tried:
            effect = (
                f"{_pts(t.gain)} ± {100 * t.stderr:.1f}" if t.gain is not None else t.error or "–"
            )
            rejected.add_row(str(t.round), escape(t.change), t.finding, t.status, str(t.n), effect)
        console.print(rejected)
    for s in result.suggestions:
        console.print(
            f"[yellow]unproven[/] {escape(s.change)} ({s.finding}): {escape(s.reason)}",
            highlight=False,
        )
    if result.confirm:
        for label, row in result.confirm.items():
            console.print(f"confirm {label}: {confirm_text(row)}", highlight=False)
    console.print(
        f"stopped: {result.stop_reason}\nfixed config: {result.files.get('fixed')}\n"
        f"report: {result.files.get('report')}",
        highlight=False,
    )
