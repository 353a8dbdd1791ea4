"""LoRA with Keras fit, in PEFT's format (tfhf.models.lora), on a tiny Llama classifier that
PyTorch transformers saved.

Enabling adapters leaves the logits unchanged and leaves only the adapters and the ``score``
head trainable; after ``fit`` only those changed. ``save_pretrained`` writes
``adapter_config.json`` + ``adapter_model.safetensors`` that ``peft`` loads onto the PyTorch
model with the same logits (1e-4); tfhf loads an adapter PEFT trained (non-zero B) with PEFT's
logits; ``merge_lora()`` gives the adapter model's logits with no adapter left. The heads of
token-classification and QA models train and reach PEFT as its modules_to_save.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

TARGETS = ["q_proj", "v_proj"]
IDS = np.array([[5, 6, 7, 8, 9, 0], [11, 12, 13, 0, 0, 0], [3, 4, 5, 6, 7, 8]], np.int32)
MASK = (IDS != 0).astype(np.int32)


def pt_logits(model):
    with torch.no_grad():
        return model(input_ids=torch.tensor(IDS).long(),
                     attention_mask=torch.tensor(MASK).long()).logits.numpy()


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llama_cls")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=40, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, pad_token_id=0, num_labels=2,
        attn_implementation="eager")
    transformers.LlamaForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


def load(folder):
    return tfhf.TFAutoModelForSequenceClassification.from_pretrained(folder)


def logits(model):
    return model(IDS, attention_mask=MASK).logits.numpy()


@pytest.fixture(scope="module")
def trained(base_folder):
    model = load(base_folder)
    before = logits(model)
    frozen = [(v, v.numpy().copy()) for v in model.weights]
    model.enable_lora(4, target_modules=TARGETS, alpha=8)
    np.testing.assert_allclose(logits(model), before, atol=1e-6)  # B starts at zero
    names = sorted(v.name.split("/")[-1].split(":")[0] for v in model.trainable_weights)
    assert names == ["kernel"] + ["lora_a"] * 4 + ["lora_b"] * 4, names
    data = tf.data.Dataset.from_tensor_slices(
        {"input_ids": IDS, "attention_mask": MASK, "labels": np.array([0, 1, 1])}).batch(3)
    model.compile(optimizer=tfhf.create_optimizer(5e-2, 5, 0)[0])
    model.fit(data, epochs=3, verbose=0)
    return model, before, frozen


def test_fit_changes_only_adapters_and_head(trained):
    model, before, frozen = trained
    changed = [v for v, value in frozen if not np.array_equal(v.numpy(), value)]
    assert len(changed) == 1 and changed[0] is model.score.kernel, [v.name for v in changed]
    assert not np.allclose(logits(model), before)
    # the adapters trained too (fit's compiled step must not fuse q/k/v past them)
    b = {k: v for k, v in model.adapter_state_dict().items() if k.endswith("lora_B.weight")}
    assert len(b) == 4 and all(np.abs(v).max() > 0 for v in b.values()), b


def test_peft_loads_tfhf_adapter(trained, base_folder, tmp_path):
    model, _, _ = trained
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["adapter_config.json", "adapter_model.safetensors"]
    cfg = json.load(open(tmp_path / "adapter_config.json"))
    assert (cfg["peft_type"], cfg["task_type"], cfg["r"], cfg["lora_alpha"]) == (
        "LORA", "SEQ_CLS", 4, 8)
    base = transformers.LlamaForSequenceClassification.from_pretrained(
        base_folder, attn_implementation="eager")
    pt = peft.PeftModel.from_pretrained(base, str(tmp_path)).eval()
    np.testing.assert_allclose(pt_logits(pt), logits(model), atol=1e-4, rtol=0)


def test_tfhf_loads_peft_adapter(base_folder, tmp_path):
    base = transformers.LlamaForSequenceClassification.from_pretrained(
        base_folder, attn_implementation="eager")
    torch.manual_seed(1)
    pt = peft.get_peft_model(base, peft.LoraConfig(
        r=2, lora_alpha=6, target_modules=TARGETS, task_type="SEQ_CLS",
        init_lora_weights=False))  # random B: a trained adapter
    pt.save_pretrained(tmp_path)
    model = load(base_folder).load_adapter(tmp_path)
    np.testing.assert_allclose(logits(model), pt_logits(pt.eval()), atol=1e-4, rtol=0)


def test_merge_lora_equals_adapter_model(trained, base_folder, tmp_path):
    model, _, _ = trained
    model.save_pretrained(tmp_path / "adapter")
    fresh = load(base_folder).load_adapter(tmp_path / "adapter")
    with_adapters = logits(fresh)
    fresh.merge_lora()
    assert not fresh.lora_enabled
    np.testing.assert_allclose(logits(fresh), with_adapters, atol=1e-5)
    assert len(fresh.trainable_weights) > 9  # unfrozen again
    fresh.save_pretrained(tmp_path / "merged")  # a full model again
    assert "model.safetensors" in os.listdir(tmp_path / "merged")


def test_gpt2_conv1d_adapters_match_peft(tmp_path):
    """GPT-2's fused ``c_attn`` (a Conv1D, weights stored (in, out)): PEFT's default target."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=40, n_embd=16, n_layer=2, n_head=2,
                                     n_positions=32, pad_token_id=0, num_labels=2)
    transformers.GPT2ForSequenceClassification(config).save_pretrained(tmp_path / "base")
    model = load(str(tmp_path / "base")).enable_lora(2)
    rs = np.random.RandomState(0)
    for _, adapter in model._lora["modules"].values():  # as if trained
        adapter.lora_b.assign(rs.randn(*adapter.lora_b.shape).astype("float32") * 0.3)
    model.save_pretrained(tmp_path / "adapter")
    assert json.load(open(tmp_path / "adapter" / "adapter_config.json"))["fan_in_fan_out"]
    base = transformers.GPT2ForSequenceClassification.from_pretrained(tmp_path / "base")
    pt = peft.PeftModel.from_pretrained(base, str(tmp_path / "adapter")).eval()
    np.testing.assert_allclose(pt_logits(pt), logits(model), atol=1e-4, rtol=0)
    before = logits(model)
    np.testing.assert_allclose(logits(model.merge_lora()), before, atol=1e-5)


def test_bad_targets_are_clear_errors(base_folder):
    model = load(base_folder)
    with pytest.raises(InvalidInputError, match="matches no dense layer"):
        model.enable_lora(4, target_modules=["nope"])
    with pytest.raises(InvalidInputError, match="rank must be a positive integer"):
        model.enable_lora(0)


def assert_peft_matches(base, adapter, model, ids, mask):
    """PEFT's adapter folder on the PyTorch ``base`` gives tfhf ``model``'s logits."""
    pt = peft.PeftModel.from_pretrained(base, str(adapter)).eval()
    with torch.no_grad():
        want = pt(input_ids=torch.tensor(ids).long(),
                  attention_mask=torch.tensor(mask).long()).logits.numpy()
    np.testing.assert_allclose(model(ids, attention_mask=mask).logits.numpy(), want,
                               atol=1e-4, rtol=0)


def test_encoder_decoder_classification_head_trains_and_peft_loads_it(tmp_path):
    """BART's (and T5's) head is ``classification_head``: a new, random head, so LoRA keeps
    it trainable and saves it in modules_to_save, where PEFT finds it."""
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=40, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=24, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=2,
        id2label={0: "neg", 1: "pos"},  # (BART saves no default LABEL_i names: 3 on reload)
        max_position_embeddings=32)
    transformers.BartForSequenceClassification(config).save_pretrained(tmp_path / "base")
    ids = np.array([[5, 6, 7, 2], [8, 9, 2, 0]], np.int32)
    mask = (ids != 0).astype(np.int32)
    model = load(str(tmp_path / "base")).enable_lora(2, target_modules=["q_proj", "v_proj"])
    head = list(model.classification_head.trainable_weights)
    assert head and {id(v) for v in head} <= {id(v) for v in model.trainable_weights}
    rs = np.random.RandomState(0)
    for v in head + [a.lora_b for _, a in model._lora["modules"].values()]:  # as if trained
        v.assign(rs.randn(*v.shape).astype("float32") * 0.3)
    model.save_pretrained(tmp_path / "adapter")
    cfg = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert cfg["modules_to_save"] == ["classification_head"]
    base = transformers.BartForSequenceClassification.from_pretrained(tmp_path / "base")
    assert_peft_matches(base, tmp_path / "adapter", model, ids, mask)


@pytest.mark.parametrize("head", ["ForTokenClassification", "ForQuestionAnswering"])
def test_decoder_token_heads_train_and_peft_loads_them(head, tmp_path):
    """Token classification (``score``) and QA (``qa_outputs``, under Llama's ``transformer.``
    backbone) heads are new, random heads: LoRA keeps them trainable and saves them in
    modules_to_save (PEFT's TOKEN_CLS / QUESTION_ANS), where PEFT finds them."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=40, hidden_size=16, intermediate_size=24, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, pad_token_id=0, num_labels=3,
        attn_implementation="eager")
    pt_cls = getattr(transformers, "Llama" + head)
    pt_cls(config).save_pretrained(tmp_path / "base")
    model = getattr(tfhf, "TFLlama" + head).from_pretrained(str(tmp_path / "base"))
    model.enable_lora(2, target_modules=TARGETS)
    name = "score" if head == "ForTokenClassification" else "qa_outputs"
    trainable = {id(v) for v in model.trainable_weights}
    head_vars = list(getattr(model, name).trainable_weights)
    assert len(head_vars) == 2 and {id(v) for v in head_vars} <= trainable
    rs = np.random.RandomState(0)
    for v in head_vars + [a.lora_b for _, a in model._lora["modules"].values()]:  # as trained
        v.assign(rs.randn(*v.shape).astype("float32") * 0.3)
    model.save_pretrained(tmp_path / "adapter")
    cfg = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert cfg["modules_to_save"] == [name]
    pt = peft.PeftModel.from_pretrained(pt_cls.from_pretrained(tmp_path / "base"),
                                        str(tmp_path / "adapter")).eval()
    with torch.no_grad():
        want = pt(input_ids=torch.tensor(IDS).long(), attention_mask=torch.tensor(MASK).long())
    got = model(IDS, attention_mask=MASK)
    for key in ("logits", "start_logits", "end_logits"):
        if key in want:
            real = MASK == 1  # padded positions: every query row masked
            np.testing.assert_allclose(got[key].numpy()[real], want[key].numpy()[real],
                                       atol=1e-4, rtol=0)


def family_config(family):
    """The tiny config the family's parity tests use (3 labels where they choose)."""
    from parity import test_encoder_families, test_funnel, test_longformer
    from parity import test_roformer_mobilebert
    from tiny_configs import SEQ2SEQ_CASES, seq2seq_config

    if family in SEQ2SEQ_CASES:
        return SEQ2SEQ_CASES[family][0], seq2seq_config(family)
    for module in (test_encoder_families, test_roformer_mobilebert):
        table = getattr(module, "ALL", getattr(module, "FAMILIES", {}))
        if family in table:
            return table[family][0], module.hf_config(family)
    module = {"funnel": test_funnel, "longformer": test_longformer}[family]
    return {"funnel": "Funnel", "longformer": "Longformer"}[family], module.hf_config()


PEFT_DEFAULTS = peft.utils.constants.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING


@pytest.mark.parametrize("family", [
    "deberta", "deberta-v2", "funnel", "longformer", "mobilebert", "roformer", "albert",
    "electra", "mpnet", "xlm-roberta", "camembert", "t5", "mt5", "umt5", "bart", "mbart"])
def test_default_targets_train_adapters_only_and_peft_loads_them(family, tmp_path):
    """``enable_lora(rank)`` without target_modules: PEFT's defaults for the family where PEFT
    has them; only the adapters (and the new classifier head) trainable; PEFT loads the
    adapter onto the PyTorch classifier with the same logits."""
    from parity.test_seq2seq_classification import batch
    from tfhf.models.weights import resolve

    prefix, config = family_config(family)
    torch.manual_seed(0)
    pt_cls = getattr(transformers, f"{prefix}ForSequenceClassification")
    pt_cls(config).save_pretrained(tmp_path / "base")
    ids, mask = batch(config) if hasattr(config, "d_model") and family != "funnel" else (
        IDS, MASK)
    model = load(str(tmp_path / "base")).enable_lora(2)
    targets = sorted(model._lora["targets"])
    if family in PEFT_DEFAULTS:
        assert targets == sorted(PEFT_DEFAULTS[family])
    adapters = [a for _, a in model._lora["modules"].values()]
    head = [resolve(model, path) for name, path in model.weight_table().items()
            if name.split(".")[0] in model._lora["modules_to_save"]]
    assert adapters and head
    assert {id(v) for v in model.trainable_weights} == (
        {id(v) for a in adapters for v in (a.lora_a, a.lora_b)} | {id(v) for v in head})
    rs = np.random.RandomState(0)
    for v in head + [a.lora_b for a in adapters]:  # as if trained
        v.assign(rs.randn(*v.shape).astype("float32") * 0.3)
    model.save_pretrained(tmp_path / "adapter")
    cfg = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert cfg["target_modules"] == targets
    base = pt_cls.from_pretrained(tmp_path / "base", attn_implementation="eager")
    assert_peft_matches(base, tmp_path / "adapter", model, ids, mask)
