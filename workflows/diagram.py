"""Draw a workflow definition as a standalone, accessible SVG diagram.

Pure Python (no graphviz). Transitions that share a source and a destination are merged
into one edge; a transition with several sources gives one edge per source.
``workflows.diagram_layout`` ranks, orders and places the states and routes the edges; this
module writes the SVG.

The SVG uses presentation attributes only (no ``<style>``), so it can be inlined in a page
without leaking CSS, and carries ``role="img"``, an ``aria-label``, a ``<title>`` and a
``<desc>`` listing every transition in words.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from workflows.definition import WorkflowDefinition
from workflows.diagram_layout import (
    LABEL_FONT,
    NODE_H,
    Box,
    Cubic,
    Edge,
    Layout,
    Node,
    path_samples,
    text_width,
)

__all__ = ["workflow_svg"]

# Geometry (px).
_NODE_MIN_W = 110.0
_NODE_FONT = 13.0
_MARGIN = 24.0

# Colours (WCAG AA contrast on white).
_INK = "#0f172a"
_EDGE = "#475569"
_BACK = "#9a3412"
_NEXT = "#1d4ed8"
_CURRENT_FILL = "#1d4ed8"
_CURRENT_RING = "#f59e0b"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def workflow_svg(definition: WorkflowDefinition, *, current: str | None = None) -> str:
    """Return a standalone SVG drawing of ``definition``.

    States are rounded boxes (final states with a double border, ``current`` filled and ringed
    so a page can show "you are here"); transitions are arrows labelled with their trigger.
    """
    return _Diagram(definition, current).render()


class _Diagram:
    def __init__(self, definition: WorkflowDefinition, current: str | None) -> None:
        self.d = definition
        if current is not None and current not in definition.states:
            raise ValueError(f"{definition.key} has no state {current!r}")
        self.current = current
        self.edges = _merged_edges(definition)
        self.node_w = max(
            [_NODE_MIN_W] + [text_width(_display(s), _NODE_FONT) + 28 for s in definition.states]
        )
        self.nodes: list[Node] = []
        self.by_state: dict[str, Node] = {}
        self.labels: dict[int, Box] = {}  # edge index -> label box
        self.prefix = "wf-" + re.sub(r"[^A-Za-z0-9_-]", "-", definition.key)

    def render(self) -> str:
        layout = Layout(self.d.states, self.d.initial, self.edges, self.node_w, self.current)
        layout.run()
        self.nodes, self.by_state, self.labels = layout.nodes, layout.by_state, layout.labels
        return self._svg()

    # -- output ------------------------------------------------------------------------------
    def _svg(self) -> str:
        d, p = self.d, self.prefix
        pad = 6.0
        boxes: list[Box] = [
            (
                n.x - n.width / 2 - pad,
                n.y - NODE_H / 2 - pad,
                n.x + n.width / 2 + pad,
                n.y + NODE_H / 2 + pad,
            )
            for n in self.nodes
            if n.state is not None
        ]
        boxes += list(self.labels.values())
        for e in self.edges:
            boxes += [(x, y, x, y) for x, y in path_samples(e.path)]
        initial = self.by_state[d.initial]
        start = (initial.x, initial.y - NODE_H / 2 - 26)
        boxes.append((start[0] - 7, start[1] - 7, start[0] + 7, start[1] + 7))
        x0 = min(b[0] for b in boxes) - _MARGIN
        y0 = min(b[1] for b in boxes) - _MARGIN
        x1 = max(b[2] for b in boxes) + _MARGIN
        y1 = max(b[3] for b in boxes) + _MARGIN

        legend, legend_w = self._legend()
        width = max(x1 - x0, legend_w + 2 * _MARGIN)
        height = y1 - y0 + (40 if legend else 0)
        dx = -x0 + (width - (x1 - x0)) / 2
        dy = -y0

        title = f"{d.name.replace('_', ' ').capitalize()} workflow, version {d.version}"
        aria = f"{title}: {len(d.states)} states and {len(d.transitions)} transitions" + (
            f"; current state: {_display(self.current)}" if self.current else ""
        )
        out: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_attr(aria)}"'
            f' viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}"'
            f' font-family="{_attr(_FONT)}" class="workflow-diagram"'
            f' data-workflow="{_attr(d.key)}">',
            f"<title>{escape(title)}</title>",
            f"<desc>{escape(self._description())}</desc>",
            "<defs>",
        ]
        for name, colour in (("arrow", _EDGE), ("back", _BACK), ("next", _NEXT)):
            out.append(
                f'<marker id="{p}-{name}" viewBox="0 0 10 10" refX="9" refY="5"'
                ' markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10"'
                ' orient="auto-start-reverse">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            )
        out.append("</defs>")
        out.append('<rect width="100%" height="100%" fill="#ffffff"/>')
        out.append(f'<g transform="translate({_n(dx)},{_n(dy)})">')

        # Start marker: a filled dot with an arrow into the initial state.
        out.append(
            f'<g class="start" aria-hidden="true"><circle cx="{_n(start[0])}" cy="{_n(start[1])}"'
            f' r="6" fill="{_INK}"/><path d="M{_n(start[0])},{_n(start[1] + 6)}'
            f' L{_n(start[0])},{_n(initial.y - NODE_H / 2)}" stroke="{_INK}"'
            f' stroke-width="1.5" fill="none" marker-end="url(#{p}-arrow)"/></g>'
        )

        out.append('<g class="transitions">')
        for i, e in enumerate(self.edges):
            out.append(self._edge_svg(i, e))
        out.append("</g>")
        out.append('<g class="states">')
        for s in d.states:
            out.append(self._node_svg(self.by_state[s]))
        out.append("</g>")
        out.append('<g class="transition-labels">')
        for i, e in enumerate(self.edges):
            out.append(self._label_svg(i, e))
        out.append("</g>")
        out.append("</g>")
        if legend:
            out.append(
                f'<g class="legend" aria-hidden="true"'
                f' transform="translate({_n(_MARGIN)},{_n(height - _MARGIN - 8)})">{legend}</g>'
            )
        out.append("</svg>")
        return "\n".join(out)

    def _edge_svg(self, i: int, e: Edge) -> str:
        p = self.prefix
        nxt = self.current is not None and e.source == self.current and not e.loop
        if nxt:
            colour, marker = _NEXT, "next"
        else:
            colour, marker = (_BACK, "back") if e.back else (_EDGE, "arrow")
        d = _path_d(e.path)
        dash = ' stroke-dasharray="6 4"' if e.back else ""
        width = "2.2" if nxt else "1.5"
        tip = "; ".join(
            f"{label} ({trigger})" for trigger, label in zip(e.triggers, e.labels, strict=True)
        )
        roles = ", ".join(sorted(e.roles))
        kind = "transition back" if e.back else "transition"
        return (
            f'<g class="{kind}" data-source="{_attr(e.source)}" data-dest="{_attr(e.dest)}"'
            f' data-triggers="{_attr(" ".join(e.triggers))}">'
            f"<title>{escape(f'{tip}: {e.source} → {e.dest}; roles: {roles}')}</title>"
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}"{dash}'
            f' marker-end="url(#{p}-{marker})"/></g>'
        )

    def _label_svg(self, i: int, e: Edge) -> str:
        box = self.labels[i]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        nxt = self.current is not None and e.source == self.current and not e.loop
        colour = _NEXT if nxt else (_BACK if e.back else "#1e293b")
        weight = ' font-weight="600"' if nxt else ""
        return (
            f'<g class="transition-label" data-source="{_attr(e.source)}"'
            f' data-dest="{_attr(e.dest)}">'
            f'<rect x="{_n(box[0])}" y="{_n(box[1])}" width="{_n(box[2] - box[0])}"'
            f' height="{_n(box[3] - box[1])}" rx="3" fill="#ffffff" fill-opacity="0.92"/>'
            f'<text x="{_n(cx)}" y="{_n(cy)}" text-anchor="middle" dominant-baseline="central"'
            f' font-size="{_n(LABEL_FONT)}" fill="{colour}"{weight}>{escape(e.text)}</text></g>'
        )

    def _node_svg(self, n: Node) -> str:
        assert n.state is not None
        state = n.state
        w, h = n.width, NODE_H
        x, y = n.x - w / 2, n.y - h / 2
        is_current = state == self.current
        is_final = state in self.d.final_states
        classes = ["state"]
        if is_final:
            classes.append("final")
        if state == self.d.initial:
            classes.append("initial")
        if is_current:
            classes.append("current")
        fill = _CURRENT_FILL if is_current else "#ffffff"
        stroke = "#1e3a8a" if is_current else "#334155"
        text_fill = "#ffffff" if is_current else _INK
        parts = [
            f'<g class="{" ".join(classes)}" data-state="{_attr(state)}"'
            + (' aria-current="step"' if is_current else "")
            + ">",
            f"<title>{escape(self._state_title(state))}</title>",
        ]
        if is_current:
            parts.append(
                f'<rect x="{_n(x - 5)}" y="{_n(y - 5)}" width="{_n(w + 10)}" height="{_n(h + 10)}"'
                f' rx="13" fill="none" stroke="{_CURRENT_RING}" stroke-width="3"/>'
            )
        parts.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" rx="9"'
            f' fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
        if is_final:
            parts.append(
                f'<rect x="{_n(x + 3.5)}" y="{_n(y + 3.5)}" width="{_n(w - 7)}"'
                f' height="{_n(h - 7)}" rx="6" fill="none" stroke="{stroke}" stroke-width="1.2"/>'
            )
        weight = "700" if is_current else "500"
        parts.append(
            f'<text x="{_n(n.x)}" y="{_n(n.y)}" text-anchor="middle" dominant-baseline="central"'
            f' font-size="{_n(_NODE_FONT)}" font-weight="{weight}" fill="{text_fill}">'
            f"{escape(_display(state))}</text></g>"
        )
        return "".join(parts)

    def _state_title(self, state: str) -> str:
        notes = []
        if state == self.d.initial:
            notes.append("initial state")
        if state in self.d.final_states:
            notes.append("final state")
        if state == self.current:
            notes.append("current state")
        return state + (f" ({', '.join(notes)})" if notes else "")

    def _description(self) -> str:
        d = self.d
        states = ", ".join(self._state_title(s) for s in d.states)
        moves = "; ".join(
            f"{e.text}: {e.source} → {e.dest}" + (" (back)" if e.back else "") for e in self.edges
        )
        here = f" Current state: {self.current}." if self.current else ""
        return f"States: {states}. Transitions: {moves}.{here}"

    def _legend(self) -> tuple[str, float]:
        items: list[tuple[str, str]] = []
        x = 0.0
        if self.d.final_states:
            items.append(
                (
                    f'<rect x="{_n(x)}" y="-9" width="30" height="18" rx="5" fill="#ffffff"'
                    ' stroke="#334155" stroke-width="1.5"/>'
                    f'<rect x="{_n(x + 3)}" y="-6" width="24" height="12" rx="3" fill="none"'
                    ' stroke="#334155" stroke-width="1.2"/>',
                    "final state",
                )
            )
        if self.current:
            items.append(
                (
                    f'<rect x="{_n(x)}" y="-9" width="30" height="18" rx="5" fill="{_CURRENT_FILL}"'
                    f' stroke="{_CURRENT_RING}" stroke-width="2.5"/>',
                    "current state",
                )
            )
        if any(e.back for e in self.edges):
            items.append(
                (
                    f'<path d="M{_n(x)},0 L{_n(x + 28)},0" stroke="{_BACK}" stroke-width="1.5"'
                    f' stroke-dasharray="6 4" marker-end="url(#{self.prefix}-back)"/>',
                    "goes back to an earlier state",
                )
            )
        parts, pos = [], 0.0
        for shape, text in items:
            parts.append(
                f'<g transform="translate({_n(pos)},0)">{shape}<text x="38" y="0"'
                f' dominant-baseline="central" font-size="12" fill="{_INK}">'
                f"{escape(text)}</text></g>"
            )
            pos += 38 + text_width(text, 12) + 24
        return "".join(parts), max(pos - 24, 0.0)


# -- helpers ---------------------------------------------------------------------------------
def _merged_edges(definition: WorkflowDefinition) -> list[Edge]:
    edges: dict[tuple[str, str], Edge] = {}
    for t in definition.transitions:
        for source in t.sources:
            e = edges.setdefault((source, t.dest), Edge(source, t.dest))
            if t.trigger not in e.triggers:
                e.triggers.append(t.trigger)
                e.labels.append(t.label)
            e.roles |= {str(r) for r in t.roles}
    return list(edges.values())


def _display(state: str) -> str:
    return state.replace("_", " ")


def _path_d(path: list[Cubic]) -> str:
    if not path:
        return ""
    first = path[0][0]
    parts = [f"M{_n(first[0])},{_n(first[1])}"]
    for _, c1, c2, end in path:
        parts.append(f"C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} {_n(end[0])},{_n(end[1])}")
    return " ".join(parts)


def _n(v: float) -> str:
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})
