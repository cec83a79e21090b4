"""Helpers for the tests and the benchmarks: events in the wire format, scratch topics,
databases and indices, and plate reads to load into the stores. Not part of the product.
"""
