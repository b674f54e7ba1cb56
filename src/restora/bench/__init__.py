"""Evaluation harness: ``evaluate(method, dataset, task=..., sigma=.../scale=...)``."""

from restora.bench.evaluate import Evaluation, ImageScore, evaluate, list_dataset
from restora.bench.published import PUBLISHED, dataset_key, published_for

__all__ = ["Evaluation", "ImageScore", "evaluate", "list_dataset", "PUBLISHED", "dataset_key",
           "published_for"]
