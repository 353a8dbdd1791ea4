"""The curated image tools (see :mod:`tfhf.agents.registry`); they need Pillow.

===========================  ===================  ==============================================
task                         tool name            how
===========================  ===================  ==============================================
image-captioning             ``image_captioner``  ``tfhf.pipeline("image-to-text")`` on BLIP
                                                  (default
                                                  Salesforce/blip-image-captioning-base)
image-question-answering     ``image_qa``         ``tfhf.pipeline("visual-question-answering")``
                                                  on ViLT, the best answer (default
                                                  dandelin/vilt-b32-finetuned-vqa)
image-segmentation           ``image_segmenter``  ``tfhf.pipeline("image-segmentation")`` on
                                                  CLIPSeg: the mask of ``label`` as an
                                                  :class:`~tfhf.agents.AgentImage` (default
                                                  CIDAS/clipseg-rd64-refined)
document-question-answering  ``document_qa``      ``tfhf.pipeline("document-question-answering")``
                                                  on Donut, greedy, as transformers' original
                                                  tool (default
                                                  naver-clova-ix/donut-base-finetuned-docvqa)
===========================  ===================  ==============================================

Names, descriptions, inputs and default checkpoints are transformers' original toolbox's.
Image inputs are an :class:`~tfhf.agents.AgentImage`, a PIL image, a path or URL (the
downloader's rules), file bytes or an array; they are read by :func:`tfhf.images.load_image`
(its checks and pixel limit). One difference: the segmentation mask has the input image's
size (the original tool returned CLIPSeg's 352 x 352 map), so it lies over the image.
"""

from __future__ import annotations

import os

from ..errors import InvalidInputError
from .agent_types import AgentImage, AgentText
from .tools import PipelineTool, text_arg

__all__ = ["ImageCaptioningTool", "ImageQuestionAnsweringTool", "ImageSegmentationTool",
           "DocumentQuestionAnsweringTool", "image_arg"]


def image_arg(image, name="image"):
    """What :func:`tfhf.images.load_image` reads, from an agent's image value."""
    from ..images.io import is_image_like

    if isinstance(image, AgentImage):
        if image._raw is not None:
            return image._raw
        return image._array if image._array is not None else image._path
    if isinstance(image, (str, os.PathLike)) or is_image_like(image):
        return image
    raise InvalidInputError(f"'{name}' must be an image (an AgentImage, a PIL image, a file "
                            f"path, file bytes or an array); got {type(image).__name__}.")


class _ImagePipelineTool(PipelineTool):
    """A curated tool over a tfhf image pipeline; ``generate_kwargs`` go to ``generate``."""

    def __init__(self, model=None, pre_processor=None, post_processor=None, device=None,
                 model_kwargs=None, token=None, generate_kwargs=None, **hub_kwargs):
        super().__init__(model, pre_processor, post_processor, device, model_kwargs, token,
                         **hub_kwargs)
        self.generate_kwargs = dict(generate_kwargs or {})


class ImageCaptioningTool(_ImagePipelineTool):
    name = "image_captioner"
    description = ("This is a tool that generates a description of an image. It takes an input "
                   "named `image` which should be the image to caption, and returns a text that "
                   "contains the description in English.")
    example = "caption = image_captioner(image=photo)"
    inputs = {"image": {"type": "image", "description": "The image to caption"}}
    output_type = "text"
    model_class = "TFAutoModelForVision2Seq"
    default_checkpoint = "Salesforce/blip-image-captioning-base"
    pipeline_task = "image-to-text"

    def __call__(self, image):
        result = self.run_pipeline(image_arg(image), generate_kwargs=dict(self.generate_kwargs))
        return AgentText(result[0]["generated_text"].strip())


class ImageQuestionAnsweringTool(_ImagePipelineTool):
    name = "image_qa"
    description = ("This is a tool that answers a question about an image. It takes an input "
                   "named `image` which should be the image containing the information, as well "
                   "as a `question` which should be the question in English. It returns a text "
                   "that is the answer to the question.")
    example = 'answer = image_qa(image=photo, question="What color is the car?")'
    inputs = {"image": {"type": "image", "description": "The image containing the information"},
              "question": {"type": "text", "description": "The question in English"}}
    output_type = "text"
    model_class = "TFAutoModelForVisualQuestionAnswering"
    default_checkpoint = "dandelin/vilt-b32-finetuned-vqa"
    pipeline_task = "visual-question-answering"

    def __call__(self, image, question):
        result = self.run_pipeline(image_arg(image), text_arg(question, "question"), top_k=1)
        return AgentText(result[0]["answer"])


class ImageSegmentationTool(_ImagePipelineTool):
    name = "image_segmenter"
    description = ("This is a tool that creates a segmentation mask of an image according to a "
                   "label. It cannot create an image. It takes two arguments named `image` which "
                   "should be the original image, and `label` which should be a text describing "
                   "the elements what should be identified in the segmentation mask. The tool "
                   "returns the mask.")
    example = 'mask = image_segmenter(image=photo, label="dog")'
    inputs = {"image": {"type": "image", "description": "The image to segment"},
              "label": {"type": "text", "description": "The label of what to segment"}}
    output_type = "image"
    model_class = "TFAutoModelForImageSegmentation"
    default_checkpoint = "CIDAS/clipseg-rd64-refined"
    pipeline_task = "image-segmentation"

    def __call__(self, image, label):
        label = text_arg(label, "label")
        result = self.run_pipeline(image_arg(image), [label])
        return AgentImage(result[0]["mask"])


class DocumentQuestionAnsweringTool(_ImagePipelineTool):
    name = "document_qa"
    description = ("This is a tool that answers a question about an document (pdf). It takes an "
                   "input named `document` which should be the document containing the "
                   "information, as well as a `question` that is the question about the "
                   "document. It returns a text that contains the answer to the question.")
    example = 'total = document_qa(document=scan, question="What is the total?")'
    inputs = {"document": {"type": "image",
                           "description": "The image containing the information"},
              "question": {"type": "text", "description": "The question in English"}}
    output_type = "text"
    model_class = "TFAutoModelForVision2Seq"
    default_checkpoint = "naver-clova-ix/donut-base-finetuned-docvqa"
    pipeline_task = "document-question-answering"

    def __call__(self, document, question):
        question = text_arg(question, "question")
        document = image_arg(document, "document")
        if not self.is_initialized:
            self.setup()
        tok = self.pipeline.hf_tokenizer
        # the original tool's generate call: greedy up to the decoder's length, no <unk>
        gen = {"max_length": self.pipeline.model.config.decoder.max_position_embeddings,
               "num_beams": 1, "bad_words_ids": [[tok.unk_token_id]],
               **self.generate_kwargs}
        result = self.run_pipeline(document, question, generate_kwargs=gen)
        return AgentText(result[0]["answer"] or "")
