"""Callback rows: the dispatch record of one case's callback request."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.cases.models import Case
from hotline.db import Base, UTCDateTime, utcnow
from hotline.enums import str_enum
from hotline.staff.models import Staff


class CallbackStatus(StrEnum):
    PENDING = "pending"
    ASSIGNED = "assigned"
    FAILED = "failed"


class Callback(Base):
    """A resident's request to be called back; pending until a job assigns it."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    status: Mapped[CallbackStatus] = mapped_column(
        str_enum(CallbackStatus), default=CallbackStatus.PENDING, index=True
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[Case] = relationship()
    staff: Mapped[Staff | None] = relationship()
