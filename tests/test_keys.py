"""Keyed signatures (issue 10 §5) and the institution's confirmation of the on-site result (§7).

Every rule is tested on SQLite and on a real PostgreSQL server: a signature verifies against the
signer's registered key; one rewritten with a recomputed digest, made by a revoked key, or copied
onto another institution's sheet is invalid and the checks say why.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import make_url

from rubric_kernel import keyring, people
from rubric_kernel.assessment import open_assessment
from rubric_kernel.cli import main
from rubric_kernel.identity import ACTOR_ENV
from rubric_kernel.judgments import bootstrap
from rubric_kernel.migrations.versions.r0004_people import append_only_sql, drop_append_only_sql
from rubric_kernel.report.loader import load_context
from rubric_kernel.signing import (
    SIGNED_FIELDS,
    KeyRecord,
    SignedRow,
    SigningKey,
    beijing_today,
    demo_key,
    sheet_content,
    signature_payload,
    signature_problems,
)
from rubric_kernel.store import Store
from rubric_kernel.store_check import check
from rubric_kernel.tables import events
from rubric_kernel.workflow.service import Workflow, WorkflowError
from rubric_kernel.workspace import load_workspace

EXPERTS = ["林晓峰", "陈静怡"]
LIN, CHEN = "lin_xiaofeng", "chen_jingyi"  # their logins: keys and signatures name the login
ADMIN, ORGANISER = "zhou_admin", "da_zheng"
DEMO_ADMIN, DEMO_ORGANISER = "demo_admin", "demo_organiser"  # of the demo registry
DEMO = {"demo"}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path, monkeypatch) -> str:
    monkeypatch.delenv("RUBRIC_KERNEL_DB", raising=False)
    monkeypatch.delenv(ACTOR_ENV, raising=False)
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.sqlite'}"
    pg = request.getfixturevalue("postgres_url")  # each person then connects with a login of their own
    assert main(["db-setup", pg, "--admin", ADMIN, "--admin-name", "周管理员"]) == 0
    return pg


@pytest.fixture(scope="module")
def ws():
    return load_workspace()


def register_people(store: Store, dataset: str) -> None:
    """The administrator, the organiser 大证信用 and the two experts of institutions 13 and 14."""
    if people.by_login(store, dataset, ADMIN) is None:
        people.add(store, dataset, ADMIN, "周管理员", ["admin"], by=ADMIN)
    people.add(store, dataset, ORGANISER, "大证信用", ["organiser"], by=ADMIN)
    for login, name in zip((LIN, CHEN), EXPERTS, strict=True):
        people.add(store, dataset, login, name, ["expert"], by=ADMIN)
        people.assign(store, dataset, login, by=ADMIN, institutions=[13, 14], group="第1组")
        keyring.ensure_demo(store, login, beijing_today())  # the administrator's act: experts cannot add keys


class Desk:
    """The programme as each registered person reaches it: on SQLite the same file with
    RUBRIC_KERNEL_ACTOR naming them, on PostgreSQL a connection with their own database login."""

    def __init__(self, url: str, ws, monkeypatch):
        self.url, self.ws, self.monkeypatch = url, ws, monkeypatch
        self.stores: dict[str, Store] = {}

    def as_(self, login: str) -> Workflow:
        self.monkeypatch.setenv(ACTOR_ENV, login)
        if self.url.startswith("sqlite"):
            return Workflow(self.ws, self.stores.setdefault("", Store(self.url)))
        if login not in self.stores:
            own = make_url(self.url).set(username=login).render_as_string(hide_password=False)
            self.stores[login] = Store(own)
        return Workflow(self.ws, self.stores[login])

    def close(self) -> None:
        for store in self.stores.values():
            store.close()


@pytest.fixture
def desk(url, ws, monkeypatch):
    d = Desk(url, ws, monkeypatch)
    yield d
    d.close()


@pytest.fixture
def wf(url, ws, desk):
    """The store as its owner sees it (checks, forgeries), with 13 on site and its group registered."""
    store = Store(url)
    register_people(store, ws.dataset.name)
    flow = Workflow(ws, store)
    desk.as_(ORGANISER).move(13, "现场评估")
    desk.as_(ORGANISER).set_group(13, EXPERTS)
    yield flow
    store.close()


def faults(wf: Workflow) -> list[str]:
    return check(wf.store, DEMO).faults


def rewrite(wf: Workflow, event_id: int, payload: dict) -> None:
    """A forger with full access to the database rewrites a stored event, append-only guard and all."""
    change = sa.update(events).where(events.c.id == event_id).values(payload=json.dumps(payload))
    with wf.store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # a superuser may switch triggers off for the transaction
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(change)
            return
        for statement in drop_append_only_sql("sqlite"):  # the file's owner may drop them
            conn.exec_driver_sql(statement)
        conn.execute(change)
        for statement in append_only_sql("sqlite"):
            conn.exec_driver_sql(statement)


# ------------------------------------------------------------------------------ pure signing rules
def _row(payload: dict, content: dict, synthetic: bool = True) -> SignedRow:
    return SignedRow(
        content["dataset"],
        content["institution"],
        content["signer"],
        content["at"],
        content["rubric_id"],
        content["rubric_digest"],
        payload,
        synthetic,
    )


def _content(**over) -> dict:
    base = dict(
        dataset="demo",
        institution=13,
        stage="现场评估",
        sheet="group",
        sheet_digest="1" * 64,
        rubric_id="sc-2023",
        rubric_digest="2" * 64,
        at="2026-11-27T08:00:00+00:00",
        signer="林晓峰",
    )
    return sheet_content(**{**base, **over})


REGISTERED = [KeyRecord("林晓峰", "ed25519", demo_key("林晓峰").public, dt.date(2026, 1, 1))]


def test_a_signature_verifies_and_records_its_algorithm():
    content = _content()
    payload = signature_payload(demo_key("林晓峰"), content)
    assert payload["algorithm"] == "ed25519" and payload["signed"] == content
    assert signature_problems(_row(payload, content), REGISTERED) == []


@given(field=st.sampled_from(SIGNED_FIELDS), value=st.text(min_size=1, max_size=8))
def test_any_change_to_the_signed_content_voids_the_signature(field, value):
    content = _content()
    payload = signature_payload(demo_key("林晓峰"), content)
    forged = {**content, field: value if value != content[field] else value + "x"}
    [problem] = signature_problems(_row({**payload, "signed": forged}, content), REGISTERED)
    if field == "signer":  # another signer: the key is not theirs
        assert "登记在 林晓峰 名下" in problem
    else:
        assert problem == "签名与所签内容不符：签字记录在签名后被改写（如重新计算了摘要）"


def test_a_demo_key_cannot_sign_real_data():
    content = _content()
    payload = signature_payload(demo_key("林晓峰"), content)
    [problem] = signature_problems(_row(payload, content, synthetic=False), REGISTERED)
    assert "演示密钥只能用于演示数据" in problem


def test_a_key_registered_to_someone_else_is_not_the_signers():
    content = _content(signer="陈静怡")
    payload = signature_payload(SigningKey("陈静怡", demo_key("林晓峰").private), content)
    [problem] = signature_problems(_row(payload, content), REGISTERED)
    assert "登记在 林晓峰 名下" in problem


def test_an_unkeyed_signature_is_not_valid():
    content = _content()
    [problem] = signature_problems(_row({"expert": "林晓峰", "digest": "1" * 64}, content), REGISTERED)
    assert "旧式无密钥签字" in problem


def test_demo_keys_are_deterministic_and_per_person():
    assert demo_key("林晓峰").public == demo_key("林晓峰").public
    assert demo_key("林晓峰").public != demo_key("陈静怡").public
    assert REGISTERED[0].demo and "演示密钥" in REGISTERED[0].label


# ------------------------------------------------------------------------------ on a store
def test_workflow_signatures_verify_against_the_registered_keys(wf, desk):
    signed = [desk.as_(login).sign(13) for login in (LIN, CHEN)]
    assert all(s.payload["algorithm"] == "ed25519" for s in signed)
    assert [(s.login, s.actor, s.payload["signed"]["signer"]) for s in signed] == [
        (LIN, "林晓峰", LIN),
        (CHEN, "陈静怡", CHEN),
    ]
    assert [k.login for k in keyring.registered(wf.store)] == [LIN, CHEN]
    assert all(k.demo for k in keyring.registered(wf.store))
    assert [wf.signature_problems(s) for s in signed] == [[], []]
    assert faults(wf) == []


def test_a_signature_rewritten_with_a_recomputed_digest_is_invalid(wf, desk):
    event = desk.as_(LIN).sign(13)
    snap = wf.store.snapshot(wf.dataset, 13)
    wf.store.save(wf.dataset, 13, {"bonus:party": {"evidence": "补记"}}, snap.base, expert="某人", stage="现场评估")
    new = wf.sheet_digest(13)
    forged = {**event.payload, "digest": new, "signed": {**event.payload["signed"], "sheet_digest": new}}
    rewrite(wf, event.id, forged)
    state = wf.state(13)
    assert state.valid_signatures(new) == [EXPERTS[0]], "the unkeyed digest check alone would accept it"
    [fault] = faults(wf)
    assert "机构 13" in fault and "签名与所签内容不符" in fault and "被改写" in fault
    assert wf.signature_problems(state.signatures[EXPERTS[0]].event)


def test_a_signature_copied_onto_another_institution_is_invalid(wf, desk):
    event = desk.as_(LIN).sign(13)
    with wf.store.engine.begin() as conn:
        conn.execute(
            sa.insert(events).values(
                dataset=event.dataset,
                institution=14,
                seq=1,
                kind="signature",
                actor=event.actor,
                login=event.login,
                created_at=event.created_at,
                payload=json.dumps(event.payload),
                note="",
                rubric_id=event.rubric.id,
                rubric_digest=event.rubric.digest,
            )
        )
    [fault] = faults(wf)
    assert "机构 14" in fault and "签的是数据集 demo 机构 13 的评分表" in fault and "被复制" in fault


def test_a_signature_by_a_revoked_key_is_invalid_and_a_revoked_key_cannot_sign(wf, desk):
    event = desk.as_(LIN).sign(13)
    today = beijing_today()
    keyring.revoke(wf.store, LIN, effective=today + dt.timedelta(days=1), actor=ADMIN)
    assert faults(wf) == [], "signed before the revocation: still valid"
    other = desk.as_(CHEN).sign(13)
    keyring.revoke(wf.store, CHEN, effective=today, actor=ADMIN)
    [fault] = faults(wf)
    assert f"流程事件 {other.seq}" in fault and f"已于 {today.isoformat()} 吊销" in fault
    assert not wf.signature_problems(event)
    with pytest.raises(WorkflowError, match="吊销"):
        desk.as_(CHEN).sign(13)


def test_only_the_signers_registered_key_may_sign(wf, desk):
    stranger = SigningKey(LIN, Ed25519PrivateKey.generate())
    with pytest.raises(WorkflowError, match="尚未登记"):
        desk.as_(LIN).sign(13, stranger)
    with pytest.raises(WorkflowError, match=f"密钥属于 {CHEN}"):
        desk.as_(LIN).sign(13, demo_key(CHEN))
    with pytest.raises(WorkflowError, match="无权在评分表上签字"):
        desk.as_(ORGANISER).sign(13)
    assert [e.kind for e in wf.store.events(wf.dataset, 13)] == ["transition", "group"]


def test_a_key_is_registered_once_and_revoked_only_while_in_force(wf):
    key = SigningKey("wang_wu", Ed25519PrivateKey.generate())
    keyring.register(wf.store, "wang_wu", key.public, effective=dt.date(2026, 1, 1), actor=ADMIN)
    with pytest.raises(keyring.KeyRefused, match="已于 2026-01-01 登记在 wang_wu 名下"):
        keyring.register(wf.store, "zhao_liu", key.public, effective=dt.date(2026, 1, 2), actor=ADMIN)
    keyring.revoke(wf.store, "wang_wu", effective=dt.date(2026, 2, 1), actor=ADMIN)
    with pytest.raises(keyring.KeyRefused, match="没有未吊销的公钥"):
        keyring.revoke(wf.store, "wang_wu", effective=dt.date(2026, 3, 1), actor=ADMIN)
    [record] = [k for k in keyring.registered(wf.store) if k.login == "wang_wu"]
    assert (record.login, record.revoked, record.demo) == ("wang_wu", dt.date(2026, 2, 1), False)


def test_the_report_names_an_invalid_signature(wf, desk):
    event = desk.as_(LIN).sign(13)
    desk.as_(CHEN).sign(13)
    rewrite(wf, event.id, {**event.payload, "signed": {**event.payload["signed"], "at": "2020-01-01T00:00:00+00:00"}})
    a = open_assessment(13, db=wf.store.url, bootstrap_store=False)
    with a.store:
        signoffs = {s.name: s for s in load_context(a).signoffs}
    lin, chen = signoffs["林晓峰"], signoffs["陈静怡"]
    assert lin.valid is False and "签名无效" in lin.detail and "被改写" in lin.detail
    assert chen.valid is True and "签名有效" in chen.detail and "演示密钥" in chen.detail


# ------------------------------------------------------------------------------ the institution's confirmation
def test_the_institution_confirms_the_on_site_result_once(wf, desk):
    today = beijing_today()
    organiser = desk.as_(ORGANISER)
    with pytest.raises(WorkflowError, match="拒绝签字时须写明理由"):
        organiser.acknowledge(13, person="王主任", date=today, refusal=True)
    with pytest.raises(WorkflowError, match="晚于今天"):
        organiser.acknowledge(13, person="王主任", date=today + dt.timedelta(days=1))
    with pytest.raises(WorkflowError, match="只能在现场评估或初评阶段"):
        organiser.acknowledge(14, person="王主任", date=today)
    with pytest.raises(WorkflowError, match="需要“第三方评估机构”角色"):
        desk.as_(LIN).acknowledge(13, person="王主任", date=today)
    desk.as_(ORGANISER).acknowledge(13, person="王主任", date=today)
    ack = wf.state(13).acknowledgement
    assert ack is not None and (ack.person, ack.date, ack.accepted, ack.recorded_by) == (
        "王主任",
        today,
        True,
        "大证信用",
    )
    with pytest.raises(WorkflowError, match="不能重复登记"):
        organiser.acknowledge(13, person="李副主任", date=today, refusal=True, reason="不同意")
    a = open_assessment(13, db=wf.store.url, bootstrap_store=False)
    with a.store:
        ack = next(s for s in load_context(a).signoffs if s.role == "评价机构确认")
    assert ack.valid is True and f"机构确认：王主任 于 {today.isoformat()} 签字盖章确认现场评估结果" in ack.detail


def test_a_refusal_is_recorded_with_its_reason(url, wf, desk, capsys):
    day = beijing_today().isoformat()
    desk.as_(ORGANISER)  # the organiser records it (on PostgreSQL: by their own database login)
    if not url.startswith("sqlite"):
        bootstrap(wf.store, wf.ws)  # the demo's first use is the owner's: an organiser may not import
        url = make_url(url).set(username=ORGANISER).render_as_string(hide_password=False)
    args = ["--db", url]
    assert main(["acknowledge", "13", "--person", "王主任", "--date", day, "--refuse", *args]) == 2
    assert "须写明理由" in capsys.readouterr().err
    reason = "对指标 12 的扣分有异议"
    assert main(["acknowledge", "13", "--person", "王主任", "--date", day, "--refuse", "--reason", reason, *args]) == 0
    assert f"机构拒绝签字：王主任 于 {day} 拒绝确认现场评估结果，理由：{reason}" in capsys.readouterr().out
    assert main(["status", "13", *args]) == 0
    assert f"理由：{reason}（大证信用 代为登记" in capsys.readouterr().out


# ------------------------------------------------------------------------------ keys of one's own, by the command line
@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv(ACTOR_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv(keyring.PASSPHRASE_ENV, "正确的口令")
    monkeypatch.setenv("RUBRIC_KERNEL_DB", str(tmp_path / "s.sqlite"))
    return tmp_path


def test_a_personal_key_is_made_registered_used_and_revoked(home, capsys, monkeypatch):
    def act(login: str) -> None:
        monkeypatch.setenv(ACTOR_ENV, login)

    assert main(["keys", "new", "--login", LIN]) == 0
    out = capsys.readouterr().out
    private = keyring.private_path(LIN)
    assert private.is_relative_to(home / "config") and "BEGIN PUBLIC KEY" in out
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in private.read_bytes()
    with pytest.raises(keyring.KeyRefused, match="口令不对"):
        keyring.load_private(LIN, "错误的口令")
    assert main(["keys", "new", "--login", LIN]) == 3, "an existing private key is never overwritten"

    act(DEMO_ADMIN)  # the demo registry (loaded on first use) has an administrator and an organiser
    for login, name in zip((LIN, CHEN), EXPERTS, strict=True):
        assert main(["people", "add", login, "--name", name, "--role", "expert"]) == 0
        assert main(["people", "assign", login, "--institutions", "13", "--group", "第1组"]) == 0
    act(DEMO_ORGANISER)
    for step in (["stage", "13", "现场评估"], ["group", "13", "--experts", ",".join(EXPERTS)]):
        assert main(step) == 0
    act(LIN)
    assert main(["sign", "13"]) == 3
    assert "尚未登记" in capsys.readouterr().err
    pub = private.with_name(f"{LIN}.pub.pem")
    assert main(["keys", "register", LIN, str(pub)]) == 3, "only an administrator registers keys"
    assert "需要“管理员”角色" in capsys.readouterr().err
    act(DEMO_ADMIN)
    assert main(["keys", "register", LIN, str(pub)]) == 0
    assert main(["keys", "register", LIN, str(pub)]) == 3
    capsys.readouterr()
    act(LIN)
    assert main(["sign", "13"]) == 0
    assert "演示密钥" not in capsys.readouterr().out
    act(CHEN)
    assert main(["sign", "13"]) == 0, "no key of their own: the demo key, on demo data"
    assert "演示密钥" in capsys.readouterr().out
    assert main(["check-store"]) == 0
    assert "结论：未发现问题" in capsys.readouterr().out
    assert main(["keys", "list", "--json"]) == 0
    listed = [k for k in json.loads(capsys.readouterr().out) if k["login"] in (LIN, CHEN)]
    assert [(k["login"], k["demo"], k["revoked"]) for k in listed] == [(LIN, False, None), (CHEN, True, None)]

    today = beijing_today().isoformat()
    act(DEMO_ADMIN)
    assert main(["keys", "revoke", LIN, "--date", today]) == 0
    capsys.readouterr()
    assert main(["check-store"]) == 1
    assert "林晓峰 的签字" not in (out := capsys.readouterr().out) and f"已于 {today} 吊销" in out
    assert main(["status", "13"]) == 0
    assert "签名无效：林晓峰" in capsys.readouterr().out
    monkeypatch.setenv(keyring.PASSPHRASE_ENV, "错误的口令")
    act(LIN)
    assert main(["sign", "13"]) == 3
    assert "口令不对" in capsys.readouterr().err


def test_a_bad_public_key_file_is_one_line(home, capsys):
    bad = home / "x.pem"
    bad.write_text("不是公钥", encoding="utf-8")
    assert main(["keys", "register", "林晓峰", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "x.pem" in err and "不是 PEM 格式的公钥文件" in err and len(err.strip().splitlines()) == 1


def test_the_exported_key_file_reads_back_and_a_damaged_one_is_refused(home, capsys):
    store = Store(os.environ["RUBRIC_KERNEL_DB"])
    keyring.ensure_demo(store, "大证信用", dt.date(2026, 1, 1))
    keyring.revoke(store, "大证信用", effective=dt.date(2026, 6, 1), actor="管理员")
    store.close()
    target = home / "keys.json"
    assert main(["keys", "export", "--out", str(target)]) == 0
    [record] = keyring.read_key_file(target)
    assert (record.login, record.revoked, record.demo) == ("大证信用", dt.date(2026, 6, 1), True)
    data = json.loads(target.read_text(encoding="utf-8"))
    data["keys"][0]["public_key"] = "AAAA"
    target.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(Exception, match="第 1 个公钥") as exc:
        keyring.read_key_file(target)
    assert "内容不完整或已损坏" in str(exc.value.faults[0])
