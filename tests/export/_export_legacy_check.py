"""Run by test_keras_saving.py under TF_USE_LEGACY_KERAS=1: tf_keras saving and export.

    python _export_legacy_check.py CHECKPOINT_DIR WORK_DIR
"""

import json
import os
import sys
import zipfile

import numpy as np
import tensorflow as tf

import tfhf
from tfhf._keras import KERAS_NAME, LEGACY, keras
from tfhf.errors import CheckpointError, ConfigError
from tfhf.export import export_saved_model, load_keras_model


def main(folder, work):
    assert LEGACY and KERAS_NAME == "tf_keras", KERAS_NAME
    model = tfhf.TFAutoModelForSequenceClassification.from_pretrained(folder)
    tok = tfhf.AutoTokenizer.from_pretrained(folder)
    ids = np.array([[101, 2023, 2003, 1037, 2204, 3185, 102], [101, 6659, 102, 0, 0, 0, 0]],
                   np.int32)
    batch = {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int32)}
    ref = model(dict(batch)).logits.numpy()

    # .keras round trip
    path = os.path.join(work, "m.keras")
    model.save(path)
    for restored in (keras.models.load_model(path, safe_mode=True), load_keras_model(path)):
        assert type(restored) is type(model)
        np.testing.assert_array_equal(restored(dict(batch)).logits.numpy(), ref)
        for a, b in zip(model.weights, restored.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())

    # a file naming os.system inside hf_config is refused by both loaders
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    cfg = json.loads(items["config.json"])
    cfg["config"]["hf_config"]["evil"] = {"module": "os", "fn": "system"}
    items["config.json"] = json.dumps(cfg).encode()
    bad = os.path.join(work, "bad.keras")
    with zipfile.ZipFile(bad, "w") as z:
        for n, b in items.items():
            z.writestr(n, b)
    for loader, error in ((load_keras_model, CheckpointError),
                          (lambda p: keras.models.load_model(p, safe_mode=True), ConfigError)):
        try:
            loader(bad)
        except error:
            pass
        else:
            raise AssertionError(f"{loader} loaded a file naming os.system")
    inp = keras.Input((3,))
    keras.Model(inp, keras.layers.Lambda(lambda x: x * 2)(inp)).save(
        os.path.join(work, "lambda.keras"))
    try:
        load_keras_model(os.path.join(work, "lambda.keras"))
    except CheckpointError:
        pass
    else:
        raise AssertionError("a Lambda layer was loaded")

    # tf.saved_model.save of the Keras model
    tf.saved_model.save(model, os.path.join(work, "sm"))
    sig = tf.saved_model.load(os.path.join(work, "sm")).signatures["serving_default"]
    out = sig(input_ids=tf.constant(ids), attention_mask=tf.constant(batch["attention_mask"]))
    np.testing.assert_allclose(out["logits"].numpy(), ref, atol=1e-5)

    # export_saved_model
    exported = export_saved_model(model, os.path.join(work, "export"), tokenizer=tok)
    loaded = tf.saved_model.load(exported)
    out = loaded.signatures["predict_ids"](
        input_ids=tf.constant(ids), attention_mask=tf.constant(batch["attention_mask"]),
        token_type_ids=tf.zeros_like(tf.constant(ids)))
    np.testing.assert_allclose(out["logits"].numpy(), ref, atol=1e-5)
    texts = ["a great film", "dull"]
    enc = tok(texts, padding=True, return_tensors="np")
    ref_text = model({k: enc[k].astype(np.int32) for k in enc}).logits.numpy()
    out = loaded.signatures["serving_default"](text=tf.constant(texts))
    np.testing.assert_allclose(out["logits"].numpy(), ref_text, atol=1e-5)
    print("LEGACY_OK", KERAS_NAME)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
