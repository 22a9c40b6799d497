"""The demo seed: counts, positions, roles, phones, empty lists and idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.catalogue.models import Department, ServiceItem, Visit
from hotline.db import Base, Database
from hotline.demo.seed import SeedError, seed_demo
from hotline.regions.models import Region, RegionLevel
from hotline.residents.models import Resident
from hotline.services import Services
from hotline.staff.models import Staff, StaffRole

SMALL = """
district:
  code: "900000"
  name_zh: 示例区
  name_en: Example District
  supervisors:
    - {name: 区主管, phone: "+8613700009001"}
streets:
  - code: "900000002"
    name_zh: 乙街道
    name_en: Street B
    supervisors: []
    communities: []
  - code: "900000001"
    name_zh: 甲街道
    name_en: Street A
    supervisors:
      - {name: 街道主管, phone: "0086 137 0000 9002"}
    communities:
      - code: "900000001001"
        name_zh: 甲社区
        name_en: Community A
        supervisors:
          - {name: 社区主管, phone: "137-0000-9003"}
        grids:
          - code: "90000000100101"
            name_zh: 甲社区第一网格
            name_en: Grid A1
            social_workers:
              - {name: 社工甲, phone: "+8613900009001", on_duty: true}
              - {name: 社工乙, phone: "１３９００００９００２", on_duty: false}
            residents:
              - {name: 居民甲, phone: "+8613800009001"}
          - code: "90000000100102"
            name_zh: 甲社区第二网格
            name_en: Grid A2
            social_workers: []
            residents: []
departments:
  - code: dept_b
    name_zh: 乙部门
    name_en: Department B
    items: []
  - code: dept_a
    name_zh: 甲部门
    name_en: Department A
    items:
      - code: "201"
        name_zh: 甲事项
        name_en: Item A
        checklist_zh: [身份证]
        checklist_en: [ID card]
        visit: optional
        time_limit_days: 7
      - code: "202"
        name_zh: 乙事项
        name_en: Item B
        checklist_zh: []
        checklist_en: []
        visit: none
"""


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """An empty case store of its own (SQLite), independent of the shared test database."""
    database = Database(f"sqlite:///{tmp_path / 'seed.db'}")
    Base.metadata.create_all(database.engine)
    with database.session() as session:
        yield session
    database.dispose()


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def region(session: Session, code: str) -> Region:
    return session.scalars(select(Region).where(Region.code == code)).one()


def test_small_file_counts(session: Session, small_file: Path) -> None:
    report = seed_demo(session, small_file)

    assert (report.regions, report.staff, report.residents) == (6, 5, 1)
    assert (report.departments, report.service_items) == (2, 2)
    assert report.created == 16
    assert report.updated == 0
    assert count(session, Region) == 6
    assert count(session, Staff) == 5
    assert count(session, ServiceItem) == 2


def test_tree_positions_and_parents_follow_the_file(session: Session, small_file: Path) -> None:
    seed_demo(session, small_file)

    district = region(session, "900000")
    street_b, street_a = region(session, "900000002"), region(session, "900000001")
    grid_a2 = region(session, "90000000100102")

    assert (district.level, district.position, district.parent_id) == (
        RegionLevel.DISTRICT,
        1,
        None,
    )
    assert (street_b.position, street_a.position) == (1, 2)
    assert street_a.parent_id == district.id
    assert grid_a2.level == RegionLevel.GRID
    assert grid_a2.position == 2
    assert [node.code for node in grid_a2.ancestors()] == [
        "90000000100102",
        "900000001001",
        "900000001",
        "900000",
    ]


def test_roles_duty_and_phones(session: Session, small_file: Path) -> None:
    seed_demo(session, small_file)

    staff = {row.name: row for row in session.scalars(select(Staff))}
    assert staff["社工甲"].role == StaffRole.SOCIAL_WORKER
    assert staff["社工甲"].region.code == "90000000100101"
    assert staff["社工乙"].on_duty is False
    assert staff["社工乙"].phone == "+8613900009002"  # full-width digits normalised
    assert staff["街道主管"].phone == "+8613700009002"  # 0086 prefix and spaces
    assert staff["社区主管"].phone == "+8613700009003"  # bare national number with dashes
    for name, level in (
        ("区主管", "district"),
        ("街道主管", "street"),
        ("社区主管", "community"),
    ):
        assert staff[name].role == StaffRole.SUPERVISOR
        assert staff[name].region.level == level

    resident = session.scalars(select(Resident)).one()
    assert resident.registered is True
    assert resident.region is not None and resident.region.code == "90000000100101"


def test_catalogue_positions_and_fields(session: Session, small_file: Path) -> None:
    seed_demo(session, small_file)

    departments = session.scalars(select(Department).order_by(Department.position)).all()
    assert [(row.code, row.position) for row in departments] == [("dept_b", 1), ("dept_a", 2)]

    item_a, item_b = departments[1].items
    assert (item_a.code, item_a.position, item_b.position) == ("201", 1, 2)
    assert item_a.visit == Visit.OPTIONAL
    assert item_a.checklist_zh == ["身份证"]
    assert item_a.time_limit_days == 7
    assert item_b.visit == Visit.NONE
    assert item_b.checklist_en == []


def test_second_run_changes_nothing(session: Session, small_file: Path) -> None:
    seed_demo(session, small_file)
    session.commit()

    again = seed_demo(session, small_file)

    assert again.created == 0
    assert again.updated == 0
    assert not again.changed
    assert len(session.dirty) == 0
    assert count(session, Region) == 6
    assert count(session, Staff) == 5
    assert count(session, Resident) == 1


def test_edited_file_updates_rows_in_place(
    session: Session, small_file: Path, tmp_path: Path
) -> None:
    seed_demo(session, small_file)
    session.commit()
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        SMALL.replace("name_zh: 甲社区\n", "name_zh: 甲社区（新）\n").replace(
            '{name: 社工乙, phone: "１３９００００９００２", on_duty: false}',
            '{name: 社工乙, phone: "+8613900009002", on_duty: true}',
        ),
        encoding="utf-8",
    )

    report = seed_demo(session, edited)

    assert (report.created, report.updated) == (0, 2)
    assert region(session, "900000001001").name_zh == "甲社区（新）"
    assert session.scalars(select(Staff).where(Staff.name == "社工乙")).one().on_duty is True
    assert count(session, Region) == 6


def test_empty_lists_and_missing_keys_are_accepted(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(
        'district: {code: "900000", name_zh: 示例区, name_en: Example, supervisors: []}\n'
        "streets: []\n"
        "departments: []\n",
        encoding="utf-8",
    )

    report = seed_demo(session, path)

    assert (report.regions, report.staff, report.departments) == (1, 0, 0)
    assert count(session, Region) == 1


BAD_PHONE = '{code: "1", name_zh: 区, name_en: D, supervisors: [{name: x, phone: "1"}]}'


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param("streets: []\n", id="no-district"),
        pytest.param(f"district: {BAD_PHONE}\n", id="unusable-phone"),
        pytest.param(
            'district: {code: "1", name_zh: 区, name_en: D}\nstreets: {code: "2"}\n',
            id="streets-not-a-list",
        ),
        pytest.param('district: {code: "1", name_en: D}\n', id="missing-name"),
        pytest.param("district: [unclosed\n", id="bad-yaml"),
    ],
)
def test_unusable_files_raise_seed_error(session: Session, tmp_path: Path, broken: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")

    with pytest.raises(SeedError):
        seed_demo(session, path)


def test_phone_listed_twice_is_refused(session: Session, small_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text(SMALL.replace("+8613900009001", "+8613700009001"), encoding="utf-8")

    with pytest.raises(SeedError, match="twice"):
        seed_demo(session, path)


def test_demo_file_is_idempotent_on_the_test_database(services: Services) -> None:
    """The shared `app` fixture has seeded laoshan.yaml once already."""
    with services.db.session() as session:
        before = {model: count(session, model) for model in (Region, Staff, Resident)}
        report = seed_demo(session)

    assert (report.created, report.updated) == (0, 0)
    assert report.regions == before[Region]
    assert report.staff == before[Staff]
    assert report.residents == before[Resident]
    with services.db.session() as session:
        assert {model: count(session, model) for model in (Region, Staff, Resident)} == before

        streets = session.scalars(
            select(Region).where(Region.level == RegionLevel.STREET).order_by(Region.position)
        ).all()
        assert [row.name_zh for row in streets] == [
            "中韩街道",
            "金家岭街道",
            "沙子口街道",
            "王哥庄街道",
            "北宅街道",
        ]
        grid = session.scalars(select(Region).where(Region.name_zh == "段家埠社区第二网格")).one()
        workers = session.scalars(select(Staff).where(Staff.region_id == grid.id)).all()
        assert len(workers) == 2
        assert not any(worker.on_duty for worker in workers)
