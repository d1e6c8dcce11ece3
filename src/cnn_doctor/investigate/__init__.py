"""Experiments beyond one run: LR range test, ablations, sweeps and run comparison.

* ``lr_find`` — LR range test on any compiled Keras model (``cnn_doctor.lr_find``).
* ``ablation`` — one-factor-at-a-time variants of a config, grouped by area, and their analysis.
* ``study`` — Optuna studies (SQLite or PostgreSQL) that run sweeps and ablations, resumably,
  on any number of local or remote workers; ``pruning`` holds the Keras pruning callback.
* ``space`` — search-space TOML files; ``compare`` — side-by-side run directories;
  ``results`` — tables, plots and report sections from a finished study.

Only the LR finder is re-exported here: it is cheap to import (no keras, no optuna until used).
"""

from cnn_doctor.investigate.lr_find import LRFindResult, lr_find, suggest_lr

__all__ = ["LRFindResult", "lr_find", "suggest_lr"]
