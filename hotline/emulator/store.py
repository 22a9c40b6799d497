"""In-memory, thread-safe store of the emulator's Message and Call resources (Twilio JSON)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

logger = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
PRICE_UNIT = "USD"

CALL_SUBRESOURCES = (
    ("notifications", "Notifications"),
    ("recordings", "Recordings"),
    ("payments", "Payments"),
    ("events", "Events"),
    ("siprec", "Siprec"),
    ("streams", "Streams"),
    ("transcriptions", "Transcriptions"),
    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
    ("user_defined_messages", "UserDefinedMessages"),
)


def utc_now() -> datetime:
    """Return the current UTC time, whole seconds, as Twilio reports its timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


def rfc2822(moment: datetime | None) -> str | None:
    """Format `moment` like Twilio (`Thu, 24 Aug 2023 05:01:45 +0000`); None stays None."""
    if moment is None:
        return None
    return format_datetime(moment.astimezone(UTC))


def new_sid(prefix: str) -> str:
    """Return a fresh Twilio-style SID: the two-letter `prefix` and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass
class MessageRecord:
    """One outbound Message resource as the emulator keeps it."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    messaging_service_sid: str | None
    status_callback: str | None
    num_segments: int
    num_media: int
    status: str = "queued"
    error_code: int | None = None
    error_message: str | None = None
    date_created: datetime = field(default_factory=utc_now)
    date_updated: datetime = field(default_factory=utc_now)
    date_sent: datetime | None = None

    @property
    def uri(self) -> str:
        """The resource's path, as Twilio gives it in `uri`."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, Any]:
        """Return the resource in the JSON shape of Twilio's `api.v2010.account.message`."""
        base = self.uri.removesuffix(".json")
        subresources = {"media": f"{base}/Media.json"}
        if self.date_sent is not None:
            subresources["feedback"] = f"{base}/Feedback.json"

        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": str(self.num_media),
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": PRICE_UNIT,
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": subresources,
            "to": self.to,
            "uri": self.uri,
        }


@dataclass
class CallRecord:
    """One outbound Call resource as the emulator keeps it."""

    sid: str
    account_sid: str
    to: str
    from_: str
    url: str | None
    twiml: str | None
    status_callback: str | None
    status_callback_events: tuple[str, ...]
    status: str = "queued"
    duration: int | None = None
    date_created: datetime = field(default_factory=utc_now)
    date_updated: datetime = field(default_factory=utc_now)
    start_time: datetime | None = None
    end_time: datetime | None = None

    @property
    def uri(self) -> str:
        """The resource's path, as Twilio gives it in `uri`."""
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    def to_json(self) -> dict[str, Any]:
        """Return the resource in the JSON shape of Twilio's `api.v2010.account.call`."""
        base = self.uri.removesuffix(".json")
        subresources = {key: f"{base}/{name}.json" for key, name in CALL_SUBRESOURCES}

        return {
            "account_sid": self.account_sid,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "duration": None if self.duration is None else str(self.duration),
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": PRICE_UNIT,
            "queue_time": "0",
            "sid": self.sid,
            "start_time": rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": subresources,
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": self.uri,
        }


class EmulatorStore:
    """Messages and calls in creation order, guarded by one lock.

    Readers get JSON snapshots, never the live records, so a background status update
    cannot change a dict a request handler is serialising. `stopping` is set when the
    emulator shuts down, so lifecycle threads stop early.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, MessageRecord] = {}
        self._calls: dict[str, CallRecord] = {}
        self.stopping = threading.Event()

    def add_message(self, record: MessageRecord) -> dict[str, Any]:
        """Store a new message and return its JSON snapshot."""
        with self._lock:
            self._messages[record.sid] = record
            return record.to_json()

    def add_call(self, record: CallRecord) -> dict[str, Any]:
        """Store a new call and return its JSON snapshot."""
        with self._lock:
            self._calls[record.sid] = record
            return record.to_json()

    def message_json(self, sid: str) -> dict[str, Any] | None:
        """Return the JSON snapshot of message `sid`, or None when there is no such message."""
        with self._lock:
            record = self._messages.get(sid)
            return None if record is None else record.to_json()

    def call_json(self, sid: str) -> dict[str, Any] | None:
        """Return the JSON snapshot of call `sid`, or None when there is no such call."""
        with self._lock:
            record = self._calls.get(sid)
            return None if record is None else record.to_json()

    def list_messages(
        self, keep: Callable[[MessageRecord], bool] | None = None
    ) -> list[dict[str, Any]]:
        """Return JSON snapshots of the messages `keep` accepts (default: all), newest first."""
        with self._lock:
            return _newest_first(self._messages.values(), keep)

    def list_calls(self, keep: Callable[[CallRecord], bool] | None = None) -> list[dict[str, Any]]:
        """Return JSON snapshots of the calls `keep` accepts (default: all), newest first."""
        with self._lock:
            return _newest_first(self._calls.values(), keep)

    def update_message(self, sid: str, **changes: Any) -> dict[str, Any]:
        """Apply `changes` to message `sid`, stamp date_updated, return the new snapshot.

        Raises KeyError when there is no such message.
        """
        with self._lock:
            record = self._messages[sid]
            for name, value in changes.items():
                setattr(record, name, value)
            record.date_updated = utc_now()
            return record.to_json()

    def update_call(self, sid: str, **changes: Any) -> dict[str, Any]:
        """Apply `changes` to call `sid`, stamp date_updated, return the new snapshot.

        Raises KeyError when there is no such call.
        """
        with self._lock:
            record = self._calls[sid]
            for name, value in changes.items():
                setattr(record, name, value)
            record.date_updated = utc_now()
            return record.to_json()


def _newest_first(
    records: Iterable[Any], keep: Callable[[Any], bool] | None
) -> list[dict[str, Any]]:
    return [record.to_json() for record in reversed(list(records)) if keep is None or keep(record)]
