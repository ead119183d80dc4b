"""The queue's tabs: which cases each one lists, as the list API's filters.

A tab is a name, its label and the filters it adds; the page's own filters (state,
priority, region, act type, urgency reason, received dates) narrow any tab, and sorting
and paging are the list API's (``api.cases.service.list_cases``), so the console can
show nothing the API would not.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from fastapi import Request

from api.cases.repository import CaseFilters
from api.cases.workflow.states import OPEN_STATES, CaseState
from api.console.i18n import N_
from api.core.dependencies import app_settings
from api.core.errors import InvalidInput
from api.vocab.registry import codes

OPEN = [s.value for s in OPEN_STATES]


@dataclass(frozen=True)
class Tab:
    name: str
    label: str
    filters: Callable[[uuid.UUID], CaseFilters]


TABS: tuple[Tab, ...] = (
    Tab("mine", N_("My cases"), lambda me: CaseFilters(states=OPEN, assignee_id=me)),
    Tab("unassigned", N_("Unassigned"), lambda me: CaseFilters(states=OPEN, unassigned=True)),
    Tab("urgent", N_("Urgent"), lambda me: CaseFilters(states=OPEN, urgent=True)),
    Tab("overdue", N_("Overdue"), lambda me: CaseFilters(states=OPEN, overdue=True)),
    Tab("waiting", N_("Waiting for the submitter"),
        lambda me: CaseFilters(states=[CaseState.NEEDS_INFO.value])),
    Tab("unanswered", N_("Waiting for our answer"),
        lambda me: CaseFilters(states=OPEN, awaiting_answer=True)),
    Tab("open", N_("All open"), lambda me: CaseFilters(states=OPEN)),
    Tab("all", N_("All"), lambda me: CaseFilters()),
)
BY_NAME: Mapping[str, Tab] = {t.name: t for t in TABS}
SORTS = ("received_on", "priority", "urgency", "state_changed_at", "due")


@dataclass(frozen=True)
class QueueQuery:
    """What the queue page was asked for, checked (values from the page's own choices)."""

    tab: Tab
    states: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    act_types: tuple[str, ...] = ()
    urgency_reason: str | None = None
    received_from: date | None = None
    received_to: date | None = None
    sort: str = "received_on"
    descending: bool = True
    cursor: str | None = None

    def filters(self, me: uuid.UUID, tab: Tab | None = None) -> CaseFilters:
        base = (tab or self.tab).filters(me)
        narrowed = replace(base, priorities=list(self.priorities), regions=list(self.regions),
                           act_types=list(self.act_types), urgency_reason=self.urgency_reason,
                           received_from=self.received_from, received_to=self.received_to)
        if self.states:
            allowed = set(base.states) if base.states else None
            states = [s for s in self.states if allowed is None or s in allowed]
            # A state outside the tab's own: nothing matches, rather than widening the tab.
            narrowed = replace(narrowed, states=states or ["-"])
        return narrowed

    def counts_key(self, me: uuid.UUID) -> tuple[object, ...]:
        """What the tab counts depend on: the person and the page's own filters."""
        return (me, self.states, self.priorities, self.regions, self.act_types,
                self.urgency_reason, self.received_from, self.received_to)

    def params(self, **changes: str | None) -> dict[str, object]:
        """The page's query parameters, with ``changes`` (for links: tabs, sort, next)."""
        values: dict[str, object] = {
            "tab": self.tab.name, "state": list(self.states), "priority": list(self.priorities),
            "region": list(self.regions), "act_type": list(self.act_types),
            "urgency_reason": self.urgency_reason, "received_from": self.received_from,
            "received_to": self.received_to, "sort": self.sort,
            "order": "desc" if self.descending else "asc", "cursor": self.cursor,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "", [])}


def _choices(values: list[str], allowed: set[str], name: str) -> tuple[str, ...]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InvalidInput(f"{name} has a value the queue does not offer.")
    return tuple(values)


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD).") from None


def parse(query: Mapping[str, list[str]]) -> QueueQuery:
    def one(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    tab = BY_NAME.get(one("tab") or "open")
    if tab is None:
        raise InvalidInput("There is no such queue tab.")
    sort = one("sort") or "received_on"
    if sort not in SORTS:
        raise InvalidInput("The queue cannot be sorted that way.")
    order = one("order") or "desc"
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc.")
    reason = one("urgency_reason") or None
    if reason is not None:
        _choices([reason], set(codes("urgency_reason")), "urgency_reason")
    cursor = one("cursor")
    if cursor is not None and len(cursor) > 512:
        raise InvalidInput("This page link is damaged; go back to the first page.")
    return QueueQuery(
        tab=tab,
        states=_choices(query.get("state", []), {s.value for s in CaseState}, "state"),
        priorities=_choices(query.get("priority", []), set(codes("priority")), "priority"),
        regions=_choices(query.get("region", []), set(codes("region")), "region"),
        act_types=_choices(query.get("act_type", []), set(codes("act_type")), "act_type"),
        urgency_reason=reason,
        received_from=_day(one("received_from"), "received_from"),
        received_to=_day(one("received_to"), "received_to"),
        sort=sort, descending=order == "desc", cursor=cursor or None,
    )


class TabCounts:
    """Each tab's count for one person and one set of page filters, kept ``ttl`` seconds.

    A caseworker moving through the queue reloads it again and again; the counts are a
    guide (capped, "1000+"), so a few seconds' staleness is worth not running a count per
    tab on every page. Counts are coarse numbers, not protected content; they live only
    in this process's memory, for at most ``max_entries`` keys."""

    def __init__(self, ttl: float, max_entries: int = 2048) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[object, ...], tuple[float, dict[str, int]]] = {}

    def get(self, key: tuple[object, ...], compute: Callable[[], dict[str, int]]
            ) -> dict[str, int]:
        if self.ttl <= 0:
            return compute()
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        counts = compute()
        with self._lock:
            if len(self._entries) >= self.max_entries:
                cutoff = now - self.ttl
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= cutoff}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[key] = (now, counts)
        return counts

    def forget(self, user_id: uuid.UUID) -> None:
        """After a person's own change: their next page counts afresh."""
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if k[0] != user_id}


def tab_counts(request: Request) -> TabCounts:
    """This app's count cache (one per app, so apps in one process never share one)."""
    state = request.app.state
    counts: TabCounts | None = getattr(state, "console_tab_counts", None)
    if counts is None:
        counts = TabCounts(app_settings(request).console_count_ttl_seconds)
        state.console_tab_counts = counts
    return counts
