"""The workflow from preparation to announcement, one command per step of the seed's 工作流程.

No command names who acts: that is the registered person behind the database login (PostgreSQL) or
the OS / JupyterHub login (``RUBRIC_KERNEL_ACTOR`` on SQLite). Dates of acts are today's in Beijing
time; a past date only with ``--late 理由`` (a late record, shown as such), never a future one.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import clock, keyring
from ..bundled import outputs_dir
from ..errors import Fault, InputError, display_path
from ..evidence import parse_date
from ..labels import DECISION_ZH, acknowledgement_text, local_time
from ..programme import PROGRAMME_PATH, Programme, check_limit, load_programme
from ..signing import DEMO_MARK
from ..workflow import collection, documents
from ..workflow.consolidate import consolidate, render_consolidation
from ..workflow.schedule import PlanError, check_known, plan_visits
from ..workflow.service import Workflow
from .common import add_data_options, float_in, open_store, open_workspace, out_folder
from .keys_cmds import load_signing_key


def _date(text: str, what: str) -> dt.date:
    try:
        return parse_date(text)
    except ValueError:
        raise InputError([Fault(what, f"日期“{text}”无效，应为 YYYY-MM-DD")]) from None


def _pairs(items: list[str] | None, what: str) -> dict[str, tuple[str, str]]:
    """``KEY=VALUE:理由`` options (``--veto 3=confirmed:…``, ``--adjust 12=8:…``)."""
    out = {}
    for item in items or []:
        key, sep, rest = item.partition("=")
        value, sep2, reason = rest.partition(":")
        if not sep or not sep2 or not reason.strip():
            raise InputError([Fault(what, f"“{item}”格式应为 编号=值:理由")])
        out[key.strip()] = (value.strip(), reason.strip())
    return out


def _adjustments(items: list[str] | None) -> dict[int, tuple[float, str]]:
    try:
        return {int(k): (float(v), r) for k, (v, r) in _pairs(items, "--adjust").items()}
    except ValueError:
        raise InputError([Fault("--adjust", "指标编号应为整数、分值应为数字，例如 12=8:补充材料已核实")]) from None


def _act_date(text: str | None, late: str | None, what: str, option: str) -> clock.ActDate:
    """The date an act is recorded with: today, or a past date as a late record with its reason."""
    try:
        return clock.act_date(_date(text, option) if text else None, late or "", what=what)
    except clock.DateRefused as exc:
        raise InputError([Fault(option, str(exc))]) from None


def _cmd(sub, name: str, help_: str, handler, *, number: bool = True, late: bool = False):
    """A workflow command; ``late``: it records a dated act, which may be a late record (--late 理由)."""
    p = sub.add_parser(name, help=help_)
    if number:
        p.add_argument("number", type=int, help="机构序号")
    add_data_options(p)
    p.add_argument("--programme", help="评估项目参数文件（默认 parameters/programme.yaml）")
    if late:
        p.add_argument("--late", metavar="理由", help="补录过去发生的事项：写明补录理由（日期早于今天时必填）")
    p.set_defaults(handler=handler)
    return p


def _limits(*checks: tuple[str, int | None, str]) -> None:
    """Refuse out-of-range overrides before anything is opened or written."""
    faults = [f for name, value, option in checks if value is not None for f in check_limit(name, value, option)]
    if faults:
        raise InputError(faults)


def register(sub: argparse._SubParsersAction) -> None:
    p = _cmd(sub, "status", "各机构所处阶段", cmd_status, number=False)
    p.add_argument("institution", nargs="?", type=int, help="机构序号（省略则列出全部）")

    p = _cmd(sub, "schedule", "安排实地评估日程并生成评估通知", cmd_schedule, number=False)
    p.add_argument("--start", help="评估期开始日（默认取评估项目参数）")
    p.add_argument("--end", help="评估期结束日（默认取评估项目参数）")
    p.add_argument("--groups", type=int, help="评估小组数（默认取评估项目参数）")
    p.add_argument("--per-day", type=int, help="每组每日评估家数（默认取评估项目参数）")
    p.add_argument("--notify-on", help="发出通知的日期（默认取评估项目参数）")
    p.add_argument("--set", action="append", metavar="序号=日期", help="指定某机构的评估日期，可多次使用")
    p.add_argument("--out", type=out_folder, help="输出目录（默认 outputs/workflow）")

    p = _cmd(sub, "stage", "推进阶段：开始现场评估（现场评估）或提交初评（初评）", cmd_stage)
    p.add_argument("to", choices=("现场评估", "初评"), help="目标阶段")
    p.add_argument("--note", default="", help="说明")

    p = _cmd(sub, "group", "登记评估小组成员", cmd_group)
    p.add_argument("--experts", required=True, help="已登记专家的登录名或姓名，逗号分隔")

    p = _cmd(sub, "commitment", "登记收到机构签署的《信用承诺书》", cmd_commitment, late=True)
    p.add_argument("--date", help="签署日期（默认今天）")

    _cmd(sub, "sign", "评估专家本人用本人密钥在当前评分表上签名", cmd_sign)

    p = _cmd(sub, "acknowledge", "登记评价机构对现场评估结果的签字盖章确认（或拒绝签字及理由）", cmd_acknowledge)
    p.add_argument("--person", required=True, help="机构签字人姓名")
    p.add_argument("--date", required=True, help="签字（或拒绝）日期")
    p.add_argument("--refuse", action="store_true", help="机构拒绝签字")
    p.add_argument("--reason", default="", help="拒绝理由（--refuse 时必填）")

    p = _cmd(sub, "consolidate", "比对小组专家各自的评分，列出分歧", cmd_consolidate)
    p.add_argument("--threshold", type=float_in(0, 1000), default=3.0, help="分差超过多少分列出（0–1000，默认 3）")

    p = _cmd(sub, "review", "省职鉴中心复核：核实否定项、调整分数、通过复核", cmd_review)
    p.add_argument("--veto", action="append", metavar="条款=confirmed|rejected:核实情况")
    p.add_argument("--adjust", action="append", metavar="指标=分值:理由")
    p.add_argument("--approve", action="store_true", help="复核通过")
    p.add_argument("--reopen", metavar="理由", help="对已公告结果重新复核")

    p = _cmd(sub, "approve", "领导审签：书面同意省职鉴中心的复核结论，复核自此生效", cmd_approve)
    p.add_argument("--note", default="", help="审签意见")

    p = _cmd(sub, "publicity", "对已复核的机构开始公示并生成公示名单", cmd_publicity, number=False, late=True)
    p.add_argument("--start", help="公示开始日（默认今天）")
    p.add_argument("--days", type=int, help="公示天数（默认取评估项目参数）")
    p.add_argument("--out", type=out_folder, help="输出目录（默认 outputs/workflow）")
    p.add_argument("--pdf", action="store_true", help="另把公示名单打印为 A4 PDF")

    p = _cmd(sub, "objection", "受理公示期内的异议", cmd_objection, late=True)
    p.add_argument("--applicant", required=True, help="申请人")
    p.add_argument("--date", help="提出日期（默认今天）")
    p.add_argument("--grounds", required=True, help="异议理由")
    p.add_argument("--evidence", required=True, help="实质性依据")

    p = _cmd(sub, "decide", "处理异议：成立（可调整分数）或不成立", cmd_decide)
    p.add_argument("objection", type=int, help="异议编号（见 status）")
    p.add_argument("--decision", required=True, choices=("upheld", "rejected"), help="upheld 成立；rejected 不成立")
    p.add_argument("--note", required=True, help="核实情况")
    p.add_argument("--adjust", action="append", metavar="指标=分值:理由")

    p = _cmd(sub, "letter", "告知申请人：登记异议处理结果告知书的发出日期并生成告知书", cmd_letter, late=True)
    p.add_argument("objection", type=int, help="异议编号（见 status）")
    p.add_argument("--date", help="告知书发出日期（默认今天）")
    p.add_argument("--out", type=out_folder, help="输出目录（默认 outputs/workflow）")
    p.add_argument("--pdf", action="store_true", help="另把告知书打印为 A4 PDF")

    p = _cmd(sub, "collect", "登记信用记录预采集：某类信用信息的采集来源与日期", cmd_collect, number=False, late=True)
    p.add_argument("--type", required=True, help="信用记录类型（方案所列 12 类之一，可用逗号分隔多类）")
    p.add_argument("--source", required=True, help="采集来源")
    p.add_argument("--date", help="采集日期（默认今天）")

    p = _cmd(sub, "announce", "公告最终结果，生成公告名单与共享数据", cmd_announce, number=False, late=True)
    p.add_argument("--date", help="公告日期（默认今天）")
    p.add_argument("--valid-years", type=int, help="结果有效期（年，默认取评估项目参数）")
    p.add_argument("--out", type=out_folder, help="输出目录（默认 outputs/workflow）")


def _programme(args) -> Programme:
    """The programme the command works under."""
    return load_programme(args.programme or PROGRAMME_PATH)


@contextmanager
def _open(args, programme: Programme | None = None) -> Iterator[Workflow]:
    """The workflow over the store, which is closed when the step is done."""
    programme = programme or _programme(args)
    ws = open_workspace(args)
    with open_store(args, ws) as store:
        yield Workflow(ws, store, programme)


def cmd_status(args) -> int:
    with _open(args) as wf:
        states = wf.states()
        keys = keyring.registered(wf.store)
        # an unknown number is refused before the table starts, so the error stays one line
        numbers = [wf.ws.institution(args.institution).number] if args.institution is not None else list(states)
        print(f"{'序号':>4}  {'阶段':<6} {'评估日期':<10}  签字  异议  机构")
        for n in numbers:
            st = states[n]
            digest = wf.sheet_digest(n)
            forged = {e: wf.signature_problems(s.event, keys) for e, s in st.signatures.items()}
            valid = [e for e in st.valid_signatures(digest) if not forged[e]]
            signed = f"{len(valid)}/{len(st.group)}" if st.group else "—"
            objections = f"{len(st.open_objections)}/{len(st.objections)}" if st.objections else "—"
            visit = st.visit.isoformat() if st.visit else "—"
            print(f"{n:>4}  {st.stage:<6} {visit:<10}  {signed:<4}  {objections:<4}  {wf.ws.roster[n].name}")
            if args.institution is not None:
                for e in st.history:
                    print(
                        f"      {local_time(e.created_at)}  {e.payload['from']} → {e.payload['to']}  {e.actor}  {e.note}"
                        + (f"（补录：{e.payload['late']}）" if e.payload.get("late") else "")
                    )
                for o in st.objections:
                    told = f"  {o.letter.isoformat()} 已告知申请人（{o.letter_by}）" if o.letter else ""
                    print(
                        f"      异议 {o.id}：{o.applicant}（{o.date}）{o.grounds}  —  {DECISION_ZH[o.decision]} {o.change}{told}"
                    )
                for expert, problems in forged.items():
                    if problems:
                        print(f"      签名无效：{expert}：{'；'.join(problems)}")
                void = st.void_signatures(digest)
                if void:
                    print(f"      签字已失效（签字后评分有变更）：{'、'.join(void)}")
                ack = st.acknowledgement
                if ack is not None:
                    print(f"      {acknowledgement_text(ack)}")
    return 0


def cmd_schedule(args) -> int:
    programme = _programme(args)
    _limits(("groups", args.groups, "--groups"), ("per_day", args.per_day, "--per-day"))
    window = programme.window.value
    start = _date(args.start, "--start") if args.start else window.start
    end = _date(args.end, "--end") if args.end else window.end
    notified = programme.notification_date.overridden(
        _date(args.notify_on, "--notify-on") if args.notify_on else None, "--notify-on"
    )
    groups = args.groups or programme.groups.value
    fixed = {}
    for item in args.set or []:
        number, _, day = item.partition("=")
        if not number.strip().isdigit():
            raise InputError([Fault("--set", f"“{item}”格式应为 序号=YYYY-MM-DD")])
        fixed[int(number)] = _date(day, "--set")
    try:  # dates the holiday calendar does not cover are refused before the store is opened
        check_known(start, end, notified.value, *fixed.values())
    except PlanError as exc:
        raise InputError([Fault("schedule", str(exc))]) from None
    with _open(args, programme) as wf:
        try:
            visits = plan_visits(
                list(wf.ws.roster),
                start=start,
                end=end,
                groups=groups,
                per_day=args.per_day or programme.per_day.value,
                notify_on=notified.value,
                notice=programme.notice_days.value,
                fixed=fixed,
            )
            wf.record_schedule(visits)
        except PlanError as exc:
            raise InputError([Fault("schedule", str(exc))]) from None
    out = Path(args.out) if args.out else outputs_dir() / "workflow"
    for p in documents.write_schedule(
        out,
        visits,
        wf.ws.roster,
        wf.ws.dataset.mark,
        programme=programme,
        checklist=wf.ws.materials,
        notified=notified,
    ):
        print(display_path(p))
    print(f"已安排 {len(visits)} 家：{visits[0].date} 至 {max(v.date for v in visits)}，{groups} 个小组。")
    return 0


def _done(message: str) -> int:
    print(message)
    return 0


def cmd_stage(args) -> int:
    with _open(args) as wf:
        wf.move(args.number, args.to, note=args.note)
    return _done(f"机构 {args.number} 已进入“{args.to}”阶段。")


def cmd_group(args) -> int:
    with _open(args) as wf:
        wf.set_group(args.number, args.experts.replace("，", ",").split(","))
    return _done(f"机构 {args.number} 评估小组已登记：{args.experts}")


def cmd_commitment(args) -> int:
    when = _act_date(args.date, args.late, "《信用承诺书》签署", "--date")
    with _open(args) as wf:
        wf.commitment(args.number, when.date, late=when.late)
    return _done(f"机构 {args.number} 的《信用承诺书》已登记（{when.shown}）。")


def cmd_sign(args) -> int:
    with _open(args) as wf:
        person = wf.actor("expert", act="在评分表上签字")
        key = load_signing_key(person.login)
        event = wf.sign(args.number, key)
    demo = f"，{DEMO_MARK}" if key is None else ""
    return _done(
        f"{event.actor} 已签名（Ed25519 密钥 {event.payload['key'][:16]}{demo}），评分表摘要 "
        f"{event.payload['digest'][:16]}…（评分再有变更，签字即失效）"
    )


def cmd_acknowledge(args) -> int:
    if args.refuse and not args.reason.strip():
        raise InputError([Fault("--reason", "机构拒绝签字时须写明理由")])
    if args.reason and not args.refuse:
        raise InputError([Fault("--reason", "只有拒绝签字（--refuse）时才填写理由")])
    date = _date(args.date, "--date")
    with _open(args) as wf:
        wf.acknowledge(args.number, person=args.person, date=date, refusal=args.refuse, reason=args.reason)
        ack = wf.state(args.number).acknowledgement
    assert ack is not None
    return _done(f"机构 {args.number}：{acknowledgement_text(ack)}")


def cmd_consolidate(args) -> int:
    with _open(args) as wf:
        rows = consolidate(wf.ws, wf.store, args.number, args.threshold)
    print(render_consolidation(rows, args.threshold))
    return 0


def cmd_review(args) -> int:
    with _open(args) as wf:
        if args.reopen:
            wf.reopen(args.number, reason=args.reopen)
        wf.review(
            args.number,
            veto=_pairs(args.veto, "--veto"),
            adjust=_adjustments(args.adjust),
            approve=args.approve,
        )
    done = "，复核通过，待领导审签（rubric-kernel approve）" if args.approve else ""
    return _done(f"机构 {args.number} 复核已记录{done}。")


def cmd_approve(args) -> int:
    with _open(args) as wf:
        event = wf.approve_review(args.number, note=args.note)
    return _done(f"机构 {args.number} 的复核结论已由 {event.actor} 审签，进入“复核”阶段。")


def _results(wf: Workflow, numbers) -> dict[int, dict]:
    """Results of the institutions concerned, computed (and any input fault raised) before anything is recorded."""
    return {n: wf.result(n).as_json() for n in numbers}


def cmd_publicity(args) -> int:
    programme = _programme(args)
    _limits(("publicity_days", args.days, "--days"))
    when = _act_date(args.start, args.late, "公示开始", "--start")
    start = when.date
    days = programme.publicity_days.overridden(args.days, "--days")
    with _open(args, programme) as wf:
        results = _results(wf, [n for n, st in wf.states().items() if st.stage == "复核"])
        moved = wf.open_publicity(start, days.value, late=when.late)
    end = start + dt.timedelta(days=days.value - 1)
    out = Path(args.out) if args.out else outputs_dir() / "workflow"
    for p in documents.write_public_list(
        out,
        f"公示名单-{start.isoformat()}",
        "信用评估结果公示名单",
        wf.ws.roster,
        {n: results[n] for n in moved},
        wf.ws.dataset.mark,
        documents.publicity_note(programme, start, days),
        programme,
        wf.ws.rubric,
    ):
        print(display_path(p))
        if args.pdf and p.suffix == ".html":
            from ..report.pdf import html_to_pdf

            print(display_path(html_to_pdf(p)))
    return _done(f"{len(moved)} 家进入公示，公示期 {start.isoformat()} 至 {end.isoformat()}（{days.shown(' 天')}）。")


def cmd_objection(args) -> int:
    when = _act_date(args.date, args.late, "异议提出", "--date")
    with _open(args) as wf:
        e = wf.add_objection(
            args.number,
            applicant=args.applicant,
            date=when.date,
            grounds=args.grounds,
            evidence=args.evidence,
            late=when.late,
        )
    return _done(f"已受理机构 {args.number} 的异议，编号 {e.id}。")


def cmd_decide(args) -> int:
    with _open(args) as wf:
        wf.decide_objection(
            args.number,
            args.objection,
            decision=args.decision,
            note=args.note,
            adjust=_adjustments(args.adjust),
        )
    return _done(f"异议 {args.objection} 已处理：{'成立' if args.decision == 'upheld' else '不成立'}。")


def cmd_letter(args) -> int:
    when = _act_date(args.date, args.late, "告知书发出", "--date")
    with _open(args) as wf:
        wf.send_letter(args.number, args.objection, when)
        objection = next(o for o in wf.state(args.number).objections if o.id == args.objection)
        institution = wf.ws.institution(args.number)
    out = Path(args.out) if args.out else outputs_dir() / "workflow"
    for p in documents.write_decision_letter(out, institution, objection, wf.programme, wf.ws.dataset.mark):
        print(display_path(p))
        if args.pdf:
            from ..report.pdf import html_to_pdf

            print(display_path(html_to_pdf(p)))
    return _done(f"异议 {args.objection} 的处理结果已告知申请人 {objection.applicant}（{when.shown}）。")


def cmd_collect(args) -> int:
    when = _act_date(args.date, args.late, "预采集", "--date")
    types = [t.strip() for t in args.type.replace("，", ",").split(",") if t.strip()]
    with _open(args) as wf:
        for type_ in types:  # every type is checked before the first is recorded
            wf.check_collection(type_, args.source)
        for type_ in types:
            wf.collect(type_, args.source, when)
        missing = [t for t in collection.record_types() if t not in wf.collected()]
    print(f"已登记预采集：{'、'.join(types)}，来源 {args.source.strip()}（{when.shown}）。")
    return _done(f"尚未登记采集的类型：{'、'.join(missing)}" if missing else "方案所列 12 类信用信息均已登记采集。")


def cmd_announce(args) -> int:
    programme = _programme(args)
    _limits(("validity_years", args.valid_years, "--valid-years"))
    when = _act_date(args.date, args.late, "公告", "--date")
    day = when.date
    years = programme.validity_years.overridden(args.valid_years, "--valid-years")
    with _open(args, programme) as wf:
        before = wf.states()
        candidates = [n for n, st in before.items() if st.stage in ("公示", "异议处理", "公告")]
        results = _results(wf, candidates)
        done, held = wf.announce(day, valid_years=years.value, late=when.late)
        states = {n: st for n, st in wf.states().items() if st.stage == "公告" and st.announced}
        announced = {n: st.announced for n, st in states.items()}
    out = Path(args.out) if args.out else outputs_dir() / "workflow"
    mark = wf.ws.dataset.mark
    paths = documents.write_public_list(
        out,
        f"公告名单-{day.isoformat()}",
        "信用评估结果公告",
        wf.ws.roster,
        {n: results[n] for n in done},
        mark,
        documents.announcement_note(programme, day, years),
        programme,
        wf.ws.rubric,
    )
    records = documents.sharing_records(  # every announced institution, not only today's
        wf.ws.roster,
        {n: results[n] for n in announced},
        as_of=wf.ws.dataset.as_of,
        announced=announced,
        valid_years={n: st.valid_years for n, st in states.items()},  # each as recorded when announced
        synthetic=wf.ws.dataset.synthetic,
    )
    paths += documents.write_sharing(out, records)
    for p in paths:
        print(display_path(p))
    for reason in held:
        print(f"暂不公告：{reason}")
    return _done(f"已公告 {len(done)} 家{f'，{len(held)} 项原因使部分机构暂不公告' if held else ''}。")
