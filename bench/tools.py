"""The tools weblog is measured beside (GoAccess, wrk): found or not, what is skipped without."""

from __future__ import annotations

import shutil

from machine import run_text

NEEDED_BY: dict[str, dict[str, str]] = {
    "goaccess": {"ingest": "GoAccess's lines/s and the weblog ≥ 3x GoAccess target"},
    "wrk": {"serving": "every figure",
            "scale": "latencies and requests/s (start times and RSS are still measured)",
            "sustained": "every figure"},
}
"""For each tool, the benchmarks that need it and which of their figures are skipped without."""

INSTALL = "apt-get install -y goaccess wrk"
"""How to install them on Debian, as root; the README's benchmark section says so too."""


def versions() -> dict[str, str | None]:
    """Each tool's version line, or None where it is not installed."""
    found: dict[str, str | None] = {"goaccess": None, "wrk": None}
    if shutil.which("goaccess"):
        found["goaccess"] = (run_text(["goaccess", "--version"]).splitlines()
                             or ["?"])[0].rstrip(".")
    if shutil.which("wrk"):
        found["wrk"] = (run_text(["wrk", "-v"]).splitlines() or ["?"])[0].split(" Copyright")[0]
    return found


def notes(found: dict[str, str | None]) -> list[str]:
    """What the report's Logs section says of the tools found."""
    goaccess = found.get("goaccess")
    if goaccess and "1.7" not in goaccess:
        return [f"the issue asks for GoAccess 1.7; this machine has {goaccess}"]
    return []


def skipped(found: dict[str, str | None], names: list[str]) -> list[tuple[str, str, str]]:
    """(benchmark, figures skipped, why) for each of C{names} that lacks a tool it needs."""
    rows = []
    for tool, needs in NEEDED_BY.items():
        if found.get(tool):
            continue
        why = f"`{tool}` is not installed (`apt-get install -y {tool}`, as root)"
        rows += [(name, needs[name], why) for name in names if name in needs]
    return rows
