"""File helpers shared by the core: atomic writes and checked npz reads. Errors name the file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rnnbench.errors import UserError


def load_npz(path: str | os.PathLike, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays of an npz archive; a missing, truncated or corrupt file (or a bare .npy) is a UserError
    naming the file."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise UserError(f"{path}: not a readable .npz archive (a single .npy array; save the arrays with "
                            f"np.savez under the keys {' '.join(keys)})")
        with loaded as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise UserError(f"{path}: missing arrays {', '.join(missing)}; expected keys {' '.join(keys)}")
            return {k: np.asarray(npz[k]) for k in keys}
    except UserError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError) as exc:
        # zipfile raises NotImplementedError or RuntimeError (encrypted) on corrupt headers; zlib on corrupt data
        raise UserError(f"{path}: not a readable .npz file ({exc.__class__.__name__}: {exc})") from None


def check_output(path: str | os.PathLike, flag: str, folder: bool = False) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder where a file goes (or a file where
    a folder goes), a path inside a file, a place this process may not write."""
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise UserError(f"{flag}: {path} is a {'file' if folder else 'folder'}; expected "
                        f"{'a folder' if folder else 'a file path'}")
    parent = path if folder and path.exists() else path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag}: {path} lies inside {parent}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag}: {path}: {parent} is not writable")
    try:  # what access() cannot tell: a read-only or pseudo file system (/proc), a full disk, root's limits
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise UserError(f"{flag}: {path}: cannot write in {parent} ({exc.strerror or exc})") from None


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_folder(path: str | os.PathLike, fill) -> None:
    """``fill(staging)`` writes a new folder beside ``path``; then it replaces ``path`` as a whole.

    The two renames and the removal of the old folder run with SIGINT and SIGTERM held back, so an interrupt
    leaves either the old folder or the new one, and nothing beside them.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        fill(staging)
        os.chmod(staging, 0o777 & ~_umask())
        with _signals_held():
            old = None
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
                os.replace(path, old / path.name)
            os.replace(staging, path)
            if old is not None:
                shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def _signals_held():
    """SIGINT and SIGTERM wait (in the main thread, where signals arrive) until the block is done."""
    held = {signal.SIGINT, signal.SIGTERM}
    main = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held) if main else None
    try:
        yield
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)


def write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_json(path: str | os.PathLike, obj) -> None:
    atomic_write(path, lambda f: f.write((json.dumps(obj, indent=2) + "\n").encode()))
