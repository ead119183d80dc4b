"""The report form: its fields, and turning what a browser sent into checked values.

Everything a browser sends is text; this module parses it (numbers, dates, choices),
checks what only the web form asks (a date that exists, a known option), and describes
each problem as an English message id translated when the page is rendered. Rules of a
submission itself (limits, required consent, ...) stay in the intake schema; its
validation errors are mapped onto these fields by :func:`errors_from_schema`.

On any error the form is shown again with everything the person typed (files excepted:
browsers cannot refill a file input, and the page says so).
"""

from __future__ import annotations

import calendar
import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from api.web import choices
from api.web.i18n import N_

TEXT_FIELDS = (
    "narrative", "place_details", "person_name", "person_details", "perpetrator_details",
    "submitter_name", "contact",
)
LONG_TEXT_FIELDS = ("narrative", "place_details", "person_details", "perpetrator_details")
SHORT_TEXT_LIMIT = 500  # names and contacts (the intake schema's short text)
SINGLE_CHOICE = ("role", "region", "facility_type")
MULTI_CHOICE = ("categories", "consent")
FLAGS = ("when_approximate", "torture_risk")
DATE_FIELDS = ("when_year", "when_month", "when_day")
FIELD_ORDER = (
    "role", "categories", "torture_risk", "narrative", "when_day", "when_month", "when_year",
    "region", "facility_type", "place_details", "person_name", "person_details",
    "perpetrator_details", "submitter_name", "contact", "consent", "files",
)
EARLIEST_YEAR = 1990


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str  # an English message id
    # Numbers are written the reader's way; text (a file's name) is shown as it is.
    params: dict[str, int | str] = dataclasses.field(default_factory=dict)


@dataclass
class ReportInput:
    """What the person typed, kept verbatim so the form can be shown again."""

    text: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> ReportInput:
        out = cls()
        for name, value in pairs:
            if name in MULTI_CHOICE:
                out.multi.setdefault(name, []).append(value)
            elif name in FLAGS:
                if value == "1":
                    out.flags.add(name)
            elif name in TEXT_FIELDS or name in SINGLE_CHOICE or name in DATE_FIELDS:
                out.text[name] = value
        return out

    def get(self, name: str) -> str:
        return self.text.get(name, "")

    def has(self, name: str, code: str) -> bool:
        return code in self.multi.get(name, [])

    def flag(self, name: str) -> bool:
        return name in self.flags


@dataclass(frozen=True)
class ReportDate:
    year: int | None
    month: int | None
    day: int | None
    approximate: bool

    @property
    def start(self) -> str | None:
        """The partial date as the intake schema writes it: YYYY, YYYY-MM or YYYY-MM-DD."""
        if self.year is None:
            return None
        parts = [f"{self.year:04d}"]
        if self.month is not None:
            parts.append(f"{self.month:02d}")
            if self.day is not None:
                parts.append(f"{self.day:02d}")
        return "-".join(parts)


def _int(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 4:
        raise ValueError(value)
    return int(value)


def parse_date(data: ReportInput, today: date) -> tuple[ReportDate | None, list[FieldError]]:
    errors: list[FieldError] = []
    try:
        year = _int(data.get("when_year"))
    except ValueError:
        return None, [FieldError("when_year", N_("Write the year as four digits, e.g. 2021."))]
    try:
        month = _int(data.get("when_month"))
    except ValueError:
        month = 0
    try:
        day = _int(data.get("when_day"))
    except ValueError:
        day = 0
    if year is not None and not EARLIEST_YEAR <= year <= today.year:
        errors.append(FieldError("when_year", N_("The year must be between %(min)s and %(max)s."),
                                 {"min": EARLIEST_YEAR, "max": today.year}))
    if month is not None and not 1 <= month <= 12:
        errors.append(FieldError("when_month", N_("Choose a month from the list.")))
    if (month is not None or day is not None) and year is None:
        errors.append(FieldError("when_year", N_("If you give a month or a day, give the "
                                                 "year too.")))
    if day is not None and month is None:
        errors.append(FieldError("when_month", N_("If you give a day, give the month too.")))
    if errors:
        return None, errors
    if year is not None and month is not None and day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            return None, [FieldError("when_day", N_("This month has days 1 to %(max)s."),
                                     {"max": last})]
        if date(year, month, day) > today:
            return None, [FieldError("when_day", N_("The date is in the future."))]
    elif year is not None and month is not None and (year, month) > (today.year, today.month):
        return None, [FieldError("when_month", N_("The date is in the future."))]
    return ReportDate(year, month, day, data.flag("when_approximate")), []


def validate(data: ReportInput, today: date, max_text_chars: int) -> list[FieldError]:
    """Problems with what the browser sent, in the order of the form."""
    errors: list[FieldError] = []
    if not data.get("narrative").strip():
        errors.append(FieldError("narrative", N_("Please describe what happened.")))
    for name in TEXT_FIELDS:
        limit = max_text_chars if name in LONG_TEXT_FIELDS else SHORT_TEXT_LIMIT
        if len(data.get(name)) > limit:
            errors.append(FieldError(name, N_("Please write at most %(max)s characters here "
                                              "(you wrote %(count)s)."),
                                     {"max": limit, "count": len(data.get(name))}))
    for name in SINGLE_CHOICE:
        value = data.get(name)
        if value and not choices.is_valid(name, value):
            errors.append(FieldError(name, N_("Choose one of the options in the list.")))
    if not data.get("role"):
        errors.append(FieldError("role", N_("Tell us how you are connected to what happened "
                                            "(you may choose \u201cother\u201d).")))
    if not data.multi.get("categories"):
        errors.append(FieldError("categories", N_("Choose at least one kind of violation "
                                                  "(or \u201cother\u201d).")))
    for name in MULTI_CHOICE:
        for value in data.multi.get(name, []):
            if not choices.is_valid(name, value):
                errors.append(FieldError(name, N_("Choose one of the options in the list.")))
                break
    _, date_errors = parse_date(data, today)
    errors.extend(date_errors)
    order = {name: i for i, name in enumerate(FIELD_ORDER)}
    return sorted(errors, key=lambda e: order.get(e.field, len(order)))


def errors_from_schema(problems: list[dict[str, Any]], mapping: dict[str, str]) -> list[FieldError]:
    """Pydantic errors of the intake schema, as person-facing errors on form fields."""
    out: list[FieldError] = []
    for problem in problems:
        loc = [str(part) for part in problem.get("loc", ())]
        name = next((mapping[p] for p in loc if p in mapping), "narrative")
        kind = str(problem.get("type", ""))
        if kind in ("string_too_long", "too_long"):
            ctx = problem.get("ctx") or {}
            limit = int(ctx.get("max_length", 0))
            out.append(FieldError(name, N_("Please write at most %(max)s characters here."),
                                  {"max": limit}))
        elif kind == "missing" or kind == "string_too_short":
            out.append(FieldError(name, N_("Please fill in this field.")))
        else:
            out.append(FieldError(name, N_("Please check this field.")))
    return out
