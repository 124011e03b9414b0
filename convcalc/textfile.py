"""Reading a user's text file (spec, answer sheet) with a size cap and one-line errors."""
from __future__ import annotations

import os

MAX_BYTES = 1 << 20  # spec files and answer sheets are refused over 1 MiB


def read_text(path: str, what: str, error: type, missing: type | None = None, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of ``path``; any problem is ``error`` (``missing`` for a file that is not there)
    naming the file: ``net.yaml: not UTF-8 text (byte 3)``."""
    import stat

    label = os.path.basename(path) or path
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise error(f"{path}: is a directory, not a {what}")
        if not stat.S_ISREG(mode):  # a FIFO would block, a device never ends
            raise error(f"{path}: not a regular file (a pipe or device), not a {what}")
        size = os.path.getsize(path)
        if size > limit:
            raise error(f"{label}: the file is {size:,} bytes; {what}s are limited to {limit:,} bytes")
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise (missing or error)(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a {what}") from None
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > limit:
        raise error(f"{label}: {what}s are limited to {limit:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{label}: not UTF-8 text (byte {e.start})") from None
