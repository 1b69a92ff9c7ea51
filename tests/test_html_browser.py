"""The HTML report in a real browser (headless Chromium): the search box filters agendas, and the
page makes no network request.

Needs the Debian package ``chromium`` (``/usr/bin/chromium``); skipped with a message otherwise.
Chromium runs with ``--dump-dom``: the report applies ``#search=...`` from its address on load, so the
dumped DOM shows which agenda sections the search left visible (the others carry ``hidden``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from matchmaker.io.export import export_schedule
from matchmaker.spec.scenario import load_scenario
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "scenarios" / "demo-small.json"


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium); browser checks of report.html skipped"
)


def run_chromium(url: str, profile: Path, netlog: Path | None = None) -> str:
    """Load ``url`` headless, with name resolution disabled, and return the DOM after the scripts ran."""
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--no-first-run", "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing could leave the machine anyway
        f"--user-data-dir={profile}",
    ]
    if netlog is not None:
        args.append(f"--log-net-log={netlog}")
    result = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.agendas: list[dict[str, str | None]] = []
        self.count = ""
        self._in_count = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "section" and "agenda" in (attributes.get("class") or "").split():
            self.agendas.append(attributes)
        self._in_count = attributes.get("id") == "search-count"

    def handle_data(self, data):
        if self._in_count:
            self.count += data
            self._in_count = False


def parse(dom: str) -> _Sections:
    parser = _Sections()
    parser.feed(dom)
    return parser


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    scenario = load_scenario(DEMO)
    day = date(2023, 10, 22)
    meetings = [
        Meeting(buyer="B1", exhibitor="E2", date=day, start="09:30", end="09:50", location="H1-A02"),
        Meeting(buyer="B2", exhibitor="E4", date=day, start="09:55", end="10:15", location="H2-A01"),
        Meeting(buyer="B3", exhibitor="E5", date=day, start="14:00", end="14:20", location="H2-A02"),
    ]
    schedule = Schedule(scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()), meetings=meetings)
    outdir = tmp_path_factory.mktemp("report")
    export_schedule(schedule, scenario, ["html"], outdir)
    return outdir / "report.html"


def visible(dom: str) -> list[str]:
    return [a["data-id"] for a in parse(dom).agendas if "hidden" not in a]


def test_search_from_address_filters_agendas(report, tmp_path):
    everything = run_chromium(report.as_uri(), tmp_path / "p0")
    assert len(visible(everything)) == 10  # 4 buyers + 6 exhibitors, nothing hidden without a search

    dom = run_chromium(report.as_uri() + "#search=" + quote("uralsetka"), tmp_path / "p1")
    assert visible(dom) == ["b1"]
    assert parse(dom).count.strip() == "1 of 10 agendas"

    dom = run_chromium(report.as_uri() + "#search=" + quote("Anping Demo"), tmp_path / "p2")  # every word must match
    assert visible(dom) == ["e1", "e2", "e4", "e5", "e6"]

    dom = run_chromium(report.as_uri() + "#search=E1", tmp_path / "p3")  # an exact id shows just that participant
    assert visible(dom) == ["e1"]

    dom = run_chromium(report.as_uri() + "#search=" + quote("no such company"), tmp_path / "p4")
    assert visible(dom) == []


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (requests from a file:// page), from Chromium's net log."""
    data = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in data["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job or "url" not in params:
            continue
        from_page = "file://" in str(params.get("network_isolation_key", "")) or "site=file://" in str(params.get("site_for_cookies", ""))
        if from_page and not params["url"].startswith(("file:", "data:")):
            urls.append(params["url"])
    return urls


def test_report_makes_no_network_request(report, tmp_path):
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href|action|srcset)\s*=\s*["']?\s*(?:https?:)?//""", text, re.IGNORECASE)
    assert "@import" not in text and "url(" not in text
    assert "default-src 'none'" in text  # the page's CSP forbids loading anything

    # The net log recognises page requests: a probe page with a remote image and a fetch shows up ...
    probe = tmp_path / "probe.html"
    probe.write_text('<img src="http://example.invalid/x.png"><script>fetch("https://example.invalid/y").catch(function(){})</script>', encoding="utf-8")
    run_chromium(probe.as_uri(), tmp_path / "probe-profile", tmp_path / "probe.json")
    probe_requests = _page_requests(tmp_path / "probe.json")
    if not probe_requests:
        pytest.skip("this Chromium's net log format is not understood; static checks passed")
    assert any("example.invalid" in url for url in probe_requests)

    # ... and the report, searched and rendered, asks for nothing.
    run_chromium(report.as_uri() + "#search=B1", tmp_path / "report-profile", tmp_path / "report.json")
    assert _page_requests(tmp_path / "report.json") == []
