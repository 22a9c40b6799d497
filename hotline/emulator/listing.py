"""List endpoints' query handling: Twilio's filters (To, From, DateSent...) and page shape."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from hotline.emulator.errors import bad_request
from hotline.emulator.store import CallRecord, MessageRecord

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
INVALID_PARAMETER = 20001
MESSAGE_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")
CALL_FILTERS = ("To", "From", "Status")


@dataclass(frozen=True)
class PageRequest:
    """The paging parameters of one list request."""

    page: int
    page_size: int
    page_token: str | None


def parse_page_request(args: Mapping[str, str]) -> PageRequest:
    """Read Page, PageSize and PageToken from the query string.

    Raises TwilioApiError (400, code 20001) when Page is negative or PageSize is not
    between 1 and 1000, or either is not an integer.
    """
    page = _integer(args, "Page", 0)
    page_size = _integer(args, "PageSize", DEFAULT_PAGE_SIZE)

    if page < 0:
        raise bad_request(INVALID_PARAMETER, "Page must be 0 or more")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_request(INVALID_PARAMETER, f"PageSize must be between 1 and {MAX_PAGE_SIZE}")
    return PageRequest(page=page, page_size=page_size, page_token=args.get("PageToken") or None)


def _integer(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"{name} must be an integer") from None


def message_filter(args: Mapping[str, str]) -> tuple[dict[str, str], Callable[[Any], bool]]:
    """Build the message filter of a list request: To, From, DateSent, DateSent<, DateSent>.

    Returns the filter parameters as given (to repeat them in page URIs) and a predicate
    over MessageRecord. DateSent matches the GMT day; `DateSent<` and `DateSent>` are
    inclusive bounds, by day for a date and to the second for a date-time. A message not
    sent yet matches no DateSent filter. Raises TwilioApiError (400, code 20001) when a
    date cannot be read.
    """
    given = {name: args[name] for name in MESSAGE_FILTERS if args.get(name)}
    to, from_ = given.get("To"), given.get("From")
    on_day = _date_bound(given, "DateSent")
    until = _date_bound(given, "DateSent<")
    since = _date_bound(given, "DateSent>")

    def keep(record: MessageRecord) -> bool:
        if to is not None and record.to != to:
            return False
        if from_ is not None and record.from_ != from_:
            return False
        if on_day is None and until is None and since is None:
            return True
        sent = record.date_sent
        if sent is None:
            return False
        return (
            (on_day is None or sent.date() == _day(on_day))
            and (until is None or _at_or_before(sent, until))
            and (since is None or _at_or_after(sent, since))
        )

    return given, keep


def call_filter(args: Mapping[str, str]) -> tuple[dict[str, str], Callable[[Any], bool]]:
    """Build the call filter of a list request: To, From and Status, each an exact match.

    Returns the filter parameters as given and a predicate over CallRecord. Never raises.
    """
    given = {name: args[name] for name in CALL_FILTERS if args.get(name)}

    def keep(record: CallRecord) -> bool:
        return (
            given.get("To", record.to) == record.to
            and given.get("From", record.from_) == record.from_
            and given.get("Status", record.status) == record.status
        )

    return given, keep


def _date_bound(given: Mapping[str, str], name: str) -> date | datetime | None:
    raw = given.get(name)
    if raw is None:
        return None

    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"{name} is not a valid date: {raw}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _day(bound: date | datetime) -> date:
    return bound.astimezone(UTC).date() if isinstance(bound, datetime) else bound


def _at_or_before(sent: datetime, bound: date | datetime) -> bool:
    if isinstance(bound, datetime):
        return sent <= bound
    return sent.date() <= bound


def _at_or_after(sent: datetime, bound: date | datetime) -> bool:
    if isinstance(bound, datetime):
        return sent >= bound
    return sent.date() >= bound


def build_page(
    records: Sequence[dict[str, Any]],
    key: str,
    path: str,
    filters: Mapping[str, str],
    paging: PageRequest,
) -> dict[str, Any]:
    """Cut one page out of `records` (already newest first) in Twilio's list shape.

    `key` names the records' array (`messages`, `calls`), `path` is the list resource's
    path and `filters` are repeated in every page URI. A PageToken from an earlier
    next/previous link (`PA<sid>`: after that record, `PB<sid>`: before it) keeps pages
    stable while new records arrive; otherwise the page starts at Page x PageSize.
    Never raises.
    """
    size = paging.page_size
    offset = _token_offset(records, paging.page_token, size)
    if offset is None:
        offset = paging.page * size
    items = list(records[offset : offset + size])
    start = paging.page * size

    def page_uri(page: int, token: str | None = None) -> str:
        query = {**filters, "PageSize": str(size), "Page": str(page)}
        if token:
            query["PageToken"] = token
        return f"{path}?{urlencode(query)}"

    next_uri = previous_uri = None
    if items and offset + size < len(records):
        next_uri = page_uri(paging.page + 1, "PA" + items[-1]["sid"])
    if items and paging.page > 0 and offset > 0:
        previous_uri = page_uri(paging.page - 1, "PB" + items[0]["sid"])
    return {
        key: items,
        "end": start + max(len(items) - 1, 0),
        "first_page_uri": page_uri(0),
        "next_page_uri": next_uri,
        "page": paging.page,
        "page_size": size,
        "previous_page_uri": previous_uri,
        "start": start,
        "uri": page_uri(paging.page, paging.page_token),
    }


def _token_offset(records: Sequence[dict[str, Any]], token: str | None, size: int) -> int | None:
    if not token or token[:2] not in ("PA", "PB"):
        return None

    sids = [record["sid"] for record in records]
    anchor = token[2:]
    if anchor not in sids:
        return None
    position = sids.index(anchor)
    return position + 1 if token.startswith("PA") else max(position - size, 0)
