"""File helpers shared by the core: atomic writes and checked npz reads. Errors name the file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from rnnbench.errors import UserError


def load_npz(path: str | os.PathLike, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise UserError(f"{path}: missing arrays {', '.join(missing)}; expected keys {' '.join(keys)}")
            return {k: np.asarray(npz[k]) for k in keys}
    except UserError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc.__class__.__name__}: {exc})") from None


def atomic_write(path: str | os.PathLike, write) -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename over it.

    A failed run never leaves a half-written file, and never destroys what was there before.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, obj) -> None:
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))
