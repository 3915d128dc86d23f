"""The database schema: typed SQLAlchemy 2 models, one module per part of the domain.

Importing this package registers every table on ``Base.metadata``.
"""

from grants.models.applications import Application, Evaluation, EvaluationStatus, Report
from grants.models.base import Timestamped
from grants.models.calls import Call, CallForm, call_partners
from grants.models.experts import (
    CallPoolMembership,
    ExpertiseKeyword,
    ExpertProfile,
    PoolStatus,
    expert_profile_keywords,
)
from grants.models.payments import Instalment, Payment
from grants.models.people import ConsortiumPartner, Organisation, RoleGrant, User
from grants.models.records import Attachment, AuditEvent, Document, DocumentStatus, MailMessage

__all__ = [
    "Application",
    "Attachment",
    "AuditEvent",
    "Call",
    "CallForm",
    "CallPoolMembership",
    "ConsortiumPartner",
    "Document",
    "DocumentStatus",
    "Evaluation",
    "EvaluationStatus",
    "ExpertProfile",
    "ExpertiseKeyword",
    "Instalment",
    "MailMessage",
    "Organisation",
    "Payment",
    "PoolStatus",
    "Report",
    "RoleGrant",
    "Timestamped",
    "User",
    "call_partners",
    "expert_profile_keywords",
]
