"""One exclusive inter-process lock: ``flock`` on a file (created if missing) or a directory.

The kill-switch, the ingest and the drill each serialise their writers with it. flock is advisory,
released by the kernel if the holder dies (no stale lock files), and works on local filesystems.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def exclusive_lock(path: Path, *, directory: bool = False) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` for the block: a lock file (created if missing), or an
    existing directory when ``directory``. A lock file that is not a file fails loudly."""
    if directory:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
