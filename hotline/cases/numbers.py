"""Case numbers: eight digits a resident can key on a phone pad, the last a check digit.

The check digit is Verhoeff's, which catches every single wrong digit and every swap of two
neighbouring digits, the two slips people make when reading a number out or keying it in.
"""

from __future__ import annotations

from stdnum import verhoeff
from stdnum.exceptions import ValidationError

BODY_OFFSET = 1_000_000
BODY_DIGITS = 7


def case_number_for(case_id: int) -> str:
    """The case number of the case with primary key `case_id` (seven digits, then a check).

    Raises ValueError when the id no longer fits seven digits (nine million cases).
    """
    body = BODY_OFFSET + case_id
    if body >= 10**BODY_DIGITS:
        raise ValueError("case id out of range for an eight-digit case number")

    text = f"{body:0{BODY_DIGITS}d}"
    return text + verhoeff.calc_check_digit(text)


def is_valid_case_number(value: str) -> bool:
    """True when `value` is eight digits with a correct check digit."""
    if len(value) != BODY_DIGITS + 1 or not value.isdigit():
        return False

    try:
        verhoeff.validate(value)
    except ValidationError:
        return False
    return True


def spoken(number: str) -> str:
    """The number spaced digit by digit, so speech reads it one digit at a time."""
    return " ".join(number)
