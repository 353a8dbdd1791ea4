"""The transformers 4.x TensorFlow tutorials' calls, unchanged apart from the import.

* Text classification (tokenize with ``return_tensors="tf"``, ``prepare_tf_dataset``,
  ``compile`` without a loss, ``fit``, ``pipeline``): tests/training/
  tutorial_text_classification.py, run by tests/training/test_script_flow.py.
* LLM generation (the "Generation with LLMs" tutorial and the TF/XLA generation blog post):
  ``generate`` and ``batch_decode`` of the returned ``tf.Tensor``, ``set_seed``, left padding,
  ``apply_chat_template(..., return_tensors="tf")``: :func:`test_llm_generation_tutorial`, on
  a tiny random Llama written by PyTorch transformers, whose greedy tokens are the reference.
* Agents ("Transformers Agents": ``agent.run``, ``agent.run(..., return_code=True)``,
  ``agent.chat``, ``prepare_for_new_chat``, custom tools): :func:`test_agents_tutorial`, with a
  scripted LLM in place of the model so that the programs are known.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import readme_fixtures as fx  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    pytest.importorskip("torch")
    return fx.tiny_llama_folder(tmp_path_factory.mktemp("tutorial-llama"))


def torch_greedy(path, text, max_new_tokens):
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(path)
    pt = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    ids = tok(text, return_tensors="pt")
    with torch.no_grad():
        out = pt.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                          pad_token_id=tok.pad_token_id, eos_token_id=None)
    return out[0, ids["input_ids"].shape[1]:].tolist()


def test_llm_generation_tutorial(checkpoint):
    import tensorflow as tf

    # ---- the tutorial, with `from transformers import` changed to `from tfhf import` ----------
    from tfhf import AutoTokenizer, TFAutoModelForCausalLM, set_seed

    tokenizer = AutoTokenizer.from_pretrained(checkpoint, padding_side="left")
    model = TFAutoModelForCausalLM.from_pretrained(checkpoint)

    model_inputs = tokenizer(["A list of colors: red, blue"], return_tensors="tf")
    generated_ids = model.generate(**model_inputs, max_new_tokens=10)
    first = tokenizer.batch_decode(generated_ids, skip_special_tokens=True)[0]

    # batched, left-padded
    model_inputs = tokenizer(["A list of colors: red, blue", "Portugal is"], return_tensors="tf",
                             padding=True)
    generated_ids = model.generate(**model_inputs, max_new_tokens=10)
    batch = tokenizer.batch_decode(generated_ids, skip_special_tokens=True)

    # sampling, reproducible with set_seed
    set_seed(42)
    sample_a = model.generate(**model_inputs, do_sample=True, max_new_tokens=10, top_k=50)
    set_seed(42)
    sample_b = model.generate(**model_inputs, do_sample=True, max_new_tokens=10, top_k=50)

    # ---- checks ----------------------------------------------------------------------------
    assert isinstance(generated_ids, tf.Tensor)
    assert first.startswith("A list of colors: red, blue")
    assert batch[0] == first  # left padding does not change the greedy continuation
    assert batch[1].startswith("Portugal is")
    expected = torch_greedy(checkpoint, "Portugal is", 10)
    single = model.generate(**tokenizer(["Portugal is"], return_tensors="tf"), max_new_tokens=10)
    assert np.asarray(single)[0, -10:].tolist() == expected
    np.testing.assert_array_equal(np.asarray(sample_a), np.asarray(sample_b))
    for ids in (generated_ids, np.asarray(generated_ids), np.asarray(generated_ids).tolist(),
                tf.RaggedTensor.from_tensor(generated_ids)):
        assert tokenizer.batch_decode(ids, skip_special_tokens=True) == batch
    assert tokenizer.convert_ids_to_tokens(generated_ids[0])[:1] == \
        tokenizer.convert_ids_to_tokens(np.asarray(generated_ids[0]).tolist())[:1]


def test_chat_template_tutorial(checkpoint):
    import tensorflow as tf

    from tfhf import AutoTokenizer, TFAutoModelForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = TFAutoModelForCausalLM.from_pretrained(checkpoint)
    messages = [{"role": "system", "content": "You are a friendly chatbot."},
                {"role": "user", "content": "How many helicopters can a human eat in one sitting?"}]
    tokenized_chat = tokenizer.apply_chat_template(messages, tokenize=True,
                                                   add_generation_prompt=True,
                                                   return_tensors="tf")
    outputs = model.generate(tokenized_chat, max_new_tokens=8)
    chat_text = tokenizer.decode(outputs[0])

    assert isinstance(tokenized_chat, tf.Tensor) and tokenized_chat.shape[0] == 1
    assert chat_text.startswith("<|im_start|>system\nYou are a friendly chatbot.<|im_end|>")
    assert tokenizer.decode(outputs[0]) == tokenizer.decode(np.asarray(outputs[0]).tolist())


class ScriptedLLM:
    """``llm(prompt, stop) -> str``: fixed replies in order; records the prompts."""

    def __init__(self, *replies):
        self.replies, self.prompts = list(replies), []

    def __call__(self, prompt, stop):
        self.prompts.append(str(prompt))
        return self.replies.pop(0)


def code_reply(code):
    return f"I will use the tools.\n\nAnswer:\n```py\n{code}\n```\n"


def test_agents_tutorial():
    """transformers 4.x "Transformers Agents" page, LLM scripted; tools are custom ones."""
    from tfhf import Agent, tool

    @tool
    def text_reverser(text: str) -> str:
        """Reverses a text.

        Args:
            text: the text to reverse.
        """
        return text[::-1]

    @tool
    def word_counter(text: str) -> int:
        """Counts the words of a text.

        Args:
            text: the text whose words are counted.
        """
        return len(text.split())

    llm = ScriptedLLM(
        code_reply("reversed_text = text_reverser(text=prompt)\nreversed_text"),
        code_reply("result = text_reverser(text='rivers and lakes')"),
        "I will use `word_counter`.\n\n```py\ncount = word_counter(text='rivers and lakes')\n```",
        "Now the reverser.\n\n```py\nreversed_text = text_reverser(text=str(count))\n"
        "reversed_text\n```",
        "```py\ncount\n```",
        "```py\ncount\n```")  # the failed program is shown to the LLM once, which repeats it
    agent = Agent(llm=llm, additional_tools=[text_reverser, word_counter], default_tools=False,
                  log=None)

    # ---- the tutorial's calls ----
    result = agent.run("Reverse the `prompt`", prompt="a capybara swimming in the sea")
    code = agent.run("Reverse 'rivers and lakes'", return_code=True)
    count = agent.chat("How many words are in 'rivers and lakes'?")
    again = agent.chat("Reverse that number")
    agent.prepare_for_new_chat()
    after_reset = agent.chat("What was the count?")

    # ---- checks ----
    assert result == "aes eht ni gnimmiws arabypac a"
    # return_code: the program, not its result (the LLM's reply is used once, nothing runs)
    assert isinstance(code, str) and "result = text_reverser(text='rivers and lakes')" in code
    assert count == 3
    assert again == "3"  # the chat kept `count` from the previous turn
    # a new chat forgets the variables of the old one: `count` is unknown now
    from tfhf.agents import AgentFailure

    assert isinstance(after_reset, AgentFailure), after_reset
    assert "count" in str(after_reset)
    assert "How many words" not in llm.prompts[-1]  # the new chat's prompt has no old turns
