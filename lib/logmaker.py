# -*- test-case-name: tests.test_logmaker -*-
"""
The article's standalone refresher: rewrite a static snapshot page of the latest referrer hits.

Run it beside any web server (Apache, nginx or twistd)::

    python lib/logmaker.py --log /var/log/apache2/access.log --out var/weblog.html

The default page, C{var/weblog.html}, is outside the served C{www/}: the page
shows the same referrers as the weblog pages, so with C{WEBLOG_HTPASSWD} set an
C{--out} into a directory weblog serves (one holding C{weblog.rpy}, or below
one) is refused.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from contextlib import suppress

from persist import Records
from twisted.internet.defer import Deferred
from weblog import settings
from weblog.files import create_unique
from weblog.hit import Hit
from weblog.selection import MAX_LIMIT, Selection
from webloglib import snapshot_page

__all__ = ["DEFAULT_OUT", "Refresher", "main", "write_atomically"]

DEFAULT_OUT = os.path.join("var", "weblog.html")


def write_atomically(path: str, text: str) -> None:
    """
    Replace the file at C{path} with C{text}: readers see the old page or the new, never half.

    The temporary file is this process's own, created exclusively, never through a
    link planted at its name.

    @param path: the file to write.
    @param text: its new content.
    """
    temporary, page = create_unique(f"{path}.tmp-{os.getpid()}-{n}" for n in range(100))
    try:
        with page:
            page.write(text.encode("utf-8"))
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


class Refresher:
    """Writes the snapshot page of one Records object."""

    def __init__(self, records: Records, out: str, limit: int = 35) -> None:
        """
        @param records: the hits to show.
        @param out: the page to rewrite.
        @param limit: how many hits the page shows.
        """
        self.records = records
        self.out = out
        self.selection = Selection(limit=limit)

    def refresh(self) -> int:
        """Rewrite the page from the hits read so far; return how many it shows."""
        hits = self.selection.select(self.records.newest())
        write_atomically(self.out, snapshot_page(hits))
        return len(hits)

    def refreshSliced(self) -> Deferred[int] | int:
        """
        Rewrite the page as L{refresh} does, finding its hits in slices (inside a reactor).

        @return: how many hits the page shows, or a Deferred of it when that took slices.
        """
        hits: list[Hit] = []
        job = self.records.sliced(
            self.selection.choose(self.records.walk(), hits, lambda _, hit: hit))

        def write(_: object = None) -> int:
            write_atomically(self.out, snapshot_page(hits))
            return len(hits)

        return write() if job is None else job.addCallback(write)


def _served_by_weblog(directory: str) -> str | None:
    """The nearest of C{directory} and its parents that holds C{weblog.rpy}, or None."""
    current = os.path.realpath(directory)
    while True:
        if os.path.isfile(os.path.join(current, "weblog.rpy")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="logmaker.py",
        description="Rewrite a static page of the latest status-200 hits with a referrer, "
                    "every few seconds (the article's logmaker.py).",
    )
    parser.add_argument("--log", default=settings.log_path(),
                        help="the access log to follow (default: $WEBLOG_LOG, else %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="the page to rewrite atomically (default: %(default)s, outside "
                             "the served www/; with WEBLOG_HTPASSWD set, a directory weblog "
                             "serves is refused)")
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds between rewrites (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=35,
                        help=f"rows on the page, 1 to {MAX_LIMIT} (default: %(default)s)")
    parser.add_argument("--once", action="store_true", help="write the page once and exit")
    arguments = parser.parse_args(argv)
    if not 1 <= arguments.limit <= MAX_LIMIT:
        parser.error(f"--limit must be from 1 to {MAX_LIMIT}, got {arguments.limit}")
    if arguments.interval <= 0:
        parser.error(f"--interval must be positive, got {arguments.interval}")
    out_dir = os.path.dirname(arguments.out) or "."
    if arguments.out == DEFAULT_OUT:  # var/ is not in git; run.sh makes it too
        try:
            os.makedirs(out_dir, exist_ok=True)
        except OSError as error:
            parser.error(f"--out: cannot make {out_dir}: {error.strerror or error}")
    if not os.path.isdir(out_dir):
        parser.error(f"--out: no such directory: {out_dir}")
    served = _served_by_weblog(out_dir)
    if served is not None and settings.htpasswd_path():
        parser.error(f"--out: {served} is served by weblog (it holds weblog.rpy) and "
                     "WEBLOG_HTPASSWD is set: the page would show the referrers without "
                     f"a password; write it elsewhere (default {DEFAULT_OUT})")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Run the refresher until interrupted (or once, with C{--once})."""
    arguments = _arguments(argv)
    try:
        records = Records(arguments.log)
    except ValueError as error:
        print(f"logmaker.py: {error}", file=sys.stderr)
        return 2
    refresher = Refresher(records, arguments.out, arguments.limit)
    try:
        while True:
            records.catchUp()
            refresher.refresh()
            if arguments.once:
                break
            time.sleep(arguments.interval)
    except KeyboardInterrupt:
        pass
    finally:
        records.stop()
    status = records.status()
    if status["state"] != "ok":
        print(f"logmaker.py: waiting for {status['path']}: {status['reason']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
