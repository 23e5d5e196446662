"""The demo: a generated catalog and a simulated audience with hidden tastes.

The audience model is also what the benchmarks use to measure how fast and how well the feed learns.
"""
