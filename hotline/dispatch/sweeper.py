"""The sweeper: finds callbacks and outbound SMS whose job was lost, and queues them again.

A job can vanish after its row was committed: Redis was down at enqueue time, or a worker
was killed mid-job (RQ then leaves the job in its started or failed registry and never runs
it again). The row still says `pending` or `queued`, so the sweeper re-enqueues its job; the
jobs are idempotent, so a resident's worker gets one SMS in total.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.cases.service import add_event
from hotline.db import on_commit, utcnow
from hotline.dispatch.models import Callback, CallbackStatus
from hotline.services import Services
from hotline.telephony.models import Direction, Message

logger = logging.getLogger(__name__)

# A row younger than this may still have its first job on the way.
STALE_AFTER = timedelta(minutes=2)
# A started job whose worker has not sent a heartbeat for this long was abandoned.
ABANDONED_AFTER = timedelta(minutes=3)
WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass
class SweepReport:
    """What one sweep queued again, by row id."""

    callbacks: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)


def job_is_alive(connection: Redis, job_id: str | None, now: datetime) -> bool:
    """True when job `job_id` will still run: waiting in a queue or the scheduler, or started
    by a worker whose heartbeat is recent. Missing, failed, finished or abandoned: False."""
    if not job_id:
        return False

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False

    status = job.get_status()
    if status in WAITING:
        return True
    if status == JobStatus.STARTED:
        heartbeat = job.last_heartbeat
        return heartbeat is not None and now - heartbeat < ABANDONED_AFTER
    return False


def sweep(session: Session, services: Services, now: datetime | None = None) -> SweepReport:
    """Queue again the dispatch of every stale pending callback and the sending of every stale
    queued SMS whose job is not alive. Jobs are enqueued after the caller commits.

    Re-enqueued jobs get a new id (`…-sweep-<n>`), recorded on the row, since RQ keeps
    the lost job's record.
    Raises the errors of the database and of Redis.
    """
    from hotline.jobs import dispatch_callback_job, send_message_job

    now = now or utcnow()
    report = SweepReport()
    cutoff = now - STALE_AFTER

    callbacks = session.scalars(
        select(Callback).where(
            Callback.status == CallbackStatus.PENDING, Callback.requested_at < cutoff
        )
    )
    for callback in callbacks:
        if job_is_alive(services.redis, callback.job_id, now):
            continue

        callback.attempts += 1
        callback.job_id = f"dispatch-callback-{callback.id}-sweep-{callback.attempts}"
        add_event(
            session,
            callback.case,
            "redispatched",
            "派单任务丢失，已重新派单 / dispatch job lost; dispatched again",
            data={"callback_id": callback.id, "job_id": callback.job_id},
        )
        _enqueue_after_commit(
            session, services, "dispatch", dispatch_callback_job, callback.id, callback.job_id
        )
        report.callbacks.append(callback.id)

    messages = session.scalars(
        select(Message).where(
            Message.direction == Direction.OUTBOUND,
            Message.status == "queued",
            Message.sid.is_(None),
            Message.created_at < cutoff,
        )
    )
    for message in messages:
        if job_is_alive(services.redis, message.job_id, now):
            continue

        message.job_id = f"send-message-{message.id}-sweep-{int(now.timestamp())}"
        _enqueue_after_commit(
            session, services, "outbound", send_message_job, message.id, message.job_id
        )
        report.messages.append(message.id)

    if report.callbacks or report.messages:
        logger.warning(
            "sweep queued again callbacks=%s messages=%s", report.callbacks, report.messages
        )
    return report


def _enqueue_after_commit(
    session: Session,
    services: Services,
    queue: str,
    func: Callable[[int], None],
    row_id: int,
    job_id: str,
) -> None:
    on_commit(session, lambda: services.enqueue(queue, func, row_id, job_id=job_id))
