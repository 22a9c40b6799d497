"""Fixtures for the simulator tests: a small fake hotline served over real HTTP."""

import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse
from werkzeug.serving import make_server

from hotline.simulator import TwilioPlayer

logger = logging.getLogger(__name__)

AUTH_TOKEN = "test-auth-token-1234567890abcdef"
ACCOUNT_SID = "AC" + "1" * 32
HOTLINE_NUMBER = "+8653266660000"
CALLER = "+8613800138000"

WELCOME = "欢迎致电崂山区社区服务热线。查询办事进度请按4，结束请按9。"
NO_INPUT = "没有收到您的按键。"
ASK_CASE_NUMBER = "请输入您的受理编号，以井号键结束。"
GOODBYE = "感谢来电，再见。"

BROKEN_BY_DIGIT = {"5": "status-500", "6": "plain-text", "7": "not-xml", "8": "html-root"}


@dataclass
class Received:
    """One request as the fake hotline saw it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    signature_ok: bool


class FakeHotline:
    """A Flask app answering the Twilio webhooks with TwiML built by the twilio library."""

    def __init__(self, auth_token: str) -> None:
        self.auth_token = auth_token
        self.base_url = ""
        self.received: list[Received] = []
        self.app = self._build_app()

    def paths(self) -> list[str]:
        """Return the paths requested so far, in order."""
        return [item.path for item in self.received]

    def _check_signature(self) -> Response | None:
        validator = RequestValidator(self.auth_token)
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = validator.validate(request.url, request.form, signature)

        self.received.append(
            Received(
                request.method,
                request.path,
                request.args.to_dict(),
                request.form.to_dict(),
                valid,
            )
        )

        if not valid:
            logger.info("fake hotline: bad signature for %s", request.url)
            return Response("invalid signature", status=403)
        return None

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.before_request(self._check_signature)
        app.add_url_rule("/twilio/voice", view_func=_voice, methods=["POST"])
        app.add_url_rule("/twilio/menu", view_func=_menu, methods=["POST"])
        app.add_url_rule("/twilio/progress/lookup", view_func=_lookup, methods=["POST"])
        app.add_url_rule("/twilio/get-menu", view_func=_get_menu, methods=["GET"])
        app.add_url_rule("/twilio/dial-done", view_func=_dial_done, methods=["POST"])
        app.add_url_rule("/twilio/recorded", view_func=_recorded, methods=["POST"])
        app.add_url_rule("/twilio/loop", view_func=_loop, methods=["POST"])
        app.add_url_rule("/twilio/broken/<kind>", view_func=_broken, methods=["POST"])
        app.add_url_rule("/twilio/status", view_func=_status, methods=["POST"])
        app.add_url_rule("/twilio/sms", view_func=_sms, methods=["POST"])
        app.add_url_rule("/twilio/sms/next", view_func=_sms_next, methods=["POST"])
        return app


def _twiml(response: VoiceResponse | MessagingResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _voice() -> Response:
    response = VoiceResponse()
    gather = Gather(action="menu?step=main", num_digits=1, timeout=3)
    gather.say(WELCOME, language="zh-CN")
    response.append(gather)
    response.say(NO_INPUT, language="zh-CN")
    response.redirect("voice?retry=1")
    return _twiml(response)


def _menu() -> Response:
    digits = request.form.get("Digits", "")
    response = VoiceResponse()

    if digits == "4":
        gather = Gather(action="progress/lookup?case=new", finish_on_key="#")
        gather.say(ASK_CASE_NUMBER, language="zh-CN")
        response.append(gather)
        response.say(NO_INPUT, language="zh-CN")
        response.hangup()
    elif digits == "9":
        response.say(GOODBYE, language="zh-CN")
        response.hangup()
    elif digits == "3":
        gather = Gather(action="/twilio/get-menu?via=get", method="GET", num_digits=1)
        gather.say("GET menu", language="en-US")
        response.append(gather)
    elif digits == "0":
        response.dial("+8653288880000", action="dial-done")
    elif digits == "2":
        response.record(action="recorded", max_length=60)
    elif digits == "1":
        response.redirect("loop")
    elif digits == "*":
        response.echo()
        response.sms("短信已发送")
        response.pause(length=2)
        response.say(GOODBYE, language="zh-CN")
    elif digits in BROKEN_BY_DIGIT:
        response.redirect(f"/twilio/broken/{BROKEN_BY_DIGIT[digits]}")
    else:
        response.redirect("/twilio/voice")
    return _twiml(response)


def _lookup() -> Response:
    response = VoiceResponse()
    response.say(f"受理编号{request.form['Digits']}的办理进度：已受理。", language="zh-CN")
    response.hangup()
    return _twiml(response)


def _get_menu() -> Response:
    response = VoiceResponse()
    response.say(f"GET got {request.args['Digits']}", language="en-US")
    response.hangup()
    return _twiml(response)


def _dial_done() -> Response:
    response = VoiceResponse()
    response.say(f"dial {request.form['DialCallStatus']}", language="en-US")
    response.hangup()
    return _twiml(response)


def _recorded() -> Response:
    response = VoiceResponse()
    response.say(f"recorded {request.form['RecordingDuration']} s", language="en-US")
    response.reject()
    return _twiml(response)


def _loop() -> Response:
    response = VoiceResponse()
    response.redirect("loop")
    return _twiml(response)


def _broken(kind: str) -> Response:
    if kind == "status-500":
        return Response("internal error", status=500, mimetype="text/plain")
    if kind == "plain-text":
        return Response(str(VoiceResponse().say("hi")), mimetype="text/html")
    if kind == "not-xml":
        return Response("this is not XML", mimetype="text/xml")
    page = ET.Element("html")
    ET.SubElement(page, "body").text = "wrong root"
    return Response(ET.tostring(page, encoding="unicode"), mimetype="text/xml")


def _status() -> Response:
    return Response(status=204)


def _sms() -> Response:
    body = request.form["Body"]
    response = MessagingResponse()

    if body == "boom":
        return Response("internal error", status=500)
    if body == "redirect":
        response.redirect("sms/next?via=redirect")
    else:
        response.message(f"已收到：{body}")
        response.message("回复4查询办事进度。")
    return _twiml(response)


def _sms_next() -> Response:
    response = MessagingResponse()
    response.message(f"redirected reply to {request.form['Body']}")
    return _twiml(response)


@pytest.fixture
def fake_hotline() -> Iterator[FakeHotline]:
    """A fake hotline served on a free local port for the duration of one test."""
    hotline = FakeHotline(AUTH_TOKEN)
    server = make_server("127.0.0.1", 0, hotline.app, threaded=True)
    hotline.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()

    yield hotline

    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def player(fake_hotline: FakeHotline) -> Iterator[TwilioPlayer]:
    """A player signing with the fake hotline's auth token."""
    with TwilioPlayer(
        fake_hotline.base_url, AUTH_TOKEN, ACCOUNT_SID, HOTLINE_NUMBER, timeout=5
    ) as simulator:
        yield simulator
