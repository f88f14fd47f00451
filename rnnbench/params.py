"""Canonical parameters W, b, U, c: initialised once here from the seed and loaded by every implementation.

    s_t    = tanh([onehot(x_t), s_{t-1}] @ W + b)   W: (num_classes + state_size, state_size), b: (state_size,)
    logits = s_t @ U + c                            U: (state_size, num_classes),              c: (num_classes,)

The first num_classes rows of W are the input weights, the rest the recurrent weights.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from rnnbench.config import RunConfig
from rnnbench.errors import UserError
from rnnbench.files import atomic_write, load_npz
from rnnbench.task import STREAM_PARAMS

KEYS = ("W", "b", "U", "c")


class Params(NamedTuple):
    W: np.ndarray  # (C + H, H)
    b: np.ndarray  # (H,)
    U: np.ndarray  # (H, C)
    c: np.ndarray  # (C,)

    def astype(self, dtype) -> Params:
        return Params(*(np.asarray(a, dtype=dtype) for a in self))

    def copy(self) -> Params:
        return Params(*(np.array(a, copy=True) for a in self))


def expected_shapes(num_classes: int, state_size: int) -> dict[str, tuple[int, ...]]:
    return {
        "W": (num_classes + state_size, state_size),
        "b": (state_size,),
        "U": (state_size, num_classes),
        "c": (num_classes,),
    }


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def init_params(config: RunConfig) -> Params:
    """Glorot-uniform W and U, zero b and c, float32, from ``default_rng([seed, STREAM_PARAMS])``."""
    rng = np.random.default_rng([config.seed, STREAM_PARAMS])
    shapes = expected_shapes(config.num_classes, config.state_size)
    return Params(
        W=glorot_uniform(rng, shapes["W"]),
        b=np.zeros(shapes["b"], np.float32),
        U=glorot_uniform(rng, shapes["U"]),
        c=np.zeros(shapes["c"], np.float32),
    )


def save_params(path: str | os.PathLike, params: Params) -> None:
    atomic_write(path, lambda f: np.savez(f, **params._asdict()))


def load_params(path: str | os.PathLike, config: RunConfig) -> Params:
    """Read W b U c from an npz and check their shapes against the config; errors name the file."""
    arrays = load_npz(path, KEYS)
    for key, shape in expected_shapes(config.num_classes, config.state_size).items():
        if arrays[key].shape != shape:
            raise UserError(
                f"{path}: {key} has shape {arrays[key].shape}, expected {shape} for "
                f"state_size={config.state_size}, num_classes={config.num_classes}"
            )
    return Params(*(arrays[k].astype(np.float32) for k in KEYS))
