"""``cnn-doctor`` command line: importing this package registers every command on ``app``.

Commands are listed in ``--help`` in registration order, so the main job comes first.
"""

# isort: off
from cnn_doctor.cli import train_cmd  # noqa: F401  (registers commands)
from cnn_doctor.cli import diagnose_cmd  # noqa: F401
from cnn_doctor.cli import data_check_cmd  # noqa: F401
from cnn_doctor.cli import investigate_cmd  # noqa: F401
from cnn_doctor.cli import fix_cmd  # noqa: F401

# isort: on
from cnn_doctor.cli.app import app

__all__ = ["app"]
