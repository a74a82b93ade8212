"""PostgreSQL enforcement: a schema owner, one group role per programme role, grants and row-level security.

The application checks every act (``authz``); on a shared server the database checks again, so raw
SQL from a person's own login cannot do what the form would not. Nobody but the owner (a role
nobody logs in as) may UPDATE or DELETE versions or events, and triggers refuse even the owner.
Row-level security ties each inserted row to ``current_user`` and to the registry in the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

OWNER = "rk_owner"
HUB = "rk_hub"  # the hub's own login: issues each person's database password at every server start
GROUP = {
    "expert": "rk_expert",
    "organiser": "rk_organiser",
    "centre": "rk_centre",
    "leader": "rk_leader",
    "admin": "rk_admin",
}
ACTING = ("rk_expert", "rk_organiser", "rk_centre", "rk_leader")  # roles that append versions or events
TABLES = (
    "rk_meta",
    "rk_versions",
    "rk_events",
    "rk_people",
    "rk_roles",
    "rk_assignments",
    "rk_people_log",
    "rk_keys",
)
REGISTRY = ("rk_people", "rk_roles", "rk_assignments")
OPEN = "('待评估', '现场评估')"
ORGANISER_MOVES = "('现场评估', '初评')"
CENTRE_MOVES = "('公示', '异议处理', '公告')"


def _holds(table: str, role: str) -> str:
    """SQL: the current login holds ``role`` in the row's programme, as the store's registry says."""
    return (
        f"EXISTS (SELECT 1 FROM rk_roles r WHERE r.dataset = {table}.dataset "
        f"AND r.login = current_user AND r.role = '{role}')"
    )


def _to(stages: str) -> str:
    return f"(kind = 'transition' AND (payload::json ->> 'to') IN {stages})"


POLICIES = {
    "rk_versions": {
        "rk_expert": (
            f"login = current_user AND {_holds('rk_versions', 'expert')} AND stage IN {OPEN} "
            "AND expert = (SELECT p.name FROM rk_people p WHERE p.dataset = rk_versions.dataset "
            "AND p.login = current_user) "
            "AND EXISTS (SELECT 1 FROM rk_assignments a WHERE a.dataset = rk_versions.dataset "
            "AND a.login = current_user AND a.institution = rk_versions.institution) "
            "AND key NOT LIKE 'adjust:%' AND key NOT LIKE 'finding:%' "
            "AND NOT (key ~ '^[^:]+:veto:' AND content IS NOT NULL "
            "AND (content::json ->> 'status') IN ('confirmed', 'rejected'))"
        ),
        "rk_organiser": (  # an expert's paper sheet entered on their behalf, before the group signs
            f"login = current_user AND {_holds('rk_versions', 'organiser')} AND stage IN {OPEN} "
            "AND key NOT LIKE 'adjust:%' AND key NOT LIKE 'finding:%' "
            "AND NOT (key ~ '^[^:]+:veto:' AND content IS NOT NULL "
            "AND (content::json ->> 'status') IN ('confirmed', 'rejected'))"
        ),
        "rk_centre": (  # its review and objection decisions; and 人社部门 findings while the sheet is open
            f"login = current_user AND {_holds('rk_versions', 'centre')} AND "
            f"(stage IN ('复核', '异议处理') OR (key LIKE 'finding:%' AND stage IN {OPEN}))"
        ),
    },
    "rk_events": {
        "rk_expert": (
            f"login = current_user AND {_holds('rk_events', 'expert')} AND kind = 'signature' "
            "AND actor = (SELECT p.name FROM rk_people p WHERE p.dataset = rk_events.dataset "
            "AND p.login = current_user)"
        ),
        "rk_organiser": (
            f"login = current_user AND {_holds('rk_events', 'organiser')} AND "
            f"(kind IN ('group', 'commitment', 'schedule', 'acknowledgement', 'collection') OR {_to(ORGANISER_MOVES)})"
        ),
        "rk_centre": (
            f"login = current_user AND {_holds('rk_events', 'centre')} AND "
            "(kind IN ('review', 'publicity', 'objection', 'objection_decision', 'objection_letter') "
            f"OR {_to(CENTRE_MOVES)} "
            "OR (kind = 'transition' AND (payload::json ->> 'from') = '公告' AND (payload::json ->> 'to') = '复核'))"
        ),
        "rk_leader": (
            f"login = current_user AND {_holds('rk_events', 'leader')} AND "
            "kind = 'transition' AND (payload::json ->> 'from') = '初评' AND (payload::json ->> 'to') = '复核'"
        ),
    },
}


def ident(name: str) -> str:
    """A role name quoted for SQL (logins are checked against ``people.LOGIN`` before they get here)."""
    return '"' + name.replace('"', '""') + '"'


def create_roles(conn: Connection) -> None:
    """The owner and the group roles, none of which can log in; created once, kept on a rerun."""
    for role in (OWNER, *GROUP.values()):
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
            conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    conn.execute(text(f"GRANT CONNECT ON DATABASE {ident(database)} TO {', '.join(GROUP.values())}"))
    conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {OWNER}"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {', '.join(GROUP.values())}"))


def grant(conn: Connection) -> None:
    """Grants and row-level security on the store's tables (run as their owner's administrator)."""
    everyone = ", ".join(GROUP.values())
    conn.execute(text(f"GRANT SELECT ON {', '.join(TABLES)}, alembic_version TO {everyone}"))
    conn.execute(text(f"GRANT INSERT ON rk_versions, rk_events TO {', '.join(ACTING)}"))
    conn.execute(text("GRANT INSERT ON rk_meta TO rk_organiser, rk_admin"))
    conn.execute(text(f"GRANT INSERT, DELETE ON {', '.join(REGISTRY)} TO rk_admin"))
    conn.execute(text("GRANT INSERT ON rk_people_log, rk_keys TO rk_admin"))  # public keys: the administrator's act
    conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {everyone}"))
    for table, policies in POLICIES.items():
        conn.execute(text(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"DROP POLICY IF EXISTS rk_read ON {table}"))
        conn.execute(text(f"CREATE POLICY rk_read ON {table} FOR SELECT USING (true)"))
        for role, check in policies.items():
            name = f"{role}_insert"
            conn.execute(text(f"DROP POLICY IF EXISTS {name} ON {table}"))
            conn.execute(text(f"CREATE POLICY {name} ON {table} FOR INSERT TO {role} WITH CHECK ({check})"))
    conn.execute(text(REVOKED_FUNCTION))
    conn.execute(text(f"ALTER FUNCTION rk_revoked() OWNER TO {OWNER}"))
    conn.execute(text("GRANT EXECUTE ON FUNCTION rk_revoked() TO PUBLIC"))


# A revoked login has no group role left, so it reads nothing; this function tells that login alone
# (session_user: the login that connected, not the definer) when and by whom it was revoked.
REVOKED_FUNCTION = """
CREATE OR REPLACE FUNCTION rk_revoked() RETURNS TABLE (login text, at text, by_login text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
  SELECT session_user::text, l.at, l.by_login FROM rk_people_log l
  WHERE l.action = 'revoke' AND split_part(l.detail, ' ', 1) = session_user
    AND NOT EXISTS (SELECT 1 FROM rk_roles r WHERE r.dataset = l.dataset AND r.login = session_user)
  ORDER BY l.id DESC LIMIT 1
$$"""


def revoked(conn: Connection) -> tuple[str, str, str] | None:
    """(login, when, by whom) this login lost its last role, or None (not revoked, or no function yet)."""
    if not conn.execute(text("SELECT 1 FROM pg_proc WHERE proname = 'rk_revoked'")).first():
        return None
    row = conn.execute(text("SELECT login, at, by_login FROM rk_revoked()")).first()
    return (row.login, row.at, row.by_login) if row else None


def installed(conn: Connection) -> bool:
    """Whether ``db-setup`` ran on this server (a store on a server without it has no database-side roles)."""
    return conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": OWNER}).first() is not None


def _version(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one())


def create_hub(conn: Connection) -> None:
    """The hub's login role (its password is the database administrator's to set): CREATEROLE, the
    administrator's grants, and the right to reset the password of every person's login role."""
    if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": HUB}).first():
        conn.execute(text(f"CREATE ROLE {HUB} LOGIN CREATEROLE"))
    conn.execute(text(f"GRANT {GROUP['admin']} TO {HUB}"))
    logins = conn.execute(
        text("SELECT DISTINCT p.login FROM rk_people p JOIN pg_roles r ON r.rolname = p.login")
    ).scalars()
    for login in logins:
        hub_grant(conn, login)


def hub_grant(conn: Connection, login: str) -> None:
    """From PostgreSQL 16 a CREATEROLE role may change only roles it administers, so the hub gets
    ADMIN OPTION on the person's login, without inheriting it or switching to it (earlier: CREATEROLE
    alone suffices, and a plain membership would let the hub SET ROLE to the person)."""
    if _version(conn) < 160000:
        return
    if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": HUB}).first():
        return
    conn.execute(text(f"GRANT {ident(login)} TO {HUB} WITH ADMIN OPTION, INHERIT FALSE, SET FALSE"))


def sync_login(conn: Connection, login: str, roles: Iterable[str]) -> None:
    """A person's own login role, a member of their roles' group roles (an administrator may create others)."""
    roles = list(roles)
    if not installed(conn):
        return
    if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": login}).first():
        conn.execute(text(f"CREATE ROLE {ident(login)} LOGIN"))
        hub_grant(conn, login)
    for role in roles:
        conn.execute(text(f"GRANT {GROUP[role]} TO {ident(login)}"))
    if "admin" in roles:
        conn.execute(text(f"ALTER ROLE {ident(login)} CREATEROLE"))
        if _version(conn) >= 160000:
            conn.execute(text(f"GRANT {', '.join(GROUP.values())} TO {ident(login)} WITH ADMIN OPTION"))


def revoke_roles(conn: Connection, login: str, roles: Iterable[str]) -> None:
    if not installed(conn):
        return
    for role in roles:
        conn.execute(text(f"REVOKE {GROUP[role]} FROM {ident(login)}"))
