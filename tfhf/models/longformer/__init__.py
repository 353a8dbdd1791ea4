"""Longformer (Beltagy et al., 2020): sliding-window + global attention over RoBERTa."""
