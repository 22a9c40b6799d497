"""SMS segment counting as carriers bill it: GSM-7 when every character fits, else UCS-2."""

from __future__ import annotations

import logging
import math

logger = logging.getLogger(__name__)

# GSM 03.38 basic character set (one septet each), without the escape code itself.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# GSM 03.38 extension table: each costs an escape septet plus its own.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE_LIMIT = 160
GSM7_PART_LIMIT = 153
UCS2_SINGLE_LIMIT = 70
UCS2_PART_LIMIT = 67


def is_gsm7(text: str) -> bool:
    """Return True when every character of `text` can be sent in the GSM-7 alphabet."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def count_segments(text: str) -> int:
    """Return how many SMS segments `text` needs; never less than 1.

    GSM-7 text counts septets (extension characters take two): up to 160 fit one
    segment, longer text is split in parts of 153. Any other text is sent as UCS-2 and
    counts UTF-16 code units (an emoji takes two): up to 70 fit one segment, longer
    text is split in parts of 67. Never raises.
    """
    if is_gsm7(text):
        units = sum(2 if char in GSM7_EXTENSION else 1 for char in text)
        single_limit, part_limit = GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT
    else:
        units = len(text.encode("utf-16-le")) // 2
        single_limit, part_limit = UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT

    if units <= single_limit:
        return 1
    return math.ceil(units / part_limit)
