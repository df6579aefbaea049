# -*- test-case-name: tests.test_settings -*-
"""
weblog's settings from the environment: the one module that reads C{os.environ}.

Each setting is read when asked for (a server reads them as it starts, and an
edited .rpy reads them again), and a bad value raises L{ConfigError} with a
one-line reason that names the variable and repeats the value.
"""

from __future__ import annotations

import ipaddress
import os

from weblog.errors import ConfigError, shown

__all__ = ["BACKFILL_MEMORY", "DEFAULT_KEEP", "HISTORY_MEMORY", "env_int", "history",
           "history_max_mb", "history_memory", "history_path", "history_threads",
           "htpasswd_path", "keep", "log_format", "log_path", "max_streams", "retain_days",
           "spool_path", "state_dir", "syslog_listen"]

DEFAULT_KEEP = 10000
DEFAULT_LOG = "var/access.log"
DEFAULT_STATE = "var"
DEFAULT_HISTORY_MAX_MB = 1000
SMALLEST_HISTORY_MAX_MB = 64


def env_int(name: str, default: int, low: int, high: int) -> int:
    """
    Read a whole number from the environment, within bounds.

    @param name: the variable's name.
    @param default: the value when it is unset or empty.
    @param low: the smallest value allowed.
    @param high: the largest value allowed.
    @raise ConfigError: if it is not a whole number from C{low} to C{high}.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {shown(text, 40)}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {value}")
    return value


def log_path() -> str:
    """The log to follow, or several separated by C{:}: C{$WEBLOG_LOG}, else C{var/access.log}."""
    return os.environ.get("WEBLOG_LOG") or DEFAULT_LOG


def keep() -> int:
    """How many recent hits to keep: C{$WEBLOG_KEEP}, else 10000."""
    return env_int("WEBLOG_KEEP", DEFAULT_KEEP, 1, 1_000_000)


def log_format() -> str:
    """An Apache C{LogFormat} for the logs: C{$WEBLOG_FORMAT}, else C{""} (auto-detection)."""
    return os.environ.get("WEBLOG_FORMAT", "")


def state_dir() -> str:
    """The directory of the state kept across restarts: C{$WEBLOG_STATE}, else C{var}."""
    return os.environ.get("WEBLOG_STATE") or DEFAULT_STATE


def max_streams() -> int:
    """The most event streams open at once: C{$WEBLOG_MAX_STREAMS}, else 256."""
    return env_int("WEBLOG_MAX_STREAMS", 256, 1, 100_000)


def htpasswd_path() -> str:
    """The htpasswd file that guards the pages: C{$WEBLOG_HTPASSWD}, else C{""} (no password)."""
    return os.environ.get("WEBLOG_HTPASSWD", "")


def history() -> bool:
    """Whether every hit is stored in the history: C{$WEBLOG_HISTORY}, C{on} (default) or
    C{off}."""
    text = os.environ.get("WEBLOG_HISTORY", "").strip().lower()
    if text in ("", "on"):
        return True
    if text == "off":
        return False
    raise ConfigError(f"WEBLOG_HISTORY must be on or off, got {shown(text, 40)}")


def spool_path() -> str:
    """The directory of the lines received over syslog: C{syslog} in the state directory."""
    return os.path.join(state_dir(), "syslog")


def history_path() -> str:
    """The history's DuckDB file: C{history.duckdb} in the state directory."""
    return os.path.join(state_dir(), "history.duckdb")


HISTORY_MEMORY = 192
"""The default of C{$WEBLOG_HISTORY_MEMORY}, in MiB: room for DuckDB to keep the columns the
answers read of a 4.2 million hit store (at 96, each answer read them again: a fifth longer)."""
BACKFILL_MEMORY = 96
"""The most MiB the history's database may use while it backfills (or the setting, if lower):
a checkpoint takes whatever the limit allows (at 256, the historian passed 400 MB)."""


def history_memory() -> int:
    """The most MiB the history's database may use once it has caught up with the logs:
    C{$WEBLOG_HISTORY_MEMORY}, else L{HISTORY_MEMORY}; while it backfills, at most
    L{BACKFILL_MEMORY}."""
    return env_int("WEBLOG_HISTORY_MEMORY", HISTORY_MEMORY, 64, 1 << 20)


def history_threads() -> int:
    """The threads the history's database may use: C{$WEBLOG_HISTORY_THREADS}, else 2."""
    return env_int("WEBLOG_HISTORY_THREADS", 2, 1, 256)


def retain_days() -> int:
    """How many days of hits the history keeps: C{$WEBLOG_RETAIN_DAYS}, else 400."""
    return env_int("WEBLOG_RETAIN_DAYS", 400, 1, 36500)


def history_max_mb() -> int:
    """The cap on the history's files, in MB: C{$WEBLOG_HISTORY_MAX_MB}, else 1000; 0: none."""
    name, largest = "WEBLOG_HISTORY_MAX_MB", 100_000_000
    value = env_int(name, DEFAULT_HISTORY_MAX_MB, -(1 << 63), 1 << 63)
    if value != 0 and not SMALLEST_HISTORY_MAX_MB <= value <= largest:
        raise ConfigError(f"{name} must be 0 (no cap) or from {SMALLEST_HISTORY_MAX_MB} to"
                          f" {largest}, got {value}")
    return value


def syslog_listen() -> list[tuple[str, str, int]]:
    """
    Where to receive syslog: C{$WEBLOG_SYSLOG}, a comma-separated list of C{udp:HOST:PORT} and
    C{tcp:HOST:PORT} (HOST an IP address, in brackets for IPv6), as C{(transport, host, port)};
    else none.

    @raise ConfigError: if an entry is not one of those, or two are the same.
    """
    name, found = "WEBLOG_SYSLOG", []
    for entry in os.environ.get(name, "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        transport, _, rest = entry.partition(":")
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if transport not in ("udp", "tcp") or not host or not port.isdigit() \
                or not 0 < int(port) < 65536:
            raise ConfigError(f"{name} entries must be udp:HOST:PORT or tcp:HOST:PORT,"
                              f" got {shown(entry, 60)}")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(f"{name} hosts must be IP addresses (127.0.0.1, [::1]),"
                              f" got {shown(entry, 60)}") from None
        where = (transport, host, int(port))
        if where in found:
            raise ConfigError(f"{name} names {shown(entry, 60)} twice")
        found.append(where)
    return found
