# -*- test-case-name: tests.test_tlogmaker -*-
"""
The article's refresher inside twistd: a resource script that serves C{www/}, rewrites
C{var/weblog.html} beside it every five seconds from the reactor, and serves that
snapshot at C{/weblog.html} behind the same password as the weblog pages.

Run it as the site's root::

    twistd -n web --resource-script lib/tlogmaker.py --listen tcp:8080 --logfile var/access.log

twistd executes a resource script again on every request, so the refresh loop
is kept in the script's registry under L{IRefresher} and started only once.
The snapshot is written outside C{www/}, so that a plain C{twistd web --path www}
never serves it, with or without C{WEBLOG_HTPASSWD}.
"""

from __future__ import annotations

import os
from typing import Any

from logmaker import Refresher
from persist import IRecords, Records
from twisted.internet.task import LoopingCall
from twisted.web import script, static
from weblog.auth import protect
from zope.interface import Interface

__all__ = ["IRefresher", "serve", "snapshot_path"]

INTERVAL = 5.0


class IRefresher(Interface):
    """The running snapshot refresher of a site (a L{LoopingCall})."""


def snapshot_path(www: str) -> str:
    """
    Where the site serving C{www} keeps its snapshot: C{var/weblog.html} beside C{www}.

    @param www: the served directory.
    @return: the absolute path of the snapshot page, outside C{www}.
    """
    return os.path.join(os.path.dirname(os.path.abspath(www)), "var", "weblog.html")


def serve(registry: Any, www: str, clock: Any = None) -> static.File:
    """
    Start the refresh loop once per registry, and return the site's root resource.

    @param registry: the registry twistd keeps for this resource script.
    @param www: the directory to serve; the snapshot is written to L{snapshot_path}C{(www)}.
    @param clock: the reactor for the loop; default the global one.
    @return: C{www} as a static.File whose .rpy pages share C{registry}, with the
        snapshot at C{weblog.html} behind L{auth.protect} (a password when
        C{WEBLOG_HTPASSWD} is set).
    """
    snapshot = snapshot_path(www)
    if registry.getComponent(IRefresher) is None:
        records = registry.getComponent(IRecords)
        if records is None:
            records = Records(clock=clock)
            records.start()
            registry.setComponent(IRecords, records)
        os.makedirs(os.path.dirname(snapshot), exist_ok=True)
        refresher = Refresher(records, snapshot)
        loop = LoopingCall(refresher.refreshSliced)  # the reactor never waits for a refresh
        if clock is not None:
            loop.clock = clock
        loop.start(INTERVAL, now=True)
        registry.setComponent(IRefresher, loop)
    root = static.File(www, registry=registry)
    root.processors = {".rpy": script.ResourceScript}
    root.putChild(b"weblog.html", protect(static.File(snapshot), registry))
    return root


_script = globals()
if "registry" in _script:  # executed by twistd as a resource script, once per request
    import tlogmaker as _module  # the imported module holds the one IRefresher interface

    resource = _module.serve(
        _script["registry"],
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(_script["__file__"]))), "www"),
    )
