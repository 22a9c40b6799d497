"""The SMS reply reader: digits however they are typed (field case 10)."""

from __future__ import annotations

import pytest

from hotline.channels.sms import read_reply


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("１", ("1",)),
        (" 1 ", ("1",)),
        ("①", ("1",)),
        ("1️⃣", ("1",)),
        ("四", ("4",)),
        ("壹", ("1",)),
        ("٣", ("3",)),
        ("4 2 3", ("4", "2", "3")),
        ("４，２。", ("4", "2")),
        ("4 二 1", ("4", "2", "1")),
        ("１１", ("11",)),
    ],
)
def test_digits_in_any_form_are_read_as_ascii(typed: str, read: tuple[str, ...]) -> None:
    assert read_reply(typed) == read


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("⑴", ("(1)",)),
        ("一个问题", ("一个问题",)),
        ("Please stop calling my mother", ("Please stop calling my mother",)),
        ("😀", ("😀",)),
        ("   ", ("",)),
        (None, ("",)),
    ],
)
def test_text_that_is_not_a_choice_stays_one_input(
    typed: str | None, read: tuple[str, ...]
) -> None:
    assert read_reply(typed) == read
