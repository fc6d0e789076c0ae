"""Column names from users' files never become query text (issue 23, step 2).

Every identifier reaching SQL is quoted by ``impact.engine.quote_identifier`` and every
value is a bound parameter. Checked three ways: DuckDB's own parser reads each hostile
name back as one column (and nothing else runs); the Spark rule is checked by reading
the quoted text back by that rule; and a scan of the package's source refuses query
text formatted from anything but quoted identifiers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact.engine import DIALECTS, quote_identifier
from impact.engine.identifiers import MAX_IDENTIFIER
from impact.errors import InvalidOptionError

duckdb = pytest.importorskip("duckdb")

PACKAGE = Path(__file__).resolve().parents[2] / "impact"

HOSTILE_NAMES = [
    'x" FROM t; DROP TABLE sentinel; --',
    "x`; DROP TABLE sentinel; --",
    "'; DELETE FROM sentinel; --",
    'a""b',
    '"',
    "`",
    "log emp",
    "SELECT",
    "from",
    "x) UNION SELECT 1 --",
    "$1",
    "?",
    "a\nb",
    "a\\b",
    "ünïcødé 東京",
    "emoji 📈",
    "<script>alert(1)</script>",
    r"\input{/etc/passwd}",
    "a|b",
    " leading and trailing ",
]

#: Any characters but the null byte (DuckDB rejects it; quote_identifier raises first).
NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)


def _round_trip(name: str) -> None:
    """Create a one-column table named by ``name`` from a bound value; read it back."""
    con = duckdb.connect()
    con.execute("CREATE TABLE sentinel AS SELECT 1 AS keep")
    q = quote_identifier(name, "duckdb")
    con.execute(f"CREATE TABLE t AS SELECT CAST(? AS VARCHAR) AS {q}", [name])
    cols = [row[0] for row in con.execute("DESCRIBE t").fetchall()]
    assert cols == [name]
    assert con.execute(f"SELECT {q} FROM t").fetchall() == [(name,)]
    assert con.execute("SELECT keep FROM sentinel").fetchall() == [(1,)]
    con.close()


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_duckdb_reads_each_hostile_name_as_one_column(name):
    _round_trip(name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES)
def test_duckdb_reads_any_name_as_one_column(name):
    _round_trip(name)


def _unquote_spark(text: str) -> str:
    """Read one backtick-quoted Spark SQL identifier (a doubled backtick is one)."""
    assert text[0] == "`" and text[-1] == "`"
    body, out, k = text[1:-1], [], 0
    while k < len(body):
        if body[k] == "`":
            assert body[k + 1 : k + 2] == "`", "a lone backtick would end the identifier"
            k += 1
        out.append(body[k])
        k += 1
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(NAMES)
def test_spark_quoting_reads_back_as_the_name(name):
    assert _unquote_spark(quote_identifier(name, "spark")) == name


def test_examples_and_errors():
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_identifier("a`b", "spark") == "`a``b`"
    assert set(DIALECTS) == {"duckdb", "spark"}
    for bad in ("", "a\x00b", None, 3, "x" * (MAX_IDENTIFIER + 1)):
        with pytest.raises(InvalidOptionError):
            quote_identifier(bad)
    with pytest.raises(InvalidOptionError, match="dialect"):
        quote_identifier("x", "postgres")


# ---------------------------------------------------------------- the rule, in the source
#: Words that mark a string as query text (upper case, as the package writes SQL).
SQL = re.compile(
    r"\b(SELECT|FROM|WHERE|GROUP BY|ORDER BY|JOIN|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|"
    r"PRAGMA|ATTACH|COPY|INSTALL|LOAD|UNION|HAVING)\b"
)
#: Calls whose result may be formatted into query text.
QUOTERS = {"quote_identifier"}


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


def sql_formatting_violations(source: str) -> list[str]:
    """Query text built by formatting anything but a quote_identifier(...) call."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if SQL.search(text):
                for v in node.values:
                    if isinstance(v, ast.FormattedValue) and _call_name(v.value) not in QUOTERS:
                        bad.append(f"line {node.lineno}: f-string formats {ast.unparse(v.value)}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    if SQL.search(side.value):
                        bad.append(f"line {node.lineno}: query text joined with '%' or '+'")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if node.func.attr == "format" and isinstance(target, ast.Constant):
                if isinstance(target.value, str) and SQL.search(target.value):
                    bad.append(f"line {node.lineno}: query text built with str.format")
    return bad


def test_the_rule_catches_spliced_identifiers():
    spliced = [
        'con.execute(f"SELECT {col} FROM t")',
        'con.execute("SELECT %s FROM t" % col)',
        'con.execute("SELECT " + col + " FROM t")',
        'con.execute("SELECT {} FROM t".format(col))',
        'con.execute(f"SELECT * FROM t WHERE x = {value!r}")',
    ]
    for src in spliced:
        assert sql_formatting_violations(src), src
    allowed = [
        'con.execute(f"SELECT {quote_identifier(col)} FROM t")',
        'con.execute("SELECT * FROM t WHERE x = ?", [value])',
        'f"{name} comes from the data"',
    ]
    for src in allowed:
        assert not sql_formatting_violations(src), src


def test_the_package_formats_no_query_text():
    found = {
        str(path.relative_to(PACKAGE)): v
        for path in sorted(PACKAGE.rglob("*.py"))
        if (v := sql_formatting_violations(path.read_text(encoding="utf-8")))
    }
    assert not found, found
