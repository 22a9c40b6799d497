"""The SMS webhook: the numbered menu, checklists, callbacks, retries and odd replies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hotline.cases.models import Case
from hotline.flows import actions
from hotline.telephony.models import Direction, Message
from tests.twiml import messages, signed_post, sms_params, twiml

RESIDENT = "+8613800138000"


def _text(client, sid: str, body: str, sender: str = RESIDENT) -> str:
    replies = messages(twiml(signed_post(client, "/twilio/sms", sms_params(sid, sender, body))))
    assert len(replies) == 1
    return replies[0]


def test_unknown_text_returns_the_numbered_menu(client) -> None:
    reply = _text(client, "SM1", "你好")

    assert reply.startswith("【")
    assert "4 办事材料清单" in reply and "0 人工服务" in reply
    assert "有误" not in reply


def test_four_then_numbers_reach_a_checklist(client) -> None:
    assert "1 民政" in _text(client, "SM2", "4")
    assert "最低生活保障" in _text(client, "SM3", "1")

    reply = _text(client, "SM4", "1")

    assert "身份证" in reply
    assert "发到您的手机" not in reply


@pytest.mark.parametrize("body", ["４ １ １", "4,1,1", " 4 1 1 "])
def test_digits_typed_together_or_full_width_are_read_in_order(client, body: str) -> None:
    assert "身份证" in _text(client, "SM5", body)


def test_zero_requests_a_callback_and_dispatches_it(client, services, run_jobs) -> None:
    reply = _text(client, "SM6", "0")

    assert "工单号" in reply
    run_jobs()
    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
        assignment = session.scalars(select(Message).where(Message.purpose == "assignment")).one()
        assert case.assignee is not None
    assert case.number in assignment.body
    assert RESIDENT not in assignment.body and "138****8000" in assignment.body


def test_retried_message_gets_the_same_reply_and_is_stored_once(client, services) -> None:
    first = _text(client, "SM7", "0")
    second = _text(client, "SM7", "0")

    assert first == second
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        inbound = session.scalars(select(Message).where(Message.direction == Direction.INBOUND))
        assert len(inbound.all()) == 1


@pytest.mark.parametrize("sender", ["anonymous", "", "+266696687"])
def test_unusable_sender_gets_no_reply_and_no_crash(client, services, sender: str) -> None:
    root = twiml(signed_post(client, "/twilio/sms", sms_params("SM8", sender, "0")))

    assert messages(root) == []
    with services.db.session() as session:
        kept = session.scalars(select(Message).where(Message.sid == "SM8")).one()
        assert (kept.purpose, kept.body) == ("unusable_sender", "0")


def test_after_a_finished_exchange_a_new_text_starts_at_the_menu(client) -> None:
    _text(client, "SM9", "0")

    reply = _text(client, "SM10", "谢谢")

    assert "4 办事材料清单" in reply


def test_unknown_texter_picks_street_and_community_by_reply(client, services, run_jobs) -> None:
    stranger = "+8613800000001"

    assert "3 沙子口街道" in _text(client, "SM11", "0", sender=stranger)
    assert "1 段家埠社区" in _text(client, "SM12", "3", sender=stranger)
    assert "工单号" in _text(client, "SM13", "1", sender=stranger)

    run_jobs()
    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.region.name_zh == "段家埠社区"
        assert case.assignee.region.parent_id == case.region_id


def test_a_texter_who_never_chooses_a_region_is_pooled_by_the_scheduled_job(
    client, services, run_jobs
) -> None:
    from rq import Queue
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    stranger = "+8613800000001"
    _text(client, "SM14", "0", sender=stranger)
    _text(client, "SM15", "5", sender=stranger)

    queue = Queue("dispatch", connection=services.redis)
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(scheduled) == 1
    assert run_jobs() == 0

    queue.enqueue_job(Job.fetch(scheduled[0], connection=services.redis))
    run_jobs()

    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.region.name_zh == "北宅街道"
        assert case.assignee.role.value == "supervisor"
        assert case.assignee.region_id == case.region_id


def test_a_failed_turn_keeps_the_message_and_reply_zero_then_works(
    client, services, monkeypatch
) -> None:
    assert "1 民政" in _text(client, "SM16", "4")

    def explode(*args, **kwargs):
        raise RuntimeError("catalogue unavailable")

    monkeypatch.setitem(actions.SOURCES, "service_items", explode)
    apology = _text(client, "SM17", "1")
    monkeypatch.undo()

    assert "回复0" in apology
    with services.db.session() as session:
        kept = session.scalars(select(Message).where(Message.sid == "SM17")).one()
        assert kept.body == "1"
    assert "工单号" in _text(client, "SM18", "0")


def test_a_nul_character_in_a_reply_is_dropped_not_fatal(client, services) -> None:
    reply = _text(client, "SM19", "4\x00")

    assert "1 民政" in reply
    with services.db.session() as session:
        kept = session.scalars(select(Message).where(Message.sid == "SM19")).one()
        assert kept.body == "4"


def test_an_oversized_request_is_refused_unread(client) -> None:
    data = {"Body": "x" * (300 * 1024)}
    unsigned = client.post("/twilio/sms", data=data)
    signed_looking = client.post("/twilio/sms", data=data, headers={"X-Twilio-Signature": "x"})

    assert unsigned.status_code == 403
    assert signed_looking.status_code == 413


def test_the_sms_confirmation_does_not_thank_for_a_call(client) -> None:
    reply = _text(client, "SM24", "0")

    assert "感谢您使用崂山社区服务" in reply
    assert "来电" not in reply


def test_a_case_number_typed_in_groups_is_one_number(client, services) -> None:
    _text(client, "SM25", "0")
    with services.db.session() as session:
        number = session.scalars(select(Case.number)).one()

    _text(client, "SM26", "2")
    reply = _text(client, "SM27", f"{number[:4]} {number[4:]}")

    assert f"工单{number}" in reply


def test_four_then_a_service_item_code_gets_its_checklist(client) -> None:
    assert "如101" in _text(client, "SM28", "4")

    reply = _text(client, "SM29", "101")

    assert "【事项101】最低生活保障" in reply and "身份证" in reply


def test_an_unknown_code_is_a_miss_not_a_crash(client) -> None:
    _text(client, "SM30", "4")

    reply = _text(client, "SM31", "999")

    assert "有误" in reply and "1 民政" in reply
