# -*- test-case-name: tests.test_settings -*-
"""Tests for L{weblog.settings}: each setting read from the environment, with its default."""

from __future__ import annotations

import os
from collections.abc import Callable

from twisted.trial import unittest
from weblog import settings
from weblog.errors import ConfigError
from weblog.settings import env_int

from tests.support import setEnvironment


class EnvIntTests(unittest.TestCase):
    """L{env_int} reads a bounded whole number from the environment."""

    def test_unsetOrEmpty(self) -> None:
        """An unset, empty or blank variable gives the default."""
        setEnvironment(self, WEBLOG_TEST=None)
        self.assertEqual(env_int("WEBLOG_TEST", 7, 1, 10), 7)
        for blank in ("", "   "):
            os.environ["WEBLOG_TEST"] = blank
            self.assertEqual(env_int("WEBLOG_TEST", 7, 1, 10), 7)

    def test_value(self) -> None:
        """A whole number within bounds, bounds included and blanks around it ignored, is read."""
        setEnvironment(self)
        for text, value in (("1", 1), ("10", 10), (" 5 ", 5)):
            os.environ["WEBLOG_TEST"] = text
            self.assertEqual(env_int("WEBLOG_TEST", 7, 1, 10), value)

    def assertRefused(self, text: str, message: str) -> None:
        """C{$WEBLOG_TEST} of C{text} is a ValueError whose one line is C{message}."""
        setEnvironment(self, WEBLOG_TEST=text)
        error = self.assertRaises(ValueError, env_int, "WEBLOG_TEST", 7, 1, 10)
        self.assertEqual(str(error), message)

    def test_notANumber(self) -> None:
        """A value that is not a whole number is a ValueError naming the variable, in one line."""
        for text in ("many", "1.5", "0x10"):
            self.assertRefused(text, f"WEBLOG_TEST must be a whole number, got {text!r}")

    def test_outOfRange(self) -> None:
        """A whole number out of bounds is a ValueError naming the variable and the bounds."""
        for text in ("0", "11", "-3"):
            self.assertRefused(text, f"WEBLOG_TEST must be from 1 to 10, got {int(text)}")


    def test_configError(self) -> None:
        """What env_int raises is a ConfigError, the one error a bad setting is."""
        setEnvironment(self, WEBLOG_TEST="many")
        self.assertRaises(ConfigError, env_int, "WEBLOG_TEST", 7, 1, 10)

    def test_longValueCut(self) -> None:
        """A long bad value is repeated cut to 40 characters, so that the message is one line."""
        setEnvironment(self, WEBLOG_TEST="x" * 100 + "\n")
        error = self.assertRaises(ConfigError, env_int, "WEBLOG_TEST", 7, 1, 10)
        self.assertEqual(str(error), f"WEBLOG_TEST must be a whole number, got {'x' * 40!r}")


class SettingsTests(unittest.TestCase):
    """Each setting is its variable when set (and not empty), else its default."""

    def assertSetting(self, name: str, read: Callable[[], object], default: object, value: str,
                      expected: object) -> None:
        """C{read()} is C{default} with C{name} unset or empty, and C{expected} with C{value}."""
        for unset in (None, ""):
            setEnvironment(self, **{name: unset})
            self.assertEqual(read(), default, (name, unset))
        setEnvironment(self, **{name: value})
        self.assertEqual(read(), expected, name)

    def test_logPath(self) -> None:
        """The log is C{$WEBLOG_LOG}, else C{var/access.log}; several stay joined by C{:}."""
        self.assertSetting("WEBLOG_LOG", settings.log_path, "var/access.log", "a.log:b.log",
                           "a.log:b.log")

    def test_keep(self) -> None:
        """The hits kept are C{$WEBLOG_KEEP}, from 1 to 1000000, else 10000."""
        self.assertSetting("WEBLOG_KEEP", settings.keep, 10000, "1000000", 1_000_000)
        for bad in ("0", "1000001"):
            setEnvironment(self, WEBLOG_KEEP=bad)
            self.assertRaises(ConfigError, settings.keep)

    def test_logFormat(self) -> None:
        """The format is C{$WEBLOG_FORMAT} as given, else C{""}: auto-detection."""
        self.assertSetting("WEBLOG_FORMAT", settings.log_format, "", '%h %t "%r"', '%h %t "%r"')

    def test_stateDir(self) -> None:
        """The state directory is C{$WEBLOG_STATE}, else C{var}."""
        self.assertSetting("WEBLOG_STATE", settings.state_dir, "var", "/srv/state", "/srv/state")

    def test_historyMemory(self) -> None:
        """The history's database may use C{$WEBLOG_HISTORY_MEMORY} MiB, 64 or more, else 192."""
        self.assertSetting("WEBLOG_HISTORY_MEMORY", settings.history_memory, 192, "64", 64)
        setEnvironment(self, WEBLOG_HISTORY_MEMORY="63")
        self.assertRaises(ConfigError, settings.history_memory)

    def test_maxStreams(self) -> None:
        """The most event streams are C{$WEBLOG_MAX_STREAMS}, from 1 to 100000, else 256."""
        self.assertSetting("WEBLOG_MAX_STREAMS", settings.max_streams, 256, "1", 1)
        setEnvironment(self, WEBLOG_MAX_STREAMS="100001")
        error = self.assertRaises(ConfigError, settings.max_streams)
        self.assertEqual(str(error), "WEBLOG_MAX_STREAMS must be from 1 to 100000, got 100001")

    def test_htpasswdPath(self) -> None:
        """The htpasswd file is C{$WEBLOG_HTPASSWD}, else C{""}: no password asked."""
        self.assertSetting("WEBLOG_HTPASSWD", settings.htpasswd_path, "", "/etc/weblog.htpasswd",
                           "/etc/weblog.htpasswd")

    def test_historyMaxMb(self) -> None:
        """The history's cap is C{$WEBLOG_HISTORY_MAX_MB}, 0 (none) or from 64, else 1000."""
        self.assertSetting("WEBLOG_HISTORY_MAX_MB", settings.history_max_mb, 1000, "0", 0)
        for good in ("64", "100000000"):
            setEnvironment(self, WEBLOG_HISTORY_MAX_MB=good)
            self.assertEqual(settings.history_max_mb(), int(good))
        for bad in ("1", "63", "-5", "100000001"):
            setEnvironment(self, WEBLOG_HISTORY_MAX_MB=bad)
            error = self.assertRaises(ConfigError, settings.history_max_mb)
            self.assertEqual(str(error), "WEBLOG_HISTORY_MAX_MB must be 0 (no cap) or from 64 to"
                                         f" 100000000, got {int(bad)}")
        setEnvironment(self, WEBLOG_HISTORY_MAX_MB="1GB")
        error = self.assertRaises(ConfigError, settings.history_max_mb)
        self.assertEqual(str(error), "WEBLOG_HISTORY_MAX_MB must be a whole number, got '1GB'")

    def test_syslogListen(self) -> None:
        """Where syslog is received is C{$WEBLOG_SYSLOG}'s C{udp:HOST:PORT} and
        C{tcp:HOST:PORT} entries (an IPv6 host in brackets), else nowhere."""
        self.assertSetting("WEBLOG_SYSLOG", settings.syslog_listen, [],
                           "udp:127.0.0.1:5514, tcp:[::1]:5514,",
                           [("udp", "127.0.0.1", 5514), ("tcp", "::1", 5514)])
        for bad, reason in (("udp:5514", "entries must be udp:HOST:PORT or tcp:HOST:PORT,"
                                          " got 'udp:5514'"),
                            ("sctp:h:1", "entries must be udp:HOST:PORT or tcp:HOST:PORT,"
                                         " got 'sctp:h:1'"),
                            ("tcp:::1:65536", "entries must be udp:HOST:PORT or tcp:HOST:PORT,"
                                              " got 'tcp:::1:65536'"),
                            ("udp:localhost:1", "hosts must be IP addresses (127.0.0.1,"
                                                " [::1]), got 'udp:localhost:1'"),
                            ("udp:1.2.3.4:1,udp:1.2.3.4:1", "names 'udp:1.2.3.4:1' twice")):
            setEnvironment(self, WEBLOG_SYSLOG=bad)
            error = self.assertRaises(ConfigError, settings.syslog_listen)
            self.assertEqual(str(error), f"WEBLOG_SYSLOG {reason}")

    def test_spoolPath(self) -> None:
        """The syslog spool is C{syslog} in the state directory."""
        setEnvironment(self, WEBLOG_STATE="/srv/state")
        self.assertEqual(settings.spool_path(), "/srv/state/syslog")

    def test_readWhenAsked(self) -> None:
        """A setting is read again each time it is asked for, as an edited .rpy asks again."""
        setEnvironment(self, WEBLOG_KEEP="5")
        self.assertEqual(settings.keep(), 5)
        os.environ["WEBLOG_KEEP"] = "6"
        self.assertEqual(settings.keep(), 6)
