"""Where the inputs live, and loading them all once at the edge.

Defaults point at the bundled files (``parameters/``, ``data/demo``; ``bundled.py`` says where they
are); every path can be overridden, so an official rubric or a real dataset is a matter of arguments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from .bundled import COLLECTION_PATH, DEMO_DATA, MATERIALS_PATH, PROGRAMME_PATH, ROSTER_PATH, RUBRIC_PATH
from .errors import Fault, InputError, display_path
from .evidence import Dataset, load_dataset
from .input_cache import INPUTS, PROGRAMMES, RUBRIC_REFS, STATIC_DIGESTS
from .judgments_file import JudgmentsFile, read_judgments
from .programme import Materials, Programme, load_materials, load_programme
from .records import RubricRef
from .roster import Institution, load_roster
from .rubric import Rubric, load_rubric
from .scoring import Result, Scorer
from .sheet import Sheet, check_sheet
from .sheet_codec import digest, plain


@dataclass(frozen=True)
class Workspace:
    rubric: Rubric
    roster: Mapping[int, Institution]
    dataset: Dataset
    materials: Materials  # 附件3, which the dataset's materials and personnel tables were checked against
    inputs: str = ""  # the digest of every input file and of the code that loaded them ("": not known)

    def institution(self, number: int) -> Institution:
        try:
            return self.roster[number]
        except KeyError:
            raise InputError(
                [Fault("institutions.csv", f"机构序号 {number} 不在名单中（1–{max(self.roster)}）")]
            ) from None

    @cached_property
    def rubric_ref(self) -> RubricRef:
        """The rubric's own id and the digest of its whole content: recorded with every stored version and
        event, and the digest a report's ``verify`` checks (one function for both). Computed once for given
        inputs and code, then read back from ``var/cache``: dumping the rubric first builds pydantic's
        serialiser for it, 0.05 s of every command that states the rubric (an unchanged batch re-run's too)."""
        return RUBRIC_REFS.get_keyed(
            self.inputs, lambda: RubricRef(self.rubric.meta.id, digest(self.rubric.model_dump(mode="json")))
        )

    @cached_property
    def programme(self) -> Programme:
        """The bundled programme settings the reports are issued under, parsed once per workspace: a batch's
        kernel template parses them before forking, not every kernel (``WorkspaceCache`` watches the file).
        Validated once for given inputs and code (``inputs`` digests the file): a later process, such as
        one ``rubric-kernel report``, reads them back from ``var/cache``."""
        return PROGRAMMES.get_keyed(self.inputs, lambda: load_programme(PROGRAMME_PATH))

    @cached_property
    def static_digests(self) -> Mapping[int, tuple[str, str]]:
        """Each institution's roster row and evidence, digested as every report and batch fingerprint
        states them: computed once for given inputs and code, then read back from ``var/cache`` (the 75
        took 0.07 s of every batch command, an unchanged re-run's included)."""

        def build() -> dict[int, tuple[str, str]]:
            return {
                n: (digest(plain(row)), digest(plain(self.dataset.for_institution(n))))
                for n, row in self.roster.items()
            }

        return STATIC_DIGESTS.get_keyed(self.inputs, build)

    @cached_property
    def collection_types(self) -> tuple[str, ...]:
        """The record types to collect (``collection.yaml``), parsed once per workspace as ``programme``."""
        from .workflow.collection import record_types

        return record_types()

    @cached_property
    def cohort_memo(self) -> LastValue:
        """The last cohort scored with this workspace (``cohort.cohort_for``): the workspace owns it."""
        return LastValue()

    @cached_property
    def scorer(self) -> Scorer:
        """The rubric resolved for scoring, once per workspace (the workspace owns the cache)."""
        return Scorer(self.rubric)

    def score(self, number: int, sheet: Sheet, as_of: dt.date | None = None) -> Result:
        """Score one institution of this workspace with its own evidence (the sheet must be checked)."""
        return self.scorer.score(
            self.institution(number),
            self.dataset.for_institution(number),
            sheet,
            as_of or self.dataset.as_of,
        )


def load_workspace(
    data: Path | str | None = None, rubric: Path | str | None = None, roster: Path | str | None = None
) -> Workspace:
    """Load and validate rubric, roster and dataset; faults of all three are reported together."""
    faults: list[Fault] = []
    r = ro = m = None
    try:
        r = load_rubric(rubric or RUBRIC_PATH)
    except InputError as exc:
        faults.extend(exc.faults)
    try:
        ro = load_roster(roster or ROSTER_PATH)
    except InputError as exc:
        faults.extend(exc.faults)
    try:
        m = load_materials(MATERIALS_PATH)
    except InputError as exc:
        faults.extend(exc.faults)
    if faults or r is None or ro is None or m is None:
        raise InputError(faults)
    return Workspace(r, ro, load_dataset(Path(data or DEMO_DATA), r, ro, m), m)


class LastValue:
    """A one-entry memo: the value computed for the last key asked, recomputed when the key changes."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: Any = None

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if self._key != key:
            self._value = compute()
            self._key = key  # only once computed: a failure leaves the previous pair intact
        return self._value


def _signature(paths: list[Path]) -> tuple:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


class WorkspaceCache:
    """``load_workspace``, reused while none of the input files has changed (size and mtime).

    A kernel process owns one (``KERNEL_WORKSPACES``): its notebook cells, and the kernels forked from
    a batch template, then share the loaded inputs and what the workspace memoises (the cohort). A
    new process reads the inputs validated by an earlier one from ``input_cache`` when none changed.
    """

    def __init__(self) -> None:
        self._last = LastValue()

    def load(
        self, data: Path | str | None = None, rubric: Path | str | None = None, roster: Path | str | None = None
    ) -> Workspace:
        folder = Path(data or DEMO_DATA)
        files = [
            Path(rubric or RUBRIC_PATH),
            Path(roster or ROSTER_PATH),
            MATERIALS_PATH,
            PROGRAMME_PATH,
            COLLECTION_PATH,
        ]
        files.append(folder / "dataset.yaml")
        files += [
            folder / f"{stem}{suffix}" for stem in ("records", "materials", "personnel") for suffix in (".csv", ".xlsx")
        ]

        # In this process: reused while no file's stat changes; across processes: the disk cache of var/.
        def load() -> Workspace:
            key = INPUTS.key(files)
            return replace(INPUTS.get_keyed(key, lambda: load_workspace(data, rubric, roster)), inputs=key)

        return self._last.get(_signature(files), load)


KERNEL_WORKSPACES = WorkspaceCache()  # the kernel process's inputs: see WorkspaceCache


def judgment_files(ws: Workspace) -> dict[int, Path]:
    """The dataset's judgments files by institution number (``judgments/NN.yaml`` or ``.json``)."""
    folder = ws.dataset.folder / "judgments"
    out: dict[int, Path] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() not in (".yaml", ".yml", ".json"):
                continue
            if not p.stem.isdigit():
                raise InputError([Fault(display_path(p), "评分文件应以机构序号命名，例如 13.yaml")])
            out[int(p.stem)] = p
    return out


def read_checked(ws: Workspace, path: Path | str, expect: int | None = None) -> JudgmentsFile:
    """A judgments file validated against the rubric, roster and the institution's records.

    ``expect`` is the institution its file name promises (``judgments/13.yaml``): a file named for
    one institution but holding another's judgments is refused rather than silently misfiled.
    """
    jf = read_judgments(path)
    file = display_path(path)
    if jf.institution not in ws.roster:
        raise InputError([Fault(file, f"机构序号 {jf.institution} 不在机构名单中")])
    if expect is not None and jf.institution != expect:
        raise InputError([Fault(file, f"文件名表示机构 {expect}，内容却是机构 {jf.institution} 的评分")])
    faults = check_sheet(jf.sheet, ws.rubric, ws.dataset.for_institution(jf.institution), file)
    if faults:
        raise InputError(faults)
    return jf
