"""The database schema: typed SQLAlchemy 2 models, one module per part of the domain.

Importing this package registers every table on ``Base.metadata``.
"""

from grants.models.applications import (
    STEPPED_ASIDE,
    Application,
    Evaluation,
    EvaluationStatus,
    Report,
)
from grants.models.bank_accounts import BankAccount, BankSource, BankStatus, PayeeKind
from grants.models.base import Timestamped
from grants.models.calls import Call, CallForm, call_partners
from grants.models.eligibility_jobs import EligibilityJob, JobStatus
from grants.models.experts import (
    CallPoolMembership,
    ExpertiseKeyword,
    ExpertProfile,
    PoolStatus,
    expert_profile_keywords,
)
from grants.models.payments import Instalment, Payment
from grants.models.people import ConsortiumPartner, Organisation, RoleGrant, User
from grants.models.ranking import RankedList
from grants.models.records import Attachment, AuditEvent, Document, DocumentStatus, MailMessage
from grants.models.recoveries import RecoveryOrder, RecoveryStatus
from grants.models.redress import RedressRequest
from grants.models.reports import ReportDraft, ReportForm
from grants.models.sepa import SepaBatch, SepaBatchItem

__all__ = [
    "STEPPED_ASIDE",
    "Application",
    "Attachment",
    "AuditEvent",
    "BankAccount",
    "BankSource",
    "BankStatus",
    "Call",
    "CallForm",
    "CallPoolMembership",
    "ConsortiumPartner",
    "Document",
    "DocumentStatus",
    "EligibilityJob",
    "Evaluation",
    "EvaluationStatus",
    "ExpertProfile",
    "ExpertiseKeyword",
    "Instalment",
    "JobStatus",
    "MailMessage",
    "Organisation",
    "PayeeKind",
    "Payment",
    "PoolStatus",
    "RankedList",
    "RecoveryOrder",
    "RecoveryStatus",
    "RedressRequest",
    "Report",
    "ReportDraft",
    "ReportForm",
    "RoleGrant",
    "SepaBatch",
    "SepaBatchItem",
    "Timestamped",
    "User",
    "call_partners",
    "expert_profile_keywords",
]
