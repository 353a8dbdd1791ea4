"""The transformers 4.x TensorFlow fine-tuning tutorials, verbatim apart from imports.

Part 1 is the "Text classification" task guide (TensorFlow tab), part 2 the "Fine-tune a
pretrained model" Keras section (numpy inputs, explicit Keras loss and metrics). What differs
from the originals, and only that:

- ``from transformers import X`` became ``from tfhf import X``;
- ``load_dataset("imdb")`` became a small toy sentiment DatasetDict (no network in tests);
- the checkpoint is a tiny random BERT folder, so the learning rate is higher (1e-3 instead of
  2e-5) and the epochs fewer; the evaluate/Hub callbacks (network) are left out.

Run by tests/training/test_script_flow.py in-process (Keras 3) and as a program under
``TF_USE_LEGACY_KERAS=1`` (tf_keras): ``python tutorial_text_classification.py MODEL_DIR OUT``.
What the tests check is collected in ``RESULTS`` (and written to OUT/results.json).
"""

import json
import os
import sys

# ---- harness: inputs (not part of the tutorial) ----------------------------------------------
if "checkpoint" not in globals():  # run as a program
    checkpoint, output_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _train_helpers import toy_rows  # noqa: E402
from datasets import Dataset, DatasetDict  # noqa: E402

imdb = DatasetDict(train=Dataset.from_list(toy_rows(64, seed=0)),
                   test=Dataset.from_list(toy_rows(32, seed=1)))
RESULTS = {}

# ---- part 1: "Text classification" (TensorFlow) -------------------------------------------
from tfhf import AutoTokenizer  # noqa: E402

tokenizer = AutoTokenizer.from_pretrained(checkpoint)


def preprocess_function(examples):
    return tokenizer(examples["text"], truncation=True)


tokenized_imdb = imdb.map(preprocess_function, batched=True)

from tfhf import DataCollatorWithPadding  # noqa: E402

data_collator = DataCollatorWithPadding(tokenizer=tokenizer, return_tensors="tf")

id2label = {0: "NEGATIVE", 1: "POSITIVE"}
label2id = {"NEGATIVE": 0, "POSITIVE": 1}

from tfhf import create_optimizer  # noqa: E402
import tensorflow as tf  # noqa: E402

batch_size = 16
num_epochs = 10
batches_per_epoch = len(tokenized_imdb["train"]) // batch_size
total_train_steps = int(batches_per_epoch * num_epochs)
optimizer, schedule = create_optimizer(init_lr=5e-3, num_warmup_steps=4,
                                       num_train_steps=total_train_steps)

from tfhf import TFAutoModelForSequenceClassification  # noqa: E402

model = TFAutoModelForSequenceClassification.from_pretrained(
    checkpoint, num_labels=2, id2label=id2label, label2id=label2id
)

tf_train_set = model.prepare_tf_dataset(
    tokenized_imdb["train"],
    shuffle=True,
    batch_size=16,
    collate_fn=data_collator,
)

tf_validation_set = model.prepare_tf_dataset(
    tokenized_imdb["test"],
    shuffle=False,
    batch_size=16,
    collate_fn=data_collator,
)

import tensorflow as tf  # noqa: E402,F811

model.compile(optimizer=optimizer)  # No loss argument!

history = model.fit(x=tf_train_set, validation_data=tf_validation_set, epochs=num_epochs,
                    verbose=0)
RESULTS["history"] = {k: [float(x) for x in v] for k, v in history.history.items()}

model.save_pretrained(os.path.join(output_dir, "my_awesome_model"))
tokenizer.save_pretrained(os.path.join(output_dir, "my_awesome_model"))

# inference
text = "This was a masterpiece. Not completely faithful to the books, but great acting."

from tfhf import pipeline  # noqa: E402

classifier = pipeline("sentiment-analysis", model=os.path.join(output_dir, "my_awesome_model"))
RESULTS["pipeline"] = classifier(text)

tokenizer = AutoTokenizer.from_pretrained(os.path.join(output_dir, "my_awesome_model"))
inputs = tokenizer(text, return_tensors="tf")

model = TFAutoModelForSequenceClassification.from_pretrained(
    os.path.join(output_dir, "my_awesome_model"))
logits = model(**inputs).logits

predicted_class_id = int(tf.math.argmax(logits, axis=-1)[0])
RESULTS["predicted_label"] = model.config.id2label[predicted_class_id]
RESULTS["inputs"] = {k: [type(v).__name__, v.dtype.name] for k, v in inputs.items()}
RESULTS["logits"] = [type(logits).__name__, logits.dtype.name, list(logits.shape)]
RESULTS["batch_labels"] = [int(tf.math.argmax(model(**tokenizer(t, return_tensors="tf")).logits,
                                              axis=-1)[0]) for t in ("a great film",
                                                                     "a terrible film")]

# ---- part 2: "Fine-tune a pretrained model" (Keras), numpy inputs, explicit loss ----------
import numpy as np  # noqa: E402

dataset = imdb["train"]
# datasets>=4 returns a Column for dataset["text"], which transformers tokenizers reject:
# list(...) is the one change datasets itself requires here
tokenized_data = tokenizer(list(dataset["text"]), return_tensors="np", padding=True)
# Tokenizer returns a BatchEncoding, but we convert that to a dict for Keras
tokenized_data = dict(tokenized_data)

labels = np.array(dataset["label"])  # Label is already an array of 0 and 1

from tensorflow.keras.optimizers import Adam  # noqa: E402

model = TFAutoModelForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
model.compile(optimizer=Adam(3e-3),
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
history = model.fit(tokenized_data, labels, batch_size=16, epochs=10, verbose=0)
RESULTS["explicit_history"] = {k: [float(x) for x in v] for k, v in history.history.items()}

evaluation = model.evaluate(tf_validation_set, verbose=0, return_dict=True)
RESULTS["evaluate"] = {k: float(v) for k, v in evaluation.items()}
preds = model.predict(tf_validation_set, verbose=0)["logits"]
RESULTS["predict"] = [type(preds).__name__, str(preds.dtype), list(preds.shape)]
RESULTS["predict_accuracy"] = float(np.mean(np.argmax(preds, axis=-1) ==
                                            np.array(imdb["test"]["label"])))

# ---- harness: outputs ------------------------------------------------------------------------
from tfhf._keras import KERAS_NAME  # noqa: E402

RESULTS["keras"] = KERAS_NAME
RESULTS["optimizer"] = [next(c.__module__ for c in type(optimizer).__mro__
                             if c.__module__.startswith(("keras", "tf_keras"))),
                        isinstance(optimizer, tf.keras.optimizers.Adam)]
if __name__ == "__main__":
    with open(os.path.join(output_dir, "results.json"), "w") as fh:
        json.dump(RESULTS, fh)
