"""The review page (rubric_kernel.review_app) on a SQLite store: controls by role, each calling the workflow
service as the logged-in person, and the service's refusal as one Chinese line."""

from __future__ import annotations

import ipywidgets as w
import test_workflow as flow
from test_workflow import CENTRE, EXPERTS, LEADER, PUBLICITY, act, to_initial, to_reviewed

from rubric_kernel.review_app import ReviewPage

# the workflow tests' fixtures: a bootstrapped demo store per test, the acting person restored after each
ws, template, db, store, wf, _actor_restored = (
    flow.ws,
    flow.template,
    flow.db,
    flow.store,
    flow.wf,
    flow._actor_restored,
)


def widgets(root: w.Widget) -> list[w.Widget]:
    out = [root]
    for child in getattr(root, "children", ()):
        out += widgets(child)
    return out


def buttons(page: ReviewPage) -> dict[str, w.Button]:
    return {b.description: b for b in widgets(page.widget) if isinstance(b, w.Button)}


def text_of(page: ReviewPage) -> str:
    return "".join(x.value for x in widgets(page.widget) if isinstance(x, w.HTML))


def test_the_centre_reviews_and_the_leader_approves_on_the_page(ws, store, wf):
    to_initial(wf, 13)
    act(CENTRE)
    page = ReviewPage(ws, store)
    assert "待复核（初评已签字）：1 家" in text_of(page)
    assert "审签同意" not in buttons(page)  # the centre's controls only
    buttons(page)["复核通过，呈报领导审签"].click()
    assert "复核结论已提交，待领导审签" in page.message.value, page.message.value
    assert wf.state(13).review is not None and wf.state(13).review.expert  # recorded, by the login's person
    act(LEADER)
    page = ReviewPage(ws, store)
    assert "复核通过，呈报领导审签" not in buttons(page)
    buttons(page)["审签同意"].click()
    assert wf.state(13).stage == "复核"
    assert "机构 13 复核结果已审签" in page.message.value


def test_an_expert_sees_no_controls_and_the_service_refuses_them(ws, store, wf):
    to_initial(wf, 13)
    act(EXPERTS[0])
    page = ReviewPage(ws, store)
    assert buttons(page) == {}
    assert "只对“省职鉴中心复核”和“领导审签”角色开放" in text_of(page)
    page._act(lambda: page.wf.review(13, veto={}, adjust={}, approve=True), "不应出现")
    assert "需要“省职鉴中心复核”角色" in page.message.value
    assert wf.state(13).review is None


def test_the_centre_decides_an_objection_on_the_page(ws, store, wf):
    to_reviewed(wf, 13)
    act(CENTRE)
    wf.open_publicity(PUBLICITY[0], 7)
    objection = wf.add_objection(13, applicant="赵晓明", date=PUBLICITY[1], grounds="得分有误", evidence="证书复印件")
    page = ReviewPage(ws, store)
    assert "待处理异议：1 件" in text_of(page)
    decide = buttons(page)["处理异议"]
    decide.click()  # no note: refused by the service, nothing written
    assert "异议处理须写明核实情况" in page.message.value
    note = next(x for x in widgets(page.widget) if isinstance(x, w.Text) and x.placeholder == "核实情况（必填）")
    note.value = "经核实理由不成立"
    next(
        x for x in widgets(page.widget) if isinstance(x, w.Dropdown) and x.description == "处理结论"
    ).value = "rejected"
    decide.click()
    assert [o.decision for o in wf.state(13).objections] == ["rejected"]
    assert objection.seq and "待处理异议：0 件" in text_of(page)
