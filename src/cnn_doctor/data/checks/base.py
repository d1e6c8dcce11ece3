"""The issue-manager contract, the registry, and the input every data check reads.

Pattern (cleanlab Datalab's issue managers): one class per issue type with a ``name``, a
``description`` and one method, ``find_issues(data) -> list[Finding]``, that returns results and
changes nothing; a plain dict registry filled by ``@register``; an unknown name is an error that
lists the valid ones; a check whose inputs are missing is *skipped with a stated reason* — never
silently — so a report can say "label_issues: skipped (pass --labels)".

Thresholds are keyword-only constructor arguments, validated there, each documented with where its
value comes from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from cnn_doctor.config import ConfigError
from cnn_doctor.diagnose.findings import Finding, rank_findings

SPLITS = ("train", "test")


class UnknownCheckError(ConfigError):
    """A data-check name that is not registered; the message lists the valid names."""


@dataclass
class DataCheckInput:
    """Everything a data check may look at. Only ``x_train``/``y_train`` are required.

    Rows vs records: arrays hold the *readable* records; ``train_index[row]`` is that row's record
    index in file order (identity unless the tolerant reader dropped unreadable records). Every
    ``Finding.items`` entry is ``(split, record index)``, never a row number.

    Attributes:
        x_train, y_train: uint8 NHWC images and int64 labels of the training files.
        class_names: one name per class (index = label).
        x_test, y_test: the test file, when present (needed for leakage and test balance).
        train_index, test_index: record index per row (``None`` = ``arange``).
        val_rows: rows of ``x_train`` the config holds out as validation (for class balance).
        normalize: the config's ``data.normalize`` mode (for ``unnormalized_inputs``).
        normalizer: the callable the trainer applies (uint8 → float32); built from ``normalize``
            when absent.
        batchnorm: whether the model normalizes activations (softens unnormalized inputs).
        pred_probs: out-of-fold class probabilities for ``label_rows`` (for ``label_issues``).
        label_rows: the rows of ``x_train`` that ``pred_probs`` describe.
        label_note: how ``pred_probs`` were produced (folds, model, time) for the evidence.
        reference_probs, reference_labels: the same k-fold models' probabilities for images whose
            labels are trusted (a sample of the test split), one model per image like
            ``pred_probs``: how often the models' own errors get flagged on clean labels.
        unreadable: records the reader could not use (``None`` = the files were not scanned).
        source: where the data came from, for messages.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    class_names: Sequence[str] = ()
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    train_index: np.ndarray | None = None
    test_index: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    normalize: str | None = None
    normalizer: Callable[[np.ndarray], np.ndarray] | None = None
    batchnorm: bool = True
    pred_probs: np.ndarray | None = None
    label_rows: np.ndarray | None = None
    label_note: dict[str, Any] = field(default_factory=dict)
    reference_probs: np.ndarray | None = None
    reference_labels: np.ndarray | None = None
    unreadable: Sequence[Any] | None = None
    source: str = ""
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.x_train = _as_images(self.x_train, "x_train")
        self.y_train = np.asarray(self.y_train, dtype=np.int64).reshape(-1)
        if len(self.y_train) != len(self.x_train):
            raise ValueError(
                f"y_train has {len(self.y_train)} labels for {len(self.x_train)} images"
            )
        if self.x_test is not None:
            self.x_test = _as_images(self.x_test, "x_test")
            if self.y_test is not None:
                self.y_test = np.asarray(self.y_test, dtype=np.int64).reshape(-1)
                if len(self.y_test) != len(self.x_test):
                    raise ValueError("y_test and x_test differ in length")
        if not self.class_names:
            top = int(self.y_train.max()) + 1 if len(self.y_train) else 0
            self.class_names = [f"class_{i}" for i in range(top)]
        self.class_names = list(self.class_names)

    # ----------------------------------------------------------------- rows <-> records
    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_test(self) -> int:
        return 0 if self.x_test is None else len(self.x_test)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def record_index(self, split: str, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """File-order record indices of ``rows`` of ``split``."""
        rows = np.asarray(rows, dtype=np.int64)
        index = self.train_index if split == "train" else self.test_index
        return rows if index is None else np.asarray(index, dtype=np.int64)[rows]

    def items(self, split: str, rows: np.ndarray | Sequence[int]) -> tuple[tuple[str, int], ...]:
        """``Finding.items`` for ``rows`` of ``split``, in the given order."""
        return tuple((split, int(i)) for i in self.record_index(split, rows))

    def split_of(self, global_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Global rows (train rows, then test rows) → (is_test mask, row within its split)."""
        global_rows = np.asarray(global_rows, dtype=np.int64)
        is_test = global_rows >= self.n_train
        return is_test, np.where(is_test, global_rows - self.n_train, global_rows)

    def global_items(self, global_rows: np.ndarray) -> list[tuple[str, int]]:
        is_test, rows = self.split_of(global_rows)
        out = []
        for t, r in zip(is_test, rows, strict=True):
            split = "test" if t else "train"
            out.append((split, int(self.record_index(split, [r])[0])))
        return out

    def image(self, split: str, row: int) -> np.ndarray:
        return (self.x_train if split == "train" else self.x_test)[row]  # type: ignore[index]

    def images_by_global(self, global_rows: np.ndarray) -> np.ndarray:
        """Images for global rows (train rows first, then test rows), without concatenating."""
        is_test, rows = self.split_of(global_rows)
        out = np.empty((len(rows), *self.x_train.shape[1:]), dtype=np.uint8)
        out[~is_test] = self.x_train[rows[~is_test]]
        if is_test.any():
            out[is_test] = self.x_test[rows[is_test]]  # type: ignore[index]
        return out

    def memo(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Compute a shared intermediate (features, the duplicate graph) once per input.

        Several checks read the same per-image statistics; this cache is the only state a check
        may touch, and it holds pure functions of the input arrays.
        """
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]


def _as_images(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"{name} must be NHWC with 3 channels, got shape {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"{name} must be raw uint8 pixels, got {x.dtype}")
    return x


@dataclass(frozen=True)
class SkippedCheck:
    """A check that did not run, and why (shown in the terminal, the report and the JSON)."""

    name: str
    reason: str


@dataclass
class DataCheckResult:
    findings: list[Finding]
    skipped: list[SkippedCheck]
    seconds: dict[str, float]


class IssueManager:
    """Base of every data check.

    Subclasses set ``name`` (the finding id they emit, and the registry key), ``description``
    (one line for ``--help`` and the report), ``order``, and implement ``find_issues``.
    ``missing`` returns the reason the check cannot run on ``data``, or ``None``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    order: ClassVar[int] = 100  # run order: cheap checks first, the label search last

    def missing(self, data: DataCheckInput) -> str | None:
        return None

    def find_issues(self, data: DataCheckInput) -> list[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError


DATA_CHECKS: dict[str, type[IssueManager]] = {}


def register(cls: type[IssueManager]) -> type[IssueManager]:
    """Class decorator: add an issue manager to ``DATA_CHECKS`` under its ``name``."""
    if not cls.name or not cls.description:
        raise TypeError(f"{cls.__name__} needs a non-empty `name` and `description`")
    if cls.name in DATA_CHECKS and DATA_CHECKS[cls.name] is not cls:
        raise ValueError(f"a data check named {cls.name!r} is already registered")
    DATA_CHECKS[cls.name] = cls
    return cls


def available_checks() -> list[str]:
    """Registered check names in run order (cheap checks first)."""
    return sorted(DATA_CHECKS, key=lambda name: (DATA_CHECKS[name].order, name))


def get_check(name: str, **thresholds: Any) -> IssueManager:
    """An instance of the check called ``name``; an unknown name lists the valid ones."""
    try:
        cls = DATA_CHECKS[name]
    except KeyError:
        raise UnknownCheckError(
            f"unknown data check {name!r}; valid checks: {', '.join(available_checks())}"
        ) from None
    return cls(**thresholds)


def run_data_check_suite(
    data: DataCheckInput,
    checks: Sequence[str | IssueManager] | None = None,
    *,
    on_start: Callable[[str], None] | None = None,
) -> DataCheckResult:
    """Run ``checks`` (default: all registered) on ``data``; skipped ones carry their reason."""
    managers = [
        c if isinstance(c, IssueManager) else get_check(c)
        for c in (available_checks() if checks is None else checks)
    ]
    findings: list[Finding] = []
    skipped: list[SkippedCheck] = []
    seconds: dict[str, float] = {}
    for manager in managers:
        reason = manager.missing(data)
        if reason is not None:
            skipped.append(SkippedCheck(manager.name, reason))
            continue
        if on_start is not None:
            on_start(manager.name)
        start = time.perf_counter()
        findings.extend(manager.find_issues(data))
        seconds[manager.name] = round(time.perf_counter() - start, 3)
    return DataCheckResult(rank_findings(findings), skipped, seconds)


def run_data_checks(
    data: DataCheckInput, checks: Sequence[str | IssueManager] | None = None
) -> list[Finding]:
    """The ranked findings of ``checks`` on ``data`` (see ``run_data_check_suite`` for skips)."""
    return run_data_check_suite(data, checks).findings


def check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0) -> float:
    """Validate a threshold at construction (fail early, naming the argument)."""
    value = float(value)
    if not low <= value <= high or not np.isfinite(value):
        raise ValueError(f"{name}={value} must be in [{low}, {high}]")
    return value


def check_positive(name: str, value: float) -> float:
    value = float(value)
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{name}={value} must be a positive number")
    return value
