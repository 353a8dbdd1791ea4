"""Model families and what they share.

``registry`` (model_type -> classes, one table) and ``auto`` (the TFAutoModel* classes) on
top; ``base`` (TFPreTrainedModel: loading, saving, Keras fit); one module per backbone kind,
``encoder`` (BERT-style encoders and their task models), ``causal_lm`` (decoder-only) and
``seq2seq`` (encoder-decoder); ``heads`` (task head layers), ``inputs`` (the input checks
every backbone uses), ``weights`` (HF names <-> variables); and one folder per family
(``modeling.py`` + ``convert.py``).

Nothing is imported here: ``import tfhf`` stays free of TensorFlow, and a family's modules
load when its classes are first used (see ``tfhf.models.registry``).
"""
