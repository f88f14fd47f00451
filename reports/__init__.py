"""Reports from result JSON only: ``load`` makes tidy DataFrames, ``summaries`` and ``figures`` are pure,
``writer`` is the one place that writes files. ``build_report`` ties them together."""
