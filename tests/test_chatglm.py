"""ChatGLM2 without remote code, on the tiny real checkpoint, against the official code's outputs."""
from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path

import pytest
import torch
from langchain_core.callbacks import BaseCallbackHandler

from llm.chatglm import ChatGLM2, fit_prompt_ids, generate_token_ids, _shared_model
from llm.chatglm_loader import WeightOnlyInt8Linear, load_release, _replace_linears
from llm.chatglm_tokenizer import build_prompt, process_response
from llm.errors import ModelSetupError

REFERENCE_FILE = "reference_outputs.json"


def reference_cases(folder: Path) -> list[dict]:
    return json.loads((folder / REFERENCE_FILE).read_text(encoding="utf-8"))["cases"]


def greedy_llm(folder: Path, **fields) -> ChatGLM2:
    fields = {"temperature": 0, "max_new_tokens": 24, **fields}
    return ChatGLM2(model_path=str(folder), **fields)


def copy_release(source: Path, target: Path) -> Path:
    """A writable copy of the fixture (the shared files are read-only)."""
    target.mkdir()
    for item in source.iterdir():
        shutil.copyfile(item, target / item.name)
    return target


def history_pairs(case: dict) -> list[tuple[str, str]]:
    return [tuple(turn) for turn in case["history"]]


# --- the official reference outputs ------------------------------------------------------------

def test_prompt_and_input_ids_match_official(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    for case in reference_cases(chatglm_tiny):
        assert build_prompt(case["query"], history_pairs(case)) == case["prompt"]
        assert llm.tokenizer.encode_prompt(case["prompt"]) == case["input_ids"]
        assert llm.prompt_ids(case["query"], history_pairs(case)) == case["input_ids"]


def test_last_logits_match_official(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    for case in reference_cases(chatglm_tiny):
        with torch.inference_mode():
            logits = llm.model(torch.tensor([case["input_ids"]])).logits[0, -1]
        expected = torch.tensor(case["last_logits_first8"])
        assert torch.allclose(logits[:8], expected, atol=1e-4), case["query"]
        assert int(logits.argmax()) == case["last_logits_argmax"]


def test_greedy_ids_match_official(chatglm_tiny):
    release = _shared_model(str(chatglm_tiny), "cpu", "none").release
    for case in reference_cases(chatglm_tiny):
        new_ids = list(generate_token_ids(release, case["input_ids"], max_new_tokens=24, temperature=0))
        assert new_ids == case["greedy_new_ids"], case["query"]


def test_chat_response_matches_official_including_history(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    cases = reference_cases(chatglm_tiny)
    assert any(case["history"] for case in cases)
    for case in cases:
        assert llm.invoke(case["query"], history=history_pairs(case)) == case["chat_response"]
        # Lists from JSON (not tuples) are accepted as history too.
        assert llm.invoke(case["query"], history=case["history"]) == case["chat_response"]


def test_response_post_processing_is_officials():
    assert process_response("  [[训练时间]]发布 \n") == "2023年发布"


# --- streaming and stop sequences ------------------------------------------------------------------

class TokenCollector(BaseCallbackHandler):
    def __init__(self):
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs) -> None:
        self.tokens.append(token)


def test_stream_concatenates_to_invoke_output(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    for case in reference_cases(chatglm_tiny):
        collector = TokenCollector()
        pieces = list(llm.stream(case["query"], history=history_pairs(case), config={"callbacks": [collector]}))
        assert len(pieces) > 1  # really token by token, not one final chunk
        assert "".join(pieces) == llm.invoke(case["query"], history=history_pairs(case)) == case["chat_response"]
        assert "".join(collector.tokens) == case["chat_response"]


def test_stop_sequences_cut_output_and_stream(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    case = next(c for c in reference_cases(chatglm_tiny) if c["query"] == "What is the refund policy?")
    full = case["chat_response"]
    stop = "建议"
    expected = full[: full.index(stop)]
    assert expected and stop not in expected
    assert llm.invoke(case["query"], stop=[stop]) == expected
    assert "".join(llm.stream(case["query"], stop=[stop])) == expected
    # A stop string at the very start gives an empty answer, not an error.
    assert llm.invoke(case["query"], stop=[full[:2]]) == ""
    assert "".join(llm.stream(case["query"], stop=[full[:2]])) == ""


def test_sampling_runs_and_respects_max_new_tokens(chatglm_tiny):
    llm = ChatGLM2(model_path=str(chatglm_tiny), temperature=0.8, top_p=0.8, max_new_tokens=5)
    release = llm._shared.release
    torch.manual_seed(0)
    ids = list(generate_token_ids(release, llm.prompt_ids("你好"), max_new_tokens=5, temperature=0.8, top_p=0.8))
    assert 1 <= len(ids) <= 5
    assert isinstance(llm.invoke("你好"), str)


# --- context budget ----------------------------------------------------------------------------------

def test_history_truncation_drops_oldest_rounds_keeps_question(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny, max_length=120, max_new_tokens=20)
    history = [(f"第{n}个问题是什么？", "这是一个很长的回答，" * 3) for n in range(1, 8)]
    question = "试用期最长可以约定多久？"
    ids = llm.prompt_ids(question, history)
    assert len(ids) <= 120 - 20
    # The newest rounds that fit, renumbered from 1 as the official build_prompt does.
    encode = llm.tokenizer.encode_prompt
    kept = max(k for k in range(len(history) + 1) if len(encode(build_prompt(question, history[len(history) - k:]))) <= 100)
    assert 0 < kept < len(history)
    assert ids == encode(build_prompt(question, history[len(history) - kept:]))
    assert isinstance(llm.invoke(question, history=history), str)


def test_overlong_question_is_cut_from_the_left_with_a_warning(chatglm_tiny, caplog):
    llm = greedy_llm(chatglm_tiny, max_length=80, max_new_tokens=10)
    question = "背景资料：" + "劳动合同是劳动者与用人单位确立劳动关系的协议。" * 20 + "问题：试用期最长多久？"
    with caplog.at_level(logging.WARNING, logger="llm.chatglm"):
        ids = llm.prompt_ids(question, [("旧问题", "旧回答")])
    assert len(ids) <= 70
    assert any("cut" in record.getMessage() for record in caplog.records)
    # The question's end survives, nothing of the history does (the tokenizer normalises
    # punctuation and newlines, so compare ids rather than decoded text).
    tail = llm.tokenizer.encode_prompt(build_prompt("问题：试用期最长多久？"))[-12:]
    assert ids[-12:] == tail
    text = llm.tokenizer.decode(ids)
    assert "旧问题" not in text and "背景资料" not in text


def test_budget_too_small_for_any_prompt_says_what_to_change(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny, max_length=20, max_new_tokens=15)
    with pytest.raises(ValueError, match="max_new_tokens"):
        llm.invoke("你好")


def test_fit_prompt_ids_keeps_everything_when_it_fits(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    case = next(c for c in reference_cases(chatglm_tiny) if len(c["history"]) == 2)
    assert fit_prompt_ids(llm.tokenizer, case["query"], history_pairs(case), 10_000) == case["input_ids"]


# --- one model per process, thread safety, no state ------------------------------------------------------

def test_model_is_shared_between_instances(chatglm_tiny):
    first = greedy_llm(chatglm_tiny)
    second = ChatGLM2(model_path=str(chatglm_tiny) + "/", temperature=0.5, max_new_tokens=3)
    third = ChatGLM2(model_path=chatglm_tiny)  # a Path works as well as a string
    assert id(first.model) == id(second.model) == id(third.model)
    assert first.tokenizer is second.tokenizer


def test_concurrent_invokes_give_correct_results(chatglm_tiny):
    cases = reference_cases(chatglm_tiny) * 2
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def ask(index: int, case: dict) -> None:
        try:
            results[index] = greedy_llm(chatglm_tiny).invoke(case["query"], history=history_pairs(case))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i, case)) for i, case in enumerate(cases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert [results[i] for i in range(len(cases))] == [case["chat_response"] for case in cases]


def test_no_conversation_state_kept(chatglm_tiny):
    llm = greedy_llm(chatglm_tiny)
    case = next(c for c in reference_cases(chatglm_tiny) if not c["history"])
    llm.invoke("先问一个别的问题", history=[("a", "b")])
    assert llm.invoke(case["query"]) == case["chat_response"]


# --- other weight layouts ----------------------------------------------------------------------------------

def test_sharded_bin_and_safetensors_releases_load(chatglm_tiny, tmp_path):
    from safetensors.torch import save_file

    state = torch.load(chatglm_tiny / "pytorch_model.bin", weights_only=True)
    names = sorted(state)
    halves = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
    case = reference_cases(chatglm_tiny)[0]

    sharded = copy_release(chatglm_tiny, tmp_path / "sharded")
    (sharded / "pytorch_model.bin").unlink()
    for shard, keys in halves.items():
        torch.save({k: state[k] for k in keys}, sharded / shard)
    index = {"metadata": {}, "weight_map": {k: shard for shard, keys in halves.items() for k in keys}}
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    assert greedy_llm(sharded).invoke(case["query"]) == case["chat_response"]

    safetensors_copy = copy_release(chatglm_tiny, tmp_path / "safetensors")
    (safetensors_copy / "pytorch_model.bin").unlink()
    save_file({k: v.contiguous() for k, v in state.items()}, str(safetensors_copy / "model.safetensors"))
    assert greedy_llm(safetensors_copy).invoke(case["query"]) == case["chat_response"]

    # A fresh folder: the loaded one stays cached for the process, by design.
    half_copied = copy_release(sharded, tmp_path / "half-copied")
    (half_copied / "pytorch_model-00002-of-00002.bin").unlink()
    with pytest.raises(ModelSetupError, match="lacks weight shards pytorch_model-00002-of-00002.bin"):
        greedy_llm(half_copied)


# --- bad folders ------------------------------------------------------------------------------------------

def _break_missing_config(folder: Path) -> None:
    (folder / "config.json").unlink()


def _break_missing_weights(folder: Path) -> None:
    (folder / "pytorch_model.bin").unlink()


def _break_missing_tokenizer(folder: Path) -> None:
    (folder / "tokenizer.model").unlink()


def _break_truncated_weights(folder: Path) -> None:
    weights = folder / "pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _break_wrong_model_type(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "llama"
    (folder / "config.json").write_text(json.dumps(config))


def _break_missing_config_keys(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    del config["num_layers"], config["kv_channels"]
    (folder / "config.json").write_text(json.dumps(config))


def _break_config_not_json(folder: Path) -> None:
    (folder / "config.json").write_text("{not json")


def _break_weights_do_not_fit_config(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["hidden_size"] = 128
    (folder / "config.json").write_text(json.dumps(config))


def _break_truncated_tokenizer(folder: Path) -> None:
    tokenizer = folder / "tokenizer.model"
    tokenizer.write_bytes(tokenizer.read_bytes()[:1000])


@pytest.mark.parametrize(
    ("breakage", "expected_words"),
    [
        (_break_missing_config, ["config.json", "is missing", "copy"]),
        (_break_missing_weights, ["no model weights", "copy"]),
        (_break_missing_tokenizer, ["tokenizer.model", "is missing", "copy"]),
        (_break_truncated_weights, ["pytorch_model.bin", "half-copied", "copy"]),
        (_break_wrong_model_type, ["'llama'", "not ChatGLM2"]),
        (_break_missing_config_keys, ["num_layers", "kv_channels", "copy"]),
        (_break_config_not_json, ["not valid JSON", "copy"]),
        (_break_weights_do_not_fit_config, ["do not fit", "copy"]),
        (_break_truncated_tokenizer, ["tokenizer", "copy"]),
    ],
)
def test_bad_folder_gives_clear_setup_error(chatglm_tiny, tmp_path, breakage, expected_words):
    folder = copy_release(chatglm_tiny, tmp_path / "release")
    breakage(folder)
    with pytest.raises(ModelSetupError) as caught:
        ChatGLM2(model_path=str(folder))
    message = str(caught.value)
    assert str(folder) in message
    for word in expected_words:
        assert word in message
    assert "\n" not in message  # one sentence, no traceback dump
    # A failed load is not cached: the good fixture still loads and answers.
    case = reference_cases(chatglm_tiny)[0]
    assert greedy_llm(chatglm_tiny).invoke(case["query"]) == case["chat_response"]


def test_missing_folder_names_path_and_fix(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelSetupError, match="does not exist; set the model path") as caught:
        ChatGLM2(model_path=str(missing))
    assert str(missing) in str(caught.value)


def test_no_code_from_the_folder_runs(chatglm_tiny, tmp_path):
    folder = copy_release(chatglm_tiny, tmp_path / "release")
    marker = tmp_path / "ran"
    (folder / "modeling_chatglm.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (folder / "tokenization_chatglm.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    greedy_llm(folder).invoke("你好")
    assert not marker.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_gpu_is_a_setup_error(chatglm_tiny):
    with pytest.raises(ModelSetupError, match="set the device to 'cpu'"):
        ChatGLM2(model_path=str(chatglm_tiny), device="cuda")


def test_unknown_quantize_option_is_rejected(chatglm_tiny):
    with pytest.raises(ModelSetupError, match="quantize"):
        load_release(chatglm_tiny, quantize="int4")


# --- int8 ------------------------------------------------------------------------------------------------

def test_int8_dynamic_quantisation_runs(chatglm_tiny):
    full = greedy_llm(chatglm_tiny)
    int8 = greedy_llm(chatglm_tiny, quantize="int8")
    assert int8.model is not full.model
    assert not any(type(m) is torch.nn.Linear for m in int8.model.modules())
    case = reference_cases(chatglm_tiny)[0]
    with torch.inference_mode():
        logits = int8.model(torch.tensor([case["input_ids"]])).logits
    assert logits.shape == (1, len(case["input_ids"]), 2048)
    assert torch.isfinite(logits).all()
    answer = int8.invoke(case["query"])
    assert isinstance(answer, str) and answer
    assert "".join(int8.stream(case["query"])) == answer


def test_weight_only_int8_layers_stay_close_to_float(chatglm_tiny):
    """The int8 path used on CUDA, exercised here on the CPU."""
    release = load_release(chatglm_tiny)
    case = reference_cases(chatglm_tiny)[0]
    ids = torch.tensor([case["input_ids"]])
    with torch.inference_mode():
        reference = release.model(ids).logits
        _replace_linears(release.model)
        assert any(isinstance(m, WeightOnlyInt8Linear) for m in release.model.modules())
        quantised = release.model(ids).logits
    assert quantised.shape == reference.shape
    assert (quantised - reference).abs().max() < 0.1
