"""Emit: pure functions from the manifest to generated files ({relative path: bytes})."""

MANIFEST_PATH = "generated/manifest.json"
CONSTRAINTS_PATH = "generated/constraints.txt"
WORKFLOW_DIR = ".github/workflows"
ACTIONLINT_PATH = ".github/actionlint.yaml"
RETRAIN_WORKFLOW = "mlspec-retrain.yml"  # a monitor's alert dispatches it with the model to retrain
