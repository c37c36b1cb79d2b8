"""The runtime: executes a resolved manifest. Reads only the manifest, never the spec modules.

Heavy libraries (pandas, scikit-learn, pyarrow, SQLAlchemy, skops, pandera) are imported inside the
steps that use them, so a no-op run stays fast.
"""
