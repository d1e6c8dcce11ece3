"""The real-world corpus: fault cases rebuilt from public threads, and healthy public scripts.

Each ``Case`` names the thread it comes from (``source``), the setup facts in our own words, the
cause the thread confirmed (an accepted answer, a maintainer, a merged fix, or the asker saying
the change fixed it), the finding ids that count as a correct diagnosis (root cause first; the
others are the same cause seen through another signal, never a mere consequence such as
prediction_collapse) and the script that rebuilds it (``fault_scripts.py`` /
``healthy_scripts.py``). Scripts train on a fixed stratified CIFAR-10 subset (``common.py``).

Split rule (fixed before any diagnosis was run, never changed afterwards): sort all cases by
``(kind, expected[0], name)`` - healthy cases sort under the empty id - and assign
dev, heldout, dev, heldout, ... in that order. Consecutive cases of the same cause alternate
between the halves, so both halves get about half of each cause, half of the faults and half of
the healthy scripts. The split is written into each record below; ``rule_splits()`` recomputes
the rule and ``test_real_world_cases.py`` fails if a record was moved. Two fault cases whose
symptom did not reproduce under Keras 3 were replaced in their slot before any diagnosis ran
(``REPLACED``; each replacement's comment says why).

Backend: torch unless ``backend`` says otherwise; four cases run on TensorFlow and five on JAX
(each in its own subprocess with ``KERAS_BACKEND`` set), so the callback is checked on all three.
The two scripts that feed labels 0-9 to binary_crossentropy run on TensorFlow / JAX as their
users did: there the loss silently goes negative; torch's BCE refuses targets outside [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fault_scripts as f
import healthy_scripts as h


@dataclass(frozen=True)
class Case:
    name: str
    split: str  # "dev" | "heldout"
    kind: str  # "fault" | "healthy"
    source: str  # URL of the thread / example
    setup: str  # the facts of the user's setup, in our words (no code copied)
    confirmed_cause: str  # one line: what the thread confirmed
    expected: tuple[str, ...]  # ids that count, root cause first; () for healthy
    script: Callable[..., Any]
    epochs: int
    backend: str = "torch"


FAULTS = [
    # --- inputs -------------------------------------------------------------------------------
    Case(
        name="lenet_misindexed_standardize",
        split="dev",
        kind="fault",
        source="https://github.com/BIGBALLON/cifar-10-cnn/issues/17",
        setup="LeNet-5 (Conv6 5x5 - pool - Conv16 5x5 - pool - Dense120 - Dense84 - Dense10, "
        "ReLU, he_normal), one-hot labels, categorical_crossentropy, SGD momentum 0.9 "
        "Nesterov with a scheduler giving lr 0.01, batch 128. The per-channel standardisation "
        "loop indexes the width axis instead of the channel axis, so only 3 pixel columns are "
        "standardised and the rest stays at 0-255.",
        confirmed_cause="Inputs effectively unscaled: the asker got ~10% with this loop and "
        "52% after replacing it by x/255.",
        expected=("unnormalized_inputs",),
        script=f.lenet_misindexed_standardize,
        epochs=5,
    ),
    Case(
        name="cnn_raw_pixels_sgd",
        split="dev",
        kind="fault",
        source="http://pullrequest.ru/10248037/cnn-keras-shodyatsya-odnomu-tomu-zhe-znacheniy-nezavisimo-vvoda",
        setup="Keras Sequential CNN (two 3x3 conv blocks, Dense, softmax; widths 16/16/32/64 "
        "here), one-hot labels, categorical_crossentropy, plain 'sgd', batch 32; the images are "
        "cast to float but never scaled (0-255). Every input gets the same prediction.",
        confirmed_cause="Accepted answer (mirror of a Stack Overflow question): images were not "
        "normalised; values in [0,255] give huge gradient steps; dividing by 255 fixes it.",
        expected=("unnormalized_inputs",),
        script=f.cnn_raw_pixels_sgd,
        epochs=4,
    ),
    Case(
        name="integer_scaling_zeroes_pixels",
        split="heldout",
        kind="fault",
        source="https://github.com/keras-team/keras/issues/255",
        setup="Small CNN (Conv16-pool-Conv32-pool-Dense64-softmax), one-hot labels, "
        "categorical_crossentropy, SGD lr 0.01 momentum 0.9 Nesterov. Pixels were 'scaled to "
        "[0,1]' while the array was still integer, so nearly every pixel became 0.",
        confirmed_cause="Asker: the arrays were still int when normalising, every pixel became "
        "0; after normalising properly the model learns. (Closest id: the inputs' statistics "
        "are degenerate, unnormalized_inputs.)",
        expected=("unnormalized_inputs",),
        script=f.integer_scaling_zeroes_pixels,
        epochs=4,
    ),
    Case(
        name="mlp_raw_pixels_adam",
        split="heldout",
        kind="fault",
        source="https://github.com/PacktPublishing/What-s-New-in-TensorFlow-2.0/issues/1",
        setup="A book's end-to-end Keras Sequential example (here Flatten-Dense128-Dense128-"
        "softmax on the flattened images), sparse_categorical_crossentropy, Adam; the pixel "
        "values are fed unscaled (0-255). Accuracy stays at ~11%.",
        confirmed_cause="Asker confirmed: dividing x_train/x_test by 255 fixes it entirely "
        "(the maintainer had omitted scaling for brevity).",
        expected=("unnormalized_inputs",),
        script=f.mlp_raw_pixels_adam,
        epochs=5,
    ),
    # --- output layer / loss / labels ---------------------------------------------------------
    Case(
        name="one_unit_sigmoid_bce_generator",
        split="heldout",
        kind="fault",
        source="https://newbedev.com/cnn-with-keras-accuracy-not-improving",
        setup="Keras CNN fed by a directory-style batch iterator (three Conv-ReLU-pool blocks, "
        "Dense64-ReLU-Dropout0.5, then Dense(1) + sigmoid), binary_crossentropy, rmsprop, "
        "'accuracy'; a multi-class problem (10 integer labels here) trained through one "
        "sigmoid unit. Widths scaled to 16/16/32.",
        confirmed_cause="Accepted answer: output size / sigmoid / binary_crossentropy do not "
        "match a multi-class problem; Dense(n_classes) + softmax + categorical_crossentropy "
        "with categorical labels fixes it.",
        expected=("loss_label_mismatch",),
        script=f.one_unit_sigmoid_bce_generator,
        epochs=4,
        backend="tensorflow",
    ),
    Case(
        name="mlp_one_sigmoid_unit_int_labels",
        split="dev",
        kind="fault",
        source="https://datascience.stackexchange.com/questions/38604/too-low-accuracy-on-mnist-dataset-using-a-neural-network",
        setup="One-hidden-layer MLP (Dense64 ReLU) ending in Dense(1, sigmoid), "
        "binary_crossentropy, Adam, integer labels 0-9, unscaled pixels, validation_split=0.33. "
        "The loss goes negative and accuracy sits near 11%.",
        confirmed_cause="Answers: ten classes need ten softmax outputs and categorical cross "
        "entropy; a single sigmoid with binary cross-entropy on labels 0-9 cannot learn.",
        expected=("loss_label_mismatch",),
        script=f.mlp_one_sigmoid_unit_int_labels,
        epochs=5,
        backend="jax",
    ),
    Case(
        name="relu_on_logits_from_logits_loss",
        split="heldout",
        kind="fault",
        source="https://xue-jishu.com/cnn-sun-shi-zhi-ka-zai-2302-ln10",
        setup="CIFAR-10 CNN (two 5x5 conv blocks, Dense128) whose last Dense(10) also has a "
        "ReLU, trained with sparse softmax cross-entropy on logits, Adam 1e-3, batch 16; the "
        "loss sits at 2.302 = ln(10). Widths 16/32 here.",
        confirmed_cause="Answer (translated Stack Overflow): a nonlinearity was applied to the "
        "last layer; the logits must be linear before the softmax cross-entropy.",
        expected=("output_activation",),
        script=f.relu_on_logits_from_logits_loss,
        epochs=4,
    ),
    Case(
        name="relu_output_categorical_ce",
        split="dev",
        kind="fault",
        source="https://github.com/keras-team/keras/issues/12096",
        setup="Simple CNN: one big Conv (11x11, ReLU; 24 filters here) - MaxPool 3/2 - Flatten - "
        "Dense(n_classes, activation='relu'), categorical_crossentropy, Adam, one-hot labels. "
        "Loss and accuracy do not move.",
        confirmed_cause="The output layer is a ReLU, not a softmax: categorical_crossentropy "
        "needs probabilities; softmax on the last Dense fixes it.",
        expected=("output_activation", "missing_softmax"),
        script=f.relu_output_categorical_ce,
        epochs=4,
    ),
    Case(
        name="missing_softmax_probability_loss",
        split="dev",
        kind="fault",
        source="https://github.com/tensorflow/docs/pull/2102",
        setup="Tutorial model whose last Dense has no activation (raw scores) compiled with the "
        "default SparseCategoricalCrossentropy (from_logits=False), Adam; accuracy near chance. "
        "Rebuilt as a small CNN (Conv16-pool-Conv32-pool-Dense64-Dense10).",
        confirmed_cause="Merged fix: the loss must be told the outputs are logits "
        "(from_logits=True) or the model needs a softmax; the maintainer confirmed.",
        expected=("missing_softmax",),
        script=f.missing_softmax_probability_loss,
        epochs=4,
    ),
    Case(
        name="softmax_output_from_logits_loss",
        split="heldout",
        kind="fault",
        source="https://github.com/exelban/tensorflow-cifar-10/pull/7",
        setup="TensorFlow CIFAR-10 CNN whose output already went through softmax and was then "
        "fed to a softmax cross-entropy on logits (here: Dense(10, softmax) with "
        "CategoricalCrossentropy(from_logits=True)), Adam 1e-3, batch 128.",
        confirmed_cause="Merged PR 'Fix double softmax in loss issue': the softmax was applied "
        "twice.",
        expected=("double_softmax",),
        script=f.softmax_output_from_logits_loss,
        epochs=5,
        backend="tensorflow",
    ),
    Case(
        name="mlp_softmax_then_crossentropy_sgd",
        split="dev",
        kind="fault",
        source="https://github.com/shaoxiongji/federated-learning/issues/9",
        setup="MLP (Dense200 ReLU, dropout 0.5) ending in a softmax, then a cross-entropy that "
        "applies softmax itself (PyTorch CrossEntropy; here SparseCategoricalCrossentropy("
        "from_logits=True)), SGD lr 0.01 momentum 0.5, batch 10.",
        confirmed_cause="Issue: CrossEntropy already contains the softmax; removing the "
        "softmax improved the MLP (90% to 95% on MNIST); the maintainer fixed it.",
        expected=("double_softmax",),
        script=f.mlp_softmax_then_crossentropy_sgd,
        epochs=3,
    ),
    Case(
        name="cnn_bn_softmax_layer_then_ce",
        split="heldout",
        kind="fault",
        source="https://github.com/NaJaeMin92/pytorch-DANN/issues/7",
        setup="Digit-classifier CNN (Conv-BN-pool-ReLU x2 with dropout, Dense100-BN-ReLU x2, "
        "Dense10) ending in a Softmax layer, trained with a cross-entropy that applies "
        "softmax itself; inputs normalised to [-1,1]; SGD lr 0.01 momentum 0.9.",
        confirmed_cause="Maintainer: LogSoftmax is already inside CrossEntropyLoss, the extra "
        "softmax made the model hard to train; removed.",
        expected=("double_softmax",),
        script=f.cnn_bn_softmax_layer_then_ce,
        epochs=4,
    ),
    Case(
        # Replaces resnet_softmax_binary_crossentropy (github.com/kusiwu/Resnet50-Cifar10-Python-
        # Keras/issues/1) in the same dev slot, before any diagnosis ran: under Keras 3 a softmax
        # head with binary_crossentropy learns like a categorical one (the twin frlim case
        # reached 0.37) and "accuracy" is categorical, so the thread's problem has no symptom.
        name="directory_batches_never_shuffled",
        split="dev",
        kind="fault",
        source="https://github.com/keras-team/keras/pull/5883",
        setup="Images read folder by folder (sorted by class) through a directory-style batch "
        "iterator whose per-epoch shuffle never ran when the number of images is a multiple of "
        "the batch size (2000 / 50 here), so every epoch sees the classes one after another; "
        "small CNN, rmsprop, one-hot labels, validation arrays.",
        confirmed_cause="Merged fix 'when n can be mod by batch_size, the shuffle never "
        "happened' in the directory iterator's index generator.",
        expected=("unshuffled_data",),
        script=f.directory_batches_never_shuffled,
        epochs=4,
    ),
    Case(
        name="sigmoid_outputs_binary_accuracy",
        split="heldout",
        kind="fault",
        source="https://github.com/keras-team/keras/issues/1379",
        setup="CNN with 10 sigmoid outputs, one-hot labels, binary_crossentropy and a "
        "binary accuracy metric (the thread's default 'accuracy' resolved to binary accuracy; "
        "Keras 3 needs metrics=['binary_accuracy'] for that): training reports ~90% accuracy "
        "while most predictions are wrong. Small CNN (Conv16-pool-Conv32-pool-Dense64) here.",
        confirmed_cause="Thread: the default accuracy was binary accuracy; categorical accuracy "
        "(and a categorical loss) shows the real figure - 'check your loss function'.",
        expected=("metric_mismatch", "loss_label_mismatch"),
        script=f.sigmoid_outputs_binary_accuracy,
        epochs=4,
    ),
    Case(
        # Replaces vgg_style_binary_crossentropy_acc (github.com/frlim/data2040_final/issues/1)
        # in the same dev slot, before any diagnosis ran: its symptom (a too-high "acc" under
        # binary_crossentropy) does not exist in Keras 3, which picks the accuracy from the
        # output shape; the script learned normally (true val acc 0.37).
        name="softmax_hidden_layer_zero_init",
        split="dev",
        kind="fault",
        source="http://pullrequest.ru/11818227/neironnaya-set-odnim-skrytym-sloem-mozhet-byt-obuchena",
        setup="One-hidden-layer network on flattened images: hidden Dense(10) with a softmax "
        "activation and every weight and bias initialised to zero, softmax output layer also "
        "zero-initialised, categorical cross-entropy, plain gradient descent lr 0.5, batch 100.",
        confirmed_cause="Accepted answer (mirror of a Stack Overflow question): all-zero "
        "initialisation leaves the gradient zero so nothing updates; random init (and a sigmoid "
        "instead of the hidden softmax) makes it train. No init id exists: closest is "
        "vanishing_gradients (the first layer's gradient is exactly zero).",
        expected=("vanishing_gradients", "saturated_activations"),
        script=f.softmax_hidden_layer_zero_init,
        epochs=5,
    ),
    # --- optimisation -------------------------------------------------------------------------
    Case(
        name="strided_cnn_adam_lr_0_1",
        split="dev",
        kind="fault",
        source="https://github.com/cleverhans-lab/cleverhans/pull/220",
        setup="CIFAR-10 tutorial CNN (Conv 8x8/2 - Conv 6x6/2 - Conv 5x5 - Dense10 - softmax; "
        "widths 16/32/32 here), one-hot labels, Adam with learning rate 0.1, batch 128. "
        "Test accuracy does not change from epoch to epoch.",
        confirmed_cause="Merged fix: learning rate 0.1 -> 0.001 makes the model learn.",
        expected=("lr_too_high", "diverged"),
        script=f.strided_cnn_adam_lr_0_1,
        epochs=5,
        backend="tensorflow",
    ),
    Case(
        name="mlp_sgd_lr_0_1_batch_2",
        split="heldout",
        kind="fault",
        source="https://github.com/apache/mxnet/issues/2308",
        setup="The framework's MNIST MLP example (Dense128-Dense64-Dense10, ReLU) trained with "
        "batch size 2 and its default SGD lr 0.1 (momentum 0.9): validation accuracy ~10%.",
        confirmed_cause="Maintainer's suggestion confirmed by the asker: with so small a batch "
        "the learning rate must drop (0.001 works).",
        expected=("lr_too_high", "diverged", "batch_size_extreme"),
        script=f.mlp_sgd_lr_0_1_batch_2,
        epochs=2,
    ),
    Case(
        name="batchnorm_cnn_batch_size_1",
        split="dev",
        kind="fault",
        source="https://github.com/microsoft/CNTK/issues/905",
        setup="The framework's ConvBatchNorm example (Conv-BN-ReLU-pool x2, Dense-BN-ReLU, "
        "Dense10; widths 8/16/32 here, on JAX, whose compiled step keeps 4000 single-image "
        "steps within the time limit) with minibatch size 1, SGD momentum; the same net "
        "without BatchNorm trains at batch 1, this one does not (>50% error on MNIST).",
        confirmed_cause="Answer: batch normalisation estimates its statistics from the "
        "minibatch and needs a reasonably large one; batch size 1 breaks it.",
        expected=("batch_size_extreme",),
        script=f.batchnorm_cnn_batch_size_1,
        epochs=2,
        backend="jax",
    ),
    # --- data order / labels ------------------------------------------------------------------
    Case(
        name="sorted_by_class_fit_no_shuffle",
        split="dev",
        kind="fault",
        source="https://github.com/zalandoresearch/fashion-mnist/pull/5",
        setup="Training arrays stored sorted by label (all 0s, then all 1s, ...), fitted with "
        "shuffle=False and validation_split=0.1 (so validation is the last class only); small "
        "CNN, Adam.",
        confirmed_cause="Merged PR: label-sorted data makes mini-batch learning fail when users "
        "forget to shuffle (and a split taken from the end holds one class); the dataset was "
        "re-shuffled.",
        expected=("unshuffled_data",),
        script=f.sorted_by_class_fit_no_shuffle,
        epochs=4,
    ),
    Case(
        name="images_and_labels_shuffled_apart",
        split="heldout",
        kind="fault",
        source="https://github.com/Borda/kaggle_image-classify/pull/12",
        setup="Image classifier whose loader shuffled the images after the labels had been "
        "taken, so image i no longer carries label i (here: two independent np.random.shuffle "
        "calls); CNN Conv32-pool-Conv32-pool-Dense128, Adam.",
        confirmed_cause="Merged bug fix 'fix dataset shuffle': the shuffle happened after taking "
        "the raw labels, decoupling images from labels (closest id: label_noise).",
        expected=("label_noise",),
        script=f.images_and_labels_shuffled_apart,
        epochs=5,
    ),
    # --- architecture / capacity / regularisation ---------------------------------------------
    Case(
        name="l2_0_1_on_every_conv",
        split="heldout",
        kind="fault",
        source="https://github.com/keras-team/keras/issues/7223",
        setup="Conv net with kernel_regularizer=l2(0.1) on every convolution, max-pool, dropout "
        "0.5, softmax, categorical_crossentropy, Adam (the thread's net is a 1-D text CNN; "
        "rebuilt as a 2-D image CNN with the same regularisation). The model does not train.",
        confirmed_cause="Answer: l2(0.1) is far too strong ('a high-l2 problem'); lowering it "
        "lets the model train.",
        expected=("over_regularization",),
        script=f.l2_0_1_on_every_conv,
        epochs=4,
    ),
    Case(
        name="cnn_without_activations",
        split="heldout",
        kind="fault",
        source="https://stats.stackexchange.com/questions/384199/effect-on-a-hidden-layer-without-activation",
        setup="Hidden layers without any activation (the thread: an MLP whose hidden Dense has "
        "activation=None; here a CNN whose Conv and Dense layers all lack activation=, with "
        "average pooling), softmax output, Adam.",
        confirmed_cause="Answers: without a nonlinearity the stacked layers collapse into one "
        "linear map, so the network is no better than a linear classifier.",
        expected=("missing_nonlinearity", "underfitting"),
        script=f.cnn_without_activations,
        epochs=5,
        backend="jax",
    ),
    Case(
        name="resnet_no_augmentation",
        split="dev",
        kind="fault",
        source="https://github.com/raghakot/keras-resnet/issues/29",
        setup="Keras ResNet on CIFAR-10 with data_augmentation = False (2 residual blocks, "
        "16/32 filters, batch 64 here), Adam: training accuracy runs towards 1 while test "
        "accuracy stays far lower.",
        confirmed_cause="Maintainer: the model is overfitting (regularise; the example's "
        "augmentation switched off).",
        expected=("overfitting", "missing_augmentation"),
        script=f.resnet_no_augmentation,
        epochs=8,
    ),
    Case(
        name="wide_dense_cnn_no_augmentation",
        split="heldout",
        kind="fault",
        source="https://github.com/IcarusWizard/MAE/issues/6",
        setup="Classifier trained on CIFAR-10 with no data augmentation at all; train loss keeps "
        "falling while validation loss rises (rebuilt as a CNN, Conv16-Conv32, with a 512-unit "
        "Dense head, no dropout, Adam, batch 64, 10 epochs).",
        confirmed_cause="Maintainer: the model is overfitting since CIFAR-10 is small and no "
        "augmentation was used; add augmentation (e.g. random crops).",
        expected=("overfitting", "missing_augmentation"),
        script=f.wide_dense_cnn_no_augmentation,
        epochs=10,
    ),
    Case(
        name="fine_tune_everything_frozen",
        split="dev",
        kind="fault",
        source="https://github.com/harvitronix/five-video-classification-methods/pull/26",
        setup="Fine-tuning script meant to freeze the convolutional base but loops over all the "
        "model's layers, so the new Dense head is frozen too (base here: Conv32-Conv64-GAP, "
        "randomly initialised), rmsprop.",
        confirmed_cause="Merged fix 'Fixes bug where our fine-tuning layers were frozen'.",
        expected=("frozen_layers",),
        script=f.fine_tune_everything_frozen,
        epochs=4,
    ),
    Case(
        name="mlp_zero_initialized",
        split="heldout",
        kind="fault",
        source="https://github.com/AliPakzad/DeepLearning-WeightInitialization-Impact-CIFAR10",
        setup="CIFAR-10 MLP (Flatten-Dense50-Dense50-Dense10, ReLU) with "
        "kernel_initializer=Zeros on every layer, Adam, sparse_categorical_crossentropy.",
        confirmed_cause="The notebook's finding: with all weights zero every unit computes the "
        "same thing and gets no gradient, the model stays at chance. No init id exists: "
        "closest are vanishing_gradients (gradients are exactly zero) and dead_relu.",
        expected=("vanishing_gradients", "dead_relu"),
        script=f.mlp_zero_initialized,
        epochs=5,
        backend="jax",
    ),
]

HEALTHY = [
    Case(
        name="question_augment_adam",
        split="dev",
        kind="healthy",
        source="src/cnn_doctor/presets/seed.toml (the question that started cnn-doctor)",
        setup="The question's CNN (Conv32-Pool-Conv64-Pool-Dense128-Dropout0.5-Dense10 softmax; "
        "conv widths halved here) with rotation/shift/flip augmentation (Keras 3 preprocessing "
        "layers, as ImageDataGenerator is gone), Adam 1e-3, pixels /255, one-hot labels.",
        confirmed_cause="healthy",
        expected=(),
        script=h.question_augment_adam,
        epochs=5,
    ),
    Case(
        name="question_lr_schedule",
        split="dev",
        kind="healthy",
        source="src/cnn_doctor/presets/seed.toml (the question that started cnn-doctor)",
        setup="The question's CNN with augmentation and Adam, plus a LearningRateScheduler that "
        "holds the rate then multiplies it by exp(-0.1) every epoch (hold 3 epochs here).",
        confirmed_cause="healthy",
        expected=(),
        script=h.question_lr_schedule,
        epochs=5,
    ),
    Case(
        name="question_sgd_momentum",
        split="heldout",
        kind="healthy",
        source="src/cnn_doctor/presets/seed.toml (the question that started cnn-doctor)",
        setup="The question's CNN with augmentation, SGD lr 0.01 momentum 0.9, integer labels "
        "with sparse_categorical_crossentropy.",
        confirmed_cause="healthy",
        expected=(),
        script=h.question_sgd_momentum,
        epochs=5,
    ),
    Case(
        name="keras_example_cifar10_cnn",
        split="dev",
        kind="healthy",
        source="https://github.com/keras-team/keras/blob/2.15.0/examples/cifar10_cnn.py",
        setup="The classic Keras example: Conv32x2-pool-drop0.25, Conv64x2-pool-drop0.25, "
        "Dense512-drop0.5, softmax; RMSprop lr 1e-4; batch 32; augmentation off.",
        confirmed_cause="healthy",
        expected=(),
        script=h.keras_example_cifar10_cnn,
        epochs=5,
    ),
    Case(
        name="keras_example_resnet_v1",
        split="heldout",
        kind="healthy",
        source="https://github.com/keras-team/keras/blob/2.15.0/examples/cifar10_resnet.py",
        setup="The Keras ResNet v1 CIFAR-10 example (he_normal, l2 1e-4, BN, per-pixel mean "
        "subtraction, Adam 1e-3) at depth 8 (one block per stack) to fit the budget.",
        confirmed_cause="healthy",
        expected=(),
        script=h.keras_example_resnet_v1,
        epochs=5,
        backend="jax",
    ),
    Case(
        name="tf_tutorial_cnn_from_logits",
        split="dev",
        kind="healthy",
        source="https://www.tensorflow.org/tutorials/images/cnn",
        setup="TensorFlow's CNN tutorial: Conv32-pool-Conv64-pool-Conv64-Dense64-Dense10 logits, "
        "SparseCategoricalCrossentropy(from_logits=True), Adam, pixels /255.",
        confirmed_cause="healthy",
        expected=(),
        script=h.tf_tutorial_cnn_from_logits,
        epochs=6,
        backend="tensorflow",
    ),
    Case(
        name="question_cnn_pydataset",
        split="heldout",
        kind="healthy",
        source="src/cnn_doctor/presets/seed.toml (the question that started cnn-doctor)",
        setup="The question's CNN fed by a keras.utils.PyDataset that shuffles, flips and shifts "
        "each batch (no probe arrays handed to the Doctor), Adam, integer labels.",
        confirmed_cause="healthy",
        expected=(),
        script=h.question_cnn_pydataset,
        epochs=5,
    ),
]


# Cases whose symptom did not reproduce, replaced in the same slot before any diagnosis ran:
# replacement name -> (kind, expected[0], name) of the case it replaced, for the split rule.
REPLACED = {
    "softmax_hidden_layer_zero_init": (
        "fault",
        "metric_mismatch",
        "vgg_style_binary_crossentropy_acc",
    ),
    "directory_batches_never_shuffled": (
        "fault",
        "loss_label_mismatch",
        "resnet_softmax_binary_crossentropy",
    ),
}


def rule_splits(cases: list[Case]) -> dict[str, str]:
    """The split rule of the module docstring, recomputed from the case list (a replacement
    takes the sort key, hence the split, of the case it replaced)."""

    def key(c: Case) -> tuple[str, str, str]:
        return REPLACED.get(c.name, (c.kind, c.expected[0] if c.expected else "", c.name))

    ordered = sorted(cases, key=key)
    return {c.name: ("dev", "heldout")[i % 2] for i, c in enumerate(ordered)}


CASES = [*FAULTS, *HEALTHY]  # the first corpus: dev + heldout, the split rule covers these


def __getattr__(name: str) -> Any:
    """``ALL_CASES`` / ``CASES_BY_NAME`` / ``CASES_V2`` / ``CASES_V3``: the first corpus plus the
    second and third held-out sets (cases_v2.py, split "heldout2", and cases_v3.py, split
    "heldout3": each built on 3 Dec 2026 by someone who did not see the detectors, wholly held
    out - no dev half, outside the split rule above).

    Resolved on first use (PEP 562) because cases_v2.py / cases_v3.py import ``Case`` from here:
    importing any of the modules first then works."""
    if name in ("ALL_CASES", "CASES_BY_NAME", "CASES_V2", "CASES_V3"):
        from cases_v2 import CASES_V2
        from cases_v3 import CASES_V3

        all_cases = [*CASES, *CASES_V2, *CASES_V3]
        globals().update(
            CASES_V2=CASES_V2,
            CASES_V3=CASES_V3,
            ALL_CASES=all_cases,
            CASES_BY_NAME={c.name: c for c in all_cases},
        )
        return globals()[name]
    raise AttributeError(f"module 'cases' has no attribute {name!r}")
