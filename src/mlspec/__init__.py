"""mlspec: declarative MLOps. YAML specs compiled into GitHub Actions workflows and runnable jobs."""

__version__ = "0.1.0"
