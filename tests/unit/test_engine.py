"""The engine seam (SCALE.md §2.1): the in-memory engine's primitives against pandas'
group-by and against DuckDB's SQL (expressions written with quoted identifiers and bound
literals), on column names a user's file could hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import ENGINES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact.engine import Engine, PandasEngine, engine_for, quote_identifier
from impact.engine.choose import choose_engine
from impact.engine.expressions import expression
from impact.errors import ColumnNotFoundError, ColumnTypeError, InvalidOptionError

#: Sums of products over a few hundred rows: both sides add in other orders.
SUM_RTOL = 1e-12

X, Y = 'x "1"', "y|z"  # names a CSV header could hold
SUMS = {"sy": f"`{Y}`", "sxy": f"`{X}` * `{Y}`", "sf": f"log1p(abs(`{X}`)) - 2 * `{Y}` ** 2"}


def _frame(seed: int, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "firm": rng.integers(0, 25, n),
            "sector": rng.choice(["b", "a", "c d"], n),
            X: rng.normal(size=n),
            Y: rng.normal(size=n),
        }
    )


def _by_pandas(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The same sums with pandas' own group-by (an independent implementation)."""
    parts = pd.DataFrame(
        {
            **{k: df[k] for k in keys},
            "sy": df[Y],
            "sxy": df[X] * df[Y],
            "sf": np.log1p(np.abs(df[X])) - 2 * df[Y] ** 2,
        }
    )
    g = parts.groupby(keys, sort=True)
    out = g[["sy", "sxy", "sf"]].sum()
    out["n"] = g.size()
    return out.reset_index()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.sampled_from([["firm"], ["sector"], ["sector", "firm"]]))
def test_group_sums_equal_pandas_groupby(seed, keys):
    df = _frame(seed)
    before = df.copy()
    got = PandasEngine().group_sums(df, keys, SUMS)
    want = _by_pandas(df, keys)
    pd.testing.assert_frame_equal(df, before)  # the source is not modified
    assert got[keys].astype(str).equals(want[keys].astype(str))
    for c in ("sy", "sxy", "sf"):
        np.testing.assert_allclose(got[c], want[c], rtol=SUM_RTOL, atol=1e-12)
    assert got["n"].tolist() == want["n"].tolist()


def test_group_sums_equal_duckdb_sql_with_quoted_names():
    duckdb = pytest.importorskip("duckdb")
    df = _frame(7)
    keys = ["sector", "firm"]
    con = duckdb.connect()
    con.register("src", df)
    items, params = [], []
    for name, text in SUMS.items():
        sql, p = expression(text).to_sql("duckdb")
        items.append(f"SUM({sql}) AS {quote_identifier(name)}")
        params += p
    key_sql = ", ".join(quote_identifier(k) for k in keys)
    query = (
        "SELECT "
        + key_sql
        + ", "
        + ", ".join(items)
        + ", COUNT(*) AS n FROM src GROUP BY "
        + key_sql
        + " ORDER BY "
        + key_sql
    )  # identifiers quoted by quote_identifier, literals bound: the engines' rule
    want = con.execute(query, params).df()
    got = PandasEngine().group_sums(df, keys, SUMS)
    assert got["sector"].tolist() == want["sector"].tolist()
    assert got["firm"].tolist() == want["firm"].tolist()
    for c in ("sy", "sxy", "sf"):
        np.testing.assert_allclose(got[c], want[c], rtol=SUM_RTOL, atol=1e-12)
    assert got["n"].tolist() == want["n"].tolist()


def test_with_columns_and_join_small():
    df = _frame(3).set_index(pd.RangeIndex(100, 400))
    eng = engine_for(df)
    assert isinstance(eng, Engine) and eng.name == "pandas"
    out = eng.with_columns(df, {"xy": f"`{X}` * `{Y}`", "one": "1 + 0 * `firm`"})
    np.testing.assert_array_equal(out["xy"], df[X] * df[Y])
    assert (out["one"] == 1.0).all() and X in eng.columns(df)
    means = eng.group_sums(df, ["firm"], {"s": f"`{Y}`"})
    means = means.assign(m=means["s"] / means["n"])[["firm", "m"]]
    joined = eng.join_small(df, means, ["firm"])
    assert joined.index.equals(df.index)
    want = df.groupby("firm")[Y].transform("mean")
    np.testing.assert_allclose(joined["m"], want, rtol=SUM_RTOL)
    with pytest.raises(InvalidOptionError, match="more than one row"):
        eng.join_small(df, pd.concat([means, means]), ["firm"])


@pytest.mark.parametrize("name", ENGINES)
def test_every_engine_refuses_the_same_bad_joins(name):
    """A small table with a repeated level, or with a column the data holds (a join would
    repeat rows, or rename or shadow the column), is one typed error on every engine."""
    df = _frame(5, n=40)
    eng = choose_engine(df, name)
    src = eng.source(df)
    means = eng.group_sums(src, ["firm"], {"s": f"`{Y}`"})[["firm", "s"]]
    with pytest.raises(InvalidOptionError, match="more than one row"):
        eng.join_small(src, pd.concat([means, means]), ["firm"])
    with pytest.raises(InvalidOptionError, match=r"columns \[.y\|z.\] are in the data"):
        eng.join_small(src, means.rename(columns={"s": Y}), ["firm"])
    groups = eng.group_relation(src, ["firm"], {Y: f"`{Y}`"})
    with pytest.raises(InvalidOptionError, match="are in the data too"):
        eng.join_groups(src, groups, ["firm"])
    assert Y in eng.columns(eng.join_small(src, means, ["firm"]))


def test_engine_errors_are_typed():
    with pytest.raises(InvalidOptionError, match="no engine"):
        engine_for([1, 2, 3])
    df = _frame(1)
    with pytest.raises(InvalidOptionError, match="missing"):
        PandasEngine().group_sums(
            df.assign(firm=np.where(df["firm"] == 1, np.nan, df["firm"])), ["firm"], {}
        )
    with pytest.raises(ColumnNotFoundError, match="nope"):
        PandasEngine().group_sums(df, ["firm"], {"s": "nope * 2"})
    with pytest.raises(ColumnTypeError, match="sector"):
        PandasEngine().group_sums(df, ["firm"], {"s": "sector * 2"})


def test_integer_columns_sum_as_floats_in_both_engines():
    """Integer products overflow and integer division truncates in SQL unless read as
    DOUBLE; the pandas engine reads floats. Both must agree."""
    duckdb = pytest.importorskip("duckdb")
    df = pd.DataFrame({"g": [0, 0, 1], "a": [2**31 - 1, 3, 7], "b": [2**31 - 1, 2, 2]})
    sums = {"ab": "a * b", "q": "a / b"}
    got = PandasEngine().group_sums(df, ["g"], sums)
    con = duckdb.connect()
    con.register("src", df)
    items, params = [], []
    for name, text in sums.items():
        sql, p = expression(text).to_sql("duckdb")
        items.append(f"SUM({sql}) AS {quote_identifier(name)}")
        params += p
    want = con.execute(
        "SELECT " + ", ".join(items) + " FROM src GROUP BY g ORDER BY g", params
    ).df()
    np.testing.assert_allclose(got[["ab", "q"]].to_numpy(), want.to_numpy(), rtol=SUM_RTOL)


def test_to_sql_quotes_names_and_binds_literals():
    sql, params = expression('log(`a " b`) + 2.5 * c - -1 + log1p(c) ** 2').to_sql("duckdb")
    assert 'CAST("a "" b" AS DOUBLE)' in sql and 'CAST("c" AS DOUBLE)' in sql
    assert params == [2.5, 1.0, 1.0, 2.0]
    sql, _ = expression("ab * 2").to_sql("spark")
    assert sql.startswith("(CAST(`ab` AS DOUBLE)")


def test_type_names_read_numbers_exactly():
    """A dialect's numeric types, with or without parameters, are numbers; a type whose name
    only starts like one (Spark's ``interval``, DuckDB's ``INTERVAL``) is not."""
    from impact.engine.duckdb_engine import _TYPES
    from impact.engine.spark_columns import spark_kind

    assert [_TYPES.kind(t) for t in ("BIGINT", "DECIMAL(18,3)", "UHUGEINT", "INTERVAL")] == [
        "number", "number", "number", "other"]  # fmt: skip
    assert [_TYPES.kind(t) for t in ("VARCHAR", "BOOLEAN", "DATE")] == ["text", "bool", "other"]
    kinds = [spark_kind(t) for t in ("int", "decimal(10,2)", "interval day to second", "string")]
    assert kinds == ["number", "number", "other", "text"]
