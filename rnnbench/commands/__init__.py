"""The commands: one module per verb of the CLI, each with its ``HELP``, ``add_arguments(parser)`` and ``run(args)``
(``listing`` for ``list``; ``config_args`` holds ``train``'s run options); ``cli`` builds the parser from them and
dispatches. Beside them: the sides of a paired comparison (``sides``) and child processes that end with their
parent (``children``).

Layer: the top one; it may import every other layer.
"""
