"""Deterministic generators of valid spec projects, for benchmarks and compile tests.

`generate_project(seed, n_models)` builds a realistic, valid project (display path -> YAML text)
with plain `random.Random`, so the same arguments always give the same bytes. Per model: 5-10
features (column features with transforms and a derived expression or two), a release gate with
two requirements, and a monitor on every tenth model. Models come in domains of 50 that share a
training source and a live source (what the monitors read); files hold at most 100 models, as
real repositories split their specs (and a single file is capped at 4 MiB).

`SpecDumper` writes YAML that the strict loader reads back unchanged: it never emits anchors,
and it quotes every string a YAML 1.1 or 1.2 reader could take for something else. Plain
`yaml.safe_dump` does not: it leaves `y`, `n`, `0999`, `0o17` and `2024-1-1` unquoted (which the
loader refuses as ambiguous) and `1e5` unquoted (which YAML 1.2 reads as a number).
"""

from __future__ import annotations

import random
import re

import yaml

from mlspec.lang.estimators import ESTIMATORS

API_VERSION = "mlspec/v1"
MODELS_PER_FILE = 100
MODELS_PER_DOMAIN = 50
MONITOR_EVERY = 10

_Base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class SpecDumper(_Base):  # type: ignore[misc, valid-type]
    """A safe dumper that never writes anchors/aliases and quotes every ambiguous plain string."""

    def ignore_aliases(self, data: object) -> bool:
        return True


# Plain scalars that some reader (YAML 1.1 or YAML 1.2 core) takes for a non-string: PyYAML's own
# resolver already covers most YAML 1.1 forms; these cover the rest, so the emitter quotes them.
_AMBIGUOUS = re.compile(
    r"""^(?:y|Y|n|N|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE
    |~|null|Null|NULL
    |[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?0[oO]?[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?0b[01_]+
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
    |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt\ ].*)?
    |<<|=)$""",
    re.VERBOSE | re.DOTALL,
)
SpecDumper.add_implicit_resolver("tag:mlspec.test,2024:ambiguous", _AMBIGUOUS, None)


def dump(document: object, *, flow: bool | None = None, width: int = 100) -> str:
    """YAML text of `document`, keys in insertion order; `flow=None` writes leaf collections inline."""
    return yaml.dump(document, Dumper=SpecDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=flow, width=width)


# ----------------------------------------------------------------------------------------------
# the realistic project
# ----------------------------------------------------------------------------------------------

_NUMERIC_COLUMNS = [  # (name, type, min, max)
    ("amount", "float", 0, 50000), ("quantity", "int", 0, 1000), ("hour", "int", 0, 23),
    ("customer_age", "int", 18, 95), ("account_age_days", "int", 0, 10000), ("num_tx_24h", "int", 0, 50),
    ("distance_km", "float", 0, 20000), ("balance", "float", -100000, 100000), ("discount", "float", 0, 1),
    ("session_seconds", "int", 0, 86400), ("items_in_cart", "int", 0, 200), ("rating", "float", 1, 5),
]
_CATEGORY_COLUMNS = [
    ("channel", ["web", "app", "store", "phone"]),
    ("region", ["north", "south", "east", "west", "central"]),
    ("segment", ["consumer", "business", "premium"]),
    ("device", ["ios", "android", "desktop", "other"]),
]
_CLASSIFICATION = {
    "estimators": [
        ("hist_gradient_boosting", lambda r: {"max_iter": r.choice([100, 200, 400]),
                                              "learning_rate": r.choice([0.03, 0.05, 0.1]),
                                              "max_leaf_nodes": r.choice([15, 31, 63])}),
        ("logistic_regression", lambda r: {"C": r.choice([0.1, 1.0, 10.0]), "max_iter": 1000,
                                           "class_weight": r.choice(["balanced", None])}),
        ("random_forest", lambda r: {"n_estimators": r.choice([100, 300]), "max_depth": r.choice([None, 8, 16]),
                                     "min_samples_leaf": r.choice([1, 5, 20])}),
        ("extra_trees", lambda r: {"n_estimators": 200, "max_features": "sqrt"}),
    ],
    "metrics": ["roc_auc", "average_precision", "recall", "precision", "f1", "accuracy"],
    "label": "is_positive",
}
_REGRESSION = {
    "estimators": [
        ("hist_gradient_boosting", lambda r: {"max_iter": r.choice([100, 300]), "learning_rate": 0.05}),
        ("ridge", lambda r: {"alpha": r.choice([0.1, 1.0, 10.0])}),
        ("random_forest", lambda r: {"n_estimators": 200, "max_depth": r.choice([None, 12])}),
        ("elastic_net", lambda r: {"alpha": 0.5, "l1_ratio": r.choice([0.2, 0.5, 0.8])}),
    ],
    "metrics": ["rmse", "mae", "r2", "mape"],
    "label": "target_value",
}
_NEEDS_DESCENDING = {"rmse", "mae", "mape", "mse", "median_absolute_error", "log_loss", "brier"}


def _schema(r: random.Random) -> dict:
    schema: dict = {"event_id": {"type": "int", "unique": True}, "event_time": {"type": "datetime"}}
    for name, kind, low, high in _NUMERIC_COLUMNS:
        column: dict = {"type": kind, "min": low, "max": high}
        if r.random() < 0.2:
            column["nullable"] = True
        schema[name] = column
    for name, values in _CATEGORY_COLUMNS:
        schema[name] = {"type": "category", "values": list(values)}
    schema["is_weekend"] = {"type": "bool"}
    schema["is_positive"] = {"type": "int", "values": [0, 1]}
    schema["target_value"] = {"type": "float", "min": 0, "max": 1_000_000}
    return schema


def _source(name: str, schema: dict, path: str, description: str, min_rows: int) -> dict:
    return {
        "description": description, "format": "csv", "path": path, "timestamp": "event_time",
        "schema": schema,
        "checks": {"min_rows": min_rows,
                   "rows": [{"name": "amount_not_negative", "expr": "amount >= 0 or is_null(amount)"},
                            {"name": "plausible_cart", "expr": "items_in_cart <= quantity * 10 + 10"}]},
    }


def _features(r: random.Random, model: str, source: str) -> dict:
    """5-10 features of one model: column features with transforms, and one or two derived ones."""
    features: dict = {}
    count = r.randint(5, 10)
    numeric = r.sample(_NUMERIC_COLUMNS, k=min(count, len(_NUMERIC_COLUMNS)))
    for name, _kind, low, _high in numeric[: max(2, count - 3)]:
        choices = ["standardize", "minmax", "passthrough", "impute"] + (["log1p"] * 2 if low >= 0 else [])
        transform = r.choice(choices)
        feature: dict = {"source": source, "column": name, "transform": transform}
        if transform == "impute":
            feature["impute"] = "median"
        elif r.random() < 0.15:
            feature["impute"] = "mean"
        features[f"{model}_{name}_{transform}"] = feature
    category = r.choice(_CATEGORY_COLUMNS)[0]
    features[f"{model}_{category}"] = {"source": source, "column": category, "transform": "one_hot"}
    derived = [
        ("is_night", "hour < 6 or hour >= 23", "Night-time events are riskier."),
        ("amount_per_item", "amount / (quantity + 1)", None),
        ("young_account", "account_age_days < 30 and num_tx_24h > 5", None),
        ("far_and_new", "where(distance_km > 500, 1, 0) * where(account_age_days < 90, 1, 0)", None),
        ("log_session", "log1p(session_seconds)", "Session length, log scale."),
    ]
    for name, expr, description in r.sample(derived, k=r.choice([1, 1, 2])):
        feature = {"source": source, "expr": expr}
        if description is not None:
            feature["description"] = description
        features[f"{model}_{name}"] = feature
    while len(features) < count:
        name, _kind, _low, _high = r.choice(_NUMERIC_COLUMNS)
        features[f"{model}_{name}_bucket{len(features)}"] = {
            "source": source, "column": name, "transform": "bucketize", "n_bins": r.choice([4, 5, 10])}
    return dict(list(features.items())[:count])


def _requirement(r: random.Random, metric: str) -> str:
    if metric in _NEEDS_DESCENDING:
        return f"{metric} <= {r.choice([0.5, 1, 10, 100, 1000])}"
    return f"{metric} >= {r.choice([0.5, 0.6, 0.7, 0.75, 0.8])}"


def build_documents(seed: int, n_models: int) -> dict[str, dict]:
    """The project as plain data: display path -> document. See `generate_project`."""
    r = random.Random(seed)
    documents: dict[str, dict] = {
        "specs/project.yaml": {"apiVersion": API_VERSION, "project": {
            "name": f"generated-{seed}", "description": f"A generated project of {n_models} models.",
            "registry": {"uri": f"s3://acme-ml-{seed % 1000}/generated"},
            "secrets": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"],
            "python": "3.11", "runner": "ubuntu-24.04", "timeout_minutes": 30, "seed": seed % (2**32)}},
    }
    for first in range(0, n_models, MODELS_PER_FILE):
        doc: dict = {"apiVersion": API_VERSION, "sources": {}, "features": {}, "models": {}, "gates": {},
                     "monitors": {}}
        for index in range(first, min(first + MODELS_PER_FILE, n_models)):
            domain = index // MODELS_PER_DOMAIN
            source = f"d{domain:05d}_events"
            live = f"d{domain:05d}_live"
            if index % MODELS_PER_DOMAIN == 0:
                schema = _schema(r)
                doc["sources"][source] = _source(source, schema, f"data/{source}.csv",
                                                 f"Training events of domain {domain}.", 1000)
                doc["sources"][live] = _source(live, {k: dict(v) for k, v in schema.items()}, f"data/{live}.csv",
                                               f"Latest batch of domain {domain}, scored daily.", 200)
            model = f"m{index:05d}"
            task = _CLASSIFICATION if r.random() < 0.7 else _REGRESSION
            features = _features(r, model, source)
            doc["features"].update(features)
            estimator, params = r.choice(task["estimators"])
            if not ESTIMATORS[estimator].accepts_missing:  # as a careful user does (else validate warns, MLS224)
                nullable = [c for c, spec in schema.items() if spec.get("nullable")]
                for feature in features.values():
                    reads = [feature["column"]] if "column" in feature else re.findall(r"[a-z_]+", feature["expr"])
                    if any(c in nullable for c in reads) and "impute" not in feature \
                            and feature.get("transform", "passthrough") in ("passthrough", "standardize", "minmax",
                                                                            "log1p"):
                        feature["impute"] = "median"
            metrics = r.sample(task["metrics"], k=r.randint(2, 4))
            spec: dict = {}
            if r.random() < 0.5:
                spec["description"] = f"Model {index} of domain {domain}."
            spec |= {"task": "classification" if task is _CLASSIFICATION else "regression", "source": source,
                     "label": task["label"], "features": list(features), "estimator": estimator,
                     "params": params(r), "split": {"method": r.choice(["time", "random"]),
                                                    "test_fraction": r.choice([0.2, 0.25, 0.3])},
                     "metrics": metrics}
            if r.random() < 0.3:
                spec["slices"] = ["channel"]
            spec["tags"] = [f"domain_{domain % 20}", r.choice(["nightly", "weekly", "adhoc"])]
            doc["models"][model] = spec
            gate: dict = {"model": model,
                          "require": [_requirement(r, metrics[0]),
                                      f"{metrics[0]} {'<=' if metrics[0] in _NEEDS_DESCENDING else '>='} "
                                      f"champion.{metrics[0]} {'+' if metrics[0] in _NEEDS_DESCENDING else '-'} "
                                      f"{r.choice([0.005, 0.01, 0.02])}"],
                          "first_run": "skip_champion_checks"}
            if "slices" in spec and r.random() < 0.5:
                gate["slices"] = [{"column": "channel", "require": [_requirement(r, metrics[0])], "min_rows": 50}]
            if r.random() < 0.2:
                gate["approval"] = {"environment": "production"}
            doc["gates"][f"{model}_release"] = gate
            if index % MONITOR_EVERY == 0:
                doc["monitors"][f"{model}_drift"] = {
                    "model": model, "data": live, "schedule": f"{r.randint(0, 59)} {r.randint(0, 23)} * * *",
                    "drift": {"method": r.choice(["psi", "ks", "jensen_shannon"]), "share": 0.3},
                    "quality": {"max_failed_rows": 0.01},
                    "performance": {"metrics": [metrics[0]], "max_drop": 0.05},
                    "on_alert": ["open_issue", "retrain"]}
        documents[f"specs/models_{first // MODELS_PER_FILE:04d}.yaml"] = {
            k: v for k, v in doc.items() if v or k == "apiVersion"}
    return documents


def count_nodes(documents: dict[str, dict]) -> int:
    """Number of manifest nodes the documents define (sources, features, models, gates, monitors)."""
    sections = ("sources", "features", "models", "gates", "monitors")
    return sum(len(doc.get(section) or {}) for doc in documents.values() for section in sections)


def generate_project(seed: int, n_models: int) -> dict[str, str]:
    """A valid, realistic project of `n_models` models: display path (`specs/...yaml`) -> YAML text."""
    return {path: f"# Generated by tests/spec_factory.py (seed {seed}, {n_models} models).\n" + dump(doc)
            for path, doc in build_documents(seed, n_models).items()}
