"""Every number a detector decides with lives in ``thresholds.py``, next to its source: no
literal threshold in a detector's comparisons or constructor defaults."""

from __future__ import annotations

import ast
from pathlib import Path

import cnn_doctor.diagnose.detectors as detectors_pkg

DETECTORS = Path(detectors_pkg.__file__).parent
TRIVIAL = {0, 1, 2}
# Comparisons that pick the *value a fix suggests*, not whether a fault is there.
FIX_CHOICES = {
    "float(smoothing) < 0.1",  # suggest smoothing 0.2 only when the run uses less
    "dropout < 0.3",  # suggest dropout 0.3 only when the run uses less
    "batch >= 32",  # halve the batch only when there is a batch to halve
    "len(values) > 4",  # print at most four channel values
}


def _literal(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            literal = any(_literal(c) and c.value not in TRIVIAL for c in operands)
            if literal and ast.unparse(node) not in FIX_CHOICES:
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None and _literal(default):
                    found.append(f"{path.name}:{node.lineno}: default {default.value}")
    return found


def test_detectors_compare_against_named_thresholds_only():
    offences = [o for path in sorted(DETECTORS.glob("*.py")) for o in _offences(path)]
    assert not offences, "move these numbers into thresholds.py with their source:\n" + "\n".join(
        offences
    )


def test_the_check_sees_a_planted_literal(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "class D:\n"
        "    def __init__(self, *, z: float = 2.5):\n"
        "        self.z = z\n"
        "    def check(self, x):\n"
        "        return x > 0.37\n"
    )
    assert len(_offences(planted)) == 2
