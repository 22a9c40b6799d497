"""Log lines never carry a whole phone or ID number, wherever the text came from."""

from __future__ import annotations

import logging
import sys

import pytest

from hotline.logs import MaskingFormatter, log_exception, mask_text


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Key (phone)=(+8613800138000) already exists", "13800138000"),
        ("call 13800138000 back", "13800138000"),
        ("from 008613800138000", "13800138000"),
        ("landline 0532-88886666", "88886666"),
        ("id 37021219800101123X", "19800101"),
    ],
)
def test_numbers_are_masked(text: str, hidden: str) -> None:
    assert hidden not in mask_text(text)


def test_case_numbers_sids_and_job_ids_stay_readable() -> None:
    text = "case=10000010 sid=SM0123456789abcdef0123456789abcdef job=dispatch-callback-12"

    assert mask_text(text) == text


def test_the_formatter_masks_tracebacks_too() -> None:
    try:
        raise ValueError("duplicate +8613800138000")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, True)
        record.exc_info = sys.exc_info()

    text = MaskingFormatter("%(message)s").format(record)

    assert "ValueError" in text and "13800138000" not in text


def test_log_exception_masks_before_any_handler_sees_it(caplog) -> None:
    logger = logging.getLogger("hotline.test")

    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError("Key (phone)=(+8613800138000) already exists")
        except RuntimeError:
            log_exception(logger, "turn failed case=%s", "10000010")

    assert "10000010" in caplog.text and "RuntimeError" in caplog.text
    assert "13800138000" not in caplog.text
