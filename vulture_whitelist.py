"""Names `vulture` reports as unused that are used: read by a framework, by name or by serialization.

`make lint` and `make test` run vulture over src/ with this file (settings in pyproject.toml's
[tool.vulture]). Functions registered by a decorator (click commands, FastAPI routes, pydantic validators
and serializers, SQLAlchemy event listeners) are skipped there by `ignore_decorators`, not listed here.
Anything dead is deleted, never listed: each entry says who uses the name. Entries use vulture's form
(`_.name`); the file is read by vulture, never imported.
"""

# ruff: noqa
# fmt: off
_ = object()

# pydantic reads a model's configuration from this class attribute (manifest/__init__.py, spec/v1/base.py)
_.model_config

# pydantic fields: validated from the spec (apiVersion pins the language version; its JSON Schema is
# generated from them) and read through model_dump() or getattr(thresholds, method)
_.api_version          # spec/v1/models.py: SpecFile.apiVersion
_.ks                   # spec/v1/monitors.py: DriftThresholds, read by spec/drift.py with getattr
_.chi_square           # likewise
_.wasserstein          # likewise
_.max_failed_rows      # spec/v1/monitors.py: Quality, read from the manifest by runtime/monitoring/monitor.py
_.max_drop             # spec/v1/monitors.py: Performance, likewise

# dataclass fields written to JSON with asdict(): the monitor's report and the plan
_.null_rate_reference  # runtime/monitoring/drift.py: ColumnDrift, in the drift report
_.null_rate_live       # likewise
_.data_fingerprint     # runtime/monitoring/monitor.py: MonitorReport, shown by report.py
_.base_state           # plan.py: Plan, set by api.py, read from plan.json by cli/node.py

# attributes set on other libraries' objects for their effect
_.external_attr        # runtime/artifacts.py: zipfile.ZipInfo's file mode, part of the canonical bytes
_.isolation_level      # runtime/registry.py: sqlite3 connection in autocommit, so BEGIN IMMEDIATE is ours
_.n_threads            # runtime/train.py: cleared on HistGradientBoosting's bin mapper for byte-stable artifacts

# called by other libraries
_.get_feature_names_out  # runtime/transformers.py: scikit-learn's set_output and feature-name API
_.from_environment       # serve/app.py: uvicorn's factory, named as a string by cli/serve.py
