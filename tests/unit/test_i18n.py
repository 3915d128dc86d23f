"""Every sentence people read goes through gettext, so languages can be added as catalogues.

Templates (web pages, mails, PDFs) are read as Jinja sees them: text outside ``{% trans %}``
blocks and ``_()`` calls that still holds a word is unmarked. Python code may not flash a
bare string, and the step registry's words are lazy translations.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from jinja2 import Environment

from grants.steps import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = (ROOT / "grants" / "templates", ROOT / "documents" / "templates")
TEMPLATES = sorted(p for d in TEMPLATE_DIRS for p in d.rglob("*") if p.suffix in (".html", ".txt"))
# Words that stay as they are in every language (codes, standards, units).
UNTRANSLATED = {"EUR", "IBAN", "BIC", "UTC", "CSV", "JSON", "PDF", "XLSX", "YAML", "sha256", "SHA"}
# Attributes whose values people read.
READ_ATTRIBUTES = re.compile(
    r"""\b(?:title|alt|placeholder|aria-label|data-confirm|summary)\s*=\s*"([^"]*)\"""", re.I
)
_ENV = Environment(extensions=["jinja2.ext.i18n"])
_HOLE = "\x00"  # where a Jinja expression or statement was


def skeleton(source: str) -> str:
    """The template's own text, Jinja constructs and translated blocks replaced by holes."""
    out: list[str] = []
    depth = 0  # inside {% trans %} ... {% endtrans %}
    pending: list[str] = []  # tokens of the current block tag
    for _line, kind, value in _ENV.lex(source):
        if kind == "block_begin":
            pending = []
            continue
        if kind == "block_end":
            name = pending[0] if pending else ""
            if name == "trans":
                depth += 1
            elif name == "endtrans":
                depth -= 1
            out.append(_HOLE)
            continue
        if kind == "name" and not pending:
            pending.append(value)
            continue
        if kind == "data" and depth == 0:
            out.append(value)
        elif kind in ("variable_end", "comment_end"):
            out.append(_HOLE)
    return "".join(out)


def _words(text: str) -> list[str]:
    text = re.sub(r"&[#\w]+;", " ", text)
    words = re.findall(r"[^\W\d_][\w'\u2019.-]*", text)
    return [w for w in words if w.strip(".-") not in UNTRANSLATED]


def unmarked(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    text = skeleton(source)
    text = re.sub(r"<(script|style)\b.*?</\1>", _HOLE, text, flags=re.S | re.I)
    text = re.sub(r"<!--.*?-->", _HOLE, text, flags=re.S)
    found = [f'attribute "{v}"' for v in READ_ATTRIBUTES.findall(text) if _words(v)]
    text = re.sub(r"<[^>]*>", _HOLE, text, flags=re.S)
    for chunk in text.split(_HOLE):
        if _words(chunk):
            found.append(" ".join(chunk.split()))
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_mark_every_sentence_for_translation(path: Path) -> None:
    assert unmarked(path) == []


def test_the_checker_sees_unmarked_text_and_accepts_marked_text(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '<h1>{{ _("Payments") }}</h1><p title="Hello">Welcome {{ name }}</p>'
        "{% trans n=1 %}You have {{ n }} offer{% endtrans %}<span>EUR</span>"
        "<script>var x = 'code';</script>"
    )
    assert unmarked(page) == ['attribute "Hello"', "Welcome"]


def _called(node: ast.Call) -> str:
    return getattr(node.func, "id", getattr(node.func, "attr", ""))


def _holds_words(node: ast.AST) -> bool:
    """Words written in the code that reach the reader without a call (gettext) between."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(_words(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_holds_words(part) for part in node.values)
    if isinstance(node, ast.Call | ast.Compare | ast.FormattedValue):
        return False  # translated, a condition, or a value put into an f-string
    return any(_holds_words(child) for child in ast.iter_child_nodes(node))


def _bare_message(message: ast.expr) -> bool:
    """A flashed literal or f-string, or a {"text": ..., "items": [...]} holding one."""
    if isinstance(message, ast.Constant | ast.JoinedStr):
        return True
    if isinstance(message, ast.Dict):
        return any(
            isinstance(key, ast.Constant) and key.value in ("text", "items") and _holds_words(value)
            for key, value in zip(message.keys, message.values, strict=True)
        )
    return False


def _bare_flashes(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and _called(node) in ("flash", "flash_done")
        and node.args
        and _bare_message(node.args[0])
    ]


def _flash_calls_with_bare_text() -> list[str]:
    found = []
    for path in sorted((ROOT / "grants").rglob("*.py")):
        for line in _bare_flashes(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_no_flash_of_untranslated_text() -> None:
    assert _flash_calls_with_bare_text() == []


def test_the_flash_checker_sees_bare_text_in_dicts_and_accepts_gettext() -> None:
    bare = [
        'flash("Saved.")',
        'flash_done(f"Saved {name}.")',
        'flash({"text": "Please correct:", "items": errors})',
        'flash({"text": _("Not saved."), "items": [_("Kept."), f"Retry {n} times."]})',
        'flash({"text": _("Not saved."), "items": [_("Kept.")] + (["Again."] if x else [])})',
    ]
    marked = [
        'flash(_("Saved."))',
        'flash_done(_("Saved %(name)s.", name=name))',
        'flash({"text": _("Please correct:"), "items": list(errors.values())})',
        'flash({"text": text + ("." if not reasons else ":"), "items": reasons})',
        'flash({"text": _("Not saved."), "items": [_("Kept.")] + ([_("Again.")] if x else [])})',
        "flash(message)",
    ]
    assert [_bare_flashes(code) for code in bare] == [[1]] * len(bare)
    assert [_bare_flashes(code) for code in marked] == [[]] * len(marked)


def test_the_registry_words_are_translatable() -> None:
    from flask_babel.speaklater import LazyString

    for step in REGISTRY.values():
        for name in ("done_label", "done", "title", "button", "confirm"):
            value = getattr(step, name)
            assert not value or isinstance(value, LazyString), f"{step.trigger}.{name}"
