"""Turn a study's trials into the files a person reads: markdown tables, JSON, PNG, report.html.

Everything is computed from the study database, not from run directories, because in a
distributed study the run directories are spread over the workers' machines.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cnn_doctor.atomic import atomic_write_json, atomic_write_text
from cnn_doctor.config import Config
from cnn_doctor.investigate.ablation import (
    AblationSummary,
    ablation_markdown,
    plot_ablation,
)
from cnn_doctor.investigate.space import apply_params
from cnn_doctor.investigate.study import StudySpec, superseded_numbers

ABLATION_MD, ABLATION_JSON, ABLATION_PNG = "ablation.md", "ablation.json", "ablation.png"
SWEEP_MD, SWEEP_JSON, BEST_TOML = "sweep.md", "sweep.json", "best.toml"


def _counted(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    trials = study.get_trials(deepcopy=False)
    superseded = superseded_numbers(trials)
    return [t for t in trials if t.number not in superseded and not t.user_attrs.get("surplus")]


def ablation_results(study: optuna.Study) -> list[dict[str, Any]]:
    """One record per finished ablation run (what ``summarize_ablation`` reads)."""
    out = []
    for t in _counted(study):
        if t.state != TrialState.COMPLETE or "variant" not in t.user_attrs:
            continue
        a = t.user_attrs
        out.append(
            {
                "trial": t.number,
                "variant": a["variant"],
                "area": a.get("area", ""),
                "factor": a.get("factor", ""),
                "change": a.get("change", ""),
                "seed": a.get("seed"),
                "value": t.value,
                "run_dir": a.get("run_dir"),
            }
        )
    return out


def write_ablation_outputs(
    study_dir: Path, summary: AblationSummary, results: list[dict[str, Any]], title: str
) -> dict[str, Path]:
    """``ablation.md`` (paste into notes), ``ablation.json``, ``ablation.png`` and report.html."""
    from cnn_doctor.report.html import ReportSection, write_report

    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    md = study_dir / ABLATION_MD
    atomic_write_text(md, ablation_markdown(summary, title))
    js = study_dir / ABLATION_JSON
    atomic_write_json(js, {"summary": summary.to_dict(), "runs": results})
    png = plot_ablation(summary, study_dir / ABLATION_PNG, title)
    rows = "".join(
        f"<tr><td>{i}</td><td>{html.escape(r.area)}</td><td><code>{html.escape(r.factor)}</code>"
        f"</td><td>{html.escape(r.change)}</td><td>{r.mean:.4f} ± {r.spread:.4f}</td>"
        f"<td>{r.effect:+.4f} ± {r.stderr:.4f}</td><td>{'yes' if r.significant else 'no'}</td>"
        f"<td>{r.n}</td></tr>"
        for i, r in enumerate(summary.rows, start=1)
    )
    body = (
        f"<p>Baseline validation accuracy {summary.baseline_mean:.4f} ± "
        f"{summary.baseline_spread:.4f} (n={summary.baseline_n}); pooled seed noise (sd) "
        f"{summary.noise_sd:.4f}. Effects larger than 2 standard errors are marked real.</p>"
        "<table><tr><th>#</th><th>area</th><th>factor</th><th>change</th><th>val acc</th>"
        f"<th>effect</th><th>&gt; noise?</th><th>seeds</th></tr>{rows}</table>"
    )
    ReportSection(title, body, [png], order=40).save(study_dir, "ablation")
    report = write_report(study_dir, title=f"cnn-doctor — {title}")
    return {"markdown": md, "json": js, "plot": png, "report": report}


def sweep_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Every counted trial, best first (failed and pruned trials after the completed ones)."""
    rows = []
    for t in _counted(study):
        if t.state in (TrialState.WAITING,):
            continue
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "best_epoch_value": max(t.intermediate_values.values())
                if t.intermediate_values
                else None,
                "epochs": len(t.intermediate_values) or None,
                "params": dict(t.params),
                "run_dir": t.user_attrs.get("run_dir"),
                "error": t.user_attrs.get("error"),
            }
        )
    rank = {"complete": 0, "pruned": 1, "running": 2, "fail": 3}
    rows.sort(key=lambda r: (rank.get(r["state"], 4), -(r["value"] or r["best_epoch_value"] or 0)))
    return rows


def best_config(study: optuna.Study, spec: StudySpec) -> Config | None:
    """The base config with the best completed trial's parameters (``None`` before any)."""
    completed = [t for t in _counted(study) if t.state == TrialState.COMPLETE]
    if not completed:
        return None
    best = max(completed, key=lambda t: t.value if t.value is not None else float("-inf"))
    return apply_params(spec.base_config(), best.params)


def sweep_markdown(rows: list[dict[str, Any]], keys: list[str], title: str) -> str:
    lines = [
        f"## {title}",
        "",
        "| # | trial | state | best val acc | epochs | " + " | ".join(keys) + " |",
        "|---|---|---|---|---|" + "---|" * len(keys),
    ]
    for i, r in enumerate(rows, start=1):
        value = r["value"] if r["value"] is not None else r["best_epoch_value"]
        shown = "–" if value is None else f"{value:.4f}"
        params = " | ".join(_fmt(r["params"].get(k)) for k in keys)
        lines.append(
            f"| {i} | {r['trial']} | {r['state']} | {shown} | {r['epochs'] or '–'} | {params} |"
        )
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_sweep_outputs(
    study_dir: Path, study: optuna.Study, spec: StudySpec, title: str
) -> dict[str, Path]:
    """``sweep.md``, ``sweep.json`` and ``best.toml`` (train it with ``cnn-doctor train -c``)."""
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    rows = sweep_rows(study)
    keys = sorted({k for r in rows for k in r["params"]})
    out: dict[str, Path] = {}
    md = study_dir / SWEEP_MD
    atomic_write_text(md, sweep_markdown(rows, keys, title))
    out["markdown"] = md
    js = study_dir / SWEEP_JSON
    atomic_write_json(js, {"study": study.study_name, "trials": rows})
    out["json"] = js
    best = best_config(study, spec)
    if best is not None:
        path = study_dir / BEST_TOML
        best.run.name = f"best-of-{study.study_name}"
        best.save(path)
        out["best"] = path
    return out
