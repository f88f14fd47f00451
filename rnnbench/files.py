"""File helpers shared by the core: atomic writes and checked npz reads. Errors name the file."""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import shutil
import signal
import stat
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
        with open(path, "rb") as f:
            head = f.read(6)
        if not head.startswith(b"PK") and not head.startswith(b"\x93NUMPY"):  # a zip archive, or a bare .npy
            what = "empty" if not head else f"it starts with {head!r}"
            raise UserError(f"{path}: not a readable .npz archive ({what}); "
                            f"expected the arrays {' '.join(keys)} saved with np.savez (rnnbench gen writes them)")
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


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def output_target(path: str | os.PathLike) -> Path:
    """Where an output at ``path`` is written: symbolic links, the last one and any on the way, are written
    through, on purpose (a link stays a link, and the file it names is replaced), so a results file kept behind a
    link stays where the link says."""
    return Path(os.path.realpath(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(path: str | os.PathLike, flag: str, folder: bool = False, keep=()) -> None:
    """Refuse, before any work, an output path that cannot be written, or must not be: a folder where a file goes
    (or a file where a folder goes), a device, FIFO or socket (writing replaces what stands at the path, and
    ``/dev/null`` must stay a device), a path inside a file, a place this process may not write, and any path of
    ``keep`` (the command's inputs and its other outputs): a file output must not be one of them, a folder output
    (replaced as a whole) must not hold one. A symbolic link is written through (``output_target``)."""
    text = os.fspath(path)
    if not text:
        raise UserError(f"{flag}: an empty path; expected {'a folder' if folder else 'a file path'}")
    if not folder and text.endswith(("/", os.sep)):
        raise UserError(f"{flag}: {text} ends in '/', which names a folder; expected a file path")
    target = output_target(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a loop of links, a name too long, a path through a file
        if exc.errno == errno.ENOTDIR:
            mode = None
        else:
            raise UserError(f"{flag}: {text}: {exc.strerror or exc}") from None
    if mode is not None:
        if stat.S_ISDIR(mode) != folder:
            raise UserError(f"{flag}: {text} is a {'file' if not stat.S_ISDIR(mode) else 'folder'}; expected "
                            f"{'a folder' if folder else 'a file path'}")
        if not folder and not stat.S_ISREG(mode):
            raise UserError(f"{flag}: {text} is a {_kind(mode)}; expected a regular file or a new path (an output "
                            "replaces what stands at its path)")
    mine = Path(os.path.realpath(target))
    if folder and _inside(Path(os.path.realpath(os.getcwd())), mine):
        raise UserError(f"{flag}: {text} is or holds the working directory, and the folder is replaced as a whole; "
                        "choose another folder")
    for other in keep:
        if other is None:
            continue
        # the file an input names, and the name itself (a link inside the folder goes when the folder does)
        theirs = {Path(os.path.realpath(other)),
                  Path(os.path.realpath(os.path.dirname(os.path.abspath(other)))) / os.path.basename(other)}
        if folder and any(_inside(t, mine) for t in theirs):
            raise UserError(f"{flag}: {text} holds {other}, which this command reads or writes, and the folder is "
                            "replaced as a whole; choose another folder")
        if not folder and mine in theirs:
            raise UserError(f"{flag}: {text} is also {other}, which this command reads or writes; choose another "
                            "path")
    parent = target if folder and mode is not None else target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag}: {text} lies inside {_shown(parent)}, which is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag}: {text}: {_shown(parent)} is not writable")
    try:  # what access() cannot tell: a read-only or pseudo file system (/proc), a full disk, root's limits
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as exc:
        raise UserError(f"{flag}: {text}: cannot write in {_shown(parent)} ({exc.strerror or exc})") from None


def _shown(path: Path) -> str:
    """A resolved path as the user would write it: relative to the working directory when it lies inside."""
    here = Path(os.path.realpath(os.getcwd()))
    return os.path.relpath(path, here) if _inside(path, here) else str(path)


@contextlib.contextmanager
def _staged(path: Path, write):
    """A whole temporary file beside ``path`` with what ``write(fileobj)`` wrote and a normal file's mode (mkstemp
    makes it private); removed on the way out, unless the block renamed it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write) -> None:
    """Write through ``write(fileobj)`` to a temporary file beside ``path``, then rename over it.

    A failed run never leaves a half-written file, and never destroys what was there before. A symbolic link is
    written through (``output_target``); anything at ``path`` but a regular file (a device, a FIFO) is refused,
    never replaced.
    """
    path = output_target(path)
    _refuse_special(path)
    with _staged(path, write) as tmp:
        os.replace(tmp, path)


def _refuse_special(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise UserError(f"{path} is a {_kind(mode)}; an output replaces only a regular file")


def write_new(path: str | os.PathLike, write) -> Path:
    """Like ``atomic_write``, but never over an existing file: when ``path`` is taken (another run of the same
    second, a concurrent one), the next free name ``<stem>-2<suffix>``, ``-3`` ... is taken instead. Returns the
    path written. The name is claimed by a hard link (or, where links are not supported, an exclusive create), so
    two writers can never take one name."""
    path = Path(path)
    with _staged(path, write) as tmp:
        for n in itertools.count(1):
            name = path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")
            try:
                os.link(tmp, name)
            except FileExistsError:
                continue
            except OSError:  # no hard links here: claim the name, then rename the full file over the claim
                try:
                    os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                except FileExistsError:
                    continue
                os.replace(tmp, name)
            return name
    raise AssertionError("unreachable")


def replace_folder(path: str | os.PathLike, fill) -> None:
    """``fill(staging)`` writes a new folder beside ``path``; then it replaces ``path`` as a whole.

    The two renames and the removal of the old folder run with SIGINT and SIGTERM held back, so an interrupt
    leaves either the old folder or the new one, and nothing beside them.
    """
    path = output_target(path)
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


def json_bytes(obj) -> bytes:
    """The suite's JSON outputs, as written: indented, with a final newline."""
    return (json.dumps(obj, indent=2) + "\n").encode()


def write_json(path: str | os.PathLike, obj) -> None:
    atomic_write(path, lambda f: f.write(json_bytes(obj)))


def names_key_first(path, key: str) -> bool:
    """Whether the JSON at ``path`` opens with ``key`` among its first bytes (how ``rnnbench ab`` and study results
    are told from a bench run without reading a large file whole); unreadable: no."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and f'"{key}"'.encode() in head


def read_json_file(path, what: str) -> object:
    """A JSON file's content; an unreadable or malformed one is a UserError naming the file and ``what`` it should
    be."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable {what} ({exc})") from None
