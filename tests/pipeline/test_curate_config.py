"""CurateConfig: defaults, per-domain / per-source rule resolution and messages for mistakes."""

import pytest
from pydantic import ValidationError

from dapt.pipeline.curate.config import CurateConfig


def test_empty_config_is_valid():
    cfg = CurateConfig()
    assert cfg.sources == [] and cfg.rules.model_dump() == {} and cfg.direct_running_mode == "multi_processing"


def test_rules_resolve_published_then_domain_then_global_then_source():
    cfg = CurateConfig(
        rules={"language": {"threshold": 0.5}, "c4": {"min_sentences": 3}},
        sources=[
            {"name": "a", "paths": ["x"], "rules": {"gopher_quality": {"min_words": 5}}},
            {"name": "b", "domain": "legal", "paths": ["y"]},
            {"name": "c", "domain": "medical", "paths": ["z"], "rules": {"c4": {"clean_lines": True}}},
        ],
    )
    a, b, c = (cfg.rules_for(s) for s in cfg.sources)
    assert (a.gopher_quality.min_words, a.language.threshold, a.c4.min_sentences) == (5, 0.5, 3)
    assert a.gopher_quality.min_alpha_words_ratio == 0.8  # Gopher's published value
    assert b.gopher_quality.min_alpha_words_ratio == 0.6  # the legal default
    assert b.c4.clean_lines is False and b.c4.min_sentences == 3  # the user's global key wins over the domain
    assert c.c4.clean_lines is True and c.gopher_quality.min_mean_word_length == 2.0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"sourcez": []}, "sourcez"),
        ({"sources": [{"name": "a", "paths": ["x"], "rules": {"gopher_quality": {"min_wrds": 5}}}]}, "min_wrds"),
        ({"rules": {"c4": {"min_sentence": 5}}}, "min_sentence"),
        ({"sources": [{"name": "a", "domain": "sports"}]}, "domain"),
        ({"sources": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"sources": [{"name": "a/b"}]}, "name"),
        ({"rules": {"gopher_quality": {"min_words": 10, "max_words": 5}}}, "lower min_words"),
    ],
)
def test_mistakes_name_the_key(data, message):
    with pytest.raises(ValidationError, match=message):
        CurateConfig(**data)


def test_rule_overrides_keep_only_what_was_written():
    """Stating a published default still overrides the domain's (legal relaxes min_alpha_words_ratio to
    0.6), counts in the run's fingerprint, and a resolved config read back sets nothing more."""
    legal = {"name": "a", "domain": "legal", "paths": ["x"]}
    cfg = CurateConfig(rules={"gopher_quality": {"min_alpha_words_ratio": 0.8}}, sources=[legal])
    assert cfg.rules_for(cfg.sources[0]).gopher_quality.min_alpha_words_ratio == 0.8
    assert CurateConfig(sources=[legal]).rules_for(cfg.sources[0]).gopher_quality.min_alpha_words_ratio == 0.6
    assert cfg.model_dump(exclude_defaults=True)["rules"] == {"gopher_quality": {"min_alpha_words_ratio": 0.8}}
    assert CurateConfig.model_validate(cfg.model_dump(mode="json")).model_dump() == cfg.model_dump()
    assert CurateConfig().model_dump(exclude_defaults=True) == {}
