"""The lock (``uv.lock``): every run records its hash and any package installed at another version than it says;
under tox, which syncs every environment from it, there is none."""

import importlib.metadata as md
import os

import pytest

from rnnbench.harness import lock
from rnnbench.harness.provenance import VERSIONED, machine_info

LOCK_TEXT = '''version = 1
requires-python = ">=3.10"

[[package]]
name = "numpy"
version = "2.4.6"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "Tf_Keras"
version = "2.21.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "numpy"
version = "2.2.6"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.11'"]
'''


def test_the_locked_versions_are_read_by_normalised_name(tmp_path, monkeypatch):
    path = tmp_path / "uv.lock"
    path.write_text(LOCK_TEXT)
    # a universal lock may hold a package at one version per fork (another for another Python)
    assert lock.locked_versions(path) == {"numpy": ["2.4.6", "2.2.6"], "tf-keras": ["2.21.0"]}
    monkeypatch.setattr(lock, "lock_file", lambda: path)
    facts = lock.lock_facts({"numpy": "2.4.5", "tf_keras": "2.21.0", "torch": None, "jax": "0.10.2"})
    # numpy differs; tf_keras is the locked one; torch is absent; jax is not in this lock
    assert facts["differs"] == {"numpy": {"installed": "2.4.5", "locked": "2.4.6 or 2.2.6"}}
    assert len(facts["sha256"]) == 64 and facts["file"] == "uv.lock"
    monkeypatch.setattr(lock, "lock_file", lambda: None)
    assert lock.lock_facts({"numpy": "2.4.6"}) is None  # an install without a lock (a wheel) records none


@pytest.mark.skipif("TOX_ENV_NAME" not in os.environ, reason="only tox syncs the environment from the lock")
def test_a_tox_environment_holds_exactly_the_locked_versions():
    """tox's runner syncs from uv.lock: the run records its hash, and every recorded package that is installed
    is at the locked version."""
    assert lock.lock_file() is not None, "uv.lock is missing from the checkout: refresh it with `tox -e lock`"
    facts = machine_info(threads=1, device="cpu", profile="quick", frameworks=[])["lock"]
    assert facts is not None and facts["differs"] == {}
    locked = lock.locked_versions(lock.lock_file())
    for dist in (*VERSIONED, "numpy", "scipy", "pytest"):
        try:
            installed = md.version(dist)
        except md.PackageNotFoundError:
            continue
        assert installed in locked[lock._name(dist)], dist
