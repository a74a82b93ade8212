"""A throwaway PostgreSQL cluster for the demo hub and the load benchmark, with password authentication.

Unlike the test fixture's trust cluster, every login here needs its password (scram-sha-256), so
the hub's per-user pgpass files are exercised for real. The superuser ``rk_dba`` stands for the
hub's database role; its password lives only in a 0600 pgpass file. As root the server runs as the
``postgres`` OS user (PostgreSQL refuses root), otherwise as the caller.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

DBA = "rk_dba"
DATABASE = "rubric"


def _bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("未找到 PostgreSQL 服务器程序：请先运行 bash tools/system_deps.sh postgres")
    return found[-1].parent


@contextlib.contextmanager
def cluster(port: int = 5432) -> Iterator[tuple[str, Path]]:
    """(superuser store URL without password, its pgpass file); the cluster is removed on exit."""
    bin_dir = _bin()
    root = Path(tempfile.mkdtemp(prefix="rk-hub-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    password = secrets.token_urlsafe(18)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    as_pg: list[str] = []
    if os.geteuid() == 0:
        as_pg = ["runuser", "-u", "postgres", "--"]
        for p in (root, sock, pwfile):
            shutil.chown(p, "postgres")
    run = [*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-U", DBA, "-A", "scram-sha-256"]
    subprocess.run([*run, "--pwfile", str(pwfile), "-E", "UTF8", "--no-locale"], check=True, capture_output=True)
    pwfile.unlink()
    options = f"-k {sock} -c listen_addresses='' -p {port} -c fsync=off -c max_connections=400"
    ctl = [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run([*ctl, "-o", options, "-w", "start", "-l", str(root / "log")], check=True, capture_output=True)
    pgpass = root / "dba-pgpass"
    pgpass.write_text(f"{sock}:{port}:*:{DBA}:{password}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    try:
        env = {**os.environ, "PGPASSFILE": str(pgpass)}
        subprocess.run(
            [str(bin_dir / "psql"), "-h", str(sock), "-p", str(port), "-U", DBA, "-d", "postgres", "-qc",
             f"CREATE DATABASE {DATABASE}"],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        yield f"postgresql+psycopg://{DBA}@/{DATABASE}?host={sock}&port={port}", pgpass
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
