"""Input adapters for ``Tenant.import_records`` (private).

``chunks(rows)`` turns what ``import_records`` accepts into chunks the native code reads
a few thousand rows at a time, so memory stays bounded whatever the input size:

* ``("rows", [record, ...])`` for an iterable of mappings (list, generator, ...);
* ``("columns", names, [values_of_column, ...], n)`` for a ``pandas.DataFrame`` or a
  ``pyarrow.Table`` / ``RecordBatch``, converted column by column with the library's own
  vectorised code: datetime columns become int milliseconds since the epoch (UTC), and
  everything else becomes plain Python values with ``tolist()`` / ``to_pylist()``.

Missing values (``None``, ``NaN``, ``pandas.NA``, ``NaT``) are left as they are; the
native side treats them as absent fields. pandas and pyarrow are imported only when such
an object is passed, so neither is a dependency of cidb.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from itertools import islice
from typing import Any

from . import _cidb

CHUNK_ROWS = 4096


def chunks(rows: Any, size: int = CHUNK_ROWS) -> Iterator[tuple[Any, ...]]:
    """The chunks of ``rows`` (see the module docstring)."""
    module = type(rows).__module__ or ""
    if module.startswith("pandas") and hasattr(rows, "iloc") and hasattr(rows, "columns"):
        return _pandas_chunks(rows, size)
    if module.startswith("pyarrow") and hasattr(rows, "column_names") and hasattr(rows, "slice"):
        return _arrow_chunks(rows, size)
    return _row_chunks(rows, size)


def _row_chunks(rows: Any, size: int) -> Iterator[tuple[Any, ...]]:
    it = iter(rows)
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
        yield ("rows", batch)


def _check_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        folded = name.lower()  # the engine matches column names case-insensitively
        if folded in seen:
            raise _cidb.InvalidInputError(f"column {name!r} appears twice")
        seen.add(folded)


def _pandas_chunks(df: Any, size: int) -> Iterator[tuple[Any, ...]]:
    names = [str(c) for c in df.columns]
    _check_unique(names)
    for start in range(0, len(df), size):
        part = df.iloc[start : start + size]
        columns = [_pandas_values(part.iloc[:, j]) for j in range(len(names))]
        yield ("columns", names, columns, len(part))


def _pandas_values(s: Any) -> list[Any]:
    if getattr(s.dtype, "kind", None) == "M":  # datetime64, naive (= UTC) or tz-aware
        np = importlib.import_module("numpy")  # untyped use; pandas depends on numpy
        if getattr(s.dtype, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = s.to_numpy(dtype="datetime64[ms]")
        out: list[Any] = stamps.astype("int64").tolist()
        for i in np.flatnonzero(np.isnat(stamps)).tolist():
            out[i] = None
        return out
    values: list[Any] = s.tolist()
    return values


def _arrow_chunks(table: Any, size: int) -> Iterator[tuple[Any, ...]]:
    pa = importlib.import_module("pyarrow")  # not a dependency of cidb; typed as Any
    names = [str(n) for n in table.column_names]
    _check_unique(names)
    for start in range(0, table.num_rows, size):
        part = table.slice(start, size)
        columns = [_arrow_values(pa, part.column(j)) for j in range(len(names))]
        yield ("columns", names, columns, part.num_rows)


def _arrow_values(pa: Any, col: Any) -> list[Any]:
    if pa.types.is_timestamp(col.type):  # to int ms since the epoch (UTC for any zone)
        col = col.cast(pa.timestamp("ms", tz=col.type.tz), safe=False).cast(pa.int64())
    values: list[Any] = col.to_pylist()
    return values
