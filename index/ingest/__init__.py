"""Reading sources: formats, documents, addresses and fetching, sentences and chunks."""
