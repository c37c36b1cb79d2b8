"""The write phase: where `mlspec compile` may write, and writing the generated tree safely."""
