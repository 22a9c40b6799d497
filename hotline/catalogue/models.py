"""Department and service item rows."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base
from hotline.enums import str_enum


class Visit(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


class Department(Base):
    """A department behind the front desk (civil affairs, human resources, …)."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)

    items: Mapped[list[ServiceItem]] = relationship(
        back_populates="department", order_by="ServiceItem.position"
    )


class ServiceItem(Base):
    """A service item: who may apply, what to bring, where to go and how long it takes."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    eligibility_zh: Mapped[str] = mapped_column(Text, default="")
    eligibility_en: Mapped[str] = mapped_column(Text, default="")
    checklist_zh: Mapped[list[str]] = mapped_column(JSON, default=list)
    checklist_en: Mapped[list[str]] = mapped_column(JSON, default=list)
    visit: Mapped[Visit] = mapped_column(str_enum(Visit), default=Visit.REQUIRED)
    needs_appointment: Mapped[bool] = mapped_column(Boolean, default=False)
    where_zh: Mapped[str] = mapped_column(Text, default="")
    where_en: Mapped[str] = mapped_column(Text, default="")
    time_limit_days: Mapped[int | None] = mapped_column(Integer)
    note_zh: Mapped[str] = mapped_column(Text, default="")
    note_en: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    department: Mapped[Department] = relationship(back_populates="items")
