"""The machine and the checkout measured: where they are, and the facts the report opens with."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_text(command: list[str], timeout: float = 30.0) -> str:
    """A command's stdout and stderr as text, or '' if it cannot run."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (done.stdout + done.stderr).strip()


def machine() -> list[tuple[str, str]]:
    """The machine, software versions, date and commit, as (label, value) pairs."""
    import twisted

    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return [
        ("cores (nproc)", run_text(["nproc"]) or str(os.cpu_count())),
        ("CPU", model),
        ("memory", memory),
        ("kernel", run_text(["uname", "-sr"])),
        ("Python", sys.version.split()[0]),
        ("Twisted", twisted.__version__),
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %z")),
        ("commit", commit()),
    ]


def commit() -> str:
    """The short HEAD commit, plus 'dirty' and the changed paths when the tree has changes."""
    head = run_text(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "unknown"
    try:
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain"],
                                capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        status = ""
    changed = [line[3:] for line in status.splitlines() if line[3:] != "BENCHMARKS.md"]
    if not changed:
        return head
    shown = ", ".join(changed[:8]) + (", ..." if len(changed) > 8 else "")
    return f"{head} dirty ({shown})"
