"""Read side of the web views: plate search, history, events, alerts and stats.

``contract`` fixes the records and the backend interface the HTTP layer depends on; one module
per backend (PostgreSQL, Elasticsearch) implements it with the same results.
"""
