"""A user's project for the act tests: customer churn, specs and deterministic data, in a git repository.

The repository holds only what a user's would: specs/, data/customers.csv and what `mlspec compile`
writes. State lives in a bucket of the local S3 server (registry `s3://BUCKET/mlspec`, artifacts beside
it), or, given `registry`, in that registry with the artifacts in the bucket; the latest batch the
monitor reads is an object of the bucket (`BATCH_KEY`), uploaded by the test, never committed.
"""

from __future__ import annotations

import io
from pathlib import Path

from tests.e2e.act_harness import compile_repo, init_repo

REGISTRY_PREFIX = "mlspec"
BATCH_KEY = "batches/latest.csv"
SECRET_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL")

PROJECT_SPEC = """\
apiVersion: mlspec/v1
project:
  name: acme-churn
  description: Which customers are about to leave.
  python: "3.11"
  seed: 7
  registry: {uri: "REGISTRY"}
ARTIFACTS  secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL]
"""

COLUMNS = """\
      customer_id: {type: int, unique: true}
      tenure_months: {type: float, min: 0, max: 200}
      monthly_spend: {type: float, min: 0, max: 1000}
      support_calls: {type: int, min: 0, max: 30}
      plan: {type: category, values: [basic, plus, pro]}
      churned: {type: int, values: [0, 1]}
"""

CHURN_SPEC = f"""\
apiVersion: mlspec/v1
sources:
  customers:
    description: Labelled customers (the training data, committed).
    format: csv
    path: data/customers.csv
    schema:
{COLUMNS}    checks: {{min_rows: 500}}
  customers_latest:
    description: The latest batch, dropped into the bucket by another system.
    format: csv
    path: s3://BUCKET/{BATCH_KEY}
    schema:
{COLUMNS}    checks: {{min_rows: 100}}
features:
  tenure: {{source: customers, column: tenure_months, transform: standardize}}
  spend: {{source: customers, column: monthly_spend, transform: log1p}}
  calls: {{source: customers, column: support_calls, transform: standardize}}
  plan: {{source: customers, column: plan, transform: one_hot}}
models:
  churn:
    task: classification
    source: customers
    label: churned
    features: [tenure, spend, calls, plan]
    estimator: logistic_regression
    params: {{C: 1.0, max_iter: 500}}
    split: {{method: stratified, test_fraction: 0.25}}
    metrics: [roc_auc, accuracy]
  churn_calls:
    description: A second model on the same data, without a gate (pushes that change only churn skip it).
    task: classification
    source: customers
    label: churned
    features: [calls, plan]
    estimator: logistic_regression
    params: {{C: 1.0, max_iter: 200}}
    split: {{method: stratified, test_fraction: 0.25}}
    metrics: [roc_auc]
gates:
  churn_release:
    model: churn
    require:
      - roc_auc >= 0.55
      - roc_auc >= champion.roc_auc - 0.01
    first_run: skip_champion_checks
    approval: {{environment: production}}
monitors:
  churn_drift:
    model: churn
    data: customers_latest
    schedule: "0 6 * * *"
    drift: {{method: wasserstein, threshold: 0.1}}
    on_alert: [open_issue, retrain]
"""

# what the tests change in specs/churn.yaml (old and new text)
V1_MODEL = "    estimator: logistic_regression\n    params: {C: 1.0, max_iter: 500}\n"
WORSE_MODEL = "    estimator: decision_tree\n    params: {max_depth: 1}\n"  # a stump: one split on one column
PR_MODEL = "    estimator: logistic_regression\n    params: {C: 0.5, max_iter: 500}\n"

def customers_csv(rows: int, seed: int, *, drifted: bool = False) -> bytes:
    """Deterministic customers: churn falls with tenure and rises with support calls and the basic plan.
    A drifted batch has much newer, bigger-spending customers who call more."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 4.0 if drifted else 12.0, rows).clip(0, 199)
    spend = rng.lognormal(4.5 if drifted else 3.5, 0.5, rows).clip(0, 999)
    calls = rng.poisson(5.0 if drifted else 2.0, rows).clip(0, 30)
    plan = rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.3, 0.2])
    z = -0.08 * (tenure - 24) + 0.6 * (calls - 2) + 0.4 * (plan == "basic") - 1.0
    churned = (rng.random(rows) < 1 / (1 + np.exp(-z))).astype(int)
    frame = pd.DataFrame({"customer_id": np.arange(1, rows + 1), "tenure_months": tenure.round(1),
                          "monthly_spend": spend.round(2), "support_calls": calls, "plan": plan, "churned": churned})
    out = io.StringIO()
    frame.to_csv(out, index=False, lineterminator="\n")
    return out.getvalue().encode()


def make_user_repo(root: Path, bucket: str, *, registry: str | None = None, artifacts_in_bucket: bool = True) -> Path:
    """A user's repository on main: specs, data, and what `mlspec compile` generated; origin is acme/churn.
    State goes to `bucket`, or to `registry` with the artifacts in `bucket` (unless `artifacts_in_bucket` is
    false: an MLflow registry keeps them itself)."""
    repo = root / "churn"
    (repo / "specs").mkdir(parents=True)
    (repo / "data").mkdir()
    artifacts = f'  artifacts: {{uri: "s3://{bucket}/{REGISTRY_PREFIX}/artifacts"}}\n' \
        if registry and artifacts_in_bucket else ""
    subs = {"REGISTRY": registry or f"s3://{bucket}/{REGISTRY_PREFIX}", "ARTIFACTS": artifacts, "BUCKET": bucket}
    for name, text in (("project.yaml", PROJECT_SPEC), ("churn.yaml", CHURN_SPEC)):
        for old, new in subs.items():
            text = text.replace(old, new)
        (repo / "specs" / name).write_text(text, encoding="utf-8")
    (repo / "data" / "customers.csv").write_bytes(customers_csv(1500, seed=1))
    (repo / ".gitignore").write_text(".mlspec/\n__pycache__/\n", encoding="utf-8")
    compile_repo(repo)
    init_repo(repo, "acme/churn", "churn model")
    return repo
