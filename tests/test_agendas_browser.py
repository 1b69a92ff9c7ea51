"""Agenda pages printed by headless Chromium: one page of each language, every glyph from a real font.

How the check works: Chromium prints the page to PDF (``--print-to-pdf``), embedding a subset of each
font it drew with. TrueType fonts (Noto Sans, Noto Naskh Arabic, DejaVu) become Type0 fonts whose text
strings are 2-byte glyph ids (``Identity-H``); CFF fonts (Noto Sans CJK) become Type3 fonts whose codes
map to glyph names ``/g<glyph id in hex>``. A character that no installed font has is drawn as glyph 0,
``.notdef`` (the empty "tofu" box). The test reads every text operator of the PDF with pypdf and fails
on any glyph 0 — a probe page with a private-use character first shows that this Chromium's PDFs let
the check see one. It also checks which fonts drew the page (Chinese from Noto Sans CJK SC, the
Simplified-Chinese glyph forms that ``lang="zh-Hans"`` selects; Arabic from an Arabic font) and that
the page's text (from the PDF's ToUnicode maps; NFKC undoes Arabic presentation forms) holds words of
its language.

Needs ``/usr/bin/chromium``, the Noto fonts (``apt-get install -y fonts-noto-cjk fonts-noto-core``) and
pypdf (test extras); skipped with a message otherwise. ``.ci/run`` installs all three.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_html_browser import CHROMIUM
from test_i18n import ARABIC, CHINESE, mixed_meetings, mixed_scenario, schedule_of

from matchmaker.io.export import export_schedule

pypdf = pytest.importorskip("pypdf", reason="pypdf not installed (pip install -e '.[test]'); agenda PDF glyph checks skipped")

REQUIRED_FONTS = ("Noto Sans CJK SC", "Noto Naskh Arabic", "Noto Sans")


def _missing_fonts() -> list[str]:
    if shutil.which("fc-list") is None:
        return list(REQUIRED_FONTS)
    families = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, check=False).stdout
    installed = {name.strip() for line in families.splitlines() for name in line.split(",")}
    return [font for font in REQUIRED_FONTS if font not in installed]


if CHROMIUM is None:
    pytestmark = pytest.mark.skip(reason="headless Chromium not installed (apt-get install -y chromium); agenda PDF checks skipped")
elif _missing_fonts():
    pytestmark = pytest.mark.skip(
        reason=f"fonts {', '.join(_missing_fonts())} not installed (apt-get install -y fonts-noto-cjk fonts-noto-core); agenda PDF checks skipped"
    )


def print_to_pdf(page: Path, pdf: Path) -> Path:
    """Print ``page`` to ``pdf`` as Chromium's print dialog would (print CSS, A4 from ``@page``)."""
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={pdf.with_suffix('.profile')}",
        "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri(),
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0 and pdf.exists(), result.stderr[-2000:]
    return pdf


def _type3_names(font) -> dict[int, str]:
    """Code -> glyph name of a Type3 font's ``/Differences`` encoding."""
    names, code = {}, 0
    encoding = font["/Encoding"].get_object()
    for item in encoding.get("/Differences", []):
        if isinstance(item, int):
            code = item
        else:
            names[code] = str(item)
            code += 1
    return names


def _font_name(font) -> str:
    name = font.get("/BaseFont")
    if name is None and "/FontDescriptor" in font:
        name = font["/FontDescriptor"].get_object().get("/FontName")
    return str(name or "?").lstrip("/").split("+")[-1]  # drop the subset tag: AAAAAA+NotoSans-Regular


def read_pdf(path: Path) -> dict:
    """Fonts used, glyphs drawn as .notdef (font, count) and the text of every page of a Chromium PDF."""
    reader = pypdf.PdfReader(str(path))
    fonts, notdef, text = set(), [], []
    for page in reader.pages:
        text.append(page.extract_text())
        resources = page["/Resources"].get_object()
        page_fonts = {name: ref.get_object() for name, ref in resources.get("/Font", {}).items()}
        fonts |= {_font_name(font) for font in page_fonts.values()}
        current = None
        for operands, operator in pypdf.generic.ContentStream(page.get_contents(), reader).operations:
            if operator == b"Tf":
                current = page_fonts[operands[0]]
            elif operator in (b"Tj", b"TJ", b"'", b'"'):
                strings = operands[0] if operator == b"TJ" else operands[-1:]
                for item in strings:
                    if not isinstance(item, (pypdf.generic.ByteStringObject, pypdf.generic.TextStringObject)):
                        continue  # a TJ spacing number
                    raw = item.original_bytes if hasattr(item, "original_bytes") else bytes(item)
                    if current["/Subtype"] == "/Type3":
                        names = _type3_names(current)
                        missing = sum(1 for code in raw if names.get(code) == "/g0")
                    else:  # Type0, Identity-H: big-endian 2-byte glyph ids
                        missing = sum(1 for i in range(0, len(raw) - 1, 2) if raw[i] == raw[i + 1] == 0)
                    if missing:
                        notdef.append((_font_name(current), missing))
    return {"fonts": fonts, "notdef": notdef, "text": unicodedata.normalize("NFKC", "\n".join(text))}


# One agenda of each language; the Arabic and Chinese ones also hold the other's name.
PAGES = {
    "en": ("buyer-B2", ["Sunday", "October", "Meeting with", "Booth"]),
    "ru": ("buyer-B1", ["октября", "Переводчик", "Стенд", "Встреча"]),
    "ar": ("buyer-B3", ["أكتوبر", "مترجم", "قاعة", "الأحد"]),
    "zh": ("exhibitor-E2", ["星期日", "展位", "展厅", "翻译"]),
}


@pytest.fixture(scope="module")
def printed(tmp_path_factory) -> dict:
    scenario = mixed_scenario()
    folder = tmp_path_factory.mktemp("agendas-pdf")
    export_schedule(schedule_of(scenario, mixed_meetings()), scenario, ["agendas"], folder)
    probe = folder / "probe.html"
    probe.write_text('<!DOCTYPE html><html lang="en"><meta charset="utf-8"><p>Probe \ue000 box</p></html>', encoding="utf-8")
    jobs = {language: folder / "agendas" / f"{stem}.html" for language, (stem, _words) in PAGES.items()} | {"probe": probe}
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two browsers at a time
        futures = {key: pool.submit(print_to_pdf, page, folder / f"{key}.pdf") for key, page in jobs.items()}
        return {key: read_pdf(future.result()) for key, future in futures.items()}


def test_probe_shows_that_a_missing_glyph_is_seen(printed):
    if not printed["probe"]["notdef"]:
        pytest.skip("this Chromium does not draw .notdef for a missing character; the glyph check cannot see one")
    assert "Probe" in printed["probe"]["text"]


@pytest.mark.parametrize("language", list(PAGES))
def test_agenda_prints_every_glyph_from_a_real_font(printed, language):
    pdf = printed[language]
    assert pdf["notdef"] == [], f"{language}: glyphs drawn as missing-glyph boxes: {pdf['notdef']} (fonts: {sorted(pdf['fonts'])})"
    for word in PAGES[language][1]:
        assert word in pdf["text"], (language, word, pdf["text"][:400])
    if language == "zh":
        assert any(font.startswith("NotoSansCJKsc") for font in pdf["fonts"]), pdf["fonts"]
    if language == "ar":
        assert any("Arabic" in font for font in pdf["fonts"]), pdf["fonts"]
        assert any(font.startswith("NotoSansCJK") for font in pdf["fonts"]), pdf["fonts"]  # the Chinese exhibitor's name
        assert CHINESE in pdf["text"].replace(" ", "")
    if language == "zh":
        assert unicodedata.normalize("NFKC", ARABIC.split()[0]) in pdf["text"]  # the Arabic buyer's name ...
        assert any("Arabic" in font for font in pdf["fonts"]), pdf["fonts"]  # ... from an Arabic font
