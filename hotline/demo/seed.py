"""Load the demo data (laoshan.yaml) into the case store, idempotently.

Rows are matched by `code` (regions, departments, service items) or by phone (staff,
residents): a second run with the same file changes nothing and creates no duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.catalogue.models import Department, ServiceItem, Visit
from hotline.db import Base
from hotline.phones import normalize
from hotline.regions.models import Region, RegionLevel
from hotline.residents.models import Resident
from hotline.staff.models import Staff, StaffRole

logger = logging.getLogger(__name__)

DEFAULT_PATH = Path(__file__).with_name("laoshan.yaml")

ModelT = TypeVar("ModelT", bound=Base)


class SeedError(ValueError):
    """Raised when the demo file cannot be read or holds an entry that cannot be loaded."""


@dataclass
class SeedReport:
    """What a seed run loaded: entries per kind, and how many rows it created or changed."""

    regions: int = 0
    staff: int = 0
    residents: int = 0
    departments: int = 0
    service_items: int = 0
    created: int = 0
    updated: int = 0

    @property
    def changed(self) -> bool:
        """True when the run created or changed at least one row."""
        return bool(self.created or self.updated)

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """One line for the CLI and the logs."""
        return (
            f"regions={self.regions} staff={self.staff} residents={self.residents} "
            f"departments={self.departments} service_items={self.service_items} "
            f"created={self.created} updated={self.updated}"
        )


def seed_demo(session: Session, path: Path | str = DEFAULT_PATH) -> SeedReport:
    """Upsert the region tree, staff, residents and catalogue of `path` in `session`.

    Works inside the caller's transaction (flushed, not committed). Positions are the
    order in the file (1-based among siblings); social workers belong to grids,
    supervisors to the district, streets and communities; residents are registered in
    their grid. Phones are stored as E.164. Empty or missing lists are accepted.
    Raises SeedError for an unreadable file, a missing field, an unusable phone number
    or a code or phone listed twice.
    """
    data = _load(path)

    seeder = _Seeder(session)
    seeder.seed_regions(data)
    seeder.seed_catalogue(_entries(data, "departments", "file"))
    session.flush()

    logger.info("demo data seeded from %s: %s", Path(path).name, seeder.report.summary())
    return seeder.report


def _load(path: Path | str) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SeedError(f"cannot read demo data from {path}: {error}") from error

    if not isinstance(data, Mapping):
        raise SeedError(f"demo data in {path} is not a mapping")
    return data


def _entries(mapping: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = mapping.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise SeedError(f"{where}: `{key}` must be a list of mappings")
    return value


def _field(entry: Mapping[str, Any], name: str, where: str) -> Any:
    value = entry.get(name)
    if value is None or value == "":
        raise SeedError(f"{where}: missing `{name}`")
    return value


def _assign(row: Base, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


class _Seeder:
    """One seed run: caches of existing rows by key, and the running report."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.report = SeedReport()
        self.seen: set[tuple[str, str]] = set()

        self.regions = {row.code: row for row in session.scalars(select(Region))}
        self.staff = {row.phone: row for row in session.scalars(select(Staff))}
        self.residents = {row.phone: row for row in session.scalars(select(Resident))}
        self.departments = {row.code: row for row in session.scalars(select(Department))}
        self.items = {row.code: row for row in session.scalars(select(ServiceItem))}

    def seed_regions(self, data: Mapping[str, Any]) -> None:
        district_entry = data.get("district")
        if not isinstance(district_entry, Mapping):
            raise SeedError("demo data has no `district` mapping")

        district = self.region(district_entry, RegionLevel.DISTRICT, None, 1)
        self.supervisors(district_entry, district)

        for position, street_entry in enumerate(_entries(data, "streets", "file"), start=1):
            street = self.region(street_entry, RegionLevel.STREET, district, position)
            self.supervisors(street_entry, street)
            self.communities(street_entry, street)

    def communities(self, street_entry: Mapping[str, Any], street: Region) -> None:
        entries = _entries(street_entry, "communities", f"street {street.code}")
        for position, community_entry in enumerate(entries, start=1):
            community = self.region(community_entry, RegionLevel.COMMUNITY, street, position)
            self.supervisors(community_entry, community)

            grids = _entries(community_entry, "grids", f"community {community.code}")
            for grid_position, grid_entry in enumerate(grids, start=1):
                grid = self.region(grid_entry, RegionLevel.GRID, community, grid_position)
                for worker in _entries(grid_entry, "social_workers", f"grid {grid.code}"):
                    self.person(worker, StaffRole.SOCIAL_WORKER, grid)
                for resident in _entries(grid_entry, "residents", f"grid {grid.code}"):
                    self.resident(resident, grid)

    def supervisors(self, entry: Mapping[str, Any], region: Region) -> None:
        for supervisor in _entries(entry, "supervisors", f"region {region.code}"):
            self.person(supervisor, StaffRole.SUPERVISOR, region)

    def region(
        self,
        entry: Mapping[str, Any],
        level: RegionLevel,
        parent: Region | None,
        position: int,
    ) -> Region:
        code = str(_field(entry, "code", f"a {level.value} entry"))
        where = f"{level.value} {code}"
        values = {
            "level": level,
            "name_zh": str(_field(entry, "name_zh", where)),
            "name_en": str(_field(entry, "name_en", where)),
            "parent_id": parent.id if parent is not None else None,
            "position": position,
        }

        self.report.regions += 1
        return self.upsert(Region, self.regions, "code", code, values)

    def person(self, entry: Mapping[str, Any], role: StaffRole, region: Region) -> Staff:
        where = f"{role.value} of region {region.code}"
        values = {
            "name": str(_field(entry, "name", where)),
            "role": role,
            "region_id": region.id,
            "on_duty": bool(entry.get("on_duty", True)),
            "active": bool(entry.get("active", True)),
        }

        self.report.staff += 1
        return self.upsert(Staff, self.staff, "phone", self.phone(entry, where), values)

    def resident(self, entry: Mapping[str, Any], grid: Region) -> Resident:
        where = f"resident of grid {grid.code}"
        values = {
            "name": entry.get("name"),
            "region_id": grid.id,
            "registered": True,
        }

        self.report.residents += 1
        return self.upsert(Resident, self.residents, "phone", self.phone(entry, where), values)

    def seed_catalogue(self, departments: list[Mapping[str, Any]]) -> None:
        for position, entry in enumerate(departments, start=1):
            code = str(_field(entry, "code", "a department entry"))
            where = f"department {code}"
            values = {
                "name_zh": str(_field(entry, "name_zh", where)),
                "name_en": str(_field(entry, "name_en", where)),
                "position": position,
            }
            self.report.departments += 1
            department = self.upsert(Department, self.departments, "code", code, values)

            items = _entries(entry, "items", where)
            for item_position, item in enumerate(items, start=1):
                self.service_item(item, department, item_position)

    def service_item(
        self, entry: Mapping[str, Any], department: Department, position: int
    ) -> ServiceItem:
        code = str(_field(entry, "code", f"a service item of department {department.code}"))
        where = f"service item {code}"
        try:
            visit = Visit(entry.get("visit") or Visit.REQUIRED.value)
        except ValueError as error:
            raise SeedError(f"{where}: unknown visit {entry.get('visit')!r}") from error

        values = {
            "department_id": department.id,
            "name_zh": str(_field(entry, "name_zh", where)),
            "name_en": str(_field(entry, "name_en", where)),
            "eligibility_zh": entry.get("eligibility_zh") or "",
            "eligibility_en": entry.get("eligibility_en") or "",
            "checklist_zh": [str(line) for line in entry.get("checklist_zh") or []],
            "checklist_en": [str(line) for line in entry.get("checklist_en") or []],
            "visit": visit,
            "needs_appointment": bool(entry.get("needs_appointment", False)),
            "where_zh": entry.get("where_zh") or "",
            "where_en": entry.get("where_en") or "",
            "time_limit_days": entry.get("time_limit_days"),
            "note_zh": entry.get("note_zh") or "",
            "note_en": entry.get("note_en") or "",
            "position": position,
        }

        self.report.service_items += 1
        return self.upsert(ServiceItem, self.items, "code", code, values)

    def phone(self, entry: Mapping[str, Any], where: str) -> str:
        phone = normalize(str(entry.get("phone") or ""))
        if phone is None:
            # The number itself stays out of the message: error texts end up in logs.
            raise SeedError(f"{where}: missing or unusable phone number")
        return phone

    def upsert(
        self,
        model: type[ModelT],
        cache: dict[str, ModelT],
        key_name: str,
        key: str,
        values: Mapping[str, Any],
    ) -> ModelT:
        """Create the row with this key, or bring the existing one in line with `values`.

        A new row is flushed at once, so children can point at its id.
        """
        marker = (model.__name__, key)
        if marker in self.seen:
            raise SeedError(f"{model.__name__} {key_name} listed twice in the demo data")
        self.seen.add(marker)

        row = cache.get(key)
        if row is None:
            row = model(**{key_name: key}, **values)
            self.session.add(row)
            self.session.flush()
            cache[key] = row
            self.report.created += 1
        elif _assign(row, values):
            self.report.updated += 1
        return row
