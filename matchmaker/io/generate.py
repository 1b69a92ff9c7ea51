"""Seeded synthetic scenarios: a tiny one for tests, the 2023 Anping fair, and benchmark sizes.

Everything is drawn from one ``random.Random(seed)``, so a preset and a seed always give
the same scenario. The hard rules (pinned meetings and must requests) are placed on a
witness timetable while they are generated, so they are feasible together with every
participant's caps and availability by construction.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass

from ..instance.slots import Slot, build_slot_grid
from ..spec.scenario import Scenario, hhmm, minutes, parse_scenario

logger = logging.getLogger(__name__)

PRESETS = ("tiny", "anping", "large", "xl")

# Product categories, most commonly offered first (supply follows a Zipf-like curve).
CATEGORIES = (
    "welded-mesh",
    "hexagonal-netting",
    "chain-link-fence",
    "razor-barbed-wire",
    "woven-stainless-mesh",
    "gabion",
    "window-screen",
    "filter-mesh",
    "expanded-metal",
    "steel-grating",
    "perforated-metal",
    "crimped-mesh",
)
SUPPLY_WEIGHTS = tuple(1 / (rank**1.1) for rank in range(1, len(CATEGORIES) + 1))
# Demand is flatter than supply, so niche categories have few sellers for their buyers.
DEMAND_WEIGHTS = tuple(1 / (rank**0.6) for rank in range(1, len(CATEGORIES) + 1))

SECTORS = (
    "transportation",
    "water-conservancy",
    "animal-husbandry",
    "architectural-decoration",
    "petrochemical",
    "aerospace",
)
# Where each category is mostly used; drives the sectors of buyers and exhibitors.
CATEGORY_SECTORS = {
    "welded-mesh": ("architectural-decoration", "transportation", "animal-husbandry"),
    "hexagonal-netting": ("animal-husbandry", "water-conservancy"),
    "chain-link-fence": ("transportation", "architectural-decoration"),
    "razor-barbed-wire": ("transportation", "petrochemical"),
    "woven-stainless-mesh": ("petrochemical", "aerospace"),
    "gabion": ("water-conservancy", "transportation"),
    "window-screen": ("architectural-decoration",),
    "filter-mesh": ("petrochemical", "aerospace"),
    "expanded-metal": ("architectural-decoration", "petrochemical"),
    "steel-grating": ("petrochemical", "transportation", "architectural-decoration"),
    "perforated-metal": ("architectural-decoration", "aerospace"),
    "crimped-mesh": ("petrochemical", "transportation"),
}

FULL_DAY = (("09:30", "12:00"), ("13:30", "17:00"))
MORNING = (("09:30", "12:00"),)


@dataclass(frozen=True)
class _Preset:
    name: str
    title: str
    days: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (date, sessions)
    buyers: int
    exhibitors: int
    halls: int
    boothless: tuple[int, int]  # how many exhibitors meet at the shared lounge (range)
    lounge_tables: int
    countries: dict[str, int]  # buyer country -> relative weight
    interpreters: tuple[tuple[str, int, tuple[int, ...] | None], ...]  # language, count, day indices
    buyer_requests: tuple[int, int] = (2, 5)
    exhibitor_request_share: float = 0.3  # share of exhibitors who ask for buyers
    organizer_requests: float = 0.03  # per buyer
    musts_per_buyer: float = 0.3
    pins: int = 5
    blocked: int = 6
    # (country, languages) forced on the first buyer, so small presets always exercise the interpreter pool.
    first_buyer: tuple[str, tuple[str, ...]] | None = None


_ANPING_COUNTRIES = {
    "Russia": 26, "Singapore": 13, "Saudi Arabia": 12, "Kazakhstan": 7, "United Arab Emirates": 6,
    "Malaysia": 5, "India": 5, "Uzbekistan": 4, "Egypt": 4, "Australia": 4, "Iraq": 3,
    "United States": 3, "Vietnam": 3, "United Kingdom": 2, "Germany": 2, "Thailand": 1, "Indonesia": 1,
}
_GLOBAL_COUNTRIES = {
    "Russia": 12, "Kazakhstan": 5, "Uzbekistan": 4, "Saudi Arabia": 7, "United Arab Emirates": 6,
    "Egypt": 5, "Iraq": 3, "Singapore": 6, "Malaysia": 6, "India": 9, "Australia": 6, "United States": 8,
    "United Kingdom": 5, "Germany": 5, "Vietnam": 6, "Thailand": 4, "Indonesia": 5,
}

_PRESETS: dict[str, _Preset] = {
    "tiny": _Preset(
        name="tiny",
        title="Tiny synthetic wire mesh fair",
        days=(("2023-10-22", (("09:30", "12:00"), ("13:30", "15:30"))),),
        buyers=6,
        exhibitors=8,
        halls=2,
        boothless=(1, 2),
        lounge_tables=3,
        countries={"Russia": 3, "Saudi Arabia": 1, "Singapore": 1, "Germany": 1, "India": 1},
        interpreters=(("ru", 1, None),),
        buyer_requests=(1, 2),
        exhibitor_request_share=0.25,
        organizer_requests=0.0,
        musts_per_buyer=0.3,
        pins=1,
        blocked=1,
        first_buyer=("Russia", ("ru",)),
    ),
    "anping": _Preset(
        name="anping",
        title="China Anping International Wire Mesh Fair 2023 (synthetic participants)",
        days=(("2023-10-22", FULL_DAY), ("2023-10-23", FULL_DAY), ("2023-10-24", MORNING)),
        buyers=138,
        exhibitors=420,
        halls=4,
        boothless=(0, 0),
        lounge_tables=10,
        countries=_ANPING_COUNTRIES,
        # Arabic interpreters are only booked for the two full days.
        interpreters=(("ru", 4, None), ("ar", 2, (0, 1)), ("en", 6, None)),
        pins=5,
        blocked=6,
    ),
    "large": _Preset(
        name="large",
        title="Large synthetic wire mesh fair (1,000 buyers, 800 exhibitors)",
        days=(("2024-10-22", FULL_DAY), ("2024-10-23", FULL_DAY), ("2024-10-24", FULL_DAY)),
        buyers=1000,
        exhibitors=800,
        halls=6,
        boothless=(36, 44),
        lounge_tables=20,
        countries=_GLOBAL_COUNTRIES,
        interpreters=(("ru", 10, None), ("ar", 6, None), ("en", 16, None)),
        pins=15,
        blocked=25,
    ),
    "xl": _Preset(
        name="xl",
        title="XL synthetic wire mesh fair (5,000 buyers, 2,000 exhibitors)",
        days=(("2024-10-22", FULL_DAY), ("2024-10-23", FULL_DAY), ("2024-10-24", FULL_DAY)),
        buyers=5000,
        exhibitors=2000,
        halls=10,
        boothless=(90, 110),
        lounge_tables=40,
        countries=_GLOBAL_COUNTRIES,
        interpreters=(("ru", 40, None), ("ar", 20, None), ("en", 60, None)),
        pins=40,
        blocked=100,
    ),
}


# ---------------------------------------------------------------------------
# Names and languages
# ---------------------------------------------------------------------------

_CN_PREFIXES = ("Hebei Anping", "Anping County", "Anping", "Hengshui", "Hebei")
_CN_PREFIX_WEIGHTS = (4, 3, 3, 1, 1)
_CN_SYLLABLES = (
    "Xin", "Hai", "Jin", "Long", "Heng", "Rui", "Teng", "Fei", "Hua", "Yang", "Sheng", "Da", "Bo", "Yuan",
    "Yong", "Feng", "Tai", "Kang", "Ming", "Hong", "Chang", "Xing", "Shun", "Tong", "Li", "Ao", "Jia",
    "Cheng", "Run", "De", "Fu", "Hui",
)
_CN_PRODUCTS = {
    "welded-mesh": ("Wire Mesh", "Welded Mesh", "Metal Wire Products"),
    "hexagonal-netting": ("Hexagonal Wire Netting", "Wire Netting", "Wire Mesh"),
    "chain-link-fence": ("Fence", "Fencing", "Chain Link Fence"),
    "razor-barbed-wire": ("Barbed Wire", "Security Fencing", "Wire Products"),
    "woven-stainless-mesh": ("Stainless Steel Wire Mesh", "Wire Cloth", "Metal Mesh"),
    "gabion": ("Gabion", "Gabion Mesh", "Hydraulic Engineering Materials"),
    "window-screen": ("Window Screen", "Insect Screen"),
    "filter-mesh": ("Filter Equipment", "Filtration Technology", "Filter Mesh"),
    "expanded-metal": ("Expanded Metal", "Metal Products"),
    "steel-grating": ("Steel Grating", "Metal Grating"),
    "perforated-metal": ("Perforated Metal", "Hardware Products"),
    "crimped-mesh": ("Crimped Wire Mesh", "Screen Mesh"),
}
_CN_SUFFIXES = ("Co., Ltd.", "Co., Ltd.", "Manufacturing Co., Ltd.", "Trading Co., Ltd.", "Industrial Co., Ltd.", "Factory")

# (Latin, Cyrillic) parts of Russian-style company names: "Uralmetallsnab LLC" / ООО «Уралметаллснаб».
_RU_CORES = (("metall", "металл"), ("stroy", "строй"), ("setka", "сетка"), ("prom", "пром"), ("techno", "техно"))
_RU_ENDINGS = (("snab", "снаб"), ("torg", "торг"), ("servis", "сервис"), ("komplekt", "комплект"), ("", ""))
_RU_PLACES = {
    "Russia": (("Ural", "Урал"), ("Sib", "Сиб"), ("Volga", "Волга"), ("Don", "Дон"), ("Neva", "Нева"), ("Baikal", "Байкал")),
    "Kazakhstan": (("Kaz", "Каз"), ("Astana", "Астана"), ("Almaty", "Алматы"), ("Irtysh", "Иртыш")),
    "Uzbekistan": (("Uz", "Уз"), ("Tashkent", "Ташкент"), ("Samarkand", "Самарканд"), ("Fergana", "Фергана")),
}
_RU_FORMS = {"Russia": ("LLC", "ООО"), "Kazakhstan": ("LLP", "ТОО"), "Uzbekistan": ("LLC", "ООО")}

# (Latin, Arabic) family names for Arab buyers.
_AR_FAMILIES = (
    ("Al-Rashid", "الراشد"), ("Al-Harbi", "الحربي"), ("Al-Otaibi", "العتيبي"), ("Al-Qahtani", "القحطاني"),
    ("Al-Zahrani", "الزهراني"), ("Al-Mansour", "المنصور"), ("Al-Nour", "النور"), ("Al-Khalil", "الخليل"),
    ("Al-Hashimi", "الهاشمي"), ("Al-Faisal", "الفيصل"), ("Al-Saif", "السيف"), ("Al-Amal", "الأمل"),
)
_AR_FORMS = {
    "Saudi Arabia": ("{} Trading Est.", "{} Building Materials Co.", "{} Fencing & Steel Co."),
    "United Arab Emirates": ("{} General Trading LLC", "{} Building Materials Trading LLC"),
    "Egypt": ("{} for Import & Export", "{} Engineering Co."),
    "Iraq": ("{} General Contracting Co.", "{} Trading Co."),
}
_AR_SCRIPT_FORMS = ("مؤسسة {} للتجارة", "شركة {} لمواد البناء", "شركة {} للتجارة العامة")

_TRADES = (
    "Fencing", "Steel Supplies", "Building Materials", "Wire Products", "Industrial Supplies", "Agri Supplies",
    "Construction", "Hardware", "Mesh Solutions", "Filtration", "Infrastructure",
)
# Country -> (name stems, legal form template); "{stem} {trade}" is filled into the template.
_WESTERN_NAMES = {
    "Singapore": (("Straits", "Harbourfront", "Lion Gate", "Pioneer", "Eastwind", "Marina", "Tanjong"), "{} Pte. Ltd."),
    "Malaysia": (("Klang", "Penang", "Borneo", "Johor", "Selangor", "Seri Maju"), "{} Sdn. Bhd."),
    "India": (("Shree Balaji", "Ganesh", "Sai", "Bharat", "Krishna", "Deccan"), "{} Pvt. Ltd."),
    "Australia": (("Southern Cross", "Outback", "Coastal", "Murray", "Eureka"), "{} Pty Ltd"),
    "United States": (("Lone Star", "Great Lakes", "Pacific", "Keystone", "Liberty", "Prairie"), "{} Inc."),
    "United Kingdom": (("Thames", "Pennine", "Albion", "Northgate", "Severn"), "{} Ltd"),
    "Germany": (("Rhein", "Nord", "Süd", "Bayern", "Hansa", "Elbe"), "{} GmbH"),
    "Vietnam": (("Sai Gon", "Ha Noi", "Mekong", "Hoang Long", "Viet Thanh", "Minh Phat"), "{} Co., Ltd"),
    "Thailand": (("Siam", "Chao Phraya", "Rattana", "Bangkok"), "{} Co., Ltd."),
    "Indonesia": (("Surya", "Jaya", "Nusantara", "Mandiri", "Sinar"), "PT {}"),
}

# Country -> ((languages, weight), ...), first language first.
_BUYER_LANGUAGES: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "Russia": ((("ru",), 55), (("ru", "en"), 45)),
    "Kazakhstan": ((("ru",), 55), (("ru", "en"), 45)),
    "Uzbekistan": ((("ru",), 60), (("ru", "en"), 40)),
    "Saudi Arabia": ((("ar",), 35), (("ar", "en"), 65)),
    "United Arab Emirates": ((("ar", "en"), 50), (("en", "ar"), 50)),
    "Egypt": ((("ar",), 30), (("ar", "en"), 70)),
    "Iraq": ((("ar",), 50), (("ar", "en"), 50)),
    "Singapore": ((("en",), 50), (("en", "zh"), 50)),
    "Malaysia": ((("en", "ms"), 60), (("en", "zh", "ms"), 40)),
    "India": ((("en", "hi"), 1),),
    "Australia": ((("en",), 1),),
    "United States": ((("en",), 1),),
    "United Kingdom": ((("en",), 1),),
    "Germany": ((("de", "en"), 80), (("en", "de"), 20)),
    "Vietnam": ((("vi", "en"), 70), (("vi", "zh"), 15), (("en", "vi"), 15)),
    "Thailand": ((("th", "en"), 80), (("en", "th"), 20)),
    "Indonesia": ((("id", "en"), 70), (("en", "id"), 30)),
}


def _needs_interpreter(buyer_languages: list[str], exhibitor_languages: list[str], own_interpreter: bool) -> bool:
    """The format's interpreter rule (see docs/scenario-format.md); empty list = unknown = no need."""
    if own_interpreter or not buyer_languages or not exhibitor_languages:
        return False
    return not set(buyer_languages) & set(exhibitor_languages)


def _weighted_sample(rng: random.Random, items, weights, k: int) -> list:
    """k distinct items, each draw proportional to weight among those left."""
    pool, pool_weights = list(items), list(weights)
    chosen = []
    for _ in range(min(k, len(pool))):
        index = rng.choices(range(len(pool)), weights=pool_weights)[0]
        chosen.append(pool.pop(index))
        pool_weights.pop(index)
    return chosen


def _ceil_quarter(total_minutes: int) -> int:
    return -(-total_minutes // 15) * 15


def _floor_quarter(total_minutes: int) -> int:
    return total_minutes // 15 * 15


# ---------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------


class _Builder:
    """Draws one scenario; the drawing order is part of the seed's meaning, so keep it stable."""

    def __init__(self, preset: _Preset, seed: int):
        self.p = preset
        self.seed = seed
        self.rng = random.Random(seed)
        self.used_names: set[str] = set()

    def build(self) -> Scenario:
        self._make_calendar()
        self._make_halls()
        self._make_exhibitors()
        self._make_buyers()
        self._make_requests()
        self._start_witness()
        self._make_pins()
        self._make_musts()
        self._make_blocked()
        data = self._data()
        logger.debug(
            "generated %s seed %d: %d buyers, %d exhibitors, %d requests (%d must), %d pinned, %d blocked",
            self.p.name, self.seed, len(self.buyers), len(self.exhibitors), len(self.requests),
            len(self.musts), len(self.pins), len(self.blocked),
        )
        return parse_scenario(data)

    # --- calendar -----------------------------------------------------------

    def _make_calendar(self) -> None:
        self.slot_minutes, self.changeover = 20, 5
        self.dates = [d for d, _ in self.p.days]
        self.days_json = [
            {"date": d, "sessions": [{"start": start, "end": end} for start, end in sessions]}
            for d, sessions in self.p.days
        ]
        skeleton = Scenario.model_validate(
            {"name": "grid", "timezone": "Asia/Shanghai", "slot_minutes": self.slot_minutes,
             "changeover_minutes": self.changeover, "days": self.days_json}
        )
        grid = build_slot_grid(skeleton)
        self.slots: list[Slot] = grid.slots
        self.day_slots: list[list[Slot]] = [[self.slots[i] for i in day] for day in grid.by_day]
        self.day_span = [
            (min(minutes(s[0]) for s in sessions), max(minutes(s[1]) for s in sessions)) for _, sessions in self.p.days
        ]
        self.morning_span = [(minutes(sessions[0][0]), minutes(sessions[0][1])) for _, sessions in self.p.days]
        self.all_slots_mask = (1 << len(self.slots)) - 1

    def _mask(self, windows: list[list[int]] | None) -> int:
        """Bit set of the slots lying wholly inside the windows ([day, start, end] in minutes)."""
        if windows is None:
            return self.all_slots_mask
        mask = 0
        for day, lo, hi in windows:
            for slot in self.day_slots[day]:
                if lo <= slot.start and slot.end <= hi:
                    mask |= 1 << slot.index
        return mask

    def _full_windows(self, days) -> list[list[int]]:
        return [[d, *self.day_span[d]] for d in days]

    def _leave_early(self, window: list[int]) -> None:
        day, lo, hi = window
        inside = [s for s in self.day_slots[day] if lo <= s.start and s.end <= hi]
        if len(inside) < 3:
            return
        keep = self.rng.randrange(1, len(inside) - 1)
        # Round to a quarter hour, as people state it, unless that would keep the next slot.
        end = _ceil_quarter(inside[keep - 1].end)
        window[2] = end if end < inside[keep].end else inside[keep - 1].end

    def _arrive_late(self, window: list[int]) -> None:
        day, lo, hi = window
        inside = [s for s in self.day_slots[day] if lo <= s.start and s.end <= hi]
        if len(inside) < 3:
            return
        first = self.rng.randrange(1, len(inside) - 1)
        start = _floor_quarter(inside[first].start)
        window[1] = start if start > inside[first - 1].start else inside[first].start

    def _buyer_windows(self) -> list[list[int]] | None:
        rng, n = self.rng, len(self.dates)
        roll = rng.random()
        if n == 1 or roll < 0.45:
            days = list(range(n))
        elif roll < 0.75:
            first = rng.randrange(n - 1)
            days = [first, first + 1]
        else:
            days = [rng.randrange(n)]
        windows = self._full_windows(days)
        if rng.random() < 0.2:
            self._leave_early(windows[-1])
        if rng.random() < 0.1:
            self._arrive_late(windows[0])
        return None if windows == self._full_windows(range(n)) else windows

    def _exhibitor_windows(self) -> list[list[int]] | None:
        rng, n = self.rng, len(self.dates)
        roll = rng.random()
        if roll < 0.85:
            return None
        if roll < 0.92 and n > 1:
            return self._full_windows(range(n - 1))  # packs up before the last day
        if roll < 0.97:
            windows = self._full_windows(range(n))
            self._leave_early(windows[rng.randrange(n)])
            return None if windows == self._full_windows(range(n)) else windows
        return [[d, *self.morning_span[d]] for d in range(n)]  # staffs the booth only in the mornings

    def _windows_json(self, windows: list[list[int]] | None) -> list[dict] | None:
        if windows is None:
            return None
        return [{"date": self.dates[d], "start": hhmm(lo), "end": hhmm(hi)} for d, lo, hi in windows]

    # --- places -------------------------------------------------------------

    def _make_halls(self) -> None:
        rng, count = self.rng, self.p.halls
        self.hall_ids = [f"H{i + 1}" for i in range(count)]
        self.halls_json = [{"id": h, "name": f"Hall {i + 1}"} for i, h in enumerate(self.hall_ids)]
        # Halls stand in a row: neighbours are a short walk (within the changeover), others are not.
        self.walks_json = []
        for i in range(count):
            for j in range(i + 1, count):
                distance = j - i
                walk = rng.randint(4, 5) if distance == 1 else 6 + distance + rng.randint(0, 1)
                self.walks_json.append({"from": self.hall_ids[i], "to": self.hall_ids[j], "minutes": walk})
        self.lounge = {"id": "LOUNGE", "hall": "H1", "tables": self.p.lounge_tables, "name": "Business Matchmaking Lounge"}

    # --- exhibitors ---------------------------------------------------------

    def _unique(self, make) -> str:
        for _ in range(50):
            name = make()
            if name not in self.used_names:
                break
        else:
            name = f"{name} ({len(self.used_names) + 1})"
        self.used_names.add(name)
        return name

    def _exhibitor_name(self, primary: str) -> str:
        rng = self.rng

        def make() -> str:
            first, second = rng.sample(_CN_SYLLABLES, 2)
            prefix = rng.choices(_CN_PREFIXES, weights=_CN_PREFIX_WEIGHTS)[0]
            return f"{prefix} {first}{second.lower()} {rng.choice(_CN_PRODUCTS[primary])} {rng.choice(_CN_SUFFIXES)}"

        return self._unique(make)

    def _sectors_for(self, categories: list[str], count: int) -> list[str]:
        affinity = Counter({sector: 0.2 for sector in SECTORS})
        for category in categories:
            for sector in CATEGORY_SECTORS[category]:
                affinity[sector] += 1
        return _weighted_sample(self.rng, SECTORS, [affinity[s] for s in SECTORS], count)

    def _make_exhibitors(self) -> None:
        rng, count = self.rng, self.p.exhibitors
        width = len(str(count))
        boothless = set(rng.sample(range(count), rng.randint(*self.p.boothless)))
        # Halls are loosely themed (categories round-robin over the halls) but of similar size.
        theme_hall = {category: i % self.p.halls for i, category in enumerate(CATEGORIES)}
        hall_capacity = -(-(count - len(boothless)) * 115 // (100 * self.p.halls))
        booths_in_hall = Counter()
        self.exhibitors: list[dict] = []
        self.booths_json: list[dict] = []
        for index in range(count):
            offers = _weighted_sample(rng, CATEGORIES, SUPPLY_WEIGHTS, rng.choices((1, 2, 3), weights=(45, 35, 20))[0])
            languages = ["zh"] + [lang for lang, share in (("en", 0.6), ("ru", 0.1), ("ar", 0.03)) if rng.random() < share]
            exhibitor = {
                "id": f"E{index + 1:0{width}d}",
                "name": self._exhibitor_name(offers[0]),
                "sectors": self._sectors_for(offers, rng.randint(1, 3)),
                "languages": languages,
                "windows": self._exhibitor_windows(),
                "offers": offers,
                "country": "China",
                "location": None,
            }
            if rng.random() < 0.03:
                exhibitor["max_meetings_per_day"] = rng.randint(4, 8)
            if rng.random() < 0.01:
                exhibitor["max_meetings"] = rng.randint(8, 20)
            if rng.random() < 0.04:
                exhibitor["min_meetings"] = rng.randint(1, 2)
            hall = theme_hall[offers[0]] if rng.random() < 0.75 else rng.randrange(self.p.halls)
            if index not in boothless:
                if booths_in_hall[hall] >= hall_capacity:
                    hall = rng.choice([h for h in range(self.p.halls) if booths_in_hall[h] < hall_capacity])
                exhibitor["location"] = self._booth(hall, booths_in_hall)
            self.exhibitors.append(exhibitor)
        self.by_category: dict[str, list[int]] = {c: [] for c in CATEGORIES}
        for index, exhibitor in enumerate(self.exhibitors):
            for category in exhibitor["offers"]:
                self.by_category[category].append(index)
        self.exhibitor_masks = [self._mask(e["windows"]) for e in self.exhibitors]

    def _booth(self, hall: int, booths_in_hall: Counter) -> str:
        number = booths_in_hall[hall]
        booths_in_hall[hall] += 1
        row, seat = divmod(number, 20)  # rows A, B, ... of 20 booths; halls stay under 26 rows
        booth_id = f"{self.hall_ids[hall]}-{chr(ord('A') + row)}{seat + 1:02d}"
        self.booths_json.append({"id": booth_id, "hall": self.hall_ids[hall], "tables": 1})
        return booth_id

    # --- buyers -------------------------------------------------------------

    def _buyer_name(self, country: str) -> str:
        rng = self.rng

        def make() -> str:
            if country in _RU_PLACES:
                place, core, ending = rng.choice(_RU_PLACES[country]), rng.choice(_RU_CORES), rng.choice(_RU_ENDINGS)
                latin_form, cyrillic_form = _RU_FORMS[country]
                if rng.random() < 0.2:
                    return f"{cyrillic_form} «{place[1]}{core[1]}{ending[1]}»"
                return f"{place[0]}{core[0]}{ending[0]} {latin_form}"
            if country in _AR_FORMS:
                family = rng.choice(_AR_FAMILIES)
                if rng.random() < 0.2:
                    return rng.choice(_AR_SCRIPT_FORMS).format(family[1])
                return rng.choice(_AR_FORMS[country]).format(family[0])
            stems, form = _WESTERN_NAMES[country]
            return form.format(f"{rng.choice(stems)} {rng.choice(_TRADES)}")

        return self._unique(make)

    def _buyer_languages(self, country: str) -> tuple[list[str], bool]:
        rng = self.rng
        if rng.random() < 0.02:
            return [], False  # did not fill in the form
        options = _BUYER_LANGUAGES[country]
        languages = list(rng.choices([o for o, _ in options], weights=[w for _, w in options])[0])
        # Some Russian and Arabic speakers bring their own interpreter, above all those without English.
        own_interpreter = languages[0] in ("ru", "ar") and rng.random() < (0.3 if len(languages) == 1 else 0.08)
        return languages, own_interpreter

    def _make_buyers(self) -> None:
        rng, count = self.rng, self.p.buyers
        width = len(str(count))
        countries, country_weights = list(self.p.countries), list(self.p.countries.values())
        self.buyers: list[dict] = []
        for index in range(count):
            country = rng.choices(countries, weights=country_weights)[0]
            languages, own_interpreter = self._buyer_languages(country)
            if index == 0 and self.p.first_buyer is not None:
                country, languages, own_interpreter = self.p.first_buyer[0], list(self.p.first_buyer[1]), False
            interests = _weighted_sample(rng, CATEGORIES, DEMAND_WEIGHTS, rng.randint(2, 4))
            buyer = {
                "id": f"B{index + 1:0{width}d}",
                "name": self._buyer_name(country),
                "country": country,
                "sectors": self._sectors_for(interests, rng.randint(1, 3)),
                "languages": languages,
                "own_interpreter": own_interpreter,
                "windows": self._buyer_windows(),
                # The first interest is what brought them to the fair.
                "interests": {c: (rng.randint(3, 5) if i == 0 else rng.randint(1, 5)) for i, c in enumerate(interests)},
                "priority": rng.choices((1, 2, 3, 4, 5), weights=(5, 15, 55, 15, 10))[0],
                "max_meetings": rng.randint(8, 16),
                "max_meetings_per_day": rng.randint(5, 8),
            }
            if rng.random() < 0.06:
                buyer["min_meetings"] = rng.randint(3, 5)
            self.buyers.append(buyer)
        self.buyers_by_category: dict[str, list[int]] = {c: [] for c in CATEGORIES}
        for index, buyer in enumerate(self.buyers):
            for category in buyer["interests"]:
                self.buyers_by_category[category].append(index)
        self.buyer_masks = [self._mask(b["windows"]) for b in self.buyers]

    # --- requests -----------------------------------------------------------

    def _common(self, buyer: int, exhibitor: int) -> int:
        return self.buyer_masks[buyer] & self.exhibitor_masks[exhibitor]

    def _matching_exhibitor(self, buyer: int) -> int | None:
        """A random exhibitor offering one of the buyer's interests (weighted by interest)."""
        interests = [(c, w) for c, w in self.buyers[buyer]["interests"].items() if self.by_category[c]]
        if not interests:
            return None
        category = self.rng.choices([c for c, _ in interests], weights=[w for _, w in interests])[0]
        return self.rng.choice(self.by_category[category])

    def _matching_buyer(self, exhibitor: int) -> int | None:
        offers = [c for c in self.exhibitors[exhibitor]["offers"] if self.buyers_by_category[c]]
        if not offers:
            return None
        return self.rng.choice(self.buyers_by_category[self.rng.choice(offers)])

    def _make_requests(self) -> None:
        rng = self.rng
        self.requests: dict[tuple[int, int], str] = {}  # (buyer, exhibitor) -> by
        for buyer in range(len(self.buyers)):
            wanted = rng.randint(*self.p.buyer_requests)
            chosen: set[int] = set()
            for _ in range(20 * wanted):
                if len(chosen) >= wanted:
                    break
                exhibitor = self._matching_exhibitor(buyer)
                if exhibitor is None:
                    break
                # Mostly exhibitors they can actually meet; a few requests are hopeless (and get reported).
                if exhibitor in chosen or (not self._common(buyer, exhibitor) and rng.random() > 0.15):
                    continue
                chosen.add(exhibitor)
                self.requests[(buyer, exhibitor)] = "buyer"
        requested_by: dict[int, list[int]] = {}
        for buyer, exhibitor in self.requests:
            requested_by.setdefault(exhibitor, []).append(buyer)
        for exhibitor in range(len(self.exhibitors)):
            if rng.random() >= self.p.exhibitor_request_share:
                continue
            for _ in range(rng.randint(1, 3)):
                # Exhibitors often ask for buyers who already asked for them (mutual interest).
                if exhibitor in requested_by and rng.random() < 0.3:
                    buyer = rng.choice(requested_by[exhibitor])
                else:
                    buyer = self._matching_buyer(exhibitor)
                if buyer is None or not self._common(buyer, exhibitor):
                    continue
                pair = (buyer, exhibitor)
                self.requests[pair] = "both" if self.requests.get(pair) in ("buyer", "both") else "exhibitor"
        for _ in range(round(self.p.organizer_requests * len(self.buyers))):
            buyer = rng.randrange(len(self.buyers))
            exhibitor = self._matching_exhibitor(buyer)
            if exhibitor is not None and (buyer, exhibitor) not in self.requests:
                self.requests[(buyer, exhibitor)] = "organizer"

    # --- hard meetings on a witness timetable -------------------------------

    def _start_witness(self) -> None:
        """Empty witness timetable: who is busy when, per-day counts and lounge tables in use."""
        self.busy_buyer: list[set[int]] = [set() for _ in self.buyers]
        self.busy_exhibitor: list[set[int]] = [set() for _ in self.exhibitors]
        self.per_day: Counter = Counter()  # (kind, index, day) -> hard meetings
        self.lounge_in_use: Counter = Counter()
        self.pins: list[tuple[int, int, int]] = []  # buyer, exhibitor, slot
        self.musts: set[tuple[int, int]] = set()

    def _under_caps(self, person: dict, kind: str, index: int, busy: set[int], day: int) -> bool:
        if person.get("max_meetings") is not None and len(busy) + 1 > person["max_meetings"]:
            return False
        cap = person.get("max_meetings_per_day")
        return cap is None or self.per_day[(kind, index, day)] + 1 <= cap

    def _fits(self, buyer: int, exhibitor: int, slot: int) -> bool:
        day = self.slots[slot].day
        busy_b, busy_e = self.busy_buyer[buyer], self.busy_exhibitor[exhibitor]
        if slot in busy_b or slot in busy_e:
            return False
        # Keep a free slot either side of a buyer's hard meetings so walking between far halls never bites.
        for neighbour in (slot - 1, slot + 1):
            if neighbour in busy_b and self.slots[neighbour].day == day:
                return False
        if not self._under_caps(self.buyers[buyer], "b", buyer, busy_b, day):
            return False
        if not self._under_caps(self.exhibitors[exhibitor], "e", exhibitor, busy_e, day):
            return False
        if self.exhibitors[exhibitor]["location"] is None and self.lounge_in_use[slot] >= self.p.lounge_tables:
            return False
        return True

    def _place(self, buyer: int, exhibitor: int) -> int | None:
        """Put the meeting on a random fitting common slot of the witness; return it, or None."""
        common = self._common(buyer, exhibitor)
        slots = [s for s in range(len(self.slots)) if common >> s & 1]
        self.rng.shuffle(slots)
        for slot in slots:
            if self._fits(buyer, exhibitor, slot):
                day = self.slots[slot].day
                self.busy_buyer[buyer].add(slot)
                self.busy_exhibitor[exhibitor].add(slot)
                self.per_day[("b", buyer, day)] += 1
                self.per_day[("e", exhibitor, day)] += 1
                if self.exhibitors[exhibitor]["location"] is None:
                    self.lounge_in_use[slot] += 1
                return slot
        return None

    def _interpreter_free(self, buyer: int, exhibitor: int) -> bool:
        b = self.buyers[buyer]
        return not _needs_interpreter(b["languages"], self.exhibitors[exhibitor]["languages"], b["own_interpreter"])

    def _make_pins(self) -> None:
        """Organizer-fixed meetings: requested pairs without interpreter, one pin per person."""
        pairs = list(self.requests)
        self.rng.shuffle(pairs)
        pinned_people: set[tuple[str, int]] = set()
        for buyer, exhibitor in pairs:
            if len(self.pins) >= self.p.pins:
                break
            if ("b", buyer) in pinned_people or ("e", exhibitor) in pinned_people:
                continue
            if not self._interpreter_free(buyer, exhibitor):
                continue
            slot = self._place(buyer, exhibitor)
            if slot is not None:
                self.pins.append((buyer, exhibitor, slot))
                pinned_people |= {("b", buyer), ("e", exhibitor)}

    def _make_musts(self) -> None:
        """Promote some requests to must: ≥ 4 common slots, no interpreter needed, ≤ 2 per person."""
        rng = self.rng
        target = round(self.p.musts_per_buyer * len(self.buyers))
        pinned_pairs = {(b, e) for b, e, _ in self.pins}
        per_buyer, per_exhibitor = Counter(), Counter()
        pairs = list(self.requests)
        rng.shuffle(pairs)
        for buyer, exhibitor in pairs:
            if len(self.musts) >= target:
                break
            if (buyer, exhibitor) in pinned_pairs or per_exhibitor[exhibitor] >= 2 or per_buyer[buyer] >= 2:
                continue
            if per_buyer[buyer] == 1 and rng.random() > 0.25:
                continue  # most buyers have at most one must
            if self._common(buyer, exhibitor).bit_count() < 4 or not self._interpreter_free(buyer, exhibitor):
                continue
            if self._place(buyer, exhibitor) is not None:
                self.musts.add((buyer, exhibitor))
                per_buyer[buyer] += 1
                per_exhibitor[exhibitor] += 1
        if target and not self.musts:
            self._organizer_must(pinned_pairs)

    def _organizer_must(self, pinned_pairs: set[tuple[int, int]]) -> None:
        """A small fair may have no eligible request; then the organizer arranges one must meeting."""
        pairs = [
            (buyer, exhibitor)
            for buyer, b in enumerate(self.buyers)
            for exhibitor, e in enumerate(self.exhibitors)
            if set(b["interests"]) & set(e["offers"]) and (buyer, exhibitor) not in pinned_pairs
        ]
        self.rng.shuffle(pairs)
        for buyer, exhibitor in pairs:
            if self._common(buyer, exhibitor).bit_count() >= 4 and self._interpreter_free(buyer, exhibitor):
                if self._place(buyer, exhibitor) is not None:
                    self.requests[(buyer, exhibitor)] = "organizer"
                    self.musts.add((buyer, exhibitor))
                    return

    def _make_blocked(self) -> None:
        """Blocked pairs, never on a must or pinned pair; the first one is a requested pair (met before)."""
        rng = self.rng
        hard = self.musts | {(b, e) for b, e, _ in self.pins}
        self.blocked: dict[tuple[int, int], str] = {}
        wanted = sorted(pair for pair in self.requests if pair not in hard)
        if wanted and self.p.blocked:
            self.blocked[rng.choice(wanted)] = "met before"
        for _ in range(50 * self.p.blocked):
            if len(self.blocked) >= self.p.blocked:
                break
            buyer = rng.randrange(len(self.buyers))
            exhibitor = self._matching_exhibitor(buyer)
            if exhibitor is None or (buyer, exhibitor) in hard or (buyer, exhibitor) in self.blocked:
                continue
            self.blocked[(buyer, exhibitor)] = rng.choice(("competitor", "competitor", "met before"))

    # --- assembly -----------------------------------------------------------

    def _person_json(self, person: dict, fields: tuple[str, ...]) -> dict:
        out = {key: person[key] for key in fields if key in person}
        out["availability"] = self._windows_json(person["windows"])
        return out

    def _data(self) -> dict:
        p = self.p
        buyer_id = [b["id"] for b in self.buyers]
        exhibitor_id = [e["id"] for e in self.exhibitors]
        exhibitor_fields = ("id", "name", "sectors", "languages", "max_meetings", "max_meetings_per_day",
                            "min_meetings", "location", "offers", "country")
        buyer_fields = ("id", "name", "sectors", "languages", "max_meetings", "max_meetings_per_day",
                        "min_meetings", "country", "interests", "priority", "own_interpreter")
        requests = [
            {"buyer": buyer_id[b], "exhibitor": exhibitor_id[e], "by": by, "level": "must" if (b, e) in self.musts else "want"}
            for (b, e), by in sorted(self.requests.items())
        ]
        pinned = [
            {"buyer": buyer_id[b], "exhibitor": exhibitor_id[e], "date": str(self.slots[s].date), "start": hhmm(self.slots[s].start)}
            for b, e, s in sorted(self.pins, key=lambda pin: (pin[2], pin[0]))
        ]
        interpreters = []
        for language, count, days in p.interpreters:
            pool = {"language": language, "count": count}
            if days is not None:
                pool["availability"] = self._windows_json(self._full_windows(days))
            interpreters.append(pool)
        return {
            "name": p.title,
            "description": self._description(),
            "synthetic": True,
            "timezone": "Asia/Shanghai",
            "slot_minutes": self.slot_minutes,
            "changeover_minutes": self.changeover,
            "days": self.days_json,
            "halls": self.halls_json,
            "walking_minutes": self.walks_json,
            "locations": [self.lounge, *self.booths_json],
            "shared_location": self.lounge["id"],
            "exhibitors": [self._person_json(e, exhibitor_fields) for e in self.exhibitors],
            "buyers": [self._person_json(b, buyer_fields) for b in self.buyers],
            "requests": requests,
            "blocked": [
                {"buyer": buyer_id[b], "exhibitor": exhibitor_id[e], "reason": reason}
                for (b, e), reason in sorted(self.blocked.items())
            ],
            "interpreters": interpreters,
            "pinned": pinned,
        }

    def _description(self) -> str:
        made_up = (
            "All participants, companies, requests, pins and blocked pairs are synthetic "
            f"(generated by matchmaker.generate, preset {self.p.name!r}, seed {self.seed})."
        )
        if self.p.name == "anping":
            return (
                "Modelled on the China Anping International Wire Mesh Fair, Anping International Exhibition "
                "Center, Hengshui, Hebei, 22-24 October 2023: dates, venue, session times and product categories "
                "follow the real event. " + made_up
            )
        return made_up


def generate_scenario(preset: str, seed: int) -> Scenario:
    """A validated synthetic scenario; the same preset and seed always give the same scenario."""
    if preset not in _PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return _Builder(_PRESETS[preset], seed).build()


def late_changes(
    scenario: Scenario, seed: int, add_buyers: int = 12, remove_buyers: int = 3, shorten: int = 5
) -> Scenario:
    """The same fair a few days later: late buyers with requests, cancellations, shorter stays.

    Late buyers are borrowed from another seed of the same fair (ids ``L001``...;
    their requests become ``want``: a late buyer cannot demand a published slot).
    Removed buyers take their requests, pins and blocks with them. Shortened
    buyers (never one with a pin or a must request) lose the last of their days (or the
    afternoon when they have one day).
    """
    rng = random.Random(seed)
    data = scenario.model_dump(mode="json", by_alias=True)
    donor = generate_scenario(_preset_of(scenario), seed + 10_000).model_dump(mode="json", by_alias=True)
    exhibitor_ids = {e["id"] for e in data["exhibitors"]}

    removed = set(rng.sample(sorted(b["id"] for b in data["buyers"]), remove_buyers))
    data["buyers"] = [b for b in data["buyers"] if b["id"] not in removed]
    for key in ("requests", "pinned", "blocked"):
        data[key] = [item for item in data[key] if item["buyer"] not in removed]

    # A pin keeps its day, and so does a must request: shortening its buyer could leave it no slot
    # beside the published meetings a "keep" re-plan holds (anping: B036 lost its last day, with its
    # must meeting on it and its other half day full). Shorten others.
    committed_buyers = {p["buyer"] for p in data["pinned"]} | {r["buyer"] for r in data["requests"] if r.get("level") == "must"}
    for buyer in rng.sample([b for b in data["buyers"] if b["id"] not in committed_buyers], shorten):
        windows = buyer["availability"] or [
            {"date": d["date"], "start": s["start"], "end": s["end"]} for d in data["days"] for s in d["sessions"]
        ]
        attended = sorted({w["date"] for w in windows})
        if len(attended) > 1:
            windows = [w for w in windows if w["date"] != attended[-1]]
        else:
            windows = [{**w, "end": min(w["end"], "12:00")} for w in windows if w["start"] < "12:00"] or windows[:1]
        buyer["availability"] = windows

    late = rng.sample(donor["buyers"], add_buyers)
    renamed = {b["id"]: f"L{i + 1:03d}" for i, b in enumerate(late)}
    for buyer in late:
        data["buyers"].append({**buyer, "id": renamed[buyer["id"]], "min_meetings": 0})
    for request in donor["requests"]:
        if request["buyer"] in renamed and request["exhibitor"] in exhibitor_ids:
            data["requests"].append({**request, "buyer": renamed[request["buyer"]], "level": "want"})
    data["description"] = (data.get("description") or "") + f" Late changes (seed {seed}) applied."
    return parse_scenario(data)


def _preset_of(scenario: Scenario) -> str:
    """The preset whose size matches the scenario (late buyers come from the same kind of fair)."""
    for name in PRESETS:
        preset = _PRESETS[name]
        if getattr(preset, "buyers", None) == len(scenario.buyers):
            return name
    return "anping"
