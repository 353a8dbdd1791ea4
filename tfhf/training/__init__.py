"""Losses, optimizers and schedules, Keras callbacks (``TrainingPlot``: training curves)."""


def __getattr__(name):  # lazy: ``import tfhf.training`` stays free of matplotlib and Keras
    if name == "TrainingPlot":
        from .plots import TrainingPlot

        return TrainingPlot
    raise AttributeError(f"module 'tfhf.training' has no attribute '{name}'")
