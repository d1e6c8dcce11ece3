"""``train`` and an exact ``--resume`` on the other Keras backends (tensorflow, jax).

Keras fixes its backend at import, so each runs in a subprocess with ``KERAS_BACKEND`` set;
skipped, saying why, where the backend's package is not installed (``.ci/run`` installs both).
The resumed run must reproduce the uninterrupted one's losses with dropout on: on these backends
dropout draws from the model's ``SeedGenerator`` states, which ``model.save`` does not keep.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import keras
    from cnn_doctor.config import load_config
    from cnn_doctor.train import train

    data_dir, out = sys.argv[2], Path(sys.argv[3])
    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()

    def config(name):
        return load_config(None, [
            f"data.data_dir={data_dir}", f"run.out_dir={out / name}", "data.val_size=20",
            "model.width=0.125", "optim.batch_size=32", "run.tta=false", "optim.epochs=3",
            "model.dropout=0.3", "data.augment=[crop,flip]", f"run.backend={sys.argv[1]}",
        ])

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

    straight = train(config("a"), quiet=True)
    try:
        train(config("b"), callbacks=[StopAfter()], quiet=True)
    except KeyboardInterrupt:
        pass
    (run_dir,) = (out / "b").iterdir()
    keras.utils.set_random_seed(7)  # a fresh process's generators start anywhere
    resumed = train(resume=run_dir, quiet=True)
    print(json.dumps({
        "straight": [h["loss"] for h in straight.history],
        "resumed": [h["loss"] for h in resumed.history],
        "test_accuracy": resumed.summary["test_accuracy"],
    }))
    """
)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_train_and_exact_resume_on_backend(backend: str, tiny_cifar_dir: Path, tmp_path: Path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed here, so training on it cannot be exercised")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONWARNINGS="ignore")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(script), backend, str(tiny_cifar_dir), str(tmp_path / "runs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["straight"]) == 3
    assert result["resumed"] == pytest.approx(result["straight"], rel=1e-4)
    assert 0.0 <= result["test_accuracy"] <= 1.0
