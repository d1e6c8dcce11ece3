"""Re-diagnose a finished real-world run with today's detectors, without training again.

The ``Doctor`` callback records a trace (``trace.json`` per case) and the detectors read only that
trace, so a detector change can be compared on the same runs in seconds: this replays
``diagnose_trace`` over every case of a results folder written by ``run_real_world.py`` and
prints the same table and totals. What it cannot show is a change in what the callback records;
that needs a fresh run. A case without a trace (crashed, or run with ``--no-doctor``) keeps its
recorded row, so a crash still counts as a miss or an alarm.

    python benchmarks/real_world/replay.py /tmp/rw_dev            # table with today's detectors
    python benchmarks/real_world/replay.py /tmp/rw_dev --diff     # only the rows that changed
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def replay_row(row: dict, case_dir: Path, case) -> dict:
    """``row`` re-scored with the findings today's detectors draw from the case's saved trace."""
    from run_real_world import _score

    from cnn_doctor.diagnose.detectors import diagnose_trace
    from cnn_doctor.diagnose.trace import Trace

    trace_path = case_dir / "trace.json"
    fresh = {k: v for k, v in row.items() if k not in ("rank", "serious")}
    if not row.get("crashed") and trace_path.exists():
        diagnosis = diagnose_trace(Trace.load(trace_path))
        fresh["found"] = [[f.id, f.severity, f.confidence] for f in diagnosis.findings]
    return _score(fresh, case)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="an --out folder of run_real_world.py")
    parser.add_argument("--diff", action="store_true", help="print only rows whose rank changed")
    args = parser.parse_args(argv)
    results_path = args.results / "results.json"
    if not results_path.exists():
        print(f"error: no results.json in {args.results}", file=sys.stderr)
        return 2
    from cases import CASES_BY_NAME
    from run_real_world import HEADER, _print_row, _print_totals, totals

    recorded = json.loads(results_path.read_text())
    if recorded.get("mode", "").startswith("symptom"):
        print("error: that run used --no-doctor: it saved no traces", file=sys.stderr)
        return 2
    print(HEADER)
    rows = []
    for old in recorded["cases"]:
        case = CASES_BY_NAME.get(old["case"])
        if case is None:
            print(f"  (skipped {old['case']}: no longer a case)")
            continue
        new = replay_row(old, args.results / "cases" / old["case"], case)
        rows.append(new)
        changed = (new["rank"], new["serious"]) != (old.get("rank"), old.get("serious"))
        if changed or not args.diff:
            _print_row(new, show_findings=True)
            if changed:
                print(f"{'':38} was rank {old.get('rank')}, serious {old.get('serious')}")
    print()
    _print_totals(totals(rows, use_doctor=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
