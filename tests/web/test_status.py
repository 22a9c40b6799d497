"""Status callbacks: deduplicated on SID and status, never regressing (field cases 4, 7)."""

from __future__ import annotations

from sqlalchemy import select

from hotline.db import utcnow
from hotline.telephony.models import Direction, Message
from tests.twiml import signed_post


def _message(services, sid: str) -> None:
    with services.db.session() as session:
        session.add(
            Message(
                sid=sid,
                direction=Direction.OUTBOUND,
                to_number="+8613900000001",
                body="x",
                status="queued",
                created_at=utcnow(),
            )
        )


def _status(client, sid: str, status: str):
    return signed_post(
        client,
        "/twilio/status",
        {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC0"},
    )


def _stored(services, sid: str) -> str:
    with services.db.session() as session:
        return session.scalars(select(Message.status).where(Message.sid == sid)).one()


def test_sent_then_delivered_ends_delivered(client, services) -> None:
    _message(services, "SM20")

    assert _status(client, "SM20", "sent").status_code == 204
    assert _status(client, "SM20", "delivered").status_code == 204

    assert _stored(services, "SM20") == "delivered"


def test_late_sent_after_delivered_does_not_regress(client, services) -> None:
    _message(services, "SM21")

    _status(client, "SM21", "delivered")
    _status(client, "SM21", "sent")
    _status(client, "SM21", "delivered")

    assert _stored(services, "SM21") == "delivered"


def test_unknown_sid_is_answered_with_an_empty_204(client) -> None:
    response = _status(client, "SM404", "delivered")

    assert response.status_code == 204 and response.data == b""


def test_an_error_code_is_kept_only_with_the_status_it_came_with(client, services) -> None:
    _message(services, "SM22")
    _status(client, "SM22", "delivered")

    params = {"MessageSid": "SM22", "MessageStatus": "undelivered", "ErrorCode": "30008"}
    signed_post(client, "/twilio/status", params)
    signed_post(client, "/twilio/status", {"MessageSid": "SM22", "MessageStatus": "read"})

    with services.db.session() as session:
        message = session.scalars(select(Message).where(Message.sid == "SM22")).one()
        assert (message.status, message.error_code) == ("read", None)


def test_an_absurd_error_code_does_not_lose_the_callback(client, services) -> None:
    _message(services, "SM23")

    params = {"MessageSid": "SM23", "MessageStatus": "undelivered", "ErrorCode": "9" * 30}
    assert signed_post(client, "/twilio/status", params).status_code == 204

    assert _stored(services, "SM23") == "undelivered"


def test_a_callback_the_store_cannot_take_now_is_kept_by_a_job(
    client, services, run_jobs, monkeypatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from hotline.telephony.models import StatusCallback

    _message(services, "SM24")

    def locked(*args, **kwargs):
        raise OperationalError("UPDATE messages", {}, Exception("database is locked"))

    monkeypatch.setattr("hotline.web.twilio.record_status", locked)
    assert _status(client, "SM24", "delivered").status_code == 204
    monkeypatch.undo()

    assert run_jobs() == 1
    assert _stored(services, "SM24") == "delivered"
    with services.db.session() as session:
        assert session.scalars(select(StatusCallback.status)).all() == ["delivered"]
