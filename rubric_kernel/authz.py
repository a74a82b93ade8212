"""Who may do what: the programme's roles and the checks every workflow step and every save makes.

Pure: a person (as the registry knows them), the institution's derived workflow state and the act
are the only inputs. Each refusal is one Chinese line naming the role the act needs, so the caller
can refuse before anything is written. The database repeats the essential checks on PostgreSQL
(``pg_setup``); these are the application's half, and the only half on a local SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .labels import key_label, local_time
from .rubric import Rubric
from .sheet_codec import parse_key
from .workflow.state import WorkflowState

ROLES = {
    "expert": "评估专家",
    "organiser": "第三方评估机构",
    "centre": "省职鉴中心复核",
    "leader": "领导审签",
    "admin": "管理员",
}
OPEN_STAGES = ("待评估", "现场评估")  # the experts' sheet is still theirs to change
EXPERT_KINDS = ("indicator", "dismiss", "bonus", "opinion")  # keys an expert's save may carry (and a raised veto)


@dataclass(frozen=True)
class Person:
    """A registered person of one programme (dataset): their stable login, name, roles and institutions."""

    login: str
    name: str
    roles: frozenset[str] = frozenset()
    institutions: Mapping[int, str] = field(default_factory=dict)  # institution -> group
    demo: bool = False

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def shown(self) -> str:
        return f"{self.name}（{self.login}）"


def revoked_message(login: str, at: str, by: str) -> str:
    """What a revoked person is told on their next act, instead of a bare permission error."""
    return f"您的账号（{login}）已被撤销（于 {local_time(at)} 由 {by}），不能再保存或办理任何操作；如有疑问请联系管理员"


def role_problem(person: Person, *roles: str, act: str) -> str | None:
    """None if the person holds one of the roles, else the line naming the role the act needs."""
    if any(person.has(r) for r in roles):
        return None
    needed = "或".join(f"“{ROLES[r]}”" for r in roles)
    return f"{person.shown} 无权{act}：需要{needed}角色"


def edit_stage(st: WorkflowState) -> str:
    """The stage a change to the sheet is recorded at, derived from the event log (never passed in)."""
    if st.stage in OPEN_STAGES:
        return st.stage
    return "复核" if st.stage in ("初评", "复核") else "异议处理"


def save_problem(
    person: Person, st: WorkflowState, institution: int, changes: Mapping[str, dict | None], rubric: Rubric
) -> str | None:
    """Why this person may not write these keys of the institution's group sheet now (None: they may).

    An expert writes only sheets of institutions assigned to them, only before the group signs, and
    never a veto decision or an adjustment: those are the centre's. The centre changes a sheet only
    once it is signed (its review, an objection decision); the organiser never judges.
    """
    if person.has("expert") and st.stage in OPEN_STAGES:
        if institution not in person.institutions:
            return f"{person.shown} 不是机构 {institution} 评估小组的成员，不能保存其评分表（需要分配到该机构的“评估专家”）"
        centre_keys = sorted(key_label(rubric, k) for k, v in changes.items() if not expert_key(rubric, k, v))
        if centre_keys:
            return (
                f"{person.shown} 不能保存 {'、'.join(centre_keys)}：评估专家只能提出否定项，"
                "确认、驳回否定项和调整分数需要“省职鉴中心复核”角色"
            )
        return None
    if person.has("centre") and st.stage not in OPEN_STAGES:
        return None
    if st.stage in OPEN_STAGES:
        return f"{person.shown} 无权保存机构 {institution} 的评分：需要分配到该机构的“评估专家”角色"
    return f"机构 {institution} 的评分表已签字（当前阶段“{st.stage}”），只有“省职鉴中心复核”角色可以修改"


def own_sheet_problem(person: Person, institution: int, sheet: str) -> str | None:
    """An expert's independent sheet (``expert:NAME``) is written by that expert alone."""
    if not person.has("expert") or institution not in person.institutions:
        return f"{person.shown} 无权保存机构 {institution} 的独立评分：需要分配到该机构的“评估专家”角色"
    if sheet != f"expert:{person.name}":
        return f"{person.shown} 只能保存本人的独立评分，不能保存 {sheet.partition(':')[2]} 的"
    return None


def expert_key(rubric: Rubric, key: str, content: dict | None) -> bool:
    """Keys an expert owns (their save, their judgments file): judgments, dismissals, bonus items, the
    group's opinion, and vetoes only raised; veto decisions and adjustments are the centre's."""
    parsed = parse_key(rubric, key)
    kind = parsed.kind if parsed else ""
    if kind in EXPERT_KINDS:
        return True
    return kind == "veto" and (content is None or content.get("status") == "raised")


def signer_problem(person: Person, st: WorkflowState, institution: int) -> str | None:
    """A signature on the group sheet is the acting expert's own, and only a group member's."""
    problem = role_problem(person, "expert", act="在评分表上签字")
    if problem:
        return problem
    if person.name not in st.group:
        return f"{person.shown} 不是机构 {institution} 评估小组成员（{'、'.join(st.group) or '尚未登记'}），不能签字"
    return None


def names_problem(names: Iterable[str], experts: Mapping[str, Person]) -> str | None:
    """Every member of a group must be a registered 评估专家 (by name or login)."""
    unknown = [n for n in names if n not in experts]
    if unknown:
        return f"{'、'.join(unknown)} 不是已登记的“评估专家”（请由管理员先运行 rubric-kernel people add）"
    return None
