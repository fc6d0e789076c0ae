"""Identifier quoting for the query engines: a user's column name is never query text.

Column names come from users' files (a CSV header, a Parquet schema) and specs, so a name
such as ``x" FROM t; DROP TABLE t; --`` must reach DuckDB or Spark SQL as one identifier.
Each engine's own quoting rule is applied: the name is wrapped in the dialect's quote
character and every quote character inside it is doubled (DuckDB and ANSI SQL: ``"``;
Spark SQL: a backtick). Values are never quoted here: they are bound parameters.
"""

from __future__ import annotations

from impact._typing import Dialect
from impact.errors import InvalidOptionError

__all__ = ["DIALECTS", "MAX_IDENTIFIER", "quote_identifier"]

#: Quote character of each SQL dialect.
DIALECTS: dict[str, str] = {"duckdb": '"', "spark": "`"}

#: Longest identifier accepted (bytes of UTF-8); DuckDB and Spark accept longer names,
#: but no panel needs them and a bound keeps error messages readable.
MAX_IDENTIFIER = 1024


def quote_identifier(name: str, dialect: Dialect = "duckdb") -> str:
    """The SQL text that names column ``name`` in ``dialect``, whatever ``name`` holds.

    Parameters
    ----------
    name : str
        A column name as the user's data spell it (any characters but the null byte).
    dialect : {"duckdb", "spark"}

    Returns
    -------
    str
        ``name`` wrapped in the dialect's quote character, inner quote characters doubled.

    Raises
    ------
    InvalidOptionError
        ``name`` is not a non-empty string, holds a null byte (which ends a C string inside
        the engine) or is longer than :data:`MAX_IDENTIFIER` bytes; unknown dialect.

    Examples
    --------
    >>> quote_identifier('log "emp" x')
    '"log ""emp"" x"'
    >>> quote_identifier("a`b", "spark")
    '`a``b`'
    """
    if dialect not in DIALECTS:
        raise InvalidOptionError(f"dialect must be one of {sorted(DIALECTS)}, got {dialect!r}.")
    if not isinstance(name, str) or not name:
        raise InvalidOptionError(f"a column name must be a non-empty string, got {name!r}.")
    if "\x00" in name:
        raise InvalidOptionError(f"column name {name!r} holds a null byte; rename the column.")
    if len(name.encode("utf-8")) > MAX_IDENTIFIER:
        raise InvalidOptionError(
            f"column name {name[:40]!r}… is longer than {MAX_IDENTIFIER} bytes; rename it."
        )
    q = DIALECTS[dialect]
    return q + name.replace(q, q + q) + q
