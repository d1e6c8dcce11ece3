"""Does the LR range test's suggestion train better than the recipe's own LR? Prints both.

For each base recipe: ``cnn-doctor lr-find`` (timed), then short runs at the recipe's LR and at
the suggested LR, same seeds, same budget as ``ablate --budget small`` (5000 images, 1000
validation, 3 epochs; the ``fast`` net at half width), and the mean validation accuracy of each.
Everything goes through the real CLI, so this is what a user would see.

    python benchmarks/lr_find_check.py --base default --base seed [--seeds 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHORT = (
    "data.subset=5000",
    "data.val_size=1000",
    "optim.epochs=3",
    "run.tta=false",
    "run.evaluate_test=false",
)


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "cnn_doctor", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def _base_config(base: str) -> dict:
    from cnn_doctor.config import load_config

    return load_config(base).to_dict()


def _short_run(base: str, lr: float, seed: int, out: Path, extra: list[str]) -> float:
    name = f"{base}-lr{lr:.3g}-s{seed}"
    sets = [*SHORT, *extra, f"optim.lr={lr}", f"run.seed={seed}", f"run.out_dir={out}"]
    _cli(
        "train",
        "-q",
        "-c",
        base,
        *(x for s in sets for x in ("--set", s)),
        "--set",
        f"run.name={name}",
    )
    run = max(out.glob(f"*-{name}"), key=os.path.getmtime)
    return json.loads((run / "summary.json").read_text())["best_val_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", action="append", default=None)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="lr-find-check-"))
    rows = []
    for base in args.base or ["default", "seed"]:
        width = _base_config(base)["model"]["width"]
        arch = _base_config(base)["model"]["arch"]
        extra = [f"model.width={width * 0.5:g}"] if arch == "fast" else []
        t0 = time.perf_counter()
        found = out / f"{base}-lr-find.json"
        _cli("lr-find", "-c", base, "--json", str(found), "--out", str(out))
        seconds = time.perf_counter() - t0
        suggested = json.loads(found.read_text())["suggested_lr"]
        own = _base_config(base)["optim"]["lr"]
        scores = {}
        for label, lr in (("recipe", own), ("suggested", suggested)):
            accs = [_short_run(base, lr, s, out, extra) for s in range(args.seeds)]
            scores[label] = (lr, sum(accs) / len(accs), accs)
        row = {
            "base": base,
            "lr_find_seconds": round(seconds, 1),
            **{
                k: {"lr": v[0], "mean_val_acc": round(v[1], 4), "per_seed": v[2]}
                for k, v in scores.items()
            },
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\n{'base':<8} {'lr-find s':>9} {'recipe lr':>10} {'val acc':>8} "
        f"{'suggested':>10} {'val acc':>8}  better?"
    )
    for r in rows:
        a, b = r["recipe"], r["suggested"]
        verdict = "suggested" if b["mean_val_acc"] > a["mean_val_acc"] else "recipe"
        print(
            f"{r['base']:<8} {r['lr_find_seconds']:>9.0f} {a['lr']:>10.3g} "
            f"{a['mean_val_acc']:>8.4f} {b['lr']:>10.3g} {b['mean_val_acc']:>8.4f}  {verdict}"
        )
    print(f"runs in {out}")


if __name__ == "__main__":
    main()
