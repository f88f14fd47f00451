"""Records typed per measure (``rnnbench.results.records.MEASURE_FIELDS``): a record that lacks what its measure
needs fails where it is written, and a file holding one is refused where it is read, naming the record and the
field."""

from __future__ import annotations

import json

import pytest
from conftest import fake_info, fake_run_info

from rnnbench.errors import UserError
from rnnbench.harness.provenance import record_info
from rnnbench.results.records import MEASURE_FIELDS
from rnnbench.results.schema import read_results
from rnnbench.spec.measures import Measure


def test_every_measure_declares_what_its_records_hold():
    measures = {v for k, v in vars(Measure).items() if k.isupper()}
    assert set(MEASURE_FIELDS) == measures


@pytest.mark.parametrize("measure, given, missing", [
    ("train_step", {}, "label, task, cell, bidirectional, optimizer, num_steps, state_size, batch_size, steps"),
    ("denormal", {**{k: 1 for k in ("num_steps", "state_size", "batch_size", "steps")}, "label": "x",
                  "task": "binary", "cell": "lstm", "bidirectional": False, "optimizer": "adam"}, "inputs"),
    ("generate", {}, "size"),
])
def test_a_record_lacking_what_its_measure_needs_fails_where_it_is_written(measure, given, missing):
    with pytest.raises(ValueError, match=rf"^Record of numpy: a {measure} record needs {missing}$"):
        record_info("numpy", "numpy", "1.0", device="cpu", threads=1, measure=measure, **given)


def test_an_unknown_measure_fails_where_it_is_written():
    with pytest.raises(ValueError, match="measure must be one of build, train, "):
        record_info("numpy", "numpy", "1.0", device="cpu", threads=1, measure="speed")


def test_a_file_with_such_a_record_is_refused_naming_the_record_and_the_field(tmp_path):
    good = fake_info("numpy", "train_step")
    bad = {k: v for k, v in fake_info("numpy", "train_step").items() if k != "steps"}
    doc = {"machine_info": {"rnnbench": fake_run_info()}, "benchmarks": [
        {"name": "test_train_step[a]", "stats": {"median": 1.0}, "extra_info": good},
        {"name": "test_train_step[b]", "stats": {"median": 1.0}, "extra_info": bad}]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match=r"test_train_step\[b\].*extra_info: a train_step record needs steps$"):
        read_results(path)
