"""Export scikit-learn's bundled (offline) toy datasets to CSV for the examples.

Writes, relative to ``--root`` (default: the repo root):

* ``examples/breast_cancer/data/breast_cancer.csv``  (569 rows) from ``load_breast_cancer``
* ``examples/diabetes/data/diabetes.csv``            (442 rows) from ``load_diabetes(scaled=False)``

Both datasets ship inside the scikit-learn wheel, so nothing is downloaded.  The
output is deterministic: explicit column order, floats written with
``format(x, ".10g")`` (which round-trips every value in these datasets; a trailing
``.0`` is added to whole numbers in float columns so readers infer a float dtype),
``\\n`` line endings.  After writing, the script prints every column with its dtype,
min, max and null count, for writing data contracts.

Rerun with::

    .venv/bin/python scripts/export_sklearn_datasets.py
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes

FLOAT_FORMAT = ".10g"

# load_diabetes(scaled=False) names its columns age, sex, bmi, bp, s1..s6; these are the
# readable names of the blood-serum measurements (see the dataset's DESCR).
DIABETES_RENAME = {
    "age": "age",
    "sex": "sex",
    "bmi": "bmi",
    "bp": "blood_pressure",  # average blood pressure
    "s1": "total_cholesterol",  # tc, total serum cholesterol
    "s2": "ldl",  # low-density lipoproteins
    "s3": "hdl",  # high-density lipoproteins
    "s4": "cholesterol_hdl_ratio",  # tch, total cholesterol / HDL
    "s5": "log_triglycerides",  # ltg, log of serum triglycerides level
    "s6": "blood_sugar",  # glu, blood sugar level
}
# Columns of the diabetes data that hold whole numbers and are written as integers.
DIABETES_INT_COLUMNS = {"age", "sex"}


def snake_case(name: str) -> str:
    return "_".join(str(name).strip().lower().replace("-", " ").split())


def format_float(x: float) -> str:
    s = format(float(x), FLOAT_FORMAT)
    if float(s) != float(x):
        raise ValueError(f"{x!r} does not round-trip through {FLOAT_FORMAT!r}")
    if not any(ch in s for ch in ".eEn"):  # whole number: keep it visibly a float
        s += ".0"
    return s


def format_int(x: float) -> str:
    if float(x) != int(x):
        raise ValueError(f"{x!r} is not a whole number")
    return str(int(x))


def write_csv(path: Path, columns: list[str], rows: list[list[str]]) -> bytes:
    payload = ("\n".join([",".join(columns), *(",".join(r) for r in rows)]) + "\n").encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return payload


def breast_cancer_table() -> tuple[list[str], list[str], list[list[str]]]:
    ds = load_breast_cancer()
    features = [snake_case(n) for n in ds.feature_names]
    assert len(set(features)) == 30
    # sklearn encodes target 0 = malignant, 1 = benign (target_names == ['malignant', 'benign']).
    # We invert it so that the positive class is the disease: diagnosis 1 = malignant, 0 = benign.
    assert list(ds.target_names) == ["malignant", "benign"]
    diagnosis = 1 - np.asarray(ds.target, dtype=np.int64)
    columns = ["patient_id", *features, "diagnosis"]
    kinds = ["int"] + ["float"] * len(features) + ["int"]
    rows = [
        [str(i + 1), *(format_float(v) for v in ds.data[i]), str(int(diagnosis[i]))]
        for i in range(ds.data.shape[0])
    ]
    return columns, kinds, rows


def diabetes_table() -> tuple[list[str], list[str], list[list[str]]]:
    ds = load_diabetes(scaled=False)
    names = [str(n) for n in ds.feature_names]
    assert names == list(DIABETES_RENAME), names
    features = [DIABETES_RENAME[n] for n in names]
    columns = ["patient_id", *features, "disease_progression"]
    kinds = ["int"] + ["int" if f in DIABETES_INT_COLUMNS else "float" for f in features] + ["float"]
    rows = []
    for i in range(ds.data.shape[0]):
        cells = [
            format_int(v) if f in DIABETES_INT_COLUMNS else format_float(v)
            for f, v in zip(features, ds.data[i], strict=True)
        ]
        rows.append([str(i + 1), *cells, format_float(ds.target[i])])
    return columns, kinds, rows


def describe(columns: list[str], kinds: list[str], rows: list[list[str]]) -> None:
    print(f"  {'column':<28} {'dtype':<6} {'min':>12} {'max':>12} {'nulls':>6}")
    for j, (col, kind) in enumerate(zip(columns, kinds, strict=True)):
        cells = [r[j] for r in rows]
        values = [float(c) for c in cells if c != ""]
        nulls = len(cells) - len(values)
        lo, hi = min(values), max(values)
        if kind == "int":
            lo_s, hi_s = str(int(lo)), str(int(hi))
        else:
            lo_s, hi_s = format_float(lo), format_float(hi)
        print(f"  {col:<28} {kind:<6} {lo_s:>12} {hi_s:>12} {nulls:>6}")


def main(argv: list[str] | None = None) -> int:
    default_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=default_root, help="where to write examples/ (default: repo root)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root

    targets = [
        (root / "examples" / "breast_cancer" / "data" / "breast_cancer.csv", breast_cancer_table),
        (root / "examples" / "diabetes" / "data" / "diabetes.csv", diabetes_table),
    ]
    for path, build in targets:
        columns, kinds, rows = build()
        payload = write_csv(path, columns, rows)
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        print(
            f"{rel}: rows={len(rows)} cols={len(columns)} bytes={len(payload)} "
            f"sha256={hashlib.sha256(payload).hexdigest()[:16]}"
        )
        describe(columns, kinds, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
