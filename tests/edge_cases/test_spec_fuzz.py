"""Fuzzed specs raise only impact.errors types (issue 23: a spec file is data).

Random spec mappings (known and unknown keys, values of every TOML type), random TOML
text built from the shipped config, and the specs that do build, validated against a
small panel: each either works or raises an :class:`impact.errors.ImpactError`.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact.errors import ImpactError, InvalidOptionError
from impact.report.spec import Spec
from impact.report.spec_layout import FAMILY, PRODUCTION, TOP

CONFIG = Path(__file__).resolve().parents[2] / "replication" / "config.toml"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SCALARS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["log_emp", "firm_id", "year", "main", "cs", "log", "never", "size"]),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.booleans(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _table(keys):
    return st.dictionaries(st.sampled_from([*keys, "unknown"]), VALUES, max_size=4)


SPECS = st.dictionaries(
    st.sampled_from([*TOP, "bogus"]),
    st.one_of(
        VALUES,
        _table(["unit", "time", "cohort", "sector"]),
        st.dictionaries(st.sampled_from(["jobs", "x"]), _table(FAMILY), max_size=2),
        _table(PRODUCTION),
    ),
    max_size=6,
)


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "firm_id": np.repeat(np.arange(10), 4),
            "year": np.tile(np.arange(2000, 2004), 10),
            "log_emp": rng.normal(size=n),
            "log_va": rng.normal(size=n),
        }
    )


@FUZZ
@given(SPECS)
def test_fuzzed_spec_mappings_raise_only_impact_errors(d):
    try:
        spec = Spec.from_dict(d)
    except ImpactError:
        return
    try:
        spec.validate(_panel())
    except ImpactError:
        pass


@st.composite
def mutated_specs(draw):
    """The shipped spec with one to three values replaced: most build, some fail deep."""
    d = Spec().to_dict()
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(d)))
        if isinstance(d[key], dict) and d[key] and draw(st.booleans()):
            sub = draw(st.sampled_from(sorted(d[key])))
            d[key] = {**d[key], sub: draw(VALUES)}
        else:
            d[key] = draw(VALUES)
    return d


@FUZZ
@given(mutated_specs())
def test_mutated_shipped_specs_raise_only_impact_errors(d):
    test_fuzzed_spec_mappings_raise_only_impact_errors.hypothesis.inner_test(d)


LINES = CONFIG.read_text(encoding="utf-8").splitlines()
GARBAGE = st.text(alphabet=string.printable, max_size=30)


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(LINES), GARBAGE, st.just("[families.x]")), max_size=25))
def test_fuzzed_toml_files_raise_only_impact_errors(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("spec") / "spec.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        Spec.from_toml(path)
    except ImpactError:
        pass


@pytest.mark.parametrize(
    "d, key",
    [
        ({"sector_by_year": "no"}, "sector_by_year"),
        ({"columns": "firm_id"}, "columns"),
        ({"columns": {"unit": 3}}, "unit"),
        ({"families": {"jobs": {"outcomes": "log_emp"}}}, "outcomes"),
        ({"production": {"free": "log_emp"}}, "free"),
        ({"seed": True}, "seed"),
        ({"window": [-5]}, "window"),
        ({"derived": {"x": 1}}, "x"),
        ({"tables": "main"}, "tables"),
    ],
)
def test_wrong_types_name_the_key(d, key):
    with pytest.raises(InvalidOptionError, match=key):
        Spec.from_dict(d)


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"tables = [\n\xff")
    with pytest.raises(InvalidOptionError, match="bad.toml"):
        Spec.from_toml(path)
