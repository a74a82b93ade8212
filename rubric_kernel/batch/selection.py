"""``--only 1,3,10-20``: which institutions a batch covers, always a subset of the roster."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import Fault, InputError

MAX_SPEC = 1000  # characters: a selection longer than this is a mistake, not a list of 75 institutions


def parse_only(spec: str | None, known: Iterable[int]) -> list[int]:
    """The selected roster numbers; ranges are checked against the roster before any is expanded."""
    known = sorted(known)
    if not spec:
        return known
    if len(spec) > MAX_SPEC:
        raise InputError([Fault("--only", f"选择过长（{len(spec)} 个字符），应为序号或区间，例如 1,3,10-20")])
    lowest, highest = known[0], known[-1]
    chosen: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        shown = part[:30]
        try:
            a, b = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise InputError([Fault("--only", f"“{shown}”无效，应为序号或区间，例如 1,3,10-20")]) from None
        if a > b:
            raise InputError([Fault("--only", f"区间“{shown}”起点大于终点")])
        if a < lowest or b > highest:
            raise InputError([Fault("--only", f"“{shown}”超出机构名单的序号范围 {lowest}–{highest}")])
        chosen.update(range(a, b + 1))  # bounded by the roster's span, checked above
    unknown = sorted(chosen - set(known))
    if unknown:
        raise InputError([Fault("--only", f"机构序号 {unknown[:10]} 不在名单中")])
    if not chosen:
        raise InputError([Fault("--only", "未选中任何机构，例如 1,3,10-20")])
    return sorted(chosen)
