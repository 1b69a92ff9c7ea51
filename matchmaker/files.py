"""Writing output files safely: atomically, and never over an existing file unless forced."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputExistsError


def refuse_overwrite(path: str | Path, force: bool) -> None:
    """Raise OutputExistsError when ``path`` exists and ``force`` is not given."""
    if Path(path).exists() and not force:
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it")


def write_atomic(path: str | Path, text: str, force: bool = False) -> Path:
    """Write text via a temporary file in the same folder and rename it into place.

    A crash or a full disk leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    refuse_overwrite(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
