"""Marking words for translation in pure code: workflows and forms import no web framework.

``N_("Draft")`` is ``"Draft"``: a word stored in tables (state and role labels) stays plain
English here; ``pybabel extract -k N_`` collects it and the web layer translates it where it
is shown (``gettext(fact.label)``).

``_("cannot %(step)s", step=label)`` is a message made at run time (a refusal, a field
error): it is translated when it is made, in the reader's language, by the translator the
application installs (``grants.app`` installs Flask-Babel's ``gettext``); without one, as in
unit tests and commands, it is the English text with the values filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Translator = Callable[..., str]


def _english(text: str, **values: Any) -> str:
    return text % values if values else text


_translator: Translator = _english


def install(translator: Translator) -> None:
    """Use ``translator(text, **values)`` (e.g. flask_babel.gettext) for ``_()``."""
    global _translator
    _translator = translator


def _(text: str, **values: Any) -> str:
    """``text`` translated, with ``%(name)s`` placeholders filled from ``values``."""
    return _translator(text, **values)


def N_(text: str) -> str:
    """Mark ``text`` for extraction; it is returned unchanged (translated when shown)."""
    return text
