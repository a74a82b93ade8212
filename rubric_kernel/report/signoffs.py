"""The workflow part of a report: stage, expert group and signatures (valid or void), review, objections."""

from __future__ import annotations

from html import escape

from .. import keyring
from ..assessment import Assessment
from ..labels import DECISION_ZH, acknowledgement_text, local_time
from ..sheet_codec import digest
from ..signing import DEMO_MARK, signature_problems, signed_row


def signoffs_html(a: Assessment) -> str:
    st = a.workflow()
    current = digest(a.snapshot().live)
    parts = [
        f'<p class="rk-signoff">当前阶段：<strong>{escape(st.stage)}</strong>'
        + (
            f"；实地评估日期 {st.visit.isoformat()}（第{escape(st.visit_group)}组，通知日 {st.notified.isoformat()}）"
            if st.visit and st.notified
            else ""
        )
        + (f"；《信用承诺书》签署于 {st.commitment.isoformat()}" if st.commitment else "；尚未登记《信用承诺书》")
        + "</p>"
    ]
    if st.group:
        rows = []
        keys = keyring.registered(a.store)
        for expert in st.group:
            sig = st.signatures.get(expert)
            problems = (
                signature_problems(signed_row(sig.event, a.ws.dataset.synthetic), keys)
                if sig is not None and sig.event is not None
                else []
            )
            if sig is None:
                state = "未签字"
            elif problems:
                state = f'<strong class="rk-pending">签名无效</strong>：{escape("；".join(problems))}'
            elif sig.digest == current:
                key = str(sig.event.payload.get("key", "")) if sig.event else ""
                demo = f"，{DEMO_MARK}" if any(k.fingerprint == key and k.demo for k in keys) else ""
                state = (
                    f"已签字（{escape(local_time(sig.at))}，评分表摘要 {sig.digest[:12]}…，"
                    f"Ed25519 密钥 {escape(key[:16])}{demo}，签名有效）"
                )
            else:
                why = (
                    "经复核或异议处理依程序变更，变更及理由见下方修改记录"
                    if st.stage in ("复核", "公示", "异议处理", "公告")
                    else "已变更，须重新签字"
                )
                state = (
                    f'<strong class="rk-pending">签字已失效</strong>：签字（{escape(local_time(sig.at))}）后评分表{why}'
                )
            rows.append(f"<li>{escape(expert)}：{state}</li>")
        parts.append(f"<h3>评估小组签字</h3><ul>{''.join(rows)}</ul>")
    if st.acknowledgement is not None:
        parts.append(f'<p class="rk-signoff">{escape(acknowledgement_text(st.acknowledgement))}</p>')
    elif st.stage in ("现场评估", "初评"):
        parts.append('<p class="rk-signoff">评价机构尚未签字盖章确认现场评估结果</p>')
    if st.history:
        rows = "".join(
            f"<li>{escape(local_time(e.created_at))}　{escape(e.payload['from'])} → "
            f"{escape(e.payload['to'])}　{escape(e.actor)}　{escape(e.note)}</li>"
            for e in st.history
        )
        parts.append(f"<h3>流程记录</h3><ul>{rows}</ul>")
    if st.publicity:
        parts.append(f"<p>公示期：{st.publicity[0].isoformat()} 至 {st.publicity[1].isoformat()}</p>")
    if st.objections:
        rows = "".join(
            f"<li>异议 {o.id}：{escape(o.applicant)}（{o.date.isoformat()}）理由：{escape(o.grounds)}；依据："
            f"{escape(o.evidence)}；结论：{DECISION_ZH[o.decision]}{('，' + escape(o.change)) if o.change else ''}"
            f"{('（' + escape(o.decided_by) + '）') if o.decided_by else ''}</li>"
            for o in st.objections
        )
        parts.append(f"<h3>异议处理</h3><ul>{rows}</ul>")
    if st.announced:
        parts.append(f"<p>结果已于 {st.announced.isoformat()} 公告。</p>")
    return "".join(parts)
