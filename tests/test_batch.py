"""The batch: outputs, agreement with ``score``, publicity privacy, incremental re-runs, failures, kill -9 of its main process."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rubric_kernel.batch.kernels import SOCKET_FOLDER_PREFIX
from rubric_kernel.batch.state import State
from rubric_kernel.cli import main
from rubric_kernel.store import Store
from rubric_kernel.workspace import DEMO_DATA, ROSTER_PATH

pytestmark = pytest.mark.slow

DATASET = "demo"
ONLY = (1, 13, 66)
STATUS_ZH = {"complete": "已完成", "provisional": "暂定"}
REPORT_NAME = re.compile(r"\d{2}\.html")


class Env:
    def __init__(self, root: Path):
        self.root = root
        self.db = str(root / "s.sqlite")
        self.out = root / "out"

    def batch(self, only: str = "1,13,66", workers: int = 2) -> int:
        return main(["batch", "--only", only, "--db", self.db, "--out", str(self.out), "--workers", str(workers)])

    def manifest(self) -> dict:
        return json.loads((self.out / "latest" / "manifest.json").read_text(encoding="utf-8"))

    def outcomes(self, numbers=ONLY) -> dict[int, str]:
        m = self.manifest()["institutions"]
        return {n: m[str(n)]["outcome"] for n in numbers}

    def save(self, number: int, changes: dict, reason: str = "") -> None:
        store = Store(f"sqlite:///{self.db}")
        try:
            snap = store.snapshot(DATASET, number)
            assert store.save(DATASET, number, changes, snap.base, expert="测试", stage="复核", reason=reason)
        finally:
            store.close()

    def score(self, number: int) -> dict:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["score", str(number), "--json", "--db", self.db]) == 0
        return json.loads(buf.getvalue())


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One output folder and store shared by the tests below, which build on each other in file order."""
    e = Env(tmp_path_factory.mktemp("batch"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUBRIC_KERNEL_DB", e.db)
        code = e.batch()
        e.first_code = code
        yield e


def _evidence(env: Env, number: int, key: str, evidence: str) -> dict:
    store = Store(f"sqlite:///{env.db}")
    try:
        content = dict(store.snapshot(DATASET, number).live[key])
    finally:
        store.close()
    content["evidence"] = evidence
    return {key: content}


def _summary_rows(path: Path) -> dict[int, dict]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    rows = list(csv.DictReader(lines))  # header on the first line, so analysts' tools read it as is
    assert rows and all(r["数据"] == "演示数据" for r in rows), "every demo row carries the mark"
    return {int(r["序号"]): r for r in rows}


def _names_of(numbers, per_institution: int = 5) -> set[str]:
    roster_text = ROSTER_PATH.read_text(encoding="utf-8")
    names: dict[int, list[str]] = {}
    with (DEMO_DATA / "personnel.csv").open(encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            n = int(row["机构序号"])
            if n in numbers and row["姓名"] not in roster_text:
                names.setdefault(n, []).append(row["姓名"])
    assert set(names) == set(numbers)
    return {name for n in numbers for name in names[n][:per_institution]}


# ------------------------------------------------------------------------------------- a normal run
def test_first_run_writes_every_output(env):
    assert env.first_code == 0
    latest = env.out / "latest"
    assert latest.is_symlink() and latest.resolve().parent == env.out.resolve()
    for name in ("01.html", "13.html", "66.html", "index.html", "summary.csv", "summary.xlsx"):
        assert (latest / name).is_file(), name
    for name in ("publicity.html", "publicity.xlsx", "manifest.json"):
        assert (latest / name).is_file(), name
    for n in ONLY:
        assert (latest / f"{n:02d}.html").read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert env.outcomes() == {n: "executed" for n in ONLY}
    index = (latest / "index.html").read_text(encoding="utf-8")
    for n in ONLY:
        assert f'href="{n:02d}.html"' in index
    load_workbook(latest / "summary.xlsx")
    load_workbook(latest / "publicity.xlsx")


def test_summary_agrees_with_score(env):
    rows = _summary_rows(env.out / "latest" / "summary.csv")
    assert set(rows) == set(ONLY)
    for n in ONLY:
        s, row = env.score(n), rows[n]
        assert float(row["总分"]) == pytest.approx(s["total"]), n
        assert row["等级"] == (s["grade"] or ""), n
        assert row["状态"] == STATUS_ZH[s["status"]], n
        assert row["否定项"] == "、".join(s["veto"]), n
        for name, value in s["level1"].items():
            assert float(row[f"一级·{name}"]) == pytest.approx(value), (n, name)
    assert rows[66]["等级"] == "A" and rows[66]["否定项"], "66 has a confirmed veto"


def test_publicity_has_no_personal_or_expert_names(env):
    latest = env.out / "latest"
    wb = load_workbook(latest / "publicity.xlsx")
    texts = {
        "publicity.html": (latest / "publicity.html").read_text(encoding="utf-8"),
        "publicity.xlsx": "\n".join(
            str(c) for s in wb.worksheets for row in s.iter_rows(values_only=True) for c in row if c is not None
        ),
    }
    store = Store(f"sqlite:///{env.db}")
    try:
        experts = {v.expert for n in ONLY for v in store.history(DATASET, n)}
    finally:
        store.close()
    assert experts
    experts |= {re.sub(r"（.*?）", "", e) for e in experts}  # "马红敏（演示专家）" and "马红敏"
    people = _names_of(ONLY)
    for file, text in texts.items():
        assert "四川旅游学院" in text or "13" in text, file
        assert not [p for p in people if p in text], file
        assert not [e for e in experts if e and e in text], file


# ------------------------------------------------------------------------------------- incremental
def test_identical_second_run_executes_nothing(env):
    before = (env.out / "latest").resolve()
    assert env.batch() == 0
    after = (env.out / "latest").resolve()
    assert after != before
    for name in ("summary.csv", "summary.xlsx", "publicity.html", "publicity.xlsx"):
        assert (after / name).samefile(before / name), f"{name}: same inputs, so the previous run's file"
    outcomes = {int(k): v["outcome"] for k, v in env.manifest()["institutions"].items()}
    assert set(outcomes.values()) <= {"reused", "not selected"}
    assert env.outcomes() == {n: "reused" for n in ONLY}
    for n in ONLY:
        assert (env.out / "latest" / f"{n:02d}.html").is_file()


def test_changed_judgment_reruns_exactly_that_institution(env):
    env.save(13, _evidence(env, 13, "sc-2023:ind:2", "复核补充档案 13-02B"), reason="复核补充")
    before = (env.out / "latest").resolve()
    assert env.batch() == 0
    assert env.outcomes() == {1: "reused", 13: "executed", 66: "reused"}
    for name in ("summary.csv", "summary.xlsx", "publicity.html", "publicity.xlsx"):
        assert not (env.out / "latest" / name).samefile(before / name), f"{name}: an input changed, so rewritten"
    assert "复核补充档案 13-02B" in (env.out / "latest" / "13.html").read_text(encoding="utf-8")


def _section(env: Env, number: int, name: str) -> str:
    """The visible text of one marked section of the latest report, as its seal reads it."""
    from rubric_kernel.report.page_text import read_content

    html = (env.out / "latest" / f"{number:02d}.html").read_text(encoding="utf-8")
    return " ".join(read_content(html).sections[name])


def test_a_changed_score_re_renders_every_report_that_compares_with_it(env):
    """Each report compares its institution with its class and the whole cohort (附录一): a complete
    institution's new score moves those means, so every report is executed again and shows them."""
    key = "sc-2023:ind:1"
    compared = {n: _section(env, n, "appendix-comparison") for n in ONLY}
    changes = _evidence(env, 13, key, "复核补充档案 13-02B")
    changes[key]["free"] = [{"points": 2.0, "reason": "复核发现档案缺页"}]
    env.save(13, changes, reason="复核扣分")
    assert env.batch() == 0
    assert env.outcomes() == {1: "executed", 13: "executed", 66: "executed"}
    for n in ONLY:
        assert _section(env, n, "appendix-comparison") != compared[n], f"report {n} shows the new means"


def test_withdrawing_and_restoring_a_judgment_re_renders_its_record_of_changes(env):
    """The judgments end as they were, so no mean moves, but report 66's 附录五 lists both saves."""
    store = Store(f"sqlite:///{env.db}")
    try:
        key, content = next(iter(store.snapshot(DATASET, 66).live.items()))
    finally:
        store.close()
    env.save(66, {key: None}, reason="误录撤回")
    env.save(66, {key: content}, reason="核实后恢复")
    assert env.batch() == 0
    assert env.outcomes() == {1: "reused", 13: "reused", 66: "executed"}
    record = _section(env, 66, "appendix-history")
    assert "误录撤回" in record and "核实后恢复" in record


def test_leftovers_of_a_killed_write_are_removed(env):
    """What kill -9 leaves mid-write: a report's and the state file's temporary files."""
    run = env.out.resolve() / os.readlink(env.out / "latest")
    planted = [env.out / ".state.json.killed.part", run / ".13.html.killed.part"]
    for p in planted:
        p.write_text("<html>half", encoding="utf-8")
    assert env.batch("13", workers=1) == 0
    assert not list(env.out.rglob("*.part")), list(env.out.rglob("*.part"))


# ------------------------------------------------------------------------------------- failures
def test_failure_is_isolated_and_reported(env, capsys):
    # a dismissal of a record institution 1 does not have: the notebook's check refuses it
    env.save(1, {"dismiss:NOPE": {"reason": "x"}}, reason="测试：无效的排除")
    capsys.readouterr()
    assert env.batch() == 1
    m = env.manifest()["institutions"]
    assert m["1"]["outcome"] == "failed"
    error = m["1"]["error"]
    assert error and "\n" not in error
    assert {m["13"]["outcome"], m["66"]["outcome"]} <= {"reused", "executed"}
    latest = env.out / "latest"
    assert (latest / "13.html").is_file() and (latest / "66.html").is_file()
    assert _summary_rows(latest / "summary.csv").keys() >= {13, 66}
    assert "失败" in (latest / "index.html").read_text(encoding="utf-8")
    assert "失败 1 家" in capsys.readouterr().out


def test_failed_institution_is_retried(env):
    # nothing changed: the failure is not remembered as a success, so it is attempted again
    assert env.batch() == 1
    m = env.manifest()["institutions"]
    assert m["1"]["outcome"] == "failed" and m["1"]["seconds"] is not None
    assert {m["13"]["outcome"], m["66"]["outcome"]} == {"reused"}
    # once fixed, it executes and the run is clean; its score now counts in the means the other reports
    # compare with (附录一), so they are executed again too
    env.save(1, {"dismiss:NOPE": None}, reason="撤回无效的排除")
    assert env.batch() == 0
    assert env.outcomes() == {1: "executed", 13: "executed", 66: "executed"}


# ------------------------------------------------------------------------------------- kill -9
def _cli() -> list[str]:
    script = Path(sys.executable).with_name("rubric-kernel")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rubric_kernel"]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def _marked(marker: str) -> list[int]:
    """Every process carrying ``marker`` in its environment: the batch, its workers, templates and kernels."""
    needle = f"RK_TEST_MARK={marker}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            state = re.search(r"State:\s*(\w)", (proc / "status").read_text()).group(1)
        except (OSError, AttributeError):
            continue  # gone, or not ours
        if needle in environ.split(b"\0") and state != "Z":
            found.append(int(proc.name))
    return found


def _describe_process(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return f"{pid} (gone)"
    ppid = re.search(r"PPid:\s*(\d+)", status).group(1)
    return f"{pid} ppid={ppid}: {cmdline[:160]}"


def _end(pids: list[int]) -> None:
    """End the processes this test's batch left behind (by pid), so a failure leaks nothing."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _sockets(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if stat.S_ISSOCK(p.lstat().st_mode) or p.name.endswith(".sock")]


def _socket_folders(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{SOCKET_FOLDER_PREFIX}*"))


def _check_reports_complete(out: Path) -> None:
    for p in out.rglob("*.html"):
        if REPORT_NAME.fullmatch(p.name):
            assert p.read_text(encoding="utf-8").rstrip().endswith("</html>"), p


def test_killed_run_keeps_previous_results_and_resumes(tmp_path, monkeypatch, request):
    e = Env(tmp_path)
    monkeypatch.setenv("RUBRIC_KERNEL_DB", e.db)
    assert e.batch("13", workers=1) == 0
    previous = os.readlink(e.out / "latest")

    def first_report():
        runs = [d for d in e.out.iterdir() if d.is_dir() and d.name != previous and not d.is_symlink()]
        return [p for d in runs for p in d.glob("0[1-8].html")]

    def recorded(run: str) -> set[int]:  # the runner notes a success right after its files are in place
        return {n for n, entry in State.load(e.out).entries.items() if entry.run == run}

    log = (tmp_path / "killed.log").open("w")
    cmd = [*_cli(), "batch", "--only", "1-8", "--db", e.db, "--out", str(e.out), "--workers", "2"]
    # A short temporary folder, so the kernels' sockets go in it (a long one sends them to /tmp) and the
    # check at the end can see what the killed run left there.
    marker, temp = uuid.uuid4().hex, Path(tempfile.mkdtemp(prefix="rk-killed-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(temp, ignore_errors=True))
    env = dict(os.environ, RK_TEST_MARK=marker, TMPDIR=str(temp))
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        run_dir = _wait(first_report, 120, "the first report of the run")[0].parent
        _wait(lambda: recorded(run_dir.name), 30, "the first success to be recorded")
        assert proc.poll() is None, "the run finished before it could be killed; the test proves nothing"
        assert len(_marked(marker)) > 3, "the batch, its workers and their kernel templates are running"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # the main process only: its descendants must follow by themselves
        proc.wait(timeout=30)
        log.close()
        deadline = time.monotonic() + 10
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        lingering = _marked(marker)
        described = [_describe_process(pid) for pid in lingering]
        _end(lingering)  # asserted at the end, so the resumed run below is checked either way

    finished = recorded(run_dir.name)
    assert finished and finished <= set(range(1, 9))
    _check_reports_complete(e.out)
    assert os.readlink(e.out / "latest") == previous, "latest still shows the last complete run"
    assert (e.out / "latest" / "manifest.json").is_file()

    left = _socket_folders(temp)
    assert left, "the killed run's workers left their kernels' socket folders in the temporary folder"
    monkeypatch.setenv("TMPDIR", str(temp))  # the resumed run's workers clear what the killed ones left
    assert e.batch("1-8") == 0
    outcomes = e.outcomes(range(1, 9))
    assert {n for n, o in outcomes.items() if o == "reused"} == finished, "what finished before the kill is kept"
    assert {n for n, o in outcomes.items() if o == "executed"} == set(range(1, 9)) - finished
    assert os.readlink(e.out / "latest") not in (previous, run_dir.name)
    _check_reports_complete(e.out)
    assert not list(e.out.rglob("*.part")), list(e.out.rglob("*.part"))
    assert not (e.out / "state.journal").exists(), "the finished run folded the killed run's journal into its state"
    for n in range(1, 9):
        assert (e.out / "latest" / f"{n:02d}.html").is_file()
    assert not lingering, "processes left 10 s after kill -9 of the batch:\n" + "\n".join(described)
    assert not _socket_folders(temp), f"the killed run's socket folders not cleared by the next one: {left}"
    assert not _sockets(temp), f"socket files left in the temporary folder: {_sockets(temp)}"


def test_a_second_batch_on_the_same_output_folder_is_refused(env, capsys):
    """Two runs in one folder would delete each other's files in flight: the second waits its turn."""
    import fcntl

    env.out.mkdir(parents=True, exist_ok=True)
    with (env.out / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code = main(["batch", "--only", "13", "--db", env.db, "--out", str(env.out)])
    assert code == 4
    assert "另一个批量任务正在使用输出目录" in capsys.readouterr().out
