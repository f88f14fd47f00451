"""The lock a run's environment was installed from (``uv.lock``, refreshed on purpose with ``tox -e lock``): the
file beside the running rnnbench (a checkout, or an editable install of one), its hash, and which of the packages
every run records are installed at another version than the lock says (none, when tox installed the environment:
its runner syncs from the lock).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

LOCK_FILE = "uv.lock"


def lock_file() -> Path | None:
    """``uv.lock`` at the root of the tree this rnnbench runs from; None for an install without one (a wheel)."""
    path = Path(__file__).resolve().parents[2] / LOCK_FILE
    return path if path.is_file() else None


def _name(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()  # PEP 503


def locked_versions(path: Path) -> dict[str, list[str]]:
    """Each locked package's versions, by normalised name: one, or one per fork of a universal lock (another
    version for another Python, as ``resolution-markers`` say)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the [[package]] tables' first two lines are name and version
        pairs = re.findall(r'^\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"', path.read_text(), re.M)
    else:
        with path.open("rb") as f:
            pairs = [(p["name"], p["version"]) for p in tomllib.load(f).get("package", []) if "version" in p]
    out: dict[str, list[str]] = {}
    for name, version in pairs:
        out.setdefault(_name(name), []).append(version)
    return out


def lock_facts(versions: dict[str, str | None]) -> dict | None:
    """``{"file", "sha256", "differs"}``: the lock, its hash, and each of ``versions`` (distribution -> installed
    version, None when absent) installed at another version than the lock's, as {"installed", "locked"}."""
    path = lock_file()
    if path is None:
        return None
    locked = locked_versions(path)
    differs = {d: {"installed": v, "locked": " or ".join(locked[_name(d)])} for d, v in versions.items()
               if v is not None and _name(d) in locked and v not in locked[_name(d)]}
    return {"file": LOCK_FILE, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "differs": differs}
