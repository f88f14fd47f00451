"""The NumPy reference: a vanilla RNN with hand-written forward pass, backpropagation through the window
and TF1-style Adagrad. Every other implementation is checked against this one (loss parity).

    s_t    = tanh(onehot(x_t) @ W[:C] + s_{t-1} @ W[C:] + b)     # the concat form, split: same values
    logits = s_t @ U + c
    loss   = mean over batch x num_steps of softmax cross-entropy

Arrays are time-major inside (T, B, ...) so each step works on a contiguous slice.
The method is the tutorial's (R2RT, "Recurrent neural networks in TensorFlow I"), with the gradients
derived by hand; tests check them against central finite differences in float64.
"""

from __future__ import annotations

import numpy as np

from rnnbench.config import RunConfig
from rnnbench.interface import StepwiseEpoch
from rnnbench.optimizer import ADAGRAD_INITIAL_ACCUMULATOR
from rnnbench.params import Params


def run_forward(params: Params, x: np.ndarray, s0: np.ndarray):
    """Forward over one window.

    x: (B, T) int, s0: (B, H). Returns states (T+1, B, H) with states[0] = s0, and log-probabilities
    (T, B, C).
    """
    W, b, U, c = params
    C = U.shape[1]
    T = x.shape[1]
    x_tm = x.T  # (T, B)
    input_part = W[:C][x_tm]  # (T, B, H): onehot(x_t) @ W[:C] is a row gather
    W_rec = W[C:]  # (H, H)
    states = np.empty((T + 1, *s0.shape), dtype=W.dtype)  # (T+1, B, H)
    states[0] = s0
    for t in range(T):
        states[t + 1] = np.tanh(input_part[t] + states[t] @ W_rec + b)
    logits = states[1:] @ U + c  # (T, B, C)
    logits -= logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return states, log_probs


def cross_entropy(log_probs: np.ndarray, y: np.ndarray) -> float:
    """Mean over batch x steps; log_probs (T, B, C), y (B, T)."""
    picked = np.take_along_axis(log_probs, y.T[..., None], axis=-1)
    return float(-picked.mean())


def loss_and_grads(params: Params, x: np.ndarray, y: np.ndarray, s0: np.ndarray):
    """Loss, gradients (as Params) and the final state for one window, by backpropagation through time."""
    W, b, U, c = params
    C = U.shape[1]
    T, B = x.shape[1], x.shape[0]
    states, log_probs = run_forward(params, x, s0)
    loss = cross_entropy(log_probs, y)

    d_logits = np.exp(log_probs)  # (T, B, C): softmax - onehot(y), over the mean's denominator
    np.put_along_axis(d_logits, y.T[..., None], np.take_along_axis(d_logits, y.T[..., None], -1) - 1, -1)
    d_logits /= B * T
    hidden = states[1:]  # (T, B, H)
    H = hidden.shape[-1]
    dU = hidden.reshape(-1, H).T @ d_logits.reshape(-1, C)
    dc = d_logits.sum(axis=(0, 1))

    d_hidden = d_logits @ U.T  # (T, B, H): what each s_t receives from its own output
    W_rec_T = W[C:].T
    d_pre = np.empty_like(hidden)  # gradient at tanh's input, per step
    carry = np.zeros_like(s0)  # gradient reaching s_t from s_{t+1}
    for t in range(T - 1, -1, -1):
        d_pre[t] = (d_hidden[t] + carry) * (1.0 - hidden[t] * hidden[t])
        carry = d_pre[t] @ W_rec_T
    d_pre_flat = d_pre.reshape(-1, H)
    onehot = np.eye(C, dtype=W.dtype)[x.T].reshape(-1, C)  # (T*B, C)
    dW = np.concatenate([onehot.T @ d_pre_flat, states[:-1].reshape(-1, H).T @ d_pre_flat])
    db = d_pre_flat.sum(axis=0)
    return loss, Params(dW, db, dU, dc), states[-1]


class Adagrad:
    """TF1 AdagradOptimizer: accum starts at 0.1; accum += g**2; p -= lr * g / sqrt(accum). No epsilon."""

    def __init__(self, params: Params, learning_rate: float):
        self.lr = np.asarray(learning_rate, dtype=params.W.dtype)
        self.accum = [np.full_like(p, ADAGRAD_INITIAL_ACCUMULATOR) for p in params]

    def update(self, params: Params, grads: Params) -> None:
        """In place, so implementations can keep references to the parameter arrays."""
        for p, g, acc in zip(params, grads, self.accum):
            acc += g * g
            p -= self.lr * g / np.sqrt(acc)


class NumpyRNN(StepwiseEpoch):
    def build(self, config: RunConfig, params: Params) -> None:
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.weights = params.astype(self.dtype).copy()
        self.optimizer = Adagrad(self.weights, config.learning_rate)
        self.reset_state()

    def reset_state(self) -> None:
        self.state = np.zeros((self.config.batch_size, self.config.state_size), dtype=self.dtype)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        loss, grads, self.state = loss_and_grads(self.weights, x, y, self.state)
        self.optimizer.update(self.weights, grads)
        return loss

    def forward(self, x: np.ndarray) -> np.ndarray:
        _, log_probs = run_forward(self.weights, x, self.state)
        return np.exp(log_probs).transpose(1, 0, 2)  # (B, T, C)

    def params(self) -> Params:
        return self.weights.astype(np.float32).copy()

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}
