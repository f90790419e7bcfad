"""The Discord front end: the client, its features (``exts``), their shared helpers (``utils``)
and the health and metrics endpoints (``monitoring``)."""
