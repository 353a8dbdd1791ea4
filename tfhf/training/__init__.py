"""Losses, optimizers and schedules, Keras callbacks."""
