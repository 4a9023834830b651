"""numbers.whole_number: the one reader of user-written whole numbers."""

import pytest

from webhooks import numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("007", 7),
        ("65535", 65535),
        (str(2**64 - 1), 2**64 - 1),  # uint64's largest, exact
        (str(2**64 + 1), numbers.SATURATED),
        ("1" * 5000, numbers.SATURATED),  # int() refuses more than 4,300 digits
        ("0" * 5000 + "42", 42),
    ],
)
def test_ascii_digits_read_as_their_value_saturating_past_uint64(text: str, value: int) -> None:
    assert numbers.whole_number(text) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "-1", "+1", "1.0", "1e3", "²", "٣", "0x1f"])
def test_anything_else_is_not_a_whole_number(text: str) -> None:
    assert numbers.whole_number(text) is None
