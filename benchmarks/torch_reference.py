"""Keras's per-step overhead, measured against a pure-torch reference of the default recipe.

Why: the default recipe runs through Keras 3 on its torch backend. Whether Keras's layers,
optimizer and ``fit`` loop cost anything next to the same network written directly in torch is a
measured question (issue 12; target: Keras step time <= 1.15x the pure-torch one). Both sides are
built and timed in ONE process, on identical fixed batches, in alternating rounds
(Keras/torch/Keras/torch...) after a warm-up, so load from other users of the machine hits both
alike; the figure that matters is the ratio.

The two sides:

- **Keras** is the product itself: ``train.build_compiled_model`` with the default ``Config``
  (``--width``/``--batch-size`` overriding), so the same net, optimizer, schedule, loss, accuracy
  metric, precision (``run.precision="auto"``) and ``jit_compile`` setting (Keras's ``"auto"``,
  i.e. eager on the torch backend) as ``cnn-doctor train``; layout ``channels_first`` like the
  trainer on torch (``CNN_DOCTOR_CHANNELS_LAST=1`` makes it channels_last, as in the trainer;
  the torch side stays NCHW). Batches reach
  ``model.fit`` through a ``keras.utils.PyDataset`` as ``TrainBatches`` does; ``--with-data`` uses
  ``TrainBatches`` itself (shuffle, crop+flip, standardize, one-hot) plus the trainer's
  ``EpochClock`` callback.
- **torch** is ``FastNet`` below, written from the recipe's description: frozen 2x2
  patch-whitening conv (``2 * 4 * 3`` filters) → GELU → 3 groups of ``conv3x3 → maxpool2 → BN →
  GELU → conv3x3 → BN → GELU`` (widths 64/256/256 × ``width``, convs bias-free, BN with a shift
  but no scale) → global max-pool → × 1/9 → bias-free linear head. Keras's ``he_normal`` init
  (truncated normal, std ``sqrt(2 / fan_in) / 0.8796``, cut at 2 std), BN momentum 0.9 in Keras's
  convention (0.1 in torch's) and eps 1e-5, ``torch.optim.SGD`` (Nesterov, momentum 0.9), L2 of
  5e-4 × Σw² on every conv/linear kernel *added to the loss* (as Keras's ``kernel_regularizer``
  does, so autograd does the same extra work), cross-entropy with label smoothing 0.2, and a
  onecycle LR (linear rise over warm-up, then linear decay to ``min_lr`` at the last step,
  evaluated mid-step) over the real run's length (12 epochs × 45k images). ``--with-data`` adds its
  own torch crop (reflect pad 4) + flip + standardize on the same uint8 images. NCHW, contiguous.

Where the two can differ (numerics, not work per step):

- SGD momentum convention: Keras keeps ``v = 0.9 v - lr g`` and steps ``-lr g + 0.9 v``; torch
  keeps ``b = 0.9 b + g`` and steps ``-lr (g + 0.9 b)``. Identical under a constant LR (and on the
  first step); while the LR moves, torch applies today's LR to the whole buffer where Keras keeps
  each gradient's own LR. With momentum's ~10-step memory and the linear decay that is a relative
  difference of about 10 / (steps left) in the update: under 1% for the first half of the default
  run's 2100 steps, more near the end, where the LR itself goes to 0.
- BN running variance: Keras averages the biased batch variance, torch the unbiased one (a factor
  n/(n-1), n ≥ 256·9 values per channel here): inference-time statistics only.
- Keras computes BN from ``ops.moments`` + element-wise ops; torch uses its fused kernel. That
  is overhead the ratio is meant to show, not a difference in what is computed.
- ``--with-data``: the two sides draw different random crops/flips (different generators);
  each repeats its own first epoch every round (``fit(epochs=1)`` always runs epoch 0).
- Where ``run.precision="auto"`` picks ``mixed_bfloat16`` (a CPU with native bf16; not this
  one), the torch side runs under ``torch.autocast(bfloat16)``, which picks dtypes per op from
  torch's autocast lists, where Keras's policy sets them per layer (BN and the head in float32):
  comparable, not identical, and not measured here.

Extra work only the Keras side does (by design, as the product runs it): a running-mean loss
tracker and the ``accuracy`` metric updated every step, Keras's callback dispatch and data
adapter. ``--torch-metrics`` makes the torch loop keep the same running loss and accuracy, for a
like-for-like figure. Not on either side: the trainer's ``RunRecorder`` (one checkpoint per
epoch, 175 steps) and progress bar, and validation.

Timing: Keras step = interval between consecutive ``on_train_batch_end`` calls inside ``fit``
(data fetch + ``train_function`` + callbacks; the first step of each ``fit`` call is measured
from ``on_epoch_begin`` and so includes starting the data iterator); torch step = the same span
of a plain loop. Median and best per side over all timed steps, images/s = batch / step time;
``fit`` wall / steps is printed too (it adds ``fit``'s per-call setup, which a real epoch of 175
steps amortises). By default the torch net starts from the Keras net's initial weights, so the
warm-up losses of the two sides must agree: a check that they do the same job.

Usage:
    python benchmarks/torch_reference.py --steps 5 --rounds 3
    python benchmarks/torch_reference.py --steps 5 --rounds 3 --with-data --torch-metrics
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

REFERENCE_WIDTHS = (64, 256, 256)
CONVS_PER_GROUP = 2
HEAD_SCALE = 1.0 / 9.0
PATCH = 2
#: Keras's he_normal: a normal truncated at 2 std, whose std is rescaled by this to keep variance.
TRUNCATED_STD = 0.87962566103423978
#: airbench's eigenvalue floor for the whitening filters.
WHITEN_EPS = 5e-4
EPOCH_IMAGES = 45_000  # CIFAR-10 train split after the default 5k validation hold-out
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


# ------------------------------------------------------------------------------ the network
def channels(reference: int, width: float) -> int:
    """A reference width scaled by ``width`` (Python rounding, at least one channel)."""
    return max(1, int(round(reference * width)))


def he_normal_(weight: torch.Tensor, fan_in: int) -> torch.Tensor:
    """Keras's ``he_normal`` in place: N(0, 2/fan_in) truncated at two standard deviations."""
    std = math.sqrt(2.0 / fan_in) / TRUNCATED_STD
    with torch.no_grad():
        return nn.init.trunc_normal_(weight, 0.0, std, -2.0 * std, 2.0 * std)


class ShiftOnlyBatchNorm(nn.Module):
    """BatchNorm whose scale is fixed at 1: only the shift (``bias``) learns.

    Keras's ``BatchNormalization(scale=False)`` has no gamma at all; ``F.batch_norm`` with
    ``weight=None`` is the same function with the same parameter count (a frozen weight of ones
    would add ``channels`` parameters and a multiply).
    """

    def __init__(self, num_channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.register_buffer("running_mean", torch.zeros(num_channels))
        self.register_buffer("running_var", torch.ones(num_channels))
        self.momentum, self.eps = momentum, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            None,
            self.bias,
            self.training,
            self.momentum,
            self.eps,
        )


class ConvGroup(nn.Module):
    """``conv → maxpool → BN → GELU`` then ``conv → BN → GELU`` (more convs: ``depth``)."""

    def __init__(self, in_channels: int, out_channels: int, depth: int = CONVS_PER_GROUP) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, 1, 1, bias=False)
            for i in range(depth)
        )
        self.norms = nn.ModuleList(ShiftOnlyBatchNorm(out_channels) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = conv(x)
            if i == 0:
                x = F.max_pool2d(x, 2)
            x = F.gelu(norm(x))
        return x


class FastNet(nn.Module):
    """The default ``fast`` net in plain torch (NCHW); see the module docstring for the layout.

    Example:
        >>> net = FastNet(width=0.625)
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, width: float = 0.625, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        stem = 2 * PATCH * PATCH * in_channels  # each whitening filter and its negation
        whiten = torch.empty(stem, in_channels * PATCH * PATCH)
        nn.init.orthogonal_(whiten)  # until fit_whitening: a random orthogonal basis
        self.register_buffer("whiten", whiten.reshape(stem, in_channels, PATCH, PATCH))
        groups, previous = [], stem
        for reference in REFERENCE_WIDTHS:
            groups.append(ConvGroup(previous, channels(reference, width)))
            previous = channels(reference, width)
        self.groups = nn.ModuleList(groups)
        self.head = nn.Linear(previous, num_classes, bias=False)
        for kernel in self.kernels():
            he_normal_(kernel, kernel[0].numel())

    def kernels(self) -> list[nn.Parameter]:
        """The weights the recipe's L2 penalty covers: every conv and linear kernel."""
        convs = [conv.weight for group in self.groups for conv in group.convs]
        return [*convs, self.head.weight]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(F.conv2d(x, self.whiten))
        for group in self.groups:
            x = group(x)
        return self.head(torch.amax(x, dim=(2, 3)) * HEAD_SCALE)


def fit_whitening(net: FastNet, images: torch.Tensor) -> None:
    """Set the stem to the eigenbasis of the 2x2 patch covariance of ``images`` (NCHW, already
    normalized), scaled by 1/sqrt(eigenvalue + eps), and its negation."""
    patches = F.unfold(images.double(), PATCH)  # (N, C*P*P, L), features ordered (c, kh, kw)
    patches = patches.transpose(1, 2).reshape(-1, patches.shape[1])
    patches = patches - patches.mean(dim=0)
    values, vectors = torch.linalg.eigh(patches.T @ patches / len(patches))
    filters = vectors / torch.sqrt(values + WHITEN_EPS)
    filters = torch.cat([filters, -filters], dim=1)  # (C*P*P, 2*C*P*P), one filter a column
    net.whiten.copy_(filters.T.reshape(net.whiten.shape).float())


def weight_counts(net: nn.Module) -> tuple[int, int]:
    """(trainable, total) numbers, total counting frozen tensors (whitening, BN statistics) the
    way Keras's ``count_params`` counts non-trainable weights."""
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in net.parameters() if not p.requires_grad)
    frozen += sum(b.numel() for b in net.buffers() if b.is_floating_point())
    return trainable, trainable + frozen


# ------------------------------------------------------------------------------ the recipe
def onecycle(peak: float, total_steps: int, warmup_steps: float = 0.0, floor: float = 0.0):
    """LR at each step, read at the step's middle: linear from 0 to ``peak`` over the warm-up,
    then linear down to ``floor`` at the end of the last step."""
    lrs = []
    for step in range(total_steps):
        t = step + 0.5
        if t < warmup_steps:
            lrs.append(peak * t / warmup_steps)
        else:
            left = (total_steps - t) / max(total_steps - warmup_steps, 1e-12)
            lrs.append(floor + (peak - floor) * max(0.0, left))
    return lrs


@dataclass
class TorchRecipe:
    """The default recipe's training step in plain torch, following a per-step LR list."""

    net: FastNet
    lrs: list[float]
    l2: float = 5e-4
    label_smoothing: float = 0.2
    momentum: float = 0.9
    track_metrics: bool = False
    step_count: int = 0
    seen: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    loss_sum: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    correct: torch.Tensor = field(default_factory=lambda: torch.zeros(()))

    def __post_init__(self) -> None:
        self.optimizer = torch.optim.SGD(
            self.net.parameters(), lr=self.lrs[0], momentum=self.momentum, nesterov=True
        )
        self.kernels = self.net.kernels()

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean smoothed cross-entropy plus the L2 penalty (Keras's ``l2 * sum(w ** 2)`` each)."""
        penalty = sum(kernel.square().sum() for kernel in self.kernels)
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing) + (
            self.l2 * penalty
        )

    def step(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One optimizer step; returns the loss (CE + L2) before the update, without syncing."""
        lr = self.lrs[min(self.step_count, len(self.lrs) - 1)]
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        logits = self.net(x)
        loss = self.loss(logits, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_count += 1
        loss = loss.detach()
        if self.track_metrics:  # what Keras's loss tracker and accuracy metric do each step
            with torch.no_grad():
                self.seen += len(labels)
                self.loss_sum += loss * len(labels)
                self.correct += (logits.argmax(dim=1) == labels).sum()
                _ = (self.loss_sum / self.seen, self.correct / self.seen)
        return loss


class TorchAugment:
    """Crop (reflect pad) + flip + standardize on uint8 NHWC images held as a tensor → NCHW."""

    def __init__(self, images: np.ndarray, padding: int, seed: int) -> None:
        self.images = torch.from_numpy(images).permute(0, 3, 1, 2)  # a view: NCHW uint8
        flat = self.images.double().transpose(0, 1).reshape(images.shape[-1], -1)
        self.mean = flat.mean(dim=1).float().view(1, -1, 1, 1)
        self.inv_std = (1.0 / flat.std(dim=1).clamp_min(1.0)).float().view(1, -1, 1, 1)
        self.padding = padding
        self.generator = torch.Generator()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Start the crop/flip draws over (each timed round repeats the same epoch, as the Keras
        side's ``TrainBatches`` does: ``fit(epochs=1)`` always runs epoch 0)."""
        self.generator.manual_seed(seed)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        x = self.images[rows].float()
        n, _, h, w = x.shape
        p = self.padding
        x = F.pad(x, (p, p, p, p), mode="reflect")
        offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=self.generator)
        ys = (offsets[:, :1] + torch.arange(h))[:, None, :, None]
        xs = (offsets[:, 1:] + torch.arange(w))[:, None, None, :]
        x = x[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[:, None, None], ys, xs]
        flip = torch.rand(n, generator=self.generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        return ((x - self.mean) * self.inv_std).contiguous()


# ------------------------------------------------------------------------------ Keras side
def default_config(width: float, batch_size: int):
    """The default recipe (what ``cnn-doctor train`` runs) at ``width`` and ``batch_size``."""
    from cnn_doctor.config import Config

    config = Config()
    return replace(
        config,
        model=replace(config.model, width=width),
        optim=replace(config.optim, batch_size=batch_size),
    )


def keras_model(config, steps_per_epoch: int):
    """The product's compiled model (``build_compiled_model``), in the trainer's data format."""
    import keras

    from cnn_doctor.batches import channels_first_for
    from cnn_doctor.train import build_compiled_model

    shape = (3, 32, 32) if channels_first_for(keras.backend.backend()) else (32, 32, 3)
    return build_compiled_model(config, 10, steps_per_epoch, input_shape=shape)


def copy_keras_weights(net: FastNet, model) -> None:
    """Load a Keras ``fast`` model's weights (HWIO kernels, BN beta/moving stats) into ``net``."""

    def hwio(variable) -> torch.Tensor:
        return torch.from_numpy(np.asarray(variable.numpy())).permute(3, 2, 0, 1)

    with torch.no_grad():
        net.whiten.copy_(hwio(model.get_layer("whiten").kernel))
        for g, group in enumerate(net.groups, start=1):
            for c, (conv, norm) in enumerate(zip(group.convs, group.norms, strict=True), start=1):
                conv.weight.copy_(hwio(model.get_layer(f"g{g}_conv{c}").kernel))
                bn = model.get_layer(f"g{g}_bn{c}")
                norm.bias.copy_(torch.from_numpy(np.asarray(bn.beta.numpy())))
                norm.running_mean.copy_(torch.from_numpy(np.asarray(bn.moving_mean.numpy())))
                norm.running_var.copy_(torch.from_numpy(np.asarray(bn.moving_variance.numpy())))
        kernel = np.asarray(model.get_layer("logits").kernel.numpy())
        net.head.weight.copy_(torch.from_numpy(kernel).T)


def keras_weight_counts(model) -> tuple[int, int]:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, int(model.count_params())


# ------------------------------------------------------------------------------ the benchmark
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Which of the flags that decide the conv kernels (and bfloat16) the CPU advertises."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return "unknown (no /proc/cpuinfo)"
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    present = set(line.split(":", 1)[-1].split())
    return " ".join(f"{flag}={'yes' if flag in present else 'no'}" for flag in CPU_FLAGS)


@dataclass
class Timings:
    steps: list[float] = field(default_factory=list)  # seconds per step, all timed rounds
    rounds: list[float] = field(default_factory=list)  # median step of each round
    walls: list[float] = field(default_factory=list)  # wall seconds per step of each round
    last_loss: float = float("nan")

    def add_round(self, steps: list[float], wall: float, loss: float) -> None:
        self.steps += steps
        self.rounds.append(statistics.median(steps))
        self.walls.append(wall / len(steps))
        self.last_loss = loss


def fixed_batches(x: list[np.ndarray], y: list[np.ndarray]):
    """Pre-made (images, one-hot) batches as a ``PyDataset``: ``fit`` reads them through the same
    adapter as the trainer's ``TrainBatches``, minus the augmentation work."""
    import keras

    class FixedBatches(keras.utils.PyDataset):
        def __len__(self) -> int:
            return len(x)

        def __getitem__(self, index: int):
            return x[index], y[index]

    return FixedBatches()


def step_timer():
    """A callback recording the interval between consecutive batch ends inside ``fit``."""
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []
            self.last = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.times, self.last = [], time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            self.times.append(now - self.last)
            self.last = now

    return StepTimer()


def run(args: argparse.Namespace, say: Callable[[str], None] = print) -> dict[str, Timings]:
    """Build both sides, warm them up, time ``args.rounds`` alternating rounds; print a table."""
    import keras

    from cnn_doctor.batches import InputPipeline, TrainBatches, channels_first_for, one_hot
    from cnn_doctor.data.prepare import Normalizer
    from cnn_doctor.fit_callbacks import EpochClock
    from cnn_doctor.precision import resolve_precision
    from cnn_doctor.train import seed_everything

    torch.set_num_threads(args.threads)  # one process: Keras's torch backend uses the same pool
    config = default_config(args.width, args.batch_size)
    seed_everything(config.run.seed)
    precision = resolve_precision(config.run.precision, keras.backend.backend())
    steps_per_epoch = EPOCH_IMAGES // args.batch_size
    model = keras_model(config, steps_per_epoch)
    net = FastNet(width=args.width)
    o = config.optim
    lrs = onecycle(o.lr, o.epochs * steps_per_epoch, o.warmup_epochs * steps_per_epoch, o.min_lr)
    recipe = TorchRecipe(
        net,
        lrs,
        l2=config.model.weight_decay,
        label_smoothing=o.label_smoothing,
        momentum=o.momentum,
        track_metrics=args.torch_metrics,
    )
    bf16 = precision == "mixed_bfloat16"
    channels_first = channels_first_for(keras.backend.backend())

    rng = np.random.default_rng(config.run.seed)
    n, b = args.steps * args.batch_size, args.batch_size
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n)
    pipeline = InputPipeline(Normalizer.fit(config.data.normalize, images), channels_first)
    model_x = pipeline(images)  # the Keras side's layout
    nchw = model_x if channels_first else np.ascontiguousarray(model_x.transpose(0, 3, 1, 2))
    whitening_sample = torch.from_numpy(nchw[: min(n, 5000)])
    model.get_layer("whiten").adapt(model_x[: min(n, 5000)])
    if args.independent_init:
        fit_whitening(net, whitening_sample)
    else:
        copy_keras_weights(net, model)

    if args.with_data:
        keras_data = TrainBatches(images, labels, 10, config, pipeline)
        keras_callbacks = [EpochClock(keras_data)]
        augment = TorchAugment(images, config.data.crop_padding, config.run.seed)
    else:
        keras_data = fixed_batches(
            [model_x[i : i + b] for i in range(0, n, b)],
            [one_hot(labels[i : i + b], 10) for i in range(0, n, b)],
        )
        keras_callbacks = []
    torch_x = [torch.from_numpy(nchw[i : i + b]) for i in range(0, n, b)]
    torch_y = torch.from_numpy(labels)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(config.run.seed))
    if not args.with_data:
        order = torch.arange(n)

    timer = step_timer()

    def keras_round() -> tuple[list[float], float, float]:
        started = time.perf_counter()
        history = model.fit(
            keras_data, epochs=1, shuffle=False, verbose=0, callbacks=[*keras_callbacks, timer]
        )
        return list(timer.times), time.perf_counter() - started, history.history["loss"][-1]

    def torch_round() -> tuple[list[float], float, float]:
        times, losses = [], []
        if args.with_data:
            augment.reseed(config.run.seed)
        started = last = time.perf_counter()
        for i in range(args.steps):
            rows = order[i * b : (i + 1) * b]
            x = augment(rows) if args.with_data else torch_x[i]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                losses.append(recipe.step(x, torch_y[rows]))
            now = time.perf_counter()
            times.append(now - last)
            last = now
        return times, time.perf_counter() - started, float(torch.stack(losses).mean())

    k_params, t_params = keras_weight_counts(model), weight_counts(net)
    layout_keras = "NCHW (channels_first)" if channels_first else "NHWC (channels_last)"
    say(
        f"keras {keras.__version__} ({keras.backend.backend()} backend), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"precision {precision}, {os.cpu_count()} CPUs"
    )
    say(f"CPU flags: {cpu_flags()}; load average {os.getloadavg()[0]:.1f} at start")
    say(
        f"parameters (trainable / total incl. frozen): keras {k_params[0]:,} / {k_params[1]:,}, "
        f"torch {t_params[0]:,} / {t_params[1]:,}"
        + ("" if k_params == t_params else "  <-- MISMATCH")
    )
    say(
        f"layout: keras model input {layout_keras} (torch backend convs run NCHW), torch NCHW; "
        f"width {args.width}, batch {b}, {args.steps} steps x {args.rounds} rounds, "
        f"data pipeline {'included' if args.with_data else 'excluded'}, torch-side metrics "
        f"{'on' if args.torch_metrics else 'off'}, init "
        f"{'independent' if args.independent_init else 'copied from Keras'}"
    )

    warm_k, warm_t = keras_round(), torch_round()  # builds Keras's train function; one round each
    say(f"warm-up mean loss (CE + L2): keras {warm_k[2]:.4f}, torch {warm_t[2]:.4f}")
    result = {"keras": Timings(), "torch": Timings()}
    for r in range(1, args.rounds + 1):
        for side, round_fn in (("keras", keras_round), ("torch", torch_round)):
            steps, wall, loss = round_fn()
            result[side].add_round(steps, wall, loss)
        k, t = result["keras"], result["torch"]
        say(
            f"round {r}: median step keras {k.rounds[-1]:.3f} s, torch {t.rounds[-1]:.3f} s "
            f"(ratio {k.rounds[-1] / t.rounds[-1]:.2f}); load {os.getloadavg()[0]:.1f}"
        )
    report(result, b, say)
    return result


def report(result: dict[str, Timings], batch: int, say: Callable[[str], None] = print) -> None:
    k, t = result["keras"], result["torch"]
    say(
        f"{'side':<7}{'median s':>10}{'best s':>9}{'img/s med':>11}{'img/s best':>12}"
        f"{'wall s/step':>13}{'last loss':>11}"
    )
    for name, side in result.items():
        median, best = statistics.median(side.steps), min(side.steps)
        say(
            f"{name:<7}{median:>10.3f}{best:>9.3f}{batch / median:>11.0f}{batch / best:>12.0f}"
            f"{statistics.median(side.walls):>13.3f}{side.last_loss:>11.4f}"
        )
    per_round = statistics.median(a / b for a, b in zip(k.rounds, t.rounds, strict=True))
    say(
        f"ratio keras/torch: {statistics.median(k.steps) / statistics.median(t.steps):.2f} "
        f"(medians), {min(k.steps) / min(t.steps):.2f} (best steps), {per_round:.2f} "
        f"(median of per-round ratios); target <= 1.15"
    )


def _say(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="training steps per timed round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    parser.add_argument("--width", type=float, default=0.625, help="model.width (default 0.625)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--with-data",
        action="store_true",
        help="include batch making: TrainBatches (shuffle, crop+flip, standardize) for Keras, "
        "the torch crop+flip+standardize for torch",
    )
    parser.add_argument(
        "--torch-metrics",
        action="store_true",
        help="torch loop also keeps a running loss and accuracy, as Keras's fit does every step",
    )
    parser.add_argument(
        "--independent-init",
        action="store_true",
        help="torch net keeps its own init and whitening fit instead of Keras's initial weights",
    )
    args = parser.parse_args(argv)
    for name in ("steps", "rounds", "batch_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 0 < args.width <= 4:
        parser.error("--width must be in (0, 4]")
    return args


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv), _say)


if __name__ == "__main__":
    main()
