"""``tfhf quickstart``: fine-tune all-MiniLM-L6-v2 on the shipped movie-review sentences.

Trains with Keras ``fit`` (progress bar on a terminal, a line per epoch otherwise), prints
the validation accuracy, saves with ``save_pretrained`` (``config.json`` names the labels
``negative`` / ``positive``), reloads and classifies a few sentences. Runs are reproducible
(``--seed``), and an existing non-empty output folder is refused unless ``--overwrite``.
"""

from __future__ import annotations

import os
import time

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "files",
                    "movie_reviews.csv")
# the data's label column holds 0 / 1; these are their names, saved in config.json
LABEL_NAMES = ["negative", "positive"]
DEFAULT_OUTPUT = "tfhf-quickstart-model"  # listed in .gitignore
DEFAULT_MODEL = "asset:minilm"
EXAMPLES = ["A gorgeous, moving film with a terrific cast.",
            "Dull, overlong and painfully unfunny.",
            "The plot is thin but the performances carry it.",
            "I want those two hours of my life back."]


def run(epochs=1, batch_size=32, output=DEFAULT_OUTPUT, max_train_samples=None, verbose=1,
        overwrite=False, mixed_precision=None, seed=42, learning_rate=1e-4, warn=None,
        tensorboard=True, model=DEFAULT_MODEL, lora_rank=None, max_eval_samples=None):
    """``model``: the MiniLM asset by default; any ``tfhf train --model`` value (a causal LM's
    ``asset:smollm2`` with ``lora_rank``: the LoRA recipe)."""
    from .train import classify, train_text_classifier

    t0 = time.perf_counter()
    res = train_text_classifier(model, DATA, output, text_column="text", label_column="label",
                                epochs=epochs, batch_size=batch_size,
                                max_train_samples=max_train_samples,
                                max_eval_samples=max_eval_samples, lora_rank=lora_rank,
                                verbose=verbose,
                                overwrite=overwrite, mixed_precision=mixed_precision,
                                learning_rate=learning_rate, seed=seed,
                                label_names=LABEL_NAMES, warn=warn, tensorboard=tensorboard)
    print(f"validation accuracy: {res.val_accuracy:.4f}  (training {res.train_seconds:.0f}s, "
          f"total {time.perf_counter() - t0:.0f}s)")
    if lora_rank is not None:
        print(f"trained {res.trainable_params:,} of {res.total_params:,} parameters "
              f"(LoRA rank {lora_rank})")
    print(f"saved to {os.path.abspath(output)}")
    for text, pred in zip(EXAMPLES, classify(output, EXAMPLES)):
        print(f"  {pred['label']:8s} {pred['score']:.3f}  {text}")
    for line in res.visuals or ():
        print(line)
    return res


def parser():
    import argparse

    p = argparse.ArgumentParser(
        prog="tfhf quickstart", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Fine-tune all-MiniLM-L6-v2 (the offline 'minilm' asset) as a sentiment "
                    "classifier on 10,605 movie-review sentences shipped with tfhf, evaluate "
                    "on a held-out 10%, save with save_pretrained, reload and classify a few "
                    "sentences.")
    p.add_argument("--epochs", type=int, default=1, help="passes over the training data")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per training step")
    p.add_argument("--learning-rate", type=float, default=1e-4,
                   help="peak learning rate (linear warm-up over 10%% of the steps, then decay)")
    p.add_argument("--output", default=DEFAULT_OUTPUT,
                   help="folder the model is saved to; a non-empty one is refused unless "
                        "--overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the --output folder if it holds files")
    p.add_argument("--max-train-samples", type=int, default=None,
                   help="train on at most this many sentences (all 9,544 by default); under "
                        "about 100 steps (3,200 sentences at batch size 32) the model stays "
                        "at chance, and tfhf warns")
    p.add_argument("--seed", type=int, default=42,
                   help="seed for the split, the data order, the new head and dropout: two "
                        "runs with the same options train the same model")
    p.add_argument("--mixed-precision", choices=["mixed_bfloat16", "mixed_float16"], default=None,
                   help="Keras mixed-precision policy for training")
    p.add_argument("--no-tensorboard", action="store_true",
                   help="no TensorBoard logs (default: written to OUTPUT/logs)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="what to fine-tune: a folder, a .gguf file or asset:NAME (a causal LM "
                        "such as asset:smollm2 gets a classification head; pair it with "
                        "--lora-rank)")
    p.add_argument("--lora-rank", type=int, default=None, metavar="N",
                   help="train LoRA adapters of rank N (and the new head) instead of every "
                        "weight; the adapters (PEFT format) go to OUTPUT/adapter")
    p.add_argument("--max-eval-samples", type=int, default=None,
                   help="evaluate on at most this many of the held-out sentences (all 1,061 "
                        "by default)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def main(argv=None) -> int:
    from .train import cli_warning

    args = parser().parse_args(argv)
    run(epochs=args.epochs, batch_size=args.batch_size, output=args.output,
        max_train_samples=args.max_train_samples, verbose=0 if args.quiet else 1,
        overwrite=args.overwrite, mixed_precision=args.mixed_precision, seed=args.seed,
        learning_rate=args.learning_rate, warn=cli_warning,
        tensorboard=not args.no_tensorboard, model=args.model, lora_rank=args.lora_rank,
        max_eval_samples=args.max_eval_samples)
    return 0
