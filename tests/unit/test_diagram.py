"""The workflow draws itself as an accessible SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from workflows.call import CALL_V1
from workflows.definition import TransitionDef, WorkflowDefinition
from workflows.diagram import workflow_svg
from workflows.payment import PAYMENT_V1
from workflows.roles import Role
from workflows.voucher import VOUCHER_V1

NS = {"svg": "http://www.w3.org/2000/svg"}
SHIPPED = [VOUCHER_V1, CALL_V1, PAYMENT_V1]
OFFICER = frozenset({Role.OFFICER})


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _classes(el: ET.Element) -> set[str]:
    return set(el.get("class", "").split())


def _states(root: ET.Element) -> dict[str, ET.Element]:
    nodes = [g for g in root.iter(f"{{{NS['svg']}}}g") if "state" in _classes(g)]
    found = {g.get("data-state", ""): g for g in nodes}
    assert len(found) == len(nodes), "one node per state, no duplicates"
    return found


def _transitions(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{NS['svg']}}}g") if "transition" in _classes(g)]


def _label_texts(root: ET.Element) -> list[str]:
    return [
        "".join(t.itertext())
        for g in root.iter(f"{{{NS['svg']}}}g")
        if "transition-label" in _classes(g)
        for t in g.iter(f"{{{NS['svg']}}}text")
    ]


def _back_edges(root: ET.Element) -> set[tuple[str | None, str | None]]:
    return {
        (g.get("data-source"), g.get("data-dest"))
        for g in _transitions(root)
        if "back" in _classes(g)
    }


def _box(rect: ET.Element) -> tuple[float, float, float, float]:
    x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
    return x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.5 and min(a[3], b[3]) - max(a[1], b[1]) > 0.5


def _tiny(*transitions: TransitionDef, states: tuple[str, ...], **kw: object) -> WorkflowDefinition:
    return WorkflowDefinition(
        name="tiny", version=1, initial=states[0], states=states, transitions=transitions, **kw
    )


@pytest.mark.parametrize("definition", SHIPPED, ids=lambda d: d.key)
def test_shipped_workflows_render_as_accessible_svg(definition: WorkflowDefinition) -> None:
    svg = workflow_svg(definition)
    root = _parse(svg)

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img"
    assert definition.name in root.get("aria-label", "").lower()
    assert root.get("viewBox")
    title = root.find("svg:title", NS)
    assert title is not None and title.text and definition.name in title.text.lower()
    desc = root.find("svg:desc", NS)
    assert desc is not None and desc.text
    for trigger in definition.triggers:
        assert trigger in desc.text


@pytest.mark.parametrize("definition", SHIPPED, ids=lambda d: d.key)
def test_one_node_per_state_and_a_label_for_every_trigger(definition: WorkflowDefinition) -> None:
    root = _parse(workflow_svg(definition))

    assert set(_states(root)) == set(definition.states)
    labelled = {t for text in _label_texts(root) for t in text.split(", ")}
    assert labelled == set(definition.triggers)


@pytest.mark.parametrize("definition", SHIPPED, ids=lambda d: d.key)
def test_one_arrow_per_source_and_destination(definition: WorkflowDefinition) -> None:
    root = _parse(workflow_svg(definition))
    expected = {(s, t.dest) for t in definition.transitions for s in t.sources}

    arrows = [(g.get("data-source"), g.get("data-dest")) for g in _transitions(root)]
    assert sorted(arrows) == sorted(expected)
    for g in _transitions(root):
        path = g.find("svg:path", NS)
        assert path is not None and path.get("d", "").startswith("M")
        assert path.get("marker-end", "").startswith("url(#")


def test_final_states_have_a_double_border() -> None:
    nodes = _states(_parse(workflow_svg(VOUCHER_V1)))

    for state, g in nodes.items():
        rects = g.findall("svg:rect", NS)
        if state in VOUCHER_V1.final_states:
            assert "final" in _classes(g)
            assert len(rects) == 2
        else:
            assert "final" not in _classes(g)
            assert len(rects) == 1


@pytest.mark.parametrize("current", VOUCHER_V1.states)
def test_current_state_is_highlighted(current: str) -> None:
    root = _parse(workflow_svg(VOUCHER_V1, current=current))
    nodes = _states(root)

    highlighted = [s for s, g in nodes.items() if "current" in _classes(g)]
    assert highlighted == [current]
    g = nodes[current]
    assert g.get("aria-current") == "step"
    fills = {r.get("fill") for r in g.findall("svg:rect", NS)}
    assert fills - {"none", "#ffffff"}, "the current state is filled with a colour"
    for other, node in nodes.items():
        if other != current:
            assert {r.get("fill") for r in node.findall("svg:rect", NS)} <= {"#ffffff", "none"}
    assert current in root.get("aria-label", "").replace(" ", "_")


def test_without_current_nothing_is_highlighted() -> None:
    root = _parse(workflow_svg(VOUCHER_V1))

    assert not [g for g in _states(root).values() if "current" in _classes(g)]
    assert "current" not in root.get("aria-label", "")


def test_unknown_current_state_is_refused() -> None:
    with pytest.raises(ValueError, match="no state"):
        workflow_svg(VOUCHER_V1, current="nonsense")


def test_back_edges_of_the_voucher_workflow_are_drawn_as_such() -> None:
    root = _parse(workflow_svg(VOUCHER_V1))

    back = _back_edges(root)
    assert back == {
        ("ineligible", "submitted"),
        ("report_submitted", "contracted"),
        # An upheld evaluation redress: evaluated again.
        ("rejected", "eligible"),
        ("reserve", "eligible"),
        # A withheld or cancelled balance order: back to where it is prepared.
        ("payment_prepared", "report_approved"),
        ("payment_authorised", "report_approved"),
    }


def test_text_is_escaped() -> None:
    odd = 'a<&b "quoted"'
    definition = _tiny(
        TransitionDef("go<&", ("start",), odd, OFFICER, "Go <now> & then"),
        states=("start", odd),
        final_states=frozenset({odd}),
    )

    svg = workflow_svg(definition, current=odd)

    assert "a&lt;&amp;b" in svg
    assert "a<&b" not in svg and "go<&" not in svg
    root = _parse(svg)
    nodes = _states(root)
    assert set(nodes) == {"start", odd}
    assert "current" in _classes(nodes[odd])
    assert "a<&b" in "".join(nodes[odd].find("svg:text", NS).itertext())
    assert _label_texts(root) == ["go<&"]


def test_transitions_sharing_source_and_destination_are_merged() -> None:
    definition = _tiny(
        TransitionDef("approve", ("a",), "b", OFFICER, "Approve"),
        TransitionDef("fast_track", ("a",), "b", OFFICER, "Fast track"),
        TransitionDef("cancel", ("a", "b"), "c", OFFICER, "Cancel"),
        states=("a", "b", "c"),
    )
    root = _parse(workflow_svg(definition))

    arrows = {(g.get("data-source"), g.get("data-dest")): g for g in _transitions(root)}
    assert set(arrows) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert arrows[("a", "b")].get("data-triggers") == "approve fast_track"
    assert sorted(_label_texts(root)) == ["approve, fast_track", "cancel", "cancel"]


def test_loops_unreachable_states_and_long_back_edges_still_render() -> None:
    definition = _tiny(
        TransitionDef("a_b", ("a",), "b", OFFICER, "A to B"),
        TransitionDef("b_c", ("b",), "c", OFFICER, "B to C"),
        TransitionDef("c_d", ("c",), "d", OFFICER, "C to D"),
        TransitionDef("restart", ("d",), "a", OFFICER, "Start again"),
        TransitionDef("touch", ("b",), "b", OFFICER, "Touch"),
        TransitionDef("orphan_go", ("orphan",), "d", OFFICER, "Orphan"),
        states=("a", "b", "c", "d", "orphan", "island"),
    )
    root = _parse(workflow_svg(definition, current="b"))

    assert set(_states(root)) == {"a", "b", "c", "d", "orphan", "island"}
    assert {t for text in _label_texts(root) for t in text.split(", ")} == set(definition.triggers)
    back = _back_edges(root)
    assert back == {("d", "a")}


@pytest.mark.parametrize("definition", SHIPPED, ids=lambda d: d.key)
def test_labels_do_not_pile_up(definition: WorkflowDefinition) -> None:
    """Legibility: no label hides a state or another label."""
    root = _parse(workflow_svg(definition, current=definition.initial))
    node_boxes = [
        _box(g.findall("svg:rect", NS)[-1 if "final" not in _classes(g) else 0])
        for g in _states(root).values()
    ]
    label_boxes = [
        _box(g.find("svg:rect", NS))
        for g in root.iter(f"{{{NS['svg']}}}g")
        if "transition-label" in _classes(g)
    ]
    assert len(label_boxes) == len(_transitions(root))
    for i, a in enumerate(label_boxes):
        assert not any(_overlaps(a, n) for n in node_boxes)
        assert not any(_overlaps(a, b) for b in label_boxes[i + 1 :])


def test_rendering_is_deterministic() -> None:
    assert workflow_svg(VOUCHER_V1, current="contracted") == workflow_svg(
        VOUCHER_V1, current="contracted"
    )
