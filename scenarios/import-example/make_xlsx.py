"""Rebuild buyers.xlsx and exhibitors.xlsx from the CSV files next to this script.

The two variants hold the same data, so importing either gives the same scenario
(tests/test_import_export.py checks this). Number columns are stored as numbers
and own_interpreter as TRUE/FALSE, as Excel would.

    python scenarios/import-example/make_xlsx.py
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
NUMBERS = {"priority", "max_meetings", "max_meetings_per_day", "min_meetings", "tables"}
BOOLEANS = {"own_interpreter"}


def typed(column: str, text: str) -> object:
    if text == "":
        return None
    if column in NUMBERS:
        return int(text)
    if column in BOOLEANS:
        return text.lower() == "yes"
    return text


def convert(name: str) -> Path:
    with open(HERE / f"{name}.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = name
    header = rows[0]
    sheet.append(header)
    for row in rows[1:]:
        sheet.append([typed(column, text) for column, text in zip(header, row)])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(header, start=1):
        width = max(len(column), *(len(r[index - 1]) for r in rows[1:])) + 2
        sheet.column_dimensions[sheet.cell(1, index).column_letter].width = min(width, 60)
    workbook.properties.creator = "matchmaker"
    workbook.properties.created = workbook.properties.modified = datetime(2023, 9, 1)
    target = HERE / f"{name}.xlsx"
    workbook.save(target)
    return target


if __name__ == "__main__":
    for table in ("buyers", "exhibitors"):
        print(f"wrote {convert(table)}")
