"""The errors convcalc raises on bad input. The CLI prints them as one line and exits 2."""


class ConvcalcError(ValueError):
    """Base class: a user-facing problem with the input, never a bug.

    ``arg`` (optional) names the argument the error is about; then the message reads
    ``"{arg}: {detail}"`` and ``detail`` is the rest, so callers re-anchor it without parsing text."""

    def __init__(self, message="", arg=None):
        self.arg, self.detail = arg, message
        super().__init__(one_line(f"{arg}: {message}" if arg else message))


class ShapeError(ConvcalcError):
    """A layer cannot take the shape it is given (too small, wrong rank, channel mismatch)."""


class ConfigError(ConvcalcError):
    """A layer's hyper-parameters are invalid on their own (groups, kernel 0, ...)."""


class UnknownModel(ConvcalcError):
    """No zoo model or spec file by that name."""


class NeedsNumber(ConvcalcError):
    """A symbol was given where only a number makes sense (executing, solving)."""


class ConvcalcWarning(UserWarning):
    """What ``convcalc.summary`` warns about (an untiled stride, a note of a traced model), through
    Python's ``warnings`` module: ``warnings.simplefilter("error", convcalc.ConvcalcWarning)``."""


def one_line(text) -> str:
    """The message with control characters written as escapes (a user's key holding a newline
    or an escape sequence must not break the one-line error or reach the terminal raw)."""
    text = str(text)
    if not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in text):
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if ord(c) < 32 or 0x7f <= ord(c) < 0xa0 else c
                   for c in text)
