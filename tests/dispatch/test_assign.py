"""Dispatch end to end: request after commit, assignment in a real RQ worker, SMS, retries."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from sqlalchemy import func, select, update

from hotline.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Channel
from hotline.cases.service import open_case
from hotline.dispatch.models import Callback, CallbackStatus
from hotline.dispatch.policy import CALLBACK_WORKING_HOURS, ChoiceLevel
from hotline.dispatch.service import request_dispatch
from hotline.emulator import EmulatorServer, emulator_state
from hotline.emulator.segments import count_segments
from hotline.jobs import dispatch_callback_job
from hotline.residents.models import Resident
from hotline.services import Services
from hotline.staff.models import Staff
from hotline.telephony.models import Message
from hotline.workdays import add_working_hours, format_local

RESIDENT = "杨子涵"  # lives in 段家埠社区第二网格, whose two social workers are off duty
RESIDENT_PHONE = "+8613800138002"
FULL_NUMBER = re.compile(r"1[3-9]\d{9}")


def open_callback_case(services: Services, resident_name: str = RESIDENT) -> tuple[int, int]:
    """Open a demo resident's callback case and request dispatch; (case id, callback id)."""
    with services.db.session() as session:
        resident = session.scalars(select(Resident).where(Resident.name == resident_name)).one()
        case = open_case(
            session,
            kind=CaseKind.CALLBACK,
            channel=Channel.VOICE,
            resident=resident,
            contact_phone=resident.phone,
            region=resident.region,
            topic="高龄津贴",
        )
        callback = request_dispatch(session, services, case, resident.phone)
        return case.id, callback.id


def work(services: Services, *queues: str) -> None:
    """Run the queued jobs of `queues` in a real burst worker."""
    SimpleWorker(list(queues), connection=services.redis).work(burst=True)


def finished(services: Services, job_id: str) -> bool:
    return Job.fetch(job_id, connection=services.redis).get_status() == JobStatus.FINISHED


def event_kinds(services: Services, case_id: int) -> list[str]:
    with services.db.session() as session:
        return list(
            session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


def test_dispatch_job_is_enqueued_only_after_commit(services: Services) -> None:
    queue = Queue("dispatch", connection=services.redis)
    session = services.db.session_factory()
    try:
        resident = session.scalars(select(Resident).where(Resident.name == RESIDENT)).one()
        case = open_case(
            session,
            kind=CaseKind.CALLBACK,
            channel=Channel.SMS,
            resident=resident,
            contact_phone=None,
            region=resident.region,
        )
        callback = request_dispatch(session, services, case, "138 0013 8002")
        assert queue.count == 0

        session.commit()
    finally:
        session.close()

    assert queue.job_ids == [f"dispatch-callback-{callback.id}"]
    job = queue.jobs[0]
    assert job.func_name == "hotline.jobs.dispatch_callback_job"
    assert job.args == (callback.id,)
    with services.db.session() as session:
        stored = session.get(Case, case.id)
        assert stored is not None
        assert stored.status == CaseStatus.DISPATCHING
        assert stored.contact_phone == RESIDENT_PHONE
        assert session.get(Callback, callback.id).status == CallbackStatus.PENDING
    assert event_kinds(services, case.id) == ["created", "dispatch_requested"]


def test_rollback_queues_nothing(services: Services) -> None:
    with pytest.raises(RuntimeError), services.db.session() as session:
        resident = session.scalars(select(Resident).where(Resident.name == RESIDENT)).one()
        case = open_case(
            session,
            kind=CaseKind.CALLBACK,
            channel=Channel.VOICE,
            resident=resident,
            contact_phone=resident.phone,
            region=resident.region,
        )
        request_dispatch(session, services, case, resident.phone)
        raise RuntimeError("the turn failed after the dispatch request")

    assert Queue("dispatch", connection=services.redis).count == 0
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 0

    # A later transaction on a fresh session must not inherit the dropped enqueue either.
    with services.db.session() as session:
        session.execute(update(Staff).where(Staff.id == -1).values(on_duty=True))
    assert Queue("dispatch", connection=services.redis).count == 0


def test_request_dispatch_twice_returns_the_same_callback(services: Services) -> None:
    case_id, callback_id = open_callback_case(services)

    with services.db.session() as session:
        case = session.get(Case, case_id)
        assert case is not None
        again = request_dispatch(session, services, case, RESIDENT_PHONE)

    assert again.id == callback_id
    assert Queue("dispatch", connection=services.redis).count == 1
    assert event_kinds(services, case_id).count("dispatch_requested") == 1


def test_assignment_falls_back_and_texts_the_assignee(services: Services) -> None:
    case_id, callback_id = open_callback_case(services)

    work(services, "dispatch")

    with services.db.session() as session:
        callback = session.get(Callback, callback_id)
        case = session.get(Case, case_id)
        assert callback is not None and case is not None
        assignee = callback.staff
        assert assignee is not None
        assert assignee.name == "王建国"  # grid 2 is off duty: same community, lowest id
        assert callback.status == CallbackStatus.ASSIGNED
        assert callback.attempts == 1
        assert callback.reason.startswith("本网格无在岗社工")
        assert case.assignee_id == assignee.id
        assert case.status == CaseStatus.ASSIGNED
        assert callback.assigned_at is not None
        assert case.due_at == add_working_hours(
            callback.assigned_at, CALLBACK_WORKING_HOURS, services.settings.timezone
        )

        assigned = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "assigned")
        ).one()
        assert assigned.data["level"] == ChoiceLevel.COMMUNITY_WORKER.value
        assert assigned.data["staff_id"] == assignee.id
        assert assigned.note == callback.reason

        message = session.scalars(select(Message).where(Message.case_id == case_id)).one()
        assert message.to_number == assignee.phone
        assert message.staff_id == assignee.id
        assert message.purpose == "assignment"
        assert message.status == "queued"
        assert message.sid is None

    assert event_kinds(services, case_id) == [
        "created",
        "dispatch_requested",
        "assigned",
        "notified",
    ]
    outbound = Queue("outbound", connection=services.redis)
    assert outbound.job_ids == [f"send-message-{message.id}"]
    assert outbound.jobs[0].retries_left == 3
    assert finished(services, f"dispatch-callback-{callback_id}")


def test_assignment_sms_shows_the_masked_phone_and_no_full_number(services: Services) -> None:
    case_id, _ = open_callback_case(services)

    work(services, "dispatch")

    with services.db.session() as session:
        case = session.get(Case, case_id)
        message = session.scalars(select(Message).where(Message.case_id == case_id)).one()
        assert case is not None and case.number and case.due_at
        due_text = format_local(case.due_at, services.settings.timezone)

    body = message.body
    chinese, english = body.split("\n")
    assert chinese.startswith("【崂山社区服务】")
    assert case.number in chinese and case.number in english
    assert "138****8002" in chinese and "138****8002" in english
    assert "高龄津贴" in chinese
    assert due_text in chinese
    assert english.isascii()
    assert FULL_NUMBER.search(body) is None
    assert "13800138002" not in body
    assert len(body) <= 134
    assert count_segments(body) <= 2


def test_retried_dispatch_job_sends_one_sms(
    services: Services, emulator: EmulatorServer, run_jobs: Callable[[], int]
) -> None:
    case_id, callback_id = open_callback_case(services)
    run_jobs()

    # RQ may deliver a job again (a retry, a worker lost mid-job): run it twice more.
    services.enqueue("dispatch", dispatch_callback_job, callback_id, job_id="redelivered-1")
    services.enqueue("dispatch", dispatch_callback_job, callback_id, job_id="redelivered-2")
    run_jobs()
    assert finished(services, "redelivered-1") and finished(services, "redelivered-2")

    with services.db.session() as session:
        messages = session.scalars(select(Message).where(Message.case_id == case_id)).all()
        callback = session.get(Callback, callback_id)
        assert callback is not None and callback.staff is not None
        staff_phone = callback.staff.phone

    assert len(messages) == 1
    assert messages[0].sid is not None
    sent = emulator_state(emulator.app).store.list_messages(lambda record: True)
    assert [(item["to"], item["sid"]) for item in sent] == [(staff_phone, messages[0].sid)]
    assert event_kinds(services, case_id).count("assigned") == 1
    assert event_kinds(services, case_id).count("sms_sent") == 1


def test_nobody_to_assign_fails_the_callback_and_logs_an_error(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    with services.db.session() as session:
        session.execute(update(Staff).values(active=False))
    case_id, callback_id = open_callback_case(services)
    caplog.set_level(logging.INFO)

    work(services, "dispatch")

    with services.db.session() as session:
        callback = session.get(Callback, callback_id)
        case = session.get(Case, case_id)
        assert callback is not None and case is not None
        assert callback.status == CallbackStatus.FAILED
        assert callback.staff_id is None
        assert case.status == CaseStatus.DISPATCHING
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert event_kinds(services, case_id)[-1] == "dispatch_failed"

    errors = [r for r in caplog.records if r.name == "hotline.dispatch.service"]
    assert [r.levelno for r in errors] == [logging.ERROR]
    assert f"case={case.number}" in errors[0].getMessage()
    assert "job=dispatch-callback-" in errors[0].getMessage()
    assert Queue("outbound", connection=services.redis).count == 0


def test_log_lines_carry_case_and_job_and_no_full_phone_number(
    services: Services, run_jobs: Callable[[], int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    case_id, _ = open_callback_case(services)
    with services.db.session() as session:
        case_number = session.get(Case, case_id).number

    run_jobs()

    ours = [
        record
        for record in caplog.records
        if record.name in {"hotline.dispatch.service", "hotline.jobs", "hotline.telephony.outbound"}
    ]
    assert len(ours) >= 6
    for record in ours:
        text = record.getMessage()
        assert f"case={case_number}" in text, text
        assert "job=" in text, text
    job_lines = [r.getMessage() for r in ours if r.name != "hotline.dispatch.service"]
    assert any("job=dispatch-callback-" in line for line in job_lines)
    assert any("job=send-message-" in line for line in job_lines)
    for record in caplog.records:
        assert FULL_NUMBER.search(record.getMessage()) is None, record.getMessage()
