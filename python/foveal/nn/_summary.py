"""The table ``Model.summary`` prints, as Keras 3 lays it out: one row per layer (name and type,
output shape, parameter count, the inbound layers of a functional model, and optionally whether
it trains), then the total, trainable and non-trainable parameter counts with their sizes."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence


def table(name: str, graph: Any, layers: Sequence[Any], functional: bool, show_trainable: bool,
          line_length: Optional[int], total: int, trainable: int) -> List[str]:
    """The summary's lines for ``layers`` of ``graph`` (``total`` and ``trainable`` counts given)."""
    rows = []
    for layer in layers:
        shape = layer.output_shape if layer.output_shape is not None else "?"
        row = [f"{layer.name} ({type(layer).__name__})", str(tuple(shape)).replace(",)", ")"),
               f"{layer.count_params():,}"]
        if functional:
            row.append(", ".join(graph.inbound_names(layer)) or "-")
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
        rows.append(row)
    headers = (["Layer (type)", "Output Shape", "Param #"]
               + (["Connected to"] if functional else []) + (["Trainable"] if show_trainable else []))
    widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 if rows else len(h) + 2
              for i, h in enumerate(headers)]
    total_width = line_length or sum(widths)
    lines = [f'Model: "{name}"', "_" * total_width]

    def fmt(cells: List[str]) -> str:
        out = ""
        for i, (c, w) in enumerate(zip(cells, widths)):
            out += c.rjust(w - 2) + "  " if i == 2 else c.ljust(w)
        return out.rstrip()

    lines.append(fmt(headers))
    lines.append("=" * total_width)
    for i, r in enumerate(rows):
        lines.append(fmt(r))
        if i != len(rows) - 1:
            lines.append("")
    lines.append("=" * total_width)
    lines += [f" Total params: {total:,} ({readable_size(4 * total)})",
              f" Trainable params: {trainable:,} ({readable_size(4 * trainable)})",
              f" Non-trainable params: {total - trainable:,} "
              f"({readable_size(4 * (total - trainable))})", "_" * total_width]
    return lines


def readable_size(nbytes: float) -> str:
    """``nbytes`` as Keras 3's summary writes it: ``"5.04 KB"``, ``"0.00 B"``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes / 1024 < 1:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"
