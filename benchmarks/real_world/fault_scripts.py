"""Fault cases, rebuilt from public threads: one function per thread, written the way that user's
Keras script was written (their preprocessing, label encoding, model, compile and fit calls).

Each function is ``run(data, make_doctor) -> History``. It prepares the arrays as the user did,
creates the callback with ``make_doctor(probe_data=(x[:256], y[:256]))`` on the arrays *as this
script prepared them* (the README's recipe), or ``make_doctor()`` where the user fed a generator,
and ends with ``record_true_accuracy`` (after ``fit``, so the diagnosis cannot see it).
Widths are scaled down from the threads so each case fits in about a minute on 2 shared cores;
each case's ``setup`` in ``cases.py`` says what was scaled. No code was copied from the threads.
"""

from __future__ import annotations

import keras
import numpy as np
from common import RealWorldData, record_true_accuracy
from keras import layers


# --- input scaling --------------------------------------------------------------------------
def lenet_misindexed_standardize(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32")
    x_val = data.x_val.astype("float32")
    mean, std = [125.3, 123.0, 113.9], [63.0, 62.1, 66.7]
    for i in range(3):  # meant the channel axis, indexes the width axis: 3 columns of 32 change
        x_train[:, :, i] = (x_train[:, :, i] - mean[i]) / std[i]
        x_val[:, :, i] = (x_val[:, :, i] - mean[i]) / std[i]
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(6, 5, activation="relu", kernel_initializer="he_normal"),
            layers.MaxPooling2D(2, strides=2),
            layers.Conv2D(16, 5, activation="relu", kernel_initializer="he_normal"),
            layers.MaxPooling2D(2, strides=2),
            layers.Flatten(),
            layers.Dense(120, activation="relu", kernel_initializer="he_normal"),
            layers.Dense(84, activation="relu", kernel_initializer="he_normal"),
            layers.Dense(10, activation="softmax", kernel_initializer="he_normal"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01)
    history = model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[schedule, doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def cnn_raw_pixels_sgd(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32")  # cast, never scaled: values stay in [0, 255]
    x_val = data.x_val.astype("float32")
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), padding="same", activation="relu"),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=4,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def integer_scaling_zeroes_pixels(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("int32")
    x_val = data.x_val.astype("int32")
    x_train //= 255  # meant x / 255; integer division leaves 0 everywhere but pure-white pixels
    x_val //= 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
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
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def mlp_raw_pixels_adam(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(len(data.x_train), -1).astype("float32")  # no / 255
    x_val = data.x_val.reshape(len(data.x_val), -1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- output layer / loss / labels -----------------------------------------------------------
class _FolderLikeBatches(keras.utils.PyDataset):
    """Batches of (pixels / 255, integer label), reshuffled every epoch, like a folder iterator."""

    def __init__(self, x, y, batch_size, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        return self.x[idx].astype("float32") / 255.0, self.y[idx].astype("float32")

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


def one_unit_sigmoid_bce_generator(data: RealWorldData, make_doctor):
    train = _FolderLikeBatches(data.x_train, data.y_train, 32, seed=1)
    val = _FolderLikeBatches(data.x_val, data.y_val, 32, seed=2)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3)),
            layers.Activation("relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(16, (3, 3)),
            layers.Activation("relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3)),
            layers.Activation("relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64),
            layers.Activation("relu"),
            layers.Dropout(0.5),
            layers.Dense(1),
            layers.Activation("sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    doctor = make_doctor()  # a generator: no arrays at hand
    history = model.fit(train, epochs=4, validation_data=val, verbose=0, callbacks=[doctor])
    x_val = data.x_val.astype("float32") / 255.0
    return record_true_accuracy(history, model, x_val, data.y_val)


def mlp_one_sigmoid_unit_int_labels(data: RealWorldData, make_doctor):
    x = data.x_train.reshape(len(data.x_train), 3072).astype("float32")  # raw pixels, as asked
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(64, activation="relu"),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x[:256], data.y_train[:256]))
    history = model.fit(
        x=x, y=data.y_train, validation_split=0.33, epochs=5, verbose=0, callbacks=[doctor]
    )
    x_val = data.x_val.reshape(len(data.x_val), 3072).astype("float32")
    return record_true_accuracy(history, model, x_val, data.y_val)


def relu_on_logits_from_logits_loss(data: RealWorldData, make_doctor):
    x_train = data.x_train / 255.0
    x_val = data.x_val / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 5, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="relu"),  # a "logits" layer that went through ReLU
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
        batch_size=16,
        epochs=4,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def relu_output_categorical_ce(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train)
    y_val = keras.utils.to_categorical(data.y_val)
    model = keras.Sequential()
    model.add(keras.Input((32, 32, 3)))
    model.add(layers.Conv2D(24, (11, 11), activation="relu"))
    model.add(layers.MaxPooling2D(pool_size=(3, 3), strides=2))
    model.add(layers.Flatten())
    model.add(layers.Dense(10, activation="relu"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train, y_train, epochs=4, verbose=0, validation_data=(x_val, y_val), callbacks=[doctor]
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def missing_softmax_probability_loss(data: RealWorldData, make_doctor):
    x_train, x_val = data.x_train / 255.0, data.x_val / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),  # raw scores, while the loss below expects probabilities
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        epochs=4,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def softmax_output_from_logits_loss(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    inputs = keras.Input((32, 32, 3))
    h = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    h = layers.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(128, activation="relu")(h)
    outputs = layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
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


def mlp_softmax_then_crossentropy_sgd(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072) / 255.0
    x_val = data.x_val.reshape(-1, 3072) / 255.0
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(200, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10),
            layers.Softmax(),  # then a cross-entropy that applies softmax itself
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=10,
        epochs=3,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def cnn_bn_softmax_layer_then_ce(data: RealWorldData, make_doctor):
    mean, std = 0.5, 0.5
    x_train = (data.x_train.astype("float32") / 255.0 - mean) / std
    x_val = (data.x_val.astype("float32") / 255.0 - mean) / std
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 5),
            layers.BatchNormalization(),
            layers.MaxPooling2D(2),
            layers.ReLU(),
            layers.Conv2D(25, 5),
            layers.BatchNormalization(),
            layers.Dropout(0.5),
            layers.MaxPooling2D(2),
            layers.ReLU(),
            layers.Flatten(),
            layers.Dense(100),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dense(100),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dense(10),
            layers.Softmax(),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
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


def _residual_block(x, filters, stride):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
    y = layers.BatchNormalization()(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same")(y)
    y = layers.BatchNormalization()(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation("relu")(layers.add([y, shortcut]))


def directory_batches_never_shuffled(data: RealWorldData, make_doctor):
    order = np.argsort(data.y_train, kind="stable")  # files listed folder by folder
    files_x, files_y = data.x_train[order], data.y_train[order]
    batch_size = 50

    def flow(x, y, batch_size, shuffle=True):
        index = np.arange(len(x))
        while True:
            if shuffle and len(x) % batch_size:  # the shuffle only ran for a partial last batch
                np.random.shuffle(index)
            for start in range(0, len(x), batch_size):
                idx = index[start : start + batch_size]
                yield x[idx].astype("float32") / 255.0, keras.utils.to_categorical(y[idx], 10)

    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    x_val = data.x_val.astype("float32") / 255.0
    y_val = keras.utils.to_categorical(data.y_val, 10)
    doctor = make_doctor()  # a generator: no arrays at hand
    history = model.fit(
        flow(files_x, files_y, batch_size),
        steps_per_epoch=len(files_x) // batch_size,
        epochs=4,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def sigmoid_outputs_binary_accuracy(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["binary_accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=4,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- optimisation ---------------------------------------------------------------------------
def strided_cnn_adam_lr_0_1(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 8, strides=2, padding="same", activation="relu"),
            layers.Conv2D(32, 6, strides=2, padding="valid", activation="relu"),
            layers.Conv2D(32, 5, strides=1, padding="valid", activation="relu"),
            layers.Flatten(),
            layers.Dense(10),
            layers.Activation("softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.1),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
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


def mlp_sgd_lr_0_1_batch_2(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(128, activation="relu"),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=2,
        epochs=2,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def batchnorm_cnn_batch_size_1(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(8, 5, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(3, strides=2),
            layers.Conv2D(16, 3, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(3, strides=2),
            layers.Flatten(),
            layers.Dense(32),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=1,
        epochs=2,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- data order / labels --------------------------------------------------------------------
def sorted_by_class_fit_no_shuffle(data: RealWorldData, make_doctor):
    order = np.argsort(data.y_train, kind="stable")  # data assembled class by class
    x = data.x_train[order].astype("float32") / 255.0
    y = data.y_train[order]
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x[:256], y[:256]))
    history = model.fit(
        x,
        y,
        batch_size=64,
        epochs=4,
        shuffle=False,
        validation_split=0.1,
        verbose=0,
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, data.x_val.astype("float32") / 255.0, data.y_val)


def images_and_labels_shuffled_apart(data: RealWorldData, make_doctor):
    x = data.x_train.astype("float32") / 255.0
    y = data.y_train.copy()
    np.random.shuffle(x)  # two independent shuffles: image i no longer has label i
    np.random.shuffle(y)
    x_val = data.x_val.astype("float32") / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x[:256], y[:256]))
    history = model.fit(
        x,
        y,
        batch_size=32,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


# --- architecture / capacity / regularisation -----------------------------------------------
def l2_0_1_on_every_conv(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    reg = keras.regularizers.l2(0.1)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu", kernel_regularizer=reg),
            layers.Conv2D(32, 3, padding="same", activation="relu", kernel_regularizer=reg),
            layers.MaxPooling2D(3),
            layers.Dropout(0.5),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=4,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def cnn_without_activations(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), padding="same"),  # activation= forgotten on every layer
            layers.AveragePooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), padding="same"),
            layers.AveragePooling2D((2, 2)),
            layers.Flatten(),
            layers.Dense(100),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=64,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def resnet_no_augmentation(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(16, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = _residual_block(x, 16, 1)
    x = _residual_block(x, 32, 2)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=8,
        shuffle=True,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def wide_dense_cnn_no_augmentation(data: RealWorldData, make_doctor):
    x_train, x_val = data.x_train / 255.0, data.x_val / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        batch_size=64,
        epochs=10,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def fine_tune_everything_frozen(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    base = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.GlobalAveragePooling2D(),
        ],
        name="base",
    )
    model = keras.Sequential(
        [
            base,
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    for layer in model.layers:  # meant: for layer in base.layers
        layer.trainable = False
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
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


def mlp_zero_initialized(data: RealWorldData, make_doctor):
    x_train = data.x_train / 255.0
    x_val = data.x_val / 255.0
    zero_init = keras.initializers.Zeros()
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Flatten(),
            layers.Dense(50, activation="relu", kernel_initializer=zero_init),
            layers.Dense(50, activation="relu", kernel_initializer=zero_init),
            layers.Dense(10, activation="softmax", kernel_initializer=zero_init),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], data.y_train[:256]))
    history = model.fit(
        x_train,
        data.y_train,
        epochs=5,
        verbose=0,
        validation_data=(x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def softmax_hidden_layer_zero_init(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255.0
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((3072,)),
            layers.Dense(
                10, activation="softmax", kernel_initializer="zeros", bias_initializer="zeros"
            ),  # hidden layer: zeros, and a softmax
            layers.Dense(
                10, activation="softmax", kernel_initializer="zeros", bias_initializer="zeros"
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss="categorical_crossentropy",
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
