"""Curate: read raw corpora, normalize, language- and quality-filter, redact PII, exact-dedup (Beam)."""
