"""AgentImage (notebook display, save, through tools and agent.chat) and the curated image tools
on tiny local checkpoints: document_qa (Donut) on a synthetic receipt drawn with PIL equals
transformers' PyTorch Donut called as the original tool called it; registry, load_tool, the
default toolbox and its Pillow requirement; bad images. BLIP / ViLT / CLIPSeg tools:
tests/agents/test_image_tools_vl.py."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pytest
from conftest import ScriptedLLM, code_reply

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
from PIL import Image, ImageDraw  # noqa: E402

from tfhf.agents import Agent, AgentImage, AgentText, Tool, load_tool  # noqa: E402
from tfhf.agents.image_tools import DocumentQuestionAnsweringTool  # noqa: E402
from tfhf.agents.registry import TOOL_REGISTRY, ToolSpec, default_toolbox  # noqa: E402
from tfhf.errors import InvalidInputError, MissingDependencyError  # noqa: E402

from donut_fixtures import save_tiny_donut  # noqa: E402

# the random model would end at once: suppress </s>, close the answer at the end; a short,
# eager decode (the tool's default length is the decoder's, 64 here)
GEN = {"max_length": 16, "suppress_tokens": [2], "forced_eos_token_id": 8, "use_xla": False}


def receipt():
    image = Image.new("RGB", (160, 110), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(["COFFEE SHOP", "coffee   2.50", "cake     4.00", "TOTAL    6.50"]):
        draw.text((8, 8 + 24 * i), line, fill="black")
    return image


@pytest.fixture(scope="module")
def donut_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("donut-tool")
    save_tiny_donut(folder)
    return str(folder)


@pytest.fixture(scope="module")
def document_qa(donut_folder):
    return load_tool("document-question-answering", model_repo_id=donut_folder,
                     generate_kwargs=GEN)


def torch_answer(folder, image, question):
    """transformers' original DocumentQuestionAnsweringTool, on PyTorch."""
    import transformers

    proc = transformers.DonutProcessor.from_pretrained(folder)
    model = transformers.VisionEncoderDecoderModel.from_pretrained(folder).eval()
    tok = proc.tokenizer
    prompt = f"<s_docvqa><s_question>{question}</s_question><s_answer>"
    ids = tok(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(proc(image, return_tensors="pt").pixel_values, decoder_input_ids=ids,
                             max_length=GEN["max_length"],
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                             num_beams=1, bad_words_ids=[[tok.unk_token_id]],
                             suppress_tokens=[2], forced_eos_token_id=8)
    seq = proc.batch_decode(out)[0].replace(tok.eos_token, "").replace(tok.pad_token, "")
    seq = re.sub(r"<.*?>", "", seq, count=1).strip()
    return re.search(r"<s_answer>(.*)</s_answer>", seq).group(1).strip()


def test_document_qa_equals_the_original_tool_on_pytorch(document_qa, donut_folder, tmp_path):
    image = receipt()
    answer = document_qa(document=image, question="what is the total ?")
    assert isinstance(answer, AgentText) and answer  # the random model says something
    assert answer == torch_answer(donut_folder, image, "what is the total ?")
    # the same receipt as an AgentImage of a file and as file bytes (the pipeline's tests
    # cover the other forms)
    path = tmp_path / "receipt.png"
    image.save(path)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    for form in (AgentImage(str(path)), buf.getvalue()):
        assert document_qa(form, "what is the total ?") == answer


def test_document_qa_in_an_agent_and_across_chat_turns(document_qa, donut_folder):
    expected = document_qa(receipt(), "what is the total ?")
    llm = ScriptedLLM(code_reply("total = document_qa(document=document, question=question)\n"
                                 "total"),
                      code_reply("page = document\nanswer = document_qa(document=page, "
                                 "question='what is the date ?')\n[total, answer]"),
                      code_reply("page"))
    agent = Agent(llm=llm, additional_tools=[document_qa], default_tools=False, log=None)
    image = AgentImage(receipt())
    assert agent.chat("What is the total on this receipt?", document=image,
                      question="what is the total ?") == expected
    prompt = llm.prompts[0]
    assert "- document_qa" in prompt and document_qa.description in prompt
    # the image stays in the chat's state, passes to the tool again and comes back out
    second = agent.chat("And the date?")
    assert second[0] == expected
    assert second[1] == document_qa(receipt(), "what is the date ?")
    page = agent.chat("Show me the page.")
    assert isinstance(page, AgentImage)
    assert np.array_equal(np.asarray(page.to_raw()), np.asarray(receipt()))


def test_document_qa_bad_inputs(document_qa, tmp_path):
    with pytest.raises(InvalidInputError, match="'document' must be an image"):
        document_qa(12, "what ?")
    with pytest.raises(InvalidInputError, match="'question' must be a text"):
        document_qa(receipt(), 3)
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(InvalidInputError, match="not an image file"):
        document_qa(str(bad), "what ?")
    document_qa.pipeline.max_pixels = 10_000  # the receipt has 17,600
    before = set(os.listdir(tmp_path))
    try:
        with pytest.raises(InvalidInputError, match="pixels"):
            document_qa(AgentImage(receipt()), "what ?")
    finally:
        document_qa.pipeline.max_pixels = 50_000_000
    assert set(os.listdir(tmp_path)) == before


# ----------------------------------------------------------------------------- AgentImage


def test_agent_image_shows_in_a_notebook_and_saves(tmp_path):
    array = np.random.RandomState(0).randint(0, 256, (12, 20, 3)).astype(np.uint8)
    for image in (AgentImage(array), AgentImage(Image.fromarray(array))):
        png = image._repr_png_()
        assert png.startswith(b"\x89PNG") and np.array_equal(
            np.asarray(Image.open(io.BytesIO(png))), array)
        for name in ("a.png", "a.bmp", "a.jpg"):
            path = image.save(tmp_path / name)
            assert Image.open(path).size == (20, 12)
        assert np.array_equal(np.asarray(Image.open(tmp_path / "a.bmp")), array)
    mask = AgentImage(Image.fromarray(np.eye(8, dtype=np.uint8) * 255))
    assert AgentImage(mask.save(tmp_path / "m.png")).to_raw().mode == "L"
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(InvalidInputError, match="cannot write 'XYZ'"):
        mask.save(tmp_path / "m.xyz")
    with pytest.raises(InvalidInputError, match="does not exist"):
        mask.save(tmp_path / "missing" / "m.png")
    assert sorted(os.listdir(tmp_path)) == before  # nothing written on failure
    # Pillow failing half-way through encoding leaves no partial or temporary file either
    def broken_save(self, fp, format=None, **params):
        fp.write(b"half an image")
        raise OSError("disk full")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image.Image, "save", broken_save)
        with pytest.raises(OSError, match="disk full"):
            mask.save(tmp_path / "m.bmp")
    assert sorted(os.listdir(tmp_path)) == before


def test_agent_image_passes_between_tools():
    class Invert(Tool):
        name = "invert"
        description = "This is a tool that inverts an image."
        inputs = {"image": {"type": "image", "description": "the image"}}
        output_type = "image"

        def forward(self, image):
            return Image.fromarray(255 - np.asarray(image))

    array = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    llm = ScriptedLLM(code_reply("once = invert(image=image)\ninvert(image=once)"))
    agent = Agent(llm=llm, additional_tools=[Invert()], default_tools=False, log=None)
    result = agent.run("Invert the `image` twice.", image=AgentImage(array))
    assert isinstance(result, AgentImage)
    assert np.array_equal(np.asarray(result.to_raw()), array)


# ----------------------------------------------------------------------------- registry


def test_registry_load_tool_and_default_toolbox(donut_folder):
    tasks = {"image-captioning": ("image_captioner", "Salesforce/blip-image-captioning-base"),
             "image-question-answering": ("image_qa", "dandelin/vilt-b32-finetuned-vqa"),
             "image-segmentation": ("image_segmenter", "CIDAS/clipseg-rd64-refined"),
             "document-question-answering": ("document_qa",
                                             "naver-clova-ix/donut-base-finetuned-docvqa")}
    box = default_toolbox()
    for task, (name, checkpoint) in tasks.items():
        spec = TOOL_REGISTRY[task]
        assert spec.available and spec.default_checkpoint == checkpoint
        for key in (task, name):
            tool = load_tool(key)
            assert tool.name == name and tool.model == checkpoint and not tool.is_initialized
        assert name in box
        box[name].validate()
    assert load_tool("image_qa").inputs["question"]["type"] == "text"
    assert load_tool("document_qa").inputs["document"]["type"] == "image"
    tool = load_tool("document_qa", model_repo_id=donut_folder)
    assert isinstance(tool, DocumentQuestionAnsweringTool) and tool.model == donut_folder


def test_tools_whose_dependency_is_missing_are_left_out(monkeypatch):
    spec = ToolSpec("document-question-answering", "image_tools", "DocumentQuestionAnsweringTool",
                    "naver-clova-ix/donut-base-finetuned-docvqa",
                    requires=(("tfhf_no_such_module", "no-such-package"),))
    monkeypatch.setitem(TOOL_REGISTRY, "document-question-answering", spec)
    assert "document_qa" not in default_toolbox()
    with pytest.raises(MissingDependencyError, match="pip install no-such-package"):
        load_tool("document_qa")
