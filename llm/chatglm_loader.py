"""Load a ChatGLM2 release folder onto transformers' own ``GlmForCausalLM``, running no code
from the folder (never ``trust_remote_code``).

ChatGLM2's architecture is GLM's: the mapping is a config translation plus a key-by-key rename
of the state dict, with ``query_key_value`` split into q/k/v. Every problem a user can cause
(missing or half-copied files, another architecture) becomes a ``ModelSetupError``.
"""
from __future__ import annotations

import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from .chatglm_tokenizer import ChatGLM2Tokenizer
from .errors import ModelSetupError

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.model"
GENERATION_CONFIG_FILE = "generation_config.json"
REQUIRED_CONFIG_KEYS = (
    "num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads", "kv_channels",
    "padded_vocab_size", "layernorm_epsilon", "seq_length",
)
QUANTIZE_OPTIONS = ("none", "int8")
FIX_COPY = "copy the complete ChatGLM2 release folder there again"


@dataclass(frozen=True)
class ChatGLM2Release:
    """What generation needs from a loaded release."""

    model: nn.Module
    tokenizer: ChatGLM2Tokenizer
    eos_token_ids: tuple[int, ...]
    seq_length: int
    device: torch.device


def load_release(path: str | Path, device: str = "cpu", quantize: str = "none") -> ChatGLM2Release:
    """Read, check and load a ChatGLM2 release folder. Raises ModelSetupError with the fix."""
    folder = Path(path).expanduser()
    torch_device = _check_device(device)
    if quantize not in QUANTIZE_OPTIONS:
        raise ModelSetupError(f"quantize={quantize!r} is not supported; use one of {QUANTIZE_OPTIONS}.")
    release_config = read_release_config(folder)
    tokenizer = _load_tokenizer(folder)
    weight_files = find_weight_files(folder)

    dtype = torch.float16 if torch_device.type == "cuda" else torch.float32
    model = build_glm_model(release_config, weight_files, dtype)
    if quantize == "int8":
        model = quantize_int8(model, torch_device)
    model.to(torch_device)
    model.eval()
    return ChatGLM2Release(
        model=model,
        tokenizer=tokenizer,
        eos_token_ids=_eos_token_ids(folder, release_config, tokenizer),
        seq_length=int(release_config["seq_length"]),
        device=torch_device,
    )


# --- folder checks -------------------------------------------------------------------------

def _check_device(device: str) -> torch.device:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ModelSetupError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelSetupError(
            f"device={device!r} was asked for but this machine has no usable CUDA GPU "
            "(or torch is a CPU build); set the device to 'cpu'."
        )
    return torch.device(device)


def read_release_config(folder: Path) -> dict[str, Any]:
    """The release's config.json, checked to describe a ChatGLM2 model we can map."""
    if not folder.is_dir():
        raise ModelSetupError(
            f"The ChatGLM2 model folder {folder} does not exist; set the model path to the folder "
            "that holds config.json, the weights and tokenizer.model."
        )
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelSetupError(f"{config_path} is missing; {FIX_COPY}.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelSetupError(f"{config_path} is not valid JSON ({exc}); {FIX_COPY}.") from exc
    if not isinstance(config, dict):
        raise ModelSetupError(f"{config_path} is not a model configuration; {FIX_COPY}.")

    model_type = config.get("model_type")
    if model_type != "chatglm":
        raise ModelSetupError(
            f"{folder} holds a model of type {model_type!r}, not ChatGLM2 ('chatglm'); point the "
            "model path at a ChatGLM2 release or choose the backend that fits this model."
        )
    missing = [key for key in REQUIRED_CONFIG_KEYS if key not in config]
    if missing:
        raise ModelSetupError(
            f"{config_path} lacks {', '.join(missing)}, so it is not a ChatGLM2 release "
            f"configuration; {FIX_COPY}."
        )
    unsupported = _unsupported_variant(config)
    if unsupported:
        raise ModelSetupError(
            f"{folder} is a ChatGLM2 variant this loader does not support ({unsupported}); use the "
            "original float16 THUDM/chatglm2-6b release and quantize='int8' if memory is short."
        )
    return config


def _unsupported_variant(config: dict[str, Any]) -> str | None:
    """Name of a release feature GlmForCausalLM cannot represent, if any."""
    if config.get("quantization_bit", 0) not in (0, None):
        return f"pre-quantised weights, quantization_bit={config['quantization_bit']}"
    if config.get("pre_seq_len") is not None:
        return "P-tuning prefix weights, pre_seq_len is set"
    if config.get("add_bias_linear", False):
        return "add_bias_linear=true"
    if not config.get("rmsnorm", True) or not config.get("post_layer_norm", True):
        return "LayerNorm instead of RMSNorm, or no final norm"
    if config.get("apply_residual_connection_post_layernorm", False):
        return "apply_residual_connection_post_layernorm=true"
    return None


def _load_tokenizer(folder: Path) -> ChatGLM2Tokenizer:
    tokenizer_path = folder / TOKENIZER_FILE
    if not tokenizer_path.is_file():
        raise ModelSetupError(f"{tokenizer_path} is missing; {FIX_COPY}.")
    return ChatGLM2Tokenizer(tokenizer_path)


def find_weight_files(folder: Path) -> list[Path]:
    """Weight files in load order: an index's shards, or the single-file checkpoint."""
    for index_name in ("pytorch_model.bin.index.json", "model.safetensors.index.json"):
        index_path = folder / index_name
        if index_path.is_file():
            return _shards_from_index(index_path)
    for single_name in ("pytorch_model.bin", "model.safetensors"):
        if (folder / single_name).is_file():
            return [folder / single_name]
    raise ModelSetupError(
        f"{folder} has no model weights (pytorch_model*.bin with pytorch_model.bin.index.json, or "
        f"model*.safetensors); {FIX_COPY}."
    )


def _shards_from_index(index_path: Path) -> list[Path]:
    try:
        weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
        shard_names = sorted(set(weight_map.values()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ModelSetupError(f"{index_path} is damaged ({exc}); {FIX_COPY}.") from exc
    shards = [index_path.parent / name for name in shard_names]
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        raise ModelSetupError(
            f"{index_path.parent} lacks weight shards {', '.join(missing)} named in {index_path.name}; "
            f"{FIX_COPY}."
        )
    return shards


def _eos_token_ids(folder: Path, config: dict[str, Any], tokenizer: ChatGLM2Tokenizer) -> tuple[int, ...]:
    """End-of-answer ids, as generate would read them: generation_config.json, then config.json."""
    eos: Any = None
    generation_config = folder / GENERATION_CONFIG_FILE
    if generation_config.is_file():
        try:
            eos = json.loads(generation_config.read_text(encoding="utf-8")).get("eos_token_id")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            logger.warning("Ignoring unreadable %s; using config.json's eos_token_id", generation_config)
    if eos is None:
        eos = config.get("eos_token_id", tokenizer.eos_id)
    return tuple(eos) if isinstance(eos, list) else (int(eos),)


# --- config and weights mapping --------------------------------------------------------------

def glm_config_from_release(config: dict[str, Any], dtype: torch.dtype):
    """Translate the release's config.json names into transformers' GlmConfig."""
    from transformers import GlmConfig

    num_heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("multi_query_group_num", num_heads)) if config.get("multi_query_attention") else num_heads
    rope_parameters: dict[str, Any] = {
        "rope_type": "default",
        "rope_theta": 10000.0,
        # ChatGLM2 rotates half of each head's channels (RotaryEmbedding(kv_channels // 2)).
        "partial_rotary_factor": 0.5,
    }
    rope_ratio = float(config.get("rope_ratio", 1.0) or 1.0)
    if rope_ratio != 1.0:
        # chatglm2-6b-32k divides positions by rope_ratio: linear position interpolation.
        rope_parameters.update(rope_type="linear", factor=rope_ratio)
    glm_config = GlmConfig(
        vocab_size=int(config["padded_vocab_size"]),
        hidden_size=int(config["hidden_size"]),
        intermediate_size=int(config["ffn_hidden_size"]),
        num_hidden_layers=int(config["num_layers"]),
        num_attention_heads=num_heads,
        num_key_value_heads=kv_heads,
        head_dim=int(config["kv_channels"]),
        hidden_act="silu",
        attention_dropout=0.0,
        max_position_embeddings=int(config["seq_length"]),
        rms_norm_eps=float(config["layernorm_epsilon"]),
        tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
        rope_parameters=rope_parameters,
        pad_token_id=config.get("pad_token_id", 0),
        eos_token_id=config.get("eos_token_id", 2),
        attention_bias=bool(config.get("add_qkv_bias", True)),
        use_cache=True,
    )
    glm_config.dtype = dtype
    return glm_config


_LAYER_KEY = re.compile(r"^transformer\.encoder\.layers\.(\d+)\.(.+)$")
_RENAMED_KEYS = {
    "transformer.embedding.word_embeddings.weight": "model.embed_tokens.weight",
    "transformer.encoder.final_layernorm.weight": "model.norm.weight",
    "transformer.output_layer.weight": "lm_head.weight",
}
_RENAMED_LAYER_PARTS = {
    "input_layernorm.weight": "input_layernorm.weight",
    "post_attention_layernorm.weight": "post_attention_layernorm.weight",
    "self_attention.dense.weight": "self_attn.o_proj.weight",
    # Both pack [gate; up] in this order and apply silu(gate) * up.
    "mlp.dense_h_to_4h.weight": "mlp.gate_up_proj.weight",
    "mlp.dense_4h_to_h.weight": "mlp.down_proj.weight",
}
# Recomputed by transformers from the config, not weights.
_IGNORED_KEYS = {"transformer.rotary_pos_emb.inv_freq"}


def map_release_tensors(
    name: str, tensor: torch.Tensor, config: dict[str, Any]
) -> Iterator[tuple[str, torch.Tensor]]:
    """GlmForCausalLM (name, tensor) pairs for one tensor of the release's state dict."""
    if name in _IGNORED_KEYS:
        return
    if name in _RENAMED_KEYS:
        yield _RENAMED_KEYS[name], tensor
        return
    match = _LAYER_KEY.match(name)
    if match is None:
        raise KeyError(name)
    layer, part = match.groups()
    prefix = f"model.layers.{layer}."
    if part in _RENAMED_LAYER_PARTS:
        yield prefix + _RENAMED_LAYER_PARTS[part], tensor
        return
    qkv = re.fullmatch(r"self_attention\.query_key_value\.(weight|bias)", part)
    if qkv is None:
        raise KeyError(name)
    kind = qkv.group(1)
    head_dim = int(config["kv_channels"])
    num_heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("multi_query_group_num", num_heads)) if config.get("multi_query_attention") else num_heads
    # The fused projection is laid out [all query heads; key groups; value groups].
    query, key, value = torch.split(tensor, [num_heads * head_dim, kv_heads * head_dim, kv_heads * head_dim], dim=0)
    yield prefix + f"self_attn.q_proj.{kind}", query
    yield prefix + f"self_attn.k_proj.{kind}", key
    yield prefix + f"self_attn.v_proj.{kind}", value


def _read_weight_file(path: Path) -> dict[str, torch.Tensor]:
    """One checkpoint file, read as data only (weights_only: no pickled code runs)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch/safetensors raise many types for damaged files
        raise ModelSetupError(
            f"The weight file {path} could not be read ({type(exc).__name__}: {str(exc)[:120]}); it "
            f"is probably half-copied or damaged, so {FIX_COPY}."
        ) from exc


def build_glm_model(config: dict[str, Any], weight_files: list[Path], dtype: torch.dtype) -> nn.Module:
    """GlmForCausalLM holding the release's weights, in ``dtype`` on the CPU."""
    from transformers import GlmForCausalLM

    glm_config = glm_config_from_release(config, dtype)
    # Built on the meta device so no memory is spent on random weights that are replaced anyway.
    with torch.device("meta"):
        model = GlmForCausalLM(glm_config)
    expected = model.state_dict()  # meta tensors: names and shapes only

    state_dict: dict[str, torch.Tensor] = {}
    for weight_file in weight_files:
        for name, tensor in _read_weight_file(weight_file).items():
            try:
                pairs = list(map_release_tensors(name, tensor, config))
            except KeyError:
                raise ModelSetupError(
                    f"{weight_file} holds a tensor {name!r} that ChatGLM2 does not have, so the folder "
                    "is not a plain ChatGLM2 release; use the original THUDM/chatglm2-6b files."
                ) from None
            for new_name, new_tensor in pairs:
                state_dict[new_name] = new_tensor.to(dtype).contiguous()

    for name, tensor in state_dict.items():
        wanted = expected[name].shape if name in expected else None
        if wanted is not None and tensor.shape != wanted:
            raise ModelSetupError(
                f"The weights in {weight_files[0].parent} do not fit its config.json ({name} has "
                f"shape {tuple(tensor.shape)}, the config implies {tuple(wanted)}); {FIX_COPY}."
            )
    missing = sorted(set(expected) - set(state_dict))
    if missing:
        raise ModelSetupError(
            f"The weights in {weight_files[0].parent} lack {len(missing)} tensors (first: "
            f"{missing[0]}); a shard is probably missing or half-copied, so {FIX_COPY}."
        )
    model.load_state_dict(state_dict, strict=True, assign=True)
    _rebuild_rotary_embedding(model, glm_config)
    return model


def _rebuild_rotary_embedding(model: nn.Module, glm_config) -> None:
    """The rotary frequencies are non-persistent buffers: compute them for real (not on meta)."""
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding

    model.model.rotary_emb = GlmRotaryEmbedding(config=glm_config)


# --- quantisation ------------------------------------------------------------------------------

def quantize_int8(model: nn.Module, device: torch.device) -> nn.Module:
    """int8 weights for the linear layers: torch's dynamic quantisation on CPU, weight-only int8
    (dequantised per layer on the fly) on CUDA, where dynamic quantisation has no kernels."""
    if device.type == "cpu":
        try:
            from torch.ao.quantization import quantize_dynamic

            # torch 2.13 warns that its quantised tensors are deprecated (moving to torchao);
            # they still work, and the warning means nothing to a user.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
                return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        except (ImportError, RuntimeError, AssertionError) as exc:
            logger.warning("torch dynamic int8 quantisation unavailable (%s); using weight-only int8", exc)
    _replace_linears(model)
    return model


class WeightOnlyInt8Linear(nn.Module):
    """A Linear whose weight is stored as int8 with one scale per output row (half of fp16)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        self.register_buffer("weight_int8", torch.round(weight / scale[:, None]).to(torch.int8))
        self.register_buffer("scale", scale.to(linear.weight.dtype))
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach(), requires_grad=False)
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_int8.to(x.dtype) * self.scale.to(x.dtype)[:, None]
        return nn.functional.linear(x, weight, self.bias)


def _replace_linears(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Linear):
            setattr(module, name, WeightOnlyInt8Linear(child))
        else:
            _replace_linears(child)
