"""`mlspec serve`: real-time serving of each model's champion, with a shadow challenger and a prediction log.

Runtime-side, like `mlspec score`: it reads the manifest (never the spec modules), loads versions
through the registry (sha256-verified), and needs the `serve` extra (FastAPI, uvicorn).

    settings.py    what was asked for (the CLI's options), and how worker processes receive it
    validation.py  the request validator built from the data contract (422 naming field and rule)
    protocol.py    the Open Inference Protocol (KServe V2) and the v1 :predict wire formats
    models.py      loaded, verified versions and the catalog swapped atomically on reload
    shadow.py      the challenger scoring requests off the response path, through a bounded queue
    predlog.py     the prediction log writer (one complete Parquet file per flush, date partitions)
    metrics.py     Prometheus text for /metrics
    app.py         the ASGI application and its routes
"""
