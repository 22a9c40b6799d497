"""Message rows (inbound and outbound SMS) and the status callbacks received for them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.db import Base, UTCDateTime, utcnow
from hotline.enums import str_enum


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    REPLY = "reply"


# Later statuses outrank earlier ones, so a late `sent` never overwrites `delivered`.
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "receiving": 3,
    "received": 4,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}


class Message(Base):
    """One SMS in or out; outbound rows exist before sending, so nothing is lost on failure."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str | None] = mapped_column(String(40), unique=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    from_number: Mapped[str | None] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="queued")
    purpose: Mapped[str] = mapped_column(String(30), default="")
    error_code: Mapped[int | None] = mapped_column(Integer)
    num_segments: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StatusCallback(Base):
    """A status callback as received; (sid, status) is unique, so a retried one is a no-op."""

    __tablename__ = "status_callbacks"
    __table_args__ = (UniqueConstraint("sid", "status", name="uq_status_callbacks_sid_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
