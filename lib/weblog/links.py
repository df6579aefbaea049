# -*- test-case-name: tests.test_pages -*-
"""
Which referrers the pages link, and how a host that is not ASCII is shown: in its IDNA form.

The rules are written twice, here for the server and in www/weblog.js for the
rows and lists the browser fills live (C{referrerLink}, C{asciiHost}); the
browser tests check that both read every referrer of one table alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import idna

__all__ = ["DISPLAYS", "referrer_link", "shown_referrer", "shown_site"]

_LINKABLE = re.compile(
    r"(https?://)(\[[0-9A-Fa-f:.]+\]|[^\x00-\x20\x7f#%/:<>?@\[\\\]^|]+)(?::([0-9]{1,5}))?"
    r"(?:[/?#][\s\S]*)?\Z", re.IGNORECASE | re.ASCII)
"""An http(s) URL with a host and nothing a parser could read two ways: no user name (a browser
never sends one in a referrer), no backslash or percent sign in the host; the same expression
as LINKABLE in www/weblog.js."""
_HOST_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"})
_UNLINKABLE = re.compile(
    "[\u034f\u0640\u07fa\u1100-\u11ff\u17b4\u17b5\u180b-\u180f\u20d0-\u20f0\u302e-\u303b"
    "\ua960-\ua97f\ud7b0-\ud7ff\ufe00-\ufe0f\U0001d165-\U0001d1ad\U0001d242-\U0001d244"
    "\U000e0100-\U000e01ef]")
"""Letters and marks no linked host may hold: invisible ones IDNA drops (the grapheme joiner,
variation selectors, Hangul fillers), and those IDNA 2008 refuses but a browser's UTS-46 takes
(C{idna} refuses them anyway; the list is UNLINKABLE in www/weblog.js too)."""
_ASCII_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_NUMBER = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)\Z")


def _ascii_host(host: str) -> str | None:
    """
    A host that is not ASCII in its IDNA (punycode) form, or C{None} when it cannot be encoded.

    IDNA 2008 with UTS-46 mapping (the C{idna} package), the Bidi Rule on every label of a
    right-to-left domain (as UTS-46 and browsers apply it), and only for hosts of letters, marks
    and digits: C{asciiHost} in www/weblog.js checks the same before the browser encodes.
    """
    if unicodedata.normalize("NFKC", host) != host or _UNLINKABLE.search(host):
        return None  # fullwidth, ligatures, Ŀ: UTS-46 maps them, and browsers part ways on some
    if any(not label or label[0] == "-" or label[-1] == "-" or "--" in label
           for label in host.split(".")):
        return None
    if any(not char.isascii() and unicodedata.category(char) not in _HOST_CATEGORIES
           for char in host):
        return None
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
        mapped = idna.uts46_remap(host, std3_rules=False).split(".")
        if any(unicodedata.bidirectional(char) in ("R", "AL", "AN") for char in "".join(mapped)):
            for label in mapped:
                idna.check_bidi(label, check_ltr=True)
    except UnicodeError:  # idna.IDNAError is one
        return None
    labels = encoded.split(".")
    if (len(encoded) > 253 or _NUMBER.match(labels[-1])
            or not all(_ASCII_LABEL.match(label) for label in labels)):
        return None
    return encoded


def referrer_link(referrer: str) -> str | None:
    """
    The URL a referrer links to and shows, its host in ASCII; C{None} when it is not a link.

    Only http and https URLs are links; a host that is not ASCII is shown (and linked) in its
    IDNA form, as the address bar shows a lookalike, and one that cannot be encoded is text.
    """
    found = _LINKABLE.match(referrer)
    if found is None or (found.group(3) is not None and int(found.group(3)) > 65535):
        return None
    host = found.group(2)
    if host.isascii():
        return referrer
    encoded = _ascii_host(host)
    if encoded is None:
        return None
    return found.group(1) + encoded + referrer[found.end(2):]


def shown_site(site: str) -> str:
    """A referring site as the top list shows it: a host that is not ASCII in its IDNA form."""
    return site if site.isascii() else _ascii_host(site) or site


def shown_referrer(referrer: str) -> str:
    """A referrer as the top list shows it: its host in IDNA form, as its link would show it."""
    return referrer_link(referrer) or referrer


DISPLAYS: dict[str, Callable[[str], str]] = {
    "text": str,
    "host": shown_site,
    "url": shown_referrer,
}
"""How a top list writes its keys, by its panel's C{display}; www/weblog.js reads the same
names from each list's C{data-display} attribute."""
