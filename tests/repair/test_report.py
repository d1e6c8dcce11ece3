"""What ``cnn-doctor fix`` prints: change texts are shown as typed, whatever their brackets."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cnn_doctor.config import Config
from cnn_doctor.repair.report import confirm_text, print_result
from cnn_doctor.repair.results import RepairResult, Step, Tried


def test_list_valued_changes_are_printed_as_typed() -> None:
    step = Step(1, "data.augment=[crop,flip]", "ablation:augment", 0.3, 0.4, 0.1, 0.01, 2, 60.0, {})
    tried = Tried(1, "data.augment=[flip]", "ablation:augment", "rejected", 2, 0.0, 0.01)
    result = RepairResult(
        Path("."), Config(), Config(), [step], [tried], [], [], "done", 1.0, 0.3, 0.4, None
    )
    console = Console(record=True, width=200)
    print_result(result, console)
    text = console.export_text()
    assert "data.augment=[crop,flip]" in text and "data.augment=[flip]" in text


def test_a_confirmation_line_says_its_time_budget_or_why_it_failed() -> None:
    row = {"best_val_accuracy": 0.61, "test_accuracy": 0.6, "epochs": 4, "seconds": 480.2}
    assert "time budget 480s" in confirm_text({**row, "time_budget": "480s"})
    assert confirm_text({"error": "too small"}) == "failed: too small"
