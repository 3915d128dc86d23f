"""Layered layout of a state graph for the workflow diagram (pure Python, no graphviz).

A small layout in the Sugiyama style; its input is the states, the initial state and the
merged edges (``workflows.diagram`` builds them from a workflow definition), its output the
box positions, the edge curves and the label boxes that ``workflows.diagram`` draws.

1. A depth-first search from the initial state marks back edges (those that return to a state
   already on the current path, e.g. ``redress`` ineligible -> submitted). They are left out of
   the layering and drawn afterwards as dashed curves beside the boxes.
2. States are ranked by their longest path from the initial state; an edge that spans several
   ranks gets an invisible waypoint on every rank it crosses, so it is routed between boxes
   instead of through them.
3. States in a rank are ordered to reduce crossings (barycenter sweeps, best result kept), then
   given x positions close to the mean of their neighbours without overlapping (isotonic
   regression per rank, so boxes keep their order and spacing).
4. Trigger labels are placed along their edge at the candidate spot that overlaps the fewest
   boxes, labels and other edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

__all__ = [
    "LABEL_FONT",
    "NODE_H",
    "Box",
    "Cubic",
    "Edge",
    "Layout",
    "Node",
    "Point",
    "path_samples",
    "text_width",
]

# Geometry (px).
NODE_H = 36.0
LABEL_FONT = 11.0
_LABEL_H = 15.0
_LAYER_GAP = 58.0  # vertical space between two ranks of boxes
_NODE_GAP = 40.0  # horizontal space between two boxes of a rank
_DUMMY_W = 14.0  # width reserved for an edge passing through a rank

Point = tuple[float, float]
Cubic = tuple[Point, Point, Point, Point]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Edge:
    source: str
    dest: str
    triggers: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)
    back: bool = False
    chain: list[int] = field(default_factory=list)  # node ids, waypoints included
    path: list[Cubic] = field(default_factory=list)
    label_spots: list[Point] = field(default_factory=list)

    @property
    def loop(self) -> bool:
        return self.source == self.dest

    @property
    def text(self) -> str:
        return ", ".join(self.triggers)


@dataclass
class Node:
    id: int
    state: str | None  # None for a waypoint of a long edge
    rank: int
    width: float
    x: float = 0.0
    y: float = 0.0


class Layout:
    """Positions of the boxes, curves of the edges and boxes of the labels of one graph.

    ``edges`` are marked (``back``) and given their ``chain``, ``path`` and ``label_spots``;
    ``current`` only matters for the ring drawn around it, which arrows stop short of.
    """

    def __init__(
        self,
        states: tuple[str, ...],
        initial: str,
        edges: list[Edge],
        node_w: float,
        current: str | None,
    ) -> None:
        self.states = states
        self.initial = initial
        self.current = current
        self.edges = edges
        self.order = mark_back_edges(states, initial, edges)
        self.node_w = node_w
        self.nodes: list[Node] = []
        self.by_state: dict[str, Node] = {}
        self.layers: list[list[int]] = []
        self.preds: dict[int, list[int]] = {}
        self.succs: dict[int, list[int]] = {}
        self.labels: dict[int, Box] = {}  # edge index -> label box

    def run(self) -> None:
        self._rank()
        self._order()
        self._place()
        self._route()
        self._place_labels()

    def _rank(self) -> None:
        forward = [e for e in self.edges if not e.back and not e.loop]
        rank = self._ranks(forward)
        self._make_nodes(forward, rank)
        self._make_layers(forward)

    def _ranks(self, forward: list[Edge]) -> dict[str, int]:
        """Longest-path ranks (Kahn's algorithm, ties by discovery order: deterministic)."""
        states = self.states
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
            if s != self.initial and s not in has_pred and out[s]:
                rank[s] = max(0, min(rank[t] for t in out[s]) - 1)
        return rank

    def _make_nodes(self, forward: list[Edge], rank: dict[str, int]) -> None:
        """A box per state; an edge spanning ranks gets a waypoint on each rank between."""
        for s in self.states:
            node = Node(len(self.nodes), s, rank[s], self.node_w)
            self.nodes.append(node)
            self.by_state[s] = node
        for e in forward:
            a, b = self.by_state[e.source], self.by_state[e.dest]
            e.chain = [a.id]
            for r in range(a.rank + 1, b.rank):
                waypoint = Node(len(self.nodes), None, r, _DUMMY_W)
                self.nodes.append(waypoint)
                e.chain.append(waypoint.id)
            e.chain.append(b.id)

    def _make_layers(self, forward: list[Edge]) -> None:
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

        pitch = NODE_H + _LAYER_GAP
        for n in nodes:
            n.y = n.rank * pitch

    # -- edges -----------------------------------------------------------------------------
    def _route(self) -> None:
        # Spread the ports of a box's outgoing (bottom) and incoming (top) edges by direction.
        out_ports: dict[int, list[tuple[float, Edge]]] = {}
        in_ports: dict[int, list[tuple[float, Edge]]] = {}
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
                e.label_spots = [(x0 + 46 + text_width(e.text, LABEL_FONT) / 2 + 2, y)]
            elif e.back:
                self._route_back(e)
            else:
                self._route_forward(e, start_x[id(e)], end_x[id(e)])

    def _route_forward(self, e: Edge, start_x: float, end_x: float) -> None:
        h = NODE_H / 2
        first, last = self.nodes[e.chain[0]], self.nodes[e.chain[-1]]
        points: list[Point] = [(start_x, first.y + h)]
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

    def _route_back(self, e: Edge) -> None:
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
        label_w = text_width(e.text, LABEL_FONT) + 8
        for t in (0.5, 0.4, 0.6, 0.3, 0.7):
            x, y = _bezier(e.path[0], t)
            e.label_spots += [(x, y), (x + side * (label_w / 2 + 3), y)]

    def _ring(self, state: str) -> float:
        """How far outside its box an arrow into ``state`` must stop (the current ring)."""
        return 5.0 if state == self.current else 0.0

    def _place_labels(self) -> None:
        node_boxes = [
            (n.x - n.width / 2, n.y - NODE_H / 2, n.x + n.width / 2, n.y + NODE_H / 2)
            for n in self.nodes
            if n.state is not None
        ]
        samples = {i: path_samples(e.path) for i, e in enumerate(self.edges)}
        # Labels on crowded places first: the back edges and fans of edges leaving one box.
        fan = {}
        for e in self.edges:
            fan[e.source] = fan.get(e.source, 0) + 1
        order = sorted(
            range(len(self.edges)),
            key=lambda i: (not self.edges[i].back, -fan[self.edges[i].source], i),
        )
        placed: list[Box] = []
        for i in order:
            e = self.edges[i]
            w = text_width(e.text, LABEL_FONT) + 8
            best: tuple[float, Box] | None = None
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


# -- helpers ---------------------------------------------------------------------------------
def mark_back_edges(states: tuple[str, ...], initial: str, edges: list[Edge]) -> list[str]:
    """Mark edges that close a cycle (depth-first from the initial state); return visit order."""
    out: dict[str, list[Edge]] = {s: [] for s in states}
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


def _spread(layer: list[int], desired: list[float], nodes: list[Node]) -> list[float]:
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


def text_width(text: str, size: float) -> float:
    """A generous estimate of rendered text width (no font metrics available)."""
    return sum(0.62 if c.isupper() or c in "mwMW" else 0.55 for c in text) * size


def _lerp(p: Point, q: Point, t: float) -> Point:
    return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)


def _bezier(c: Cubic, t: float) -> Point:
    u = 1 - t
    a, b, cc, d = u**3, 3 * u * u * t, 3 * u * t * t, t**3
    return (
        a * c[0][0] + b * c[1][0] + cc * c[2][0] + d * c[3][0],
        a * c[0][1] + b * c[1][1] + cc * c[2][1] + d * c[3][1],
    )


def path_samples(path: list[Cubic], step: float = 3.0) -> list[Point]:
    """Points every ~``step`` px along a path (control-polygon length as the estimate)."""
    points: list[Point] = []
    for c in path:
        length = sum(_dist(a, b) for a, b in pairwise(c))
        count = max(4, int(length / step))
        points += [_bezier(c, k / count) for k in range(count + 1)]
    return points


def _dist(a: Point, b: Point) -> float:
    return ((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _inside(p: Point, box: Box) -> bool:
    return box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]
