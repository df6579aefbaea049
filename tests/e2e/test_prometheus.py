"""A real Prometheus scrapes a real twistd's /metrics.rpy; promtool checks the README's rules."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

from twisted.trial import unittest

from tests.e2e.readme import need, readme_block
from tests.support import TwistdServer, free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
LINE = ('198.51.100.{n} - - [07/Dec/2026:10:00:{second:02d} +0000] "GET /p/{n} HTTP/1.1" {status}'
        ' 1000 "-" "Mozilla/5.0"\n')
LINES, EVERY = 600, 7
"""Lines appended, and every how many a 503."""


class PrometheusTests(unittest.TestCase):
    """Prometheus reads the counts of the lines the test appends."""

    def query(self, port: int, expression: str) -> list[dict[str, Any]]:
        """The result of an instant query of Prometheus' HTTP API."""
        url = (f"http://127.0.0.1:{port}/api/v1/query?"
               + urllib.parse.urlencode({"query": expression}))
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  # loopback
            document = json.load(answer)
        self.assertEqual(document["status"], "success")
        return list(document["data"]["result"])

    def test_scraped(self) -> None:
        """Lines appended to the log show in Prometheus: every line, and the 5xx among them."""
        prometheus = need(PROMETHEUS, "prometheus")
        server = TwistdServer(self, env={"WEBLOG_LOG": "var/site.log", "WEBLOG_HISTORY": "off"})
        log = server.base.descendant(["var", "site.log"]).path
        open(log, "w").close()
        server.start()
        self.assertEqual(server.get("/metrics.rpy")[0], 200)  # Records made, the log opened
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        config = os.path.join(base, "prometheus.yml")
        with open(config, "w") as file:
            file.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                       "scrape_configs:\n  - job_name: weblog\n    metrics_path: /metrics.rpy\n"
                       f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n")
        port = free_port()
        process = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={base}/data",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(base, "prometheus.log"), "wb"))
        self.addCleanup(process.wait, 30)
        self.addCleanup(process.terminate)
        statuses = [503 if n % EVERY == 0 else 200 for n in range(LINES)]
        with open(log, "a") as file:
            for n, status in enumerate(statuses):
                file.write(LINE.format(n=n % 250, second=n % 60, status=status))
        lines = 'weblog_lines_total{source="var/site.log"}'
        deadline, seen = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            try:
                result = self.query(port, lines)
            except OSError:  # not listening yet
                result = []
            seen = result[0]["value"][1] if result else None
            if seen == str(LINES):
                break
            time.sleep(0.5)
        self.assertEqual(seen, str(LINES), f"Prometheus never saw {LINES} lines")
        errors = self.query(port, 'sum(weblog_hits_total{status_class="5xx"})')
        self.assertEqual(errors[0]["value"][1], str(statuses.count(503)))
        up = self.query(port, 'up{job="weblog"}')
        self.assertEqual(up[0]["value"][1], "1")

    def test_readmeRules(self) -> None:
        """promtool accepts the README's rules, and the 5xx rule fires on a surge (only then)."""
        promtool = need(PROMTOOL, "prometheus")
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        rules = os.path.join(base, "weblog.rules.yml")
        with open(rules, "w") as file:
            file.write(readme_block("rules"))
        checked = subprocess.run([promtool, "check", "rules", rules], capture_output=True,
                                 text=True, check=False)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        self.assertIn("SUCCESS: 3 rules found", checked.stdout)
        tests = os.path.join(base, "weblog.test.yml")
        with open(tests, "w") as file:
            file.write(f"""rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'weblog_hits_total{{status_class="2xx",method="GET"}}'
        values: '0+600x30'
      - series: 'weblog_hits_total{{status_class="5xx",method="GET"}}'
        values: '0+6x10 60+120x20'
    alert_rule_test:
      - eval_time: 9m
        alertname: WeblogServerErrors
        exp_alerts: []
      - eval_time: 25m
        alertname: WeblogServerErrors
        exp_alerts:
          - exp_labels: {{severity: page}}
            exp_annotations:
              summary: "More than 5% of the hits answered 5xx for 5 minutes"
      - eval_time: 25m
        alertname: WeblogMalformedSurge
        exp_alerts: []
""")
        tested = subprocess.run([promtool, "test", "rules", tests], capture_output=True,
                                text=True, check=False)
        self.assertEqual(tested.returncode, 0, tested.stdout + tested.stderr)
