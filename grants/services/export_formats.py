"""Rows to bytes, a little at a time: CSV, JSON Lines and XLSX for the data exports.

Every writer takes the column keys and labels and an iterator of rows (plain dicts of
JSON-ready values: text, integers, decimal strings, ISO times, objects) and yields bytes as
it goes, so that memory holds one chunk and never the whole export. CSV and JSON Lines are
written as the rows arrive; XLSX is a ZIP whose directory comes last, so the workbook is
written (openpyxl's write-only mode) to a temporary file that is then read back in chunks.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from workflows.i18n import N_

# Bytes gathered before a chunk is handed on: small enough for memory, large enough that a
# million rows are not a million writes.
CHUNK_BYTES = 64 * 1024
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection), as
# the audit trail's own CSV export guards against.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel's limits: rows per sheet (the header included) and characters per cell.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CELL = 32_767
XLSX_CUT_NOTE = " … [cut at Excel's cell limit: the JSON Lines export has the whole value]"


@dataclass(frozen=True)
class Format:
    name: str  # csv | jsonl | xlsx
    extension: str
    mimetype: str
    label: str  # in words, for links


FORMATS = {
    "csv": Format("csv", "csv", "text/csv", N_("CSV")),
    "jsonl": Format("jsonl", "jsonl", "application/x-ndjson", N_("JSON Lines")),
    "xlsx": Format(
        "xlsx",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        N_("Excel (XLSX)"),
    ),
}


def spreadsheet_text(value: Any) -> Any:
    """A value as a spreadsheet cell: objects as JSON text, and text that a spreadsheet would
    run as a formula made plain text by a leading apostrophe (JSON Lines keeps exact values)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _chunked(pieces: Iterable[str]) -> Iterator[bytes]:
    encoder = codecs.getincrementalencoder("utf-8")()
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield encoder.encode("".join(buffer))
            buffer, size = [], 0
    yield encoder.encode("".join(buffer), final=True)


def csv_chunks(
    keys: Sequence[str], labels: Sequence[str], rows: Iterable[dict[str, Any]]
) -> Iterator[bytes]:
    """UTF-8 CSV with a byte-order mark (so that Excel reads accents right), header in words."""

    def lines() -> Iterator[str]:
        line = io.StringIO()
        writer = csv.writer(line)

        def take(values: Iterable[Any]) -> str:
            writer.writerow(["" if v is None else v for v in values])
            text = line.getvalue()
            line.seek(0)
            line.truncate()
            return text

        yield "\ufeff" + take(labels)
        for row in rows:
            yield take(spreadsheet_text(row[k]) for k in keys)

    yield from _chunked(lines())


def jsonl_chunks(keys: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON object per line, with stable keys and exact values (nothing neutralised)."""

    def lines() -> Iterator[str]:
        for row in rows:
            yield json.dumps({k: row[k] for k in keys}, ensure_ascii=False) + "\n"

    yield from _chunked(lines())


def _xlsx_cell(value: Any, illegal: re.Pattern[str]) -> Any:
    value = spreadsheet_text(value)
    if isinstance(value, str):
        value = illegal.sub("", value)
        if len(value) > XLSX_MAX_CELL:
            value = value[: XLSX_MAX_CELL - len(XLSX_CUT_NOTE)] + XLSX_CUT_NOTE
    return value


def write_xlsx(
    target: Any,
    title: str,
    keys: Sequence[str],
    labels: Sequence[str],
    rows: Iterable[dict[str, Any]],
) -> None:
    """A write-only workbook (rows go to openpyxl's own temporary file as they come); past
    Excel's row limit the rows continue on a second sheet, and so on."""
    # Imported here: only processes that write a workbook pay for openpyxl.
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = None
    used = XLSX_MAX_ROWS
    sheets = 0
    for row in rows:
        if used >= XLSX_MAX_ROWS:
            sheets += 1
            sheet = workbook.create_sheet(title[:28] if sheets == 1 else f"{title[:24]} ({sheets})")
            sheet.append(list(labels))
            used = 1
        sheet.append([_xlsx_cell(row[k], ILLEGAL_CHARACTERS_RE) for k in keys])  # type: ignore[union-attr]
        used += 1
    if sheet is None:  # no row: the header alone
        workbook.create_sheet(title[:28]).append(list(labels))
    workbook.save(target)


def xlsx_chunks(
    title: str,
    keys: Sequence[str],
    labels: Sequence[str],
    rows: Iterable[dict[str, Any]],
    written: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """The workbook written to a temporary file (a ZIP cannot be sent before it is complete),
    then sent in chunks; the file is removed when the download ends or is abandoned.
    ``written`` is called once the workbook is complete, before its first byte goes out."""
    with tempfile.TemporaryFile(suffix=".xlsx") as spool:
        write_xlsx(spool, title, keys, labels, rows)
        if written is not None:
            written()
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk
