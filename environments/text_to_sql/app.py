"""text_to_sql: answer a question about a shop's SQLite database with one SELECT query.

The prompt holds the schema and the question; the `run_query` tool lets the model try read-only queries on
the database first. `verify` takes the SQL from the final message (the last ```sql block), runs it and the
row's `reference_sql` on the shop database *and* on a held-out twin with the same schema and different data,
and rewards 1.0 iff the results match on both: as multisets of rows, or as lists when the row says
`order_matters`. Numbers are compared to 2 decimal places; column names do not count, column order does not
either (a permutation of the columns matches).

Every query, the model's or the reference's, runs through `ReadOnlyDatabase`: a fresh connection opened
`mode=ro&immutable=1`, `PRAGMA query_only`, an authorizer that allows only reading (SELECT, column reads,
functions other than `load_extension`, recursive CTEs) and refuses everything else (writes, DDL, ATTACH,
PRAGMA, transactions), SQLite length limits, a progress handler that aborts a query after
`query_timeout_ms`, and a cap on the rows fetched. Queries run in worker threads, never on the event loop.

The databases are built at start-up from `data/shop.sql` and `data/shop_holdout.sql` (both written by
`data/generate.py`) into a temporary folder.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import sqlite3
import tempfile
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, ToolError, VerifyRequest, tool

DATA_DIR = Path(__file__).resolve().parent / "data"
DATABASES = {"main": DATA_DIR / "shop.sql", "holdout": DATA_DIR / "shop_holdout.sql"}
DECIMALS = 2  # numbers are compared after rounding to this many places
MAX_PERMUTED_COLUMNS = 6  # results this wide or narrower match under any column order; wider ones need the same
REFERENCE_CACHE = 4096

# What a query may do: read. Anything else (INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH, DETACH,
# PRAGMA, BEGIN, SAVEPOINT, ANALYZE, REINDEX, VACUUM's writes...) is denied by the authorizer.
ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"})
FENCE = "```"
# A fence's language tag: a word alone on the first line (not SQL's first word), or `sql` before the query.
FENCE_TAG = re.compile(r"^[ \t]*(?!(?:select|with|values)\b)[\w+-]*[ \t]*\n|^[ \t]*(?:sqlite|sql)\b", re.IGNORECASE)
BARE_SELECT = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)

ErrorKind = Literal["refused", "timeout", "too_many_rows", "error"]


class QueryError(Exception):
    """A query that did not run to the end: refused, timed out, too many rows, or an SQLite error."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False  # more rows existed than were fetched (previews only)


@dataclass
class ReadOnlyDatabase:
    """One SQLite file, queried read-only, with a time limit and a row cap. Thread-safe: a connection per query."""

    path: Path
    timeout_ms: int = 2000
    max_rows: int = 1000
    _uri: str = field(init=False)

    def __post_init__(self) -> None:
        self._uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"

    def run(self, sql: str, *, max_rows: int | None = None, truncate: bool = False) -> QueryResult:
        """Run one statement. Over `max_rows` rows: `truncated` when `truncate`, else QueryError('too_many_rows')."""
        limit = self.max_rows if max_rows is None else max_rows
        denied: list[str] = []
        deadline = time.monotonic() + self.timeout_ms / 1000
        conn = sqlite3.connect(self._uri, uri=True, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
            conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)  # no string or blob over 1 MB
            conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000)
            conn.set_authorizer(_authorizer(denied))
            conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
            try:
                cursor = conn.execute(sql)
                rows = cursor.fetchmany(limit + 1)
                columns = [column[0] for column in cursor.description or ()]
            except sqlite3.Error as exc:
                if denied:
                    raise QueryError("refused", f"query refused: only reading is allowed ({denied[0]})") from None
                if time.monotonic() > deadline or "interrupted" in str(exc):
                    raise QueryError("timeout", f"query timed out after {self.timeout_ms} ms") from None
                raise QueryError("error", f"query failed: {exc}") from None
            except (ValueError, OverflowError) as exc:  # e.g. a NUL character in the text
                raise QueryError("error", f"query failed: {exc}") from None
        finally:
            conn.close()
        if len(rows) > limit and not truncate:
            raise QueryError("too_many_rows", f"query returned more than {limit} rows")
        return QueryResult(columns, [tuple(row) for row in rows[:limit]], truncated=len(rows) > limit)


def _authorizer(denied: list[str]) -> Any:
    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in ALLOWED_ACTIONS and not (
            action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS
        ):
            return sqlite3.SQLITE_OK
        denied.append(f"{ACTION_NAMES.get(action, str(action))} {arg1 or ''} {arg2 or ''}".strip())
        return sqlite3.SQLITE_DENY

    return authorize


# sqlite3's authorizer action codes share values with result codes, so name them explicitly.
ACTION_NAMES = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_")
    for name in (
        "SQLITE_CREATE_INDEX",
        "SQLITE_CREATE_TABLE",
        "SQLITE_CREATE_TEMP_INDEX",
        "SQLITE_CREATE_TEMP_TABLE",
        "SQLITE_CREATE_TEMP_TRIGGER",
        "SQLITE_CREATE_TEMP_VIEW",
        "SQLITE_CREATE_TRIGGER",
        "SQLITE_CREATE_VIEW",
        "SQLITE_DELETE",
        "SQLITE_DROP_INDEX",
        "SQLITE_DROP_TABLE",
        "SQLITE_DROP_TEMP_INDEX",
        "SQLITE_DROP_TEMP_TABLE",
        "SQLITE_DROP_TEMP_TRIGGER",
        "SQLITE_DROP_TEMP_VIEW",
        "SQLITE_DROP_TRIGGER",
        "SQLITE_DROP_VIEW",
        "SQLITE_INSERT",
        "SQLITE_PRAGMA",
        "SQLITE_READ",
        "SQLITE_SELECT",
        "SQLITE_TRANSACTION",
        "SQLITE_UPDATE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_ALTER_TABLE",
        "SQLITE_REINDEX",
        "SQLITE_ANALYZE",
        "SQLITE_CREATE_VTABLE",
        "SQLITE_DROP_VTABLE",
        "SQLITE_FUNCTION",
        "SQLITE_SAVEPOINT",
        "SQLITE_RECURSIVE",
    )
}


def build_databases(directory: Path) -> dict[str, Path]:
    """Execute each committed SQL script into a database file under `directory`."""
    paths = {}
    for name, script in DATABASES.items():
        path = directory / f"{name}.db"
        conn = sqlite3.connect(path)
        try:
            conn.executescript(script.read_text(encoding="utf-8"))
            conn.commit()
        finally:
            conn.close()
        paths[name] = path
    return paths


# ------------------------------------------------------------------------------------------ grading


def extract_sql(text: str) -> str | None:
    """The SQL of a final answer: the last ``` block (its language tag dropped), else a bare SELECT / WITH.

    A block left open at the end (a truncated answer) counts up to the end of the text.
    """
    parts = (text or "").split(FENCE)
    if len(parts) > 1:
        block = parts[-2] if len(parts) % 2 else parts[-1]  # odd: every block closed; even: the last one open
        sql = FENCE_TAG.sub("", block, count=1)
    else:
        sql = text if BARE_SELECT.match(text or "") else ""
    sql = sql.strip().rstrip(";").strip()
    return sql or None


def normalise_value(value: Any) -> Any:
    """Numbers to floats rounded to DECIMALS (3 == 3.0 == 3.004); blobs to hex; text and NULL as they are."""
    if isinstance(value, bool | int | float):
        number = float(value)
        return round(number, DECIMALS) + 0.0 if math.isfinite(number) else repr(number)
    if isinstance(value, bytes):
        return value.hex()
    return value


def results_match(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]], order_matters: bool) -> bool:
    """Whether `got` is `expected`, as a multiset of rows (a list when `order_matters`), up to column order."""
    if len(expected) != len(got):
        return False
    want = [tuple(map(normalise_value, row)) for row in expected]
    have = [tuple(map(normalise_value, row)) for row in got]
    width = len(want[0]) if want else 0
    if any(len(row) != width for row in have):
        return False
    orders = itertools.permutations(range(width)) if width <= MAX_PERMUTED_COLUMNS else [tuple(range(width))]
    target = want if order_matters else Counter(want)
    for order in orders:
        permuted = [tuple(row[i] for i in order) for row in have]
        if (permuted if order_matters else Counter(permuted)) == target:
            return True
    return False


# ------------------------------------------------------------------------------------------ the server


class TextToSqlConfig(ResourcesServerConfig):
    query_timeout_ms: int = Field(default=2000, gt=0, description="a query is aborted after this long")
    max_rows: int = Field(default=1000, gt=0, description="an answer with more rows than this scores 0")
    preview_rows: int = Field(default=20, gt=0, description="rows run_query shows")


class RunQueryArgs(BaseModel):
    sql: Annotated[str, StringConstraints(min_length=1)] = Field(description="One SQLite SELECT statement")


class RunQueryResult(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    row_count: int  # rows shown
    truncated: bool  # the query had more rows than shown


class SqlTask(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    reference_sql: Annotated[str, StringConstraints(min_length=1)]
    order_matters: bool = False
    question: str | None = None
    family: str | None = None


class SqlVerifyRequest(SqlTask, VerifyRequest):
    pass


class TextToSqlServer(ResourcesServer[TextToSqlConfig, SqlTask, SqlVerifyRequest]):
    def __init__(self, config: TextToSqlConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._tmp = tempfile.TemporaryDirectory(prefix="text_to_sql-")
        paths = build_databases(Path(self._tmp.name))
        self.databases = {
            name: ReadOnlyDatabase(path, self.config.query_timeout_ms, self.config.max_rows)
            for name, path in paths.items()
        }
        self._reference: OrderedDict[tuple[str, str], list[tuple[Any, ...]]] = OrderedDict()

    async def shutdown(self) -> None:
        """Remove the database files when the server stops (they also go when the object is collected)."""
        self._tmp.cleanup()

    async def seed_session(self, body: SqlTask, session: Session) -> None:
        # A row whose reference query does not run is refused before the episode starts.
        for name in self.databases:
            await self.reference_rows(name, body.reference_sql)

    @tool
    async def run_query(self, args: RunQueryArgs, session: Session) -> RunQueryResult:
        """Run one read-only SQLite query (a SELECT) on the shop database and see its first rows. Use it to explore the data and to check a query before answering."""  # noqa: E501
        database = self.databases["main"]
        try:
            result = await asyncio.to_thread(database.run, args.sql, max_rows=self.config.preview_rows, truncate=True)
        except QueryError as exc:
            raise ToolError(str(exc)) from None
        return RunQueryResult(
            columns=result.columns,
            rows=[list(row) for row in result.rows],
            row_count=len(result.rows),
            truncated=result.truncated,
        )

    async def reference_rows(self, name: str, sql: str) -> list[tuple[Any, ...]]:
        key = (name, sql)
        if key not in self._reference:
            try:
                result = await asyncio.to_thread(self.databases[name].run, sql)
            except QueryError as exc:
                raise ToolError(f"reference_sql does not run on the {name} database: {exc}") from None
            self._reference[key] = result.rows
            while len(self._reference) > REFERENCE_CACHE:
                self._reference.popitem(last=False)
        return self._reference[key]

    async def verify(self, body: SqlVerifyRequest, session: Session) -> dict[str, Any]:
        sql = extract_sql(body.response.last_message_text)
        # Flags are 0.0 / 1.0 floats, so that rollout metrics average them.
        flags = dict.fromkeys(("sql_found", "executed", "timed_out", "refused", "correct_main", "correct_holdout"), 0.0)
        details: dict[str, Any] = {"extracted_sql": sql, "error": None}
        if sql is None:
            details["error"] = "no SQL found in the final answer: put the query in a ```sql block"
            return {"reward": 0.0, **flags, **details}
        flags["sql_found"] = 1.0
        for name, database in self.databases.items():
            expected = await self.reference_rows(name, body.reference_sql)
            try:
                result = await asyncio.to_thread(database.run, sql)
            except QueryError as exc:
                flags.update(executed=0.0, timed_out=float(exc.kind == "timeout"), refused=float(exc.kind == "refused"))
                details["error"] = str(exc)
                return {"reward": 0.0, **flags, **details}
            flags["executed"] = 1.0
            flags[f"correct_{name}"] = float(results_match(expected, result.rows, body.order_matters))
        return {"reward": flags["correct_main"] * flags["correct_holdout"], **flags, **details}
