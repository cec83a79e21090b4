"""Benchmarks: run each as ``.venv/bin/python -m bench.NAME`` from the repository root.

A package, so that ``bench.edge`` is a module of its own and never hides the ``edge``
package (as a script named ``edge.py`` would, its folder leading ``sys.path``).
"""
