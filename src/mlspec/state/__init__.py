"""Where mlspec's state persists: byte stores addressed by URL (a local folder, S3, GCS, Azure).

A `Store` offers the four operations a registry needs and nothing more: read, create-if-absent,
compare-and-swap, list. Object stores give both conditional writes natively (If-None-Match and
If-Match, through obstore); a local folder gets them from link(2) and a lock. Nothing here imports
pandas, scikit-learn or SQLAlchemy.
"""
