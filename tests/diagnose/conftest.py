"""Keras reads its backend at import time, so pick torch before any test module imports keras."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")
