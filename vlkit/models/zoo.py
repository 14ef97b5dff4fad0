"""``model_zoo``: the registered models and their model types, printable as a table."""

from __future__ import annotations

from collections.abc import Iterator

from vlkit.common.registry import registry


class ModelZoo:
    """A live view of the model registry; ``print(model_zoo)`` lists every name and its types."""

    def items(self) -> list[tuple[str, list[str]]]:
        """``(model name, sorted model types)`` for every registered model."""
        return [
            (name, sorted(getattr(registry.get_model_class(name), "PRETRAINED_MODEL_CONFIG_DICT", {})))
            for name in registry.list_models()
        ]

    def __str__(self) -> str:
        rows = self.items()
        width = max((len(name) for name, _ in rows), default=10) + 2
        lines = [f"{'Architecture':{width}s}Types", "=" * (width + 40)]
        lines += [f"{name:{width}s}{', '.join(types)}" for name, types in rows]
        return "\n".join(lines)

    def __iter__(self) -> Iterator[tuple[str, list[str]]]:
        return iter(self.items())

    def __len__(self) -> int:
        return len(self.items())

    def __contains__(self, name: object) -> bool:
        return name in registry.list_models()


model_zoo = ModelZoo()
