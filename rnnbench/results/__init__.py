"""Results: the file format and its one reader (``schema``), every field declared and what each measure's records
hold (``records``), and what is computed from results alone: the summary (``summary``), the regression gate
against stored numbers (``compare``), paired judgements (``paired``), joining shards and machines (``merge``) and
processes (``processes``), slopes (``stats``) and plain tables (``table``).

Layer: reads JSON, ``rnnbench.errors`` and the declarations of ``rnnbench.spec``; never the model, an
implementation or a framework, and never prints (the verbs in ``rnnbench.commands`` do). The benchmark process
imports it too, to write its records.
"""
