"""The pipelines mlspec builds, checked against scikit-learn built by hand (issue #15).

Imputation: a missing category reached the model as None, which scikit-learn's imputers do not look
for, so `impute:` on a category feature filled nothing and the encoder learnt a `None` category.
Each kind of column a feature can read is trained here with the real CLI on generated data with
missing values, and the saved model must predict exactly what a hand-built scikit-learn pipeline
with the same imputer predicts on the same rows (read by pandas, where a missing value is NaN).

Feature names: `model[:-1].get_feature_names_out()` raised on every saved model; a model with every
transform is trained, saved, re-loaded and must name each column its estimator sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlspec.runtime import artifacts
from tests.conftest import run_cli
from tests.spec_factory import dump

SEED = 7
ROWS = 600
TEST_ROWS = 150  # test_fraction 0.25 of 600, the latest rows by event_time

# kind -> (column contract, feature transform, the value `impute: constant` fills in)
KINDS = {
    "category": ({"type": "category", "values": ["red", "green", "blue"], "nullable": True}, "one_hot", "unknown"),
    "string": ({"type": "string", "nullable": True}, "one_hot", "unknown"),
    "int": ({"type": "int", "min": 0, "max": 9, "nullable": True}, "one_hot", -1),
    "bool": ({"type": "bool", "nullable": True}, "passthrough", 0),
    "float": ({"type": "float", "nullable": True}, "standardize", -1.5),
}


def values_of(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(the column's values as text in the CSV, their effect on the label) for `ROWS` rows."""
    if kind in ("category", "string"):
        raw = rng.choice(["red", "green", "blue"], ROWS, p=[0.5, 0.3, 0.2])
        return raw.astype(object), (raw == "red") * 1.5 - (raw == "blue")
    if kind == "int":
        raw = rng.integers(0, 5, ROWS)
        return raw.astype(object), (raw - 2) * 0.6
    if kind == "bool":
        raw = rng.random(ROWS) < 0.6
        return np.where(raw, "true", "false").astype(object), raw * 1.5
    raw = rng.normal(0, 1, ROWS).round(4)
    return raw.astype(object), raw


def write_project(root: Path, kind: str, impute: str) -> None:
    """A project whose one model reads a signal `x` and a column `v` of `kind` with 15% missing values."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, ROWS).round(4)
    v, effect = values_of(kind, rng)
    label = (x + effect + rng.normal(0, 0.8, ROWS) > 0.3).astype(int)
    v[rng.random(ROWS) < 0.15] = None
    frame = pd.DataFrame({"event_time": pd.date_range("2024-01-01", periods=ROWS, freq="h")
                          .strftime("%Y-%m-%dT%H:%M:%S"), "x": x, "v": v, "label": label})
    (root / "data").mkdir(parents=True)
    frame.to_csv(root / "data" / "rows.csv", index=False)
    contract, transform, fill = KINDS[kind]
    feature = {"source": "rows", "column": "v", "transform": transform, "impute": impute}
    if impute == "constant":
        feature["fill_value"] = fill
    doc = {
        "apiVersion": "mlspec/v1",
        "project": {"name": "imputing", "python": "3.11", "seed": SEED},
        "sources": {"rows": {"format": "csv", "path": "data/rows.csv", "timestamp": "event_time", "schema": {
            "event_time": {"type": "datetime"}, "x": {"type": "float"}, "v": contract,
            "label": {"type": "int", "values": [0, 1]}}}},
        "features": {"fx": {"source": "rows", "column": "x", "transform": "standardize"}, "fv": feature},
        "models": {"m": {"task": "classification", "source": "rows", "label": "label", "features": ["fx", "fv"],
                         "estimator": "logistic_regression", "split": {"method": "time", "test_fraction": 0.25},
                         "metrics": ["roc_auc", "log_loss"]}},
    }
    (root / "specs").mkdir()
    (root / "specs" / "p.yaml").write_text(dump(doc), encoding="utf-8")


def train(root: Path) -> tuple[dict, Pipeline]:
    """`mlspec run`, then the candidate's record and its model, loaded back from the artifact store."""
    result = run_cli("-C", str(root), "run")
    assert result.code == 0, result.stderr
    record = json.loads((root / ".mlspec" / "candidates" / "m.json").read_text(encoding="utf-8"))
    return record, artifacts.load(root / ".mlspec" / "artifacts", record["sha256"])


def by_hand(kind: str, impute: str, train_rows: pd.DataFrame) -> Pipeline:
    """The same model from scikit-learn's parts, fitted on `train_rows` as pandas read them."""
    _, transform, fill = KINDS[kind]
    imputer = SimpleImputer(strategy=impute, **({"fill_value": fill} if impute == "constant" else {}))
    if transform == "one_hot":
        column = make_pipeline(imputer, OneHotEncoder(handle_unknown="ignore", sparse_output=False))
    elif transform == "standardize":
        column = make_pipeline(imputer, StandardScaler())
    else:
        column = imputer
    features = ColumnTransformer([("fx", StandardScaler(), ["x"]), ("fv", column, ["v"])])
    pipeline = Pipeline([("features", features), ("model", LogisticRegression(random_state=SEED))])
    return pipeline.fit(train_rows[["x", "v"]], train_rows["label"])


def as_pandas_reads_it(root: Path, kind: str) -> pd.DataFrame:
    frame = pd.read_csv(root / "data" / "rows.csv", dtype={"v": str} if kind == "string" else None)
    if kind == "bool":
        frame["v"] = frame["v"].map({True: 1.0, False: 0.0})  # pandas reads true/false as bools, NaN beside them
    return frame.sort_values("event_time", kind="stable")


@pytest.mark.parametrize("impute", ["most_frequent", "constant"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_imputing_a_feature_predicts_what_scikit_learn_predicts(tmp_path: Path, kind: str, impute: str) -> None:
    write_project(tmp_path, kind, impute)
    record, model = train(tmp_path)
    frame = as_pandas_reads_it(tmp_path, kind)
    train_rows, test_rows = frame.iloc[:-TEST_ROWS], frame.iloc[-TEST_ROWS:]
    assert test_rows["v"].isna().sum() > 10 and record["rows_test"] == TEST_ROWS
    hand = by_hand(kind, impute, train_rows)
    expected = hand.predict_proba(test_rows[["x", "v"]])[:, 1]

    np.testing.assert_allclose(model.predict_proba(test_rows[["x", "v"]])[:, 1], expected, rtol=1e-9, atol=1e-12)
    if kind in ("category", "string"):  # missing spelt as the loader spells text (None) scores as NaN does
        as_none = test_rows[["x", "v"]].astype({"v": object})
        as_none["v"] = as_none["v"].where(as_none["v"].notna(), None)
        np.testing.assert_allclose(model.predict_proba(as_none)[:, 1], expected, rtol=1e-9, atol=1e-12)
    assert record["metrics"]["roc_auc"] == pytest.approx(roc_auc_score(test_rows["label"], expected), abs=1e-12)
    assert record["metrics"]["log_loss"] == pytest.approx(log_loss(test_rows["label"], expected), rel=1e-9)
    # the model learnt no category for "missing": its columns are the hand-built model's
    assert list(model[:-1].get_feature_names_out()) == list(hand[:-1].get_feature_names_out())


# ------------------------------------------------------------------------------------------------
# feature names of a saved model, every transform
# ------------------------------------------------------------------------------------------------

EVERY_TRANSFORM = {
    "f_pass": {"column": "x"},
    "f_impute": {"column": "z", "transform": "impute"},
    "f_std": {"column": "x", "transform": "standardize", "impute": "mean"},
    "f_minmax": {"column": "z", "transform": "minmax", "impute": "constant", "fill_value": 0},
    "f_log": {"column": "amount", "transform": "log1p"},
    "f_bins": {"column": "x", "transform": "bucketize", "bins": [-1, 1]},
    "f_qbins": {"column": "z", "transform": "bucketize", "n_bins": 3},
    "f_cat": {"column": "colour", "transform": "one_hot", "impute": "most_frequent"},
    "f_rare": {"column": "colour", "transform": "one_hot", "max_categories": 2},
    "f_text": {"column": "word", "transform": "one_hot"},  # missing kept as a category of its own
    "f_int": {"column": "k", "transform": "one_hot"},
    "f_flag": {"column": "flag", "impute": "most_frequent"},
    "f_ratio": {"expr": "amount / (k + 1)", "transform": "standardize"},
    "f_night": {"expr": "x < -1 or z > 1"},
}
EXPECTED_NAMES = [
    "f_pass__x", "f_impute__z", "f_std__x", "f_minmax__z", "f_log__amount",
    "f_bins__x_bucket0", "f_bins__x_bucket1", "f_bins__x_bucket2", "f_qbins__z_0.0", "f_qbins__z_1.0",
    "f_qbins__z_2.0", "f_cat__colour_blue", "f_cat__colour_green", "f_cat__colour_red",
    "f_rare__colour_red", "f_rare__colour_infrequent_sklearn", "f_text__word_no", "f_text__word_yes",
    "f_text__word_nan", "f_int__k_0", "f_int__k_1", "f_int__k_2", "f_flag__flag", "f_ratio__f_ratio",
    "f_night__f_night",
]


def every_transform_project(root: Path) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = 400
    x = rng.normal(0, 1, rows).round(4)
    z = rng.normal(0, 1, rows).round(4).astype(object)
    z[rng.random(rows) < 0.1] = None
    colour = rng.choice(["red", "green", "blue"], rows, p=[0.6, 0.25, 0.15]).astype(object)
    colour[rng.random(rows) < 0.1] = None
    word = rng.choice(["yes", "no"], rows).astype(object)
    word[rng.random(rows) < 0.1] = None
    flag = rng.choice(["true", "false"], rows).astype(object)
    flag[rng.random(rows) < 0.1] = None
    frame = pd.DataFrame({"x": x, "z": z, "amount": rng.gamma(2, 10, rows).round(2), "colour": colour,
                          "word": word, "k": rng.integers(0, 3, rows), "flag": flag,
                          "label": (x + (colour == "red") + rng.normal(0, 1, rows) > 0.5).astype(int)})
    (root / "data").mkdir(parents=True)
    frame.to_csv(root / "data" / "rows.csv", index=False)
    doc = {
        "apiVersion": "mlspec/v1",
        "project": {"name": "names", "python": "3.11", "seed": SEED},
        "sources": {"rows": {"format": "csv", "path": "data/rows.csv", "schema": {
            "x": {"type": "float"}, "z": {"type": "float", "nullable": True}, "amount": {"type": "float", "min": 0},
            "colour": {"type": "category", "values": ["red", "green", "blue"], "nullable": True},
            "word": {"type": "string", "nullable": True}, "k": {"type": "int", "min": 0, "max": 2},
            "flag": {"type": "bool", "nullable": True}, "label": {"type": "int", "values": [0, 1]}}}},
        "features": {name: {"source": "rows", **spec} for name, spec in EVERY_TRANSFORM.items()},
        "models": {"m": {"task": "classification", "source": "rows", "label": "label",
                         "features": list(EVERY_TRANSFORM), "estimator": "logistic_regression",
                         "params": {"max_iter": 1000}, "metrics": ["roc_auc"]}},
        "gates": {"m_release": {"model": "m", "require": ["roc_auc >= 0.5"]}},
    }
    (root / "specs").mkdir()
    (root / "specs" / "p.yaml").write_text(dump(doc), encoding="utf-8")
    return frame


def test_a_saved_model_names_every_column_its_estimator_sees(tmp_path: Path) -> None:
    frame = every_transform_project(tmp_path)
    result = run_cli("-C", str(tmp_path), "run")
    assert result.code == 0, result.stderr
    champion = json.loads(run_cli("-C", str(tmp_path), "registry", "show", "m").stdout)
    model = artifacts.load(tmp_path / ".mlspec" / "artifacts", champion["artifact_sha256"])

    names = list(model[:-1].get_feature_names_out())
    assert names == EXPECTED_NAMES
    assert list(model.named_steps["features"].get_feature_names_out()) == names
    features = pd.read_csv(tmp_path / "data" / "rows.csv").drop(columns="label")
    assert model[:-1].transform(features).shape == (len(frame), len(names))
    assert model[-1].coef_.shape == (1, len(names))  # one name per coefficient, in order
    # the first step names its inputs as it saw them, then the derived columns it adds
    assert list(model[0].get_feature_names_out())[-2:] == ["__f_f_ratio", "__f_f_night"]
