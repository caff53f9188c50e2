"""Benchmarks for `make bench`: each prints measurements beside a baseline from the same run."""
