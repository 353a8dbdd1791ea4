"""Run exported SavedModels in a fresh Python process that never imports tfhf.

    python _export_fresh_load.py REQUEST.json OUT.npz

REQUEST: {"jobs": [{"name", "path", "signature", "inputs": {arg: input}}]} where an input is
{"text_b64": [base64 strings]} (tf.string [batch]), or {"dtype": "int32"|"int64"|"float32",
"value": nested list or scalar}. OUT holds "<name>/<output>" arrays (strings as unicode).
Prints "TFHF_NOT_IMPORTED" last when tfhf stayed out of sys.modules.
"""

import base64
import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the in-graph tokenizer's ops)


def to_tensor(spec):
    if "text_b64" in spec:
        return tf.constant([base64.b64decode(s) for s in spec["text_b64"]], tf.string)
    return tf.constant(np.asarray(spec["value"], dtype=spec["dtype"]))


def main(request_path, out_path):
    with open(request_path) as fh:
        request = json.load(fh)
    results = {}
    models = {}
    for job in request["jobs"]:
        if job["path"] not in models:
            models[job["path"]] = tf.saved_model.load(job["path"])
        fn = models[job["path"]].signatures[job["signature"]]
        out = fn(**{k: to_tensor(v) for k, v in job["inputs"].items()})
        for key, value in out.items():
            value = value.numpy()
            if value.dtype == object:
                value = np.vectorize(lambda b: b.decode("utf-8"), otypes=[str])(value) \
                    if value.size else value.astype(str)
            results[f"{job['name']}/{key}"] = value
    np.savez(out_path, **results)
    assert not any(m == "tfhf" or m.startswith("tfhf.") for m in sys.modules), \
        sorted(m for m in sys.modules if m.startswith("tfhf"))
    print("TFHF_NOT_IMPORTED")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
