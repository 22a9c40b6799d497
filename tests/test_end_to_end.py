"""End to end: a signed call, played like Twilio, to the social worker's SMS in the emulator."""

from __future__ import annotations

import time

from sqlalchemy import select

from hotline.cases.models import Case, CaseStatus
from hotline.regions.models import Region
from hotline.staff.models import Staff, StaffRole
from hotline.telephony.models import Message

RESIDENT = "+8613800138000"
UNKNOWN = "+8613800000001"


def _assignment_sms(live, case: Case) -> list:
    listed = live.services.twilio.messages.list(to=case.assignee.phone)
    return [message for message in listed if case.number in message.body]


def _wait_for_status(live, sid: str, status: str, seconds: float = 5.0) -> str:
    deadline = time.monotonic() + seconds
    current = ""
    while time.monotonic() < deadline:
        with live.services.db.session() as session:
            current = session.scalars(select(Message.status).where(Message.sid == sid)).one()
        if current == status:
            break
        time.sleep(0.05)
    return current


def test_known_resident_presses_zero_and_their_grid_worker_gets_the_sms(live, run_jobs) -> None:
    transcript = live.player().play_call(RESIDENT, ["0"])

    assert transcript.ok, transcript.render()
    assert "工单号" in transcript.render()
    assert run_jobs() >= 2

    with live.services.db.session() as session:
        case = session.scalars(select(Case)).one()
        grid = session.scalars(select(Region).where(Region.name_zh == "段家埠社区第一网格")).one()
        assert case.status is CaseStatus.ASSIGNED
        assert case.assignee.role is StaffRole.SOCIAL_WORKER
        assert case.assignee.region_id == grid.id
        assert " ".join(case.number) in transcript.render()
        listed = _assignment_sms(live, case)

    assert len(listed) == 1
    assert "138****8000" in listed[0].body and RESIDENT not in listed[0].body
    assert _wait_for_status(live, listed[0].sid, "delivered") == "delivered"


def test_unknown_caller_picks_street_and_community_and_reaches_that_community(
    live, run_jobs
) -> None:
    transcript = live.player().play_call(UNKNOWN, ["0", "3", "1"])

    assert transcript.ok, transcript.render()
    assert "沙子口街道" in transcript.render() and "段家埠社区" in transcript.render()
    run_jobs()

    with live.services.db.session() as session:
        case = session.scalars(select(Case)).one()
        community = session.scalars(select(Region).where(Region.name_zh == "段家埠社区")).one()
        assert case.region_id == community.id
        assert case.assignee.role is StaffRole.SOCIAL_WORKER
        assert case.assignee.region.parent_id == community.id
        assert len(_assignment_sms(live, case)) == 1


def test_unknown_caller_who_hangs_up_after_the_street_lands_in_its_pool(live, run_jobs) -> None:
    transcript = live.player().play_call(UNKNOWN, ["0", "3"])

    assert transcript.ok, transcript.render()
    run_jobs()

    with live.services.db.session() as session:
        case = session.scalars(select(Case)).one()
        street = session.scalars(select(Region).where(Region.name_zh == "沙子口街道")).one()
        supervisor = session.scalars(
            select(Staff).where(Staff.region_id == street.id, Staff.role == StaffRole.SUPERVISOR)
        ).first()
        assert case.region_id == street.id
        assert case.assignee_id == supervisor.id
        assert len(_assignment_sms(live, case)) == 1
