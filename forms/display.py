"""Answers of a call-defined form as people read them: text, tables, file summaries.

Pure: used by pages (through presenters) and by document snapshots alike, so a letter and a
page never show one answer two ways.
"""

from __future__ import annotations

from typing import Any, Protocol

from forms.schema import FILE_KINDS, Field, FieldType, country_name
from forms.validation import group_rows, group_totals
from workflows import numbers
from workflows.money import format_eur


class StoredFile(Protocol):
    filename: str
    content_type: str
    sha256: str
    size: int


def file_summary(attachment: StoredFile, *, full_hash: bool = False) -> str:
    kind = next(
        (label for mime, label in FILE_KINDS.values() if mime == attachment.content_type), ""
    )
    digest = attachment.sha256 if full_hash else f"{attachment.sha256[:12]}…"
    return f"{attachment.filename} ({kind}, {human_size(attachment.size)}), sha256 {digest}"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def display_value(f: Field, value: object) -> str:
    """One answer as text, for letters and for pages that show it as text."""
    if value is None or value == "" or value == []:
        return ""
    match f.type:
        case FieldType.YES_NO:
            return "Yes" if value is True else "No"
        case FieldType.MONEY:
            try:
                return format_eur(numbers.parse_money(value))
            except numbers.NumberRefused:  # a draft keeps what was typed, readable or not
                return str(value)
        case FieldType.COUNTRY:
            return _country_text(value)
        case FieldType.COUNTRY_LIST:
            # "; " as for multiple choices: some names hold a comma ("Virgin Islands, British").
            items = value if isinstance(value, list) else [value]
            return "; ".join(_country_text(v) for v in items)
        case FieldType.MULTI_CHOICE:
            return "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return str(value)


def _country_text(code: object) -> str:
    return f"{country_name(str(code))} ({code})"


def group_table(f: Field, value: object) -> dict[str, Any]:
    """A group answer as a table: headers, one row of texts per item, and the totals."""
    rows = []
    for row in group_rows(value):
        if isinstance(row, dict):
            rows.append([display_value(sub, row.get(sub.name)) for sub in f.fields])
        else:
            rows.append([str(row)] + [""] * (len(f.fields) - 1))
    totals = []
    for name, total in group_totals(f, value).items():
        sub = f.sub(name)
        shown = format_eur(total) if sub.type is FieldType.MONEY else f"{total.normalize():f}"
        totals.append({"name": name, "label": sub.label, "value": shown})
    return {"headers": [sub.label for sub in f.fields], "rows": rows, "totals": totals}


def group_text(f: Field, value: object) -> str:
    table = group_table(f, value)
    lines = [
        f"{i}. " + " · ".join(cell for cell in row if cell)
        for i, row in enumerate(table["rows"], start=1)
    ]
    lines.extend(f"Total {t['label']}: {t['value']}" for t in table["totals"])
    return "\n".join(lines)
