"""Throughput of the pure scoring core on a deterministic synthetic cohort.

Usage: ``.venv/bin/python benchmarks/score.py [--n 10000]``. Inputs are generated (untimed) from
``random.Random(0)`` against the real rubric, so every run scores the same institutions; only
``Scorer.score`` is timed (the ``Scorer`` is built once, as the workspace does). The last line, ``score_rate=<N>/s target>=5000/s``, is the best of three
runs and is meant to be grepped by whoever tracks the number.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time

from rubric_kernel.evidence import CreditRecord, Evidence, classify_authority
from rubric_kernel.roster import CLASSES, Institution
from rubric_kernel.rubric import Rubric, load_rubric
from rubric_kernel.scoring import Scorer
from rubric_kernel.sheet import (
    Adjustment,
    FreeEntry,
    IndicatorJudgment,
    Sheet,
    VetoDecision,
    check_sheet,
)
from rubric_kernel.workspace import RUBRIC_PATH

TARGET = 5000  # institutions per second on one core
RUNS = 3
AS_OF = dt.date(2023, 7, 31)  # the demo dataset's as-of date: 2019–2023 records fall both in and out of window
AUTHORITIES = ("四川省人力资源和社会保障厅", "成都市市场监督管理局")
SEVERITIES = ("一般", "较重", "严重")
FIRST_DAY = dt.date(2019, 1, 1)
DAYS = (dt.date(2023, 12, 31) - FIRST_DAY).days

Case = tuple[Institution, Evidence, Sheet]


def _records(rng: random.Random, rubric: Rubric, number: int) -> tuple[CreditRecord, ...]:
    codes = list(rubric.record_types_by_code)
    records = []
    for k in range(rng.randint(0, 6)):
        authority = AUTHORITIES[k % 2]
        records.append(
            CreditRecord(
                id=f"S{number:05d}-{k + 1:02d}",
                institution=number,
                type=rng.choice(codes),
                authority=authority,
                system=classify_authority(authority, rubric),
                date=FIRST_DAY + dt.timedelta(days=rng.randint(0, DAYS)),
                severity=rng.choice(SEVERITIES),
                ref=f"合成〔{2019 + k}〕{rng.randint(1, 999)}号" if rng.random() < 0.7 else "",
                summary="（合成）基准测试记录",
                source="基准测试",
            )
        )
    # The dataset loader hands records over sorted by (date, id); keep that shape.
    return tuple(sorted(records, key=lambda r: (r.date, r.id)))


def _sheet(rng: random.Random, rubric: Rubric, records: tuple[CreditRecord, ...]) -> Sheet:
    indicators: dict[int, IndicatorJudgment] = {}
    complete = rng.random() < 0.3  # the rest leave ~10% pending, so both complete and provisional paths run
    for ind in rubric.indicators.values():
        if not ind.needs_judgment or (not complete and rng.random() < 0.1):
            continue
        ticked = rng.sample(ind.items, rng.randint(0, min(3, len(ind.items))))
        ticks = {it.id: rng.randint(1, 3) if it.unit else 1 for it in ticked}
        free = ()
        if rng.random() < 0.15:
            free = (FreeEntry(round(rng.uniform(0.5, min(ind.max_points, 5.0)), 1), "（合成）其他问题"),)
        indicators[ind.number] = IndicatorJudgment(ticks, free, f"（合成）档案 {ind.number}")
    dismissed = {r.id: "（合成）经核实不属实" for r in records if rng.random() < 0.1}
    bonus = {b: rng.choice(("", "（合成）证明材料")) for b in rubric.bonus_items if rng.random() < 0.3}
    veto = {}
    if rng.random() < 0.05:
        clause = rng.choice(list(rubric.veto_clauses))
        veto[clause] = VetoDecision(rng.choice(("raised", "confirmed", "rejected")), "（合成）核实结论", "省职鉴中心")
    adjustments = {}
    if rng.random() < 0.02:
        ind = rng.choice(list(rubric.indicators.values()))
        adjustments[ind.number] = Adjustment(round(rng.uniform(0, ind.max_points), 1), "（合成）复核", "复核组")
    return Sheet(indicators, dismissed, bonus, veto, adjustments)


def synthetic_cases(rubric: Rubric, n: int) -> list[Case]:
    """``n`` valid (institution, evidence, sheet) triples, identical for every call with the same ``n``."""
    rng = random.Random(0)
    cases = []
    for number in range(1, n + 1):
        inst = Institution(number, f"合成机构{number:05d}", "（合成）地址", ("认定机构",), CLASSES[(number - 1) % 3])
        records = _records(rng, rubric, number)
        evidence = Evidence(records)
        sheet = _sheet(rng, rubric, records)
        faults = check_sheet(sheet, rubric, evidence, f"synthetic/{number}")
        if faults:
            raise AssertionError(faults)
        cases.append((inst, evidence, sheet))
    return cases


def _time_once(scorer: Scorer, cases: list[Case]) -> float:
    score = scorer.score
    start = time.perf_counter()
    for inst, evidence, sheet in cases:
        score(inst, evidence, sheet, AS_OF)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="number of synthetic institutions (default 10000)")
    args = parser.parse_args(argv)
    rubric = load_rubric(RUBRIC_PATH)
    cases = synthetic_cases(rubric, args.n)
    scorer = Scorer(rubric)
    times = [_time_once(scorer, cases) for _ in range(RUNS)]
    best, median = min(times), statistics.median(times)
    print(f"scored {args.n} institutions x {RUNS} runs")
    print(f"best   {best:.3f}s  {args.n / best:,.0f} institutions/s")
    print(f"median {median:.3f}s  {args.n / median:,.0f} institutions/s")
    print(f"score_rate={args.n / best:.0f}/s target>={TARGET}/s")


if __name__ == "__main__":
    main()
