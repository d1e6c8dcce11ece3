"""``cnn-doctor fix``: from "why" to "what to change", proven with seeds.

The loop (``loop.fix``) diagnoses a short run, turns the findings' config fixes (or, when nothing
testable fires but the run trails the default recipe, the ablation's factors) into candidate
changes, trains each beside the unchanged config on the same short budget with several seeds as
an Optuna study, and keeps a change only when its gain beats the seed noise
(``acceptance.judge``). Outputs (``report``): before/after tables, overlaid curves, ``fixed.toml``
and a report.html section.

Importing this package does not import keras.
"""

from cnn_doctor.repair.acceptance import Judgement, Verdict, judge
from cnn_doctor.repair.budget import BudgetError, parse_budget
from cnn_doctor.repair.loop import fix
from cnn_doctor.repair.results import RepairResult

__all__ = ["BudgetError", "Judgement", "RepairResult", "Verdict", "fix", "judge", "parse_budget"]
