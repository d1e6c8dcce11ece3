"""Plant known faults into a copy of a CIFAR-10 subset and measure what ``data-check`` finds.

What is planted (into records that the unmodified subset does *not* already flag — CIFAR-10 has
hundreds of genuine near-duplicates, and a planted copy must not land on one):

- 50 exact duplicates and 50 near duplicates in train (near: 1–2 px shift, JPEG q40–90,
  brightness ×0.75–1.25 ±20, or all three), each copy relabelled like its original;
- 20 degenerate images (black, white, constant grey, uniform noise), 15 in train and 5 in test;
- 30 train images copied into test (15 exact, 15 near) — leakage;
- 5% of the train labels flipped to another class (scored only with ``--labels``).

Scoring: the expected item of a duplicate pair is the later record (the check keeps the lowest
index); a flag on a record that the unmodified subset already flagged is *pre-existing* (real
CIFAR-10 near-duplicates), reported separately and counted as neither hit nor false alarm;
every other flag on an unplanted record is a false positive.

Also measures the full 60,000-image check without ``--labels`` (the real CLI in a subprocess:
wall time and peak RSS) with ``--full``.

Usage::

    python benchmarks/data_faults.py --data-dir /work/shared/data/cifar10-jpeg --full
    python benchmarks/data_faults.py --data-dir /work/shared/data/cifar10-jpeg --labels
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

os.environ.setdefault("KERAS_BACKEND", "torch")

from cnn_doctor.data.checks import (  # noqa: E402
    DataCheckInput,
    label_search_config,
    load_check_input,
    run_data_check_suite,
    search_label_probs,
    trainer_fit_predict,
)
from cnn_doctor.data.cifar10 import load_cifar10, write_dataset  # noqa: E402

DUP_CHECKS = ["exact_duplicates", "near_duplicates", "train_test_leakage", "degenerate_images"]


# ----------------------------------------------------------------------------- transforms
def shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="edge")
    return padded[2 + dy : 34 + dy, 2 + dx : 34 + dx]


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(buffer))


def brightness(image: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain + offset, 0, 255).round().astype(np.uint8)


def near_copy(image: np.ndarray, kind: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One of four edits, cycling: shift, JPEG, brightness, all three."""
    if kind % 4 == 0:
        dy, dx = 0, 0
        while dy == 0 and dx == 0:
            dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
        return shift(image, dy, dx), f"shift {dy},{dx}"
    if kind % 4 == 1:
        q = int(rng.integers(40, 91))
        return jpeg(image, q), f"jpeg q{q}"
    if kind % 4 == 2:
        g, o = float(rng.uniform(0.75, 1.25)), float(rng.uniform(-20, 20))
        return brightness(image, g, o), f"brightness x{g:.2f} {o:+.0f}"
    return jpeg(brightness(shift(image, 1, -1), 1.1, 8), 75), "shift+brightness+jpeg"


def degenerate(kind: int, rng: np.random.Generator) -> np.ndarray:
    shape = (32, 32, 3)
    if kind % 4 == 0:
        return rng.integers(0, 4, shape).astype(np.uint8)  # black, a little sensor noise
    if kind % 4 == 1:
        return rng.integers(252, 256, shape).astype(np.uint8)  # white
    if kind % 4 == 2:
        return np.full(shape, 60 + 30 * (kind // 4), np.uint8)  # constant grey, distinct levels
    return rng.integers(0, 256, shape).astype(np.uint8)  # uniform noise


# ----------------------------------------------------------------------------- planting
def stratified(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if n >= len(y):
        return np.arange(len(y))
    classes = np.unique(y)
    per = n // len(classes)
    rows = [rng.choice(np.flatnonzero(y == c), per, replace=False) for c in classes]
    return np.sort(np.concatenate(rows))


def busy_records(findings) -> set[tuple[str, int]]:
    """Every record a finding mentions: items, pair partners, group members."""
    out: set[tuple[str, int]] = set()
    for f in findings:
        out.update((s, int(i)) for s, i in f.items)
        for p in f.evidence.get("pairs", []):
            out.add(tuple(p["item"]))
            out.add(tuple(p["partner"]))
            out.update(("train", int(i)) for i in p.get("all_train_partners", []))
        for group in f.evidence.get("duplicate_groups", []):
            out.update(tuple(m) for m in group)
    return out


def plant(x, y, xt, yt, busy, rng, num_classes, flip_fraction):
    """Copies with faults planted; returns arrays and the expected items per finding id."""
    x, y, xt, yt = x.copy(), y.copy(), xt.copy(), yt.copy()
    free_train = [i for i in rng.permutation(len(x)) if ("train", int(i)) not in busy]
    free_test = [i for i in rng.permutation(len(xt)) if ("test", int(i)) not in busy]
    take_train = iter(free_train)
    take_test = iter(free_test)
    expected: dict[str, set[tuple[str, int]]] = {k: set() for k in DUP_CHECKS}
    touched: set[tuple[str, int]] = set()
    log = []
    for _ in range(50):
        i, j = int(next(take_train)), int(next(take_train))
        x[j], y[j] = x[i], y[i]
        expected["exact_duplicates"].add(("train", max(i, j)))
        touched |= {("train", i), ("train", j)}
    for n in range(50):
        i, j = int(next(take_train)), int(next(take_train))
        x[j], how = near_copy(x[i], n, rng)
        y[j] = y[i]
        expected["near_duplicates"].add(("train", max(i, j)))
        touched |= {("train", i), ("train", j)}
        log.append(how)
    for n in range(20):
        if n < 15:
            j = int(next(take_train))
            x[j] = degenerate(n, rng)
            expected["degenerate_images"].add(("train", j))
            touched.add(("train", j))
        else:
            t = int(next(take_test))
            xt[t] = degenerate(n, rng)
            expected["degenerate_images"].add(("test", t))
            touched.add(("test", t))
    for n in range(30):
        i, t = int(next(take_train)), int(next(take_test))
        xt[t] = x[i] if n < 15 else near_copy(x[i], n, rng)[0]
        yt[t] = y[i]
        expected["train_test_leakage"].add(("test", t))
        touched |= {("train", i), ("test", t)}
    flips = int(round(flip_fraction * len(x)))
    candidates = [i for i in free_train if ("train", int(i)) not in touched][:flips]
    for i in candidates:
        y[i] = (y[i] + rng.integers(1, num_classes)) % num_classes
    expected["label_issues"] = {("train", int(i)) for i in candidates}
    touched |= expected["label_issues"]
    return x, y, xt, yt, expected, touched


def score(flagged: set, expected: set, pre_existing: set, exclude: set = frozenset()) -> dict:
    counted = {f for f in flagged if f not in pre_existing and (f in expected or f not in exclude)}
    hits = counted & expected
    precision = len(hits) / len(counted) if counted else 1.0
    recall = len(hits) / len(expected) if expected else 1.0
    return {
        "planted": len(expected),
        "flagged": len(flagged),
        "hits": len(hits),
        "false_positives": len(counted - expected),
        "pre_existing_not_counted": len(flagged & pre_existing - expected),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


# ----------------------------------------------------------------------------- full-size run
def full_run(data_dir: str) -> dict[str, Any]:
    """The real CLI on the whole dataset, in a child process: wall seconds and peak RSS."""
    with tempfile.TemporaryDirectory() as out:
        code = "import cnn_doctor.cli.data_check_cmd; from cnn_doctor.cli.app import app; app()"
        cmd = [sys.executable, "-c", code, "data-check", "--data-dir", data_dir, "--out", out]
        start = time.perf_counter()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"}
        )
        wall = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if proc.returncode != 0:
            raise SystemExit(f"data-check failed:\n{proc.stdout}\n{proc.stderr}")
        payload = json.loads((Path(out) / "data_check.json").read_text())
    return {
        "wall_seconds": round(wall, 1),
        "peak_rss_mb": round(peak_mb),
        "check_seconds": payload["seconds"],
        "findings": {f["id"]: len(f["items"]) for f in payload["findings"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CNN_DOCTOR_DATA", ""))
    parser.add_argument("--subset", type=int, default=20_000, help="train images in the copy")
    parser.add_argument("--test-subset", type=int, default=4_000)
    parser.add_argument("--flip", type=float, default=0.05)
    parser.add_argument("--labels", action="store_true", help="also score the label search")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--label-epochs", type=int, default=8)
    parser.add_argument("--full", action="store_true", help="time the full 60k check (CLI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--save-probs", type=Path, help="save out-of-fold probabilities, labels, flips (.npz)"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "subset": {"train": args.subset, "test": args.test_subset},
    }
    if args.full:
        print("full 60k check (CLI, no --labels)…", flush=True)
        report["full_check"] = full_run(args.data_dir)
        print(json.dumps(report["full_check"], indent=1), flush=True)

    rng = np.random.default_rng(args.seed)
    ds = load_cifar10(args.data_dir or None, download=False)
    tr = stratified(ds.y_train, args.subset, rng)
    te = stratified(ds.y_test, args.test_subset, rng)
    x, y, xt, yt = ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te]
    names = list(ds.class_names)

    base = DataCheckInput(x, y, names, x_test=xt, y_test=yt)
    t0 = time.perf_counter()
    baseline = run_data_check_suite(base, DUP_CHECKS)
    report["baseline_seconds"] = round(time.perf_counter() - t0, 1)
    busy = busy_records(baseline.findings)
    pre = {f.id: set(f.items) for f in baseline.findings}
    report["pre_existing_in_unmodified_subset"] = {k: len(v) for k, v in pre.items()}

    x2, y2, xt2, yt2, expected, touched = plant(x, y, xt, yt, busy, rng, len(names), args.flip)
    with tempfile.TemporaryDirectory() as tmp:
        write_dataset(tmp, x2, y2, xt2, yt2, names)
        t0 = time.perf_counter()
        data, _ = load_check_input(tmp, download=False)
        result = run_data_check_suite(data, DUP_CHECKS)
        report["planted_check_seconds"] = round(time.perf_counter() - t0, 1)
    found = {f.id: set(f.items) for f in result.findings}
    scores = {k: score(found.get(k, set()), expected[k], pre.get(k, set())) for k in DUP_CHECKS}
    all_dups = ["exact_duplicates", "near_duplicates", "train_test_leakage"]
    scores["duplicates_all"] = score(
        set().union(*(found.get(k, set()) for k in all_dups)),
        set().union(*(expected[k] for k in all_dups)),
        set().union(*(pre.get(k, set()) for k in all_dups)),
    )
    report["scores"] = scores

    if args.labels:
        config = label_search_config(None, (f"optim.epochs={args.label_epochs}",))
        print(
            f"label search: {args.folds} folds × {config.model.arch} width "
            f"{config.model.width}, {config.optim.epochs} epochs on {len(x2)} images…",
            flush=True,
        )
        t0 = time.perf_counter()
        # the planted test split is the trusted reference that calibrates the flag count
        data = DataCheckInput(x2, y2, names, x_test=xt2, y_test=yt2)
        data = search_label_probs(
            data,
            trainer_fit_predict(config, len(names)),
            folds=args.folds,
            seed=args.seed,
            on_fold=lambda d, k: print(
                f"  fold {d}/{k} done at {time.perf_counter() - t0:.0f} s", flush=True
            ),
        )
        if args.save_probs:
            np.savez_compressed(
                args.save_probs,
                probs=data.pred_probs,
                labels=y2,
                flipped=np.array(sorted(i for _, i in expected["label_issues"])),
                other_planted=np.array(sorted(i for s, i in touched if s == "train")),
                reference_probs=data.reference_probs,
                reference_labels=data.reference_labels,
            )
        (label_finding,) = run_data_check_suite(data, ["label_issues"]).findings or (None,)
        flagged = set(label_finding.items) if label_finding else set()
        other_planted = touched - expected["label_issues"]
        report["label_search"] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "out_of_fold_accuracy": data.label_note["out_of_fold_accuracy"],
            "config": f"{config.model.arch} width {config.model.width}, "
            f"{config.optim.epochs} epochs, {args.folds} folds, batch {config.optim.batch_size}",
            **score(flagged, expected["label_issues"], set(), exclude=other_planted),
            "calibration": label_finding.evidence.get("calibration") if label_finding else None,
            "reference_accuracy": data.label_note.get("reference_accuracy"),
            "note": "flags on records planted for other checks are not counted; genuine "
            "CIFAR-10 label errors count as false positives",
        }

    report["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    print("\nissue                 planted  flagged  hits  FP  pre-existing  precision  recall")
    rows = dict(scores)
    if "label_search" in report:
        rows["label_issues"] = report["label_search"]
    for k, s in rows.items():
        print(
            f"{k:21s} {s['planted']:7d} {s['flagged']:8d} {s['hits']:5d} "
            f"{s['false_positives']:3d} {s['pre_existing_not_counted']:13d} "
            f"{s['precision']:10.3f} {s['recall']:7.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
