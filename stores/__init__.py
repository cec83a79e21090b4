"""Query stores: PostgreSQL and Elasticsearch clients, schema and writers."""
