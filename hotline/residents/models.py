"""Resident rows, keyed by the E.164 phone number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base, UTCDateTime, utcnow
from hotline.regions.models import Region


class Resident(Base):
    """A resident; `region` is their grid when the registry knows it, else what they told us."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(50))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    registered: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region | None] = relationship()

    def __repr__(self) -> str:
        return f"<Resident {self.id}>"
