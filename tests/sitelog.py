# -*- test-case-name: tests.test_screens -*-
"""
A few days of a small site's traffic, as nginx logs it in weblog's C{nginx_timed} format.

Two sites (a log file each), visitors from several countries and from private networks,
desktop and mobile browsers and crawlers, each visit a few pages in a row with its
stylesheet and favicon; a daily rhythm; 404s from pages that link to a moved post, a
scanner's probes, server errors on search; response times by the kind of request.  Made
from a seed: the same arguments give the same lines.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

__all__ = ["CRAWLERS", "HUMANS", "site_logs"]

HUMANS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Mobile/15E148 Safari/604.1",
)
"""Desktop browsers (Chrome, Edge, Firefox, Safari), phones and a tablet; the first the most."""
CRAWLERS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2;"
    " +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
)
_COUNTRIES = (
    ("US", ("66.249.66", "17.0.1", "151.101.2"), 8), ("DE", ("85.214.132", "217.160.0"), 5),
    ("FR", ("90.84.12", "82.66.1"), 3), ("GB", ("81.2.69",), 3), ("IN", ("49.36.1",), 2),
    ("BR", ("200.160.2", "177.37.1"), 2), ("JP", ("202.12.27",), 2), ("AU", ("58.7.0",), 1),
    ("NG", ("41.203.64",), 1), ("CA", ("24.48.0",), 1),
)
"""Prefixes of public addresses (the registries give each to that country), and weights."""
_PRIVATE = ("10.0.3", "192.168.1")
_CRAWLER_PREFIXES = ("66.249.66", "40.77.167", "20.171.207", "54.36.148", "5.255.253")
"""Googlebot's, bingbot's, GPTBot's, AhrefsBot's and YandexBot's networks, in order."""
_SITES = {
    "www": ("/", "/about", "/contact", "/projects/weblog", "/projects/", "/feed.xml"),
    "blog": ("/", "/2024/05/twisted-templates", "/2024/04/duckdb-for-logs",
             "/2024/03/nginx-request-time", "/2024/02/a-phone-first-page", "/tags/python",
             "/feed.xml"),
}
_REFERRERS = (
    "https://www.google.com/", "https://duckduckgo.com/", "https://news.ycombinator.com/",
    "https://www.reddit.com/r/Python/comments/1cq2x7z/", "https://t.co/Xb3kPq",
    "https://lobste.rs/s/4kq9hz/", "https://www.bing.com/search?q=twisted+web+templates",
)
_BROKEN = (
    ("/2023/11/twisted-templates-draft", ("https://news.ycombinator.com/item?id=40211",
                                          "https://forum.example.net/t/templating/812")),
    ("/projects/weblog/docs", ("https://github.com/example/awesome-logs",)),
)
"""Moved pages, and the pages that still link to them (broken inbound links)."""
_PROBES = ("/wp-login.php", "/.env", "/xmlrpc.php", "/admin/config.php")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _line(client: str, when: datetime, request: str, status: int, size: int, referrer: str,
          agent: str, seconds: float) -> str:
    """One line of C{nginx_timed}: nginx's C{combined} and C{$request_time}."""
    stamp = f"{when:%d}/{_MONTHS[when.month - 1]}/{when:%Y:%H:%M:%S} +0000"
    return (f'{client} - - [{stamp}] "{request} HTTP/1.1" {status} {size} "{referrer}"'
            f' "{agent}" {seconds:.3f}\n')


class _Site:
    """The lines of the two sites, made visit by visit."""

    def __init__(self, seed: int, end: datetime) -> None:
        self.random = random.Random(seed)
        self.end = end
        self.lines: dict[str, list[tuple[datetime, str]]] = {"www": [], "blog": []}

    def moment(self, days: int) -> datetime:
        """A moment of the last C{days} days, more often by day (UTC) than at night."""
        while True:
            when = self.end - timedelta(seconds=self.random.uniform(0, days * 86400))
            if self.random.random() < (0.9 if 7 <= when.hour < 22 else 0.3):
                return when

    def client(self) -> str:
        """A visitor's address: public, in one of the countries, or now and then private."""
        if self.random.random() < 0.06:
            return f"{self.random.choice(_PRIVATE)}.{self.random.randrange(2, 250)}"
        if self.random.random() < 0.02:
            return f"2a01:4f8:c17:{self.random.randrange(4096):x}::1"
        prefixes = self.random.choices([p for _, p, _ in _COUNTRIES],
                                       [w for _, _, w in _COUNTRIES])[0]
        return f"{self.random.choice(prefixes)}.{self.random.randrange(2, 250)}"

    def hit(self, site: str, client: str, when: datetime, path: str, referrer: str,
            agent: str, status: int = 200) -> None:
        """Log one request, its size and time taken by the kind of resource and status."""
        static = path.startswith("/static/") or path == "/favicon.ico"
        size = (0 if status == 304 else self.random.randrange(900, 40000) if static
                else self.random.randrange(300, 600) if status >= 400
                else self.random.randrange(4000, 90000))
        seconds = (self.random.uniform(0, 0.004) if static
                   else self.random.uniform(0.4, 3.0) if status >= 500
                   else self.random.lognormvariate(-3.2, 0.7) * (6 if "search" in path else 1))
        self.lines[site].append((when, _line(client, when, f"GET {path}", status, size,
                                             referrer, agent, seconds)))

    def visit(self, days: int) -> None:
        """One person's visit: a page from elsewhere, then a few of the site's, a minute apart."""
        site = self.random.choice(("www", "blog", "blog"))
        client, agent = self.client(), self.random.choices(HUMANS, (6, 2, 3, 2, 4, 3, 1))[0]
        when, base = self.moment(days), f"https://{site}.example.org"
        referrer = self.random.choice((*_REFERRERS, "-", "-"))
        pages = self.random.sample(_SITES[site], self.random.randrange(1, 4))
        if self.random.random() < 0.08:
            broken, linking = self.random.choice(_BROKEN)
            self.hit(site, client, when, broken, self.random.choice(linking), agent, 404)
            referrer, when = "-", when + timedelta(seconds=5)
        if self.random.random() < 0.05:
            search = f"/search?q={self.random.choice(('twisted', 'duckdb', 'nginx'))}"
            self.hit(site, client, when, search, base + "/", agent,
                     self.random.choice((200, 200, 502, 500)))
        for path in pages:
            self.hit(site, client, when, path, referrer, agent)
            for asset in ("/static/site.css", "/favicon.ico"):
                self.hit(site, client, when + timedelta(seconds=1), asset, base + path, agent,
                         self.random.choice((200, 304)))
            referrer = base + path
            when += timedelta(seconds=self.random.randrange(20, 240))

    def crawl(self, days: int) -> None:
        """A crawler's request: a page, the feed or robots.txt, no referrer."""
        index = self.random.choices(range(len(CRAWLERS)), (5, 3, 2, 2, 1))[0]
        site = self.random.choice(("www", "blog"))
        path = self.random.choice((*_SITES[site], "/robots.txt", "/sitemap.xml"))
        client = f"{_CRAWLER_PREFIXES[index]}.{self.random.randrange(2, 250)}"
        self.hit(site, client, self.moment(days), path, "-", CRAWLERS[index],
                 404 if path == "/sitemap.xml" and site == "blog" else 200)

    def probe(self, days: int) -> None:
        """A scanner trying the usual paths, with a library's user-agent."""
        client, when = self.client(), self.moment(days)
        for number, path in enumerate(_PROBES):
            self.hit("www", client, when + timedelta(seconds=number), path, "-",
                     "python-requests/2.31.0", 404)


def site_logs(visits: int, end: datetime, days: int = 4, seed: int = 11) -> dict[str, str]:
    """
    The two sites' logs (C{www} and C{blog}), each oldest line first, the newest at C{end}.

    @param visits: how many people's visits (some 7 lines each); a crawler's hit for every
        two, a scanner's probes for every 50.
    """
    site = _Site(seed, end.astimezone(UTC).replace(microsecond=0))
    for _ in range(visits):
        site.visit(days)
    for _ in range(visits // 2):
        site.crawl(days)
    for _ in range(visits // 50):
        site.probe(days)
    site.hit("www", "81.2.69.160", site.end, "/", "https://www.google.com/", HUMANS[0])
    return {name: "".join(line for when, line in sorted(
        (entry for entry in lines if entry[0] <= site.end), key=lambda entry: entry[0]))
        for name, lines in site.lines.items()}
