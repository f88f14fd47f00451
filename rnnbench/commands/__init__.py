"""The commands: the CLI's verbs (``cli``), the main job (``bench``), paired A/B runs (``ab``, over the sides
``sides`` builds), and child processes that end with their parent (``children``).

Layer: the top one; it may import every other layer.
"""
