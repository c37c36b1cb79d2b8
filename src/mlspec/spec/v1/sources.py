"""The spec language v1, `sources:`: where data comes from and its contract (columns, checks, reuse by `like:`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from mlspec.spec.v1.base import Description, Strict, Tags

ColumnType = Literal["int", "float", "bool", "category", "string", "datetime"]
Engine = Literal["pandas", "duckdb"]


class Column(Strict):
    """The contract of one column: its type, nullability, range and allowed values."""

    type: ColumnType = Field(description=(
        "Data type: int, float, bool, category (a fixed set of labels), string (free text) or datetime."))
    nullable: bool = Field(False, description="Whether missing values are allowed.")
    min: int | float | None = Field(None, description="Smallest allowed value (int and float columns).")
    max: int | float | None = Field(None, description="Largest allowed value (int and float columns).")
    values: list[str | int] | None = Field(None, min_length=1, max_length=10_000, description=(
        "Allowed values. Required for category columns; values not listed fail the contract."))
    unique: bool = Field(False, description="Whether every non-null value must be distinct.")
    description: Description

    @model_validator(mode="after")
    def _coherent(self) -> Column:
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise PydanticCustomError("mls_column", "min/max apply only to int and float columns, not {type}",
                                      {"type": self.type, "hint": "remove min/max or change the type",
                                       "field": "min" if self.min is not None else "max"})
        if self.min is not None and self.max is not None and self.min > self.max:
            raise PydanticCustomError("mls_column", "min ({min}) is greater than max ({max})",
                                      {"min": self.min, "max": self.max, "hint": "swap the two values",
                                       "field": "min"})
        if self.type == "category" and not self.values:
            raise PydanticCustomError("mls_column", "a category column must list its allowed values",
                                      {"hint": "add values: [a, b, c], or use type: string for free text",
                                       "field": "type"})
        if self.values is not None and len(set(map(repr, self.values))) != len(self.values):
            raise PydanticCustomError("mls_column", "allowed values contain a duplicate",
                                      {"hint": "list every allowed value once", "field": "values"})
        return self


class RowCheck(Strict):
    """A rule every row must satisfy, written in the expression language."""

    name: str = Field(description="Name of the check, shown when it fails.")
    expr: str = Field(min_length=1, max_length=1000, description=(
        "A boolean expression over columns, e.g. \"amount >= 0 or is_null(amount)\"."),
        examples=["amount >= 0", "end_time >= start_time"])
    description: Description


class Checks(Strict):
    """Checks on the whole dataset, run before anything trains."""

    min_rows: int = Field(1, ge=0, le=10**12, description="Fewest rows the data may have.")
    max_rows: int | None = Field(None, ge=1, le=10**12, description="Most rows the data may have.")
    rows: list[RowCheck] = Field(default_factory=list, max_length=200, description="Row-level rules.")


class LikeContract(Strict):
    """Another source's contract reused: its columns, less those dropped, with some replaced or added."""

    like: str = Field(description=(
        "The source whose schema this one reuses (for example the training source, for a live batch or an "
        "unlabelled file). Only its columns are reused: timestamp and checks are this source's own. A reused "
        "source may itself reuse another; a circle is refused."), examples=["transactions"])
    drop: list[str] = Field(default_factory=list, max_length=2000, description=(
        "Columns of that source this one does not have, such as the label of a batch still waiting for it."),
        examples=[["is_fraud"]])
    override: dict[str, Column] = Field(default_factory=dict, max_length=2000, description=(
        "Columns of that source whose contract differs here, each written in full (for example a label that "
        "may be missing while it arrives late: {type: int, values: [0, 1], nullable: true})."))
    add: dict[str, Column] = Field(default_factory=dict, max_length=2000, description=(
        "Columns this source has beyond that source's, each with its contract."))


def _schema_tag(value: object) -> str:
    if isinstance(value, LikeContract) or (isinstance(value, dict) and isinstance(value.get("like"), str)):
        return "like"
    return "columns"


# A source's contract: its columns written out, or `{like: SOURCE, ...}` (a column named `like` is a mapping, so
# a `like` whose value is text can only mean the reuse).
Contract = Annotated[
    Annotated[Annotated[dict[str, Column], Field(min_length=1, max_length=2000)], Tag("columns")]
    | Annotated[LikeContract, Tag("like")],
    Discriminator(_schema_tag),
]

_ENGINE_DOC = (
    "What computes the data contract, the profile and drift statistics of this source: pandas (in memory) or "
    "duckdb (SQL aggregates with a memory limit that spill to disk, for data larger than memory; needs "
    "mlspec-gitops[duckdb]). Left out, mlspec uses duckdb for files of 1 GiB or more when it is installed, "
    "pandas otherwise. With duckdb, path may be a glob of Parquet parts (data/events/*.parquet).")


class TrainingRead(Strict):
    """The part of a large source that models train on: a seeded sample, the latest window of time, or both."""

    sample_rows: int | None = Field(None, ge=1, le=10**9, description=(
        "Train on a seeded random sample of this many rows (the project's seed; the same rows every run)."))
    window: str | None = Field(None, pattern=r"^[1-9][0-9]{0,4}[hdw]$", description=(
        "Train on the rows whose timestamp is at most this long before the latest one: hours, days or weeks "
        "(12h, 90d, 8w). Needs the source's timestamp. With sample_rows, the sample is drawn from the window."),
        examples=["90d"])

    @model_validator(mode="after")
    def _something(self) -> TrainingRead:
        if self.sample_rows is None and self.window is None:
            raise PydanticCustomError("mls_source", "training: needs sample_rows or window (or both)",
                                      {"hint": "add sample_rows: 1000000 or window: 90d"})
        return self


_PATH_DOC = ("Path of the file, relative to the project root; or an object-store URL (s3://BUCKET/KEY, "
             "gs://BUCKET/KEY, az://CONTAINER/KEY) read with the credentials listed in project.secrets.")
_SOURCE_COMMON_DOC = (
    "Data contract: every column the project uses, with its type and constraints; or another source's contract "
    "reused, {like: SOURCE, drop: [COLUMN], override: {...}, add: {...}}, which validate and compile resolve "
    "into the full list of columns.")


class _SourceBase(Strict):
    timestamp: str | None = Field(None, description=(
        "Name of a datetime column that orders rows in time (needed for time splits and monitoring windows)."))
    columns: Contract = Field(alias="schema", description=_SOURCE_COMMON_DOC)
    checks: Checks = Field(default_factory=Checks, description="Dataset-level checks.")
    engine: Engine | None = Field(None, description=_ENGINE_DOC)
    training: TrainingRead | None = Field(None, description=(
        "With engine: duckdb, what models read from this source to train on (a sample or a window that fits in "
        "memory); left out, they read all of it. The contract, profile and drift always cover all the rows."))
    description: Description
    tags: Tags

    @model_validator(mode="after")
    def _engine_fits(self) -> _SourceBase:
        if self.engine == "duckdb" and getattr(self, "format", None) == "sql":
            raise PydanticCustomError("mls_source", "engine: duckdb reads CSV and Parquet files, not a SQL source",
                                      {"hint": "remove engine (a SQL source is read through SQLAlchemy), or export "
                                               "the data to Parquet", "field": "engine"})
        if self.training is not None and self.engine != "duckdb":
            raise PydanticCustomError("mls_source", "training: (a sample or window to train on) needs engine: duckdb",
                                      {"hint": "add engine: duckdb, or remove training: to train on all rows",
                                       "field": "training"})
        if self.training is not None and self.training.window is not None and self.timestamp is None:
            raise PydanticCustomError("mls_source", "training.window needs the source's timestamp column",
                                      {"hint": "add timestamp: COLUMN (a datetime column), or use sample_rows",
                                       "field": "training"})
        return self


class CsvSource(_SourceBase):
    """A CSV file in the repository."""

    format: Literal["csv"] = Field(description="File format: csv.")
    path: str = Field(min_length=1, max_length=500, description=_PATH_DOC,
                      examples=["data/transactions.csv", "s3://acme-data/batches/latest.csv"])
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator, one character.")


class ParquetSource(_SourceBase):
    """A Parquet file in the repository."""

    format: Literal["parquet"] = Field(description="File format: parquet.")
    path: str = Field(min_length=1, max_length=500, description=_PATH_DOC)


class SqlSource(_SourceBase):
    """A SQL query or table, read through SQLAlchemy."""

    format: Literal["sql"] = Field(description="Read with SQL through SQLAlchemy.")
    uri: str = Field(min_length=1, max_length=500, description=(
        "SQLAlchemy URL. Passwords only as ${env:VAR}; relative SQLite paths are relative to the project."),
        examples=["sqlite:///data/warehouse.db", "postgresql://reader:${env:PGPASSWORD}@localhost/shop"])
    table: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$",
                              description="Table to read whole. Give either table or query.")
    query: str | None = Field(None, min_length=1, max_length=20_000, description=(
        "A read-only SELECT statement. Give either table or query."))

    @model_validator(mode="after")
    def _table_or_query(self) -> SqlSource:
        if (self.table is None) == (self.query is None):
            raise PydanticCustomError("mls_source", "a sql source needs exactly one of table or query",
                                      {"hint": "add table: NAME, or query: SELECT ..."})
        return self


Source = Annotated[CsvSource | ParquetSource | SqlSource, Field(discriminator="format")]
