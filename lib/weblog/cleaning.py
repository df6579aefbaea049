# -*- test-case-name: tests.test_cleaning -*-
"""
Clean a field as logged into the text its client sent, safe to show as text, in bounded work.

The servers' escapes are undone and the bytes decoded as UTF-8; what cannot be
shown raw comes out as visible backslash escapes; the result is cut at
L{MAX_FIELD}.  Every field of every line passes through here, many of them an
attacker's, so the work is bounded whatever the field: C-level passes only
(Python's C{unicode_escape} codec, C{str.translate}), over at most the first
32 KiB of a field.
"""

from __future__ import annotations

import re

__all__ = ["MAX_FIELD", "clean"]

MAX_FIELD = 2048
"""Longest text kept from one field of a hit; longer text is cut and ends with an ellipsis."""

_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
"""Surrogates that C{surrogateescape} did not make (and so cannot encode)."""


def _visible(char: str) -> str:
    """Show a character that must not be printed raw as a backslash escape."""
    point = ord(char)
    if 0xDC80 <= point <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
        return f"\\x{point - 0xDC00:02x}"
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


_VISIBLE = {point: _visible(chr(point)) for point in range(0x10000) if not chr(point).isprintable()}
"""str.translate's table for the characters of the Basic Multilingual Plane that are not
printable: one C-level pass instead of a Python step per character."""
_ASTRAL: dict[int, str] = {}
"""str.translate's table for the unprintable characters beyond the BMP met so far."""
_ASTRAL_MOST = 1 << 16


def _astral_table(text: str) -> dict[int, str]:
    """The translate table for C{text}'s unprintable characters beyond the BMP, kept bounded."""
    unknown = [char for char in set(text) if ord(char) not in _ASTRAL and not char.isprintable()]
    if len(_ASTRAL) + len(unknown) > _ASTRAL_MOST:
        _ASTRAL.clear()
    _ASTRAL.update((ord(char), _visible(char)) for char in unknown)
    return _ASTRAL


_LOGGED_PER_SHOWN = 16
"""The most logged characters one shown character can take: a four-byte UTF-8 sequence as
four C{\\xhh} escapes."""
_CUT = _LOGGED_PER_SHOWN * (MAX_FIELD + 1)
"""How much of a field is ever looked at: enough for more than MAX_FIELD shown characters."""
_FIRST_TRY = 8 * MAX_FIELD
"""How much of a long field is looked at first: enough unless its escapes are very dense."""
_ODD_ESCAPE = re.compile(rb"\\(?!x[0-9A-Fa-f]{2}|[\"'nrtbvf])")
"""An escape that Python's C{unicode_escape} codec reads otherwise than the servers mean it:
the servers leave C{\\q} (or a lone backslash at the end) as it stands, and C{\\0} is NUL."""


def _unescape_all(raw: bytes) -> bytes:
    """Undo every server escape in C{raw}, all in C, with Python's C{unicode_escape} codec."""
    # An escaped backslash as its hex escape: no two backslashes meet any more, so every
    # backslash left starts an escape (replace() pairs them from the left, as servers do).
    raw = raw.replace(b"\\\\", b"\\x5c")
    if _ODD_ESCAPE.search(raw) is not None:
        raw = _ODD_ESCAPE.sub(rb"\\x5c", raw.replace(b"\\0", b"\\x00"))  # re: \\ is one
    return raw.decode("unicode_escape").encode("latin-1")


def _decoded(text: str) -> str:
    """A field's text with the server's escapes undone and its bytes decoded as UTF-8."""
    if not text.isascii():
        # Surrogates other than surrogateescape's own cannot be encoded: show them first.
        text = _LONE_SURROGATE.sub(lambda found: _visible(found.group()), text)
    raw = text.encode("utf-8", "surrogateescape")
    if b"\\" in raw:
        raw = _unescape_all(raw)
    return raw.decode("utf-8", "surrogateescape")


def clean(text: str) -> str:
    """
    Turn a field as logged into the text the client sent, safe to show as text.

    Server escapes are undone and the bytes decoded as UTF-8; bytes that are
    not UTF-8 and characters that are not printable (controls, format
    characters such as bidi overrides) come out as visible backslash escapes.
    The result is at most L{MAX_FIELD} characters long.  The work is bounded
    whatever the field: only its first C{_CUT} characters can matter, and the
    escapes and unprintable characters are handled by C code, not one Python
    step each.

    @param text: the field, decoded from the log with C{surrogateescape}.
    @return: printable text; still to be escaped for HTML.
    """
    if "\\" in text or not text.isprintable():
        decoded = _decoded(text[:_FIRST_TRY]) if len(text) > _FIRST_TRY else ""
        # What a cut spoils is at its end, from its last few characters: past MAX_FIELD.
        if len(decoded) <= MAX_FIELD + _LOGGED_PER_SHOWN:
            decoded = _decoded(text[:_CUT])
        text = decoded
        if not text.isprintable():
            cut = len(text) > MAX_FIELD
            text = text[:MAX_FIELD].translate(_VISIBLE)
            if not text.isprintable():  # beyond the BMP: a step per distinct character
                text = text.translate(_astral_table(text))
            if cut:
                text += "\u2026"  # longer than MAX_FIELD either way: cut below
    if len(text) > MAX_FIELD:
        text = text[: MAX_FIELD - 1] + "\u2026"
    return text
