"""Reading files that anyone could have put there: regular files only, never more than a stated size.

Run folders and data files come from users, downloads and other programs. Every read goes through
:func:`read_regular` (or :func:`open_regular`): a folder, a named pipe, a device (``/dev/zero``), a socket or a
symlink loop is refused at once instead of hanging or reading forever, and a file larger than the caller's
limit is refused before any of it is read. :func:`loads_json` parses JSON with its nesting and numbers bounded.
Each function raises the caller's error class with a one-line message that names the file.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from typing import BinaryIO

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def open_regular(path, error: type[Exception] = ValueError) -> tuple[BinaryIO, int]:
    """Open ``path`` for reading if it is a regular file (a symlink to one is fine): (file, size in bytes).

    Opened non-blocking, so a named pipe or a device never blocks the open; refused before any read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{path} does not exist") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{path} is a symbolic link loop, not a file") from None
        if e.errno in (errno.EISDIR, errno.EACCES) and os.path.isdir(path):
            raise error(f"{path} is a folder, not a file") from None
        raise error(f"cannot read {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"{path} is {_kind(st.st_mode)}, not a regular file")
        return os.fdopen(fd, "rb"), int(st.st_size)
    except BaseException:
        os.close(fd)
        raise


def is_regular(path) -> bool:
    """Whether ``path`` is a regular file (following symlinks); False for loops, pipes, devices, folders."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_regular(path, limit: int, error: type[Exception] = ValueError, what: str = "file") -> bytes:
    """All of a regular file's bytes, refusing it (before reading) when it holds more than ``limit`` bytes."""
    f, size = open_regular(path, error)
    with f:
        if size > limit:
            raise error(f"{path} is too large for a {what}: {size:,} bytes, at most {limit:,} expected")
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise error(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > limit:  # it grew while we read it
        raise error(f"{path} is too large for a {what}: more than {limit:,} bytes")
    return data


def loads_json(raw: bytes, error: type[Exception] = ValueError, where: str = "the file"):
    """Parse UTF-8 JSON; errors (bad syntax, nesting too deep, integers of thousands of digits) -> ``error``.

    Nesting is bounded by Python's recursion limit (the C parser raises RecursionError, caught here) and
    integer size by Python's integer-string limit (ValueError, caught here)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise error(f"{where} is damaged: it is not UTF-8 text") from None
    except RecursionError:
        raise error(f"{where} is damaged: its JSON is nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, or an integer too long to convert
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise error(f"{where} is damaged: it is not valid JSON ({first})") from None


def physical_memory() -> int | None:
    """This machine's RAM in bytes, or None where it cannot be told."""
    try:
        n = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return int(n) if n > 0 else None
    except (AttributeError, ValueError, OSError):
        return None


def big_number(n: int) -> str:
    """12345 -> '12,345'; numbers past a quadrillion as a power of ten (any size, even 10^5000)."""
    return f"{n:,}" if n < 10**15 else f"about 10^{int(n.bit_length() * 0.30103)}"


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; 3e12 -> '2.7 TiB'; past 1024 PiB as a power of ten."""
    if n >= 1 << 60:
        return big_number(int(n)) + " bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:,.0f} bytes" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"
