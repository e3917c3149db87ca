"""``make bench``: the performance figures in README.md (entry point: run.py)."""
