"""Pre-training: scaling-law planning, mixture sampling, DeepSpeed ZeRO training, export."""
