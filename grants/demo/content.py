"""What the demo SMEs write: their topics, form answers and the provider's quote PDF."""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from weasyprint import HTML

from forms.schema import FieldType
from grants.models import Application
from grants.services import applications

TOPICS = [
    "Training of engineers in autonomous underwater vehicle navigation",
    "Composite hull repair certification for naval patrol vessels",
    "Cyber-security hardening of shipboard control systems",
    "Hydrographic survey data processing with machine learning",
    "Hybrid-electric propulsion retrofit skills for small naval craft",
    "Digital twin of a coastal surveillance sensor network",
    "Anti-fouling coatings qualification for defence hulls",
    "Additive manufacturing of spare parts for naval platforms",
    "Sonar signal processing upskilling for system integrators",
    "Marine electronics EMC testing to military standards",
    "Unmanned surface vessel mission planning training",
    "Secure satellite communications for maritime patrol",
]

THIRD_COUNTRY_MARKETS = (("NO", "GB"), ("US", "CA"), ("AU", "SG"), ("BR", "CL"), ("JP", "KR"))


def _answer(field_type: str, name: str, topic: str, index: int, amount: Decimal) -> Any:
    """A plausible answer per field type, so the demo works whatever the form holds."""
    start = date(2027, 2, 1)
    match field_type:
        case FieldType.LONG_TEXT:
            return (
                f"{topic}. The company will build the capabilities its staff need to serve "
                "naval defence prime contractors, with an accredited provider from the "
                "LEVIATAD network, and will apply them in a pilot within six months."
            )
        case FieldType.TEXT:
            return f"{topic.split(' ')[0]} programme {index + 1}"
        case FieldType.MONEY:
            return str(amount)
        case FieldType.NUMBER:
            return "3"
        case FieldType.DATE:
            return (start + timedelta(days=180 if "end" in name else 0)).isoformat()
        case FieldType.YES_NO:
            return True
        case FieldType.COUNTRY:
            return "IT"
        case FieldType.COUNTRY_LIST:
            # Defence markets outside the EU (an internationalisation call excludes the EU).
            return list(THIRD_COUNTRY_MARKETS[len(topic) % len(THIRD_COUNTRY_MARKETS)])
        case _:
            return None


def _answers_for(fields: Any, topic: str, amount: Decimal) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for index, field in enumerate(fields):
        if field.options:
            answers[field.name] = field.options[len(topic) % len(field.options)]
        elif field.type is FieldType.GROUP:
            # One line carrying the whole amount: budget lines add up to the request.
            answers[field.name] = [_answers_for(field.fields, topic, amount)]
        else:
            answers[field.name] = _answer(field.type, field.name, topic, index, amount)
    return answers


def demo_answers(application: Application, topic: str, amount: Decimal) -> dict[str, Any]:
    return _answers_for(applications.form_fields(application), topic, amount)


def quote_pdf(sme: str, topic: str, amount: Decimal) -> bytes:
    """A provider's quote as a real one-page PDF, so the demo's attachments open."""
    html = f"""<html><body style="font-family: 'DejaVu Sans'; font-size: 11pt">
    <h1 style="font-size: 16pt">Quote Q-2026-{zlib.crc32(sme.encode()) % 10000:04d}</h1>
    <p>Centro Formazione Navale S.r.l., Via del Molo 3, 19121 La Spezia, Italy</p>
    <p>To: {escape(sme)}</p><p>Subject: {escape(topic)}</p>
    <p>Price, all included: EUR {amount:,.2f} (VAT excluded).</p>
    <p>Valid 90 days. Delivery within six months of the order.</p></body></html>"""
    return HTML(string=html).write_pdf()
