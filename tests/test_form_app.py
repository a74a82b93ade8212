"""The form as a Voilà page, without a browser: who is picked, from the URL or the roster."""

from __future__ import annotations

import pytest
from test_form import a, db, seeded_db  # noqa: F401  (fixtures)

from rubric_kernel.form import AssessmentForm
from rubric_kernel.form_app import build_app, for_institution, in_voila, requested_institution


def test_voila_is_recognised_from_the_kernel_environment():
    assert in_voila({"SERVER_SOFTWARE": "voila/0.5.13"})
    assert not in_voila({"SERVER_SOFTWARE": "TornadoServer/6"})
    assert not in_voila({})


@pytest.mark.parametrize(
    ("query", "expected"), [("institution=7", "7"), ("x=1&institution=%2013", "13"), ("", ""), ("x=1", "")]
)
def test_the_institution_comes_from_the_query_string(query, expected):
    assert requested_institution({"QUERY_STRING": query}) == expected


def _form(app) -> AssessmentForm | None:
    body = app.children[2]
    return body.children[0] if body.children else None


def test_the_url_opens_that_institutions_form(a):  # noqa: F811
    app = build_app(a, "7")
    form = _form(app)
    assert form is not None and app.children[0].value == 7
    assert "rk-form" in form._dom_classes and "<b>7 " in form.children[1].children[0].value


def test_without_the_url_the_expert_picks_from_the_roster(a):  # noqa: F811
    app = build_app(a)
    picker = app.children[0]
    assert _form(app) is None and "名单中选择" in app.children[1].value
    assert len(picker.options) == len(a.ws.roster) + 1
    picker.value = 21
    assert "<b>21 " in _form(app).children[1].children[0].value
    picker.value = 0
    assert _form(app) is None


def test_an_unknown_institution_in_the_url_says_so(a):  # noqa: F811
    app = build_app(a, "999")
    assert _form(app) is None and "999" in app.children[1].value and "名单" in app.children[1].value


def test_another_institution_shares_the_session_and_saves_to_the_same_store(a, monkeypatch):  # noqa: F811
    monkeypatch.setenv("RUBRIC_KERNEL_ACTOR", "demo_expert_21")  # a registered expert of 21's group
    other = for_institution(a, 21)
    assert other.store is a.store and other.ws is a.ws and other.expert == a.expert
    assert other.institution.number == 21 and other.snapshot().sheet(other.ws.rubric) is not None
    form = AssessmentForm(other)
    ind = next(c for c in form.indicators.values() if c.ind.needs_judgment)
    ind.evidence.value = "档案 V-1"
    assert form.save()
    assert a.store.history(a.dataset, 21, ind.ind.urn)[-1].content["evidence"] == "档案 V-1"
