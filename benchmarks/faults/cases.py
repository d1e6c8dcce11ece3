"""Planted faults (config override sets) and healthy configs for ``run_faults.py``.

Each fault names the ids that count as a correct diagnosis: the root cause first; a listed
alternative is the same cause seen through a different signal (a huge LR shows as NaN). The
overrides plant one fault on top of the base recipe and change nothing else, except where the
fault only exists with another knob set (a ReLU must be used for ReLUs to die).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    area: str  # architecture | hyperparameters | data | healthy
    expected: tuple[str, ...]  # empty for healthy configs
    overrides: tuple[str, ...] = ()
    preset: str | None = None
    builder: str | None = None  # "module:function" for faults a config cannot express
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


FAULTS = [
    # --- architecture ------------------------------------------------------------------------
    Case(
        "sigmoid_deep",
        "architecture",
        ("vanishing_gradients", "saturated_activations"),
        ("model.activation=sigmoid", "model.depth=6", "model.batchnorm=false"),
        note="sigmoid stack without BatchNorm",
    ),
    Case(
        "sigmoid_ones_init",
        "architecture",
        ("saturated_activations", "vanishing_gradients"),
        ("model.activation=sigmoid", "model.batchnorm=false", "model.init=ones"),
        note="all-ones kernels drive every sigmoid into its flat tail",
    ),
    Case(
        "double_softmax",
        "architecture",
        ("double_softmax",),
        ("model.final_activation=softmax",),
        note="softmax output, loss from_logits=True",
    ),
    Case(
        "missing_softmax",
        "architecture",
        ("missing_softmax",),
        ("optim.from_logits=false",),
        note="logits output, loss expects probabilities",
    ),
    Case(
        "init_ones",
        "architecture",
        ("bad_initial_loss", "exploding_gradients"),
        ("model.init=ones", "model.batchnorm=false"),
        note="every kernel initialised to 1",
    ),
    Case(
        "frozen_convs",
        "architecture",
        ("frozen_layers",),
        (),
        builder="builders:frozen_convs",
        note="user network with trainable=False convs",
    ),
    Case(
        "tiny_capacity",
        "architecture",
        ("underfitting",),
        ("model.width=0.02", "model.depth=1"),
        note="one or two channels per layer",
    ),
    # --- hyperparameters -----------------------------------------------------------------------
    Case("lr_huge", "hyperparameters", ("diverged", "lr_too_high"), ("optim.lr=500",)),
    Case(
        "lr_high_no_bn",
        "hyperparameters",
        ("lr_too_high", "diverged", "dead_relu"),
        ("optim.lr=3", "model.batchnorm=false", "model.activation=relu"),
    ),
    Case("lr_tiny_sgd", "hyperparameters", ("lr_too_low",), ("optim.lr=1e-5",)),
    Case("lr_tiny_adam", "hyperparameters", ("lr_too_low",), ("optim.name=adam", "optim.lr=1e-7")),
    Case(
        "batch_tiny",
        "hyperparameters",
        ("batch_size_extreme",),
        ("optim.batch_size=2", "data.subset=400", "optim.epochs=2"),
        note="BatchNorm on 2 images",
    ),
    Case(
        "batch_full",
        "hyperparameters",
        ("batch_size_extreme",),
        ("optim.batch_size=4096",),
        note="one step per epoch",
    ),
    Case(
        "relu_huge_constant_lr",
        "hyperparameters",
        ("dead_relu", "lr_too_high"),
        ("model.activation=relu", "optim.lr=20", "optim.schedule=constant"),
        note="ReLUs killed by huge constant steps",
    ),
    # --- data ----------------------------------------------------------------------------------
    Case(
        "unnormalized",
        "data",
        ("unnormalized_inputs",),
        ("data.normalize=none",),
        note="raw 0-255 pixels",
    ),
    Case("label_noise_40", "data", ("label_noise",), ("data.label_noise=0.4",)),
    Case("label_noise_60", "data", ("label_noise",), ("data.label_noise=0.6",)),
    Case(
        "no_augmentation",
        "data",
        ("missing_augmentation", "overfitting"),
        (
            "data.augment=[]",
            "optim.label_smoothing=0.0",
            "model.weight_decay=0.0",
            "optim.epochs=12",
            "optim.schedule=constant",
            "optim.lr=0.05",
        ),
        note="no augmentation or regularisation, long constant-LR run",
        tags=("needs_real_data",),  # synthetic classes are separable: nothing to overfit
    ),
]

HEALTHY = [
    Case("default", "healthy", ()),
    Case("default_adam", "healthy", (), ("optim.name=adam", "optim.lr=0.003")),
    Case("seed_preset", "healthy", (), preset="seed", note="the original question's recipe"),
    Case("vgg", "healthy", (), ("model.arch=vgg",)),
    Case(
        "relu_seed_logits",
        "healthy",
        (),
        ("model.final_activation=none", "optim.from_logits=true"),
        preset="seed",
        note="the question's network with the other correct output pairing: logits and a "
        "from_logits loss. (First defined on the default's SGD lr 0.2, where this BN-free net "
        "reached 13% accuracy with 75% of its dense ReLUs dead: a broken run, not a healthy one.)",
    ),
]

# Shared by every case: small enough for a CPU, long enough to show a trend (>= 3 epochs).
BASE = (
    "data.subset=2000",
    "data.val_size=1000",
    "optim.epochs=6",
    "model.width=0.25",
    "optim.batch_size=100",
    "run.tta=false",
)
