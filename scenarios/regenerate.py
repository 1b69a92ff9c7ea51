"""Regenerate the bundled reference scenario matchmaker/data/anping-2023.json.

Run from anywhere: ``python scenarios/regenerate.py``. The file is
``generate_scenario("anping", 2023)`` written as pretty JSON; tests check that it
still matches the generator, so rerun this after changing matchmaker/io/generate.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from matchmaker.io.generate import generate_scenario

BUNDLED = Path(__file__).resolve().parent.parent / "matchmaker" / "data" / "anping-2023.json"
ANPING_SEED = 2023


def bundled_text() -> str:
    """The exact text the bundled file should have."""
    scenario = generate_scenario("anping", ANPING_SEED)
    data = scenario.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    # Default objective weights are left out so the file follows the library's defaults.
    data.pop("weights")
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    BUNDLED.write_text(bundled_text(), encoding="utf-8")
    print(f"wrote {BUNDLED}")


if __name__ == "__main__":
    main()
