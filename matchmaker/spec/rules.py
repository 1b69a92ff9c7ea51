"""Names of the hard rules: the labels the checker reports and the solver's rule registry uses.

One constant per rule label. ``analysis/checker.py`` labels its violations with these,
and ``solver/rules.py`` says which registry entry (CP-SAT adder and incremental fit
test) enforces each one, so a label without a home is caught by tests/test_rules.py.
"""

from __future__ import annotations

UNKNOWN_PARTICIPANT = "unknown-participant"
NOT_A_SLOT = "not-a-slot"
WRONG_LOCATION = "wrong-location"
UNAVAILABLE = "unavailable"
DOUBLE_BOOKED = "double-booked"
TABLE_CAPACITY = "table-capacity"
PAIR_REPEATED = "pair-repeated"
BLOCKED_PAIR = "blocked-pair"
MAX_MEETINGS = "max-meetings"
MAX_MEETINGS_PER_DAY = "max-meetings-per-day"
MUST_MISSING = "must-missing"
PINNED_MISSING = "pinned-missing"
WALKING_TIME = "walking-time"
INTERPRETER_FIELD = "interpreter-field"
INTERPRETER_CAPACITY = "interpreter-capacity"
SESSION = "session"
PRECEDENCE = "precedence"
BREAK_FAIRNESS = "break-fairness"

LABELS = (
    UNKNOWN_PARTICIPANT,
    NOT_A_SLOT,
    WRONG_LOCATION,
    UNAVAILABLE,
    DOUBLE_BOOKED,
    TABLE_CAPACITY,
    PAIR_REPEATED,
    BLOCKED_PAIR,
    MAX_MEETINGS,
    MAX_MEETINGS_PER_DAY,
    MUST_MISSING,
    PINNED_MISSING,
    WALKING_TIME,
    INTERPRETER_FIELD,
    INTERPRETER_CAPACITY,
)
# Rules of symmetric brokerage events (participants, sessions, precedences, break
# fairness; docs/brokerage.md). Their checker cases live in tests/test_brokerage.py.
BROKERAGE_LABELS = (SESSION, PRECEDENCE, BREAK_FAIRNESS)
ALL_LABELS = LABELS + BROKERAGE_LABELS
