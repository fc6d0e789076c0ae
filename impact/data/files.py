"""Reading a user's panel file: CSV or Parquet, with typed errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from impact.errors import InvalidOptionError

__all__ = ["PARQUET", "read_panel"]

#: File name endings read as Parquet (anything else is read as CSV).
PARQUET = (".parquet", ".pq")


def read_panel(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a frame (Parquet needs pyarrow: a typed error without)."""
    path = Path(path)
    if path.is_dir():
        raise InvalidOptionError(f"data file {str(path)!r} is a directory; name a file.")
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist.")
    if path.suffix.lower() in PARQUET:
        try:
            return pd.read_parquet(path)
        except ImportError:
            raise InvalidOptionError(
                "reading Parquet needs pyarrow: pip install pyarrow (or give a CSV file)."
            ) from None
    try:
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidOptionError(f"data file {str(path)!r} is not a readable CSV: {exc}") from None
    if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
        raise InvalidOptionError(
            f"data file {str(path)!r} reads as one column {str(frame.columns[0])[:60]!r}: "
            "its fields are separated by semicolons; save it with commas."
        )
    return frame
