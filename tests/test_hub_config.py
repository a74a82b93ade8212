"""deploy/jupyterhub_config.py as production loads it: the SystemdSpawner settings and the pre-spawn hook
that hands the pgpass file over as a systemd credential. A container without systemd as PID 1 cannot run
SystemdSpawner itself (tests/test_hub.py uses local processes); this checks the configuration it would get."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from traitlets.config.loader import PyFileConfigLoader

from rubric_kernel import hub

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "jupyterhub_config.py"
STORE = "postgresql+psycopg://rk_hub@/rubric?host=/run/postgresql"


def load(monkeypatch, tmp_path: Path, spawner: str):
    monkeypatch.setenv("RK_HUB_DB", STORE)
    monkeypatch.setenv("RK_HUB_STATE", str(tmp_path))
    monkeypatch.setenv("RK_HUB_SPAWNER", spawner)
    monkeypatch.delenv("RK_HUB_AUTH", raising=False)
    return PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()


def test_systemd_spawner_isolates_each_person_and_hands_over_their_pgpass(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, "systemd")
    assert c.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    assert c.SystemdSpawner.dynamic_users is True  # an OS user of their own: nobody reads another's pgpass
    assert c.SystemdSpawner.readonly_paths == [str(CONFIG.parents[1])]
    assert (c.SystemdSpawner.mem_limit, c.SystemdSpawner.cpu_limit) == ("2G", 1.0)
    assert c.JupyterHub.authenticator_class == "native"
    assert "--allow-root" not in c.Spawner.args
    pgpass = tmp_path / "pgpass" / "li_expert" / hub.PGPASS_NAME

    def environment(store, admin, dataset, login, folder):
        assert (store, admin, login, folder) == (STORE, STORE.replace("+psycopg", ""), "li_expert", pgpass.parent)
        return {"RUBRIC_KERNEL_DB": hub.user_url(store, login), "PGPASSFILE": str(pgpass)}, hub.EXPERT_PAGE

    monkeypatch.setattr(hub, "spawn_environment", environment)
    spawner = SimpleNamespace(user=SimpleNamespace(name="li_expert"), environment={})
    c.Spawner.pre_spawn_hook(spawner)
    assert spawner.unit_extra_properties == {"LoadCredential": f"pgpass:{pgpass}"}
    assert spawner.environment["PGPASSFILE"] == "%d/pgpass"  # systemd's credentials folder, not the hub's
    assert "PASSWORD" not in spawner.environment["RUBRIC_KERNEL_DB"].upper()
    assert spawner.default_url == hub.EXPERT_PAGE


def test_the_local_spawner_keeps_the_pgpass_in_the_hubs_folder(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, "local")
    assert c.JupyterHub.spawner_class == "simple"
    monkeypatch.setattr(hub, "spawn_environment", lambda *a: ({"PGPASSFILE": "/x/rk-pgpass"}, hub.REVIEW_PAGE))
    spawner = SimpleNamespace(user=SimpleNamespace(name="demo_centre"), environment={})
    c.Spawner.pre_spawn_hook(spawner)
    assert spawner.environment["PGPASSFILE"] == "/x/rk-pgpass" and not hasattr(spawner, "unit_extra_properties")
    assert spawner.default_url == "/voila/render/review.ipynb"
