"""The JSON API under ``/api``, described by ``web/openapi.yaml`` (``GET /api/openapi.json``)."""
