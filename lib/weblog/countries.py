# -*- test-case-name: tests.test_countries -*-
"""
The country of a client address, offline, from the registries' allocations (C{iptocc}).

C{iptocc} carries the five Regional Internet Registries' delegation files in its
wheel: a code is the country an address block was assigned to, not where it is
used (its README cites about 95% agreement with MaxMind for IPv4).  Nothing is
looked up over the network.  An address that is not global (Python's
C{ipaddress}: private, loopback, link-local, reserved, multicast, unspecified,
shared or documentation ranges) is C{private}; a client that is no address (a
host name, garbage) or whose block has no country is C{unknown}.
"""

from __future__ import annotations

import ipaddress

from iptocc import country_code

from weblog.countrynames import PRIVATE, UNKNOWN
from weblog.memo import Memo

__all__ = ["PRIVATE", "UNKNOWN", "country_of"]


def _look_up(client: str) -> str:
    """The country of C{client}, as L{country_of} says."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (address.is_private or address.is_loopback or address.is_link_local
            or address.is_reserved or address.is_multicast or address.is_unspecified
            or not address.is_global):
        return PRIVATE
    code = country_code(str(address))
    return code.upper() if code and len(code) == 2 and code.isalpha() else UNKNOWN


_looked_up = Memo(_look_up)
"""Clients looked up once, in memory bounded as L{Memo} bounds it."""


def country_of(client: str) -> str:
    """
    The country of a client as a hit shows it: an ISO 3166 alpha-2 code (upper case), or
    L{PRIVATE} or L{UNKNOWN} (see the module's docstring).
    """
    return _looked_up(client)
