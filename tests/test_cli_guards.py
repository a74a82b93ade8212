"""Options refused before anything is written, one Chinese line and no traceback, files never written through
a symlink, killed runs cleaned, CSV cells neutralised, and no papermill for commands that do not run notebooks."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubric_kernel.cli import COMMANDS, MODULE_OF, core_cmds, main
from rubric_kernel.spreadsheet import csv_safe, csv_text

ROOT = Path(__file__).resolve().parents[1]  # the checkout
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# ------------------------------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A store already loaded with the demo judgments, an output folder holding an earlier file, a plain file."""
    root = tmp_path_factory.mktemp("guards")
    db = str(root / "s.sqlite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RUBRIC_KERNEL_DB", db)
        assert main(["score", "13", "--db", db]) == 0
    out = root / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier output", encoding="utf-8")
    (root / "plain.txt").write_text("not a folder", encoding="utf-8")
    return {"root": root, "db": db, "out": out, "file": root / "plain.txt"}


def row_counts(db: str) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


def run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses before the command starts
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# ------------------------------------------------------------------- refused before the first write
CASES = [
    # (arguments, expected exit status, what the one line must say)
    (["batch", "--as-of", "2023-02-30"], 2, "日期“2023-02-30”无效"),
    (["batch", "--as-of", "2023/5/8"], 2, "应为 YYYY-MM-DD"),
    (["batch", "--only", "1-1000000000"], 2, "超出机构名单的序号范围 1–75"),
    (["batch", "--only", "0"], 2, "超出机构名单的序号范围"),
    (["batch", "--only", "9-3"], 2, "起点大于终点"),
    (["batch", "--only", "abc"], 2, "“abc”无效"),
    (["batch", "--only", ",".join(["1"] * 600)], 2, "选择过长"),
    (["batch", "--workers", "0"], 2, "应在 1–32 之间"),
    (["batch", "--workers", "100000000"], 2, "应在 1–32 之间"),
    (["batch", "--workers", "many"], 2, "应为整数"),
    (["batch", "--out", "{file}"], 2, "已存在且不是目录"),
    (["batch", "--out", "{file}/sub"], 2, "已存在且不是目录"),
    (["batch", "--rubric", "{root}/missing.yaml"], 2, "missing.yaml"),
    (["batch", "--roster", "{root}/missing.csv"], 2, "missing.csv"),
    (["report", "13", "--as-of", "2023-13-01"], 2, "日期“2023-13-01”无效"),
    (["report", "13", "--out", "{file}"], 2, "已存在且不是目录"),
    (["report", "99"], 2, "机构序号 99 不在名单中"),
    (["score", "13", "--as-of", "2023-02-29"], 2, "日期“2023-02-29”无效"),
    (["score", "0"], 2, "机构序号 0 不在名单中"),
    (["score", "10000000000000000000000"], 2, "不在名单中"),
    (["score", "13", "--rubric", "{root}/missing.yaml"], 2, "missing.yaml"),
    (["summary", "--as-of", "13"], 2, "日期“13”无效"),
    (["status", "99"], 2, "机构序号 99 不在名单中"),
    (["status", "0"], 2, "机构序号 0 不在名单中"),
    (["consolidate", "13", "--threshold", "nan"], 2, "应在 0–1000 之间"),
    (["consolidate", "13", "--threshold", "-1"], 2, "应在 0–1000 之间"),
    (["consolidate", "13", "--threshold", "1e400"], 2, "应在 0–1000 之间"),
    (["schedule", "--groups", "100000000"], 2, "超出允许范围 1–20"),
    (["schedule", "--per-day", "0"], 2, "超出允许范围"),
    (["schedule", "--out", "{file}"], 2, "已存在且不是目录"),
    (["publicity", "--start", "2023-08-01", "--out", "{file}"], 2, "已存在且不是目录"),
    (["announce", "--date", "2023-09-01", "--out", "{file}"], 2, "已存在且不是目录"),
]


@pytest.mark.parametrize(("argv", "status", "message"), CASES, ids=[" ".join(c[0])[:40] for c in CASES])
def test_bad_option_is_one_chinese_line_and_nothing_written(place, capsys, argv, status, message):
    argv = [a.format(file=place["file"], root=place["root"]) for a in argv]
    if argv[0] in ("batch", "report") and "--out" not in argv:
        argv += ["--out", str(place["out"])]
    before_rows, before_out = row_counts(place["db"]), tree(place["out"])
    code, shown = run([*argv, "--db", place["db"]], capsys)
    assert code == status, shown
    assert message in shown
    assert "Traceback" not in shown
    assert len(shown.strip().splitlines()) == 1, shown
    assert row_counts(place["db"]) == before_rows
    assert tree(place["out"]) == before_out


def test_unexpected_error_prints_a_line_and_logs_the_traceback(place, capsys, monkeypatch, tmp_path):
    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(core_cmds, "cmd_score", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    code, shown = run(["score", "13", "--db", place["db"]], capsys)
    assert code == 70
    assert "Traceback" not in shown and "a bug" not in shown
    assert "内部错误（ZeroDivisionError）" in shown and len(shown.strip().splitlines()) == 1
    logs = list(tmp_path.glob("rubric-kernel-error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in shown
    text = logs[0].read_text(encoding="utf-8")
    assert "Traceback" in text and "ZeroDivisionError: a bug" in text
    assert logs[0].stat().st_mode & 0o077 == 0, "the log is the user's own"


def test_a_file_that_cannot_be_read_is_named(place, capsys, monkeypatch):
    def unreadable(args):
        raise PermissionError(13, "Permission denied", str(place["file"]))

    monkeypatch.setattr(core_cmds, "cmd_score", unreadable)
    code, shown = run(["score", "13", "--db", place["db"]], capsys)
    assert code == 2 and "Traceback" not in shown
    assert "文件操作失败" in shown and "plain.txt" in shown


# ------------------------------------------------------------------------------ lock and temporaries
def test_a_symlink_at_the_lock_path_is_refused_and_its_target_untouched(place, capsys, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("do not truncate", encoding="utf-8")
    (out / ".lock").symlink_to(target)
    before_rows = row_counts(place["db"])
    code, shown = run(["batch", "--only", "13", "--db", place["db"], "--out", str(out)], capsys)
    assert code == 4 and ".lock" in shown and "Traceback" not in shown
    assert target.read_text(encoding="utf-8") == "do not truncate"
    assert sorted(p.name for p in out.iterdir()) == [".lock"], "no run folder was created"
    assert row_counts(place["db"]) == before_rows


def test_lock_file_is_reused_without_truncation_and_must_be_a_regular_file(tmp_path):
    from rubric_kernel.files import open_lock_file

    lock = tmp_path / ".lock"
    fd = open_lock_file(lock)
    os.close(fd)
    assert lock.is_file() and not lock.is_symlink()
    lock.write_text("pid 1", encoding="utf-8")
    os.close(open_lock_file(lock))
    assert lock.read_text(encoding="utf-8") == "pid 1", "an existing lock is opened, not truncated"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        open_lock_file(fifo)


def test_atomic_write_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path):
    from rubric_kernel.files import atomic_write

    target = tmp_path / "target.txt"
    target.write_text("keep", encoding="utf-8")
    link = tmp_path / "summary.csv"
    link.symlink_to(target)
    atomic_write(link, "new")
    assert target.read_text(encoding="utf-8") == "keep"
    assert not link.is_symlink() and link.read_text(encoding="utf-8") == "new"


# ------------------------------------------------------------------------------------- killed runs
def _run_folder(out: Path, run_id: str, complete: bool) -> Path:
    d = out / run_id
    d.mkdir(parents=True)
    (d / "13.html").write_text("<html></html>", encoding="utf-8")
    if complete:
        (d / "manifest.json").write_text("{}", encoding="utf-8")
    return d


def test_clean_removes_only_killed_runs(tmp_path, capsys):
    out = tmp_path / "out"
    killed = _run_folder(out, "20230101-000000", complete=False)
    killed2 = _run_folder(out, "20230101-000001-2", complete=False)
    done = _run_folder(out, "20230102-000000", complete=True)
    (out / "latest").symlink_to(done.name, target_is_directory=True)
    (out / "reports").mkdir()  # not a run: other commands' outputs share the default folder
    (out / "state.json").write_text(
        json.dumps({"institutions": {"13": {"fingerprint": "f", "run": killed.name}, "1": {"run": done.name}}}),
        encoding="utf-8",
    )
    code, shown = run(["batch", "--clean", "--out", str(out)], capsys)
    assert code == 0 and killed.name in shown and killed2.name in shown
    assert not killed.exists() and not killed2.exists()
    assert done.is_dir() and (out / "latest").resolve() == done.resolve() and (out / "reports").is_dir()
    state = json.loads((out / "state.json").read_text(encoding="utf-8"))["institutions"]
    assert set(state) == {"1"}, "an entry whose outputs were removed is forgotten, so it runs again"
    code, shown = run(["batch", "--clean", "--out", str(out)], capsys)
    assert code == 0 and "没有" in shown


def _fake_batch(tmp_path: Path, monkeypatch, ok: set[int]):
    """run_batch with the notebooks replaced by instant results: only the runner's own decisions are tested."""
    from rubric_kernel.batch import runner
    from rubric_kernel.batch.worker import JobResult
    from rubric_kernel.store import Store
    from rubric_kernel.workspace import load_workspace

    def execute(jobs, workers, finished, warm):
        for job in jobs:
            if job.number in ok:
                (job.out_dir / f"{job.number:02d}.ipynb").write_text("{}", encoding="utf-8")
                (job.out_dir / f"{job.number:02d}.html").write_text("<html></html>", encoding="utf-8")
                finished(JobResult(job.number, True, 0.0, {"total": 1.0}))
            else:
                finished(JobResult(job.number, False, 0.0, error="NotebookInputError: 参数 as_of"))

    monkeypatch.setattr(runner, "execute_jobs", execute)
    monkeypatch.setattr(runner.cohort_pages, "write_summary", lambda *a: None)
    monkeypatch.setattr(runner.cohort_pages, "write_publicity", lambda *a, **k: None)
    monkeypatch.setattr(runner.cohort_pages, "write_index", lambda *a: None)
    ws = load_workspace()
    store = Store(str(tmp_path / "s.sqlite"))
    try:
        cfg = runner.BatchConfig(out=tmp_path / "out", numbers=[1, 13], workers=1, data="", db_url="")
        return runner.run_batch(ws, store, cfg, str)
    finally:
        store.close()


def test_latest_never_moves_to_a_run_where_every_institution_failed(tmp_path, monkeypatch):
    first = _fake_batch(tmp_path, monkeypatch, ok={1, 13})
    assert first.published and os.readlink(tmp_path / "out" / "latest") == first.run_id
    killed = _run_folder(tmp_path / "out", "20000101-000000", complete=False)
    monkeypatch.setattr("rubric_kernel.batch.runner.fingerprint", lambda shared, own: "changed")
    failed = _fake_batch(tmp_path, monkeypatch, ok=set())
    assert failed.failures.keys() == {1, 13} and not failed.published
    assert os.readlink(tmp_path / "out" / "latest") == first.run_id
    assert failed.incomplete == [killed], "the killed run is listed by the next run"


# ---------------------------------------------------------------------------------------------- CSV
@given(st.sampled_from(FORMULA_STARTS), st.text(max_size=30))
def test_every_text_cell_that_a_spreadsheet_could_run_is_neutralised(start, rest):
    cell = start + rest
    assert csv_safe(cell) == "'" + cell
    line = csv_text([{"名称": cell, "分": -3.5}], "").lstrip("\ufeff")
    import csv
    import io

    row = next(csv.DictReader(io.StringIO(line)))
    assert row["名称"] == "'" + cell and row["分"] == "-3.5", "a negative number stays a number"


@given(st.text(max_size=30).filter(lambda t: not t.startswith(FORMULA_STARTS)))
def test_ordinary_text_is_written_as_is(text):
    assert csv_safe(text) == text


def test_sharing_csv_neutralises_formula_names(tmp_path):
    import csv
    import datetime as dt

    from rubric_kernel.roster import Institution
    from rubric_kernel.workflow.documents import sharing_records, write_sharing

    names = {1: "-1+1", 2: "+1+cmd|' /C calc'!A0", 3: "@SUM(A1)", 4: '=HYPERLINK("x")', 5: "四川旅游学院"}
    roster = {n: Institution(n, name, "", ("认定机构",), "院校") for n, name in names.items()}
    results = {n: {"grade": "AAA", "total": -0.5 if n == 1 else 900.0} for n in names}
    day = dt.date(2023, 9, 1)
    records = sharing_records(
        roster, results, as_of=day, announced=dict.fromkeys(names, day), valid_years=2, synthetic=True
    )
    write_sharing(tmp_path, records)
    with (tmp_path / "sharing.csv").open(encoding="utf-8-sig") as fh:
        rows = {int(r["institution"]): r for r in csv.DictReader(fh)}
    for n, name in names.items():
        assert rows[n]["name"] == (name if n == 5 else "'" + name)
    assert rows[1]["score"] == "-0.5"


# ---------------------------------------------------------------------------------------- start-up
def test_score_does_not_import_the_notebook_machinery(place):
    """Scoring one institution needs no kernel, no migration and no workbook: the parser and the score
    command leave papermill, Alembic and openpyxl alone; and with its inputs validated in var/cache by
    an earlier command, no YAML parser either."""
    for _ in range(2):  # the first fills the store and the input cache
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "rubric_kernel", "score", "13", "--db", place["db"]],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "RUBRIC_KERNEL_DB": place["db"]},
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    imported = set(re.findall(r"\|\s+([\w.]+)\s*$", proc.stderr, re.MULTILINE))
    assert "rubric_kernel.scoring" in imported, "the import log was read"
    unneeded = {"papermill", "nbconvert", "jupyter_client", "nbformat", "IPython", "alembic", "openpyxl", "yaml"}
    heavy = {m for m in imported if m.split(".")[0] in unneeded}
    assert not heavy, sorted(heavy)[:10]
    # Only the score command's module: not the workflow, signing-key, batch or report commands.
    other = {f"rubric_kernel.cli.{m}" for m in COMMANDS if m != "core_cmds"} | {"rubric_kernel.workflow.service"}
    assert not imported & other, sorted(imported & other)


def test_reading_a_notebook_does_not_compile_iri_grammars():
    """jsonschema 4.25 imports rfc3987-syntax, which compiles ~38 Lark grammars (3-4 s) in every process
    that imports nbformat: each batch command and worker, JupyterLab, Voila. pyproject keeps it below."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, nbformat; print(sorted(m for m in sys.modules if m.startswith('lark')))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]", proc.stdout


def test_the_command_table_is_what_the_modules_register():
    """The parser imports only the named command's module: the table must say which module registers it."""
    import argparse
    import importlib

    for name, commands in COMMANDS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"rubric_kernel.cli.{name}").register(sub)
        assert tuple(sub.choices) == commands, name


@pytest.mark.parametrize(
    "argv",
    [["-h"], ["--home", ".", "-h"], ["-h", "score"], ["scor", "13"], ["--home"]],
)
def test_help_and_a_mistyped_command_still_see_every_command(argv, capsys):
    """Without a recognised command (help, a typo) every module is registered: the usage lists them all."""
    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr()
    shown = out.out + out.err
    assert "Traceback" not in shown
    if "--home" not in argv[-1:]:
        assert all(c in shown for c in MODULE_OF), [c for c in MODULE_OF if c not in shown]


# ------------------------------------------------------------------ --rubric and --roster everywhere
def _json_score(argv: list[str], capsys) -> dict:
    assert main(["score", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _grade_in(html: str) -> str:
    m = re.search(r'class="rk-grade">([^<]*)<', html)
    assert m, "the report shows a grade"
    return m.group(1)


@pytest.mark.slow
def test_batch_report_and_summary_use_the_given_rubric_and_roster(tmp_path, capsys, monkeypatch):
    """The strict cut-off preset and a renamed institution reach every output, and they agree with ``score``."""
    import csv
    import dataclasses

    from rubric_kernel.report.digest import rubric_digest
    from rubric_kernel.sheet_codec import digest, plain
    from rubric_kernel.workspace import ROSTER_PATH, RUBRIC_PATH, load_workspace

    text = RUBRIC_PATH.read_text(encoding="utf-8")
    assert "  active: default\n" in text
    strict = tmp_path / "rubric-strict.yaml"
    strict.write_text(text.replace("  active: default\n", "  active: strict\n"), encoding="utf-8")
    renamed = "四川旅游学院（更名后）"
    roster_text = ROSTER_PATH.read_text(encoding="utf-8")
    assert ",四川旅游学院," in roster_text
    roster = tmp_path / "institutions.csv"
    roster.write_text(roster_text.replace(",四川旅游学院,", f",{renamed},"), encoding="utf-8")
    db, out = str(tmp_path / "s.sqlite"), tmp_path / "out"
    monkeypatch.setenv("RUBRIC_KERNEL_DB", db)
    inputs = ["--db", db, "--rubric", str(strict), "--roster", str(roster)]
    only = (6, 13)

    scores = {n: _json_score([str(n), *inputs], capsys) for n in only}
    defaults = {n: _json_score([str(n), "--db", db], capsys) for n in only}
    assert all(scores[n]["grade"] != defaults[n]["grade"] for n in only), "the preset must matter for this test"

    assert main(["batch", "--only", "6,13", "--out", str(out), "--workers", "2", *inputs]) == 0
    capsys.readouterr()
    with (out / "latest" / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = {int(r["序号"]): r for r in csv.DictReader(fh)}
    assert set(rows) == set(only)
    for n in only:
        assert rows[n]["等级"] == scores[n]["grade"], n
        assert float(rows[n]["总分"]) == pytest.approx(scores[n]["total"]), n
    assert rows[13]["评价机构"] == renamed

    ws = load_workspace(None, strict, roster)
    expected = {
        "rubric": rubric_digest(ws),
        "roster": digest(plain(dataclasses.asdict(ws.roster[13]))),
    }
    assert expected["rubric"] != rubric_digest(load_workspace())
    reports = tmp_path / "reports"
    assert main(["report", "13", "--out", str(reports), *inputs]) == 0
    capsys.readouterr()
    for html in ((out / "latest" / "13.html").read_text(encoding="utf-8"), (reports / "13.html").read_text("utf-8")):
        assert renamed in html
        assert _grade_in(html).startswith(scores[13]["grade"])
        assert "AAAAA ≥ 950" in html, "the strict cut-offs are the ones shown"
        assert f'data-rubric="{expected["rubric"]}"' in html
        assert f'data-roster="{expected["roster"]}"' in html

    assert main(["summary", *inputs]) == 0
    listing = capsys.readouterr().out
    line = next(ln for ln in listing.splitlines() if renamed in ln)
    assert re.search(rf"\b{scores[13]['grade']}\b", line), line


# ------------------------------------------------------------------------------------------ notebook
@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "message"),
    [({"institution": "99"}, "机构序号 99 不在名单中"), ({"as_of": "2023-02-30"}, "日期“2023-02-30”无效")],
)
def test_notebook_parameter_errors_are_one_chinese_line(tmp_path, params, message):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from rubric_kernel.bundled import NOTEBOOK

    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(tmp_path / "out.ipynb"),
            parameters={"mode": "report", "db": str(tmp_path / "s.sqlite"), **params},
            progress_bar=False,
            kernel_name="python3",
            cwd=str(NOTEBOOK.parent),
        )
    exc = caught.value
    assert exc.ename == "NotebookInputError", "the cell fails, so a batch records the institution as failed"
    shown = "\n".join(exc.traceback)
    assert len(exc.traceback) == 1 and message in shown, shown
    assert "Traceback" not in shown and "File " not in shown


def test_batch_failure_line_of_a_user_error_is_the_chinese_message_alone():
    from rubric_kernel.batch.worker import _first_error_line

    class CellError(Exception):
        def __init__(self, ename: str, evalue: str):
            self.ename, self.evalue = ename, evalue

    assert _first_error_line(CellError("NotebookInputError", "参数 as_of：日期无效\n详情")) == "参数 as_of：日期无效"
    assert _first_error_line(CellError("KeyError", "'x'")) == "KeyError: 'x'"  # internal: the class tells the developer


def test_roster_fault_quotes_only_a_short_excerpt(tmp_path):
    from rubric_kernel.errors import InputError
    from rubric_kernel.roster import load_roster
    from rubric_kernel.workspace import ROSTER_PATH

    lines = ROSTER_PATH.read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1].split(",")
    first[header.split(",").index("class")] = "X" * 5000
    bad = tmp_path / "institutions.csv"
    bad.write_text("\n".join([header, ",".join(first), *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_roster(bad)
    assert len(str(err.value)) < 300
