"""Embedding drift: the distance between a reference of embedding vectors and a window of them.

Opt-in on the SDK side: an LLM span carries ``aither.embedding.prompt`` and/or
``aither.embedding.response``, each the vector as base64 of little-endian float32 (see
``docs/span-schema.md``). Per LLM model and side, the first ``embedding_reference`` vectors are
the reference; each following ``embedding_window`` vectors are a window, compared by

- the cosine distance between the two mean embeddings (how far the centre moved), and
- the maximum mean discrepancy (MMD) with an RBF kernel (bandwidth: the median distance), whose
  p-value comes from a permutation test: drift when it is below ``embedding_alpha``.

Vectors are kept in memory only (a bounded list per window); the scores are stored.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeAlias

import numpy as np

Matrix: TypeAlias = Any  # 2-D numpy arrays of float64 (numpy is untyped for mypy here)
MAX_DIMENSIONS = 8192


def decode(text: Any) -> Any | None:
    """A vector from its base64 float32 text; None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) % 4 or not 0 < len(raw) // 4 <= MAX_DIMENSIONS:
        return None
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    return vector if np.isfinite(vector).all() else None


def encode(vector: Any) -> str:
    """The attribute's text for a vector (what the SDK sends; tests and examples use it)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def mean_cosine_distance(reference: Matrix, window: Matrix) -> float:
    a, b = reference.mean(axis=0), window.mean(axis=0)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(a @ b) / norms if norms > 0 else 0.0


def _squared_distances(data: Matrix) -> Matrix:
    norms = (data * data).sum(axis=1)
    squared: Matrix = np.maximum(norms[:, None] + norms[None, :] - 2 * data @ data.T, 0.0)
    return squared


def _mmd(kernel: Matrix, is_x: Any) -> float:
    x, y = is_x, ~is_x
    n, m = int(x.sum()), int(y.sum())
    kxx = (kernel[np.ix_(x, x)].sum() - np.trace(kernel[np.ix_(x, x)])) / (n * (n - 1))
    kyy = (kernel[np.ix_(y, y)].sum() - np.trace(kernel[np.ix_(y, y)])) / (m * (m - 1))
    kxy = kernel[np.ix_(x, y)].mean()
    return float(kxx + kyy - 2 * kxy)


def mmd_test(
    reference: Matrix, window: Matrix, permutations: int = 200, seed: int = 0
) -> tuple[float, float]:
    """(MMD², permutation p-value) with an RBF kernel at the median-distance bandwidth."""
    data = np.vstack([reference, window])
    squared = _squared_distances(data)
    median = float(np.median(squared[np.triu_indices_from(squared, k=1)]))
    kernel = np.exp(-squared / max(median, 1e-12))
    is_x = np.zeros(data.shape[0], dtype=bool)
    is_x[: reference.shape[0]] = True
    observed = _mmd(kernel, is_x)
    rng = np.random.default_rng(seed)
    exceed = sum(_mmd(kernel, rng.permutation(is_x)) >= observed for _ in range(permutations))
    return observed, (exceed + 1) / (permutations + 1)


def compare(reference: Matrix, window: Matrix, alpha: float, permutations: int = 200) -> dict[str, Any]:
    """The window's embedding drift: distances, the test, and the verdict."""
    mmd, p_value = mmd_test(reference, window, permutations)
    return {
        "mean_cosine_distance": mean_cosine_distance(reference, window),
        "mmd": mmd,
        "p_value": p_value,
        "permutations": permutations,
        "drifted": p_value < alpha,
        "reference_vectors": int(reference.shape[0]),
        "window_vectors": int(window.shape[0]),
    }
