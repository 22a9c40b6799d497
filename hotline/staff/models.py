"""Staff rows: who works where, how to reach them, and whether they are on duty."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base
from hotline.enums import str_enum
from hotline.regions.models import Region


class StaffRole(StrEnum):
    SOCIAL_WORKER = "social_worker"
    SUPERVISOR = "supervisor"


class Staff(Base):
    """A social worker (region: a grid) or a supervisor (region: community, street, district)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    role: Mapped[StaffRole] = mapped_column(str_enum(StaffRole))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    region: Mapped[Region] = relationship()

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.role}>"
