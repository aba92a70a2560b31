"""Train our own cross-encoder: labelled, synthetic and constraint questions, hard negatives from our recall,
sentence-transformers' CrossEncoderTrainer, a held-out check, and a saved model the cross-encoder strategy loads."""
