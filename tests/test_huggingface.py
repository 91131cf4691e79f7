"""Hugging Face models made elastic: found by structure, the activated super-network equals
its extract under both attention implementations, parameter counts in closed form, real
loading from a folder, DynaBERT's importance re-ordering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from hwnas.errors import InvalidConfigError  # noqa: E402
from hwnas.supernets import create_supernet  # noqa: E402
from hwnas.supernets.huggingface import ElasticHFModel, tiny_bert  # noqa: E402
from hwnas.supernets.io import example_inputs, forward, logits_of  # noqa: E402
from hwnas.testing.supernets import check_extract_matches_activate  # noqa: E402


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("family", ["tiny_hf_model", "tiny_hf_vit"])
def test_activation_equals_extraction_under_both_attention_implementations(family, attention):
    supernet = create_supernet(family, {"attn_implementation": attention})
    assert supernet.model.config._attn_implementation == attention
    check_extract_matches_activate(supernet, n_configs=12, atol=1e-5)


def test_extracted_parameters_follow_a_closed_form():
    supernet = create_supernet("tiny_hf_model")
    hidden, head_dim, heads, ffn = 64, 16, 4, 128
    full = sum(p.numel() for p in supernet.parameters())
    per_layer = sum(p.numel() for p in supernet.layers[0].parameters())
    config = {"depth": 1, "layer0.heads": 2, "layer0.ffn": 32, "layer1.heads": 4,
              "layer1.ffn": 128}
    removed_heads = (heads - 2) * head_dim
    removed_ffn = ffn - 32
    expected = (full - per_layer                              # the second layer is dropped
                - 3 * removed_heads * (hidden + 1)            # query, key, value rows
                - removed_heads * hidden                      # attention output columns
                - removed_ffn * (hidden + 1) - removed_ffn * hidden)  # FFN in rows, out columns
    sub = supernet.extract(config)
    assert sum(p.numel() for p in sub.parameters()) == expected
    assert sub.config.num_hidden_layers == 1
    assert len([m for m in sub.modules() if isinstance(m, torch.nn.ModuleList)][0]) == 1


def test_extract_leaves_the_super_network_and_its_active_slices_unchanged():
    supernet = create_supernet("tiny_hf_model").eval()
    supernet.activate(supernet.space.smallest())
    inputs = example_inputs(supernet, 4)
    before = logits_of(forward(supernet, inputs))
    supernet.extract(supernet.space.largest())
    assert torch.equal(logits_of(forward(supernet, inputs)), before)
    assert supernet.active_config == supernet.space.canonical(supernet.space.smallest())


def test_a_pretrained_model_loads_from_a_folder_and_becomes_elastic(tmp_path):
    torch.manual_seed(0)
    trained = tiny_bert(num_labels=3).eval()
    trained.save_pretrained(tmp_path / "my-bert")
    supernet = create_supernet("hf_model", {"model": str(tmp_path / "my-bert"),
                                            "num_classes": 3, "sequence_length": 8}).eval()
    inputs = example_inputs(supernet, 2)
    with torch.no_grad():
        assert torch.allclose(logits_of(forward(supernet, inputs)),
                              trained(**inputs).logits, atol=1e-6)
    assert supernet.space["layer0.heads"].values == (1, 2, 3, 4)
    assert supernet.space["layer0.ffn"].values == (32, 64, 96, 128)
    # pre-trained weights are fine-tuned at 5e-5 unless told otherwise; from scratch at 1e-3
    from hwnas.training.base import default_lr

    assert default_lr(supernet, "adamw", True) == 5e-5
    assert default_lr(create_supernet("tiny_hf_model"), "adamw", True) == 1e-3


def test_a_model_without_attention_and_ffn_linears_is_refused():
    import transformers

    config = transformers.GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=50,
                                     n_positions=16, num_labels=2, pad_token_id=0)
    with pytest.raises(InvalidConfigError, match="cannot find the encoder layers"):
        ElasticHFModel(transformers.GPT2ForSequenceClassification(config))


def test_heads_out_of_range_are_refused():
    with pytest.raises(InvalidConfigError, match="heads must lie in 1..4"):
        ElasticHFModel(tiny_bert(), heads=(2, 8))


def test_a_random_sub_network_runs_on_token_batches():
    supernet = create_supernet("tiny_hf_model")
    sub = supernet.extract(supernet.space.sample(np.random.default_rng(3))).eval()
    assert logits_of(forward(sub, example_inputs(supernet, 5))).shape == (5, 3)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_importance_reordering_keeps_the_full_models_outputs(attention):
    torch.manual_seed(0)
    plain = create_supernet("tiny_hf_model", {"attn_implementation": attention}).eval()
    torch.manual_seed(0)
    ordered = create_supernet("tiny_hf_model", {"attn_implementation": attention,
                                                "importance_order": True}).eval()
    inputs = example_inputs(plain, 4)
    with torch.no_grad():
        torch.testing.assert_close(logits_of(forward(ordered, inputs)),
                                   logits_of(forward(plain, inputs)), atol=1e-5, rtol=1e-5)
    for query, key, value, _, ffn_in, _ in ordered._linears:  # most important first
        heads = sum(m.weight.abs().reshape(4, -1).sum(1) for m in (query, key, value))
        assert torch.all(heads[:-1] >= heads[1:])
        neurons = ffn_in.weight.abs().sum(1)
        assert torch.all(neurons[:-1] >= neurons[1:])
    small = {"depth": 2, "layer0.heads": 1, "layer0.ffn": 32, "layer1.heads": 1,
             "layer1.ffn": 32}
    with torch.no_grad():  # a narrow sub-network keeps other (the important) heads
        assert not torch.allclose(logits_of(forward(ordered.extract(small).eval(), inputs)),
                                  logits_of(forward(plain.extract(small).eval(), inputs)))


def test_an_active_sub_network_runs_only_its_layers_and_slices():
    from hwnas.measure.counting import count_macs

    supernet = create_supernet("tiny_hf_model").eval()
    inputs = example_inputs(supernet, 1)
    full = count_macs(supernet, inputs)
    supernet.activate(supernet.space.smallest())
    assert count_macs(supernet, inputs) < full / 5
    assert len(supernet.layers) == 2  # the encoder's layer list is whole again after a pass


def test_the_state_dict_holds_each_weight_once_under_the_models_keys():
    supernet = create_supernet("tiny_hf_model")
    keys = list(supernet.state_dict())
    assert keys and all(key.startswith("model.") for key in keys)
    plain = {f"model.{key}" for key in supernet.model.state_dict()}
    assert set(keys) == plain
