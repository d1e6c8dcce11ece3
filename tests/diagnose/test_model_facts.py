"""What the Doctor reads off the model and the probe labels before training."""

from __future__ import annotations

import numpy as np

from cnn_doctor.diagnose.model_facts import label_facts, label_order


def test_runs_z_is_standard_normal_on_shuffled_labels():
    """Mood's k-category moments: on random orders z has mean ~0 and sd ~1, and z < -3 is rare."""
    rng = np.random.default_rng(0)
    for probs in (None, [0.9, 0.1]):
        zs = np.array(
            [
                label_order(rng.choice(10 if probs is None else 2, 256, p=probs))["label_runs_z"]
                for _ in range(600)
            ]
        )
        assert abs(zs.mean()) < 0.15 and 0.85 < zs.std() < 1.15
        assert np.mean(zs < -3) < 0.01


def test_sorted_labels_have_very_few_runs():
    rng = np.random.default_rng(1)
    facts = label_order(np.sort(rng.integers(0, 10, 256)))
    assert facts["label_runs"] == 10
    assert facts["label_runs_z"] < -20


def test_single_class_labels_have_no_z():
    facts = label_order(np.zeros(64))
    assert facts["label_runs"] == 1 and "label_runs_z" not in facts


def test_label_facts_reads_one_hot_order_from_argmax():
    y = np.eye(10)[np.repeat(np.arange(10), 20)]
    facts = label_facts(y)
    assert facts["label_format"] == "one_hot"
    assert facts["label_runs"] == 10 and facts["label_runs_z"] < -10


def test_label_facts_sparse_range():
    facts = label_facts(np.array([0, 3, 9, 9]))
    assert facts["label_format"] == "sparse"
    assert (facts["label_min"], facts["label_max"], facts["label_distinct"]) == (0.0, 9.0, 3)


def test_nested_models_are_opened_in_place():
    """``Sequential([base, Softmax()])``: base's layers, in order, then the second softmax."""
    import keras

    from cnn_doctor.diagnose.model_facts import layer_summary, output_chain

    layers = keras.layers
    base = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(10, "softmax")]
    )
    model = keras.Sequential([base, layers.Softmax()])
    summary = layer_summary(model)
    assert [r["class"] for r in summary] == ["Conv2D", "Flatten", "Dense", "Softmax"]
    assert output_chain(summary) == ["softmax", "softmax"]
