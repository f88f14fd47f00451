"""What a run is, declared: the run configuration and its profiles (``config``), the cells' canonical parameter
layouts (``cells``) and their initial weights (``params``), the optimizers' semantics (``optimizer``), the
interface every implementation speaks (``interface``) and the registry of implementations (``registry``), the
framework families (``families``), the reference configurations with their goals (``references``) and the
tricks an implementation may name (``tricks``).

Layer: the bottom one with ``rnnbench.tasks`` and ``rnnbench.errors``. It imports nothing else of the suite and
never a framework.
"""
