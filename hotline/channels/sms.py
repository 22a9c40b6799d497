"""SMS channel: read what a resident typed, and render a flow step as the reply text."""

from __future__ import annotations

import logging
import re
import unicodedata

from jinja2 import Environment

from hotline.channels.templates import render_sms
from hotline.flows.engine import StepResult

logger = logging.getLogger(__name__)

_SEPARATORS = re.compile(r"[\s,，、;；.。]+")
_KEYCAP = re.compile("[\ufe0f\u20e3]")
CHINESE_DIGITS = {
    **dict.fromkeys("零〇", "0"),
    **dict.fromkeys("一壹", "1"),
    **dict.fromkeys("二贰两", "2"),
    **dict.fromkeys("三叁", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆", "6"),
    **dict.fromkeys("七柒", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖", "9"),
}


def _ascii_digits(text: str) -> str:
    """Every decimal digit of any script (full-width, Arabic-Indic, …) as its ASCII digit."""
    return "".join(
        str(unicodedata.decimal(char)) if unicodedata.decimal(char, None) is not None else char
        for char in text
    )


def _token(token: str) -> str:
    if token and all(char in CHINESE_DIGITS for char in token):
        return "".join(CHINESE_DIGITS[char] for char in token)
    return token


def read_reply(text: str | None) -> tuple[str, ...]:
    """The inputs in a resident's SMS reply, normalised.

    Full-width, circled and other-script digits fold to ASCII, keycaps (`1️⃣`) lose their
    frame, and a group written only in Chinese numerals (`四`, `壹`) becomes its digits. A
    reply made only of digit groups separated by spaces or punctuation (`4 2 3`, `４，２`)
    becomes one input per group; anything else is one input, stripped. Never raises; an
    empty reply gives `("",)`.
    """
    folded = unicodedata.normalize("NFKC", text or "")
    folded = _ascii_digits(_KEYCAP.sub("", folded)).strip()

    tokens = [_token(token) for token in _SEPARATORS.split(folded) if token]
    if tokens and all(token.isdigit() for token in tokens):
        return tuple(tokens)
    return (folded,)


def render_reply(templates: Environment, result: StepResult) -> str:
    """The reply text for one step, from `sms_templates/reply.txt.j2`."""
    output = result.output
    return render_sms(
        templates,
        "reply.txt.j2",
        texts=output.texts,
        menu=output.menu,
        waits_for_digits=bool(output.wait and output.wait.min_digits > 1),
        end=output.end,
    )
