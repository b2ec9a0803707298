"""OGC API Features: the collections, their queries (CQL2 text) and their SQL."""
