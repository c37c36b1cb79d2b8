"""Train and evaluate one model: split, (search), fit, cross-validate, score, slice, save.

Problems that would make a model meaningless are errors before fitting: a label with one class, an
empty split, missing labels, a feature identical to the label, a two-class metric on a label of more
classes. The project seed drives every random choice, so identical inputs give identical metrics and an
identical artifact hash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mlspec.manifest import Manifest, ModelNode, SearchSpec
from mlspec.runtime import artifacts, cluster, scoring
from mlspec.runtime.errors import TrainingError
from mlspec.runtime.features import build_pipeline, raw_columns


@dataclass
class Candidate:
    """A trained, evaluated model that is not registered yet."""

    model: str
    artifact: bytes
    sha256: str
    metrics: dict[str, float]
    params: dict
    rows_train: int
    rows_test: int
    cv: dict[str, dict[str, float]] | None = None
    search: dict | None = None
    slices: dict[str, dict[str, dict]] = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    metrics_train: dict[str, float] | None = None  # only when the project mirrors runs to a tracker


def _split(model: ModelNode, manifest: Manifest, frame, seed: int):
    from sklearn.model_selection import train_test_split

    rows = len(frame)
    n_test = math.ceil(rows * model.split.test_fraction)
    if rows < 2 or n_test < 1 or rows - n_test < 1:
        raise TrainingError(f"model '{model.name}': {rows} row(s) cannot be split into non-empty train and "
                            f"test sets (test_fraction {model.split.test_fraction})",
                            hint="add data, or lower min_rows tolerance only if this is a toy dataset")
    if model.split.method == "time":
        timestamp = manifest.source(model.source).timestamp
        ordered = frame.sort_values(timestamp, kind="stable")
        return ordered.iloc[: rows - n_test], ordered.iloc[rows - n_test:]
    stratify = frame[model.label] if model.split.method == "stratified" else None
    try:
        return train_test_split(frame, test_size=n_test, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise TrainingError(f"model '{model.name}': cannot make a stratified split: {exc}",
                            hint="every class needs at least 2 rows; use method: random") from exc


def _check_inputs(model: ModelNode, frame, columns: list[str]) -> None:
    import numpy as np

    label = frame[model.label]
    if len(label) == 0:
        raise TrainingError(f"model '{model.name}': source '{model.source}' has no rows to train on",
                            hint="raise checks.min_rows on the source so empty data stops at the contract")
    if label.isna().any():
        raise TrainingError(f"model '{model.name}': label '{model.label}' has {int(label.isna().sum())} missing "
                            "value(s)", hint="drop unlabelled rows from the source, or mark them in the data")
    if model.task == "classification" and label.nunique() < 2:
        only = label.iloc[0]
        only = only.item() if hasattr(only, "item") else only
        raise TrainingError(f"model '{model.name}': label '{model.label}' has a single class "
                            f"({only!r}) in {len(label)} rows", hint="a classifier needs two classes")
    if model.task == "classification":
        _check_binary_only(model, label)
    for column in columns:
        values = frame[column]
        numeric = values.dtype.kind in "fiub" and label.dtype.kind in "fiub"
        same = (np.array_equal(values.to_numpy(dtype=float), label.to_numpy(dtype=float), equal_nan=True) if numeric
                else values.astype(str).reset_index(drop=True).equals(label.astype(str).reset_index(drop=True)))
        if len(values) > 1 and same:
            raise TrainingError(f"model '{model.name}': column '{column}' is identical to the label "
                                f"'{model.label}'", hint="the label leaked into the features; remove that feature")


def _check_binary_only(model: ModelNode, label) -> None:
    """Refuse, before fitting, a two-class metric on a label the data shows to have more classes.

    `mlspec validate` refuses it when the label's contract lists its values; otherwise only the data
    knows, and the metric would be NaN and fail every gate after the whole training."""
    from mlspec.lang.metrics import METRICS

    binary_only = [m for m in model.metrics if METRICS[m].binary_only]
    classes = sorted(map(str, label.unique()))
    if not binary_only or len(classes) <= 2:
        return
    shown = ", ".join(classes[:5]) + (", ..." if len(classes) > 5 else "")
    raise TrainingError(f"model '{model.name}': metric {', '.join(binary_only)} needs a two-class label, but "
                        f"label '{model.label}' has {len(classes)} classes ({shown})", where=model.file,
                        hint="remove it from the model's metrics (log_loss takes any number of classes), or "
                             "list the label's values in its contract so `mlspec validate` catches this")


def _search(model: ModelNode, spec: SearchSpec, pipeline, x, y, seed: int, n_jobs: int):
    """Search the model's space on `n_jobs` joblib workers (1 here, -1 on a Dask cluster): the best parameters (as
    the pipeline names them) and what the search found. `_refit` fits them, outside the cluster."""
    from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold

    folds = (StratifiedKFold if model.task == "classification" else KFold)(spec.folds, shuffle=True,
                                                                           random_state=seed)
    scorer = _scorer(spec.metric, model)
    if spec.method == "grid":
        grid = {f"model__{k}": v for k, v in spec.space.items()}
        searcher = GridSearchCV(pipeline, grid, scoring=scorer, cv=folds, n_jobs=n_jobs, refit=False)
    else:
        from scipy import stats

        dists = {}
        for key, value in spec.space.items():
            if isinstance(value, dict):
                low, high = value["low"], value["high"]
                integer = isinstance(low, int) and isinstance(high, int)
                if integer:
                    dists[f"model__{key}"] = stats.randint(low, high + 1)
                elif value.get("log"):
                    dists[f"model__{key}"] = stats.loguniform(low, high)
                else:
                    dists[f"model__{key}"] = stats.uniform(low, high - low)
            else:
                dists[f"model__{key}"] = value
        searcher = RandomizedSearchCV(pipeline, dists, n_iter=spec.n_iter, scoring=scorer, cv=folds,
                                      n_jobs=n_jobs, refit=False, random_state=seed)
    searcher.fit(x, y)
    best = {k.removeprefix("model__"): _plain(v) for k, v in sorted(searcher.best_params_.items())}
    return searcher.best_params_, {"best_params": best, "best_score": float(searcher.best_score_),
                                   "metric": spec.metric, "candidates": len(searcher.cv_results_["params"]),
                                   "trials": _trials(searcher.cv_results_, spec.metric)}


def _refit(pipeline, best_params: dict, x, y):
    """What a search's refit=True does (clone, set the best parameters, fit on the whole training split), done in
    this process whichever backend searched, so the artifact's bytes are a local run's."""
    from sklearn.base import clone

    return clone(pipeline).set_params(**clone(best_params, safe=False)).fit(x, y)


def _trials(results: dict, metric: str) -> list[dict]:
    """Each candidate the search tried: its parameters, the metric's cross-validated mean and deviation (the
    metric's own value: the search negates those where lower is better) and its rank."""
    from mlspec.lang.metrics import METRICS

    sign = 1.0 if METRICS[metric].higher_is_better else -1.0
    return [{"params": {k.removeprefix("model__"): _plain(v) for k, v in sorted(params.items())},
             "mean": sign * float(results["mean_test_score"][i]), "std": float(results["std_test_score"][i]),
             "rank": int(results["rank_test_score"][i])} for i, params in enumerate(results["params"])]


def _plain(value):
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def _scorer(metric: str, model: ModelNode):
    """A scikit-learn scoring callable for `metric` (negated when lower is better)."""
    from mlspec.lang.metrics import METRICS

    info = METRICS[metric]

    def score(estimator, x, y):
        predicted, proba = scoring.predict(estimator, x, model.task, model.decision_threshold)
        classes = getattr(estimator, "classes_", None)
        value = scoring.compute([metric], model.task, y, predicted, proba, classes)[metric]
        return value if info.higher_is_better else -value

    return score


def _cross_validate(model: ModelNode, pipeline, x, y, seed: int, n_jobs: int) -> dict[str, dict[str, float]]:
    """Every metric's mean and deviation over the folds; the folds run on `n_jobs` joblib workers, in fold order."""
    import numpy as np
    from joblib import Parallel, delayed
    from sklearn.model_selection import KFold, StratifiedKFold

    folds = (StratifiedKFold if model.task == "classification" else KFold)(model.cv_folds, shuffle=True,
                                                                           random_state=seed)
    per_fold = Parallel(n_jobs=n_jobs)(
        delayed(_fold)(model, pipeline, x.iloc[train_idx], y.iloc[train_idx], x.iloc[test_idx], y.iloc[test_idx])
        for train_idx, test_idx in folds.split(x, y))
    per_metric = {m: [values[m] for values in per_fold] for m in model.metrics}
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v))} for name, v in per_metric.items()}


def _fold(model: ModelNode, pipeline, x_train, y_train, x_test, y_test) -> dict[str, float]:
    """One fold's metrics (a module-level function, so a Dask worker can run it)."""
    from sklearn.base import clone

    fitted = clone(pipeline).fit(x_train, y_train)
    predicted, proba = scoring.predict(fitted, x_test, model.task, model.decision_threshold)
    return scoring.compute(model.metrics, model.task, y_test, predicted, proba, getattr(fitted, "classes_", None))


def _slices(model: ModelNode, test, predicted, proba, classes) -> dict[str, dict[str, dict]]:
    import numpy as np

    out: dict[str, dict[str, dict]] = {}
    y = test[model.label].to_numpy()
    for column in model.slices:
        groups: dict[str, dict] = {}
        values = test[column].astype(object).where(test[column].notna(), None).to_numpy()
        for value in sorted({str(v) for v in values if v is not None}):
            mask = np.array([v is not None and str(v) == value for v in values])
            metrics = scoring.compute(model.metrics, model.task, y[mask], predicted[mask],
                                      proba[mask] if proba is not None else None, classes)
            groups[value] = {"rows": int(mask.sum()), "metrics": metrics}
        out[column] = groups
    return out


def _forget_threads(pipeline) -> None:
    """Drop the thread count HistGradientBoosting records while fitting (in its bin mapper, which only
    fitting uses), so the artifact's bytes depend neither on `-j` nor on the machine's cores."""
    mapper = getattr(pipeline[-1], "_bin_mapper", None)
    if mapper is not None:
        mapper.n_threads = None


def train(model: ModelNode, manifest: Manifest, frame) -> Candidate:
    """Train and evaluate `model` on `frame` (the loaded, contract-checked source)."""
    from mlspec.runtime.monitoring.profile import profile as build_profile

    seed = manifest.project.seed
    columns = raw_columns(model, manifest)
    _check_inputs(model, frame, columns)
    keep = sorted({*columns, model.label, *model.slices,
                   *filter(None, [manifest.source(model.source).timestamp])})
    train_part, test_part = _split(model, manifest, frame[keep], seed)
    if model.task == "classification" and train_part[model.label].nunique() < 2:
        raise TrainingError(f"model '{model.name}': the training split has a single class",
                            hint="use a stratified split, or more data")
    pipeline = build_pipeline(model, manifest)
    x_train, y_train = train_part[columns], train_part[model.label]
    search = cv = best_params = None
    try:
        if model.search is not None or model.cv_folds:
            with cluster.parallel(model) as n_jobs:  # a Dask cluster's, when the model's compute names one
                if model.search is not None:
                    best_params, search = _search(model, model.search, pipeline, x_train, y_train, seed, n_jobs)
                if model.cv_folds:
                    cv = _cross_validate(model, build_pipeline(model, manifest), x_train, y_train, seed, n_jobs)
        # the final fit, always here
        pipeline = pipeline.fit(x_train, y_train) if best_params is None \
            else _refit(pipeline, best_params, x_train, y_train)
    except ValueError as exc:
        raise TrainingError(f"model '{model.name}': fitting failed: {str(exc).splitlines()[0]}",
                            hint="missing values need impute: on the feature, unless the estimator is "
                                 "hist_gradient_boosting") from exc
    _forget_threads(pipeline)
    predicted, proba = scoring.predict(pipeline, test_part[columns], model.task, model.decision_threshold)
    classes = getattr(pipeline, "classes_", None)
    metrics = scoring.compute(model.metrics, model.task, test_part[model.label], predicted, proba, classes)
    metrics_train = None
    if getattr(manifest.project, "tracking", None):  # the tracker shows both splits (overfitting at a glance)
        fitted, fitted_proba = scoring.predict(pipeline, train_part[columns], model.task, model.decision_threshold)
        metrics_train = scoring.compute(model.metrics, model.task, train_part[model.label], fitted, fitted_proba,
                                        classes)
    data = artifacts.dumps(pipeline)
    params = dict(model.params)
    if search is not None:
        params.update(search["best_params"])
    return Candidate(
        model=model.name, artifact=data, sha256=artifacts.digest(data), metrics=metrics, params=params,
        rows_train=len(train_part), rows_test=len(test_part), cv=cv, search=search,
        slices=_slices(model, test_part, predicted, proba, classes),
        profile=build_profile(model, pipeline, train_part, test_part, columns, seed), metrics_train=metrics_train)
