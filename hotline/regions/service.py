"""Look-ups on the region hierarchy shared by the flows and the dispatch policy."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.regions.models import Region, RegionLevel


def find_district(session: Session) -> Region | None:
    """The district (the first one, should the store ever hold several), or None."""
    return session.scalars(
        select(Region)
        .where(Region.level == RegionLevel.DISTRICT)
        .order_by(Region.position, Region.id)
        .limit(1)
    ).first()
