"""Ordering files so that every file is hashed after the files it references.

Tarjan's algorithm yields the strongly connected components of the reference graph with every
component after all the components it points at: a single pass in that order sees every
dependency's final name before it is needed, and a cycle (a.css <-> b.css) arrives as one
component to be hashed as a unit. Iterative, so a reference chain thousands deep is fine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def components_in_dependency_order(
    nodes: Iterable[str], edges: Mapping[str, Iterable[str]]
) -> list[list[str]]:
    """Strongly connected components, dependencies first; members and roots sorted for determinism."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    sorted_edges = {node: sorted(set(targets)) for node, targets in edges.items()}

    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child_pos = work.pop()
            if child_pos == 0:
                index[node] = lowlink[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = sorted_edges.get(node, ())
            recursed = False
            while child_pos < len(children):
                child = children[child_pos]
                child_pos += 1
                if child not in index:
                    work.append((node, child_pos))
                    work.append((child, 0))
                    recursed = True
                    break
                if child in on_stack:
                    lowlink[node] = min(lowlink[node], index[child])
            if recursed:
                continue
            if lowlink[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component))
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
    return result
