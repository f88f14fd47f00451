"""``rnnbench versions PACKAGE V1 V2 ...``: one family across releases of its framework on this machine.

Each release is one paired comparison (``rnnbench ab``) of the same code: A with the package at the version this
environment holds (under tox, the locked one), B with it at the release, the family's benchmarks alone, the loss
bands checked on B. Every release is checked before anything is timed: the package must belong to a family, each
version must be one the installer can resolve here (a dry run), none given twice. The comparisons' JSON go to the
work folder, and the report of them (``rnnbench report``) has the section "Across versions".
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import time
from pathlib import Path

from rnnbench.commands.sides import checkout_root, constraints_text, normalise, resolve_sides, uv_binary
from rnnbench.errors import EXIT_FAILED, EXIT_OK, UserError
from rnnbench.files import check_output
from rnnbench.paths import REPORT_DIR, RESULTS_DIR
from rnnbench.spec import families
from rnnbench.spec.arguments import positive_int
from rnnbench.spec.request import add_options

VERSION = re.compile(r"[0-9][A-Za-z0-9.+!_-]*")


def family_of_package(package: str) -> str:
    """The family whose recorded packages include ``package``, or a UserError naming the valid ones."""
    for f in families.FAMILIES:
        if normalise(package) in map(normalise, f.distributions):
            return f.name
    known = ", ".join(d for f in families.FAMILIES for d in f.distributions)
    raise UserError(f"PACKAGE: {package} is no framework family's package; expected one of {known}")


def check_releases(package: str, releases: list[str], held: str) -> list[str]:
    """The releases to compare with ``held``: each a version the installer resolves here beside this environment's
    other pins (a dry run), none twice; the one held is left out (it is side A)."""
    seen = []
    for v in releases:
        if not VERSION.fullmatch(v):
            raise UserError(f"VERSION: {v!r} is not a version; expected e.g. 2.14.1")
        if v in seen:
            raise UserError(f"VERSION: {v} is given twice")
        seen.append(v)
    wanted = [v for v in seen if v != held]
    if not wanted:
        raise UserError(f"VERSION: every release given is the one installed here ({package} {held}); name others")
    with _constraints(package) as pins:
        for v in wanted:
            proc = subprocess.run([uv_binary(), "pip", "install", "--dry-run", "--quiet", "--python", sys.executable,
                                   f"{package}=={v}", "--constraint", pins], capture_output=True, text=True)
            if proc.returncode != 0:
                why = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
                raise UserError(f"VERSION: {package}=={v} does not install here: {(why or ['?'])[-1][:240]}")
    return wanted


class _constraints:
    """A temporary constraints file: this environment's pins, the package and what it requires left free."""

    def __init__(self, package: str):
        import tempfile

        self.file = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
        self.file.write(constraints_text((normalise(package),)))
        self.file.close()

    def __enter__(self) -> str:
        return self.file.name

    def __exit__(self, *exc) -> None:
        Path(self.file.name).unlink(missing_ok=True)


HELP = ("one family across releases of its framework, each paired against the version installed here (rnnbench ab "
        "per release), and their report")


def add_arguments(p) -> None:
    from rnnbench.commands import ab

    p.add_argument("package", help="a framework family's package: torch, tensorflow, jax, ...")
    p.add_argument("releases", nargs="+", metavar="VERSION", help="the releases to compare with the one installed")
    p.add_argument("--pairs", type=positive_int, default=ab.DEFAULT_PAIRS, metavar="K",
                   help="repetitions per release (default: %(default)s)")
    p.add_argument("--threshold", type=float, default=ab.DEFAULT_THRESHOLD_PCT,
                   help="percent slower that counts (default: %(default)s)")
    add_options(p.add_argument, ("measure",), helps={"measure": ab.MEASURE_HELP})
    p.add_argument("--work", help=f"the folder for every comparison (default: {RESULTS_DIR}/versions-<package>-<time>)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="time the commit checked out even though the working tree has uncommitted changes")
    p.add_argument("--report-out", default=str(REPORT_DIR), metavar="DIR",
                   help="write the report of the comparisons here (default: %(default)s)")


def run(args) -> int:
    from rnnbench.commands import ab

    family = family_of_package(args.package)
    try:
        held = importlib.metadata.version(args.package)
    except importlib.metadata.PackageNotFoundError:
        raise UserError(f"PACKAGE: {args.package} is not installed here; run from an environment that has the "
                        f"{family} family (tox -e bench, or pip install 'rnnbench[{families.family(family).extra}]')"
                        ) from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = Path(args.work) if args.work else RESULTS_DIR / f"versions-{args.package}-{stamp}"
    check_output(work, "--work", folder=True)
    releases = check_releases(args.package, args.releases, held)
    # the code is the commit checked out, resolved once: an edit while the releases run changes none of them
    commit = resolve_sides(checkout_root(), "HEAD", "HEAD", args.allow_dirty)[0].commit
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    documents, failed = [], False
    for v in releases:
        out = work / f"ab-{args.package}-{held}-{v}.json"
        print(f"versions: {args.package} {held} (A) against {v} (B), family {family}", file=sys.stderr, flush=True)
        comparison = ab.options(a=commit, b=commit, allow_dirty=True, a_with=[f"{args.package}=={held}"],
                                b_with=[f"{args.package}=={v}"], framework=[family], pairs=args.pairs,
                                threshold=args.threshold, work=str(work / f"ab-{v}"), json=str(out),
                                measure=list(args.measure) if args.measure else None)
        failed = ab.run_ab(comparison) != EXIT_OK or failed
        documents.append(out)
    print(f"versions: {len(documents)} comparisons in {work}; their report: rnnbench report "
          + " ".join(str(d) for d in documents), file=sys.stderr)
    if args.report_out is not None:
        from rnnbench.commands.report import make_report, report_available

        ok, why = report_available()
        if ok:
            print(f"report: {make_report(documents, Path(args.report_out))}")
        else:
            print(f"versions: report skipped: {why}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
