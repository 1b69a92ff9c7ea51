"""What the desk's test modules share: the bundled scenarios, and a test client on a real workspace."""

from __future__ import annotations

import warnings
from pathlib import Path

with warnings.catch_warnings():  # starlette's note that its TestClient will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from matchmaker.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "demo-small.json"
ANPING = ROOT / "scenarios" / "anping-2023.json"
IMPORT = ROOT / "scenarios" / "import-example"
BASE = "http://localhost"
HOSTILE = "<script>alert(1)</script>"


def desk_client(workspace: Path, base_url: str = BASE, **options) -> TestClient:
    """A test client of the desk on ``workspace`` (a real SQLite workspace and worker processes); use it in ``with``."""
    return TestClient(create_app(workspace, **options), base_url=base_url)
