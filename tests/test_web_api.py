"""The organizer's desk API (matchmaker serve): real workspace, real worker processes, tiny fairs."""

from __future__ import annotations

import copy
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import openpyxl
import pytest
from web_helpers import ANPING, BASE, DEMO, HOSTILE, IMPORT, ROOT, desk_client

from matchmaker.analysis.checker import check_schedule
from matchmaker.spec.scenario import load_scenario, parse_scenario
from matchmaker.spec.schedule import Schedule


@pytest.fixture
def client(tmp_path):
    with desk_client(tmp_path / "ws", solver_workers=1) as test_client:
        yield test_client


def upload_scenario(client, path_or_bytes, name="scenario.json", url="/api/events"):
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return client.post(url, files={"scenario": (name, data, "application/json")})


def wait_for_job(client, job_id, timeout=45.0, until=("done", "failed", "cancelled", "interrupted")):
    """Poll the job; returns (last job, every progress seen)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["progress"] is not None:
            seen.append(job["progress"])
        if job["status"] in until:
            return job, seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s")


def late_buyers(scenario_json: bytes) -> bytes:
    """The same fair with two late buyers (copies of B1 asking to meet E3 and E4: want, not must)."""
    data = json.loads(scenario_json)
    for number, exhibitor in ((1, "E3"), (2, "E4")):
        buyer = copy.deepcopy(data["buyers"][0])
        buyer.update(id=f"L{number:03d}", name=f"Late Buyer {number}", min_meetings=0)
        data["buyers"].append(buyer)
        data["requests"].append({"buyer": buyer["id"], "exhibitor": exhibitor, "by": "buyer", "level": "want"})
    return json.dumps(data).encode()


def test_organizer_round_trip(client):
    created = upload_scenario(client, DEMO, "demo-small.json")
    assert created.status_code == 201, created.text
    event = created.json()["id"]
    assert created.json()["version"] == 1
    assert client.get("/api/events").json()[0]["id"] == event

    started = client.post(f"/api/events/{event}/solve", json={"time_limit": 2, "seed": 1})
    assert started.status_code == 202, started.text
    job, progress = wait_for_job(client, started.json()["job"])
    assert job["status"] == "done", job
    assert job["kind"] == "solve" and job["progress"]["stage"] == "done"
    assert progress and progress[0]["stage"] in ("starting", "commitments", "start schedule", "flow bound", "cp-sat", "done")
    running = [p for p in progress if p["stage"] != "done"]
    assert all(p["gap_of"] == "schedule" for p in running if p["value"] is not None)
    final = job["progress"]
    assert final["gap_of"] == "schedule" and final["value"] > 0 and final["bound"] >= final["value"]

    first = job["schedule_version"]
    text = client.get(f"/api/events/{event}/schedules/{first}").content
    schedule = Schedule.model_validate_json(text)
    scenario = load_scenario(DEMO)
    assert check_schedule(scenario, schedule).ok
    assert final["value"] == schedule.stats.value

    published = client.post(f"/api/events/{event}/schedules/{first}/publish")
    assert published.status_code == 200 and published.json()["status"] == "published"

    late = late_buyers(DEMO.read_bytes())
    added = upload_scenario(client, late, "demo-late.json", url=f"/api/events/{event}/scenario")
    assert added.status_code == 201, added.text
    assert added.json()["version"] == 2

    replan = client.post(f"/api/events/{event}/solve", json={"time_limit": 2, "policy": "keep"})
    assert replan.status_code == 202, replan.text
    job, _ = wait_for_job(client, replan.json()["job"])
    assert job["status"] == "done", job
    assert job["kind"] == "replan" and job["params"]["previous"] == first
    second = job["schedule_version"]
    summary = client.get(f"/api/events/{event}").json()
    version = {v["version"]: v for v in summary["schedule_versions"]}[second]
    assert version == {**version, "parent": first, "scenario_version": 2, "status": "draft", "has_changes": True}

    changes = client.get(f"/api/events/{event}/schedules/{second}/changes").json()
    assert changes["moved"] == 0 and changes["cancelled"] == 0, changes
    assert changes["kept"] == len(schedule.meetings)
    replanned = Schedule.model_validate_json(client.get(f"/api/events/{event}/schedules/{second}").content)
    assert check_schedule(parse_scenario(json.loads(late)), replanned).ok
    placed = {(m.buyer, m.exhibitor, m.date, m.start) for m in replanned.meetings}
    assert all((m.buyer, m.exhibitor, m.date, m.start) in placed for m in schedule.meetings)
    # the published text never changes
    assert client.get(f"/api/events/{event}/schedules/{first}").content == text

    exports = {fmt: client.get(f"/api/events/{event}/schedules/{second}/export/{fmt}") for fmt in ("ics", "agendas", "xlsx", "csv", "html")}
    assert all(r.status_code == 200 for r in exports.values()), {f: r.text[:200] for f, r in exports.items()}
    names = zipfile.ZipFile(io.BytesIO(exports["ics"].content)).namelist()
    assert "ics/buyer-L001.ics" in names and all(n.startswith("ics/") and n.endswith(".ics") for n in names)
    assert exports["ics"].headers["content-type"] == "application/zip"
    pages = zipfile.ZipFile(io.BytesIO(exports["agendas"].content)).namelist()
    assert "agendas/buyer-L001.html" in pages and all(n.startswith("agendas/") and n.endswith(".html") for n in pages)
    assert exports["xlsx"].content[:2] == b"PK"
    assert exports["csv"].text.splitlines()[0].count(",") >= 3
    assert "<html" in exports["html"].text.lower()
    assert "attachment" in exports["html"].headers["content-disposition"]


def test_spreadsheet_upload(client):
    files = {
        "event": ("event.toml", (IMPORT / "event.toml").read_bytes()),
        "buyers": ("buyers.xlsx", (IMPORT / "buyers.xlsx").read_bytes()),
        "exhibitors": ("exhibitors.xlsx", (IMPORT / "exhibitors.xlsx").read_bytes()),
        "requests": ("requests.csv", (IMPORT / "requests.csv").read_bytes()),
        "blocked": ("blocked.csv", (IMPORT / "blocked.csv").read_bytes()),
    }
    created = client.post("/api/events", files=files)
    assert created.status_code == 201, created.text
    event = client.get(f"/api/events/{created.json()['id']}").json()
    assert "import example" in event["name"]
    assert event["scenario_versions"][0]["source"].startswith("import event.toml, buyers.xlsx")


def test_bad_spreadsheet_cell_stores_nothing(client):
    rows = (IMPORT / "buyers.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    cells = rows[1].split(",")
    cells[header.index("max_meetings")] = "lots"
    rows[1] = ",".join(cells)
    files = {
        "event": ("event.toml", (IMPORT / "event.toml").read_bytes()),
        "buyers": ("my buyers.csv", ("\n".join(rows) + "\n").encode()),
        "exhibitors": ("exhibitors.csv", (IMPORT / "exhibitors.csv").read_bytes()),
    }
    refused = client.post("/api/events", files=files)
    assert refused.status_code == 422, refused.text
    problems = refused.json()["problems"]
    assert any(p.startswith("my buyers.csv:2:max_meetings: ") and "'lots'" in p for p in problems), problems
    assert not any("/tmp" in p or "matchmaker-upload" in p for p in problems), problems
    assert client.get("/api/events").json() == []

    broken = upload_scenario(client, b'{"name": "x", "days": [', "broken.json")
    assert broken.status_code == 422 and broken.json()["problems"][0].startswith("broken.json: line 1 column")
    missing = client.post("/api/events", files={"event": ("event.toml", b"name = 'x'\n")})
    assert missing.status_code == 422 and "missing: buyers, exhibitors" in missing.json()["problems"][0]
    assert client.get("/api/events").json() == []


def _blank_header_with_data(buyers) -> None:
    buyers.cell(row=3, column=buyers.max_column + 1, value="a note")


def _merged_languages(buyers) -> None:
    col = [c.value for c in buyers[1]].index("languages") + 1
    buyers.insert_cols(col + 1)
    buyers.cell(row=3, column=col + 1, value="zh")
    buyers.merge_cells(start_row=1, start_column=col, end_row=1, end_column=col + 1)


def _formula(buyers) -> None:
    buyers.cell(row=4, column=[c.value for c in buyers[1]].index("priority") + 1, value="=2+3")


def _error_value(buyers) -> None:
    buyers.cell(row=3, column=[c.value for c in buyers[1]].index("name") + 1, value="#REF!")


@pytest.mark.parametrize("edit, problem", [
    (_blank_header_with_data, "buyers.xlsx:1:M: column M has data (from row 3) but no name"),
    (_merged_languages, "buyers.xlsx:1:E: column E has data (from row 3) but no name: its name cell is merged with D1"),
    (_formula, "buyers.xlsx:4:priority: formula =2+3 without a saved value"),
    (_error_value, "buyers.xlsx:3:name: the cell holds the error value #REF!, not data"),
], ids=["blank header", "merged header", "formula", "error value"])
def test_uploads_that_used_to_import_wrong_data_are_refused_and_store_nothing(client, edit, problem):
    """The issue's inputs that imported wrong data without a word: 422, one line naming the cell, nothing stored."""
    workbook = openpyxl.load_workbook(IMPORT / "buyers.xlsx")
    edit(workbook.active)
    buyers = io.BytesIO()
    workbook.save(buyers)
    files = {
        "event": ("event.toml", (IMPORT / "event.toml").read_bytes()),
        "buyers": ("buyers.xlsx", buyers.getvalue()),
        "exhibitors": ("exhibitors.xlsx", (IMPORT / "exhibitors.xlsx").read_bytes()),
    }
    refused = client.post("/api/events", files=files)
    assert refused.status_code == 422, refused.text
    problems = refused.json()["problems"]
    assert len(problems) == 1 and problems[0].startswith(problem), problems
    assert client.get("/api/events").json() == []


def test_second_solve_conflicts_queue_and_stop_keeps_a_valid_schedule(client):
    event = upload_scenario(client, ANPING, "anping.json").json()["id"]
    small = upload_scenario(client, DEMO, "demo.json").json()["id"]
    started = time.monotonic()
    job_id = client.post(f"/api/events/{event}/solve", json={"time_limit": 60}).json()["job"]
    second = client.post(f"/api/events/{event}/solve", json={"time_limit": 60})
    assert second.status_code == 409 and second.json()["job"] == job_id
    wait_for_job(client, job_id, until=("running",))

    # --jobs 1: another event's solve waits; stopping a queued job cancels it outright
    queued = client.post(f"/api/events/{small}/solve", json={"time_limit": 1}).json()["job"]
    assert client.get(f"/api/jobs/{queued}").json()["status"] == "queued"
    cancelled = client.delete(f"/api/jobs/{queued}").json()
    assert cancelled["status"] == "cancelled" and cancelled["error"] == "stopped before it started"
    waiting = client.post(f"/api/events/{small}/solve", json={"time_limit": 1}).json()["job"]

    time.sleep(1.5)
    stopping = client.delete(f"/api/jobs/{job_id}")
    assert stopping.status_code == 200 and stopping.json()["progress"]["stage"].endswith("(stopping)")
    job, _ = wait_for_job(client, job_id, timeout=40)
    assert time.monotonic() - started < 40, "stopping did not end the solve early"
    if job["status"] == "done":  # the best valid schedule found so far
        assert job["progress"]["stage"] == "stopped early"
        text = client.get(f"/api/events/{event}/schedules/{job['schedule_version']}").content
        assert check_schedule(load_scenario(ANPING), Schedule.model_validate_json(text)).ok
    else:  # stopped before any schedule existed: said so
        assert job["status"] == "cancelled" and job["error"].startswith("stopped before"), job
    assert wait_for_job(client, waiting)[0]["status"] == "done"  # the queue moved on


def test_killed_worker_fails_the_job(client):
    event = upload_scenario(client, ANPING, "anping.json").json()["id"]
    job_id = client.post(f"/api/events/{event}/solve", json={"time_limit": 60}).json()["job"]
    wait_for_job(client, job_id, until=("running",))
    runner = client.app.state.runner
    deadline = time.monotonic() + 10
    while getattr(getattr(runner._running.get(job_id), "process", None), "pid", None) is None:
        assert time.monotonic() < deadline, "no worker process"
        time.sleep(0.05)
    os.kill(runner._running[job_id].process.pid, signal.SIGKILL)
    job, _ = wait_for_job(client, job_id, timeout=20)
    assert job["status"] == "failed" and "killed by signal 9" in job["error"], job
    assert client.post(f"/api/events/{event}/solve", json={"time_limit": 1}).status_code == 202  # free again


def test_unknown_ids_answer_404(client):
    assert client.get("/api/events/7").status_code == 404
    assert client.post("/api/events/7/solve", json={}).status_code == 404
    assert upload_scenario(client, DEMO, url="/api/events/7/scenario").status_code == 404
    assert client.get("/api/jobs/7").status_code == 404
    assert client.delete("/api/jobs/7").status_code == 404
    event = upload_scenario(client, DEMO).json()["id"]
    for url in ("", "/changes", "/export/csv"):
        assert client.get(f"/api/events/{event}/schedules/3{url}").status_code == 404
    assert client.post(f"/api/events/{event}/schedules/3/publish").status_code == 404
    assert client.post(f"/api/events/{event}/solve", json={"previous": 3}).status_code == 404
    assert client.post(f"/api/events/{event}/solve", json={"time_limit": "soon"}).status_code == 422
    other = json.loads(DEMO.read_text())
    other["name"] = "Another fair"
    refused = upload_scenario(client, json.dumps(other).encode(), url=f"/api/events/{event}/scenario")
    assert refused.status_code == 422 and "not 'Demo" in refused.json()["problems"][0]


def test_other_sites_and_hosts_are_refused(client):
    evil = client.post("/api/events", files={"scenario": ("s.json", DEMO.read_bytes())}, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403
    assert client.get("/api/events", headers={"Origin": "null"}).status_code == 403
    assert client.get("/api/events", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get("/api/events", headers={"Origin": "http://localhost:8001"}).status_code == 403
    assert client.get("/api/events", headers={"Host": "evil.example"}).status_code == 403  # DNS rebinding
    assert client.get("/api/events").json() == []
    assert client.get("/api/events", headers={"Origin": BASE}).status_code == 200
    assert client.get("/api/health", headers={"Sec-Fetch-Site": "same-origin"}).json()["status"] == "ok"


def test_token_required_when_set(tmp_path):
    with desk_client(tmp_path / "ws", base_url="http://desk.example", token="s3cret-token") as c:
        assert c.get("/api/health").status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/health", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert c.get("/", headers={"Cookie": "token=s3cret-token"}).status_code == 200
        assert c.get("/api/docs").status_code == 401
        refused = c.post("/api/events", files={"scenario": ("s.json", DEMO.read_bytes())})
        assert refused.status_code == 401
        assert c.get("/api/events", headers={"Authorization": "Bearer s3cret-token"}).json() == []


def test_upload_size_is_capped(tmp_path):
    with desk_client(tmp_path / "ws", max_upload_bytes=2000) as c:
        assert len(DEMO.read_bytes()) > 2000
        assert upload_scenario(c, DEMO).status_code == 413

        def chunks():  # no Content-Length: counted while it streams
            yield b"--b\r\nContent-Disposition: form-data; name=\"scenario\"; filename=\"s.json\"\r\n\r\n"
            for _ in range(10):
                yield b" " * 500

        streamed = c.post("/api/events", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert streamed.status_code == 413
        assert c.get("/api/events").json() == []


def test_hostile_names_are_escaped_in_the_page(client):
    data = json.loads(DEMO.read_text())
    data["name"] = f"Fair {HOSTILE}"
    data["buyers"][0]["name"] = HOSTILE
    assert upload_scenario(client, json.dumps(data).encode()).status_code == 201
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert HOSTILE not in page.text
    assert page.text.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
    assert "default-src 'none'" in page.headers["content-security-policy"]


# --------------------------------------------------------------------------------------------
# A real server, killed and restarted
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(workspace: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "matchmaker", "serve", "--workspace", str(workspace), "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"serve did not answer: {log.read_text()}")


def test_killed_server_leaves_interrupted_job_and_published_versions_intact(tmp_path):
    workspace, log, port = tmp_path / "ws", tmp_path / "serve.log", _free_port()
    server = _serve(workspace, port, log)
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        event = api.post("/api/events", files={"scenario": ("demo.json", DEMO.read_bytes())}).json()["id"]
        job_id = api.post(f"/api/events/{event}/solve", json={"time_limit": 1}).json()["job"]
        job, _ = wait_for_job(api, job_id)
        assert job["status"] == "done", job
        version = job["schedule_version"]
        assert api.post(f"/api/events/{event}/schedules/{version}/publish").status_code == 200
        published = api.get(f"/api/events/{event}/schedules/{version}").content

        big = api.post("/api/events", files={"scenario": ("anping.json", ANPING.read_bytes())}).json()["id"]
        running = api.post(f"/api/events/{big}/solve", json={"time_limit": 60}).json()["job"]
        wait_for_job(api, running, until=("running",))
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)

    server = _serve(workspace, port, log)
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        job = api.get(f"/api/jobs/{running}").json()
        assert job["status"] == "interrupted" and job["error"], job
        assert api.get(f"/api/events/{event}/schedules/{version}").content == published
        assert api.get(f"/api/events/{event}").json()["latest_published"] == version
        assert "marked 1 job(s) interrupted" in log.read_text()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
