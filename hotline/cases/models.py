"""Case and case-event rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.catalogue.models import ServiceItem
from hotline.db import Base, UTCDateTime, utcnow
from hotline.enums import str_enum
from hotline.regions.models import Region
from hotline.residents.models import Resident
from hotline.staff.models import Staff


class CaseKind(StrEnum):
    CONSULTATION = "consultation"
    QUERY = "query"
    APPOINTMENT = "appointment"
    CALLBACK = "callback"
    COMPLAINT = "complaint"
    SUGGESTION = "suggestion"
    HELP = "help"
    REPORT = "report"


class Channel(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    API = "api"
    DESK = "desk"


class CaseStatus(StrEnum):
    NEW = "new"
    DISPATCHING = "dispatching"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    CLOSED = "closed"


class Case(Base):
    """One pre-accepted request; `number` is what residents key in to ask about it."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(12), unique=True)
    kind: Mapped[CaseKind] = mapped_column(str_enum(CaseKind))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus), default=CaseStatus.NEW, index=True
    )
    topic: Mapped[str] = mapped_column(String(200), default="")
    service_item_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"), index=True)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    service_item: Mapped[ServiceItem | None] = relationship()
    resident: Mapped[Resident | None] = relationship()
    region: Mapped[Region | None] = relationship()
    assignee: Mapped[Staff | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Case {self.number or self.id} {self.status}>"


class CaseEvent(Base):
    """One step of a case's timeline: who did what, when, and why."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")
