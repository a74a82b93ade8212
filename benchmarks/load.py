"""Load on the shared PostgreSQL store: N experts saving judgments at once, as the form saves them.

Each simulated expert connects with their own database login (password checked, in a pgpass file as
on the hub), opens an institution of their group with ``open_assessment`` and saves one indicator
through ``Assessment.save`` (the form's save: identity, authorisation, stale-edit check) every few
seconds. Experts of one group share 15 institutions, so edits collide and some saves are refused as
stale, which is correct. At the end every accepted save is looked up in the store: a missing one is a
lost save and must not happen. Clients are threads (the save waits on the server); with N above the
74 demo experts, logins are reused, like one person in two browser tabs.

    .venv/bin/python benchmarks/load.py --n 10 50 200 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from demo_hub import prepare
from pg_cluster import cluster

from rubric_kernel import hub
from rubric_kernel.assessment import open_assessment
from rubric_kernel.store import StaleSave, Store, StoreError

INDICATORS = (1, 2, 3)  # few indicators: colleagues collide often


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    accepted: list[tuple[int, str, int, str]] = field(default_factory=list)  # institution, key, seq, note
    stale: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def expert(url: str, institutions: list[int], seconds: float, period: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    end = time.monotonic() + seconds
    time.sleep(rng.uniform(0, period))
    n = 0
    forms = {}  # one open form per institution, as an expert keeps a page open
    while time.monotonic() < end:
        number = rng.choice(institutions)
        if number not in forms:
            forms[number] = open_assessment(str(number), db=url, mode="interactive", bootstrap_store=False)
        a = forms[number]
        snap = a.snapshot(refresh=True)
        key = a.ws.rubric.indicators[rng.choice(INDICATORS)].urn  # the store's key, as the form saves it
        note = f"负载测试 {seed}-{n}"
        changes = {key: {**snap.live.get(key, {"evidence": "", "free": [], "ticks": {}}), "note": note}}
        time.sleep(rng.uniform(0, 1))  # the expert edits; a colleague may save meanwhile
        start = time.perf_counter()
        try:
            written = a.save(changes, dict(snap.base))
            took = time.perf_counter() - start
            with tally.lock:
                tally.latencies.append(took)
                tally.accepted += [(a.institution.number, v.key, v.seq, note) for v in written]
        except StaleSave:
            with tally.lock:
                tally.stale += 1
        except StoreError as exc:
            with tally.lock:
                reason = str(exc)[:40]
                tally.refused[reason] = tally.refused.get(reason, 0) + 1
        n += 1
        time.sleep(period * rng.uniform(0.5, 1.5))
    for a in forms.values():
        a.store.close()


def lost(admin_url: str, accepted: list[tuple[int, str, int, str]]) -> int:
    with Store(admin_url) as store:
        missing = 0
        for inst in {i for i, *_ in accepted}:
            found = {(v.key, v.seq): (v.content or {}).get("note") for v in store.history("demo", inst)}
            missing += sum(1 for i, k, s, note in accepted if i == inst and found.get((k, s)) != note)
    return missing


def run(admin_url: str, logins: dict[str, list[int]], n: int, seconds: float, period: float) -> None:
    tally = Tally()
    names = sorted(logins)
    threads = [
        threading.Thread(
            target=expert,
            args=(
                hub.user_url(admin_url, names[i % len(names)]),
                logins[names[i % len(names)]],
                seconds,
                period,
                i,
                tally,
            ),
        )
        for i in range(n)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    lat = sorted(tally.latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    refused = sum(tally.refused.values())
    print(
        f"N={n:<4} {seconds:.0f} 秒  保存 {len(lat)} 次（{len(lat) / wall:.1f} 次/秒）  "
        f"延迟 中位 {statistics.median(lat) * 1000 if lat else float('nan'):.0f} ms / P95 {p95 * 1000:.0f} ms  "
        f"因他人已修改被拒 {tally.stale}  其他拒绝 {refused}  丢失 {lost(admin_url, tally.accepted)}",
        flush=True,
    )
    for reason, count in tally.refused.items():
        print(f"       其他拒绝 {count} 次：{reason}…")


def main() -> int:
    parser = argparse.ArgumentParser(description="共享 PostgreSQL 评分库的并发保存负载测试（演示数据）")
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50, 200], help="同时保存的专家数")
    parser.add_argument("--seconds", type=float, default=60, help="每轮时长（秒）")
    parser.add_argument("--period", type=float, default=3, help="每位专家两次保存的平均间隔（秒）")
    args = parser.parse_args()
    with cluster(port=5441) as (admin_url, pgpass):
        os.environ["PGPASSFILE"] = str(pgpass)
        prepare(admin_url)
        with Store(admin_url) as store:
            from rubric_kernel import people

            experts = {
                p.login: sorted(p.institutions) for p in people.registry(store, "demo").values() if "expert" in p.roles
            }
        lines = [pgpass.read_text(encoding="utf-8")]
        for login in experts:
            line = hub.write_pgpass(
                pgpass.parent / "tmp",
                admin_url,
                login,
                hub.issue_password(str(admin_url).replace("+psycopg", ""), login),
            )
            lines.append(line.read_text(encoding="utf-8"))
        pgpass.write_text("".join(lines), encoding="utf-8")
        print(f"演示数据：{len(experts)} 位演示专家，每位约每 {args.period:.0f} 秒保存一次")
        for n in args.n:
            run(admin_url, experts, n, args.seconds, args.period)
    return 0


if __name__ == "__main__":
    sys.exit(main())
