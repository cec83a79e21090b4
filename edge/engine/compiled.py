"""numba, with its compiled functions cached in ``$ALPR_HOME/numba-cache``.

numba caches beside a module's source by default, or in the user's cache folder where that
is not writable; an installed package's folder often is not, and a service account may have
no home. ``NUMBA_CACHE_DIR`` set by the user wins. Import numba from here, so the folder is
set before numba reads its settings.
"""

from __future__ import annotations

import os

from edge.manifest import alpr_home

os.environ.setdefault("NUMBA_CACHE_DIR", str(alpr_home() / "numba-cache"))

import numba  # after the cache folder is set

__all__ = ["numba"]
