"""A registered model as MLflow's scikit-learn flavour, in skops format, so MLflow's own tools load it.

`mlflow.pyfunc.load_model("models:/NAME@champion")` and `mlflow.sklearn.load_model` read the `model/`
folder of the version's run: MLmodel, the environment files and `model.skops`. Its predictions are the
ones `mlspec score` makes: a binary classifier is wrapped in scikit-learn's FixedThresholdClassifier
with the model's decision threshold (mlspec predicts the positive class when its probability reaches the
threshold, scikit-learn's own `predict` at 0.5); other models are the pipeline itself. The file's sha256
is recorded with the version and checked before a promotion, like the canonical artifact's.

Loading needs mlspec installed (the pipeline holds mlspec's transformers) and, since MLflow 3.18,
MLFLOW_ALLOW_MODEL_CODE_EXECUTION=true: MLflow refuses to deserialise any model without it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from mlspec import __version__
from mlspec.state.artifacts import digest

FOLDER = "model"
FILE = "model.skops"


def is_skops(artifact: bytes) -> bool:
    """Whether the bytes are a skops archive (the registry's library API accepts any bytes)."""
    if not artifact.startswith(b"PK"):
        return False
    try:
        return "schema.json" in zipfile.ZipFile(io.BytesIO(artifact)).namelist()
    except zipfile.BadZipFile:
        return False


def predictor(pipeline, lineage: dict):
    """What MLflow's `predict` should call: the pipeline, or (binary classification) the pipeline behind the
    model's decision threshold."""
    threshold = lineage.get("decision_threshold")
    classes = getattr(pipeline, "classes_", None)
    if lineage.get("task") != "classification" or threshold is None or classes is None or len(classes) != 2:
        return pipeline
    from sklearn.model_selection import FixedThresholdClassifier

    # not fitted again: FixedThresholdClassifier predicts with a fitted estimator as it is
    return FixedThresholdClassifier(estimator=pipeline, threshold=float(threshold), response_method="predict_proba")


def save(artifact: bytes, sha256: str, model: str, lineage: dict, dest: Path) -> str:
    """Write the flavour's folder for the canonical artifact into `dest`; returns the sha256 of its model.skops."""
    import mlflow.sklearn
    import skops.io as sio

    from mlspec.runtime.artifacts import loads_verified

    pipeline = loads_verified(artifact, sha256)
    wrapped = predictor(pipeline, lineage)
    # the types skops must trust to read the file back: those mlspec already trusted in the artifact, plus the
    # wrapper's own (scikit-learn's)
    trusted = sorted(sio.get_untrusted_types(data=sio.dumps(wrapped)))
    libraries = lineage.get("libraries") or {}
    requirements = [f"mlspec-gitops[runtime]=={__version__}"] + [
        f"{name}=={libraries[name]}" for name in ("scikit-learn", "skops", "numpy", "pandas")
        if libraries.get(name) not in (None, "-")]
    mlflow.sklearn.save_model(wrapped, str(dest), serialization_format="skops", skops_trusted_types=trusted,
                              pip_requirements=requirements,
                              metadata={"mlspec_model": model, "mlspec_sha256": sha256,
                                        "mlspec_decision_threshold": lineage.get("decision_threshold")})
    return digest((dest / FILE).read_bytes())
