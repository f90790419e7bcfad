"""The Discord features, one extension package each, loaded by name (``client.EXTENSIONS``)."""
