"""Conversation rows: where a call or an SMS exchange stands, and the turns it has taken."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.cases.models import Channel
from hotline.db import Base, UTCDateTime, utcnow
from hotline.enums import str_enum


class Conversation(Base):
    """One call (keyed by CallSid) or one phone's SMS exchange (keyed by `sms:<E.164>`)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    flow: Mapped[str] = mapped_column(String(40))
    node: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    caller_phone: Mapped[str | None] = mapped_column(String(20))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    ended: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ConversationTurn(Base):
    """One answered input; the unique key makes a retried webhook replay the same answer."""

    __tablename__ = "conversation_turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    seq: Mapped[int] = mapped_column(Integer)
    node_before: Mapped[str] = mapped_column(String(60))
    node_after: Mapped[str] = mapped_column(String(60))
    user_input: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
