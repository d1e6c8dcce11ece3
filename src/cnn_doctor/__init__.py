"""cnn-doctor: find out why a CNN's accuracy on CIFAR-10 stalls, and what to change.

``import cnn_doctor`` (and ``cnn_doctor.config``) never imports keras, so the Keras backend can
be chosen first; ``from cnn_doctor import Doctor`` loads keras with whatever backend is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cnn_doctor.diagnose.doctor import Doctor
    from cnn_doctor.repair.loop import fix

from cnn_doctor.investigate.lr_find import lr_find  # noqa: E402  (loads neither keras nor optuna)

__all__ = ["Doctor", "__version__", "fix", "lr_find"]


def __getattr__(name: str) -> Any:
    if name == "Doctor":
        from cnn_doctor.diagnose.doctor import Doctor

        return Doctor
    if name == "fix":  # cnn_doctor.fix(config, model_builder=None, budget="20m")
        from cnn_doctor.repair.loop import fix

        return fix
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
