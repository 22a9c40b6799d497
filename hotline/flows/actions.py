"""The registered actions and dynamic menus that flows may name, bound to one turn.

Actions write to the case store inside the turn's transaction; anything that must happen
outside it (jobs, SMS) is queued with `on_commit`, so nothing runs for a rolled-back turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import phones
from hotline.cases.models import Case, CaseKind, CaseStatus, Channel
from hotline.cases.numbers import spoken
from hotline.cases.service import RESIDENT, add_event, find_by_number, open_case
from hotline.catalogue.models import Department, ServiceItem
from hotline.channels.templates import render_sms
from hotline.db import on_commit, utcnow
from hotline.dispatch.policy import CALLBACK_WORKING_HOURS
from hotline.dispatch.service import request_dispatch
from hotline.flows.engine import ActionResult, Choice
from hotline.flows.models import Conversation
from hotline.flows.schema import Flow, FlowError, Text
from hotline.jobs import place_waiting_case_job
from hotline.regions.models import Region, RegionLevel
from hotline.regions.service import find_district
from hotline.residents.models import Resident
from hotline.services import Services
from hotline.telephony.outbound import queue_sms
from hotline.workdays import add_working_hours, format_local

logger = logging.getLogger(__name__)

MAX_NUMBER_TRIES = 3
# What a caller with a withheld number asked for, kept while they key in their number.
PENDING_REQUEST = "pending_request"
REGION_WAIT = timedelta(minutes=30)

STATUS_TEXT = {
    CaseStatus.NEW: Text("已受理，正在处理", "received, being handled"),
    CaseStatus.DISPATCHING: Text(
        "已受理，正在安排社工", "received, a social worker is being found"
    ),
    CaseStatus.ASSIGNED: Text("已分派社工办理", "assigned to a social worker"),
    CaseStatus.ACCEPTED: Text("社工已接单办理", "accepted by a social worker"),
    CaseStatus.CLOSED: Text("已办结", "closed"),
}


@dataclass
class TurnContext:
    """Everything an action may use during one turn of one conversation."""

    session: Session
    services: Services
    conversation: Conversation
    channel: Channel
    caller_phone: str | None


ActionFn = Callable[[TurnContext, Mapping[str, Any], Mapping[str, Any]], ActionResult]
SourceFn = Callable[[TurnContext, Mapping[str, Any]], list[Choice]]

ACTIONS: dict[str, ActionFn] = {}
SOURCES: dict[str, SourceFn] = {}


def action(name: str) -> Callable[[ActionFn], ActionFn]:
    """Register an action under the name flows use for it."""

    def register(fn: ActionFn) -> ActionFn:
        ACTIONS[name] = fn
        return fn

    return register


def source(name: str) -> Callable[[SourceFn], SourceFn]:
    """Register a dynamic menu source under the name flows use for it."""

    def register(fn: SourceFn) -> SourceFn:
        SOURCES[name] = fn
        return fn

    return register


def check_params(flow: Flow) -> None:
    """Check the params that flow nodes give their actions, so a typo fails at load time.

    Raises FlowError naming the node.
    """
    kinds = {kind.value for kind in CaseKind}
    for node in flow.nodes.values():
        if node.action != "request_callback":
            continue
        kind = node.params.get("kind", "callback")
        if kind not in kinds:
            raise FlowError(f"node {node.id!r}: kind {kind!r} is not one of {sorted(kinds)}")
        if not str(node.params.get("topic_zh", "")).strip():
            raise FlowError(f"node {node.id!r}: request_callback needs a topic_zh")


class FlowActions:
    """The engine's view of the registry, bound to one turn's context."""

    def __init__(self, context: TurnContext) -> None:
        self.context = context

    def run(self, name: str, params: Mapping[str, Any], data: Mapping[str, Any]) -> ActionResult:
        """Run the registered action `name`; KeyError for a name the registry lacks."""
        return ACTIONS[name](self.context, params, data)

    def choices(self, source_name: str, data: Mapping[str, Any]) -> list[Choice]:
        """The entries of the registered menu source `source_name`."""
        return SOURCES[source_name](self.context, data)


def _resident_for(session: Session, phone: str) -> Resident:
    resident = session.scalar(select(Resident).where(Resident.phone == phone))
    if resident is None:
        resident = Resident(phone=phone, registered=False)
        session.add(resident)
        session.flush()
    return resident


def _confirmation(context: TurnContext, case: Case) -> dict[str, Any]:
    tz = context.services.settings.timezone
    due = case.due_at
    return {
        "case_id": case.id,
        "case_number": case.number,
        "case_number_spoken": spoken(case.number or ""),
        "due_text": format_local(due, tz) if due else "",
        "due_text_en": due.astimezone(tz).strftime("%d %b %H:%M") if due else "",
    }


def _place(context: TurnContext, case: Case, phone: str | None) -> ActionResult:
    """Give the case its due time and ask for dispatch once the turn commits."""
    case.due_at = add_working_hours(
        case.created_at, CALLBACK_WORKING_HOURS, context.services.settings.timezone
    )
    request_dispatch(context.session, context.services, case, phone)

    updates = _confirmation(context, case)
    return ActionResult("created", updates=updates)


def _pool_if_abandoned(context: TurnContext, case: Case) -> None:
    """Make sure a case waiting for its region is not forgotten: a hung-up call pools it at
    once (status callback), and this delayed job pools it when no answer ever comes."""
    case_id, conversation_id, services = case.id, context.conversation.id, context.services
    on_commit(
        context.session,
        lambda: services.enqueue_in(
            "dispatch",
            REGION_WAIT,
            place_waiting_case_job,
            case_id,
            conversation_id,
            job_id=f"place-waiting-case-{case_id}",
        ),
    )


CALLBACK_KINDS = (CaseKind.CALLBACK, CaseKind.CONSULTATION, CaseKind.APPOINTMENT)
WAITING_STATUSES = (
    CaseStatus.NEW,
    CaseStatus.DISPATCHING,
    CaseStatus.ASSIGNED,
    CaseStatus.ACCEPTED,
)


def _open_callback_case(session: Session, resident: Resident) -> Case | None:
    """The resident's case still waiting for its callback and not yet overdue, if any:
    asking again reuses it rather than texting the social worker a second time. A case
    past its due time is not reused: the resident gets a new one, and is not told a
    time that has already gone by."""
    case = session.scalars(
        select(Case)
        .where(
            Case.resident_id == resident.id,
            Case.kind.in_(CALLBACK_KINDS),
            Case.status.in_(WAITING_STATUSES),
        )
        .order_by(Case.id.desc())
        .limit(1)
    ).first()
    if case is None or (case.due_at is not None and case.due_at <= utcnow()):
        return None
    return case


@action("request_callback")
def request_callback(
    context: TurnContext, params: Mapping[str, Any], data: Mapping[str, Any]
) -> ActionResult:
    """Open a callback case for the caller.

    Outcomes: `need_number` when the caller's number is unusable and none was keyed in;
    `already_open` when the resident already waits for a callback (that case is reused);
    `need_region` when the resident's region is unknown (the case is open, not dispatched);
    `created` when the case is open and its dispatch will be queued at commit.
    """
    session = context.session
    request = {**params, **data.get(PENDING_REQUEST, {})}
    phone = data.get("contact_phone") or context.caller_phone
    if not phone:
        pending = {"kind": request.get("kind"), "topic_zh": request.get("topic_zh")}
        return ActionResult("need_number", updates={PENDING_REQUEST: pending})

    existing = session.get(Case, data["case_id"]) if data.get("case_id") else None
    if existing is not None and existing.region_id is not None:
        return ActionResult("created", updates=_confirmation(context, existing))

    resident = _resident_for(session, phone)
    already = None if existing else _open_callback_case(session, resident)
    if already is not None and already.region_id is None:
        return ActionResult("need_region", updates={"case_id": already.id})
    if already is not None:
        add_event(
            session,
            already,
            "repeat_request",
            f"居民再次请求：{request.get('topic_zh', '')} / asked again",
            actor=RESIDENT,
            data={"kind": request.get("kind"), "topic": request.get("topic_zh")},
        )
        return ActionResult("already_open", updates=_confirmation(context, already))

    case = existing or open_case(
        session,
        kind=CaseKind(request.get("kind", "callback")),
        channel=context.channel,
        resident=resident,
        contact_phone=phone,
        region=resident.region,
        topic=str(request.get("topic_zh", "")),
    )
    context.conversation.resident_id = resident.id

    if case.region is None:
        add_event(session, case, "awaiting_region", "等待居民选择所在社区 / awaiting region")
        _pool_if_abandoned(context, case)
        return ActionResult("need_region", updates={"case_id": case.id})
    return _place(context, case, phone)


@action("set_contact_number")
def set_contact_number(
    context: TurnContext, params: Mapping[str, Any], data: Mapping[str, Any]
) -> ActionResult:
    """Accept the keyed-in callback number. Outcomes: ok, invalid, give_up (after 3 tries)."""
    phone = phones.normalize(str(data.get("contact_digits", "")))
    if phone is not None:
        return ActionResult("ok", updates={"contact_phone": phone, "_number_tries": 0})

    tries = int(data.get("_number_tries", 0)) + 1
    if tries >= MAX_NUMBER_TRIES:
        return ActionResult("give_up", updates={"_number_tries": 0})
    return ActionResult("invalid", updates={"_number_tries": tries})


@action("place_case")
def place_case(
    context: TurnContext, params: Mapping[str, Any], data: Mapping[str, Any]
) -> ActionResult:
    """Give the open case the region the caller chose (community, else street, else the
    district pool) and queue its dispatch. Outcome: created. Raises LookupError when the
    conversation has no open case."""
    session = context.session
    case = session.get(Case, data.get("case_id"))
    if case is None:
        raise LookupError("place_case: the conversation has no open case")
    if case.region_id is not None:
        return ActionResult("created", updates=_confirmation(context, case))

    code = data.get("community") or data.get("street")
    region = session.scalar(select(Region).where(Region.code == code)) if code else None
    if region is None:
        region = find_district(session)

    case.region = region
    if case.resident is not None and case.resident.region_id is None and data.get("community"):
        case.resident.region = region
    add_event(
        session,
        case,
        "region_set",
        _region_note(data, region),
        data={"region": region.code if region else None},
    )
    return _place(context, case, case.contact_phone)


def _region_note(data: Mapping[str, Any], region: Region | None) -> str:
    name = region.name_zh if region else "崂山区"
    if data.get("community") or data.get("street"):
        return f"居民选择：{name} / chosen by the resident"
    return f"居民未选择所在地区，转入{name}工单池 / no region chosen; district pool"


@action("look_up_case")
def look_up_case(
    context: TurnContext, params: Mapping[str, Any], data: Mapping[str, Any]
) -> ActionResult:
    """Find the case whose number was keyed in. Outcomes: found (with its status), not_found."""
    case = find_by_number(context.session, str(data.get("case_number_input", "")))
    if case is None:
        return ActionResult("not_found")

    status = STATUS_TEXT[case.status]
    variables = {
        "case_number": case.number,
        "case_number_spoken": spoken(case.number or ""),
        "case_status": status.zh,
        "case_status_en": status.en,
    }
    return ActionResult("found", updates=variables)


def _item(context: TurnContext, data: Mapping[str, Any]) -> ServiceItem:
    item = context.session.scalar(select(ServiceItem).where(ServiceItem.code == data.get("item")))
    if item is None:
        raise LookupError("no service item chosen")
    return item


@action("load_checklist")
def load_checklist(
    context: TurnContext, params: Mapping[str, Any], data: Mapping[str, Any]
) -> ActionResult:
    """Variables for reading out the chosen item's checklist. Outcome: shown. Raises
    LookupError when no service item was chosen."""
    item = _item(context, data)
    checklist_zh = "、".join(item.checklist_zh) or "无需准备材料"
    checklist_en = "; ".join(item.checklist_en) or "nothing"
    variables = {
        "item_code": item.code,
        "item_name": item.name_zh,
        "item_name_en": item.name_en,
        "checklist": checklist_zh,
        "checklist_en": checklist_en,
        "where": f"办理地点：{item.where_zh}。" if item.where_zh else "",
        "where_en": f"Where: {item.where_en}. " if item.where_en else "",
        "note": f"{item.note_zh.rstrip('。')}。" if item.note_zh else "",
        "note_en": item.note_en,
    }
    return ActionResult("shown", variables=variables)


@action("send_checklist")
def send_checklist(
    context: TurnContext, params: Mapping[str, Any], data: Mapping[str, Any]
) -> ActionResult:
    """Queue the chosen item's checklist as an SMS to the caller. Outcomes: sent, no_phone
    (a withheld number or a landline: nothing could be delivered)."""
    phone = context.caller_phone or data.get("contact_phone")
    if not phones.is_mobile(phone):
        return ActionResult("no_phone")
    assert phone is not None

    item = _item(context, data)
    body = render_sms(context.services.templates, "checklist.txt.j2", item=item)
    resident = context.session.scalar(select(Resident).where(Resident.phone == phone))
    queue_sms(
        context.session,
        context.services,
        to=phone,
        body=body,
        purpose="checklist",
        resident=resident,
    )
    logger.info("checklist queued item=%s to=%s", item.code, phones.mask(phone))
    return ActionResult("sent")


@source("departments")
def departments(context: TurnContext, data: Mapping[str, Any]) -> list[Choice]:
    """Departments that have service items, in catalogue order."""
    rows = context.session.scalars(select(Department).order_by(Department.position))
    return [Choice(row.code, Text(row.name_zh, row.name_en)) for row in rows if row.items]


@source("service_items")
def service_items(context: TurnContext, data: Mapping[str, Any]) -> list[Choice]:
    """The chosen department's service items, in catalogue order."""
    department = context.session.scalar(
        select(Department).where(Department.code == data.get("department"))
    )
    if department is None:
        return []
    return [Choice(item.code, Text(item.name_zh, item.name_en)) for item in department.items]


@source("service_item_codes")
def service_item_codes(context: TurnContext, data: Mapping[str, Any]) -> list[Choice]:
    """Every service item by its code (for residents who key the code in directly)."""
    rows = context.session.scalars(select(ServiceItem).order_by(ServiceItem.code))
    return [Choice(item.code, Text(item.name_zh, item.name_en)) for item in rows]


@source("streets")
def streets(context: TurnContext, data: Mapping[str, Any]) -> list[Choice]:
    """The district's streets, in menu order."""
    rows = context.session.scalars(
        select(Region).where(Region.level == RegionLevel.STREET).order_by(Region.position)
    )
    return [Choice(row.code, Text(row.name_zh, row.name_en)) for row in rows]


@source("communities")
def communities(context: TurnContext, data: Mapping[str, Any]) -> list[Choice]:
    """The chosen street's communities, in menu order."""
    street = context.session.scalar(select(Region).where(Region.code == data.get("street")))
    if street is None:
        return []
    return [Choice(row.code, Text(row.name_zh, row.name_en)) for row in street.children]
