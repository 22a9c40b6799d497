"""Initial schema of the case store.

Regions, the service catalogue, residents, staff, cases and their events, callbacks,
conversations and their turns, messages and status callbacks.

Revision ID: 0001
Revises:
Create Date: 2026-12-03 16:43:58.544788
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hotline.db import UTCDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )

    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "district",
                "street",
                "community",
                "grid",
                name="regionlevel",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["regions.id"], name=op.f("fk_regions_parent_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("code", name=op.f("uq_regions_code")),
    )
    op.create_index(op.f("ix_regions_parent_id"), "regions", ["parent_id"])

    op.create_table(
        "status_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_callbacks")),
        sa.UniqueConstraint("sid", "status", name="uq_status_callbacks_sid_status"),
    )
    op.create_index(op.f("ix_status_callbacks_sid"), "status_callbacks", ["sid"])

    op.create_table(
        "residents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_residents_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
        sa.UniqueConstraint("phone", name=op.f("uq_residents_phone")),
    )
    op.create_index(op.f("ix_residents_region_id"), "residents", ["region_id"])

    op.create_table(
        "service_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("eligibility_zh", sa.Text(), nullable=False),
        sa.Column("eligibility_en", sa.Text(), nullable=False),
        sa.Column("checklist_zh", sa.JSON(), nullable=False),
        sa.Column("checklist_en", sa.JSON(), nullable=False),
        sa.Column(
            "visit",
            sa.Enum("required", "optional", "none", name="visit", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("needs_appointment", sa.Boolean(), nullable=False),
        sa.Column("where_zh", sa.Text(), nullable=False),
        sa.Column("where_en", sa.Text(), nullable=False),
        sa.Column("time_limit_days", sa.Integer(), nullable=True),
        sa.Column("note_zh", sa.Text(), nullable=False),
        sa.Column("note_en", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_service_items_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_items")),
        sa.UniqueConstraint("code", name=op.f("uq_service_items_code")),
    )
    op.create_index(op.f("ix_service_items_department_id"), "service_items", ["department_id"])

    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "social_worker", "supervisor", name="staffrole", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_staff_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("phone", name=op.f("uq_staff_phone")),
    )
    op.create_index(op.f("ix_staff_region_id"), "staff", ["region_id"])

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=12), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "consultation",
                "query",
                "appointment",
                "callback",
                "complaint",
                "suggestion",
                "help",
                "report",
                name="casekind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "channel",
            sa.Enum(
                "voice", "sms", "api", "desk", name="channel", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "dispatching",
                "assigned",
                "accepted",
                "closed",
                name="casestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("service_item_id", sa.Integer(), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["staff.id"], name=op.f("fk_cases_assignee_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_cases_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_cases_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["service_item_id"],
            ["service_items.id"],
            name=op.f("fk_cases_service_item_id_service_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    op.create_index(op.f("ix_cases_assignee_id"), "cases", ["assignee_id"])
    op.create_index(op.f("ix_cases_region_id"), "cases", ["region_id"])
    op.create_index(op.f("ix_cases_resident_id"), "cases", ["resident_id"])
    op.create_index(op.f("ix_cases_status"), "cases", ["status"])

    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "voice", "sms", "api", "desk", name="channel", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("node", sa.String(length=60), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("caller_phone", sa.String(length=20), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_conversations_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint("key", name=op.f("uq_conversations_key")),
    )

    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "assigned",
                "failed",
                name="callbackstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("assigned_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_callbacks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_callbacks_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("case_id", name=op.f("uq_callbacks_case_id")),
    )
    op.create_index(op.f("ix_callbacks_status"), "callbacks", ["status"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_events_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"])

    op.create_table(
        "conversation_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("node_before", sa.String(length=60), nullable=False),
        sa.Column("node_after", sa.String(length=60), nullable=False),
        sa.Column("user_input", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_turns_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_turns")),
        sa.UniqueConstraint("key", name=op.f("uq_conversation_turns_key")),
    )
    op.create_index(
        op.f("ix_conversation_turns_conversation_id"), "conversation_turns", ["conversation_id"]
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sid", sa.String(length=40), nullable=True),
        sa.Column(
            "direction",
            sa.Enum(
                "inbound", "outbound", "reply", name="direction", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("from_number", sa.String(length=32), nullable=True),
        sa.Column("to_number", sa.String(length=32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("num_segments", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_messages_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_messages_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_messages_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("sid", name=op.f("uq_messages_sid")),
    )
    op.create_index(op.f("ix_messages_case_id"), "messages", ["case_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("messages")
    op.drop_table("conversation_turns")
    op.drop_table("case_events")
    op.drop_table("callbacks")
    op.drop_table("conversations")
    op.drop_table("cases")
    op.drop_table("staff")
    op.drop_table("service_items")
    op.drop_table("residents")
    op.drop_table("status_callbacks")
    op.drop_table("regions")
    op.drop_table("departments")
