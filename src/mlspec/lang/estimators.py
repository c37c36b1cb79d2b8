"""The estimator allowlist: every model a spec may name, with a static table of its parameters.

Specs never name an import path. They name an entry of this table, and every parameter is checked
against its type and bounds at validation time. The runtime maps the same names to scikit-learn
classes (`class_path` is a constant of this table, never spec text). A test checks the table
against scikit-learn's real signatures, so it cannot drift from the library.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)


@dataclass(frozen=True, slots=True)
class Param:
    """One tunable parameter: its kind, bounds, allowed choices, and default."""

    name: str
    kind: str  # "int" | "float" | "bool" | "choice"
    description: str
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    nullable: bool = False
    choices: tuple[object, ...] = ()
    tasks: tuple[str, ...] = TASKS

    def describe_range(self) -> str:
        """A short human text of the allowed values, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join("null" if c is None else str(c).lower() if isinstance(c, bool)
                                         else str(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        low = "" if self.low is None else (f">= {self.low:g}" if self.low_inclusive else f"> {self.low:g}")
        high = "" if self.high is None else f"<= {self.high:g}"
        bounds = " and ".join(b for b in (low, high) if b)
        text = f"{'an integer' if self.kind == 'int' else 'a number'}{' ' + bounds if bounds else ''}"
        return text + (" (or null)" if self.nullable else "")

    def check(self, value: object) -> str | None:
        """Return why `value` is not allowed, or None when it is."""
        if value is None:
            return None if self.nullable or None in self.choices else f"must be {self.describe_range()}"
        if self.kind == "choice":
            ok = any(value == c and type(value) is type(c) for c in self.choices)
            return None if ok else f"must be {self.describe_range()}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be {self.describe_range()}"
        if self.kind == "int" and not isinstance(value, int):
            return f"must be {self.describe_range()}"
        too_low = self.low is not None and (value < self.low if self.low_inclusive else value <= self.low)
        too_high = self.high is not None and value > self.high
        return f"must be {self.describe_range()}" if too_low or too_high else None


@dataclass(frozen=True, slots=True)
class Estimator:
    """An allowlisted estimator: which scikit-learn class serves each task, and its parameters."""

    name: str
    description: str
    class_paths: tuple[tuple[str, str], ...]  # (task, "module:Class")
    params: tuple[Param, ...]
    seeded: bool  # takes random_state, so the project seed is injected
    accepts_missing: bool = False  # fits on NaN natively (scikit-learn's tree models); others need `impute`

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks this estimator can serve."""
        return tuple(task for task, _ in self.class_paths)

    def class_path(self, task: str) -> str:
        """The 'module:Class' that implements this estimator for `task`."""
        return dict(self.class_paths)[task]

    def param(self, name: str, task: str) -> Param | None:
        """The parameter called `name` for `task`, or None when there is none."""
        for p in self.params:
            if p.name == name and task in p.tasks:
                return p
        return None

    def param_names(self, task: str) -> list[str]:
        """Every parameter name valid for `task`."""
        return [p.name for p in self.params if task in p.tasks]


_C, _R = CLASSIFICATION, REGRESSION

_N_ESTIMATORS = Param("n_estimators", "int", "Number of trees.", 1, 5000)
_MAX_DEPTH = Param("max_depth", "int", "Maximum depth of a tree; null for unlimited.", 1, 1000, nullable=True)
_MIN_SPLIT = Param("min_samples_split", "int", "Minimum rows to split a node.", 2, 100_000)
_MIN_LEAF = Param("min_samples_leaf", "int", "Minimum rows in a leaf.", 1, 100_000)
_MAX_FEATURES = Param("max_features", "choice", "Features considered per split.", choices=("sqrt", "log2", None))
_CLASS_WEIGHT = Param("class_weight", "choice", "Reweight classes; 'balanced' for rare positives.",
                      choices=("balanced", None), tasks=(_C,))
_FOREST_CLASS_WEIGHT = Param("class_weight", "choice", "Reweight classes; 'balanced' for rare positives.",
                             choices=("balanced", "balanced_subsample", None), tasks=(_C,))
_LEARNING_RATE = Param("learning_rate", "float", "Shrinkage of each boosting step.", 0, 10, low_inclusive=False)
_BOOTSTRAP = Param("bootstrap", "bool", "Sample rows with replacement for each tree.")
_FIT_INTERCEPT = Param("fit_intercept", "bool", "Fit an intercept term.")
_ALPHA = Param("alpha", "float", "Regularisation strength.", 0, 1e6)
_MAX_ITER_LINEAR = Param("max_iter", "int", "Maximum solver iterations.", 1, 1_000_000)
_TOL = Param("tol", "float", "Stopping tolerance.", 0, 1, low_inclusive=False)

_FOREST_PARAMS = (_N_ESTIMATORS, _MAX_DEPTH, _MIN_SPLIT, _MIN_LEAF, _MAX_FEATURES, _BOOTSTRAP,
                  _FOREST_CLASS_WEIGHT)

ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator(
            "logistic_regression", "Regularised logistic regression (L2).",
            ((_C, "sklearn.linear_model:LogisticRegression"),),
            (Param("C", "float", "Inverse regularisation strength.", 0, 1e6, low_inclusive=False),
             _MAX_ITER_LINEAR, _TOL, _FIT_INTERCEPT, _CLASS_WEIGHT),
            seeded=True),
        Estimator(
            "linear_regression", "Ordinary least squares.",
            ((_R, "sklearn.linear_model:LinearRegression"),), (_FIT_INTERCEPT,), seeded=False),
        Estimator(
            "ridge", "Linear regression with L2 regularisation.",
            ((_R, "sklearn.linear_model:Ridge"),), (_ALPHA, _FIT_INTERCEPT, _TOL), seeded=True),
        Estimator(
            "lasso", "Linear regression with L1 regularisation.",
            ((_R, "sklearn.linear_model:Lasso"),),
            (Param("alpha", "float", "Regularisation strength.", 0, 1e6, low_inclusive=False),
             _MAX_ITER_LINEAR, _TOL, _FIT_INTERCEPT), seeded=True),
        Estimator(
            "elastic_net", "Linear regression with mixed L1/L2 regularisation.",
            ((_R, "sklearn.linear_model:ElasticNet"),),
            (Param("alpha", "float", "Regularisation strength.", 0, 1e6, low_inclusive=False),
             Param("l1_ratio", "float", "Share of L1 in the penalty.", 0, 1),
             _MAX_ITER_LINEAR, _TOL, _FIT_INTERCEPT), seeded=True),
        Estimator(
            "decision_tree", "A single decision tree.",
            ((_C, "sklearn.tree:DecisionTreeClassifier"), (_R, "sklearn.tree:DecisionTreeRegressor")),
            (_MAX_DEPTH, _MIN_SPLIT, _MIN_LEAF, _MAX_FEATURES, _CLASS_WEIGHT), seeded=True, accepts_missing=True),
        Estimator(
            "random_forest", "A random forest of decision trees.",
            ((_C, "sklearn.ensemble:RandomForestClassifier"), (_R, "sklearn.ensemble:RandomForestRegressor")),
            _FOREST_PARAMS, seeded=True, accepts_missing=True),
        Estimator(
            "extra_trees", "Extremely randomised trees.",
            ((_C, "sklearn.ensemble:ExtraTreesClassifier"), (_R, "sklearn.ensemble:ExtraTreesRegressor")),
            _FOREST_PARAMS, seeded=True, accepts_missing=True),
        Estimator(
            "gradient_boosting", "Gradient-boosted trees (exact splits; best below ~50k rows).",
            ((_C, "sklearn.ensemble:GradientBoostingClassifier"),
             (_R, "sklearn.ensemble:GradientBoostingRegressor")),
            (_N_ESTIMATORS, _LEARNING_RATE,
             Param("max_depth", "int", "Maximum depth of each tree.", 1, 100, nullable=True),
             _MIN_SPLIT, _MIN_LEAF,
             Param("subsample", "float", "Share of rows used per tree.", 0, 1, low_inclusive=False)),
            seeded=True),
        Estimator(
            "hist_gradient_boosting", "Histogram-based gradient boosting (fast on large data, handles NaN).",
            ((_C, "sklearn.ensemble:HistGradientBoostingClassifier"),
             (_R, "sklearn.ensemble:HistGradientBoostingRegressor")),
            (Param("max_iter", "int", "Number of boosting iterations.", 1, 10_000), _LEARNING_RATE,
             Param("max_depth", "int", "Maximum depth of each tree; null for unlimited.", 1, 1000, nullable=True),
             Param("max_leaf_nodes", "int", "Maximum leaves per tree; null for unlimited.", 2, 100_000,
                   nullable=True),
             Param("min_samples_leaf", "int", "Minimum rows in a leaf.", 1, 100_000),
             Param("l2_regularization", "float", "L2 penalty on leaf values.", 0, 1e6),
             Param("max_bins", "int", "Histogram bins per feature.", 2, 255),
             Param("early_stopping", "choice", "Stop when the validation score stops improving.",
                   choices=("auto", True, False)),
             _CLASS_WEIGHT),
            seeded=True, accepts_missing=True),
        Estimator(
            "knn", "k-nearest neighbours.",
            ((_C, "sklearn.neighbors:KNeighborsClassifier"), (_R, "sklearn.neighbors:KNeighborsRegressor")),
            (Param("n_neighbors", "int", "Number of neighbours.", 1, 10_000),
             Param("weights", "choice", "Weight neighbours equally or by distance.",
                   choices=("uniform", "distance"))),
            seeded=False),
    )
}


_UNKNOWN = object()
# scikit-learn's default of each parameter (a test checks them against its signatures); by task where they differ
DEFAULTS: dict[tuple[str, str], object] = {
    ("logistic_regression", "C"): 1.0,
    ("logistic_regression", "max_iter"): 100,
    ("logistic_regression", "tol"): 0.0001,
    ("logistic_regression", "fit_intercept"): True,
    ("logistic_regression", "class_weight"): None,
    ("linear_regression", "fit_intercept"): True,
    ("ridge", "alpha"): 1.0,
    ("ridge", "fit_intercept"): True,
    ("ridge", "tol"): 0.0001,
    ("lasso", "alpha"): 1.0,
    ("lasso", "max_iter"): 1000,
    ("lasso", "tol"): 0.0001,
    ("lasso", "fit_intercept"): True,
    ("elastic_net", "alpha"): 1.0,
    ("elastic_net", "l1_ratio"): 0.5,
    ("elastic_net", "max_iter"): 1000,
    ("elastic_net", "tol"): 0.0001,
    ("elastic_net", "fit_intercept"): True,
    ("decision_tree", "max_depth"): None,
    ("decision_tree", "min_samples_split"): 2,
    ("decision_tree", "min_samples_leaf"): 1,
    ("decision_tree", "max_features"): None,
    ("decision_tree", "class_weight"): None,
    ("random_forest", "n_estimators"): 100,
    ("random_forest", "max_depth"): None,
    ("random_forest", "min_samples_split"): 2,
    ("random_forest", "min_samples_leaf"): 1,
    ("random_forest", "max_features"): {"classification": "sqrt", "regression": 1.0},
    ("random_forest", "bootstrap"): True,
    ("random_forest", "class_weight"): None,
    ("extra_trees", "n_estimators"): 100,
    ("extra_trees", "max_depth"): None,
    ("extra_trees", "min_samples_split"): 2,
    ("extra_trees", "min_samples_leaf"): 1,
    ("extra_trees", "max_features"): {"classification": "sqrt", "regression": 1.0},
    ("extra_trees", "bootstrap"): False,
    ("extra_trees", "class_weight"): None,
    ("gradient_boosting", "n_estimators"): 100,
    ("gradient_boosting", "learning_rate"): 0.1,
    ("gradient_boosting", "max_depth"): 3,
    ("gradient_boosting", "min_samples_split"): 2,
    ("gradient_boosting", "min_samples_leaf"): 1,
    ("gradient_boosting", "subsample"): 1.0,
    ("hist_gradient_boosting", "max_iter"): 100,
    ("hist_gradient_boosting", "learning_rate"): 0.1,
    ("hist_gradient_boosting", "max_depth"): None,
    ("hist_gradient_boosting", "max_leaf_nodes"): 31,
    ("hist_gradient_boosting", "min_samples_leaf"): 20,
    ("hist_gradient_boosting", "l2_regularization"): 0.0,
    ("hist_gradient_boosting", "max_bins"): 255,
    ("hist_gradient_boosting", "early_stopping"): "auto",
    ("hist_gradient_boosting", "class_weight"): None,
    ("knn", "n_neighbors"): 5,
    ("knn", "weights"): "uniform",
}


def _default_text(value: object) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def explain_estimator(name: str) -> str | None:
    """What `mlspec explain ESTIMATOR` prints: the estimator, its classes, and every parameter with its
    allowed values and scikit-learn's default (None: no such estimator)."""
    estimator = ESTIMATORS.get(name.lower())
    if estimator is None:
        return None
    lines = [f"{estimator.name}: {estimator.description}", ""]
    lines += [f"  {task}: {path.replace(':', '.')}" for task, path in estimator.class_paths]
    lines += ["", "Missing values: " + ("taken as they are (NaN)." if estimator.accepts_missing else
                                       "refused; give nullable features an impute: (see `mlspec explain MLS224`).")]
    if estimator.seeded:
        lines.append("Seeded: random_state is the project's seed unless params set it.")
    lines += ["", "Parameters (params: and search.space:):"]
    for param in estimator.params:
        only = "" if set(param.tasks) == set(estimator.tasks) else f" [{', '.join(param.tasks)} only]"
        default = DEFAULTS.get((estimator.name, param.name), _UNKNOWN)
        if isinstance(default, dict):
            shown = "; default " + ", ".join(f"{_default_text(v)} ({t})" for t, v in default.items())
        else:
            shown = "" if default is _UNKNOWN else f"; default {_default_text(default)}"
        lines.append(f"  {param.name}: {param.describe_range()}{shown}{only}. {param.description}")
    return "\n".join(lines) + "\n"
