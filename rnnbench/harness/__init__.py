"""What the benchmark suites (``benchmarks/``, installed as ``rnnbench.benchmarks``) are made of, one concern a
module, importable by the suites and by tests:

- ``cases``: which implementations and configurations are timed, their ids, and building them outside the timing;
- ``provenance``: what every record and every run says about itself (``extra_info``, ``machine_info``);
- ``memory``: peak memory during a block;
- ``compile_cache``: a fresh compiler cache per process, so compilation is timed cold;
- ``events``: a record of each finished benchmark, which ``rnnbench bench`` reads for its progress lines.

``benchmarks/conftest.py`` wires them into pytest (the request's options, fixtures, hooks); it holds no logic of
its own. Confining a process to ``--threads`` CPUs is ``rnnbench.cpus`` (the ground floor: the JAX runtime uses it
too).
"""
