"""image-to-text (BLIP), visual-question-answering (ViLT) and image-segmentation (CLIPSeg) on
tiny random checkpoints, with the image as a path, bytes, a PIL image and an array.

transformers 5 removed the image-to-text and visual-question-answering pipelines and never
ran CLIPSeg in image-segmentation, so the reference is what transformers 4.x's pipelines (and
the original agent tools) did, written out on the PyTorch model: the image processor, then
``generate`` + ``decode(skip_special_tokens=True)`` (BLIP; a prompt becomes ``[CLS]`` + its
tokens), the sigmoid of the VQA logits and its top k (ViLT), the logits of each prompt resized
bilinearly to the image and thresholded at 0.5 (CLIPSeg)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import tfhf  # noqa: E402
import vision_configs as vc  # noqa: E402
from test_pipeline_vision import clip_tokenizer, image_forms  # noqa: E402
from tfhf.errors import InvalidInputError  # noqa: E402

WORDS = ["[PAD]", "[UNK]", "[CLS]", "what", "is", "in", "the", "picture", "?", "a", "photo",
         "of", "cat", "dog", "red", "blue", "car", "two", "yes", "no"]
NEW = 6


def bert_tokenizer(extra=()):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(WORDS)}
    for i in range(len(WORDS), vc.VOCAB - 2):
        vocab[f"w{i}"] = i
    vocab.update({"[DEC]": vc.VOCAB - 2, "[SEP]": vc.VOCAB - 1})
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", vc.VOCAB - 1)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", bos_token="[DEC]", **dict(extra))


@pytest.fixture(scope="module")
def picture():
    return np.random.RandomState(5).randint(0, 256, (40, 56, 3)).astype(np.uint8)


# ----------------------------------------------------------------------------- BLIP


@pytest.fixture(scope="module")
def blip_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blip")
    model = vc.widen(vc.torch_model("BlipForConditionalGeneration", vc.blip_config()), std=0.2)
    model.save_pretrained(folder)
    bert_tokenizer().save_pretrained(folder)
    transformers.BlipImageProcessor(size={"height": vc.IMAGE, "width": vc.IMAGE}) \
        .save_pretrained(folder)
    return str(folder)


def blip_reference(folder, image, prompt=None):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    proc = transformers.AutoImageProcessor.from_pretrained(folder)
    model = transformers.BlipForConditionalGeneration.from_pretrained(folder).eval()
    extra = {}
    if prompt is not None:
        ids = [tok.cls_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
        extra["input_ids"] = torch.tensor([ids])
    with torch.no_grad():
        out = model.generate(proc(images=image, return_tensors="pt")["pixel_values"],
                             max_new_tokens=NEW, **extra)
    return [{"generated_text": tok.decode(out[0], skip_special_tokens=True)}]


def test_image_to_text_equals_transformers_4_on_blip(blip_folder, picture, tmp_path):
    ref = blip_reference(blip_folder, Image.fromarray(picture))
    assert ref[0]["generated_text"]
    # eager decode loops: no compilation per prompt shape (BLIP's parity tests cover XLA)
    pipe = tfhf.pipeline("image-to-text", model=blip_folder, max_new_tokens=NEW, use_xla=False)
    for image in image_forms(picture, tmp_path):
        assert pipe(image) == ref
    prompted = blip_reference(blip_folder, Image.fromarray(picture), prompt="a photo of")
    assert pipe(picture, prompt="a photo of") == prompted
    assert prompted[0]["generated_text"].startswith("a photo")
    assert pipe([picture, picture]) == [ref, ref]
    with pytest.raises(InvalidInputError, match="without an image"):
        pipe()


# ----------------------------------------------------------------------------- ViLT


@pytest.fixture(scope="module")
def vilt_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vilt")
    config = vc.vilt_config(id2label={i: a for i, a in enumerate(["yes", "no", "cat", "dog",
                                                                    "two"])},
                            label2id={"yes": 0, "no": 1, "cat": 2, "dog": 3, "two": 4})
    vc.widen(vc.torch_model("ViltForQuestionAnswering", config)).save_pretrained(folder)
    bert_tokenizer().save_pretrained(folder)
    transformers.ViltImageProcessor(size={"shortest_edge": vc.IMAGE}, size_divisor=vc.PATCH) \
        .save_pretrained(folder)
    return str(folder)


def vilt_reference(folder, image, question, top_k=5):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    proc = transformers.AutoImageProcessor.from_pretrained(folder)
    model = transformers.ViltForQuestionAnswering.from_pretrained(folder).eval()
    feed = dict(tok(question, return_tensors="pt"))
    feed.update(proc(images=image, return_tensors="pt"))
    with torch.no_grad():
        probs = model(**feed).logits.sigmoid()[0]
    scores, ids = probs.topk(top_k)
    return [{"score": s, "answer": model.config.id2label[i]}
            for s, i in zip(scores.tolist(), ids.tolist())]


def same_answers(got, ref):
    assert [r["answer"] for r in got] == [r["answer"] for r in ref]
    np.testing.assert_allclose([r["score"] for r in got], [r["score"] for r in ref], atol=1e-4)


def test_visual_question_answering_equals_transformers_4_on_vilt(vilt_folder, picture, tmp_path):
    question = "what is in the picture ?"
    ref = vilt_reference(vilt_folder, Image.fromarray(picture), question)
    pipe = tfhf.pipeline("vqa", model=vilt_folder)
    for image in image_forms(picture, tmp_path):
        same_answers(pipe(image, question), ref)
    same_answers(pipe({"image": picture, "question": question}, top_k=2), ref[:2])
    assert len(pipe(picture, question, top_k=50)) == 5  # at most the number of answers
    both = pipe([picture, picture[:, ::-1]], question)
    same_answers(both[0], ref)
    same_answers(both[1], vilt_reference(vilt_folder, Image.fromarray(picture[:, ::-1]),
                                         question))
    with pytest.raises(InvalidInputError, match="needs an image and a question"):
        pipe(picture)
    with pytest.raises(InvalidInputError, match="top_k"):
        pipe(picture, question, top_k=0)


# ----------------------------------------------------------------------------- CLIPSeg


@pytest.fixture(scope="module")
def clipseg_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clipseg")
    config = transformers.CLIPSegConfig(text_config=vc.CLIP_TEXT, vision_config=vc.CLIP_VISION,
                                        projection_dim=16, extract_layers=[1, 2], reduce_dim=16,
                                        decoder_num_attention_heads=2,
                                        decoder_intermediate_size=24)
    vc.widen(vc.torch_model("CLIPSegForImageSegmentation", config)).save_pretrained(folder)
    clip_tokenizer().save_pretrained(folder)
    transformers.ViTImageProcessor(size={"height": vc.IMAGE, "width": vc.IMAGE}) \
        .save_pretrained(folder)
    return str(folder)


def clipseg_reference(folder, image, prompts):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    proc = transformers.AutoImageProcessor.from_pretrained(folder)
    model = transformers.CLIPSegForImageSegmentation.from_pretrained(folder).eval()
    feed = dict(tok(prompts, padding=True, return_tensors="pt"))
    feed["pixel_values"] = proc(images=[image] * len(prompts), return_tensors="pt")[
        "pixel_values"]
    with torch.no_grad():
        logits = model(**feed).logits.reshape(len(prompts), 1, vc.IMAGE, vc.IMAGE)
    resized = torch.nn.functional.interpolate(logits, size=(image.height, image.width),
                                              mode="bilinear", align_corners=False)
    return resized[:, 0].numpy()


def test_image_segmentation_with_clipseg_prompts(clipseg_folder, picture, tmp_path):
    prompts = ["a cat", "a red car"]
    logits = clipseg_reference(clipseg_folder, Image.fromarray(picture), prompts)
    pipe = tfhf.pipeline("image-segmentation", model=clipseg_folder)
    for image in image_forms(picture, tmp_path):
        out = pipe(image, prompts)
        assert [r["label"] for r in out] == prompts
        for r, ref in zip(out, logits):
            sure = np.abs(ref) > 1e-3  # pixels whose side of the threshold is not a rounding
            assert r["mask"].mode == "L" and r["mask"].size == (56, 40)
            assert r["array"].shape == (40, 56) and r["array"].dtype == bool
            np.testing.assert_array_equal(r["array"][sure], (ref >= 0)[sure])
            np.testing.assert_array_equal(np.asarray(r["mask"]) == 255, r["array"])
    assert 0 < out[0]["array"].mean() < 1  # the comparison is not all-or-nothing
    one = pipe(picture, "a cat", threshold=0.9)
    assert len(one) == 1 and one[0]["array"].sum() <= out[0]["array"].sum()
    with pytest.raises(InvalidInputError, match="needs prompts"):
        pipe(picture)
    with pytest.raises(InvalidInputError, match="threshold"):
        pipe(picture, "a cat", threshold=2)
