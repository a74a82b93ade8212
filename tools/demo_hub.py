"""`make hub`: the provincial hub on this machine with demo people, a throwaway PostgreSQL and the demo data.

Everything here is 演示数据: the registry is the demo's, the accounts' passwords are made up at start
and printed, and the database cluster is deleted when the hub stops (Ctrl-C).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_cluster import cluster

from rubric_kernel import migrate, people, pg_setup
from rubric_kernel.cli import main as rk
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS = ["demo_admin", "demo_organiser", "demo_centre", "demo_leader", "demo_expert_01", "demo_expert_16"]


def prepare(url: str) -> dict[str, str]:
    """The store under its owner, the demo registry and data, db-setup's grants, a login role per
    demo person; returns {login: shown name}. The demo registry must be loaded before db-setup would
    register its first administrator (a non-empty registry is never replaced by the demo's)."""
    ws = load_workspace()
    engine = create_engine(url)
    with engine.begin() as conn:  # what db-setup does first: the tables belong to the owner role
        pg_setup.create_roles(conn)
        conn.execute(text(f"SET LOCAL ROLE {pg_setup.OWNER}"))
        migrate.upgrade(conn)
    with Store(url) as store:  # as the database administrator: the store's first use loads the demo
        bootstrap(store, ws)
        registry = people.registry(store, ws.dataset.name)
    if rk(["db-setup", url, "--admin", "demo_admin", "--admin-name", registry["demo_admin"].name]) != 0:
        raise SystemExit(1)
    with engine.begin() as conn:
        for p in registry.values():
            pg_setup.sync_login(conn, p.login, p.roles)
    engine.dispose()
    return {p.login: p.shown for p in registry.values()}


def main() -> int:
    port = os.environ.get("RK_HUB_PORT", "8000")
    state = ROOT / "var" / "hub-demo"
    shutil.rmtree(state, ignore_errors=True)  # the hub's records belong to the throwaway database of the last run
    state.mkdir(parents=True)
    with cluster() as (url, pgpass):
        os.environ["PGPASSFILE"] = str(pgpass)
        names = prepare(url)
        accounts = {login: secrets.token_urlsafe(9) for login in ACCOUNTS}
        accounts_file = state / "demo-accounts.json"
        fd = os.open(accounts_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(accounts, f)
        print("\n演示数据：以下账号与口令为演示用途临时生成，仅在本机演示服务器上有效")
        for login, password in accounts.items():
            print(f"  演示账号 {login:<16} 口令 {password}   {names.get(login, '')}")
        print(f"\n演示服务器：http://127.0.0.1:{port}/  （Ctrl-C 停止；演示数据库随之删除）\n", flush=True)
        env = {
            **os.environ,
            "RK_HUB_DB": url,
            "RK_HUB_DATASET": "demo",
            "RK_HUB_STATE": str(state),
            "RK_HUB_SPAWNER": "local",
            "RK_HUB_DEMO_ACCOUNTS": str(accounts_file),
            "RK_HUB_ADMINS": "demo_admin",
        }
        hub = [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(ROOT / "deploy" / "jupyterhub_config.py")]
        process = subprocess.Popen(hub, env=env, cwd=state)
        try:
            return process.wait()
        except KeyboardInterrupt:  # the hub stops its proxy, services and servers on SIGTERM
            process.terminate()
            process.wait()
            return 0


if __name__ == "__main__":
    sys.exit(main())
