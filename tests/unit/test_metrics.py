"""The metric catalogue (`mlspec.lang.metrics`) and how the runtime computes it (`runtime.scoring`).

On generated data with a three-class text label and a real classifier's predictions, every averaged
metric equals scikit-learn's function called with the average its definition names, exactly; the
names of spec language v1 keep their meaning (positive class on two classes, weighted on more);
two-class-only metrics are NaN on three classes, never a made-up number.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import label_binarize

from mlspec.lang.metrics import CLASSIFICATION, METRICS, explain_metric, metrics_for
from mlspec.runtime import scoring

CLASSES = ["bird", "cat", "dog"]


def _fitted(classes: list[str], rows: int = 600, seed: int = 3):
    """A logistic regression on two noisy features, and held-out rows it predicts (as training does)."""
    rng = np.random.default_rng(seed)
    label = rng.choice(classes, rows, p=np.linspace(1, 2, len(classes)) / np.linspace(1, 2, len(classes)).sum())
    code = np.array([classes.index(v) for v in label], dtype=float)
    frame = pd.DataFrame({"x1": code + rng.normal(0, 1.2, rows), "x2": rng.normal(0, 1, rows) - 0.5 * code})
    model = LogisticRegression(max_iter=500).fit(frame[:400], label[:400])
    predicted, proba = scoring.predict(model, frame[400:], "classification", 0.5)
    return pd.Series(label[400:], dtype=object), predicted, proba, model.classes_


@pytest.fixture(scope="module")
def three() -> tuple:
    return _fitted(CLASSES)


@pytest.fixture(scope="module")
def two() -> tuple:
    return _fitted(["no", "yes"])


def _compute(name: str, data: tuple) -> float:
    y, predicted, proba, classes = data
    return scoring.compute([name], "classification", y, predicted, proba, classes)[name]


def _sklearn(name: str, data: tuple) -> float:
    """What each name's definition says, as scikit-learn computes it."""
    y, predicted, proba, classes = data
    family, _, average = name.rpartition("_")
    labels_fns = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}
    if family in labels_fns:
        return labels_fns[family](y, predicted, average=average, zero_division=np.nan)
    if family == "average_precision":
        return skm.average_precision_score(label_binarize(y, classes=classes), proba, average=average)
    multi_class, how = {"roc_auc_ovr": ("ovr", "macro"), "roc_auc_ovr_weighted": ("ovr", "weighted"),
                        "roc_auc_ovo": ("ovo", "macro"), "roc_auc_ovo_weighted": ("ovo", "weighted")}[name]
    return skm.roc_auc_score(y, proba, multi_class=multi_class, average=how, labels=classes)


AVERAGED = [f"{family}_{average}" for family in ("precision", "recall", "f1", "average_precision")
            for average in ("macro", "weighted", "micro")] + [
    "roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo", "roc_auc_ovo_weighted"]


def test_the_averaged_names_are_in_the_catalogue() -> None:
    assert set(AVERAGED) <= set(metrics_for(CLASSIFICATION))


@pytest.mark.parametrize("name", AVERAGED)
def test_an_averaged_metric_is_sklearns_with_the_documented_average(name: str, three: tuple) -> None:
    value = _compute(name, three)
    assert math.isfinite(value)
    assert value == _sklearn(name, three)  # to the last digit: the same computation


def test_the_averages_differ_on_imbalanced_classes(three: tuple) -> None:
    """The data is imbalanced enough that choosing the average matters (else the test above proves little)."""
    assert len({_compute(f"f1_{a}", three) for a in ("macro", "weighted", "micro")}) == 3
    assert _compute("roc_auc_ovr", three) != _compute("roc_auc_ovr_weighted", three)


@pytest.mark.parametrize(("old", "same_as"), [("precision", "precision_weighted"), ("recall", "recall_weighted"),
                                              ("f1", "f1_weighted"), ("roc_auc", "roc_auc_ovr_weighted"),
                                              ("average_precision", "average_precision_weighted"),
                                              ("balanced_accuracy", "recall_macro"), ("accuracy", "f1_micro")])
def test_the_v1_names_keep_their_meaning_on_three_classes(old: str, same_as: str, three: tuple) -> None:
    assert _compute(old, three) == pytest.approx(_compute(same_as, three), abs=1e-12)


def test_the_v1_names_are_of_the_positive_class_on_two_classes(two: tuple) -> None:
    y, predicted, proba, classes = two
    assert list(classes) == ["no", "yes"]  # the greater value, as documented, is the positive class
    assert _compute("f1", two) == skm.f1_score(y, predicted, pos_label="yes")
    assert _compute("precision", two) == skm.precision_score(y, predicted, pos_label="yes")
    assert _compute("recall", two) == skm.recall_score(y, predicted, pos_label="yes")
    assert _compute("roc_auc", two) == skm.roc_auc_score(y == "yes", proba[:, 1])
    assert _compute("average_precision", two) == skm.average_precision_score(y, proba[:, 1], pos_label="yes")
    assert _compute("brier", two) == skm.brier_score_loss(y, proba[:, 1], pos_label="yes")


@pytest.mark.parametrize("name", ["roc_auc_ovr", "roc_auc_ovr_weighted", "roc_auc_ovo", "roc_auc_ovo_weighted"])
def test_every_roc_auc_is_the_one_curve_on_two_classes(name: str, two: tuple) -> None:
    assert _compute(name, two) == _compute("roc_auc", two)


def test_a_macro_average_counts_both_classes_on_two(two: tuple) -> None:
    y, predicted, _proba, _classes = two
    assert _compute("f1_macro", two) == skm.f1_score(y, predicted, average="macro")
    assert _compute("f1_macro", two) != _compute("f1", two)


def test_a_two_class_metric_is_nan_on_three_classes(three: tuple) -> None:
    assert [m.name for m in METRICS.values() if m.binary_only] == ["brier"]
    assert math.isnan(_compute("brier", three))


def test_every_other_classification_metric_has_a_value_on_three_classes(three: tuple) -> None:
    names = [m for m in metrics_for(CLASSIFICATION) if not METRICS[m].binary_only]
    values = scoring.compute(names, "classification", *three)
    assert [n for n, v in values.items() if not math.isfinite(v)] == []


def test_log_loss_takes_any_number_of_classes(three: tuple) -> None:
    y, _predicted, proba, classes = three
    assert _compute("log_loss", three) == skm.log_loss(y, proba, labels=classes)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_is_explained_with_its_definition(name: str) -> None:
    text = explain_metric(name)
    assert text is not None and text.startswith(f"{name}: a {METRICS[name].task} metric, ")
    assert METRICS[name].description in text
    assert ("positive class" in text) == (METRICS[name].task == CLASSIFICATION)


def test_an_unknown_name_has_no_explanation() -> None:
    assert explain_metric("f1_samples") is None
