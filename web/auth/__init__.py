"""Access control of the web views: API keys with roles, per-key rate limits, the search audit."""
