"""Numbers people type that must never be guessed, nor crash a page, and how to find the
message each field shows for them."""

from __future__ import annotations

import re

# (typed, part of the message shown at the field); refused by every kind of number.
UNREADABLE = [
    ("1e309", "exponents such as 1e3 are not accepted"),
    ("9" * 60, "cannot be more than"),
    ("NaN", "must be written with digits"),
    ("7,500", "could mean 7500 or 7,5"),
    ("0.001", "at most 2 decimals"),
]


def field_error(page: str, field_id: str) -> str:
    """The error shown next to the input ``field_id`` (macros.field_error)."""
    found = re.search(rf'id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert found, f"no error shown for {field_id}"
    return found.group(1)
