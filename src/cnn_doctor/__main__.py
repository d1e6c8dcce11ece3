"""``python -m cnn_doctor`` — the same CLI as the ``cnn-doctor`` script."""

from cnn_doctor.cli import app

if __name__ == "__main__":
    app()
