"""Every diagnostic code mlspec reports, with the explanation `mlspec explain CODE` prints.

Codes are stable: a code is never reused for a different problem. MLS0xx are YAML and file
problems, MLS1xx schema problems, MLS2xx cross-reference and meaning problems, MLS3xx graph and
selection problems, MLS9xx internal errors.
"""

from __future__ import annotations

from mlspec.lang.estimators import ESTIMATORS
from mlspec.lang.metrics import CLASSIFICATION, METRICS, POSITIVE_CLASS, REGRESSION, catalogue_text

CODES: dict[str, tuple[str, str]] = {
    "MLS001": ("spec file missing or unreadable",
               "mlspec reads every *.yaml and *.yml file under specs/. The folder must exist, hold at least "
               "one file, and the files must be regular files (not symbolic links, which could point outside "
               "the repository)."),
    "MLS002": ("spec file too large",
               "A spec file may be at most 4 MiB and all spec files together at most 256 MiB. Specs describe "
               "data; they never contain it. Split a very large spec into several files."),
    "MLS003": ("spec file is not UTF-8", "Spec files must be UTF-8 text. Re-save the file as UTF-8."),
    "MLS004": ("hidden or control character",
               "Characters that render differently from how parsers read them are refused: NEL (U+0085) and "
               "U+2028/U+2029, which YAML treats as line breaks while diff viewers show one line; bidi controls "
               "and zero-width characters (Trojan Source); C0/C1 control characters; a lone carriage return. "
               "Delete the character; retype the line if you cannot see it."),
    "MLS005": ("YAML syntax error",
               "The file is not valid YAML. Common causes: tabs used for indentation, a value containing ': ' "
               "that is not quoted, unbalanced quotes or brackets."),
    "MLS006": ("more than one YAML document", "Each spec file holds exactly one document. Move the part after "
               "'---' into its own file."),
    "MLS007": ("anchor or alias",
               "YAML anchors (&name) and aliases (*name) are refused: they hide where values come from, and "
               "nested aliases can expand into gigabytes (a 'billion laughs' bomb). Write values out in full."),
    "MLS008": ("YAML tag", "Tags such as !!python/object or !!str are refused; specs are plain data. Quote a "
               "value to make it text."),
    "MLS009": ("merge key", "The merge key '<<' is refused; write the keys out in full."),
    "MLS010": ("duplicate key",
               "A key appears twice in the same mapping. Plain YAML loaders silently keep the last value, so a "
               "reviewer may read the first while the tool uses the second. Remove or rename one."),
    "MLS011": ("ambiguous plain value",
               "YAML 1.1 (PyYAML and many other tools) and YAML 1.2 read some unquoted values differently: "
               "yes/no/on/off/y/n as booleans, 0777 as octal, 1:20 as sexagesimal (80), 2024-01-01 as a date, "
               "~ as null. mlspec refuses them. Write true/false or null, or quote the value if you mean text."),
    "MLS012": ("key is not text", "Mapping keys must be text. Quote keys such as 1 or null."),
    "MLS013": ("number too long or not finite", "Numbers have at most 32 characters and must be finite "
               "(no .inf, .nan, or 1e999)."),
    "MLS014": ("nested too deep", "Specs are never nested more than 32 levels; deeper input is refused before "
               "it can exhaust the parser."),
    "MLS015": ("too many values", "A file may hold at most 2,000,000 values and a value at most 65,536 "
               "characters."),
    "MLS016": ("not a mapping", "A spec file is a mapping whose first key is apiVersion: mlspec/v1."),
    "MLS017": ("file under specs/ not read (a warning)",
               "mlspec reads the files under specs/ whose names end in .yaml or .yml, in lower case, on every "
               "system alike. A name ending in .YAML, .Yaml or .YML looks like a spec but is not read; rename it "
               "(git mv specs/A.YAML specs/a.yaml) if it is one."),
    "MLS100": ("missing or unsupported apiVersion",
               "Every spec file starts with 'apiVersion: mlspec/v1'. A future spec language version will have a "
               "new apiVersion, so old specs keep working."),
    "MLS101": ("unknown field", "The key is not part of the spec language at this place. Check the spelling "
               "(the hint suggests the closest field) or run 'mlspec schema' for the full reference."),
    "MLS102": ("missing required field", "A required field is missing. The message names it."),
    "MLS103": ("wrong type",
               "The value has the wrong type. Types are strict: \"5\" is text, not a number. An unquoted 3.10 "
               "is the number 3.1: quote versions (\"3.10\")."),
    "MLS104": ("invalid choice", "The value is not one of the allowed choices; the hint names the closest."),
    "MLS105": ("value out of range", "A number or a list length is outside its allowed range."),
    "MLS106": ("invalid name",
               "Names of sources, features, models, gates, monitors, tags and checks use lowercase letters, "
               "digits and _, start with a letter, have at most 48 characters, and are not Python keywords. "
               "Names become file names, CI job ids and identifiers, so this one rule keeps them safe."),
    "MLS107": ("invalid combination of fields", "Fields that depend on each other do not fit together; the "
               "message says which."),
    "MLS108": ("invalid format", "A value does not have the required form (a Python version such as \"3.12\", a "
               "runner label, an environment name, a table name); the hint says which form."),
    "MLS200": ("duplicate name", "A name is defined twice for the same kind, possibly in two files. Names are "
               "unique per kind across all spec files."),
    "MLS201": ("unknown reference", "A reference (a source, feature, model, column...) names something that does "
               "not exist. The hint suggests the closest name."),
    "MLS202": ("label used as a feature", "A feature reads the model's label column, which leaks the answer into "
               "training. Remove the feature from the model."),
    "MLS203": ("unknown metric, or one that does not fit the task",
               "A model's metrics come from the catalogue below: classification models take classification "
               "metrics, regression models regression metrics. `mlspec explain METRIC` prints one metric's "
               f"definition.\n\nClassification:\n{catalogue_text(CLASSIFICATION)}\n\n{POSITIVE_CLASS}\n\n"
               f"Regression:\n{catalogue_text(REGRESSION)}"),
    "MLS204": ("invalid expression",
               "Expressions are a small language, never Python: column names, numbers, quoted text, + - * / %, "
               "comparisons (< <= > >= == !=), and, or, not, parentheses, and the functions abs, log, log1p, "
               "sqrt, exp, clip, where, is_null, min, max, round. Gate requirements read 'metric OP number' or "
               "'metric OP champion.metric [+|-|* number]'."),
    "MLS205": ("estimator or parameter not allowed",
               "Estimators come from an allowlist (logistic_regression, linear_regression, ridge, lasso, "
               "elastic_net, decision_tree, random_forest, extra_trees, gradient_boosting, "
               "hist_gradient_boosting, knn), and each parameter is checked against a table of types and bounds. "
               "`mlspec explain ESTIMATOR` lists an estimator's parameters with their bounds and defaults."),
    "MLS206": ("estimator does not do this task", "The estimator has no variant for the model's task."),
    "MLS207": ("invalid schedule",
               "Schedules are GitHub's cron: five fields (minute hour day-of-month month day-of-week) in UTC, "
               "at most every 5 minutes, on a day that exists (not '0 0 31 2 *'). Quote the value."),
    "MLS208": ("credentials in a URL", "Passwords in URLs must be written as ${env:VAR}; the value is read from "
               "the environment (a GitHub secret in CI), never stored in the spec."),
    "MLS209": ("source mismatch", "All of a model's features come from its training source; sql sources only "
               "SELECT."),
    "MLS210": ("type mismatch", "A transform, label, slice, allowed value or expression does not fit the column's "
               "declared type. In expressions, + - * / %, unary minus and the numeric functions (abs, log, log1p, "
               "sqrt, exp, clip, min, max, round, and where's two values) need numbers: int, float or bool columns, "
               "derived features, numeric literals; < <= > >= order two numbers or two datetimes; and, or, not and "
               "where's condition need true or false (a number counts). Category and string columns and quoted text "
               "are only compared with == and != or tested with is_null."),
    "MLS211": ("split not possible", "A time split needs a timestamp column on the source; a stratified split "
               "needs a classification task."),
    "MLS212": ("threshold out of range", "A threshold lies outside the range its metric or drift measure can "
               "take, so it could never be decided sensibly. Drift thresholds: psi (0, 10], ks, chi_square and "
               "jensen_shannon (0, 1], wasserstein (0, 100]; a column's threshold is judged by the measure that "
               "column is measured with (category columns: psi, chi_square or jensen_shannon)."),
    "MLS213": ("metric not computed", "A gate or monitor names a metric that the model does not compute. Add it "
               "to the model's metrics."),
    "MLS214": ("unsafe path", "Paths are relative to the project root and stay inside it: no absolute paths, "
               "no '..', no URLs, no backslashes."),
    "MLS215": ("project section missing or repeated", "Exactly one spec file has a 'project:' section."),
    "MLS216": ("ambiguous name in expression", "A name in an expression is both a column and a derived feature."),
    "MLS217": ("first-run policy missing",
               "A gate that compares with the champion must say what happens when there is no champion yet: "
               "first_run: skip_champion_checks (only absolute requirements apply) or first_run: fail."),
    "MLS218": ("install form not accepted",
               "project.install is what every generated CI job installs with pip, on a runner that holds secrets, so "
               "it must name exactly one pinned thing. Accepted: an exact pin \"mlspec-gitops==X.Y.Z\" (extras: "
               "\"mlspec-gitops[postgres]==X.Y.Z\"); a requirements file in the repository whose every line carries "
               "--hash= (\"requirements/mlspec.txt\", installed with pip install --require-hashes -r); a git URL "
               "pinned to a full commit (\"git+https://github.com/OWNER/REPO@<40-hex SHA>\"); or a path in the "
               "repository (\".\", \"./sub\", \".[extras]\"). Refused: anything starting with '-' (pip would read "
               "an option), unpinned names or ranges, '==' with a wildcard, other URLs, paths leaving the repository, "
               "and the name 'mlspec', which on PyPI belongs to another project (mlspec is published as "
               "mlspec-gitops). Leave install out to pin the mlspec version that compiles."),
    "MLS219": ("secret name not allowed",
               "project.secrets lists repository secrets that jobs touching state receive as environment variables "
               "of the same name, and ${env:NAME} in a SQL URL names one too. Names are upper-case ([A-Z_][A-Z0-9_]*, "
               "at most 64 characters), each listed once. GitHub's own names (GITHUB_*, GH_TOKEN, ACTIONS_*, "
               "RUNNER_*) are refused, so a spec cannot hand the workflow's token to a database host; so are "
               "mlspec's own (MLSPEC_*) and names that change how a job runs (PATH, HOME, PYTHON*, LD_*, ...)."),
    "MLS220": ("invalid state URL",
               "The registry is sqlite:///relative/file.db or postgresql://... (SQLAlchemy URLs), or a store: "
               "s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///ABSOLUTE/PATH. The artifact "
               "store is a folder relative to the project or one of those store URLs. Bucket and container names "
               "follow their cloud's rules; paths have plain folder names (no '.' or '..'). Object-store URLs carry "
               "no credentials, query or ${env:...}: credentials and settings (AWS_REGION, AWS_ENDPOINT_URL, ...) "
               "come from the environment, i.e. the repository secrets listed in project.secrets."),
    "MLS221": ("CI state that a job loses",
               "Reported by `mlspec compile` (not by validate, and `mlspec run` is fine with it). Every generated "
               "CI job starts on a fresh machine and its workspace is deleted when it ends. The main workflow "
               "registers models, the retrain and monitor workflows read what main registered, and the pull "
               "request compares with the production champion: all of that needs a registry and artifact store "
               "that outlive a job. A SQLite file in the repository, a project folder or (on GitHub-hosted runners) "
               "a file:// URL do not. Use an object store, for example under project:\n\n"
               "    registry: {uri: \"s3://YOUR-BUCKET/mlspec\"}\n"
               "    secrets: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n\n"
               "with the two secrets set in the repository's settings (artifacts then default to "
               "s3://YOUR-BUCKET/mlspec/artifacts; add AWS_REGION to the list outside us-east-1), or PostgreSQL "
               "(postgresql://USER:${env:PGPASSWORD}@HOST/DB: the repository secret PGPASSWORD is passed to the jobs "
               "that need it; artifacts are then kept in the database too). For a demonstration only, "
               "ci_state: ephemeral accepts job-local state: every model registered in CI is then lost."),
    "MLS222": ("metric cannot be computed for this label",
               "Some metrics are defined only for a two-class label: "
               + ", ".join(m.name for m in METRICS.values() if m.binary_only) + ". On a label with more classes "
               "they would be NaN and fail every gate, so validate refuses them when the label's contract allows "
               "more than two classes (a category, string or int column listing more than two values), and a run "
               "refuses them before training when the data has more than two classes. log_loss scores predicted "
               "probabilities on any number of classes; the _macro, _weighted and _micro metrics average over them."),
    "MLS223": ("search needs too many fits",
               "A grid search fits every combination of its values once per cross-validation fold: 10 parameters "
               "of 10 values each with 3 folds is 3 x 10^10 fits, which would never finish. Validate counts "
               "candidates x folds and refuses more than 20,000 fits, as many as the largest random search "
               "(n_iter 1000 x 20 folds). Use method: random with n_iter, which samples that many candidates from "
               "the same lists (or ranges), or list fewer values."),
    "MLS224": ("missing values reach an estimator that cannot take them (a warning)",
               "A feature read from a nullable column (or a derived feature reading one) is passed on as a missing "
               "value (NaN) by passthrough, standardize, minmax and log1p, and most estimators refuse NaN: "
               "training fails on the first missing value. Add impute: to the feature (median, mean, most_frequent "
               "or constant with fill_value), derive it with is_null() to say what a missing value becomes, or use "
               "an estimator that takes missing values natively: "
               + ", ".join(e.name for e in ESTIMATORS.values() if e.accepts_missing)
               + ". bucketize and one_hot give a missing value a bucket or category of its own. "
               "A warning, since the data may have no missing value yet."),
    "MLS225": ("image not pinned by digest",
               "project.serve.base_image (the serving image's base; a serving Dockerfile needs one) and "
               "project.argo.image (what every Argo step runs in) must name the image with its digest "
               "(NAME[:TAG]@sha256:<64 hex digits>). A tag alone (python:3.11-slim) can point at a "
               "different image tomorrow, and `mlspec compile` works offline, so it cannot look the digest up: "
               "run `docker buildx imagetools inspect IMAGE` or `crane digest IMAGE` and write the digest into the "
               "spec. The reference may hold only the characters of an image name, so nothing else reaches the "
               "Dockerfile or the workflows."),
    "MLS226": ("invalid Dask scheduler address",
               "compute.address (on a model or the project, with backend: dask) names the Dask scheduler that runs "
               "the model's search and cross-validation: tcp://HOST:PORT, or tls://HOST:PORT with TLS (a host name, "
               "an IPv4 address or a bracketed IPv6 address, then a port from 1 to 65535, nothing after it), or "
               "${env:NAME} to read the address from the environment when the model trains (in CI: the repository "
               "secret NAME, which generated train jobs receive). The value read at run time is held to the same "
               "form. Leave the address out to have mlspec start a local cluster of worker processes for the "
               "training."),
    "MLS300": ("dependency cycle", "Derived features depend on each other in a circle, or sources reuse each "
               "other's contracts (schema: {like: SOURCE}) in a circle; the message lists the cycle and where each "
               "dependency was written."),
    "MLS301": ("selector matches nothing", "A selector (--select) matched no node. The hint suggests the closest "
               "name."),
    "MLS302": ("invalid selector", "Selectors look like model:fraud_gbm, +model:x, model:x+, tag:nightly, "
               "kind:gate, file:specs/a.yaml; separate words are a union, commas an intersection."),
    "MLS900": ("internal error", "mlspec itself failed. The details were saved to a file; please report it."),
}


def explain(code: str) -> str | None:
    """The explanation of `code` (case-insensitive), or None if there is no such code."""
    entry = CODES.get(code.upper())
    if entry is None:
        return None
    title, text = entry
    return f"{code.upper()}: {title}\n\n{text}\n"
