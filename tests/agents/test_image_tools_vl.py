"""image_captioner (BLIP), image_qa (ViLT) and image_segmenter (CLIPSeg) on tiny local
checkpoints: each gives what the original tool gave on the PyTorch model, and they run in an
agent driven by a scripted LLM: "Caption this image, then translate the caption into French"
(image_captioner -> translator on a tiny NLLB), a question about the image, a mask saved to a
file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ScriptedLLM, code_reply

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "pipelines"))
from _seq2seq_helpers import make_seq2seq  # noqa: E402
from test_pipeline_vision_lm import (NEW, blip_folder, blip_reference, clipseg_folder,  # noqa: E402,F401
                                     clipseg_reference, picture, vilt_folder,
                                     vilt_reference)

from tfhf.agents import Agent, AgentImage, AgentText, load_tool  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402


def test_caption_then_translate_into_french(blip_folder, picture, tmp_path_factory):
    # eager decode loops (no compile); a random NLLB (seed 2) that says words for this caption
    captioner = load_tool("image-captioning", model_repo_id=blip_folder,
                          generate_kwargs={"max_new_tokens": NEW, "use_xla": False})
    translator = load_tool("translation", model_repo_id=make_seq2seq(
        tmp_path_factory.mktemp("nllb"), "nllb", seed=2), max_new_tokens=5,
        generation_kwargs={"use_xla": False, "min_new_tokens": 3})
    program = """
caption = image_captioner(image=image)
french = translator(text=caption, src_lang="English", tgt_lang="French")
print(caption)
[caption, french]
"""
    llm = ScriptedLLM(code_reply(program))
    agent = Agent(llm=llm, additional_tools=[captioner, translator], default_tools=False,
                  log=None)
    caption, french = agent.run("Caption this image, then translate the caption into French.",
                                image=AgentImage(picture))
    expected = blip_reference(blip_folder, Image.fromarray(picture))[0]["generated_text"]
    assert isinstance(caption, AgentText) and caption == expected.strip() and caption
    assert french == translator(expected.strip(), "English", "French") and french
    assert "- image_captioner" in llm.prompts[0] and captioner.description in llm.prompts[0]
    with pytest.raises(InvalidInputError, match="'image' must be an image"):
        captioner({"not": "an image"})


def test_captioner_alone_with_the_compiled_loop_and_across_chat_turns(blip_folder, picture):
    # the tool as a user gets it: default generation settings (the XLA-compiled decode loop)
    captioner = load_tool("image-captioning", model_repo_id=blip_folder,
                          generate_kwargs={"max_new_tokens": NEW})
    expected = blip_reference(blip_folder, Image.fromarray(picture))[0]["generated_text"].strip()
    assert expected
    llm = ScriptedLLM(code_reply("caption = image_captioner(image=image)\ncaption"),
                      code_reply("again = image_captioner(image=image)\n[caption, again]"))
    agent = Agent(llm=llm, additional_tools=[captioner], default_tools=False, log=None)
    caption = agent.chat("What does this image show?", image=AgentImage(picture))
    assert isinstance(caption, AgentText) and caption == expected
    # the image and the first caption stay in the chat's state for the next turn
    first, again = agent.chat("Caption it once more.")
    assert first == expected and again == expected


def test_image_qa_gives_the_best_answer(vilt_folder, picture):
    tool = load_tool("image_qa", model_repo_id=vilt_folder)
    question = "what is in the picture ?"
    best = vilt_reference(vilt_folder, Image.fromarray(picture), question)[0]["answer"]
    llm = ScriptedLLM(code_reply("image_qa(image=image, question=question)"))
    agent = Agent(llm=llm, additional_tools=[tool], default_tools=False, log=None)
    assert agent.run("Answer the `question` about the `image`.", image=AgentImage(picture),
                     question=question) == best
    assert tool(picture, question) == best


def test_segment_then_save(clipseg_folder, picture, tmp_path):
    tool = load_tool("image-segmentation", model_repo_id=clipseg_folder)
    llm = ScriptedLLM(code_reply('mask = image_segmenter(image=image, label="a cat")\nmask'))
    agent = Agent(llm=llm, additional_tools=[tool], default_tools=False, log=None)
    mask = agent.run("Segment the cat in the `image`.", image=AgentImage(picture))
    assert isinstance(mask, AgentImage)
    path = mask.save(tmp_path / "cat-mask.png")
    saved = np.asarray(Image.open(path))
    logits = clipseg_reference(clipseg_folder, Image.fromarray(picture), ["a cat"])[0]
    sure = np.abs(logits) > 1e-3
    assert saved.shape == (40, 56) and set(np.unique(saved)) <= {0, 255}
    np.testing.assert_array_equal((saved == 255)[sure], (logits >= 0)[sure])
