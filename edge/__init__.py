"""The edge worker: model cache, recognition engine and the ``alpr read``/``alpr models`` commands.

Faust autodiscovery imports every module here at each ``alpr`` start, also where the ``edge``
extra is not installed, so modules at this level import only the standard library, pydantic
and click at module level; the numerical engine lives in :mod:`edge.engine`.
"""
