"""Fault cases of the second held-out set ("heldout2"), rebuilt from public threads the first
corpus did not use: one function per thread, written the way that user's Keras script was
written (their preprocessing, label encoding, model, compile and fit calls).

Same contract as ``fault_scripts.py``: ``run(data, make_doctor) -> History``; the callback is
created with ``make_doctor(probe_data=(x[:256], y[:256]))`` on the arrays as this script prepared
them, or ``make_doctor()`` where the user fed a generator; ``record_true_accuracy`` runs after
``fit``. Widths are scaled down so each case fits in one to three minutes on 2 shared cores; each
case's ``setup`` in ``cases_v2.py`` says what was scaled. No code was copied from the threads.
"""

from __future__ import annotations

import keras
import numpy as np
from common import RealWorldData, record_true_accuracy
from keras import layers


def _cifar10_example_cnn() -> keras.Model:
    """The old Keras cifar10_cnn.py example (two conv pairs, Dense, softmax), at half width."""
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


# --- optimisation ---------------------------------------------------------------------------
def cifar10_example_adam_lr_0_01(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = _cifar10_example_cnn()
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=0.01),  # ten times Adam's default
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=4,
        verbose=0,
        validation_data=(x_val, y_val),
        shuffle=True,
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- inputs ---------------------------------------------------------------------------------
def fashion_tutorial_mlp_unscaled(data: RealWorldData, make_doctor):
    train_images, val_images = data.x_train, data.x_val  # uint8 0-255: the "/ 255.0" was skipped
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(train_images[:256], data.y_train[:256]))
    history = model.fit(
        train_images,
        data.y_train,
        epochs=5,
        verbose=0,
        validation_data=(val_images, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, val_images, data.y_val)


# --- initialisation -------------------------------------------------------------------------
def mlp_uniform_minus_one_one_init(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255.0
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255.0
    unscaled = keras.initializers.RandomUniform(-1.0, 1.0)  # not scaled by the fan-in
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(128, activation="relu", kernel_initializer=unscaled),
            layers.Dense(10, kernel_initializer=unscaled),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=128,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- data order / labels --------------------------------------------------------------------
class _RecordFileBatches(keras.utils.PyDataset):
    """Batches read front to back from a packed record file, in the order it was packed."""

    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s].astype("float32") / 255.0, self.y[s]


def record_file_packed_by_class(data: RealWorldData, make_doctor):
    order = np.argsort(data.y_train, kind="stable")  # the list file was written folder by folder
    train = _RecordFileBatches(data.x_train[order], data.y_train[order], 32)
    val = _RecordFileBatches(data.x_val, data.y_val, 32)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor()  # a record iterator: no arrays at hand
    history = model.fit(train, epochs=4, validation_data=val, verbose=0, callbacks=[doctor])
    x_val = data.x_val.astype("float32") / 255.0
    return record_true_accuracy(history, model, x_val, data.y_val)


def bottleneck_features_shuffled_generator(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    # The convolutional base (ImageNet VGG16 in the thread; no download here, so a fixed,
    # untrained conv stack) turns images into "bottleneck" features once.
    base = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
            layers.MaxPooling2D((2, 2)),
        ]
    )
    rng = np.random.default_rng(7)
    shuffled = rng.permutation(len(x_train))  # the generator was created with shuffle=True ...
    features_train = base.predict(x_train[shuffled], batch_size=64, verbose=0)
    y_train = keras.utils.to_categorical(data.y_train, 10)  # ... labels taken in file order
    features_val = base.predict(x_val, batch_size=64, verbose=0)  # validation: shuffle=False
    y_val = keras.utils.to_categorical(data.y_val, 10)
    top = keras.Sequential(
        [
            keras.Input(features_train.shape[1:]),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    top.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(features_train[:256], y_train[:256]))
    history = top.fit(
        features_train,
        y_train,
        batch_size=32,
        epochs=5,
        verbose=0,
        validation_data=(features_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, top, features_val, data.y_val)


# --- loss / output --------------------------------------------------------------------------
class _ImageFolderFlow(keras.utils.PyDataset):
    """A folder iterator that applies its own ``preprocess`` to each shuffled batch."""

    def __init__(self, x, y, batch_size, preprocess, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.preprocess = x, y, batch_size, preprocess
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        return self.preprocess(self.x[idx].astype("float32")), self.y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


def validation_generator_other_preprocessing(data: RealWorldData, make_doctor):
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    train = _ImageFolderFlow(data.x_train, y_train, 32, lambda x: x / 255.0, seed=1)

    def caffe_style(x):  # the validation generator was set up with another preprocessing
        return x[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype="float32")

    val = _ImageFolderFlow(data.x_val, y_val, 32, caffe_style, seed=2)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor()  # generators: no arrays at hand
    history = model.fit(train, epochs=5, validation_data=val, verbose=0, callbacks=[doctor])
    return record_true_accuracy(
        history, model, caffe_style(data.x_val.astype("float32")), data.y_val
    )


def mlp_no_activations_normal_init(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255.0
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    normal = keras.initializers.RandomNormal(stddev=1.0)  # the example's random_normal weights
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(256, kernel_initializer=normal, bias_initializer=normal),  # no ReLU
            layers.Dense(256, kernel_initializer=normal, bias_initializer=normal),  # no ReLU
            layers.Dense(10, kernel_initializer=normal, bias_initializer=normal),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.001),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=100,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def tensorboard_tutorial_relu_on_logits(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    init = {
        "kernel_initializer": keras.initializers.TruncatedNormal(stddev=0.1),
        "bias_initializer": keras.initializers.Constant(0.1),
    }
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 5, padding="same", activation="relu", **init),
            layers.MaxPooling2D(2, padding="same"),
            layers.Conv2D(32, 5, padding="same", activation="relu", **init),
            layers.MaxPooling2D(2, padding="same"),
            layers.Flatten(),
            layers.Dense(256, activation="relu", **init),
            layers.Dense(10, activation="relu", **init),  # the shared fc helper's ReLU
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=100,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def mlp_four_sigmoid_layers_sgd(data: RealWorldData, make_doctor):
    x_train = (data.x_train.reshape(-1, 3072).astype("float32") / 255.0 - 0.5) / 0.5
    x_val = (data.x_val.reshape(-1, 3072).astype("float32") / 255.0 - 0.5) / 0.5
    torch_default = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")  # U(+-1/sqrt(n))
    stack = [keras.Input((3072,))]
    for width in (512, 256, 256, 128):
        stack += [
            layers.Dense(
                width,
                activation="sigmoid",
                kernel_initializer=torch_default,
                bias_initializer=torch_default,
            )
        ]
    stack += [layers.Dense(10, kernel_initializer=torch_default, bias_initializer=torch_default)]
    model = keras.Sequential(stack)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-2, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=256,
        epochs=10,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def image_files_listed_unsorted(data: RealWorldData, make_doctor):
    # The attribute file lists labels by sorted file name; the images are read in the order the
    # file system lists the folder, which is not sorted: image i no longer has label i.
    directory_order = np.random.default_rng(11).permutation(len(data.x_train))
    x_train = data.x_train[directory_order].astype("float32") / 255.0
    y_train = data.y_train  # sorted-name order, as in the attribute file
    x_val = data.x_val.astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def multiview_alexnet_relu_after_fc8(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),  # fc6
            layers.Dropout(0.5),
            layers.Dense(256, activation="relu"),  # fc7
            layers.Dropout(0.5),
            layers.Dense(10, activation="relu"),  # fc8, the class scores, through a ReLU
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=32,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def jax_mnist_example_loss_averaged_over_classes(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255.0
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)

    def loss(targets, log_probs):  # mean over batch AND classes, not the per-example sum
        return -keras.ops.mean(log_probs * targets)

    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(1024, activation="relu"),
            layers.Dense(1024, activation="relu"),
            layers.Dense(10),
            layers.Activation("log_softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.001, momentum=0.9),
        loss=loss,
        metrics=["categorical_accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=10,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)
