"""Starting JAX the same way for every jax-* variant: float64 available, the run's thread count, the device,
and the optimizers as optax defines them with the canonical semantics.

Threads. JAX has no setting for its CPU thread pool: XLA sizes it from the CPUs the process may run on when the
backend starts (at the first computation, not at import). ``start`` therefore confines the process to
``config.threads`` CPUs before that (the benchmark processes are confined already, ``rnnbench.cpus``),
and for one thread also turns off XLA's multi-threaded Eigen. A later run in the same process with another
count is refused rather than silently measured with the wrong one.

Sharing a process. JAX imported beside TensorFlow or PyTorch, in either order, computed correctly here; it still
gets a process of its own (``rnnbench.spec.families``): ``XLA_FLAGS`` and the CPU affinity are process-wide, and
TensorFlow's XLA reads the same flags.
"""

from __future__ import annotations

import os
import sys

import jax
import jax.profiler
import optax
from jax._src.lib import _profiler

from rnnbench.cpus import allowed_cpus, pin_to_cpus
from rnnbench.errors import UnsupportedError
from rnnbench.spec.config import RunConfig
from rnnbench.spec.dispatch import Dispatch
from rnnbench.spec.optimizer import ADAGRAD_EPSILON, ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON

jax.config.update("jax_enable_x64", True)  # float64 runs (the parity configs); every array gets an explicit dtype

_started_with: int | None = None  # the thread count the backend started with, in this process


def start(config: RunConfig):
    """Apply ``config.threads`` (before the backend starts) and return the config's device."""
    global _started_with
    if _started_with is None:
        cpus = allowed_cpus()
        if cpus is not None and config.threads < len(cpus):
            pin_to_cpus(config.threads)
        if config.threads == 1:
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        _started_with = config.threads
    elif _started_with != config.threads:
        raise UnsupportedError(f"threads: JAX already started in this process with {_started_with} threads; "
                               f"run threads={config.threads} in a new process")
    if config.device == "cuda":
        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if not gpus:
            raise UnsupportedError("device: cuda was asked for, but JAX sees no CUDA GPU here; use --device cpu")
        return gpus[0]
    return jax.devices("cpu")[0]


def jax_dtype(config: RunConfig):
    return jax.numpy.float32 if config.dtype == "float32" else jax.numpy.float64


def optimizer(config: RunConfig) -> optax.GradientTransformation:
    """The config's optimizer in optax: TF1 Adagrad (accumulator from 0.1, no epsilon), or Adam as torch.optim
    defines it (optax adds epsilon to the bias-corrected root, as torch does); after
    ``optax.clip_by_global_norm`` where the config clips."""
    if config.optimizer == "adam":
        tx = optax.adam(config.learning_rate, b1=ADAM_BETA1, b2=ADAM_BETA2, eps=ADAM_EPSILON)
    else:
        tx = optax.adagrad(config.learning_rate, initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR,
                           eps=ADAGRAD_EPSILON)
    return tx if config.clip_norm is None else optax.chain(optax.clip_by_global_norm(config.clip_norm), tx)


def versions() -> dict[str, str]:
    out = {"jax": jax.__version__, "optax": optax.__version__}
    try:
        import jaxlib

        out["jaxlib"] = jaxlib.__version__
    except ImportError:  # pragma: no cover - jaxlib ships with jax
        pass
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if gpus:
        out["gpu"] = gpus[0].device_kind
    return out


# The profiler's event names: an executable run on a device, and the end of each kernel (thunk) XLA's CPU runtime ran
_LAUNCH = "CommonPjRtLoadedExecutable::ExecuteHelperOnSingleDevice"
_KERNEL_END = "end: "


def count_dispatch(impl, call) -> Dispatch:
    """What one call dispatches (``rnnbench.spec.dispatch``), from a JAX profiler trace (XLA's XSpace, read in
    memory): launches are the compiled executables run (a jitted step, and every op-by-op call outside one), ops
    the kernels XLA's CPU runtime ran in them, each loop iteration's counted."""
    # jaxlib 0.8's profiler imports TensorFlow where it is installed, and frameworks never share a process: refused
    # for the session (jax 0.8.3 imported it after the first step, and every later jax benchmark then skipped)
    refused = "tensorflow" not in sys.modules
    if refused:
        sys.modules["tensorflow"] = None
    try:
        session = _profiler.ProfilerSession()
        try:
            call()
        finally:
            trace = jax.profiler.ProfileData.from_serialized_xspace(session.stop())
    finally:
        if refused:
            del sys.modules["tensorflow"]
    names = [e.name for plane in trace.planes for line in plane.lines for e in line.events]
    return Dispatch(launches=sum(n == _LAUNCH for n in names), ops=sum(n.startswith(_KERNEL_END) for n in names),
                    how="JAX profiler trace: executables run; XLA CPU kernels (thunks) run")


def path() -> dict:
    """JAX's switches of kernel and precision, read from the running process (``rnnbench.spec.path``)."""
    from rnnbench.spec.path import TINY, flushes

    tiny = jax.numpy.asarray(TINY, jax.numpy.float32)
    return {
        "jax_backend": jax.default_backend(),
        "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision),
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "xla_flags": os.environ.get("XLA_FLAGS", "").strip(),
        "jax_flushes_denormals": flushes(jax.jit(lambda t: t / 100)(tiny)),
    }
