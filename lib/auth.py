# -*- test-case-name: tests.test_auth -*-
"""
Optional HTTP Basic authentication for the weblog pages, from an Apache htpasswd file.

Switched on by C{WEBLOG_HTPASSWD=<file>}.  Built on twisted.cred (a checker
and a realm) and twisted.web.guard; only bcrypt entries (C{htpasswd -B}) are
accepted, checked with the C{bcrypt} package in a thread so that the
reactor never waits for a hash.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from typing import Any

import bcrypt
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource
from zope.interface import implementer

__all__ = ["HtpasswdChecker", "HtpasswdError", "bcrypt_cost", "dummy_hash", "protect",
           "read_htpasswd"]

_log = Logger()
_BCRYPT = (b"$2a$", b"$2b$", b"$2y$")
_DEFAULT_COST = 5  # what htpasswd -B writes without -C
_MAX_BYTES = 72  # bcrypt reads no further; Apache's htpasswd and mod_authn_file ignore the rest


class HtpasswdError(ValueError):
    """An htpasswd file that cannot be used; the message says why in one line."""


def read_htpasswd(path: str) -> dict[bytes, bytes]:
    """
    Read the bcrypt entries of an Apache htpasswd file.

    @param path: the file, as C{htpasswd -B -c FILE USER} writes it.
    @return: user names to bcrypt hashes; entries of other kinds are left out (and logged).
    @raise HtpasswdError: if the file cannot be read or has no bcrypt entry.
    """
    try:
        with open(path, "rb") as file:
            data = file.read(1 << 20)
    except OSError as error:
        raise HtpasswdError(f"WEBLOG_HTPASSWD {path}: {error.strerror or error}") from None
    entries: dict[bytes, bytes] = {}
    for number, line in enumerate(data.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        user, _, hashed = line.partition(b":")
        if not hashed.startswith(_BCRYPT):
            _log.warn("{path} line {number}: not a bcrypt entry (use htpasswd -B); left out",
                      path=path, number=number)
            continue
        entries[user] = hashed
    if not entries:
        raise HtpasswdError(f"WEBLOG_HTPASSWD {path}: no bcrypt entry (write it with htpasswd -B)")
    return entries


def bcrypt_cost(hashed: bytes) -> int | None:
    """The cost of a bcrypt hash (C{$2y$05$...} is 5), or C{None} if it has none."""
    field = hashed[4:7]
    if len(field) == 3 and field[:2].isdigit() and field[2:] == b"$" and 4 <= int(field[:2]) <= 31:
        return int(field[:2])
    return None


def dummy_hash(entries: dict[bytes, bytes]) -> bytes:
    """
    A valid bcrypt hash that no password matches, at the cost most of C{entries} use.

    Checking an unknown user's password against it takes as long as a known
    user's wrong password, so that timing does not tell which user names exist.
    """
    costs = Counter(cost for cost in map(bcrypt_cost, entries.values()) if cost is not None)
    cost = max(costs, key=lambda c: (costs[c], c)) if costs else _DEFAULT_COST
    return bcrypt.gensalt(cost) + b"." * 31  # a random salt: cheap, and no hash computed here


@implementer(ICredentialsChecker)
class HtpasswdChecker:
    """
    Checks user names and passwords against an htpasswd file, re-read when it changes.

    A password that checked out is remembered (as a digest) for C{remember}
    seconds, so that a page's repeated requests do not each cost a bcrypt check.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, path: str, remember: float = 300.0) -> None:
        self.path = path
        self.remember = remember
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[bytes, bytes] = {}
        self._dummy = dummy_hash({})
        self._good: dict[bytes, float] = {}

    def _current(self) -> dict[bytes, bytes]:
        """The file's entries, read again when its size or time changed."""
        try:
            info = os.stat(self.path)
            stamp = (info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp or stamp is None:
            try:
                self._entries = read_htpasswd(self.path)
            except HtpasswdError as error:
                _log.error("{error}; refusing every login", error=error)
                self._entries = {}
            self._dummy = dummy_hash(self._entries)
            self._stamp = stamp
            self._good.clear()
        return self._entries

    def requestAvatarId(self, credentials: Any) -> Any:
        """Check C{credentials}; fire with the user name, or fail with UnauthorizedLogin."""
        entries = self._current()
        username: bytes = credentials.username
        password: bytes = credentials.password
        digest = hashlib.sha256(username + b"\0" + password + b"\0" + self.path.encode()).digest()
        checked = self._good.get(digest)
        if checked is not None and time.monotonic() - checked < self.remember:
            return defer.succeed(username)
        hashed = entries.get(username)
        against = hashed if hashed is not None else self._dummy
        result = threads.deferToThread(_check, password, against)

        def decided(good: bool) -> bytes:
            if not good or hashed is None:
                raise UnauthorizedLogin("wrong user name or password")
            if len(self._good) > 1000:
                self._good.clear()
            self._good[digest] = time.monotonic()
            return username

        return result.addCallback(decided)


def _check(password: bytes, hashed: bytes) -> bool:
    """Whether C{password} matches a bcrypt hash (run in a thread); bytes past 72 do not count."""
    try:
        return bool(bcrypt.checkpw(password[:_MAX_BYTES], hashed))
    except ValueError:
        return False


@implementer(IRealm)
class _OneResource:
    """A realm whose every avatar is the same resource."""

    def __init__(self, resource: IResource) -> None:
        self.resource = resource

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if IResource in interfaces:
            return IResource, self.resource, lambda: None
        raise NotImplementedError("only IResource avatars")


_checkers: dict[str, HtpasswdChecker] = {}


def protect(resource: IResource, path: str | None = None) -> IResource:
    """
    Put C{resource} behind HTTP Basic authentication when an htpasswd file is configured.

    @param resource: the page (its children are protected with it).
    @param path: the htpasswd file; default C{$WEBLOG_HTPASSWD}; none means no authentication.
    @return: C{resource} itself, or a guard that asks for credentials (401 without them).
    """
    path = path if path is not None else os.environ.get("WEBLOG_HTPASSWD", "")
    if not path:
        return resource
    checker = _checkers.get(path)
    if checker is None:
        checker = _checkers[path] = HtpasswdChecker(path)
    portal = Portal(_OneResource(resource), [checker])
    return HTTPAuthSessionWrapper(portal, [BasicCredentialFactory(b"weblog")])
