"""Where an index lives: the local memory-mapped store, or Milvus. One small protocol
(``base.SearchIndex``) is all the searcher needs; search and fusion stay in
index/query/search.py."""
