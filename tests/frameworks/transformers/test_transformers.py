from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
    pipeline,
)

import aither
from aither.testing import SpanCapture

from ..expect import prediction_attributes, same_values, split, tensor_meta

VERSION = __import__("transformers").__version__
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "movie", "the", "is", "a", "plot"]
PIPELINE = "transformers.pipelines.text_classification.TextClassificationPipeline"
BERT = "transformers.models.bert.modeling_bert.BertForSequenceClassification"
GPT2 = "transformers.models.gpt2.modeling_gpt2.GPT2LMHeadModel"


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer built here, from a vocabulary of twelve words."""
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


@pytest.fixture(scope="module")
def bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(WORDS),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=32,
        num_labels=2,
    )
    return BertForSequenceClassification(config).eval()


@pytest.fixture(scope="module")
def gpt2() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(WORDS), n_embd=8, n_layer=1, n_head=2, n_positions=32, bos_token_id=2, eos_token_id=3
    )
    return GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def classifier(bert: BertForSequenceClassification, tokenizer: PreTrainedTokenizerFast) -> Any:
    return pipeline("text-classification", model=bert, tokenizer=tokenizer)


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("inputs", "features_meta"),
    [
        (
            "the movie is good",
            {"type": "str", "shape": [17], "columns": None, "dtypes": "str", "rows": 1, "truncated": False},
        ),
        (
            ["good", "bad movie", "the plot"],
            {"type": "list", "shape": [3], "columns": None, "dtypes": "str", "rows": 3, "truncated": False},
        ),
        (
            {"text": "good movie", "text_pair": "bad plot"},
            {
                "type": "dict",
                "shape": [1, 2],
                "columns": ["text", "text_pair"],
                "dtypes": ["str", "str"],
                "rows": 1,
                "truncated": False,
            },
        ),
    ],
    ids=["text", "texts", "dict"],
)
def test_a_pipeline_call_makes_one_whole_span(
    aither_capture: SpanCapture,
    classifier: Any,
    bert: BertForSequenceClassification,
    inputs: Any,
    features_meta: dict[str, Any],
) -> None:
    tracked = aither_capture.client.wrap(classifier, name="sentiment")
    out = tracked(inputs)
    assert out == classifier(inputs)  # the same labels and the same float scores, bit for bit
    (span,) = aither_capture.spans()  # the pipeline runs its model itself: one span
    assert span.name == "predict sentiment" and span.kind == "prediction" and span.status == "UNSET"
    attrs, features, prediction = split(span)
    rows = features_meta["rows"]
    assert attrs == prediction_attributes(
        "sentiment",
        framework="transformers",
        version=VERSION,
        model_class=PIPELINE,
        method="__call__",
        rows_in=rows,
        rows_out=rows,
        parameters=count(bert),
    )
    assert features == {"sample": inputs, "_meta": features_meta}
    assert prediction is not None and prediction["sample"] == out
    if isinstance(out, dict):
        assert prediction["_meta"]["type"] == "dict" and prediction["_meta"]["columns"] == ["label", "score"]
    else:
        assert prediction["_meta"] == {
            "type": "list",
            "shape": [len(out), 2],
            "columns": ["label", "score"],
            "dtypes": {"label": "str", "score": "float"},  # records: schema v2
            "rows": len(out),
            "truncated": False,
        }


def test_pipeline_predict_is_traced_and_its_steps_are_not(
    aither_capture: SpanCapture, classifier: Any
) -> None:
    tracked = aither_capture.client.wrap(classifier, name="sentiment")
    assert tracked.predict(["good"]) == classifier.predict(["good"])
    assert tracked.model is classifier.model and tracked.tokenizer is classifier.tokenizer
    assert aither.unwrap(tracked) is classifier
    (span,) = aither_capture.spans()
    assert span.attributes["ml.method"] == "predict"
    assert tracked.preprocess("good")["input_ids"].tolist() == [[2, 5, 3]]  # not a prediction
    assert aither_capture.spans() == [span]


def test_a_model_forward_with_tokenizer_output(
    aither_capture: SpanCapture, bert: BertForSequenceClassification, tokenizer: PreTrainedTokenizerFast
) -> None:
    tracked = aither_capture.client.wrap(bert, name="bert")
    batch = tokenizer(["good movie", "bad", "the plot"], return_tensors="pt", padding=True)
    with torch.no_grad():
        out = tracked(**batch)
        want = bert(**batch)
        direct = tracked.forward(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert torch.equal(out.logits, want.logits) and torch.equal(direct.logits, want.logits)
    first, second = aither_capture.spans()
    assert [first.attributes["ml.method"], second.attributes["ml.method"]] == ["__call__", "forward"]
    attrs, features, prediction = split(first)
    assert attrs == prediction_attributes(
        "bert",
        framework="transformers",
        version=VERSION,
        model_class=BERT,
        method="__call__",
        rows_in=3,
        rows_out=3,
        parameters=count(bert),
    )
    # the tensors among the keyword arguments are the input
    assert list(batch) == ["input_ids", "attention_mask"]
    assert features["_meta"] == {
        "type": "dict",
        "shape": [3, 2],
        "columns": ["input_ids", "attention_mask"],
        "dtypes": ["Tensor", "Tensor"],
        "rows": 3,
        "truncated": False,
    }
    same_values(features["sample"]["input_ids"], batch["input_ids"].numpy())
    assert prediction is not None
    assert prediction["_meta"] == {
        "type": "SequenceClassifierOutput",
        "shape": [3, 1],
        "columns": ["logits"],
        "dtypes": ["Tensor"],
        "rows": 3,
        "truncated": False,
    }
    same_values(prediction["sample"]["logits"], want.logits.numpy())


def test_generate_is_one_span(aither_capture: SpanCapture, gpt2: GPT2LMHeadModel) -> None:
    tracked = aither_capture.client.wrap(gpt2, name="gpt")
    ids = torch.tensor([[5, 7, 9], [6, 7, 11]])
    settings: dict[str, Any] = {"max_new_tokens": 4, "do_sample": False, "pad_token_id": 0}
    out = tracked.generate(ids, attention_mask=torch.ones_like(ids), **settings)
    want = gpt2.generate(ids, attention_mask=torch.ones_like(ids), **settings)
    assert torch.equal(out, want)
    (span,) = aither_capture.spans()  # generate's steps call the model itself, not the proxy
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "gpt",
        framework="transformers",
        version=VERSION,
        model_class=GPT2,
        method="generate",
        rows_in=2,
        rows_out=2,
        parameters=count(gpt2),
    )
    assert features["_meta"] == tensor_meta(
        "torch.Tensor", [2, 3], "int64", truncated=False, device="cpu", requires_grad=False
    )
    same_values(features["sample"], ids.numpy())
    assert prediction is not None
    assert prediction["_meta"] == tensor_meta(
        "torch.Tensor", [2, 7], "int64", truncated=False, device="cpu", requires_grad=False
    )
    same_values(prediction["sample"], want.numpy())


def test_generate_with_keyword_inputs_leaves_settings_out_of_the_sample(
    aither_capture: SpanCapture, gpt2: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast
) -> None:
    tracked = aither_capture.client.wrap(gpt2, name="gpt")
    batch = tokenizer(["good movie"], return_tensors="pt")
    out = tracked.generate(**batch, max_new_tokens=2, do_sample=False, pad_token_id=0)
    assert torch.equal(out, gpt2.generate(**batch, max_new_tokens=2, do_sample=False, pad_token_id=0))
    (span,) = aither_capture.spans()
    _, features, _ = split(span)
    assert features["_meta"]["columns"] == ["input_ids", "attention_mask"]
    assert np.asarray(features["sample"]["input_ids"]).tolist() == [[2, 5, 7, 3]]


def test_a_model_without_generate_traces_no_generate(
    aither_capture: SpanCapture, bert: BertForSequenceClassification
) -> None:
    tracked = aither_capture.client.wrap(bert, name="bert")
    assert not callable(getattr(tracked, "generate", None))
    assert isinstance(tracked, BertForSequenceClassification) and isinstance(tracked, torch.nn.Module)
    assert tracked.config.num_labels == 2 and tracked.num_parameters() == count(bert)


def test_a_models_predict_runs_its_forward_call_as_one_span(
    aither_capture: SpanCapture, bert: BertForSequenceClassification, tokenizer: PreTrainedTokenizerFast
) -> None:
    tracked = aither_capture.client.wrap(bert, name="bert")
    batch = tokenizer(["good movie"], return_tensors="pt")
    with torch.no_grad():
        out = tracked.predict(**batch)
        assert torch.equal(out.logits, bert(**batch).logits)
    (span,) = aither_capture.spans()
    assert span.attributes["ml.method"] == "__call__" and span.attributes["ml.input.rows"] == 1
