"""Errors the CLI turns into one line on stderr, and the exit codes that are the CLI's contract."""

EXIT_OK = 0
EXIT_FAILED = 1  # a regression, a run that diverged, a candidate the gate cannot judge
EXIT_USER = 2  # bad input: a value, a name or a file
EXIT_INTERNAL = 3  # a bug


class UserError(Exception):
    """Bad input from the user: a value, a name or a file. The message names it and says what is valid."""


class ConfigError(UserError, ValueError):
    """A configuration field holds a value that cannot work."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class UnsupportedError(UserError):
    """An implementation cannot do what was asked (a device, a dtype, a mode)."""


class NotJudgeable(UserError):
    """A results file the gate cannot judge (no benchmarks, not rnnbench's): the gate fails on it (exit 1); a
    report refuses it as a user error (exit 2)."""


class DivergedError(RuntimeError):
    """Training produced a NaN or infinite loss."""

    def __init__(self, step: int, loss: float, why: str = ""):
        self.step = step
        self.loss = loss
        super().__init__(why or f"diverged: loss became {loss} at step {step}; training stopped")


def lookup(table: dict, key: str, field: str, what: str):
    """``table[key]``, or a UserError naming the field, the unknown key and every valid one."""
    try:
        return table[key]
    except KeyError:
        raise UserError(f"{field}: unknown {what} {key!r}; valid: {', '.join(table)}") from None
