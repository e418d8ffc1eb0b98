"""Benchmarks and the data they run on. Each script prints figures measured in the same run."""
