"""Image pipelines against transformers' PyTorch pipelines on the same tiny checkpoints, with
the image given as a path, bytes, a PIL image and an array: document-question-answering
(Donut) and zero-shot-image-classification (CLIP)."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

import tfhf  # noqa: E402
from tfhf.errors import InvalidInputError, UnsupportedModelError  # noqa: E402

from donut_fixtures import save_tiny_donut  # noqa: E402


@pytest.fixture(scope="module")
def picture():
    rs = np.random.RandomState(3)
    return rs.randint(0, 256, (40, 56, 3)).astype(np.uint8)


def image_forms(picture, tmp_path):
    path = tmp_path / "doc.png"
    Image.fromarray(picture).save(path)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG")
    return [str(path), buf.getvalue(), Image.fromarray(picture), picture]


@pytest.fixture(scope="module")
def donut_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("donut-docvqa")
    save_tiny_donut(folder)
    return str(folder)


def test_document_question_answering_equals_transformers(donut_folder, picture, tmp_path):
    # the random model would say </s> at once: suppress it and close the answer with
    # </s_answer> so its words come out. (transformers 5 takes generation options only when
    # the pipeline is built; tfhf takes them there and per call.)
    gen = {"max_new_tokens": 6, "forced_eos_token_id": 8, "suppress_tokens": [2]}
    ref = transformers.pipeline("document-question-answering", model=donut_folder, **gen)(
        Image.fromarray(picture), "what is the total ?")
    pipe = tfhf.pipeline("document-question-answering", model=donut_folder)
    for image in image_forms(picture, tmp_path):
        assert pipe(image, "what is the total ?", **gen) == ref
    assert ref[0]["answer"]  # the comparison is not None == None
    # options given when the pipeline is built hold for every call (the same model object:
    # its compiled loop is reused)
    built = tfhf.pipeline("document-question-answering", model=pipe.model, tokenizer=donut_folder,
                          image_processor=pipe.image_processor, **gen)
    assert built(picture, "what is the total ?") == ref
    both = pipe([{"image": picture, "question": "what is the total ?"},
                 {"image": picture, "question": "what is the date ?"}], **gen)
    assert both[0] == ref and len(both) == 2


def test_document_question_answering_errors(donut_folder, tmp_path):
    pipe = tfhf.pipeline("document-question-answering", model=donut_folder)
    with pytest.raises(InvalidInputError, match="needs a question"):
        pipe(np.zeros((8, 8, 3), np.uint8))
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(InvalidInputError, match="not an image file"):
        pipe(str(bad), "what ?")
    with pytest.raises(InvalidInputError, match="colour"):
        pipe(np.zeros((8, 8, 3), np.uint8), "what ?", colour="red")
    clip_like = tfhf.TFAutoModel.from_pretrained(donut_folder)
    clip_like.config.encoder.model_type = "vit"
    with pytest.raises(UnsupportedModelError, match="DonutSwin"):
        tfhf.pipeline("document-question-answering", model=clip_like)
    clip_like.config.encoder.model_type = "donut-swin"


# ----------------------------------------------------------------------------- CLIP
CLIP_WORDS = ["<unk>", "<pad>", "this", "is", "a", "photo", "of", "cat", "dog", "car", "."]


def clip_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {w: i for i, w in enumerate(CLIP_WORDS)}
    vocab.update({"<|startoftext|>": 97, "<|endoftext|>": 98})
    for i in range(len(CLIP_WORDS), 97):
        vocab[f"w{i}"] = i
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", 97), ("<|endoftext|>", 98)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<|startoftext|>", eos_token="<|endoftext|>",
        pad_token="<pad>", unk_token="<unk>")


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    import vision_configs

    folder = tmp_path_factory.mktemp("clip")
    model = vision_configs.torch_model("CLIPModel", vision_configs.clip_config())
    model.save_pretrained(folder)
    clip_tokenizer().save_pretrained(folder)
    size = vision_configs.IMAGE
    transformers.CLIPImageProcessor(size={"shortest_edge": size},
                                    crop_size={"height": size, "width": size}).save_pretrained(folder)
    return str(folder)


def test_zero_shot_image_classification_equals_transformers(clip_folder, picture, tmp_path):
    labels = ["cat", "dog", "car"]
    kwargs = {"candidate_labels": labels, "hypothesis_template": "this is a photo of {} ."}
    ref = transformers.pipeline("zero-shot-image-classification", model=clip_folder)(
        Image.fromarray(picture), **kwargs)
    pipe = tfhf.pipeline("zero-shot-image-classification", model=clip_folder)
    for image in image_forms(picture, tmp_path):
        out = pipe(image, **kwargs)
        assert [r["label"] for r in out] == [r["label"] for r in ref]
        np.testing.assert_allclose([r["score"] for r in out], [r["score"] for r in ref],
                                   atol=1e-4)
    assert len(pipe([picture, picture], candidate_labels=labels)) == 2
    with pytest.raises(InvalidInputError, match="candidate_labels"):
        pipe(picture)
