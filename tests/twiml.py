"""Test helpers: sign requests the way Twilio does, and read TwiML answers as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlencode

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from tests.conftest import AUTH_TOKEN, HOTLINE_NUMBER, PUBLIC_BASE_URL


def signed_post(
    client: FlaskClient,
    path: str,
    params: dict[str, str],
    *,
    query: dict[str, str] | None = None,
    base_url: str = PUBLIC_BASE_URL,
    token: str = AUTH_TOKEN,
) -> TestResponse:
    """POST `params` to `path`, signed for `base_url` + path + query with `token`."""
    target = path + (f"?{urlencode(query)}" if query else "")
    signature = RequestValidator(token).compute_signature(base_url + target, params)
    return client.post(target, data=params, headers={"X-Twilio-Signature": signature})


def call_params(call_sid: str, caller: str, **extra: str) -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": caller,
        "To": HOTLINE_NUMBER,
        "CallStatus": "in-progress",
        "Direction": "inbound",
        **extra,
    }


def sms_params(message_sid: str, sender: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": sender,
        "To": HOTLINE_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }


def twiml(response: TestResponse) -> ET.Element:
    """The parsed TwiML of a webhook answer; fails unless it is 200 XML with a Response root."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype in {"text/xml", "application/xml"}, response.mimetype
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    return root


def spoken(root: ET.Element) -> str:
    """Every Say text of the document, in order, joined."""
    return " ".join((say.text or "") for say in root.iter("Say"))


def gather(root: ET.Element) -> ET.Element | None:
    return root.find("Gather")


def messages(root: ET.Element) -> list[str]:
    return [(message.text or "") for message in root.iter("Message")]


def press(client: FlaskClient, root: ET.Element, call_sid: str, caller: str, digits: str):
    """Enter `digits` at the document's Gather, posting to its action like Twilio does."""
    node = root.find("Gather")
    assert node is not None, "expected a Gather"
    path, _, query = (node.get("action") or "").partition("?")
    params = dict(pair.split("=") for pair in query.split("&")) if query else {}
    response = signed_post(client, path, call_params(call_sid, caller, Digits=digits), query=params)
    return twiml(response)
