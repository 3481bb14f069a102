"""The embedded sample corpus: seeded legal, medical, financial, general and noisy-web text with ground truth."""
