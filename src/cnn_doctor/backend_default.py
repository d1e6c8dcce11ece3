"""Make torch the Keras backend of cnn-doctor's own pipeline unless the user chose one.

Keras reads ``KERAS_BACKEND`` once, at its first import, and falls back to tensorflow. Our trainer
and model zoo default to torch (measured fastest on CPU here), so the modules that build or train
models import this first. A user's explicit choice — the environment variable, or keras already
imported — always wins; ``from cnn_doctor import Doctor`` does not import this, so the callback
follows whatever backend the user's script runs on.
"""

import os
import sys

DEFAULT_BACKEND = "torch"

if "keras" not in sys.modules:
    os.environ.setdefault("KERAS_BACKEND", DEFAULT_BACKEND)
