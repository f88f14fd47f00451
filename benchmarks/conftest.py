"""The timing suites' pytest wiring: options, parametrisation, fixtures and provenance hooks. The logic lives in
``rnnbench.harness`` (one concern a module); this file only connects it to pytest.

Options: the benchmark request's (``rnnbench.spec.request``: ``--impl``, ``--framework``, ``--task``, ``--cell``,
``--measure``, ``--profile``, ``--threads``, ``--device``, ``--no-pin``, ``--shard``), declared and read back there,
and the progress file ``rnnbench bench`` reads. One benchmark process holds one framework family; ``rnnbench
bench`` runs one per family and merges. Unavailable implementations are still collected, and skip with their
reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from rnnbench.cpus import pin_to_cpus
from rnnbench.errors import UserError
from rnnbench.harness import barrier, cases, events, provenance, shards
from rnnbench.harness.compile_cache import fresh_compile_cache
from rnnbench.spec.config import PROFILES, opted_in
from rnnbench.spec.measures import Measure
from rnnbench.spec.request import SUITE_FIELDS, BenchRequest, add_options

_remove_compile_cache = fresh_compile_cache()  # before any framework is imported
# What each benchmark function measures (``--measure`` selects by it); the calibration probes are not listed.
MEASURE_OF = {"test_build": Measure.BUILD, "test_train": Measure.TRAIN, "test_memory": Measure.MEMORY,
              "test_train_step": Measure.TRAIN_STEP, "test_forward": Measure.FORWARD, "test_epoch": Measure.EPOCH,
              "test_scaling_train_step": Measure.SCALING, "test_peak_matmul": Measure.PEAK,
              "test_peak_at_size": Measure.PEAK,
              "test_generate_vectorised": Measure.GENERATE, "test_generate_original_loop": Measure.GENERATE,
              "test_denormal_train_step": Measure.DENORMAL, "test_truncation_train_step": Measure.TRUNCATION}
BASELINE_FILE = Path(__file__).parent / "baselines" / "ci.json"  # each case's expected time, for --shard


def pytest_addoption(parser):
    group = parser.getgroup("rnnbench")
    add_options(group.addoption, SUITE_FIELDS, pytest=True)  # the request's options (rnnbench.spec.request)
    group.addoption(events.OPTION, default=None, help="append one JSON line per finished benchmark to this file")


REQUEST = pytest.StashKey[BenchRequest]()


def bench_request(config) -> BenchRequest:
    """The run's request, read back from pytest's options once per session (every hook asks for it)."""
    if REQUEST not in config.stash:
        config.stash[REQUEST] = BenchRequest.from_pytest(config)
    return config.stash[REQUEST]


def pytest_configure(config):
    request = bench_request(config)
    if not request.no_pin:
        pin_to_cpus(request.threads)
    # rnnbench ab --design duet: both sides start each benchmark together
    meeting = barrier.barrier_from_env("+".join(request.framework) or "all")
    if meeting is not None:
        config.pluginmanager.register(meeting, "rnnbench-duet")
    path = config.getoption(events.OPTION, default=None)
    if path:
        config.pluginmanager.register(events.EventWriter(path), "rnnbench-events")


def pytest_collection_modifyitems(config, items):
    request = bench_request(config)
    measures = request.measure
    if measures:  # the calibration probes always run
        dropped = [i for i in items if MEASURE_OF.get(i.originalname, Measure.CALIBRATION)
                   not in {*measures, Measure.CALIBRATION}]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if i not in dropped]
    text = request.shard
    if not text:
        return
    try:
        shard = shards.parse_shard(text)
    except UserError as exc:
        raise pytest.UsageError(str(exc)) from None
    kept, dropped = shards.select(items, shard, shards.baseline_costs(BASELINE_FILE))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_unconfigure(config):
    _remove_compile_cache()


def pytest_generate_tests(metafunc):
    request = bench_request(metafunc.config)
    threads, device = request.threads, request.device
    names = cases.selected_names(list(request.impl), list(request.framework))
    tasks, cells = list(request.task), list(request.cell)
    if "case" in metafunc.fixturenames:
        if PROFILES[request.profile].peers:  # the peers' configurations instead of the references
            chosen = cases.peer_cases(names, threads, device, list(request.peer), cells,
                                      PROFILES[request.profile].scan)
            ids = [cases.peer_id(n, ref) for n, ref in chosen]
        else:
            chosen = cases.reference_cases(names, threads, device, tasks, cells)
            ids = [cases.case_id(n, ref.config) for n, ref in chosen]
        # module scope: each case is built once and shared by the tests that time a built implementation
        metafunc.parametrize("case", chosen, ids=ids, indirect=True, scope="module")
    if "peer_reference" in metafunc.fixturenames:
        refs = (cases.peer_references(threads, device, list(request.peer), cells)
                if PROFILES[request.profile].peers and not PROFILES[request.profile].scan else [])
        metafunc.parametrize("peer_reference", refs, ids=[r.label for r in refs])
    if "sweep_case" in metafunc.fixturenames:
        points = (cases.sweep_cases(names, threads, device, tasks, cells)
                  if PROFILES[request.profile].sweeps else [])
        ids = [f"{field}-{cases.case_id(n, ref.config)}" for n, ref, field in points]
        metafunc.parametrize("sweep_case", points, ids=ids, indirect=True)
    profile, named = PROFILES[request.profile], list(request.measure)
    if "denormal_case" in metafunc.fixturenames:
        wanted = opted_in(profile, Measure.DENORMAL, named)
        points = cases.denormal_cases(names, threads, device, tasks, cells) if wanted else []
        ids = [f"{inputs}-{cases.case_id(n, ref.config)}" for n, ref, inputs in points]
        metafunc.parametrize("denormal_case", points, ids=ids, indirect=True)
    if "truncation_case" in metafunc.fixturenames:
        wanted = opted_in(profile, Measure.TRUNCATION, named)
        points = cases.truncation_cases(names, threads, device, tasks, cells) if wanted else []
        ids = [f"bptt-{ref.config.num_steps}-{ref.config.k1}-{cases.case_id(n, ref.config)}" for n, ref in points]
        metafunc.parametrize("truncation_case", points, ids=ids, indirect=True)


@pytest.fixture(scope="session", autouse=True)
def blas_threads(request):
    with threadpool_limits(limits=bench_request(request.config).threads):
        yield


@pytest.fixture(scope="session")
def profile(request):
    """The run's profile (``rnnbench.spec.config.PROFILES``)."""
    return PROFILES[bench_request(request.config).profile]


@pytest.fixture(scope="module")
def case(request, profile):
    """(name, reference): an implementation at a reference configuration."""
    name, ref = request.param
    cases.skip_unless_runnable(name, ref.config, profile)
    return name, ref


@pytest.fixture
def sweep_case(request, profile):
    """(name, sweep point, swept field), full profile only."""
    cases.skip_unless_runnable(request.param[0], request.param[1].config, profile)
    return request.param


@pytest.fixture
def denormal_case(request, profile):
    """(name, the LSTM reference, "normal" or "denormal"): full profile, or --measure denormal."""
    cases.skip_unless_runnable(request.param[0], request.param[1].config, profile)
    return request.param


@pytest.fixture
def truncation_case(request, profile):
    """(name, a BPTT(k2, k1) point): full profile, or --measure truncation."""
    cases.skip_unless_runnable(request.param[0], request.param[1].config, profile)
    return request.param


@pytest.fixture(scope="module")
def built(case) -> cases.Built:
    """Built once per case, outside every timing; each test starts from a zero state."""
    return cases.build(*case)


@pytest.fixture
def fresh_state(built) -> cases.Built:
    built.impl.reset_state()
    return built


def pytest_benchmark_update_machine_info(config, machine_info):
    """Provenance of the run (rnnbench.harness.provenance), and the schema of our fields."""
    request = bench_request(config)
    ours = provenance.machine_info(threads=request.threads, device=request.device, profile=request.profile,
                                   frameworks=list(request.framework))
    machine_info["rnnbench"] = ours
    machine_info["schema_version"] = ours["schema_version"]
