"""Every number a detector compares a measurement with, in one place, each with where it comes from.

Detectors take these as keyword-only defaults, so a caller can tighten or loosen one without
editing code, and a reader can check each call against its source. Sources:

- AUTOTRAINER: Zhang et al., "AUTOTRAINER: An Automatic DNN Training Problem Detection and Repair
  System", ICSE 2021.
- DeepDiagnosis: Wardat et al., "DeepDiagnosis: Automatically Diagnosing Faults and Recommending
  Actionable Fixes in Deep Learning Programs", ICSE 2022.
- TheDeepChecker: Braiek & Khomh, "Testing Feedforward Neural Networks Training Programs",
  TOSEM 2023 (property checks run during training).
- UMLAUT: Schoop et al., "UMLAUT: Debugging Deep Learning Programs using Program Structure, Model
  Behavior, and Error Messages", CHI 2021.
- Prechelt, "Early Stopping - But When?", Neural Networks: Tricks of the Trade, 1998.
- LeCun, Bottou, Orr & Müller, "Efficient BackProp", Neural Networks: Tricks of the Trade, 1998.
- Karpathy, "A Recipe for Training Neural Networks", 2019 (blog), and CS231n notes on the
  update/weight ratio.
- Keskar et al., "On Large-Batch Training for Deep Learning: Generalization Gap and Sharp Minima",
  ICLR 2017.
- Wu & He, "Group Normalization", ECCV 2018.
- Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in Dataset Labels",
  JAIR 2021.
- Arpit et al., "A Closer Look at Memorization in Deep Networks", ICML 2017.

This module is pure constants and the few rules stated with them: no keras, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# --- gradients ---------------------------------------------------------------------------------
# AUTOTRAINER's vanishing-gradient rule: the first layer's gradient norm is < 1e-3 of the last
# layer's AND the first layer's norm itself is < 1e-4.
VANISHING_FIRST_LAST_RATIO = 1e-3
VANISHING_FIRST_NORM = 1e-4
# TheDeepChecker flags a layer whose gradient norm is below 1e-6 (no learning signal at all).
VANISHING_ABS_NORM = 1e-6
# Forward view (Glorot & Bengio 2010): the last activation layer's across-image response spread
# below 1e-3 of the first's -- AUTOTRAINER's three orders of magnitude, applied to the signal.
# Measured here: a 19-layer sigmoid stack without BatchNorm fades 0.18 -> 4e-7 while its weight
# gradients stay within 10x of each other; healthy nets keep the ratio near 1.
VANISHING_SIGNAL_RATIO = 1e-3
# AUTOTRAINER's exploding-gradient rule: first/last-layer gradient-norm ratio > 70.
EXPLODING_FIRST_LAST_RATIO = 70.0
# TheDeepChecker: a gradient norm above 1e6 is exploding.
EXPLODING_GRAD_NORM = 1e6
# A rule must hold at this share of the (finite) probes, not at one noisy probe. Measurement
# choice: a majority, so one probe out of two or three does not decide alone.
PERSISTENT_PROBE_FRACTION = 0.5

# --- activations -------------------------------------------------------------------------------
# TheDeepChecker: more than 50% of a layer's units inactive is a dying-ReLU layer. One thinned
# layer alone is reported as info (measured here: a healthy seed CNN trained with Adam 3e-3 and
# dropout 0.5 ends with ~50% of its Dense(32) units dead on a 96-image probe yet keeps learning);
# the same 50% over *all* ReLU units of the network is a warning.
DEAD_LAYER_FRACTION = 0.5
DEAD_NETWORK_FRACTION = 0.5
# DeepDiagnosis: >= 70% of activations <= 0 is its dying-ReLU rule; we use it as the bar for
# "critical" (most of the network no longer passes a signal).
DEAD_CRITICAL_FRACTION = 0.7
# DeepDiagnosis: a sigmoid/tanh unit is saturated when |pre-activation| > 5 (sigmoid'(5) = 0.0066,
# 2.6% of its maximum; tanh'(5) = 1.8e-4).
SATURATION_PREACT_BOUND = 5.0
# DeepDiagnosis: more than 50% of a layer's pre-activations beyond the bound is a saturated layer.
SATURATED_LAYER_FRACTION = 0.5

# --- update / weight ratio ---------------------------------------------------------------------
# TheDeepChecker: log10(||update|| / ||weight||) of one optimizer step should lie in [-4, -1];
# Karpathy's CS231n notes give ~1e-3 as the healthy centre of that band.
UPDATE_RATIO_LOW = 1e-4
UPDATE_RATIO_HIGH = 1e-1
# The band assumes weights at the scale of a standard initialisation. A kernel whose norm is under
# a tenth of the Glorot-uniform norm for its shape (an order of magnitude below Glorot, He and
# LeCun, which are within ~2x of each other) -- zero-initialised, or crushed by a penalty -- makes
# the ratio measure the weight's smallness, so it is left out of the ratio.
RATIO_MIN_INIT_SCALE = 0.1

# --- loss curve --------------------------------------------------------------------------------
# AUTOTRAINER treats a loss >= 1e3 like a NaN: training has numerically blown up.
LOSS_HUGE = 1e3
# TheDeepChecker's "loss not decreasing" check: over a window of 5 observations the loss must
# drop by at least 5%. We observe epochs, so the window is the last min(5, epochs) epochs.
PLATEAU_WINDOW = 5
PLATEAU_MIN_DECREASE = 0.05
# AUTOTRAINER's "slow progress" check: the largest epoch-to-epoch training-accuracy gain is below
# 0.01. Required *with* the loss check: an annealing schedule (onecycle, cosine) flattens the
# reported loss — which also carries the L2 penalty — while accuracy is still climbing.
PLATEAU_MAX_ACC_GAIN = 0.01
# ...but an epoch's training accuracy on n images is itself an estimate: two epochs' values of
# the same model differ by chance with standard error sqrt(2 p (1 - p) / n) (binomial). That is
# 0.002 on CIFAR-10's 45k images, far under the 0.01 rule, but 0.012 at p = 0.17 on a 2000-image
# run, where a chance gain above 0.01 somewhere in a 3-epoch window happens about 1 time in 3.
# A gain counts as progress only above ACC_GAIN_NOISE_Z standard errors (z = 2: ~2.3% one-sided
# false "progress"). Added after the fault suite's tiny-capacity case (2000 images) missed on a
# +0.020 gain against 2 SE = 0.024.
ACC_GAIN_NOISE_Z = 2.0


def accuracy_change_noise(accuracy: float, examples: int) -> float:
    """Standard error of the difference of two accuracies ``accuracy`` measured on ``examples``."""
    p = min(max(float(accuracy), 0.0), 1.0)
    return math.sqrt(2.0 * p * (1.0 - p) / examples) if examples > 0 else 0.0


# Minimum number of epochs before a curve-shape rule is judged. UMLAUT starts its overfitting
# check at epoch 3; two intervals is also the least that distinguishes a trend from one step.
MIN_EPOCHS_FOR_TREND = 3
# AUTOTRAINER's oscillation rule: accuracy falls by >= 0.03 between consecutive epochs in
# >= 20% of the epochs.
OSCILLATION_ACC_DROP = 0.03
OSCILLATION_FRACTION = 0.2
# Underfitting: share of the achievable loss reduction (initial loss -> the floor set by label
# smoothing) realised by the end. Measurement choice, not literature: a healthy run that has
# *stopped* improving has used most of it; we call "little" anything under half.
UNDERFIT_MAX_PROGRESS = 0.5

# --- generalization ----------------------------------------------------------------------------
# Prechelt's generalization loss GL(t) = E_val(t) / min_{t'<=t} E_val(t') - 1; his GL_5 criterion
# stops training once it exceeds 5%.
OVERFIT_GENERALIZATION_LOSS = 0.05
# Chollet, Deep Learning with Python (2nd ed., ch. 5): a model overfits once its validation
# performance stalls while its training performance keeps improving. Validation *loss* can lag
# far behind (a 2000-image run with no augmentation reached 94% train vs 48% validation accuracy
# with validation loss still within 1.2% of its best), so the accuracy curves are judged too:
# over the trend window, training accuracy gains >= OVERFIT_MIN_TRAIN_GAIN, validation accuracy
# gains at most OVERFIT_MAX_TRANSFER of that, and the train-minus-validation accuracy gap is at
# least OVERFIT_MIN_ACC_GAP. Measurement choices, not literature: 5 points is ~3 binomial
# standard errors of a 1000-image validation set; "under a quarter transfers" means three
# quarters of what was learned is specific to the training images; 10 points is "much better on
# training than on validation data". OVERFIT_MIN_ACC_GAP also bounds the inference-mode gap
# between the probe's training images and validation images (Goodfellow et al. 2016 sec. 5.2:
# overfitting is a train/test gap that is too large), which must also exceed CHANCE_Z SEs.
OVERFIT_MIN_TRAIN_GAIN = 0.05
OVERFIT_MAX_TRANSFER = 0.25
OVERFIT_MIN_ACC_GAP = 0.10

# --- outputs -----------------------------------------------------------------------------------
# A row is a probability vector when its entries are in [0, 1] and it sums to 1 within this
# tolerance: float32 softmax rows sum to 1 within ~1e-6, raw logits essentially never within 1e-3.
# (AUTOTRAINER uses the looser "row sum > 1.1" to flag *non*-probabilities.)
PROBABILITY_ROW_TOLERANCE = 1e-3
# Outputs computed in a 16-bit format are rounded to it: each of a row's probabilities carries a
# relative error up to the format's unit roundoff u, so the row sum is off by up to ~u (Higham,
# "Accuracy and Stability of Numerical Algorithms", 2nd ed., sec. 2.1 and 4.2). bfloat16 keeps 8
# significant bits (u = 2**-8 ~ 0.0039) -- a bfloat16 softmax misses the float32 tolerance above.
# The tolerance for such outputs is 4u (room for the softmax's own rounding), 0.0156 for
# bfloat16; logits still essentially never sum to 1 that closely while all lying in [0, 1].
UNIT_ROUNDOFF = {"bfloat16": 2.0**-8, "float16": 2.0**-11}
PROBABILITY_ROUNDOFF_MULTIPLE = 4


def probability_row_tolerance(dtype: str | None) -> float:
    """Row-sum tolerance for outputs computed in ``dtype`` (see ``UNIT_ROUNDOFF``)."""
    roundoff = UNIT_ROUNDOFF.get(str(dtype or ""), 0.0)
    return max(PROBABILITY_ROW_TOLERANCE, PROBABILITY_ROUNDOFF_MULTIPLE * roundoff)


# Prediction collapse: share of predictions that fall in a single class. Derived: with C balanced
# classes, predicting one class for a share f caps accuracy at (1 - f) + 1/C, i.e. 0.2 for f = 0.9
# and C = 10 -- at most twice chance, whatever else the model learned.
COLLAPSE_FRACTION = 0.9

# --- initial loss ------------------------------------------------------------------------------
# Karpathy's recipe / TheDeepChecker: at initialisation the cross-entropy should be ~ln(C)
# (2.303 for 10 classes). For logits ~ N(0, s^2) the expected loss is ~ln(C) + s^2/2, so a 50%
# relative deviation means logit spread s ~ 1.5 at C = 10 (reported as info), 100% (twice the
# loss of a uniform guess) means s ~ 2.1: confidently wrong before any step (warning).
# Measured here: a Keras-default (glorot) seed CNN on unit-variance synthetic images starts ~49%
# above ln(C), which is why the lower bar only informs.
INITIAL_LOSS_REL_DEVIATION = 0.5
INITIAL_LOSS_WARN_DEVIATION = 1.0

# --- inputs ------------------------------------------------------------------------------------
# LeCun et al., Efficient BackProp, section 4.3: inputs should be near zero mean with variances of
# the same order (~1). DeepDiagnosis's fixed "outside [-1, 1]" rule misfires on standardised
# data, so we judge the per-channel RMS sqrt(mean^2 + std^2): an order of magnitude either side of
# unit scale. Standardised (~1) and [0, 1]-scaled (~0.55) pass; raw 0-255 pixels (~130) and pixels
# divided by 255 twice (~0.002) fail.
INPUT_RMS_LOW = 0.1
INPUT_RMS_HIGH = 10.0
# LeCun et al. again: channel variances should be similar; an order of magnitude apart is not.
INPUT_CHANNEL_STD_RATIO = 10.0


def input_scale_problems(
    mean: Sequence[float],
    std: Sequence[float],
    *,
    rms_low: float = INPUT_RMS_LOW,
    rms_high: float = INPUT_RMS_HIGH,
    channel_std_ratio: float = INPUT_CHANNEL_STD_RATIO,
) -> tuple[list[str], float]:
    """The one input-scale rule (the Doctor's detector and the data check both use it): which of
    ``too_large`` / ``too_small`` / ``channels_differ`` hold for per-channel ``mean``/``std``,
    and how many times outside the RMS band the worst channel is (1.0 = inside)."""
    rms = [math.hypot(float(m), float(s)) for m, s in zip(mean, std, strict=True)]
    stds = [float(s) for s in std]
    problems = []
    if max(rms) > rms_high:
        problems.append("too_large")
    if min(rms) < rms_low:
        problems.append("too_small")
    spread = max(stds) / min(stds) if min(stds) > 0 else math.inf
    if len(stds) > 1 and spread > channel_std_ratio:
        problems.append("channels_differ")
    off = max(1.0, max(rms) / rms_high, rms_low / max(min(rms), 1e-30))
    return problems, off


# --- batch size --------------------------------------------------------------------------------
# Wu & He (Group Normalization, Fig. 1): with BatchNorm, error rises steeply once a batch holds
# fewer than 8 images (batch statistics too noisy).
BATCH_SMALL_WITH_BN = 8
# Keskar et al.: their "large batch" regime is 10% of the training set, where the generalization
# gap appears; at >= 50% an epoch is one or two steps (full-batch gradient descent).
BATCH_LARGE_FRACTION = 0.1
BATCH_HUGE_FRACTION = 0.5

# --- label noise -------------------------------------------------------------------------------
# Under uniformly flipped *training* labels a model that has learned the clean signal (Arpit et
# al.: clean patterns are learned before noise is memorised) agrees with the training labels less
# often than with clean validation labels. We require the probe accuracy to trail the validation
# accuracy by both an absolute margin and a z-score (binomial standard error of the probe).
LABEL_NOISE_MIN_GAP = 0.05
LABEL_NOISE_MIN_Z = 3.0
# Confident learning (Northcutt et al.): an example is a label-issue candidate when the model's
# probability for another class reaches that class's mean self-confidence. Used as evidence.

# --- output layer, loss and labels -------------------------------------------------------------
# A loss "equals" one of the two cross-entropy readings of the probe outputs (OutputStat) when
# they agree within the row tolerance of the output's dtype (probability_row_tolerance above),
# used as a relative tolerance: float32 agrees to ~1e-6 (Keras clips at eps = 1e-7), 16-bit
# outputs to their unit roundoff.
# Softmax applied to probabilities: the inputs of the second softmax lie in [0, 1], so no row can
# give one class more than e / (e + C - 1) (0.232 for C = 10). Exact bound, no tuning.
# Activations that make an output a probability (softmax, sigmoid) or leave logits alone
# (linear); anything else on the output layer is the ``output_activation`` fault (UMLAUT lists
# "activation before softmax" among its checks).
OUTPUT_ACTIVATIONS_OK = frozenset({"softmax", "sigmoid", "linear", "log_softmax"})

# --- regularisation ----------------------------------------------------------------------------
# The penalty "dominates" the loss when it is the majority of what the optimizer minimises:
# (logged loss - data loss) / logged loss >= 0.5 (definition). Goodfellow, Bengio & Courville,
# Deep Learning (2016), sec. 7.1.1: a large weight-decay coefficient pulls the weights towards
# zero, away from the data-loss minimum.
PENALTY_DOMINANT_SHARE = 0.5
# Without a penalty (or with a light one) kernel norms grow during training: each gradient step
# adds a component mostly orthogonal to the weights (van Laarhoven 2017, "L2 regularization versus
# batch and weight normalization"; Hoffer et al. 2018). Penalised kernels whose median norm fell
# to half its initial value or less mean the penalty, not the data, drove the run. Measurement
# choice: "half" leaves a wide margin over the few-percent wobble of a healthy run.
PENALISED_KERNEL_SHRINK = 0.5
# UMLAUT (CHI'21): dropout rate > 0.5 is flagged, and validation accuracy above training accuracy
# by more than 5 points (from epoch 3) is its sign of over-regularisation.
DROPOUT_MAX_RATE = 0.5
VAL_OVER_TRAIN_ACCURACY = 0.05

# --- chance level ------------------------------------------------------------------------------
# An accuracy is "at chance" when it is within CHANCE_Z binomial standard errors of 1/C on the
# images it was measured on (z = 3: a 0.13% one-sided false "learning" rate). Used by the run's
# verdict and by the label-noise check (the model must have learned something before its
# disagreement with the training labels means anything).
CHANCE_Z = 3.0


def above_chance(accuracy: float, classes: int, examples: int | None) -> bool:
    """Whether ``accuracy`` on ``examples`` images is significantly above 1/``classes``."""
    return accuracy > 1.0 / classes + CHANCE_Z * _chance_se(classes, examples)


def below_chance(accuracy: float, classes: int, examples: int | None) -> bool:
    """Whether ``accuracy`` is significantly *below* 1/``classes``: worse than guessing, which
    a trained model only shows when it is scored on classes it never saw (or labels that do
    not match its outputs)."""
    return accuracy < 1.0 / classes - CHANCE_Z * _chance_se(classes, examples)


def binomial_se(p: float, examples: int | None) -> float:
    """Standard error of an accuracy ``p`` measured on ``examples`` images (``UNKNOWN_SAMPLE_SIZE``
    when the callback cannot know how many)."""
    n = examples if examples and examples > 0 else UNKNOWN_SAMPLE_SIZE
    return math.sqrt(max(p * (1.0 - p), 0.0) / n)


def _chance_se(classes: int, examples: int | None) -> float:
    return binomial_se(1.0 / classes, examples)


# A Keras callback never sees how many images fit() scored a metric on; judge as if 1000
# (SE 0.0095 at chance on 10 classes) -- a typical small validation split, so unknown sizes
# neither excuse large gaps nor flag small ones.
UNKNOWN_SAMPLE_SIZE = 1000

# The validation size a callback cannot see is read from the logged validation accuracies
# instead: each is k / n (Keras averages 0/1 hits over the n images scored). The smallest n that
# makes every interior value a multiple of 1/n within COUNT_FIT_TOLERANCE (float32 keeps ~6e-8
# relative) is taken. With m values, a wrong n fits by chance with probability ~(2 tol n)^m, so
# at least COUNT_FIT_MIN_VALUES distinct values and n <= COUNT_FIT_MAX_N (chance of any false fit
# below n = 20000 with 4 values: ~1%; beyond, UNKNOWN_SAMPLE_SIZE stands).
COUNT_FIT_TOLERANCE = 1e-6
COUNT_FIT_MIN_VALUES = 4
COUNT_FIT_MAX_N = 20_000

# Inputs an order of magnitude outside the normalised RMS band are critical, not a warning:
# at 10x the first layer's pre-activations are 10x off the scale its initialisation assumes
# (He et al. 2015 derive the init for unit-variance inputs).
INPUT_SCALE_CRITICAL_FACTOR = 10.0
# Predicting one class is not collapse when that class holds at least half the probe labels
# (an imbalanced probe: the majority guess is then a reasonable, not a broken, prediction).
COLLAPSE_MAJORITY_LABEL_SHARE = 0.5

# "Most parameters" frozen: a strict majority of the trainable-looking parameters (a
# definition, not a tuning). Used by the frozen-layers detector.
FROZEN_MAJORITY = 0.5
# "Near its peak" learning rate: at least half the largest LR the schedule reached (definition).
# Used by the LR-too-low detector to tell "warm-up/decay tail" from "low all along".
LR_NEAR_PEAK_SHARE = 0.5


# Wald-Wolfowitz runs test, k-category form (Mood 1940, "The distribution theory of runs"): the
# probe labels, in the order the user passed them, are "ordered by class" when their number of
# runs is more than LABEL_ORDER_Z standard deviations below its expectation under a random order
# (z = -3: a 0.13% one-sided false-alarm rate on shuffled arrays).
LABEL_ORDER_Z = 3.0
# Per-batch training accuracy (from the running means Keras logs at each batch end): random
# batches make it a binomial proportion, variance p (1 - p) / B (the dispersion-index test,
# Cochran 1954, "Some methods for strengthening the common chi-square tests"). Residuals are
# taken against the mean of BATCH_DISPERSION_HALF_WINDOW neighbours each side (follows the
# learning trend). Under random batches the index has mean 1 and, over >= 20 batches, sd
# ~1.4 sqrt(2 / m) (simulated in tests/diagnose/test_trace_signals.py). The batch size is
# inferred from the values (each is k / B): it must fit BATCH_SIZE_FIT_SHARE of them.
BATCH_DISPERSION_HALF_WINDOW = 2
BATCH_DISPERSION_MIN_BATCHES = 20
BATCH_DISPERSION_NULL_SPREAD = 1.4
# Flag when the index is BATCH_DISPERSION_Z null spreads above 1 *and* at least
# BATCH_DISPERSION_MIN (the variance half again what random batches allow: an effect, not
# just a detectable one on 1500 batches).
BATCH_DISPERSION_Z = 5.0
BATCH_DISPERSION_MIN = 1.5
BATCH_SIZE_FIT_SHARE = 0.95
# Batches whose accuracy is always exactly 0 or 1 hold one image when random batches of two or
# more would have given at least this many mixed ones (Poisson: seeing none has probability
# e^-10 < 5e-5).
SINGLE_IMAGE_MIXED_EXPECTED = 10.0
# A probe of at least this many labels, all of one class, also counts as sorted (the runs test
# has no variance then): a random draw from 10 balanced classes gives that with probability
# 10 * 0.1**32.
SINGLE_CLASS_PROBE_MIN = 32
