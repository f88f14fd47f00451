"""Starting TensorFlow the same way for every tf-* variant: quiet logs, legacy Keras for the TF1 cells,
and the run's thread count set before the runtime starts.

``TF_USE_LEGACY_KERAS=1`` makes ``tf.keras`` (and ``tf.compat.v1.nn.rnn_cell``) resolve to the ``tf_keras``
package, which still has ``BasicRNNCell``; the Keras 3 variant imports ``keras`` directly, so it is unaffected.
"""

from __future__ import annotations

import os

from rnnbench.errors import UnsupportedError
from rnnbench.spec.config import RunConfig

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # must precede the first `import tensorflow`
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

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
