"""Signature checks behind a proxy, with ports, and on tampered requests (field cases 1, 2)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hotline.flows.models import Conversation
from hotline.web.signatures import is_signed
from tests.conftest import AUTH_TOKEN, PUBLIC_BASE_URL
from tests.twiml import call_params, signed_post, twiml


def test_genuine_request_signed_for_the_public_url_is_answered(client) -> None:
    response = signed_post(client, "/twilio/voice", call_params("CA1", "+8613800138000"))

    assert twiml(response).find("Gather") is not None


def test_request_signed_for_the_internal_address_is_refused(client, services) -> None:
    response = signed_post(
        client,
        "/twilio/voice",
        call_params("CA2", "+8613800138000"),
        base_url="http://127.0.0.1:8000",
    )

    assert response.status_code == 403
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_changed_parameter_is_refused(client) -> None:
    params = call_params("CA3", "+8613800138000")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + "/twilio/voice", params
    )

    tampered = {**params, "From": "+8613900000001"}
    response = client.post(
        "/twilio/voice", data=tampered, headers={"X-Twilio-Signature": signature}
    )

    assert response.status_code == 403


def test_missing_signature_is_refused(client) -> None:
    response = client.post("/twilio/sms", data={"From": "+8613800138000", "Body": "1"})

    assert response.status_code == 403


def test_forwarded_headers_do_not_change_the_url_checked(client) -> None:
    params = call_params("CA4", "+8613800138000")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://attacker.example.net/twilio/voice", params
    )

    response = client.post(
        "/twilio/voice",
        data=params,
        headers={
            "X-Twilio-Signature": signature,
            "X-Forwarded-Host": "attacker.example.net",
            "X-Forwarded-Proto": "https",
        },
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("public", "signed_as", "accepted"),
    [
        ("https://hotline.example.org", "https://hotline.example.org:443", True),
        ("https://hotline.example.org", "https://hotline.example.org", True),
        ("https://hotline.example.org:8443", "https://hotline.example.org:8443", True),
        ("https://hotline.example.org", "https://hotline.example.org:8000", False),
        ("https://hotline.example.org:8443", "https://hotline.example.org", False),
        ("https://hotline.example.org:443", "https://hotline.example.org", True),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000", True),
        ("http://127.0.0.1:5000", "http://127.0.0.1", False),
    ],
)
def test_ports_in_the_signed_url(app, public: str, signed_as: str, accepted: bool) -> None:
    params = {"CallSid": "CA5", "From": "+8613800138000"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_as + "/twilio/voice", params)

    with app.test_request_context(
        "/twilio/voice", method="POST", data=params, headers={"X-Twilio-Signature": signature}
    ):
        from flask import request

        assert is_signed(request, AUTH_TOKEN, public) is accepted
