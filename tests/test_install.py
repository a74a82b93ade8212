"""The built wheel works outside the checkout: init, validate, score, report and a small batch.

How the fresh environment is made, and why it is honest: the wheel is built from the checkout
(``pip wheel --no-build-isolation``: the same setuptools the dev extras pin, no index needed) and
installed with pip into a new virtual environment created *without* system site packages. Its
dependencies are not downloaded again (minutes, and a network): a ``.pth`` file adds this test
environment's site-packages directory as a plain path. A plain path line does not run the ``.pth``
files inside that directory, so the editable install of the checkout (its finder hook lives in such
a file) is not active; ``JUPYTER_PATH`` likewise points at the dependencies' data files (nbconvert's
templates), which a real install puts in its own environment. The commands run in a temporary
folder, not the checkout. The test first checks that ``rubric_kernel`` is imported from the new environment and that its bundled files are
real files, not the checkout's symlinks, before running the commands.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
DEMO_MARK = "演示数据"
SHIPPED = (
    "rubric_kernel/_bundled/parameters/rubric.yaml",
    "rubric_kernel/_bundled/parameters/institutions.csv",
    "rubric_kernel/_bundled/parameters/materials.yaml",
    "rubric_kernel/_bundled/parameters/programme.yaml",
    "rubric_kernel/_bundled/notebooks/assessment.ipynb",
    "rubric_kernel/_bundled/notebooks/cohort.ipynb",
    "rubric_kernel/_bundled/demo/dataset.yaml",
    "rubric_kernel/_bundled/demo/records.csv",
    "rubric_kernel/_bundled/demo/judgments/13.yaml",
    "rubric_kernel/report/report.css",
    "rubric_kernel/report/template/rk_report/index.html.j2",
    "rubric_kernel/templates/report.html.j2",
    "rubric_kernel/templates/page.html.j2",
    "rubric_kernel/templates/table.html.j2",
    "rubric_kernel/templates/list.html.j2",
    "rubric_kernel/templates/index.html.j2",
)

SOURCES = ("pyproject.toml", "README.md", "rubric_kernel", "parameters", "notebooks", "data/demo")

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what a fresh clone holds, so the build leaves no build/ folder in the checkout."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (CHECKOUT / name).is_dir():
            shutil.copytree(CHECKOUT / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(CHECKOUT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    _run([*build, str(source)], cwd=out, env={**os.environ, "PIP_NO_INDEX": "1"})
    (found,) = out.glob("rubric_kernel-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv holding the wheel; its environment for subprocesses, with nothing of the checkout."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], venv, {}).stdout.strip()
    )
    (site / "_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        cwd=venv,
        env=dict(os.environ),
    )
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}  # no PYTHONPATH, RUBRIC_KERNEL_DB or _HOME
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JUPYTER_PATH"] = str(
        Path(sys.prefix) / "share" / "jupyter"
    )  # the dependencies' data files (nbconvert's templates)
    return {"venv": venv, "site": site, "python": python, "cli": venv / "bin" / "rubric-kernel", "env": env}


def test_wheel_ships_the_parameters_notebooks_demo_data_and_template(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [n for n in SHIPPED if n not in names]
    for folder, shipped in (("parameters", "parameters"), ("notebooks", "notebooks"), ("data/demo", "demo")):
        files = {p.relative_to(CHECKOUT / folder).as_posix() for p in (CHECKOUT / folder).rglob("*") if p.is_file()}
        prefix = f"rubric_kernel/_bundled/{shipped}/"
        assert {n.removeprefix(prefix) for n in names if n.startswith(prefix)} == files, folder


def test_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    code = (
        "import rubric_kernel, rubric_kernel.bundled as b; print(rubric_kernel.__file__); "
        "print(b.RUBRIC_PATH); print(b.RUBRIC_PATH.is_symlink() or b.PARAMETERS.is_symlink()); print(b.checkout())"
    )
    lines = _run([str(installed["python"]), "-c", code], tmp_path, installed["env"]).stdout.splitlines()
    site = installed["site"].resolve()
    assert Path(lines[0]).resolve().is_relative_to(site), lines
    assert Path(lines[1]).resolve().is_relative_to(site), lines
    assert lines[2:] == ["False", "None"], lines


def test_commands_run_in_a_working_folder_outside_the_checkout(installed, tmp_path):
    home = tmp_path / "评估工作目录"
    home.mkdir()
    cli, env = str(installed["cli"]), installed["env"]

    said = _run([cli, "init"], home, env).stdout
    assert (home / "var").is_dir() and (home / "outputs").is_dir()
    assert "var/" in said and "outputs/" in said and "已建立" in said

    assert "演示" in _run([cli, "validate"], home, env).stdout + _run([cli, "score", "13"], home, env).stdout
    assert (home / "var" / "rubric-kernel.sqlite").is_file()  # the store lives in the working folder

    _run([cli, "report", "13"], home, env)
    (report,) = (home / "outputs" / "reports").glob("13*.html")
    assert DEMO_MARK in report.read_text(encoding="utf-8")

    _run([cli, "batch", "--only", "1-3", "--workers", "1"], home, env)
    latest = home / "outputs" / "latest"
    pages = sorted(p.name for p in latest.glob("[0-9][0-9].html"))
    assert pages == ["01.html", "02.html", "03.html"]
    for page in (*pages, "index.html", "publicity.html"):
        assert DEMO_MARK in (latest / page).read_text(encoding="utf-8"), page
    with (latest / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["序号"] for r in rows) == ["1", "2", "3"]
    assert {r["数据"] for r in rows} == {DEMO_MARK}


def test_home_option_and_environment_choose_the_working_folder(installed, tmp_path):
    cli, env = str(installed["cli"]), installed["env"]
    chosen = tmp_path / "chosen"
    said = _run([cli, "--home", str(chosen), "init", "--parameters"], tmp_path, env).stdout
    assert (chosen / "var").is_dir() and (chosen / "outputs").is_dir()
    assert (chosen / "parameters" / "rubric.yaml").read_bytes() == (
        CHECKOUT / "parameters" / "rubric.yaml"
    ).read_bytes()
    assert "已复制" in said
    again = _run([cli, "init", "--parameters"], tmp_path, {**env, "RUBRIC_KERNEL_HOME": str(chosen)}).stdout
    assert "已存在" in again and "已建立" not in again

    missing = tmp_path / "typo"
    proc = subprocess.run(
        [cli, "--home", str(missing), "validate"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "不存在" in proc.stderr and "Traceback" not in proc.stderr
    assert not missing.exists()


def test_in_the_checkout_the_working_folder_is_the_checkout(monkeypatch, tmp_path):
    """``make run`` keeps writing var/ and outputs/ where it always did, whatever the current directory."""
    from rubric_kernel import bundled

    monkeypatch.delenv(bundled.HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert bundled.checkout() == CHECKOUT
    assert bundled.default_db_path() == CHECKOUT / "var" / "rubric-kernel.sqlite"
    assert bundled.RUBRIC_PATH == CHECKOUT / "parameters" / "rubric.yaml"  # messages name the checkout's file
    monkeypatch.setenv(bundled.HOME_ENV, str(tmp_path))
    assert bundled.outputs_dir() == tmp_path.resolve() / "outputs"
