"""RQ job functions: each takes ids only, opens one session and runs one service function.

Real failures are left to raise, so RQ records them and applies the job's Retry.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from rq import get_current_job
from sqlalchemy import select

from hotline.db import utcnow
from hotline.logs import mask_text
from hotline.services import Services, current

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Workers heartbeat at least this often (worker.py passes it as worker_ttl), so a worker
# silent for longer, killed without a goodbye, no longer counts as alive (web/health.py).
WORKER_TTL = 60


class JobFailed(Exception):
    """A job's failure, with the original traceback masked: RQ keeps this text in Redis."""


def masked_failures(func: Callable[P, R]) -> Callable[P, R]:
    """Let a job fail as it would, but record only a masked account of why.

    RQ stores a failed job's traceback in its failed-job registry, and a database error can
    quote a resident's phone number; the original exception is replaced by JobFailed whose
    message is the masked traceback. RQ's Retry applies to it as to any failure.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Exception:
            raise JobFailed(mask_text(traceback.format_exc())) from None

    return wrapper


def current_job_id() -> str:
    """The id of the RQ job this code runs in, or `-` outside a worker (for log lines)."""
    job = get_current_job()
    return job.id if job is not None else "-"


@masked_failures
def dispatch_callback_job(callback_id: int) -> None:
    """Assign callback `callback_id` and text the assignee (dispatch.service.assign_callback).

    Safe to run twice: an assigned callback is left alone and nothing is sent again.
    """
    from hotline.cases.models import Case
    from hotline.dispatch.models import Callback
    from hotline.dispatch.service import assign_callback

    services = current()
    with services.db.session() as session:
        case_number = session.scalar(
            select(Case.number)
            .join(Callback, Callback.case_id == Case.id)
            .where(Callback.id == callback_id)
        )
        logger.info(
            "dispatch started job=%s case=%s callback=%s",
            current_job_id(),
            case_number,
            callback_id,
        )
        assign_callback(session, services, callback_id)

    logger.info(
        "dispatch done job=%s case=%s callback=%s", current_job_id(), case_number, callback_id
    )


@masked_failures
def send_message_job(message_id: int) -> None:
    """Send outbound message `message_id` through Twilio (see telephony.outbound.send_message).

    Connection errors and 5xx answers raise, and RQ retries the job; a message that
    already has a sid is not sent again.
    """
    from hotline.cases.models import Case
    from hotline.telephony.models import Message
    from hotline.telephony.outbound import send_message

    services = current()
    with services.db.session() as session:
        case_number = session.scalar(
            select(Case.number)
            .join(Message, Message.case_id == Case.id)
            .where(Message.id == message_id)
        )
        logger.info(
            "send started job=%s case=%s message=%s", current_job_id(), case_number, message_id
        )
        send_message(session, services, message_id)

    logger.info("send done job=%s case=%s message=%s", current_job_id(), case_number, message_id)


@masked_failures
def place_waiting_case_job(case_id: int, conversation_id: int) -> None:
    """Pool case `case_id` if its resident stopped answering before choosing a region.

    Scheduled when the flow first asks for the region; does nothing when the case was
    placed meanwhile (by the resident's choice or by the call's end). The conversation
    supplies the street chosen so far, when it still has it.
    """
    from hotline.flows.conversations import place_waiting_case

    services = current()
    with services.db.session() as session:
        placed = place_waiting_case(session, services, case_id, conversation_id)

    logger.info(
        "waiting case checked job=%s case_id=%s placed=%s", current_job_id(), case_id, placed
    )


@masked_failures
def record_status_job(sid: str, status: str, error_code: int | None) -> None:
    """Store a message status callback the webhook could not (telephony.status.record_status)."""
    from hotline.telephony.status import record_status

    services = current()
    with services.db.session() as session:
        record_status(session, sid, status, error_code)
    logger.info("status recorded late job=%s sid=%s status=%s", current_job_id(), sid, status)


@masked_failures
def close_call_job(call_sid: str) -> None:
    """Apply a call's end the webhook could not (flows.conversations.close_call)."""
    from hotline.flows.conversations import close_call

    services = current()
    with services.db.session() as session:
        close_call(session, services, call_sid)
    logger.info("call end applied late job=%s call=%s", current_job_id(), call_sid)


SWEEP_INTERVAL = timedelta(minutes=1)


def schedule_sweep(services: Services, at: datetime) -> str:
    """Schedule the sweep for the minute of `at` on the worker's scheduler; returns the job id.

    The job id is the minute, so any number of workers scheduling the same sweep leave one
    job, and a sweep that dies mid-run has already scheduled its successor.
    """
    minute = at.replace(second=0, microsecond=0)
    job_id = f"sweep-{minute:%Y%m%d%H%M}"
    services.queue("default").enqueue_at(minute, sweep_job, job_id=job_id)
    return job_id


@masked_failures
def sweep_job() -> None:
    """Queue again the callbacks and SMS whose jobs were lost (dispatch.sweeper.sweep), after
    scheduling the next sweep first."""
    from hotline.dispatch.sweeper import sweep

    services = current()
    schedule_sweep(services, utcnow() + SWEEP_INTERVAL)

    with services.db.session() as session:
        report = sweep(session, services)

    logger.info(
        "sweep done job=%s callbacks=%d messages=%d",
        current_job_id(),
        len(report.callbacks),
        len(report.messages),
    )
