"""One application: its page (page), the applicant's draft (draft) and its steps (actions)."""

from flask import Blueprint

bp = Blueprint("applications", __name__)

# Imported for their routes, registered on ``bp``.
from grants.views.applications import (  # noqa: E402
    actions,
    draft,
    page,
    redress,
    report,
    stops,
)

__all__ = ["actions", "bp", "draft", "page", "redress", "report", "stops"]
