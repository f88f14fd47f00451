"""Peak memory while a block runs."""

from __future__ import annotations

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
