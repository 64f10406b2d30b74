"""The flat graph every model becomes, and the inlining of a user's `graph` spec.

Inside a `repeat` body, names refer to the body's own nodes, to `"in"` (the block input:
the previous copy's output) or to `"input"` (the data); copies are named
`<repeat>.<i>.<node>`, and the repeat's own name refers to its last copy's output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradprobe.errors import Loc
from gradprobe.spec import GraphModel
from gradprobe.spec.common import InitSpec
from gradprobe.spec.graph import PrimitiveNode, RepeatNode


@dataclass
class Graph:
    """A flat DAG of primitive nodes in the order written; `output` names the result node."""

    nodes: list[PrimitiveNode] = field(default_factory=list)
    origins: dict[str, Loc] = field(default_factory=dict)
    output: str = ""
    init: InitSpec = field(default_factory=InitSpec)
    aliases: dict[str, str] = field(default_factory=dict)  # a repeat's name -> its last node
    user_written: bool = False  # a `graph` spec: errors name the node's own fields


def _flatten(nodes: list[Any], loc: Loc, prefix: str, block_input: str | None, g: Graph) -> str:
    """Inline `repeat` nodes into `g`; returns the name of the last node written."""
    last = block_input or "input"
    for k, node in enumerate(nodes):
        here = (*loc, k)
        name = f"{prefix}{node.name}"
        refs = (
            [last]
            if node.inputs is None
            else [_rename(i, prefix, block_input, g) for i in node.inputs]
        )
        if isinstance(node, RepeatNode):
            x = refs[0]
            for t in range(node.times):
                x = _flatten(node.body, (*here, "body"), f"{name}.{t}.", x, g)
            g.aliases[name] = last = x
            continue
        g.nodes.append(node.model_copy(update={"name": name, "inputs": refs}))
        g.origins[name] = here
        last = name
    return last


def _rename(ref: str, prefix: str, block_input: str | None, g: Graph) -> str:
    """Resolve a reference written inside a repeat body (or at top level) to a node name."""
    if ref == "in" and block_input is not None:
        return block_input
    if ref != "input" and prefix:
        ref = f"{prefix}{ref}"
    return g.aliases.get(ref, ref)


def inline(m: GraphModel) -> Graph:
    """The user's graph with every `repeat` block stamped out."""
    g = Graph(init=m.init, user_written=True)
    last = _flatten(list(m.nodes), ("model", "nodes"), "", None, g)
    g.output = g.aliases.get(m.output, m.output) if m.output else last
    return g
