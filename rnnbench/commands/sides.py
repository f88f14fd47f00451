"""The sides of a paired comparison (``rnnbench ab A B``): a git revision of the checkout, or its working tree, each
installed into an environment of its own, built once and cached.

A side is named by anything ``git rev-parse`` accepts, ``WORKTREE`` for the working tree with its uncommitted
changes (tracked and untracked files that git does not ignore), or ``@FILE`` for the revision written in a file
of the checkout (the CI gate's reference: ``@benchmarks/baselines/REF``). Its code is the git *tree* it resolves
to, so two names of one tree (``HEAD`` and ``main``, or a commit and a clean working tree) share one environment. An
environment is ``uv venv`` + ``uv pip install <tree>[extras]`` with the running environment's package versions as
constraints: the same versions on both sides, and nothing downloaded that the uv cache holds. Its cache key is the
tree, the extras, the constraints and the interpreter; a half-built environment (no ready mark) is built again.

A side is also an environment: requirement overrides on top of those versions (``rnnbench ab --a torch==2.14.0
--b torch==2.15.0``, or a local wheel file), each an exact ``name==version`` of a package some framework family
uses (``Family.distributions``), or a ``.whl``. They are checked before anything is built (``parse_overrides``);
the environment installs them in place of the pinned versions, and then reads every overridden package's version
back from it (``installed_versions``): a side holds exactly what it claims, or the comparison stops, exit 2. An
override frees no more pins than it must (``pin_stages``): first every other package stays at this environment's
version, so an override of the version installed here gives exactly this environment; only where the installer
cannot resolve that are what requires the package, and then what it requires, left to the installer.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rnnbench.errors import UserError

WORKTREE = "WORKTREE"  # the side that is the working tree, uncommitted changes included
READY = ".rnnbench-ab-ready"  # written last into a finished environment
PROJECT = "rnnbench"


@dataclass(frozen=True)
class Side:
    """One version of the code: what the user named, the commit (None for the working tree) and its git tree."""

    label: str  # "A" or "B"
    name: str  # as given: HEAD~1, main, WORKTREE
    commit: str | None
    tree: str
    overrides: tuple[Override, ...] = ()  # requirement overrides on top of the pinned versions

    @property
    def short(self) -> str:
        code = f"{self.name} ({self.commit[:12] if self.commit else 'tree ' + self.tree[:12]})"
        return code + "".join(f" + {o.text}" for o in self.overrides)


@dataclass(frozen=True)
class Override:
    """One requirement a side installs in place of the pinned version: ``name==version``, or a wheel file."""

    name: str  # the distribution, normalised (PEP 503)
    version: str  # the version it must hold
    text: str  # as given
    wheel: Path | None = None


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel(label: str, text: str) -> Override:
    """A local wheel file, checked: a zip named ``name-version-...whl`` holding its ``.dist-info/METADATA``."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise UserError(f"--{label.lower()}: {text}: no such wheel file")
    parts = path.name[:-len(".whl")].split("-")
    try:
        with zipfile.ZipFile(path) as z:
            has_metadata = any(n.endswith(".dist-info/METADATA") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        has_metadata = False
    if len(parts) < 5 or not has_metadata:
        raise UserError(f"--{label.lower()}: {text} is not a wheel (expected a zip named "
                        "name-version-python-abi-platform.whl holding a .dist-info/METADATA)")
    return Override(normalise(parts[0]), parts[1], text, path.resolve())


def parse_overrides(label: str, texts: list[str] | None, packages: dict[str, str]) -> tuple[Override, ...]:
    """A side's overrides (``--a``/``--b``), checked before any work: each ``name==version`` or a ``.whl`` of a
    package in ``packages`` (normalised name -> the family that uses it), once each."""
    out: list[Override] = []
    for text in texts or []:
        if text.endswith(".whl"):
            override = _wheel(label, text)
        else:
            m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9.+!_-]+)\s*", text)
            if not m:
                raise UserError(f"--{label.lower()}: {text!r} is not an exact requirement; expected NAME==VERSION "
                                "(e.g. torch==2.14.0) or a wheel file (.whl)")
            override = Override(normalise(m[1]), m[2], text.strip())
        if override.name not in packages:
            raise UserError(f"--{label.lower()}: {override.name} is no package of the families timed here; "
                            f"expected one of {', '.join(sorted(packages))}")
        if any(o.name == override.name for o in out):
            raise UserError(f"--{label.lower()}: {override.name} is given twice")
        out.append(override)
    return tuple(out)


def _git(root: Path, *args: str, env: dict | None = None, check: bool = True, strip: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise UserError(f"git {' '.join(args)}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    return proc.stdout.strip() if strip else proc.stdout


def checkout_root(start: Path | None = None) -> Path:
    """The git checkout around ``start`` (the working directory), or a UserError."""
    start = Path(start or Path.cwd())
    if shutil.which("git") is None:
        raise UserError("ab: git is not installed; rnnbench ab compares revisions of a git checkout")
    proc = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"ab: {start} is not inside a git checkout; run rnnbench ab from a clone of rnnbench")
    return Path(proc.stdout.strip())


def dirty_files(root: Path) -> list[str]:
    """Tracked files with uncommitted changes and untracked files git does not ignore."""
    out = _git(root, "status", "--porcelain", "--untracked-files=normal", strip=False)
    return [line[3:] for line in out.splitlines() if line.strip()]


def worktree_tree(root: Path) -> str:
    """The git tree of the working tree as it stands (through a temporary index: the real one is untouched)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False):
            _git(root, "read-tree", "HEAD", env=env)
        _git(root, "add", "-A", env=env)
        return _git(root, "write-tree", env=env)


def revision_in_file(root: Path, label: str, name: str) -> str:
    """``@FILE``: the revision written in FILE (relative to the checkout), its first line that is not a comment."""
    path = root / name[1:]
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{label}: {name}: cannot read {path} ({getattr(exc, 'strerror', None) or exc})") from None
    found = [ln for ln in lines if ln and not ln.startswith("#")]
    if not found:
        raise UserError(f"{label}: {name}: {path} names no revision (expected one line, e.g. a commit)")
    return found[0]


def resolve(root: Path, label: str, name: str) -> Side:
    """A side from what the user named (``@FILE``: the revision written in FILE); an unknown revision is a
    UserError naming it and what is valid."""
    if name.startswith("@"):
        name = revision_in_file(root, label, name)
    if name == WORKTREE:
        return Side(label, name, None, worktree_tree(root))
    commit = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}", check=False)
    if not commit:
        raise UserError(f"{label}: unknown revision {name!r} in {root}; expected anything `git rev-parse` accepts "
                        f"(HEAD~1, a branch, a tag, a commit) or {WORKTREE} for the working tree")
    return Side(label, name, commit, _git(root, "rev-parse", f"{commit}^{{tree}}"))


def commit_time(root: Path, side: Side) -> str | None:
    """The side's commit time (ISO 8601, the committer's), None for the working tree: what orders drift points."""
    return (_git(root, "show", "-s", "--format=%cI", side.commit, check=False) or None) if side.commit else None


def commits_between(root: Path, a: Side, b: Side, limit: int = 30) -> list[str]:
    """``git log --oneline A..B``, newest first, at most ``limit`` (and a count of the rest): the commits B has
    that A lacks, which a drift from A to B came in with; [] unless both sides are commits."""
    if not (a.commit and b.commit) or a.commit == b.commit:
        return []
    lines = _git(root, "log", "--oneline", "--no-decorate", f"{a.commit}..{b.commit}", check=False).splitlines()
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def changed_paths(root: Path, a: Side, b: Side) -> list[str]:
    """The files whose contents differ between two sides' trees, relative to the checkout."""
    return [p for p in _git(root, "diff", "--name-only", a.tree, b.tree).splitlines() if p]


def resolve_sides(root: Path, a: str, b: str, allow_dirty: bool = False) -> tuple[Side, Side]:
    """Both sides. A revision that is HEAD while the working tree has changes is refused (unless ``allow_dirty``):
    the comparison would time the commit, not the code the user is looking at."""
    sides = resolve(root, "A", a), resolve(root, "B", b)
    if not allow_dirty and all(s.commit is not None for s in sides):
        head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
        at_head = [s for s in sides if s.commit == head]
        changed = dirty_files(root) if at_head else []
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            side = at_head[0]
            raise UserError(f"{side.label}: {side.name} is the commit checked out, but the working tree has "
                            f"uncommitted changes ({shown}) that it leaves out; name the working tree as {WORKTREE}, "
                            "commit them, or pass --allow-dirty to compare the commit anyway")
    return sides


def dependencies(names: tuple[str, ...]) -> set[str]:
    """``names`` and everything they require in the running environment, transitively, through the extras each
    requirement asks for (normalised names): what another release of them may need at other versions."""
    seen: set[tuple[str, str]] = set()
    todo = [(n, "") for n in names]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for req in requires:
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", req)
            wants = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", req)
            if not m or (wants if not extra else normalise(extra) not in map(normalise, wants)):
                continue  # a requirement of an extra not asked for (or, for an extra, of the base: seen already)
            dep = normalise(m[1])
            todo += [(dep, "")] + [(dep, e.strip()) for e in (m[2] or "").split(",") if e.strip()]
    return {name for name, _ in seen}


def dependents(names: tuple[str, ...]) -> set[str]:
    """The installed packages that require any of ``names``, transitively (normalised names, ``names`` left out):
    what another release of them may need at another version (flax 0.12.8 needs jax 0.10 or later)."""
    requires: dict[str, set[str]] = {}
    for dist in importlib.metadata.distributions():
        name = normalise(dist.metadata["Name"] or "")
        for req in dist.requires or []:
            m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
            if m and "extra" not in req.partition(";")[2]:  # what it needs whatever extras were asked for
                requires.setdefault(normalise(m[1]), set()).add(name)
    found, todo = set(), [normalise(n) for n in names]
    while todo:
        for user in requires.get(todo.pop(), ()):
            if user not in found and user != PROJECT:
                found.add(user)
                todo.append(user)
    return found - {normalise(n) for n in names}


def freed(overridden: tuple[str, ...]) -> set[str]:
    """What an override frees from the pins: the overridden packages, everything they require and everything that
    requires them (normalised names); the installer resolves these for the override, and the side records them."""
    return dependencies(overridden) | dependents(overridden) if overridden else set()


def _pins(free: set[str]) -> str:
    """The running environment's package versions, one ``name==version`` a line, but rnnbench itself and ``free``
    (normalised names)."""
    pins = set()
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").strip()
        if name and normalise(name) != PROJECT and normalise(name) not in free:
            pins.add(f"{name}=={dist.version}")
    return "".join(f"{p}\n" for p in sorted(pins, key=str.lower))


def constraints_text(overridden: tuple[str, ...] = ()) -> str:
    """The running environment's package versions, one ``name==version`` a line: both sides install the same
    versions. Left out: rnnbench itself, and everything the ``overridden`` packages free (``freed``: another
    release pins its own CUDA libraries, or needs an older release of a library built on it): the loosest of
    ``pin_stages``, what a release must resolve under to install here at all."""
    return _pins(freed(overridden))


def pin_stages(overridden: tuple[str, ...] = ()) -> list[str]:
    """The constraints a side is installed under, tightest first, each tried while the one before it does not
    resolve: every package but the overridden ones pinned (an override of the version installed here then gives
    exactly this environment); then what requires them freed too (flax 0.12.8 needs jax 0.10 or later); then what
    they require (TensorFlow 2.19 needs a NumPy older than 2.2). A stage that frees nothing more is left out."""
    names = {normalise(n) for n in overridden}
    stages: list[str] = []
    for free in ((names, names | dependents(overridden), freed(overridden) | names) if names else (set(),)):
        text = _pins(free)
        if text not in stages:
            stages.append(text)
    return stages


def uv_binary() -> str:
    """uv: beside this interpreter (the dev extra installs it), from the uv package, or on PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if not found:
        raise UserError("ab: uv is not installed; each side is installed with it (pip install uv, or "
                        "pip install 'rnnbench[dev]')")
    return found


def env_key(side: Side, extras: tuple[str, ...], constraints: str) -> str:
    wheels = [hashlib.sha256(o.wheel.read_bytes()).hexdigest() for o in side.overrides if o.wheel]
    text = "\n".join([side.tree, ",".join(sorted(extras)), sys.version, constraints,
                      *(o.text for o in side.overrides), *wheels])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def export_tree(root: Path, tree: str, into: Path) -> None:
    """The files of git ``tree`` written under ``into`` (``git archive``, read as a stream)."""
    proc = subprocess.Popen(["git", "archive", "--format=tar", tree], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        tar.extractall(into, filter="data")
    if proc.wait() != 0:
        raise UserError(f"git archive {tree}: {proc.stderr.read().decode(errors='replace').strip()}")


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def rnnbench_of(env: Path) -> Path:
    return env / "bin" / "rnnbench"


def ensure_env(root: Path, side: Side, cache: Path, extras: tuple[str, ...], log) -> tuple[Path, bool]:
    """The environment of ``side`` under ``cache``, built unless a finished one is there: (path, built now)."""
    stages = pin_stages(tuple(o.name for o in side.overrides))
    env = cache / env_key(side, extras, "\n".join(stages))
    if (env / READY).exists():
        return env, False
    env.parent.mkdir(parents=True, exist_ok=True)
    uv = uv_binary()
    with tempfile.TemporaryDirectory(dir=env.parent, prefix=".src-") as tmp:
        src, pins = Path(tmp) / "src", Path(tmp) / "constraints.txt"
        src.mkdir()
        export_tree(root, side.tree, src)
        if not (src / "pyproject.toml").exists():
            raise UserError(f"{side.label}: {side.short} has no pyproject.toml; it is not a version of rnnbench")
        target = f"{src}[{','.join(extras)}]" if extras else str(src)
        wanted = [str(o.wheel) if o.wheel else f"{o.name}=={o.version}" for o in side.overrides]
        for constraints in stages:  # the first that installs, tightest first, each in a fresh environment
            shutil.rmtree(env, ignore_errors=True)
            pins.write_text(constraints)
            for cmd in ([uv, "venv", "--quiet", "--python", sys.executable, str(env)],
                        [uv, "pip", "install", "--quiet", "--python", str(python_of(env)), target, *wanted,
                         "--constraint", str(pins)]):
                log.write(f"$ {' '.join(cmd)}  # {constraints.count(chr(10))} pins\n")
                log.flush()
                returncode = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp).returncode
                if returncode != 0:
                    break
            if returncode == 0:
                break
        else:
            shutil.rmtree(env, ignore_errors=True)
            why = _last_error_line(Path(log.name))
            raise UserError(f"{side.label}: installing {side.short} failed (exit {returncode})"
                            + (f": {why}" if why else "") + f"; see {Path(log.name)}")
    held = installed_versions(env, [o.name for o in side.overrides])
    wrong = [f"{o.name} {held.get(o.name) or 'absent'} (asked {o.version})" for o in side.overrides
             if held.get(o.name) != o.version]
    if wrong:
        shutil.rmtree(env, ignore_errors=True)
        raise UserError(f"{side.label}: the environment does not hold what {side.short} claims: {', '.join(wrong)}")
    (env / READY).write_text(f"{side.name} {side.commit or ''} {side.tree}\n")
    return env, True


def _last_error_line(log: Path) -> str:
    """The installer's own reason, for a one-line error: the last line of its log that names an error."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    errors = [ln for ln in lines if "error" in ln.lower() or "no solution" in ln.lower()
              or "because" in ln.lower()]
    return (errors or lines or [""])[-1][:300]


def installed_versions(env: Path, names: list[str]) -> dict[str, str | None]:
    """The versions ``env`` holds of ``names`` (normalised; None: not installed), read from inside it."""
    code = ("import importlib.metadata as md, json, sys\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try:\n"
            "        out[n] = md.version(n)\n"
            "    except md.PackageNotFoundError:\n"
            "        out[n] = None\n"
            "print(json.dumps(out))")
    proc = subprocess.run([str(python_of(env)), "-c", code, *names], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"{env}: reading its installed versions failed: {proc.stderr.strip()[-200:]}")
    return json.loads(proc.stdout)
