"""Dispatch of callbacks: request one for a case, then (in a job) assign it and text the staff.

The request only records a pending callback; the job is enqueued after the commit, and
the assignment runs in the worker, so a caller never waits for the policy or for Twilio.
"""

from __future__ import annotations

import logging

from rq import Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.cases.models import Case, CaseKind, CaseStatus
from hotline.cases.service import add_event
from hotline.channels.templates import render_sms
from hotline.db import on_commit, utcnow
from hotline.dispatch.models import Callback, CallbackStatus
from hotline.dispatch.policy import CALLBACK_WORKING_HOURS, Choice, choose_assignee
from hotline.jobs import current_job_id, dispatch_callback_job
from hotline.phones import mask, mask_national, normalize
from hotline.services import Services
from hotline.telephony.outbound import queue_sms
from hotline.workdays import add_working_hours, format_local

logger = logging.getLogger(__name__)

DISPATCH_QUEUE = "dispatch"
# A transient failure (database restart, lock timeout) is retried; the sweeper covers the rest.
DISPATCH_RETRY = Retry(max=3, interval=[10, 60, 300])
ASSIGNMENT_TEMPLATE = "assignment.txt.j2"
TOPIC_MAX_CHARS = 12

KIND_ZH = {
    CaseKind.CONSULTATION: "咨询",
    CaseKind.QUERY: "查询",
    CaseKind.APPOINTMENT: "预约",
    CaseKind.CALLBACK: "回电请求",
    CaseKind.COMPLAINT: "投诉",
    CaseKind.SUGGESTION: "建议",
    CaseKind.HELP: "求助",
    CaseKind.REPORT: "报告",
}


def request_dispatch(
    session: Session, services: Services, case: Case, contact_phone: str | None
) -> Callback:
    """Record a pending callback for `case` and queue its dispatch job after the commit.

    Sets the case to DISPATCHING with a `dispatch_requested` event; `contact_phone`, when
    usable, becomes the number to call back. The job (`dispatch_callback_job`, queue
    `dispatch`, job id `dispatch-callback-<id>`) is enqueued only once the caller's
    transaction commits; a rollback queues nothing. A case that already has a callback
    gets that callback back, unchanged, and nothing is queued again. Raises nothing of
    its own.
    """
    session.flush()
    existing = session.scalars(select(Callback).where(Callback.case_id == case.id)).first()
    if existing is not None:
        return existing

    phone = normalize(contact_phone)
    if phone is not None:
        case.contact_phone = phone
    case.status = CaseStatus.DISPATCHING

    callback = Callback(case=case, status=CallbackStatus.PENDING)
    session.add(callback)
    session.flush()

    callback_id = callback.id
    job_id = f"dispatch-callback-{callback_id}"
    callback.job_id = job_id
    add_event(
        session,
        case,
        "dispatch_requested",
        "已申请回电，等待派单 / callback requested, awaiting dispatch",
        data={"callback_id": callback_id, "contact": mask_national(case.contact_phone)},
    )

    # Enqueue after commit: the worker must find the callback row this transaction writes.
    on_commit(
        session,
        lambda: services.enqueue(
            DISPATCH_QUEUE, dispatch_callback_job, callback_id, job_id=job_id, retry=DISPATCH_RETRY
        ),
    )
    logger.info(
        "dispatch requested job=%s case=%s callback=%s",
        current_job_id(),
        case.number,
        callback_id,
    )
    return callback


def assign_callback(session: Session, services: Services, callback_id: int) -> None:
    """Assign callback `callback_id` along the dispatch policy and text the assignee.

    Returns quietly when the callback is gone or already assigned, so a retried job
    sends nothing twice; a FAILED callback whose job is run again (by an operator, once
    staff have been added) is tried again. On success: callback and case ASSIGNED to the
    chosen staff member, the case due when the resident was told (else
    CALLBACK_WORKING_HOURS working hours from now), events `assigned` and `notified`, and
    the assignment SMS queued (sent after commit). With nobody to assign, the callback is
    FAILED with a `dispatch_failed` event and an error is logged. Template errors
    (jinja2) propagate, so the job fails and nothing is saved.
    """
    callback = session.scalars(
        select(Callback).where(Callback.id == callback_id).with_for_update()
    ).first()
    if callback is None:
        logger.info("callback gone job=%s callback=%s", current_job_id(), callback_id)
        return

    case = callback.case
    if callback.status == CallbackStatus.ASSIGNED:
        logger.info(
            "callback already assigned job=%s case=%s callback=%s staff=%s",
            current_job_id(),
            case.number,
            callback.id,
            callback.staff_id,
        )
        return

    callback.attempts += 1
    choice = choose_assignee(session, case.region)
    if choice is None:
        _fail(session, callback, case)
        return

    _assign(session, services, callback, case, choice)


def _fail(session: Session, callback: Callback, case: Case) -> None:
    callback.status = CallbackStatus.FAILED
    add_event(
        session,
        case,
        "dispatch_failed",
        "无可派单人员，请主管人工处理 / nobody to assign; a supervisor must dispatch by hand",
        data={"callback_id": callback.id, "region": case.region.code if case.region else None},
    )
    logger.error(
        "dispatch failed, nobody to assign job=%s case=%s callback=%s region=%s",
        current_job_id(),
        case.number,
        callback.id,
        case.region.code if case.region else None,
    )


def _assign(
    session: Session, services: Services, callback: Callback, case: Case, choice: Choice
) -> None:
    staff = choice.staff
    now = utcnow()
    tz = services.settings.timezone
    # The resident was told a due time when the case was opened: the assignee gets the same.
    due_at = case.due_at or add_working_hours(now, CALLBACK_WORKING_HOURS, tz)

    callback.staff = staff
    callback.status = CallbackStatus.ASSIGNED
    callback.reason = choice.reason
    callback.assigned_at = now
    case.assignee = staff
    case.status = CaseStatus.ASSIGNED
    case.due_at = due_at
    add_event(
        session,
        case,
        "assigned",
        choice.reason,
        data={
            "staff_id": staff.id,
            "level": choice.level.value,
            "reason_zh": choice.reason_zh,
            "reason_en": choice.reason_en,
            "due_at": due_at.isoformat(),
        },
    )

    resident_phone = case.contact_phone or (case.resident.phone if case.resident else None)
    body = render_sms(
        services.templates,
        ASSIGNMENT_TEMPLATE,
        case_number=case.number,
        topic=_topic(case),
        resident_phone=mask_national(resident_phone),
        due=format_local(due_at, tz),
        due_en=due_at.astimezone(tz).strftime("%d %b %H:%M"),
    )
    message = queue_sms(
        session,
        services,
        to=staff.phone,
        body=body,
        purpose="assignment",
        case=case,
        staff=staff,
    )
    add_event(
        session,
        case,
        "notified",
        "已短信通知承办人 / assignee notified by SMS",
        data={"staff_id": staff.id, "message_id": message.id},
    )

    logger.info(
        "callback assigned job=%s case=%s callback=%s staff=%s level=%s due=%s staff_phone=%s",
        current_job_id(),
        case.number,
        callback.id,
        staff.id,
        choice.level,
        due_at.isoformat(),
        mask(staff.phone),
    )


def _topic(case: Case) -> str:
    """A short topic for the text: the case's own, else its service item, else its kind."""
    topic = case.topic.strip() if case.topic else ""
    if not topic and case.service_item is not None:
        topic = case.service_item.name_zh
    if not topic:
        topic = KIND_ZH.get(case.kind, "回电请求")

    if len(topic) > TOPIC_MAX_CHARS:
        topic = topic[: TOPIC_MAX_CHARS - 1] + "…"
    return topic
