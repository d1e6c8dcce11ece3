"""Model registry and families.

Importing this package imports every family module so each registers itself; callers only need
``build_model(cfg.model, input_shape, num_classes)``. Importing it imports keras (torch unless the
backend was chosen before: see ``cnn_doctor.backend_default``).
"""

# isort: off
import cnn_doctor.backend_default  # noqa: F401  (must precede keras)

# isort: on
from cnn_doctor.models import fast, resnet, seed_cnn, vgg  # noqa: F401  (register the families)
from cnn_doctor.models.registry import (
    available_models,
    build_model,
    default_input_shape,
    register_model,
)

__all__ = ["available_models", "build_model", "default_input_shape", "register_model"]
