"""Behaviour of the Twilio emulator, driven through the real twilio client like the product."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from hotline.emulator import EmulatorServer, create_emulator_app, emulator_state
from hotline.emulator.__main__ import parse_args
from hotline.emulator.segments import count_segments
from hotline.telephony.client import TWILIO_API_BASE, make_twilio_client

from .support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    HOTLINE_NUMBER,
    CallbackReceiver,
    close_client,
    wait_until,
)

RESIDENT = "+8613800138000"
OTHER_RESIDENT = "+8613911112222"
UNREACHABLE = "+8613700000000"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def messages_url(emulator: EmulatorServer, account_sid: str = ACCOUNT_SID) -> str:
    return f"{emulator.base_url}/2010-04-01/Accounts/{account_sid}/Messages.json"


def send(client: Client, to: str = RESIDENT, body: str = "您的预受理已登记", **extra: object):
    return client.messages.create(to=to, from_=HOTLINE_NUMBER, body=body, **extra)


def final_status(client: Client, sid: str) -> str:
    """Wait until message `sid` leaves queued/sent, then return its status."""
    assert wait_until(lambda: client.messages(sid).fetch().status not in ("queued", "sent"))
    return client.messages(sid).fetch().status


# --- Messages: create and fetch ---------------------------------------------------------


def test_create_message_answers_twilio_message_resource(client: Client) -> None:
    message = send(client, body="Hello from the hotline")

    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.account_sid == ACCOUNT_SID
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert (message.to, message.from_) == (RESIDENT, HOTLINE_NUMBER)
    assert message.body == "Hello from the hotline"
    assert message.api_version == "2010-04-01"
    assert message.num_segments == "1"
    assert message.num_media == "0"
    assert message.price is None and message.price_unit == "USD"
    assert message.error_code is None and message.error_message is None
    assert message.date_sent is None
    assert abs(message.date_created - datetime.now(UTC)) < timedelta(minutes=1)
    assert message.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"
    assert message.subresource_uris["media"] == message.uri.replace(".json", "/Media.json")


def test_raw_create_answers_201_with_rfc2822_dates(emulator: EmulatorServer) -> None:
    response = requests.post(
        messages_url(emulator),
        data={"To": RESIDENT, "From": HOTLINE_NUMBER, "Body": "hi"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )

    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    rfc2822 = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000"
    assert re.fullmatch(rfc2822, response.json()["date_created"])
    assert response.json()["date_sent"] is None


def test_fetch_follows_sent_then_delivered(client: Client) -> None:
    created = send(client)

    assert final_status(client, created.sid) == "delivered"
    fetched = client.messages(created.sid).fetch()
    assert fetched.sid == created.sid
    assert fetched.body == created.body
    assert fetched.date_sent is not None
    assert fetched.date_updated >= fetched.date_created
    assert "feedback" in fetched.subresource_uris


def test_fetch_unknown_message_is_twilio_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.messages("SM" + "0" * 32).fetch()

    assert caught.value.status == 404
    assert caught.value.code == 20404


def test_messaging_service_sid_may_replace_from(client: Client) -> None:
    service = "MG" + "ab" * 16

    message = client.messages.create(to=RESIDENT, messaging_service_sid=service, body="hi")

    assert message.messaging_service_sid == service
    assert message.from_ is None


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, "1"),
        ("a" * 161, "2"),
        ("您" * 70, "1"),
        ("您" * 71, "2"),
    ],
)
def test_create_counts_segments(client: Client, body: str, segments: str) -> None:
    assert send(client, body=body).num_segments == segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("{" * 80, 1),
        ("{" * 81, 2),
        ("é" * 160, 1),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
        ("a" * 69 + "中", 1),
        ("a" * 70 + "中", 2),
        ("😀" * 35, 1),
        ("😀" * 36, 2),
    ],
)
def test_count_segments_gsm7_and_ucs2(text: str, segments: int) -> None:
    assert count_segments(text) == segments


# --- Messages: list, filters, paging ----------------------------------------------------


def test_list_filters_by_to_newest_first(client: Client) -> None:
    for body in ("first", "second", "third"):
        send(client, to=RESIDENT, body=body)
    send(client, to=OTHER_RESIDENT, body="not for this resident")

    bodies = [message.body for message in client.messages.list(to=RESIDENT)]

    assert bodies == ["third", "second", "first"]
    assert [m.body for m in client.messages.list(to=OTHER_RESIDENT)] == ["not for this resident"]
    assert client.messages.list(from_="+8653200000001") == []


def test_list_pages_through_all_messages(client: Client) -> None:
    for number in range(5):
        send(client, body=f"message {number}")

    first = client.messages.page(page_size=2)
    second = first.next_page()
    third = second.next_page()

    assert [m.body for m in first] == ["message 4", "message 3"]
    assert [m.body for m in second] == ["message 2", "message 1"]
    assert [m.body for m in third] == ["message 0"]
    assert third.next_page() is None
    assert [m.body for m in client.messages.list(page_size=2)] == [
        f"message {number}" for number in range(4, -1, -1)
    ]


def test_next_page_is_stable_when_new_messages_arrive(client: Client) -> None:
    for number in range(4):
        send(client, body=f"old {number}")
    first = client.messages.page(page_size=2)

    send(client, body="new")
    second = first.next_page()

    assert [m.body for m in second] == ["old 1", "old 0"]


def test_raw_page_has_twilio_shape(emulator: EmulatorServer, client: Client) -> None:
    for _ in range(3):
        send(client)

    response = requests.get(
        messages_url(emulator),
        params={"To": RESIDENT, "PageSize": 2},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    page = response.json()

    assert response.status_code == 200
    assert set(page) == {
        "messages",
        "end",
        "first_page_uri",
        "next_page_uri",
        "page",
        "page_size",
        "previous_page_uri",
        "start",
        "uri",
    }
    assert (page["page"], page["page_size"], page["start"], page["end"]) == (0, 2, 0, 1)
    assert page["previous_page_uri"] is None
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert page["first_page_uri"] == f"{path}?To=%2B8613800138000&PageSize=2&Page=0"
    assert page["next_page_uri"].startswith(f"{path}?To=%2B8613800138000&PageSize=2&Page=1&")
    assert "PageToken=PA" in page["next_page_uri"]


def test_list_filters_by_date_sent(client: Client) -> None:
    message = send(client)
    final_status(client, message.sid)
    today = datetime.now(UTC)
    yesterday = today - timedelta(days=1)

    assert [m.sid for m in client.messages.list(date_sent=today)] == [message.sid]
    assert [m.sid for m in client.messages.list(date_sent_after=yesterday)] == [message.sid]
    assert client.messages.list(date_sent_before=yesterday) == []
    assert client.messages.list(date_sent=yesterday) == []


@pytest.mark.parametrize("query", [{"PageSize": 5000}, {"PageSize": 0}, {"Page": "x"}])
def test_list_rejects_bad_paging(emulator: EmulatorServer, query: dict[str, object]) -> None:
    response = requests.get(
        messages_url(emulator), params=query, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )

    assert (response.status_code, response.json()["code"]) == (400, 20001)


# --- Authentication and validation errors -----------------------------------------------


def test_wrong_auth_token_is_twilio_401(emulator: EmulatorServer) -> None:
    wrong = make_twilio_client(ACCOUNT_SID, "not-the-token", emulator.base_url, timeout=5)

    with pytest.raises(TwilioRestException) as caught:
        send(wrong)
    close_client(wrong)

    assert caught.value.status == 401
    assert caught.value.code == 20003
    assert emulator_state(emulator.app).store.list_messages() == []


def test_missing_credentials_are_rejected_with_error_json(emulator: EmulatorServer) -> None:
    response = requests.get(messages_url(emulator), timeout=5)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


def test_other_account_in_path_is_404(emulator: EmulatorServer) -> None:
    other_account = "AC" + "1" * 32

    response = requests.get(
        messages_url(emulator, other_account), auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )

    assert response.status_code == 404
    assert response.json()["code"] == 20404


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": HOTLINE_NUMBER, "Body": "hi"}, 21604),
        ({"To": "", "From": HOTLINE_NUMBER, "Body": "hi"}, 21604),
        ({"To": RESIDENT, "From": HOTLINE_NUMBER}, 21602),
        ({"To": RESIDENT, "Body": "hi"}, 21603),
        ({"To": "13800138000", "From": HOTLINE_NUMBER, "Body": "hi"}, 21211),
        ({"To": "+86 138 0013 8000", "From": HOTLINE_NUMBER, "Body": "hi"}, 21211),
        ({"To": RESIDENT, "From": HOTLINE_NUMBER, "Body": "x" * 1601}, 21617),
        (
            {"To": RESIDENT, "From": HOTLINE_NUMBER, "Body": "hi", "StatusCallback": "nope"},
            21609,
        ),
    ],
)
def test_invalid_message_requests_get_twilio_400(
    emulator: EmulatorServer, form: dict[str, str], code: int
) -> None:
    response = requests.post(
        messages_url(emulator), data=form, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == code
    assert error["status"] == 400
    assert error["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert error["message"]
    assert emulator_state(emulator.app).store.list_messages() == []


def test_client_sees_missing_to_as_21604(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.messages.create(to="", from_=HOTLINE_NUMBER, body="hi")

    assert (caught.value.status, caught.value.code) == (400, 21604)


def test_unknown_route_is_twilio_404_json(emulator: EmulatorServer) -> None:
    response = requests.get(f"{emulator.base_url}/2010-04-01/Nothing.json", timeout=5)

    assert response.status_code == 404
    assert response.json()["code"] == 20404


# --- Message status callbacks -----------------------------------------------------------


def test_status_callbacks_sent_then_delivered_signed(
    client: Client, receiver: CallbackReceiver
) -> None:
    callback_url = receiver.url("/twilio/sms/status?case=42")

    message = send(client, status_callback=callback_url)
    callbacks = receiver.wait_for(2)

    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    for callback in callbacks:
        assert callback.url == callback_url
        assert callback.form == {
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "AccountSid": ACCOUNT_SID,
            "From": HOTLINE_NUMBER,
            "To": RESIDENT,
            "MessageStatus": callback.form["MessageStatus"],
            "SmsStatus": callback.form["MessageStatus"],
            "ApiVersion": "2010-04-01",
        }
        assert RequestValidator(AUTH_TOKEN).validate(
            callback.url, callback.form, callback.signature
        )
        assert not RequestValidator("another-token").validate(
            callback.url, callback.form, callback.signature
        )
    assert client.messages(message.sid).fetch().status == "delivered"


def test_number_ending_0000_ends_undelivered_30003(
    client: Client, receiver: CallbackReceiver
) -> None:
    message = send(client, to=UNREACHABLE, status_callback=receiver.url("/status"))
    callbacks = receiver.wait_for(2)

    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "undelivered"]
    assert "ErrorCode" not in callbacks[0].form
    assert callbacks[1].form["ErrorCode"] == "30003"
    assert RequestValidator(AUTH_TOKEN).validate(
        callbacks[1].url, callbacks[1].form, callbacks[1].signature
    )
    fetched = client.messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)


def test_unreachable_callback_is_logged_and_status_still_progresses(
    client: Client, receiver: CallbackReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    dead_url = receiver.url("/status")
    receiver.stop()
    caplog.set_level(logging.WARNING, logger="hotline.emulator")

    message = send(client, status_callback=dead_url)

    assert final_status(client, message.sid) == "delivered"
    assert wait_until(lambda: caplog.text.count(f"status callback for {message.sid}") == 2)


def test_message_without_callback_still_progresses(client: Client) -> None:
    message = send(client)

    assert final_status(client, message.sid) == "delivered"


# --- Calls -----------------------------------------------------------------------------


def test_create_call_answers_twilio_call_resource(client: Client) -> None:
    call = client.calls.create(
        to=RESIDENT, from_=HOTLINE_NUMBER, url="https://hotline.example/twilio/voice"
    )

    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid)
    assert call.status == "queued"
    assert (call.to, call.from_formatted) == (RESIDENT, HOTLINE_NUMBER)
    assert call.account_sid == ACCOUNT_SID
    assert call.api_version == "2010-04-01"
    assert call.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call.sid}.json"
    assert client.calls(call.sid).fetch().sid == call.sid


def test_call_status_callbacks_for_requested_events(
    client: Client, receiver: CallbackReceiver
) -> None:
    call = client.calls.create(
        to=RESIDENT,
        from_=HOTLINE_NUMBER,
        twiml="<Response><Say>您好</Say></Response>",
        status_callback=receiver.url("/twilio/voice/status"),
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    callbacks = receiver.wait_for(4)

    assert [c.form["CallStatus"] for c in callbacks] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [c.form["SequenceNumber"] for c in callbacks] == ["0", "1", "2", "3"]
    for callback in callbacks:
        assert callback.form["CallSid"] == call.sid
        assert callback.form["AccountSid"] == ACCOUNT_SID
        assert (callback.form["From"], callback.form["To"]) == (HOTLINE_NUMBER, RESIDENT)
        assert callback.form["Direction"] == "outbound-api"
        assert callback.form["ApiVersion"] == "2010-04-01"
        assert RequestValidator(AUTH_TOKEN).validate(
            callback.url, callback.form, callback.signature
        )
    assert callbacks[-1].form["CallDuration"] == "5"
    fetched = client.calls(call.sid).fetch()
    assert (fetched.status, fetched.duration) == ("completed", "5")
    assert fetched.start_time is not None and fetched.end_time is not None


def test_call_callback_defaults_to_completed_only(
    client: Client, receiver: CallbackReceiver
) -> None:
    call = client.calls.create(
        to=RESIDENT,
        from_=HOTLINE_NUMBER,
        url="https://hotline.example/twilio/voice",
        status_callback=receiver.url("/voice/status"),
    )

    callbacks = receiver.wait_for(1)
    assert wait_until(lambda: client.calls(call.sid).fetch().status == "completed")

    assert [c.form["CallStatus"] for c in receiver.received()] == ["completed"]
    assert callbacks[0].form["CallSid"] == call.sid


def test_call_to_number_ending_0000_is_not_answered(
    client: Client, receiver: CallbackReceiver
) -> None:
    call = client.calls.create(
        to=UNREACHABLE,
        from_=HOTLINE_NUMBER,
        url="https://hotline.example/twilio/voice",
        status_callback=receiver.url("/voice/status"),
    )

    callbacks = receiver.wait_for(1)

    assert callbacks[0].form["CallStatus"] == "no-answer"
    assert callbacks[0].form["CallDuration"] == "0"
    assert client.calls(call.sid).fetch().status == "no-answer"


def test_list_calls_filters_by_status_and_to(client: Client) -> None:
    answered = client.calls.create(to=RESIDENT, from_=HOTLINE_NUMBER, url="https://h.example/v")
    missed = client.calls.create(to=UNREACHABLE, from_=HOTLINE_NUMBER, url="https://h.example/v")
    assert wait_until(lambda: client.calls(answered.sid).fetch().status == "completed")
    assert wait_until(lambda: client.calls(missed.sid).fetch().status == "no-answer")

    assert [c.sid for c in client.calls.list(status="completed")] == [answered.sid]
    assert [c.sid for c in client.calls.list(to=UNREACHABLE)] == [missed.sid]
    assert [c.sid for c in client.calls.list()] == [missed.sid, answered.sid]


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": HOTLINE_NUMBER, "Url": "https://h.example/v"}, 21201),
        ({"To": RESIDENT, "Url": "https://h.example/v"}, 21213),
        ({"To": "12345", "From": HOTLINE_NUMBER, "Url": "https://h.example/v"}, 21211),
        ({"To": RESIDENT, "From": HOTLINE_NUMBER}, 21205),
        ({"To": RESIDENT, "From": HOTLINE_NUMBER, "Url": "not a url"}, 21205),
    ],
)
def test_invalid_call_requests_get_twilio_400(
    emulator: EmulatorServer, form: dict[str, str], code: int
) -> None:
    url = f"{emulator.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json"

    response = requests.post(url, data=form, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)

    assert (response.status_code, response.json()["code"]) == (400, code)


def test_fetch_unknown_call_is_twilio_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client.calls("CA" + "0" * 32).fetch()

    assert (caught.value.status, caught.value.code) == (404, 20404)


# --- Demo page, app factory, server, command line ----------------------------------------


def test_index_page_lists_recent_messages_escaped(emulator: EmulatorServer, client: Client) -> None:
    send(client, body="<b>预约</b> 已受理")

    page = requests.get(emulator.base_url + "/", timeout=5)

    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "&lt;b&gt;预约&lt;/b&gt; 已受理" in page.text
    assert "<b>预约" not in page.text
    assert RESIDENT in page.text
    assert "queued" in page.text or "sent" in page.text or "delivered" in page.text


@pytest.mark.parametrize(
    ("account_sid", "auth_token", "delay"),
    [("AC123", AUTH_TOKEN, 0.1), (ACCOUNT_SID, "", 0.1), (ACCOUNT_SID, AUTH_TOKEN, -1.0)],
)
def test_create_emulator_app_rejects_bad_arguments(
    account_sid: str, auth_token: str, delay: float
) -> None:
    with pytest.raises(ValueError):
        create_emulator_app(account_sid, auth_token, callback_delay=delay)


def test_emulator_server_stops_and_frees_port() -> None:
    server = EmulatorServer(ACCOUNT_SID, AUTH_TOKEN)
    assert requests.get(server.base_url + "/", timeout=5).status_code == 200

    server.stop()
    server.stop()

    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/", timeout=2)


def test_command_line_defaults() -> None:
    args = parse_args([])

    assert (args.host, args.port) == ("127.0.0.1", 5055)
    assert parse_args(["--host", "0.0.0.0", "--port", "6000"]).port == 6000


def test_python_m_hotline_emulator_serves_and_logs_start() -> None:
    env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PATH": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline.emulator", "--port", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline() for _ in range(2)]
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", lines[-1])
        assert match, lines
        cli_client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, match.group(1), timeout=5)
        assert send(cli_client).status == "queued"
        close_client(cli_client)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


# --- The product's client factory -------------------------------------------------------


def test_client_without_api_base_talks_to_twilio() -> None:
    twilio_client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, None, timeout=3)

    assert twilio_client.api.base_url == TWILIO_API_BASE
    assert twilio_client.http_client.timeout == 3
    assert twilio_client.account_sid == ACCOUNT_SID
    close_client(twilio_client)


def test_client_api_base_wins_over_twilio_region_environment(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    twilio_client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, emulator.base_url + "/")

    message = send(twilio_client)
    close_client(twilio_client)

    assert emulator_state(emulator.app).store.message_json(message.sid) is not None


@pytest.mark.parametrize(
    ("api_base", "timeout"),
    [
        ("ftp://127.0.0.1:5055", 10.0),
        ("127.0.0.1:5055", 10.0),
        ("http://127.0.0.1:5055?x=1", 10.0),
        ("http://127.0.0.1:5055", 0.0),
    ],
)
def test_client_rejects_bad_api_base_or_timeout(api_base: str, timeout: float) -> None:
    with pytest.raises(ValueError):
        make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, api_base, timeout=timeout)


def test_no_full_phone_number_reaches_the_logs(
    client: Client, receiver: CallbackReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    message = send(client, status_callback=receiver.url("/status"))
    receiver.wait_for(2)
    client.messages.list(to=RESIDENT)
    client.calls.create(to=RESIDENT, from_=HOTLINE_NUMBER, url="https://h.example/v")

    assert message.sid in caplog.text
    assert "+86138****8000" in caplog.text
    assert "8613800138000" not in caplog.text
