"""Which measure and threshold each monitored column and the predictions get (`mlspec.spec.drift`, issue #15)."""

from __future__ import annotations

import pytest

from mlspec.spec.drift import Measure, column_measures, prediction_measure
from mlspec.spec.v1.monitors import Drift

TYPES = {"amount": "float", "flag": "bool", "merchant": "category", "seen": "datetime"}
FEATURES = {"amount_log": "amount", "merchant_oh": "merchant", "is_night": None}


def measures(**drift) -> dict[str, tuple[str, float]]:
    return {c: (m.method, m.threshold) for c, m in column_measures(Drift(**drift), TYPES, FEATURES).items()}


def test_defaults_measure_numbers_with_method_and_categories_with_jensen_shannon() -> None:
    assert measures() == {"amount": ("wasserstein", 0.1), "flag": ("wasserstein", 0.1),
                          "merchant": ("jensen_shannon", 0.1), "seen": ("jensen_shannon", 0.1)}


def test_threshold_is_the_threshold_of_method_only() -> None:
    assert measures(method="ks", threshold=0.3) == {"amount": ("ks", 0.3), "flag": ("ks", 0.3),
                                                    "merchant": ("jensen_shannon", 0.1),
                                                    "seen": ("jensen_shannon", 0.1)}
    # a measure that reads categories too: the one threshold applies to every column, as it always did
    assert set(measures(method="psi", threshold=0.3).values()) == {("psi", 0.3)}


def test_thresholds_and_categorical_set_each_measure() -> None:
    got = measures(method="wasserstein", categorical="chi_square",
                   thresholds={"wasserstein": 0.25, "chi_square": 0.05, "psi": 0.4})
    assert got == {"amount": ("wasserstein", 0.25), "flag": ("wasserstein", 0.25),
                   "merchant": ("chi_square", 0.05), "seen": ("chi_square", 0.05)}


@pytest.mark.parametrize(("override", "expected"), [
    ({"threshold": 0.4}, ("jensen_shannon", 0.4)),  # no method: the column's own measure
    ({"method": "psi"}, ("psi", 0.35)),  # no threshold: the measure's threshold from thresholds
    ({"method": "ks", "threshold": 0.2}, ("jensen_shannon", 0.2)),  # ks cannot measure categories
])
def test_a_column_features_override_replaces_its_columns_measure(override: dict, expected: tuple) -> None:
    got = measures(thresholds={"psi": 0.35}, features={"merchant_oh": override, "is_night": {"threshold": 9.0}})
    assert got["merchant"] == expected
    assert got["amount"] == ("wasserstein", 0.1)  # the derived feature's override touches no column


def test_predictions_use_method_and_its_threshold() -> None:
    assert prediction_measure(Drift(method="chi_square", threshold=0.3)) == Measure("chi_square", 0.3, "numeric")
    assert prediction_measure(Drift(method="ks", thresholds={"ks": 0.2})) == Measure("ks", 0.2, "numeric")
    assert prediction_measure(Drift(prediction=False)) is None
