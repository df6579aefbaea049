"""wrk, the HTTP load generator: one run against 127.0.0.1, its figures parsed."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass


@dataclass
class WrkResult:
    """What one wrk run reported."""

    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    """wrk's duration text (512.00us, 6.74ms, 1.02s) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _field(pattern: str, out: str) -> str:
    """The first group of C{pattern} in wrk's output; fail when wrk did not print it."""
    found = re.search(pattern, out)
    if found is None:
        raise RuntimeError(f"wrk printed no {pattern!r}: {out[-400:]}")
    return found.group(1)


def wrk(url: str, seconds: int, connections: int = 20, threads: int = 1) -> WrkResult:
    """Run wrk once against a URL on 127.0.0.1; parse requests/s and the latency percentiles."""
    assert url.startswith("http://127.0.0.1:"), url
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed ({done.returncode}): {out[-400:]} {done.stderr[-400:]}")
    percent = {p: _ms(v) for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.MULTILINE)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return WrkResult(
        rps=float(_field(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=percent["50"], p75_ms=percent["75"], p90_ms=percent["90"], p99_ms=percent["99"],
        requests=int(_field(r"(\d+) requests in", out)),
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )
