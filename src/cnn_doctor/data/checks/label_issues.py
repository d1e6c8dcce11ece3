"""Mislabeled training images, found by confident learning on out-of-fold predictions.

Confident learning (Northcutt, Jiang & Chuang, JAIR 2021; ``cleanlab.filter.find_label_issues``)
estimates the joint distribution of given and true labels from a model's predicted probabilities
and flags the examples most likely in the off-diagonal cells. The probabilities must be
*out-of-sample* — a model that has seen an image memorizes its (possibly wrong) label — so they
come from k-fold cross-validation: train on k−1 folds, predict the held-out one, k times
(``out_of_fold_probs``). Items are ranked by self-confidence (the predicted probability of the
given label), lowest — most suspicious — first.

How many to flag is calibrated on trusted labels. Confident learning counts every confident
disagreement as a label error, so a k-fold model with 73% accuracy flags 14% of a set with 5%
flipped labels: its own confusions (cat↔dog) count too. The same fold models therefore also
predict a sample of the *test* split, whose labels are taken as (nearly) clean; its flag rate
``r_ref`` is the rate the models' errors alone produce. The searched set's excess over it,
``(r − r_ref) / (1 − r_ref)``, estimates the share of wrong labels, and only that many of the
ranked candidates are kept. Without a test split the uncalibrated cleanlab set is reported.

Severity follows the estimated noise share of the searched records: CIFAR-10's own test set has
~0.5% confirmed label errors (Northcutt et al., "Pervasive label errors in test sets", NeurIPS
2021 Datasets track: 54 of 10,000), CIFAR-10N's crowd labels 9–17% (Wei et al., ICLR 2022):
< 2% info, < 10% warning, otherwise critical.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from cnn_doctor.data.checks.base import DataCheckInput, IssueManager, check_fraction, register
from cnn_doctor.diagnose.findings import Finding, Fix

if TYPE_CHECKING:  # pragma: no cover
    from cnn_doctor.config import Config

#: ``fit_predict(x_train_uint8, y_train, x_held_uint8) -> (len(x_held), C) probabilities``
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

WARNING_SHARE = 0.02
CRITICAL_SHARE = 0.10
# Confident learning's estimate of how many labels are wrong is only as good as the model: with
# out-of-fold accuracy near 50% it counts the model's own confusions as label errors (measured in
# benchmarks/data_faults.py: 51% accuracy → 31% of images flagged, precision 0.13 at 5% planted
# noise). Below this accuracy the finding is downgraded to info and says so.
MIN_RELIABLE_ACCURACY = 0.70
TOP_EVIDENCE = 50
# The k-fold model is the default recipe at width 0.5 (8 onecycle epochs) on the searched
# images. A weaker, quicker model does not pay: at 51% out-of-fold accuracy (width 0.25, one block,
# 4 epochs) confident learning flagged 31% of a 20k subset at precision 0.13 for 5% planted flips.
# Measured time and accuracy of this recipe: benchmarks/data_faults.py --labels.
LABEL_SEARCH_OVERRIDES = (
    "model.arch=fast",
    "model.width=0.5",
    "model.depth=0",
    "optim.epochs=8",
    "optim.batch_size=256",
    "data.val_size=0",
    "data.subset=0",
    "data.label_noise=0",
)


def out_of_fold_probs(
    x: np.ndarray, y: np.ndarray, fit_predict: FitPredict, **options: Any
) -> np.ndarray:
    """Predicted probabilities for every image from a model that never saw it (stratified k-fold).

    ``kfold_probs`` without a reference set; ``options`` are its keyword arguments.
    """
    return kfold_probs(x, y, fit_predict, **options)[0]


def kfold_probs(
    x: np.ndarray,
    y: np.ndarray,
    fit_predict: FitPredict,
    *,
    folds: int = 4,
    seed: int = 0,
    num_classes: int | None = None,
    on_fold: Callable[[int, int], None] | None = None,
    x_reference: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold probabilities for ``x`` and, when given, for ``x_reference``.

    Args:
        x, y: uint8 NHWC images and their given labels.
        fit_predict: trains on the first two arguments, returns probabilities for the third.
        folds: k; each model trains on (k−1)/k of the images.
        on_fold: called as ``on_fold(done, folds)`` after each fold (progress display).
        x_reference: images with trusted labels, to be judged by the same fold models.

    The reference images are split into ``folds`` parts; fold model *i* predicts part *i* along
    with its held-out fold, so each reference image is judged by exactly one model trained on
    (k−1)/k of the data — the same kind of prediction as every out-of-fold one.
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=np.int64)
    if folds < 2:
        raise ValueError(f"folds={folds} must be >= 2 (out-of-fold needs a held-out part)")
    num_classes = int(num_classes or y.max() + 1)
    smallest = np.bincount(y, minlength=num_classes)
    smallest = smallest[smallest > 0].min()
    if smallest < folds:
        raise ValueError(f"the rarest class has {smallest} images, fewer than folds={folds}")
    probs = np.zeros((len(y), num_classes), dtype=np.float64)
    ref_parts: list[np.ndarray] = []
    ref_probs = None
    if x_reference is not None:
        order = np.random.default_rng(seed).permutation(len(x_reference))
        ref_parts = np.array_split(order, folds)
        ref_probs = np.zeros((len(x_reference), num_classes), dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train_rows, held_rows) in enumerate(splitter.split(np.zeros(len(y)), y)):
        held = x[held_rows]
        if x_reference is not None:
            held = np.concatenate([held, x_reference[ref_parts[fold]]])
        out = np.asarray(fit_predict(x[train_rows], y[train_rows], held), dtype=np.float64)
        if out.shape != (len(held), num_classes):
            raise ValueError(
                f"fit_predict returned shape {out.shape}, expected {(len(held), num_classes)}"
            )
        probs[held_rows] = out[: len(held_rows)]
        if ref_probs is not None:
            ref_probs[ref_parts[fold]] = out[len(held_rows) :]
        if on_fold is not None:
            on_fold(fold + 1, folds)
    return probs, ref_probs


def label_search_config(base: Config | None = None, extra: tuple[str, ...] = ()) -> Config:
    """The quick recipe for the k-fold model: ``base`` (or the defaults) with a small, short
    model (``LABEL_SEARCH_OVERRIDES``), then ``extra`` ``section.key=value`` overrides."""
    from cnn_doctor.config import config_from_dict, load_config, parse_override

    if base is None:
        return load_config(None, [*LABEL_SEARCH_OVERRIDES, *extra])
    raw = base.to_dict()
    for text in (*LABEL_SEARCH_OVERRIDES, *extra):
        section, key, value = parse_override(text)
        raw[section][key] = value
    return config_from_dict(raw)


def trainer_fit_predict(config: Config, num_classes: int) -> FitPredict:
    """A ``FitPredict`` that trains ``config``'s recipe with our trainer (keras must be usable)."""

    def fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_held: np.ndarray) -> np.ndarray:
        from cnn_doctor.train import fit_arrays, predict_proba

        outcome = fit_arrays(config, x_train, y_train, num_classes=num_classes)
        return predict_proba(
            outcome.model,
            outcome.pipeline,
            x_held,
            from_logits=config.model.final_activation == "none",
            tta=True,
        )

    return fit_predict


def search_label_probs(
    data: DataCheckInput,
    fit_predict: FitPredict,
    *,
    subset: int = 0,
    folds: int = 4,
    seed: int = 0,
    on_fold: Callable[[int, int], None] | None = None,
    reference: bool = True,
) -> DataCheckInput:
    """A copy of ``data`` with ``pred_probs`` for (a stratified ``subset`` of) the train rows.

    With ``reference`` (and a labelled test split) the fold models also predict up to as many
    test images, for ``reference_probs``: the calibration described in the module docstring.
    """
    import dataclasses

    rows = np.arange(data.n_train)
    if data.val_rows is not None and len(data.val_rows):
        rows = np.setdiff1d(rows, np.asarray(data.val_rows))  # as the trainer would see them
    if subset and subset < len(rows):
        from sklearn.model_selection import train_test_split

        rows, _ = train_test_split(
            rows, train_size=subset, stratify=data.y_train[rows], random_state=seed
        )
        rows = np.sort(rows)
    ref_rows = None
    if reference and data.x_test is not None and data.y_test is not None and data.n_test:
        ref_rows = np.arange(data.n_test)
        if len(ref_rows) > len(rows):  # cost in proportion to the search
            ref_rows = np.sort(np.random.default_rng(seed).permutation(ref_rows)[: len(rows)])
    start = time.perf_counter()
    probs, ref_probs = kfold_probs(
        data.x_train[rows],
        data.y_train[rows],
        fit_predict,
        folds=folds,
        seed=seed,
        num_classes=data.num_classes,
        on_fold=on_fold,
        x_reference=None if ref_rows is None else data.x_test[ref_rows],
    )
    note: dict[str, Any] = {
        "folds": folds,
        "images_searched": len(rows),
        "seconds": round(time.perf_counter() - start, 1),
        "out_of_fold_accuracy": round(float((probs.argmax(1) == data.y_train[rows]).mean()), 4),
    }
    ref_labels = None
    if ref_rows is not None:
        ref_labels = data.y_test[ref_rows]
        note["reference"] = f"{len(ref_rows)} test images (labels trusted)"
        note["reference_accuracy"] = round(float((ref_probs.argmax(1) == ref_labels).mean()), 4)
    return dataclasses.replace(
        data,
        pred_probs=probs,
        label_rows=rows,
        label_note={**data.label_note, **note},
        reference_probs=ref_probs,
        reference_labels=ref_labels,
        _memo=data._memo,
    )


@register
class LabelIssues(IssueManager):
    """Training images whose given label disagrees confidently with out-of-fold predictions."""

    name = "label_issues"
    order = 90
    description = "likely mislabeled images (confident learning on k-fold out-of-fold predictions)"

    def __init__(
        self,
        *,
        filter_by: str = "prune_by_noise_rate",
        warning_share: float = WARNING_SHARE,
        critical_share: float = CRITICAL_SHARE,
        min_reliable_accuracy: float = MIN_RELIABLE_ACCURACY,
    ) -> None:
        valid = (
            "prune_by_noise_rate",
            "prune_by_class",
            "both",
            "confident_learning",
            "predicted_neq_given",
        )
        if filter_by not in valid:
            raise ValueError(f"filter_by={filter_by!r}; choose one of: {', '.join(valid)}")
        self.filter_by = filter_by
        self.warning_share = check_fraction("warning_share", warning_share)
        self.critical_share = check_fraction("critical_share", critical_share)
        self.min_reliable_accuracy = check_fraction("min_reliable_accuracy", min_reliable_accuracy)

    def missing(self, data: DataCheckInput) -> str | None:
        if data.pred_probs is None:
            return (
                "needs out-of-fold predicted probabilities: run with --labels (trains a quick "
                "k-fold model)"
            )
        return None

    def _calibrate(
        self, data: DataCheckInput, flagged: int, searched: int
    ) -> dict[str, Any] | None:
        """How many of the ``flagged`` candidates to keep, from the flag rate on trusted labels.

        ``None`` when there is no reference (nothing to calibrate against).
        """
        from cleanlab.filter import find_label_issues

        probs, labels = data.reference_probs, data.reference_labels
        if probs is None or labels is None or len(labels) == 0:
            return None
        labels = np.asarray(labels, dtype=np.int64)
        probs = np.asarray(probs, dtype=np.float64)
        if np.bincount(labels, minlength=data.num_classes).min() < 1:
            return None  # cleanlab needs every class present in the reference
        ref_flagged = int(
            np.count_nonzero(
                find_label_issues(
                    labels=labels, pred_probs=probs, filter_by=self.filter_by, n_jobs=1
                )
            )
        )
        rate, ref_rate = flagged / searched, ref_flagged / len(labels)
        share = max(0.0, (rate - ref_rate) / (1.0 - ref_rate)) if ref_rate < 1 else 0.0
        return {
            "reference_images": len(labels),
            "reference_flag_rate": round(ref_rate, 5),
            "searched_flag_rate": round(rate, 5),
            "estimated_wrong_share": round(share, 5),
            "flagged_before_calibration": flagged,
            "kept": min(flagged, int(round(share * searched))),
            "rule": "keep the (r - r_ref) / (1 - r_ref) share of the searched images, "
            "lowest self-confidence first",
        }

    def find_issues(self, data: DataCheckInput) -> list[Finding]:
        from cleanlab.filter import find_label_issues

        probs = np.asarray(data.pred_probs, dtype=np.float64)
        rows = (
            np.arange(data.n_train)
            if data.label_rows is None
            else np.asarray(data.label_rows, dtype=np.int64)
        )
        labels = data.y_train[rows]
        if probs.shape != (len(rows), data.num_classes):
            raise ValueError(
                f"pred_probs has shape {probs.shape}, expected {(len(rows), data.num_classes)}"
            )
        ranked = find_label_issues(
            labels=labels,
            pred_probs=probs,
            filter_by=self.filter_by,
            return_indices_ranked_by="self_confidence",
            n_jobs=1,
        )
        ranked = np.asarray(ranked, dtype=np.int64)
        calibration = self._calibrate(data, len(ranked), len(rows))
        if calibration is not None:
            ranked = ranked[: calibration["kept"]]
        if len(ranked) == 0:
            return []
        items = data.items("train", rows[ranked])
        names = data.class_names
        worst = [
            {
                "item": list(item),
                "given": names[int(labels[i])],
                "predicted": names[int(probs[i].argmax())],
                "self_confidence": round(float(probs[i, labels[i]]), 4),
                "predicted_probability": round(float(probs[i].max()), 4),
            }
            for i, item in zip(ranked[:TOP_EVIDENCE], items[:TOP_EVIDENCE], strict=True)
        ]
        share = len(ranked) / len(rows)
        severity = (
            "critical"
            if share >= self.critical_share
            else "warning"
            if share >= self.warning_share
            else "info"
        )
        accuracy = float((probs.argmax(axis=1) == labels).mean())
        reliable = accuracy >= self.min_reliable_accuracy
        summary = (
            f"{len(ranked)} of {len(rows)} searched training images ({share:.1%}) look "
            "mislabeled (confident learning on out-of-fold predictions"
            + (
                f", calibrated on {calibration['reference_images']} trusted test labels)."
                if calibration is not None
                else ")."
            )
        )
        if not reliable:
            severity = "info"
            summary += (
                f" Unreliable: the k-fold model reached only {accuracy:.0%} out-of-fold accuracy"
                " (its own confusions are counted); look at the lowest-ranked images, or rerun "
                "with more --label-epochs."
            )
        pairs: dict[str, int] = {}
        for i in ranked:
            key = f"{names[int(labels[i])]}→{names[int(probs[i].argmax())]}"
            pairs[key] = pairs.get(key, 0) + 1
        common = sorted(pairs.items(), key=lambda kv: -kv[1])[:10]
        return [
            Finding(
                id=self.name,
                area="data",
                severity=severity,
                confidence=0.7 if reliable else 0.2,
                summary=summary,
                evidence={
                    "count": len(ranked),
                    "searched": len(rows),
                    "share": round(share, 5),
                    "filter_by": self.filter_by,
                    "calibration": calibration,
                    "ranked_by": "self_confidence (lowest first)",
                    "thresholds": {
                        "warning_share": self.warning_share,
                        "critical_share": self.critical_share,
                    },
                    "model": data.label_note,
                    "out_of_fold_accuracy": round(accuracy, 4),
                    "reliable_if_accuracy_at_least": self.min_reliable_accuracy,
                    "most_common_given_to_predicted": dict(common),
                    "worst": worst,
                },
                fixes=(
                    Fix(
                        "cnn-doctor data-check --labels --export-clean clean/ ; then "
                        "data.data_dir=clean",
                        "pruning confidently mislabeled examples before training improved "
                        "accuracy in Northcutt et al. 2021",
                    ),
                    Fix(
                        "optim.label_smoothing=0.2",
                        "softer targets make training tolerant of the label errors that remain",
                    ),
                ),
                items=tuple(items),
            )
        ]
