"""``rnnbench compare BASELINE CANDIDATE...``: stored numbers against stored numbers, normalised by each run's
calibration probes (``rnnbench.results.compare`` judges; this prints and sets the exit code): history, merged
runs and reports. The CI gate is the paired ``rnnbench ab``."""

from __future__ import annotations

import sys

from rnnbench.console import emit
from rnnbench.errors import EXIT_FAILED, EXIT_OK, NotJudgeable, UserError
from rnnbench.files import check_output, write_text
from rnnbench.results.compare import DEFAULT_THRESHOLD_PCT

HELP = "the regression gate: exit 1 when a benchmark got slower or stopped learning"


def add_arguments(p) -> None:
    p.add_argument("baseline", help="BASELINE.json (rnnbench bench output)")
    p.add_argument("candidate", nargs="+",
                   help="CANDIDATE.json; give reruns of the same code too, and only what is worse in each counts")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD_PCT,
                   help="percent slower (after normalising for machine speed) that counts, if significant "
                        "(default: %(default)s)")
    p.add_argument("--allow-missing", action="store_true",
                   help="judge a deliberate partial run: do not fail when the candidate lacks more than "
                        "10%% of the baseline's benchmarks")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="compare runs made at different thread counts, devices or profiles anyway")
    p.add_argument("--flagged", metavar="FILE",
                   help="write the implementations judged slower here, one per line (for a confirming rerun of "
                        "just those: rnnbench bench --impl ...)")


def run(args) -> int:
    """The gate: 0 pass, 1 fail (a regression, or a candidate it cannot judge), 2 a user error."""
    from rnnbench.results.compare import check_alike, check_coverage, compare, format_comparison, load_run

    if not (0 < args.threshold < 1000):
        raise UserError(f"--threshold: expected a percentage in (0, 1000), got {args.threshold}")
    if args.flagged:  # checked before anything is read or judged: the table is never lost to a bad path
        check_output(args.flagged, "--flagged", keep=[args.baseline, *args.candidate])
    try:
        baseline = load_run(args.baseline)
        candidates = [load_run(c) for c in args.candidate]
        named = list(zip(args.candidate, candidates))
        notes = check_alike(args.baseline, baseline, named, args.allow_mismatch)
        check_coverage(baseline, named, args.allow_missing)
    except NotJudgeable as exc:
        print(f"rnnbench compare: gate: FAIL — {exc}", file=sys.stderr)
        return EXIT_FAILED
    result = compare(baseline, candidates, args.threshold)
    result.notes.extend(notes)
    if args.flagged:  # the implementations judged worse, one per line: what a confirming rerun needs to time
        write_text(args.flagged, "".join(f"{impl}\n" for impl in sorted({r.impl for r in result.regressions})))
    emit(format_comparison(result, args.threshold))
    return EXIT_FAILED if result.failed else EXIT_OK
