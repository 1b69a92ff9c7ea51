"""The command line: a thin click layer over the library (``matchmaker.cli.main``)."""

from .main import main, run

__all__ = ["main", "run"]
