"""The centre's 人社 findings on a real PostgreSQL server: the database refuses them to anyone else.

``db-setup`` installs row-level security; a finding (``finding:<indicator urn>``) goes in from the
centre's own login while the sheet is open, and is refused, in raw SQL, to an expert's login even
for an institution of their own group.
"""

from __future__ import annotations

import psycopg
import pytest
from pg_logins import as_login, connect

from rubric_kernel import people
from rubric_kernel.cli import main
from rubric_kernel.judgments import bootstrap
from rubric_kernel.store import Store
from rubric_kernel.workspace import load_workspace

DEMO = "demo"
LI, QIAN = "li_expert", "qian_centre"
FINDING = (
    "INSERT INTO rk_versions (dataset, institution, sheet, key, seq, stage, expert, created_at, content, reason, login) "
    "VALUES ('demo', %s, 'group', %s, 99, '现场评估', %s, '2026-11-27T00:00:00+00:00', "
    """'{"source": "人社", "date": "2026-11-27", "ticks": {}}', '', %s)"""
)
KEY = "finding:sc-2023:ind:16"


@pytest.fixture
def server(postgres_url):
    assert main(["db-setup", postgres_url, "--admin", "zhou_admin", "--admin-name", "周管理员"]) == 0
    with Store(postgres_url) as store:
        bootstrap(store, load_workspace())
        people.add(store, DEMO, LI, "李专家", ["expert"], by="zhou_admin")
        people.assign(store, DEMO, LI, by="zhou_admin", institutions=range(70, 76), group="第1组")
        people.add(store, DEMO, QIAN, "钱复核", ["centre"], by="zhou_admin")
    return postgres_url


def test_the_server_refuses_an_experts_finding_and_takes_the_centres(server):
    with connect(server, LI) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(FINDING, (75, KEY, "李专家", LI))
        conn.execute(FINDING, (75, "sc-2023:ind:1", "李专家", LI))  # the same login's own judgment goes in
    with connect(server, QIAN) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the centre judges nothing before signing
            conn.execute(FINDING, (75, "sc-2023:ind:2", "钱复核", QIAN))
        conn.execute(FINDING, (75, KEY, "钱复核", QIAN))
        assert conn.execute(
            "SELECT count(*) FROM rk_versions WHERE key = %s AND login = %s", (KEY, QIAN)
        ).fetchone() == (1,)


def test_the_centre_records_through_the_command_and_an_expert_is_refused_first(server, capsys):
    assert main(["finding", "75", "--result", "16b×2", "--note", "技术评估未通过", "--db", as_login(server, QIAN)]) == 0
    with Store(server) as store:
        (v,) = [v for v in store.history(DEMO, 75) if v.key == KEY]
    assert (v.login, v.expert, v.stage, v.content["ticks"]) == (QIAN, "钱复核", "待评估", {"sc-2023:item:16b": 2})
    capsys.readouterr()
    assert main(["finding", "75", "--result", "无问题", "--db", as_login(server, LI)]) != 0
    assert (
        capsys.readouterr().err.strip().endswith("李专家（li_expert） 无权录入人社部门数据：需要“省职鉴中心复核”角色")
    )
