"""Compile a model's features into one scikit-learn Pipeline: derived columns, transforms, estimator.

The whole pipeline is the saved artifact, so scoring and monitoring apply exactly the transforms
fitted at training time (no train/serve skew). The estimator class comes from mlspec's static
allowlist, looked up by name; the manifest cannot make the runtime import anything else.
"""

from __future__ import annotations

import importlib

from mlspec.lang.estimators import ESTIMATORS
from mlspec.manifest import FeatureNode, Manifest, ModelNode
from mlspec.runtime.errors import TrainingError

DERIVED_PREFIX = "__f_"  # column names may not start with "__", so derived columns cannot collide
TEXT_TYPES = ("category", "string")  # columns the loader keeps as text, with None for a missing value


def feature_nodes(model: ModelNode, manifest: Manifest) -> list[FeatureNode]:
    """The model's features, in the order the spec lists them."""
    return [manifest.feature(name) for name in model.features]


def source_features(manifest: Manifest, source: str) -> list[FeatureNode]:
    """The features models train on from `source` (derived ones after what they read), for its contract check."""
    ordered: list[FeatureNode] = []
    seen: set[str] = set()

    def visit(node: FeatureNode) -> None:
        if node.name in seen:
            return
        seen.add(node.name)
        for dep in node.derived_inputs:
            visit(manifest.feature(dep))
        ordered.append(node)

    for model in sorted((n for n in manifest.nodes.values() if n.kind == "model" and n.source == source),
                        key=lambda n: n.name):
        for node in feature_nodes(model, manifest):
            visit(node)
    return ordered


def raw_columns(model: ModelNode, manifest: Manifest) -> list[str]:
    """Source columns the model's features read (sorted)."""
    return sorted({c for f in feature_nodes(model, manifest) for c in f.inputs})


def derived_order(model: ModelNode, manifest: Manifest) -> list[FeatureNode]:
    """Every derived feature the model needs, dependencies first."""
    ordered: list[FeatureNode] = []
    seen: set[str] = set()

    def visit(node: FeatureNode) -> None:
        if node.name in seen or node.expr is None:
            return
        seen.add(node.name)
        for dep in node.derived_inputs:
            visit(manifest.feature(dep))
        ordered.append(node)

    for node in feature_nodes(model, manifest):
        visit(node)
    return ordered


def _rename_derived(tree: dict, derived: set[str]) -> dict:
    """Point references to derived features at their internal column names."""
    if "col" in tree:
        return {"col": DERIVED_PREFIX + tree["col"]} if tree["col"] in derived else tree
    if "args" in tree:
        return {**tree, "args": [_rename_derived(a, derived) for a in tree["args"]]}
    return tree


def _sorted(tree: object) -> object:
    if isinstance(tree, dict):
        return {k: _sorted(tree[k]) for k in sorted(tree)}
    if isinstance(tree, list):
        return [_sorted(v) for v in tree]
    return tree


def _column_transformer(node: FeatureNode):
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import KBinsDiscretizer, MinMaxScaler, OneHotEncoder, StandardScaler

    from mlspec.runtime.transformers import FixedBuckets, Log1p, MissingAsNaN

    t = node.transform
    steps = []
    text = node.input_type in TEXT_TYPES
    if text:
        steps.append(MissingAsNaN())  # the loader's None is not what imputers look for; NaN is
    if t.impute is not None:
        fill = t.fill_value
        if t.impute == "constant" and text:
            fill = str(fill)  # text columns hold text: a fill of 0 must not mix numbers into the categories
        kwargs = {"fill_value": fill} if t.impute == "constant" else {}
        steps.append(SimpleImputer(strategy=t.impute, **kwargs))
    kind = t.kind
    if kind == "standardize":
        steps.append(StandardScaler())
    elif kind == "minmax":
        steps.append(MinMaxScaler())
    elif kind == "log1p":
        steps.append(Log1p())
    elif kind == "bucketize" and t.bins is not None:
        steps.append(FixedBuckets(edges=list(t.bins)))
    elif kind == "bucketize":
        if t.impute is None:
            steps.append(SimpleImputer(strategy="median"))  # KBinsDiscretizer refuses missing values
        steps.append(KBinsDiscretizer(n_bins=t.n_bins, encode="onehot-dense", strategy=t.strategy,
                                      quantile_method="averaged_inverted_cdf"))
    elif kind == "one_hot":
        unknown = t.handle_unknown or "ignore"
        if unknown == "ignore" and t.max_categories is not None:
            unknown = "infrequent_if_exist"
        steps.append(OneHotEncoder(handle_unknown=unknown, max_categories=t.max_categories, sparse_output=False))
    if not steps:
        return "passthrough"
    return steps[0] if len(steps) == 1 else make_pipeline(*steps)


def estimator_for(model: ModelNode):
    """A fresh, unfitted estimator from the allowlist, with the model's checked parameters."""
    table = ESTIMATORS.get(model.estimator)
    if table is None or model.task not in table.tasks:
        raise TrainingError(f"estimator '{model.estimator}' is not in this mlspec's allowlist for {model.task}")
    for key, value in model.params.items():
        param = table.param(key, model.task)
        if key == "random_state" and table.seeded:
            continue
        if param is None or param.check(value) is not None:
            raise TrainingError(f"parameter {key}={value!r} is not allowed for '{model.estimator}'")
    module_name, _, class_name = table.class_path(model.task).partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**model.params)


def build_pipeline(model: ModelNode, manifest: Manifest):
    """The unfitted Pipeline: derive -> per-feature transforms -> estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    from mlspec.runtime.transformers import DerivedColumns, output_name

    derived = derived_order(model, manifest)
    derived_names = {node.name for node in derived}
    # sorted keys: the same tree must give the same saved model whether the manifest came from JSON or not
    expressions = [[DERIVED_PREFIX + node.name, _sorted(_rename_derived(node.expr, derived_names))]
                   for node in derived if node.expr is not None]  # derived features are expressions
    parts = []
    for node in feature_nodes(model, manifest):
        column = node.column if node.column is not None else DERIVED_PREFIX + node.name
        parts.append((node.name, _column_transformer(node), [column]))
    # output columns are named `feature__column`, derived features by their own name (not `__f_NAME`)
    columns = ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=output_name)
    return Pipeline([("derive", DerivedColumns(expressions=expressions)), ("features", columns),
                     ("model", estimator_for(model))])
