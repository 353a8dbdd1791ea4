"""Model outputs with attribute, key and index access, as transformers' ModelOutput.

Fields set to ``None`` are left out of the mapping (so ``out.to_tuple()`` and ``out[0]``
skip them), exactly like transformers. Outputs are nested structures for ``tf.nest`` and
``keras.tree`` so they cross ``tf.function`` and ``predict`` boundaries.
"""

from __future__ import annotations

from collections import OrderedDict


class ModelOutput(OrderedDict):
    _fields: tuple = ()

    def __init__(self, *args, **kwargs):
        super().__init__()
        if args:
            if len(args) != 1:
                raise TypeError(f"{type(self).__name__} takes at most one positional argument")
            kwargs = {**dict(args[0]), **kwargs}
        unknown = set(kwargs) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unexpected fields {sorted(unknown)}")
        for f in self._fields:
            v = kwargs.get(f)
            if v is not None:
                OrderedDict.__setitem__(self, f, v)

    def __getattr__(self, name):
        fields = type(self)._fields
        if name in fields:
            return self.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")

    def __setattr__(self, name, value):
        if name in self._fields:
            if value is None:
                self.pop(name, None)
            else:
                OrderedDict.__setitem__(self, name, value)
        else:
            super().__setattr__(name, value)

    def __getitem__(self, k):
        if isinstance(k, (int, slice)):
            return self.to_tuple()[k]
        return super().__getitem__(k)

    def to_tuple(self):
        return tuple(self[k] for k in self.keys())

    def __reduce__(self):
        return (type(self), (list(self.items()),))


def make_output(name, *fields, module=None):
    """A new :class:`ModelOutput` subclass named ``name`` with ``fields`` (in order);
    ``module`` sets its ``__module__`` (for pickling), default this module."""
    cls = type(name, (ModelOutput,), {"_fields": tuple(fields)})
    cls.__module__ = module or __name__
    return cls


TFBaseModelOutput = make_output(
    "TFBaseModelOutput", "last_hidden_state", "hidden_states", "attentions")
TFBaseModelOutputWithPooling = make_output(
    "TFBaseModelOutputWithPooling", "last_hidden_state", "pooler_output", "hidden_states",
    "attentions")
TFSequenceClassifierOutput = make_output(
    "TFSequenceClassifierOutput", "loss", "logits", "hidden_states", "attentions")
TFTokenClassifierOutput = make_output(
    "TFTokenClassifierOutput", "loss", "logits", "hidden_states", "attentions")
TFQuestionAnsweringModelOutput = make_output(
    "TFQuestionAnsweringModelOutput", "loss", "start_logits", "end_logits", "hidden_states",
    "attentions")
TFMaskedLMOutput = make_output("TFMaskedLMOutput", "loss", "logits", "hidden_states", "attentions")
TFMultipleChoiceModelOutput = make_output(
    "TFMultipleChoiceModelOutput", "loss", "logits", "hidden_states", "attentions")
TFElectraForPreTrainingOutput = make_output(
    "TFElectraForPreTrainingOutput", "loss", "logits", "hidden_states", "attentions")
TFFunnelForPreTrainingOutput = make_output(
    "TFFunnelForPreTrainingOutput", "loss", "logits", "hidden_states", "attentions")
TFCausalLMOutputWithPast = make_output(
    "TFCausalLMOutputWithPast", "loss", "logits", "past_key_values", "hidden_states", "attentions")
_SEQ2SEQ = ("past_key_values", "decoder_hidden_states", "decoder_attentions", "cross_attentions",
            "encoder_last_hidden_state", "encoder_hidden_states", "encoder_attentions")
TFSeq2SeqModelOutput = make_output("TFSeq2SeqModelOutput", "last_hidden_state", *_SEQ2SEQ)
TFSeq2SeqLMOutput = make_output("TFSeq2SeqLMOutput", "loss", "logits", *_SEQ2SEQ)
TFSeq2SeqSequenceClassifierOutput = make_output(
    "TFSeq2SeqSequenceClassifierOutput", "loss", "logits", *_SEQ2SEQ)
TFSeq2SeqQuestionAnsweringModelOutput = make_output(
    "TFSeq2SeqQuestionAnsweringModelOutput", "loss", "start_logits", "end_logits", *_SEQ2SEQ)
# SpeechT5 text-to-speech: the mel spectrogram after (and before) the post-net, and the
# stop-token logits (batch, frames / reduction_factor * reduction_factor)
TFSeq2SeqSpectrogramOutput = make_output(
    "TFSeq2SeqSpectrogramOutput", "loss", "spectrogram", "spectrogram_before_postnet",
    "stop_logits", "decoder_hidden_states", "encoder_last_hidden_state", "encoder_hidden_states")

ALL_OUTPUTS = [TFBaseModelOutput, TFBaseModelOutputWithPooling, TFSequenceClassifierOutput,
               TFTokenClassifierOutput, TFQuestionAnsweringModelOutput, TFMaskedLMOutput,
               TFMultipleChoiceModelOutput, TFElectraForPreTrainingOutput,
               TFFunnelForPreTrainingOutput,
               TFCausalLMOutputWithPast, TFSeq2SeqModelOutput, TFSeq2SeqLMOutput,
               TFSeq2SeqSequenceClassifierOutput, TFSeq2SeqQuestionAnsweringModelOutput,
               TFSeq2SeqSpectrogramOutput]

# vision-language families
TFCLIPOutput = make_output("TFCLIPOutput", "loss", "logits_per_image", "logits_per_text",
                           "text_embeds", "image_embeds", "text_model_output",
                           "vision_model_output")
TFBlipForConditionalGenerationModelOutput = make_output(
    "TFBlipForConditionalGenerationModelOutput", "loss", "logits", "image_embeds",
    "last_hidden_state", "hidden_states", "attentions")
TFCLIPSegImageSegmentationOutput = make_output(
    "TFCLIPSegImageSegmentationOutput", "loss", "logits", "conditional_embeddings",
    "pooled_output", "vision_model_output", "decoder_output")
ALL_OUTPUTS += [TFCLIPOutput, TFBlipForConditionalGenerationModelOutput,
                TFCLIPSegImageSegmentationOutput]

# Longformer: the encoder outputs plus the global tokens' attentions (``attentions`` hold
# the sliding-window probabilities, as transformers' Longformer outputs)
LONGFORMER_OUTPUTS = [
    make_output("TFLongformer" + cls.__name__[2:], *cls._fields, "global_attentions")
    for cls in (TFBaseModelOutput, TFBaseModelOutputWithPooling, TFSequenceClassifierOutput,
                TFTokenClassifierOutput, TFQuestionAnsweringModelOutput, TFMaskedLMOutput,
                TFMultipleChoiceModelOutput)]
ALL_OUTPUTS += LONGFORMER_OUTPUTS


def _register_trees():
    """Let keras.tree (optree) and tf.nest see outputs as mappings, not leaves."""
    try:
        import optree

        for cls in ALL_OUTPUTS:
            def flatten(o):
                keys = tuple(o.keys())
                return tuple(o[k] for k in keys), keys, keys

            def unflatten(keys, children, cls=cls):
                return cls(list(zip(keys, children)))

            for ns in ("keras", ""):
                try:
                    optree.register_pytree_node(cls, flatten, unflatten, namespace=ns)
                except (ValueError, TypeError):
                    pass
    except ImportError:  # pragma: no cover
        pass


_register_trees()
