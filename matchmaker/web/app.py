"""The organizer's desk over HTTP: a JSON API (OpenAPI at /api/docs) and the pages (``pages.py``).

``create_app(workspace_dir)`` opens the workspace (taking its runner lock and
marking jobs a previous server left running as interrupted), starts the job
runner and returns the FastAPI app; ``matchmaker serve`` runs it with uvicorn.

Safety, for a server on an organizer's laptop:

- it binds 127.0.0.1 by default (the CLI); without a token, requests must name
  a loopback host (``Host: localhost``/``127.0.0.1``/``[::1]``), which stops DNS
  rebinding;
- with a token, every request carries ``Authorization: Bearer <token>`` or a
  ``token`` cookie (for pages, set by the ``/login`` form); else 401, or for a
  browser asking for a page, a redirect to ``/login``;
- a request whose ``Origin`` names another site, or that a browser marks
  ``Sec-Fetch-Site: cross-site``/``same-site``, is refused (403): another web
  page cannot drive the desk from the organizer's browser;
- request bodies are capped (``max_upload_bytes``; 413);
- nothing a request says becomes a path: uploads go to the importer through a
  private temporary folder under fixed names, exports are built in one and sent
  as bytes, ids are integers.

Errors: a bad upload 422 ``{"problems": ["file:row:column: problem", ...]}``
(nothing is stored); an unknown id 404; a clash with the workspace's state
(a second solve of an event, publishing an older draft) 409; a busy workspace 503.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers

from ..errors import InputError, MatchmakerError
from .edits import HandEdit
from .jobs import JobRunner
from .pages import login_redirect, open_without_token, page_router
from .service import Service, Upload, job_summary, schedule_summary
from .workspace import Conflict, JobConflict, NotFound, Workspace, WorkspaceBusy

DEFAULT_MAX_UPLOAD_BYTES = 50 * 2**20
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def generate_token() -> str:
    return secrets.token_urlsafe(24)


class SolveRequest(BaseModel):
    """A solve of the event's latest scenario version."""

    model_config = ConfigDict(extra="forbid")

    time_limit: float = Field(30.0, ge=1, le=24 * 3600, description="Seconds for the whole solve.")
    seed: int = Field(0, description="Random seed of the solver.")
    policy: Literal["keep", "minimal", "full"] = Field(
        "keep", description="Re-plans: keep published meetings, move few of them, or re-optimize freely."
    )
    previous: int | None = Field(
        None, ge=1,
        description="Schedule version to re-plan against; null: the latest published version, or a fresh solve if none is published.",
    )
    max_changes_per_participant: int | None = Field(None, ge=0, description="Re-plans with policy minimal: hard cap per participant.")
    freeze_before: str | None = Field(None, description="Re-plans: 'YYYY-MM-DD HH:MM'; nothing before it changes or is added.")


class EditRequest(BaseModel):
    """A hand edit of one meeting (see ``POST /api/events/{id}/schedules/{v}/edit``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["pin", "unpin", "block", "move"] = Field(description="What to do with the pair's meeting.")
    buyer: str = Field(min_length=1, max_length=100)
    exhibitor: str = Field(min_length=1, max_length=100)
    date: str | None = Field(None, description="move only: the new day, 'YYYY-MM-DD'.", examples=["2023-10-22"])
    start: str | None = Field(None, description="move only: the new start, 'HH:MM' (a slot start).", examples=["15:15"])
    meeting_at: str | None = Field(
        None, description="pin or move of a pair that meets several times (a repeat request): which meeting, "
        "'YYYY-MM-DD HH:MM'.", examples=["2023-10-22 09:00"],
    )


class MeetingPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    buyer: str = Field(min_length=1, max_length=100)
    exhibitor: str = Field(min_length=1, max_length=100)


class GoneParticipant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    participant: str = Field(min_length=1, max_length=100, description="A buyer's or exhibitor's id.")
    date: str = Field(description="'YYYY-MM-DD': gone for the rest of that day.", examples=["2023-10-22"])


class DuringFairRequest(BaseModel):
    """What happened during the fair, for a re-plan that freezes everything before ``now``."""

    model_config = ConfigDict(extra="forbid")

    now: str = Field(description="'YYYY-MM-DD HH:MM', local time of the fair.", examples=["2023-10-22 12:00"])
    cancelled: list[MeetingPair] = Field(default_factory=list, description="Meetings called off that start at or after now.")
    no_shows: list[MeetingPair] = Field(default_factory=list, description="Meetings that started before now without one side.")
    gone: list[GoneParticipant] = Field(default_factory=list, description="Participants gone for the rest of a day.")
    time_limit: float = Field(30.0, ge=1, le=24 * 3600, description="Seconds for the re-plan.")
    seed: int = Field(0, description="Random seed of the solver.")


# --------------------------------------------------------------------------------------------
# The guard: host, origin, token, size
# --------------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


def _hostname(netloc: str) -> str:
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def _normal_netloc(netloc: str, scheme: str) -> str:
    netloc = netloc.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return netloc


def _same_origin(origin: str, host: str, scheme: str) -> bool:
    if "://" not in origin:
        return False  # "null" (a sandboxed page, a file:) or garbage
    origin_scheme, _, rest = origin.partition("://")
    origin_netloc = rest.split("/", 1)[0]
    return _normal_netloc(origin_netloc, origin_scheme.lower()) == _normal_netloc(host, scheme)


class Guard:
    """Pure ASGI middleware: every HTTP request passes the host, origin, token and size checks."""

    def __init__(self, app, token: str | None, max_upload_bytes: int, allowed_hosts: Iterable[str] | None):
        self.app = app
        self.token = token
        self.max_upload_bytes = max_upload_bytes
        self.allowed_hosts = None if allowed_hosts is None else {h.lower().strip("[]") for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        received = 0
        started = exceeded = False

        async def counted_receive():
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_upload_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message):
            nonlocal started
            if exceeded:  # the body parser turned _TooLarge into its own error: answer 413 instead
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._too_large()(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not started:
                started = True
                await self._too_large()(scope, receive, send)

    def _too_large(self) -> Response:
        return JSONResponse({"detail": f"the request is larger than {self.max_upload_bytes:,} bytes"}, status_code=413)

    def _refusal(self, scope, headers: Headers) -> Response | None:
        host = headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            return JSONResponse(
                {"detail": f"unknown host {host!r}: this server answers on {', '.join(sorted(self.allowed_hosts))}"
                           " (start it with --host and --token to serve other names)"},
                status_code=403,
            )
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, host, scope.get("scheme", "http")):
            return JSONResponse({"detail": f"requests from another site ({origin}) are refused"}, status_code=403)
        if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
            return JSONResponse({"detail": "requests from another site are refused"}, status_code=403)
        if self.token is not None and not self._authorized(headers) and not open_without_token(scope.get("path", "")):
            redirect = login_redirect(scope, headers)
            if redirect is not None:
                return redirect
            return JSONResponse(
                {"detail": "a token is required: send 'Authorization: Bearer <token>'"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        length = headers.get("content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_upload_bytes
            except ValueError:
                return JSONResponse({"detail": "bad Content-Length"}, status_code=400)
            if too_large:
                return self._too_large()
        return None

    def _authorized(self, headers: Headers) -> bool:
        assert self.token is not None
        expected = self.token.encode("utf-8")
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode("utf-8"), expected):
            return True
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "token" and hmac.compare_digest(value.strip().encode("utf-8"), expected):
                return True
        return False


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------


def create_app(
    workspace_dir: str | Path | None = None,
    jobs: int = 1,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    allowed_hosts: Iterable[str] | None = LOOPBACK_HOSTS,
    solver_workers: int | None = None,
    cluster: str | None = None,
) -> FastAPI:
    """The desk's app over the workspace in ``workspace_dir``, running at most ``jobs`` solves at once.

    ``allowed_hosts``: the Host names answered when there is no token (None: any;
    with a token, any host is answered). ``solver_workers``: CP-SAT threads per
    job (default: the cores divided by ``jobs``). ``cluster``: a Dask scheduler's address; each
    job then runs on its workers (docs/cluster.md).
    """
    workspace = Workspace.open(workspace_dir)
    try:
        runner = JobRunner(workspace, max_parallel=jobs, solver_workers=solver_workers, cluster=cluster)
    except BaseException:
        workspace.close()
        raise
    service = Service(workspace, runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            await run_in_threadpool(runner.shutdown)
            workspace.close()

    app = FastAPI(
        title="matchmaker: the organizer's desk",
        summary="Events, scenario versions, solves, schedule versions and exports of a matchmaker workspace.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.workspace = workspace
    app.state.runner = runner
    app.add_middleware(
        Guard, token=token, max_upload_bytes=max_upload_bytes, allowed_hosts=None if token is not None else allowed_hosts
    )

    # --- errors ---

    @app.exception_handler(InputError)
    async def input_error(request: Request, error: InputError):
        return JSONResponse({"detail": "the upload or request is unusable", "problems": error.lines()}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        problems = [
            f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in error.errors()
        ]
        return JSONResponse({"detail": "the request is unusable", "problems": problems}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound):
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict):
        body = {"detail": str(error)}
        if isinstance(error, JobConflict):
            body["job"] = error.job_id
        return JSONResponse(body, status_code=409)

    @app.exception_handler(WorkspaceBusy)
    async def busy(request: Request, error: WorkspaceBusy):
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(MatchmakerError)
    async def other_error(request: Request, error: MatchmakerError):
        return JSONResponse({"detail": str(error)}, status_code=400)

    # --- routes ---

    app.include_router(page_router(token))  # the pages: /, /events/..., /login, /static/...

    @app.get("/api/health", tags=["desk"])
    def health() -> dict:
        return {"status": "ok", "jobs": {"limit": runner.max_parallel, "active": len(runner.active())}}

    @app.get("/api/events", tags=["events"])
    def list_events() -> list[dict]:
        return [{"id": e.id, "name": e.name, "created_at": e.created_at.isoformat()} for e in service.events()]

    @app.post("/api/events", status_code=201, tags=["events"])
    async def create_event(
        scenario: Annotated[UploadFile | None, File(description="A scenario JSON file, or else:")] = None,
        event: Annotated[UploadFile | None, File(description="The fair: event.toml")] = None,
        buyers: Annotated[UploadFile | None, File(description="Buyers spreadsheet (.xlsx or .csv)")] = None,
        exhibitors: Annotated[UploadFile | None, File(description="Exhibitors spreadsheet (.xlsx or .csv)")] = None,
        requests: Annotated[UploadFile | None, File(description="Requests spreadsheet (optional)")] = None,
        blocked: Annotated[UploadFile | None, File(description="Blocked pairs spreadsheet (optional)")] = None,
    ) -> JSONResponse:
        """Create an event from a scenario JSON file, or from event.toml + buyers + exhibitors [+ requests, blocked]."""
        uploads = await _uploads(scenario=scenario, event=event, buyers=buyers, exhibitors=exhibitors, requests=requests, blocked=blocked)
        event_id, version, warnings = await run_in_threadpool(service.create_event, uploads)
        return JSONResponse(
            {"id": event_id, "version": version, "warnings": warnings}, status_code=201, headers={"Location": f"/api/events/{event_id}"}
        )

    @app.get("/api/events/{event_id}", tags=["events"])
    def get_event(event_id: int) -> dict:
        return service.event_summary(event_id)

    @app.post("/api/events/{event_id}/scenario", status_code=201, tags=["events"])
    async def add_scenario(
        event_id: int,
        scenario: Annotated[UploadFile | None, File(description="A scenario JSON file, or else:")] = None,
        event: Annotated[UploadFile | None, File(description="The fair: event.toml")] = None,
        buyers: Annotated[UploadFile | None, File()] = None,
        exhibitors: Annotated[UploadFile | None, File()] = None,
        requests: Annotated[UploadFile | None, File()] = None,
        blocked: Annotated[UploadFile | None, File()] = None,
    ) -> dict:
        """Add a scenario version (late changes) to an event: the same two kinds of upload."""
        uploads = await _uploads(scenario=scenario, event=event, buyers=buyers, exhibitors=exhibitors, requests=requests, blocked=blocked)
        version, warnings = await run_in_threadpool(service.add_scenario_version, event_id, uploads)
        return {"version": version, "warnings": warnings}

    @app.post("/api/events/{event_id}/solve", status_code=202, tags=["jobs"])
    def solve(event_id: int, body: SolveRequest | None = None) -> dict:
        """Queue a solve (or a re-plan against ``previous``) of the event's latest scenario version."""
        body = body or SolveRequest()
        job_id = service.start_solve(
            event_id, body.time_limit, body.seed, body.policy, body.previous, body.max_changes_per_participant, body.freeze_before
        )
        return {"job": job_id}

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: int) -> dict:
        """A job's status and progress (``progress.gap_of``: ``solver`` while running, ``schedule`` once done)."""
        return job_summary(service.job(job_id))

    @app.delete("/api/jobs/{job_id}", tags=["jobs"])
    def stop_job(job_id: int) -> dict:
        """Stop a job: a queued one is cancelled, a running one ends early and keeps its best valid schedule."""
        return job_summary(service.stop_job(job_id))

    @app.get("/api/events/{event_id}/schedules/{version}", tags=["schedules"])
    def get_schedule(event_id: int, version: int) -> Response:
        """The schedule.json of a version, byte for byte as stored (the CLI's format)."""
        return Response(service.schedule_json(event_id, version), media_type="application/json")

    @app.post("/api/events/{event_id}/schedules/{version}/publish", tags=["schedules"])
    def publish(event_id: int, version: int) -> dict:
        return schedule_summary(service.publish(event_id, version))

    @app.get("/api/events/{event_id}/schedules/{version}/changes", tags=["schedules"])
    def get_changes(event_id: int, version: int) -> Response:
        """The change report of a re-planned version (who must be told what)."""
        return Response(service.changes_json(event_id, version), media_type="application/json")

    @app.get("/api/events/{event_id}/schedules/{version}/export/{fmt}", tags=["schedules"])
    def export(event_id: int, version: int, fmt: str) -> Response:
        """Calendars (ics, one zip), the workbook (xlsx), the meetings CSV or the HTML report."""
        exported = service.export(event_id, version, fmt)
        return Response(
            exported.data,
            media_type=exported.media_type,
            headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
        )

    @app.get("/api/events/{event_id}/scenarios/{version}/compare", tags=["events"])
    def compare_scenarios(event_id: int, version: int, against: int | None = None) -> dict:
        """Scenario ``version`` against scenario version ``against``: buyers and exhibitors added,
        removed and changed (per participant, short phrases: availability, interests, caps,
        languages, requests, blocked pairs, pins ...) and event-wide changes (``event``).

        Without ``against``: the scenario version of the latest published schedule (what
        participants were told), else the version before ``version``.
        """
        if against is None:
            against = service.default_comparison_base(event_id, version)
        return service.compare_scenarios(event_id, against, version).to_json_data()

    @app.post("/api/events/{event_id}/schedules/{version}/edit", status_code=201, tags=["schedules"])
    def edit_schedule(event_id: int, version: int, body: EditRequest) -> JSONResponse:
        """A hand edit of schedule ``version``, stored as a new draft whose parent is ``version``.

        - ``pin``: fix the pair's meeting where it is (adds a pin: new scenario version);
        - ``unpin``: remove the pair's pin (new scenario version);
        - ``block``: the pair must never meet (adds a blocked pair: new scenario version) and
          their meeting is dropped; a must request of the pair is refused;
        - ``move``: the meeting moves to ``date`` ``start`` at the same place (a pinned
          meeting's pin moves with it: new scenario version).

        The edited schedule is checked against the (new) scenario before anything is
        stored: a broken rule answers 422 with one ``rule: message`` line per violation
        in ``problems``, and nothing is stored. 201: ``{version, scenario_version}``, the
        new draft and the scenario version it belongs to; its change report is at
        ``.../schedules/{version}/changes``.
        """
        edit = HandEdit(body.kind, body.buyer, body.exhibitor, body.date, body.start, body.meeting_at)
        new = service.edit_schedule(event_id, version, edit)
        return JSONResponse(
            {"version": new.version, "scenario_version": new.scenario_version},
            status_code=201,
            headers={"Location": f"/api/events/{event_id}/schedules/{new.version}"},
        )

    @app.post("/api/events/{event_id}/schedules/{version}/during-fair", status_code=202, tags=["jobs"])
    def during_fair(event_id: int, version: int, body: DuringFairRequest) -> dict:
        """Re-plan schedule ``version`` after what happened during the fair; answers 202 ``{job}``.

        - ``cancelled`` meetings (starting at or after ``now``) are never placed again:
          the pair becomes a blocked pair and its requests and pins are removed;
        - ``no_shows`` (meetings that started before ``now``) stay in the schedule as the
          past they are, so the pair is not placed again;
        - ``gone`` participants are unavailable for the rest of that day (from ``now``, or
          from the end of the slot running then); their must requests whose meeting is
          lost become wants.

        The changed scenario is stored as a new scenario version, then a re-plan job
        starts with ``previous = version``, policy ``keep`` and ``freeze_before = now``:
        nothing before ``now`` changes and nothing new goes before it. Bad entries
        answer 422 with one line each in ``problems`` (nothing stored); an unfinished
        job of the event answers 409.
        """
        job = service.start_during_fair(
            event_id,
            version,
            body.now,
            [(m.buyer, m.exhibitor) for m in body.cancelled],
            [(m.buyer, m.exhibitor) for m in body.no_shows],
            [(g.participant, g.date) for g in body.gone],
            body.time_limit,
            body.seed,
        )
        return {"job": job.id}

    return app


async def _uploads(**files: UploadFile | None) -> dict[str, Upload | None]:
    uploads: dict[str, Upload | None] = {}
    for name, file in files.items():
        uploads[name] = None if file is None else Upload(file.filename, await file.read())
    return uploads
