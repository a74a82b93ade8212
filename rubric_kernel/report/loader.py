"""Build one institution's ``ReportContext`` from an assessment: the only report code that reads the store.

Everything is turned into the reader's words here: record ids become the records' descriptions,
rule items their text, stored keys their meaning; the templates get frozen plain data.
"""

from __future__ import annotations

from markupsafe import Markup

from .. import keyring
from ..assessment import Assessment
from ..cohort import comparison_basis
from ..evidence import CreditRecord
from ..judgments_file import beijing_today
from ..labels import (
    BASE_ZH,
    DECISION_ZH,
    LINE_KIND_ZH,
    acknowledgement_text,
    defaults_note,
    describe_version,
    fmt,
    grade_text,
    group_title,
    local_time,
    next_grade_text,
    status_text,
    total_note,
    unchanged_text,
)
from ..programme import Programme
from ..scoring import IndicatorResult, Line, Result
from ..sheet_codec import CENTRE_KINDS, digest, parse_key
from ..signing import DEMO_MARK, signature_problems, signed_row
from ..workflow.collection import collected
from .chart import level1_chart_svg
from .context import (
    Collection,
    Comparison,
    Conclusion,
    Digests,
    Finding,
    Head,
    HistoryRow,
    IndicatorGroup,
    IndicatorRow,
    Institution,
    Level1Row,
    Materials,
    Reason,
    RecordRow,
    ReportContext,
    Signoff,
    VetoBanner,
    Workflow,
)
from .digest import input_digests

SHOWN_KINDS = ("item", "free", "record", "clamp", "adjusted")  # lines that moved a score


def record_text(rec: CreditRecord) -> str:
    """A credit record as a reader identifies it: type, severity, authority, date and document number."""
    parts = [p for p in (rec.severity, rec.authority, rec.date.isoformat(), rec.ref) if p]
    return f"{rec.type}（{'，'.join(parts)}）"


def _points(x: float) -> str:
    return f"{x:+g}"


def _reasons(lines: tuple[Line, ...]) -> tuple[Reason, ...]:
    out = []
    for ln in lines:
        if ln.kind not in SHOWN_KINDS:
            continue
        text = ln.text + (f"（{ln.ref}）" if ln.kind == "adjusted" and ln.ref else "")  # ref: who adjusted
        out.append(Reason(LINE_KIND_ZH[ln.kind], text, _points(ln.points)))
    return tuple(out)


def _moved(i: IndicatorResult) -> bool:
    return not i.pending and i.score != (i.max_points if i.base == "full" else 0.0)


def _finding(a: Assessment, i: IndicatorResult, notes: dict[int, str]) -> Finding:
    lv, g = a.ws.rubric.placement[i.number]
    start = i.max_points if i.base == "full" else 0.0
    return Finding(
        f"{i.number}. {i.name}",
        f"{lv.name} · {group_title(g.number, g.name, g.inferred)}",
        fmt(i.max_points),
        fmt(i.score),
        _points(i.score - start),
        _reasons(i.lines),
        i.evidence,
        notes.get(i.number, ""),
    )


def experts(a: Assessment) -> tuple[str, ...]:
    """The 评估专家组: as registered in the workflow, else whoever wrote the sheet's current judgments
    (not the centre's 人社 findings or adjustments, which share the sheet)."""
    group = a.workflow().group
    if group:
        return tuple(group)
    rubric = a.ws.rubric
    return tuple(
        dict.fromkeys(
            v.expert
            for key, v in a.snapshot().entries.items()
            if v.content is not None and v.expert and getattr(parse_key(rubric, key), "kind", "") not in CENTRE_KINDS
        )
    )


def _head(a: Assessment, r: Result, programme: Programme) -> Head:
    inst = a.institution
    return Head(
        title="信用评估报告",
        report_no=programme.report_no(inst.number),
        report_date=beijing_today().isoformat(),
        organiser=programme.organiser.value,
        issuer=programme.issuer.value,
        experts=experts(a),
        as_of=r.as_of.isoformat(),
        institution=Institution(inst.number, inst.name, inst.address, "、".join(inst.types), inst.klass),
        notice=a.ws.rubric.meta.notice,
        mark=a.mark,
        defaults_note=defaults_note(a.ws.rubric),
    )


def _conclusion(a: Assessment, r: Result) -> Conclusion:
    rubric = a.ws.rubric
    records = {rec.id: rec for rec in a.evidence.records}

    def source(ref: str) -> str:
        rec = records.get(ref)
        return f"{record_text(rec)}：{rec.summary}" if rec else "评估专家现场核查提出"

    vetoes = tuple(
        VetoBanner(
            v.clause,
            v.text,
            v.reason,
            a.snapshot().sheet(a.ws.rubric).veto[v.clause].by,
            tuple(map(source, v.raised_by)),
        )
        for v in r.effective_veto
    )
    return Conclusion(
        total=fmt(r.total),
        grade=grade_text(r),
        status=status_text(r),
        provisional=bool(r.pending),
        pending_names=tuple(
            f"{n}. {rubric.indicators[n].name}"
            + ("（待省职鉴中心录入人社部门数据）" if rubric.indicators[n].finding else "")
            for n in r.pending
        ),
        range_note=total_note(r),
        vetoes=vetoes,
        raised=tuple(f"第{v.clause}条 {v.text}" for v in r.veto if v.status == "raised"),
        subtotal=fmt(r.subtotal),
        bonus=fmt(r.bonus),
        next_grade=next_grade_text(r),
        cutoffs="，".join(f"{c.grade} ≥ {fmt(c.min)}" for c in rubric.cutoffs),
        lowest_grade=rubric.grades.lowest,
    )


def _comparison(a: Assessment, r: Result) -> Comparison:
    means, counts = comparison_basis(a.cohort)
    mine, everyone = means.get(r.klass), means.get("全部")

    def mean(m: dict | None, name: str) -> str:
        return "—" if m is None else f"{m[name]:.1f}"  # no complete institution to compare with

    rows = tuple(
        Level1Row(lv.name, fmt(lv.points), fmt(r.level1[lv.name]), mean(mine, lv.name), mean(everyone, lv.name))
        for lv in a.ws.rubric.levels
    )
    return Comparison(
        rows,
        f"{r.klass}均值（{counts.get(r.klass, 0)} 家）",
        f"全部机构均值（{counts.get('全部', 0)} 家）",
        Markup(level1_chart_svg(a.ws.rubric, r, mine, everyone)),  # the chart escapes its own text
    )


def _indicator_groups(a: Assessment, r: Result) -> tuple[IndicatorGroup, ...]:
    rubric = a.ws.rubric
    by_number = {i.number: i for i in r.indicators}
    groups = []
    for lv in rubric.levels:
        for g in lv.groups:
            rows = []
            for ind in g.indicators:
                i = by_number[ind.number]
                shown = [f"{x.text}（{x.points}）" for x in _reasons(i.lines)]
                rows.append(
                    IndicatorRow(
                        ind.number,
                        ind.name,
                        BASE_ZH[ind.base],
                        "、".join(ind.sources),
                        rubric.basis_text(ind.basis),
                        fmt(ind.max_points),
                        "待评" if i.pending else fmt(i.score),
                        i.pending,
                        _explained(shown, i),
                    )
                )
            groups.append(
                IndicatorGroup(
                    f"{lv.name} · {group_title(g.number, g.name, g.inferred)}",
                    fmt(r.level2[g.name]),
                    fmt(sum(x.max_points for x in g.indicators)),
                    tuple(rows),
                )
            )
    return tuple(groups)


def _explained(shown: list[str], i: IndicatorResult) -> str:
    """An appendix row's explanation; an indicator scored from 人社部门 data also cites the finding."""
    text = "；".join(shown) if shown and not i.pending else unchanged_text(i.pending, i.base, i.needs_finding)
    return f"{text}；{i.evidence}" if i.needs_finding and i.evidence else text


def _records(a: Assessment, r: Result) -> tuple[RecordRow, ...]:
    dismissed = a.snapshot().sheet(a.ws.rubric).dismissed
    hits: dict[str, list[str]] = {}
    counted: set[str] = set()
    for i in r.indicators:
        for ln in i.lines:
            if ln.ref and ln.kind in ("record", "dismissed", "outside"):
                hits.setdefault(ln.ref, []).append(f"{i.number}. {i.name}（{fmt(ln.points)}）")
                if ln.kind == "record":
                    counted.add(ln.ref)
    rows = []
    for rec in a.evidence.records:
        if rec.id in dismissed:
            fate, reason = "已排除", dismissed[rec.id]
        elif rec.id in counted:
            fate, reason = "计分", ""
        else:
            fate, reason = "不计分", "在回溯期外或晚于评估基准日"
        rows.append(RecordRow(record_text(rec), rec.summary, "、".join(hits.get(rec.id, [])) or "—", fate, reason))
    return tuple(rows)


def _collection(a: Assessment) -> Collection:
    """Which of the seed's 12 record types the organiser collected, from where, when and by whom."""
    got = collected(a.programme_events())
    types = a.ws.collection_types
    rows = tuple(
        (t, c.source, c.date.isoformat() + (f"（补录：{c.late}）" if c.late else ""), c.by)
        for t in types
        if (c := got.get(t))
    )
    return Collection(rows, tuple(t for t in types if t not in got))


def _materials(a: Assessment) -> Materials:
    items = {i.number: i.text for i in a.ws.materials.items}
    given = {m.item: m for m in a.evidence.materials}
    missing = tuple(
        (n, items[n], given[n].note if n in given else "未登记")
        for n in items
        if n not in given or not given[n].provided
    )
    staff = tuple(
        (f"表{t}", name, sum(1 for p in a.evidence.personnel if p.table == t))
        for t, name in a.ws.materials.table_names.items()
    )
    return Materials(len(items), missing, bool(given), staff)


def _signoffs(a: Assessment, programme: Programme) -> tuple[Signoff, ...]:
    """Everything that signs the report today, each checked: the experts' keyed signatures against the
    registered public keys and the sheet as it stands, the institution's confirmation, the review."""
    st = a.workflow()
    current = digest(a.snapshot().live)
    keys = keyring.registered(a.store)
    expert_role = programme.roles.expert.value
    out = []
    for expert in st.group:
        sig = st.signatures.get(expert)
        if sig is None:
            out.append(Signoff(expert_role, expert, "", None, "尚未签字"))
            continue
        problems = signature_problems(signed_row(sig.event, a.ws.dataset.synthetic), keys) if sig.event else []
        if problems:
            out.append(Signoff(expert_role, expert, local_time(sig.at), False, "签名无效：" + "；".join(problems)))
        elif sig.digest != current:
            out.append(
                Signoff(
                    expert_role, expert, local_time(sig.at), False, "签字后评分表已变更（变更及理由见附录修改记录）"
                )
            )
        else:
            key = str(sig.event.payload.get("key", "")) if sig.event else ""
            demo = f"，{DEMO_MARK}" if any(k.fingerprint == key and k.demo for k in keys) else ""
            out.append(
                Signoff(expert_role, expert, local_time(sig.at), True, f"签名有效（Ed25519 密钥 {key[:16]}{demo}）")
            )
    if not st.group:  # no group registered yet: the experts who wrote the sheet, none of them signed
        out += [Signoff(expert_role, e, "", None, "尚未签字") for e in experts(a)]
    ack = st.acknowledgement
    if ack is not None:
        out.append(
            Signoff(
                "评价机构确认",
                ack.person,
                ack.date.isoformat(),
                True if ack.accepted else None,
                acknowledgement_text(ack),
            )
        )
    else:
        out.append(Signoff("评价机构确认", a.institution.name, "", None, "尚未签字盖章确认现场评估结果"))
    review = next((e for e in reversed(st.history) if e.payload.get("to") == "复核"), None)
    out.append(
        Signoff(
            f"{programme.issuer.value}复核",
            review.actor if review else "",
            local_time(review.created_at) if review else "",
            True if review else None,
            (review.note or "复核通过") if review else "尚未复核",
        )
    )
    out.append(Signoff(programme.roles.leader.value, "", "", None, "尚未审签"))
    return tuple(out)


def _workflow(a: Assessment) -> Workflow:
    st = a.workflow()
    return Workflow(
        stage=st.stage,
        visit=(f"{st.visit.isoformat()}（第{st.visit_group}组，通知日 {st.notified.isoformat()}）")
        if st.visit and st.notified
        else "",
        commitment=st.commitment.isoformat() if st.commitment else "",
        publicity=f"{st.publicity[0].isoformat()} 至 {st.publicity[1].isoformat()}" if st.publicity else "",
        announced=st.announced.isoformat() if st.announced else "",
        steps=tuple(
            f"{local_time(e.created_at)}　{e.payload['from']} → {e.payload['to']}　{e.actor}　{e.note}".rstrip()
            for e in st.history
        ),
        objections=tuple(
            f"{o.applicant}（{o.date.isoformat()}）理由：{o.grounds}；依据：{o.evidence}；"
            f"结论：{DECISION_ZH[o.decision]}"
            + (f"，{o.change}" if o.change else "")
            + (f"；{o.letter.isoformat()} 已告知申请人" if o.letter else "")
            for o in st.objections
        ),
    )


def _history(a: Assessment) -> tuple[HistoryRow, ...]:
    rubric = a.ws.rubric
    records = {rec.id: record_text(rec) for rec in a.evidence.records}

    def item(key: str) -> str:
        parsed = parse_key(rubric, key)
        kind, ident = parsed if parsed else ("", "")
        if kind in ("indicator", "adjust"):
            return f"{ident}. {rubric.indicators[ident].name}"  # type: ignore[index]
        if kind == "finding":
            return f"{ident}. {rubric.indicators[ident].name}（人社部门数据）"  # type: ignore[index]
        if kind == "bonus":
            return "加分项：" + rubric.bonus_items[ident].text.split("：")[0]  # type: ignore[index]
        if kind == "veto":
            return f"否定项第{ident}条"
        if kind == "dismiss":
            return "信用记录：" + records.get(str(ident), "（已不在数据集中）")
        return "专家组意见" if kind == "opinion" else "其他"

    def content(key: str, body: dict | None) -> str:
        """A version in words; rule items, records and bonus items by their text, never by their ids."""
        if body is None:
            return "撤回"
        parsed = parse_key(rubric, key)
        kind, ident = parsed if parsed else ("", "")
        if kind == "indicator":
            items = {it.urn: it for it in rubric.indicators[ident].items}  # type: ignore[index]
            parts = [
                f"认定：{items[u].text}" + (f"（{c}{items[u].unit}）" if items[u].unit else "")
                for u, c in body.get("ticks", {}).items()
                if u in items
            ]
            rest = {**body, "ticks": {}}  # free entries and evidence as the shared wording says them
            described = describe_version(rubric, key, rest)
            if parts and described.startswith("已评，无"):
                described = described.partition("；")[2]
            return "；".join(p for p in (*parts, described) if p)
        if kind == "finding":  # the rule items the data shows, by their text
            items = {it.urn: it for it in rubric.indicators[ident].items}  # type: ignore[index]
            shown = "、".join(
                items[u].text + (f"（{c}{items[u].unit}）" if items[u].unit else "")
                for u, c in body.get("ticks", {}).items()
                if u in items
            )
            note = f"；{body['note']}" if body.get("note") else ""
            return f"人社部门数据：{shown or '无问题'}（{body.get('source', '')}，{body.get('date', '')}）{note}"
        if kind == "dismiss":  # the record in words, not its id
            return f"排除该信用记录：{body.get('reason', '')}"
        if kind == "bonus":
            return "已认定" + (f"；佐证：{body['evidence']}" if body.get("evidence") else "")
        return describe_version(rubric, key, body)

    return tuple(
        HistoryRow(local_time(v.created_at), v.expert, v.stage, item(v.key), content(v.key, v.content), v.reason)
        for v in reversed(a.history())
    )


DIGEST_LABELS = {
    "rubric": "指标体系",
    "roster": "机构名单",
    "evidence": "证据（信用记录、材料、人员）",
    "judgments": "专家评分（评分库当前版本）",
    "workflow": "流程记录",
    "inputs": "全部输入",
}


def _digests(a: Assessment) -> Digests:
    d = input_digests(a)
    return Digests(tuple((DIGEST_LABELS[k], d[k]) for k in DIGEST_LABELS), tuple(d.items()))


def load_context(a: Assessment, programme: Programme | None = None) -> ReportContext:
    """Everything the report shows, read once from the assessment (and the programme settings, by default
    the workspace's)."""
    programme = programme or a.ws.programme
    r = a.score()
    notes = {n: j.note for n, j in a.snapshot().sheet(a.ws.rubric).indicators.items() if j.note}
    findings = tuple(_finding(a, i, notes) for i in r.indicators if _moved(i))
    bonus = None
    if r.bonus_lines:
        bonus = Finding(
            "加分项",
            a.ws.rubric.bonus.description,
            fmt(a.ws.rubric.bonus.cap),
            fmt(r.bonus),
            _points(r.bonus),
            _reasons(r.bonus_lines),
            "",
            "",
        )
    return ReportContext(
        head=_head(a, r, programme),
        conclusion=_conclusion(a, r),
        findings=findings,
        bonus=bonus,
        opinion=a.snapshot().sheet(a.ws.rubric).opinion,
        signoffs=_signoffs(a, programme),
        comparison=_comparison(a, r),
        indicator_groups=_indicator_groups(a, r),
        records=_records(a, r),
        collection=_collection(a),
        materials=_materials(a),
        workflow=_workflow(a),
        history=_history(a),
        digests=_digests(a),
    )
