# JupyterHub for the provincial assessment: one server, a shared PostgreSQL store, each person's own
# database login. Settings come from the environment (deploy/rubric-hub.env on a server, tools/demo_hub.py
# for `make hub`, tests/test_hub.py in tests); docs/deploy.md explains each.
#
#   RK_HUB_DB        the store as the hub's own database role (CREATEROLE; its password in the hub's own
#                    PGPASSFILE), e.g. postgresql+psycopg://rk_hub@/rubric?host=/run/postgresql
#   RK_HUB_DATASET   the programme (dataset name) whose registry admits people, e.g. sichuan-2023
#   RK_HUB_STATE     the hub's folder: its sqlite database, cookie secret, per-user pgpass files
#   RK_HUB_SPAWNER   "systemd" (production: one isolated dynamic OS user per server) or "local" (demo, tests)
#   RK_HUB_AUTH      "native" (production and demo) or "dummy" (tests only; RK_HUB_DUMMY_PASSWORD)
#   RK_HUB_PORT      the port the proxy listens on (default 8000; TLS is the reverse proxy's job); the hub
#                    itself and the proxy's API use the next two
#   RK_HUB_CULL      seconds of inactivity after which a user's server is stopped (default 3600)
import json
import os
import sys
from pathlib import Path

from tornado import web

from rubric_kernel import hub

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

ROOT = Path(__file__).resolve().parent.parent
STORE = os.environ["RK_HUB_DB"]
DATASET = os.environ.get("RK_HUB_DATASET", "demo")
STATE = Path(os.environ.get("RK_HUB_STATE", ROOT / "var" / "hub"))
SECRETS = STATE / "pgpass"
STATE.mkdir(parents=True, exist_ok=True)
SECRETS.mkdir(mode=0o700, exist_ok=True)
ADMIN_CONNINFO = STORE.replace("postgresql+psycopg://", "postgresql://", 1)

PORT = int(os.environ.get("RK_HUB_PORT", "8000"))
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 1}"  # the hub and the proxy's API next to it
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [str(ROOT / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

# ---------------------------------------------------------------- accounts: NativeAuthenticator (docs/deploy.md)
if os.environ.get("RK_HUB_AUTH", "native") == "dummy":
    c.JupyterHub.authenticator_class = "dummy"
    c.DummyAuthenticator.password = os.environ["RK_HUB_DUMMY_PASSWORD"]
else:
    c.JupyterHub.authenticator_class = "native"
    c.NativeAuthenticator.enable_signup = True  # a person asks for an account at /hub/signup ...
    c.NativeAuthenticator.open_signup = False  # ... and it stays closed until an administrator approves it
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600
    if os.environ.get("RK_HUB_DEMO_ACCOUNTS"):  # `make hub`: demo accounts made up at start (tools/demo_hub.py)
        import bcrypt
        from nativeauthenticator import NativeAuthenticator
        from nativeauthenticator.orm import UserInfo

        class DemoAccounts(NativeAuthenticator):
            """NativeAuthenticator with the demo's accounts created and approved at start."""

            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                for name, password in json.loads(Path(os.environ["RK_HUB_DEMO_ACCOUNTS"]).read_text()).items():
                    if self.user_exists(name):
                        self.db.delete(self.get_user(name))
                    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
                    self.db.add(UserInfo(username=name, password=hashed, is_authorized=True))
                self.db.commit()

        c.JupyterHub.authenticator_class = DemoAccounts
c.Authenticator.allow_all = True  # every authenticated account, then the registry decides (below)
c.Authenticator.admin_users = set(filter(None, os.environ.get("RK_HUB_ADMINS", "").split(",")))


def registry_gate(authenticator, handler, authentication):
    """Only people registered for the programme with a role get in: revoking all roles closes the hub."""
    refused = hub.refusal(STORE, DATASET, authentication["name"])
    if refused:
        raise web.HTTPError(403, refused)
    return authentication


c.Authenticator.post_auth_hook = registry_gate


# ---------------------------------------------------------------- single-user servers: JupyterLab (Chinese) + Voilà
def before_spawn(spawner):
    """The user's own database login and landing page; the password goes only into their pgpass file."""
    env, url = hub.spawn_environment(STORE, ADMIN_CONNINFO, DATASET, spawner.user.name, SECRETS / spawner.user.name)
    spawner.environment.update(env)
    spawner.default_url = url
    if SYSTEMD:  # the dynamic user cannot read the hub's folder: systemd hands the file over as a credential
        spawner.unit_extra_properties = {"LoadCredential": f"pgpass:{env['PGPASSFILE']}"}
        spawner.environment["PGPASSFILE"] = "%d/pgpass"


SYSTEMD = os.environ.get("RK_HUB_SPAWNER", "systemd") == "systemd"
c.Spawner.pre_spawn_hook = before_spawn
c.Spawner.environment = {
    "JUPYTERLAB_SETTINGS_DIR": str(ROOT / "jupyter" / "settings"),
    "LANG": "zh_CN.UTF-8",
    "IPYTHONDIR": str(ROOT / "var" / "ipython"),  # the kernel profile of `make expert`: the form's modules preloaded
}
c.Spawner.notebook_dir = str(ROOT / "notebooks")
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.args = ["--ServerApp.shutdown_no_activity_timeout=0"]
c.Spawner.http_timeout = 120  # a loaded machine needs time to import JupyterLab and Voilà
c.Spawner.start_timeout = 180

if SYSTEMD:
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.dynamic_users = True  # an isolated OS user per person: nobody reads another's pgpass
    c.SystemdSpawner.readonly_paths = [str(ROOT)]
    c.SystemdSpawner.mem_limit = "2G"
    c.SystemdSpawner.cpu_limit = 1.0
else:
    c.JupyterHub.spawner_class = "simple"  # every server as the hub's OS user: demo and tests only
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
    if os.geteuid() == 0:  # a container's root (CI): the servers run as the hub's user
        c.Spawner.args = [*c.Spawner.args, "--allow-root"]

# ---------------------------------------------------------------- idle servers are stopped
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--timeout={os.environ.get('RK_HUB_CULL', '3600')}",
        ],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
