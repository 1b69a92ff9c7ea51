"""Slot grid: the fair's meeting slots as integers, and who/what is available in each.

Slot ``k`` of a session starts at ``start + k * (slot_minutes + changeover_minutes)``
and must end by the session's end. Slots are numbered 0..S-1 in time order across
the whole fair; everything downstream works with these integers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from ..spec.scenario import Scenario, Window, hhmm, minutes


@dataclass(frozen=True)
class Slot:
    index: int
    day: int  # chronological day number, 0 = first day of the fair
    date: date
    session: int  # index of the session within its day
    start: int  # minutes after midnight, local time
    end: int

    @property
    def label(self) -> str:
        return f"{self.date} {hhmm(self.start)}"


@dataclass
class SlotGrid:
    slot_minutes: int
    slots: list[Slot] = field(default_factory=list)
    by_day: list[list[int]] = field(default_factory=list)
    by_start: dict[tuple[date, int], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.slots)

    def positions(self) -> dict[int, int]:
        """slot -> its place within its day (0, 1, ...): lunch and changeovers are not gaps."""
        return {s: i for day_slots in self.by_day for i, s in enumerate(day_slots)}

    def slot_at(self, day: date, start_hhmm: str) -> int | None:
        return self.by_start.get((day, minutes(start_hhmm)))

    def free_slots(self, windows: list[Window] | None) -> list[int]:
        """Slots lying wholly inside one of the windows (all slots when windows is None)."""
        if windows is None:
            return list(range(len(self.slots)))
        spans: dict[date, list[tuple[int, int]]] = {}
        for window in windows:
            spans.setdefault(window.date, []).append((minutes(window.start), minutes(window.end)))
        return [
            s.index
            for s in self.slots
            if any(lo <= s.start and s.end <= hi for lo, hi in spans.get(s.date, ()))
        ]


def idle_gaps(day_positions: Iterable[int]) -> int:
    """Idle runs between one participant's meetings on one day, given their places in the day."""
    ordered = sorted(day_positions)
    return sum(1 for a, b in zip(ordered, ordered[1:]) if b - a > 1)


def build_slot_grid(scenario: Scenario) -> SlotGrid:
    """Enumerate every slot of every session of every day, in time order."""
    grid = SlotGrid(slot_minutes=scenario.slot_minutes)
    step = scenario.slot_minutes + scenario.changeover_minutes
    for day_index, day in enumerate(sorted(scenario.days, key=lambda d: d.date)):
        day_slots = []
        sessions = sorted(enumerate(day.sessions), key=lambda item: minutes(item[1].start))
        for session_index, session in sessions:
            start = minutes(session.start)
            while start + scenario.slot_minutes <= minutes(session.end):
                slot = Slot(len(grid.slots), day_index, day.date, session_index, start, start + scenario.slot_minutes)
                grid.slots.append(slot)
                grid.by_start[(day.date, start)] = slot.index
                day_slots.append(slot.index)
                start += step
        grid.by_day.append(day_slots)
    return grid
