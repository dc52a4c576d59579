"""The one rule every piece of text hookline stores obeys."""

from __future__ import annotations


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None. JSON may carry NUL (``\\u0000``) and lone
    surrogates (``\\ud800``); PostgreSQL text holds no NUL, and UTF-8 no lone surrogate."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode text (no unpaired surrogates)"
    if "\x00" in text:
        return "must not contain NUL characters"
    return None
