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


def read_reply(text: str | None) -> tuple[str, ...]:
    """The inputs in a resident's SMS reply, normalised.

    Full-width and circled digits fold to ASCII (NFKC); a reply made only of digit groups
    separated by spaces or punctuation (`4 2 3`, `４，２`) becomes one input per group;
    anything else is one input, stripped. Never raises; an empty reply gives `("",)`.
    """
    folded = unicodedata.normalize("NFKC", text or "").strip()

    tokens = [token for token in _SEPARATORS.split(folded) if token]
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
