"""Query stores fed by the projections: PostgreSQL (or TimescaleDB) and Elasticsearch.

Pure helpers (row and document mapping, partition and index naming, migration ordering)
and the clients that write them. Nothing here connects anywhere at import.
"""
