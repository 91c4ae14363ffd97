"""The benchmarks behind `make bench`: see README.md, run them with benchmarks/run.py."""
