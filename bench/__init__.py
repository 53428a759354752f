"""Benchmarks: each ``bench_<area>.py`` prints figures and ratios against a baseline
measured in the same run."""
