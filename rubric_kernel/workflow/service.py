"""The workflow's operations: each checks who acts and its guard on the derived state, then appends.

The acting person comes from the environment (``identity``), never from an argument; each step
checks their role (``authz``) before anything else. Refusals raise WorkflowError with a Chinese
message and leave the store untouched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace

from .. import identity, keyring
from ..authz import Person, names_problem, role_problem, save_problem, signer_problem
from ..clock import ActDate
from ..judgments import current_sheet
from ..people import registry
from ..programme import Programme, check_limit, load_programme
from ..scoring import Result
from ..sheet import Adjustment, Sheet, VetoDecision, check_sheet
from ..sheet_codec import digest, sheet_to_entries
from ..signing import (
    DEMO_MARK,
    KeyRecord,
    SigningKey,
    beijing_date,
    beijing_today,
    demo_key,
    sheet_content,
    signature_payload,
    signature_problems,
    signed_row,
)
from ..store import GROUP_SHEET, Event, Snapshot, Store, StoreError, keys_changed
from ..workspace import Workspace
from . import collection
from .schedule import Visit
from .state import SIGNED, Facts, WorkflowState, derive, edit_problems, transition_problems


class WorkflowError(StoreError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("操作被拒绝：" + "；".join(problems))


def guard_edit(store: Store, dataset: str, institution: int, stage: str, reason: str) -> None:
    problems = edit_problems(derive(store.events(dataset, institution)), stage, reason)
    if problems:
        raise WorkflowError(problems)


def refuse(problem: str | None) -> None:
    if problem:
        raise WorkflowError([problem])


def acting(store: Store, dataset: str) -> Person:
    """The registered person acting now (identity), as a WorkflowError when there is none."""
    return identity.current(store, dataset)


MOVER = {
    "现场评估": "organiser",
    "初评": "organiser",
    "复核": "leader",  # from 初评 by 领导审签; a reopening from 公告 is the centre's (``reopen``)
    "公示": "centre",
    "异议处理": "centre",
    "公告": "centre",
}


class Workflow:
    def __init__(self, ws: Workspace, store: Store, programme: Programme | None = None):
        self.ws, self.store = ws, store
        self.programme = programme or load_programme()

    @property
    def dataset(self) -> str:
        return self.ws.dataset.name

    # reading ----------------------------------------------------------------------------------
    def state(self, n: int) -> WorkflowState:
        return derive(self.store.events(self.dataset, n))

    def states(self) -> dict[int, WorkflowState]:
        by_inst: dict[int, list[Event]] = {}
        for e in self.store.events(self.dataset):
            by_inst.setdefault(e.institution, []).append(e)
        return {n: derive(by_inst.get(n, [])) for n in self.ws.roster}

    def sheet_digest(self, n: int) -> str:
        return digest(self.store.snapshot(self.dataset, n).live)

    def result(self, n: int) -> Result:
        return self.ws.score(n, current_sheet(self.store, self.ws, n))

    def facts(self, n: int, today: dt.date) -> Facts:
        r = self.result(n)
        undecided = tuple(v.clause for v in r.veto if v.status == "raised")
        return Facts(self.sheet_digest(n), len(r.pending), undecided, today)

    # who acts ---------------------------------------------------------------------------------
    def actor(self, *roles: str, act: str) -> Person:
        """The acting person, refused unless they hold one of ``roles`` (none: any registered person)."""
        person = acting(self.store, self.dataset)
        if roles:
            refuse(role_problem(person, *roles, act=act))
        return person

    def _event(self, n: int, kind: str, person: Person, **fields) -> Event:
        return self.store.add_event(
            self.dataset, n, kind, rubric=self.ws.rubric_ref, actor=person.name, login=person.login, **fields
        )

    # steps ------------------------------------------------------------------------------------
    def move(
        self, n: int, to: str, *, note: str = "", today: dt.date | None = None, extra: dict | None = None
    ) -> Event:
        """A stage change by the role that owns it (复核 comes only from 领导审签 or a reopening review)."""
        person = self.actor(MOVER.get(to, "admin"), act=f"将机构 {n} 推进到“{to}”")
        return self._move(n, to, person, note=note, today=today, extra=extra)

    def _move(
        self, n: int, to: str, person: Person, *, note: str, today: dt.date | None, extra: dict | None = None
    ) -> Event:
        today = today or dt.date.today()
        st = self.state(n)
        problems = transition_problems(st, to, self.facts(n, today))
        if to == "复核" and st.stage == "初评" and not problems:
            problems = self._approval_problems(n, st)
        if problems:
            raise WorkflowError([f"机构 {n}：{p}" for p in problems])
        payload = {"from": st.stage, "to": to, "date": today.isoformat(), **(extra or {})}
        return self._event(n, "transition", person, note=note, payload=payload, after=st.last_seq)

    def set_group(self, n: int, experts: list[str]) -> Event:
        """The organiser registers the group; every member must be a registered 评估专家."""
        person = self.actor("organiser", act="登记评估小组")
        experts = [e.strip() for e in experts if e.strip()]
        if not experts:
            raise WorkflowError(["评估小组至少需要一名专家"])
        st = self.state(n)
        if st.stage in SIGNED:
            raise WorkflowError([f"机构 {n} 的评分表已签字，不能再更换评估小组"])
        known = {
            k: p for p in registry(self.store, self.dataset).values() if p.has("expert") for k in (p.login, p.name)
        }
        refuse(names_problem(experts, known))
        names = [known[e].name for e in experts]
        return self._event(n, "group", person, payload={"experts": names}, after=st.last_seq)

    def sign(self, n: int, key: SigningKey | None = None, *, now: dt.datetime | None = None) -> Event:
        """The acting expert signs the current group sheet with their own key (on demo data, their demo
        key if none is given): their own signature, never another's.

        The signature covers dataset, institution, stage, the sheet's digest, the rubric's id and digest,
        the time and the signer (login and name).
        """
        person = self.actor(act="")
        st = self.state(n)
        if st.stage != "现场评估":
            raise WorkflowError([f"机构 {n} 当前阶段为“{st.stage}”，只有现场评估阶段可以签字"])
        refuse(signer_problem(person, st, n))
        now = now or dt.datetime.now(dt.UTC)
        key = self._signing_key(person.login, key, beijing_date(now.isoformat()))
        at = now.isoformat(timespec="seconds")
        content = sheet_content(
            dataset=self.dataset,
            institution=n,
            stage=st.stage,
            sheet=GROUP_SHEET,
            sheet_digest=self.sheet_digest(n),
            rubric_id=self.ws.rubric_ref.id,
            rubric_digest=self.ws.rubric_ref.digest,
            at=at,
            signer=person.login,
            signer_name=person.name,
        )
        return self._event(
            n,
            "signature",
            person,
            payload=signature_payload(key, content),
            after=st.last_seq,
            now=dt.datetime.fromisoformat(at),
        )

    def _signing_key(self, login: str, key: SigningKey | None, today: dt.date) -> SigningKey:
        """The key to sign with, checked against the registry before anything is written."""
        if key is None:
            if not self.ws.dataset.synthetic:
                raise WorkflowError(
                    [f"{login} 签字须使用本人的签名密钥（rubric-kernel keys new 生成，管理员登记公钥）"]
                )
            key = demo_key(login)
            keyring.ensure_demo(self.store, login, today)
        if key.login != login:
            raise WorkflowError([f"密钥属于 {key.login}，不能用于 {login} 的签字"])
        if key.demo and not self.ws.dataset.synthetic:
            raise WorkflowError([f"{DEMO_MARK}只能用于演示数据，不能签署真实评估"])
        mine = next((k for k in keyring.registered(self.store) if k.fingerprint == key.fingerprint), None)
        if mine is None or mine.login != login:
            raise WorkflowError(
                [f"{login} 的公钥 {key.fingerprint[:16]} 尚未登记：请管理员运行 rubric-kernel keys register"]
            )
        problem = mine.validity_problem(today)
        if problem:
            raise WorkflowError([problem])
        return key

    def signature_problems(self, event: Event | None, keys: Sequence[KeyRecord] | None = None) -> list[str]:
        """Why a stored signature is not valid against the registered keys (empty: valid)."""
        if event is None:
            return ["签字记录缺失"]
        keys = keyring.registered(self.store) if keys is None else keys
        return signature_problems(signed_row(event, self.ws.dataset.synthetic), keys)

    def acknowledge(
        self,
        n: int,
        *,
        person: str,
        date: dt.date,
        refusal: bool = False,
        reason: str = "",
        today: dt.date | None = None,
    ) -> Event:
        """The institution confirms the on-site result (评价机构签字盖章), or refuses with a reason.

        Recorded by the organiser on the institution's behalf, once, after the on-site assessment.
        """
        actor = self.actor("organiser", act="登记机构对现场评估结果的确认")
        st = self.state(n)
        today = today or beijing_today()
        problems = []
        if st.stage not in ("现场评估", "初评"):
            problems.append(f"机构 {n} 当前阶段为“{st.stage}”，机构确认只能在现场评估或初评阶段登记")
        if st.acknowledgement is not None:
            problems.append(f"机构 {n} 已于 {st.acknowledgement.date.isoformat()} 登记过确认结果，不能重复登记")
        if not person.strip():
            problems.append("须写明机构签字人姓名")
        if refusal and not reason.strip():
            problems.append("机构拒绝签字时须写明理由")
        if date > today:
            problems.append(f"签字日期 {date.isoformat()} 晚于今天 {today.isoformat()}")
        if st.visit is not None and date < st.visit:
            problems.append(f"签字日期 {date.isoformat()} 早于实地评估日期 {st.visit.isoformat()}")
        if problems:
            raise WorkflowError(problems)
        return self._event(
            n,
            "acknowledgement",
            actor,
            payload={
                "person": person.strip(),
                "date": date.isoformat(),
                "accepted": not refusal,
                "reason": reason.strip(),
                "digest": self.sheet_digest(n),
            },
            note="机构拒绝签字" if refusal else "机构签字盖章确认现场评估结果",
            after=st.last_seq,
        )

    def commitment(self, n: int, date: dt.date, *, late: str = "") -> Event:
        person = self.actor("organiser", act="登记《信用承诺书》")
        payload = {"date": date.isoformat(), **({"late": late} if late else {})}
        return self._event(n, "commitment", person, payload=payload, note="收到机构签署的《信用承诺书》")

    def record_schedule(self, visits: list[Visit]) -> None:
        person = self.actor("organiser", act="安排实地评估日程")
        for v in visits:
            payload = {"visit": v.date.isoformat(), "notified": v.notified.isoformat(), "group": str(v.group)}
            self._event(v.institution, "schedule", person, payload=payload)

    def review(
        self,
        n: int,
        *,
        veto: Mapping[str, tuple[str, str]],
        adjust: Mapping[int, tuple[float, str]],
        approve: bool,
        today: dt.date | None = None,
    ) -> list:
        """The centre's review: veto findings, score adjustments (new versions with reasons), and its
        approving conclusion, which takes effect only with 领导审签 (``approve_review``)."""
        person = self.actor("centre", act="复核")
        by = person.name
        st = self.state(n)
        if st.stage not in ("初评", "复核"):
            raise WorkflowError([f"机构 {n} 当前阶段为“{st.stage}”，复核须在初评之后进行"])
        for clause, (status, _finding) in veto.items():
            if status not in ("confirmed", "rejected"):
                raise WorkflowError([f"否定项第 {clause} 条的核实结论应为 confirmed（属实）或 rejected（不属实）"])
        snap, sheet, changes = self._decided(
            n,
            veto={c: VetoDecision(status, finding, by) for c, (status, finding) in veto.items()},  # type: ignore[arg-type]
            adjust={k: Adjustment(value, reason, by) for k, (value, reason) in adjust.items()},
            stage="复核",
            reason="省职鉴中心复核",
        )
        if approve and st.stage == "初评":
            prospective = self.ws.score(n, sheet)
            facts = Facts(
                digest({**snap.live, **changes}),
                len(prospective.pending),
                tuple(v.clause for v in prospective.veto if v.status == "raised"),
                today or dt.date.today(),
            )
            problems = transition_problems(st, "复核", facts)
            if problems:
                raise WorkflowError([f"机构 {n}：{p}" for p in problems])
        written = self._write(n, changes, snap, person, stage="复核", reason="省职鉴中心复核")
        if approve and st.stage == "初评":
            payload = {"digest": self.sheet_digest(n)}
            self._event(n, "review", person, payload=payload, note="复核通过，书面呈报领导审签")
        return written

    def approve_review(self, n: int, *, note: str = "", today: dt.date | None = None) -> Event:
        """领导审签: the leader approves the centre's review in writing; only then does the review take effect."""
        person = self.actor("leader", act="审签复核结果")
        return self._move(n, "复核", person, note=note or "领导审签同意复核结果", today=today)

    def _approval_problems(self, n: int, st: WorkflowState) -> list[str]:
        if st.review is None:
            return ["省职鉴中心尚未提交复核结论（rubric-kernel review --approve），领导无从审签"]
        if st.review.digest != self.sheet_digest(n):
            return ["复核结论提交后评分表又有变更，须由省职鉴中心重新提交复核结论"]
        return []

    def reopen(self, n: int, *, reason: str, today: dt.date | None = None) -> Event:
        person = self.actor("centre", act="重新复核已公告的结果")
        if not reason.strip():
            raise WorkflowError(["重新复核已公告的结果必须写明理由"])
        return self._move(n, "复核", person, note=f"重新复核：{reason}", today=today)

    def open_publicity(self, start: dt.date, days: int | None = None, *, late: str = "") -> list[int]:
        """Every reviewed institution enters publicity with the same window (default: the programme's days)."""
        person = self.actor("centre", act="公示")
        days = self.programme.publicity_days.value if days is None else days
        faults = check_limit("publicity_days", days, "公示天数")
        if faults:
            raise WorkflowError([f.message for f in faults])
        end = start + dt.timedelta(days=days - 1)
        moved = []
        for n, st in self.states().items():
            if st.stage != "复核":
                continue
            window = {"start": start.isoformat(), "end": end.isoformat(), **({"late": late} if late else {})}
            self._event(n, "publicity", person, payload=window)
            self._move(n, "公示", person, note=f"公示期 {start.isoformat()} 至 {end.isoformat()}", today=start)
            moved.append(n)
        if not moved:
            raise WorkflowError(["没有已复核的机构可以公示"])
        return moved

    def add_objection(
        self, n: int, *, applicant: str, date: dt.date, grounds: str, evidence: str, late: str = ""
    ) -> Event:
        person = self.actor("centre", act="受理异议")
        st = self.state(n)
        if st.publicity is None or st.stage not in ("公示", "异议处理"):
            raise WorkflowError([f"机构 {n} 不在公示期，不能受理异议"])
        start, end = st.publicity
        if not start <= date <= end:
            raise WorkflowError([f"异议日期 {date.isoformat()} 不在公示期 {start.isoformat()} 至 {end.isoformat()} 内"])
        if not grounds.strip() or not evidence.strip():
            raise WorkflowError(["异议须写明理由并提供实质性依据"])
        payload = {"applicant": applicant, "date": date.isoformat(), "grounds": grounds, "evidence": evidence}
        event = self._event(
            n, "objection", person, payload={**payload, **({"late": late} if late else {})}, after=st.last_seq
        )
        if st.stage == "公示":
            self._move(n, "异议处理", person, note=f"受理 {applicant} 的异议", today=date)
        return event

    def decide_objection(
        self, n: int, objection: int, *, decision: str, note: str, adjust: Mapping[int, tuple[float, str]]
    ) -> Event:
        person = self.actor("centre", act="处理异议")
        by = person.name
        st = self.state(n)
        target = next((o for o in st.objections if o.id == objection), None)
        if target is None:
            raise WorkflowError([f"机构 {n} 没有编号为 {objection} 的异议"])
        if not target.open:
            raise WorkflowError([f"异议 {objection} 已于此前处理（{target.decision}）"])
        if decision not in ("upheld", "rejected"):
            raise WorkflowError(["处理结论应为 upheld（成立）或 rejected（不成立）"])
        if decision == "rejected" and adjust:
            raise WorkflowError(["异议不成立时不应调整分数"])
        if not note.strip():
            raise WorkflowError(["异议处理须写明核实情况"])
        reason = f"异议 {objection} 成立：{note}"
        snap, _sheet, changes = self._decided(  # refused here, before anything is written
            n,
            adjust={k: Adjustment(v, f"{r}（{reason}）", by) for k, (v, r) in adjust.items()},
            stage="异议处理",
            reason=reason,
        )
        change = "；".join(f"指标{k}调整为{v:g}分" for k, (v, _) in adjust.items())
        event = self._event(  # decided once: a second decision based on the same state is refused
            n,
            "objection_decision",
            person,
            note=note,
            payload={"objection": objection, "decision": decision, "change": change},
            after=st.last_seq,
        )
        self._write(n, changes, snap, person, stage="异议处理", reason=reason)
        return event

    def send_letter(self, n: int, objection: int, sent: ActDate) -> Event:
        """告知申请人: the centre records the date the decision letter went to the objector, once, and
        only for a decided objection (a letter cannot precede its decision)."""
        person = self.actor("centre", act="告知异议申请人处理结果")
        st = self.state(n)
        target = next((o for o in st.objections if o.id == objection), None)
        if target is None:
            raise WorkflowError([f"机构 {n} 没有编号为 {objection} 的异议"])
        if target.open:
            raise WorkflowError([f"异议 {objection} 尚未处理，不能告知申请人处理结果"])
        if target.letter is not None:
            raise WorkflowError([f"异议 {objection} 的处理结果已于 {target.letter.isoformat()} 告知申请人"])
        decided = beijing_date(target.decided_at)
        if sent.date < decided:
            raise WorkflowError(
                [f"告知日期 {sent.date.isoformat()} 早于异议处理日期 {decided.isoformat()}：须先处理再告知"]
            )
        return self._event(
            n,
            "objection_letter",
            person,
            payload={"objection": objection, **sent.payload()},
            note=f"告知申请人 {target.applicant} 异议处理结果",
            after=st.last_seq,
        )

    def collect(self, type_: str, source: str, when: ActDate) -> Event:
        """The organiser records that one of the 12 record types was collected, from where and when."""
        person = self.actor("organiser", act="登记信用记录预采集")
        self.check_collection(type_, source)
        payload = {"type": type_, "source": source.strip(), **when.payload()}
        return self._event(collection.PROGRAMME_WIDE, collection.KIND, person, payload=payload, note="信用记录预采集")

    def check_collection(self, type_: str, source: str) -> None:
        refuse("；".join(collection.entry_problems(collection.record_types(), type_, source)) or None)

    def collected(self) -> dict[str, collection.Collected]:
        return collection.collected(self.store.events(self.dataset, collection.PROGRAMME_WIDE))

    def announce(
        self, today: dt.date, *, valid_years: int | None = None, late: str = ""
    ) -> tuple[list[int], list[str]]:
        """Announce every institution in publicity that may be; returns those and why the others may not.

        Each announcement records its validity (default: the programme's), so a later change of the
        programme does not rewrite what was announced.
        """
        person = self.actor("centre", act="公告")
        valid_years = self.programme.validity_years.value if valid_years is None else valid_years
        faults = check_limit("validity_years", valid_years, "结果有效期")
        if faults:
            raise WorkflowError([f.message for f in faults])
        done, held = [], []
        for n, st in self.states().items():
            if st.stage not in ("公示", "异议处理"):
                continue
            try:
                extra = {"valid_years": valid_years, **({"late": late} if late else {})}
                self._move(n, "公告", person, note="公告最终信用评估结果", today=today, extra=extra)
                done.append(n)
            except WorkflowError as exc:
                held.extend(exc.problems)
        if not done:
            raise WorkflowError(held or ["没有处于公示阶段的机构"])
        return done, held

    def _decided(
        self,
        n: int,
        *,
        veto: Mapping[str, VetoDecision] | None = None,
        adjust: Mapping[int, Adjustment],
        stage: str,
        reason: str,
    ) -> tuple[Snapshot, Sheet, dict[str, dict | None]]:
        """The group sheet with the centre's decisions applied, and the stored changes that make it so
        (through the codec, like every write); refused before anything is written when the workflow
        or the rubric does not allow it."""
        snap = self.store.snapshot(self.dataset, n, GROUP_SHEET)
        current = snap.sheet(self.ws.rubric)
        veto = veto or {}
        sheet = replace(current, veto={**current.veto, **veto}, adjustments={**current.adjustments, **adjust})
        if not veto and not adjust:
            return snap, sheet, {}
        guard_edit(self.store, self.dataset, n, stage, reason)
        faults = check_sheet(sheet, self.ws.rubric, self.ws.dataset.for_institution(n), f"机构 {n} 的决定")
        if faults:
            raise WorkflowError([f.message for f in faults])
        before, after = sheet_to_entries(current, self.ws.rubric), sheet_to_entries(sheet, self.ws.rubric)
        return snap, sheet, {k: after.get(k) for k in keys_changed(before, after)}

    def _write(self, n: int, changes: dict, snap: Snapshot, person: Person, *, stage: str, reason: str) -> list:
        if not changes:
            return []
        refuse(save_problem(person, self.state(n), n, changes, self.ws.rubric))
        return self.store.save(
            self.dataset,
            n,
            changes,
            snap.base,
            expert=person.name,
            stage=stage,
            reason=reason,
            rubric=self.ws.rubric_ref,
            login=person.login,
        )
