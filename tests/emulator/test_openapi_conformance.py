"""The emulator against Twilio's own OpenAPI document: real client requests, emulator responses.

The document's servers name https://api.twilio.com only; the emulator's base URL is declared
as one more server of the API, so openapi-core still matches host and path of every request.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import ServerNotFound
from openapi_core.validation.request.exceptions import SecurityValidationError
from openapi_core.validation.response.exceptions import InvalidData
from twilio.rest import Client
from werkzeug.wrappers import Response as WerkzeugResponse

from hotline.emulator import EmulatorServer
from hotline.telephony.client import make_twilio_client

from .support import ACCOUNT_SID, AUTH_TOKEN, HOTLINE_NUMBER, close_client, wait_until

# Twilio's document is reference data kept beside the project (../shared/twilio-oai/), not
# in it; TWILIO_OPENAPI_SPEC names another copy.
SPEC_PATH = Path(
    os.environ.get("TWILIO_OPENAPI_SPEC")
    or Path(__file__).resolve().parents[3] / "shared" / "twilio-oai" / "twilio_api_v2010.json"
)
RESIDENT = "+8613800138000"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
LIST_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json?"


def _is_rfc2822(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return parsedate_to_datetime(value).tzinfo is not None
    except (TypeError, ValueError):
        return False


def _is_phone_number(value: object) -> bool:
    return not isinstance(value, str) or bool(E164.fullmatch(value))


# Beyond the document's bare schemas: its own formats are checked and every documented
# response field must be present. (Forbidding extra properties everywhere would also reject
# the free-form `subresource_uris` map, so undocumented fields are checked by
# assert_only_documented_fields instead.)
STRICT_CONFIG = Config(
    extra_format_validators={
        "date-time-rfc-2822": _is_rfc2822,
        "phone-number": _is_phone_number,
    },
    response_properties_default_policy="required",
)
RESOURCE_SCHEMAS = {"messages": "api.v2010.account.message", "calls": "api.v2010.account.call"}


def spec_with_server(spec: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A copy of `spec` declaring `base_url` as one more server, wherever servers are set."""
    extra = {"url": base_url, "description": "local Twilio emulator"}
    paths = {}
    for name, item in spec["paths"].items():
        servers = item.get("servers")
        paths[name] = {**item, "servers": [*servers, extra]} if servers else item
    return {**spec, "servers": [*spec.get("servers", []), extra], "paths": paths}


class ExchangeRecorder:
    """A requests response hook keeping every response (with its prepared request)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.responses: list[requests.Response] = []

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        with self._lock:
            self.responses.append(response)

    def last(self) -> requests.Response:
        """The most recent response the client received."""
        with self._lock:
            return self.responses[-1]


@pytest.fixture(scope="module")
def twilio_spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        message = f"Twilio's OpenAPI document is missing: {SPEC_PATH} (set TWILIO_OPENAPI_SPEC)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def conformance_emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(ACCOUNT_SID, AUTH_TOKEN, callback_delay=0.02) as server:
        yield server


@pytest.fixture(scope="module")
def openapi(twilio_spec: dict[str, Any], conformance_emulator: EmulatorServer) -> OpenAPI:
    return OpenAPI.from_dict(
        spec_with_server(twilio_spec, conformance_emulator.base_url), config=STRICT_CONFIG
    )


@pytest.fixture
def recorder() -> ExchangeRecorder:
    return ExchangeRecorder()


@pytest.fixture
def recorded_client(
    conformance_emulator: EmulatorServer, recorder: ExchangeRecorder
) -> Iterator[Client]:
    twilio_client = make_twilio_client(ACCOUNT_SID, AUTH_TOKEN, conformance_emulator.base_url)
    twilio_client.http_client.request_hooks["response"].append(recorder)
    yield twilio_client
    close_client(twilio_client)


def undocumented_fields(spec: dict[str, Any], body: dict[str, Any]) -> set[str]:
    """Fields of a Message/Call resource (or of each one in a list page) the schema lacks."""
    schemas = spec["components"]["schemas"]
    for key, schema_name in RESOURCE_SCHEMAS.items():
        if key in body:
            documented = set(schemas[schema_name]["properties"])
            return {field for item in body[key] for field in item} - documented
    resource = "message" if body.get("sid", "").startswith(("SM", "MM")) else "call"
    return set(body) - set(schemas[f"api.v2010.account.{resource}"]["properties"])


def assert_exchange_conforms(
    openapi: OpenAPI, spec: dict[str, Any], response: requests.Response
) -> None:
    """Validate the request the client really sent and the response it got."""
    request = RequestsOpenAPIRequest(response.request)

    openapi.validate_request(request)
    openapi.validate_response(request, RequestsOpenAPIResponse(response))
    assert undocumented_fields(spec, response.json()) == set()


def test_message_create_conforms(
    openapi: OpenAPI,
    twilio_spec: dict[str, Any],
    recorded_client: Client,
    recorder: ExchangeRecorder,
) -> None:
    recorded_client.messages.create(
        to=RESIDENT,
        from_=HOTLINE_NUMBER,
        body="您的预受理编号 LS-0001 已登记",
        status_callback="https://hotline.example/twilio/sms/status",
    )
    exchange = recorder.last()

    assert exchange.status_code == 201
    assert exchange.request.method == "POST"
    assert_exchange_conforms(openapi, twilio_spec, exchange)


def test_message_create_with_service_conforms(
    openapi: OpenAPI,
    twilio_spec: dict[str, Any],
    recorded_client: Client,
    recorder: ExchangeRecorder,
) -> None:
    recorded_client.messages.create(to=RESIDENT, messaging_service_sid="MG" + "c" * 32, body="hi")

    assert recorder.last().json()["from"] is None
    assert_exchange_conforms(openapi, twilio_spec, recorder.last())


def test_message_fetch_conforms_in_every_status(
    openapi: OpenAPI,
    twilio_spec: dict[str, Any],
    recorded_client: Client,
    recorder: ExchangeRecorder,
) -> None:
    delivered = recorded_client.messages.create(to=RESIDENT, from_=HOTLINE_NUMBER, body="a")
    undelivered = recorded_client.messages.create(
        to="+8613700000000", from_=HOTLINE_NUMBER, body="b"
    )
    done = ("delivered", "undelivered")
    assert wait_until(lambda: recorded_client.messages(delivered.sid).fetch().status in done)
    assert wait_until(lambda: recorded_client.messages(undelivered.sid).fetch().status in done)

    for sid in (delivered.sid, undelivered.sid):
        recorded_client.messages(sid).fetch()
        assert recorder.last().status_code == 200
        assert_exchange_conforms(openapi, twilio_spec, recorder.last())
    assert recorder.last().json()["error_code"] == 30003


def test_message_list_pages_conform(
    openapi: OpenAPI,
    twilio_spec: dict[str, Any],
    recorded_client: Client,
    recorder: ExchangeRecorder,
) -> None:
    sids = [
        recorded_client.messages.create(to=RESIDENT, from_=HOTLINE_NUMBER, body=f"m{n}").sid
        for n in range(3)
    ]
    for sid in sids:
        assert wait_until(
            lambda sid=sid: recorded_client.messages(sid).fetch().status == "delivered"
        )
    yesterday = datetime.now(UTC) - timedelta(days=1)

    listed = recorded_client.messages.list(to=RESIDENT, date_sent_after=yesterday, page_size=2)
    recorded_client.messages.list(to=RESIDENT, date_sent=datetime.now(UTC), page_size=50)

    list_exchanges = [r for r in recorder.responses if r.request.path_url.startswith(LIST_PATH)]
    assert set(sids) <= {message.sid for message in listed}
    assert any(exchange.json()["next_page_uri"] for exchange in list_exchanges)
    assert len(list_exchanges) >= 3
    for exchange in list_exchanges:
        assert exchange.status_code == 200
        assert_exchange_conforms(openapi, twilio_spec, exchange)


def test_call_create_fetch_and_list_conform(
    openapi: OpenAPI,
    twilio_spec: dict[str, Any],
    recorded_client: Client,
    recorder: ExchangeRecorder,
) -> None:
    call = recorded_client.calls.create(
        to=RESIDENT,
        from_=HOTLINE_NUMBER,
        url="https://hotline.example/twilio/voice/outbound",
        status_callback="https://hotline.example/twilio/voice/status",
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    created = recorder.last()
    assert wait_until(lambda: recorded_client.calls(call.sid).fetch().status == "completed")
    fetched = recorder.last()
    recorded_client.calls.list(to=RESIDENT, status="completed", page_size=10)
    listed = recorder.last()

    assert (created.status_code, fetched.status_code, listed.status_code) == (201, 200, 200)
    for exchange in (created, fetched, listed):
        assert_exchange_conforms(openapi, twilio_spec, exchange)


# --- The checks themselves can fail ----------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda body: body.update(status="pending"), "pending"),
        (lambda body: body.update(direction="outbound"), "outbound"),
        (lambda body: body.update(sid="SM123"), "SM123"),
        (lambda body: body.update(num_segments=1), "num_segments"),
        (lambda body: body.update(date_created="2024-05-01T08:00:00Z"), "date_created"),
        (lambda body: body.pop("price_unit"), "price_unit"),
    ],
)
def test_validator_rejects_a_non_twilio_message(
    openapi: OpenAPI,
    recorded_client: Client,
    recorder: ExchangeRecorder,
    change: Any,
    reason: str,
) -> None:
    recorded_client.messages.create(to=RESIDENT, from_=HOTLINE_NUMBER, body="hi")
    exchange = recorder.last()
    body = exchange.json()
    change(body)
    tampered = WerkzeugResponse(
        json.dumps(body), status=exchange.status_code, content_type="application/json"
    )

    with pytest.raises(InvalidData) as caught:
        openapi.validate_response(
            RequestsOpenAPIRequest(exchange.request), WerkzeugOpenAPIResponse(tampered)
        )

    assert reason in str(caught.value.__cause__ or caught.value)


def test_undocumented_field_is_detected(
    twilio_spec: dict[str, Any], recorded_client: Client, recorder: ExchangeRecorder
) -> None:
    recorded_client.messages.create(to=RESIDENT, from_=HOTLINE_NUMBER, body="hi")
    body = recorder.last().json()
    body["from_"] = body["from"]

    assert undocumented_fields(twilio_spec, body) == {"from_"}
    assert undocumented_fields(twilio_spec, {"messages": [body], "page": 0}) == {"from_"}


def test_untampered_copy_is_accepted(
    openapi: OpenAPI, recorded_client: Client, recorder: ExchangeRecorder
) -> None:
    recorded_client.messages.create(to=RESIDENT, from_=HOTLINE_NUMBER, body="hi")
    exchange = recorder.last()
    copy = WerkzeugResponse(exchange.content, status=201, content_type="application/json")

    openapi.validate_response(
        RequestsOpenAPIRequest(exchange.request), WerkzeugOpenAPIResponse(copy)
    )


def test_validator_checks_the_host(openapi: OpenAPI, conformance_emulator: EmulatorServer) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    request = requests.Request(
        "POST",
        f"http://127.0.0.2:9{path}",
        data={"To": RESIDENT, "From": HOTLINE_NUMBER, "Body": "hi"},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
    )

    with pytest.raises(ServerNotFound):
        openapi.validate_request(RequestsOpenAPIRequest(request))


def test_validator_requires_basic_auth(
    openapi: OpenAPI, conformance_emulator: EmulatorServer
) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    request = requests.Request(
        "POST",
        conformance_emulator.base_url + path,
        data={"To": RESIDENT, "From": HOTLINE_NUMBER, "Body": "hi"},
    )

    with pytest.raises(SecurityValidationError):
        openapi.validate_request(RequestsOpenAPIRequest(request))
