"""The edge worker: model cache, recognition engine and the ``alpr read``/``alpr edge``/``alpr
models`` commands.

The core worker does not load the edge (it is not among the app's discovered packages; its
commands are listed by :mod:`commands.edge` and imported when they run). Modules at this level
import only the standard library, pydantic and click at module level, so the commands' help
works where the ``edge`` extra is not installed; the numerical engine lives in
:mod:`edge.engine`. Of the rest of the project the edge imports only the contract (``streams``,
``schemas``) and the settings (``config``); ``edge.cli`` attaches its commands to the app.
"""
