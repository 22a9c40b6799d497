"""Column type for the string enumerations the case store uses (kept as plain text)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def str_enum(enum_class: type[StrEnum], length: int = 24) -> Enum:
    """A portable column for a StrEnum: stores the values, not the member names."""
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
