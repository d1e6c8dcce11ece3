"""``cnn-doctor`` command line: importing this package registers every command on ``app``."""

from cnn_doctor.cli import train_cmd  # noqa: F401  (registers commands)
from cnn_doctor.cli.app import app

__all__ = ["app"]
