# -*- test-case-name: tests.test_logstatus -*-
"""The JSON C{log} object: the state of the logs followed, and the counts of what was read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from weblog.following import LogFollower

__all__ = ["log_status"]


def log_status(path: str, problem: str, followers: Sequence[LogFollower], lines: int,
               malformed: int, kept: int) -> dict[str, Any]:
    """
    The logs' path, state and counts, as in the JSON C{log} object.

    @param path: the logs' paths as configured.
    @param problem: why they cannot be followed (a bad setting), else C{""}.
    @param followers: their followers, one per log.
    @param lines: the complete lines read; C{malformed} of them could not be read.
    @param kept: how many hits are kept.
    """
    trouble = [follower for follower in followers if follower.state != "ok"]
    if problem:
        state, reason = "misconfigured", problem
    elif not trouble:
        state, reason = "ok", ""
    elif len(followers) == 1:
        state, reason = trouble[0].state, trouble[0].reason
    else:
        state, reason = trouble[0].state, f"{trouble[0].path}: {trouble[0].reason}"
    status: dict[str, Any] = {
        "path": path,
        "state": state,
        "reason": reason,
        "lines": lines,
        "malformed": malformed,
        "rotations": sum(follower.rotations for follower in followers),
        "truncations": sum(follower.truncations for follower in followers),
        "kept": kept,
    }
    if len(followers) > 1:
        status["files"] = [
            {"path": follower.path, "state": follower.state, "reason": follower.reason,
             **({"source": follower.source} if follower.source != follower.path else {})}
            for follower in followers
        ]
    return status
