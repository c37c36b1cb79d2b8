"""Emit: pure functions from the manifest to generated files ({relative path: bytes})."""
