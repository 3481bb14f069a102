"""The exported model folder: real tokenizer stage -> real tokenize stage -> a few DeepSpeed steps -> model/hf.

The folder must load in transformers 4.x as well as 5.x (the versions pyproject allows) and its model
config must name the same BOS/EOS/PAD ids as the tokenizer beside it and as the token files it trained on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from dapt.pipeline.documents import Document, write_documents
from dapt.pipeline.tokens.config import TokenizeConfig
from dapt.pipeline.tokens.main import run_tokenize
from dapt.pipeline.tokens.shards import TokenFile
from dapt.pretrain.config import ModelConfig, PretrainConfig
from dapt.pretrain.data import MixConfig, run_mix
from dapt.pretrain.train import run_pretrain
from dapt.tokenizer.config import TokenizerConfig
from dapt.tokenizer.train import train_tokenizer

WORDS = {
    "legal": "plaintiff defendant res judicata mens rea statute tort estoppel court appeal".split(),
    "general": "the a of and to in is was weather music garden holiday village river morning".split(),
}
SEQ = 32
STEPS = 80


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export")
    rng = random.Random(0)
    for domain, words in WORDS.items():
        docs = [Document(id=f"{domain}-{i}", text=" ".join(rng.choice(words) for _ in range(rng.randint(6, 12))) + ".",
                         source=domain, domain=domain) for i in range(300)]
        write_documents(root / "docs" / domain / "part-00000.jsonl.gz", docs)
    tok_cfg = TokenizerConfig(vocab_size=320, show_progress=False, min_sample_bytes=1000)
    train_tokenizer(tok_cfg, root / "docs", root / "tokenizer")
    run_tokenize(TokenizeConfig(val_fraction=0.1, val_min_docs=2), root / "docs", root / "tokenizer", root / "tokens")
    run_mix(MixConfig(), root / "tokens", root / "mix", total_tokens=4000)
    cfg = PretrainConfig(model=ModelConfig(n_layers=2, d_model=64, n_heads=4, d_ff=128, seq_len=SEQ),
                         global_batch=8, micro_batch=8, lr=3e-3, eval_interval=100, eval_batches=1,
                         log_interval=1, checkpoint_interval=100, tensorboard=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # 80 steps of short documents: enough for the model to learn what follows a document boundary (the first-token test)
        run_pretrain(cfg, root / "tokens", root / "mix" / "mix.json", root / "tokenizer", root / "model",
                     token_target=STEPS * 8 * SEQ)
    finally:
        torch.set_num_threads(before)
    return {"hf": root / "model" / "hf", "tokens": root / "tokens", "tokenizer": root / "tokenizer"}


@pytest.mark.parametrize("folder", ["tokenizer", "hf"])
def test_saved_tokenizer_names_a_class_transformers_4_and_5_both_have(exported, folder):
    """4.x resolves tokenizer_class by name ("TokenizersBackend" does not exist there) and calls .keys() on
    extra_special_tokens (5.x writes a list); PreTrainedTokenizerFast is in both and 5.x aliases it."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    path = exported[folder]
    config = json.loads((path / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert not isinstance(config.get("extra_special_tokens"), list)
    direct = PreTrainedTokenizerFast.from_pretrained(str(path))
    auto = AutoTokenizer.from_pretrained(str(path))
    text = "The court held that res judicata applies."
    assert direct(text)["input_ids"] == auto(text)["input_ids"]
    assert (direct.eos_token_id, direct.pad_token_id) == (auto.eos_token_id, auto.pad_token_id)


def test_exported_config_states_rope_theta_where_transformers_4_reads_it(exported):
    """4.x reads the top-level rope_theta and silently defaults to 10,000 without it; 5.x nests it."""
    from transformers import AutoModelForCausalLM

    config = json.loads((exported["hf"] / "config.json").read_text())
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"] == ModelConfig().rope_theta
    assert config["torch_dtype"] == config["dtype"]
    AutoModelForCausalLM.from_pretrained(exported["hf"])  # 5.x still loads the folder


def test_the_context_length_is_the_model_seq_len_in_model_and_tokenizer(exported):
    """Issue 16: tokenizer.model_max_length and pretrain.model.seq_len stated one length twice; the tokenizer
    folder now names none and the exported tokenizer states the model's."""
    from transformers import AutoConfig, AutoTokenizer

    assert AutoTokenizer.from_pretrained(exported["tokenizer"]).model_max_length > 10**12  # no limit of its own
    assert AutoTokenizer.from_pretrained(exported["hf"]).model_max_length == SEQ
    assert AutoConfig.from_pretrained(exported["hf"]).max_position_embeddings == SEQ


def test_model_tokenizer_and_token_files_agree_on_bos_eos_and_the_document_boundary(exported):
    """The token lm-eval puts before every rolling window (the tokenizer's BOS) is the token the model saw
    before every training document (the EOS the token files put after each document)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(exported["hf"])
    tok = AutoTokenizer.from_pretrained(exported["hf"])
    gen = GenerationConfig.from_pretrained(exported["hf"])
    ids = (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    assert (model.config.bos_token_id, model.config.eos_token_id, model.config.pad_token_id) == ids
    assert (gen.bos_token_id, gen.eos_token_id, gen.pad_token_id) == ids
    manifest = json.loads((exported["tokens"] / "manifest.json").read_text())
    assert manifest["eos_id"] == tok.eos_token_id
    assert tok.bos_token_id == tok.eos_token_id  # one boundary token: a document starts after it
    # In the token files the boundary follows every document and appears nowhere else.
    (bin_path,) = sorted((exported["tokens"] / "train").glob("legal*.bin"))
    tokens = TokenFile(bin_path.with_suffix(""))
    assert int((tokens.tokens == tok.eos_token_id).sum()) == tokens.n_docs > 0
    assert all(int(tokens.doc(i, with_eos=True)[-1]) == tok.eos_token_id for i in range(tokens.n_docs))


def test_first_token_loss_after_the_prefix_lm_eval_adds_is_not_an_outlier(exported):
    """lm-eval scores a document as [prefix] + document with the tokenizer's BOS as prefix. Issue 18: that
    BOS was <s>, a token never seen in training, and the first token cost 9.6 nats against 2.8-4.2 for the
    rest. Here the first token after the prefix must cost about what a document's first token costs after
    the boundary inside the training stream, and less than a uniform guess."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(exported["hf"]).eval()
    tok = AutoTokenizer.from_pretrained(exported["hf"])
    prefix = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id  # lm-eval's prefix_token_id
    (bin_path,) = sorted((exported["tokens"] / "val").glob("legal*.bin"))
    val = TokenFile(bin_path.with_suffix(""))
    docs = [torch.tensor(val.doc(i)[: SEQ - 2].astype(np.int64)) for i in range(val.n_docs)]
    eos = torch.tensor([tok.eos_token_id])

    def first_token_nll(context: torch.Tensor, doc: torch.Tensor) -> float:
        ids = torch.cat([context, doc[:1]])[None]
        with torch.no_grad():
            logits = model(ids).logits[0, -2]
        return float(torch.nn.functional.cross_entropy(logits[None], ids[0, -1:]))

    after_prefix = np.mean([first_token_nll(torch.tensor([prefix]), d) for d in docs])
    # the same documents' first tokens where training saw them: after another document and its EOS
    in_stream = np.mean([first_token_nll(torch.cat([docs[i - 1], eos]), docs[i]) for i in range(1, len(docs))])
    assert len(docs) >= 2
    assert after_prefix < np.log(len(tok)), (after_prefix, in_stream)
    assert after_prefix < in_stream + 1.0, (after_prefix, in_stream)
