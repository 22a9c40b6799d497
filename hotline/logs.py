"""Logging set up once per entry point, with phone and ID numbers masked in every line.

Numbers can reach a log line from places the code does not choose: a database driver's
error detail (`Key (phone)=(+86…) already exists`), a traceback, a library's request log.
The formatter masks them in the final text, tracebacks included. Case numbers (eight
digits) are left readable.
"""

from __future__ import annotations

import logging
import re
import traceback

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_NUMBERS = re.compile(
    r"(?<![\dA-Za-z])(?:"
    r"\+\d{8,15}"  # E.164
    r"|(?:00|\+)?86[- ]?1[3-9]\d{9}"  # Chinese mobile with country code
    r"|1[3-9]\d{9}"  # Chinese mobile
    r"|0\d{2,3}[- ]?\d{7,8}"  # Chinese landline with area code
    r"|\d{17}[\dXx]"  # resident ID number
    r")(?![\dA-Za-z])"
)


def mask_text(text: str) -> str:
    """`text` with every phone or ID number masked to its first and last few characters."""
    return _NUMBERS.sub(lambda match: _mask(match.group(0)), text)


def _mask(number: str) -> str:
    head = 6 if number.startswith("+") else 3
    return f"{number[:head]}****{number[-4:]}"


class MaskingFormatter(logging.Formatter):
    """A formatter whose output, exception text included, has its numbers masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


def configure_logging(level: str | int = logging.INFO) -> None:
    """Configure the root logger once: the level, and masking on every root handler."""
    logging.basicConfig(level=level, format=LOG_FORMAT)

    for handler in logging.getLogger().handlers:
        handler.setFormatter(MaskingFormatter(LOG_FORMAT))


def log_exception(logger: logging.Logger, message: str, *args: object) -> None:
    """Log the exception being handled at error level, its traceback masked in the record
    itself, so no handler (a test's, a library's) ever sees the raw numbers."""
    logger.error(message + "\n%s", *args, mask_text(traceback.format_exc()).rstrip())
