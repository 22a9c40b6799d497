"""Failures inside a turn: nothing half-written, the next request clean, no lock errors
(field cases 13, 15, 16)."""

from __future__ import annotations

import threading
import time

import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hotline.cases.models import Case
from hotline.db import utcnow
from hotline.flows import conversations
from hotline.telephony.models import Direction, Message, StatusCallback
from tests.conftest import AUTH_TOKEN
from tests.twiml import call_params, gather, press, signed_post, spoken, twiml

RESIDENT = "+8613800138000"


def _press(client, root, call_sid: str, digits: str):
    return press(client, root, call_sid, RESIDENT, digits)


def test_failure_after_a_flush_leaves_no_case_and_the_next_request_works(
    client, services, monkeypatch
) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA30", RESIDENT)))

    def explode(*args, **kwargs):
        raise RuntimeError("dispatch store unavailable")

    monkeypatch.setattr("hotline.flows.actions.request_dispatch", explode)
    failed = _press(client, root, "CA30", "0")

    assert "系统暂时出现故障" in spoken(failed)
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0

    monkeypatch.undo()
    again = _press(client, root, "CA30", "0")

    assert "工单号" in spoken(again)
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_broken_flow_file_still_gets_an_apology_in_twiml(client, monkeypatch) -> None:
    def broken_flow():
        raise OSError("ivr_flows/main.yaml is unreadable")

    monkeypatch.setattr(conversations, "resident_flow", broken_flow)
    monkeypatch.setattr("hotline.web.twilio.resident_flow", broken_flow)

    root = twiml(signed_post(client, "/twilio/voice", call_params("CA31", RESIDENT)))

    assert "系统暂时出现故障" in spoken(root)
    assert gather(root).get("action") == "/twilio/voice/rescue"


def test_health_fails_loudly_without_a_worker_and_scheduler(client) -> None:
    response = client.get("/health")

    assert response.status_code == 503
    assert response.json["checks"]["scheduler"] == "none"
    assert response.json["checks"]["database"] == "ok"


def test_twenty_concurrent_status_callbacks_lose_nothing(live) -> None:
    sids = [f"SM{index:032x}" for index in range(20)]
    with live.services.db.session() as session:
        for sid in sids:
            session.add(
                Message(
                    sid=sid,
                    direction=Direction.OUTBOUND,
                    to_number="+8613900000001",
                    status="queued",
                    created_at=utcnow(),
                )
            )

    url = f"{live.base_url}/twilio/status"
    answers: list[int] = []

    def post(sid: str) -> None:
        params = {"MessageSid": sid, "MessageStatus": "delivered"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=post, args=(sid,)) for sid in sids]
    with live.services.db.session() as session:
        session.add(Message(direction=Direction.INBOUND, body="a worker writing meanwhile"))
        session.flush()
        for thread in threads:
            thread.start()
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=60)

    assert answers == [204] * 20
    with live.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(StatusCallback)) == 20
        statuses = session.scalars(select(Message.status).where(Message.sid.in_(sids))).all()
    assert set(statuses) == {"delivered"}


def test_a_database_error_is_logged_without_the_callers_number(client, monkeypatch, caplog) -> None:
    from hotline.residents.models import Resident

    root = twiml(signed_post(client, "/twilio/voice", call_params("CA32", RESIDENT)))

    def duplicate_resident(session, services, case, phone):
        session.add(Resident(phone=phone, registered=False))
        session.flush()

    monkeypatch.setattr("hotline.flows.actions.request_dispatch", duplicate_resident)
    with caplog.at_level("INFO"):
        failed = _press(client, root, "CA32", "0")

    assert "系统暂时出现故障" in spoken(failed)
    assert "IntegrityError" in caplog.text
    assert "13800138000" not in caplog.text
