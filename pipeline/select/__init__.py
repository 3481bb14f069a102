"""Select: near-duplicate and line-level dedup, quality-model selection, domain routing, decontamination (Beam)."""
