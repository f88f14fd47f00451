"""The gradient-flow study: its curve against the closed form of a linear recurrence, the spectral scaling, and
the command with its report section."""

import json

import numpy as np
import pytest

from rnnbench.commands.cli import main
from rnnbench.spec.params import Params, init_params
from rnnbench.studies import gradients


def test_the_curve_of_a_linear_recurrence_is_the_closed_form_of_powers_of_its_weights():
    """With no input weights and no bias the RNN's state stays 0, where tanh is the identity to first order: the
    gradient k steps back is dL_t/dh_t (W_h^T)^k exactly, its norm ||W^k|| behaviour."""
    cfg = gradients.config("rnn", state_size=6, batch_size=4)
    rng = np.random.default_rng(3)
    p = init_params(cfg).astype(np.float64)
    n_in = cfg.input_size
    W = p.W.copy()
    W[:n_in] = 0.0
    W[n_in:] = rng.normal(0, 0.5, (6, 6))
    p = Params({k: W if k == "W" else (rng.normal(0, 1, v.shape) if k == "c" else v) for k, v in p.items()})
    max_k, positions = 8, 3
    x, y = gradients.window(cfg, max_k + positions)
    ours = gradients.state_gradient_norms(cfg, p, x, y, max_k, positions)
    probs = np.exp(p.c - np.log(np.exp(p.c).sum()))  # every position's output is c: h stays 0
    Wh = W[n_in:]
    expected = np.zeros(max_k + 1)
    for t in range(x.shape[1] - positions, x.shape[1]):
        g = (probs - np.eye(2)[y[:, t]]) @ p.U.T  # (B, H)
        for k in range(max_k + 1):
            expected[k] += np.linalg.norm(g @ np.linalg.matrix_power(Wh.T, k), axis=1).mean()
    np.testing.assert_allclose(ours, expected / positions, rtol=1e-12)
    assert ours[-1] != pytest.approx(ours[0], rel=0.1)  # the powers moved it


@pytest.mark.parametrize("cell", gradients.CELLS)
def test_scaling_puts_every_recurrent_gate_block_at_the_spectral_radius_asked_for(cell):
    cfg = gradients.config(cell)
    scaled = gradients.scaled_to_radius(init_params(cfg), cfg, 1.5)
    H, n_in = cfg.state_size, cfg.input_size
    for g in range(scaled.W.shape[1] // H):
        block = scaled.W[n_in:, g * H:(g + 1) * H]
        assert np.abs(np.linalg.eigvals(block)).max() == pytest.approx(1.5, rel=1e-5)
    np.testing.assert_array_equal(scaled.W[:n_in], init_params(cfg).W[:n_in])  # the input weights untouched


def test_the_study_writes_its_curves_and_the_report_draws_them(tmp_path, capsys):
    from rnnbench.reports.build import build_report

    out = tmp_path / "gradients.json"
    assert main(["study", "gradients", "--cell", "rnn", "--json", str(out)]) == 0
    captured = capsys.readouterr()
    doc = json.loads(out.read_text())
    conditions = [c["condition"] for c in doc["curves"]]
    assert conditions == ["init", "trained", "radius 0.5", "radius 1", "radius 1.5"]
    radius = {c["condition"]: c["norms"] for c in doc["curves"]}
    assert all(len(n) == gradients.MAX_K + 1 for n in radius.values())
    assert radius["radius 0.5"][-1] < 1e-6 < radius["radius 1.5"][-1]  # 0.5 vanishes far faster than 1.5
    assert [c["clip_norm"] for c in doc["clipping"]] == [None, gradients.CLIP_NORM]
    assert doc["clipping"][1]["clipped_steps"] > 0 and doc["clipping"][0]["final_loss"] != doc["clipping"][1][
        "final_loss"]
    assert "At initialisation the gradient reaching 30 steps back was rnn" in captured.out
    keys = {s.key: s for s in build_report([out]).sections}
    assert keys["study-gradients"].figure is not None and "study-clipping" in keys
    assert list(keys["study-gradients"].table["condition"]) == conditions
