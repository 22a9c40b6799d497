"""Background status progressions of emulated messages and calls, with signed status callbacks.
A recipient ending in `0000` is the failure hook: messages end `undelivered`, calls `no-answer`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from hotline.emulator.store import API_VERSION, EmulatorStore, utc_now
from hotline.phones import mask

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 5.0
CALLBACK_USER_AGENT = "TwilioProxy/1.1"
FAILURE_SUFFIX = "0000"
UNDELIVERED_ERROR_CODE = 30003
UNDELIVERED_ERROR_MESSAGE = "Unreachable destination handset"
EMULATED_CALL_SECONDS = 5


def is_failure_number(number: str) -> bool:
    """True when `number` triggers the emulator's failure hook (last four digits `0000`)."""
    return number.endswith(FAILURE_SUFFIX)


def send_status_callback(
    url: str, params: Mapping[str, str], auth_token: str, resource_sid: str
) -> bool:
    """POST `params` form-encoded to `url`, signed like Twilio with `X-Twilio-Signature`.

    The signature is the twilio library's own computation over the exact URL and
    parameters. Returns True on a 2xx answer. Never raises: a network failure or an
    error status is logged as a warning and gives False.
    """
    signature = RequestValidator(auth_token).compute_signature(url, dict(params))
    headers = {"X-Twilio-Signature": signature, "User-Agent": CALLBACK_USER_AGENT}

    try:
        response = requests.post(
            url, data=dict(params), headers=headers, timeout=CALLBACK_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        logger.warning("status callback for %s to %s failed: %s", resource_sid, url, error)
        return False

    if not response.ok:
        logger.warning(
            "status callback for %s to %s answered HTTP %s",
            resource_sid,
            url,
            response.status_code,
        )
        return False
    return True


def start_message_lifecycle(
    store: EmulatorStore,
    sid: str,
    status_callback: str | None,
    auth_token: str,
    delay: float,
) -> threading.Thread:
    """Start a daemon thread moving message `sid` through `sent` to its final status.

    Each step waits `delay` seconds, updates the stored message, then posts the status
    callback to `status_callback` when there is one. Returns the started thread.
    """
    thread = threading.Thread(
        target=_run_message_lifecycle,
        args=(store, sid, status_callback, auth_token, delay),
        name=f"emulator-{sid}",
        daemon=True,
    )
    thread.start()
    return thread


def start_call_lifecycle(
    store: EmulatorStore,
    sid: str,
    status_callback: str | None,
    events: frozenset[str],
    auth_token: str,
    delay: float,
) -> threading.Thread:
    """Start a daemon thread moving call `sid` through ringing and in-progress to its end.

    Each step waits `delay` seconds and updates the stored call; `status_callback` is
    posted for the steps named in `events` (`initiated`, `ringing`, `answered`,
    `completed`). Returns the started thread.
    """
    thread = threading.Thread(
        target=_run_call_lifecycle,
        args=(store, sid, status_callback, events, auth_token, delay),
        name=f"emulator-{sid}",
        daemon=True,
    )
    thread.start()
    return thread


def _run_message_lifecycle(
    store: EmulatorStore, sid: str, status_callback: str | None, auth_token: str, delay: float
) -> None:
    created = store.message_json(sid)
    if created is None:
        return

    final = "undelivered" if is_failure_number(created["to"]) else "delivered"

    for status in ("sent", final):
        if store.stopping.wait(delay):
            return
        changes: dict[str, object] = {"status": status}
        if status == "sent":
            changes["date_sent"] = utc_now()
        if status == "undelivered":
            changes["error_code"] = UNDELIVERED_ERROR_CODE
            changes["error_message"] = UNDELIVERED_ERROR_MESSAGE
        message = store.update_message(sid, **changes)
        logger.info("message %s to %s is now %s", sid, mask(message["to"]), status)
        if status_callback:
            send_status_callback(status_callback, _message_params(message), auth_token, sid)


def _message_params(message: Mapping[str, Any]) -> dict[str, str]:
    params = {
        "MessageSid": message["sid"],
        "SmsSid": message["sid"],
        "AccountSid": message["account_sid"],
        "From": message["from"] or "",
        "To": message["to"],
        "MessageStatus": message["status"],
        "SmsStatus": message["status"],
        "ApiVersion": API_VERSION,
    }
    if message["messaging_service_sid"]:
        params["MessagingServiceSid"] = message["messaging_service_sid"]
    if message["error_code"] is not None:
        params["ErrorCode"] = str(message["error_code"])
    return params


def _run_call_lifecycle(
    store: EmulatorStore,
    sid: str,
    status_callback: str | None,
    events: frozenset[str],
    auth_token: str,
    delay: float,
) -> None:
    created = store.call_json(sid)
    if created is None:
        return

    answered = not is_failure_number(created["to"])
    steps = [("initiated", "queued"), ("ringing", "ringing")]
    if answered:
        steps += [("answered", "in-progress"), ("completed", "completed")]
    else:
        steps += [("completed", "no-answer")]

    sequence = 0
    for event, status in steps:
        if store.stopping.wait(delay):
            return
        changes: dict[str, object] = {"status": status}
        if event == "answered":
            changes["start_time"] = utc_now()
        if event == "completed":
            changes["end_time"] = utc_now()
            changes["duration"] = EMULATED_CALL_SECONDS if answered else 0
        call = store.update_call(sid, **changes)
        call_status = "initiated" if event == "initiated" else status
        logger.info("call %s to %s is now %s", sid, mask(call["to"]), call_status)
        if status_callback and event in events:
            params = _call_params(call, call_status, sequence)
            send_status_callback(status_callback, params, auth_token, sid)
            sequence += 1


def _call_params(call: Mapping[str, Any], call_status: str, sequence: int) -> dict[str, str]:
    params = {
        "CallbackSource": "call-progress-events",
        "SequenceNumber": str(sequence),
        "Timestamp": call["date_updated"],
        "CallSid": call["sid"],
        "AccountSid": call["account_sid"],
        "From": call["from"],
        "To": call["to"],
        "CallStatus": call_status,
        "Direction": call["direction"],
        "ApiVersion": API_VERSION,
    }
    if call["duration"] is not None:
        params["CallDuration"] = call["duration"]
    return params
