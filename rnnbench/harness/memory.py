"""Peak memory while a block runs, and a reference run's peak memory in a fresh process of its own.

Run as ``python -m rnnbench.harness.memory NAME CONFIG_JSON``, it trains NAME at the config in this new process
and prints one JSON line: the resident memory once the framework is imported (``framework_rss_mb``), the growth
while training (``model_rss_mb``: nothing an earlier implementation left allocated is counted), the process's peak
(``peak_rss_mb``) and, on CUDA, the GPU's maximum allocated memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading


class PeakMemory:
    """Peak growth of this process's RSS while the block runs (sampled every 2 ms), and on CUDA the GPU's
    maximum allocated memory. In a shared process it measures growth beyond what earlier work left allocated."""

    def __init__(self, device: str):
        import psutil

        self.process = psutil.Process()
        self.device = device

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)
        self.rss_growth_mb = (self.peak - self.start) / 2**20
        self.cuda_max_allocated_mb = None
        if self.device == "cuda":
            import torch

            self.cuda_max_allocated_mb = torch.cuda.max_memory_allocated() / 2**20


def fresh_process_memory(name: str, config) -> dict:
    """Train ``name`` at ``config`` in a new Python process and return its memory figures (see the module)."""
    done = subprocess.run([sys.executable, "-m", "rnnbench.harness.memory", name, json.dumps(config.as_dict())],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the memory probe of {name} failed (exit {done.returncode}): {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _probe(name: str, fields: dict) -> dict:
    import resource

    import psutil

    from rnnbench.spec import registry
    from rnnbench.spec.config import RunConfig
    from rnnbench.training.train import train

    config = RunConfig(**fields)
    registry.create(name, config)  # imports the framework
    framework = psutil.Process().memory_info().rss
    with PeakMemory(config.device) as memory:
        result = train(name, config, progress=False, held_out=False)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"framework_rss_mb": framework / 2**20, "model_rss_mb": memory.rss_growth_mb,
            "peak_rss_mb": max(peak_kb / 2**10, memory.peak / 2**20),
            "cuda_max_allocated_mb": memory.cuda_max_allocated_mb, "final_loss": result.final_loss,
            "versions": result.versions}


if __name__ == "__main__":
    print(json.dumps(_probe(sys.argv[1], json.loads(sys.argv[2]))))
