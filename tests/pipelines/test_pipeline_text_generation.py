"""``text-generation``: tfhf.pipeline against transformers' PyTorch pipeline on the same tiny
random checkpoints (Llama and GPT-2, saved by PyTorch with a small byte-level BPE tokenizer
that has a ChatML chat template), greedy: strings, batches (left-padded), chats, return
options, stop sequences; sampling options and errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "TensorFlow and Keras run the model; the tokenizer turns text into tokens.",
    "Once upon a time there was a small river that ran past a stone bridge.",
    "Hello! How are you today? I am fine, thank you, and you?",
    "def add(a, b):\n    return a + b\n",
    "Numbers: 1, 2, 3, 42, 2024. Colors: red, green, blue.",
] * 20
TEMPLATE = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + "
            "'<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}"
            "{{ '<|im_start|>assistant\n' }}{% endif %}")
NEW = 8
GREEDY = dict(max_new_tokens=NEW, do_sample=False)


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(CORPUS, trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|endoftext|>", eos_token="<|im_end|>",
        pad_token="<|endoftext|>", chat_template=TEMPLATE)


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def folder(request, tmp_path_factory):
    path = tmp_path_factory.mktemp(f"textgen-{request.param}")
    tok = _tokenizer()
    tok.save_pretrained(path)
    common = dict(vocab_size=len(tok), bos_token_id=0, eos_token_id=2, pad_token_id=0)
    if request.param == "llama":
        cfg = transformers.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                       num_attention_heads=4, num_key_value_heads=2,
                                       max_position_embeddings=128, initializer_range=0.3,
                                       **common)
        cls = transformers.LlamaForCausalLM
    else:
        cfg = transformers.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=128,
                                      initializer_range=0.3, **common)
        cls = transformers.GPT2LMHeadModel
    torch.manual_seed(0)
    cls(cfg).eval().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def pipes(folder):
    return (tfhf.pipeline("text-generation", model=folder),
            transformers.pipeline("text-generation", model=folder))


def both(pipes, inputs, **kwargs):
    ours, theirs = pipes
    return ours(inputs, **kwargs), theirs(inputs, **kwargs)


def test_string_prompt(pipes):
    ours, theirs = both(pipes, "Once upon a time", **GREEDY)
    assert ours == theirs
    assert ours[0]["generated_text"].startswith("Once upon a time")
    assert len(ours[0]["generated_text"]) > len("Once upon a time")


def test_new_text_and_tensors(pipes):
    ours, theirs = both(pipes, "Hello! How", return_full_text=False, **GREEDY)
    assert ours == theirs and not ours[0]["generated_text"].startswith("Hello")
    ours, theirs = both(pipes, "Hello! How", return_tensors=True, **GREEDY)
    assert ours == theirs
    assert isinstance(ours[0]["generated_token_ids"], list)


def test_batch_of_strings_left_padded(pipes):
    prompts = ["The quick brown fox", "Hi", "def add(a, b):\n", "Numbers: 1, 2,"]
    ours, theirs = both(pipes, prompts, batch_size=3, **GREEDY)
    assert ours == theirs
    assert [type(o) for o in ours] == [list] * 4
    # batching does not change the results
    assert pipes[0](prompts, batch_size=1, **GREEDY) == ours


def test_chat_and_list_of_chats(pipes):
    chat = [{"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Tell me about the river."}]
    ours, theirs = both(pipes, chat, **GREEDY)
    assert ours == theirs
    assert ours[0]["generated_text"][:2] == chat
    assert ours[0]["generated_text"][2]["role"] == "assistant"
    ours, theirs = both(pipes, chat, return_full_text=False, **GREEDY)
    assert ours == theirs and isinstance(ours[0]["generated_text"], str)
    chats = [chat, [{"role": "user", "content": "Hello!"}]]
    ours, theirs = both(pipes, chats, batch_size=2, **GREEDY)
    assert ours == theirs and len(ours) == 2


def test_chat_ending_with_an_assistant_message_is_continued(pipes):
    chat = [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "1, 2,"}]
    ours, theirs = both(pipes, chat, **GREEDY)
    assert ours == theirs
    assert len(ours[0]["generated_text"]) == 2
    assert ours[0]["generated_text"][1]["content"].startswith("1, 2,")


def test_stop_sequence(pipes):
    full = pipes[0]("The quick brown fox", return_full_text=False, **GREEDY)[0]["generated_text"]
    stop = full[len(full) // 2:len(full) // 2 + 2]
    assert stop.strip(), full
    ours, theirs = both(pipes, "The quick brown fox", return_full_text=False,
                        stop_sequence=stop, **GREEDY)
    assert ours == theirs
    assert stop in ours[0]["generated_text"] and len(ours[0]["generated_text"]) < len(full)


def test_sampling_options_and_num_return_sequences(pipes):
    pipe = pipes[0]
    out = pipe("Hello", max_new_tokens=6, do_sample=True, temperature=1.3, top_p=0.95,
               num_return_sequences=3, seed=11)
    assert len(out) == 3 and all(o["generated_text"].startswith("Hello") for o in out)
    assert out == pipe("Hello", max_new_tokens=6, do_sample=True, temperature=1.3, top_p=0.95,
                       num_return_sequences=3, seed=11)
    # pipeline-level options are defaults for every call
    fixed = tfhf.pipeline("text-generation", model=pipe.model, tokenizer=pipe.tokenizer,
                          max_new_tokens=3, do_sample=False)
    ids = fixed("Hello", return_tensors=True)[0]["generated_token_ids"]
    assert len(ids) == len(pipe.tokenizer("Hello")["input_ids"]) + 3


def test_defaults_are_transformers(pipes):
    ours, _ = pipes
    kwargs = ours._generate_kwargs({})
    assert kwargs["max_new_tokens"] == 256 and kwargs["do_sample"] is True
    assert kwargs["temperature"] == 0.7
    assert "temperature" not in ours._generate_kwargs({"do_sample": False})


def test_errors(pipes, checkpoint):
    pipe = pipes[0]
    with pytest.raises(InvalidInputError, match="takes a string, a chat"):
        pipe(42)
    with pytest.raises(InvalidInputError, match="'role' and 'content'"):
        pipe([{"role": "user", "content": "hi"}, {"text": "no role"}])
    with pytest.raises(InvalidInputError, match="unknown arguments"):
        pipe("Hello", max_new_tokens=2, not_an_option=1)
    with pytest.raises(InvalidInputError, match="mutually exclusive"):
        pipe("Hello", return_full_text=True, return_tensors=True)
    with pytest.raises(InvalidInputError, match="max_new_tokens"):
        pipe("Hello", max_new_tokens=0)
    bert = tfhf.TFAutoModel.from_pretrained(checkpoint("bert", "base"))
    with pytest.raises(InvalidInputError, match="causal_lm head"):
        tfhf.pipeline("text-generation", model=bert, tokenizer=pipe.tokenizer)
