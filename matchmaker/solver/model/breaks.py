"""Breaks: per-participant count of idle runs between meetings, its implied lower bound, and the breaks objective."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ...instance.candidates import Instance
from .variables import MeetingVars


def _day_slots_with_vars(instance: Instance, mv: MeetingVars, party: int) -> list[list[tuple[int, list[int]]]]:
    """Per day: (position in the day, variable indices) of every slot where ``party`` may meet."""
    out = []
    for day_slots in instance.grid.by_day:
        row = [(i, mv.by_party_slot[(party, s)]) for i, s in enumerate(day_slots) if mv.by_party_slot.get((party, s))]
        out.append(row)
    return out


def breaks_of(positions_by_day: list[list[int]]) -> int:
    """Breaks of sorted busy positions per day: runs of idle slots between two meetings."""
    return sum(sum(1 for a, b in zip(p, p[1:]) if b - a > 1) for p in positions_by_day)


def break_lower_bound(instance: Instance, mv: MeetingVars, party: int, days: list[list[tuple[int, list[int]]]]) -> int:
    """Fewest breaks ``party`` can have, from its committed meetings and where it can meet at all.

    The slots where the party may meet form maximal runs of adjacent slots per day; a
    block of meetings lies inside one run. Holding k meetings needs runs whose lengths
    add up to k: the longest run of each day is free (the day's first block is no
    break), each further run costs one break.
    """
    committed = {mv.cand_of[v] for row in days for _, own in row for v in own}
    k = sum(1 for c in committed if instance.candidates[c].committed)
    if k <= 1:
        return 0
    free, extra = 0, []
    for row in days:
        runs, last = [], None
        for position, _own in row:
            if last is not None and position == last + 1:
                runs[-1] += 1
            else:
                runs.append(1)
            last = position
        runs.sort(reverse=True)
        if runs:
            free += runs[0]
            extra.extend(runs[1:])
    need, cost = k - free, 0
    for length in sorted(extra, reverse=True):
        if need <= 0:
            break
        need -= length
        cost += 1
    return cost


def party_breaks(model: cp_model.CpModel, instance: Instance, mv: MeetingVars) -> dict[int, cp_model.IntVar]:
    """One integer variable per participant that may have a break: its exact number of breaks.

    Busy b_s = sum of the party's x in slot s (0/1 by the one-meeting rule); block start
    st_s = b_s AND NOT b_{s-1} linearized exactly (st_s >= b_s - b_{s-1}, st_s <= b_s,
    st_s <= 1 - b_{s-1}); active day a_d = OR of b_s (a_d >= b_s, a_d <= sum b_s);
    breaks = sum_d (sum_s st_s - a_d). Exact, not just a bound, so that the fairness
    rule (which bounds breaks from both sides) is sound. Built once per model.
    """
    cached = getattr(mv, "_party_breaks", None)
    if cached is not None:
        return cached
    result: dict[int, cp_model.IntVar] = {}
    for party in range(len(instance.parties)):
        breaks = party_break_var(model, instance, mv, party)
        if breaks is not None:
            result[party] = breaks
    mv._party_breaks = result  # type: ignore[attr-defined]
    return result


def party_break_var(model: cp_model.CpModel, instance: Instance, mv: MeetingVars, party: int) -> cp_model.IntVar | None:
    """The exact break count of one participant (see ``party_breaks``); None when it can never have a break."""
    days = _day_slots_with_vars(instance, mv, party)
    if all(len(row) < 2 for row in days):
        return None  # never two possible meetings on one day: never a break
    terms, upper = [], 0
    for row in days:
        if len(row) < 2:
            continue
        upper += len(row) - 1
        previous_position, previous = None, []
        starts = []
        for position, now in row:
            busy_now = sum(mv.x[v] for v in now)
            if previous_position is not None and position == previous_position + 1:
                start = mv.derive(
                    model.new_bool_var(""),
                    lambda active, now=now, previous=previous: int(
                        any(v in active for v in now) and not any(v in active for v in previous)
                    ),
                )
                busy_before = sum(mv.x[v] for v in previous)
                model.add(start >= busy_now - busy_before)
                model.add(start <= busy_now)
                model.add(start <= 1 - busy_before)
                starts.append(start)
            else:
                starts.append(busy_now)  # the slot before is never busy: busy here = a block starts
            previous_position, previous = position, now
        everything = [v for _, own in row for v in own]
        active_day = mv.derive(
            model.new_bool_var(""), lambda active, everything=everything: int(any(v in active for v in everything))
        )
        for _, own in row:
            model.add(active_day >= sum(mv.x[v] for v in own))
        model.add(active_day <= sum(mv.x[v] for v in everything))
        day_breaks = sum(starts) - active_day
        _add_span(model, mv, row, day_breaks, len(row) - 1)
        terms.append(day_breaks)
    upper = min(upper, max(0, instance.parties[party].max_meetings - 1))
    unbroken = _add_windows(model, instance, mv, party, days)
    lower = min(break_lower_bound(instance, mv, party, days), upper)
    positions = {v: pos for row in days for pos, own in row for v in own}
    day_of = {v: d for d, row in enumerate(days) for _, own in row for v in own}

    def count(active, positions=positions, day_of=day_of, n_days=len(days)):
        per_day = [[] for _ in range(n_days)]
        for v in active:
            if v in positions:
                per_day[day_of[v]].append(positions[v])
        return breaks_of([sorted(p) for p in per_day])

    breaks = mv.derive(model.new_int_var(lower, max(lower, upper), ""), count)
    model.add(breaks == sum(terms))
    if unbroken is not None:  # [some break] = 1 - unbroken
        model.add(breaks >= 1 - unbroken)
        model.add(breaks <= max(lower, upper) * (1 - unbroken))
    return breaks


def _add_windows(model: cp_model.CpModel, instance: Instance, mv: MeetingVars, party: int, days) -> cp_model.LinearExprT | None:
    """Implied, LP-strong: a participant without breaks fills one window of n adjacent slots.

    Only for a participant whose meetings are all committed (count n fixed) and on one
    day: y_a = [its meetings fill positions a..a+n-1] for each window of usable slots,
    w = [it has a break], sum_a y_a + w = 1, and for every position s:
    busy_s >= sum_{a: s in window a} y_a, busy_s <= sum_{a: s in window a} y_a + w.
    In the LP relaxation an idle middle slot must be paid for by w (a break), which is
    what proves the optimum of tightly packed events. Returns sum_a y_a (= 1 - w).
    """
    own = {mv.cand_of[v] for row in days for _, vs in row for v in vs}
    if any(not instance.candidates[c].committed for c in own):
        return None
    rows = [row for row in days if row]
    if len(rows) != 1 or len(own) < 2:
        return None
    row = rows[0]
    n = len(own)
    busy = {position: sum(mv.x[v] for v in vs) for position, vs in row}
    starts = [a for a, _ in row if all(a + i in busy for i in range(n))]
    if not starts:
        return None
    windows = {}
    for a in starts:
        members = range(a, a + n)
        windows[a] = mv.derive(
            model.new_bool_var(""),
            lambda active, members=members, row=row: int(
                {pos for pos, vs in row if any(v in active for v in vs)} == set(members)
            ),
        )
    for position in busy:
        covering = [windows[a] for a in starts if a <= position < a + n]
        model.add(busy[position] >= sum(covering))
        model.add(busy[position] <= sum(covering) + 1 - sum(windows.values()))
    model.add(sum(windows.values()) <= 1)
    return sum(windows.values())


def _add_span(model: cp_model.CpModel, mv: MeetingVars, row: list[tuple[int, list[int]]], day_breaks, most: int) -> None:
    """Implied: first/last busy position f <= l of the day; no break <=> the meetings fill [f, l].

    Each meeting at position s forces f <= s <= l, so span = l - f + 1 is at least the
    true span; then span - meetings >= breaks (each break is at least one idle slot),
    and, with z = [no break that day], z => span = meetings. This interval reasoning
    propagates far better than the block-start sums alone (a meeting at s rules out
    every slot more than meetings - 1 away when z holds).
    """
    low, high = row[0][0], row[-1][0]
    first = model.new_int_var(low, high, "")
    last = model.new_int_var(low, high, "")
    mv.derive(first, lambda active, row=row: min([pos for pos, own in row if any(v in active for v in own)], default=row[0][0]))
    mv.derive(last, lambda active, row=row: max([pos for pos, own in row if any(v in active for v in own)], default=row[0][0]))
    meetings = 0
    for position, own in row:
        for v in own:
            model.add(first <= position).only_enforce_if(mv.x[v])
            model.add(last >= position).only_enforce_if(mv.x[v])
        meetings += sum(mv.x[v] for v in own)
    model.add(last >= first)
    model.add(last - first + 1 - meetings >= day_breaks)
    calm = model.new_bool_var("")
    mv.derive(calm, lambda active, row=row: int(breaks_of([[pos for pos, own in row if any(v in active for v in own)]]) == 0))
    model.add(day_breaks <= 0).only_enforce_if(calm)
    model.add(day_breaks >= 1).only_enforce_if(~calm)
    model.add(last - first + 1 - meetings <= 0).only_enforce_if(calm)


def breaks_objective(model: cp_model.CpModel, instance: Instance, mv: MeetingVars, secondary, secondary_range: int):
    """Soft: fewest total breaks first (the paper's objective), then the usual value terms as a tie-break.

    Returned as an expression to maximize: secondary - (secondary_range + 1) * total breaks,
    so one break outweighs any difference in the secondary terms.
    """
    steps, floor = [], 0
    for breaks in party_breaks(model, instance, mv).values():
        steps.extend(unary(model, mv, breaks))
        floor += list(breaks.proto.domain)[0]
    return secondary - (secondary_range + 1) * (floor + sum(steps))


def unary(model: cp_model.CpModel, mv: MeetingVars, breaks: cp_model.IntVar) -> list:
    """Literals u_k = [breaks >= k], k = 1..max, with breaks = lower + sum_k u_k.

    The objective is stated over these literals, not the integer: core-based search
    then first asks "can everyone be without (further) breaks?", which is a quick
    satisfiability question here, and each core it finds is a set of participants of
    whom one more must take a break.
    """
    low, high = list(breaks.proto.domain)[0], list(breaks.proto.domain)[-1]
    steps = []
    for k in range(low + 1, high + 1):
        step = mv.derive(model.new_bool_var(""), lambda active, k=k, breaks=breaks, mv=mv: 0)
        steps.append(step)
    if not steps:
        return []
    for a, b in zip(steps, steps[1:]):
        model.add_implication(b, a)
    model.add(breaks == low + sum(steps))
    # Hints: derived from the hint of ``breaks`` itself.
    value_of = next(f for var, f in mv.derived if var.index == breaks.index)
    for offset, step in enumerate(steps):
        k = low + 1 + offset
        position = next(i for i, (var, _f) in enumerate(mv.derived) if var.index == step.index)
        mv.derived[position] = (step, lambda active, k=k, value_of=value_of: int(value_of(active) >= k))
    return steps
