"""Differences between two schedules: who must be told what."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..spec.schedule import Meeting, Schedule

ChangeKind = Literal["added", "moved", "cancelled"]


class Change(BaseModel):
    """One meeting that is new, moved (time or place) or cancelled."""

    model_config = ConfigDict(extra="forbid")

    change: ChangeKind
    buyer: str
    exhibitor: str
    old_date: date | None = None
    old_start: str | None = None
    old_end: str | None = None
    old_location: str | None = None
    new_date: date | None = None
    new_start: str | None = None
    new_end: str | None = None
    new_location: str | None = None
    reason: str = ""


class ChangeReport(BaseModel):
    """Every change between two schedule versions, plus counts."""

    model_config = ConfigDict(extra="forbid")

    old_version: int
    new_version: int
    kept: int
    added: int
    moved: int
    cancelled: int
    participants_to_notify: int
    changes: list[Change]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def to_csv(self) -> str:
        """One row per affected participant and meeting (each change appears for both sides)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in participant_rows(self.changes):
            writer.writerow(row)
        return out.getvalue()


CSV_COLUMNS = (
    "participant", "role", "change", "counterpart",
    "old_date", "old_start", "old_end", "old_location", "new_date", "new_start", "new_end", "new_location", "reason",
)


def participant_rows(changes: list[Change]) -> list[tuple]:
    rows = []
    for c in changes:
        times = (
            c.old_date or "", c.old_start or "", c.old_end or "", c.old_location or "",
            c.new_date or "", c.new_start or "", c.new_end or "", c.new_location or "",
        )
        for participant, role, counterpart in ((c.buyer, "buyer", c.exhibitor), (c.exhibitor, "exhibitor", c.buyer)):
            row = (participant, role, c.change, counterpart, *times, c.reason)
            rows.append(tuple(_safe_cell(str(cell)) for cell in row))
    rows.sort(key=lambda r: (r[0], r[4] or r[8], r[5] or r[9]))
    return rows


def _safe_cell(text: str) -> str:
    """Neutralize spreadsheet formulas in free text (a cell starting with = + - @ is executed by Excel)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _where(m: Meeting) -> tuple:
    return (m.date, m.start, m.end, m.location)


Reasons = dict[tuple, str]  # by (buyer, exhibitor), or by (buyer, exhibitor, old date, old start) for one meeting


def change_reason(reasons: Reasons, change: Change) -> str | None:
    """The reason given for ``change``: its old meeting's own, else its pair's; None when none is given."""
    if change.old_date is not None:
        own = reasons.get((change.buyer, change.exhibitor, change.old_date, change.old_start))
        if own is not None:
            return own
    return reasons.get((change.buyer, change.exhibitor))


def diff_schedules(old: Schedule, new: Schedule, reasons: Reasons | None = None) -> ChangeReport:
    """Compare meetings pair by pair; ``reasons`` explain changes (see ``Reasons``).

    A pair may meet several times (repeat requests): its meetings that stay put are
    kept, the others are paired old with new in time order (moved), and what is
    left over is cancelled or added, so every change names its old and new time.
    """
    reasons = reasons or {}
    before: dict[tuple[str, str], list[Meeting]] = {}
    after: dict[tuple[str, str], list[Meeting]] = {}
    for side, meetings in ((before, old.meetings), (after, new.meetings)):
        for m in sorted(meetings, key=_where):
            side.setdefault((m.buyer, m.exhibitor), []).append(m)
    changes: list[Change] = []
    kept = 0
    for pair in sorted(before.keys() | after.keys()):
        olds, news = list(before.get(pair, [])), list(after.get(pair, []))
        for m in list(olds):
            same = next((n for n in news if _where(n) == _where(m)), None)
            if same is not None:
                olds.remove(m)
                news.remove(same)
                kept += 1
        for index in range(max(len(olds), len(news))):
            a = olds[index] if index < len(olds) else None
            b = news[index] if index < len(news) else None
            if a is None:
                kind, default = "added", "new meeting"
            elif b is None:
                kind, default = "cancelled", "no longer in the schedule"
            else:
                kind, default = "moved", "time or place changed"
            change = Change(
                change=kind,
                buyer=pair[0],
                exhibitor=pair[1],
                old_date=a.date if a else None,
                old_start=a.start if a else None,
                old_end=a.end if a else None,
                old_location=a.location if a else None,
                new_date=b.date if b else None,
                new_start=b.start if b else None,
                new_end=b.end if b else None,
                new_location=b.location if b else None,
            )
            change.reason = change_reason(reasons, change) or default
            changes.append(change)
    notify = {p for c in changes for p in (c.buyer, c.exhibitor)}
    count = {kind: sum(c.change == kind for c in changes) for kind in ("added", "moved", "cancelled")}
    return ChangeReport(
        old_version=old.version,
        new_version=new.version,
        kept=kept,
        participants_to_notify=len(notify),
        changes=changes,
        **count,
    )
