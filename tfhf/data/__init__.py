"""Tokenizers with return_tensors="tf", collators, datasets -> tf.data."""
