"""Tests of the Twilio simulator and its CLI against a fake hotline served over HTTP."""

import re
import socket

import pytest
from click.testing import CliRunner
from twilio.request_validator import RequestValidator

from hotline.cli_simulator import call_command, parse_presses, sms_command
from hotline.simulator import (
    CallTranscript,
    LineKind,
    TwilioPlayer,
    count_sms_segments,
)

from .conftest import (
    ACCOUNT_SID,
    ASK_CASE_NUMBER,
    AUTH_TOKEN,
    CALLER,
    GOODBYE,
    HOTLINE_NUMBER,
    NO_INPUT,
    WELCOME,
    FakeHotline,
)


def _status_callbacks(fake_hotline: FakeHotline) -> list[dict[str, str]]:
    return [item.form for item in fake_hotline.received if item.path == "/twilio/status"]


def _assert_ended_with_one_status_callback(
    fake_hotline: FakeHotline, transcript: CallTranscript
) -> None:
    callbacks = _status_callbacks(fake_hotline)
    assert len(callbacks) == 1
    assert fake_hotline.paths()[-1] == "/twilio/status"
    assert callbacks[0]["CallStatus"] == "completed"
    assert callbacks[0]["CallSid"] == transcript.call_sid
    assert re.fullmatch(r"\d+", callbacks[0]["CallDuration"])


def test_menu_press_path_is_followed(fake_hotline: FakeHotline, player: TwilioPlayer) -> None:
    transcript = player.play_call(CALLER, ["4", "370202#"])

    assert transcript.ok, transcript.render()
    assert transcript.said == [WELCOME, ASK_CASE_NUMBER, "受理编号370202的办理进度：已受理。"]
    assert transcript.pressed == ["4", "370202"]
    assert transcript.end_reason == "Hangup"
    assert fake_hotline.paths() == [
        "/twilio/voice",
        "/twilio/menu",
        "/twilio/progress/lookup",
        "/twilio/status",
    ]

    first, menu, lookup, _ = fake_hotline.received
    assert re.fullmatch(r"CA[0-9a-f]{32}", first.form["CallSid"])
    assert first.form["CallStatus"] == "ringing"
    assert first.form["Direction"] == "inbound"
    assert first.form["ApiVersion"] == "2010-04-01"
    assert first.form["AccountSid"] == ACCOUNT_SID
    assert first.form["From"] == first.form["Caller"] == CALLER
    assert first.form["To"] == first.form["Called"] == HOTLINE_NUMBER
    assert "Digits" not in first.form

    assert menu.form["Digits"] == "4"
    assert menu.form["CallStatus"] == "in-progress"
    assert lookup.form["Digits"] == "370202"
    assert {item.form["CallSid"] for item in fake_hotline.received} == {transcript.call_sid}


def test_say_language_is_recorded(player: TwilioPlayer) -> None:
    transcript = player.play_call(CALLER, ["9"])

    says = [line for line in transcript.lines if line.kind is LineKind.SAY]
    assert [(line.text, line.language) for line in says] == [
        (WELCOME, "zh-CN"),
        (GOODBYE, "zh-CN"),
    ]


@pytest.mark.parametrize("no_input", ["", "timeout", " TIMEOUT "])
def test_timeout_continues_after_gather_to_redirect(
    fake_hotline: FakeHotline, player: TwilioPlayer, no_input: str
) -> None:
    transcript = player.play_call(CALLER, [no_input, "9"])

    assert transcript.ok, transcript.render()
    assert [line.kind for line in transcript.lines] == [
        LineKind.SAY,
        LineKind.TIMEOUT,
        LineKind.SAY,
        LineKind.REDIRECT,
        LineKind.SAY,
        LineKind.PRESS,
        LineKind.SAY,
        LineKind.HANGUP,
    ]
    assert transcript.said == [WELCOME, NO_INPUT, WELCOME, GOODBYE]
    assert fake_hotline.paths() == [
        "/twilio/voice",
        "/twilio/voice",
        "/twilio/menu",
        "/twilio/status",
    ]
    assert fake_hotline.received[1].query == {"retry": "1"}
    assert "Digits" not in fake_hotline.received[1].form
    assert fake_hotline.received[2].form["Digits"] == "9"


def test_relative_urls_resolve_against_the_current_document(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["", "4", "12#"])

    base = fake_hotline.base_url
    assert [exchange.url for exchange in transcript.requests] == [
        f"{base}/twilio/voice",
        f"{base}/twilio/voice?retry=1",
        f"{base}/twilio/menu?step=main",
        f"{base}/twilio/progress/lookup?case=new",
        f"{base}/twilio/status",
    ]
    assert fake_hotline.received[2].query == {"step": "main"}
    assert fake_hotline.received[3].query == {"case": "new"}
    assert fake_hotline.received[3].form["Digits"] == "12"


def test_get_gather_sends_params_in_the_signed_query_string(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["3", "7"])

    assert transcript.ok, transcript.render()
    assert transcript.said[-1] == "GET got 7"
    get_request = fake_hotline.received[2]
    assert (get_request.method, get_request.path) == ("GET", "/twilio/get-menu")
    assert get_request.query["via"] == "get"
    assert get_request.query["Digits"] == "7"
    assert get_request.query["CallSid"] == transcript.call_sid
    assert get_request.form == {}


@pytest.mark.parametrize("presses", [[], ["4"]])
def test_presses_exhausted_hangs_up_and_sends_status_callback(
    fake_hotline: FakeHotline, player: TwilioPlayer, presses: list[str]
) -> None:
    transcript = player.play_call(CALLER, presses)

    assert transcript.ok, transcript.render()
    assert transcript.end_reason == "caller hung up"
    assert transcript.lines[-1].kind is LineKind.HANGUP
    assert transcript.requests[-1].status_code == 204
    _assert_ended_with_one_status_callback(fake_hotline, transcript)


def test_dial_with_action_posts_dial_status(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["0"])

    assert transcript.ok, transcript.render()
    assert transcript.texts(LineKind.DIAL) == ["+8653288880000"]
    assert transcript.said[-1] == "dial completed"
    dial_done = fake_hotline.received[2]
    assert dial_done.path == "/twilio/dial-done"
    assert dial_done.form["DialCallStatus"] == "completed"
    assert re.fullmatch(r"\d+", dial_done.form["DialCallDuration"])


def test_record_posts_fake_recording_and_reject_ends(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["2"])

    assert transcript.ok, transcript.render()
    assert transcript.texts(LineKind.RECORD) == [f"{fake_hotline.base_url}/twilio/recorded"]
    recorded = fake_hotline.received[2].form
    assert recorded["RecordingSid"].startswith("RE")
    assert recorded["RecordingUrl"].endswith(recorded["RecordingSid"])
    assert transcript.said[-1] == f"recorded {recorded['RecordingDuration']} s"
    assert transcript.end_reason == "Reject"
    _assert_ended_with_one_status_callback(fake_hotline, transcript)


def test_unknown_verbs_and_sms_are_recorded_and_the_call_continues(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["*"])

    assert transcript.ok, transcript.render()
    assert transcript.texts(LineKind.UNKNOWN) == ["Echo"]
    assert transcript.texts(LineKind.SMS) == ["短信已发送"]
    assert transcript.texts(LineKind.PAUSE) == ["2"]
    assert transcript.said[-1] == GOODBYE
    assert transcript.end_reason == "end of document"
    _assert_ended_with_one_status_callback(fake_hotline, transcript)


def test_redirect_loop_is_cut_at_max_steps(fake_hotline: FakeHotline, player: TwilioPlayer) -> None:
    transcript = player.play_call(CALLER, ["1"], max_steps=8)

    assert not transcript.ok
    assert transcript.end_reason == "step limit"
    # 8 verbs: the Gather, the menu's Redirect and 6 of the loop's; 7 loop documents fetched.
    assert fake_hotline.paths().count("/twilio/loop") == 7
    assert len(transcript.texts(LineKind.REDIRECT)) == 7
    _assert_ended_with_one_status_callback(fake_hotline, transcript)


def test_server_error_makes_the_call_not_ok(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["5"])

    assert not transcript.ok
    assert transcript.end_reason == "application error"
    assert transcript.requests[2].status_code == 500
    assert any("HTTP 500" in error for error in transcript.errors)
    _assert_ended_with_one_status_callback(fake_hotline, transcript)


@pytest.mark.parametrize(
    ("digit", "message"),
    [
        ("6", "Content-Type 'text/html; charset=utf-8'"),
        ("7", "not XML"),
        ("8", "answered <html>"),
    ],
)
def test_answer_that_is_not_twiml_makes_the_call_not_ok(
    player: TwilioPlayer, digit: str, message: str
) -> None:
    transcript = player.play_call(CALLER, [digit])

    assert not transcript.ok
    assert transcript.requests[2].status_code == 200
    assert len(transcript.errors) == 1
    assert message in transcript.errors[0]
    assert transcript.end_reason == "application error"


def test_every_request_is_signed_for_the_url_it_was_sent_to(
    fake_hotline: FakeHotline, player: TwilioPlayer
) -> None:
    transcript = player.play_call(CALLER, ["", "3", "7"])

    validator = RequestValidator(AUTH_TOKEN)
    assert len(transcript.requests) == len(fake_hotline.received) == 5
    assert all(item.signature_ok for item in fake_hotline.received)
    for exchange in transcript.requests:
        signed_params = exchange.params if exchange.method == "POST" else {}
        assert validator.validate(exchange.url, signed_params, exchange.signature)
        assert exchange.status_code in (200, 204)


def test_wrong_auth_token_gets_403(fake_hotline: FakeHotline) -> None:
    with TwilioPlayer(
        fake_hotline.base_url, "not-the-token", ACCOUNT_SID, HOTLINE_NUMBER, timeout=5
    ) as intruder:
        transcript = intruder.play_call(CALLER, ["4"])

    assert not transcript.ok
    assert transcript.requests[0].status_code == 403
    assert "HTTP 403" in transcript.errors[0]
    assert transcript.said == []
    assert not any(item.signature_ok for item in fake_hotline.received)


def test_unreachable_server_is_an_error_not_an_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with TwilioPlayer(
        f"http://127.0.0.1:{port}", AUTH_TOKEN, ACCOUNT_SID, HOTLINE_NUMBER, timeout=2
    ) as player:
        transcript = player.play_call(CALLER, ["4"])

    assert not transcript.ok
    assert transcript.requests[0].status_code is None
    assert "failed" in transcript.errors[0]


def test_sms_reply_bodies_are_captured(fake_hotline: FakeHotline, player: TwilioPlayer) -> None:
    transcript = player.send_sms(CALLER, "查询进度 4")

    assert transcript.ok, transcript.render()
    assert transcript.replies == ["已收到：查询进度 4", "回复4查询办事进度。"]
    assert fake_hotline.paths() == ["/twilio/sms"]

    form = fake_hotline.received[0].form
    assert re.fullmatch(r"SM[0-9a-f]{32}", form["MessageSid"])
    assert form["SmsSid"] == form["MessageSid"] == transcript.message_sid
    assert form["Body"] == "查询进度 4"
    assert (form["From"], form["To"]) == (CALLER, HOTLINE_NUMBER)
    assert (form["NumMedia"], form["NumSegments"]) == ("0", "1")
    assert form["AccountSid"] == ACCOUNT_SID
    assert form["ApiVersion"] == "2010-04-01"


def test_sms_redirect_is_followed(fake_hotline: FakeHotline, player: TwilioPlayer) -> None:
    transcript = player.send_sms(CALLER, "redirect")

    assert transcript.ok, transcript.render()
    assert transcript.replies == ["redirected reply to redirect"]
    assert [exchange.url for exchange in transcript.requests] == [
        f"{fake_hotline.base_url}/twilio/sms",
        f"{fake_hotline.base_url}/twilio/sms/next?via=redirect",
    ]
    assert fake_hotline.received[1].form["MessageSid"] == transcript.message_sid


def test_sms_server_error_makes_the_transcript_not_ok(player: TwilioPlayer) -> None:
    transcript = player.send_sms(CALLER, "boom")

    assert not transcript.ok
    assert transcript.replies == []
    assert transcript.requests[0].status_code == 500


def test_call_render_masks_the_caller_and_shows_spoken_text(player: TwilioPlayer) -> None:
    transcript = player.play_call(CALLER, ["4", ""])

    rows = transcript.render().splitlines()
    assert rows[0] == (
        f"☎ call from +86138****8000 to {HOTLINE_NUMBER} ({transcript.call_sid[:4]}…)"
    )
    assert rows[1:] == [
        f"🔊 {WELCOME}",
        "⌨ 4",
        f"🔊 {ASK_CASE_NUMBER}",
        "⌨ (no input: timeout)",
        f"🔊 {NO_INPUT}",
        "☎ hung up (Hangup)",
    ]
    assert CALLER not in transcript.render()


def test_sms_render(player: TwilioPlayer) -> None:
    transcript = player.send_sms(CALLER, "4")

    assert transcript.render().splitlines() == [
        "✉ +86138****8000 → 4",
        "✉ reply: 已收到：4",
        "✉ reply: 回复4查询办事进度。",
    ]


def test_invalid_arguments_raise_value_error(player: TwilioPlayer) -> None:
    with pytest.raises(ValueError, match="absolute"):
        TwilioPlayer("127.0.0.1:5000", AUTH_TOKEN, ACCOUNT_SID, HOTLINE_NUMBER)
    with pytest.raises(ValueError, match="auth_token"):
        TwilioPlayer("http://127.0.0.1:5000", "", ACCOUNT_SID, HOTLINE_NUMBER)
    with pytest.raises(ValueError, match="max_steps"):
        player.play_call(CALLER, [], max_steps=0)


@pytest.mark.parametrize(
    ("text", "segments"),
    [("4", 1), ("a" * 160, 1), ("a" * 161, 2), ("查" * 70, 1), ("查" * 71, 2)],
)
def test_count_sms_segments(text: str, segments: int) -> None:
    assert count_sms_segments(text) == segments


@pytest.mark.parametrize(
    ("value", "presses"),
    [(None, []), ("4,1,2", ["4", "1", "2"]), ("4,,1", ["4", "", "1"]), ("", [""])],
)
def test_parse_presses(value: str | None, presses: list[str]) -> None:
    assert parse_presses(value) == presses


def _cli_env(fake_hotline: FakeHotline, token: str = AUTH_TOKEN) -> dict[str, str]:
    return {
        "PUBLIC_BASE_URL": fake_hotline.base_url,
        "TWILIO_AUTH_TOKEN": token,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_PHONE_NUMBER": HOTLINE_NUMBER,
    }


def test_cli_call_prints_transcript(fake_hotline: FakeHotline) -> None:
    result = CliRunner().invoke(
        call_command, ["--from", CALLER, "--press", ",9"], env=_cli_env(fake_hotline)
    )

    assert result.exit_code == 0, result.output
    assert "☎ call from +86138****8000 to +8653266660000" in result.output
    assert "⌨ (no input: timeout)" in result.output
    assert f"🔊 {GOODBYE}" in result.output
    assert fake_hotline.received[2].form["Digits"] == "9"


def test_cli_call_base_url_option_is_requested_and_signed(fake_hotline: FakeHotline) -> None:
    env = _cli_env(fake_hotline) | {"PUBLIC_BASE_URL": "http://127.0.0.1:9"}

    result = CliRunner().invoke(
        call_command,
        ["--from", CALLER, "--press", "9", "--base-url", fake_hotline.base_url],
        env=env,
    )

    assert result.exit_code == 0, result.output
    assert all(item.signature_ok for item in fake_hotline.received)


def test_cli_call_exits_non_zero_when_not_ok(fake_hotline: FakeHotline) -> None:
    result = CliRunner().invoke(
        call_command, ["--from", CALLER], env=_cli_env(fake_hotline, token="wrong")
    )

    assert result.exit_code == 1
    assert "HTTP 403" in result.output


def test_cli_sms_prints_replies(fake_hotline: FakeHotline) -> None:
    result = CliRunner().invoke(
        sms_command, ["--from", CALLER, "查询", "进度"], env=_cli_env(fake_hotline)
    )

    assert result.exit_code == 0, result.output
    assert "✉ +86138****8000 → 查询 进度" in result.output
    assert "✉ reply: 已收到：查询 进度" in result.output


def test_cli_sms_exits_non_zero_on_server_error(fake_hotline: FakeHotline) -> None:
    result = CliRunner().invoke(sms_command, ["--from", CALLER, "boom"], env=_cli_env(fake_hotline))

    assert result.exit_code == 1
    assert "HTTP 500" in result.output
