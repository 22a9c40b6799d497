"""The emulator's Flask app: Twilio's Messages and Calls REST endpoints, in memory."""

from __future__ import annotations

import hmac
import html
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import MethodNotAllowed, NotFound

from hotline.emulator.errors import TwilioApiError, bad_request, not_found, unauthorized
from hotline.emulator.lifecycle import start_call_lifecycle, start_message_lifecycle
from hotline.emulator.listing import build_page, call_filter, message_filter, parse_page_request
from hotline.emulator.segments import count_segments
from hotline.emulator.store import CallRecord, EmulatorStore, MessageRecord, new_sid
from hotline.phones import mask

logger = logging.getLogger(__name__)

EXTENSION_KEY = "twilio_emulator"
ACCOUNT_SID_PATTERN = re.compile(r"^AC[0-9a-fA-F]{32}$")
MESSAGING_SERVICE_SID_PATTERN = re.compile(r"^MG[0-9a-fA-F]{32}$")
E164_PATTERN = re.compile(r"^\+[1-9]\d{1,14}$")
SHORT_CODE_PATTERN = re.compile(r"^\d{3,8}$")
ALPHANUMERIC_SENDER_PATTERN = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
CALL_ENDPOINT_PREFIXES = ("client:", "sip:")
CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})
DEFAULT_CALL_EVENTS = frozenset({"completed"})
MAX_BODY_CHARS = 1600
INDEX_ROWS = 50

api = Blueprint("twilio_api", __name__, url_prefix="/2010-04-01/Accounts/<account_sid>")


@dataclass(frozen=True)
class EmulatorState:
    """What the emulator's request handlers share: the store and the account they serve."""

    store: EmulatorStore
    account_sid: str
    auth_token: str
    callback_delay: float
    deliver_callbacks: bool = True

    def callback_url(self, requested: str | None) -> str | None:
        """Where to post status callbacks: the requested URL, unless delivery is off."""
        return requested if self.deliver_callbacks else None


def create_emulator_app(
    account_sid: str,
    auth_token: str,
    *,
    callback_delay: float = 0.2,
    deliver_callbacks: bool = True,
) -> Flask:
    """Build the emulator's own Flask app serving one Twilio account from an empty store.

    Requests must authenticate with HTTP Basic `account_sid`:`auth_token`. Status
    callbacks are posted `callback_delay` seconds apart; with `deliver_callbacks` off the
    statuses still progress but nothing is posted (for apps that are not served). The
    store is reachable as `emulator_state(app).store`. Raises ValueError when
    `account_sid` is not `AC` and 32 hex digits, `auth_token` is empty or `callback_delay`
    is negative.
    """
    if not ACCOUNT_SID_PATTERN.fullmatch(account_sid):
        raise ValueError("account_sid must be 'AC' followed by 32 hex digits")
    if not auth_token:
        raise ValueError("auth_token must not be empty")
    if callback_delay < 0:
        raise ValueError("callback_delay must not be negative")

    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = EmulatorState(
        store=EmulatorStore(),
        account_sid=account_sid,
        auth_token=auth_token,
        callback_delay=callback_delay,
        deliver_callbacks=deliver_callbacks,
    )

    app.register_blueprint(api)
    app.add_url_rule("/", "index", index)
    app.register_error_handler(TwilioApiError, _twilio_error)
    app.register_error_handler(NotFound, _route_not_found)
    app.register_error_handler(MethodNotAllowed, _method_not_allowed)
    logger.info("Twilio emulator app created for account %s", account_sid)
    return app


def emulator_state(app: Flask) -> EmulatorState:
    """Return the state of an app made by create_emulator_app; KeyError for any other app."""
    return app.extensions[EXTENSION_KEY]


def _state() -> EmulatorState:
    return emulator_state(current_app)


def _twilio_error(error: TwilioApiError) -> tuple[Response, int, dict[str, str]]:
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if error.status == 401 else {}
    return jsonify(error.to_json()), error.status, headers


def _route_not_found(_: NotFound) -> tuple[Response, int, dict[str, str]]:
    return _twilio_error(not_found(request.path))


def _method_not_allowed(_: MethodNotAllowed) -> tuple[Response, int, dict[str, str]]:
    return _twilio_error(TwilioApiError(405, 20004, "Method not allowed"))


def _same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@api.before_request
def _authenticate() -> None:
    state = _state()
    credentials = request.authorization
    if (
        credentials is None
        or credentials.type != "basic"
        or not _same_secret(credentials.username, state.account_sid)
        or not _same_secret(credentials.password, state.auth_token)
    ):
        logger.info("rejected unauthenticated %s %s", request.method, request.path)
        raise unauthorized()

    if (request.view_args or {}).get("account_sid") != state.account_sid:
        raise not_found(request.path)


def _field(name: str) -> str | None:
    """A form parameter, with surrounding spaces removed; None when missing or blank."""
    value = request.form.get(name, "").strip()
    return value or None


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_message_recipient(to: str | None) -> str:
    if to is None:
        raise bad_request(21604, "A 'To' phone number is required.")
    if not E164_PATTERN.fullmatch(to):
        raise bad_request(21211, f"The 'To' number {to} is not a valid phone number.")
    return to


def _check_sender(from_: str) -> None:
    if not (
        E164_PATTERN.fullmatch(from_)
        or SHORT_CODE_PATTERN.fullmatch(from_)
        or ALPHANUMERIC_SENDER_PATTERN.fullmatch(from_)
    ):
        raise bad_request(
            21212,
            f"The 'From' number {from_} is not a valid phone number, shortcode, "
            "or alphanumeric sender ID.",
        )


def _check_status_callback(url: str | None) -> None:
    if url is not None and not _is_http_url(url):
        raise bad_request(21609, f"The StatusCallback URL {url} is not a valid URL.")


def _check_message_sender(from_: str | None, service_sid: str | None) -> None:
    if from_ is None and service_sid is None:
        raise bad_request(21603, "A 'From' phone number is required.")
    if service_sid is not None and not MESSAGING_SERVICE_SID_PATTERN.fullmatch(service_sid):
        raise bad_request(21701, f"The Messaging Service Sid {service_sid} is invalid.")
    if from_ is not None:
        _check_sender(from_)


def _check_message_body(body: str, media_urls: list[str]) -> None:
    if not body and not media_urls:
        raise bad_request(21602, "Message body is required.")
    if len(body) > MAX_BODY_CHARS:
        raise bad_request(
            21617,
            f"The concatenated message body exceeds the {MAX_BODY_CHARS} character limit.",
        )


@api.post("/Messages.json")
def create_message(account_sid: str) -> tuple[Response, int]:
    """Twilio's Message create: validated like Twilio, stored `queued`, answered 201."""
    state = _state()
    to = _check_message_recipient(_field("To"))
    from_, service_sid = _field("From"), _field("MessagingServiceSid")
    body = request.form.get("Body", "")
    media_urls = [url for url in request.form.getlist("MediaUrl") if url]
    status_callback = _field("StatusCallback")

    _check_message_sender(from_, service_sid)
    _check_message_body(body, media_urls)
    _check_status_callback(status_callback)

    record = MessageRecord(
        sid=new_sid("MM" if media_urls else "SM"),
        account_sid=account_sid,
        to=to,
        from_=from_,
        body=body,
        messaging_service_sid=service_sid,
        status_callback=status_callback,
        num_segments=count_segments(body),
        num_media=len(media_urls),
    )
    message = state.store.add_message(record)
    logger.info("message %s queued to %s (%d segments)", record.sid, mask(to), record.num_segments)

    start_message_lifecycle(
        state.store,
        record.sid,
        state.callback_url(status_callback),
        state.auth_token,
        state.callback_delay,
    )
    return jsonify(message), 201


@api.get("/Messages.json")
def list_messages(account_sid: str) -> Response:
    """Twilio's Message list: newest first, filtered by To, From and DateSent, paged."""
    state = _state()
    filters, keep = message_filter(request.args)
    paging = parse_page_request(request.args)

    records = state.store.list_messages(keep)
    return jsonify(build_page(records, "messages", request.path, filters, paging))


@api.get("/Messages/<sid>.json")
def fetch_message(account_sid: str, sid: str) -> Response:
    """Twilio's Message fetch; 404 (code 20404) for an unknown SID."""
    message = _state().store.message_json(sid)
    if message is None:
        raise not_found(request.path)
    return jsonify(message)


def _check_call_endpoint(value: str, role: str, code: int) -> None:
    if value.startswith(CALL_ENDPOINT_PREFIXES):
        return
    if not E164_PATTERN.fullmatch(value):
        raise bad_request(code, f"The '{role}' number {value} is not a valid phone number.")


def _check_call_instructions(url: str | None, twiml: str | None, app_sid: str | None) -> None:
    if url is None and twiml is None and app_sid is None:
        raise bad_request(21205, "Url parameter is required.")
    if url is not None and not _is_http_url(url):
        raise bad_request(21205, f"Url is not a valid URL: {url}")


def _call_events() -> frozenset[str]:
    """StatusCallbackEvent values (repeated or space-separated); Twilio's default otherwise."""
    requested = {
        event for value in request.form.getlist("StatusCallbackEvent") for event in value.split()
    }
    unknown = requested - CALL_EVENTS
    if unknown:
        logger.warning("ignoring unknown StatusCallbackEvent values: %s", sorted(unknown))
    return frozenset(requested & CALL_EVENTS) or DEFAULT_CALL_EVENTS


@api.post("/Calls.json")
def create_call(account_sid: str) -> tuple[Response, int]:
    """Twilio's Call create: validated like Twilio, stored `queued`, answered 201."""
    state = _state()
    to, from_ = _field("To"), _field("From")
    url, twiml = _field("Url"), _field("Twiml")
    status_callback = _field("StatusCallback")

    if to is None:
        raise bad_request(21201, "No 'To' number is specified")
    _check_call_endpoint(to, "To", 21211)
    if from_ is None:
        raise bad_request(21213, "No 'From' number is specified")
    _check_call_endpoint(from_, "From", 21212)
    _check_call_instructions(url, twiml, _field("ApplicationSid"))
    _check_status_callback(status_callback)

    events = _call_events()
    record = CallRecord(
        sid=new_sid("CA"),
        account_sid=account_sid,
        to=to,
        from_=from_,
        url=url,
        twiml=twiml,
        status_callback=status_callback,
        status_callback_events=tuple(sorted(events)),
    )
    call = state.store.add_call(record)
    logger.info("call %s queued to %s", record.sid, mask(to))

    start_call_lifecycle(
        state.store,
        record.sid,
        state.callback_url(status_callback),
        events,
        state.auth_token,
        state.callback_delay,
    )
    return jsonify(call), 201


@api.get("/Calls.json")
def list_calls(account_sid: str) -> Response:
    """Twilio's Call list: newest first, filtered by To, From and Status, paged."""
    state = _state()
    filters, keep = call_filter(request.args)
    paging = parse_page_request(request.args)

    records = state.store.list_calls(keep)
    return jsonify(build_page(records, "calls", request.path, filters, paging))


@api.get("/Calls/<sid>.json")
def fetch_call(account_sid: str, sid: str) -> Response:
    """Twilio's Call fetch; 404 (code 20404) for an unknown SID."""
    call = _state().store.call_json(sid)
    if call is None:
        raise not_found(request.path)
    return jsonify(call)


def index() -> Response:
    """A plain HTML page listing the most recent messages and calls, for a human at a demo."""
    store = _state().store
    messages = store.list_messages()[:INDEX_ROWS]
    calls = store.list_calls()[:INDEX_ROWS]

    lines = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>Twilio emulator</title></head><body>",
        f"<h1>Twilio emulator</h1><h2>Messages ({len(messages)} most recent)</h2>",
        "<table border='1'><tr><th>Created</th><th>To</th><th>Status</th><th>Body</th></tr>",
    ]
    lines += [_row(m["date_created"], m["to"], m["status"], m["body"]) for m in messages]
    lines.append("</table>")
    lines.append(f"<h2>Calls ({len(calls)} most recent)</h2>")
    lines.append("<table border='1'><tr><th>Created</th><th>To</th><th>Status</th></tr>")
    lines += [_row(c["date_created"], c["to"], c["status"]) for c in calls]
    lines.append("</table></body></html>")
    return Response("\n".join(lines), mimetype="text/html")


def _row(*cells: Any) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(c or ''))}</td>" for c in cells) + "</tr>"
