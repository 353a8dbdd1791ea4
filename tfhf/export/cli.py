"""``tfhf export``: a checkpoint folder -> a SavedModel version folder for TF Serving.

    tfhf export --model DIR --task text-classification --output BASE [--version N]
                [--max-length L] [--overwrite] [--no-tokenizer]
                [--max-new-tokens N]                     (text-generation)
"""

from __future__ import annotations

import argparse
import sys

from .saved_model import ALIASES, AUTO_CLASSES, TASKS


def parser():
    p = argparse.ArgumentParser(
        prog="tfhf export",
        description="Export a model folder as a TF Serving SavedModel: BASE/<version>/ with "
                    "serving_default (strings in, in-graph tokenization) and predict_ids "
                    "signatures. See docs/serving.md.")
    p.add_argument("--model", required=True, metavar="DIR",
                   help="model folder or Hub repo id (config, weights, tokenizer)")
    p.add_argument("--task", required=True, choices=sorted(TASKS) + sorted(ALIASES),
                   help="what the SavedModel computes")
    p.add_argument("--output", required=True, metavar="BASE",
                   help="base folder, created with its parents if missing; the SavedModel "
                        "goes to BASE/<version>/")
    p.add_argument("--version", type=int, default=None,
                   help="version folder number (default: next free integer)")
    p.add_argument("--max-length", type=int, default=None, metavar="L",
                   help="truncation length of the string signature (longest prompt for "
                        "text-generation)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing version folder")
    p.add_argument("--no-tokenizer", action="store_true",
                   help="export the ids signature only (no in-graph tokenization, no "
                        "tensorflow-text needed to export or load)")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="text-generation: largest max_new_tokens a request may ask for")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the output path")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    task = ALIASES.get(args.task, args.task)
    # validate the output before loading anything heavy
    from . import layout

    layout.check_target(args.output, args.version, args.overwrite)
    import tfhf

    from .saved_model import export_saved_model

    model = getattr(tfhf, AUTO_CLASSES[task]).from_pretrained(args.model)
    tokenizer = None if args.no_tokenizer else tfhf.AutoTokenizer.from_pretrained(args.model)
    path = export_saved_model(model, args.output, tokenizer=tokenizer, task=task,
                              version=args.version, max_length=args.max_length,
                              overwrite=args.overwrite, max_new_tokens=args.max_new_tokens)
    if args.quiet:
        print(path)
        return 0
    import json
    import os

    from .saved_model import METADATA_FILE

    with open(os.path.join(path, METADATA_FILE), encoding="utf-8") as fh:
        meta = json.load(fh)
    print(f"Exported {meta['model_class']} ({task}) to {path}")
    print(f"  signatures: {', '.join(meta['signatures'])}")
    if meta.get("labels"):
        print(f"  labels: {', '.join(meta['labels'])}")
    if meta.get("tensorflow_text_ops"):
        print(f"  in-graph tokenizer: uses {', '.join(meta['tensorflow_text_ops'])} from "
              "tensorflow-text;")
        print("    in Python, `import tensorflow_text` before `tf.saved_model.load` (TF "
              "Serving's model server has these ops built in)")
    base = os.path.dirname(os.path.abspath(path))
    xla = " --xla_cpu_compilation_enabled=true" if task == "text-generation" else ""
    print(f"  serve: docker run -p 8501:8501 -v {base}:/models/{os.path.basename(base)} "
          f"-e MODEL_NAME={os.path.basename(base)} tensorflow/serving{xla}")
    return 0
