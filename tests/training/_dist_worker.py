"""One training process for tests/training/test_distributed.py.

Modes (each a fresh process, because logical devices and TF_CONFIG must be set before
TensorFlow initializes):

    mirrored   two logical CPU devices; trains the same model three times: MirroredStrategy
               on 1 device and on 2 devices (seeded shuffle), and the BackupAndRestore
               reference (2 devices, no shuffle, 3 epochs, uninterrupted)
    worker     one MultiWorkerMirroredStrategy worker (TF_CONFIG from the environment)
    backup     the BackupAndRestore run; --kill-at N ends the process (os._exit) at global
               step N, mid-epoch; run again without it to resume

Each run writes NAME.npz (final weights by HF name) and NAME.json (history) into --out.
The training code is the transformers 4.x flow: prepare_tf_dataset, create_optimizer,
compile without a loss, fit, all inside strategy.scope().
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GLOBAL_BATCH = 8
ROWS = 64  # 8 steps per epoch


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["mirrored", "worker", "backup"])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", default=None)
    p.add_argument("--kill-at", type=int, default=None)
    p.add_argument("--backup-dir", default=None)
    return p.parse_args()


def train(strategy, model_dir, out, name, epochs, shuffle, callbacks=()):
    import numpy as np
    from datasets import Dataset
    from _train_helpers import toy_rows

    from tfhf import AutoTokenizer, TFAutoModelForSequenceClassification, create_optimizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    data = Dataset.from_list(toy_rows(ROWS, seed=9)).map(
        lambda b: tokenizer(b["text"], truncation=True), batched=True)
    with strategy.scope():
        model = TFAutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
        # batch_size is the global batch: each of N replicas gets GLOBAL_BATCH / N rows
        tf_train = model.prepare_tf_dataset(data, batch_size=GLOBAL_BATCH, shuffle=shuffle,
                                            seed=0, tokenizer=tokenizer, drop_remainder=True,
                                            pad_to_multiple_of=8)
        steps = len(tf_train) * epochs
        optimizer, _ = create_optimizer(5e-3, steps, 4, weight_decay_rate=0.01)
        model.compile(optimizer=optimizer, metrics=["accuracy"])
    history = model.fit(tf_train, epochs=epochs, verbose=0, callbacks=list(callbacks))
    np.savez(os.path.join(out, f"{name}.npz"), **model.hf_state_dict())
    with open(os.path.join(out, f"{name}.json"), "w") as fh:
        json.dump({"history": {k: [float(x) for x in v] for k, v in history.history.items()},
                   "replicas": strategy.num_replicas_in_sync,
                   "iterations": int(model.optimizer.iterations.numpy())}, fh)


def main():
    args = parse()
    os.makedirs(args.out, exist_ok=True)
    import tensorflow as tf

    if args.mode == "worker":  # TF_CONFIG names this worker; create the strategy first
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        train(strategy, args.model, args.out, f"worker{index}", epochs=3, shuffle=True)
        return

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, devices

    if args.mode == "mirrored":
        train(tf.distribute.MirroredStrategy(devices[:1]), args.model, args.out, "one",
              epochs=3, shuffle=True)
        # one strategy object for both 2-device runs: two MirroredStrategy objects over the
        # same devices in one process can collide in their collective-op keys
        two = tf.distribute.MirroredStrategy(devices)
        train(two, args.model, args.out, "two", epochs=3, shuffle=True)
        train(two, args.model, args.out, "backup_ref", epochs=3, shuffle=False)
        return

    from tfhf._keras import keras

    class KillAt(keras.callbacks.Callback):
        """Ends the process abruptly (no cleanup, no exception) at a global step."""

        def __init__(self, step):
            super().__init__()
            self.step = step

        def on_train_batch_begin(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == self.step:
                sys.stdout.flush()
                os._exit(17)

    callbacks = [keras.callbacks.BackupAndRestore(args.backup_dir, save_freq="epoch")]
    if args.kill_at is not None:
        callbacks.append(KillAt(args.kill_at))
    train(tf.distribute.MirroredStrategy(devices), args.model, args.out, args.name or "backup",
          epochs=3, shuffle=False, callbacks=callbacks)


if __name__ == "__main__":
    main()
