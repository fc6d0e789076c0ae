"""Reading a user's panel file: CSV or Parquet, with typed errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from impact.errors import InvalidOptionError

__all__ = ["PARQUET", "read_panel"]

#: File name endings read as Parquet (anything else is read as CSV).
PARQUET = (".parquet", ".pq")


def read_panel(path: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a frame (Parquet needs pyarrow: a typed error without).

    ``columns``: read only these of the file's columns (names the file lacks are left
    out here, for the caller's column check to report all of them); None reads all.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidOptionError(f"data file {str(path)!r} is a directory; name a file.")
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist.")
    if path.suffix.lower() in PARQUET:
        try:
            if columns is None:
                return pd.read_parquet(path)
            import pyarrow.parquet as pq

            present = set(pq.read_schema(path).names)
            return pd.read_parquet(path, columns=[c for c in columns if c in present])
        except ImportError:
            raise InvalidOptionError(
                "reading Parquet needs pyarrow: pip install pyarrow (or give a CSV file)."
            ) from None
    wanted = None if columns is None else set(columns)
    try:
        header = pd.read_csv(path, nrows=0)
        if header.shape[1] == 1 and ";" in str(header.columns[0]):
            raise InvalidOptionError(
                f"data file {str(path)!r} reads as one column {str(header.columns[0])[:60]!r}: "
                "its fields are separated by semicolons; save it with commas."
            )
        return pd.read_csv(path, usecols=None if wanted is None else (lambda c: c in wanted))
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidOptionError(f"data file {str(path)!r} is not a readable CSV: {exc}") from None
