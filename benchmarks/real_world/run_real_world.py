"""Real-world benchmark for the ``Doctor`` callback: fault cases rebuilt from public threads, plus
healthy public scripts. Does the diagnosis name the cause the thread confirmed, and stay quiet on
scripts that are fine?

Each case runs in its own subprocess (fresh Keras global state, its own ``KERAS_BACKEND``, a
timeout), seeded, on a fixed stratified CIFAR-10 subset. One row per case: the symptom observed
(final train / val accuracy as the script reported them, and the real top-1 val accuracy), the
expected ids, the ids found (ranked, severity letter), the rank of the first expected one. Totals:
recall@1 / recall@3 over fault cases, healthy cases with a warning or critical finding. A crash
or timeout is a miss (fault) or an alarm (healthy).

    python benchmarks/real_world/run_real_world.py --split dev
    python benchmarks/real_world/run_real_world.py --split all --no-doctor      # symptoms only
    python benchmarks/real_world/run_real_world.py --cases sorted_by_class_no_shuffle --out /tmp/rw

The held-out split is for one final run by the lead (see README.md); so are heldout2
(cases_v2.py) and heldout3 (cases_v3.py), sets nobody tuned on, each run with the Doctor once at
the very end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SERIOUS = ("critical", "warning")
DEFAULT_TIMEOUT_S = 900  # generous: this machine is shared, cases take 1-7 min here
SEED = 0


# --- child: one case --------------------------------------------------------------------------
def _child(name: str, data_path: Path, case_dir: Path, use_doctor: bool) -> int:
    """Run one case in this (fresh) process and write ``case_dir/result.json``."""
    import keras
    from cases import CASES_BY_NAME
    from common import load_subset

    case = CASES_BY_NAME[name]
    keras.utils.set_random_seed(SEED)
    data = load_subset(data_path)
    doctors: list = []

    def make_doctor(probe_data=None, **kwargs):
        if not use_doctor:
            return keras.callbacks.Callback()
        from cnn_doctor import Doctor

        doctor = Doctor(probe_data=probe_data, **kwargs)
        doctors.append(doctor)
        return doctor

    row: dict = {"case": name, "backend": keras.backend.backend()}
    started = time.perf_counter()
    try:
        history = case.script(data, make_doctor)
        logs = history.history
        row.update(
            epochs=len(logs.get("loss", [])),
            train_acc=_last(logs, "accuracy"),
            val_acc=_last(logs, "val_accuracy"),
            train_loss=_last(logs, "loss"),
            val_loss=_last(logs, "val_loss"),
            true_val_acc=getattr(history, "true_val_accuracy", None),
            history={k: [float(v) for v in vals] for k, vals in logs.items()},
        )
    except Exception as error:  # noqa: BLE001 - a crashing script is a result, not a benchmark bug
        row["error"] = f"{type(error).__name__}: {error}"
        row["traceback"] = traceback.format_exc(limit=6)
    row["train_seconds"] = round(time.perf_counter() - started, 1)
    if doctors and "error" not in row:
        try:
            diagnosis = doctors[-1].diagnose()
            row["found"] = [[f.id, f.severity, f.confidence] for f in diagnosis.findings]
            row["skipped"] = dict(getattr(diagnosis, "skipped", {}) or {})
            try:
                doctors[-1].save(case_dir)
            except Exception as error:  # noqa: BLE001 - saving evidence must not lose the row
                row["save_error"] = f"{type(error).__name__}: {error}"
        except Exception as error:  # noqa: BLE001
            row["error"] = f"diagnosis failed: {type(error).__name__}: {error}"
            row["traceback"] = traceback.format_exc(limit=6)
    row["seconds"] = round(time.perf_counter() - started, 1)
    case_dir.mkdir(parents=True, exist_ok=True)
    (case_dir / "result.json").write_text(json.dumps(row, indent=2, default=float))
    return 0


def _last(logs: dict, key: str) -> float | None:
    """Last value of ``key``; scripts that asked for metrics=["acc"] log it as "acc"."""
    values = logs.get(key) or logs.get(key.replace("accuracy", "acc"))
    if not values:  # an explicitly named accuracy metric, e.g. "binary_accuracy"
        prefix = "val_" if key.startswith("val_") else ""
        named = [
            k
            for k in logs
            if k.endswith("accuracy")
            and k.startswith(prefix)
            and (prefix or not k.startswith("val_"))
        ]
        values = logs[named[0]] if named else None
    return float(values[-1]) if values else None


# --- parent: the table -------------------------------------------------------------------------
def _run_case(case, args, data_path: Path, out: Path) -> dict:
    case_dir = out / "cases" / case.name
    result = case_dir / "result.json"
    if result.exists():
        result.unlink()
    env = dict(os.environ, KERAS_BACKEND=case.backend, PYTHONHASHSEED=str(SEED))
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--_child",
        case.name,
        "--_data",
        str(data_path),
        "--_case-dir",
        str(case_dir),
    ]
    if args.no_doctor:
        cmd.append("--no-doctor")
    case_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(case_dir / "log.txt", "w") as log:
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=args.timeout,
                check=False,
            )
            failure = None if proc.returncode == 0 else f"exit code {proc.returncode}"
        except subprocess.TimeoutExpired:
            failure = f"timeout after {args.timeout}s"
    if result.exists():
        row = json.loads(result.read_text())
    else:
        tail = (case_dir / "log.txt").read_text().strip().splitlines()[-1:] or [""]
        row = {"case": case.name, "error": f"{failure}: {tail[0][:200]}"}
    row.setdefault("found", [])
    row["seconds"] = round(time.perf_counter() - started, 1)
    return _score(row, case)


def _score(row: dict, case) -> dict:
    ids = [f[0] for f in row.get("found", [])]
    crashed = "error" in row
    row.update(
        split=case.split,
        kind=case.kind,
        source=case.source,
        expected=list(case.expected),
        crashed=crashed,
    )
    row["rank"] = (
        None
        if crashed
        else next((i + 1 for i, ident in enumerate(ids) if ident in case.expected), None)
    )
    row["serious"] = [f[0] for f in row.get("found", []) if f[1] in SERIOUS]
    return row


def _short_source(url: str) -> str:
    text = url.split("://", 1)[-1].removeprefix("www.").removeprefix("github.com/")
    return text if len(text) <= 34 else text[:33] + "…"


def _fmt(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


HEADER = (
    f"{'case':38} {'split':7} {'source':35} {'train/val/true':19} "
    f"{'expected':32} {'rank':>4}  found"
)


def _print_row(row: dict, show_findings: bool) -> None:
    symptom = (
        f"{_fmt(row.get('train_acc'))}/{_fmt(row.get('val_acc'))}/{_fmt(row.get('true_val_acc'))}"
    )
    expected = "|".join(row["expected"]) or "(healthy)"
    if row["crashed"]:
        found = "CRASH " + row["error"][:90]
    elif not show_findings:
        found = f"(symptom only, {row['seconds']:.0f}s)"
    else:
        found = ", ".join(f"{i}({s[0]})" for i, s, _ in row["found"]) or "-"
    if row["kind"] == "healthy":
        rank = "ALRM" if (row["crashed"] or row["serious"]) and show_findings else "ok"
    else:
        rank = "-" if not show_findings else (row["rank"] or "miss")
    print(
        f"{row['case']:38} {row['split']:7} {_short_source(row['source']):35} {symptom:19} "
        f"{expected[:32]:32} {rank!s:>4}  {found}",
        flush=True,
    )


def totals(rows: list[dict], use_doctor: bool) -> dict:
    """recall@1 / recall@3 per split and overall; healthy alarms (warning/critical or crash)."""
    out: dict = {}
    for split in ("dev", "heldout", "heldout2", "heldout3", "all"):
        chosen = [r for r in rows if split == "all" or r["split"] == split]
        faults = [r for r in chosen if r["kind"] == "fault"]
        healthy = [r for r in chosen if r["kind"] == "healthy"]
        if not chosen:
            continue
        out[split] = {
            "faults": len(faults),
            "recall_at_1": (sum(r["rank"] == 1 for r in faults) / len(faults))
            if faults and use_doctor
            else None,
            "recall_at_3": (
                sum(r["rank"] is not None and r["rank"] <= 3 for r in faults) / len(faults)
            )
            if faults and use_doctor
            else None,
            "healthy": len(healthy),
            "healthy_alarms": sum(bool(r["serious"] or r["crashed"]) for r in healthy)
            if use_doctor
            else None,
            "alarm_ids": sorted({i for r in healthy for i in r["serious"]}),
            "crashes": [r["case"] for r in chosen if r["crashed"]],
        }
    return out


def _print_totals(summary: dict) -> None:
    for split, t in summary.items():
        if t["recall_at_1"] is None:
            print(
                f"{split:8} {t['faults']} fault / {t['healthy']} healthy cases "
                f"(symptom only); crashes: {t['crashes'] or 'none'}"
            )
            continue
        print(
            f"{split:8} recall@1 {t['recall_at_1']:.2f}  recall@3 {t['recall_at_3']:.2f}  "
            f"over {t['faults']} faults; healthy with warning/critical: "
            f"{t['healthy_alarms']}/{t['healthy']} {t['alarm_ids'] or ''}; "
            f"crashes: {t['crashes'] or 'none'}"
        )


def write_markdown(rows: list[dict], path: Path, use_doctor: bool) -> None:
    """The symptom table (and findings, when the Doctor ran) as Markdown, for SYMPTOMS.md."""
    lines = [
        "| case | split | kind | backend | epochs | train acc | val acc | true val acc | s |"
        + (" found | rank |" if use_doctor else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|---|" if use_doctor else ""),
    ]
    for r in rows:
        cells = [
            r["case"],
            r["split"],
            r["kind"],
            r.get("backend", "?"),
            str(r.get("epochs", "-")),
            _fmt(r.get("train_acc")),
            _fmt(r.get("val_acc")),
            _fmt(r.get("true_val_acc")),
            f"{r['seconds']:.0f}",
        ]
        if r["crashed"]:
            cells[5] = "CRASH: " + r["error"][:80].replace("|", "/")
        if use_doctor:
            cells.append(", ".join(f"{i}({s[0]})" for i, s, _ in r["found"]) or "-")
            cells.append(str(r["rank"] or ("-" if r["kind"] == "healthy" else "miss")))
        lines.append("| " + " | ".join(cells) + " |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split", choices=("dev", "heldout", "heldout2", "heldout3", "all"), default="dev"
    )
    parser.add_argument("--cases", default="", help="comma-separated case names (any split)")
    parser.add_argument(
        "--no-doctor",
        action="store_true",
        help="run the scripts with a no-op callback: symptom check only",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder with cifar-10-batches-bin/ (default: $CNN_DOCTOR_DATA, cache)",
    )
    parser.add_argument("--out", type=Path, default=None, help="where results go")
    parser.add_argument(
        "--timeout",
        type=int,
        default=DEFAULT_TIMEOUT_S,
        help="seconds per case before it counts as a crash",
    )
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    parser.add_argument("--_data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_case-dir", type=Path, dest="case_dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        return _child(args._child, args._data, args.case_dir, not args.no_doctor)

    from cases import ALL_CASES, CASES, CASES_BY_NAME

    wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(wanted) - set(CASES_BY_NAME))
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {', '.join(sorted(CASES_BY_NAME))}")
    if wanted:
        cases = [CASES_BY_NAME[n] for n in wanted]
    else:
        # "all" is the first corpus only: heldout2 / heldout3 run only when asked for by name or
        # split, so that no broad run spends its one look with the Doctor by accident.
        pool = CASES if args.split == "all" else ALL_CASES
        cases = [c for c in pool if args.split == "all" or c.split == args.split]

    out = args.out or Path(tempfile.mkdtemp(prefix="cnn-doctor-real-world-"))
    out.mkdir(parents=True, exist_ok=True)
    data_path = out / "subset.npz"
    if not data_path.exists():
        from common import build_subset, save_subset

        try:
            save_subset(build_subset(args.data_dir), data_path)
        except Exception as error:  # noqa: BLE001 - one clear line for a missing dataset
            print(
                f"error: cannot load CIFAR-10 ({error}); pass --data-dir or set $CNN_DOCTOR_DATA",
                file=sys.stderr,
            )
            return 2
    mode = "symptom only (no-op callback)" if args.no_doctor else "with Doctor"
    print(f"{len(cases)} cases, {mode}; results under {out}")
    print(HEADER)
    rows, started = [], time.perf_counter()
    results_path = out / "results.json"
    for case in cases:
        row = _run_case(case, args, data_path, out)
        rows.append(row)
        _print_row(row, not args.no_doctor)
        summary = totals(rows, not args.no_doctor)  # saved after every case: nothing lost
        results_path.write_text(
            json.dumps({"mode": mode, "totals": summary, "cases": rows}, indent=2, default=float)
        )
        write_markdown(rows, out / "table.md", not args.no_doctor)
    print(f"\n{len(rows)} cases in {time.perf_counter() - started:.0f}s")
    _print_totals(totals(rows, not args.no_doctor))
    print(f"results: {results_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
