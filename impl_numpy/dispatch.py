"""Counting the NumPy operations of one step of the reference (``rnnbench.spec.dispatch``).

NumPy has no profiler of its own, but it lets an array subclass see every ufunc (``@``, ``+``, ``np.tanh``, ``.sum``)
and every NumPy function called on it. For the count, the weights become views of such a subclass; everything
computed from them is one too, so each operation of the step on the weights and on what follows from them (the
states, the gradients, the optimizer's update) is counted once, at the call the step makes (not the calls NumPy makes
inside it). Views, indexing and assignment into an existing array are not operations. NumPy runs every operation
as its own call from Python, so launches and ops are the same number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbench.spec.dispatch import Dispatch

HOW = "NumPy ufunc and function calls, through an ndarray subclass on the weights"


class _Counted(np.ndarray):
    calls = 0
    depth = 0  # inside a counted call: NumPy's own calls within it are not counted again

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = _counted_call(getattr(ufunc, method), tuple(_plain(i) for i in inputs), kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        return _wrap(_counted_call(func, tuple(_plain(a) for a in args), {k: _plain(v) for k, v in kwargs.items()}))


def _counted_call(func, args, kwargs):
    if _Counted.depth == 0:
        _Counted.calls += 1
    _Counted.depth += 1
    try:
        return func(*args, **kwargs)
    finally:
        _Counted.depth -= 1


def _plain(value):
    if isinstance(value, _Counted):
        return value.view(np.ndarray)
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(v) for v in value)
    return value


def _wrap(value):
    if isinstance(value, np.ndarray) and not isinstance(value, _Counted):
        return value.view(_Counted)
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def count_calls(arrays: dict, call: Callable[[dict], object]) -> int:
    """The NumPy calls ``call`` makes on ``arrays`` (given to it as counted views) and on what it computes from
    them."""
    _Counted.calls = 0
    call({k: v.view(_Counted) for k, v in arrays.items()})
    return _Counted.calls


def count(impl, call: Callable[[], object]) -> Dispatch:
    """One step of the NumPy reference (``impl``), with its weights counted; the step updates the very arrays it
    would have, and afterwards nothing of the implementation is left a counted view."""
    weights = impl.weights

    def step(counted: dict) -> None:
        impl.weights = type(weights)(counted)
        try:
            call()
        finally:
            impl.weights = weights
            for name, value in vars(impl).items():
                setattr(impl, name, _plain(value))

    calls = count_calls(weights.as_dict(), step)
    return Dispatch(launches=calls, ops=calls, how=HOW)
