"""Region rows: one table for all four levels, each pointing at its parent."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base
from hotline.enums import str_enum


class RegionLevel(StrEnum):
    DISTRICT = "district"
    STREET = "street"
    COMMUNITY = "community"
    GRID = "grid"


class Region(Base):
    """A district, street, community or grid; `position` orders siblings in menus."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(
        back_populates="parent", order_by="Region.position"
    )

    def ancestors(self) -> list[Region]:
        """This region and its parents, nearest first (grid, community, street, district)."""
        chain: list[Region] = []
        node: Region | None = self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def __repr__(self) -> str:
        return f"<Region {self.level} {self.code}>"
