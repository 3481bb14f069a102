"""Near-duplicate clusters in Beam rounds (large-star / small-star) against one-machine union-find."""

from __future__ import annotations

import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.pipeline.documents import Document
from dapt.pipeline.rules.minhash import (
    MinHasher,
    choose_survivor,
    connected_components,
    estimated_jaccard,
    shingle_jaccard,
    shingles,
)
from dapt.pipeline.select.components import ComponentsNotConverged, ConnectedComponents, large_star, small_star
from dapt.pipeline.select.config import NearDedupConfig
from dapt.pipeline.select.dedup import NearDedup
from dapt.pipeline.select.transforms import DUPLICATE_OF, QUALITY


def test_star_operations():
    assert list(large_star(3, [1, 5, 7])) == [(5, 1), (7, 1)]
    assert list(large_star(1, [5, 7])) == [(5, 1), (7, 1)]
    assert list(small_star(7, [3, 5])) == [(5, 3), (7, 3)]


def _node(i: int) -> tuple[str, str, str]:
    return (f"d{i:04d}", "web", f"f:{i}")


def _graph() -> tuple[list, dict]:
    """A 120-node chain numbered in path order, a 40-leaf star whose centre is its largest node, and a
    random sparse graph; scores with ties."""
    rng = random.Random(4)
    edges = [(i, i + 1) for i in range(119)]  # 0 - 1 - ... - 119
    edges += [(200 + k, 240) for k in range(40)]
    edges += [(rng.randrange(300, 400), rng.randrange(300, 400)) for _ in range(80)]
    edges = [(a, b) for a, b in edges if a != b]
    scores = {i: rng.choice([0.1, 0.5, 0.9]) for e in edges for i in e}
    return edges, scores


def _expected(edges, scores):
    members = {}
    sizes = []
    for nodes in connected_components([(_node(a), _node(b)) for a, b in edges]).values():
        survivor = choose_survivor(nodes, {_node(i): s for i, s in scores.items()})
        sizes.append(len(nodes))
        members.update({n: (survivor, len(nodes)) for n in nodes})
    return sorted(members.items()), sizes


def test_components_match_union_find_on_chain_star_and_random_graph():
    edges, scores = _graph()
    expected, sizes = _expected(edges, scores)
    assert 120 in sizes and 41 in sizes
    vertex_edges = [((_node(a), scores[a]), (_node(b), scores[b])) for a, b in edges]
    with TestPipeline() as p:
        out = p | beam.Create(vertex_edges) | ConnectedComponents(rounds=12)
        assert_that(out["membership"], equal_to(expected), label="membership")
        assert_that(out["sizes"], equal_to(sizes), label="sizes")


def test_too_few_rounds_for_a_long_chain_fails_saying_so():
    edges = [((_node(i), 0.0), (_node(i + 1), 0.0)) for i in range(119)]
    with pytest.raises(Exception, match="did not converge in 2 rounds") as err:
        with TestPipeline() as p:
            _ = p | beam.Create(edges) | ConnectedComponents(rounds=2)
    assert "component_rounds" in str(err.value)
    assert issubclass(ComponentsNotConverged, RuntimeError)


def _chain() -> list[Document]:
    rng = random.Random(9)
    toks = [f"w{rng.randrange(5000)}" for _ in range(150)]
    docs = []
    for i in range(30):
        for k in rng.sample(range(150), 2):
            toks[k] = f"e{i}x{k}"
        score = 0.8 if i == 17 else 0.2
        docs.append(Document(id=f"p{i:02d}", text=" ".join(toks), source="web", domain="general",
                             origin=f"f:{i}", signals={QUALITY: score}))
    return docs


def test_near_dedup_joins_a_chain_of_edits_whose_ends_are_not_similar():
    """Each page edits 2 words of the one before: neighbours are near-duplicates, the chain's ends are not,
    so only transitive closure across rounds puts all 30 in one cluster (survivor: the best score)."""
    docs = _chain()
    assert estimated_jaccard(*(MinHasher().signature(docs[j].text) for j in (0, 29))) < 0.2
    with TestPipeline() as p:
        out = p | beam.Create(docs) | NearDedup(NearDedupConfig(verify_min_jaccard=0.0))
        assert_that(out["kept"] | "Kept" >> beam.Map(lambda d: d.id), equal_to(["p17"]), label="kept")
        assert_that(out["cluster_sizes"], equal_to([30]), label="sizes")
        assert_that(
            out["near_duplicates"] | "Of" >> beam.Map(lambda d: d.signals[DUPLICATE_OF]["id"]),
            equal_to(["p17"] * 29),
            label="survivor",
        )
    with pytest.raises(Exception, match="did not converge in 1 rounds"):
        with TestPipeline() as p:
            _ = p | beam.Create(docs) | NearDedup(NearDedupConfig(component_rounds=1))


def test_far_end_of_a_chain_is_not_removed_as_a_copy_of_the_survivor():
    """With the default verification, a member is removed only at true Jaccard >= 0.5 to the page kept."""
    docs = _chain()
    kept_grams = shingles(docs[17].text, 5)
    similar = {d.id for d in docs if shingle_jaccard(shingles(d.text, 5), kept_grams) >= 0.5} - {"p17"}
    assert 4 <= len(similar) <= 20  # the chain's middle is removed, its ends are not
    with TestPipeline() as p:
        out = p | beam.Create(docs) | NearDedup(NearDedupConfig())
        assert_that(
            out["near_duplicates"] | "Removed" >> beam.Map(lambda d: (d.id, d.signals[DUPLICATE_OF]["jaccard"] >= 0.5)),
            equal_to([(i, True) for i in similar]),
            label="removed",
        )
        assert_that(out["kept"] | "Kept" >> beam.Map(lambda d: d.id),
                    equal_to([d.id for d in docs if d.id not in similar]), label="kept")
