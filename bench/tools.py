"""The tools weblog is measured beside (GoAccess, wrk, rsyslog): found or not, what is skipped
without."""

from __future__ import annotations

import os
import shutil

from machine import run_text

NEEDED_BY: dict[str, dict[str, str]] = {
    "goaccess": {"ingest": "GoAccess's lines/s and the weblog ≥ 3x GoAccess target",
                 "backfill": "GoAccess's lines/s and the backfill ≥ 2x GoAccess target",
                 "liveingest": "GoAccess's lines/s and the live ingest ≥ 3x GoAccess target",
                 "syslog": "GoAccess's lines/s on the same lines"},
    "rsyslog": {"syslog": "rsyslog's lines/s and the ratio weblog ÷ rsyslog"},
    "wrk": {"serving": "every figure",
            "scale": "latencies and requests/s (start times and RSS are still measured)",
            "sustained": "every figure",
            "during": "the page's latencies under load (the start and the probe are still "
                      "measured)"},
}
"""For each tool, the benchmarks that need it and which of their figures are skipped without."""



def versions() -> dict[str, str | None]:
    """Each tool's version line, or None where it is not installed."""
    found: dict[str, str | None] = {"goaccess": None, "wrk": None, "rsyslog": None}
    if shutil.which("goaccess"):
        found["goaccess"] = (run_text(["goaccess", "--version"]).splitlines()
                             or ["?"])[0].rstrip(".")
    if shutil.which("wrk"):
        found["wrk"] = (run_text(["wrk", "-v"]).splitlines() or ["?"])[0].split(" Copyright")[0]
    rsyslogd = rsyslogd_path()
    if rsyslogd:
        found["rsyslog"] = " ".join((run_text([rsyslogd, "-v"]).splitlines() or ["?"])[0]
                                    .split()[:2]) or "?"
    return found


def rsyslogd_path() -> str | None:
    """Where rsyslogd is (Debian puts it in /usr/sbin, often not on a user's PATH), or None."""
    found = shutil.which("rsyslogd")
    if found:
        return found
    return "/usr/sbin/rsyslogd" if os.access("/usr/sbin/rsyslogd", os.X_OK) else None


def notes(found: dict[str, str | None]) -> list[str]:
    """What the report's Logs section says of the tools found."""
    goaccess = found.get("goaccess")
    if goaccess and "1.7" not in goaccess:
        return [f"the issue asks for GoAccess 1.7; this machine has {goaccess}"]
    return []


def missing(found: dict[str, str | None], names: list[str]) -> list[str]:
    """The tools not installed that one of the benchmarks C{names} needs."""
    return [tool for tool, needs in NEEDED_BY.items()
            if not found.get(tool) and any(name in needs for name in names)]


def install(tools: list[str]) -> str:
    """The Debian command, run as root, that installs C{tools} (the README gives it too)."""
    return "apt-get install -y " + " ".join(tools)


def skipped(found: dict[str, str | None], names: list[str]) -> list[tuple[str, str, str]]:
    """(benchmark, figures skipped, why) for each of C{names} that lacks a tool it needs."""
    return [(name, NEEDED_BY[tool][name], f"`{tool}` is not installed")
            for tool in missing(found, names) for name in names if name in NEEDED_BY[tool]]
