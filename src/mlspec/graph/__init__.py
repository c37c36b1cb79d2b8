"""The dependency graph of a manifest: build it, find cycles, order it, select from it."""
