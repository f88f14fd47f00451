"""The benchmark request (``rnnbench.spec.request``): one declaration, and every form of it agreeing: the command
line of each verb, the benchmark process's arguments, the suites' reading of them, the JSON that crosses between
revisions, and the flags of a revision from before it."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path

import pytest

from rnnbench.errors import UserError
from rnnbench.spec import request as request_module
from rnnbench.spec.request import OPTIONS, REQUEST_VERSION, SUITE_FIELDS, BenchRequest, add_options

ROOT = Path(__file__).parents[1]
EXAMPLE = BenchRequest(impl=("numpy", "torch-rnn"), framework=("numpy", "torch"), task=("binary", "digits"),
                       cell=("lstm",), measure=("train_step", "forward"), profile="pair", threads=1, device="cpu",
                       no_pin=True, shard="2/3", processes=2, no_onednn=True)


def test_every_field_has_one_option_and_every_option_one_field():
    assert set(OPTIONS) == {f.name for f in dataclasses.fields(BenchRequest)}
    assert set(SUITE_FIELDS) <= set(OPTIONS)


@pytest.mark.parametrize("path", ["rnnbench/commands/bench.py", "rnnbench/commands/ab.py",
                                  "rnnbench/commands/versions.py", "rnnbench/commands/listing.py",
                                  "benchmarks/conftest.py"])
def test_no_verb_and_no_suite_declares_an_option_of_the_request_itself(path):
    """Each option is declared once, in the request: the verbs and suites that take it add it through
    ``add_options``, so none of them spells the flag."""
    text = (ROOT / path).read_text()
    spelt = [o.flag for o in OPTIONS.values() if re.search(rf"""["']{re.escape(o.flag)}["']""", text)]
    assert spelt == [], f"{path} declares {spelt} itself"


def test_a_command_line_the_benchmark_process_and_the_suites_read_the_same_request():
    from rnnbench.commands.bench import request_of
    from rnnbench.commands.cli import build_parser

    argv = ["bench", "--impl", "numpy", "torch-rnn", "--framework", "numpy", "torch", "--task", "binary", "digits",
            "--cell", "lstm", "--measure", "train_step", "forward", "--profile", "pair", "--threads", "1",
            "--no-pin", "--shard", "2/3", "--processes", "2", "--no-onednn"]
    given = request_of(build_parser().parse_args(argv))
    assert given == EXAMPLE
    suite = argparse.ArgumentParser()  # pytest's addoption takes argparse's arguments
    add_options(suite.add_argument, SUITE_FIELDS, pytest=True)
    parsed = suite.parse_args(given.pytest_argv())

    class Config:  # what the suites' conftest reads: pytest's config.getoption
        @staticmethod
        def getoption(name):
            return getattr(parsed, name)

    back = BenchRequest.from_pytest(Config)
    assert back == given.replace(processes=1, no_onednn=False)  # those two decide how bench runs the process


def test_the_json_form_round_trips_and_names_what_it_cannot_take():
    data = json.loads(json.dumps(EXAMPLE.to_json()))
    assert data["rnnbench_request"]["version"] == REQUEST_VERSION
    assert BenchRequest.from_json(data, "F") == EXAMPLE
    newer = {"rnnbench_request": {"version": REQUEST_VERSION + 1, "fields": {"impl": ["numpy"], "layers": 2}}}
    with pytest.raises(UserError, match=rf"^F: unknown field layers \(request version {REQUEST_VERSION + 1}; this "
                                        rf"rnnbench takes {REQUEST_VERSION}\)$"):
        BenchRequest.from_json(newer, "F")
    with pytest.raises(UserError, match=r"^F: threads: "):
        BenchRequest.from_json({"rnnbench_request": {"version": 1, "fields": {"threads": 0}}}, "F")
    with pytest.raises(UserError, match=r"^F: task: expected one of binary, sine, sin2cos, digits, random, "
                                        r"got 'nope'$"):
        BenchRequest.from_json({"rnnbench_request": {"version": 1, "fields": {"task": ["nope"]}}}, "F")
    with pytest.raises(UserError, match=r"^F: impl: expected a list, got 'numpy'$"):
        BenchRequest.from_json({"rnnbench_request": {"version": 1, "fields": {"impl": "numpy"}}}, "F")
    with pytest.raises(UserError, match="not a benchmark request"):
        BenchRequest.from_json({"benchmarks": []}, "F")


def test_a_revision_of_request_version_1_cannot_take_a_peer_case():
    """--peer arrived with request version 2: a side that takes version 1 is refused it, naming the flag, and left
    at its default the field is simply not sent."""
    assert OPTIONS["peer"].since == 2 and REQUEST_VERSION >= 2
    assert "peer" not in BenchRequest(profile="pair").fields_for(1, "A (abc)")
    with pytest.raises(UserError, match=r"^A \(abc\) takes request version 1 and cannot take --peer; "):
        BenchRequest(peer=("fastrnns-lstm",)).fields_for(1, "A (abc)")
    with pytest.raises(UserError, match=r"^F: peer: expected one of fastrnns-lstm, .*, got 'nope'$"):
        BenchRequest.from_json({"rnnbench_request": {"version": 2, "fields": {"peer": ["nope"]}}}, "F")


def test_a_revision_before_the_request_gets_its_flags_and_a_field_it_cannot_take_is_refused(monkeypatch):
    plain = BenchRequest(impl=("numpy",), measure=("train",), profile="pair")
    assert plain.legacy_argv("A (abc)") == ["--impl", "numpy", "--measure", "train", "--profile", "pair",
                                            "--threads", "1"]
    later = dataclasses.replace(OPTIONS["shard"], since=1)  # as if --shard had arrived with the request
    monkeypatch.setitem(request_module.OPTIONS, "shard", later)
    assert "--shard" not in plain.legacy_argv("A (abc)")  # left at its default: nothing to refuse
    with pytest.raises(UserError, match=r"^A \(abc\) predates the typed benchmark request \(request version 0\) "
                                        r"and cannot take --shard; "):
        plain.replace(shard="1/2").legacy_argv("A (abc)")
    assert "shard" not in plain.fields_for(0, "A (abc)")


def test_ab_passes_the_request_as_a_file_to_a_side_that_takes_it_and_as_flags_to_an_older_one(tmp_path):
    from rnnbench.commands.ab import Plan, available_families, bench_command
    from rnnbench.commands.sides import Side

    sides = (Side("A", "OLD", "a" * 40, "c" * 40), Side("B", "HEAD", "b" * 40, "d" * 40))
    listing = {"request_version": 1, "implementations": [
        {"name": "numpy", "framework": "numpy", "available": True, "reason": "", "not_applicable": []},
        {"name": "torch-rnn", "framework": "torch", "available": False, "reason": "x", "not_applicable": []}]}
    request = BenchRequest(impl=("numpy", "torch-rnn"), profile="pair")
    plan = Plan(ROOT, sides, {"A": tmp_path / "a", "B": tmp_path / "b"}, "duet", 6, request,
                {"A": None, "B": listing}, ("train_step",), None, False, tmp_path, 0)
    old = bench_command("A", plan, tmp_path / "p" / "A.json", ("forward",), ["numpy"])
    assert old[1:] == ["bench", "--no-report", "--json", str(tmp_path / "p" / "A.json"), "--impl", "numpy",
                       "--impl", "torch-rnn", "--framework", "numpy", "--measure", "forward", "--profile", "pair",
                       "--threads", "1"]
    new = bench_command("B", plan, tmp_path / "p" / "B.json", ("forward",), ["numpy"])
    assert new[-2] == "--request"
    sent = BenchRequest.from_json(json.loads(Path(new[-1]).read_text()), "sent")
    assert sent == request.replace(measure=("forward",), framework=("numpy",))
    assert available_families(listing, request) == ["numpy"]  # torch-rnn is unavailable on that side
    assert available_families(None, request.replace(framework=("torch",))) == ["torch"]


def test_list_json_says_the_request_version_and_every_implementation(capsys):
    from rnnbench.commands.cli import main
    from rnnbench.spec import registry

    assert main(["list", "--json", "--task", "digits"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["request_version"] == REQUEST_VERSION
    rows = {r["name"]: r for r in doc["implementations"]}
    assert list(rows) == registry.names() and rows["numpy"]["available"] is True
    assert all(set(r) == {"name", "framework", "available", "reason", "not_applicable"} for r in rows.values())


def test_bench_takes_the_request_as_a_file_or_as_options_never_both(tmp_path, capsys):
    from rnnbench.commands.cli import main

    file = tmp_path / "r.json"
    file.write_text(json.dumps(BenchRequest(impl=("numpy",)).to_json()))
    assert main(["bench", "--request", str(file), "--impl", "numpy", "--json", str(tmp_path / "o.json")]) == 2
    err = capsys.readouterr().err
    assert err == ("rnnbench bench: error: --request: give the request as a file or as options, not both (also "
                   "given: --impl)\n")
    assert not (tmp_path / "o.json").exists()
