"""Results: the file format and its one reader (``schema``), every field declared (``records``), and what is
computed from results alone: the summary (``summary``), the regression gate against stored numbers
(``compare``), paired judgements (``paired``), joining shards and machines (``merge``) and processes
(``processes``), slopes (``stats``) and plain tables (``table``).

Layer: reads JSON and ``rnnbench.errors``; never the model, an implementation or a framework.
"""
