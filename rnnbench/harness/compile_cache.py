"""Compilation is measured cold: Inductor's on-disk caches go to a fresh directory for each benchmark process,
removed at its end (unless the user chose the directory with TORCHINDUCTOR_CACHE_DIR)."""

from __future__ import annotations

import os
import shutil
import tempfile

ENV = "TORCHINDUCTOR_CACHE_DIR"


def fresh_compile_cache():
    """Point Inductor at a new empty cache directory (before torch is imported); returns the cleanup."""
    if ENV in os.environ:
        return lambda: None
    path = os.environ[ENV] = tempfile.mkdtemp(prefix="rnnbench-inductor-")
    return lambda: shutil.rmtree(path, ignore_errors=True)
