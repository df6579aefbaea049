# -*- test-case-name: tests.test_auth -*-
"""
Optional HTTP Basic authentication for the weblog pages, from an Apache htpasswd file.

Switched on by C{WEBLOG_HTPASSWD=<file>}.  Built on twisted.cred (a checker
and a realm) and a guard resource that works as twisted.web.guard's does and
also refuses, with C{429} or C{503} and C{Retry-After}, the checks that
L{throttle.Throttle} does not admit.  Only bcrypt entries (C{htpasswd -B})
are accepted, checked with the C{bcrypt} package in a thread of their own so
that the reactor never waits for a hash.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from typing import Any

import bcrypt
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import LoginFailed, Unauthorized, UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure
from twisted.web import util
from twisted.web.guard import BasicCredentialFactory
from twisted.web.pages import errorPage
from twisted.web.resource import IResource, Resource
from zope.interface import Interface, implementer

from weblog import settings
from weblog.errors import HtpasswdError
from weblog.files import open_regular
from weblog.throttle import Refused, Throttle

__all__ = ["BasicGuard", "ClientCredentials", "HtpasswdChecker", "HtpasswdError",
           "IHtpasswdCheckers", "bcrypt_cost", "dummy_hash", "protect", "read_htpasswd"]

_log = Logger()
_BCRYPT = (b"$2a$", b"$2b$", b"$2y$")
_DEFAULT_COST = 5  # what htpasswd -B writes without -C
_MAX_BYTES = 72  # bcrypt reads no further; Apache's htpasswd and mod_authn_file ignore the rest


def read_htpasswd(path: str) -> dict[bytes, bytes]:
    """
    Read the bcrypt entries of an Apache htpasswd file.

    @param path: the file, as C{htpasswd -B -c FILE USER} writes it.
    @return: user names to bcrypt hashes; entries of other kinds are left out (and logged).
    @raise HtpasswdError: if the file cannot be read or has no bcrypt entry.
    """
    try:
        with open_regular(path) as file:  # a FIFO there must not hang the start or the reactor
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


@implementer(IUsernamePassword)
class ClientCredentials(UsernamePassword):
    """A user name and password, and the address of the client that sent them."""

    def __init__(self, username: bytes, password: bytes, client: str | None) -> None:
        """@param client: the client's address (its host), for L{throttle.Throttle}'s limits."""
        super().__init__(username, password)
        self.client = client


@implementer(ICredentialsChecker)
class HtpasswdChecker:
    """
    Checks user names and passwords against an htpasswd file, re-read when it changes.

    A password that checked out is remembered (as a digest) for C{remember}
    seconds, so that a page's repeated requests do not each cost a bcrypt check;
    the same credentials arriving again while they are checked wait for that
    check.  Other checks go through C{throttle}, which may refuse them
    (L{throttle.Refused}) before they cost anything.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, path: str, remember: float = 300.0, clock: IReactorTime | None = None,
                 throttle: Throttle | None = None) -> None:
        """
        @param path: the htpasswd file.
        @param remember: seconds a password that checked out is remembered.
        @param clock: where time comes from (default: the global reactor).
        @param throttle: bounds the checks (default: a L{throttle.Throttle} on C{clock}).
        """
        if clock is None:
            from twisted.internet import reactor

            clock = reactor
        self.path = path
        self.remember = remember
        self.clock = clock
        self.throttle = throttle if throttle is not None else Throttle(clock)
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[bytes, bytes] = {}
        self._dummy = dummy_hash({})
        self._good: dict[bytes, float] = {}
        self._waiting: dict[tuple[bytes, tuple[int, int] | None], list[defer.Deferred[bool]]] = {}

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
        if checked is not None and 0 <= self.clock.seconds() - checked < self.remember:
            return defer.succeed(username)

        def decided(good: bool) -> bytes:
            if not good:
                raise UnauthorizedLogin("wrong user name or password")
            return username

        stamp = self._stamp
        waiting = self._waiting.get((digest, stamp))
        if waiting is not None:  # the same credentials are being checked: share the answer
            waiter: defer.Deferred[bool] = defer.Deferred()
            waiting.append(waiter)
            return waiter.addCallback(decided)
        hashed = entries.get(username)
        against = hashed if hashed is not None else self._dummy

        def check() -> bool:
            return _check(password, against) and hashed is not None

        waiting = self._waiting[digest, stamp] = []

        def share(result: bool | Failure) -> bool | Failure:
            del self._waiting[digest, stamp]
            if result is True and self._stamp == stamp:  # not if the file changed meanwhile
                if len(self._good) > 1000:
                    self._good.clear()
                self._good[digest] = self.clock.seconds()
            for waiter in waiting:
                if isinstance(result, Failure):
                    waiter.errback(result)
                else:
                    waiter.callback(result)
            return result

        client = getattr(credentials, "client", None)
        result = self.throttle.check(client, check)
        return result.addBoth(share).addCallback(decided)


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
        """The resource, for any user."""
        if IResource in interfaces:
            return IResource, self.resource, lambda: None
        raise NotImplementedError("only IResource avatars")


_PHRASES = {429: b"Too Many Requests"}


class _Answer(Resource):
    """A short plain-text answer, for this URL and every one under it."""

    isLeaf = True

    def __init__(self, code: int, text: str, headers: dict[bytes, bytes]) -> None:
        super().__init__()
        self.code = code
        self.text = text
        self.headers = headers

    def render(self, request: Any) -> bytes:
        """Set the code and headers; the text (the server leaves it out for HEAD)."""
        # Twisted knows no phrase for 429 (it would send "Unknown Status"): give RFC 6585's.
        request.setResponseCode(self.code, _PHRASES.get(self.code))
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        for name, value in self.headers.items():
            request.setHeader(name, value)
        return self.text.encode("utf-8") + b"\n"


@implementer(IResource)
class BasicGuard:
    """
    Asks for HTTP Basic credentials before showing a resource or its children.

    Like twisted.web.guard's C{HTTPAuthSessionWrapper} with one Basic
    factory, but a login refused by the checker's throttle answers C{429} or
    C{503} with C{Retry-After}, and the client's address goes with the
    credentials (L{ClientCredentials}).
    """

    isLeaf = False

    def __init__(self, resource: IResource, checker: HtpasswdChecker,
                 realm: bytes = b"weblog") -> None:
        """
        @param resource: what the right credentials see.
        @param checker: checks them.
        @param realm: named in the challenge (no quotes or backslashes in it).
        """
        self.portal = Portal(_OneResource(resource), [checker])
        self.factory = BasicCredentialFactory(realm)

    def render(self, request: Any) -> Any:
        """Render the resource, or the answer that refuses it."""
        return self._authorized(request).render(request)

    def getChildWithDefault(self, path: bytes, request: Any) -> IResource:
        """Authenticate, then look the child up from the resource (no segment is consumed)."""
        request.postpath.insert(0, request.prepath.pop())
        return self._authorized(request)

    def putChild(self, path: bytes, child: IResource) -> None:
        """Children belong to the guarded resource."""
        raise NotImplementedError()

    def _unauthorized(self) -> IResource:
        """A 401 with the Basic challenge."""
        value = self.factory.scheme + b' realm="' + self.factory.authenticationRealm + b'"'
        return _Answer(401, "Unauthorized", {b"www-authenticate": value})

    def _authorized(self, request: Any) -> IResource:
        """The resource these credentials may see: the guarded one, or an answer."""
        scheme, _, response = (request.getHeader(b"authorization") or b"").partition(b" ")
        if scheme.lower() != self.factory.scheme:
            return self._unauthorized()
        try:
            credentials = self.factory.decode(response, request)
        except LoginFailed:
            return self._unauthorized()
        address = request.getClientAddress()
        client = getattr(address, "host", None) or str(address)
        login = self.portal.login(
            ClientCredentials(credentials.username, credentials.password, client),
            None, IResource)
        return util.DeferredResource(login.addCallbacks(lambda avatar: avatar[1], self._failed))

    def _failed(self, reason: Failure) -> IResource:
        """The answer for a login that failed."""
        refused = reason.value
        if isinstance(refused, Refused):
            return _Answer(refused.code, refused.message,
                           {b"retry-after": str(refused.retry_after).encode()})
        if reason.check(Unauthorized, LoginFailed):
            return self._unauthorized()
        _log.failure("Unexpected failure checking a password", failure=reason)
        return errorPage(500, "Internal Error", "")


class IHtpasswdCheckers(Interface):
    """A site's htpasswd checkers by file (a C{dict}): the registry keeps what they remember."""


def protect(resource: IResource, registry: Componentized | None = None,
            path: str | None = None) -> IResource:
    """
    Put C{resource} behind HTTP Basic authentication when an htpasswd file is configured.

    @param resource: the page (its children are protected with it).
    @param registry: the site registry (an .rpy's C{registry}), needed with a file: it keeps
        the file's checker (the passwords it remembers, its throttle) across requests.
    @param path: the htpasswd file; default C{$WEBLOG_HTPASSWD}; none means no authentication.
    @return: C{resource} itself, or a guard that asks for credentials (401 without them).
    """
    path = path if path is not None else settings.htpasswd_path()
    if not path:
        return resource
    if registry is None:
        raise TypeError("protect() needs the site registry, which keeps the password checker")
    checkers = registry.getComponent(IHtpasswdCheckers)
    if checkers is None:
        checkers = {}
        registry.setComponent(IHtpasswdCheckers, checkers)
    checker = checkers[path] = checkers.get(path) or HtpasswdChecker(path)
    return BasicGuard(resource, checker)
