"""Studies: what the tutorials teach, measured (``truncation``: truncation styles; ``gradients``: gradient flow
through time). Each runs training and measurement here; its result JSON is read and summarized by
``rnnbench.results.studies``, which the report uses.

Layer: the task, the config, training and the NumPy reference's own backpropagation; never a framework.
"""
