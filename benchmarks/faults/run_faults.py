"""Planted-fault benchmark for ``cnn-doctor diagnose``: does it name the planted cause, first?

For every case in ``cases.py`` it trains the pipeline with the fault's overrides and a Doctor
attached, then prints the expected id(s), the ids found (ranked), the rank of the first expected
one, and the totals: recall@1, recall@3 over the faults, and false alarms (any warning/critical
finding) over the healthy configs. A crash counts against both: a missed fault, or an alarm.
Results are saved as JSON next to the runs.

    python benchmarks/faults/run_faults.py --data-dir ~/.cache/cnn-doctor     # real CIFAR-10
    python benchmarks/faults/run_faults.py --synthetic 3000                   # no data at hand
    python benchmarks/faults/run_faults.py --cases lr_huge,default --epochs 4
    python benchmarks/faults/run_faults.py --data-dir ... --set run.precision=float32

Synthetic images (one colour/texture per class) are far easier than CIFAR-10: use them to check
the machinery, and real data for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # cases.py, builders.py

from cases import BASE, FAULTS, HEALTHY, Case  # noqa: E402

SERIOUS = ("critical", "warning")


def run_case(case: Case, args: argparse.Namespace, data_dir: Path, out_dir: Path) -> dict:
    from cnn_doctor.cli.diagnose_cmd import load_builder
    from cnn_doctor.config import load_config
    from cnn_doctor.diagnose.pipeline import instrumented_train

    overrides = [
        *BASE,
        *case.overrides,
        f"data.data_dir={data_dir}",
        f"run.out_dir={out_dir}",
        f"run.name={case.name}",
    ]
    if args.epochs:
        overrides.append(f"optim.epochs={args.epochs}")
    if args.subset:
        overrides.append(f"data.subset={args.subset}")
    overrides.extend(args.set)
    config = load_config(case.preset, overrides)
    builder = load_builder(case.builder) if case.builder else None
    started = time.perf_counter()
    result, doctor = instrumented_train(config, model_builder=builder, quiet=True)
    findings = doctor.findings
    ids = [f.id for f in findings]
    rank = next((i + 1 for i, ident in enumerate(ids) if ident in case.expected), None)
    return {
        "case": case.name,
        "area": case.area,
        "expected": list(case.expected),
        "found": [[f.id, f.severity, f.confidence] for f in findings],
        "rank": rank,
        "serious": [f.id for f in findings if f.severity in SERIOUS],
        "skipped": doctor.diagnosis.skipped if doctor.diagnosis else {},
        "val_accuracy": result.summary.get("final_val_accuracy"),
        "seconds": round(time.perf_counter() - started, 1),
        "run_dir": str(result.run_dir),
    }


def rescore(row: dict) -> dict:
    """Re-diagnose a finished case from its saved trace.json (detectors changed, no retraining)."""
    from cnn_doctor.diagnose import diagnose_trace
    from cnn_doctor.diagnose.trace import Trace

    if not row.get("run_dir") or not (Path(row["run_dir"]) / "trace.json").is_file():
        return row
    diagnosis = diagnose_trace(Trace.load(Path(row["run_dir"])))
    ids = diagnosis.ids()
    return dict(
        row,
        found=[[f.id, f.severity, f.confidence] for f in diagnosis.findings],
        rank=next((i + 1 for i, ident in enumerate(ids) if ident in row["expected"]), None),
        serious=[f.id for f in diagnosis.findings if f.severity in SERIOUS],
        skipped=diagnosis.skipped,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="folder with cifar-10-batches-bin/")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="use N synthetic training images instead of CIFAR-10",
    )
    parser.add_argument("--cases", default="", help="comma-separated case names (default all)")
    parser.add_argument("--epochs", type=int, default=0, help="override every case's epochs")
    parser.add_argument("--subset", type=int, default=0, help="override data.subset")
    parser.add_argument("--out", type=Path, default=None, help="where runs and results go")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra override for every case, last (e.g. run.precision=float32); repeatable",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument(
        "--rescore",
        type=Path,
        metavar="RESULTS_JSON",
        help="re-diagnose the runs of an earlier results.json (no training)",
    )
    args = parser.parse_args(argv)
    if args.rescore:
        previous = json.loads(args.rescore.read_text())
        args.out = args.out or args.rescore.parent
        args.synthetic = 1 if previous["totals"]["data"].startswith("synthetic") else 0
        return report([rescore(row) for row in previous["cases"]], args, previous["totals"]["data"])

    import keras

    if args.threads and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="cnn-doctor-faults-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.synthetic:
        from cnn_doctor.data.cifar10 import synthetic_cifar10, write_dataset

        data_dir = out / "synthetic-data"
        data = synthetic_cifar10(args.synthetic, max(args.synthetic // 5, 100), seed=0)
        write_dataset(
            data_dir, data.x_train, data.y_train, data.x_test, data.y_test, data.class_names
        )
        source = f"synthetic ({args.synthetic} train images)"
    elif args.data_dir:
        data_dir, source = args.data_dir, f"CIFAR-10 at {args.data_dir}"
    else:
        parser.error("pass --data-dir (CIFAR-10) or --synthetic N")
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    cases = [c for c in [*FAULTS, *HEALTHY] if not wanted or c.name in wanted]
    unknown = wanted - {c.name for c in [*FAULTS, *HEALTHY]}
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}")

    print(f"data: {source}; backend {keras.backend.backend()}; base overrides: {' '.join(BASE)}")
    _header()
    results = []
    for case in cases:
        try:
            row = run_case(case, args, data_dir, out / "runs")
        except Exception as error:  # noqa: BLE001 - one broken case must not end the benchmark
            row = {
                "case": case.name,
                "area": case.area,
                "expected": list(case.expected),
                "found": [],
                "rank": None,
                "serious": [],
                "error": repr(error),
            }
        results.append(row)
        _print_row(row)
    return report(results, args, source, print_rows=False)


def _header() -> None:
    print(f"{'case':24} {'area':15} {'expected':34} {'rank':>4}  found (ranked)")


def _print_row(row: dict) -> None:
    found = ", ".join(f"{i}({s[0]})" for i, s, _ in row["found"]) or row.get("error", "-")
    rank = "-" if not row["expected"] else (row["rank"] or "miss")
    expected = "|".join(row["expected"]) or "(healthy)"
    print(f"{row['case']:24} {row['area']:15} {expected:34} {rank!s:>4}  {found}", flush=True)


def report(
    results: list[dict], args: argparse.Namespace, source: str, *, print_rows: bool = True
) -> int:
    """Print the per-case table (unless already printed) and the totals; save results.json."""
    out = args.out
    if print_rows:
        _header()
        for row in results:
            _print_row(row)
    cases = {c.name: c for c in [*FAULTS, *HEALTHY]}

    skipped_synthetic = []
    if args.synthetic:
        skipped_synthetic = [
            r["case"]
            for r in results
            if r["case"] in cases and "needs_real_data" in cases[r["case"]].tags
        ]
        results_scored = [r for r in results if r["case"] not in skipped_synthetic]
    else:
        results_scored = results
    faults = [r for r in results_scored if r["expected"]]
    healthy = [r for r in results_scored if not r["expected"]]
    totals = {
        "faults": len(faults),
        "recall_at_1": sum(r["rank"] == 1 for r in faults) / len(faults) if faults else None,
        "recall_at_3": sum(r["rank"] is not None and r["rank"] <= 3 for r in faults) / len(faults)
        if faults
        else None,
        "healthy": len(healthy),
        # A healthy case that crashes counts as an alarm: the user got no clean bill of health.
        "false_alarms": sum(bool(r["serious"] or r.get("error")) for r in healthy),
        "crashed": sorted(r["case"] for r in results_scored if r.get("error")),
        "false_alarm_ids": sorted({i for r in healthy for i in r["serious"]}),
        "data": source,
        "not_scored": skipped_synthetic,  # faults that only manifest on real images
    }
    print(
        f"\nrecall@1 {totals['recall_at_1'] if faults else 'n/a'}"
        f"  recall@3 {totals['recall_at_3'] if faults else 'n/a'}  over {len(faults)} faults; "
        f"false alarms {totals['false_alarms']}/{len(healthy)} healthy "
        f"{totals['false_alarm_ids'] or ''}"
        + (f"; crashed {totals['crashed']}" if totals["crashed"] else "")
    )
    if skipped_synthetic:
        print(f"not scored on synthetic data (need real images to manifest): {skipped_synthetic}")
    out.mkdir(parents=True, exist_ok=True)  # --rescore --out may name a new folder
    (out / "results.json").write_text(json.dumps({"totals": totals, "cases": results}, indent=2))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
