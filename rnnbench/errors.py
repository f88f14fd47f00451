"""Errors the CLI turns into one line on stderr and exit status 2 (user errors) or 1 (run failures)."""


class UserError(Exception):
    """Bad input from the user: a value, a name or a file. The message names it and says what is valid."""


class ConfigError(UserError, ValueError):
    """A configuration field holds a value that cannot work."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class UnsupportedError(UserError):
    """An implementation cannot do what was asked (a device, a dtype, a mode)."""


class DivergedError(RuntimeError):
    """Training produced a NaN or infinite loss."""

    def __init__(self, step: int, loss: float):
        self.step = step
        self.loss = loss
        super().__init__(f"loss became {loss} at step {step}; training stopped")


def lookup(table: dict, key: str, field: str, what: str):
    """``table[key]``, or a UserError naming the field, the unknown key and every valid one."""
    try:
        return table[key]
    except KeyError:
        raise UserError(f"{field}: unknown {what} {key!r}; valid: {', '.join(table)}") from None
