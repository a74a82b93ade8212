"""Schema 3: stored judgment keys name the rubric's stable ids (URNs) instead of positions.

``indicator:12`` becomes ``sc-2023:ind:12`` (its ticks ``12a`` become ``sc-2023:item:12a``),
``bonus:party`` ``sc-2023:bonus:party``, ``veto:1(2)`` ``sc-2023:veto:1(2)``, ``adjust:12``
``adjust:sc-2023:ind:12``; ``dismiss:<record>`` names the dataset's record and stays. The rubric
that maps positions to ids is the workspace's (``upgrade-store --rubric``), handed over in the
Alembic config's ``attributes``; a key it cannot map refuses the whole upgrade.

Signatures record the digest of the sheet they cover, computed over its stored entries, so the
digest changes with the key spelling. Each signature whose digest is a state the sheet really had
(replayed from its versions) gets the digest of that same state in the new spelling, and keeps the
one it was made with as ``digest_r0002``; a signature that matched no state is left as it was, so
``check-store`` still reports it (docs/store-migrations.md says why this and not another way).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from alembic import context, op

from rubric_kernel.migrate import MigrationRefused
from rubric_kernel.sheet_codec import canonical, digest

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None

OLD_DIGEST = "digest_r0002"
versions = sa.table("rk_versions", *(sa.column(c) for c in ("id", "dataset", "institution", "sheet", "key", "content")))
events = sa.table("rk_events", *(sa.column(c) for c in ("id", "dataset", "institution", "kind", "payload")))
meta = sa.table("rk_meta", sa.column("key", sa.String), sa.column("value", sa.Text))

Spelling = Callable[[str, dict | None], tuple[str, dict | None]]


class _Unmapped(Exception):
    pass


def _positional_to_urn(rubric) -> Spelling:
    urns = {("indicator", str(n)): i.urn for n, i in rubric.indicators.items()}
    urns.update({("bonus", b.id): b.urn for b in rubric.bonus.items})
    urns.update({("veto", c): u for c, u in rubric.veto_urns.items()})
    items = {str(n): {it.id: it.urn for it in i.items} for n, i in rubric.indicators.items()}

    def spell(key: str, content: dict | None) -> tuple[str, dict | None]:
        kind, _, ident = key.partition(":")
        if kind == "dismiss":
            return key, content
        if kind == "adjust":
            return "adjust:" + _get(urns, ("indicator", ident), key), content
        new = _get(urns, (kind, ident), key)
        if kind == "indicator" and content is not None:
            ticks = {_get(items[ident], i, f"{key} 细则 {i}"): c for i, c in content.get("ticks", {}).items()}
            content = {**content, "ticks": ticks}
        return new, content

    return spell


def _urn_to_positional(rubric) -> Spelling:
    local = {u: ident for u, (_kind, ident) in rubric.by_urn.items()}
    kinds = {"ind": "indicator", "bonus": "bonus", "veto": "veto"}

    def spell(key: str, content: dict | None) -> tuple[str, dict | None]:
        if key.startswith("dismiss:"):
            return key, content
        if key.startswith("adjust:"):
            return f"adjust:{_get(local, key.removeprefix('adjust:'), key)}", content
        kind = kinds.get(key.split(":")[1] if key.count(":") >= 2 else "")
        if kind is None:
            raise _Unmapped(key)
        ident = _get(local, key, key)
        if kind == "indicator" and content is not None:
            content = {**content, "ticks": {_get(local, u, u)[1]: c for u, c in content.get("ticks", {}).items()}}
        return f"{kind}:{ident}", content

    return spell


def _get(mapping: Mapping, key: object, what: str):
    try:
        return mapping[key]
    except KeyError:
        raise _Unmapped(what) from None


def _respell(speller: Callable[[object], Spelling], direction: str) -> None:
    """Rewrite every version's key and content, then every signature's digest, in one pass each."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(versions).order_by(versions.c.id)).mappings().all()
    if not rows:
        return
    rubric = context.config.attributes.get("rubric")
    if rubric is None:
        raise MigrationRefused(
            f"评分库中已有评分，{direction}需要指标体系：请用 --rubric 指定这些评分所依据的 rubric.yaml"
        )
    spell = speller(rubric)
    unmapped: set[str] = set()
    updates, digests = [], defaultdict(dict)
    states: dict[tuple, tuple[dict, dict]] = defaultdict(lambda: ({}, {}))
    for r in rows:
        content = None if r["content"] is None else json.loads(r["content"])
        try:
            key, new = spell(r["key"], content)
        except _Unmapped as exc:
            unmapped.add(str(exc))
            continue
        updates.append({"row": r["id"], "new_key": key, "new_content": None if new is None else canonical(new)})
        if r["sheet"] == "group":  # signatures cover the group's sheet: replay its states in both spellings
            scope = (r["dataset"], r["institution"])
            old_live, new_live = states[scope]
            if not digests[scope]:
                digests[scope][digest(old_live)] = digest(new_live)
            _apply(old_live, r["key"], content)
            _apply(new_live, key, new)
            digests[scope][digest(old_live)] = digest(new_live)
    if unmapped:
        listed = "、".join(sorted(unmapped)[:20]) + (" 等" if len(unmapped) > 20 else "")
        raise MigrationRefused(
            f"所给指标体系中找不到评分库里 {len(unmapped)} 项评分的对应标识（{listed}）：请用 --rubric 指定"
            f"这些评分所依据的 rubric.yaml（{direction}未做任何改动）"
        )
    conn.execute(
        versions.update()
        .where(versions.c.id == sa.bindparam("row"))
        .values(key=sa.bindparam("new_key"), content=sa.bindparam("new_content")),
        updates,
    )
    _redigest(conn, digests, direction)


def _apply(live: dict, key: str, content: dict | None) -> None:
    if content is None:
        live.pop(key, None)
    else:
        live[key] = content


def _redigest(conn, digests: Mapping[tuple, Mapping[str, str]], direction: str) -> None:
    q = sa.select(events).where(events.c.kind == "signature")
    changed = []
    for e in conn.execute(q).mappings():
        p = json.loads(e["payload"])
        if direction == "升级":
            new = digests.get((e["dataset"], e["institution"]), {}).get(p.get("digest"))
            if new is None or OLD_DIGEST in p:
                continue
            p = {**p, "digest": new, OLD_DIGEST: p["digest"]}
        elif OLD_DIGEST in p:
            p = {**{k: v for k, v in p.items() if k != OLD_DIGEST}, "digest": p[OLD_DIGEST]}
        else:
            continue
        changed.append({"row": e["id"], "new_payload": canonical(p)})
    if changed:
        conn.execute(
            events.update().where(events.c.id == sa.bindparam("row")).values(payload=sa.bindparam("new_payload")),
            changed,
        )


def upgrade() -> None:
    _respell(_positional_to_urn, "升级")
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="3"))


def downgrade() -> None:
    _respell(_urn_to_positional, "降级")
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value="2"))
