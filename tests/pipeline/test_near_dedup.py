"""Near-dedup precision: templated-but-distinct pages survive, true copies go, no removal below Jaccard 0.5."""

from __future__ import annotations

import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dapt.pipeline.documents import Document
from dapt.pipeline.rules.minhash import ShingleSketch, content_shingles, shingle_jaccard, shingles
from dapt.pipeline.rules.ngrams import jaccard, ngram_set
from dapt.pipeline.select.config import NearDedupConfig
from dapt.pipeline.select.dedup import NearDedup
from dapt.pipeline.select.transforms import DUPLICATE_OF

# A GARD "symptoms" page (MedQuAD): one template around the disease name and its symptom table.
_GARD = (
    "{name}\n\nQuestion: What are the symptoms of {name} ?\nAnswer: What are the signs and symptoms of {name}? "
    "The Human Phenotype Ontology provides the following list of signs and symptoms for {name}. If the "
    "information is available, the table below includes how often the symptom is seen in people with this "
    "condition. You can use the MedlinePlus Medical Dictionary to look up the definitions for these medical "
    "terms. Signs and Symptoms Approximate number of patients (when available) {table} - The Human Phenotype "
    "Ontology (HPO) has collected information on how often a sign or symptom occurs in a condition. Much of "
    "this information comes from Orphanet, a European rare disease database. The frequency of a sign or "
    "symptom is usually listed as a rough estimate of the percentage of patients who have that feature."
)
_DISEASES = [
    "Aarskog syndrome", "Alagille syndrome", "Bloom syndrome", "Canavan disease", "Dent disease",
    "Fabry disease", "Gaucher disease type 1", "Joubert syndrome", "Krabbe disease", "Menkes disease",
    "Noonan syndrome", "Pfeiffer syndrome",
]
_SYMPTOMS = [
    "Short stature", "Hearing impairment", "Seizures", "Intellectual disability", "Cataract", "Scoliosis",
    "Hypotonia", "Microcephaly", "Cleft palate", "Hepatomegaly", "Splenomegaly", "Nystagmus", "Ptosis",
    "Brachydactyly", "Hypertelorism", "Renal cyst", "Ataxia", "Dysarthria", "Spasticity", "Anemia",
    "Osteoporosis", "Hydrocephalus", "Strabismus", "Clinodactyly", "Eczema", "Hypoglycemia",
]


def _gard_pages() -> list[Document]:
    rng = random.Random(3)
    docs = []
    for i, name in enumerate(_DISEASES):
        table = " - ".join(rng.sample(_SYMPTOMS, 7))
        docs.append(Document(id=f"gard{i:02d}", text=_GARD.format(name=name, table=table), source="medquad",
                             domain="medical", origin=f"medquad.jsonl:{i}"))
    return docs


def _copy_of(doc: Document, new_id: str) -> Document:
    """A true near-copy: one word of the page changed."""
    return doc.replace(id=new_id, text=doc.text.replace("rough estimate", "rough guess"), origin=f"copy:{new_id}")


def _pairwise_jaccard(docs: list[Document]) -> list[float]:
    sets = [ngram_set(d.text, 5) for d in docs]
    return [jaccard(a, b) for k, a in enumerate(sets) for b in sets[k + 1 :]]


def test_templated_pages_are_as_similar_as_near_copies():
    """The premise: by 5-gram Jaccard alone, pages sharing the template look like near-duplicates."""
    js = _pairwise_jaccard(_gard_pages())
    assert 0.5 < min(js) and max(js) < 0.85


@pytest.mark.parametrize("template_domains, distinct_kept", [(["medical"], True), ([], False)])
def test_templated_distinct_pages_survive_while_near_copies_are_removed(template_domains, distinct_kept):
    pages = _gard_pages()
    docs = pages + [_copy_of(pages[3], "gard03-copy"), _copy_of(pages[8], "gard08-copy")]
    cfg = NearDedupConfig(template_domains=template_domains, template_max_docs=5)
    with TestPipeline() as p:
        out = p | beam.Create(docs) | NearDedup(cfg)
        removed = out["near_duplicates"] | "RemovedIds" >> beam.Map(lambda d: d.id)
        if distinct_kept:
            assert_that(removed, equal_to(["gard03-copy", "gard08-copy"]), label="only the copies")
            assert_that(out["kept"] | "KeptIds" >> beam.Map(lambda d: d.id), equal_to([d.id for d in pages]),
                        label="every distinct page")
        else:  # without the template sketch the template alone makes distinct pages "duplicates"
            assert_that(
                removed | "Distinct pages" >> beam.combiners.Count.Globally() | beam.Map(lambda n: n >= 6),
                equal_to([True]),
                label="template eats pages",
            )


def test_a_source_of_copies_of_one_page_is_still_deduplicated():
    """A page copied into many documents of a template domain is all template by the sketch: it keeps all its
    shingles (template_min_fraction), so the copies still go."""
    page = _gard_pages()[0]
    docs = [page.replace(id=f"c{i:02d}", origin=f"c:{i}") for i in range(8)]
    with TestPipeline() as p:
        out = p | beam.Create(docs) | NearDedup(NearDedupConfig(template_max_docs=5))
        assert_that(out["kept"] | "Kept" >> beam.Map(lambda d: d.id), equal_to(["c00"]), label="kept")


def _edited(rng: random.Random, toks: list[str], k: int) -> str:
    toks = list(toks)
    for i in rng.sample(range(len(toks)), k):
        toks[i] = f"edit{rng.randrange(10**6)}"
    return " ".join(toks)


def test_a_candidate_pair_below_half_jaccard_is_never_removed():
    """40 bands of one row make a pair at Jaccard ~0.3 an LSH candidate for sure (P(miss) = 0.7^40); the
    exact check against the survivor keeps both, while verify_min_jaccard 0 removes one."""
    rng = random.Random(5)
    toks = [f"w{rng.randrange(10**5)}" for _ in range(300)]
    a = Document(id="a", text=" ".join(toks), source="web", domain="general", origin="f:0")
    b = Document(id="b", text=_edited(rng, toks, 30), source="web", domain="general", origin="f:1")
    j = shingle_jaccard(shingles(a.text, 5), shingles(b.text, 5))
    assert 0.25 < j < 0.5
    for verify, removed in ((0.5, []), (0.0, ["b"])):
        with TestPipeline() as p:
            out = p | beam.Create([a, b]) | NearDedup(NearDedupConfig(bands=40, rows=1, verify_min_jaccard=verify))
            assert_that(out["near_duplicates"] | beam.Map(lambda d: d.id), equal_to(removed), label="removed")
            assert_that(out["cluster_sizes"], equal_to([2]), label="a candidate pair")


def test_a_copy_at_jaccard_0_57_is_removed():
    """A 6 %-edited copy (true Jaccard ~0.57) is a near-duplicate: the old check, signature agreement >= 0.7,
    kept it (and most such copies); the exact check at 0.5 removes it. 112 one-row bands: surely a candidate."""
    rng = random.Random(6)
    toks = [f"w{rng.randrange(10**5)}" for _ in range(400)]
    a = Document(id="a", text=" ".join(toks), source="web", domain="general", origin="f:0")
    b = Document(id="b", text=_edited(rng, toks, 25), source="web", domain="general", origin="f:1")
    assert 0.5 < shingle_jaccard(shingles(a.text, 5), shingles(b.text, 5)) < 0.6
    with TestPipeline() as p:
        out = p | beam.Create([a, b]) | NearDedup(NearDedupConfig(bands=112, rows=1))
        assert_that(out["near_duplicates"] | beam.Map(lambda d: d.id), equal_to(["b"]))


def test_removed_copy_records_its_jaccard_to_the_survivor():
    pages = _gard_pages()
    with TestPipeline() as p:
        out = p | beam.Create([pages[0], _copy_of(pages[0], "z")]) | NearDedup(NearDedupConfig())
        assert_that(
            out["near_duplicates"] | beam.Map(lambda d: (d.id, d.signals[DUPLICATE_OF]["id"], d.signals[DUPLICATE_OF]["jaccard"] > 0.9)),
            equal_to([("z", "gard00", True)]),
        )


def test_sketch_never_undercounts_and_merges_by_addition():
    rng = np.random.default_rng(0)
    template = rng.integers(0, 2**63, size=50, dtype=np.uint64)
    docs = [np.unique(np.concatenate([template, rng.integers(0, 2**63, size=200, dtype=np.uint64)])) for _ in range(30)]
    left, right = ShingleSketch(width_bits=16), ShingleSketch(width_bits=16)
    for k, d in enumerate(docs):
        (left if k % 2 else right).add(d)
    left.merge(right)
    assert (left.docs_with(template) >= 30).all()
    counts = left.docs_with(docs[0])
    assert (counts >= 1).all()
    assert np.mean(counts[~np.isin(docs[0], template)] == 1) > 0.9  # 65,536 counters, 7,500 shingles: few collide in both rows
    content = content_shingles(docs[0], counts, max_docs=5, min_fraction=0.1)
    assert not np.isin(content, template).any() and content.size >= 180


def test_all_template_page_keeps_its_shingles():
    grams = np.arange(10, dtype=np.uint64)
    assert content_shingles(grams, np.full(10, 99, dtype=np.uint32), 5, 0.1).size == 10
    assert content_shingles(grams, np.array([1] * 5 + [99] * 5, dtype=np.uint32), 5, 0.1).size == 5


@pytest.mark.parametrize("a, b", [("one two three four five six", "one two three four five seven"), ("", ""), ("x", "")])
def test_shingle_jaccard_is_the_set_jaccard(a, b):
    assert shingle_jaccard(shingles(a, 5), shingles(b, 5)) == pytest.approx(jaccard(ngram_set(a, 5), ngram_set(b, 5)))
