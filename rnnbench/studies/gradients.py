"""The gradient-flow study (``rnnbench study gradients``): how the gradient of one step's loss reaches the states
before it, ``mean ||dL_t / dh_{t-k}||`` against k, for the vanilla RNN, the LSTM and the GRU.

The tutorials explain vanishing and exploding gradients by the product of per-step Jacobians: a recurrent weight
"like 1.1" multiplied again and again explodes, one below 1 vanishes, and the gated cells hold gradients longer.
Here it is measured on the binary task with the NumPy reference's backpropagation (``impl_numpy.cells``, which
writes the whole gradient reaching every h_t when asked): for each cell, the curve at the canonical
initialisation, after training, and with the recurrent weights scaled so that their spectral radius is 0.5, 1.0 and
1.5 (each gate's H x H block of a gated cell scaled alike); and the effect of global-norm clipping (``--clip-norm``)
on training from the exploding (1.5) start: the gradients' global norm step by step and the loss reached.

dL_t / dh_s for s <= t is taken per sequence of the batch (the loss of one position of one row, not the batch mean)
and its norm averaged over the batch and over the window's last ``POSITIONS`` positions; for the LSTM it is the
gradient at h_s with c_s held (what flows back through h; the cell state carries more).
"""

from __future__ import annotations

import time

import numpy as np

from rnnbench.results.studies import SCHEMAS

STUDY = "gradients"
SCHEMA_VERSION = SCHEMAS[STUDY]
CELLS = ("rnn", "lstm", "gru")
RADII = (0.5, 1.0, 1.5)
MAX_K = 30
POSITIONS = 20  # the loss positions averaged over: the window's last POSITIONS, each with MAX_K steps before it
BASE = dict(task="binary", state_size=16, num_steps=10, batch_size=200, optimizer="adagrad", learning_rate=0.1,
            size=1_000_000)  # the (10,16) reference; every curve is measured in float64
DEFAULT_EPOCHS = 1  # of training before the "trained" curve
# Clipping's limit: below most of the global norms of the gradients from the 1.5 start (their median 0.17 for the RNN,
# 0.03-0.06 for the gated cells, their largest 0.28-0.89 over 500 steps here), so that it acts.
CLIP_NORM = 0.1
CLIP_STEPS = 500  # training steps from the exploding start, with and without clipping


def config(cell: str, **changes):
    from rnnbench.spec.config import RunConfig

    fields = {**BASE, **changes}
    return RunConfig.for_task(fields.pop("task"), cell=cell, threads=1, **fields)


def scaled_to_radius(params, cfg, radius: float):
    """``params`` with the recurrent weights' every gate block (H x H) scaled to spectral radius ``radius``."""
    H, n_in = cfg.state_size, cfg.input_size
    W = params.W.copy()
    for g in range(W.shape[1] // H):
        block = W[n_in:, g * H:(g + 1) * H]
        W[n_in:, g * H:(g + 1) * H] = block * (radius / np.abs(np.linalg.eigvals(block)).max())
    return type(params)({k: W if k == "W" else v for k, v in params.items()})


def state_gradient_norms(cfg, params, x: np.ndarray, y: np.ndarray, max_k: int = MAX_K,
                         positions: int = POSITIONS) -> np.ndarray:
    """mean ||dL_t / dh_{t-k}|| for k = 0..max_k, over the batch and the window's last ``positions`` positions t
    (x, y: one window of max_k + positions steps, from a zero state)."""
    from rnnbench.impl_numpy.model import Model, log_softmax

    cfg = cfg.replace(dtype="float64")
    model = Model(cfg)
    p = params.astype(np.float64)
    T = x.shape[1]
    assert T >= max_k + positions, (T, max_k, positions)
    f = model.forward(p, x, model.zero_state(x.shape[0], cfg.state_size))
    probs = np.exp(log_softmax(f.out))  # (T, B, C): each position's softmax
    onehot = np.eye(cfg.output_size)[y.T]  # (T, B, C)
    H = cfg.state_size
    Wh = p.W[cfg.input_size:]
    totals = np.zeros(max_k + 1)
    record = np.zeros((T, x.shape[0], H))
    for t in range(T - positions, T):
        dhs = np.zeros((T, x.shape[0], H))
        dhs[t] = (probs[t] - onehot[t]) @ p.U.T  # dL_t / dh_t, per row
        model.math.backward(dhs, f.caches[0], Wh, record=record)
        totals += np.linalg.norm(record[t - max_k:t + 1][::-1], axis=-1).mean(axis=-1)  # k = 0 .. max_k
    return totals / positions


def window(cfg, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``length`` steps of each row of the task's held-out stream."""
    from rnnbench.tasks.binary import batch_windows, generate

    x, y = generate(cfg.batch_size * length, np.random.default_rng([cfg.seed, 7]))
    xs, ys = batch_windows(x, y, cfg.batch_size, length)
    return xs[0], ys[0]


def clipped_training(cfg, params, steps: int) -> dict:
    """Train ``steps`` windows from ``params`` with the NumPy reference (clipping as ``cfg.clip_norm`` says),
    recording each step's gradient global norm before clipping: its median and largest, and the loss reached."""
    from rnnbench.impl_numpy.model import Model
    from rnnbench.impl_numpy.optim import OPTIMIZERS
    from rnnbench.impl_numpy.reference import clip_by_global_norm, global_norm

    model = Model(cfg)
    p = params.astype(model.dtype).copy()
    optimizer = OPTIMIZERS[cfg.optimizer](p, cfg.learning_rate)
    xs, ys = cfg.task_spec.epoch_batches(cfg, 0)
    state = model.zero_state(cfg.batch_size, cfg.state_size)
    norms, losses = [], []
    for x, y in zip(xs[:steps], ys[:steps]):
        loss, grads, state = model.loss_and_grads(p, x, y, state)
        norms.append(global_norm(grads))
        losses.append(loss)
        if cfg.clip_norm is not None:
            grads = clip_by_global_norm(grads, cfg.clip_norm)
        optimizer.update(p, grads)
    finite = [v for v in losses if np.isfinite(v)]
    return {"median_grad_norm": float(np.median(norms)), "max_grad_norm": float(np.max(norms)),
            "clipped_steps": sum(v > cfg.clip_norm for v in norms) if cfg.clip_norm is not None else 0,
            "final_loss": float(np.mean(losses[-100:])), "finite": len(finite) == len(losses), "params": p}


def run(epochs: int = DEFAULT_EPOCHS, cells=CELLS, radii=RADII, max_k: int = MAX_K, progress=None) -> dict:
    """Every curve and the clipping comparison; what the study records."""
    from rnnbench.spec.params import init_params
    from rnnbench.training.train import train

    say = progress or (lambda text: None)
    curves, clipping = [], []
    for cell in cells:
        cfg = config(cell)
        x, y = window(cfg, max_k + POSITIONS)
        start = init_params(cfg)
        t0 = time.perf_counter()
        conditions = [("init", start)]
        trained = train("numpy", cfg.replace(epochs=epochs), params=start, progress=False, held_out=False)
        conditions.append(("trained", trained.final_params))
        conditions += [(f"radius {r:g}", scaled_to_radius(start, cfg, r)) for r in radii]
        for name, params in conditions:
            curves.append({"cell": cell, "condition": name,
                           "norms": [float(v) for v in state_gradient_norms(cfg, params, x, y, max_k)]})
        exploding = scaled_to_radius(start, cfg, max(radii))
        for clip in (None, CLIP_NORM):
            out = clipped_training(cfg.replace(clip_norm=clip), exploding, CLIP_STEPS)
            after = state_gradient_norms(cfg, out.pop("params"), x, y, max_k)
            clipping.append({"cell": cell, "clip_norm": clip, "radius": max(radii), "steps": CLIP_STEPS, **out,
                             f"norm at k={max_k} after": float(after[-1])})
        say(f"  {cell}: {len(conditions)} curves and the clipping runs ({time.perf_counter() - t0:.0f} s)")
    return {"curves": curves, "clipping": clipping}
