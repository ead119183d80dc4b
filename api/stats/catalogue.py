# ruff: noqa: S608  (SQL assembled from this module's constants; values are bound)
"""The catalogue: the only tables partners can get, each a fixed grid over coarse codes.

There are no free combinations: a partner picks a table, may keep or collapse its
dimensions and filter by period, region and code, and everything is answered from the one
protected grid of the current release (see ``api.stats.service``).

Counting unit and contribution bound (the DP sensitivity): every table counts *distinct
persons* (victim records) per cell, except ``cases_by_state_region_month`` which counts
cases. Each person is counted at most once per cell, and in at most ``max_contributions``
cells of one table (their first cells in month order; the bound is enforced in the SQL
and almost never binds). The L1 sensitivity of a whole table is therefore
``max_contributions``. A person documented in two unrelated cases is two records: the
server cannot link them (names are sealed), so the privacy unit is one person record.

Dimensions use vocabulary codes (labels in en/be/ru/uk from ``api.vocab.registry``), the
ISO 3166-2:BY region, and the month. Months form a fixed grid from
``DOKAZ_STATS_FIRST_MONTH`` to the release month, plus ``earlier`` and ``unknown``.
Every dimension has an ``unknown`` level for missing codes so the grid adds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from api.vocab.registry import get_vocabulary

MONTH = "month"
EARLIER = "earlier"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Dimension:
    id: str
    vocab: str | None  # None for the month grid
    name: str  # English name; translated names come from the vocabulary
    # Only these codes of the vocabulary, in this order (the table's SQL selects no other);
    # None: every code of the vocabulary, plus ``unknown``.
    codes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TableSpec:
    id: str
    title: str
    description: str
    unit: str  # what one count is
    dims: tuple[Dimension, ...]
    max_contributions: int  # cells one person can add 1 to: the L1 sensitivity
    # The SELECT of distinct (person, dim1, dim2, ...) contributions; see repository.py.
    contributions_sql: str
    source: str  # the CTE it reads: "acts", "victims" or "cases"
    # Largest number of base rows behind one person (bounds their cells); None: always 1.
    bound_sql: str | None

    @property
    def dim_ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dims)

    def dim(self, dim_id: str) -> Dimension:
        for d in self.dims:
            if d.id == dim_id:
                return d
        raise KeyError(dim_id)


ACT_TYPE = Dimension("act_type", "act_type", "Act type")
REGION = Dimension("region", "region", "Region")
MONTH_DIM = Dimension(MONTH, None, "Month")
FACILITY = Dimension("facility_type", "facility_type", "Facility type")
METHOD = Dimension("torture_method", "torture_method", "Torture method")
PERPETRATOR = Dimension("perpetrator_type", "perpetrator_type", "Perpetrator type")
STATE = Dimension("state", "workflow_state", "Case state")
STATUS = Dimension("status", "status_at_end", "Current status")
SEX = Dimension("sex", "sex", "Sex")
AGE = Dimension("age_band", "age_band", "Age band")
LEGAL_BASIS = Dimension("article", "legal_basis", "Article")
ARREST_DAYS = Dimension("arrest_days_band", "arrest_days_band", "Administrative arrest")
FINE = Dimension("fine_band", "fine_band", "Fine")
NAMED_FACILITY = Dimension("facility", "facility", "Named place of detention")
COUNTRY = Dimension("country", "country", "Country of residence")
RECOGNISER = Dimension("recognised_by", "political_prisoner_recogniser", "Recognised by")
# The act types of transnational repression (docs/case-metadata.md, "Belarus coding").
TRANSNATIONAL = ("conviction_in_absentia", "pressure_on_relatives", "passport_refusal",
                 "wanted_notice", "extradition_request")
TNR_TYPE = Dimension("act_type", "act_type", "Act type", TRANSNATIONAL)

_PER_VICTIM_ACTS = (
    "SELECT count(*) FROM case_act GROUP BY victim_id ORDER BY 1 DESC LIMIT 1")


def _per_victim(table: str, join: str) -> str:
    # (most acts of one victim) x (most rows of ``table`` on one act): two single-table
    # aggregates over indexed columns, cheaper than joining the tables to count exactly.
    return (f"SELECT ({_PER_VICTIM_ACTS}) * (SELECT count(*) FROM {table} "
            f"GROUP BY {join} ORDER BY 1 DESC LIMIT 1)")


def _facility_attribute(attribute: str) -> str:
    """``a.facility`` mapped to one attribute of its term (oblast, facility type), as SQL.

    The codes come from our vocabulary files, which the registry validates against its
    code pattern (letters, digits, ``_`` and ``-`` only), so they are safe SQL literals."""
    whens = " ".join(f"WHEN '{t.code}' THEN '{t.attributes[attribute]}'"
                     for t in get_vocabulary("facility").terms if attribute in t.attributes)
    return f"CASE a.facility {whens} END"


def _country_code() -> str:
    """``residence_country`` (ISO alpha-2) as a code of the ``country`` vocabulary: a country
    not listed there is 'other', so a rare country of exile cannot point at one person."""
    listed = ", ".join(f"'{t.code}'" for t in get_vocabulary("country").terms
                       if t.code not in ("other", UNKNOWN))
    return ("CASE WHEN a.residence_country IS NULL THEN 'unknown' "
            f"WHEN lower(a.residence_country) IN ({listed}) THEN lower(a.residence_country) "
            "ELSE 'other' END")


# Each SELECT reads the CTEs ``victims`` (consenting victim records of countable cases,
# with their case's region and start month) and ``acts`` (their acts, region and month
# falling back to the case's), defined in repository.py. Column order = person, dims.
TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "acts_by_type_region_month",
        "Victims by act type, region and month",
        "Persons subjected to each type of act, by oblast and month the act began.",
        "persons (a person is counted once per act type, region and month)",
        (ACT_TYPE, REGION, MONTH_DIM),
        8,
        "SELECT DISTINCT a.victim_id, a.act_type, a.region, a.month FROM acts a",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "detentions_by_facility_region_month",
        "Detained persons by facility type, region and month",
        "Persons held, by type of place of detention, oblast and month detention began.",
        "persons (once per facility type, region and month)",
        (FACILITY, REGION, MONTH_DIM),
        6,
        "SELECT DISTINCT a.victim_id, d.facility_type, a.region, a.month FROM acts a "
        "JOIN case_detention d ON d.act_id = a.id",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "torture_methods_by_month",
        "Torture allegations by method and month",
        "Persons alleging each torture or ill-treatment method, by month of the act.",
        "persons (once per method and month; one person can allege several methods)",
        (METHOD, MONTH_DIM),
        10,
        "SELECT DISTINCT a.victim_id, k.code, a.month FROM acts a "
        "JOIN case_code k ON k.subject_id = a.id AND k.vocab = 'torture_method'",
        "acts",
        _per_victim("case_code", "subject_id"),
    ),
    TableSpec(
        "acts_by_perpetrator_month",
        "Victims by perpetrator type and month",
        "Persons harmed by acts attributed to each type of perpetrator, by month.",
        "persons (once per perpetrator type and month)",
        (PERPETRATOR, MONTH_DIM),
        8,
        "SELECT DISTINCT a.victim_id, i.perpetrator_type, a.month FROM acts a "
        "JOIN case_involvement i ON i.act_id = a.id",
        "acts",
        _per_victim("case_involvement", "act_id"),
    ),
    TableSpec(
        "disappearances_by_status_region_month",
        "Disappearances by current status, region and month last seen",
        "Persons reported disappeared, by what is known of them now, oblast and month "
        "last seen.",
        "persons (once per status, region and month)",
        (STATUS, REGION, MONTH_DIM),
        4,
        "SELECT DISTINCT a.victim_id, d.current_status, COALESCE(d.region, a.region), "
        "COALESCE(d.last_seen_month, a.month) FROM acts a "
        "JOIN case_disappearance d ON d.act_id = a.id",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "victims_by_sex_age_month",
        "Victims by sex, age band and month",
        "Persons documented as victims, by sex, 10-year age band and month events began.",
        "persons",
        (SEX, AGE, MONTH_DIM),
        1,
        "SELECT v.id, v.sex, v.age_band, v.month FROM victims v",
        "victims",
        None,
    ),
    TableSpec(
        "cases_by_state_region_month",
        "Cases by state, region and month",
        "Documented cases by review state, oblast and month events began. A case counts "
        "only when every victim in it consented to anonymised statistics.",
        "cases",
        (STATE, REGION, MONTH_DIM),
        1,
        "SELECT c.id, c.state, COALESCE(c.region, 'unknown'), c.period_start_month "
        "FROM counted_cases c",
        "cases",
        None,
    ),
    # ---- Belarus indicators (docs/case-metadata.md, "Partner indicators") ----
    TableSpec(
        "political_prisoners_by_region_month",
        "Recognised political prisoners by region and month of recognition",
        "Persons recognised as political prisoners (by Viasna, a joint statement of human "
        "rights groups or another body), by the oblast of their case and the month they "
        "were recognised. Not the number held in a month: a person is counted once.",
        "persons",
        (REGION, MONTH_DIM),
        1,
        "SELECT v.id, v.region, v.political_prisoner_month FROM victims v "
        "WHERE v.political_prisoner_recognised_by IS NOT NULL",
        "victims",
        None,
    ),
    # "Held on a date": a release is a snapshot, so this table answers for the day the
    # release was made (compare releases to follow it over time). A month-by-month series
    # would need a reliable end of every detention, which the coding does not guarantee.
    TableSpec(
        "political_prisoners_held",
        "Recognised political prisoners held on the date of the release",
        "Persons recognised as political prisoners whose detention is recorded as ongoing "
        "when the release was made, by the oblast of their case and who recognised them.",
        "persons",
        (REGION, RECOGNISER),
        1,
        "SELECT v.id, v.region, v.political_prisoner_recognised_by FROM victims v "
        "WHERE v.political_prisoner_recognised_by IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM case_act a JOIN case_detention d ON d.act_id = a.id "
        "WHERE a.victim_id = v.id AND d.ongoing)",
        "victims",
        None,
    ),
    TableSpec(
        "convictions_by_article_month",
        "Convictions and administrative rulings by article and month of the verdict",
        "Persons convicted or penalised under each article of the Criminal Code or the Code "
        "of Administrative Offences, by month of the verdict or ruling. One person can be "
        "counted under several articles of one verdict.",
        "persons (once per article and month)",
        (LEGAL_BASIS, MONTH_DIM),
        6,
        "SELECT DISTINCT a.victim_id, k.code, d.verdict_month FROM acts a "
        "JOIN case_detention d ON d.act_id = a.id "
        "JOIN case_code k ON k.subject_id = a.id AND k.vocab = 'legal_basis' "
        "WHERE d.verdict_month IS NOT NULL",
        "acts",
        _per_victim("case_code", "subject_id"),
    ),
    TableSpec(
        "admin_arrests_by_days_month",
        "Administrative arrests by length and month",
        "Persons given administrative arrest, by the days of arrest imposed (in bands) and "
        "the month the detention began.",
        "persons (once per band and month)",
        (ARREST_DAYS, MONTH_DIM),
        6,
        "SELECT DISTINCT a.victim_id, CASE WHEN d.admin_arrest_days <= 10 THEN 'days_1_10' "
        "WHEN d.admin_arrest_days <= 15 THEN 'days_11_15' "
        "WHEN d.admin_arrest_days <= 30 THEN 'days_16_30' ELSE 'days_31_plus' END, a.month "
        "FROM acts a JOIN case_detention d ON d.act_id = a.id "
        "WHERE d.admin_arrest_days > 0",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "fines_by_band_month",
        "Administrative fines by amount and month",
        "Persons fined, by the fine imposed (a band of base units) and the month the "
        "detention or proceedings began.",
        "persons (once per band and month)",
        (FINE, MONTH_DIM),
        6,
        "SELECT DISTINCT a.victim_id, d.fine_band, a.month FROM acts a "
        "JOIN case_detention d ON d.act_id = a.id WHERE d.fine_band IS NOT NULL",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "torture_by_facility_month",
        "Torture allegations by named place of detention and month",
        "Persons alleging torture or ill-treatment, by the named facility where it happened "
        "(unknown when none is named) and month of the act.",
        "persons (once per facility and month)",
        (NAMED_FACILITY, MONTH_DIM),
        6,
        "SELECT DISTINCT a.victim_id, a.facility, a.month FROM acts a "
        "WHERE a.act_type = 'torture'",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "torture_by_facility_type_region_month",
        "Torture allegations by type of facility, region and month",
        "Persons alleging torture or ill-treatment, by the type and oblast of the named "
        "facility where it happened (the act's oblast when no facility is named) and month.",
        "persons (once per facility type, region and month)",
        (FACILITY, REGION, MONTH_DIM),
        6,
        f"SELECT DISTINCT a.victim_id, {_facility_attribute('facility_type')}, "
        f"COALESCE({_facility_attribute('region')}, a.region), a.month FROM acts a "
        "WHERE a.act_type = 'torture'",
        "acts",
        _PER_VICTIM_ACTS,
    ),
    TableSpec(
        "transnational_repression_by_country_month",
        "Transnational repression by act type, country of residence and month",
        "Persons subjected to repression reaching them abroad (conviction in absentia, "
        "pressure on relatives, passport refusal, wanted notice, extradition request), by "
        "the country they live in and month of the act.",
        "persons (once per act type, country and month)",
        (TNR_TYPE, COUNTRY, MONTH_DIM),
        6,
        f"SELECT DISTINCT a.victim_id, a.act_type, {_country_code()}, a.month FROM acts a "
        f"WHERE a.act_type IN ({', '.join(repr(t) for t in TRANSNATIONAL)})",
        "acts",
        _PER_VICTIM_ACTS,
    ),
)

BY_ID = {t.id: t for t in TABLES}


@cache
def vocab_levels(vocab_id: str) -> tuple[str, ...]:
    """Codes of a vocabulary in its own order, plus ``unknown`` when it has none."""
    codes = [t.code for t in get_vocabulary(vocab_id).terms]
    return (*codes, UNKNOWN) if UNKNOWN not in codes else tuple(codes)


def month_levels(first_month: str, last_month: str) -> tuple[str, ...]:
    y, m = (int(x) for x in first_month.split("-"))
    out = [EARLIER]
    while f"{y:04d}-{m:02d}" <= last_month:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return (*out, UNKNOWN)


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def levels_for(spec: TableSpec, months: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(months if d.vocab is None else d.codes or vocab_levels(d.vocab)
                 for d in spec.dims)


def bin_value(value: object, levels: tuple[str, ...], *, is_month: bool) -> str:
    """Map a stored code onto the grid: missing or unlisted -> unknown, old months -> earlier."""
    if value is None or not isinstance(value, str) or not value:
        return UNKNOWN
    if is_month:
        first, last = levels[1], levels[-2]
        if len(value) != 7 or value[4] != "-":
            return UNKNOWN
        if value < first:
            return EARLIER
        return value if value <= last else UNKNOWN
    return value if value in levels else UNKNOWN
