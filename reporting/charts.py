"""Charts as SVG, drawn on the server: no script, no CDN, readable without JavaScript.

Plain Python over labelled integers; the caller formats the figures (kronor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f4e79", "#2e75b6", "#70ad47", "#ed7d31", "#7f7f7f", "#ffc000", "#5b9bd5", "#a5a5a5")
MUTED = "#bfbfbf"

Fmt = Callable[[int], str]


@dataclass
class Node:
    key: str
    label: str
    column: int
    muted: bool = False


@dataclass
class Link:
    source: str
    target: str
    value: int


def _text(x: float, y: float, text: str, anchor: str = "start", size: int = 11, extra="") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
        f"{escape(text)}</text>"
    )


def sankey(
    nodes: list[Node],
    links: list[Link],
    fmt: Fmt,
    *,
    width: int = 1100,
    height: int = 480,
    title: str = "",
) -> str:
    """A left-to-right money-flow diagram: band widths proportional to the kronor."""
    links = [link for link in links if link.value > 0]
    by_key = {n.key: n for n in nodes}
    incoming: dict[str, int] = {}
    outgoing: dict[str, int] = {}
    for link in links:
        outgoing[link.source] = outgoing.get(link.source, 0) + link.value
        incoming[link.target] = incoming.get(link.target, 0) + link.value
    used = [n for n in nodes if incoming.get(n.key) or outgoing.get(n.key)]
    if not used:
        return ""
    value = {n.key: max(incoming.get(n.key, 0), outgoing.get(n.key, 0)) for n in used}
    columns = max(n.column for n in used) + 1
    per_column: dict[int, list[Node]] = {}
    for node in used:
        per_column.setdefault(node.column, []).append(node)
    pad, top, node_w = 8, 24, 12
    label_room = 180
    usable = height - top - 8
    scale = min(
        (usable - pad * (len(col) - 1)) / max(sum(value[n.key] for n in col), 1)
        for col in per_column.values()
    )
    step = (width - label_room - node_w) / max(columns - 1, 1)
    pos: dict[str, tuple[float, float, float]] = {}  # x, y, height
    for column, col in per_column.items():
        y = top
        for node in col:
            h = max(value[node.key] * scale, 1.0)
            pos[node.key] = (column * step, y, h)
            y += h + pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, Arial, sans-serif">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    out_off = dict.fromkeys(pos, 0.0)
    in_off = dict.fromkeys(pos, 0.0)
    for link in links:
        if link.source not in pos or link.target not in pos:
            continue
        sx, sy, _sh = pos[link.source]
        tx, ty, _th = pos[link.target]
        h = link.value * scale
        x0, y0 = sx + node_w, sy + out_off[link.source]
        x1, y1 = tx, ty + in_off[link.target]
        out_off[link.source] += h
        in_off[link.target] += h
        mid = (x0 + x1) / 2
        colour = MUTED if by_key[link.target].muted else PALETTE[by_key[link.source].column % 8]
        parts.append(
            f'<path d="M{x0:.1f},{y0:.1f} C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f} '
            f"L{x1:.1f},{y1 + h:.1f} C{mid:.1f},{y1 + h:.1f} {mid:.1f},{y0 + h:.1f} "
            f'{x0:.1f},{y0 + h:.1f} Z" fill="{colour}" fill-opacity="0.35">'
            f"<title>{escape(by_key[link.source].label)} → {escape(by_key[link.target].label)}: "
            f"{escape(fmt(link.value))}</title></path>"
        )
    label_floor: dict[int, float] = {}
    for node in used:
        x, y, h = pos[node.key]
        colour = MUTED if node.muted else PALETTE[node.column % 8]
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" fill="{colour}">'
            f"<title>{escape(node.label)}: {escape(fmt(value[node.key]))}</title></rect>"
        )
        # Labels to the right of their node, haloed so they stay readable over the bands;
        # a label that would run into the one above moves down, or is left to the tooltip.
        room = label_room if node.column == columns - 1 else step - node_w - 6
        chars = max(int(room / 6.2), 6)
        label = node.label if len(node.label) <= chars else node.label[: chars - 1] + "…"
        halo = ' paint-order="stroke" stroke="#fff" stroke-width="3"'
        two_lines = h >= 20
        ly = max(y + h / 2 + (-1 if two_lines else 4), label_floor.get(node.column, 0) + 10)
        if ly > y + h + 12:
            continue
        parts.append(_text(x + node_w + 4, ly, label, "start", 10, halo))
        label_floor[node.column] = ly
        if two_lines:
            parts.append(_text(x + node_w + 4, ly + 11, fmt(value[node.key]), "start", 9, halo))
            label_floor[node.column] = ly + 11
    parts.append("</svg>")
    return "".join(parts)


def bars(
    items: list[tuple[str, list[int]]],
    series: list[str],
    fmt: Fmt,
    *,
    width: int = 720,
    title: str = "",
) -> str:
    """Horizontal bars, one group per item, one bar per series (e.g. amount, allocated)."""
    if not items:
        return ""
    bar_h, gap, label_w, value_w, top = 12, 10, 220, 110, 8
    group_h = bar_h * len(series) + gap
    legend_h = 20 if len(series) > 1 else 0
    height = top + legend_h + group_h * len(items)
    biggest = max((v for _label, values in items for v in values if v), default=1) or 1
    span = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" '
        'font-family="DejaVu Sans, Arial, sans-serif">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    if legend_h:
        x = label_w
        for i, name in enumerate(series):
            parts.append(f'<rect x="{x}" y="{top}" width="10" height="10" fill="{PALETTE[i]}"/>')
            parts.append(_text(x + 14, top + 9, name, size=10))
            x += 20 + 7 * len(name)
    y = top + legend_h
    for label, values in items:
        short = label if len(label) <= 36 else label[:35] + "…"
        parts.append(_text(label_w - 6, y + bar_h * len(series) / 2 + 4, short, "end", 10))
        for i, value in enumerate(values):
            w = 0 if not value else max(span * value / biggest, 1)
            parts.append(
                f'<rect x="{label_w}" y="{y + i * bar_h}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[i]}"><title>{escape(label)}, {escape(series[i])}: '
                f"{escape(fmt(value or 0))}</title></rect>"
            )
            parts.append(_text(label_w + w + 4, y + i * bar_h + bar_h - 3, fmt(value or 0), size=9))
        y += group_h
    parts.append("</svg>")
    return "".join(parts)
