"""Measuring in a fresh Python process: run one, read the JSON it prints; its peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from machine import REPO
from tests.procfs import proc_status_kb

VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
"""The Python that children run with: the repo's venv's, else this one."""


def child_json(command: list[str], timeout: float) -> dict[str, Any]:
    """Run a child Python process that prints one JSON object as its last line; return it."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stderr[-4000:])
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        name = " ".join(Path(part).name for part in command[1:3])
        raise RuntimeError(f"{name} exited with {done.returncode}: {last}")
    return dict(json.loads(lines[-1]))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB; unlike ru_maxrss, not inherited."""
    return proc_status_kb(os.getpid(), "VmHWM") / 1024
