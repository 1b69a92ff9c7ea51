"""The organizer's desk as server-rendered pages: events, versions, solves, schedules, re-plans.

``page_router(token)`` returns the APIRouter that ``create_app`` includes. Pages
are Jinja2 templates (``templates/``, autoescaped: every name from an upload is
HTML-escaped) and need nothing from the network at a fair venue: one stylesheet
and one small hand-written script (``static/``), no build step. The script only
follows a running job (``GET /api/jobs/{id}`` once a second) and draws its
progress as inline SVG; everything else works without it.

Safety, on top of the app's guard (host, origin, token, size):

- every form POST carries ``csrf``: an HMAC of the form's action path under a
  secret made when the server starts; a POST without the right one is refused
  (403) before anything is read or done;
- with a token, a browser asking for a page without the ``token`` cookie is sent
  to ``/login``, whose form sets that cookie (HttpOnly, SameSite=Strict); the
  guard checks it like ``Authorization: Bearer``;
- a Content-Security-Policy lets pages load only this server's stylesheet and
  script; no input text is ever placed inside the script;
- nothing a request says becomes a path: ids are integers, static files are
  served from a fixed in-memory table, uploads go through ``Service``.

Slow analyses (a participant's full explanation, the bottlenecks with their
what-ifs: seconds to tens of seconds on a large fair) run in one separate worker
process on demand; their page refreshes itself until the answer is there and
then keeps it (versions never change).

Language: the pages' fixed words are in English or Simplified Chinese (the ``desk``
gettext domain, ``io/locale/zh_Hans/LC_MESSAGES/desk.po``), chosen by the
``desk_lang`` cookie that ``/language/{code}`` sets. Names and data stay as they
are; error lines from the lower layers stay English.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import multiprocessing
import re
import secrets
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import BytecodeCache, Environment
from markupsafe import Markup
from starlette.datastructures import FormData, Headers, UploadFile

from ..errors import InputError, MatchmakerError
from ..io.export.common import Context, build_context
from ..io.export.templates import jinja_environment
from ..io.i18n import (
    DEFAULT_LANGUAGE,
    DESK_LANGUAGES,
    desk_translations,
    supported_language,
)
from ..spec.scenario import Scenario, minutes, parse_scenario
from ..spec.schedule import Schedule
from .edits import EDIT_KINDS, HandEdit
from .service import UPLOAD_FIELDS, Service, Upload, upload_label
from .workspace import Conflict, Job, NotFound, WorkspaceBusy

LOGIN_PATH = "/login"
LANGUAGE_PREFIX = "/language/"
LANGUAGE_COOKIE = "desk_lang"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
STATIC_PREFIX = "/static/"
STATIC_FILES = {"desk.css": "text/css; charset=utf-8", "desk.js": "text/javascript; charset=utf-8"}
PAGE_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
COOKIE_SAFE_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")  # what a cookie value can carry unquoted
PARTICIPANTS_PREVIEW = 10  # names listed per event on the events page
GRID_ROWS_PER_PAGE = 40
AGENDAS_PER_PAGE = 20
EXPLANATIONS_PER_PAGE = 50
CHANGE_PARTICIPANTS_PER_PAGE = 50
MAX_QUERY_CHARS = 100
CACHED_SCENARIOS = 16
CACHED_SCHEDULES = 4  # a large fair's view holds ~10,000 meetings
CACHED_ANALYSES = 64
ANALYSIS_REFRESH_SECONDS = 2
JOB_DONE = ("done", "failed", "cancelled", "interrupted")
POLICIES = ("keep", "minimal", "full")
VIEWS = ("grid", "agendas", "explanations")


def desk_message(message: str) -> str:
    """Mark a message of the desk's domain (desk.po; not N_, which is the participants' domain)."""
    return message


# Labels are msgids of the desk domain: the templates translate them where they are shown.
LEVELS = {"": desk_message("any"), "must": desk_message("must requests"), "want": desk_message("want requests"),
          "requested": desk_message("any request"), "none": desk_message("not requested")}
SIDES = {"all": desk_message("buyers and exhibitors"), "buyers": desk_message("buyers"),
         "exhibitors": desk_message("exhibitors")}
ORDERS = {"id": desk_message("by id"), "fewest": desk_message("fewest meetings first"),
          "most": desk_message("most meetings first")}
NOTICES = {
    "created": desk_message("Event created from %(source)s."),
    "uploaded": desk_message("Scenario version %(version)s added (%(source)s)."),
    "published": desk_message("Schedule version %(version)s is published."),
    "edited": desk_message("Hand edit saved as schedule version %(version)s."),
}
EXPORTS = [("ics", desk_message("Calendars (.ics, zip)")), ("xlsx", desk_message("Workbook (.xlsx)")),
           ("csv", desk_message("Meetings (.csv)")), ("html", desk_message("Report (.html)"))]
# Words that reach the templates as data and are translated there: version statuses, sides, hand edits.
DATA_WORDS = (
    desk_message("draft"), desk_message("published"), desk_message("buyer"), desk_message("exhibitor"),
    desk_message("participant"), desk_message("pin"), desk_message("unpin"), desk_message("block"), desk_message("move"),
)
FORM_OUT_OF_DATE = desk_message(
    "This form is out of date or did not come from this desk: reload the page and send it again."
)
WRONG_TOKEN = desk_message("That is not this desk's token.")
TOKEN_NOT_FOR_COOKIE = desk_message(
    "This token cannot be kept in a cookie: restart the server with a token of letters, digits, '-' and '_'."
)



# --------------------------------------------------------------------------------------------
# What the app's guard asks of the pages
# --------------------------------------------------------------------------------------------


def open_without_token(path: str) -> bool:
    """The login form, its stylesheet/script and the language switch answer without the token (they reveal nothing)."""
    return path == LOGIN_PATH or path.startswith((STATIC_PREFIX, LANGUAGE_PREFIX))


def login_redirect(scope: dict, headers: Headers) -> Response | None:
    """A browser asking for a page without the token is sent to the login form; None: not a page request."""
    path = scope.get("path", "")
    if scope.get("method") != "GET" or path.startswith("/api") or "text/html" not in headers.get("accept", ""):
        return None
    target = LOGIN_PATH + (f"?{urlencode({'next': path})}" if _local_path(path) and path != "/" else "")
    return RedirectResponse(target, status_code=303)


def _local_path(path: str) -> bool:
    """A path of this server that a login may return to: no scheme, host or '//' (no open redirect)."""
    return bool(re.fullmatch(r"/[A-Za-z0-9/_.-]*", path)) and not path.startswith("//")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


class _Lru:
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, make: Callable[[], Any]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two threads may both make it, which is harmless
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def peek(self, key):
        with self._lock:
            return self._items.get(key)

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _int(value: str | None, default: int | None = None, low: int | None = None) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return max(low, number) if low is not None else number


def _choice(value: str | None, allowed: Iterable[str], default: str = "") -> str:
    return value if value in set(allowed) else default


def _fold(text: object) -> str:
    return str(text or "").casefold()


@dataclass
class Pager:
    """One page of a long list, and the links to its neighbours."""

    page: int
    pages: int
    total: int
    first: int  # 1-based index of the first item shown
    last: int
    base: dict[str, str]

    def url(self, page: int) -> str:
        return "?" + urlencode({**self.base, "page": page})


def _paginate(items: list, page: int, per_page: int, base: dict[str, str]) -> tuple[list, Pager]:
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    chunk = items[(page - 1) * per_page : page * per_page]
    first = (page - 1) * per_page + 1 if chunk else 0
    return chunk, Pager(page, pages, len(items), first, first + len(chunk) - 1 if chunk else 0, base)


# --------------------------------------------------------------------------------------------
# A schedule version, prepared for the pages (kept: versions never change)
# --------------------------------------------------------------------------------------------


@dataclass
class MeetingRow:
    index: int  # position in the version's sorted meetings: what the forms' checkboxes and buttons name
    date: str
    start: str
    end: str
    buyer: str
    buyer_name: str
    buyer_country: str
    exhibitor: str
    exhibitor_name: str
    exhibitor_country: str
    location: str
    where: str
    hall: str
    shared: bool  # the place has several exhibitors or tables: the grid names the exhibitor too
    interpreter: str
    level: str  # "must", "want" or "" (not requested)
    key: str  # what the search box compares against


@dataclass
class Person:
    id: str
    name: str
    side: str  # "buyer" or "exhibitor"
    country: str
    place: str
    hall: str
    languages: list[str]
    min_meetings: int
    max_meetings: int | None
    levels: set[str]
    meetings: list[MeetingRow] = field(default_factory=list)
    key: str = ""


@dataclass
class Filters:
    """The schedule page's query: what to show and which page of it."""

    view: str = "grid"
    day: str = ""
    country: str = ""
    hall: str = ""
    language: str = ""
    level: str = ""
    side: str = "all"
    order: str = "id"
    category: str = ""
    q: str = ""
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-default query parameters (for links), with ``changes`` applied."""
        values = {**self.__dict__, **changes}
        defaults = Filters().__dict__
        return {k: str(v) for k, v in values.items() if k != "page" and v != defaults[k]}

    def meeting_filters(self) -> bool:
        return bool(self.country or self.hall or self.language or self.level or self.q)


class ScheduleView:
    """A schedule version joined with its scenario, indexed for the grid, agendas and explanations."""

    def __init__(self, scenario: Scenario, schedule: Schedule):
        self.scenario = scenario
        self.schedule = schedule
        self.context: Context = build_context(schedule, scenario, "schedule")
        ctx = self.context
        levels: dict[tuple[str, str], str] = {}
        for request in scenario.requests:
            pair = (request.buyer, request.exhibitor)
            if levels.get(pair) != "must":
                levels[pair] = request.level
        self.levels = levels
        exhibitors_at: dict[str, list[str]] = defaultdict(list)
        for exhibitor in scenario.exhibitors:
            where = scenario.meeting_location(exhibitor)
            if where:
                exhibitors_at[where].append(exhibitor.id)
        self.exhibitors_at = exhibitors_at
        self.days = [d.isoformat() for d in ctx.days()]
        self.halls = {h.id: h.name or h.id for h in scenario.halls}
        self.countries = sorted({b.country for b in scenario.buyers} | {e.country for e in scenario.exhibitors if e.country})
        self.languages = sorted({p.language for p in scenario.interpreters} | {m.interpreter for m in schedule.meetings if m.interpreter})
        self.categories = sorted({x.category for x in schedule.explanations})

        self.people: dict[str, Person] = {}
        for buyer in scenario.buyers:
            self.people[buyer.id] = Person(
                buyer.id, buyer.name, "buyer", buyer.country, "", "", list(buyer.languages), buyer.min_meetings,
                buyer.max_meetings, set(), key=_fold(f"{buyer.id} {buyer.name}"),
            )
        for exhibitor in scenario.exhibitors:
            where = scenario.meeting_location(exhibitor) or ""
            self.people.setdefault(exhibitor.id, Person(
                exhibitor.id, exhibitor.name, "exhibitor", exhibitor.country or "", ctx.location_label(where) if where else "",
                ctx.hall_of(where) if where else "", list(exhibitor.languages), exhibitor.min_meetings, exhibitor.max_meetings,
                set(), key=_fold(f"{exhibitor.id} {exhibitor.name}"),
            ))
        for (buyer, exhibitor), level in levels.items():
            for pid in (buyer, exhibitor):
                if pid in self.people:
                    self.people[pid].levels.add(level)

        self.rows: list[MeetingRow] = []
        for index, m in enumerate(ctx.meetings):
            buyer, exhibitor = ctx.buyers[m.buyer], ctx.exhibitors[m.exhibitor]
            location = ctx.locations.get(m.location)
            shared = len(exhibitors_at.get(m.location, ())) != 1 or (location is not None and location.tables > 1)
            row = MeetingRow(
                index, m.date.isoformat(), m.start, m.end, buyer.id, buyer.name, buyer.country, exhibitor.id, exhibitor.name,
                exhibitor.country or "", m.location, ctx.location_label(m.location), ctx.hall_of(m.location), shared,
                m.interpreter or "", levels.get((m.buyer, m.exhibitor), ""),
                _fold(f"{buyer.id} {buyer.name} {exhibitor.id} {exhibitor.name}"),
            )
            self.rows.append(row)
            self.people[buyer.id].meetings.append(row)
            self.people[exhibitor.id].meetings.append(row)

        self.explanations_of: dict[str, list] = defaultdict(list)
        for x in schedule.explanations:
            details = x.details
            for pid in {x.subject, details.get("participant"), details.get("buyer"), details.get("exhibitor")}:
                if isinstance(pid, str) and pid in self.people:
                    self.explanations_of[pid].append(x)
        self.starts = {day: ctx.slot_starts(d) for day, d in zip(self.days, ctx.days())}
        self.all_starts = sorted({start for starts in self.starts.values() for start in starts}, key=minutes)

    def fair_now(self) -> tuple[str, str]:
        """The fair's local date and time now, when today is a day of the fair; else its first day and no time."""
        from datetime import datetime
        from zoneinfo import ZoneInfo

        local = datetime.now(ZoneInfo(self.scenario.timezone))
        if local.date().isoformat() in self.days:
            return local.date().isoformat(), local.strftime("%H:%M")
        return (self.days[0] if self.days else ""), ""

    def pair(self, index_text: str) -> tuple[str, str] | None:
        """(buyer, exhibitor) of the meeting a form names by its index; None for anything else."""
        index = _int(index_text)
        if index is None or not 0 <= index < len(self.rows):
            return None
        row = self.rows[index]
        return row.buyer, row.exhibitor

    # --- filters ---

    def meeting_matches(self, row: MeetingRow, f: Filters) -> bool:
        if f.country and f.country not in (row.buyer_country, row.exhibitor_country):
            return False
        if f.hall and row.hall != f.hall:
            return False
        if f.language and row.interpreter != f.language:
            return False
        if f.level and not _level_matches(row.level, f.level):
            return False
        return not f.q or _fold(f.q) in row.key

    def person_matches(self, person: Person, f: Filters) -> bool:
        """Listed when it matches the search and, for each filter, itself or one of its meetings does."""
        if f.side != "all" and person.side + "s" != f.side:
            return False
        if f.q and _fold(f.q) not in person.key:
            return False
        if f.country and person.country != f.country:
            return False
        if f.hall and person.hall != f.hall and not any(m.hall == f.hall for m in person.meetings):
            return False
        if f.language and f.language not in person.languages and not any(m.interpreter == f.language for m in person.meetings):
            return False
        if f.level:
            if f.level == "none":
                return not person.levels
            if f.level == "requested":
                return bool(person.levels)
            return f.level in person.levels
        return True

    # --- the three views ---

    def grid(self, f: Filters) -> dict:
        day = f.day if f.day in self.days else (self.days[0] if self.days else "")
        starts = self.starts.get(day, [])
        column = {start: i for i, start in enumerate(starts)}
        cells: dict[str, list[list[MeetingRow]]] = {}
        for row in self.rows:
            if row.date != day or not self.meeting_matches(row, f):
                continue
            line = cells.setdefault(row.location, [[] for _ in starts])
            line[column[row.start]].append(row)
        if f.meeting_filters() and not (f.hall and not (f.country or f.language or f.level or f.q)):
            locations = [loc for loc in self.context.grid_locations() if loc in cells]
        else:  # no filter, or only the hall: every place (of the hall), free ones too
            locations = [loc for loc in self.context.grid_locations() if not f.hall or self.context.hall_of(loc) == f.hall]
        shown, pager = _paginate(locations, f.page, GRID_ROWS_PER_PAGE, f.params(view="grid", day=day))
        ctx = self.context
        rows = [
            {
                "location": ctx.location_name(loc),
                "id": loc,
                "hall": ctx.hall_label(loc),
                "exhibitors": [(e, ctx.exhibitors[e].name) for e in self.exhibitors_at.get(loc, ())[:3]],
                "more": max(0, len(self.exhibitors_at.get(loc, ())) - 3),
                "cells": cells.get(loc, [[] for _ in starts]),
            }
            for loc in shown
        ]
        meetings = sum(len(c) for line in cells.values() for c in line)
        return {"day": day, "starts": starts, "rows": rows, "pager": pager, "meetings": meetings}

    def agendas(self, f: Filters) -> dict:
        people = [p for p in self.people.values() if self.person_matches(p, f)]
        if f.order == "fewest":
            people.sort(key=lambda p: (len(p.meetings), p.side, p.id))
        elif f.order == "most":
            people.sort(key=lambda p: (-len(p.meetings), p.side, p.id))
        shown, pager = _paginate(people, f.page, AGENDAS_PER_PAGE, f.params(view="agendas"))
        return {"people": shown, "pager": pager, "explanations": {p.id: self.explanations_of.get(p.id, []) for p in shown}}

    def explanations(self, f: Filters) -> dict:
        items = list(self.schedule.explanations)
        if f.category:
            items = [x for x in items if x.category == f.category]
        if f.q:
            needle = _fold(f.q)
            items = [x for x in items if needle in _fold(x.subject) or needle in _fold(x.message)]
        shown, pager = _paginate(items, f.page, EXPLANATIONS_PER_PAGE, f.params(view="explanations"))
        return {"entries": shown, "pager": pager}


def _level_matches(level: str, wanted: str) -> bool:
    if wanted == "requested":
        return bool(level)
    if wanted == "none":
        return not level
    return level == wanted


# --------------------------------------------------------------------------------------------
# Slow analyses, in a worker process
# --------------------------------------------------------------------------------------------


def run_analysis(kind: str, scenario_json: str, schedule_json: str, participant: str | None) -> str:
    """In the analysis process: a participant's explanations or the bottlenecks, as JSON."""
    from ..analysis.bottlenecks import find_bottlenecks
    from ..analysis.explain import explain_participant

    scenario = parse_scenario(json.loads(scenario_json), "scenario")
    schedule = Schedule.model_validate_json(schedule_json)
    if kind == "explain":
        assert participant is not None
        return json.dumps([x.model_dump(mode="json") for x in explain_participant(scenario, schedule, participant)])
    return find_bottlenecks(scenario, schedule).model_dump_json()


@dataclass
class Analysis:
    started: float
    future: Future | None = None
    result: Any = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


class Analyses:
    """On-demand analyses, one at a time in one spawned process (not the web process: they take seconds)."""

    RETRY_FAILED_AFTER_SECONDS = 30.0

    def __init__(self):
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._items = _Lru(CACHED_ANALYSES)

    def get(self, key: tuple, arguments: Callable[[], tuple]) -> Analysis:
        """The analysis under ``key``; started (with ``run_analysis(*arguments())``) if new, or failed a while ago."""
        with self._lock:
            analysis = self._items.peek(key)
            stale = analysis is not None and analysis.error is not None and (
                time.monotonic() - analysis.started > self.RETRY_FAILED_AFTER_SECONDS
            )
            if analysis is None or stale:
                analysis = Analysis(time.monotonic())
                try:
                    analysis.future = self._pool().submit(run_analysis, *arguments())
                except BrokenProcessPool:  # the process died (killed, out of memory): start a new one
                    self._executor = None
                    analysis.future = self._pool().submit(run_analysis, *arguments())
                self._items.put(key, analysis)
        future = analysis.future
        if future is not None and future.done() and not analysis.done:
            try:
                analysis.result = json.loads(future.result())
            except Exception as error:  # noqa: BLE001 - shown on the page
                analysis.error = f"{type(error).__name__}: {error}"
                if isinstance(error, BrokenProcessPool):
                    with self._lock:
                        self._executor = None
        return analysis

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    def shutdown(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


# --------------------------------------------------------------------------------------------
# The desk: state shared by the page handlers
# --------------------------------------------------------------------------------------------


class CsrfRefused(Exception):
    pass


class _CompiledTemplates(BytecodeCache):
    """Compiled templates kept in memory for the process: compiling the schedule page takes ~0.2 s, and
    each app (each test, each server start) has its own environment (its own form secret)."""

    def __init__(self):
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class Desk:
    """The pages' state: the form secret, the token, the template environment and the caches."""

    def __init__(self, token: str | None):
        self.token = token
        self.secret = secrets.token_bytes(32)  # per server start: forms of an earlier run are refused
        # One environment per language, each with its translations installed once: a render never changes
        # shared state, so concurrent requests in different languages cannot see each other's words.
        self.envs = {language: self._environment(language) for language in DESK_LANGUAGES}
        self.env = self.envs[DEFAULT_LANGUAGE]
        self.static = {name: resources.files("matchmaker.web").joinpath("static", name).read_bytes() for name in STATIC_FILES}
        self.static_etags = {name: '"' + hashlib.sha256(data).hexdigest()[:16] + '"' for name, data in self.static.items()}
        self.scenarios = _Lru(CACHED_SCENARIOS)
        self.views = _Lru(CACHED_SCHEDULES)
        self.stats = _Lru(256)
        self.notices = _Lru(128)
        self.analyses = Analyses()
        for env in self.envs.values():
            for name in env.list_templates(filter_func=lambda n: n.endswith(".html")):
                env.get_template(name)  # compiled now, not on the organizer's first page (the second: from bytecode)

    def _environment(self, language: str) -> Environment:
        # The same compiled code in every language (bytecode cache): words are looked up at render.
        env = jinja_environment("matchmaker.web", bytecode_cache=_COMPILED)
        env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's line breaks are not part of its msgid
        translations = desk_translations(language)
        env.install_gettext_translations(translations, newstyle=True)  # newstyle: values are escaped
        env.globals.update(csrf_field=self.csrf_field, LEVELS=LEVELS, SIDES=SIDES, ORDERS=ORDERS, POLICIES=POLICIES,
                           lang=language, lang_tag=language.replace("_", "-"),
                           translated=translations.gettext)  # a message as it is: no %-formatting of its text
        env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int | float) else ("" if n is None else n)
        return env

    # --- forms ---

    def csrf_token(self, action: str) -> str:
        return hmac.new(self.secret, b"form " + action.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf_field(self, action: str) -> Markup:
        return Markup('<input type="hidden" name="csrf" value="{}">').format(self.csrf_token(action))

    async def form(self, request: Request) -> FormData:
        """The POSTed form, once its CSRF token is checked (CsrfRefused otherwise)."""
        form = await request.form()
        given = form.get("csrf")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.csrf_token(request.url.path).encode()):
            raise CsrfRefused
        return form

    # --- rendering ---

    def render(self, request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        logged_in = self.token is not None and LOGIN_PATH != request.url.path
        path = request.url.path
        # After switching language the browser comes back here: a page it can GET (a form's answer cannot).
        language_next = path if request.method == "GET" and _local_path(path) else "/"
        env = self.envs[request_language(request)]
        html = env.get_template(template).render(request_path=path, logged_in=logged_in, language_next=language_next, **values)
        return HTMLResponse(html, status_code=status_code, headers=page_headers())

    def error(self, request: Request, status_code: int, message: str, lines: Iterable[str] = ()) -> HTMLResponse:
        return self.render(request, "error.html", status_code, message=message, lines=list(lines))

    def notice(self, message: str, values: dict[str, Any], lines: Iterable[str] = ()) -> str:
        """Keep a notice for the next page: a NOTICES msgid and its values, translated when shown."""
        key = secrets.token_urlsafe(9)
        self.notices.put(key, (message, values, list(lines)))
        return key

    # --- data, cached (scenario and schedule versions never change) ---

    def scenario(self, service: Service, event_id: int, version: int) -> Scenario:
        return self.scenarios.get((event_id, version), lambda: service.scenario(event_id, version))

    def view(self, service: Service, event_id: int, version: int) -> ScheduleView:
        def make() -> ScheduleView:
            record = service.workspace.schedule_version(event_id, version)
            schedule = Schedule.model_validate_json(service.schedule_json(event_id, version))
            return ScheduleView(self.scenario(service, event_id, record.scenario_version), schedule)

        return self.views.get((event_id, version), make)

    def schedule_stats(self, service: Service, event_id: int, version: int) -> dict:
        def make() -> dict:
            view = self.views.peek((event_id, version))
            if view is not None:
                return view.schedule.stats.model_dump()
            return _stats_of(service.schedule_json(event_id, version))

        return self.stats.get((event_id, version), make)


def _stats_of(text: str) -> dict:
    """The ``stats`` object of a schedule.json text, without parsing its meetings (the event page lists
    every version; a large fair's schedule takes ~50 ms to parse whole)."""
    at = text.rfind('\n  "stats": ')  # Schedule.to_json: indent 2, so a top-level key
    if at >= 0:
        try:
            stats, _ = json.JSONDecoder().raw_decode(text, at + len('\n  "stats": '))
            if isinstance(stats, dict):
                return stats
        except ValueError:
            pass
    return json.loads(text).get("stats", {})


def request_language(request: Request) -> str:
    """The desk language the ``desk_lang`` cookie names; English without one (or with anything else)."""
    language = supported_language(request.cookies.get(LANGUAGE_COOKIE))
    return language if language in DESK_LANGUAGES else DEFAULT_LANGUAGE


def page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": PAGE_SECURITY_POLICY, "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def _service(request: Request) -> Service:
    return request.app.state.service


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _uploads(form: FormData) -> dict[str, Upload | None]:
    """The upload fields of a form; a file input left empty is no upload."""
    uploads: dict[str, Upload | None] = {}
    for name in UPLOAD_FIELDS:
        value = form.get(name)
        if isinstance(value, UploadFile):
            data = await value.read()
            uploads[name] = Upload(value.filename, data) if (value.filename or data) else None
        else:
            uploads[name] = None
    return uploads


def _source_label(uploads: dict[str, Upload | None]) -> str:
    return ", ".join(upload_label(u.filename, name) for name, u in uploads.items() if u is not None)


def _shown_job(jobs: list, request: Request):
    """The job the page shows: the one the address names (``?job=``), else the newest still running."""
    wanted = _int(request.query_params.get("job"))
    return next((j for j in jobs if j.id == wanted), None) or next((j for j in reversed(jobs) if j.active), None)


def _job_urls(event_id: int) -> dict[str, str]:
    return {"schedule": f"/events/{event_id}/schedules/", "changes": f"/events/{event_id}/replan?version="}


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------


def page_router(token: str | None = None) -> APIRouter:
    """The pages, bound to one server's form secret and token."""
    desk = Desk(token)

    @asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            desk.analyses.shutdown()

    router = APIRouter(include_in_schema=False, lifespan=lifespan)
    router.desk = desk  # type: ignore[attr-defined]  # for tests and benchmarks

    def guarded(handler):
        """Turn the service's errors into pages (not the API's JSON)."""

        @functools.wraps(handler)
        async def wrapper(*args, **kwargs):
            request: Request = kwargs["request"]
            try:
                return await handler(*args, **kwargs)
            except CsrfRefused:
                return desk.error(request, 403, FORM_OUT_OF_DATE)
            except NotFound as error:
                return desk.error(request, 404, str(error))
            except WorkspaceBusy as error:
                return desk.error(request, 503, str(error))

        return wrapper

    # --- static files and login ---

    @router.get(STATIC_PREFIX + "{name}")
    def static(name: str, request: Request) -> Response:
        if name not in desk.static:  # a fixed table: nothing from the path reaches the file system
            return Response("not found", status_code=404, media_type="text/plain")
        etag = desk.static_etags[name]
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(desk.static[name], media_type=STATIC_FILES[name], headers=headers)

    @router.get(LOGIN_PATH)
    @guarded
    async def login_page(request: Request) -> Response:
        if desk.token is None:
            return _see("/")
        return desk.render(request, "login.html", next=_next(request.query_params.get("next")), problem="")

    @router.post(LOGIN_PATH)
    @guarded
    async def login(request: Request) -> Response:
        if desk.token is None:
            return _see("/")
        form = await desk.form(request)
        given = str(form.get("token") or "")
        target = _next(str(form.get("next") or ""))
        if not hmac.compare_digest(given.encode("utf-8"), desk.token.encode("utf-8")):
            return desk.render(request, "login.html", 401, next=target, problem=WRONG_TOKEN)
        if not COOKIE_SAFE_TOKEN.fullmatch(desk.token):
            return desk.render(request, "login.html", 400, next=target,
                               problem=TOKEN_NOT_FOR_COOKIE)
        response = _see(target)
        response.set_cookie("token", desk.token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
        return response

    @router.get(LANGUAGE_PREFIX + "{code}")
    def language(code: str, request: Request) -> Response:
        """Switch the pages' language (a cookie) and go back to ``next``, a path of this desk only."""
        chosen = supported_language(code)
        if chosen not in DESK_LANGUAGES:
            return desk.error(request, 404, f"the desk has no language {code[:MAX_QUERY_CHARS]!r}: choose en or zh")
        response = _see(_next(request.query_params.get("next")))
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS, path="/", samesite="strict",
                            httponly=True, secure=request.url.scheme == "https")
        return response

    @router.post("/logout")
    @guarded
    async def logout(request: Request) -> Response:
        await desk.form(request)
        response = _see(LOGIN_PATH if desk.token else "/")
        response.delete_cookie("token", path="/", httponly=True, samesite="strict")
        return response

    # --- events ---

    def index_values(service: Service) -> dict:
        ws = service.workspace
        events = []
        for event in service.events():
            latest = ws.latest_scenario_version(event.id).version
            scenario = desk.scenario(service, event.id, latest)
            published = ws.latest_published(event.id)
            events.append({
                "id": event.id, "name": event.name, "created": event.created_at.strftime("%Y-%m-%d %H:%M"),
                "buyers": [b.name for b in scenario.buyers], "exhibitors": [e.name for e in scenario.exhibitors],
                "scenario_version": latest, "schedules": len(ws.schedule_versions(event.id)),
                "published": published.version if published else None,
            })
        return {"events": events, "shown": PARTICIPANTS_PREVIEW}

    @router.get("/")
    @guarded
    async def index(request: Request) -> Response:
        values = await run_in_threadpool(index_values, _service(request))
        return desk.render(request, "index.html", problems=[], **values)

    @router.post("/events")
    @guarded
    async def create_event(request: Request) -> Response:
        service = _service(request)
        uploads = await _uploads(await desk.form(request))
        try:
            event_id, _, warnings = await run_in_threadpool(service.create_event, uploads)
        except InputError as error:
            values = await run_in_threadpool(index_values, service)
            return desk.render(request, "index.html", 422, problems=error.lines(), **values)
        key = desk.notice(NOTICES["created"], {"source": _source_label(uploads)}, warnings)
        return _see(f"/events/{event_id}?notice={key}")

    def event_values(service: Service, event_id: int, request: Request) -> dict:
        ws = service.workspace
        event = ws.event(event_id)
        scenario_versions = []
        for s in reversed(ws.scenario_versions(event_id)):
            scenario = desk.scenario(service, event_id, s.version)
            scenario_versions.append({"version": s.version, "source": s.source, "created": s.created_at.strftime("%Y-%m-%d %H:%M"),
                                      "buyers": len(scenario.buyers), "exhibitors": len(scenario.exhibitors),
                                      "requests": len(scenario.requests)})
        schedule_versions = []
        for s in reversed(ws.schedule_versions(event_id)):
            stats = desk.schedule_stats(service, event_id, s.version)
            schedule_versions.append({
                "version": s.version, "scenario_version": s.scenario_version, "status": s.status, "parent": s.parent,
                "has_changes": s.has_changes, "created": s.created_at.strftime("%Y-%m-%d %H:%M"),
                "published": s.published_at.strftime("%Y-%m-%d %H:%M") if s.published_at else "",
                "meetings": stats.get("meetings"), "value": stats.get("value"), "bound": stats.get("upper_bound_value"),
                "gap": stats.get("gap_percent"),
            })
        jobs = ws.jobs(event_id)
        job = _shown_job(jobs, request)
        job = job or (jobs[-1] if jobs else None)
        published = ws.latest_published(event_id)
        latest_scenario = ws.latest_scenario_version(event_id).version
        replan_ready = published is not None and published.scenario_version < latest_scenario
        notice = desk.notices.peek(request.query_params.get("notice", ""))
        return {
            "event": event, "scenario_versions": scenario_versions, "schedule_versions": schedule_versions,
            "job": _job_values(job) if job else None, "urls": _job_urls(event_id), "published": published,
            "replan_ready": replan_ready, "latest_scenario": latest_scenario, "notice": notice,
        }

    async def event_page(request: Request, event_id: int, status_code: int = 200, **extra: Any) -> Response:
        values = await run_in_threadpool(event_values, _service(request), event_id, request)
        values.update({"problems": [], "solve_problems": [], **extra})
        return desk.render(request, "event.html", status_code, **values)

    @router.get("/events/{event_id}")
    @guarded
    async def event(request: Request, event_id: int) -> Response:
        return await event_page(request, event_id)

    @router.post("/events/{event_id}/scenario")
    @guarded
    async def add_scenario(request: Request, event_id: int) -> Response:
        service = _service(request)
        uploads = await _uploads(await desk.form(request))
        try:
            version, warnings = await run_in_threadpool(service.add_scenario_version, event_id, uploads)
        except InputError as error:
            return await event_page(request, event_id, 422, problems=error.lines())
        key = desk.notice(NOTICES["uploaded"], {"version": version, "source": _source_label(uploads)}, warnings)
        return _see(f"/events/{event_id}?notice={key}")

    def solve_args(form: FormData) -> dict:
        """The solve form's fields as ``Service.start_solve`` arguments; InputError naming each bad one."""
        problems = []
        time_limit = _float(form.get("time_limit"), 30.0)
        if time_limit is None or not 1 <= time_limit <= 24 * 3600:
            problems.append("time limit: seconds, from 1 to 86400")
        seed = _int(form.get("seed") or "0")
        if seed is None:
            problems.append("seed: a whole number")
        policy = str(form.get("policy") or "keep")
        if policy not in POLICIES:
            problems.append(f"policy: one of {', '.join(POLICIES)}")
        previous_text = str(form.get("previous") or "").strip()
        previous = _int(previous_text, low=1) if previous_text else None
        if previous_text and previous is None:
            problems.append("previous: a schedule version number")
        cap_text = str(form.get("max_changes_per_participant") or "").strip()
        cap = _int(cap_text, low=0) if cap_text else None
        if cap_text and cap is None:
            problems.append("max changes per participant: a whole number")
        freeze = str(form.get("freeze_before") or "").strip() or None
        if problems:
            raise _FormProblems(problems)
        return {"time_limit": time_limit, "seed": seed, "policy": policy, "previous": previous,
                "max_changes_per_participant": cap, "freeze_before": freeze}

    async def start(request: Request, event_id: int, form: FormData, previous_required: bool = False) -> tuple[int | None, list[str]]:
        """Queue a solve from a solve form: (job id, []), or (None, the problems to show on the page)."""
        service = _service(request)
        try:
            args = solve_args(form)
        except _FormProblems as error:
            return None, error.lines
        if previous_required and args["previous"] is None:
            published = await run_in_threadpool(service.workspace.latest_published, event_id)
            if published is None:
                return None, ["nothing is published yet: publish a schedule version before re-planning"]
            args["previous"] = published.version
        try:
            job_id = await run_in_threadpool(
                service.start_solve, event_id, args["time_limit"], args["seed"], args["policy"], args["previous"],
                args["max_changes_per_participant"], args["freeze_before"],
            )
        except InputError as error:
            return None, error.lines()
        except NotFound:
            await run_in_threadpool(service.workspace.event, event_id)  # an unknown event: the 404 page
            return None, [f"previous: event {event_id} has no schedule version {args['previous']}"]
        except MatchmakerError as error:  # the event's job still running (409), a desk without a job runner
            return None, [str(error)]
        return job_id, []

    @router.post("/events/{event_id}/solve")
    @guarded
    async def solve(request: Request, event_id: int) -> Response:
        job_id, problems = await start(request, event_id, await desk.form(request))
        if job_id is None:
            return await event_page(request, event_id, 422, solve_problems=problems)
        return _see(f"/events/{event_id}?job={job_id}#job")

    @router.post("/events/{event_id}/jobs/{job_id}/stop")
    @guarded
    async def stop(request: Request, event_id: int, job_id: int) -> Response:
        form = await desk.form(request)
        service = _service(request)
        job = await run_in_threadpool(service.job, job_id)
        if job.event_id != event_id:
            raise NotFound(f"job {job_id} is not a job of event {event_id}")
        await run_in_threadpool(service.stop_job, job_id)
        back = "replan" if form.get("back") == "replan" else ""
        return _see(f"/events/{event_id}/replan?job={job_id}" if back else f"/events/{event_id}?job={job_id}#job")

    @router.post("/events/{event_id}/schedules/{version}/publish")
    @guarded
    async def publish(request: Request, event_id: int, version: int) -> Response:
        form = await desk.form(request)
        service = _service(request)
        try:
            await run_in_threadpool(service.publish, event_id, version)
        except Conflict as error:
            return await event_page(request, event_id, 409, solve_problems=[str(error)])
        key = desk.notice(NOTICES["published"], {"version": version})
        if form.get("back") == "schedule":
            return _see(f"/events/{event_id}/schedules/{version}?notice={key}")
        if form.get("back") == "replan":
            return _see(f"/events/{event_id}/replan?version={version}&notice={key}")
        return _see(f"/events/{event_id}?notice={key}")

    # --- a schedule version ---

    def schedule_values(service: Service, event_id: int, version: int, f: Filters, request: Request) -> dict:
        ws = service.workspace
        event = ws.event(event_id)
        record = ws.schedule_version(event_id, version)
        view = desk.view(service, event_id, version)
        body: dict[str, Any] = {}
        if f.view == "grid":
            body = view.grid(f)
        elif f.view == "agendas":
            body = view.agendas(f)
        else:
            body = view.explanations(f)
        return {
            "event": event, "record": record, "view": view, "f": f, "body": body, "stats": view.schedule.stats,
            "overview": view.context.overview(), "notice": desk.notices.peek(request.query_params.get("notice", "")),
            "exports": EXPORTS,
            "edit_problems": [], "fair_problems": [], "fair_now": view.fair_now(), "edit_kinds": EDIT_KINDS,
        }

    def filters(request: Request) -> Filters:
        q = request.query_params
        f = Filters(
            view=_choice(q.get("view"), VIEWS, "grid"),
            day=q.get("day", "")[:10],
            country=q.get("country", "")[:MAX_QUERY_CHARS],
            hall=q.get("hall", "")[:MAX_QUERY_CHARS],
            language=q.get("language", "")[:MAX_QUERY_CHARS],
            level=_choice(q.get("level"), LEVELS, ""),
            side=_choice(q.get("side"), SIDES, "all"),
            order=_choice(q.get("order"), ORDERS, "id"),
            category=q.get("category", "")[:MAX_QUERY_CHARS],
            q=q.get("q", "").strip()[:MAX_QUERY_CHARS],
            page=_int(q.get("page"), 1, low=1) or 1,
        )
        return f

    async def schedule_page(request: Request, event_id: int, version: int, status_code: int = 200, **extra: Any) -> Response:
        values = await run_in_threadpool(schedule_values, _service(request), event_id, version, filters(request), request)
        values.update(extra)
        return desk.render(request, "schedule.html", status_code, **values)

    @router.get("/events/{event_id}/schedules/{version}")
    @guarded
    async def schedule(request: Request, event_id: int, version: int) -> Response:
        return await schedule_page(request, event_id, version)

    @router.post("/events/{event_id}/schedules/{version}/edit")
    @guarded
    async def edit(request: Request, event_id: int, version: int) -> Response:
        """A hand edit: pin, unpin, block or move one meeting; stored as a new draft version."""
        form = await desk.form(request)
        service = _service(request)
        view = await run_in_threadpool(desk.view, service, event_id, version)
        quick = str(form.get("quick") or "")  # a meeting row's button: "pin:17"
        if quick:
            kind, _, index = quick.partition(":")
            pair = view.pair(index)
            buyer, exhibitor = pair if pair else ("", "")
            day = start = None
            row = view.rows[int(index)] if pair else None
            meeting_at = f"{row.date} {row.start}" if row is not None and kind in ("pin", "move") else None  # this very meeting
        else:
            kind = str(form.get("kind") or "")
            buyer, exhibitor = str(form.get("buyer") or "").strip(), str(form.get("exhibitor") or "").strip()
            day, start = str(form.get("date") or "").strip() or None, str(form.get("start") or "").strip() or None
            meeting_at = str(form.get("meeting_at") or "").strip() or None
        problems = []
        if kind not in EDIT_KINDS:
            problems.append(f"what: one of {', '.join(EDIT_KINDS)}")
        if not buyer or not exhibitor:
            problems.append("buyer and exhibitor: the ids of the meeting's two sides")
        if kind == "move" and not (day and start):
            problems.append("move: the new date and start time")
        if problems:
            return await schedule_page(request, event_id, version, 422, edit_problems=problems)
        try:
            new = await run_in_threadpool(service.edit_schedule, event_id, version, HandEdit(kind, buyer, exhibitor, day, start, meeting_at))
        except InputError as error:
            return await schedule_page(request, event_id, version, 422, edit_problems=error.lines())
        except Conflict as error:
            return await schedule_page(request, event_id, version, 409, edit_problems=[str(error)])
        key = desk.notice(NOTICES["edited"], {"version": new.version})
        return _see(f"/events/{event_id}/schedules/{new.version}?notice={key}")

    @router.post("/events/{event_id}/schedules/{version}/during-fair")
    @guarded
    async def during_fair(request: Request, event_id: int, version: int) -> Response:
        """What happened during the fair (cancelled, no-shows, gone for the day, 'now'): a re-plan job."""
        form = await desk.form(request)
        service = _service(request)
        view = await run_in_threadpool(desk.view, service, event_id, version)
        day, clock = str(form.get("now_date") or "").strip(), str(form.get("now_time") or "").strip()
        now = f"{day} {clock}"
        problems: list[str] = []

        def pairs(rows_field: str, text_field: str, what: str) -> list[tuple[str, str]]:
            found = [view.pair(str(i)) for i in form.getlist(rows_field)]
            if any(p is None for p in found):
                problems.append(f"{what}: a ticked meeting is not in schedule version {version}; reload the page")
            for line in str(form.get(text_field) or "").splitlines():
                if line.strip():
                    buyer, comma, exhibitor = line.partition(",")
                    if not comma or not buyer.strip() or not exhibitor.strip():
                        problems.append(f"{what}: {line.strip()!r}: write 'buyer id, exhibitor id', one meeting per line")
                    else:
                        found.append((buyer.strip(), exhibitor.strip()))
            return list(dict.fromkeys(p for p in found if p is not None))

        cancelled = pairs("cancelled_row", "cancelled_text", "cancelled")
        no_shows = pairs("no_show_row", "no_show_text", "no-show")
        gone_ids = [str(g) for g in form.getlist("gone_id")]
        gone_ids += [line.strip() for line in str(form.get("gone_text") or "").splitlines() if line.strip()]
        gone = [(pid, day) for pid in dict.fromkeys(gone_ids)]
        time_limit = _float(form.get("time_limit"), 30.0)
        if time_limit is None or not 1 <= time_limit <= 24 * 3600:
            problems.append("time limit: seconds, from 1 to 86400")
        seed = _int(form.get("seed") or "0")
        if seed is None:
            problems.append("seed: a whole number")
        if problems:
            return await schedule_page(request, event_id, version, 422, fair_problems=problems)
        try:
            job = await run_in_threadpool(
                service.start_during_fair, event_id, version, now, cancelled, no_shows, gone, time_limit, seed
            )
        except InputError as error:
            return await schedule_page(request, event_id, version, 422, fair_problems=error.lines())
        except NotFound:
            raise
        except MatchmakerError as error:  # the event's job still running (409), a desk without a job runner
            return await schedule_page(request, event_id, version, 409, fair_problems=[str(error)])
        return _see(f"/events/{event_id}/replan?job={job.id}#job")

    @router.get("/events/{event_id}/schedules/{version}/explain")
    @guarded
    async def explain(request: Request, event_id: int, version: int) -> Response:
        service = _service(request)
        participant = request.query_params.get("participant", "")[:MAX_QUERY_CHARS]
        view = await run_in_threadpool(desk.view, service, event_id, version)
        person = view.people.get(participant)
        if person is None:
            return desk.error(request, 404, f"schedule version {version} of event {event_id} has no participant {participant!r}")
        record = service.workspace.schedule_version(event_id, version)

        def submit() -> tuple:
            return ("explain", service.workspace.scenario_json(event_id, record.scenario_version),
                    service.schedule_json(event_id, version), person.id)

        analysis = await run_in_threadpool(desk.analyses.get, ("explain", event_id, version, person.id), submit)
        return desk.render(request, "explain.html", event=service.workspace.event(event_id), record=record, person=person,
                           analysis=analysis, waited=round(time.monotonic() - analysis.started),
                           refresh=ANALYSIS_REFRESH_SECONDS, stored=view.explanations_of.get(person.id, []))

    @router.get("/events/{event_id}/schedules/{version}/bottlenecks")
    @guarded
    async def bottlenecks(request: Request, event_id: int, version: int) -> Response:
        service = _service(request)
        record = await run_in_threadpool(service.workspace.schedule_version, event_id, version)

        def submit() -> tuple:
            return ("bottlenecks", service.workspace.scenario_json(event_id, record.scenario_version),
                    service.schedule_json(event_id, version), None)

        analysis = await run_in_threadpool(desk.analyses.get, ("bottlenecks", event_id, version), submit)
        return desk.render(request, "bottlenecks.html", event=service.workspace.event(event_id), record=record, analysis=analysis,
                           waited=round(time.monotonic() - analysis.started), refresh=ANALYSIS_REFRESH_SECONDS)

    @router.get("/events/{event_id}/schedules/{version}/changes.csv")
    @guarded
    async def changes_csv(request: Request, event_id: int, version: int) -> Response:
        from ..analysis.diff import ChangeReport

        text = await run_in_threadpool(_service(request).changes_json, event_id, version)
        data = ChangeReport.model_validate_json(text).to_csv().encode("utf-8")
        name = f"event-{event_id}-schedule-{version}-changes.csv"
        return Response(data, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # --- re-planning ---

    def replan_values(service: Service, event_id: int, request: Request) -> dict:
        ws = service.workspace
        event = ws.event(event_id)
        published = ws.latest_published(event_id)
        latest = ws.latest_scenario_version(event_id).version
        comparison = None
        if published is not None and published.scenario_version != latest:
            comparison = _comparison(service, event_id, published.scenario_version, latest)
        jobs = [j for j in ws.jobs(event_id) if j.kind == "replan"]
        job = _shown_job(jobs, request)
        version = _int(request.query_params.get("version"), low=1)
        if version is None and job is not None and job.status == "done" and job.schedule_version:
            version = job.schedule_version
        report = None
        if version is not None:
            record = ws.schedule_version(event_id, version)
            if record.has_changes:
                report = _change_report(service, desk, event_id, record, _int(request.query_params.get("page"), 1, low=1) or 1)
        replans = [s for s in reversed(ws.schedule_versions(event_id)) if s.has_changes]
        return {
            "event": event, "published": published, "latest_scenario": latest, "comparison": comparison,
            "job": _job_values(job) if job else None, "urls": _job_urls(event_id), "report": report, "replans": replans,
            "notice": desk.notices.peek(request.query_params.get("notice", "")),
        }

    async def replan_page(request: Request, event_id: int, status_code: int = 200, **extra: Any) -> Response:
        values = await run_in_threadpool(replan_values, _service(request), event_id, request)
        values.update({"solve_problems": [], **extra})
        return desk.render(request, "replan.html", status_code, **values)

    @router.get("/events/{event_id}/replan")
    @guarded
    async def replan(request: Request, event_id: int) -> Response:
        return await replan_page(request, event_id)

    @router.post("/events/{event_id}/replan")
    @guarded
    async def start_replan(request: Request, event_id: int) -> Response:
        job_id, problems = await start(request, event_id, await desk.form(request), previous_required=True)
        if job_id is None:
            return await replan_page(request, event_id, 422, solve_problems=problems)
        return _see(f"/events/{event_id}/replan?job={job_id}#job")

    return router


# --------------------------------------------------------------------------------------------
# Values for the templates
# --------------------------------------------------------------------------------------------


class _FormProblems(Exception):
    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = lines


def _float(value: Any, default: float) -> float | None:
    text = str(value or "").strip()
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _next(value: str | None) -> str:
    return value if value and _local_path(value) else "/"


def _job_values(job: Job) -> dict:
    p = job.progress
    return {
        "id": job.id, "kind": job.kind, "status": job.status, "active": job.active, "params": job.params,
        "stage": p.stage if p else None, "seconds": p.seconds if p else None, "value": p.value if p else None,
        "bound": p.bound if p else None, "gap": p.gap_percent if p else None, "schedule_version": job.schedule_version,
        "error": job.error, "created": job.created_at.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _comparison(service: Service, event_id: int, old: int, new: int) -> dict:
    """Who is new, who left and who changed between two scenario versions (``Service.compare_scenarios``)."""
    comparison = service.compare_scenarios(event_id, old, new)
    out: dict[str, Any] = {"old": old, "new": new, "added": [], "removed": [], "changed": [], "event": list(comparison.event)}
    for role, side in (("buyer", comparison.buyers), ("exhibitor", comparison.exhibitors), ("participant", comparison.participants)):
        out["added"] += [{"id": p.id, "name": p.name, "role": role} for p in side.added]
        out["removed"] += [{"id": p.id, "name": p.name, "role": role} for p in side.removed]
        out["changed"] += [{"id": c.id, "name": c.name, "role": role, "changes": list(c.changes)} for c in side.changed]
    return out


def _change_report(service: Service, desk: Desk, event_id: int, record, page: int) -> dict:
    """A re-plan's change report, grouped by participant: who must be told what."""
    from ..analysis.diff import ChangeReport

    report = ChangeReport.model_validate_json(service.changes_json(event_id, record.version))
    view = desk.view(service, event_id, record.version)
    where = view.context.location_label  # "Hall 1, booth H1-A01" as in the exports
    names = {pid: person.name for pid, person in view.people.items()}
    if record.parent is not None:  # someone who left is named in the old version only
        old = desk.scenario(service, event_id, service.workspace.schedule_version(event_id, record.parent).scenario_version)
        for person in [*old.buyers, *old.exhibitors]:
            names.setdefault(person.id, person.name)
    by_person: dict[str, list] = defaultdict(list)
    for change in report.changes:
        by_person[change.buyer].append((change, change.exhibitor))
        by_person[change.exhibitor].append((change, change.buyer))
    people = [
        {"id": pid, "name": names.get(pid, pid),
         "role": "buyer" if any(c.buyer == pid for c, _ in items) else "exhibitor",
         "lines": [{"change": c.change, "with": other, "with_name": names.get(other, other),
                    "old": f"{c.old_date} {c.old_start}–{c.old_end}, {where(c.old_location or '')}" if c.old_date else "",
                    "new": f"{c.new_date} {c.new_start}–{c.new_end}, {where(c.new_location or '')}" if c.new_date else "",
                    "reason": c.reason}
                   for c, other in sorted(items, key=lambda item: (str(item[0].new_date or item[0].old_date),
                                                                    minutes(item[0].new_start or item[0].old_start or "00:00")))]}
        for pid, items in sorted(by_person.items())
    ]
    shown, pager = _paginate(people, page, CHANGE_PARTICIPANTS_PER_PAGE, {"version": str(record.version)})
    return {"record": record, "report": report, "people": shown, "pager": pager}
