"""Who calls a resident back: the dispatch policy along the region hierarchy.

Grid social workers first, then the community's, then the supervisors of the community,
the street and the district; every choice carries its reason in Chinese and English.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from hotline.cases.models import Case, CaseStatus
from hotline.regions.models import Region, RegionLevel
from hotline.regions.service import find_district
from hotline.staff.models import Staff, StaffRole

# Working hours a callback is due in, counted from its assignment.
CALLBACK_WORKING_HOURS = 4

# A case counts towards a staff member's load from assignment until it is closed.
OPEN_STATUSES = (CaseStatus.ASSIGNED, CaseStatus.ACCEPTED)


class ChoiceLevel(StrEnum):
    """The step of the policy that produced a choice, recorded in the `assigned` event."""

    GRID_WORKER = "grid_worker"
    COMMUNITY_WORKER = "community_worker"
    COMMUNITY_SUPERVISOR = "community_supervisor"
    STREET_SUPERVISOR = "street_supervisor"
    DISTRICT_SUPERVISOR = "district_supervisor"


@dataclass(frozen=True)
class Choice:
    """The chosen staff member, why (Chinese, then English), and the policy step."""

    staff: Staff
    reason_zh: str
    reason_en: str
    level: ChoiceLevel

    @property
    def reason(self) -> str:
        """Both reasons in one line, Chinese first: what the case timeline shows."""
        return f"{self.reason_zh} / {self.reason_en}"


@dataclass(frozen=True)
class _Step:
    level: ChoiceLevel
    region: Region
    why_zh: str
    why_en: str


def choose_assignee(session: Session, region: Region | None) -> Choice | None:
    """Choose who calls back a resident of `region` (grid, community, street, district, None).

    Social workers must be active and on duty; among them the one with the fewest open
    cases (assigned or accepted to them) wins, then the lowest id. Supervisors on duty
    are preferred, else any active one. Steps: the grid's workers, the community's
    workers (any grid), the community supervisor, the street supervisor, the district
    supervisor; a region higher up starts at its own level. Returns None when nobody
    can take the case. Reads only and logs nothing: the caller logs the choice with its
    case number. Raises nothing of its own.
    """
    for step in _steps(session, region):
        if step.level in (ChoiceLevel.GRID_WORKER, ChoiceLevel.COMMUNITY_WORKER):
            choice = _social_worker(session, step)
        else:
            choice = _supervisor(session, step)

        if choice is not None:
            return choice
    return None


def _steps(session: Session, region: Region | None) -> Iterator[_Step]:
    chain = {node.level: node for node in region.ancestors()} if region is not None else {}
    start = region.level if region is not None else None

    grid = chain.get(RegionLevel.GRID)
    community = chain.get(RegionLevel.COMMUNITY)
    street = chain.get(RegionLevel.STREET)
    district = chain.get(RegionLevel.DISTRICT) or find_district(session)

    if grid is not None:
        why_zh, why_en = "网格内在岗社工", "on-duty grid social worker"
        yield _Step(ChoiceLevel.GRID_WORKER, grid, why_zh, why_en)

    if community is not None:
        if start == RegionLevel.GRID:
            why_zh = "本网格无在岗社工，由本社区在岗社工接办"
            why_en = "none on duty in the grid; on-duty social worker of the community"
        else:
            why_zh, why_en = "社区内在岗社工", "on-duty social worker of the community"
        yield _Step(ChoiceLevel.COMMUNITY_WORKER, community, why_zh, why_en)
        yield _Step(
            ChoiceLevel.COMMUNITY_SUPERVISOR,
            community,
            "社区无在岗社工，转社区负责人",
            "no on-duty social worker in the community; passed to the community supervisor",
        )

    if street is not None:
        if start == RegionLevel.STREET:
            why_zh = "街道工单池，由街道负责人接办"
            why_en = "street pool; the street supervisor"
        else:
            why_zh = "社区无人可接，转街道负责人"
            why_en = "nobody available in the community; passed to the street supervisor"
        yield _Step(ChoiceLevel.STREET_SUPERVISOR, street, why_zh, why_en)

    if district is not None:
        if start is None:
            why_zh = "未确定所在社区，转区级负责人"
            why_en = "region unknown; the district supervisor"
        elif start == RegionLevel.DISTRICT:
            why_zh = "区级工单，由区级负责人接办"
            why_en = "district case; the district supervisor"
        else:
            why_zh = "街道无人可接，转区级负责人"
            why_en = "nobody available at the street; passed to the district supervisor"
        yield _Step(ChoiceLevel.DISTRICT_SUPERVISOR, district, why_zh, why_en)


def _ranked(role: StaffRole, region_ids: list[int]) -> Select[tuple[Staff, int]]:
    """Active staff of `role` in the regions, each with their count of open cases."""
    open_cases = func.count(Case.id)
    return (
        select(Staff, open_cases)
        .outerjoin(Case, and_(Case.assignee_id == Staff.id, Case.status.in_(OPEN_STATUSES)))
        .where(Staff.role == role, Staff.active.is_(True), Staff.region_id.in_(region_ids))
        .group_by(Staff.id)
    )


def _social_worker(session: Session, step: _Step) -> Choice | None:
    if step.level == ChoiceLevel.GRID_WORKER:
        region_ids = [step.region.id]
    else:
        region_ids = list(
            session.scalars(
                select(Region.id).where(
                    Region.parent_id == step.region.id, Region.level == RegionLevel.GRID
                )
            )
        )

    ranked = _ranked(StaffRole.SOCIAL_WORKER, region_ids)
    row = session.execute(
        ranked.where(Staff.on_duty.is_(True)).order_by(func.count(Case.id), Staff.id).limit(1)
    ).first()
    if row is None:
        return None

    staff, load = row
    return Choice(
        staff=staff,
        reason_zh=f"{step.why_zh}，在办工单最少（{load}件）",
        reason_en=f"{step.why_en} with the fewest open cases ({load})",
        level=step.level,
    )


def _supervisor(session: Session, step: _Step) -> Choice | None:
    ranked = _ranked(StaffRole.SUPERVISOR, [step.region.id])
    row = session.execute(
        ranked.order_by(Staff.on_duty.desc(), func.count(Case.id), Staff.id).limit(1)
    ).first()
    if row is None:
        return None

    staff, load = row
    duty_zh, duty_en = ("在岗", "on duty") if staff.on_duty else ("均不在岗", "none on duty")
    return Choice(
        staff=staff,
        reason_zh=f"{step.why_zh}（{duty_zh}，在办{load}件）",
        reason_en=f"{step.why_en} ({duty_en}, {load} open)",
        level=step.level,
    )
