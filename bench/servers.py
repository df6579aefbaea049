"""The server the benchmarks load: a real twistd over a copy of www/ plus the article's page."""

from __future__ import annotations

import shutil
from pathlib import Path

from machine import REPO
from tests.server import TwistdServer

PLAIN_RPY = (
    "from twisted.web import resource\n"
    "page = b'<html><head><title>Dynamic Page</title></head><body><p>Dynamic Page served by "
    "Twisted Matrix</p></body></html>'\n"
    "class Resource(resource.Resource):\n"
    "    def render(self, request):\n"
    "        return page\n"
    "resource = Resource()\n"
)
"""The article's trivial dynamic page, added as plain.rpy to the served copy of www/."""


def served_www(work: Path) -> Path:
    """A copy of the repo's www/ with the article's trivial plain.rpy added, made once."""
    www = work / "www"
    if not www.exists():
        shutil.copytree(REPO / "www", www, ignore=shutil.ignore_patterns("weblog.html*"))
        (www / "plain.rpy").write_text(PLAIN_RPY)
    return www


def weblog_server(work: Path, log: Path, name: str, env: dict[str, str] | None = None,
                  nofile: int | None = None) -> TwistdServer:
    """A twistd in C{work}/server-C{name} serving L{served_www} and following C{log}."""
    return TwistdServer(work / f"server-{name}",
                        {"WEBLOG_LOG": str(log), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
                        www=served_www(work), nofile=nofile)
