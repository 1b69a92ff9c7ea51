"""The organizer's desk in a real browser (Playwright, headless Debian Chromium), against a real server.

One walk through the organizer's loop: a spreadsheet upload with a bad cell (the problem shows
inline), the fixed upload, a solve (its progress shows), the day grid and an agenda, publishing,
late buyers, a re-plan with policy keep, the change report and the calendars. The browser may
reach nothing but the desk: a request anywhere else fails the test, and so does any error the
page logs (a Content-Security-Policy violation among them).

Needs the ``playwright`` package (the ``test`` extra) and Debian's ``chromium`` (``.ci/run`` installs
it; ``playwright install`` cannot download browsers here); skipped with a message otherwise. Each
page is saved as a screenshot under the test's tmp_path, and also into ``$MATCHMAKER_SCREENSHOTS``
when that is set (``docs/images/dashboard-*.png`` are made so).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IMPORT = ROOT / "scenarios" / "import-example"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
LATE_BUYER = ("B901", "Late Wire Traders GmbH")

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install -e '.[test]'); the desk's browser walk is skipped"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); the desk's browser walk is skipped"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def desk(tmp_path):
    """A real uvicorn server over a fresh workspace, in a thread of this process."""
    import uvicorn

    from matchmaker.web.app import create_app

    app = create_app(tmp_path / "ws", solver_workers=1)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="desk", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the desk did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def broken_buyers(folder: Path) -> Path:
    """buyers.xlsx with one bad cell: B001's max_meetings says 'lots'."""
    from openpyxl import load_workbook

    book = load_workbook(IMPORT / "buyers.xlsx")
    sheet = book.active
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=2, column=header.index("max_meetings") + 1, value="lots")
    path = folder / "buyers.xlsx"
    book.save(path)
    return path


def late_buyers(folder: Path) -> tuple[Path, Path]:
    """buyers.csv and requests.csv of the import example with one late buyer who asks to meet E002."""
    rows = list(csv.reader(io.StringIO((IMPORT / "buyers.csv").read_text(encoding="utf-8"))))
    late = list(rows[1])
    late[0], late[1] = LATE_BUYER
    late[rows[0].index("min_meetings")] = "0"
    buyers = folder / "buyers.csv"
    with buyers.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows([*rows, late])
    requests = folder / "requests.csv"
    requests.write_text((IMPORT / "requests.csv").read_text(encoding="utf-8").rstrip("\n") + f"\n{LATE_BUYER[0]},E002,buyer,want\n",
                        encoding="utf-8")
    return buyers, requests


def test_organizer_loop_in_a_browser(desk, tmp_path):
    started = time.monotonic()
    shots = [tmp_path / "screenshots"] + ([Path(os.environ["MATCHMAKER_SCREENSHOTS"])] if os.environ.get("MATCHMAKER_SCREENSHOTS") else [])
    for folder in shots:
        folder.mkdir(parents=True, exist_ok=True)
    upload_dir = tmp_path / "upload"
    upload_dir.mkdir()
    stray: list[str] = []
    errors: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
        # Offline at a fair venue: nothing but the desk may be asked for anything.
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(desk) else (stray.append(route.request.url), route.abort()))
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        def shot(name: str) -> None:
            for folder in shots:
                page.screenshot(path=str(folder / f"dashboard-{name}.png"), full_page=False)

        # 1. the spreadsheets with one bad cell: the problem is listed on the page, nothing is stored
        page.goto(desk + "/")
        upload = page.locator("form.upload")
        upload.locator("input[name=event]").set_input_files(IMPORT / "event.toml")
        upload.locator("input[name=buyers]").set_input_files(broken_buyers(upload_dir))
        upload.locator("input[name=exhibitors]").set_input_files(IMPORT / "exhibitors.xlsx")
        upload.locator("input[name=requests]").set_input_files(IMPORT / "requests.csv")
        upload.locator("input[name=blocked]").set_input_files(IMPORT / "blocked.csv")
        upload.locator("button[type=submit]").click()
        problem = page.locator(".problems li code").filter(has_text="buyers.xlsx:2:")
        expect(problem.first).to_contain_text("lots")
        expect(page.locator("table.list")).to_have_count(0)  # still no event
        problem.first.scroll_into_view_if_needed()
        shot("upload-error")

        # 2. fixed: the event is created
        upload = page.locator("form.upload")
        upload.locator("input[name=event]").set_input_files(IMPORT / "event.toml")
        upload.locator("input[name=buyers]").set_input_files(IMPORT / "buyers.xlsx")
        upload.locator("input[name=exhibitors]").set_input_files(IMPORT / "exhibitors.xlsx")
        upload.locator("input[name=requests]").set_input_files(IMPORT / "requests.csv")
        upload.locator("input[name=blocked]").set_input_files(IMPORT / "blocked.csv")
        upload.locator("button[type=submit]").click()
        expect(page.locator(".notice")).to_contain_text("Event created from event.toml, buyers.xlsx")
        assert page.url.startswith(desk + "/events/1")

        # 3. solve: the job's figures and chart move, then the page shows the new version
        page.fill("form.solve input[name=time_limit]", "3")
        page.locator("form.solve button[type=submit]").click()
        job = page.locator("section.job")
        expect(job).to_be_visible()
        expect(job.locator(".job-status")).to_have_text("running", timeout=15_000)
        first_seconds = job.locator(".job-seconds").inner_text()
        page.wait_for_function(
            "s => { const t = document.querySelector('section.job .job-seconds').textContent; return t !== s && t !== '\u2013'; }",
            arg=first_seconds, timeout=10_000,
        )
        assert int(job.get_attribute("data-updates")) >= 1
        page.wait_for_function(  # past the worker's start: the solver's own readings (or already done)
            "() => !['starting', '\u2013'].includes(document.querySelector('section.job .job-stage').textContent)", timeout=20_000,
        )
        page.wait_for_timeout(600)
        shot("solving")
        expect(job).to_have_attribute("data-status", "done", timeout=30_000)
        expect(page.locator("#schedules a", has_text="schedule version 1")).to_be_visible(timeout=10_000)  # reloaded by itself
        expect(page.locator("section.job .job-value")).not_to_have_text("\u2013")
        assert page.locator("section.job svg.chart circle, section.job svg.chart polyline").count() >= 1
        shot("event")

        # 4. the day grid, then one buyer's agenda
        page.locator("#schedules a", has_text="schedule version 1").click()
        expect(page.locator("table.grid")).to_be_visible()
        assert page.locator("table.grid td.busy").count() >= 1
        shot("grid")
        page.locator("nav.tabs a", has_text="Agendas").click()
        page.fill("form.filters input[name=q]", "B001")
        page.locator("form.filters button[type=submit]").click()
        agenda = page.locator("section.agenda")
        expect(agenda).to_have_count(1)
        expect(agenda.locator("h3")).to_contain_text("Uralsetka LLC")
        expect(agenda.locator("a", has_text="Why is B001 at")).to_be_visible()
        shot("agenda")

        # 5. publish
        page.locator("button", has_text="Publish version 1").click()
        expect(page.locator(".notice")).to_contain_text("Schedule version 1 is published.")

        # 6. late buyers: a new scenario version (the same spreadsheets, one buyer more)
        page.locator("nav.crumbs a", has_text="event 1").click()
        buyers, requests = late_buyers(upload_dir)
        upload = page.locator("form.upload")
        upload.locator("input[name=event]").set_input_files(IMPORT / "event.toml")
        upload.locator("input[name=buyers]").set_input_files(buyers)
        upload.locator("input[name=exhibitors]").set_input_files(IMPORT / "exhibitors.csv")
        upload.locator("input[name=requests]").set_input_files(requests)
        upload.locator("input[name=blocked]").set_input_files(IMPORT / "blocked.csv")
        upload.locator("button[type=submit]").click()
        expect(page.locator(".notice")).to_contain_text("Scenario version 2 added")

        # 7. re-plan with policy keep
        page.locator(".callout a", has_text="re-plan against it").click()
        expect(page.locator("#compare")).to_contain_text(LATE_BUYER[1])
        shot("replan")
        page.fill("#start input[name=time_limit]", "3")
        page.select_option("#start select[name=policy]", "keep")
        page.locator("#start button[type=submit]").click()

        # 8. the change report: who must be told what (the page shows it once the job is done)
        report = page.locator("#changes")
        expect(report).to_be_visible(timeout=40_000)
        expect(report).to_contain_text("Who must be told what")
        expect(report.locator("table.changes")).to_contain_text(LATE_BUYER[1])
        expect(report.locator("dl.figures")).to_contain_text("cancelled")
        report.scroll_into_view_if_needed()
        shot("changes")

        # 9. the calendars, as one zip
        with page.expect_download() as caught:
            report.locator("a", has_text="Calendars (.ics").click()
        calendars = tmp_path / "calendars.zip"
        caught.value.save_as(calendars)
        names = zipfile.ZipFile(calendars).namelist()
        assert f"ics/buyer-{LATE_BUYER[0]}.ics" in names and all(n.endswith(".ics") for n in names)

        browser.close()

    assert stray == [], f"the pages asked for something outside the desk: {stray}"
    # the refused upload of step 1 is answered 422 on purpose, which Chromium logs as a failed load
    errors = [e for e in errors if "status of 422" not in e]
    assert errors == [], f"the pages logged errors: {errors}"
    assert time.monotonic() - started < 120
