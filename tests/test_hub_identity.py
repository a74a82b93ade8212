"""The hub's side of identity without a hub: landing pages per role, the user's store URL, the pgpass file."""

from __future__ import annotations

import stat

import psycopg
import pytest

from rubric_kernel import hub
from rubric_kernel.authz import Person

URL = "postgresql+psycopg://rk_hub@/rubric?host=/run/postgresql&port=5433"


@pytest.mark.parametrize(
    ("roles", "institutions", "page"),
    [
        ({"expert"}, {13: "第1组", 2: "第1组"}, hub.EXPERT_PAGE + "?institution=2"),
        ({"expert"}, {}, hub.EXPERT_PAGE),
        ({"centre"}, {}, hub.REVIEW_PAGE),
        ({"leader"}, {}, hub.REVIEW_PAGE),
        ({"centre", "expert"}, {5: "第1组"}, hub.REVIEW_PAGE),
        ({"organiser"}, {}, hub.WORKBENCH),
        ({"admin"}, {}, hub.WORKBENCH),
    ],
)
def test_each_role_lands_on_its_page(roles, institutions, page):
    assert hub.landing(Person("x", "某人", frozenset(roles), institutions)) == page


def test_the_users_store_url_names_their_login_and_no_password():
    url = hub.user_url(URL, "li_expert")
    assert url == "postgresql+psycopg://li_expert@/rubric?host=/run/postgresql&port=5433"
    assert ":" not in url.split("//", 1)[1].split("@", 1)[0]


def test_the_pgpass_file_is_private_and_libpq_reads_it(tmp_path):
    path = hub.write_pgpass(tmp_path / "u", URL, "li_expert", "pa:ss\\word")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "/run/postgresql:5433:rubric:li_expert:pa\\:ss\\\\word\n"
    info = psycopg.conninfo.conninfo_to_dict(hub.user_url(URL, "li_expert").replace("+psycopg", "", 1))
    assert info["user"] == "li_expert" and "password" not in info
