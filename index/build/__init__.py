"""Making an index from chunks: models and encoders, vectors, BM25, the corpus, the builder."""
