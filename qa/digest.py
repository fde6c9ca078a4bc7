"""Content hashes (one function for texts, one for files) and opening a path only if it is a regular file."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def text_digest(text: str) -> str:
    """What makes two texts the same: 128-bit BLAKE2b of their UTF-8 bytes."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def open_regular(path: Path) -> int:
    """A blocking read descriptor for a regular file; a FIFO or device raises OSError instead of
    hanging the run (opening is non-blocking, the type is checked on the open descriptor)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def file_digest(path: Path) -> str:
    """Content hash of a regular file, read in 1 MB blocks."""
    h = hashlib.blake2b(digest_size=16)
    fd = open_regular(path)
    try:
        with os.fdopen(fd, "rb", closefd=False) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    finally:
        os.close(fd)
    return h.hexdigest()
