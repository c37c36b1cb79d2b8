"""The spec's small languages and tables: expressions, gate requirements, cron, estimators, metrics."""
