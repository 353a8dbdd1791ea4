"""What a family is made of: one spec per backbone kind, side by side.

A family's ``modeling.py`` turns its transformers config into one of these; the backbone
layers (:mod:`~tfhf.layers.encoder`, :mod:`~tfhf.layers.decoder`, :mod:`~tfhf.layers.seq2seq`)
read nothing else. A difference between families is a field here, not a copied block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from .core import make_norm

# decoder layer types
FULL, SLIDING = "full_attention", "sliding_attention"

# encoder-decoder position kinds
LEARNED, SINUSOIDAL, RELATIVE = "learned", "sinusoidal", "relative"
# a saved position table (looked up like LEARNED) whose initial value is the sinusoid table
# (Whisper's encoder: transformers keeps it frozen and saves it as a weight)
SINUSOIDAL_WEIGHT = "sinusoidal_weight"
# Shaw et al.'s relative keys (SpeechT5's encoder): a learned (2 * max_distance, head_dim) table
# of clamped ``query - key`` offsets, dotted with the scaled queries and added to the scores
RELATIVE_KEYS = "relative_keys"
# no positions in the stack (a family's pre-net adds them)
NO_POSITIONS = "none"


@dataclass
class EncoderSpec:
    """A post-LayerNorm BERT-style encoder (BERT, RoBERTa, DistilBERT, XLM-R, CamemBERT,
    ELECTRA, ALBERT, MPNet, RoFormer)."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    activation: str = "gelu"
    type_vocab_size: int = 0
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    init_std: float = 0.02
    pad_token_id: int | None = 0
    roberta_positions: bool = False
    attention_output_dropout: bool = True
    # factorized embeddings (ELECTRA, ALBERT): tables of this width, then a projection
    embedding_size: int | None = None
    # shared layers (ALBERT): num_layers steps run through this many groups of blocks
    layer_groups: int = 0
    blocks_per_group: int = 1
    # a learned per-head bias over bucketed relative positions added in every layer (MPNet)
    relative_buckets: int = 0
    relative_max_distance: int = 128
    # sliding-window attention (Longformer): each layer's attention_window
    attention_windows: tuple = ()
    # a learned absolute position table in the embeddings (RoFormer has none: rotary)
    absolute_positions: bool = True
    # RoFormer's rotary positions on queries and keys (and values with rotary_value)
    rotary: bool = False
    rotary_value: bool = False

    @property
    def embedding_dim(self):
        return self.embedding_size or self.hidden_size

    def max_length(self):
        """The longest input: RoBERTa's positions start after ``pad_token_id``."""
        offset = (self.pad_token_id or 0) + 1 if self.roberta_positions else 0
        return self.max_positions - offset



@dataclass
class DisentangledSpec(EncoderSpec):
    """DeBERTa's post-LayerNorm encoder (DeBERTa, DeBERTa-v2/v3): BERT's blocks whose attention
    adds content-to-position (``c2p``) and position-to-content (``p2c``) scores over a shared
    table of relative-position embeddings (:mod:`tfhf.layers.disentangled`)."""

    position_biased_input: bool = True  # absolute position embeddings added to the words
    relative_attention: bool = False
    max_relative_positions: int = 0  # the table's half-width (max_position_embeddings if < 1)
    position_buckets: int = 0  # > 0: log-bucketed relative positions (v2), table of 2x this
    pos_att_type: tuple = ()  # "c2p", "p2c"
    share_att_key: bool = False  # v2: positions projected by the content query/key denses
    norm_rel_embeddings: bool = False  # v2 norm_rel_ebd="layer_norm": LayerNorm on the table
    fused_qkv: bool = False  # DeBERTa v1: one in_proj (no bias) + q_bias, v_bias
    pos_key_bias: bool = True  # v1's c2p projection (pos_proj) has no bias
    conv_kernel_size: int = 0  # v2: a convolution beside the first layer's output
    conv_act: str = "tanh"

    @property
    def max_distance(self):
        """``max_relative_positions``, or ``max_position_embeddings`` when below 1."""
        return self.max_relative_positions if self.max_relative_positions >= 1 \
            else self.max_positions

    @property
    def relative_span(self):
        """Half the width of the relative-embedding table."""
        return self.position_buckets if self.position_buckets > 0 else self.max_distance

    def max_length(self):
        """Absolute positions bound the length only when they are added to the input."""
        return self.max_positions if self.position_biased_input else None


@dataclass
class DecoderSpec:
    """A decoder-only family (Llama, Mistral, Qwen2, Gemma 3, GPT-2)."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    max_positions: int
    activation: str = "silu"
    norm: str = "rms"  # "rms" or "layer"
    norm_eps: float = 1e-6
    norm_offset: float = 0.0  # Gemma's RMSNorm scales by (1 + weight)
    gated_mlp: bool = True  # down(act(gate(x)) * up(x)); else down(act(up(x)))
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    fused_qkv: bool = False  # GPT-2: one (hidden, 3 * hidden) Conv1D
    qk_norm: bool = False  # Gemma 3: RMSNorm over head_dim on queries and keys
    sandwich_norms: bool = False  # Gemma: norms after attention and after the MLP as well
    attention_scale: float | None = None  # default head_dim ** -0.5
    scale_by_inverse_layer: bool = False  # GPT-2 option: scores also / (layer_index + 1)
    attn_softcap: float | None = None
    final_softcap: float | None = None
    embed_scale: float | None = None  # Gemma: sqrt(hidden_size)
    learned_positions: bool = False  # GPT-2's wpe table instead of rotary
    layer_types: tuple = ()  # FULL or SLIDING per layer
    sliding_window: int | None = None
    rope: dict = field(default_factory=dict)  # layer type -> rope_parameters dict
    tie_word_embeddings: bool = False
    init_std: float = 0.02
    embedding_dropout: float = 0.0
    attention_dropout: float = 0.0
    hidden_dropout: float = 0.0  # after each sublayer, before the residual add

    def __post_init__(self):
        if not self.layer_types:
            self.layer_types = (FULL,) * self.num_layers
        self.layer_types = tuple(self.layer_types)
        if len(self.layer_types) != self.num_layers:
            raise ConfigError(f"layer_types has {len(self.layer_types)} entries but "
                              f"num_hidden_layers={self.num_layers}.")
        unknown = set(self.layer_types) - {FULL, SLIDING}
        if unknown:
            raise ConfigError(f"layer_types {sorted(unknown)} are not supported; tfhf knows "
                              f"'{FULL}' and '{SLIDING}'.")
        if SLIDING in self.layer_types and not self.sliding_window:
            raise ConfigError("layer_types has sliding_attention layers but sliding_window "
                              f"is {self.sliding_window!r}.")
        if self.num_heads % self.num_kv_heads:
            raise ConfigError(f"num_attention_heads={self.num_heads} is not a multiple of "
                              f"num_key_value_heads={self.num_kv_heads}.")

    def window(self, layer_type):
        return self.sliding_window if layer_type == SLIDING else None

    def make_norm(self, name, dim=None):
        return make_norm(self.norm, dim or self.hidden_size, self.norm_eps,
                         offset=self.norm_offset, name=name)


@dataclass
class Seq2SeqSpec:
    """An encoder-decoder family (T5, BART, M2M100/NLLB, Whisper)."""

    vocab_size: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_heads: int
    decoder_heads: int
    encoder_ffn: int
    decoder_ffn: int
    head_dim: int | None = None  # default d_model // heads (T5: d_kv)
    activation: str = "gelu"
    gated_ffn: bool = False  # T5 v1.1: wo(act(wi_0(x)) * wi_1(x))
    ffn_bias: bool = True
    attention_bias: bool = True  # q/v/out biases (and k unless key_bias=False)
    key_bias: bool = True  # Whisper: k_proj has no bias
    scale_queries: bool = True  # T5 does not scale scores by head_dim ** -0.5
    norm: str = "layer"  # "layer" or "rms" (T5: no mean, no bias)
    norm_eps: float = 1e-5
    pre_norm: bool = True
    embedding_norm: bool = False  # BART's layernorm_embedding (after embeddings + positions)
    final_norm: bool = True  # a norm after the last layer of each stack
    encoder_positions: str = LEARNED
    decoder_positions: str = LEARNED
    max_source_positions: int = 1024
    max_target_positions: int = 1024
    position_offset: int = 0  # BART's learned table has 2 extra rows in front
    padding_idx: int = 1  # M2M100 sinusoidal positions skip padding (and start after it)
    embed_scale: float = 1.0  # sqrt(d_model) when scale_embedding
    cross_attention_dim: int | None = None  # BLIP: the vision width the decoder reads
    relative_buckets: int = 32
    relative_max_distance: int = 128
    relative_bias_per_layer: bool = False  # UMT5: each layer its own table (T5: one per stack)
    init_std: float = 0.02
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0

    def heads(self, decoder):
        return self.decoder_heads if decoder else self.encoder_heads

    def dim_per_head(self, decoder):
        return self.head_dim or self.d_model // self.heads(decoder)

    def make_norm(self, name):
        return make_norm(self.norm, self.d_model, self.norm_eps, name=name)


@dataclass
class ViTSpec:
    """A pre-LayerNorm vision transformer (CLIP's and BLIP's vision towers, CLIPSeg, ViLT's
    layers): patch embeddings, a class token and learned positions, then pre-norm layers.

    ``param_rank`` is the rank of the class token / position table as the family's
    checkpoints store them: 1 for CLIP (``(d,)`` and an ``Embedding`` ``(n + 1, d)``), 3 for
    BLIP and ViLT (``(1, 1, d)`` and ``(1, n + 1, d)``).
    """

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    activation: str = "quick_gelu"
    layer_norm_eps: float = 1e-5
    patch_bias: bool = False
    fused_qkv: bool = False  # BLIP: one (d, 3d) ``qkv`` projection
    param_rank: int = 1
    init_std: float = 0.02
    attention_dropout: float = 0.0
    hidden_dropout: float = 0.0

    @property
    def grid(self):
        return self.image_size // self.patch_size

    @property
    def num_positions(self):
        return self.grid * self.grid + 1
