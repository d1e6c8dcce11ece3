"""Planted-fault benchmark for ``cnn-doctor fix``: is each fault repaired, and how fast?

For every chosen case of ``benchmarks/faults/cases.py`` (plus ``sigmoid12_bn``, the deep sigmoid
stack *with* BatchNorm on which no detector fires) it runs ``cnn_doctor.fix`` on the case's config
at the suite's short budget, and scores the repair: *repaired* when the fixed config's short-run
validation accuracy (mean over the seeds of the accepted arm) is within ``--tolerance`` (3 points)
of the healthy default's at the same budget (the default recipe + the suite's BASE overrides,
measured first with the same seeds). Prints a table and the totals (fraction repaired, median
wall time per repair) and saves ``results.json``.

    python benchmarks/repair/run_repairs.py --data-dir DIR --cases sigmoid12_bn,unnormalized
    python benchmarks/repair/run_repairs.py --data-dir ... --subset 1000 --val-size 500 --epochs 4

Caveats, stated with the figures: the "after" number is the accepted arm's own mean, so it carries
a small winner's-curse bias (the best of several candidates); a case the repair leaves alone is
scored on its baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "faults"))  # cases.py, builders.py (read, never modified)

from cases import BASE, FAULTS, Case  # noqa: E402

EXTRA = [
    Case(
        "sigmoid12_bn",
        "architecture",
        (),
        ("model.activation=sigmoid", "model.depth=12"),
        note="deep sigmoid stack with BatchNorm: learns slowly, no detector fires",
    ),
]
ALL = {c.name: c for c in [*EXTRA, *FAULTS]}


def scale_overrides(args: argparse.Namespace) -> list[str]:
    out = [*BASE, f"data.data_dir={args.data_dir}"]
    if args.subset:
        out.append(f"data.subset={args.subset}")
    if args.val_size:
        out.append(f"data.val_size={args.val_size}")
    if args.epochs:
        out.append(f"optim.epochs={args.epochs}")
    return [*out, "run.precision=float32", *args.set]


def healthy_reference(args: argparse.Namespace, out: Path) -> tuple[object, list[float], list]:
    """The default recipe at the suite's budget, trained with the repair's seeds: the config,
    its scores and its wall times (which seed the repairs' run-time estimate)."""
    from cnn_doctor.config import load_config
    from cnn_doctor.train import train

    config = load_config(None, [*scale_overrides(args), "run.evaluate_test=false"])
    cache = out / "reference.json"  # a rerun into the same --out reuses the measured reference
    key = {"scale": scale_overrides(args), "seeds": args.seeds}
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved["key"] == key:
            return config, saved["values"], saved["seconds"]
    values, seconds = [], []
    for seed in range(args.seeds):
        cfg = load_config(
            None,
            [
                *scale_overrides(args),
                "run.evaluate_test=false",
                f"run.seed={seed}",
                f"run.out_dir={out / 'reference'}",
                "run.name=default",
            ],
        )
        summary = train(cfg, quiet=True).summary
        values.append(float(summary["best_val_accuracy"]))
        seconds.append(float(summary["wall_seconds"]))
    cache.write_text(json.dumps({"key": key, "values": values, "seconds": seconds}))
    return config, values, seconds


def run_case(case: Case, args: argparse.Namespace, reference, ref_value: float, out: Path) -> dict:
    from cnn_doctor.config import load_config
    from cnn_doctor.repair import fix

    config = load_config(
        case.preset,
        [*scale_overrides(args), *case.overrides, f"run.name={case.name}"],
    )
    builder = None
    if case.builder:
        from cnn_doctor.repair.trials import resolve_builder

        builder = resolve_builder(case.builder)
    started = time.perf_counter()
    result = fix(
        config,
        builder,
        args.budget,
        seeds=args.seeds,
        subset=0,  # the case's own short budget (BASE), not diagnose's 5000 images
        epochs=0,
        out_dir=out,
        max_rounds=args.max_rounds,
        reference=reference,
        reference_value=ref_value,
    )
    seconds = time.perf_counter() - started
    final = result.final
    return {
        "case": case.name,
        "area": case.area,
        "before": result.baseline,
        "after": final,
        "reference": ref_value,
        "repaired": final is not None and final >= ref_value - args.tolerance,
        "changes": [s.change for s in result.steps],
        "answers": [s.finding for s in result.steps],
        "gains": [[s.gain, s.stderr] for s in result.steps],
        "rejected": [[t.change, t.status, t.gain] for t in result.tried],
        "suggestions": [s.change for s in result.suggestions],
        "stop": result.stop_reason,
        "seconds": round(seconds, 1),
        "folder": str(result.folder),
    }


def _pct(v: float | None) -> str:
    return "  n/a" if v is None else f"{100 * v:5.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="CIFAR-10 binary layout")
    parser.add_argument("--cases", default="", help="comma-separated names (default: all)")
    parser.add_argument("--subset", type=int, default=0, help="override BASE's data.subset")
    parser.add_argument("--val-size", type=int, default=0, help="override BASE's data.val_size")
    parser.add_argument("--epochs", type=int, default=0, help="override BASE's optim.epochs")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--budget", default="15m", help="wall time per repair")
    parser.add_argument("--max-rounds", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.03)
    parser.add_argument(
        "--max-minutes", type=float, default=0, help="start no new case after this (0: no limit)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    wanted = [c.strip() for c in args.cases.split(",") if c.strip()] or list(ALL)
    unknown = [c for c in wanted if c not in ALL]
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {', '.join(ALL)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="cnn-doctor-repairs-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    reference, ref_values, ref_seconds = healthy_reference(args, out)
    ref_value = statistics.mean(ref_values)
    print(
        f"healthy default at this budget: {_pct(ref_value)}% (seeds "
        f"{[round(v, 4) for v in ref_values]}, {statistics.mean(ref_seconds):.0f} s a run); "
        f"scale: {' '.join(scale_overrides(args))}",
        flush=True,
    )
    print(f"{'case':22} {'before':>6} {'after':>6} {'ok':>3} {'s':>6}  changes / stop", flush=True)
    rows = []
    for name in wanted:
        if args.max_minutes and time.perf_counter() - started > 60 * args.max_minutes:
            print(f"time limit reached: not run: {wanted[wanted.index(name) :]}", flush=True)
            break
        try:
            row = run_case(ALL[name], args, reference, ref_value, out)
        except Exception as error:  # noqa: BLE001 - one broken case must not end the benchmark
            row = {"case": name, "error": repr(error), "repaired": False, "seconds": None}
        rows.append(row)
        if "error" in row:
            print(f"{name:22} error: {row['error']}", flush=True)
        else:
            print(
                f"{name:22} {_pct(row['before'])} {_pct(row['after'])} "
                f"{'yes' if row['repaired'] else 'no':>3} {row['seconds']:6.0f}  "
                f"{', '.join(row['changes']) or '-'} / {row['stop']}",
                flush=True,
            )
    times = [r["seconds"] for r in rows if r.get("seconds")]
    totals = {
        "cases": [r["case"] for r in rows],
        "repaired": sum(bool(r["repaired"]) for r in rows),
        "fraction": sum(bool(r["repaired"]) for r in rows) / len(rows) if rows else None,
        "median_seconds": statistics.median(times) if times else None,
        "reference": ref_value,
        "reference_seeds": ref_values,
        "scale": scale_overrides(args),
        "seeds": args.seeds,
        "budget": args.budget,
        "wall_minutes": round((time.perf_counter() - started) / 60, 1),
    }
    print(
        f"\nrepaired {totals['repaired']}/{len(rows)}; median wall time per repair "
        f"{totals['median_seconds']} s; total {totals['wall_minutes']} min",
        flush=True,
    )
    (out / "results.json").write_text(json.dumps({"totals": totals, "cases": rows}, indent=2))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
