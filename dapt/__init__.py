"""dapt: domain-adaptation pre-training (curate -> tokenizer -> pretrain -> eval)."""
