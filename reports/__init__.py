"""Reports from result JSON only: ``load`` makes tidy DataFrames, ``summaries`` and ``figures`` are pure,
``writer`` is the one place that writes files. ``build_report`` ties them together.

Reports depend on the core only for reading results (``rnnbench.results.schema``), the shared summary rows
(``rnnbench.results.summary``) and small utilities; what they say about the task comes from the results themselves.
The core reaches reports in one place, ``rnnbench.commands.report.make_report``.
"""
