"""Running the model: the one training loop every implementation is driven by (``train``) and the held-out
evaluation after it (``evaluate``).

Layer: imports ``rnnbench.spec``, ``rnnbench.tasks`` and ``rnnbench.errors``; an implementation only through the
registry, never a framework directly.
"""
