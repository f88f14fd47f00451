"""Canonical parameters: initialised once here from the seed and loaded by every implementation.

The names, shapes and order come from the cell (``rnnbench.spec.cells.param_shapes``): ``W b U c`` for the vanilla RNN
and the LSTM, ``W b bh U c`` for the GRU, the backward direction's arrays prefixed ``bwd_``. For the vanilla RNN
on the binary task:

    s_t    = tanh([onehot(x_t), s_{t-1}] @ W + b)   W: (C + H, H), b: (H,)
    logits = s_t @ U + c                            U: (H, C),     c: (C,)

The first input_size rows of W are the input weights, the rest the recurrent weights.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator

import numpy as np

from rnnbench.errors import UserError
from rnnbench.files import atomic_write, load_npz
from rnnbench.spec.cells import param_shapes
from rnnbench.spec.config import RunConfig
from rnnbench.tasks.base import STREAM_PARAMS


class Params:
    """Named arrays in canonical order. Iterating gives the arrays (``W, b, U, c = params`` for the vanilla
    cell); ``params.W`` and ``params["W"]`` give one by name. The arrays may be any framework's tensors."""

    __slots__ = ("_arrays",)

    def __init__(self, arrays: dict | None = None, **named):
        object.__setattr__(self, "_arrays", dict(arrays or {}, **named))

    @classmethod
    def from_arrays(cls, names: Iterable[str], arrays: Iterable) -> Params:
        return cls(dict(zip(names, arrays, strict=True)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._arrays)

    def items(self):
        return self._arrays.items()

    def as_dict(self) -> dict:
        return dict(self._arrays)

    def __getattr__(self, name: str):
        try:
            return self._arrays[name]
        except KeyError:
            raise AttributeError(f"no parameter {name!r}; this model has {', '.join(self._arrays)}") from None

    def __getitem__(self, name: str):
        return self._arrays[name]

    def get(self, name: str, default=None):
        return self._arrays.get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def __iter__(self) -> Iterator:
        return iter(self._arrays.values())

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(getattr(v, 'shape', ()))}" for k, v in self._arrays.items())
        return f"Params({shapes})"

    def map(self, fn) -> Params:
        """The same names, each array replaced by ``fn(array)``."""
        return Params({k: fn(v) for k, v in self._arrays.items()})

    def astype(self, dtype) -> Params:
        return self.map(lambda a: np.asarray(a, dtype=dtype))

    def copy(self) -> Params:
        return self.map(lambda a: np.array(a, copy=True))


VANILLA_KEYS = tuple(param_shapes("rnn", 1, 1, 1))  # W b U c: the vanilla RNN's canonical arrays, in order


def expected_shapes(config: RunConfig) -> dict[str, tuple[int, ...]]:
    return param_shapes(config.cell, config.input_size, config.state_size, config.output_size, config.bidirectional,
                        config.layers)


MODEL_COPIES = 5  # weights, gradients, Adam's two moments, one framework-side copy
ACTIVATION_COPIES = 3  # gate activations BPTT keeps, their gradients, a framework's temporaries


def model_bytes(config: RunConfig) -> int:
    """About the memory the model of a run takes: its weights with their gradients and optimizer state, and the
    activations a window's BPTT keeps (batch x steps x gate columns per direction). ``rnnbench train`` refuses a run
    that cannot fit before anything is allocated."""
    shapes = expected_shapes(config)
    weights = sum(math.prod(s) for s in shapes.values())
    gate_columns = sum(s[-1] for k, s in shapes.items() if k.endswith("W"))  # W and bwd_W: every direction's gates
    activations = config.batch_size * config.num_steps * gate_columns * ACTIVATION_COPIES
    return int(np.dtype(config.dtype).itemsize * (MODEL_COPIES * weights + activations))


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def init_params(config: RunConfig) -> Params:
    """Glorot-uniform weight matrices (W, then bwd_W, each stacked layer's, then U: drawn in that order), zero
    biases, float32, from
    ``default_rng([seed, STREAM_PARAMS])``."""
    rng = np.random.default_rng([config.seed, STREAM_PARAMS])
    shapes = expected_shapes(config)
    drawn = {k: glorot_uniform(rng, s) for k, s in shapes.items() if len(s) == 2}  # W, bwd_W, U in this order
    return Params({k: drawn[k] if k in drawn else np.zeros(s, np.float32) for k, s in shapes.items()})


def save_params(path: str | os.PathLike, params: Params) -> None:
    atomic_write(path, lambda f: np.savez(f, **params.as_dict()))


def load_params(path: str | os.PathLike, config: RunConfig) -> Params:
    """Read the config's canonical arrays from an npz and check their shapes; errors name the file and array."""
    shapes = expected_shapes(config)
    arrays = load_npz(path, tuple(shapes))
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise UserError(
                f"{path}: {key} has shape {arrays[key].shape}, expected {shape} for cell={config.variant}, "
                f"state_size={config.state_size}, input_size={config.input_size}, output_size={config.output_size}"
            )
        if not np.issubdtype(arrays[key].dtype, np.number):
            raise UserError(f"{path}: {key} must hold numbers, got dtype {arrays[key].dtype}")
        if not np.isfinite(arrays[key]).all():
            raise UserError(f"{path}: {key} holds inf or nan; every weight must be a finite number")
    return Params({k: arrays[k].astype(config.dtype) for k in shapes})
