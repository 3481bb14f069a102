"""Tokenize and pack selected documents into memory-mappable token shards (Beam)."""
