"""Text in a reader's language: gettext catalogs for the fixed words, Babel's CLDR data for dates and times.

``translator("ru")`` returns a ``Translator`` with

- ``gettext("Meeting with %(name)s", name=...)``: the catalog's wording, values filled in;
- ``date``, ``time``, ``time_range``, ``timezone``, ``language_name``, ``number``: CLDR formats
  (``2023年10月22日星期日``, ``воскресенье, 22 октября 2023 г.``, ``الأحد، 22 أكتوبر 2023``);
- ``tag`` (BCP 47, for ``<html lang>`` and iCalendar ``LANGUAGE``) and ``direction`` (``rtl`` for Arabic).

Supported: English (the msgids themselves), Simplified Chinese (``zh_Hans``), Russian and Arabic.
``participant_language(languages)`` picks a participant's: the first entry of their ``languages``
when supported, otherwise English. Catalogs are the ``.po`` files in ``locale/<lang>/LC_MESSAGES/``,
compiled in memory on first use (no build step, no cache folder to write).

The organizer's desk has its own domain (``desk.po``, Simplified Chinese only): ``desk_translations(lang)``.
"""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval, format_time, get_timezone_gmt, get_timezone_name
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from ..errors import MatchmakerError

DOMAIN = "matchmaker"
# The desk's pages: a domain of its own, so the participants' catalogs need not carry the organizer's words.
DESK_DOMAIN = "desk"
DESK_LANGUAGES = ("en", "zh_Hans")
LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT_LANGUAGE = "en"
# Babel locale identifiers; English needs no catalog (its msgids are the English text).
SUPPORTED = ("en", "zh_Hans", "ru", "ar")
# What the CLI accepts: the codes scenarios use (``languages: ["zh", "en"]``).
CHOICES = ("en", "zh", "ru", "ar")


class UnsupportedLanguageError(MatchmakerError, ValueError):
    """A language was asked for that has no catalog."""


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; translate it where it is shown."""
    return message


def supported_language(code: str | None) -> str | None:
    """The supported language ``code`` means (``zh``, ``zh-CN``, ``zh_Hans`` -> ``zh_Hans``), or None.

    Traditional Chinese (``zh-TW``, ``zh-Hant``, ``zh-HK``) is not Simplified Chinese: None.
    """
    if not code or not code.strip():
        return None
    try:
        locale = Locale.parse(code.strip().replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if locale.language == "zh":
        return "zh_Hans" if locale.script in (None, "Hans") else None
    return locale.language if locale.language in SUPPORTED else None


def participant_language(languages: Sequence[str]) -> str:
    """A participant's reading language: their first listed language when supported, else English."""
    return (supported_language(languages[0]) if languages else None) or DEFAULT_LANGUAGE


def parse_language(code: str) -> str:
    """A language the caller asked for by name; UnsupportedLanguageError when there is no catalog for it."""
    found = supported_language(code)
    if found is None:
        raise UnsupportedLanguageError(f"language {code!r} is not supported; choose from {', '.join(CHOICES)}")
    return found


@functools.cache
def _catalog(language: str, domain: str = DOMAIN) -> gettext.NullTranslations:
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy (unchecked) translation falls back to English
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class Translator:
    """Fixed words, dates and times in one language."""

    language: str  # a SUPPORTED identifier
    locale: Locale
    catalog: gettext.NullTranslations

    @property
    def tag(self) -> str:
        """BCP 47 tag: ``zh-Hans``, ``ru``, ``ar``, ``en``."""
        return self.language.replace("_", "-")

    @property
    def direction(self) -> str:
        return self.locale.text_direction  # "rtl" for Arabic

    def gettext(self, message: str, **values: object) -> str:
        """The translation of ``message``, with ``%(name)s`` placeholders filled from ``values``."""
        text = self.catalog.gettext(message)
        return text % values if values else text

    @functools.lru_cache(maxsize=4096)  # noqa: B019  # translators live as long as the process anyway
    def date(self, day: date) -> str:
        """The full local date with its weekday: ``Sunday, October 22, 2023``, ``2023年10月22日星期日``."""
        return format_date(day, "full", locale=self.locale)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  # translators live as long as the process anyway
    def time(self, hhmm: str) -> str:
        return format_time(_clock(hhmm), "short", locale=self.locale)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  # translators live as long as the process anyway
    def time_range(self, start: str, end: str) -> str:
        """``9:30 – 9:50 AM``, ``09:30–09:50``, ``9:30–9:50 ص``: the locale's own interval format."""
        twelve_hour = "h" in self.locale.time_formats["short"].pattern
        return format_interval(_clock(start), _clock(end), "hm" if twelve_hour else "Hm", locale=self.locale)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  # translators live as long as the process anyway
    def timezone_name(self, zone: str, day: date) -> str:
        """The zone's local name on ``day`` (standard or summer time): ``China Standard Time``, ``中国标准时间``."""
        return get_timezone_name(datetime.combine(day, time(12), ZoneInfo(zone)), "long", locale=self.locale)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  # translators live as long as the process anyway
    def timezone(self, zone: str, day: date) -> str:
        """The zone's local name and offset on ``day``: ``China Standard Time (GMT+08:00)``."""
        offset = get_timezone_gmt(datetime.combine(day, time(12), ZoneInfo(zone)), locale=self.locale)
        return self.gettext("%(zone)s (%(offset)s)", zone=self.timezone_name(zone, day), offset=offset)

    @functools.lru_cache(maxsize=4096)  # noqa: B019  # translators live as long as the process anyway
    def language_name(self, code: str) -> str:
        """A language's name in this language (``ru`` -> ``俄语``); the code itself when CLDR has none."""
        try:
            return Locale.parse(code.replace("-", "_")).get_display_name(self.locale) or code
        except (ValueError, UnknownLocaleError):
            return code

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)


def _clock(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


@functools.cache
def translator(language: str = DEFAULT_LANGUAGE) -> Translator:
    """The translator of a supported language (``zh`` and ``zh-Hans`` both name Simplified Chinese)."""
    identifier = parse_language(language)
    return Translator(identifier, Locale.parse(identifier), _catalog(identifier))


def desk_translations(language: str) -> gettext.NullTranslations:
    """The desk's catalog in a DESK_LANGUAGES language (``zh`` names Simplified Chinese); English: the msgids."""
    identifier = parse_language(language)
    if identifier not in DESK_LANGUAGES:
        raise UnsupportedLanguageError(f"the desk is in {', '.join(DESK_LANGUAGES)}, not {language!r}")
    return _catalog(identifier, DESK_DOMAIN)


__all__ = [
    "CHOICES",
    "DEFAULT_LANGUAGE",
    "DESK_DOMAIN",
    "DESK_LANGUAGES",
    "SUPPORTED",
    "N_",
    "Translator",
    "UnsupportedLanguageError",
    "desk_translations",
    "parse_language",
    "participant_language",
    "supported_language",
    "translator",
]
