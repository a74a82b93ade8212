"""Creating files so that readers see the old content or the new, never half of it, and never through a symlink."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write under a temporary name in the same folder, then rename: readers see old or new, never half.

    ``mkstemp`` creates the temporary file exclusively (O_CREAT|O_EXCL, and O_NOFOLLOW where the system
    has it), and the rename replaces a symlink at ``path`` rather than writing through it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def open_lock_file(path: Path) -> int:
    """A descriptor on a lock file, created exclusively if absent, never truncated, never a symlink's target.

    Raises ``OSError`` (ELOOP) when a symlink sits at ``path``, and another ``OSError`` when something
    other than a regular file does: the caller refuses rather than lock (or truncate) someone else's file.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644)
    except FileExistsError:
        fd = os.open(path, os.O_RDWR | NOFOLLOW)  # an earlier run's lock: reuse it as it is, no O_TRUNC
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device planted at the lock's name
        os.close(fd)
        raise OSError(errno.EINVAL, "不是普通文件", str(path))
    return fd
