"""What a benchmark run times, declared once: ``BenchRequest``.

A request is the selection (implementations, families, tasks, cells, measures) and how it is timed (profile,
threads, device, CPU pinning, shard, processes, oneDNN). Every option is declared here, in ``OPTIONS``, and this
module alone turns it into each of its forms:

- ``add_options(add, names)``: the command-line options of ``rnnbench bench``, ``ab``, ``versions`` and ``list``
  (argparse's ``add_argument``) and of the benchmark suites (pytest's ``addoption``);
- ``BenchRequest.from_args`` / ``from_pytest``: the request read back from a parsed command line, or inside the
  suites from pytest's options;
- ``BenchRequest.pytest_argv``: the benchmark process's arguments;
- ``to_json`` / ``from_json``: the versioned JSON form. ``rnnbench ab`` runs *another revision's* ``bench``, so
  this is the interface between revisions: a side that takes the request gets it as a file (``bench --request
  F``); a revision from before the request (request version 0) gets its flags (``legacy_argv``), and a field it
  cannot take is refused in one line naming the revision and the field, never guessed at.

A new option is one row of ``OPTIONS`` with the request version it arrived in (``since``) and one field of
``BenchRequest``; ``REQUEST_VERSION`` moves with it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

from rnnbench.errors import UserError
from rnnbench.spec import arguments, families
from rnnbench.spec.cells import CELLS
from rnnbench.spec.config import BENCH_THREADS, DEFAULT_PROFILE, DEVICES, PROFILES, profiles_help
from rnnbench.spec.measures import SELECTABLE_MEASURES
from rnnbench.spec.peers import PEERS
from rnnbench.tasks import TASKS

# 3: --lanes (families at once); 2: --peer (the peers' configurations); 1: the typed request (bench --request,
# list --json); 0: the flags of the revisions before it
REQUEST_VERSION = 3
REQUEST_KEY = "rnnbench_request"  # the JSON form's top key


@dataclass(frozen=True)
class BenchRequest:
    """What one ``rnnbench bench`` times; each field's option is in ``OPTIONS``. Empty selections mean all."""

    impl: tuple[str, ...] = ()  # registry names
    framework: tuple[str, ...] = ()  # family names
    task: tuple[str, ...] = ()  # rnnbench.tasks.TASKS names: their reference configurations
    cell: tuple[str, ...] = ()  # rnnbench.spec.cells.CELLS names
    peer: tuple[str, ...] = ()  # rnnbench.spec.peers.PEERS names: the peers profile's cases (default: all)
    measure: tuple[str, ...] = ()  # rnnbench.spec.measures.SELECTABLE_MEASURES (the probes always run)
    profile: str = DEFAULT_PROFILE  # a name of rnnbench.spec.config.PROFILES
    threads: int = BENCH_THREADS  # the one thread count of every framework
    device: str = "cpu"
    no_pin: bool = False  # below the CPU count, do not confine each benchmark process to `threads` CPUs
    shard: str | None = None  # "K/N": only the K-th of N shards of the cases
    processes: int = 1  # each family's benchmarks in this many fresh processes, one after another
    lanes: int = 0  # families timed at once, each process on `threads` CPUs of its own; 0: as many as the CPUs allow
    no_onednn: bool = False  # oneDNN off in PyTorch and TensorFlow, for every benchmark process

    def __post_init__(self) -> None:
        for name in SELECTIONS:  # lists from a parser become tuples: a request is a value
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (list, tuple, type(None))):
                raise ValueError(f"{name}: expected a list, got {value!r}")
            object.__setattr__(self, name, tuple(value or ()))
        for opt in OPTIONS.values():
            opt.check(getattr(self, opt.name))

    def replace(self, **changes) -> BenchRequest:
        return dataclasses.replace(self, **changes)

    def changed(self) -> dict:
        """The fields that differ from their defaults."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}

    # --- forms -----------------------------------------------------------------------------------------------

    @classmethod
    def from_args(cls, args) -> BenchRequest:
        """From a parsed command line (argparse's namespace): the fields its parser declared, the rest default."""
        return cls(**{name: getattr(args, name) for name in OPTIONS if getattr(args, name, None) is not None})

    @classmethod
    def from_pytest(cls, config) -> BenchRequest:
        """Inside the benchmark suites, from pytest's options (``add_options`` declared them)."""
        return cls(**{name: config.getoption(name) for name in SUITE_FIELDS})

    def pytest_argv(self) -> list[str]:
        """The benchmark process's arguments (what ``from_pytest`` reads back there)."""
        return _flags(self, SUITE_FIELDS)

    def to_json(self, version: int = REQUEST_VERSION, side: str = "this rnnbench") -> dict:
        """The JSON form that a revision taking request ``version`` reads (``fields_for``)."""
        return {REQUEST_KEY: {"version": version, "fields": self.fields_for(version, side)}}

    def fields_for(self, version: int, side: str) -> dict:
        """The fields a revision taking request ``version`` knows, as JSON values; a field it does not know is
        refused, naming ``side``, unless it is at its default (then it is left out, and that revision's own
        default is the same thing)."""
        late = [OPTIONS[n].flag for n in self.changed() if OPTIONS[n].since > version]
        if late:
            before = ("predates the typed benchmark request (request version 0)" if version == 0
                      else f"takes request version {version}")
            raise UserError(f"{side} {before} and cannot take {', '.join(late)}; compare a later revision, or "
                            f"leave {', '.join(late)} out")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
                if OPTIONS[k].since <= version}

    @classmethod
    def from_json(cls, data, where: str) -> BenchRequest:
        """The JSON form, checked: a request of a newer version, an unknown field or a bad value fails in one
        line naming ``where`` and the field."""
        body = data.get(REQUEST_KEY) if isinstance(data, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            raise UserError(f"{where}: not a benchmark request (no {REQUEST_KEY}.fields object)")
        version, fields = body.get("version"), body["fields"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise UserError(f"{where}: {REQUEST_KEY}.version must be an integer, got {version!r}")
        unknown = sorted(k for k in fields if k not in OPTIONS)
        if unknown:
            newer = f" (request version {version}; this rnnbench takes {REQUEST_VERSION})" \
                if version > REQUEST_VERSION else ""
            raise UserError(f"{where}: unknown field{'s' * (len(unknown) > 1)} {', '.join(unknown)}{newer}")
        try:
            return cls(**fields)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{where}: {exc}") from None

    def legacy_argv(self, side: str) -> list[str]:
        """The ``bench`` flags of a revision from before the typed request (version 0): the profile and threads,
        as ``ab`` always gave them, and every other field that differs from its default; a field those revisions
        did not take is refused, naming ``side``."""
        known = self.fields_for(0, side)
        return _flags(self, [n for n in known if n in ("profile", "threads") or n in self.changed()])


@dataclass(frozen=True)
class Option:
    """One field's command-line option, for argparse and pytest alike."""

    name: str  # the BenchRequest field, and the parsed namespace's dest
    flag: str
    help: str
    kind: str  # "many": a repeatable list; "one": a value; "switch": a flag that sets True
    choices: tuple | None = None
    type: Callable | None = None
    metavar: str | None = None
    since: int = 0  # the request version it arrived in (0: a flag of the revisions before the request)

    def check(self, value) -> None:
        """A value of this field as the request holds it; ValueError naming the field and what is valid."""
        values = value if self.kind == "many" else (value,)
        if self.kind == "switch" and not isinstance(value, bool):
            raise ValueError(f"{self.name}: expected true or false, got {value!r}")
        for v in values:
            if v is None and _DEFAULTS[self.name] is None:  # an optional field left out
                continue
            if self.choices is not None and v not in self.choices:
                raise ValueError(f"{self.name}: expected one of {', '.join(map(str, self.choices))}, got {v!r}")
            if self.type is not None and self.choices is None:
                try:
                    parsed = self.type(str(v))
                except Exception as exc:  # the types raise argparse.ArgumentTypeError with what is valid
                    raise ValueError(f"{self.name}: {exc}") from None
                if parsed != v:
                    raise ValueError(f"{self.name}: expected {type(parsed).__name__}, got {v!r}")


OPTIONS: dict[str, Option] = {o.name: o for o in (
    Option("impl", "--impl", "only these implementations (repeatable; default: every available one)", "many",
           metavar="IMPL"),
    Option("framework", "--framework", f"only these framework families (repeatable): {', '.join(families.names())}",
           "many", choices=tuple(families.names()), metavar="FAMILY"),
    Option("task", "--task", f"only these tasks' reference configurations (repeatable; default: all): "
                             f"{', '.join(TASKS)}", "many", choices=tuple(TASKS), metavar="TASK"),
    Option("cell", "--cell", f"only these cells (repeatable; default: all): {', '.join(CELLS)}", "many",
           choices=tuple(CELLS), metavar="CELL"),
    Option("peer", "--peer", f"only these of the peers profile's cases (repeatable; default: all): "
                             f"{', '.join(PEERS)}", "many", choices=tuple(PEERS), metavar="CASE", since=2),
    Option("measure", "--measure", f"only these measures (repeatable; default: all; the calibration probes always "
                                   f"run): {', '.join(SELECTABLE_MEASURES)}", "many", choices=SELECTABLE_MEASURES,
           metavar="MEASURE"),
    Option("profile", "--profile", profiles_help(), "one", choices=tuple(PROFILES)),
    Option("threads", "--threads", "the one thread count for every framework and BLAS (the default is where "
                                   "medians repeat from process to process); below the CPU count each benchmark "
                                   "process is also confined to that many CPUs", "one",
           type=arguments.thread_count),
    Option("device", "--device", "cpu or cuda", "one", choices=DEVICES),
    Option("no_pin", "--no-pin", "do not confine the benchmark processes to --threads CPUs", "switch"),
    Option("shard", "--shard", "only the K-th of N shards of the cases (balanced by the baseline's times); "
                               "`rnnbench merge` joins the shards' results", "one", type=arguments.shard,
           metavar="K/N"),
    Option("processes", "--processes", "run each family's benchmarks in K fresh processes and keep every "
                                       "process's rounds and the spread of their medians", "one",
           type=arguments.process_count, metavar="K"),
    Option("lanes", "--lanes", "time up to N families at once, each benchmark process confined to --threads CPUs "
                               "of its own (default 0: as many as this process's CPUs allow at --threads; 1: one "
                               "family after another)", "one", type=arguments.non_negative_int, metavar="N",
           since=3),
    Option("no_onednn", "--no-onednn", "switch oneDNN off in PyTorch (torch.backends.mkldnn) and TensorFlow "
                                       "(TF_ENABLE_ONEDNN_OPTS=0) for every benchmark process; each record's path "
                                       "says what ran", "switch"),
)}
SELECTIONS = tuple(n for n, o in OPTIONS.items() if o.kind == "many")
# The fields the benchmark process itself reads (the rest decide how `bench` runs it).
SUITE_FIELDS = ("impl", "framework", "task", "cell", "peer", "measure", "profile", "threads", "device", "no_pin",
                "shard")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(BenchRequest)}


def add_options(add: Callable, names=tuple(OPTIONS), *, pytest: bool = False, defaults: dict | None = None,
                helps: dict | None = None) -> None:
    """Declare the options of ``names`` through ``add``: argparse's ``add_argument`` (repeatable options take
    several values at once, a repeat is noted and taken once) or, with ``pytest``, pytest's ``addoption``
    (repeated flags). ``defaults`` overrides a field's default for this parser (``ab`` times at profile pair),
    ``helps`` its help where the verb reads it otherwise (``ab``'s measures default to the step measures)."""
    for name in names:
        opt, default = OPTIONS[name], {**_DEFAULTS, **(defaults or {})}[name]
        shown = opt.kind == "one" and default is not None
        text = (helps or {}).get(name, opt.help)
        kwargs = {"help": text + (" (default: %(default)s)" if shown else ""), "dest": name}
        if opt.kind == "switch":
            kwargs.update(action="store_true", default=False)
        elif opt.kind == "many":
            kwargs.update(action="append" if pytest else arguments.ExtendUnique, default=[] if pytest else None)
        else:
            kwargs.update(default=default)
        if opt.kind != "switch":
            for key in ("choices", "type", "metavar"):
                if getattr(opt, key) is not None:
                    kwargs[key] = getattr(opt, key)
        if pytest:
            kwargs["help"] = kwargs["help"].replace("%(default)s", str(default))
        add(opt.flag, **kwargs)


def _flags(request: BenchRequest, names) -> list[str]:
    argv = []
    for name in names:
        opt, value = OPTIONS[name], getattr(request, name)
        if opt.kind == "many":
            argv += [a for v in value for a in (opt.flag, str(v))]
        elif opt.kind == "switch":
            argv += [opt.flag] if value else []
        elif value is not None:
            argv += [opt.flag, str(value)]
    return argv


def read_request(path: str) -> BenchRequest:
    """``bench --request F``: the JSON form from a file, every error naming the file."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as exc:
        raise UserError(f"--request: {path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"--request: {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return BenchRequest.from_json(data, f"--request: {path}")
