"""Evidence reports: one read or one alert as a PDF an investigator can file.

``facts`` holds what a report states (pure data, and the digest that seals it), ``gather``
reads those facts from the stores (PostgreSQL, the lookup backend, the S3 object store), and
``pdf`` draws them with ReportLab. The console serves them from ``web.pages.evidence``.
"""
