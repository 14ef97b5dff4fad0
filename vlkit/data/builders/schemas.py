"""The annotation format of every builder family, per split kind (``train`` and ``eval``).

Keys a dataset class reads are declared here; keys it does not read are allowed and ignored. These are
the formats of BLIP's released json files (and the synthetic world's, which copies them).
"""

from __future__ import annotations

from vlkit.data.annotation_schema import AnnotationSchema, Field

TEXT = (str,)
TEXTS = (str, list)  # one text, or several (the first is used for training pairs)
ID = (str, int)


def _media(key: str = "image") -> Field:
    return Field(key, TEXT)


# [{"image", "caption", "image_id"?}]: COCO-Karpathy / Flickr30k training, CC3M/CC12M/SBU, your own data
IMAGE_TEXT_PAIRS = AnnotationSchema(
    (_media(), Field("caption", TEXTS, items=TEXT), Field("image_id", ID, required=False)),
    "a JSON list of {'image': ..., 'caption': ...} objects",
)
# [{"image", "caption": [refs]?, "image_id"/"img_id"?}]: one entry per image (references may come from a gt file)
CAPTION_EVAL = AnnotationSchema(
    (
        Field("image", TEXT, unique=True),
        Field("caption", TEXTS, items=TEXT, required=False),
        Field("image_id", ID, required=False),
        Field("img_id", ID, required=False),
    ),
    "a JSON list of {'image': ..., 'caption': [...]} objects, one per image",
)
# [{"image"|"video", "caption": [texts]}]: retrieval evaluation, one entry per image or video
RETRIEVAL_EVAL = AnnotationSchema(
    (Field("image", TEXT, unique=True), Field("caption", TEXTS, items=TEXT)),
    "a JSON list of {'image': ..., 'caption': [...]} objects, one per image",
)
VIDEO_RETRIEVAL_EVAL = AnnotationSchema(
    (Field("video", TEXT, unique=True), Field("caption", TEXTS, items=TEXT)),
    "a JSON list of {'video': ..., 'caption': [...]} objects, one per video",
)
VIDEO_TEXT_PAIRS = AnnotationSchema(
    (_media("video"), Field("caption", TEXT)), "a JSON list of {'video': ..., 'caption': ...} objects"
)


def _qa(media: str, answer_required: bool) -> AnnotationSchema:
    # answers may hold empty strings (annotators' blanks): the dataset drops those, and a question left
    # with none is a bad sample when it is read
    return AnnotationSchema(
        (
            _media(media),
            Field("question", TEXT),
            Field("answer", TEXTS, items=TEXT, required=answer_required, items_non_empty=False),
            Field("question_id", (int,), required=False, unique=True),
        ),
        f"a JSON list of {{'{media}': ..., 'question': ..., 'answer': [...]}} objects",
    )


VQA_TRAIN, VQA_EVAL = _qa("image", True), _qa("image", False)
VIDEO_QA_TRAIN, VIDEO_QA_EVAL = _qa("video", True), _qa("video", False)

NLVR = AnnotationSchema(
    (Field("images", (list,), items=TEXT, length=2), Field("sentence", TEXT), Field("label", (str, bool))),
    "a JSON list of {'images': [left, right], 'sentence': ..., 'label': 'True'|'False'} objects",
)

# VisDial v1.0's official json: one object whose data holds the questions, answers and dialogs
VISDIAL_FILE = AnnotationSchema(
    (
        Field(
            "data",
            (dict,),
            schema=AnnotationSchema(
                (
                    Field("questions", (list,), items=TEXT, items_non_empty=False),
                    Field("answers", (list,), items=TEXT, items_non_empty=False),
                    Field("dialogs", (list,), non_empty=False),
                )
            ),
        ),
    ),
    "VisDial v1.0's official JSON object ({'data': {'questions', 'answers', 'dialogs'}})",
)
VISDIAL_ROUND = AnnotationSchema(
    (
        Field("question", (int,)),
        Field("answer", (int,)),
        Field("answer_options", (list,), items=(int,)),
        Field("gt_index", (int,)),
    )
)
VISDIAL_DIALOG = AnnotationSchema(
    (Field("image_id", (int,), unique=True), Field("caption", TEXT), Field("dialog", (list,), items=VISDIAL_ROUND)),
    "a list of dialog objects (data.dialogs)",
)
