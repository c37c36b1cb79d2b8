"""Resolve a validated spec into the manifest: defaults filled in, ids assigned, expressions parsed.

This is where "what the user wrote" becomes "what will run": every default is made explicit,
every reference becomes a node id (`model.fraud_gbm`), and every node gets a hash of its own
settings. The result is plain data that the runtime can read without the spec modules.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mlspec import __version__, installs, stateurls
from mlspec.diagnostics import Pointer
from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.expressions import render
from mlspec.manifest import (
    ArgoRequests,
    ArgoSettings,
    ColumnContract,
    ColumnOrigin,
    ComputeSettings,
    DriftMeasure,
    DriftSettings,
    FeatureNode,
    GateNode,
    InstallSettings,
    Manifest,
    ModelNode,
    MonitorNode,
    ProjectSettings,
    RowCheckNode,
    SearchSpec,
    ServeSettings,
    SliceGate,
    SourceNode,
    SplitSpec,
    TrainingRead,
    TransformSpec,
)
from mlspec.spec import drift as drift_rules
from mlspec.spec.merge import Entry, SpecSet
from mlspec.spec.semantics import Facts
from mlspec.spec.v1.models import Model, Range
from mlspec.spec.v1.monitors import Drift

# Not the node's settings: where it was written, its prose and its tags (labels for selectors) change
# nothing a run does, so they must not invalidate the run cache or put the node in a plan's retrain list.
# Nor does where a model's search runs (compute): a Dask cluster gives the same artifact as a local run.
_NOT_HASHED = {"config_hash", "file", "description", "column_origins", "tags", "compute"}


@dataclass(frozen=True)
class Resolved:
    """The manifest, plus where each edge between derived features was written (to explain cycles).

    Only those: every other edge goes from an earlier kind to a later one (source -> feature -> model ->
    gate, monitor), so a cycle can only run through derived features, and the graph's cycle check
    looks at no other edge. (Placing every edge cost a pointer per dependency, 25,000 at 1,000 models.)
    """

    manifest: Manifest
    edge_origins: dict[tuple[str, str], Pointer]


def resolve(spec: SpecSet, facts: Facts) -> Resolved:
    """Build the manifest from a valid spec set and the facts its checks collected."""
    settings = _project(spec)
    nodes: list = []
    origins: dict[tuple[str, str], Pointer] = {}
    for entry in spec.sources.values():
        nodes.append(_source(entry, facts))
    for entry in spec.features.values():
        nodes.append(_feature(entry, spec, facts, origins))
    for entry in spec.models.values():
        nodes.append(_model(entry, spec, settings))
    for entry in spec.gates.values():
        nodes.append(_gate(entry, facts))
    for entry in spec.monitors.values():
        nodes.append(_monitor(entry, spec, facts))
    hashed = {}
    for node in nodes:
        # the hash of the node's own settings (where it was written and its description excluded)
        digest = hashlib.sha256(node.model_dump_json(exclude=_NOT_HASHED).encode()).hexdigest()
        object.__setattr__(node, "config_hash", digest)  # set once, before anyone sees the frozen node
        hashed[node.id] = node
    return Resolved(Manifest(project=settings, nodes=dict(sorted(hashed.items()))), origins)


def _project(spec: SpecSet) -> ProjectSettings:
    """Project settings with the artifact store's default and the install lines of CI jobs filled in."""
    project = spec.project_entry.spec
    registry = project.registry.uri
    artifacts = project.artifacts.uri or stateurls.default_artifacts(registry)
    uris = [registry, artifacts]
    for entry in spec.sources.values():
        uris.append(entry.spec.uri if entry.spec.format == "sql" else entry.spec.path)
    chosen = installs.parse(project.install) if project.install else installs.default(__version__)
    engines = ["duckdb"] if any(e.spec.engine == "duckdb" for e in spec.sources.values()) else []
    clusters = ["dask"] if any(_compute(e.spec, project) is not None for e in spec.models.values()) else []
    tracked = ["mlflow"] if project.tracking == "mlflow" else []
    extras = sorted({*stateurls.extras_for(uris), *chosen.extras, *tracked, *engines, *clusters})
    # a cluster only serves training: jobs that only record runs, and the serving image, go without it
    kept = [e for e in extras if e not in clusters]
    install = InstallSettings(form=chosen.form, light=chosen.light(), runtime=chosen.runtime(extras),
                              state=chosen.state(kept), extras=extras)
    serve = None
    if project.serve is not None and project.serve.dockerfile:
        models = project.serve.models or sorted(spec.models)
        serve = ServeSettings(base_image=project.serve.base_image, models=models, port=project.serve.port,
                              workers=project.serve.workers, install=chosen.serving(kept))
    return ProjectSettings(
        name=project.name, description=project.description, registry_uri=registry, artifacts_uri=artifacts,
        tracking=project.tracking,
        secrets=sorted(project.secrets), default_branch=project.default_branch,
        state_environment=project.state_environment, python=project.python, runner=project.runner,
        timeout_minutes=project.timeout_minutes, seed=project.seed, install=install, serve=serve,
        argo=_argo(project.argo))


def _argo(argo) -> ArgoSettings | None:
    """`project.argo` with its resource quantities as strings (a spec may write `cpu: 2`)."""
    if argo is None:
        return None

    def requests(spec) -> ArgoRequests:
        return ArgoRequests(cpu=str(spec.cpu), memory=spec.memory)

    return ArgoSettings(image=argo.image, repository=argo.repository, folder=argo.folder, namespace=argo.namespace,
                        service_account=argo.service_account, secret=argo.secret, git_secret=argo.git_secret,
                        requests=requests(argo.requests),
                        runners={label: requests(spec) for label, spec in sorted(argo.runners.items())})


def _edge(origins: dict, child: str, parent: str, where: Pointer) -> str:
    origins.setdefault((parent, child), where)
    return parent


def _source(entry: Entry, facts: Facts) -> SourceNode:
    src = entry.spec
    columns = {name: ColumnContract(type=c.type, nullable=c.nullable, min=c.min, max=c.max, values=c.values,
                                    unique=c.unique)
               for name, c in sorted(src.columns.items())}
    origins = {column: ColumnOrigin(file=where.file, path=[str(part) for part in where.path])
               for column, where in sorted(facts.column_origins.get(entry.name, {}).items())}
    checks = [RowCheckNode(name=rc.name, text=render(facts.row_checks[(entry.name, i)]),
                           expr=facts.row_checks[(entry.name, i)]) for i, rc in enumerate(src.checks.rows)]
    extra = ({"path": src.path, "delimiter": src.delimiter} if src.format == "csv"
             else {"path": src.path} if src.format == "parquet"
             else {"uri": src.uri, "table": src.table, "query": src.query})
    return SourceNode(id=f"source.{entry.name}", name=entry.name, file=entry.file, description=src.description,
                      tags=sorted(set(src.tags)), format=src.format, timestamp=src.timestamp, columns=columns,
                      min_rows=src.checks.min_rows, max_rows=src.checks.max_rows, row_checks=checks,
                      column_origins=origins, engine=src.engine,
                      training=TrainingRead(**src.training.model_dump()) if src.training else None, **extra)


def _feature(entry: Entry, spec: SpecSet, facts: Facts, origins: dict) -> FeatureNode:
    feat = entry.spec
    node_id = f"feature.{entry.name}"
    deps = [f"source.{feat.source}"]
    derived = sorted(facts.feature_deps.get(entry.name, []))
    if derived:  # only a derived feature (an expression) reads other features
        where = entry.at("features", "expr")
        deps += [_edge(origins, node_id, f"feature.{d}", where) for d in derived]
    ast = facts.expressions.get(("feature", entry.name))
    input_type = "float" if feat.column is None else spec.sources[feat.source].spec.columns[feat.column].type
    fields = feat.__dict__  # each transform has its own fields; absent ones are simply not there
    transform = TransformSpec(
        kind=feat.transform, impute=feat.impute if feat.transform != "impute" else (feat.impute or "median"),
        fill_value=feat.fill_value, bins=fields.get("bins"), n_bins=fields.get("n_bins"),
        strategy=fields.get("strategy") if feat.transform == "bucketize" else None,
        max_categories=fields.get("max_categories"), handle_unknown=fields.get("handle_unknown"))
    return FeatureNode(id=node_id, name=entry.name, file=entry.file, description=feat.description,
                       tags=sorted(set(feat.tags)), depends_on=sorted(set(deps)), source=feat.source,
                       column=feat.column, expr=ast, expr_text=render(ast) if ast is not None else None,
                       inputs=sorted(facts.feature_columns.get(entry.name, [])), derived_inputs=derived,
                       input_type=input_type, transform=transform)


def _model(entry: Entry, spec: SpecSet, settings: ProjectSettings) -> ModelNode:
    model = entry.spec
    node_id = f"model.{entry.name}"
    estimator = ESTIMATORS[model.estimator]
    params = dict(sorted(model.params.items()))
    if estimator.seeded:
        params.setdefault("random_state", settings.seed)
    deps = [f"source.{model.source}", *(f"feature.{f}" for f in model.features)]
    search = None
    if model.search is not None:
        space = {k: (v.model_dump() if isinstance(v, Range) else list(v))
                 for k, v in sorted(model.search.space.items())}
        search = SearchSpec(method=model.search.method, space=space, n_iter=model.search.n_iter,
                            folds=model.search.folds, metric=model.search.metric or model.metrics[0])
    label_type = spec.sources[model.source].spec.columns[model.label].type
    return ModelNode(
        id=node_id, name=entry.name, file=entry.file, description=model.description, tags=sorted(set(model.tags)),
        depends_on=sorted(set(deps)), task=model.task, source=model.source, label=model.label,
        label_type=label_type, features=list(model.features), estimator=model.estimator,
        class_path=estimator.class_path(model.task), params=params,
        split=SplitSpec(method=model.split.method, test_fraction=model.split.test_fraction),
        cv_folds=model.cv.folds if model.cv else None, search=search, metrics=list(model.metrics),
        primary_metric=model.metrics[0], slices=list(model.slices), decision_threshold=model.decision_threshold,
        runner=model.runner or settings.runner, timeout_minutes=model.timeout_minutes or settings.timeout_minutes,
        compute=_compute(model, spec.project_entry.spec))


def _compute(model: Model, project) -> ComputeSettings | None:
    """The model's compute, else the project's (a whole setting, never merged field by field); None when local."""
    chosen = model.compute or project.compute
    if chosen is None or chosen.backend == "local":
        return None
    return ComputeSettings(backend=chosen.backend, address=chosen.address)


def _gate(entry: Entry, facts: Facts) -> GateNode:
    gate = entry.spec
    node_id = f"gate.{entry.name}"
    deps = [f"model.{gate.model}"]
    requirements = [facts.requirements[(entry.name, "require", i)].to_dict() for i in range(len(gate.require))]
    slices = []
    for j, s in enumerate(gate.slices):
        key = f"slices/{j}/require"
        slices.append(SliceGate(column=s.column, min_rows=s.min_rows,
                                requirements=[facts.requirements[(entry.name, key, i)].to_dict()
                                              for i in range(len(s.require))]))
    return GateNode(id=node_id, name=entry.name, file=entry.file, description=gate.description,
                    depends_on=deps, model=gate.model, requirements=requirements, first_run=gate.first_run,
                    slices=slices, approval_environment=gate.approval.environment if gate.approval else None,
                    promote=gate.promote)


def _monitor(entry: Entry, spec: SpecSet, facts: Facts) -> MonitorNode:
    mon = entry.spec
    node_id = f"monitor.{entry.name}"
    if mon.predictions is not None:  # the prediction log: the model's inputs under its own source's contract
        data = f"predictions:{mon.model}" + (f"@{mon.predictions.window}" if mon.predictions.window else "")
        deps = [f"model.{mon.model}", f"source.{spec.models[mon.model].spec.source}"]
    else:
        data = mon.data
        deps = [f"model.{mon.model}", f"source.{mon.data}"]
    drift = None
    if mon.drift is not None:
        drift = _drift(mon.drift, spec.models[mon.model].spec, spec, facts)
    quality = mon.quality.model_dump() if mon.quality else None
    performance = mon.performance.model_dump() if mon.performance else None
    return MonitorNode(id=node_id, name=entry.name, file=entry.file, description=mon.description,
                       depends_on=sorted(set(deps)), model=mon.model, data=data, schedule=mon.schedule,
                       drift=drift, quality=quality, performance=performance, on_alert=sorted(set(mon.on_alert)))


def _drift(d: Drift, model: Model, spec: SpecSet, facts: Facts) -> DriftSettings:
    """The drift check with every column's measure and threshold, and the predictions', made explicit."""
    columns = spec.sources[model.source].spec.columns
    reads = {c for f in model.features for c in facts.feature_columns.get(f, [])}
    features = {f: spec.features[f].spec.column for f in model.features}
    measures = drift_rules.column_measures(d, {c: columns[c].type for c in reads}, features)
    prediction = drift_rules.prediction_measure(d)
    return DriftSettings(
        method=d.method, categorical=drift_rules.categorical_method(d),
        columns={c: DriftMeasure(method=m.method, threshold=m.threshold, kind=m.kind, override=m.override)
                 for c, m in measures.items()},
        predictions=DriftMeasure(method=prediction.method, threshold=prediction.threshold) if prediction else None,
        share=d.share, min_rows=d.min_rows, bins=d.bins)
