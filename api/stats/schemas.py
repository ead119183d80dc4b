"""Response and request bodies of the statistics endpoints.

Field order is the order of the JSON partners already parse: keep it. Values that are
optional appear only in one mode, so each mode has its own model (``mode`` tells them
apart) rather than one model with nulls.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.vocab.registry import Language

# ---- catalogue ----


class CatalogueDimension(BaseModel):
    id: str
    name: str
    vocabulary: str | None
    uwazi_thesaurus: str | None = Field(
        default=None, description="present only for dimensions coded from a vocabulary")


class CatalogueTable(BaseModel):
    id: str
    title: str
    description: str
    unit: str
    max_contributions: int
    dimensions: list[CatalogueDimension]
    data: str
    chart: str


class Catalogue(BaseModel):
    tables: list[CatalogueTable]
    parameters: dict[str, str]


# ---- one table ----


class CodeLabel(BaseModel):
    code: str
    label: str


TableCell = Annotated[
    dict[str, CodeLabel | int | bool | None],
    Field(description="one {code, label} per kept dimension id, then value (null when "
                      "suppressed) and suppressed"),
]


class ReleaseRef(BaseModel):
    id: str
    created_at: str
    months: list[str]


class ExactMethod(BaseModel):
    mode: Literal["suppressed"]
    min_cell: int
    max_contributions: int


class DpMethod(BaseModel):
    mode: Literal["dp"]
    min_cell: int
    max_contributions: int
    epsilon: float | None
    epsilon_budget: float | None
    epsilon_remaining: float | None
    repeated: bool


class TableDimension(BaseModel):
    id: str
    name: str


class TableData(BaseModel):
    table: str
    title: str
    unit: str
    language: Language
    release: ReleaseRef
    filters: dict[str, list[str]]
    method: Annotated[ExactMethod | DpMethod, Field(discriminator="mode")]
    dimensions: list[TableDimension]
    cells: list[TableCell]
    suppressed_cells: int
    footnotes: list[str]


# ---- budget and policy ----


class ExactBudget(BaseModel):
    mode: Literal["suppressed"]


class DpBudget(BaseModel):
    mode: Literal["dp"]
    epsilon_per_pull: float
    epsilon_budget: float
    epsilon_spent: float
    epsilon_remaining: float
    period_started_at: str
    pulls_charged: int


Budget = Annotated[ExactBudget | DpBudget, Field(discriminator="mode")]


class PolicyIn(BaseModel):
    mode: Literal["suppressed", "dp"]
    epsilon_per_pull: float | None = Field(default=None, gt=0, le=10)
    epsilon_budget: float | None = Field(default=None, gt=0, le=1000)
    new_period: bool = Field(default=False, description="start a fresh budget period")


class ReleaseOut(BaseModel):
    release: str
    created_at: str
    min_cell: int
