"""How dates and money are shown to people: one place, used by views and documents."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from workflows.money import format_eur

__all__ = ["format_eur", "local_time", "utc_time"]


def local_time(value: datetime | None, timezone: str) -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def utc_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")
