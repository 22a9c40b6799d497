"""The voice webhook: valid TwiML on every path, retries replayed, no input handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.cases.models import Case, CaseEvent, CaseKind
from hotline.dispatch.models import Callback
from hotline.telephony.models import Message
from tests.twiml import call_params, gather, press, signed_post, spoken, twiml

RESIDENT = "+8613800138000"


def _follow_gather(client, root, call_sid: str, caller: str, digits: str):
    return press(client, root, call_sid, caller, digits)


def _redirect_after_gather(client, root, call_sid: str, caller: str):
    children = list(root)
    position = [child.tag for child in children].index("Gather")
    redirect = children[position + 1]
    assert redirect.tag == "Redirect"
    path, _, query = (redirect.text or "").partition("?")
    params = dict(pair.split("=") for pair in query.split("&"))
    return twiml(signed_post(client, path, call_params(call_sid, caller), query=params))


def test_main_menu_is_a_gather_in_mandarin_followed_by_a_redirect(client) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA10", RESIDENT)))

    node = gather(root)
    assert node is not None and node.get("numDigits") == "1"
    assert all(say.get("language") == "zh-CN" for say in node.iter("Say"))
    assert "办事材料清单，请按4" in spoken(root)
    assert [child.tag for child in root] == ["Gather", "Redirect"]


def test_checklist_path_reads_the_documents_and_offers_sms(client) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA11", RESIDENT)))

    root = _follow_gather(client, root, "CA11", RESIDENT, "4")
    assert "民政" in spoken(root)
    root = _follow_gather(client, root, "CA11", RESIDENT, "1")
    assert "最低生活保障" in spoken(root)
    root = _follow_gather(client, root, "CA11", RESIDENT, "1")

    assert "身份证" in spoken(root)
    assert "发到您的手机，请按1" in spoken(root)


def test_checklist_by_sms_queues_one_message_to_the_caller(client, services, run_jobs) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA12", RESIDENT)))
    for digits in ("4", "1", "1", "1"):
        root = _follow_gather(client, root, "CA12", RESIDENT, digits)

    assert "已发送" in spoken(root)
    run_jobs()
    with services.db.session() as session:
        sent = session.scalars(select(Message).where(Message.purpose == "checklist")).all()
    assert len(sent) == 1
    assert sent[0].to_number == RESIDENT and sent[0].sid and sent[0].sid.startswith("SM")
    assert "最低生活保障" in sent[0].body


def test_no_input_follows_the_redirect_and_counts_misses(client) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA13", RESIDENT)))

    root = _redirect_after_gather(client, root, "CA13", RESIDENT)
    assert "没有收到您的按键" in spoken(root)
    root = _redirect_after_gather(client, root, "CA13", RESIDENT)
    root = _redirect_after_gather(client, root, "CA13", RESIDENT)

    assert "社工回电" in spoken(root) or "预约回电" in spoken(root)
    assert gather(root) is not None


@pytest.mark.parametrize("digits", ["", "#", "12", "x", "９"])
def test_odd_digits_never_break_the_call(client, digits: str) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA14", RESIDENT)))

    root = _follow_gather(client, root, "CA14", RESIDENT, digits)

    assert gather(root) is not None


def test_retried_turn_replays_the_same_answer_and_creates_one_case(client, services) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA15", RESIDENT)))
    node = gather(root)
    path, _, query = node.get("action").partition("?")
    params = dict(pair.split("=") for pair in query.split("&"))

    first = signed_post(client, path, call_params("CA15", RESIDENT, Digits="0"), query=params)
    second = signed_post(client, path, call_params("CA15", RESIDENT, Digits="0"), query=params)

    assert first.data == second.data
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        assert session.scalar(select(func.count()).select_from(Callback)) == 1


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", "", "Restricted"])
def test_withheld_caller_is_asked_for_a_number_and_nothing_is_queued(
    client, services, caller: str
) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA16", caller)))

    root = _follow_gather(client, root, "CA16", caller, "0")

    assert "请输入您的手机号码" in spoken(root)
    assert gather(root).get("finishOnKey") == "#"
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_withheld_caller_keys_in_a_number_and_gets_a_case(client, services) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA17", "anonymous")))
    root = _follow_gather(client, root, "CA17", "anonymous", "0")

    root = _follow_gather(client, root, "CA17", "anonymous", "13800138000#")

    assert "工单号" in spoken(root)
    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
    assert case.contact_phone == RESIDENT


def test_case_status_by_number(client, services) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA18", RESIDENT)))
    root = _follow_gather(client, root, "CA18", RESIDENT, "0")
    with services.db.session() as session:
        number = session.scalars(select(Case.number)).one()

    root = twiml(signed_post(client, "/twilio/voice", call_params("CA19", RESIDENT)))
    root = _follow_gather(client, root, "CA19", RESIDENT, "2")
    root = _follow_gather(client, root, "CA19", RESIDENT, number)

    assert " ".join(number) in spoken(root)
    assert "正在安排社工" in spoken(root)


def test_a_wrong_check_digit_finds_no_case(client) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA20", RESIDENT)))
    root = _follow_gather(client, root, "CA20", RESIDENT, "2")

    root = _follow_gather(client, root, "CA20", RESIDENT, "10000010")

    assert "没有找到这个工单号" in spoken(root)


def test_internal_error_apologises_and_offers_a_callback(client, monkeypatch) -> None:
    from hotline.flows import conversations

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(conversations, "take_turn", broken)
    monkeypatch.setattr("hotline.web.twilio.take_turn", broken)

    root = twiml(signed_post(client, "/twilio/voice", call_params("CA21", RESIDENT)))

    assert "系统暂时出现故障" in spoken(root)
    assert gather(root).get("action") == "/twilio/voice/rescue"


def test_rescue_key_opens_a_callback_case(client, services) -> None:
    root = twiml(
        signed_post(client, "/twilio/voice/rescue", call_params("CA22", RESIDENT, Digits="0"))
    )

    assert "工单号" in spoken(root)
    assert root[-1].tag == "Hangup"
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 1


def test_a_caller_who_never_presses_a_key_gets_a_callback(client, services) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA23", RESIDENT)))

    for _ in range(6):
        root = _redirect_after_gather(client, root, "CA23", RESIDENT)

    assert "工单号" in spoken(root) and root[-1].tag == "Hangup"
    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.topic == "来电多次未按键，安排回电"


def test_asking_again_reuses_the_open_callback_case(client, services, run_jobs) -> None:
    first = twiml(signed_post(client, "/twilio/voice", call_params("CA24", RESIDENT)))
    _follow_gather(client, first, "CA24", RESIDENT, "0")
    run_jobs()

    second = twiml(signed_post(client, "/twilio/voice", call_params("CA25", RESIDENT)))
    answer = _follow_gather(client, second, "CA25", RESIDENT, "0")
    run_jobs()

    assert "您已有待回电的工单" in spoken(answer)
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1
        sent = session.scalars(select(Message).where(Message.purpose == "assignment")).all()
        assert len(sent) == 1


def test_an_overdue_open_case_is_not_reused(client, services) -> None:
    first = twiml(signed_post(client, "/twilio/voice", call_params("CA26", RESIDENT)))
    _follow_gather(client, first, "CA26", RESIDENT, "0")
    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
        case.due_at = case.created_at - timedelta(hours=1)

    second = twiml(signed_post(client, "/twilio/voice", call_params("CA27", RESIDENT)))
    answer = _follow_gather(client, second, "CA27", RESIDENT, "0")

    assert "已为您登记" in spoken(answer)
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 2


def test_a_repeat_request_records_what_was_asked(client, services) -> None:
    first = twiml(signed_post(client, "/twilio/voice", call_params("CA28", RESIDENT)))
    _follow_gather(client, first, "CA28", RESIDENT, "0")

    second = twiml(signed_post(client, "/twilio/voice", call_params("CA29", RESIDENT)))
    _follow_gather(client, second, "CA29", RESIDENT, "3")

    with services.db.session() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.kind == "repeat_request")).one()
        assert event.data["kind"] == "appointment"


def test_a_withheld_caller_keeps_the_kind_of_request_while_keying_a_number(
    client, services
) -> None:
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA30", "anonymous")))
    root = _follow_gather(client, root, "CA30", "anonymous", "1")

    _follow_gather(client, root, "CA30", "anonymous", "13800138000#")

    with services.db.session() as session:
        case = session.scalars(select(Case)).one()
        assert case.kind is CaseKind.CONSULTATION and case.topic == "政策咨询"


def test_a_landline_caller_is_not_promised_a_checklist_sms(client, services) -> None:
    landline = "+8653288886666"
    root = twiml(signed_post(client, "/twilio/voice", call_params("CA31", landline)))
    for digits in ("4", "1", "1"):
        root = _follow_gather(client, root, "CA31", landline, digits)

    root = _follow_gather(client, root, "CA31", landline, "1")

    assert "无法接收短信" in spoken(root)
    assert "办事材料清单，请按4" in spoken(root)
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
