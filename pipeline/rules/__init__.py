"""Pure rule functions (no Beam import): each returns a verdict or transformed text."""
