"""Each participant's files in their own language (issue 17): calendars, agenda pages, the CSV's text.

- the language rule (first listed language when supported, else English) and the catalogs (every
  message of the code translated, placeholders intact, standard fixed words);
- mixed scripts in one agenda (an Arabic buyer meeting a Chinese exhibitor), names kept exactly and
  escaped; CSV formula injection and iCalendar injection inside translated text;
- ``--language`` and ``--organizer-language``; booth calendars in their exhibitor's language;
- re-plans update calendars in place (UID, SEQUENCE, an "Updated" note, "Cancelled") in every language;
- the bundled Anping fair: every Russian-, Arabic- and Chinese-reading participant's calendar and agenda
  page carries text in that script besides the names (``native_text_report`` counts them).
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from babel.messages.pofile import read_po
from helpers import assert_no_traceback, invoke
from icalendar import Calendar
from jinja2 import Environment

from matchmaker.cli.import_export import LANGUAGE_CHOICES
from matchmaker.io.export import export_schedule
from matchmaker.io.export.common import file_stem
from matchmaker.io.export.ics import meeting_uid
from matchmaker.io.i18n import CHOICES, LOCALE_DIR, SUPPORTED, participant_language, supported_language, translator
from matchmaker.pipeline import SolveOptions, solve
from matchmaker.spec.scenario import Scenario, hhmm, load_scenario, minutes, parse_scenario
from matchmaker.spec.schedule import Meeting, ScenarioRef, Schedule

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "matchmaker"
DEMO = REPO / "scenarios" / "demo-small.json"
ANPING = REPO / "scenarios" / "anping-2023.json"
DAY = date(2023, 10, 22)

# The script of each language's own words (names are taken out before looking).
SCRIPTS = {"zh_Hans": re.compile(r"[\u4e00-\u9fff]"), "ru": re.compile(r"[\u0400-\u04ff]"), "ar": re.compile(r"[\u0600-\u06ff]")}
FOREIGN = re.compile(r"[\u4e00-\u9fff\u0400-\u04ff\u0600-\u06ff]")

ARABIC = "شركة الراشد للتجارة <b>&</b>"
CHINESE = "安平县恒泰丝网制品有限公司"
RUSSIAN = "ООО «Сетка-Строй»"
FORMULA = '=HYPERLINK("http://x","y")'
PERCENT = "100% Mesh %(name)s %s Co."
INJECTION = "Evil Ltd\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:pwned"


# ---------------------------------------------------------------------------
# The language rule and the catalogs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("languages", "expected"),
    [
        (["ru", "en"], "ru"), (["ar"], "ar"), (["zh", "en"], "zh_Hans"), (["zh-CN"], "zh_Hans"), (["zh-Hans"], "zh_Hans"),
        (["en", "zh"], "en"), (["th", "en"], "en"), (["de"], "en"), ([], "en"), ([""], "en"), (["zh-TW"], "en"), (["zh-Hant"], "en"),
        (["AR-eg"], "ar"), (["xx-invalid"], "en"),
    ],
)
def test_participant_language_is_the_first_listed_when_supported(languages, expected):
    assert participant_language(languages) == expected


def test_cli_choices_name_every_catalog():
    assert LANGUAGE_CHOICES == CHOICES
    assert sorted(supported_language(code) for code in CHOICES) == sorted(SUPPORTED)
    assert {p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/matchmaker.po")} == set(SUPPORTED) - {"en"}


def code_messages() -> set[str]:
    """Every msgid of the code: ``gettext("...")`` and ``N_("...")`` calls, and ``_()`` in the templates."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
                if name in ("gettext", "N_"):
                    found.add(node.args[0].value)
    environment = Environment(extensions=["jinja2.ext.i18n"])
    for path in (PACKAGE / "templates").glob("*.html"):
        for _line, _function, message in environment.extract_translations(path.read_text(encoding="utf-8")):
            message = message[0] if isinstance(message, tuple) else message
            if isinstance(message, str):
                found.add(message)
    return found


PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@pytest.mark.parametrize("language", [lang for lang in SUPPORTED if lang != "en"])
def test_catalog_translates_every_message_of_the_code(language):
    with (LOCALE_DIR / language / "LC_MESSAGES" / "matchmaker.po").open("rb") as source:
        catalog = read_po(source)
    messages = {m.id: m for m in catalog if m.id}
    used = code_messages()
    assert len(used) > 50
    assert sorted(used - messages.keys()) == [], "messages without a translation (see matchmaker/io/locale/README.md)"
    assert sorted(messages.keys() - used) == [], "translations of messages the code no longer uses"
    for msgid, message in messages.items():
        assert message.string and not message.fuzzy, msgid
        assert Counter(PLACEHOLDER.findall(message.string)) == Counter(PLACEHOLDER.findall(msgid)), msgid
        assert message.string.count("%") == msgid.count("%"), msgid  # no stray format characters
    assert not list(catalog.check())  # Babel's own checks (python-format)


# The fixed words, short and standard the way calendar programs word them.
STANDARD_WORDS = {
    "Meeting with %(name)s": {"zh_Hans": "与 X 会面", "ru": "Встреча с X", "ar": "اجتماع مع X"},
    "Booth": {"zh_Hans": "展位", "ru": "Стенд", "ar": "جناح"},
    "Hall": {"zh_Hans": "展厅", "ru": "Зал", "ar": "قاعة"},
    "Interpreter": {"zh_Hans": "翻译", "ru": "Переводчик", "ar": "مترجم"},
    "Cancelled: %(summary)s": {"zh_Hans": "已取消：X", "ru": "Отменено: X", "ar": "ملغى: X"},
    "Updated in schedule version %(version)s": {"zh_Hans": "已更新（日程第 X 版）", "ru": "Обновлено (версия расписания X)", "ar": "تم التحديث (إصدار الجدول X)"},
}


@pytest.mark.parametrize("message", list(STANDARD_WORDS))
def test_fixed_words_are_the_standard_ones(message):
    values = {name: "X" for name in PLACEHOLDER.findall(message)}
    for language, expected in STANDARD_WORDS[message].items():
        assert translator(language).gettext(message, **values) == expected
    assert translator("en").gettext(message, **values) == message % values if values else message


def spaced(text: str) -> str:
    """CLDR puts no-break and narrow no-break spaces where a reader sees a space (``2023\u202fг.``)."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_dates_times_and_zones_the_local_way():
    expected_date = {"en": "Sunday, October 22, 2023", "zh_Hans": "2023年10月22日星期日", "ru": "воскресенье, 22 октября 2023 г.", "ar": "الأحد، 22 أكتوبر 2023"}
    for language, text in expected_date.items():
        t = translator(language)
        assert spaced(t.date(DAY)) == text
        assert t.timezone("Asia/Shanghai", DAY).endswith(("(GMT+08:00)", "（GMT+08:00）", "(غرينتش+08:00)"))
    assert translator("en").time_range("14:00", "14:20").endswith("PM")  # CLDR's English clock
    assert "14:00" in translator("zh").time_range("14:00", "14:20") and "14:00" in translator("ru").time_range("14:00", "14:20")
    assert translator("zh").language_name("ar") == "阿拉伯语" and translator("ru").language_name("ru") == "русский"
    assert translator("ar").language_name("ru") == "الروسية" and translator("ar").direction == "rtl" and translator("zh").tag == "zh-Hans"


# ---------------------------------------------------------------------------
# Mixed scripts: an Arabic buyer meets a Chinese exhibitor; hostile names
# ---------------------------------------------------------------------------


def mixed_data() -> dict:
    """The demo fair with names in four scripts and hostile text (B1 reads Russian, B2 and B4 English,
    B3 Arabic, every exhibitor Chinese)."""
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    names = {"B1": RUSSIAN, "B2": INJECTION, "B3": ARABIC, "E1": FORMULA, "E2": CHINESE, "E5": PERCENT}
    for person in data["buyers"] + data["exhibitors"]:
        person["name"] = names.get(person["id"], person["name"])
    return data


def mixed_scenario() -> Scenario:
    return parse_scenario(mixed_data())


def mixed_meetings() -> list[Meeting]:
    return [
        Meeting(buyer="B3", exhibitor="E2", date=DAY, start="09:30", end="09:50", location="H1-A02", interpreter="ar"),
        Meeting(buyer="B1", exhibitor="E1", date=DAY, start="09:30", end="09:50", location="H1-A01", interpreter="ru"),
        Meeting(buyer="B4", exhibitor="E3", date=DAY, start="09:30", end="09:50", location="H1-A03"),
        Meeting(buyer="B2", exhibitor="E4", date=DAY, start="09:55", end="10:15", location="H2-A01"),
        Meeting(buyer="B3", exhibitor="E5", date=DAY, start="14:00", end="14:20", location="H2-A02"),
        Meeting(buyer="B1", exhibitor="E2", date=DAY, start="14:25", end="14:45", location="H1-A02", interpreter="ru"),
        Meeting(buyer="B2", exhibitor="E6", date=DAY, start="15:15", end="15:35", location="LOUNGE"),
    ]


def schedule_of(scenario: Scenario, meetings: list[Meeting], version: int = 1) -> Schedule:
    return Schedule(scenario=ScenarioRef(name=scenario.name, sha256=scenario.fingerprint()), version=version, meetings=meetings)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> dict:
    scenario = mixed_scenario()
    outdir = tmp_path_factory.mktemp("mixed")
    export_schedule(schedule_of(scenario, mixed_meetings()), scenario, ["ics", "agendas", "csv"], outdir)
    return {"scenario": scenario, "out": outdir}


def events(path: Path) -> dict[str, object]:
    return {str(e["UID"]): e for e in Calendar.from_ical(path.read_bytes()).walk("VEVENT")}


def uid(buyer: str, exhibitor: str) -> str:
    return meeting_uid(mixed_scenario().name, buyer, exhibitor)


def test_arabic_buyer_meeting_chinese_exhibitor_agendas(mixed):
    arabic = (mixed["out"] / "agendas" / "buyer-B3.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in arabic
    assert CHINESE in arabic and html.escape(PERCENT, quote=False) in arabic  # the counterparts, as registered
    assert html.escape(ARABIC, quote=False) in arabic and "<b>&</b>" not in arabic  # the buyer's own name, escaped
    for word in ("الأحد", "أكتوبر", "مترجم", "العربية", "قاعة", "جناح", "اجتماع مع", "توقيت الصين"):
        assert word in arabic, word

    chinese = (mixed["out"] / "agendas" / "exhibitor-E2.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans" dir="ltr">' in chinese
    assert html.escape(ARABIC, quote=False) in chinese and html.escape(RUSSIAN, quote=False) in chinese
    for word in ("2023年10月22日星期日", "阿拉伯语", "俄语", "展厅", "展位", "翻译", "中国标准时间", "会面对象"):
        assert word in chinese, word

    russian = (mixed["out"] / "agendas" / "buyer-B1.html").read_text(encoding="utf-8")
    assert '<html lang="ru" dir="ltr">' in russian and "22 октября 2023 г." in spaced(russian) and "Переводчик" in russian
    english = (mixed["out"] / "agendas" / "buyer-B2.html").read_text(encoding="utf-8")
    assert '<html lang="en" dir="ltr">' in english and "Sunday, October 22, 2023" in english
    assert "Evil Ltd\nEND:VEVENT" in english  # a name is text on a page, whatever it holds


def test_agenda_pages_one_per_participant_printable_and_closed(mixed, tmp_path):
    scenario = mixed["scenario"]
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (mixed["out"] / "agendas").glob("*.html")}
    assert set(pages) == {file_stem("buyer", b.id) for b in scenario.buyers} | {file_stem("exhibitor", e.id) for e in scenario.exhibitors}
    for text in pages.values():
        assert "@page" in text and "@media print" in text
        assert "default-src 'none'" in text and "<script" not in text and " src=" not in text and "<link" not in text
    # Without a meeting, a page still says so in its reader's words.
    export_schedule(schedule_of(scenario, []), scenario, ["agendas"], tmp_path)
    assert "暂无安排的会议。" in (tmp_path / "agendas" / "exhibitor-E6.html").read_text(encoding="utf-8")
    assert "لا توجد اجتماعات مجدولة." in (tmp_path / "agendas" / "buyer-B3.html").read_text(encoding="utf-8")


def test_calendars_mixed_scripts_and_injection(mixed):
    folder = mixed["out"] / "ics"
    arabic = events(folder / "buyer-B3.ics")[uid("B3", "E2")]
    assert str(arabic["SUMMARY"]) == f"اجتماع مع {CHINESE}" and arabic["SUMMARY"].params["LANGUAGE"] == "ar"
    assert "مترجم: العربية" in str(arabic["DESCRIPTION"]) and str(arabic["LOCATION"]) == "Hall 1، جناح H1-A02"
    chinese = events(folder / "exhibitor-E2.ics")[uid("B3", "E2")]
    assert str(chinese["SUMMARY"]) == f"与 {ARABIC} 会面" and chinese["SUMMARY"].params["LANGUAGE"] == "zh-Hans"
    assert f"买家：{ARABIC}（B3），Saudi Arabia" in str(chinese["DESCRIPTION"]) and "翻译：阿拉伯语" in str(chinese["DESCRIPTION"])
    percent = events(folder / "buyer-B3.ics")[uid("B3", "E5")]
    assert str(percent["SUMMARY"]) == f"اجتماع مع {PERCENT}"  # a name is never a format string
    calendar = Calendar.from_ical((folder / "buyer-B3.ics").read_bytes())
    assert "اجتماعات" in str(calendar["X-WR-CALDESC"])

    # iCalendar injection: line breaks in a name stay escaped inside one property of one event.
    lines = (folder / "exhibitor-E4.ics").read_bytes().split(b"\r\n")
    assert lines.count(b"BEGIN:VEVENT") == 1 and b"SUMMARY:pwned" not in lines
    (event,) = events(folder / "exhibitor-E4.ics").values()
    assert str(event["SUMMARY"]) == f"与 {INJECTION} 会面"


def test_booth_calendars_in_their_exhibitors_language_shared_places_in_the_organizers(mixed):
    folder = mixed["out"] / "ics"
    (booth,) = [e for u, e in events(folder / "location-H1-A01.ics").items()]
    assert booth["LOCATION"].params["LANGUAGE"] == "zh-Hans" and str(booth["LOCATION"]) == "Hall 1，展位 H1-A01"
    (lounge,) = events(folder / "location-LOUNGE.ics").values()
    assert lounge["DESCRIPTION"].params["LANGUAGE"] == "en" and "Interpreter: none needed" in str(lounge["DESCRIPTION"])


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_csv_text_columns_in_each_sides_language_and_formula_safe(mixed):
    rows = {(r["buyer_id"], r["exhibitor_id"]): r for r in read_csv(mixed["out"] / "meetings.csv")}
    row = rows[("B3", "E2")]
    assert (row["buyer_language"], row["exhibitor_language"]) == ("ar", "zh-Hans")
    assert row["buyer_text"].startswith(f"اجتماع مع {CHINESE} يوم الأحد، 22 أكتوبر 2023") and "بحضور مترجم (العربية)" in row["buyer_text"]
    assert row["exhibitor_text"].startswith("2023年10月22日星期日") and f"与 {ARABIC} 会面" in row["exhibitor_text"]
    row = rows[("B1", "E1")]
    assert spaced(row["buyer_text"]).startswith(f"Встреча с {FORMULA}: воскресенье, 22 октября 2023 г.")
    assert row["exhibitor_name"] == "'" + FORMULA  # as before: formula-safe
    row = rows[("B2", "E4")]
    assert row["buyer_language"] == "en" and row["buyer_text"].startswith("Meeting with Anping Demo Fence Co., Ltd. on Sunday, October 22, 2023")
    for row in rows.values():
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values())


# ---------------------------------------------------------------------------
# Organizer overrides
# ---------------------------------------------------------------------------


def test_language_forces_participant_files_organizer_language_the_organizers(tmp_path):
    scenario = mixed_scenario()
    (tmp_path / "fair.json").write_text(json.dumps(mixed_data(), ensure_ascii=False), encoding="utf-8")
    (tmp_path / "schedule.json").write_text(schedule_of(scenario, mixed_meetings()).to_json(), encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("export", tmp_path / "schedule.json", "--scenario", tmp_path / "fair.json", "-f", "all",
                    "--language", "ru", "--organizer-language", "zh", "-o", out)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "wrote 10 agenda pages" in result.output
    for page in (out / "agendas").glob("*.html"):
        assert '<html lang="ru" dir="ltr">' in page.read_text(encoding="utf-8")
    for calendar in (out / "ics").glob("*.ics"):  # booths and the shared lounge too
        assert {e["SUMMARY"].params["LANGUAGE"] for e in events(calendar).values()} <= {"ru"}
    assert {(r["buyer_language"], r["exhibitor_language"]) for r in read_csv(out / "meetings.csv")} == {("ru", "ru")}
    report = (out / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-Hans" dir="ltr">' in report and "摘要" in report and "查找参会者" in report
    workbook = openpyxl.load_workbook(out / "schedule.xlsx")
    assert workbook.sheetnames[:3] == ["概览", "买家日程", "参展商日程"]
    assert workbook["买家日程"]["A1"].value == "buyer_id"  # column names are keys, the same in every language

    result = invoke("export", tmp_path / "schedule.json", "--scenario", tmp_path / "fair.json", "--language", "fr", "-o", tmp_path / "x")
    assert result.exit_code == 2 and "'fr' is not one of" in result.stderr and not (tmp_path / "x").exists()


# ---------------------------------------------------------------------------
# Re-plans update in place, in every language
# ---------------------------------------------------------------------------

UPDATED = {"en": "Updated in schedule version 2", "zh-Hans": "已更新（日程第 2 版）", "ru": "Обновлено (версия расписания 2)", "ar": "تم التحديث (إصدار الجدول 2)"}
CANCELLED = {"en": "Cancelled: ", "zh-Hans": "已取消：", "ru": "Отменено: ", "ar": "ملغى: "}


def test_replanned_calendars_update_in_place_in_each_language(tmp_path):
    scenario = mixed_scenario()
    first = mixed_meetings()
    outdir = tmp_path / "export"
    export_schedule(schedule_of(scenario, first), scenario, ["ics"], outdir)
    before = {p.stem: events(p) for p in (outdir / "ics").glob("*.ics")}

    # Version 2: a meeting of every language moves, one of every language is dropped, B4-E3 stays.
    moves = {("B3", "E2"): "10:20", ("B1", "E1"): "14:00", ("B2", "E4"): "14:50"}
    dropped = {("B3", "E5"), ("B1", "E2"), ("B2", "E6")}
    second = []
    for m in first:
        key = (m.buyer, m.exhibitor)
        if key in dropped:
            continue
        if key in moves:
            start = moves[key]
            m = m.model_copy(update={"start": start, "end": hhmm(minutes(start) + 20)})
        second.append(m)
    export_schedule(schedule_of(scenario, second, version=2), scenario, ["ics"], outdir)
    after = {p.stem: events(p) for p in (outdir / "ics").glob("*.ics")}

    seen_languages = set()
    for buyer, exhibitor in moves:
        location = next(m.location for m in second if (m.buyer, m.exhibitor) == (buyer, exhibitor))
        for stem in (f"buyer-{buyer}", f"exhibitor-{exhibitor}", f"location-{location}"):
            event = after[stem][uid(buyer, exhibitor)]
            language = event["DESCRIPTION"].params["LANGUAGE"]
            seen_languages.add(language)
            assert int(event["SEQUENCE"]) == int(before[stem][uid(buyer, exhibitor)]["SEQUENCE"]) + 1
            assert str(event["DESCRIPTION"]).startswith(UPDATED[language] + "\n"), (stem, language)
            assert str(event["STATUS"]) == "CONFIRMED" and str(event["X-MATCHMAKER-UPDATED"]) == "2"
    for buyer, exhibitor in dropped:
        location = next(m.location for m in first if (m.buyer, m.exhibitor) == (buyer, exhibitor))
        for stem in (f"buyer-{buyer}", f"exhibitor-{exhibitor}", f"location-{location}"):
            event = after[stem][uid(buyer, exhibitor)]
            language = event["SUMMARY"].params["LANGUAGE"]
            seen_languages.add(language)
            assert str(event["STATUS"]) == "CANCELLED" and str(event["SUMMARY"]).startswith(CANCELLED[language]), (stem, language)
            assert int(event["SEQUENCE"]) == int(before[stem][uid(buyer, exhibitor)]["SEQUENCE"]) + 1
    assert seen_languages == set(UPDATED)
    stay = after["buyer-B4"][uid("B4", "E3")]
    assert int(stay["SEQUENCE"]) == 0 and stay.decoded("DTSTAMP") == before["buyer-B4"][uid("B4", "E3")].decoded("DTSTAMP")
    assert not str(stay["DESCRIPTION"]).startswith(UPDATED["en"])

    # The same schedule again, or a version 3 that changes nothing: not one byte changes (the notes stay).
    snapshot = {p.name: p.read_bytes() for p in (outdir / "ics").glob("*.ics")}
    export_schedule(schedule_of(scenario, second, version=2), scenario, ["ics"], outdir)
    export_schedule(schedule_of(scenario, second, version=3), scenario, ["ics"], outdir)
    assert {p.name: p.read_bytes() for p in (outdir / "ics").glob("*.ics")} == snapshot

    # A buyer who left: their calendar is rewritten with every meeting cancelled, in the language it was in.
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    data["buyers"] = [b for b in data["buyers"] if b["id"] != "B3"]
    data["requests"] = [r for r in data["requests"] if r["buyer"] != "B3"]
    smaller = parse_scenario({**data, "name": scenario.name})
    remaining = [m for m in second if m.buyer != "B3"]
    export_schedule(schedule_of(smaller, remaining, version=4), smaller, ["ics"], outdir)
    left = events(outdir / "ics" / "buyer-B3.ics").values()
    assert len(left) == 2 and all(str(e["STATUS"]) == "CANCELLED" and str(e["SUMMARY"]).startswith(CANCELLED["ar"]) for e in left)


# ---------------------------------------------------------------------------
# The bundled Anping fair: native text for every reader of Russian, Arabic and Chinese
# ---------------------------------------------------------------------------


def _ics_text(raw: bytes) -> str:
    """A calendar's text with folding and escapes undone, so registered names can be found in it."""
    text = raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").decode("utf-8")
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _page_text(page: str) -> str:
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def native_text_report(scenario: Scenario, outdir: Path) -> dict[str, Counter]:
    """Per reading language: how many participants read it, and how many of their calendars and agenda
    pages hold text in its script once every registered name (companies, countries, fair, halls, places)
    is taken out. English readers' files must hold no Chinese, Cyrillic or Arabic besides names."""
    names = {p.name for p in [*scenario.buyers, *scenario.exhibitors]} | {b.country for b in scenario.buyers}
    names |= {e.country for e in scenario.exhibitors if e.country} | {scenario.name, scenario.description or ""}
    names |= {h.name for h in scenario.halls if h.name} | {loc.name for loc in scenario.locations if loc.name}
    ordered_names = sorted((n for n in names if n), key=len, reverse=True)  # longest first: names inside names

    def without_names(text: str) -> str:
        for name in ordered_names:
            text = text.replace(name, " ")
        return text

    report: dict[str, Counter] = {}
    for side, people in (("buyer", scenario.buyers), ("exhibitor", scenario.exhibitors)):
        for person in people:
            language = participant_language(person.languages)
            counts = report.setdefault(language, Counter())
            counts["participants"] += 1
            stem = file_stem(side, person.id)
            texts = {
                "calendars": without_names(_ics_text((outdir / "ics" / f"{stem}.ics").read_bytes())),
                "agendas": without_names(_page_text((outdir / "agendas" / f"{stem}.html").read_text(encoding="utf-8"))),
            }
            for kind, text in texts.items():
                if language == "en":
                    counts[kind] += not FOREIGN.search(text)
                else:
                    counts[kind] += bool(SCRIPTS[language].search(text))
            page = (outdir / "agendas" / f"{stem}.html").read_text(encoding="utf-8")
            tag = translator(language)
            counts["lang declared"] += f'<html lang="{tag.tag}" dir="{tag.direction}">' in page
    return report


@pytest.fixture(scope="module")
def anping_export(tmp_path_factory) -> dict:
    scenario = load_scenario(ANPING)
    schedule = solve(scenario, SolveOptions(time_limit=1, workers=2, seed=0))
    outdir = tmp_path_factory.mktemp("anping")
    export_schedule(schedule, scenario, ["ics", "agendas"], outdir)
    return {"scenario": scenario, "schedule": schedule, "out": outdir}


def test_anping_every_participant_reads_their_own_language(anping_export):
    report = native_text_report(anping_export["scenario"], anping_export["out"])
    # The bundled fair: 56 Russian and 24 Arabic first languages among the buyers, 420 Chinese exhibitors.
    assert {language: counts["participants"] for language, counts in report.items()} == {"ru": 56, "ar": 24, "zh_Hans": 420, "en": 58}
    for language, counts in report.items():
        assert counts["calendars"] == counts["agendas"] == counts["lang declared"] == counts["participants"], (language, counts)
    interpreted = [m for m in anping_export["schedule"].meetings if m.interpreter]
    assert interpreted  # the pages name interpreter languages in the reader's words
    m = interpreted[0]
    page = (anping_export["out"] / "agendas" / f"{file_stem('exhibitor', m.exhibitor)}.html").read_text(encoding="utf-8")
    assert translator("zh").language_name(m.interpreter) in page
