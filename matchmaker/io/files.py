"""Writing output files safely: atomically, and never over an existing file unless forced."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import OutputError, OutputExistsError


def refuse_overwrite(path: str | Path, force: bool) -> None:
    """Raise OutputExistsError when ``path`` exists and ``force`` is not given."""
    if Path(path).exists() and not force:
        raise OutputExistsError(f"{path} already exists; use --force to overwrite it")


def check_writable_folder(folder: str | Path) -> None:
    """Fail early, without creating anything, when ``folder`` could not be written to."""
    existing = Path(folder).absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot write into {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {folder}: no permission to write in {existing}")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create folder {folder}: {error.strerror or error}") from None


def _file_mode() -> int:
    """0666 less the process umask: what an ordinary open() would have created."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, content: str | bytes, force: bool = False) -> Path:
    """Write via a temporary file in the same folder and rename it into place.

    A crash or a full disk leaves either the old file or the new one, never half
    of one. A file that already holds exactly ``content`` is left untouched.
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    refuse_overwrite(path, force)
    try:
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            return path
    except OSError:
        pass
    _make_folder(path.parent)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        os.chmod(temporary, _file_mode())  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
