"""Messages made in code (refusals, field errors, problems) go through gettext too.

People read them in flashes, next to fields and in error summaries. A message is written
``_("cannot %(step)s while it is %(state)s", step=..., state=...)`` with ``_`` from
``workflows.i18n`` (pure code) or ``flask_babel.gettext`` (the web layer): whole sentences
with named values, never an f-string or bare text.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("grants/services", "grants/steps", "workflows", "forms")
MODULES = [
    *sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")),
    ROOT / "grants" / "auth.py",
    ROOT / "grants" / "errors.py",
]
# Exceptions whose message a person reads.
SHOWN = {
    "TransitionRefused",
    "ValidationFailed",
    "NumberRefused",
    "ScoreError",
    "FormDefinitionError",
    "AccountRefused",
    "FormErrors",
    "InvitationInvalid",
    "_Invalid",
    "_problem",
    "Guard",  # its message and the detail it adds are shown with a refused step
    "_required",
    "_required_text",
}
_WORDS = re.compile(r"[A-Za-z]{2,}.*\s")


def _is_text(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and _WORDS.search(str(v.value)) for v in node.values)
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(_WORDS.search(node.value))
    )


def _texts(node: ast.AST) -> list[ast.AST]:
    """Bare texts in a message argument: itself, a dict's values, a tuple/list's items."""
    if _is_text(node):
        return [node]
    if isinstance(node, ast.Dict):
        return [t for v in node.values if v is not None for t in _texts(v)]
    if isinstance(node, ast.Tuple | ast.List):
        return [t for e in node.elts for t in _texts(e)]
    if isinstance(node, ast.IfExp):
        return _texts(node.body) + _texts(node.orelse)
    if isinstance(node, ast.BinOp):
        return _texts(node.left) + _texts(node.right)
    if isinstance(node, ast.Lambda):
        return _texts(node.body)
    if isinstance(node, ast.DictComp):
        return _texts(node.value)
    return []


def _called(node: ast.Call) -> str:
    return getattr(node.func, "id", getattr(node.func, "attr", ""))


def unmarked(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) in SHOWN:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                found += _texts(arg)
        elif isinstance(node, ast.Assign):
            # errors["field"] = "..." : a field error being collected.
            targets = [t for t in node.targets if isinstance(t, ast.Subscript)]
            if any(getattr(t.value, "id", "").endswith("errors") for t in targets):
                found += _texts(node.value)
        elif (
            isinstance(node, ast.Call)
            and _called(node) == "append"
            and getattr(getattr(node.func, "value", None), "id", "") in ("problems", "reasons")
        ):
            found += _texts(node.args[0]) if node.args else []
    rel = path.relative_to(ROOT)
    return [f"{rel}:{n.lineno}" for n in found]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_messages_people_read_are_marked_for_translation(path: Path) -> None:
    assert unmarked(path) == []


def test_the_checker_finds_bare_and_formatted_messages() -> None:
    source = (
        "def f(x):\n"
        "    errors = {}\n"
        '    errors["a"] = "choose passed or failed"\n'
        '    errors["b"] = _("choose passed or failed")\n'
        '    raise ValidationFailed({"c": f"at most {x} days", "d": _("at most %(x)s", x=x)})\n'
    )
    module = ROOT / "tests" / "unit" / "_i18n_sample.py"
    module.write_text(source)
    try:
        assert unmarked(module) == ["tests/unit/_i18n_sample.py:3", "tests/unit/_i18n_sample.py:5"]
    finally:
        module.unlink()
