"""Phone numbers: parse any spelling a resident or carrier uses, store E.164, mask for display."""

from __future__ import annotations

import logging
import re
import unicodedata

import phonenumbers

logger = logging.getLogger(__name__)

DEFAULT_REGION = "CN"
_INTERNATIONAL_PREFIX = re.compile(r"^00(?=[1-9])")


def normalize(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """Return `raw` as an E.164 string, or None when it is not a usable phone number.

    Accepts full-width digits, spaces, dashes, brackets, `00` and `86` prefixes; a bare
    national number is read in `region` (never prefixed with `+`). Withheld callers
    (`anonymous`, `Restricted`, empty) and invalid numbers give None; this never raises.
    """
    if not raw:
        return None

    text = unicodedata.normalize("NFKC", raw).strip()
    text = _INTERNATIONAL_PREFIX.sub("+", text)
    if not any(ch.isdigit() for ch in text):
        return None

    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and region == "CN" and digits.startswith("86"):
        national = digits[2:]
        if (len(national) == 11 and national.startswith("1")) or national.startswith("0"):
            text = "+" + digits

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(value: str | None) -> str:
    """Mask a phone number for logs, job arguments and lists: `+86138****8000`.

    A Chinese number keeps its first three and last four national digits; anything else
    keeps only three leading and two trailing characters, so no number leaks whole.
    """
    if not value:
        return "<none>"

    text = str(value)
    e164 = normalize(text)
    if e164 is not None and e164.startswith("+86"):
        national = e164.removeprefix("+86")
        return f"+86{national[:3]}****{national[-4:]}"
    if len(text) <= 6:
        return "****"
    return f"{text[:3]}****{text[-2:]}"


def mask_national(value: str | None) -> str:
    """Mask an E.164 number the way residents and staff read it in Chinese texts: 138****5678."""
    if not value:
        return "****"

    national = value.removeprefix("+86") if value.startswith("+86") else value
    if len(national) < 7:
        return "****"
    return f"{national[:3]}****{national[-4:]}"


def is_mobile(e164: str | None) -> bool:
    """True when `e164` can receive SMS: a mobile number (or one its plan cannot tell from a
    mobile). Landlines and unusable values give False; this never raises."""
    if not e164:
        return False

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
