"""Benchmarks: each measures a project path against a raw baseline measured in the same run.

Run ``.venv/bin/python -m bench.run [--units N] [--quick]``; results go to BENCHMARKS.md.
"""
