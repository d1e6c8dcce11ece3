"""Fault cases of the third held-out set ("heldout3"), rebuilt from public threads that neither
earlier set used: one function per thread, written the way that user's Keras script was written
(their preprocessing, label encoding, model, compile and fit calls).

Same contract as ``fault_scripts.py``: ``run(data, make_doctor) -> History``; the callback is
created with ``make_doctor(probe_data=(x[:256], y[:256]))`` on the arrays as this script prepared
them, or ``make_doctor()`` where the user fed a generator; ``record_true_accuracy`` runs after
``fit``. Widths are scaled down so each case fits in one to three minutes on 2 shared cores; each
case's ``setup`` in ``cases_v3.py`` says what was scaled. No code was copied from the threads.
"""

from __future__ import annotations

import keras
import numpy as np
from common import RealWorldData, record_true_accuracy
from keras import layers


# --- inputs ---------------------------------------------------------------------------------
def mnist_mlp_example_raw_pixels(data: RealWorldData, make_doctor):
    # The Keras mnist_mlp example pointed at a Kaggle CSV: the "/= 255" lines were left out.
    x_train = data.x_train.reshape(-1, 3072).astype("float32")
    x_val = data.x_val.reshape(-1, 3072).astype("float32")
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(512, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"]
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


# --- optimisation ---------------------------------------------------------------------------
def cntk_mnist_convnet_lr_0_5(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") * (1.0 / 256)  # the sample's feature scaling
    x_val = data.x_val.astype("float32") * (1.0 / 256)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 5, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),  # cross-entropy with softmax is applied by the loss
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),  # the sample's rate per minibatch
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=32,
        epochs=4,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def mnist_cnn_example_tf_keras_adadelta(data: RealWorldData, make_doctor):
    # The Keras mnist_cnn example run with tf.keras: Adadelta() without a learning rate now
    # means 0.001 (standalone Keras 2 meant 1.0).
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.Adadelta(),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=6,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- regularisation / generalisation --------------------------------------------------------
def lab_cnn_dropout_rate_as_keep_prob(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    rate = 0.7  # meant as the keep probability; the layers API reads it as the rate dropped
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Dropout(rate),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Dropout(rate),
            layers.Conv2D(128, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2, padding="same"),
            layers.Dropout(rate),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10),
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
        epochs=6,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


class _PatchGenerator(keras.utils.PyDataset):
    """A training generator meant to flip and shift each patch; a bug returns them unchanged."""

    def __init__(self, x, y, batch_size, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def augment(self, batch):
        return batch  # the flips / shifts were never applied

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        return self.augment(self.x[idx].astype("float32") / 255.0), self.y[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


def patch_classifier_augmentation_disabled(data: RealWorldData, make_doctor):
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    train = _PatchGenerator(data.x_train, y_train, 32, seed=3)
    x_val = data.x_val.astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor()  # a generator: no arrays at hand
    history = model.fit(
        train, epochs=10, validation_data=(x_val, y_val), verbose=0, callbacks=[doctor]
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- activations / output -------------------------------------------------------------------
def mnist_mlp_relu_before_softmax(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255.0
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="relu"),  # a ReLU right before the softmax
            layers.Activation("softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=64,
        epochs=8,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def course_convnet_no_softmax_probability_loss(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2, strides=2),
            layers.Conv2D(64, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2, strides=2),
            layers.Flatten(),
            layers.Dense(100, activation="tanh"),
            layers.Dense(10),  # no softmax, but the loss below expects probabilities
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.0001),
        loss="sparse_categorical_crossentropy",
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


# --- data order -----------------------------------------------------------------------------
def vgg_like_validation_split_sorted_classes(data: RealWorldData, make_doctor):
    # Images were read folder by folder, so the arrays are sorted by class; validation_split
    # takes the last 20% before any shuffling.
    order = np.argsort(data.y_train, kind="stable")
    x_train = data.x_train[order].astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train[order], 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    sgd = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True)
    model.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=6,
        verbose=0,
        validation_split=0.2,
        shuffle=True,
        callbacks=[doctor],
    )
    x_val = data.x_val.astype("float32") / 255.0
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- labels ---------------------------------------------------------------------------------
def _to_categorical_filling_ones(labels, nb_classes):
    """The library's one-hot helper as it stood: the fancy index was given the label column
    (shape n x 1), so every row of the matrix was set to 1."""
    categorical = np.zeros((labels.shape[0], nb_classes), dtype=np.float32)
    categorical[np.arange(labels.shape[0]), labels] = 1
    return categorical


def art_cifar_example_all_ones_labels(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = _to_categorical_filling_ones(data.y_train.reshape(-1, 1), 10)  # CIFAR's n x 1
    y_val = _to_categorical_filling_ones(data.y_val.reshape(-1, 1), 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


class _SeparatelyShuffledLoader(keras.utils.PyDataset):
    """Training batches whose images and ground-truth labels are shuffled by two independent
    shuffles every epoch, so image i is paired with some other image's label."""

    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng_images = np.random.default_rng(5)
        self.rng_labels = np.random.default_rng(6)
        self.on_epoch_end()

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        images = self.x[self.image_order[s]].astype("float32") / 255.0
        return images, self.y[self.label_order[s]]

    def on_epoch_end(self):
        self.image_order = self.rng_images.permutation(len(self.x))
        self.label_order = self.rng_labels.permutation(len(self.y))


def pipeline_images_labels_shuffled_apart(data: RealWorldData, make_doctor):
    train = _SeparatelyShuffledLoader(data.x_train, data.y_train, 32)
    x_val = data.x_val.astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.GlobalAveragePooling2D(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor()  # a data loader: no arrays at hand
    history = model.fit(
        train, epochs=5, validation_data=(x_val, data.y_val), verbose=0, callbacks=[doctor]
    )
    return record_true_accuracy(history, model, x_val, data.y_val)
