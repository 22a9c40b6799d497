"""SMS texts rendered from the Jinja2 templates in `sms_templates/`."""

from __future__ import annotations

import logging
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hotline.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

TEMPLATE_DIR = PROJECT_ROOT / "sms_templates"
SIGNATURE = "【崂山社区服务】"


def make_environment() -> Environment:
    """A Jinja2 environment over sms_templates/; a missing variable is an error, not a blank."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["signature"] = SIGNATURE
    return environment


def render_sms(environment: Environment, name: str, **context: Any) -> str:
    """Render template `name` (e.g. `assignment.txt.j2`) to the text of one SMS.

    Raises jinja2.TemplateNotFound or jinja2.UndefinedError on a broken template or context.
    """
    text = environment.get_template(name).render(**context)
    return text.strip()
