"""Phone numbers in every spelling residents and carriers use (field cases 5, 11, 12)."""

from __future__ import annotations

import pytest

from hotline.phones import mask, mask_national, normalize


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+86 138 0013 8000",
        "8613800138000",
        "008613800138000",
        "１３８００１３８０００",
        "138-0013-8000",
    ],
)
def test_mobile_spellings_are_one_number(raw: str) -> None:
    assert normalize(raw) == "+8613800138000"


@pytest.mark.parametrize("raw", ["0532-8888 6666", "+86 0532 8888 6666", "(0532)88886666"])
def test_landline_spellings_are_one_number(raw: str) -> None:
    assert normalize(raw) == "+8653288886666"


def test_a_bare_mobile_is_never_read_as_north_american() -> None:
    assert normalize("13800138000") != "+13800138000"
    assert normalize("+13800138000") != "+8613800138000"


@pytest.mark.parametrize(
    "number", ["+8617301201883", "+8616608888188", "+8619908888188", "+8619203868088"]
)
def test_new_mobile_ranges_are_valid(number: str) -> None:
    assert normalize(number) == number


@pytest.mark.parametrize("raw", ["+266696687", "anonymous", "Restricted", "", None, "+", "12"])
def test_withheld_and_malformed_callers_give_none_without_raising(raw: str | None) -> None:
    assert normalize(raw) is None


def test_masks_keep_no_middle_digits() -> None:
    assert mask("+8613800138000") == "+86138****8000"
    assert mask_national("+8613812345678") == "138****5678"
    assert mask("13800138000") == "+86138****8000"
    assert mask("anonymous") == "ano****us"
    assert mask("+266696687") == "+26****87"
    assert mask(None) == "<none>"
