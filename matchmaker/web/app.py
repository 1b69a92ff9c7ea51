"""The organizer's desk over HTTP: a JSON API (OpenAPI at /api/docs) and, for now, one page.

``create_app(workspace_dir)`` opens the workspace (taking its runner lock and
marking jobs a previous server left running as interrupted), starts the job
runner and returns the FastAPI app; ``matchmaker serve`` runs it with uvicorn.

Safety, for a server on an organizer's laptop:

- it binds 127.0.0.1 by default (the CLI); without a token, requests must name
  a loopback host (``Host: localhost``/``127.0.0.1``/``[::1]``), which stops DNS
  rebinding;
- with a token, every request carries ``Authorization: Bearer <token>`` or a
  ``token`` cookie (for pages); else 401;
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
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers

from ..errors import InputError, MatchmakerError
from .jobs import JobRunner
from .service import Service, Upload, job_summary, schedule_summary
from .workspace import Conflict, JobConflict, NotFound, Workspace, WorkspaceBusy

DEFAULT_MAX_UPLOAD_BYTES = 50 * 2**20
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
PAGE_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
PAGE_PARTICIPANTS_SHOWN = 10


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
        if self.token is not None and not self._authorized(headers):
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
# The page (a placeholder until the pages step)
# --------------------------------------------------------------------------------------------

_PAGES = Environment(autoescape=True)
_INDEX = _PAGES.from_string(
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>matchmaker: the organizer's desk</title></head>
<body>
<h1>The organizer's desk</h1>
{% if events %}
<ul>
{% for event in events %}
<li><strong>{{ event.name }}</strong> (event {{ event.id }}): {{ event.buyers|length }} buyers, {{ event.exhibitors|length }} exhibitors;
 scenario version {{ event.scenario_version }}; {{ event.schedules }} schedule version(s){% if event.published %}, version {{ event.published }} published{% endif %}
<br><small>buyers: {{ event.buyers[:shown]|join(", ") }}{% if event.buyers|length > shown %} and {{ event.buyers|length - shown }} more{% endif %};
 exhibitors: {{ event.exhibitors[:shown]|join(", ") }}{% if event.exhibitors|length > shown %} and {{ event.exhibitors|length - shown }} more{% endif %}</small></li>
{% endfor %}
</ul>
{% else %}
<p>No events yet. Upload a scenario (or event.toml and spreadsheets) with <code>POST /api/events</code>.</p>
{% endif %}
<p>The API and its documentation: <a href="/api/docs">/api/docs</a>.</p>
</body>
</html>
"""
)


def _index_page(service: Service) -> str:
    ws = service.workspace
    events = []
    for event in service.events():
        scenario = service.current_scenario(event.id)
        published = ws.latest_published(event.id)
        events.append(
            {
                "id": event.id,
                "name": event.name,
                "buyers": [b.name for b in scenario.buyers],
                "exhibitors": [e.name for e in scenario.exhibitors],
                "scenario_version": ws.latest_scenario_version(event.id).version,
                "schedules": len(ws.schedule_versions(event.id)),
                "published": published.version if published else None,
            }
        )
    return _INDEX.render(events=events, shown=PAGE_PARTICIPANTS_SHOWN)


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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(
            _index_page(service),
            headers={"Content-Security-Policy": PAGE_SECURITY_POLICY, "X-Frame-Options": "DENY", "Cache-Control": "no-store"},
        )

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

    return app


async def _uploads(**files: UploadFile | None) -> dict[str, Upload | None]:
    uploads: dict[str, Upload | None] = {}
    for name, file in files.items():
        uploads[name] = None if file is None else Upload(file.filename, await file.read())
    return uploads
