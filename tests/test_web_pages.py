"""The organizer's desk pages (matchmaker/web/pages.py): every page renders, names are escaped,
forms need their CSRF token, a token server asks for a login, uploads report bad cells inline,
and the schedule page pages and filters a fair of 1,300 meetings."""

from __future__ import annotations

import copy
import html
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from web_helpers import ANPING, DEMO, HOSTILE, IMPORT, ROOT, desk_client

HOSTILE_ATTRIBUTE = '"><img src=x onerror=alert(2)>'
ESCAPED = html.escape(HOSTILE)
PAGE = {"Accept": "text/html"}


@pytest.fixture
def client(tmp_path):
    with desk_client(tmp_path / "ws", solver_workers=1) as test_client:
        yield test_client


def csrf(page: str, action: str) -> str:
    """The CSRF token of the form posting to ``action`` on ``page``."""
    found = re.search(r'action="' + re.escape(action) + r'"[^>]*>\s*<input type="hidden" name="csrf" value="([0-9a-f]{64})"', page)
    assert found, f"no form posting to {action}"
    return found.group(1)


def post_form(client, page_url: str, action: str, data: dict | None = None, files: dict | None = None):
    """Open ``page_url``, then send its form for ``action`` as a browser would (no redirect followed)."""
    token = csrf(client.get(page_url).text, action)
    return client.post(action, data={"csrf": token, **(data or {})}, files=files, follow_redirects=False)


def wait_for_job(client, job_id: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled", "interrupted"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def wait_for_analysis(client, url: str, timeout: float = 90.0) -> str:
    """An analysis page refreshes itself until the answer is there: poll it the same way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get(url)
        assert page.status_code == 200, page.text
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        time.sleep(0.5)
    raise AssertionError(f"{url} still working after {timeout}s")


def job_of(response) -> int:
    return int(parse_qs(urlparse(response.headers["location"]).query)["job"][0])


def assert_escaped(page: str, where: str) -> None:
    assert HOSTILE not in page and "<img src=x" not in page, f"{where}: a name reached the page unescaped"


def hostile_demo() -> dict:
    data = json.loads(DEMO.read_text())
    data["name"] = f"Fair {HOSTILE}"
    data["buyers"][0]["name"] = HOSTILE
    data["buyers"][1]["name"] = HOSTILE_ATTRIBUTE
    data["exhibitors"][0]["name"] = HOSTILE
    data["buyers"][0]["country"] = HOSTILE_ATTRIBUTE
    return data


def with_late_buyer(data: dict) -> dict:
    data = copy.deepcopy(data)
    late = copy.deepcopy(data["buyers"][2])
    late.update(id="L001", name=f"Late {HOSTILE}", min_meetings=0)
    data["buyers"].append(late)
    data["requests"].append({"buyer": "L001", "exhibitor": "E3", "by": "buyer", "level": "want"})
    return data


def add_greedy_schedule(client, event_id: int, scenario_path: Path) -> int:
    """A valid schedule in a fraction of a second (the solver's greedy start), stored as a draft version."""
    from matchmaker.analysis.explain import explain_schedule
    from matchmaker.instance.candidates import build_instance
    from matchmaker.solver.greedy import greedy_schedule
    from matchmaker.solver.solution import build_schedule
    from matchmaker.spec.scenario import load_scenario
    from matchmaker.spec.schedule import ScenarioRef, SolverInfo

    scenario = load_scenario(scenario_path)
    instance = build_instance(scenario)
    schedule = build_schedule(instance, greedy_schedule(instance).placed,
                              SolverInfo(status="FEASIBLE", seconds=0.0, seed=0, workers=1, time_limit=1.0))
    schedule.scenario = ScenarioRef(name=scenario.name, sha256=scenario.fingerprint())
    schedule.explanations = explain_schedule(scenario, schedule)
    return client.app.state.workspace.add_schedule_version(event_id, 1, schedule.to_json())


# --------------------------------------------------------------------------------------------
# The organizer's loop, page by page, with hostile names
# --------------------------------------------------------------------------------------------


def test_every_page_renders_and_escapes_names(client):
    data = hostile_demo()
    created = post_form(client, "/", "/events", files={"scenario": ("demo.json", json.dumps(data).encode(), "application/json")})
    assert created.status_code == 303, created.text
    event_url = created.headers["location"].split("?")[0]
    assert event_url == "/events/1"
    pages: dict[str, str] = {"/": client.get("/").text}
    assert ESCAPED in pages["/"]
    pages["event, created"] = client.get(created.headers["location"]).text
    assert "Event created from demo.json" in pages["event, created"]

    started = post_form(client, event_url, "/events/1/solve", {"time_limit": "2", "seed": "1", "policy": "keep", "previous": ""})
    assert started.status_code == 303, started.text
    job = wait_for_job(client, job_of(started))
    assert job["status"] == "done", job
    pages["event, solved"] = client.get(started.headers["location"]).text
    assert 'data-job="1"' in pages["event, solved"] and "schedule version 1" in pages["event, solved"]

    schedule_url = "/events/1/schedules/1"
    for view in ("grid", "agendas", "explanations"):
        page = client.get(f"{schedule_url}?view={view}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        pages[f"schedule {view}"] = page.text
    assert ESCAPED in pages["schedule grid"] and ESCAPED in pages["schedule agendas"]
    assert "Why is B1 at" in pages["schedule agendas"]
    pages["explain"] = wait_for_analysis(client, f"{schedule_url}/explain?participant=B1")
    assert "Why is B1 at" in pages["explain"] and '<ul class="why">' in pages["explain"]
    pages["bottlenecks"] = wait_for_analysis(client, f"{schedule_url}/bottlenecks")
    assert "Upper bound:" in pages["bottlenecks"] and "Interpreter languages" in pages["bottlenecks"]

    published = post_form(client, schedule_url, f"{schedule_url}/publish", {"back": "schedule"})
    assert published.status_code == 303
    pages["schedule, published"] = client.get(published.headers["location"]).text
    assert "Schedule version 1 is published." in pages["schedule, published"]

    late = json.dumps(with_late_buyer(data)).encode()
    added = post_form(client, event_url, "/events/1/scenario", files={"scenario": ("late.json", late, "application/json")})
    assert added.status_code == 303, added.text
    pages["event, late buyer"] = client.get(added.headers["location"]).text
    assert "Scenario version 2 added (late.json)" in pages["event, late buyer"]
    assert "re-plan against it" in pages["event, late buyer"]

    pages["replan, before"] = client.get("/events/1/replan").text
    assert "New (1)" in pages["replan, before"] and f"Late {ESCAPED}" in pages["replan, before"]
    replanned = post_form(client, "/events/1/replan", "/events/1/replan", {"time_limit": "2", "seed": "0", "policy": "keep"})
    assert replanned.status_code == 303, replanned.text
    job = wait_for_job(client, job_of(replanned))
    assert job["status"] == "done" and job["kind"] == "replan", job
    report = client.get(replanned.headers["location"]).text
    pages["replan, report"] = report
    assert "Who must be told what" in report and f"/api/events/1/schedules/{job['schedule_version']}/export/ics" in report
    assert f"Late {ESCAPED}" in report  # the late buyer is told about its new meeting
    changes_csv = client.get(f"/events/1/schedules/{job['schedule_version']}/changes.csv")
    assert changes_csv.status_code == 200 and changes_csv.text.startswith("participant,role,change")

    for name, page in pages.items():
        assert_escaped(page, name)


def test_hand_edit_and_during_the_fair_forms(client):
    created = post_form(client, "/", "/events", files={"scenario": ("demo.json", json.dumps(hostile_demo()).encode())})
    event = int(created.headers["location"].split("?")[0].rsplit("/", 1)[1])
    started = client.post(f"/api/events/{event}/solve", json={"time_limit": 2})
    assert wait_for_job(client, started.json()["job"])["status"] == "done"
    version = 1
    url = f"/events/{event}/schedules/{version}"
    agendas = client.get(f"{url}?view=agendas&q=B1").text
    rows = re.findall(r'name="quick" value="pin:(\d+)"', agendas)
    assert rows, "no meeting rows with hand-edit buttons"

    pinned = post_form(client, f"{url}?view=agendas&q=B1", f"{url}/edit", {"quick": f"pin:{rows[0]}"})
    assert pinned.status_code == 303, pinned.text
    assert pinned.headers["location"].startswith(f"/events/{event}/schedules/2?notice=")
    edited = client.get(pinned.headers["location"]).text
    assert "Hand edit saved as schedule version 2." in edited
    assert_escaped(edited, "edited schedule")

    refused = post_form(client, url, f"{url}/edit", {"kind": "move", "buyer": "B1", "exhibitor": "E404", "date": "2023-10-22", "start": "09:30"})
    assert refused.status_code == 422 and "Not saved:" in refused.text
    assert_escaped(refused.text, "refused edit")

    schedule = json.loads(client.get(f"/api/events/{event}/schedules/2").content)
    later = next(m for m in schedule["meetings"] if m["start"] >= "14:00")
    fair = post_form(client, f"/events/{event}/schedules/2", f"/events/{event}/schedules/2/during-fair", {
        "now_date": "2023-10-22", "now_time": "12:00", "cancelled_text": f"{later['buyer']}, {later['exhibitor']}",
        "gone_text": "B4", "time_limit": "2", "seed": "0",
    })
    assert fair.status_code == 303, fair.text
    job = wait_for_job(client, job_of(fair))
    assert job["status"] == "done" and job["params"]["freeze_before"] == "2023-10-22 12:00", job
    report = client.get(fair.headers["location"]).text
    assert "Who must be told what" in report and "cancelled" in report
    assert_escaped(report, "during-the-fair change report")

    bad = post_form(client, f"/events/{event}/schedules/2", f"/events/{event}/schedules/2/during-fair",
                    {"now_date": "2023-10-22", "now_time": "12:00", "no_show_text": "just one id", "time_limit": "2"})
    assert bad.status_code == 422 and "write &#39;buyer id, exhibitor id&#39;" in bad.text


# --------------------------------------------------------------------------------------------
# Safety: CSRF, login, escaping of upload problems, no paths
# --------------------------------------------------------------------------------------------


def test_forms_without_their_csrf_token_are_refused(client, tmp_path):
    scenario = {"scenario": ("demo.json", DEMO.read_bytes(), "application/json")}
    assert client.post("/events", files=scenario, follow_redirects=False).status_code == 403
    index = client.get("/").text
    wrong_form = csrf(index, "/events")  # a real token, of another form
    assert client.post("/events/1/scenario", data={"csrf": wrong_form}, files=scenario).status_code in (403,)
    with desk_client(tmp_path / "other", solver_workers=1) as other:
        stale = csrf(other.get("/").text, "/events")  # another server start: another secret
    refused = client.post("/events", data={"csrf": stale}, files=scenario)
    assert refused.status_code == 403 and "reload the page" in refused.text
    assert client.get("/api/events").json() == []

    event = client.post("/api/events", files=scenario).json()["id"]
    version = add_greedy_schedule(client, event, DEMO)
    publish = f"/events/{event}/schedules/{version}/publish"
    assert client.post(publish, data={"csrf": wrong_form}).status_code == 403
    assert client.post(f"/events/{event}/solve", data={"time_limit": "1"}).status_code == 403
    assert client.get(f"/api/events/{event}").json()["schedule_versions"][0]["status"] == "draft"
    assert client.get(f"/api/events/{event}").json()["jobs"] == []
    ok = post_form(client, f"/events/{event}", publish)
    assert ok.status_code == 303
    assert client.get(f"/api/events/{event}").json()["latest_published"] == version


def test_a_token_server_asks_for_a_login(tmp_path):
    token = "s3cret-token_42"
    with desk_client(tmp_path / "ws", base_url="http://desk.example", token=token) as c:
        asked = c.get("/events/1", headers=PAGE, follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"] == "/login?next=%2Fevents%2F1"
        assert c.get("/", headers=PAGE, follow_redirects=False).headers["location"] == "/login"
        assert c.get("/api/events", headers=PAGE).status_code == 401  # the API answers, it does not redirect
        assert c.get("/").status_code == 401  # not a browser page request
        assert c.get("/static/desk.css").status_code == 200  # the login page needs its stylesheet

        login = c.get("/login?next=/events/1")
        assert login.status_code == 200 and 'name="next" value="/events/1"' in login.text
        form = {"csrf": csrf(login.text, "/login"), "next": "/events/1"}
        wrong = c.post("/login", data={**form, "token": "guess"}, follow_redirects=False)
        assert wrong.status_code == 401 and "not this desk" in wrong.text and "set-cookie" not in wrong.headers
        assert c.post("/login", data={"token": token}, follow_redirects=False).status_code == 403  # no csrf

        right = c.post("/login", data={**form, "token": token}, follow_redirects=False)
        assert right.status_code == 303 and right.headers["location"] == "/events/1"
        cookie = right.headers["set-cookie"]
        assert cookie.startswith(f"token={token};") and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        page = c.get("/", headers=PAGE)  # the client keeps the cookie, as a browser does
        assert page.status_code == 200 and "Log out" in page.text
        assert c.get("/api/events").status_code == 200

        elsewhere = c.post("/login", data={**form, "next": "//evil.example/x", "token": token}, follow_redirects=False)
        assert elsewhere.headers["location"] == "/"  # no open redirect
        out = post_form(c, "/", "/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        c.cookies.clear()
        assert c.get("/", headers=PAGE, follow_redirects=False).status_code == 303


def test_bad_uploads_are_reported_inline_and_store_nothing(client):
    rows = (IMPORT / "buyers.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    cells = rows[1].split(",")
    cells[header.index("max_meetings")] = "lots"
    cells[header.index("priority")] = HOSTILE
    rows[1] = ",".join(cells)
    files = {
        "event": ("event.toml", (IMPORT / "event.toml").read_bytes()),
        "buyers": ("buyers.csv", ("\n".join(rows) + "\n").encode()),
        "exhibitors": ("exhibitors.csv", (IMPORT / "exhibitors.csv").read_bytes()),
        "requests": ("", b""),  # a file input left empty is no upload
        "scenario": ("", b""),
    }
    refused = post_form(client, "/", "/events", files=files)
    assert refused.status_code == 422
    lines = [html.unescape(line) for line in re.findall(r"<li><code>(.*?)</code></li>", refused.text)]
    assert any(line.startswith("buyers.csv:2:max_meetings: ") and "'lots'" in line for line in lines), lines
    assert any(line.startswith("buyers.csv:2:priority: ") for line in lines), lines
    assert_escaped(refused.text, "upload problems")
    assert not any("/tmp" in line or "matchmaker-upload" in line for line in lines)
    assert client.get("/api/events").json() == []

    event = client.post("/api/events", files={"scenario": ("demo.json", DEMO.read_bytes())}).json()["id"]
    broken = post_form(client, f"/events/{event}", f"/events/{event}/scenario", files={"scenario": ("v2.json", b'{"name": ')})
    assert broken.status_code == 422 and "<code>v2.json: line 1 column" in broken.text
    other = json.loads(DEMO.read_text())
    other["name"] = "Another fair"
    renamed = post_form(client, f"/events/{event}", f"/events/{event}/scenario", files={"scenario": ("x.json", json.dumps(other).encode())})
    assert renamed.status_code == 422 and "create a new event for another fair" in renamed.text
    assert len(client.get(f"/api/events/{event}").json()["scenario_versions"]) == 1


def test_pages_send_their_security_headers_and_no_path_reaches_the_disk(client):
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    script = client.get("/static/desk.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/desk.js", headers={"If-None-Match": script.headers["etag"]}).status_code == 304
    for path in ("/static/pages.py", "/static/..%2Fpages.py", "/static/%2e%2e/app.py", "/static/templates"):
        assert client.get(path).status_code == 404, path
    assert client.get("/events/9", headers=PAGE).status_code == 404
    assert client.get("/events/9/schedules/1").status_code == 404
    assert client.get("/events/abc").status_code == 422
    event = client.post("/api/events", files={"scenario": ("demo.json", DEMO.read_bytes())}).json()["id"]
    version = add_greedy_schedule(client, event, DEMO)
    unknown = client.get(f"/events/{event}/schedules/{version}/explain", params={"participant": HOSTILE})
    assert unknown.status_code == 404 and ESCAPED in unknown.text  # what a request says is escaped too
    assert_escaped(unknown.text, "404 page")
    search = client.get(f"/events/{event}/schedules/{version}", params={"view": "agendas", "q": HOSTILE_ATTRIBUTE})
    assert search.status_code == 200
    assert_escaped(search.text, "search box")


# --------------------------------------------------------------------------------------------
# The schedule page at the Anping fair: paging and filters
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anping(tmp_path_factory):
    with desk_client(tmp_path_factory.mktemp("anping") / "ws", solver_workers=1) as c:
        event = c.post("/api/events", files={"scenario": ("anping.json", ANPING.read_bytes())}).json()["id"]
        version = add_greedy_schedule(c, event, ANPING)
        yield c, f"/events/{event}/schedules/{version}"


def grid_places(page: str) -> list[str]:
    return re.findall(r'<td class="where"><strong>(.*?)</strong>', page)


def test_grid_pages_and_filters(anping):
    client, url = anping
    first = client.get(url).text
    places = grid_places(first)
    assert len(places) == 40 and "places 1–40 of 421 (page 1 of 11)" in first
    second = grid_places(client.get(f"{url}?page=2").text)
    assert len(second) == 40 and not set(second) & set(places)
    last = client.get(f"{url}?page=999").text  # clamped to the last page
    assert "(page 11 of 11)" in last and len(grid_places(last)) == 421 - 400
    assert 'rel="next"' in first and "page=2" in first

    day2 = client.get(f"{url}?day=2023-10-23").text
    assert "Booths and shared tables × time, 2023-10-23" in day2
    hall = client.get(f"{url}?hall=H2").text
    assert all(">Hall 2</span>" in row for row in re.findall(r'<td class="where">(.*?)</td>', hall, re.DOTALL)), "rows of other halls"
    russian = client.get(f"{url}?language=ru").text
    cells = re.findall(r'<td class="busy">(.*?)</td>', russian, re.DOTALL)
    assert cells and all("interpreter ru" in cell for cell in cells)
    must = client.get(f"{url}?level=must").text
    assert all('level-must">must<' in cell for cell in re.findall(r'<td class="busy">(.*?)</td>', must, re.DOTALL))
    nobody = client.get(f"{url}?q=no-such-company").text
    assert "no places match" in nobody
    junk = client.get(f"{url}?page=abc&level=evil&view=nope&day=1999-01-01&order=x")
    assert junk.status_code == 200 and "page 1 of 11" in junk.text


def test_agendas_and_explanations_page_and_filter(anping):
    client, url = anping
    page = client.get(f"{url}?view=agendas").text
    assert "participants 1–20 of 558 (page 1 of 28)" in page
    assert page.count('<section class="agenda"') == 20
    buyers = client.get(f"{url}?view=agendas&side=buyers&country=Russia").text
    countries = re.findall(r'<p class="muted">([^<·]*?) ·', buyers)
    assert countries and {c.strip() for c in countries} == {"Russia"}
    fewest = client.get(f"{url}?view=agendas&order=fewest&side=buyers").text
    counts = [int(n) for n in re.findall(r'<span class="count">(\d+) meeting', fewest)]
    assert counts == sorted(counts)
    one = client.get(f"{url}?view=agendas&q=B012").text
    assert one.count('<section class="agenda"') == 1 and "Why is B012 at" in one
    explanations = client.get(f"{url}?view=explanations&category=cap_reached").text
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", explanations)
    assert rows and all(category == "cap_reached" for _, _, category in rows)


# --------------------------------------------------------------------------------------------
# Language: English or Chinese pages (the desk's own gettext domain)
# --------------------------------------------------------------------------------------------

DESK_PO = ROOT / "matchmaker" / "io" / "locale" / "zh_Hans" / "LC_MESSAGES" / "desk.po"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)s|%%")
TAG = re.compile(r"</?[a-z]+[^>]*>")


def switch_language(client, code: str, next_path: str):
    return client.get(f"/language/{code}", params={"next": next_path}, follow_redirects=False)


def test_pages_switch_between_english_and_chinese(client, tmp_path):
    scenario = tmp_path / "hostile.json"
    scenario.write_text(json.dumps(hostile_demo()), encoding="utf-8")
    created = post_form(client, "/", "/events", files={"scenario": ("demo.json", scenario.read_bytes(), "application/json")})
    assert created.status_code == 303, created.text
    add_greedy_schedule(client, 1, scenario)

    switched = switch_language(client, "zh", "/events/1")
    assert switched.status_code == 303 and switched.headers["location"] == "/events/1"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith("desk_lang=zh_Hans;") and "Path=/" in cookie and "samesite=strict" in cookie.lower()
    event = client.get("/events/1").text
    assert '<html lang="zh-Hans">' in event and "<h2>日程版本</h2>" in event and "<h2>场景版本</h2>" in event
    assert "Schedule versions" not in event and ">EN</a>" in event and "中文" in event
    schedule = client.get("/events/1/schedules/1?view=agendas").text
    assert '<html lang="zh-Hans">' in schedule and "<h2>参会者日程</h2>" in schedule and "<h2>展会期间</h2>" in schedule
    assert "日程版本 1" in schedule and "场会议" in schedule
    for view in ("grid", "explanations"):
        page = client.get(f"/events/1/schedules/1?view={view}")
        assert page.status_code == 200 and '<html lang="zh-Hans">' in page.text
        assert_escaped(page.text, f"schedule {view}, Chinese")
    assert_escaped(schedule, "schedule agendas, Chinese")
    published = post_form(client, "/events/1/schedules/1", "/events/1/schedules/1/publish", {"back": "schedule"})
    assert "日程版本 1 已发布。" in client.get(published.headers["location"]).text  # a notice, in the reader's language
    missing = client.get("/events/1/schedules/1/explain", params={"participant": "50% <b>"})  # a '%' is no format
    assert missing.status_code == 404 and "50% &lt;b&gt;" in missing.text and "返回活动列表" in missing.text

    back = switch_language(client, "en", "/events/1/schedules/1")
    assert back.status_code == 303 and back.headers["set-cookie"].startswith("desk_lang=en;")
    schedule = client.get("/events/1/schedules/1?view=agendas").text
    assert '<html lang="en">' in schedule and "<h2>Agendas</h2>" in schedule and "参会者日程" not in schedule


def test_the_language_switch_goes_back_only_to_this_desk(client):
    for elsewhere in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""):
        answer = switch_language(client, "zh", elsewhere)
        assert answer.status_code == 303 and answer.headers["location"] == "/", elsewhere
    unknown = client.get("/language/xx", params={"next": "/"}, follow_redirects=False)
    assert unknown.status_code == 404 and "set-cookie" not in unknown.headers
    assert switch_language(client, "ru", "/").status_code == 404  # participants' languages are not the desk's


def test_the_login_page_can_be_switched_before_logging_in(tmp_path):
    with desk_client(tmp_path / "ws", token="s3cret") as c:
        switched = c.get("/language/zh", params={"next": "/login"}, follow_redirects=False)
        assert switched.status_code == 303 and switched.headers["location"] == "/login"
        login = c.get("/login")
        assert '<html lang="zh-Hans">' in login.text and "登录管理台" in login.text


def _desk_msgids_in_use() -> set[str]:
    """Every message the templates and pages.py mark for translation (Babel's extractors, as pybabel would)."""
    from babel.messages.extract import extract_from_file

    web = ROOT / "matchmaker" / "web"
    options = {"trimmed": "true", "trim_blocks": "true", "lstrip_blocks": "true", "extensions": "jinja2.ext.i18n"}
    found = set()
    for template in sorted((web / "templates").glob("*.html")):
        found |= {message for _, message, _, _ in extract_from_file("jinja2", template, options=options)}
    found |= {message for _, message, _, _ in extract_from_file("python", web / "pages.py", keywords={"desk_message": None})}
    return {m[0] if isinstance(m, tuple) else m for m in found}


def test_the_desk_catalog_is_complete_and_has_nothing_unused():
    from babel.messages.pofile import read_po

    with DESK_PO.open("rb") as source:
        catalog = read_po(source, locale="zh_Hans", domain="desk")
    in_catalog = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}
    used = _desk_msgids_in_use()
    assert len(used) > 200
    assert sorted(used - set(in_catalog)) == [], "marked for translation, missing from desk.po"
    assert sorted(set(in_catalog) - used) == [], "in desk.po, used by no template nor pages.py"
    for msgid, message in in_catalog.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, f"no Chinese for {msgid!r}"
        for text in strings:  # the same values and markup, so that rendering cannot fail or lose a link
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(msgid)), msgid
            assert sorted(TAG.findall(text)) == sorted(TAG.findall(msgid)), msgid
