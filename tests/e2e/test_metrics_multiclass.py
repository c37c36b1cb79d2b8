"""Metrics on a three-class label end to end: `mlspec run` trains on generated data and records each averaged
metric as scikit-learn computes it on the test rows with the documented average; a two-class metric is
refused by `mlspec validate` when the label's contract lists more classes, and by `mlspec run` before
training when only the data shows them; a two-class label keeps it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from mlspec import api
from mlspec.runtime import artifacts, steps
from tests.e2e.test_run import mlspec
from tests.spec_factory import dump

SPECIES = ["bird", "cat", "dog"]
AVERAGED = ["f1_macro", "f1_weighted", "f1_micro", "precision_macro", "precision_weighted", "precision_micro",
            "recall_macro", "recall_weighted", "recall_micro", "roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo",
            "roc_auc_ovo_weighted", "average_precision_macro", "average_precision_weighted",
            "average_precision_micro"]


def _frame(rows: int = 500, seed: int = 5, classes: list[str] = SPECIES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = np.arange(1, len(classes) + 1) / np.arange(1, len(classes) + 1).sum()  # imbalanced on purpose
    code = rng.choice(len(classes), rows, p=weights)
    return pd.DataFrame({
        "seen_at": pd.date_range("2024-03-01", periods=rows, freq="h").strftime("%Y-%m-%dT%H:%M:%S"),
        "weight": (2.0 * code + rng.normal(0, 1.5, rows)).round(6),
        "ears": (rng.normal(0, 1, rows) - 0.7 * code).round(6),
        "species": np.array(classes)[code],
    })


def _project(root: Path, metrics: list[str], label: dict, frame: pd.DataFrame) -> Path:
    doc = {
        "apiVersion": "mlspec/v1",
        "project": {"name": "pets", "seed": 3},
        "sources": {"animals": {"format": "csv", "path": "data/animals.csv", "timestamp": "seen_at", "schema": {
            "seen_at": {"type": "datetime"}, "weight": {"type": "float"}, "ears": {"type": "float"},
            "species": label}}},
        "features": {"weight": {"source": "animals", "column": "weight", "transform": "standardize"},
                     "ears": {"source": "animals", "column": "ears", "transform": "standardize"}},
        "models": {"species_lr": {"task": "classification", "source": "animals", "label": "species",
                                  "features": ["weight", "ears"], "estimator": "logistic_regression",
                                  "split": {"method": "time", "test_fraction": 0.3}, "metrics": metrics}},
    }
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "pets.yaml").write_text(dump(doc), encoding="utf-8")
    (root / "data").mkdir()
    frame.to_csv(root / "data" / "animals.csv", index=False)
    return root


def test_run_records_each_averaged_metric_as_sklearn_computes_it(tmp_path: Path) -> None:
    frame = _frame()
    root = _project(tmp_path, [*AVERAGED, "f1", "roc_auc", "log_loss"],
                    {"type": "category", "values": SPECIES}, frame)
    result = mlspec(root, "run")
    assert result.code == 0, result.stderr
    recorded = json.loads((root / ".mlspec" / "candidates" / "species_lr.json").read_text(encoding="utf-8"))

    # the time split's test rows are the latest 30%; predict them with the trained pipeline
    test = frame.iloc[len(frame) - int(np.ceil(len(frame) * 0.3)):]
    pipeline = artifacts.load(steps.Paths.of(api.load(root).manifest, root).artifacts, recorded["sha256"])
    y, proba = test["species"].to_numpy(dtype=object), pipeline.predict_proba(test[["weight", "ears"]])
    predicted = pipeline.classes_[np.argmax(proba, axis=1)]
    assert list(pipeline.classes_) == SPECIES
    expected = {}
    for name in AVERAGED:
        family, _, average = name.rpartition("_")
        if family in ("f1", "precision", "recall"):
            fn = {"f1": skm.f1_score, "precision": skm.precision_score, "recall": skm.recall_score}[family]
            expected[name] = fn(y, predicted, average=average, zero_division=np.nan)
        elif family == "average_precision":
            expected[name] = skm.average_precision_score(label_binarize(y, classes=SPECIES), proba, average=average)
        else:
            multi_class = "ovo" if "ovo" in name else "ovr"
            expected[name] = skm.roc_auc_score(y, proba, multi_class=multi_class, labels=SPECIES,
                                               average="weighted" if name.endswith("weighted") else "macro")
    # the v1 names keep their meaning: weighted over the three classes
    expected["f1"] = skm.f1_score(y, predicted, average="weighted")
    expected["roc_auc"] = skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted", labels=SPECIES)
    expected["log_loss"] = skm.log_loss(y, proba, labels=SPECIES)
    assert {k: recorded["metrics"][k] for k in expected} == expected  # exactly, through JSON and back


def test_validate_refuses_a_two_class_metric_on_a_label_listing_three(tmp_path: Path) -> None:
    root = _project(tmp_path, ["f1_macro", "brier"], {"type": "category", "values": SPECIES}, _frame())
    result = mlspec(root, "validate", "--output-format", "concise")
    assert result.code == 1
    assert result.stdout.startswith("specs/pets.yaml:")
    assert "MLS222 metric 'brier' needs a two-class label, but label 'species' may take 3 classes" in result.stdout


def test_validate_keeps_a_two_class_metric_on_a_two_class_label(tmp_path: Path) -> None:
    for i, label in enumerate(({"type": "category", "values": ["cat", "dog"]}, {"type": "bool"},
                               {"type": "string"})):
        root = _project(tmp_path / str(i), ["brier", "f1_macro"], label, _frame(classes=["cat", "dog"]))
        result = mlspec(root, "validate")
        assert result.code == 0, result.stdout


def test_run_refuses_a_two_class_metric_before_training_when_the_data_has_three(tmp_path: Path) -> None:
    root = _project(tmp_path, ["f1_macro", "brier"], {"type": "string"}, _frame())
    assert mlspec(root, "validate").code == 0  # the contract does not say how many classes there are
    result = mlspec(root, "run")
    assert result.code == 1
    assert "metric brier needs a two-class label, but label 'species' has 3 classes (bird, cat, dog)" in result.stderr
    assert "log_loss" in result.stderr  # what to use instead
    assert not (root / ".mlspec" / "candidates" / "species_lr.json").exists()
