"""Healthy scripts: the three recipes of the question that started cnn-doctor and public Keras
CIFAR-10 examples, written as their authors wrote them (widths scaled down where said in
``cases.py``). The diagnosis should raise no warning or critical finding on any of them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from common import RealWorldData, record_true_accuracy
from keras import layers


def _question_cnn(augment: bool) -> keras.Model:
    """The question's Conv32-Pool-Conv64-Pool-Dense128-Dropout0.5-Dense10 softmax, at half width."""
    stack = [keras.Input((32, 32, 3))]
    if augment:  # Keras 3 has no ImageDataGenerator: the same transforms as preprocessing layers
        stack += [
            layers.RandomRotation(15 / 360),
            layers.RandomTranslation(0.1, 0.1),
            layers.RandomFlip("horizontal"),
        ]
    stack += [
        layers.Conv2D(16, (3, 3), activation="relu"),  # widths halved to fit the time budget
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
    return keras.Sequential(stack)


def question_augment_adam(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = _question_cnn(augment=True)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def question_lr_schedule(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)

    def scheduler(epoch, lr):  # hold, then multiply by exp(-0.1) every epoch
        return lr if epoch < 3 else lr * math.exp(-0.1)

    model = _question_cnn(augment=True)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[keras.callbacks.LearningRateScheduler(scheduler), doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def question_sgd_momentum(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255.0
    x_val = data.x_val.astype("float32") / 255.0
    model = _question_cnn(augment=True)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
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


def keras_example_cifar10_cnn(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), padding="same"),
            layers.Activation("relu"),
            layers.Conv2D(32, (3, 3)),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Conv2D(64, (3, 3), padding="same"),
            layers.Activation("relu"),
            layers.Conv2D(64, (3, 3)),
            layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(512),
            layers.Activation("relu"),
            layers.Dropout(0.5),
            layers.Dense(10),
            layers.Activation("softmax"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-4),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=5,
        shuffle=True,
        verbose=0,
        validation_data=(x_val, y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def _resnet_layer(x, filters, strides=1, activation="relu", batch_normalization=True):
    x = layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        kernel_initializer="he_normal",
        kernel_regularizer=keras.regularizers.l2(1e-4),
    )(x)
    if batch_normalization:
        x = layers.BatchNormalization()(x)
    if activation is not None:
        x = layers.Activation(activation)(x)
    return x


def keras_example_resnet_v1(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    mean = np.mean(x_train, axis=0)  # the example's per-pixel mean subtraction
    x_train -= mean
    x_val -= mean
    y_train = keras.utils.to_categorical(data.y_train, 10)
    y_val = keras.utils.to_categorical(data.y_val, 10)
    inputs = keras.Input((32, 32, 3))
    x = _resnet_layer(inputs, 16)
    filters = 16
    for stack in range(3):  # ResNet-8: one residual block per stack
        strides = 2 if stack > 0 else 1
        y = _resnet_layer(x, filters, strides=strides)
        y = _resnet_layer(y, filters, activation=None)
        if stack > 0:
            x = _resnet_layer(
                x, filters, strides=strides, activation=None, batch_normalization=False
            )
        x = layers.Activation("relu")(layers.add([x, y]))
        filters *= 2
    x = layers.AveragePooling2D(pool_size=8)(x)
    outputs = layers.Dense(10, activation="softmax", kernel_initializer="he_normal")(
        layers.Flatten()(x)
    )
    model = keras.Model(inputs, outputs)
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(x_train[:256], y_train[:256]))
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=5,
        verbose=0,
        validation_data=(x_val, y_val),
        shuffle=True,
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def tf_tutorial_cnn_from_logits(data: RealWorldData, make_doctor):
    train_images, test_images = data.x_train / 255.0, data.x_val / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    doctor = make_doctor(probe_data=(train_images[:256], data.y_train[:256]))
    history = model.fit(
        train_images,
        data.y_train,
        epochs=6,
        verbose=0,
        validation_data=(test_images, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, test_images, data.y_val)


class _AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, flipped and shifted batches from uint8 arrays, scaled to [0, 1]."""

    def __init__(self, x, y, batch_size, seed=0, augment=True, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if augment else np.arange(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        xb = self.x[idx].astype("float32") / 255.0
        if self.augment:
            flip = self.rng.random(len(xb)) < 0.5
            xb[flip] = xb[flip, :, ::-1]
            dx, dy = self.rng.integers(-3, 4, size=2)
            xb = np.roll(xb, (dy, dx), axis=(1, 2))
        return xb, self.y[idx]

    def on_epoch_end(self):
        if self.augment:
            self.order = self.rng.permutation(len(self.x))


def question_cnn_pydataset(data: RealWorldData, make_doctor):
    train = _AugmentedBatches(data.x_train, data.y_train, 64, seed=1)
    val = _AugmentedBatches(data.x_val, data.y_val, 256, augment=False)
    model = _question_cnn(augment=False)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    doctor = make_doctor()  # a generator: no arrays at hand
    history = model.fit(train, epochs=5, validation_data=val, verbose=0, callbacks=[doctor])
    return record_true_accuracy(history, model, data.x_val.astype("float32") / 255.0, data.y_val)
