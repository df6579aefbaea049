# -*- test-case-name: tests.test_agents -*-
"""
What a user-agent says of its browser, operating system and device, by ua-parser's rules.

The rules are those bundled with C{ua-parser-builtins} (nothing is downloaded),
matched by ua-parser's Rust resolver (C{ua-parser-rs}), about 20 times faster than
its pure-Python one (45 against 950 µs an agent on the sample log's agents).  An
agent is hostile, and matching the rules grows with its length, worse than
linearly for some strings (measured: 64 KiB of C{bot} 97 ms; agents of mixed
browser tokens 0.5 ms of CPU at 256 characters, 0.7 ms at 512, 2 ms at 1024).
A hit's agent is at most L{weblog.cleaning.MAX_FIELD} (2048) characters; only its
first L{LONGEST} are matched, while a real agent is far shorter (the longest of
the sample logs has 294 characters).  Each distinct agent is looked up once (see
L{weblog.batches} and L{weblog.columns}), and remembered across batches in bounded memory.
"""

from __future__ import annotations

from typing import NamedTuple

from ua_parser import Domain, load_lazy_builtins
from ua_parser.regex import Resolver

from weblog.memo import Memo
from weblog.selection import is_bot

__all__ = ["LONGEST", "Agent", "agent_of", "device_of"]

LONGEST = 512
"""How many characters of a user-agent are matched against the rules."""

_resolve = Resolver(load_lazy_builtins())
_TABLET_SYSTEMS = frozenset({"BlackBerry Tablet OS"})
_MOBILE_SYSTEMS = frozenset({
    "iOS", "Android", "Windows Phone", "Windows Mobile", "BlackBerry OS", "Symbian OS",
    "Symbian^3", "Symbian^3 Anna", "Symbian^3 Belle", "KaiOS", "Firefox OS", "webOS", "Tizen",
    "Sailfish", "Bada", "Brew MP", "Nokia Series 40", "Nokia Series 30 Plus", "MeeGo", "Maemo",
    "Ubuntu Touch", "WatchOS"})
_DESKTOP_SYSTEMS = frozenset({
    "Windows", "Mac OS X", "Mac OS", "Linux", "Chrome OS", "Ubuntu", "Kubuntu", "Xubuntu",
    "Lubuntu", "Linux Mint", "Debian", "Fedora", "Red Hat", "CentOS", "Gentoo", "Slackware",
    "openSUSE", "SUSE", "Mandriva", "Mageia", "Arch Linux", "FreeBSD", "OpenBSD", "NetBSD",
    "DragonFly BSD", "Solaris"})
_PHONES = frozenset({"iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone"})


class Agent(NamedTuple):
    """A user-agent's C{browser} and operating C{system} families (ua-parser's), and its
    C{device} class (see L{device_of})."""

    browser: str | None
    system: str | None
    device: str


def device_of(agent: str | None, system: str, device: str) -> str:
    """
    The class of device of a user-agent: C{crawler}, C{tablet}, C{mobile}, C{desktop} or
    C{other}, by this rule, first match wins:

      - C{crawler} when L{is_bot} says so (the crawler list; no user-agent is one too);
      - C{tablet} when ua-parser's device family is C{iPad}, or names a tablet or a Kindle,
        or the system is C{BlackBerry Tablet OS}, or it is Android without C{Mobile} in the
        agent (Android's phone browsers send C{Mobile}, its tablets' do not);
      - C{mobile} when the system is a phone's (iOS, Android, Windows Phone, KaiOS, ...) or
        the device family is a phone's (C{iPhone}, C{iPod}, C{Generic Smartphone}, ...);
      - C{desktop} when the system is a computer's (Windows, Mac OS X, Linux and its
        distributions, Chrome OS, the BSDs, Solaris);
      - C{other} for the rest (a crawler not on the list, a TV, a library, unknown).

    @param agent: the user-agent as a hit shows it.
    @param system: ua-parser's OS family of it.
    @param device: ua-parser's device family of it.
    """
    if agent is None or is_bot(agent):
        return "crawler"
    if (device == "iPad" or "Tablet" in device or "Kindle" in device
            or system in _TABLET_SYSTEMS or (system == "Android" and "Mobile" not in agent)):
        return "tablet"
    if system in _MOBILE_SYSTEMS or device in _PHONES or "Phone" in device:
        return "mobile"
    if system in _DESKTOP_SYSTEMS:
        return "desktop"
    return "other"


def _look_up(agent: str) -> Agent:
    """What ua-parser's rules say of a user-agent (its first L{LONGEST} characters)."""
    found = _resolve(agent[:LONGEST], Domain.ALL)
    browser = "Other" if found.user_agent is None else found.user_agent.family
    system = "Other" if found.os is None else found.os.family
    device = "Other" if found.device is None else found.device.family
    return Agent(browser, system, device_of(agent, system, device))


_NONE = Agent(None, None, device_of(None, "Other", "Other"))
_looked_up = Memo(_look_up)
"""Agents looked up once, in memory bounded as L{Memo} bounds it."""


def agent_of(agent: str | None) -> Agent:
    """
    The browser, system and device of a user-agent as a hit shows it (cleaned, or None).

    @return: ua-parser's families (C{"Other"} when its rules know none), and the device class
        (L{device_of}); a hit with no user-agent has no browser or system, and is a crawler.
    """
    return _NONE if agent is None else _looked_up(agent)
