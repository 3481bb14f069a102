"""Beam jobs that turn raw corpora into curated, deduplicated, selected and tokenized shards."""
