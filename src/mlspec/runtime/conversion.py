"""Convert one column of read values to the type its contract declares, recording what does not convert.

Files, served requests and the prediction log all go through `convert`, so a value scores the same way
wherever it comes from. A value that does not convert is a finding (the check, how many rows, a few
samples as written), never silently text or NaN. The DuckDB engine applies the same rules in SQL
(`mlspec.runtime.duck.scan`).
"""

from __future__ import annotations

import re

BEYOND_64_BITS = "within 64 bits (below 2**63 in size)"
ZONES = "a time zone on every value or on none"
_NOT_A_TIME = "not an ISO-8601 date/time"
# a time zone after a time of day (`Z`, `+02:00`, `-0500`, `+02`): a date's own `-01` is none
_ZONED = re.compile(r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$")


def _samples(values, mask) -> list[str]:
    return [str(v) for v in values[mask].head(5).tolist()]


def convert(series, kind: str):
    """Convert one column to contract type `kind`; return (values, None) or (values, (check, count, samples))."""
    import numpy as np
    import pandas as pd

    present = series.notna()
    if kind in ("int", "float"):
        numbers = pd.to_numeric(series, errors="coerce") if not pd.api.types.is_numeric_dtype(series) \
            or pd.api.types.is_bool_dtype(series) else series
        numbers = numbers.astype(float) if kind == "float" or numbers.isna().any() else numbers
        bad = present & numbers.isna()
        if bad.any():
            return numbers, ("not a number", int(bad.sum()), _samples(series, bad))
        if kind == "int":
            frac = numbers.notna() & (np.mod(numbers.astype(float), 1) != 0)
            if frac.any():
                return numbers, ("not a whole number", int(frac.sum()), _samples(series, frac))
            # beyond 64 bits pandas holds a column as floats, which skip whole numbers there: two ids
            # 99999999999999999999998 and ...99 would both silently become 1e+23 (the DuckDB engine agrees)
            beyond = numbers.astype(float).abs() >= 2.0**63  # in floats: a bool or uint64 column compares too
            if beyond.any():
                return numbers, (BEYOND_64_BITS, int(beyond.sum()), _samples(series, beyond))
        return numbers, None
    if kind == "bool":
        if pd.api.types.is_bool_dtype(series):
            return series, None
        mapping = {"true": True, "false": False, "1": True, "0": False}
        text = series.astype("string").str.strip().str.lower()
        converted = text.map(mapping)
        bad = present & converted.isna()
        if bad.any():
            return converted, ("not true/false", int(bad.sum()), _samples(series, bad))
        return converted.astype("boolean"), None
    if kind == "datetime":
        try:
            parsed, mixed = pd.to_datetime(series, errors="coerce", format="ISO8601"), False
        except ValueError:  # time zones that differ within the column, which pandas refuses to mix
            parsed, mixed = pd.to_datetime(series, errors="coerce", format="ISO8601", utc=True), True
        bad = present & parsed.isna()
        if bad.any():
            return parsed, (_NOT_A_TIME, int(bad.sum()), _samples(series, bad))
        return parsed, _zones_finding(series, present) if mixed else None
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string":
        # Python strings already (shared where equal): astype would make a new string object per row
        return pd.Series(np.where(present.to_numpy(), series.to_numpy(), None), index=series.index,
                         name=series.name, dtype=object, copy=False), None
    # one string object per distinct text (a CSV's parser makes one per row): categories repeat
    codes, uniques = pd.factorize(series.astype("string"), use_na_sentinel=True)
    texts = np.empty(len(uniques) + 1, dtype=object)
    texts[:-1] = uniques.astype(object)
    texts[-1] = None  # where the code is -1: missing
    return pd.Series(texts[codes], index=series.index, name=series.name, dtype=object, copy=False), None


def _zones_finding(series, present):
    """The finding of a datetime column whose values, all parsed as UTC instants, name no time zone on some.

    Values that all name their offset (a local time across a daylight-saving change: +01:00, then +02:00)
    are exact instants. A value without one among values with one is ambiguous (local time? UTC?): the
    contract fails on the less common kind, rather than guessing."""
    zoned = present & series.astype("string").str.strip().str.contains(_ZONED, na=False).astype(bool)
    naive = present & ~zoned
    if not (zoned.any() and naive.any()):
        return None
    odd = zoned if zoned.sum() < naive.sum() else naive
    return ZONES, int(odd.sum()), _samples(series, odd)
