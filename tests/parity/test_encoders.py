"""Parity of the encoder families (BERT, RoBERTa, DistilBERT) with PyTorch transformers.

Every family x head is built from a tiny random config with PyTorch transformers, saved with
``save_pretrained`` and loaded into tfhf (family class and TFAutoModel class). Outputs,
hidden states, attentions and losses must agree within 1e-4 in float32 on a padded batch,
eagerly and under XLA; weights must round-trip both ways.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tf = pytest.importorskip("tensorflow")

import tfhf  # noqa: E402
from tfhf import _keras  # noqa: E402
from tfhf.errors import ConfigError, InvalidInputError  # noqa: E402

ATOL = 1e-4
# Mixed precision: max |tfhf(policy) - PyTorch(float32)| <= MIXED_RTOL * max |ref| (outputs of
# these models reach 1 to 4). Measured worst cases: 1.9e-2 (mixed_bfloat16, BERT masked LM)
# and 2.8e-3 (mixed_float16, RoBERTa QA).
MIXED_RTOL = {"mixed_bfloat16": 5e-2, "mixed_float16": 1e-2}

VOCAB, HIDDEN, LAYERS, HEADS, FFN, MAX_POS = 99, 32, 2, 4, 37, 64
BATCH, LENGTHS = 3, (9, 6, 4)  # row lengths of the padded batch (max is the sequence length)
NUM_LABELS = 3

FAMILIES = {
    # name: (transformers class prefix, config class, config kwargs)
    "bert": ("Bert", "BertConfig", dict(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, intermediate_size=FFN, max_position_embeddings=MAX_POS,
        type_vocab_size=2, pad_token_id=0)),
    "roberta": ("Roberta", "RobertaConfig", dict(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, intermediate_size=FFN, max_position_embeddings=MAX_POS,
        type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        layer_norm_eps=1e-5, hidden_act="gelu_new")),  # lm_head still uses exact gelu
    "distilbert": ("DistilBert", "DistilBertConfig", dict(
        vocab_size=VOCAB, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=FFN,
        max_position_embeddings=MAX_POS, pad_token_id=0)),
}

TASKS = {
    # task: (transformers class suffix, tfhf auto class)
    "base": ("Model", "TFAutoModel"),
    "sequence_classification": ("ForSequenceClassification",
                                "TFAutoModelForSequenceClassification"),
    "token_classification": ("ForTokenClassification", "TFAutoModelForTokenClassification"),
    "question_answering": ("ForQuestionAnswering", "TFAutoModelForQuestionAnswering"),
    "masked_lm": ("ForMaskedLM", "TFAutoModelForMaskedLM"),
}
HEAD_TASKS = [t for t in TASKS if t != "base"]
CASES = [(f, t) for f in FAMILIES for t in TASKS]


def hf_config(family, **overrides):
    _, cfg_name, kwargs = FAMILIES[family]
    num_labels = 2 if overrides.pop("task", None) == "question_answering" else NUM_LABELS
    # initializer_range 0.2 (not 0.02) so that activations leave their linear range and
    # a wrong activation or norm shows up in the outputs
    kwargs = {**kwargs, "num_labels": num_labels, "attn_implementation": "eager",
              "initializer_range": 0.2, **overrides}
    return getattr(transformers, cfg_name)(**kwargs)


def pt_class(family, task):
    return getattr(transformers, FAMILIES[family][0] + TASKS[task][0])


def tf_class(family, task):
    return getattr(tfhf, "TF" + FAMILIES[family][0] + TASKS[task][0])


def make_inputs(family, seed=0):
    """A padded batch: random ids, attention_mask with zeros, pad_token_id in the padding."""
    rs = np.random.RandomState(seed)
    t = max(LENGTHS)
    ids = rs.randint(3, VOCAB, size=(BATCH, t)).astype(np.int32)
    mask = np.zeros((BATCH, t), np.int32)
    for row, n in enumerate(LENGTHS):
        mask[row, :n] = 1
    ids[mask == 0] = FAMILIES[family][2]["pad_token_id"]
    inputs = {"input_ids": ids, "attention_mask": mask}
    if family == "bert":
        inputs["token_type_ids"] = (np.arange(t)[None, :] >= 3).astype(np.int32) * mask
    return inputs


def to_pt(inputs):
    return {k: torch.tensor(np.asarray(v)).long() if np.asarray(v).dtype.kind in "iu"
            else torch.tensor(np.asarray(v)) for k, v in inputs.items()}


def to_tf(inputs):
    return {k: tf.constant(v) for k, v in inputs.items()}


def as_np(x):
    if isinstance(x, (tuple, list)):
        return [as_np(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.detach().float().numpy()
    return np.asarray(tf.cast(x, tf.float32).numpy() if hasattr(x, "numpy") else x)


def assert_close(actual, expected, atol=ATOL, what=""):
    actual, expected = as_np(actual), as_np(expected)
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), what
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, atol, f"{what}[{i}]")
        return
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=0, err_msg=what)


def pt_keys(pt_out):
    # PyTorch's bare encoders report an empty ``cross_attentions=()`` with output_attentions
    return [k for k in pt_out.keys() if not (k == "cross_attentions" and not pt_out[k])]


def assert_outputs_match(tf_out, pt_out, atol=ATOL):
    assert pt_keys(tf_out) == pt_keys(pt_out)
    for k in pt_keys(pt_out):
        assert_close(tf_out[k], pt_out[k], atol, k)


def pt_forward(model, inputs, **kwargs):
    with torch.no_grad():
        return model(**to_pt(inputs), **kwargs)


class Case:
    """One family x task: the PyTorch model, its saved folder and the tfhf model loaded from it."""

    def __init__(self, family, task, folder):
        self.family, self.task, self.folder = family, task, str(folder)
        torch.manual_seed(CASES.index((family, task)))
        self.pt = pt_class(family, task)(hf_config(family, task=task)).eval()
        self.pt.save_pretrained(self.folder)
        self.inputs = make_inputs(family)
        self.pt_out = pt_forward(self.pt, self.inputs, output_hidden_states=True,
                                 output_attentions=True)
        with _keras.policy_scope("float32"):
            self.tf = tf_class(family, task).from_pretrained(self.folder)


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cache = {}

    def get(family, task):
        if (family, task) not in cache:
            cache[family, task] = Case(family, task, tmp_path_factory.mktemp(f"{family}-{task}"))
        return cache[family, task]

    return get


# ---------------------------------------------------------------------------- forward parity
@pytest.mark.parametrize("family,task", CASES)
def test_forward_parity_eager(cases, family, task):
    c = cases(family, task)
    out = c.tf(to_tf(c.inputs), output_hidden_states=True, output_attentions=True)
    assert_outputs_match(out, c.pt_out)
    assert len(out.hidden_states) == LAYERS + 1 and len(out.attentions) == LAYERS
    # config defaults: no hidden states or attentions unless asked for
    plain = c.tf(**to_tf(c.inputs))
    assert "hidden_states" not in plain and "attentions" not in plain
    for k in plain:
        assert_close(plain[k], c.pt_out[k], what=k)


@pytest.mark.parametrize("family,task", CASES)
def test_auto_class_loads_same_model(cases, family, task):
    c = cases(family, task)
    auto = getattr(tfhf, TASKS[task][1]).from_pretrained(c.folder)
    assert type(auto) is tf_class(family, task)
    out = auto(to_tf(c.inputs))
    for k in out:
        assert_close(out[k], c.pt_out[k], what=k)


@pytest.mark.parametrize("family,task", CASES)
def test_forward_parity_xla(cases, family, task):
    c = cases(family, task)
    fn = tf.function(lambda x: c.tf(x, output_hidden_states=True, output_attentions=True),
                     jit_compile=True)
    assert_outputs_match(fn(to_tf(c.inputs)), c.pt_out)


# ---------------------------------------------------------------------------- losses
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("problem_type", ["single_label_classification",
                                          "multi_label_classification", "regression"])
def test_sequence_classification_loss(cases, family, problem_type):
    c = cases(family, "sequence_classification")
    rs = np.random.RandomState(1)
    if problem_type == "single_label_classification":
        labels = rs.randint(0, NUM_LABELS, size=(BATCH,)).astype(np.int32)
        set_type = None  # inferred from the integer labels on both sides
    elif problem_type == "multi_label_classification":
        labels = rs.randint(0, 2, size=(BATCH, NUM_LABELS)).astype(np.float32)
        set_type = None  # inferred from the float labels on both sides
    else:
        labels = rs.randn(BATCH, NUM_LABELS).astype(np.float32)
        set_type = "regression"
    c.pt.config.problem_type = set_type
    c.tf.config.problem_type = set_type
    try:
        pt = pt_forward(c.pt, {**c.inputs, "labels": labels})
        out = c.tf(to_tf(c.inputs), labels=tf.constant(labels))
    finally:
        c.pt.config.problem_type = None
        c.tf.config.problem_type = None
    assert out.loss.dtype == tf.float32 and out.loss.shape.rank == 0
    assert_close(out.loss, pt.loss, what="loss")
    assert_close(out.logits, pt.logits, what="logits")


@pytest.mark.parametrize("family", FAMILIES)
def test_regression_with_one_label(family, tmp_path):
    torch.manual_seed(3)
    pt_model = pt_class(family, "sequence_classification")(hf_config(family, num_labels=1)).eval()
    pt_model.save_pretrained(tmp_path)
    model = tf_class(family, "sequence_classification").from_pretrained(tmp_path)
    inputs = make_inputs(family)
    labels = np.random.RandomState(2).randn(BATCH).astype(np.float32)
    pt = pt_forward(pt_model, {**inputs, "labels": labels})
    out = model(to_tf(inputs), labels=tf.constant(labels))
    assert pt_model.config.problem_type == "regression"
    assert_close(out.logits, pt.logits, what="logits")
    assert_close(out.loss, pt.loss, what="loss")


@pytest.mark.parametrize("family", FAMILIES)
def test_token_classification_loss_ignores_minus_100(cases, family):
    c = cases(family, "token_classification")
    labels = np.random.RandomState(4).randint(0, NUM_LABELS, size=c.inputs["input_ids"].shape)
    labels = np.where(c.inputs["attention_mask"] == 1, labels, -100).astype(np.int32)
    labels[0, 0] = -100
    pt = pt_forward(c.pt, {**c.inputs, "labels": labels})
    out = c.tf(to_tf(c.inputs), labels=tf.constant(labels))
    assert_close(out.loss, pt.loss, what="loss")
    # -100 really drops positions: the loss changes when they get real labels
    full = c.tf(to_tf(c.inputs), labels=tf.constant(np.maximum(labels, 0)))
    assert abs(float(full.loss) - float(out.loss)) > 1e-6


@pytest.mark.parametrize("family", FAMILIES)
def test_question_answering_loss(cases, family):
    c = cases(family, "question_answering")
    t = c.inputs["input_ids"].shape[1]
    start = np.array([1, 0, t + 5], np.int32)  # an out-of-range position is ignored (clamped)
    end = np.array([3, 2, 1], np.int32)
    pt = pt_forward(c.pt, {**c.inputs, "start_positions": start, "end_positions": end})
    out = c.tf(to_tf(c.inputs), start_positions=tf.constant(start),
               end_positions=tf.constant(end))
    assert_close(out.loss, pt.loss, what="loss")
    assert_close(out.start_logits, pt.start_logits, what="start_logits")
    assert_close(out.end_logits, pt.end_logits, what="end_logits")


@pytest.mark.parametrize("family", FAMILIES)
def test_masked_lm_loss(cases, family):
    c = cases(family, "masked_lm")
    rs = np.random.RandomState(5)
    ids = c.inputs["input_ids"]
    labels = np.where(rs.rand(*ids.shape) < 0.3, rs.randint(0, VOCAB, size=ids.shape), -100)
    labels[0, 1] = 7  # at least one real label
    labels = labels.astype(np.int32)
    pt = pt_forward(c.pt, {**c.inputs, "labels": labels})
    out = c.tf(to_tf(c.inputs), labels=tf.constant(labels))
    assert_close(out.loss, pt.loss, what="loss")
    assert_close(out.logits, pt.logits, what="logits")


# ---------------------------------------------------------------------------- output access
@pytest.mark.parametrize("family,task", CASES)
def test_output_access_and_return_dict_false(cases, family, task):
    c = cases(family, task)
    out = c.tf(to_tf(c.inputs))
    first = next(iter(out.keys()))
    assert first == ("last_hidden_state" if task == "base" else
                     "start_logits" if task == "question_answering" else "logits")
    assert getattr(out, first) is out[first] is out[0]
    tup = c.tf(to_tf(c.inputs), return_dict=False)
    assert isinstance(tup, tuple) and not hasattr(tup, "keys")
    pt_tup = pt_forward(c.pt, c.inputs, return_dict=False)
    assert isinstance(pt_tup, tuple) and len(tup) == len(pt_tup) == len(out)
    for i, (a, e) in enumerate(zip(tup, pt_tup)):
        assert_close(a, e, what=f"tuple[{i}]")


def test_base_output_fields():
    """BERT and RoBERTa bare models have a pooler; DistilBERT's has none (as in PyTorch)."""
    for family, has_pooler in (("bert", True), ("roberta", True), ("distilbert", False)):
        model = tf_class(family, "base").from_config(hf_config(family))
        out = model(tf.constant(make_inputs(family)["input_ids"]))
        assert ("pooler_output" in out) is has_pooler, family


# ---------------------------------------------------------------------------- save round trip
@pytest.mark.parametrize("family,task", CASES)
def test_tfhf_save_pytorch_load(cases, family, task, tmp_path):
    c = cases(family, task)
    c.tf.save_pretrained(tmp_path)
    pt_model, info = pt_class(family, task).from_pretrained(
        tmp_path, output_loading_info=True, attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert pt_model.config.architectures == [pt_class(family, task).__name__]
    pt_model.eval()
    reloaded = pt_forward(pt_model, c.inputs, output_hidden_states=True, output_attentions=True)
    assert_outputs_match(reloaded, c.pt_out, atol=1e-6)
    # and tfhf reads its own files back
    again = tf_class(family, task).from_pretrained(tmp_path)
    for k, v in c.tf(to_tf(c.inputs)).items():
        np.testing.assert_array_equal(as_np(again(to_tf(c.inputs))[k]), as_np(v))


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
def test_untied_lm_head_round_trip(family, tmp_path):
    torch.manual_seed(6)
    pt_model = pt_class(family, "masked_lm")(
        hf_config(family, tie_word_embeddings=False)).eval()
    with torch.no_grad():  # make every head weight matter and differ from its tied partner
        for name, p in pt_model.named_parameters():
            if any(s in name for s in ("decoder", "projector", "lm_head.bias",
                                       "predictions.bias")):
                p.add_(torch.randn_like(p) * 0.5)
    pt_model.save_pretrained(tmp_path / "pt")
    model = tf_class(family, "masked_lm").from_pretrained(tmp_path / "pt")
    inputs = make_inputs(family)
    ref = pt_forward(pt_model, inputs)
    assert_close(model(to_tf(inputs)).logits, ref.logits, what="logits")
    model.save_pretrained(tmp_path / "tf")
    back, info = pt_class(family, "masked_lm").from_pretrained(
        tmp_path / "tf", output_loading_info=True, attn_implementation="eager")
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert_close(pt_forward(back.eval(), inputs).logits, ref.logits, atol=1e-6, what="logits")


# ---------------------------------------------------------------------------- cross loading
@pytest.mark.parametrize("family", FAMILIES)
def test_head_checkpoint_into_base_model(cases, family):
    c = cases(family, "masked_lm")
    model, info = tf_class(family, "base").from_pretrained(c.folder, output_loading_info=True)
    pt_model, pt_info = pt_class(family, "base").from_pretrained(c.folder,
                                                                 output_loading_info=True)
    assert set(info["unexpected_keys"]) == set(pt_info["unexpected_keys"]) != set()
    assert set(info["missing_keys"]) == set(pt_info["missing_keys"])
    assert bool(info["missing_keys"]) is (family != "distilbert")  # only the pooler is new
    out = model(to_tf(c.inputs))
    assert_close(out.last_hidden_state, c.pt_out.hidden_states[-1], what="last_hidden_state")


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("task", HEAD_TASKS)
def test_base_checkpoint_into_head_model(cases, family, task):
    c = cases(family, "base")
    num_labels = 2 if task == "question_answering" else NUM_LABELS
    model, info = tf_class(family, task).from_pretrained(c.folder, output_loading_info=True,
                                                         num_labels=num_labels)
    _, pt_info = pt_class(family, task).from_pretrained(c.folder, output_loading_info=True,
                                                        num_labels=num_labels)
    # PyTorch also lists the tied decoder bias, which is no separate weight in tfhf
    pt_missing = set(pt_info["missing_keys"]) - set(model.tied_keys)
    assert set(info["missing_keys"]) == pt_missing != set()
    assert all(not k.startswith(model.base_model_prefix + ".") for k in info["missing_keys"])
    out = model(to_tf(c.inputs), output_hidden_states=True)
    assert_close(out.hidden_states[-1], c.pt_out.last_hidden_state, what="backbone output")


# ---------------------------------------------------------------------------- mixed precision
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("family,task", [(f, t) for f in FAMILIES for t in HEAD_TASKS])
def test_mixed_precision_close_to_float32(cases, family, task, policy):
    c = cases(family, task)
    _keras.keras.mixed_precision.set_global_policy(policy)
    model = tf_class(family, task).from_pretrained(c.folder)
    out = model(to_tf(c.inputs))
    assert model.compute_dtype == policy.split("_")[1]
    for k in out:
        assert out[k].dtype == tf.float32, k
        ref = as_np(c.pt_out[k])
        err, scale = np.abs(as_np(out[k]) - ref).max(), np.abs(ref).max()
        assert err <= MIXED_RTOL[policy] * scale, (k, err, scale)


# ---------------------------------------------------------------------------- family details
@pytest.mark.parametrize("task", list(TASKS))
def test_distilbert_rejects_token_type_ids(cases, task):
    model = cases("distilbert", task).tf
    assert "token_type_ids" not in model.model_input_names
    ids = tf.constant(make_inputs("distilbert")["input_ids"])
    with pytest.raises(InvalidInputError, match="token_type_ids"):
        model(ids, token_type_ids=tf.zeros_like(ids))
    with pytest.raises(InvalidInputError, match="token_type_ids"):
        model({"input_ids": ids, "token_type_ids": tf.zeros_like(ids)})


def test_distilbert_question_answering_needs_two_labels():
    with pytest.raises(ConfigError, match="num_labels=2"):
        tf_class("distilbert", "question_answering").from_config(hf_config("distilbert"))


def test_distilbert_sinusoidal_positions(tmp_path):
    """transformers 5 only *initializes* the table with sinusoids; a checkpoint's table wins."""
    config = hf_config("distilbert", sinusoidal_pos_embds=True)
    torch.manual_seed(7)
    pt_model = transformers.DistilBertModel(config).eval()
    fresh = tf_class("distilbert", "base").from_config(config)
    assert_close(fresh.distilbert.embeddings.position_embeddings.embeddings,
                 pt_model.embeddings.position_embeddings.weight, atol=1e-6, what="sinusoids")
    with torch.no_grad():  # a trained table is no longer sinusoidal
        pt_model.embeddings.position_embeddings.weight.add_(0.1)
    pt_model.save_pretrained(tmp_path)
    model = tf_class("distilbert", "base").from_pretrained(tmp_path)
    inputs = make_inputs("distilbert")
    ref = pt_forward(pt_model, inputs)
    assert_close(model(to_tf(inputs)).last_hidden_state, ref.last_hidden_state,
                 what="last_hidden_state")


def test_roberta_positions_follow_padding(cases):
    """Left padding shifts nothing: RoBERTa counts positions over non-pad tokens only."""
    c = cases("roberta", "base")
    ids, mask = c.inputs["input_ids"], c.inputs["attention_mask"]
    n = LENGTHS[1]
    left_ids = np.concatenate([ids[1:2, n:], ids[1:2, :n]], axis=1)
    left_mask = np.concatenate([mask[1:2, n:], mask[1:2, :n]], axis=1)
    out = c.tf(tf.constant(left_ids), attention_mask=tf.constant(left_mask))
    ref = pt_forward(c.pt, {"input_ids": left_ids, "attention_mask": left_mask})
    assert_close(out.last_hidden_state, ref.last_hidden_state, what="last_hidden_state")
    assert_close(out.last_hidden_state[0, -n:], c.pt_out.last_hidden_state[1, :n],
                 what="same tokens, same states")
