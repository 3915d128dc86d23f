"""Draw a workflow definition as a standalone, accessible SVG diagram.

Pure Python (no graphviz): a small layered layout in the Sugiyama style.

1. Transitions that share a source and a destination are merged into one edge; a transition
   with several sources gives one edge per source.
2. A depth-first search from the initial state marks back edges (those that return to a state
   already on the current path, e.g. ``redress`` ineligible -> submitted). They are left out of
   the layering and drawn afterwards as dashed curves beside the boxes.
3. States are ranked by their longest path from the initial state; an edge that spans several
   ranks gets an invisible waypoint on every rank it crosses, so it is routed between boxes
   instead of through them.
4. States in a rank are ordered to reduce crossings (barycenter sweeps, best result kept), then
   given x positions close to the mean of their neighbours without overlapping (isotonic
   regression per rank, so boxes keep their order and spacing).
5. Trigger labels are placed along their edge at the candidate spot that overlaps the fewest
   boxes, labels and other edges.

The SVG uses presentation attributes only (no ``<style>``), so it can be inlined in a page
without leaking CSS, and carries ``role="img"``, an ``aria-label``, a ``<title>`` and a
``<desc>`` listing every transition in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from xml.sax.saxutils import escape

from workflows.definition import WorkflowDefinition

__all__ = ["workflow_svg"]

# Geometry (px).
_NODE_H = 36.0
_NODE_MIN_W = 110.0
_NODE_FONT = 13.0
_LABEL_FONT = 11.0
_LABEL_H = 15.0
_LAYER_GAP = 58.0  # vertical space between two ranks of boxes
_NODE_GAP = 40.0  # horizontal space between two boxes of a rank
_DUMMY_W = 14.0  # width reserved for an edge passing through a rank
_MARGIN = 24.0

# Colours (WCAG AA contrast on white).
_INK = "#0f172a"
_EDGE = "#475569"
_BACK = "#9a3412"
_NEXT = "#1d4ed8"
_CURRENT_FILL = "#1d4ed8"
_CURRENT_RING = "#f59e0b"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

_Point = tuple[float, float]
_Cubic = tuple[_Point, _Point, _Point, _Point]
_Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class _Edge:
    source: str
    dest: str
    triggers: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)
    back: bool = False
    chain: list[int] = field(default_factory=list)  # node ids, waypoints included
    path: list[_Cubic] = field(default_factory=list)
    label_spots: list[_Point] = field(default_factory=list)

    @property
    def loop(self) -> bool:
        return self.source == self.dest

    @property
    def text(self) -> str:
        return ", ".join(self.triggers)


@dataclass
class _Node:
    id: int
    state: str | None  # None for a waypoint of a long edge
    rank: int
    width: float
    x: float = 0.0
    y: float = 0.0


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
        self.order = _mark_back_edges(definition.states, definition.initial, self.edges)
        self.node_w = max(
            [_NODE_MIN_W] + [_text_width(_display(s), _NODE_FONT) + 28 for s in definition.states]
        )
        self.nodes: list[_Node] = []
        self.by_state: dict[str, _Node] = {}
        self.layers: list[list[int]] = []
        self.preds: dict[int, list[int]] = {}
        self.succs: dict[int, list[int]] = {}
        self.labels: dict[int, _Box] = {}  # edge index -> label box
        self.prefix = "wf-" + re.sub(r"[^A-Za-z0-9_-]", "-", definition.key)

    # -- layout --------------------------------------------------------------------------
    def render(self) -> str:
        self._rank()
        self._order()
        self._place()
        self._route()
        self._place_labels()
        return self._svg()

    def _rank(self) -> None:
        forward = [e for e in self.edges if not e.back and not e.loop]
        rank = self._ranks(forward)
        self._make_nodes(forward, rank)
        self._make_layers(forward)

    def _ranks(self, forward: list[_Edge]) -> dict[str, int]:
        """Longest-path ranks (Kahn's algorithm, ties by discovery order: deterministic)."""
        states = self.d.states
        indeg = dict.fromkeys(states, 0)
        out: dict[str, list[str]] = {s: [] for s in states}
        for e in forward:
            indeg[e.dest] += 1
            out[e.source].append(e.dest)
        position = {s: i for i, s in enumerate(self.order)}
        ready = sorted((s for s in states if indeg[s] == 0), key=position.__getitem__)
        rank = dict.fromkeys(states, 0)
        topo: list[str] = []
        while ready:
            s = ready.pop(0)
            topo.append(s)
            for t in out[s]:
                rank[t] = max(rank[t], rank[s] + 1)
                indeg[t] -= 1
                if indeg[t] == 0:
                    ready.append(t)
                    ready.sort(key=position.__getitem__)
        # A state nothing leads to (other than the initial one) sits just above its successors.
        has_pred = {e.dest for e in forward}
        for s in reversed(topo):
            if s != self.d.initial and s not in has_pred and out[s]:
                rank[s] = max(0, min(rank[t] for t in out[s]) - 1)
        return rank

    def _make_nodes(self, forward: list[_Edge], rank: dict[str, int]) -> None:
        """A box per state; an edge spanning ranks gets a waypoint on each rank between."""
        for s in self.d.states:
            node = _Node(len(self.nodes), s, rank[s], self.node_w)
            self.nodes.append(node)
            self.by_state[s] = node
        for e in forward:
            a, b = self.by_state[e.source], self.by_state[e.dest]
            e.chain = [a.id]
            for r in range(a.rank + 1, b.rank):
                waypoint = _Node(len(self.nodes), None, r, _DUMMY_W)
                self.nodes.append(waypoint)
                e.chain.append(waypoint.id)
            e.chain.append(b.id)

    def _make_layers(self, forward: list[_Edge]) -> None:
        self.layers = [[] for _ in range(max(n.rank for n in self.nodes) + 1)]
        self.preds = {n.id: [] for n in self.nodes}
        self.succs = {n.id: [] for n in self.nodes}
        for e in forward:
            for u, v in pairwise(e.chain):
                self.succs[u].append(v)
                self.preds[v].append(u)
        # Seed order: states in discovery order, waypoints next to where their edge starts.
        seed = {self.by_state[s].id: float(i) for i, s in enumerate(self.order)}
        for e in forward:
            for k, w in enumerate(e.chain[1:-1], start=1):
                seed[w] = seed[e.chain[0]] + 0.5 + k / 100
        for n in sorted(self.nodes, key=lambda n: seed[n.id]):
            self.layers[n.rank].append(n.id)

    # -- ordering each rank ------------------------------------------------------------------
    def _number(self, layer: list[int]) -> None:
        for i, n in enumerate(layer):
            self._pos[n] = float(i)

    def _barycenter(self, n: int, neighbours: dict[int, list[int]]) -> float:
        near = neighbours[n]
        return sum(self._pos[m] for m in near) / len(near) if near else self._pos[n]

    def _sweep(self, *, down: bool) -> None:
        indices = range(1, len(self.layers)) if down else range(len(self.layers) - 2, -1, -1)
        neighbours = self.preds if down else self.succs
        for i in indices:
            layer = self.layers[i]
            layer.sort(key=lambda n: (self._barycenter(n, neighbours), self._pos[n]))
            self._number(layer)

    def _local(self, i: int) -> int:
        """Crossings on both sides of rank ``i``."""
        total = 0
        if i > 0:
            total += self._layer_crossings(self.layers[i - 1], self._pos)
        if i + 1 < len(self.layers):
            total += self._layer_crossings(self.layers[i], self._pos)
        return total

    def _swap(self, i: int, j: int, *, allow_ties: bool) -> bool:
        """Swap neighbours ``j`` and ``j+1`` of rank ``i`` if that removes crossings (or, with
        ``allow_ties``, changes nothing); True when crossings went down."""
        layer = self.layers[i]
        before = self._local(i)
        layer[j], layer[j + 1] = layer[j + 1], layer[j]
        self._number(layer)
        after = self._local(i)
        if after < before:
            return True
        if not (allow_ties and after == before):
            layer[j], layer[j + 1] = layer[j + 1], layer[j]
            self._number(layer)
        return False

    def _transpose(self, *, allow_ties: bool = False) -> None:
        """Swap neighbours in a rank while that removes crossings.

        With ``allow_ties`` one pass also makes swaps that change nothing, which lets the
        next sweep escape a local minimum (the best ordering seen is kept anyway).
        """
        improved = True
        while improved:
            improved = False
            for i, layer in enumerate(self.layers):
                for j in range(len(layer) - 1):
                    improved |= self._swap(i, j, allow_ties=allow_ties)
            if allow_ties:
                break

    def _order(self) -> None:
        """Order each rank to reduce crossings: barycenter sweeps plus adjacent swaps."""
        self._pos: dict[int, float] = {}
        for layer in self.layers:
            self._number(layer)
        self._sweep(down=True)
        self._transpose()
        best = [list(layer) for layer in self.layers]
        best_crossings = self._crossings(self._pos)
        for _ in range(6):
            if best_crossings == 0:
                break
            self._transpose(allow_ties=True)
            self._sweep(down=False)
            self._sweep(down=True)
            self._transpose()
            crossings = self._crossings(self._pos)
            if crossings < best_crossings:
                best, best_crossings = [list(layer) for layer in self.layers], crossings
        self.layers = best

    def _crossings(self, pos: dict[int, float]) -> int:
        return sum(self._layer_crossings(layer, pos) for layer in self.layers[:-1])

    def _layer_crossings(self, upper: list[int], pos: dict[int, float]) -> int:
        """Crossings between the edges leaving rank ``upper`` and the next rank."""
        pairs = [(pos[u], pos[v]) for u in upper for v in self.succs[u]]
        total = 0
        for i, (a1, b1) in enumerate(pairs):
            for a2, b2 in pairs[i + 1 :]:
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
        return total

    def _place(self) -> None:
        nodes = self.nodes
        for layer in self.layers:
            xs = _spread(layer, [0.0] * len(layer), nodes)
            for n, x in zip(layer, xs, strict=True):
                nodes[n].x = x

        def align(neighbours: dict[int, list[int]], layers: list[list[int]]) -> None:
            for layer in layers:
                desired = []
                for n in layer:
                    near = neighbours[n]
                    desired.append(
                        sum(nodes[m].x for m in near) / len(near) if near else nodes[n].x
                    )
                for n, x in zip(layer, _spread(layer, desired, nodes), strict=True):
                    nodes[n].x = x

        for _ in range(6):
            align(self.preds, self.layers[1:])
            align(self.succs, self.layers[-2::-1])
        align(self.preds, self.layers[1:])

        pitch = _NODE_H + _LAYER_GAP
        for n in nodes:
            n.y = n.rank * pitch

    # -- edges -----------------------------------------------------------------------------
    def _route(self) -> None:
        # Spread the ports of a box's outgoing (bottom) and incoming (top) edges by direction.
        out_ports: dict[int, list[tuple[float, _Edge]]] = {}
        in_ports: dict[int, list[tuple[float, _Edge]]] = {}
        for e in self.edges:
            if e.back or e.loop:
                continue
            out_ports.setdefault(e.chain[0], []).append((self.nodes[e.chain[1]].x, e))
            in_ports.setdefault(e.chain[-1], []).append((self.nodes[e.chain[-2]].x, e))
        start_x: dict[int, float] = {}
        end_x: dict[int, float] = {}
        for ports, offsets in ((out_ports, start_x), (in_ports, end_x)):
            for n, items in ports.items():
                items.sort(key=lambda item: item[0])
                k = len(items)
                step = min(22.0, self.node_w * 0.6 / (k - 1)) if k > 1 else 0.0
                for i, (_, e) in enumerate(items):
                    offsets[id(e)] = self.nodes[n].x + (i - (k - 1) / 2) * step

        for e in self.edges:
            if e.loop:
                node = self.by_state[e.source]
                x0, y = node.x + self.node_w / 2 + self._ring(e.source), node.y
                e.path = [((x0, y - 8), (x0 + 46, y - 30), (x0 + 46, y + 30), (x0, y + 8))]
                e.label_spots = [(x0 + 46 + _text_width(e.text, _LABEL_FONT) / 2 + 2, y)]
            elif e.back:
                self._route_back(e)
            else:
                self._route_forward(e, start_x[id(e)], end_x[id(e)])

    def _route_forward(self, e: _Edge, start_x: float, end_x: float) -> None:
        h = _NODE_H / 2
        first, last = self.nodes[e.chain[0]], self.nodes[e.chain[-1]]
        points: list[_Point] = [(start_x, first.y + h)]
        for w in e.chain[1:-1]:
            wp = self.nodes[w]
            points += [(wp.x, wp.y - h), (wp.x, wp.y + h)]
        points.append((end_x, last.y - h - self._ring(e.dest)))
        for i in range(0, len(points) - 1):
            p, q = points[i], points[i + 1]
            if i % 2 == 0:  # between two ranks: an S-curve leaving and entering vertically
                mid = (p[1] + q[1]) / 2
                e.path.append((p, (p[0], mid), (q[0], mid), q))
                for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
                    e.label_spots.append(_bezier(e.path[-1], t))
            else:  # straight through a waypoint's rank
                e.path.append((p, _lerp(p, q, 1 / 3), _lerp(p, q, 2 / 3), q))
                e.label_spots.append(_lerp(p, q, 0.5))

    def _route_back(self, e: _Edge) -> None:
        src, dst = self.by_state[e.source], self.by_state[e.dest]
        half = self.node_w / 2
        lo, hi = dst.rank, src.rank
        span = hi - lo
        bulge = 34.0 + 16.0 * span
        scores = {}
        for side in (1, -1):
            edge_x = max(src.x, dst.x) + half if side > 0 else min(src.x, dst.x) - half
            # Count what lies in the band the curve sweeps through on this side.
            score = 0.0
            for n in self.nodes:
                if lo <= n.rank <= hi and n.state not in (e.source, e.dest):
                    near = n.x - n.width / 2 if side > 0 else -(n.x + n.width / 2)
                    if -n.width < near - side * edge_x < bulge + 60:
                        score += 1.0 if n.state else 0.5
            for other in self.edges:
                if other.back and other.path:
                    other_side = 1 if other.path[0][1][0] > other.path[0][0][0] else -1
                    top = self.by_state[other.dest].rank
                    bottom = self.by_state[other.source].rank
                    if other_side == side and top <= hi and lo <= bottom:
                        score += 2.0
            scores[side] = score
        side = 1 if scores[1] <= scores[-1] else -1
        p0 = (src.x + side * (half + self._ring(e.source)), src.y - 6)
        p3 = (dst.x + side * (half + self._ring(e.dest)), dst.y + 6)
        outer = max(p0[0], p3[0]) + bulge if side > 0 else min(p0[0], p3[0]) - bulge
        e.path = [(p0, (outer, p0[1]), (outer, p3[1]), p3)]
        label_w = _text_width(e.text, _LABEL_FONT) + 8
        for t in (0.5, 0.4, 0.6, 0.3, 0.7):
            x, y = _bezier(e.path[0], t)
            e.label_spots += [(x, y), (x + side * (label_w / 2 + 3), y)]

    def _ring(self, state: str) -> float:
        """How far outside its box an arrow into ``state`` must stop (the current ring)."""
        return 5.0 if state == self.current else 0.0

    def _place_labels(self) -> None:
        node_boxes = [
            (n.x - n.width / 2, n.y - _NODE_H / 2, n.x + n.width / 2, n.y + _NODE_H / 2)
            for n in self.nodes
            if n.state is not None
        ]
        samples = {i: _samples(e.path) for i, e in enumerate(self.edges)}
        # Labels on crowded places first: the back edges and fans of edges leaving one box.
        fan = {}
        for e in self.edges:
            fan[e.source] = fan.get(e.source, 0) + 1
        order = sorted(
            range(len(self.edges)),
            key=lambda i: (not self.edges[i].back, -fan[self.edges[i].source], i),
        )
        placed: list[_Box] = []
        for i in order:
            e = self.edges[i]
            w = _text_width(e.text, _LABEL_FONT) + 8
            best: tuple[float, _Box] | None = None
            for preference, (cx, cy) in enumerate(e.label_spots):
                box = (cx - w / 2, cy - _LABEL_H / 2, cx + w / 2, cy + _LABEL_H / 2)
                score = preference * 0.5
                score += 50 * sum(_overlap(box, b) for b in node_boxes)
                score += 50 * sum(_overlap(box, b) for b in placed)
                # Another edge running under the label makes it ambiguous: keep clear of it.
                halo = (box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4)
                for j, pts in samples.items():
                    if j != i:
                        score += 10 * sum(1 for p in pts if _inside(p, halo))
                if best is None or score < best[0]:
                    best = (score, box)
            if best is not None:
                placed.append(best[1])
                self.labels[i] = best[1]

    # -- output ------------------------------------------------------------------------------
    def _svg(self) -> str:
        d, p = self.d, self.prefix
        pad = 6.0
        boxes: list[_Box] = [
            (
                n.x - n.width / 2 - pad,
                n.y - _NODE_H / 2 - pad,
                n.x + n.width / 2 + pad,
                n.y + _NODE_H / 2 + pad,
            )
            for n in self.nodes
            if n.state is not None
        ]
        boxes += list(self.labels.values())
        for e in self.edges:
            boxes += [(x, y, x, y) for x, y in _samples(e.path)]
        initial = self.by_state[d.initial]
        start = (initial.x, initial.y - _NODE_H / 2 - 26)
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
            f' L{_n(start[0])},{_n(initial.y - _NODE_H / 2)}" stroke="{_INK}"'
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

    def _edge_svg(self, i: int, e: _Edge) -> str:
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

    def _label_svg(self, i: int, e: _Edge) -> str:
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
            f' font-size="{_n(_LABEL_FONT)}" fill="{colour}"{weight}>{escape(e.text)}</text></g>'
        )

    def _node_svg(self, n: _Node) -> str:
        assert n.state is not None
        state = n.state
        w, h = n.width, _NODE_H
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
            pos += 38 + _text_width(text, 12) + 24
        return "".join(parts), max(pos - 24, 0.0)


# -- helpers ---------------------------------------------------------------------------------
def _merged_edges(definition: WorkflowDefinition) -> list[_Edge]:
    edges: dict[tuple[str, str], _Edge] = {}
    for t in definition.transitions:
        for source in t.sources:
            e = edges.setdefault((source, t.dest), _Edge(source, t.dest))
            if t.trigger not in e.triggers:
                e.triggers.append(t.trigger)
                e.labels.append(t.label)
            e.roles |= {str(r) for r in t.roles}
    return list(edges.values())


def _mark_back_edges(states: tuple[str, ...], initial: str, edges: list[_Edge]) -> list[str]:
    """Mark edges that close a cycle (depth-first from the initial state); return visit order."""
    out: dict[str, list[_Edge]] = {s: [] for s in states}
    for e in edges:
        if not e.loop:
            out[e.source].append(e)
    colour = dict.fromkeys(states, 0)  # 0 unseen, 1 on the current path, 2 done
    order: list[str] = []
    for root in (initial, *states):
        if colour[root]:
            continue
        colour[root] = 1
        order.append(root)
        stack = [(root, iter(out[root]))]
        while stack:
            node, pending = stack[-1]
            for e in pending:
                if colour[e.dest] == 1:
                    e.back = True
                elif colour[e.dest] == 0:
                    colour[e.dest] = 1
                    order.append(e.dest)
                    stack.append((e.dest, iter(out[e.dest])))
                    break
            else:
                colour[node] = 2
                stack.pop()
    return order


def _spread(layer: list[int], desired: list[float], nodes: list[_Node]) -> list[float]:
    """x positions closest (least squares) to ``desired`` that keep order and spacing.

    With x_i = y_i + offset_i the spacing constraints become y non-decreasing, which the
    pool-adjacent-violators algorithm solves exactly.
    """
    offsets = [0.0]
    for a, b in pairwise(layer):
        na, nb = nodes[a], nodes[b]
        gap = _NODE_GAP if na.state and nb.state else _NODE_GAP / 2
        offsets.append(offsets[-1] + (na.width + nb.width) / 2 + gap)
    blocks: list[list[float]] = []  # [sum, count]
    for target in (d - o for d, o in zip(desired, offsets, strict=True)):
        blocks.append([target, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    ys: list[float] = []
    for total, count in blocks:
        ys += [total / count] * int(count)
    return [y + o for y, o in zip(ys, offsets, strict=True)]


def _display(state: str) -> str:
    return state.replace("_", " ")


def _text_width(text: str, size: float) -> float:
    """A generous estimate of rendered text width (no font metrics available)."""
    return sum(0.62 if c.isupper() or c in "mwMW" else 0.55 for c in text) * size


def _lerp(p: _Point, q: _Point, t: float) -> _Point:
    return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)


def _bezier(c: _Cubic, t: float) -> _Point:
    u = 1 - t
    a, b, cc, d = u**3, 3 * u * u * t, 3 * u * t * t, t**3
    return (
        a * c[0][0] + b * c[1][0] + cc * c[2][0] + d * c[3][0],
        a * c[0][1] + b * c[1][1] + cc * c[2][1] + d * c[3][1],
    )


def _samples(path: list[_Cubic], step: float = 3.0) -> list[_Point]:
    """Points every ~``step`` px along a path (control-polygon length as the estimate)."""
    points: list[_Point] = []
    for c in path:
        length = sum(_dist(a, b) for a, b in pairwise(c))
        count = max(4, int(length / step))
        points += [_bezier(c, k / count) for k in range(count + 1)]
    return points


def _dist(a: _Point, b: _Point) -> float:
    return ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5


def _overlap(a: _Box, b: _Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _inside(p: _Point, box: _Box) -> bool:
    return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]


def _path_d(path: list[_Cubic]) -> str:
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
