"""Validated inputs kept on disk between commands, in the working folder's ``var/cache``.

Loading the rubric, roster, 附件3 checklist and dataset parses YAML and CSV and validates every row:
most of a short command's time (``rubric-kernel score``). The loaded objects are pickled under a key
made of the content digests of every input file and the stat of the package's own source files, so
any change to an input or to the code that built them loads afresh. A cache file that cannot be read
back (truncated, foreign, from another version) is ignored and rewritten; one that cannot be written
(read-only folder) is simply not kept. The folder is the store's own ``var/``: whoever can write
there can already rewrite the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .bundled import var_dir
from .files import atomic_write

PACKAGE = Path(__file__).resolve().parent
PREFIX = "inputs-"


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "absent"


def _code_stamp() -> list[tuple[str, int, int]]:
    stamp = []
    for p in sorted(PACKAGE.rglob("*.py")):
        st = p.stat()
        stamp.append((str(p.relative_to(PACKAGE)), st.st_mtime_ns, st.st_size))
    return stamp


class InputCache:
    """One pickled value per set of input files; the latest set only (older entries are removed)."""

    def __init__(self, folder: Path | None = None, prefix: str = PREFIX) -> None:
        self._folder = folder
        self._prefix = prefix

    @property
    def folder(self) -> Path:
        return self._folder or var_dir() / "cache"  # var_dir() read when used: --home is set after import

    def key(self, files: Iterable[Path]) -> str:
        h = hashlib.sha256()
        for path in files:
            # the path as given too: a relative one names another folder from another working folder
            h.update(f"{path}\0{path.resolve()}\0{_file_digest(path)}\0".encode())
        h.update(repr(_code_stamp()).encode())
        return h.hexdigest()[:32]

    def get(self, files: Iterable[Path], build: Callable[[], Any]) -> Any:
        """The value cached for these files' contents, else ``build()`` (then cached)."""
        return self.get_keyed(self.key(files), build)

    def get_keyed(self, key: str | None, build: Callable[[], Any]) -> Any:
        """The value cached under ``key`` (everything the value depends on, digested), else ``build()``.

        No key (None or ""): nothing identifies the value (inputs not digested, a server's store written
        to from elsewhere), so it is built every time and never kept."""
        if not key:
            return build()
        path = self.folder / f"{self._prefix}{key}.pickle"
        try:
            return pickle.loads(path.read_bytes())
        except OSError:
            pass  # absent, or no cache folder at all
        except Exception:  # any cache that does not read back is rebuilt, never trusted
            with contextlib.suppress(OSError):
                path.unlink()
        value = build()
        try:
            atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            for old in self.folder.glob(f"{self._prefix}*.pickle"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only working folder: the command works, uncached
        return value


def digest_key(*parts: object) -> str:
    """A cache key from everything a cached answer depends on (their reprs, digested)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


INPUTS = InputCache()
PROGRAMMES = InputCache(prefix="programme-")  # ``Workspace.programme``, validated, by the inputs' digest
STATIC_DIGESTS = InputCache(prefix="digests-")  # ``Workspace.static_digests``, by the inputs' digest
RUBRIC_REFS = InputCache(prefix="rubric-ref-")  # ``Workspace.rubric_ref``, by the inputs' digest
JUDGMENT_DIGESTS = InputCache(prefix="judgments-")  # ``report.digest.live_judgment_digests``: by store state
VERSIONS = InputCache(prefix="versions-")  # ``batch.versions.run_versions``: by the folders of sys.path
COHORTS = InputCache(prefix="cohort-")  # ``cohort.cohort_for``: the cohort's results by inputs, store state, date
COMPARISONS = InputCache(prefix="comparison-")  # ``cohort.comparison_digest``: keyed as the cohort
# ``id_map.refuse_orphans``: passed checks only (a refusal raises)
ORPHAN_CHECKS = InputCache(prefix="no-orphans-")
