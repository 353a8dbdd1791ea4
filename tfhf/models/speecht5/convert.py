"""SpeechT5 and its HiFi-GAN vocoder: HF weight names -> tfhf attribute paths.

The transformer layers use transformers' SpeechT5 names (``attention`` / ``self_attn``,
``encoder_attn``, ``feed_forward.intermediate_dense`` / ``output_dense``, post-norm layer
norms) mapped onto the shared :mod:`tfhf.layers.seq2seq` blocks; the encoder's first
``layer_norm`` is the stack's embedding norm and ``embed_positions.pe_k`` its relative keys.
"""

_ATTN = (("q_proj", "q_proj"), ("k_proj", "k_proj"), ("v_proj", "v_proj"),
         ("out_proj", "o_proj"))
_FFN = (("feed_forward.intermediate_dense", "ffn.fc1"), ("feed_forward.output_dense", "ffn.fc2"))


def _dense(t, hf, tf, bias=True):
    t[f"{hf}.weight"] = f"{tf}.kernel"
    if bias:
        t[f"{hf}.bias"] = f"{tf}.bias"


def _norm(t, hf, tf):
    t[f"{hf}.weight"] = f"{tf}.weight"
    t[f"{hf}.bias"] = f"{tf}.bias"


def _layer(t, hf, tf, decoder):
    attn = "self_attn" if decoder else "attention"
    for a, b in _ATTN:
        _dense(t, f"{hf}.{attn}.{a}", f"{tf}.self_attn.{b}")
    _norm(t, f"{hf}.{'self_attn_layer_norm' if decoder else 'layer_norm'}",
          f"{tf}.self_attn_norm")
    if decoder:
        for a, b in _ATTN:
            _dense(t, f"{hf}.encoder_attn.{a}", f"{tf}.cross_attn.{b}")
        _norm(t, f"{hf}.encoder_attn_layer_norm", f"{tf}.cross_attn_norm")
    for a, b in _FFN:
        _dense(t, f"{hf}.{a}", f"{tf}.{b}")
    _norm(t, f"{hf}.final_layer_norm", f"{tf}.ffn_norm")


def text_to_speech_weights(config):
    """The full table of ``SpeechT5ForTextToSpeech``."""
    t = {"speecht5.encoder.prenet.embed_tokens.weight": "text_prenet.embed_tokens.embeddings",
         "speecht5.encoder.prenet.encode_positions.alpha": "text_prenet.encode_positions.alpha"}
    enc = "speecht5.encoder.wrapped_encoder"
    _norm(t, f"{enc}.layer_norm", "encoder.embedding_norm")
    t[f"{enc}.embed_positions.pe_k.weight"] = "encoder.relative_keys.pe_k.embeddings"
    for i in range(config.encoder_layers):
        _layer(t, f"{enc}.layers.{i}", f"encoder.blocks.{i}", decoder=False)
    pre = "speecht5.decoder.prenet"
    for i in range(config.speech_decoder_prenet_layers):
        _dense(t, f"{pre}.layers.{i}", f"speech_prenet.layers.{i}")
    _dense(t, f"{pre}.final_layer", "speech_prenet.final_layer")
    t[f"{pre}.encode_positions.alpha"] = "speech_prenet.encode_positions.alpha"
    _dense(t, f"{pre}.speaker_embeds_layer", "speech_prenet.speaker_embeds_layer")
    for i in range(config.decoder_layers):
        _layer(t, f"speecht5.decoder.wrapped_decoder.layers.{i}", f"decoder.blocks.{i}",
               decoder=True)
    post = "speech_decoder_postnet"
    _dense(t, f"{post}.feat_out", "postnet.feat_out")
    _dense(t, f"{post}.prob_out", "postnet.prob_out")
    for i in range(config.speech_decoder_postnet_layers):
        t[f"{post}.layers.{i}.conv.weight"] = f"postnet.layers.{i}.conv.weight"
        for name in ("weight", "bias", "running_mean", "running_var"):
            t[f"{post}.layers.{i}.batch_norm.{name}"] = f"postnet.layers.{i}.batch_norm.{name}"
    return t


def batch_norm_counters(config):
    """``num_batches_tracked`` buffers PyTorch's BatchNorm keeps (saved as 0, never read)."""
    return [f"speech_decoder_postnet.layers.{i}.batch_norm.num_batches_tracked"
            for i in range(config.speech_decoder_postnet_layers)]


def hifigan_weights(config):
    t = {"mean": "mean", "scale": "scale"}
    for conv in ("conv_pre", "conv_post"):
        t[f"{conv}.weight"] = f"{conv}.weight"
        t[f"{conv}.bias"] = f"{conv}.bias"
    for i in range(len(config.upsample_rates)):
        t[f"upsampler.{i}.weight"] = f"upsampler.{i}.weight"
        t[f"upsampler.{i}.bias"] = f"upsampler.{i}.bias"
    blocks = len(config.upsample_rates) * len(config.resblock_kernel_sizes)
    for j in range(blocks):
        dilations = config.resblock_dilation_sizes[j % len(config.resblock_kernel_sizes)]
        for group in ("convs1", "convs2"):
            for k in range(len(dilations)):
                for p in ("weight", "bias"):
                    t[f"resblocks.{j}.{group}.{k}.{p}"] = f"resblocks.{j}.{group}.{k}.{p}"
    return t
