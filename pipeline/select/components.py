"""Connected components of the near-duplicate graph, computed in Beam across workers.

Alternating large-star / small-star rounds (Kiveris et al. 2014, "Connected Components in MapReduce and
Beyond"): each operation groups the edges by node, keeps every component's node set and moves its edges
toward a star around the component's smallest node, the fixed point. No worker holds more than one node's
neighbours, whatever the size of the corpus. A Beam graph is static, so the job runs a fixed number of
rounds and then checks that every edge is a star edge, failing with one line if not. Rounds grow with the
log of a component's size: in a simulation a 100,000-node chain numbered in path order (the worst shape
tried) needed 17, a random chain of as many nodes 13, a random tree 4.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import apache_beam as beam

# A vertex sorts by its node (unique) first; whatever rides after it (the quality score) never decides.
Edge = tuple[Any, Any]  # (larger vertex, smaller vertex)


class ComponentsNotConverged(RuntimeError):
    """The rounds run did not reach stars: a component needed more rounds than configured."""


def large_star(node: Any, neighbours: Iterable[Any]) -> Iterator[Edge]:
    """Links every neighbour larger than ``node`` to the smallest of ``node`` and its neighbours."""
    around = set(neighbours)
    smallest = min(around | {node})
    for v in sorted(around):
        if v > node:
            yield (v, smallest)


def small_star(node: Any, smaller: Iterable[Any]) -> Iterator[Edge]:
    """Links ``node`` and its smaller neighbours to the smallest of them."""
    below = set(smaller)
    smallest = min(below)
    for v in sorted(below | {node}):
        if v != smallest:
            yield (v, smallest)


def _both_ways(edge: Edge) -> Iterator[Edge]:
    yield edge
    yield edge[1], edge[0]


def _star_violations(joined: tuple[Any, dict[str, list]]) -> Iterator[Any]:
    """A node that links to two roots, or that is a root and links to one, is not yet in a star."""
    node, parts = joined
    if len(set(parts["up"])) > 1 or (parts["up"] and parts["down"]):
        yield node


def _fail_if_any(count: int, rounds: int) -> None:
    if count:
        raise ComponentsNotConverged(
            f"near-duplicate components did not converge in {rounds} rounds ({count} nodes outside a star); "
            "raise select.near_dedup.component_rounds"
        )


class _Survivor(beam.CombineFn):
    """Vertices (node, score) of a component -> (survivor, size): highest score, ties by the lowest node."""

    def create_accumulator(self):
        return None, 0

    def add_input(self, acc, vertex):
        best, n = acc
        return min(best, vertex, key=_rank) if best is not None else vertex, n + 1

    def merge_accumulators(self, accs):
        best, n = None, 0
        for b, k in accs:
            if b is not None:
                best = b if best is None else min(best, b, key=_rank)
            n += k
        return best, n

    def extract_output(self, acc):
        return acc


def _rank(vertex: tuple[Any, float]) -> tuple[float, Any]:
    return -vertex[1], vertex[0]  # as rules.minhash.choose_survivor


def _members(joined: tuple[Any, dict[str, list]]):
    _, parts = joined
    (survivor, size), = parts["cluster"]
    for vertex in parts["member"]:
        yield vertex[0], (survivor[0], size)


class ConnectedComponents(beam.PTransform):
    """Edges between (node, score) vertices -> {"membership": (node, (survivor node, size)) for every node in
    a component, "sizes": one size per component}.

    The survivor rule is ``choose_survivor``'s: the highest score, ties broken by the lowest node.
    """

    def __init__(self, rounds: int):
        super().__init__()
        self.rounds = rounds

    def expand(self, edges):
        rounds = self.rounds
        current = edges | "Canonical" >> beam.Map(lambda e: (max(e), min(e)))
        for r in range(rounds):
            current = (
                current
                | f"Round{r:02d}BothWays" >> beam.FlatMap(_both_ways)
                | f"Round{r:02d}Neighbours" >> beam.GroupByKey()
                | f"Round{r:02d}LargeStar" >> beam.FlatMapTuple(large_star)
                | f"Round{r:02d}Smaller" >> beam.GroupByKey()
                | f"Round{r:02d}SmallStar" >> beam.FlatMapTuple(small_star)
            )
        downs = current | "Down" >> beam.Map(lambda e: (e[1], e[0]))  # (root, member) once converged
        _ = (
            {"up": current, "down": downs}
            | "StarCheck" >> beam.CoGroupByKey()
            | "Violations" >> beam.FlatMap(_star_violations)
            | "CountViolations" >> beam.combiners.Count.Globally()
            | "FailIfAny" >> beam.Map(_fail_if_any, rounds)
        )
        roots = current | "Roots" >> beam.Map(lambda e: (e[1], e[1]))
        by_root = (  # (root, vertex) once for every vertex of a component, the root included
            (downs, roots)
            | "AllMembers" >> beam.Flatten()
            | "DistinctMembers" >> beam.Distinct()
        )
        clusters = by_root | "Survivor" >> beam.CombinePerKey(_Survivor())
        membership = (
            {"member": by_root, "cluster": clusters}
            | "JoinRoot" >> beam.CoGroupByKey()
            | "Membership" >> beam.FlatMap(_members)
        )
        sizes = clusters | "Size" >> beam.Map(lambda kv: kv[1][1])
        return {"membership": membership, "sizes": sizes}
