"""The model's rules, written once over a framework's operations (``Ops``): what differs from one framework to
another is only the ``Ops`` it passes and how it drives the loop over time and windows.

- ``ops``: the operations the rules call (``Ops``), the whole contract between the core and a framework;
- ``spec``: ``ModelSpec``, what the rules need of a run config (sizes, directions, readout, loss, state carry);
- ``cells``: one step of each cell, keeping what its backward pass needs, and that backward pass: ``CELL_MATH``,
  a table keyed by the cell's name (``cell_math`` refuses a name it does not hold);
- ``forward``: a window's forward pass unrolled over time, the readout, the loss and the predictions;
- ``backprop``: backpropagation through time written out by hand, for the variants that do not use autodiff;
- ``optim``: Adagrad and Adam (``rnnbench.spec.optimizer``'s semantics) as functional updates.
- ``flops``: what one train step computes, counted product by product (the roofline's numerator).

Layer: this package may import ``rnnbench.spec.cells``, ``rnnbench.spec.optimizer``, ``rnnbench.spec.config``,
``rnnbench.tasks`` and ``rnnbench.errors``; never a framework, never an ``impl_*`` package. The NumPy reference
(``rnnbench.impl_numpy``) does not use it: it stays hand-written and independent, so that the parity tests never
test this code against itself.
"""
