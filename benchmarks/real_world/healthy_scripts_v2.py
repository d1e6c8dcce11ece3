"""Healthy scripts of the second held-out set ("heldout2"): public examples that train fine,
written as their authors wrote them (widths and epochs scaled where ``cases_v2.py`` says so) and
pointed at the fixed CIFAR-10 subset. The diagnosis should raise no warning or critical finding.
"""

from __future__ import annotations

import keras
from common import RealWorldData, record_true_accuracy
from keras import layers


def keras_io_mnist_convnet(data: RealWorldData, make_doctor):
    x_train = data.x_train.astype("float32") / 255
    x_val = data.x_val.astype("float32") / 255
    y_train = keras.utils.to_categorical(data.y_train, 10)
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
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
        epochs=8,
        validation_split=0.1,
        verbose=0,
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, x_val, data.y_val)


def tf_basic_classification_mlp(data: RealWorldData, make_doctor):
    train_images = data.x_train / 255.0
    val_images = data.x_val / 255.0
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
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
        epochs=10,
        verbose=0,
        validation_data=(val_images, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, val_images, data.y_val)


def keras_example_mnist_mlp(data: RealWorldData, make_doctor):
    x_train = data.x_train.reshape(-1, 3072).astype("float32") / 255
    x_val = data.x_val.reshape(-1, 3072).astype("float32") / 255
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
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
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
