"""Keras models and layers (Keras 3, ``tf.keras``, legacy ``tf_keras``) and TensorFlow modules.

``tracked(x)``, ``tracked.predict(x)`` and ``tracked.predict_on_batch(x)`` are predictions;
so is ``serve``, the endpoint of a model exported with ``model.export()`` and loaded with
``tf.saved_model.load``. Keras calls the model's own ``__call__`` from inside ``predict``
(not the proxy's), so one call makes one span. ``fit``, ``evaluate``, ``compile``,
``save`` and every other attribute pass through.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Adapter, package_version

_ROOTS = ("keras", "tf_keras", "tensorflow")


def framework_root(model: Any) -> str:
    """The package of the first Keras or TensorFlow class in ``model``'s MRO (a user's model
    subclasses ``keras.Model`` from its own package)."""
    for klass in type(model).__mro__:
        root = klass.__module__.partition(".")[0]
        if root in _ROOTS:
            return root
    return "tensorflow"


class KerasAdapter(Adapter):
    framework: ClassVar[str] = "keras"
    extra: ClassVar[str | None] = "tensorflow"
    methods: ClassVar[tuple[str, ...]] = ("__call__", "predict", "predict_on_batch", "serve")
    # A Keras model's pickle is a whole model save (graph tracing included): too costly even
    # on the export thread.
    fingerprints: ClassVar[bool] = False

    def framework_name(self, model: Any) -> str:
        return "tensorflow" if framework_root(model) == "tensorflow" else "keras"

    def framework_version(self, model: Any) -> str | None:
        return package_version(framework_root(model))

    def parameters(self, model: Any) -> int | None:
        """Keras' own count for a built model; a TensorFlow module's variables' sizes otherwise.
        None for a model not built yet: its weights do not exist."""
        try:
            count_params = getattr(model, "count_params", None)
            if count_params is not None:
                if getattr(model, "built", True) is False:
                    return None
                return int(count_params())
            variables = getattr(model, "variables", None)
            if variables is None:
                return None
            return sum(int(v.shape.num_elements() or 0) for v in variables)
        except Exception:
            return None
