"""Named tricks that some implementations use and others do not (the README names them beside each variant).

Written once here over duck-typed tensors, so the core still imports no framework: each implementation passes
its framework's own operations.
"""

from __future__ import annotations

SMALL_CONTRACTION = 256  # K*N at or below which a product is written as multiply-and-reduce


def small_matmul(a, b, matmul, reduce_sum):
    """``a @ b``, but a product with a small right-hand side (K*N <= SMALL_CONTRACTION) is multiply-and-reduce.

    A compiler on a CPU (XLA, Inductor) hands every dot to a GEMM routine, a dispatch that costs far more than
    a (200, 4) @ (4, 4) product; a broadcast multiply followed by a sum is fused with the elementwise work around
    it instead. Larger products keep the GEMM: at state size 64 and above the multiply-and-reduce loses.
    ``matmul(a, b)`` and ``reduce_sum(x, axis)`` are the framework's own.
    """
    if b.shape[0] * b.shape[1] > SMALL_CONTRACTION:
        return matmul(a, b)
    return reduce_sum(a[:, :, None] * b[None], 1)
