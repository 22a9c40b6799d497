"""Imports every model, so `Base.metadata` knows the whole case store (for Alembic and tests)."""

from hotline.cases.models import Case, CaseEvent, CaseKind, CaseStatus, Channel
from hotline.catalogue.models import Department, ServiceItem, Visit
from hotline.db import Base
from hotline.dispatch.models import Callback, CallbackStatus
from hotline.flows.models import Conversation, ConversationTurn
from hotline.regions.models import Region, RegionLevel
from hotline.residents.models import Resident
from hotline.staff.models import Staff, StaffRole
from hotline.telephony.models import Direction, Message, StatusCallback

__all__ = [
    "Base",
    "Callback",
    "CallbackStatus",
    "Case",
    "CaseEvent",
    "CaseKind",
    "CaseStatus",
    "Channel",
    "Conversation",
    "ConversationTurn",
    "Department",
    "Direction",
    "Message",
    "Region",
    "RegionLevel",
    "Resident",
    "ServiceItem",
    "Staff",
    "StaffRole",
    "StatusCallback",
    "Visit",
]
