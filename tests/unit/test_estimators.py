"""The static estimator table matches scikit-learn: classes exist, parameters exist, defaults fit the bounds."""

from __future__ import annotations

import importlib
import inspect

import pytest

from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import METRICS

CASES = [(e.name, task) for e in ESTIMATORS.values() for task in e.tasks]


def _class(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("name", "task"), CASES)
def test_table_matches_sklearn(name: str, task: str) -> None:
    estimator = ESTIMATORS[name]
    cls = _class(estimator.class_path(task))
    signature = inspect.signature(cls.__init__).parameters
    for param in estimator.params:
        if task not in param.tasks:
            continue
        assert param.name in signature, f"{cls.__name__} has no parameter {param.name}"
        default = signature[param.name].default
        assert param.check(default) is None or param.kind == "choice", (
            f"{cls.__name__}.{param.name} default {default!r} is outside the table's bounds")
    assert ("random_state" in signature) == estimator.seeded


@pytest.mark.parametrize(("name", "task"), CASES)
def test_table_builds_working_estimators(name: str, task: str) -> None:
    estimator = ESTIMATORS[name]
    cls = _class(estimator.class_path(task))
    model = cls(**({"random_state": 0} if estimator.seeded else {}))
    expected = "classifier" if task == "classification" else "regressor"
    assert getattr(model, "_estimator_type", None) == expected or \
        model.__sklearn_tags__().estimator_type == expected


def test_param_checks() -> None:
    gbm = ESTIMATORS["hist_gradient_boosting"]
    assert gbm.param("learning_rate", "classification").check(0) is not None
    assert gbm.param("learning_rate", "classification").check(0.1) is None
    assert gbm.param("max_iter", "regression").check(1.5) is not None
    assert gbm.param("max_iter", "regression").check(True) is not None
    assert gbm.param("max_depth", "regression").check(None) is None
    assert gbm.param("early_stopping", "regression").check("auto") is None
    assert gbm.param("early_stopping", "regression").check(1) is not None
    assert gbm.param("class_weight", "regression") is None


def test_metric_catalogue_is_consistent() -> None:
    for metric in METRICS.values():
        assert metric.low < metric.high
        assert metric.task in ("classification", "regression")


@pytest.mark.parametrize(("name", "task"), CASES)
def test_accepts_missing_is_what_scikit_learn_does(name: str, task: str) -> None:
    """Validate warns about missing values reaching an estimator by this flag (MLS224), so it must be true."""
    import numpy as np

    estimator = ESTIMATORS[name]
    x = np.random.default_rng(0).random((60, 2))
    x[::7, 0] = np.nan
    y = np.arange(60) % 2 if task == "classification" else np.arange(60.0)
    model = _class(estimator.class_path(task))()
    try:
        model.fit(x, y)
        fitted = True
    except ValueError as exc:
        assert "NaN" in str(exc)
        fitted = False
    assert fitted == estimator.accepts_missing


@pytest.mark.parametrize(("name", "task"), CASES)
def test_defaults_shown_by_explain_are_scikit_learns(name: str, task: str) -> None:
    from mlspec.lang.estimators import DEFAULTS

    estimator = ESTIMATORS[name]
    signature = inspect.signature(_class(estimator.class_path(task)).__init__).parameters
    for param in estimator.params:
        if task in param.tasks:
            default = DEFAULTS[(name, param.name)]
            default = default[task] if isinstance(default, dict) else default
            assert default == signature[param.name].default and type(default) is type(signature[param.name].default)
