"""Decompose one fine-tuning step into forward / backward / optimizer, tfhf vs PyTorch.

    tfhf assets install minilm
    THREADS=2 REP=3 python scripts/profile_train_step.py

MiniLM-L6 (the ``minilm`` asset) with a new 2-label head, one random batch of 32 x 128
tokens, dropout on. tfhf: ``tf.function`` graphs (no XLA) of the forward (with loss), forward +
gradients, and the whole step with ``create_optimizer``'s AdamW, under float32 and
``mixed_bfloat16``. PyTorch transformers: the forward under ``no_grad``, forward + backward,
and the whole step with ``torch.optim.AdamW``, float32 and bf16 autocast. Each is timed as the
best of ``REP`` calls after two warm-ups; ``THREADS`` sets both frameworks' intra-op threads.
Prints one line per configuration and the JSON. Used for the fine-tuning profile in
docs/benchmarks.md."""
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
threads = int(os.environ.get("THREADS", "1"))
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(1)
import numpy as np, torch
torch.set_num_threads(threads)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tfhf import assets, TFAutoModelForSequenceClassification, create_optimizer
from tfhf._keras import keras
import transformers
folder = assets.path("minilm")
B, T = 32, 128
rs = np.random.RandomState(0)
ids = rs.randint(1000, 20000, size=(B, T)).astype("int32"); mask = np.ones((B, T), "int32")
labels = rs.randint(0, 2, size=(B,)).astype("int32")
REP = int(os.environ.get("REP", "5"))
def best(fn):
    fn(); fn()
    ts = []
    for _ in range(REP):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts)
out = {}
for policy in ["float32", "mixed_bfloat16"]:
    keras.mixed_precision.set_global_policy(policy)
    m = TFAutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    opt, _ = create_optimizer(5e-5, 1000, 0, weight_decay_rate=0.01)
    x = {"input_ids": tf.constant(ids), "attention_mask": tf.constant(mask)}
    y = tf.constant(labels)
    @tf.function
    def fwd():
        return m(x, labels=y, training=True).loss
    @tf.function
    def fwdbwd():
        with tf.GradientTape() as tape:
            loss = m(x, labels=y, training=True).loss
        return tape.gradient(loss, m.trainable_variables)
    @tf.function
    def full():
        with tf.GradientTape() as tape:
            loss = m(x, labels=y, training=True).loss
        g = tape.gradient(loss, m.trainable_variables)
        opt.apply_gradients(zip(g, m.trainable_variables))
        return loss
    r = {"fwd": best(lambda: fwd().numpy()), "fwdbwd": best(lambda: [t.numpy() if hasattr(t,'numpy') else t for t in fwdbwd()][0]), "full": best(lambda: full().numpy())}
    out["tfhf " + policy] = r
    print("tfhf", policy, {k: round(v, 3) for k, v in r.items()}, flush=True)
keras.mixed_precision.set_global_policy("float32")
tm = transformers.AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
tm.train()
topt = torch.optim.AdamW(tm.parameters(), lr=5e-5, weight_decay=0.01)
tx = dict(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask, dtype=torch.long))
ty = torch.tensor(labels, dtype=torch.long)
for name, ac in [("float32", False), ("bf16 autocast", True)]:
    def tfwd():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=ac):
            return tm(**tx, labels=ty).loss.item()
    def tfb():
        tm.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=ac):
            loss = tm(**tx, labels=ty).loss
        loss.backward()
    def tfull():
        topt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=ac):
            loss = tm(**tx, labels=ty).loss
        loss.backward(); topt.step()
    r = {"fwd(no_grad)": best(tfwd), "fwdbwd": best(tfb), "full": best(tfull)}
    out["torch " + name] = r
    print("torch", name, {k: round(v, 3) for k, v in r.items()}, flush=True)
print(json.dumps(out))
