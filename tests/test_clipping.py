"""Global-norm gradient clipping (``--clip-norm``): the NumPy reference's rule, the configuration's checks, and
that the parity configuration clips at every step (the families' parity tests hold them to NumPy there)."""

import dataclasses

import numpy as np
import pytest
from conftest import CLIP_NORM, clip_parity_config

from rnnbench.errors import ConfigError, UnsupportedError
from rnnbench.impl_numpy.model import Model
from rnnbench.impl_numpy.reference import clip_by_global_norm, global_norm
from rnnbench.spec import registry
from rnnbench.spec.config import RunConfig
from rnnbench.spec.params import Params, init_params
from rnnbench.training.train import train


def test_clipping_scales_every_gradient_by_one_factor_to_the_norm_asked_for():
    rng = np.random.default_rng(0)
    grads = Params({k: rng.normal(0, 1, s) for k, s in (("W", (6, 4)), ("b", (4,)), ("U", (4, 2)), ("c", (2,)))})
    norm = np.sqrt(sum((g ** 2).sum() for g in grads))
    assert global_norm(grads) == pytest.approx(norm)
    clipped = clip_by_global_norm(grads, 1.5)
    assert global_norm(clipped) == pytest.approx(1.5)
    for ours, theirs in zip(clipped, grads):
        np.testing.assert_allclose(ours, theirs * 1.5 / norm)
    assert clip_by_global_norm(grads, 2 * norm) is grads  # below the limit: untouched


def test_the_parity_configuration_clips_at_every_step_and_clipping_changes_training():
    config = clip_parity_config(threads=1)
    model, p = Model(config), init_params(config)
    xs, ys = config.task_spec.epoch_batches(config, 0)
    state = model.zero_state(config.batch_size, config.state_size)
    for x, y in zip(xs[:5], ys[:5]):
        _, grads, state = model.loss_and_grads(p, x, y, state)
        assert global_norm(grads) > 2 * CLIP_NORM
    clipped, plain = train("numpy", config, progress=False), train("numpy", config.replace(clip_norm=None),
                                                                     progress=False)
    assert np.abs(clipped.losses - plain.losses).max() > 1e-3


def test_bad_clip_norms_name_the_field_and_variants_that_do_not_clip_refuse():
    for bad in (0, -1.0, float("inf"), True):
        with pytest.raises(ConfigError, match="clip_norm: must be a finite number > 0"):
            RunConfig(clip_norm=bad)
    config = RunConfig(clip_norm=1.0)
    assert all(e.clips for e in registry.ENTRIES)  # clipping is an option everywhere
    for e in registry.ENTRIES:
        e.check(config)
    new = dataclasses.replace(registry.entry("torch-fused"), name="new-variant", clips=False)
    with pytest.raises(UnsupportedError, match="clip_norm: new-variant does not clip gradients; numpy, tf-cell"):
        new.check(config)
