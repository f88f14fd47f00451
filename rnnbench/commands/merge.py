"""``rnnbench merge A.json B.json ... --out M.json``: shards, and runs from several machines, joined into one
results file (``rnnbench.results.merge`` computes it)."""

from __future__ import annotations

from rnnbench.files import check_output, write_json

HELP = "join shards, or runs from several machines, into one results file"


def add_arguments(p) -> None:
    p.add_argument("results", nargs="+", help="bench JSON files (rnnbench bench --shard K/N ... --json F)")
    p.add_argument("--out", required=True, help="the merged JSON (report and compare read it)")


def run(args) -> int:
    from rnnbench.results.merge import merge_files
    from rnnbench.results.schema import info

    check_output(args.out, "--out", keep=args.results)
    merged = merge_files(args.results)
    write_json(args.out, merged)
    machines = sorted({str(info(b).machine) for b in merged["benchmarks"]})
    print(f"wrote {args.out}: {len(merged['benchmarks'])} benchmarks from {len(args.results)} files, "
          f"{len(machines)} machine(s): {', '.join(map(str, machines))}")
    return 0
