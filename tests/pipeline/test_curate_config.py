"""CurateConfig: defaults, per-domain / per-source rule resolution and messages for mistakes."""

import pytest
from pydantic import ValidationError

from pipeline.curate.config import CurateConfig


def test_empty_config_is_valid():
    cfg = CurateConfig()
    assert cfg.sources == [] and cfg.rules.min_words == 50


def test_source_rules_override_domain_and_global():
    cfg = CurateConfig(
        rules={"language_threshold": 0.5},
        sources=[{"name": "a", "paths": ["x"], "rules": {"min_words": 5}}, {"name": "b", "paths": ["y"]}],
    )
    a, b = (cfg.rules_for(s) for s in cfg.sources)
    assert (a.min_words, a.language_threshold) == (5, 0.5)
    assert (b.min_words, b.language_threshold) == (50, 0.5)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"sourcez": []}, "sourcez"),
        ({"sources": [{"name": "a", "paths": ["x"], "rules": {"min_wrds": 5}}]}, "min_wrds"),
        ({"sources": [{"name": "a", "domain": "sports"}]}, "domain"),
        ({"sources": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"rules": {"min_words": 10, "max_words": 5}}, "lower min_words"),
    ],
)
def test_mistakes_name_the_key(data, message):
    with pytest.raises(ValidationError, match=message):
        CurateConfig(**data)
