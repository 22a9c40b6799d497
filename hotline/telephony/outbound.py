"""Outbound SMS: a Message row first, then a job that sends it through Twilio once.

The row exists before anything is sent, so a crash loses nothing, and the job returns
quietly for a message that already has a sid, so a retried job never texts twice.
"""

from __future__ import annotations

import logging

from rq import Retry
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException, TwilioServiceException

from hotline.cases.models import Case
from hotline.cases.service import add_event
from hotline.db import on_commit
from hotline.jobs import current_job_id, send_message_job
from hotline.phones import mask, normalize
from hotline.residents.models import Resident
from hotline.services import Services
from hotline.staff.models import Staff
from hotline.telephony.models import Direction, Message, StatusCallback
from hotline.telephony.status import moves_on

logger = logging.getLogger(__name__)

OUTBOUND_QUEUE = "outbound"
SEND_RETRY_INTERVALS = [10, 60, 300]
STATUS_CALLBACK_PATH = "/twilio/status"

# 429 is a 4xx but transient: Twilio asks us to slow down, so the job is retried.
TOO_MANY_REQUESTS = 429


def queue_sms(
    session: Session,
    services: Services,
    *,
    to: str,
    body: str,
    purpose: str,
    case: Case | None = None,
    staff: Staff | None = None,
    resident: Resident | None = None,
) -> Message:
    """Create an outbound Message (status `queued`) and send it once the transaction commits.

    The send job (`send_message_job`, queue `outbound`, retried 3 times after 10 s, 1 min
    and 5 min) is enqueued only after commit: a rollback sends nothing. Raises ValueError
    when `to` is not a usable phone number.
    """
    to_number = normalize(to)
    if to_number is None:
        raise ValueError("queue_sms: the recipient is not a usable phone number")

    session.flush()
    message = Message(
        direction=Direction.OUTBOUND,
        from_number=services.settings.twilio_phone_number,
        to_number=to_number,
        body=body,
        status="queued",
        purpose=purpose,
        case_id=case.id if case is not None else None,
        staff_id=staff.id if staff is not None else None,
        resident_id=resident.id if resident is not None else None,
    )
    session.add(message)
    session.flush()

    message_id = message.id
    job_id = message.job_id = f"send-message-{message_id}"
    on_commit(
        session,
        lambda: services.enqueue(
            OUTBOUND_QUEUE,
            send_message_job,
            message_id,
            job_id=job_id,
            retry=Retry(max=3, interval=SEND_RETRY_INTERVALS),
        ),
    )

    logger.info(
        "sms queued job=%s case=%s message=%s purpose=%s to=%s",
        current_job_id(),
        case.number if case is not None else None,
        message_id,
        purpose,
        mask(to_number),
    )
    return message


def send_message(session: Session, services: Services, message_id: int) -> None:
    """Send outbound message `message_id` through Twilio and store its sid, status, segments.

    Returns quietly when the row is gone, already has a sid or is no longer `queued`.
    A 4xx answer other than 429 (a bad or opted-out number) is final: the message is
    marked `failed` with Twilio's error code, with an `sms_failed` case event, and
    nothing is raised. Connection errors, 429 and 5xx answers propagate, so RQ retries.
    """
    message = session.scalars(
        select(Message).where(Message.id == message_id).with_for_update()
    ).first()
    if message is None:
        logger.info("sms gone job=%s message=%s", current_job_id(), message_id)
        return

    case = session.get(Case, message.case_id) if message.case_id is not None else None
    case_number = case.number if case is not None else None
    if message.sid is not None or message.status != "queued":
        logger.info(
            "sms not sent again job=%s case=%s message=%s status=%s",
            current_job_id(),
            case_number,
            message.id,
            message.status,
        )
        return

    settings = services.settings
    try:
        sent = services.twilio.messages.create(
            to=message.to_number,
            from_=settings.twilio_phone_number,
            body=message.body,
            status_callback=settings.public_base_url + STATUS_CALLBACK_PATH,
        )
    except (TwilioRestException, TwilioServiceException) as error:
        if not _is_final(error):
            raise
        _mark_failed(session, message, case, error)
        return

    message.sid = sent.sid
    message.status = sent.status or "queued"
    message.num_segments = int(sent.num_segments) if sent.num_segments else None
    _apply_early_callbacks(session, message)

    if case is not None:
        add_event(
            session,
            case,
            "sms_sent",
            f"短信已发出（{message.purpose}） / SMS sent ({message.purpose})",
            data={
                "message_id": message.id,
                "sid": message.sid,
                "segments": message.num_segments,
            },
        )
    logger.info(
        "sms sent job=%s case=%s message=%s sid=%s segments=%s to=%s",
        current_job_id(),
        case_number,
        message.id,
        message.sid,
        message.num_segments,
        mask(message.to_number),
    )


def _is_final(error: TwilioRestException | TwilioServiceException) -> bool:
    """A 4xx other than 429: the request itself is wrong, and sending it again will not help."""
    return 400 <= int(error.status) < 500 and int(error.status) != TOO_MANY_REQUESTS


def _mark_failed(
    session: Session,
    message: Message,
    case: Case | None,
    error: TwilioRestException | TwilioServiceException,
) -> None:
    code = int(error.code) if error.code is not None else None
    message.status = "failed"
    message.error_code = code

    if case is not None:
        add_event(
            session,
            case,
            "sms_failed",
            f"短信无法发送（错误码{code}） / SMS refused (error {code})",
            data={"message_id": message.id, "error_code": code},
        )
    logger.warning(
        "sms refused job=%s case=%s message=%s http=%s error_code=%s to=%s",
        current_job_id(),
        case.number if case is not None else None,
        message.id,
        error.status,
        message.error_code,
        mask(message.to_number),
    )


def _apply_early_callbacks(session: Session, message: Message) -> None:
    """Apply status callbacks stored before the sid was: Twilio may call back that fast.

    A callback committed after this query but before this transaction commits is still
    missed until a later, higher-ranked one arrives (PostgreSQL only: SQLite serialises
    the two writers). Storing the sid in its own transaction right after the API call
    would close that gap.
    """
    received = session.scalars(
        select(StatusCallback).where(StatusCallback.sid == message.sid).order_by(StatusCallback.id)
    )
    for callback in received:
        if moves_on(message.status, callback.status):
            message.status = callback.status
            message.error_code = callback.error_code
