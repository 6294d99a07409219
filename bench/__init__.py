"""Benchmarks, run by hand (never in the test suite): each prints its figures and a same-run baseline."""
