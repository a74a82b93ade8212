"""Malformed judgments files through ``rubric-kernel import-judgments``: each is refused in Chinese, naming
the file and the line or field, with a non-zero exit, no traceback and no row written to the store.

The store is filled once from a copy of the demo data (the first use imports its 74 files) and copied
for every case, so "nothing written" is checked against a store that already holds judgments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rubric_kernel import people
from rubric_kernel.cli import main
from rubric_kernel.errors import InputError
from rubric_kernel.judgments import bootstrap, current_sheet, import_judgments
from rubric_kernel.judgments_file import JudgmentsFile, read_judgments, write_judgments
from rubric_kernel.sheet import FreeEntry, IndicatorJudgment, Sheet, tick_limit
from rubric_kernel.store import SaveRequest, StaleSave, Store
from rubric_kernel.workspace import DEMO_DATA, load_workspace


@pytest.fixture(autouse=True)
def _organiser(monkeypatch):
    """The command line imports as the demo registry's organiser (entering experts' sheets on their behalf)."""
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_organiser")


VALID = """\
institution: 13
expert: 李明
date: 2023-06-12
indicators:
  1: {}
  4:
    ticks: {4a: 2}
    free:
      - {points: 1.5, reason: 考评员档案缺少培训记录}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("data") / "demo"
    shutil.copytree(DEMO_DATA, dest)
    return dest


@pytest.fixture(scope="module")
def ws(data):
    return load_workspace(data)


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory, ws) -> Path:
    path = tmp_path_factory.mktemp("store") / "filled.sqlite"
    store = Store(str(path))
    try:
        bootstrap(store, ws)
        people.add(store, ws.dataset.name, "li_ming", "李明", ["expert"], by="demo_admin")  # VALID's expert
        people.assign(store, ws.dataset.name, "li_ming", by="demo_admin", institutions=range(1, 76), group="测试组")
    finally:
        store.close()
    return path


def copy_store(src: Path, dest: Path) -> Path:
    """A consistent copy (the WAL included) through SQLite's backup API."""
    with sqlite3.connect(src) as a, sqlite3.connect(dest) as b:
        a.backup(b)
    a.close()
    b.close()
    return dest


@pytest.fixture
def db(filled_store, tmp_path) -> Path:
    return copy_store(filled_store, tmp_path / "store.sqlite")


def rows(db: Path) -> tuple:
    with sqlite3.connect(db) as conn:
        out = tuple(conn.execute(f"SELECT count(*), max(id) FROM {t}").fetchone() for t in ("rk_versions", "rk_events"))
    conn.close()
    return out


def run_import(capsys, db: Path, data: Path, *files: Path) -> tuple[int, str]:
    code = main(["import-judgments", *map(str, files), "--db", str(db), "--data", str(data)])
    captured = capsys.readouterr()
    return code, captured.err


def refused(capsys, db: Path, data: Path, path: Path, *expected: str) -> str:
    """Import one file; it must be refused with every expected fragment and nothing written."""
    before = rows(db)
    code, err = run_import(capsys, db, data, path)
    assert code != 0
    assert "Traceback" not in err
    assert "输入有误" in err and path.name in err
    for fragment in expected:
        assert fragment in err, err
    assert rows(db) == before
    return err


TOMORROW = "{tomorrow}"  # replaced by tomorrow's date in Beijing time (a judgment may not be dated later than today)

# name, file name, text, fragments the message must hold (file:line and what to write)
CASES = [
    ("octal institution", "13.yaml", VALID.replace("institution: 13", "institution: 013"), ["13.yaml:1", "请写作 13"]),
    ("boolean institution", "13.yaml", VALID.replace("institution: 13", "institution: true"), ["13.yaml:1", "true"]),
    ("fractional institution", "13.yaml", VALID.replace("institution: 13", "institution: 13.0"), ["请写作 13"]),
    ("unknown institution", "13.yaml", VALID.replace("institution: 13", "institution: 99"), ["99", "名单"]),
    ("octal indicator key", "13.yaml", VALID.replace("  1: {}", "  010: {}"), ["13.yaml:5", "请写作 10"]),
    ("fractional indicator key", "13.yaml", VALID.replace("  1: {}", "  1.5: {}"), ["13.yaml:5", "必须是整数"]),
    ("quoted and plain key", "13.yaml", VALID.replace("  1: {}", "  '4': {}"), ["第 5 行与第 6 行"]),
    ("top-level key twice", "13.yaml", VALID + "expert: 王五\n", ["第 2 行与第 10 行", "expert"]),
    ("absurd count", "13.yaml", VALID.replace("4a: 2", "4a: 1" + "0" * 400), ["13.yaml:7", "4a"]),
    ("count above the rubric's use", "13.yaml", VALID.replace("4a: 2", "4a: 5"), ["指标4", "最多为 4"]),
    ("boolean count", "13.yaml", VALID.replace("4a: 2", "4a: yes"), ["13.yaml:7", "勾选一次请写 1"]),
    ("fractional count", "13.yaml", VALID.replace("4a: 2", "4a: 1.5"), ["13.yaml:7", "必须是整数"]),
    ("octal count", "13.yaml", VALID.replace("4a: 2", "4a: 02"), ["13.yaml:7", "请写作 2"]),
    ("NaN points", "13.yaml", VALID.replace("points: 1.5", "points: .nan"), ["13.yaml:9", "NaN"]),
    ("infinite points", "13.yaml", VALID.replace("points: 1.5", "points: 1e400"), ["13.yaml:9", "points"]),
    ("points above maximum", "13.yaml", VALID.replace("points: 1.5", "points: 25"), ["指标4", "满分 20"]),
    ("non-canonical points", "13.yaml", VALID.replace("points: 1.5", "points: 01.5"), ["请写作 1.5"]),
    (
        "adjustment out of range",
        "13.yaml",
        VALID + "adjustments:\n  6: {score: -1, reason: 复核}\n",
        ["指标6", "[0, 10]"],
    ),
    ("octal adjustment key", "13.yaml", VALID + "adjustments:\n  06: {score: 2, reason: 复核}\n", ["13.yaml:11"]),
    ("impossible date", "13.yaml", VALID.replace("2023-06-12", "2023-02-30"), ["13.yaml:3", "2023-02-30 不存在"]),
    ("slashed date", "13.yaml", VALID.replace("2023-06-12", "2023/6/12"), ["13.yaml:3", "YYYY-MM-DD"]),
    ("future date", "13.yaml", VALID.replace("2023-06-12", TOMORROW), ["13.yaml:3", "晚于今天"]),
    ("alias", "13.yaml", VALID.replace("expert: 李明", "expert: &e 李明") + "dismissed: {R13-01: *e}\n", ["别名"]),
    ("type tag", "13.yaml", VALID.replace("institution: 13", "institution: !!int 013"), ["13.yaml:1", "!!int"]),
    ("merge key", "13.yaml", VALID + "<<: {bonus: {party: x}}\n", ["13.yaml:10", "<<"]),
    ("unknown veto clause", "13.yaml", VALID + "veto:\n  1(9): {status: raised, reason: x}\n", ["1(9)"]),
    ("veto status as a boolean", "13.yaml", VALID + "veto:\n  2: {status: yes, reason: x}\n", ["13.yaml:11"]),
    ("unknown bonus", "13.yaml", VALID + "bonus: {golf: 球场}\n", ["golf"]),
    ("record of another institution", "13.yaml", VALID + "dismissed: {R14-01: 修复}\n", ["R14-01"]),
    ("blank expert", "13.yaml", VALID.replace("expert: 李明", "expert: '  '"), ["13.yaml:2", "expert"]),
    ("two documents", "13.yaml", VALID + "---\ninstitution: 14\n", ["YAML 格式错误"]),
    ("unknown key", "13.yaml", VALID + "indicator: {2: {}}\n", ["13.yaml:10", "indicator"]),
    (
        "JSON key twice",
        "13.json",
        '{"institution": 13, "expert": "李明", "date": "2023-06-12",\n "indicators": {"1": {}},\n "indicators": {}}',
        ["第 2 行与第 3 行", "indicators"],
    ),
    ("JSON NaN", "13.json", '{"institution": 13, "expert": "李明", "date": "2023-06-12", "adjustments": NaN}', ["NaN"]),
    ("JSON boolean institution", "13.json", '{"institution": true, "expert": "李明", "date": "2023-06-12"}', ["true"]),
    (
        "JSON float institution",
        "13.json",
        '{"institution": 13.0, "expert": "李明", "date": "2023-06-12"}',
        ["请写作 13"],
    ),
    ("JSON number as text", "13.json", '{"institution": 13, "expert": 7, "date": "2023-06-12"}', ["expert"]),
    ("huge file", "13.yaml", VALID + "# " + "x" * 1_100_000 + "\n", ["文件过大"]),
]


@pytest.mark.parametrize(("name", "file", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_malformed_judgments_refused(capsys, db, data, tmp_path, name, file, text, expected):
    tomorrow = dt.date.fromisoformat(read_today()) + dt.timedelta(days=1)
    path = tmp_path / file
    path.write_text(text.replace(TOMORROW, tomorrow.isoformat()), encoding="utf-8")
    refused(capsys, db, data, path, *expected)


def read_today() -> str:
    from rubric_kernel.judgments_file import beijing_today

    return beijing_today().isoformat()


def test_valid_file_imports_and_reads_as_written(capsys, db, data, tmp_path, ws):
    path = tmp_path / "13.yaml"
    path.write_text(VALID, encoding="utf-8")
    code, err = run_import(capsys, db, data, path)
    assert code == 0, err
    jf = read_judgments(path)
    assert jf.institution == 13 and jf.date == dt.date(2023, 6, 12)
    assert jf.sheet.indicators[4].ticks == {"4a": 2}
    store = Store(str(db))
    try:
        current = current_sheet(store, ws, 13)  # the file's judgments beside the centre's 人社 finding, kept
        assert 16 in current.findings and current == dataclasses.replace(jf.sheet, findings=current.findings)
    finally:
        store.close()


def test_multi_file_import_is_all_or_nothing(capsys, db, data, tmp_path):
    good = tmp_path / "a.yaml"
    good.write_text(VALID, encoding="utf-8")
    bad = tmp_path / "b.yaml"
    bad.write_text(VALID.replace("institution: 13", "institution: 014"), encoding="utf-8")
    before = rows(db)
    code, err = run_import(capsys, db, data, good, bad)
    assert code != 0 and "b.yaml:1" in err and "请写作 14" in err
    assert rows(db) == before
    code, _ = run_import(capsys, db, data, good)
    assert code == 0 and rows(db) != before  # the good file alone does write: the refusal was b's


def test_save_many_writes_all_or_nothing(db):
    """A conflict inside the transaction (two saves of one key from the same base) rolls back the first."""
    store = Store(str(db))
    try:
        before = store.state_token("demo")
        base = store.snapshot("demo", 13).base
        change = {"sc-2023:bonus:party": {"evidence": "新证据"}}
        first = SaveRequest("demo", 13, change, base, "李明", "现场评估")
        second = SaveRequest("demo", 13, {"sc-2023:bonus:party": {"evidence": "另一份"}}, base, "王五", "现场评估")
        with pytest.raises(StaleSave):
            store.save_many([first, second])
        assert store.state_token("demo") == before
        (written,) = store.save_many([first])
        assert [v.key for v in written] == ["sc-2023:bonus:party"]
    finally:
        store.close()


def test_written_file_reads_back_with_plain_decimals(tmp_path):
    """write_judgments writes 0.00001, never YAML's 1.0e-05, which the reader would refuse."""
    sheet = Sheet(indicators={6: IndicatorJudgment(free=(FreeEntry(1e-05, "x"),))})
    out = tmp_path / "out.yaml"
    write_judgments(JudgmentsFile(13, "李明", dt.date(2023, 6, 12), sheet), out)
    assert "0.00001" in out.read_text(encoding="utf-8")
    assert read_judgments(out).sheet == sheet


# ── property: an import fails with nothing written, or round-trips exactly ─────────────────────


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """Valid nine times in ten: a document has many fields, and the round trip needs imports that succeed."""
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda ok: good if ok else bad)


TEXT = st.text(alphabet="李明扣分理由 :#'\"-0123yesnoul~", max_size=8)  # YAML-significant characters too
REASON = mostly(TEXT.filter(str.strip), st.just(" "))
RUBRIC = load_workspace().rubric
JUDGED = sorted(n for n, i in RUBRIC.indicators.items() if i.needs_judgment)


def points(most: float) -> st.SearchStrategy:
    return mostly(
        st.integers(1, int(most) * 2).map(lambda k: k / 2),  # 0.5 steps up to the maximum
        st.sampled_from([0, -1, most + 1, float("nan"), float("inf"), 1e-05, 0.1]),
    )


@st.composite
def indicator(draw, number: int) -> dict:
    ind = RUBRIC.indicators[number]
    out: dict = {}
    chosen = draw(st.lists(st.sampled_from(ind.items), unique_by=lambda it: it.id, max_size=3)) if ind.items else []
    if chosen:
        out["ticks"] = {
            it.id: draw(mostly(st.integers(1, tick_limit(ind.max_points, it.points)), st.sampled_from([0, 10**6])))
            if it.unit
            else 1
            for it in chosen
        }
    free = draw(st.lists(st.fixed_dictionaries({"points": points(ind.max_points), "reason": REASON}), max_size=2))
    if free:
        out["free"] = free
    if draw(st.booleans()):
        out["evidence"] = draw(TEXT)
    return out


@st.composite
def documents(draw) -> dict:
    numbers = draw(st.lists(st.sampled_from(JUDGED), unique=True, max_size=4))
    as_key = draw(st.sampled_from([int, str]))
    doc: dict = {
        "institution": draw(mostly(st.sampled_from([13, 14]), st.sampled_from([99, "013", True, 13.0]))),
        "expert": draw(mostly(st.sampled_from(["李明", "王五"]), st.sampled_from(["", " "]))),
        "date": draw(
            mostly(st.sampled_from(["2023-06-12", "2024-02-29"]), st.sampled_from(["2023-02-30", "2099-01-01"]))
        ),
        "indicators": {as_key(n): draw(indicator(n)) for n in numbers},
    }
    if draw(st.booleans()):
        doc["bonus"] = {b: draw(st.one_of(st.none(), TEXT)) for b in draw(st.sets(st.sampled_from(["party", "qms"])))}
    if draw(st.booleans()):
        own = f"R{doc['institution']}-01" if doc["institution"] in (13, 14) else "R13-01"
        doc["dismissed"] = {draw(mostly(st.just(own), st.just("R01-01"))): draw(REASON)}
    if draw(st.booleans()):
        doc["veto"] = {draw(st.sampled_from(["1(2)", "3"])): {"status": "raised", "reason": draw(REASON)}}
    if draw(st.booleans()):
        n = draw(st.sampled_from(JUDGED))
        doc["adjustments"] = {as_key(n): {"score": draw(points(RUBRIC.indicators[n].max_points)), "reason": "复核"}}
    return doc


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents(), as_json=st.booleans())
def test_import_fails_cleanly_or_round_trips(tmp_path, filled_store, ws, doc, as_json):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # tmp_path is shared by the examples
    db = copy_store(filled_store, folder / "store.sqlite")
    path = folder / ("in.json" if as_json else "in.yaml")
    path.write_text(
        json.dumps(doc, ensure_ascii=False) if as_json else yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8"
    )
    store = Store(str(db))
    try:
        before = store.state_token("demo")
        try:
            import_judgments(store, ws, [path])
        except InputError as exc:
            assert all(f.file.endswith(path.name) for f in exc.faults)
            assert store.state_token("demo") == before
            event("refused")
            return
        event("imported")
        jf = read_judgments(path)
        current = current_sheet(store, ws, jf.institution)
        stored = dataclasses.replace(jf.sheet, findings=current.findings)  # an import leaves the centre's findings
        assert current == stored
        exported = folder / "exported.yaml"
        write_judgments(
            JudgmentsFile(jf.institution, jf.expert, jf.date, current_sheet(store, ws, jf.institution)),
            exported,
        )
        after = store.state_token("demo")
        import_judgments(store, ws, [exported])
        assert store.state_token("demo") == after  # the export holds exactly what the store holds
        assert read_judgments(exported).sheet == stored
    finally:
        store.close()


def test_absurd_count_already_in_the_store_is_a_fault_not_an_overflow(capsys, db, data):
    """A count that reached the store another way (an older release) stops scoring with a message."""
    store = Store(str(db))
    try:
        snap = store.snapshot("demo", 13)
        content = {"ticks": {"sc-2023:item:1a": 10**400}, "free": [], "evidence": "", "note": ""}
        store.save("demo", 13, {"sc-2023:ind:1": content}, snap.base, expert="李明", stage="现场评估")
    finally:
        store.close()
    code = main(["score", "13", "--db", str(db), "--data", str(data)])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "评分库（机构 13）" in err and "指标1" in err and "最多为 5" in err
