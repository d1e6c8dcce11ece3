"""Healthy scripts of the third held-out set ("heldout3"): public examples that train fine,
written as their authors wrote them (widths and epochs scaled where ``cases_v3.py`` says so) and
pointed at the fixed CIFAR-10 subset. The diagnosis should raise no warning or critical finding.
"""

from __future__ import annotations

import keras
from common import RealWorldData, record_true_accuracy
from keras import layers


def tf_image_classification_tutorial(data: RealWorldData, make_doctor):
    # The flowers tutorial: the Rescaling layer sits inside the model, logits out.
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
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
    doctor = make_doctor(probe_data=(data.x_train[:256], data.y_train[:256]))
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=32,
        epochs=6,
        verbose=0,
        validation_data=(data.x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, data.x_val, data.y_val)


def tf_data_augmentation_tutorial(data: RealWorldData, make_doctor):
    # The tutorial's second model: random flip / rotation / zoom layers in front, dropout 0.2.
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
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
    doctor = make_doctor(probe_data=(data.x_train[:256], data.y_train[:256]))
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=32,
        epochs=6,
        verbose=0,
        validation_data=(data.x_val, data.y_val),
        callbacks=[doctor],
    )
    return record_true_accuracy(history, model, data.x_val, data.y_val)


def tf_quickstart_experts_cnn(data: RealWorldData, make_doctor):
    # The expert quickstart trains this subclassed model with a GradientTape loop; fit here.
    x_train = (data.x_train / 255.0).astype("float32")
    x_val = (data.x_val / 255.0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(),
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


def keras_example_mnist_cnn_adadelta(data: RealWorldData, make_doctor):
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
        optimizer=keras.optimizers.Adadelta(learning_rate=1.0),  # Keras 2's Adadelta default
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
