"""NumPy implementations: the hand-written reference (``numpy``)."""
