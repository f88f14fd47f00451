"""Starting TensorFlow the same way for every tf-* variant: quiet logs, legacy Keras for the TF1 cells,
and the run's thread count set before the runtime starts.

``TF_USE_LEGACY_KERAS=1`` makes ``tf.keras`` (and ``tf.compat.v1.nn.rnn_cell``) resolve to the ``tf_keras``
package, which still has ``BasicRNNCell``; the Keras 3 variant imports ``keras`` directly, so it is unaffected.
"""

from __future__ import annotations

import os

from rnnbench.errors import UnsupportedError
from rnnbench.spec.config import RunConfig
from rnnbench.spec.dispatch import Dispatch

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # must precede the first `import tensorflow`
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorflow.python.client import session as tf_session  # noqa: E402
from tensorflow.python.eager import context  # noqa: E402
from tensorflow.python.framework import op_callbacks  # noqa: E402

tf.get_logger().setLevel("ERROR")


def start(config: RunConfig):
    """Apply ``config.threads`` to TensorFlow's intra- and inter-op pools.

    TensorFlow fixes its pools when the runtime starts, so a later run in the same process with another
    count is refused rather than silently measured with the wrong one.
    """
    threading = tf.config.threading
    for get, set_, what in (
        (threading.get_intra_op_parallelism_threads, threading.set_intra_op_parallelism_threads, "intra"),
        (threading.get_inter_op_parallelism_threads, threading.set_inter_op_parallelism_threads, "inter"),
    ):
        if get() == config.threads:
            continue
        try:
            set_(config.threads)
        except RuntimeError:
            raise UnsupportedError(
                f"threads: TensorFlow already started in this process with {get() or 'default'} {what}-op "
                f"threads; run threads={config.threads} in a new process"
            ) from None
    return tf


def session_config(config: RunConfig):
    """The ConfigProto for TF1 Sessions: the same thread counts as the eager runtime."""
    return tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=config.threads, inter_op_parallelism_threads=config.threads
    )


def tf_dtype(config: RunConfig):
    return tf.float32 if config.dtype == "float32" else tf.float64


def versions() -> dict[str, str]:
    out = {"tensorflow": tf.__version__}
    try:
        import tf_keras

        out["tf_keras"] = tf_keras.__version__
    except ImportError:
        pass
    return out


def count_dispatch(impl, call) -> Dispatch:
    """What one call dispatches (``rnnbench.spec.dispatch``). Launches: each eager operation and each
    ``tf.function`` call (TensorFlow's op callbacks, which see every execution from Python), and each ``Session.run``.
    Ops: the kernels a ``Session.run`` executed (its full trace's node stats, each loop iteration's counted), the
    nodes of a called function's graph and of the functions it calls (a loop body's once: a function's executed
    kernels are not traced), and one for each eager operation."""
    launches: list[str] = []
    ops = 0

    def on_execute(op_type, inputs, attrs, outputs, op_name=None, graph=None):
        nonlocal ops
        if graph is None:  # an execution, not an op added to a graph being built
            name = op_type.decode() if isinstance(op_type, bytes) else op_type
            launches.append(name)
            ops += _function_nodes(name) if context.context().has_function(name) else 1

    run = tf_session.BaseSession.run

    def traced_run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        nonlocal ops
        metadata = tf.compat.v1.RunMetadata()
        out = run(self, fetches, feed_dict, tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                  metadata)
        launches.append("Session.run")
        ops += sum(len(device.node_stats) for device in metadata.step_stats.dev_stats)
        return out

    op_callbacks.add_op_callback(on_execute)
    tf_session.BaseSession.run = traced_run
    try:
        call()
    finally:
        tf_session.BaseSession.run = run
        op_callbacks.remove_op_callback(on_execute)
    return Dispatch(launches=len(launches), ops=ops,
                    how="op callbacks and Session.run: executions from Python; kernels a Session ran, nodes of "
                        "the functions called, one per eager op")


def _function_nodes(name: str) -> int:
    """The nodes of a function's graph and of every function it calls, each function once."""
    ctx = context.context()
    seen, todo, nodes = set(), [name], 0
    while todo:
        fn = todo.pop()
        if fn in seen or not ctx.has_function(fn):
            continue
        seen.add(fn)
        fdef = ctx.get_function_def(fn)
        nodes += len(fdef.node_def)
        for node in fdef.node_def:
            todo.extend(value.func.name for value in node.attr.values() if value.func.name)
            todo.extend(f.name for value in node.attr.values() for f in value.list.func)
    return nodes


def _onednn() -> bool:
    """Whether TensorFlow runs its oneDNN (MKL) kernels: built with them and not switched off
    (``TF_ENABLE_ONEDNN_OPTS``), as TensorFlow itself reports it."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def path() -> dict:
    """TensorFlow's switches of kernel and precision, read from the running process (``rnnbench.spec.path``)."""
    from rnnbench.spec.path import TINY, flushes

    threading = tf.config.threading
    return {
        "tf_onednn": _onednn(),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset"),
        "tf_tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        "tf_xla_flags": os.environ.get("TF_XLA_FLAGS", "").strip(),
        "xla_flags": os.environ.get("XLA_FLAGS", "").strip(),
        "tf_flushes_denormals": flushes((tf.constant([TINY], tf.float32) / 100).numpy()[0]),
        "tf_threads": f"intra {threading.get_intra_op_parallelism_threads()}, "
                      f"inter {threading.get_inter_op_parallelism_threads()}",
    }
