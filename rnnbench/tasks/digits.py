"""Digit images read row by row, classified at the last step (Morvan's LSTM classifier on MNIST).

Offline by default: scikit-learn's bundled 8×8 digits (1,797 images: 8 steps of 8 features, pixel values / 16),
split once into train and test with a fixed seed (``SPLIT_SEED``, stratified, 20% test), the same split for every
run. A Keras-format ``mnist.npz`` (``x_train y_train x_test y_test``, 28×28 uint8) given with ``--data-in`` runs
the seed's real setup: 28 steps of 28 features, values / 255. Images are square: num_steps rows of num_steps
pixels. Each epoch visits ``size`` training images in an order drawn from the run seed; sequences are independent
(zero state). The held-out data is the test set.

Theory: a classifier that has learned nothing predicts the class frequencies; with ten balanced classes its
cross-entropy is ln 10 = 2.3026 and its accuracy 0.1.
"""

from __future__ import annotations

import functools

import numpy as np

from rnnbench.errors import ConfigError, UserError
from rnnbench.tasks.base import STREAM_DATA, XENT, Goal, Level, Levels, ReferenceSpec, Task, batches, require_arrays

NUM_CLASSES = 10
SPLIT_SEED = 0  # the train/test split of the bundled digits: fixed, never the run's seed
TEST_FRACTION = 0.2
KEYS = ("x_train", "y_train", "x_test", "y_test")  # Keras' mnist.npz


@functools.lru_cache(maxsize=1)
def bundled_digits() -> dict[str, np.ndarray]:
    """scikit-learn's 8×8 digits, split: float32 images (n, 8, 8) in [0, 1], int32 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target.astype(np.int32), test_size=TEST_FRACTION, random_state=SPLIT_SEED,
        stratify=digits.target)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def scale_images(images: np.ndarray) -> np.ndarray:
    """Integer images are 0..255 (Keras' MNIST) and are divided by 255; float images are taken as they are."""
    if np.issubdtype(images.dtype, np.integer):
        return (images / 255.0).astype(np.float32)
    return images.astype(np.float32)


class Digits(Task):
    name = "digits"
    summary = "an image read row by row -> its class at the last step; independent images"
    seed = "Morvan, LSTM classifier (MNIST rows)"
    tokens = False
    output_width = NUM_CLASSES
    loss = XENT
    each_step = False
    carries_state = False
    defaults = dict(cell="lstm", optimizer="adam", learning_rate=0.01, num_steps=8, state_size=64,
                    batch_size=64, size=1_437, epochs=15)
    data_keys = KEYS
    data_help = "a Keras-format mnist.npz: x_train (n, r, r), y_train (n,), x_test, y_test; images square"

    def input_size(self, config) -> int:
        return config.num_steps  # square images: num_steps rows of num_steps pixels

    def levels(self) -> Levels:
        return Levels((Level("chance", float(np.log(NUM_CLASSES)), "chance (accuracy 0.1)"),))

    def references(self) -> tuple[ReferenceSpec, ...]:
        # test accuracy 0.967-0.978 over 6 seeds (the goal 0.90); final train loss 0.026-0.051
        return (ReferenceSpec({}, None, 0.5, (0.0, 0.15),
                              Goal("test_accuracy", 0.90, higher_is_better=True)),)

    def validate(self, config) -> None:
        if config.size < config.batch_size:
            raise ConfigError("batch_size", f"must be at most size ({config.size} images), got {config.batch_size}")

    def windows_per_epoch(self, config) -> int:
        return config.size // config.batch_size

    def dataset(self, config, data=None) -> dict[str, np.ndarray]:
        data = data if data is not None else bundled_digits()
        rows = data["x_train"].shape[1]
        if config.num_steps != rows:
            raise ConfigError("num_steps", f"the digit images have {rows} rows, so num_steps must be {rows}; "
                                           f"got {config.num_steps}")
        if config.size > len(data["x_train"]):
            raise ConfigError("size", f"at most the {len(data['x_train'])} training images, got {config.size}")
        return data

    def generate(self, config, epoch: int = 0) -> dict[str, np.ndarray]:
        return dict(self.dataset(config))

    def check_data(self, path: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        require_arrays(path, arrays, {k: "numbers" for k in KEYS})
        out = {}
        for split in ("train", "test"):
            x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
            if x.ndim != 3 or x.shape[1] != x.shape[2]:
                raise UserError(f"{path}: x_{split} must hold square images (n, rows, rows), got shape {x.shape}")
            if y.shape != (len(x),):
                raise UserError(f"{path}: y_{split} must be ({len(x)},) labels, got shape {y.shape}")
            if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= NUM_CLASSES)):
                raise UserError(f"{path}: y_{split} must hold integer labels 0..{NUM_CLASSES - 1}")
            out[f"x_{split}"], out[f"y_{split}"] = scale_images(x), y.astype(np.int32)
        if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
            raise UserError(f"{path}: x_train and x_test images differ in size: {out['x_train'].shape[1:]} and "
                            f"{out['x_test'].shape[1:]}")
        return out

    def config_from_data(self, data) -> dict:
        return {"num_steps": data["x_train"].shape[1], "size": len(data["x_train"])}

    def epoch_batches(self, config, epoch: int, data=None):
        data = self.dataset(config, data)
        order = np.random.default_rng([config.seed, STREAM_DATA, epoch]).permutation(len(data["x_train"]))
        picked = order[: config.size]
        return batches(data["x_train"][picked], config.batch_size), batches(data["y_train"][picked], config.batch_size)

    def eval_batches(self, config, data=None):
        data = self.dataset(config, data)
        return data["x_test"][None], data["y_test"][None]  # one window of every test image


TASK = Digits()
