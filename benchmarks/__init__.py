"""The pytest-benchmark suites, shipped as ``rnnbench.benchmarks`` so that an installed rnnbench can run them."""
