"""Evaluation: bits-per-byte and likelihood benchmarks through lm-evaluation-harness."""
