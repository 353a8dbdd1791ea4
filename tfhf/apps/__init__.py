"""Applications: the ``tfhf`` command's jobs (``quickstart``, ``train``), on the top floor.

They use everything below them (models, data, training, pipelines); nothing in the library
imports them.
"""
