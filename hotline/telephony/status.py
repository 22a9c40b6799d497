"""Twilio message status callbacks: stored once each, applied only when they move a message on.

Callbacks arrive late, twice, or out of order; (sid, status) is unique, and a status only
replaces a lower-ranked one, so `sent` arriving after `delivered` leaves `delivered`.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.cases.models import Case
from hotline.cases.service import add_event
from hotline.phones import mask
from hotline.telephony.models import STATUS_RANK, Message, StatusCallback

logger = logging.getLogger(__name__)

FAILED_STATUSES = frozenset({"failed", "undelivered"})


def moves_on(previous: str, status: str) -> bool:
    """True when `status` is later than `previous`; `read` follows only `delivered`."""
    if status == "read":
        return previous == "delivered"
    return STATUS_RANK.get(status, -1) > STATUS_RANK.get(previous, -1)


def record_status(
    session: Session, sid: str, status: str, error_code: int | None
) -> Message | None:
    """Record one status callback for message `sid` and update the message if it moves on.

    A repeated callback (same sid and status) changes nothing and returns the message.
    The message's status changes only to a higher STATUS_RANK (`read` only after
    `delivered`); `error_code` is stored with the status it came with. A message that
    ends failed or undelivered gets an `sms_failed` case event.
    Returns None for a sid no message has (yet): the callback is still stored, and the
    send job applies it when it stores the sid. Raises nothing of its own.
    """
    status = status.strip().lower()

    try:
        with session.begin_nested():
            session.add(StatusCallback(sid=sid, status=status, error_code=error_code))
    except IntegrityError:
        logger.info("status callback repeated sid=%s status=%s", sid, status)
        return session.scalars(select(Message).where(Message.sid == sid)).first()

    message = session.scalars(select(Message).where(Message.sid == sid)).first()
    if message is None:
        logger.info("status callback for unknown sid=%s status=%s", sid, status)
        return None

    previous = message.status
    if not moves_on(previous, status):
        logger.info(
            "status kept sid=%s message=%s status=%s received=%s",
            sid,
            message.id,
            previous,
            status,
        )
        return message

    message.status = status
    if error_code is not None:
        message.error_code = error_code
    case = session.get(Case, message.case_id) if message.case_id is not None else None
    if case is not None and status in FAILED_STATUSES:
        add_event(
            session,
            case,
            "sms_failed",
            f"短信未送达（{status}，错误码{error_code}） / SMS {status} (error {error_code})",
            data={"message_id": message.id, "sid": sid, "error_code": error_code},
        )

    logger.info(
        "status moved case=%s sid=%s message=%s %s->%s error_code=%s to=%s",
        case.number if case is not None else None,
        sid,
        message.id,
        previous,
        status,
        error_code,
        mask(message.to_number),
    )
    return message
