"""Would a well-kept library do our data checks at least as well? cleanvision beside ``data-check``.

Issue 13 asks to measure before switching: plant the same faults as ``data_faults.py`` (exact and
near duplicates, train/test leakage, degenerate images) into one CIFAR-10 subset, then run
``data-check``'s checks and cleanvision's ``exact_duplicates`` / ``near_duplicates`` (image hashes)
and ``dark`` / ``light`` / ``low_information`` issue types on the very same images, scored the same
way (a flag on a record the tool already flagged in the unmodified subset is pre-existing, neither
hit nor false alarm).

imagededup is not compared: ``imagededup.methods`` imports its CNN encoder, which needs
torchvision, whose install replaces the pinned torch 2.13.0 CPU build; its hash methods are the
perceptual hashes (``imagehash``) cleanvision uses here.

Measured (5000 train / 1000 test, 2-core AVX2 CPU): data-check found 50/50 exact, 49/50 near
duplicates, 30/30 leaked and 20/20 degenerate images with no false alarm in 1.9 s; cleanvision
50/50, 18/50 (3 false), 21/30 (1 false), 15/20 in 46 s. So data-check keeps its own checks.

cleanvision is not a cnn-doctor dependency; for this benchmark only::

    pip install --no-deps cleanvision imagehash PyWavelets tabulate fsspec
    python benchmarks/data_libraries.py --data-dir /work/shared/data/cifar10-jpeg --subset 5000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TQDM_DISABLE", "1")  # cleanvision's per-image progress bars

from data_faults import DUP_CHECKS, busy_records, plant, score, stratified  # noqa: E402

from cnn_doctor.data.checks import DataCheckInput  # noqa: E402
from cnn_doctor.data.checks.base import run_data_check_suite  # noqa: E402
from cnn_doctor.data.cifar10 import load_cifar10  # noqa: E402

DUPLICATE_IDS = ("exact_duplicates", "near_duplicates", "train_test_leakage")


def cleanvision_flags(x: np.ndarray, xt: np.ndarray, folder: Path) -> tuple[dict, float]:
    """Records cleanvision flags, in our terms: the later member of each duplicate set (a test
    member of a set with a train member is leakage), and dark/light/low-information images."""
    from cleanvision import Imagelab
    from PIL import Image

    records = [("train", i) for i in range(len(x))] + [("test", i) for i in range(len(xt))]
    paths = []
    for n, image in enumerate(np.concatenate([x, xt])):
        path = folder / f"{n:06d}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    started = time.perf_counter()
    lab = Imagelab(filepaths=paths)
    issue_types = {k: {} for k in ("exact_duplicates", "near_duplicates", "dark", "light")}
    issue_types["low_information"] = {}
    lab.find_issues(issue_types, verbose=False)
    seconds = time.perf_counter() - started
    flags: dict[str, set] = {k: set() for k in (*DUPLICATE_IDS, "degenerate_images")}
    for kind in ("exact_duplicates", "near_duplicates"):
        for group in lab.info[kind]["sets"]:
            members = sorted(records[paths.index(p)] for p in group)
            trains = [m for m in members if m[0] == "train"]
            for m in members:
                if m[0] == "test" and trains:
                    flags["train_test_leakage"].add(m)
            for m in trains[1:]:  # the check keeps the lowest index
                flags[kind].add(m)
    for kind in ("dark", "light", "low_information"):
        column = f"is_{kind}_issue"
        rows = np.flatnonzero(lab.issues[column].to_numpy())
        flags["degenerate_images"].update(records[int(r)] for r in rows)
    return flags, seconds


def ours(x, y, xt, yt, names) -> tuple[dict, float, list]:
    started = time.perf_counter()
    result = run_data_check_suite(DataCheckInput(x, y, names, x_test=xt, y_test=yt), DUP_CHECKS)
    found = {f.id: {(s, int(i)) for s, i in f.items} for f in result.findings}
    return found, time.perf_counter() - started, result.findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CNN_DOCTOR_DATA", ""))
    parser.add_argument("--subset", type=int, default=5000)
    parser.add_argument("--test-subset", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        import cleanvision  # noqa: F401
    except ImportError:
        sys.exit("cleanvision is not installed: see this script's docstring")

    rng = np.random.default_rng(args.seed)
    ds = load_cifar10(args.data_dir or None, download=False)
    tr = stratified(ds.y_train, args.subset, rng)
    te = stratified(ds.y_test, args.test_subset, rng)
    x, y, xt, yt = ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te]
    names = list(ds.class_names)
    print(f"{platform.machine()}, {os.cpu_count()} CPUs; {len(x)} train / {len(xt)} test images")

    base_ours, _, base_findings = ours(x, y, xt, yt, names)
    busy = busy_records(base_findings)  # records already flagged: no plant lands on them
    with tempfile.TemporaryDirectory() as tmp:
        base_cv, _ = cleanvision_flags(x, xt, Path(tmp))
    busy |= set().union(*base_cv.values())
    x2, y2, xt2, yt2, expected, _ = plant(x, y, xt, yt, busy, rng, len(names), 0.0)
    found_ours, t_ours, _ = ours(x2, y2, xt2, yt2, names)
    with tempfile.TemporaryDirectory() as tmp:
        found_cv, t_cv = cleanvision_flags(x2, xt2, Path(tmp))

    print(
        f"\n{'check':22} {'tool':12} {'planted':>7} {'hits':>5} {'FP':>4} {'prec':>6} {'recall':>6}"
    )
    for check in (*DUPLICATE_IDS, "degenerate_images"):
        for tool, found, base in (
            ("data-check", found_ours, base_ours),
            ("cleanvision", found_cv, base_cv),
        ):
            s = score(found.get(check, set()), expected[check], base.get(check, set()))
            print(
                f"{check:22} {tool:12} {s['planted']:>7} {s['hits']:>5} {s['false_positives']:>4} "
                f"{s['precision']:>6.3f} {s['recall']:>6.3f}"
            )
    print(
        f"\nseconds on the planted copy: data-check {t_ours:.1f}, cleanvision {t_cv:.1f} "
        "(cleanvision's time excludes writing the PNG files it reads)"
    )


if __name__ == "__main__":
    main()
