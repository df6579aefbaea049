# -*- test-case-name: tests.test_countries -*-
"""Tests for L{weblog.countries}: a client's country, offline, from iptocc's allocations."""

from __future__ import annotations

from iptocc import country_code
from twisted.trial import unittest
from weblog.countries import PRIVATE, UNKNOWN, country_of


class CountryOfTests(unittest.TestCase):
    """L{country_of} gives the registries' country, C{private} or C{unknown}."""

    def test_known(self) -> None:
        """
        Addresses whose allocation is well known: Google's public resolver (US, both
        families); iptocc's README example 1.0.16.1 (JP); the K root server (RIPE NCC,
        Amsterdam: 193.0.14.129 and 2001:7fd::1, NL); the M root server (WIDE, Tokyo:
        202.12.27.33 and 2001:dc3::35, JP); NIC.br's 200.160.0.8 (BR).
        """
        known = {"8.8.8.8": "US", "2001:4860:4860::8888": "US", "1.0.16.1": "JP",
                 "193.0.14.129": "NL", "2001:7fd::1": "NL", "202.12.27.33": "JP",
                 "2001:dc3::35": "JP", "200.160.0.8": "BR"}
        self.assertEqual({address: country_of(address) for address in known}, known)

    def test_private(self) -> None:
        """Addresses that are not global are C{private}, whatever iptocc says of them."""
        for address in ("10.1.2.3", "192.168.0.1", "172.16.5.4", "127.0.0.1", "::1",
                        "169.254.1.1", "fe80::1", "fe80::1%eth0", "240.0.0.1", "224.0.0.1",
                        "ff02::1", "0.0.0.0", "::", "100.64.0.1", "fc00::1", "192.0.2.1",
                        "2001:db8::1", "::ffff:10.0.0.1"):
            self.assertEqual(country_of(address), PRIVATE, address)

    def test_mapped(self) -> None:
        """An IPv4-mapped IPv6 address is its IPv4 address's country."""
        self.assertEqual(country_of("::ffff:8.8.8.8"), country_of("8.8.8.8"))

    def test_unknown(self) -> None:
        """A client that is no address (a host name, garbage, a port) is C{unknown}."""
        for client in ("example.com", "-", "", "1.2.3", "999.1.1.1", "8.8.8.8:80",
                       "[2001:4860:4860::8888]", "<script>", "\\x00" * 500, "a" * 2048):
            self.assertEqual(country_of(client), UNKNOWN, client)

    def test_sameAsIptocc(self) -> None:
        """A global address's code is iptocc's, upper case: spot-check a spread of them."""
        for first in range(1, 224, 7):
            address = f"{first}.{first * 3 % 256}.7.9"
            code = country_of(address)
            if code in (PRIVATE, UNKNOWN):
                continue
            self.assertEqual(code, (country_code(address) or "").upper(), address)
            self.assertRegex(code, r"\A[A-Z]{2}\Z")
