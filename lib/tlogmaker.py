# -*- test-case-name: tests.test_refreshers -*-
"""
The article's refresher inside twistd: a resource script that serves C{www/} and rewrites
C{www/weblog.html} every five seconds from the reactor.

Run it as the site's root::

    twistd -n web --resource-script lib/tlogmaker.py --listen tcp:8080 --logfile var/access.log

twistd executes a resource script again on every request, so the refresh loop
is kept in the script's registry under L{IRefresher} and started only once.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.web import script, static
from zope.interface import Interface

from logmaker import Refresher
from persist import IRecords, Records

__all__ = ["IRefresher", "serve"]

INTERVAL = 5.0


class IRefresher(Interface):
    """The running snapshot refresher of a site (a L{LoopingCall})."""


def serve(registry: Any, www: str, clock: Any = None) -> static.File:
    """
    Start the refresh loop once per registry, and return the site's root resource.

    @param registry: the registry twistd keeps for this resource script.
    @param www: the directory to serve; the snapshot is written there.
    @param clock: the reactor for the loop; default the global one.
    @return: C{www} as a static.File whose .rpy pages share C{registry}.
    """
    if registry.getComponent(IRefresher) is None:
        records = registry.getComponent(IRecords)
        if records is None:
            records = Records(clock=clock)
            records.start()
            registry.setComponent(IRecords, records)
        refresher = Refresher(records, os.path.join(www, "weblog.html"))
        loop = LoopingCall(refresher.refresh)
        if clock is not None:
            loop.clock = clock
        loop.start(INTERVAL, now=True)
        registry.setComponent(IRefresher, loop)
    root = static.File(www, registry=registry)
    root.processors = {".rpy": script.ResourceScript}
    return root


_script = globals()
if "registry" in _script:  # executed by twistd as a resource script, once per request
    import tlogmaker as _module  # the imported module holds the one IRefresher interface

    resource = _module.serve(
        _script["registry"],
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(_script["__file__"]))), "www"),
    )
