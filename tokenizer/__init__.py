"""Domain tokenizer: training with HF tokenizers and the fit report."""
