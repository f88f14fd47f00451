"""rnnbench: the same small RNN on the same task, in several frameworks and styles.

It answers three questions side by side: do the implementations compute the same thing (loss parity
against NumPy), do they learn what theory allows (the three exact cross-entropy levels), and how fast
are they (pytest-benchmark timings).
"""

__version__ = "0.1.0"
