"""Marking words for translation in pure code: workflows import no web framework.

``N_("Draft")`` is ``"Draft"``: the words stay plain English strings here, ``pybabel extract
-k N_`` collects them into the catalogue, and the web layer translates them where it shows
them (``gettext(fact.label)``).
"""


def N_(text: str) -> str:
    """Mark ``text`` for extraction; it is returned unchanged (translated when shown)."""
    return text
