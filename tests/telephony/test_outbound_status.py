"""Outbound SMS through the Twilio emulator, errors and retries, and status callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Response, request
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.cases.models import Case, CaseEvent, CaseKind, Channel
from hotline.cases.service import open_case
from hotline.emulator import EmulatorServer, create_emulator_app, emulator_state
from hotline.emulator.segments import count_segments
from hotline.jobs import send_message_job
from hotline.services import Services
from hotline.staff.models import Staff
from hotline.telephony.client import make_twilio_client
from hotline.telephony.models import Direction, Message, StatusCallback
from hotline.telephony.outbound import queue_sms
from hotline.telephony.status import record_status
from tests.conftest import LiveHotline

STAFF_PHONE = "+8613900000001"  # 王建国 in the demo data
BODY = "【崂山社区服务】测试短信，请忽略。\nTest message, please ignore."


def work(services: Services) -> None:
    SimpleWorker(["outbound"], connection=services.redis).work(burst=True)


def job_status(services: Services, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=services.redis).get_status()


def new_case(session: Session) -> Case:
    return open_case(
        session,
        kind=CaseKind.CALLBACK,
        channel=Channel.VOICE,
        resident=None,
        contact_phone=None,
        region=None,
    )


def queue_test_sms(services: Services, to: str = STAFF_PHONE) -> tuple[int, int]:
    """Queue one SMS with a case and commit; (message id, case id)."""
    with services.db.session() as session:
        case = new_case(session)
        staff = session.scalars(select(Staff).where(Staff.phone == STAFF_PHONE)).one()
        message = queue_sms(
            session, services, to=to, body=BODY, purpose="test", case=case, staff=staff
        )
        return message.id, case.id


def stored_message(services: Services, message_id: int) -> Message:
    with services.db.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message


def event_kinds(services: Services, case_id: int) -> list[str]:
    with services.db.session() as session:
        return list(
            session.scalars(
                select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
            )
        )


@contextmanager
def twilio_at(services: Services, base_url: str) -> Iterator[None]:
    """Point the process's twilio client at `base_url` for the duration of the block."""
    settings = services.settings
    client = make_twilio_client(
        settings.twilio_account_sid, settings.twilio_auth_token, base_url, timeout=5
    )
    previous = services.__dict__.get("twilio")
    services.__dict__["twilio"] = client
    try:
        yield
    finally:
        client.http_client.session.close()
        if previous is None:
            services.__dict__.pop("twilio")
        else:
            services.__dict__["twilio"] = previous


@contextmanager
def refusing_twilio(services: Services, status: int, code: int) -> Iterator[None]:
    """An emulator that answers every message creation with `status` and Twilio error `code`."""
    settings = services.settings
    app = create_emulator_app(settings.twilio_account_sid, settings.twilio_auth_token)

    @app.before_request
    def refuse() -> tuple[dict[str, object], int] | None:
        if request.method == "POST" and request.path.endswith("/Messages.json"):
            return {
                "code": code,
                "message": "refused",
                "more_info": "",
                "status": status,
            }, status
        return None

    with EmulatorServer(settings.twilio_account_sid, settings.twilio_auth_token, app=app) as server:
        with twilio_at(services, server.base_url):
            yield


# queue_sms


def test_send_job_is_enqueued_only_after_commit_with_retry(services: Services) -> None:
    queue = Queue("outbound", connection=services.redis)
    session = services.db.session_factory()
    try:
        message = queue_sms(session, services, to="139 0000 0001", body=BODY, purpose="test")
        assert queue.count == 0
        session.commit()
    finally:
        session.close()

    assert queue.job_ids == [f"send-message-{message.id}"]
    job = queue.jobs[0]
    assert job.func_name == "hotline.jobs.send_message_job"
    assert job.args == (message.id,)
    assert (job.retries_left, job.retry_intervals) == (3, [10, 60, 300])
    stored = stored_message(services, message.id)
    assert (stored.direction, stored.status, stored.to_number) == (
        Direction.OUTBOUND,
        "queued",
        STAFF_PHONE,
    )


def test_rolled_back_sms_is_never_queued(services: Services) -> None:
    with pytest.raises(RuntimeError), services.db.session() as session:
        queue_sms(session, services, to=STAFF_PHONE, body=BODY, purpose="test")
        raise RuntimeError("rolled back")

    assert Queue("outbound", connection=services.redis).count == 0
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_unusable_recipient_is_refused(services: Services) -> None:
    with services.db.session() as session, pytest.raises(ValueError):
        queue_sms(session, services, to="anonymous", body=BODY, purpose="test")


# send_message


def test_sent_through_the_emulator_once(services: Services, emulator: EmulatorServer) -> None:
    message_id, case_id = queue_test_sms(services)

    work(services)
    services.enqueue("outbound", send_message_job, message_id, job_id="send-again")
    work(services)

    message = stored_message(services, message_id)
    sent = emulator_state(emulator.app).store.list_messages(lambda record: True)
    assert len(sent) == 1
    assert message.sid == sent[0]["sid"]
    assert sent[0]["to"] == STAFF_PHONE
    assert sent[0]["body"] == BODY
    assert message.num_segments == count_segments(BODY) == 1
    assert message.status in {"queued", "sent", "delivered"}
    assert job_status(services, "send-again") == JobStatus.FINISHED
    assert event_kinds(services, case_id) == ["created", "sms_sent"]


def test_invalid_number_fails_for_good_without_retry(
    services: Services, emulator: EmulatorServer
) -> None:
    with services.db.session() as session:
        case = new_case(session)
        # Not E.164: queue_sms would refuse it, so the row is written directly.
        message = Message(
            direction=Direction.OUTBOUND, to_number="12345", body=BODY, case_id=case.id
        )
        session.add(message)
        session.flush()
        message_id, case_id = message.id, case.id
    services.enqueue("outbound", send_message_job, message_id, job_id="send-invalid")

    work(services)

    stored = stored_message(services, message_id)
    assert (stored.status, stored.error_code, stored.sid) == ("failed", 21211, None)
    assert job_status(services, "send-invalid") == JobStatus.FINISHED
    assert event_kinds(services, case_id)[-1] == "sms_failed"


def test_opted_out_recipient_is_marked_failed(services: Services) -> None:
    message_id, case_id = queue_test_sms(services)

    with refusing_twilio(services, 400, 21610):
        work(services)

    stored = stored_message(services, message_id)
    assert (stored.status, stored.error_code) == ("failed", 21610)
    assert job_status(services, f"send-message-{message_id}") == JobStatus.FINISHED
    assert "sms_failed" in event_kinds(services, case_id)


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503), (429, 20429)])
def test_server_errors_and_throttling_are_retried(
    services: Services, status: int, code: int
) -> None:
    message_id, _ = queue_test_sms(services)
    job_id = f"send-message-{message_id}"

    with refusing_twilio(services, status, code):
        work(services)

    stored = stored_message(services, message_id)
    assert (stored.status, stored.sid) == ("queued", None)
    registry = ScheduledJobRegistry("outbound", connection=services.redis)
    assert registry.get_job_ids() == [job_id]
    assert Job.fetch(job_id, connection=services.redis).retries_left == 2


def test_connection_errors_are_retried(services: Services) -> None:
    message_id, _ = queue_test_sms(services)
    job_id = f"send-message-{message_id}"
    settings = services.settings
    closed = EmulatorServer(settings.twilio_account_sid, settings.twilio_auth_token)
    closed.stop()

    with twilio_at(services, closed.base_url):
        work(services)

    assert stored_message(services, message_id).status == "queued"
    registry = ScheduledJobRegistry("outbound", connection=services.redis)
    assert registry.get_job_ids() == [job_id]


# record_status


def sent_message(services: Services, sid: str, status: str = "queued") -> tuple[int, int]:
    with services.db.session() as session:
        case = new_case(session)
        message = Message(
            direction=Direction.OUTBOUND,
            sid=sid,
            to_number=STAFF_PHONE,
            body=BODY,
            status=status,
            case_id=case.id,
        )
        session.add(message)
        session.flush()
        return message.id, case.id


def record(services: Services, sid: str, status: str, error_code: int | None = None) -> None:
    with services.db.session() as session:
        record_status(session, sid, status, error_code)


def test_callback_stored_before_the_sid_is_applied_when_sent(
    services: Services, emulator: EmulatorServer
) -> None:
    """Twilio may call back before the send job has stored the sid; nothing is lost."""
    early_sid = "SM" + "6" * 32

    @emulator.app.after_request
    def answer_with_known_sid(response: Response) -> Response:
        if request.method == "POST" and request.path.endswith("/Messages.json"):
            payload = response.get_json()
            payload["sid"] = early_sid
            response.set_data(json.dumps(payload))
        return response

    message_id, _ = queue_test_sms(services)
    record(services, early_sid, "delivered")

    work(services)

    stored = stored_message(services, message_id)
    assert (stored.sid, stored.status) == (early_sid, "delivered")


def test_status_moves_forward_sent_then_delivered(services: Services) -> None:
    message_id, _ = sent_message(services, "SM" + "1" * 32)

    record(services, "SM" + "1" * 32, "sent")
    assert stored_message(services, message_id).status == "sent"
    record(services, "SM" + "1" * 32, "delivered")
    assert stored_message(services, message_id).status == "delivered"


def test_late_sent_does_not_overwrite_delivered(services: Services) -> None:
    message_id, _ = sent_message(services, "SM" + "2" * 32)

    record(services, "SM" + "2" * 32, "delivered")
    record(services, "SM" + "2" * 32, "sent")

    assert stored_message(services, message_id).status == "delivered"
    with services.db.session() as session:
        statuses = session.scalars(select(StatusCallback.status).order_by(StatusCallback.id))
        assert list(statuses) == ["delivered", "sent"]


def test_duplicate_callback_is_a_no_op_and_keeps_the_transaction(services: Services) -> None:
    sid = "SM" + "3" * 32
    message_id, _ = sent_message(services, sid)

    with services.db.session() as session:
        first = record_status(session, sid, "delivered", None)
        again = record_status(session, sid, "delivered", None)
        assert first is not None and again is not None and again.id == message_id

    with services.db.session() as session:
        count = select(func.count()).select_from(StatusCallback)
        assert session.scalar(count.where(StatusCallback.sid == sid)) == 1
    assert stored_message(services, message_id).status == "delivered"


def test_undelivered_stores_error_code_and_case_event(services: Services) -> None:
    sid = "SM" + "4" * 32
    message_id, case_id = sent_message(services, sid, status="sent")

    record(services, sid, "undelivered", 30003)

    stored = stored_message(services, message_id)
    assert (stored.status, stored.error_code) == ("undelivered", 30003)
    assert event_kinds(services, case_id)[-1] == "sms_failed"


def test_unknown_sid_returns_none_but_keeps_the_callback(services: Services) -> None:
    with services.db.session() as session:
        assert record_status(session, "SM" + "5" * 32, "delivered", None) is None

    with services.db.session() as session:
        stored = session.scalars(select(StatusCallback)).one()
        assert (stored.sid, stored.status) == ("SM" + "5" * 32, "delivered")


def wait_for_status(services: Services, message_id: int, wanted: str) -> None:
    deadline = time.monotonic() + 10
    while (status := stored_message(services, message_id).status) != wanted:
        assert time.monotonic() < deadline, f"still {status}, waiting for {wanted}"
        time.sleep(0.05)


def test_status_callbacks_from_the_emulator_reach_delivered(live: LiveHotline) -> None:
    message_id, case_id = queue_test_sms(live.services)

    work(live.services)

    wait_for_status(live.services, message_id, "delivered")
    with live.services.db.session() as session:
        statuses = session.scalars(select(StatusCallback.status).order_by(StatusCallback.id))
        assert list(statuses) == ["sent", "delivered"]
    assert "sms_sent" in event_kinds(live.services, case_id)


def test_unreachable_handset_ends_undelivered(live: LiveHotline) -> None:
    # The emulator's failure hook: a recipient ending in 0000 is never delivered.
    message_id, case_id = queue_test_sms(live.services, to="+8613900010000")

    work(live.services)

    wait_for_status(live.services, message_id, "undelivered")
    assert stored_message(live.services, message_id).error_code == 30003
    assert event_kinds(live.services, case_id)[-1] == "sms_failed"
