"""``data-check``: issue managers that find what is wrong with a dataset, as ``Finding``s.

One module per issue type (cleanlab Datalab style), registered in ``DATA_CHECKS``; they run in
this order (cheap first):

==========================  =====================================================================
``unreadable_records``      truncated records, label bytes outside the class list
``unnormalized_inputs``     per-channel mean/std of what the network sees, after normalization
``class_imbalance``         class counts in train / validation / test, train–test prior shift
``degenerate_images``       black, white, constant or pure-noise images
``exact_duplicates``        byte-identical images within a split
``near_duplicates``         shifted / re-encoded / re-lit copies within a split
``train_test_leakage``      test images with an exact or near copy in train
``outlier_images``          far from all others in pixel statistics (info)
``label_issues``            confident learning on k-fold out-of-fold probabilities (``--labels``)
==========================  =====================================================================

Every data finding's ``items`` lists *all* flagged records as ``(split, index)``, index in file
order. Pure numpy/scipy/sklearn (torch for one matrix product); keras is only imported by the
label search's default trainer.
"""

from cnn_doctor.data.checks import (  # noqa: F401  (registration order = run order)
    balance,
    degenerate,
    duplicates,
    label_issues,
    normalization,
    outliers,
    unreadable,
)
from cnn_doctor.data.checks.base import (
    DATA_CHECKS,
    DataCheckInput,
    DataCheckResult,
    IssueManager,
    SkippedCheck,
    UnknownCheckError,
    available_checks,
    get_check,
    register,
    run_data_check_suite,
    run_data_checks,
)
from cnn_doctor.data.checks.export import DEFAULT_REMOVE, ExportResult, export_clean
from cnn_doctor.data.checks.label_issues import (
    FitPredict,
    kfold_probs,
    label_search_config,
    out_of_fold_probs,
    search_label_probs,
    trainer_fit_predict,
)
from cnn_doctor.data.checks.loading import load_check_input

__all__ = [
    "DATA_CHECKS",
    "DEFAULT_REMOVE",
    "DataCheckInput",
    "DataCheckResult",
    "ExportResult",
    "FitPredict",
    "IssueManager",
    "SkippedCheck",
    "UnknownCheckError",
    "available_checks",
    "export_clean",
    "get_check",
    "kfold_probs",
    "label_search_config",
    "load_check_input",
    "out_of_fold_probs",
    "register",
    "run_data_check_suite",
    "run_data_checks",
    "search_label_probs",
    "trainer_fit_predict",
]
