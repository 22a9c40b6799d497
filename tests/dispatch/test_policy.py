"""The dispatch policy on the seeded demo data: least-loaded choice and every fallback step."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotline.cases.models import Case, CaseKind, CaseStatus, Channel
from hotline.dispatch.policy import ChoiceLevel, choose_assignee
from hotline.regions.models import Region
from hotline.services import Services
from hotline.staff.models import Staff, StaffRole

DUANJIABU = "段家埠社区"
DUANJIABU_GRID_1 = "段家埠社区第一网格"
DUANJIABU_GRID_2 = "段家埠社区第二网格"  # both social workers off duty in the demo data


@pytest.fixture
def session(services: Services) -> Iterator[Session]:
    with services.db.session() as session:
        yield session


def region(session: Session, name_zh: str) -> Region:
    return session.scalars(select(Region).where(Region.name_zh == name_zh)).one()


def staff(session: Session, name: str) -> Staff:
    return session.scalars(select(Staff).where(Staff.name == name)).one()


def give_cases(session: Session, assignee: Staff, n: int, status: CaseStatus) -> None:
    for _ in range(n):
        session.add(
            Case(kind=CaseKind.CALLBACK, channel=Channel.VOICE, status=status, assignee=assignee)
        )
    session.flush()


def set_staff(session: Session, names: list[str], **values: bool) -> None:
    session.execute(update(Staff).where(Staff.name.in_(names)).values(**values))
    session.expire_all()


def test_grid_worker_with_no_open_cases_and_lowest_id(session: Session) -> None:
    choice = choose_assignee(session, region(session, DUANJIABU_GRID_1))

    assert choice is not None
    assert choice.staff.name == "王建国"
    assert choice.level == ChoiceLevel.GRID_WORKER
    assert choice.reason_zh == "网格内在岗社工，在办工单最少（0件）"
    assert choice.reason_en == "on-duty grid social worker with the fewest open cases (0)"
    assert choice.reason == f"{choice.reason_zh} / {choice.reason_en}"


def test_least_loaded_grid_worker_wins(session: Session) -> None:
    give_cases(session, staff(session, "王建国"), 2, CaseStatus.ASSIGNED)
    give_cases(session, staff(session, "李晓东"), 1, CaseStatus.ACCEPTED)

    choice = choose_assignee(session, region(session, DUANJIABU_GRID_1))

    assert choice is not None
    assert choice.staff.name == "李晓东"
    assert "（1件）" in choice.reason_zh
    assert "(1)" in choice.reason_en


def test_closed_and_dispatching_cases_do_not_count_as_load(session: Session) -> None:
    give_cases(session, staff(session, "王建国"), 3, CaseStatus.CLOSED)
    give_cases(session, staff(session, "王建国"), 1, CaseStatus.DISPATCHING)
    give_cases(session, staff(session, "李晓东"), 1, CaseStatus.ASSIGNED)

    choice = choose_assignee(session, region(session, DUANJIABU_GRID_1))

    assert choice is not None
    assert choice.staff.name == "王建国"


def test_inactive_worker_is_never_chosen(session: Session) -> None:
    set_staff(session, ["王建国"], active=False)

    choice = choose_assignee(session, region(session, DUANJIABU_GRID_1))

    assert choice is not None
    assert choice.staff.name == "李晓东"


def test_grid_without_on_duty_workers_falls_back_to_the_community(session: Session) -> None:
    give_cases(session, staff(session, "王建国"), 1, CaseStatus.ASSIGNED)

    choice = choose_assignee(session, region(session, DUANJIABU_GRID_2))

    assert choice is not None
    assert choice.staff.name == "李晓东"  # grid 1 of the same community, fewer open cases
    assert choice.staff.region.name_zh == DUANJIABU_GRID_1
    assert choice.level == ChoiceLevel.COMMUNITY_WORKER
    assert choice.reason_zh.startswith("本网格无在岗社工")
    assert "none on duty in the grid" in choice.reason_en


def test_then_the_community_supervisor(session: Session) -> None:
    set_staff(session, ["王建国", "李晓东"], on_duty=False)

    choice = choose_assignee(session, region(session, DUANJIABU_GRID_2))

    assert choice is not None
    assert choice.staff.name == "夏立新"
    assert choice.staff.role == StaffRole.SUPERVISOR
    assert choice.level == ChoiceLevel.COMMUNITY_SUPERVISOR
    assert "社区负责人" in choice.reason_zh
    assert "community supervisor" in choice.reason_en


def test_then_the_street_then_the_district_supervisor(session: Session) -> None:
    grid = region(session, DUANJIABU_GRID_2)
    set_staff(session, ["王建国", "李晓东"], on_duty=False)
    set_staff(session, ["夏立新"], active=False)

    street_choice = choose_assignee(session, grid)
    set_staff(session, ["杜海燕"], active=False)
    district_choice = choose_assignee(session, grid)
    set_staff(session, ["许宝珍"], active=False)
    nobody = choose_assignee(session, grid)

    assert street_choice is not None
    assert (street_choice.staff.name, street_choice.level) == (
        "杜海燕",
        ChoiceLevel.STREET_SUPERVISOR,
    )
    assert district_choice is not None
    assert (district_choice.staff.name, district_choice.level) == (
        "许宝珍",
        ChoiceLevel.DISTRICT_SUPERVISOR,
    )
    assert nobody is None


def test_supervisor_on_duty_is_preferred_else_any_active_one(session: Session) -> None:
    community = region(session, DUANJIABU)
    set_staff(session, ["王建国", "李晓东"], on_duty=False)
    session.add(
        Staff(
            name="副主任",
            phone="+8613700009999",
            role=StaffRole.SUPERVISOR,
            region=community,
            on_duty=True,
        )
    )
    set_staff(session, ["夏立新"], on_duty=False)

    on_duty = choose_assignee(session, community)
    set_staff(session, ["副主任"], on_duty=False)
    off_duty = choose_assignee(session, community)

    assert on_duty is not None and on_duty.staff.name == "副主任"
    assert "（在岗" in on_duty.reason_zh
    assert off_duty is not None and off_duty.staff.name == "夏立新"  # lower id, none on duty
    assert "均不在岗" in off_duty.reason_zh
    assert "none on duty" in off_duty.reason_en


def test_community_region_starts_with_the_community_workers(session: Session) -> None:
    choice = choose_assignee(session, region(session, DUANJIABU))

    assert choice is not None
    assert choice.staff.name == "王建国"
    assert choice.level == ChoiceLevel.COMMUNITY_WORKER
    assert choice.reason_zh.startswith("社区内在岗社工")


def test_street_pool_goes_to_the_street_supervisor(session: Session) -> None:
    choice = choose_assignee(session, region(session, "沙子口街道"))

    assert choice is not None
    assert choice.staff.name == "杜海燕"
    assert choice.level == ChoiceLevel.STREET_SUPERVISOR
    assert "street pool" in choice.reason_en


def test_unknown_region_and_district_go_to_the_district_supervisor(session: Session) -> None:
    unknown = choose_assignee(session, None)
    district = choose_assignee(session, region(session, "崂山区"))

    assert unknown is not None and unknown.staff.name == "许宝珍"
    assert unknown.level == ChoiceLevel.DISTRICT_SUPERVISOR
    assert "region unknown" in unknown.reason_en
    assert district is not None and district.staff.name == "许宝珍"


def test_nobody_at_all_gives_none(session: Session) -> None:
    session.execute(update(Staff).values(active=False))

    assert choose_assignee(session, region(session, DUANJIABU_GRID_1)) is None
    assert choose_assignee(session, None) is None
