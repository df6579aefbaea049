"""A real nginx on 127.0.0.1 for the tests: a config of the test's own, started and stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

from twisted.trial import unittest

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)
CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
{http}
}}
"""
"""nginx.conf around the test's C{http} block, every path of nginx's in the test's C{base}."""


def nginx_binary(case: unittest.TestCase) -> str:
    """nginx's path; the test is skipped without it, but fails under CI, which installs it."""
    if NGINX is None:
        reason = "nginx is not installed (Debian: apt-get install nginx-light)"
        if os.environ.get("CI") == "true":
            case.fail(f"{reason}; CI's .ci/run installs it")
        raise unittest.SkipTest(reason)
    return NGINX


def start_nginx(case: unittest.TestCase, base: str, port: int, http: str) -> None:
    """Run nginx with C{http} in its config (it listens on C{port} of 127.0.0.1), until it
    listens; it is stopped when the test cleans up."""
    config = os.path.join(base, "nginx.conf")
    with open(config, "w") as file:
        file.write(CONFIG.format(base=base, http=http))
    process = subprocess.Popen(
        [nginx_binary(case), "-p", base, "-c", config, "-e", os.path.join(base, "error.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    case.addCleanup(stop_process, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read() if process.stderr else b""
            case.fail(f"nginx exited: {error.decode(errors='replace')[:500]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    case.fail("nginx did not listen within 20 s")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGQUIT) -> None:
    """Stop a test's server with C{sig} (nginx's SIGQUIT: it finishes what it serves),
    SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if process.stderr is not None:
        process.stderr.close()
