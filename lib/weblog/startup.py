# -*- test-case-name: tests.test_startup -*-
"""What C{run.sh} checks before it starts a server: every setting, and the state directory."""

from __future__ import annotations

from weblog import settings
from weblog.auth import read_htpasswd
from weblog.counter import state_in_use
from weblog.errors import ConfigError
from weblog.logformat import compile_format

__all__ = ["config_problem"]


def config_problem() -> str:
    """
    The first problem with weblog's environment variables, in one line, or C{""}.

    That includes a C{WEBLOG_STATE} that another running weblog server holds.
    """
    try:
        settings.keep()
        if settings.log_format():
            compile_format(settings.log_format())
        settings.max_streams()
        settings.syslog_listen()
        if settings.history():
            settings.history_memory()
            settings.history_threads()
            settings.retain_days()
            settings.history_max_mb()
        if settings.htpasswd_path():
            read_htpasswd(settings.htpasswd_path())
    except ConfigError as error:
        return str(error)
    return state_in_use(settings.state_dir())
