"""``--only 1,3,10-20``: which institutions a batch covers."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import Fault, InputError


def parse_only(spec: str | None, known: Iterable[int]) -> list[int]:
    known = sorted(known)
    if not spec:
        return known
    chosen: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a, b = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise InputError([Fault("--only", f"“{part}”无效，应为序号或区间，例如 1,3,10-20")]) from None
        if a > b:
            raise InputError([Fault("--only", f"区间“{part}”起点大于终点")])
        chosen.update(range(a, b + 1))
    unknown = sorted(chosen - set(known))
    if unknown:
        raise InputError([Fault("--only", f"机构序号 {unknown} 不在名单中")])
    return sorted(chosen)
