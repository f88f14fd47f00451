"""The path a run took (``rnnbench.spec.path``): read back from the running process, recorded in every record, and
compared key by key."""

import numpy as np

from rnnbench.harness.provenance import record_info
from rnnbench.spec.path import differences, path, process_path


def test_the_process_path_names_the_blas_its_kernel_its_threads_and_numpys_denormals():
    p = process_path()
    assert set(p) == {"blas", "thread_pools", "numpy_flushes_denormals"}
    assert p["blas"] != "none loaded" and "(" in p["blas"]  # NumPy's BLAS is loaded, with the kernel it chose
    # NumPy never sets flush-to-zero: a hundredth of 1e-38 stays a denormal here
    assert p["numpy_flushes_denormals"] is False and np.float32(1e-38) / np.float32(100) > 0


def test_every_record_carries_its_path_and_a_probe_gets_the_process_path():
    """Read once per process and framework (the thread pools it lists are those loaded by then)."""
    record = record_info("generator-vectorised", "numpy", "1.0", device="cpu", threads=1, measure="generate",
                         size=1000)
    assert record["path"] == path("numpy") and set(record["path"]) == set(process_path())  # no switches of its own
    probe = record_info("calibration-matmul", "calibration", "1.0", device="cpu", threads=1, measure="calibration")
    assert set(probe["path"]) == set(process_path()) and probe["path"]["numpy_flushes_denormals"] is False


def test_differences_name_each_switch_with_both_values():
    a = {"torch_onednn": True, "blas": "openblas", "xla_flags": ""}
    b = {"torch_onednn": False, "blas": "openblas", "jax_enable_x64": True}
    assert differences(a, b) == ["jax_enable_x64: absent / True", "torch_onednn: True / False",
                                 "xla_flags:  / absent"]
    assert differences(a, dict(a)) == [] and differences(None, None) == []
