"""The second held-out set, "heldout2": fault cases rebuilt from public threads that the first
corpus (``cases.py``) did not use, plus healthy public scripts.

Built on 3 Dec 2026 by a helper who never read the detectors (``src/cnn_doctor/diagnose/``) and
never ran a case with the Doctor: only symptom runs (``--no-doctor``). The whole set is held out:
there is no dev half and no split rule (the rule in ``cases.py`` covers dev/heldout only). It is
meant to be run with the Doctor once, at the end of a session, after detectors were changed on
the first corpus, so that its figures are on cases nobody tuned on.

Each ``expected`` was decided from the thread's confirmed cause alone (root cause first; a second
id only where it is the same cause seen through another signal). A rebuild whose symptom did not
reproduce here was dropped, not tuned (see SYMPTOMS.md).
"""

from __future__ import annotations

import fault_scripts_v2 as f
import healthy_scripts_v2 as h
from cases import Case

SPLIT = "heldout2"

# Rebuilds dropped - symptom not reproduced here, or too slow to measure here; none was tuned:
# - github.com/geifmany/cifar-vgg/issues/1 (VGG + BN + dropout, SGD lr 0.1: loss NaN, acc 0.10):
#   here the loss stayed finite and the net learned (train 0.30, val 0.21 after 5 epochs).
# - github.com/rasbt/machine-learning-book/issues/191 (Dropout p=0.5 after the conv/pool blocks,
#   "much better" at p=0.15): here train 0.25 / val 0.25 after 5 epochs, inside the range of the
#   healthy nets on the same data (0.23-0.38), so not clearly worse.
# - github.com/pytorch/examples/issues/276 (MNIST example at batch size 1, chance until the
#   learning rate is lowered): 2000 optimizer steps per epoch do not fit this machine's time
#   budget; the symptom run timed out at 900 s under load, so it was never measured.
# - pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html (healthy; batch size 4): 500
#   optimizer steps per epoch, the symptom run timed out at 900 s under load, never measured.
# - github.com/tensorflow/swift-models/pull/232 (LeNet-5 with a softmax before a logits loss):
#   here val 0.15, loss 2.303 -> 2.276 in 8 epochs, but a private control with the fix applied
#   (no softmax, same script) reached the same (val 0.15, loss 2.18): not the cause's symptom.
# - github.com/FluxML/model-zoo/issues/8 (softmax MLP trained with MSE): val 0.15 after 5 epochs,
#   but the private control with cross-entropy (same script) also reached 0.16: not reproduced.
DROPPED = {
    "mlp_softmax_mse_loss": "https://github.com/FluxML/model-zoo/issues/8",
    "lenet5_softmax_into_logits_loss": "https://github.com/tensorflow/swift-models/pull/232",
    "pytorch_blitz_cifar10_net": "https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html",
    "mnist_example_batch_size_one": "https://github.com/pytorch/examples/issues/276",
    "vgg_bn_dropout_sgd_lr_0_1": "https://github.com/geifmany/cifar-vgg/issues/1",
    "dropout_half_after_conv_pools": "https://github.com/rasbt/machine-learning-book/issues/191",
}

FAULTS_V2 = [
    Case(
        name="cifar10_example_adam_lr_0_01",
        split=SPLIT,
        kind="fault",
        source="https://github.com/keras-team/keras/issues/4066",
        setup="The Keras cifar10_cnn example (Conv-Conv-pool-Dropout twice, Dense, Dropout, "
        "softmax; widths 16/16/32/32/256 here), pixels / 255, one-hot labels, "
        "categorical_crossentropy, batch 32, trained with Adam at learning rate 0.01. Loss "
        "stuck at 2.304 and accuracy at 0.1.",
        confirmed_cause="Thread: Adam with its default learning rate (0.001) trains the "
        "example; at 0.01 it stays at chance - the learning rate was too high.",
        expected=("lr_too_high",),
        script=f.cifar10_example_adam_lr_0_01,
        epochs=4,
        backend="tensorflow",
    ),
    Case(
        name="fashion_tutorial_mlp_unscaled",
        split=SPLIT,
        kind="fault",
        source="https://stats.stackexchange.com/questions/372762/why-normalize-when-all-features-are-on-the-same-scale",
        setup="The TensorFlow basic-classification tutorial model (Flatten, Dense128 ReLU, "
        "Dense10 softmax), adam, sparse_categorical_crossentropy, integer labels, but the "
        "step that divides the uint8 images by 255 was left out. Accuracy falls to ~10%.",
        confirmed_cause="Asker: with the pixels scaled to [0, 1] the same model reaches 85%, "
        "without it 10%; the answers explain the unscaled inputs.",
        expected=("unnormalized_inputs",),
        script=f.fashion_tutorial_mlp_unscaled,
        epochs=5,
        backend="jax",
    ),
    Case(
        name="mlp_uniform_minus_one_one_init",
        split=SPLIT,
        kind="fault",
        source="https://github.com/tinygrad/tinygrad/pull/566",
        setup="An MNIST example whose layers are initialised uniform in [-1, 1] (not scaled by "
        "fan-in); here a Flatten-Dense128 ReLU-Dense10 logits MLP on the 3072 CIFAR pixels "
        "(/255), sparse softmax cross-entropy on logits, Adam 1e-3, batch 128.",
        confirmed_cause="Merged fix 'Fix weight initialization': with the unscaled uniform "
        "init test accuracy was ~50%, with the fan-in-scaled uniform >99.8%.",
        expected=("bad_initial_loss",),
        script=f.mlp_uniform_minus_one_one_init,
        epochs=5,
    ),
    Case(
        name="record_file_packed_by_class",
        split=SPLIT,
        kind="fault",
        source="https://github.com/apache/mxnet/issues/4220",
        setup="Images packed into a record file from a list written class by class, then read "
        "front to back by the training iterator (no shuffling), so every batch holds one "
        "class. Small CNN (Conv16-pool-Conv32-pool-Dense128-softmax here), SGD momentum 0.9, "
        "batch 32. Train accuracy stays low.",
        confirmed_cause="Answer: shuffle the list file before packing it; the asker: 'it did "
        "work', train accuracy rose.",
        expected=("unshuffled_data",),
        script=f.record_file_packed_by_class,
        epochs=4,
    ),
    Case(
        name="bottleneck_features_shuffled_generator",
        split=SPLIT,
        kind="fault",
        source="https://github.com/keras-team/keras/pull/7520",
        setup="Bottleneck features computed by a convolutional base from a directory "
        "generator created with shuffle=True, while the labels were built from the "
        "generator's classes in file order; a small top model (Flatten-Dense256-Dropout-"
        "softmax, rmsprop, categorical_crossentropy) is trained on them. The base here is a "
        "fixed untrained conv stack (no ImageNet weights offline).",
        confirmed_cause="Maintainer: the labels do not match the shuffled features; the "
        "proper fix is not to shuffle when predicting the features.",
        expected=("label_noise",),
        script=f.bottleneck_features_shuffled_generator,
        epochs=5,
    ),
    Case(
        name="validation_generator_other_preprocessing",
        split=SPLIT,
        kind="fault",
        source="https://github.com/keras-team/keras/issues/12689",
        setup="Image classifier fed by two directory generators (small CNN, Adam, "
        "categorical_crossentropy): the training one rescales pixels by 1/255, the validation "
        "one applies a different preprocessing (here a channel-flip and mean subtraction, "
        "as ImageNet preprocess_input does). Train accuracy climbs, validation accuracy stays "
        "near 1/n.",
        confirmed_cause="Asker: the issue was two different ways of preprocessing for the "
        "training and validation generators.",
        expected=("unnormalized_inputs",),
        script=f.validation_generator_other_preprocessing,
        epochs=5,
    ),
    Case(
        name="mlp_no_activations_normal_init",
        split=SPLIT,
        kind="fault",
        source="https://github.com/aymericdamien/TensorFlow-Examples/issues/209",
        setup="The TensorFlow-Examples multilayer perceptron (two hidden layers of 256, "
        "weights and biases drawn from a unit normal, softmax cross-entropy on logits, Adam "
        "1e-3, batch 100) with no activation function between its layers.",
        confirmed_cause="Asker: adding a ReLU after each hidden layer brings the cost down "
        "to ~2.3 almost immediately instead of a slow crawl towards ~21; a second user agrees "
        "the missing activations are the problem.",
        expected=("missing_nonlinearity",),
        script=f.mlp_no_activations_normal_init,
        epochs=5,
        backend="tensorflow",
    ),
    Case(
        name="tensorboard_tutorial_relu_on_logits",
        split=SPLIT,
        kind="fault",
        source="https://github.com/martinwicke/tf-dev-summit-tensorboard-tutorial/issues/3",
        setup="The TensorBoard tutorial's MNIST CNN as shown in its video (two 5x5 conv-ReLU-"
        "pool layers, fc1024, fc10; truncated-normal 0.1 weights, 0.1 biases; softmax cross-"
        "entropy on logits, Adam 1e-3, batch 100) where the shared fully-connected helper "
        "applied a ReLU, so the logits layer is ReLU'd too. Widths 16/32/256 here.",
        confirmed_cause="Asker: with ReLU after the fully-connected layers accuracy could "
        "not pass 65%; removing it (as the final source does) gave over 99%.",
        expected=("output_activation",),
        script=f.tensorboard_tutorial_relu_on_logits,
        epochs=5,
        backend="tensorflow",
    ),
    Case(
        name="mlp_four_sigmoid_layers_sgd",
        split=SPLIT,
        kind="fault",
        source="https://github.com/phlippe/uvadlc_notebooks/issues/119",
        setup="A course tutorial's FashionMNIST MLP with sigmoid activations (hidden 512-256-"
        "256-128, PyTorch default uniform init, inputs normalised to [-1, 1], cross-entropy "
        "on logits, SGD lr 1e-2 momentum 0.9, batch 256); here on the flattened CIFAR-10 "
        "subset, 10 epochs. The sigmoid network barely trains while ReLU-type ones do.",
        confirmed_cause="Maintainer (the tutorial's author): with sigmoid the gradients in the "
        "early layers vanish and cancel, many runs fail to learn even after long training.",
        expected=("vanishing_gradients", "saturated_activations"),
        script=f.mlp_four_sigmoid_layers_sgd,
        epochs=10,
    ),
    Case(
        name="image_files_listed_unsorted",
        split=SPLIT,
        kind="fault",
        source="https://github.com/NoahVl/Explaining-In-Style-Reproducibility-Study/issues/9",
        setup="A classifier trained on CelebA-style data: image paths come from os.listdir "
        "(file-system order, not sorted) while the labels come from the attribute file in "
        "sorted-name order, so images and labels are paired wrongly on some machines. Here a "
        "small CNN (Conv32-pool-Conv64-pool-Dense128-softmax, Adam 1e-3, batch 64) on 10 "
        "classes.",
        confirmed_cause="Thread: labels and images were not loaded in the same order; sorting "
        "the listed image paths fixed it (confirmed by a second user).",
        expected=("label_noise",),
        script=f.image_files_listed_unsorted,
        epochs=5,
    ),
    Case(
        name="multiview_alexnet_relu_after_fc8",
        split=SPLIT,
        kind="fault",
        source="https://github.com/WeiTang114/MVCNN-TensorFlow/issues/14",
        setup="An AlexNet-style image classifier (conv-ReLU-pool blocks, fc6/fc7 with ReLU and "
        "dropout, fc8 with the class scores) whose fc8 is also followed by a ReLU before the "
        "softmax cross-entropy on logits; Adam, batch 8 in the thread. Here three conv blocks "
        "of 16/32/64, fc 256/256, batch 32, Adam 1e-3.",
        confirmed_cause="Asker: after a few hundred steps every input was classified as class "
        "0; removing the ReLU after fc8 made it work.",
        expected=("output_activation",),
        script=f.multiview_alexnet_relu_after_fc8,
        epochs=5,
    ),
    Case(
        name="jax_mnist_example_loss_averaged_over_classes",
        split=SPLIT,
        kind="fault",
        source="https://github.com/jax-ml/jax/pull/1573",
        setup="The JAX MNIST classifier example (Dense1024-ReLU-Dense1024-ReLU-Dense10-"
        "LogSoftmax, one-hot labels, SGD step 0.001 momentum 0.9, batch 128) whose loss is "
        "minus the mean of log-probabilities times targets over all elements, i.e. averaged "
        "over the 10 class columns as well as the batch.",
        confirmed_cause="Merged fix: the cross-entropy was averaged over classes too, dividing "
        "the loss and every gradient by 10 (with SGD, a step ten times too small); fixed, "
        "10-epoch training accuracy went from 0.65 to 0.87.",
        expected=("lr_too_low",),
        script=f.jax_mnist_example_loss_averaged_over_classes,
        epochs=10,
        backend="jax",
    ),
]

HEALTHY_V2 = [
    Case(
        name="keras_io_mnist_convnet",
        split=SPLIT,
        kind="healthy",
        source="https://keras.io/examples/vision/mnist_convnet/",
        setup="Keras 'Simple MNIST convnet' example (Conv32-pool-Conv64-pool-Flatten-"
        "Dropout0.5-Dense softmax, adam, categorical_crossentropy, batch 128, "
        "validation_split 0.1) on the CIFAR-10 subset; 8 epochs instead of 15.",
        confirmed_cause="healthy",
        expected=(),
        script=h.keras_io_mnist_convnet,
        epochs=8,
    ),
    Case(
        name="tf_basic_classification_mlp",
        split=SPLIT,
        kind="healthy",
        source="https://www.tensorflow.org/tutorials/keras/classification",
        setup="TensorFlow basic image classification tutorial (pixels / 255, Flatten-Dense128 "
        "ReLU-Dense10 logits, adam, sparse categorical cross-entropy from logits, 10 epochs).",
        confirmed_cause="healthy",
        expected=(),
        script=h.tf_basic_classification_mlp,
        epochs=10,
        backend="jax",
    ),
    Case(
        name="keras_example_mnist_mlp",
        split=SPLIT,
        kind="healthy",
        source="https://github.com/keras-team/keras/blob/2.15.0/examples/mnist_mlp.py",
        setup="Keras mnist_mlp example (Dense512-Dropout0.2-Dense512-Dropout0.2-Dense10 "
        "softmax, RMSprop, categorical_crossentropy, batch 128) on the flattened CIFAR-10 "
        "subset; 10 epochs instead of 20.",
        confirmed_cause="healthy",
        expected=(),
        script=h.keras_example_mnist_mlp,
        epochs=10,
        backend="tensorflow",
    ),
]

CASES_V2 = [*FAULTS_V2, *HEALTHY_V2]
