"""Operations on cases: open one, add to its timeline, find one by number."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Channel
from hotline.cases.numbers import case_number_for, is_valid_case_number
from hotline.catalogue.models import ServiceItem
from hotline.regions.models import Region
from hotline.residents.models import Resident

logger = logging.getLogger(__name__)

SYSTEM = "system"
RESIDENT = "resident"

CHANNEL_ZH = {
    Channel.VOICE: "电话",
    Channel.SMS: "短信",
    Channel.API: "部门系统",
    Channel.DESK: "窗口",
}


def staff_actor(staff_id: int) -> str:
    """The actor string of a staff member in case events."""
    return f"staff:{staff_id}"


def add_event(
    session: Session,
    case: Case,
    kind: str,
    note: str = "",
    *,
    actor: str = SYSTEM,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one step to the case's timeline (flushed with the caller's transaction)."""
    event = CaseEvent(case=case, kind=kind, note=note, actor=actor, data=dict(data or {}))
    session.add(event)
    return event


def open_case(
    session: Session,
    *,
    kind: CaseKind,
    channel: Channel,
    resident: Resident | None,
    contact_phone: str | None,
    region: Region | None,
    topic: str = "",
    service_item: ServiceItem | None = None,
) -> Case:
    """Create a case with its number and a `created` event, inside the caller's transaction.

    The number derives from the primary key, so the row is flushed once to get it.
    """
    case = Case(
        kind=kind,
        channel=channel,
        status=CaseStatus.NEW,
        resident=resident,
        contact_phone=contact_phone,
        region=region,
        topic=topic,
        service_item=service_item,
    )
    session.add(case)
    session.flush()

    case.number = case_number_for(case.id)
    add_event(
        session,
        case,
        "created",
        f"经{CHANNEL_ZH[channel]}受理 / opened via {channel.value}",
        actor=RESIDENT,
        data={"kind": kind.value, "region": region.code if region else None},
    )
    logger.info("case opened case=%s kind=%s channel=%s", case.number, kind, channel)
    return case


def find_by_number(session: Session, number: str) -> Case | None:
    """The case with this number, or None (also None for a number failing its check digit)."""
    if not is_valid_case_number(number):
        return None
    return session.scalar(select(Case).where(Case.number == number))
