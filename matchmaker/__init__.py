"""matchmaker: B2B matchmaking scheduler for trade fairs."""

__version__ = "0.1.0"
