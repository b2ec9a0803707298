"""Report language: the en/uk gettext catalogues, and numbers and dates by locale.

The catalogues are the `.po` files in `locale/<lang>/LC_MESSAGES/demine.po`, read at run
time with Babel (no compiled `.mo` to keep in step). Message ids are the English labels
that `survey.reports` marks with `N_`, the strings of the templates marked with `_`, and
the vocabulary codes (`cleared`, `MDD`, `CHA`) under the context `vocabulary` (listed in
`maps/reports/vocabulary.py`). `make messages` extracts them all into the catalogues.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any, Literal, get_args

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

Lang = Literal["en", "uk"]
LANGS: tuple[str, ...] = get_args(Lang)
DOMAIN = "demine"
VOCABULARY = "vocabulary"  # msgctxt of the vocabulary codes

# number patterns by unit: areas in m² need no decimals, km² two, shares one
_UNIT_PATTERN = {"m²": "#,##0", "km²": "#,##0.00", "ha": "#,##0.00", "%": "#,##0.0",
                 "USD": "#,##0.00", "USD/m²": "#,##0.00", "items": "#,##0",
                 "team-days": "#,##0.#", "m²/team-day": "#,##0.#", "people": "#,##0",
                 "teams": "#,##0", "months": "#,##0.#", "team-days/m²": "#,##0.#####",
                 "team-days/month": "#,##0.#"}
_KIND_PATTERN = {"int": "#,##0", "area": "#,##0", "float": "#,##0.##"}


def catalogue_path(lang: str) -> Any:
    """The `.po` file of a language (an importlib.resources Traversable)."""
    return files("maps.reports") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


class _Placeholders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass(frozen=True)
class Translator:
    """gettext for one language over a catalogue read from its `.po` file; a message with
    no translation falls back to its id (English)."""

    lang: str
    messages: dict[tuple[str | None, str], str | tuple[str, ...]] = field(repr=False)
    plural: Callable[[int], int] = field(repr=False)

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def gettext(self, message: str) -> str:
        found = self.messages.get((None, message))
        return found if isinstance(found, str) and found else message

    def pgettext(self, context: str, message: str) -> str:
        found = self.messages.get((context, message))
        return found if isinstance(found, str) and found else message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        found = self.messages.get((None, singular))
        if isinstance(found, tuple) and all(found):
            return found[min(self.plural(n), len(found) - 1)]
        return singular if n == 1 else plural

    def vocab(self, code: Any) -> str:
        """A vocabulary code (`cleared`, `MDD`) as the reader's word for it."""
        return self.pgettext(VOCABULARY, str(code))

    def label(self, message: str | None) -> str:
        """A label of the report (a message id), translated; '' for None."""
        return self.gettext(message) if message else ""

    def note(self, message: str | None, params: dict[str, Any] | None = None) -> str:
        """A note translated, then its `{name}` placeholders filled from `params` (numbers
        and dates in the reader's locale); a placeholder with no value stays as it is."""
        text = self.label(message)
        if not params or "{" not in text:
            return text
        values = _Placeholders({key: self.value(value) for key, value in params.items()})
        try:
            return text.format_map(values)
        except (ValueError, IndexError, AttributeError):
            return text  # a translation with a stray brace: print it, never fail the report

    def value(self, value: Any) -> str:
        """A loose value (a note's parameter) as the reader reads it."""
        if value is None:
            return "–"
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int):
            return self.number(value, kind="int")
        if isinstance(value, float | Decimal):
            return self.number(value, kind="float")
        if isinstance(value, datetime):
            return self.moment(value)
        if isinstance(value, date):
            return self.day(value)
        return str(value)

    def unit(self, unit: str | None) -> str:
        """A unit as printed (`items` → `од.`); symbols such as m² stay as they are."""
        return self.pgettext("unit", unit) if unit else ""

    def header(self, label: str, unit: str | None) -> str:
        """A column header: the label with its unit, `Released area (m²)`."""
        text = self.label(label)
        return f"{text} ({self.unit(unit)})" if unit else text

    # --- numbers and dates ---

    def number(self, value: int | float | Decimal | None, *, unit: str | None = None,
               kind: str = "float") -> str:
        """A number with the locale's grouping and decimal signs (`12 345,5` in uk)."""
        if value is None:
            return "–"
        pattern = _UNIT_PATTERN.get(unit or "") or _KIND_PATTERN.get(kind, "#,##0.##")
        return format_decimal(value, format=pattern, locale=self.lang)

    def quantity_parts(self, value: int | float | Decimal | date | None,
                       unit: str | None) -> tuple[str, str]:
        """A headline figure as (number, unit) to print apart: `("12 345", "м²")`; a month
        or a date is all number."""
        if isinstance(value, date) or value is None or not unit:
            return self.quantity(value, unit), ""
        return self.number(value, unit=unit), self.unit(unit)

    def quantity(self, value: int | float | Decimal | date | None, unit: str | None,
                 kind: str = "float") -> str:
        """A number followed by its unit, `12 345 m²`; a month (unit `month`) as its name,
        `березень 2027 р.`; a date as a date."""
        if isinstance(value, date):
            return self.month_long(value) if unit == "month" else self.day(value)
        text = self.number(value, unit=unit, kind=kind)
        return f"{text}\u00a0{self.unit(unit)}" if unit and value is not None else text

    def day(self, value: date | None, form: str = "long") -> str:
        return format_date(value, format=form, locale=self.lang) if value else ""

    def month(self, value: date | str) -> str:
        """A month on a chart axis: `Jan 2026` / `січ. 2026`."""
        day = value if isinstance(value, date) else date.fromisoformat(f"{str(value)[:7]}-01")
        return format_date(day, format="LLL yyyy", locale=self.lang)

    def month_long(self, value: date) -> str:
        """A month in full: `March 2027` / `березень 2027 р.`."""
        return format_date(value, format="LLLL yyyy", locale=self.lang)

    def moment(self, value: datetime) -> str:
        """An as-of time, in UTC and saying so."""
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return format_datetime(moment, format="medium", tzinfo=UTC,
                               locale=self.lang) + " UTC"

    def period(self, date_from: date | None, date_to: date | None) -> str:
        """The report's period in words; an open end says so."""
        if date_from and date_to:
            return f"{self.day(date_from)} – {self.day(date_to)}"
        if date_from:
            return self.gettext("from %(date)s") % {"date": self.day(date_from)}
        if date_to:
            return self.gettext("until %(date)s") % {"date": self.day(date_to)}
        return self.gettext("all dates")


@cache
def translator(lang: str) -> Translator:
    """The translator of one language, its catalogue read once per process."""
    if lang not in LANGS:
        from survey.errors import InvalidInput

        raise InvalidInput(f"unknown report language {lang!r}: use one of {', '.join(LANGS)}",
                           lang=lang)
    with catalogue_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang, domain=DOMAIN)
    messages: dict[tuple[str | None, str], str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        string = message.string
        messages[(message.context, key)] = (tuple(string) if isinstance(string, tuple | list)
                                            else str(string or ""))
    plural = stdlib_gettext.c2py(catalog.plural_expr)
    return Translator(lang=lang, messages=messages, plural=plural)
