"""Starting PyTorch the same way for every torch-* variant: the run's thread count, the device, the optimizer."""

from __future__ import annotations

import numpy as np
import torch

from rnnbench.errors import UnsupportedError
from rnnbench.spec.config import RunConfig
from rnnbench.spec.dispatch import Dispatch
from rnnbench.spec.optimizer import ADAGRAD_EPSILON, ADAGRAD_INITIAL_ACCUMULATOR, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON
from rnnbench.spec.path import onednn_switched_off

# The first optimizer pulls in torch._dynamo lazily (seconds). Pay that at import, like TensorFlow's import,
# so that build_seconds measures building the model and not a one-time import.
torch.optim.Adagrad([torch.zeros(1, requires_grad=True)])
if onednn_switched_off():  # rnnbench bench --no-onednn; every record's path reads it back
    torch.backends.mkldnn.enabled = False


def start(config: RunConfig) -> torch.device:
    """Apply ``config.threads`` to the intra- and inter-op pools and return the device.

    PyTorch fixes the inter-op pool at its first parallel work, so a later run in the same process with
    another count is refused rather than silently measured with the wrong one.
    """
    if config.device == "cuda" and not torch.cuda.is_available():
        raise UnsupportedError("device: cuda was asked for, but PyTorch sees no CUDA GPU here; use --device cpu")
    torch.set_num_threads(config.threads)
    if torch.get_num_interop_threads() != config.threads:
        try:
            torch.set_num_interop_threads(config.threads)
        except RuntimeError:
            raise UnsupportedError(
                f"threads: PyTorch already started in this process with {torch.get_num_interop_threads()} "
                f"inter-op threads; run threads={config.threads} in a new process"
            ) from None
    return torch.device(config.device)


def torch_dtype(config: RunConfig) -> torch.dtype:
    return torch.float32 if config.dtype == "float32" else torch.float64


def adagrad(parameters, config: RunConfig) -> torch.optim.Adagrad:
    return torch.optim.Adagrad(
        parameters, lr=config.learning_rate, initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR, eps=ADAGRAD_EPSILON
    )


def optimizer(parameters, config: RunConfig) -> torch.optim.Optimizer:
    """The config's optimizer as torch.optim defines it: TF1 Adagrad, or Adam (the canonical one)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.learning_rate, betas=(ADAM_BETA1, ADAM_BETA2), eps=ADAM_EPSILON)
    return adagrad(parameters, config)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a clock read afterwards sees it finished."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def versions() -> dict[str, str]:
    out = {"torch": torch.__version__}
    if torch.cuda.is_available():
        out["cuda"] = torch.version.cuda or ""
        out["gpu"] = torch.cuda.get_device_name()
    return out


def count_dispatch(impl, call) -> Dispatch:
    """What one call dispatches (``rnnbench.spec.dispatch``), from ``torch.profiler``'s CPU events: launches are the
    operators called from Python or the autograd engine (an ``aten::`` event inside no other) and the compiled
    graphs run; ops are the operators that did the work (an ``aten::`` event with none inside it, the conjugate and
    negative bit checks a matmul makes left out). Inductor's
    generated kernels are not operators: a compiled graph shows only the operators it calls (matmuls, allocations)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        call()
    events = prof.events()
    operators = [e for e in events if e.name.startswith("aten::")]
    outer = [e for e in operators if not _inside_operator(e)]
    compiled = [e for e in events if e.name.startswith("## Call CompiledFxGraph")]
    leaves = [e for e in operators if e.name not in _FLAG_CHECKS
              and not any(c.name.startswith("aten::") and c.name not in _FLAG_CHECKS for c in e.cpu_children)]
    return Dispatch(launches=len(outer) + len(compiled), ops=len(leaves),
                    how="torch.profiler: outermost aten operators and compiled graphs run; innermost aten operators")


_FLAG_CHECKS = ("aten::resolve_conj", "aten::resolve_neg")  # no work: they only read a tensor's flags


def _inside_operator(event) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return True
        parent = parent.cpu_parent
    return False


def _lstm_kernel() -> str:
    """The ATen kernel ``nn.LSTM`` takes here in training (a forward and backward of a tiny one, profiled):
    oneDNN's (``mkldnn_rnn_layer``) or PyTorch's own."""
    lstm = torch.nn.LSTM(2, 2)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        out, _ = lstm(torch.zeros(1, 1, 2))
        out.sum().backward()
    names = {e.name for e in prof.events()}
    return "oneDNN (mkldnn_rnn_layer)" if any("mkldnn_rnn" in n for n in names) else "native (aten::lstm cells)"


def path() -> dict:
    """PyTorch's switches of kernel and precision, read from the running process (``rnnbench.spec.path``)."""
    from rnnbench.spec.path import TINY, flushes

    out = {
        "torch_onednn": bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled),
        "torch_lstm_kernel": _lstm_kernel(),
        "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
        "torch_flushes_denormals": flushes((torch.tensor([TINY], dtype=torch.float32) / 100).item()),
        "torch_threads": f"intra {torch.get_num_threads()}, inter {torch.get_num_interop_threads()}",
    }
    if torch.cuda.is_available():
        out.update(cuda_tf32_matmul=torch.backends.cuda.matmul.allow_tf32, cudnn=torch.backends.cudnn.enabled,
                   cudnn_tf32=torch.backends.cudnn.allow_tf32)
    return out
