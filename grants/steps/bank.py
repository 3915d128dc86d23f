"""The bank's confirmation posted with a step's form (the acceptance): a file, not a field."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from grants.runtime import runtime
from grants.services import bank_details
from grants.services.attachments import scanner_for


def posted_confirmation() -> dict[str, Any]:
    """``confirmation``, ``storage`` and ``scanner`` for ``awards.accept`` when a file was
    chosen; nothing otherwise (the acceptance then waits for it on the bank details page)."""
    if not has_request_context():
        return {}
    upload = request.files.get(bank_details.CONFIRMATION_FIELD)
    if upload is None or not upload.filename:
        return {}
    rt = runtime()
    return {
        "confirmation": bank_details.Upload(upload.filename, upload.read()),
        "storage": rt.storage,
        "scanner": scanner_for(rt.config.virus_scan_command),
    }
