"""The command line: a thin click layer over the library (``matchmaker.cli.main``)."""

from .main import main

__all__ = ["main"]
