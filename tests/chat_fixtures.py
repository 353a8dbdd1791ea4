"""The tiny chat Llama the CLI tests share: a random Llama saved by PyTorch transformers with a
small word-level tokenizer that has a ChatML chat template.

Import the ``tiny`` fixture (and the helpers) from here: ``from chat_fixtures import tiny``
(pytest puts ``tests/`` on ``sys.path`` through ``tests/conftest.py``).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ("hello again hi the a an is are you i we it this that what how why who where when "
         "model chat test word river stone cloud green blue red small large fast slow good bad "
         "yes no maybe please thanks sorry tell me about tensor keras flow graph token text "
         "system user assistant helpful short answer question and or not with from to of in "
         "on at by for . , ! ?").split()
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]"]
TEMPLATE = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
            "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}"
            "{{ '<|im_start|>assistant\n' }}{% endif %}")
NEW = 6  # new tokens per reply in these tests


def save_tokenizer(path, chat_template=TEMPLATE):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {t: i for i, t in enumerate(SPECIAL + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>",
        pad_token="<|endoftext|>", unk_token="[UNK]", chat_template=chat_template)
    tok.save_pretrained(path)
    return len(vocab)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random Llama saved by PyTorch + its tokenizer: (folder, torch model, HF tok)."""
    path = tmp_path_factory.mktemp("tiny_chat_llama")
    vocab = save_tokenizer(path)
    cfg = transformers.LlamaConfig(
        vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=True,
        initializer_range=0.5)  # peaked logits: greedy choices are far from ties
    torch.manual_seed(0)
    pt = transformers.LlamaForCausalLM(cfg).eval()
    pt.save_pretrained(path)
    return str(path), pt, transformers.AutoTokenizer.from_pretrained(path)
