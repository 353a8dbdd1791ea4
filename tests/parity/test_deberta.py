"""DeBERTa and DeBERTa-v2 config options beyond the tiny configs of test_encoder_families.py
(which checks every head, XLA, save/load, the tokenizers and the tutorial's recipe): each
variant's outputs, hidden states and attentions match PyTorch transformers within 1e-4 on a
padded batch, and tfhf's saved files load in PyTorch with no missing or unexpected weight.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

from parity.test_encoder_families import ALL, hf_config, make_inputs, tf_class  # noqa: E402
from parity.test_encoders import assert_outputs_match, pt_forward, to_tf  # noqa: E402

VARIANTS = {
    # name: (family, head, config overrides)
    "v1-factorized-c2p-full-table": ("deberta", "Model", dict(
        embedding_size=16, pos_att_type="c2p", max_relative_positions=-1)),
    "v2-separate-keys-conv-token-types": ("deberta-v2", "Model", dict(
        share_att_key=False, conv_kernel_size=3, conv_act="gelu", position_biased_input=True,
        type_vocab_size=2)),
    "v2-no-buckets-p2c": ("deberta-v2", "Model", dict(
        position_buckets=-1, max_relative_positions=5, pos_att_type="p2c")),
    # relative positions only: inputs may be longer than max_position_embeddings
    "v2-longer-than-max-positions": ("deberta-v2", "Model", dict(max_position_embeddings=8)),
    "v2-mlm-not-legacy": ("deberta-v2", "ForMaskedLM", dict(legacy=False)),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_config_variant_parity_and_save(variant, tmp_path):
    family, head, overrides = VARIANTS[variant]
    torch.manual_seed(0)
    pt_cls = getattr(transformers, ALL[family][0] + head)
    pt = pt_cls(hf_config(family, head, **overrides)).eval()
    pt.save_pretrained(tmp_path / "pt")
    inputs = make_inputs(family, head)
    want = pt_forward(pt, inputs, output_hidden_states=True, output_attentions=True)
    model = tf_class(family, head).from_pretrained(tmp_path / "pt")
    got = model(to_tf(inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(got, want)
    model.save_pretrained(tmp_path / "tfhf")
    _, info = pt_cls.from_pretrained(tmp_path / "tfhf", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
