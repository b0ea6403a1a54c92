"""One lookup for the by-name registries (optimizers, losses, metrics, initializers)."""

from __future__ import annotations

from typing import Any, Dict


def resolve(identifier: Any, what: str, base: type, by_name: Dict[str, type]) -> Any:
    """An object of ``base`` from ``identifier``: an instance (returned as is), a
    ``{"class_name", "config"}`` dict, or a name (lower-case key of ``by_name``, or a class
    name).  Errors name ``what``, the argument."""
    if isinstance(identifier, base):
        return identifier
    by_class = {cls.__name__: cls for cls in by_name.values()}
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = by_class.get(identifier["class_name"]) or by_name.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"{what}: unknown class {identifier['class_name']!r}")
        return cls.from_config(dict(identifier.get("config", {})))
    if isinstance(identifier, str):
        cls = by_name.get(identifier.lower()) or by_class.get(identifier)
        if cls is None:
            raise ValueError(f"{what} must be one of {', '.join(map(repr, by_name))} or a "
                             f"{base.__module__}.{base.__name__}, got {identifier!r}")
        return cls()
    raise TypeError(f"{what} must be a name or a {base.__module__}.{base.__name__}, got "
                    f"{type(identifier).__name__}")


def serialize(obj: Any) -> Dict[str, Any]:
    """``{"class_name", "config"}`` of a registry object."""
    return {"class_name": type(obj).__name__, "config": obj.get_config()}
