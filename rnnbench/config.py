"""The run configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from rnnbench.errors import ConfigError

DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")


def _default_threads() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class RunConfig:
    num_steps: int = 5  # window length: steps of truncated backpropagation
    state_size: int = 4  # hidden units of the vanilla RNN
    batch_size: int = 200  # rows the stream is cut into; each row is a contiguous piece of it
    num_classes: int = 2  # input and output alphabet (the task is binary)
    learning_rate: float = 0.1  # Adagrad step size
    size: int = 1_000_000  # samples per epoch
    epochs: int = 1  # passes, each over a fresh stream
    seed: int = 0  # seeds the data streams and the initial parameters
    threads: int = field(default_factory=_default_threads)  # same for every framework in a run
    device: str = "cpu"  # "cpu" or "cuda"
    dtype: str = "float32"  # "float32" or "float64"

    def __post_init__(self) -> None:
        for name in ("num_steps", "state_size", "batch_size", "size", "epochs", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ConfigError("num_classes", f"must be an integer >= 2, got {self.num_classes!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError("seed", f"must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ConfigError("learning_rate", f"must be a number > 0, got {self.learning_rate!r}")
        if self.learning_rate != self.learning_rate or self.learning_rate == float("inf"):
            raise ConfigError("learning_rate", f"must be finite, got {self.learning_rate!r}")
        if self.device not in DEVICES:
            raise ConfigError("device", f"must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.size < self.batch_size:
            raise ConfigError(
                "batch_size", f"must be at most size ({self.size}), got {self.batch_size}"
            )
        if self.num_steps > self.row_length:
            raise ConfigError(
                "num_steps",
                f"a window of {self.num_steps} is longer than a row "
                f"(size {self.size} // batch_size {self.batch_size} = {self.row_length}); "
                f"use at most {self.row_length}",
            )

    @property
    def row_length(self) -> int:
        """Columns in each of the batch_size rows the stream is cut into."""
        return self.size // self.batch_size

    @property
    def windows_per_epoch(self) -> int:
        """Train steps in one epoch; columns past the last whole window are dropped."""
        return self.row_length // self.num_steps

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Reference:
    """A reference configuration and the theory level it is expected to reach."""

    label: str  # e.g. "T5-S4"
    config: RunConfig
    expected_level: str  # a key of rnnbench.task.TheoryLevels
    target: float  # time-to-target: first time the running mean of 100 step losses falls below this
    loss_band: tuple[float, float]  # where final_loss must land; leaving it is a regression, always


def reference_configs(threads: int | None = None, device: str = "cpu") -> tuple[Reference, ...]:
    """(5,4) learns only t-3 in one epoch; (10,16) learns both within a few epochs."""
    extra = {"device": device} if threads is None else {"threads": threads, "device": device}
    return (
        Reference("T5-S4", RunConfig(num_steps=5, state_size=4, epochs=1, **extra), "lag3", 0.53, (0.505, 0.535)),
        Reference("T10-S16", RunConfig(num_steps=10, state_size=16, epochs=5, **extra), "both", 0.47, (0.44, 0.465)),
    )


BASELINE_IMPL = "tf-cell"  # the original tutorial's TF1 loop: every speed-up is against it


@dataclass(frozen=True)
class Profile:
    """How much ``rnnbench bench`` measures."""

    name: str
    max_time: float  # pytest-benchmark --benchmark-max-time per benchmark, seconds
    sweeps: bool  # also the scaling sweeps (SWEEPS)
    help: str


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("quick", 0.5, False, "the reference configurations"),
    Profile("full", 1.0, True, "also the scaling sweeps"),
    Profile("ci", 0.1, False, "quick with fewer rounds, for the regression gate"),
)}
DEFAULT_PROFILE = "quick"


def profiles_help() -> str:
    return "; ".join(f"{p.name}: {p.help}" + (" (default)" if p.name == DEFAULT_PROFILE else "")
                     for p in PROFILES.values())


# The full profile's sweeps: one parameter varied from the (5,4) reference, one window timed per point.
SWEEPS: dict[str, tuple[int, ...]] = {
    "state_size": (4, 16, 64, 256, 1024),
    "num_steps": (5, 20, 50, 200),
    "batch_size": (1, 10, 100, 1000, 2000),
}
