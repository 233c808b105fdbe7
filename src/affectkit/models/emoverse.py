"""EmoVerse-small: a small instruct LLM + LoRA + projectors from pooled affect features to soft
tokens (an MLLM in miniature, after M2SE's EmoVerse).

Input sequence (SmolLM2 chat format)::

    <|im_start|>system\\n{SYSTEM}<|im_end|>\\n<|im_start|>user\\n
    [text: ■■] [voice: ■■] [face: ■■]        ← n_soft soft tokens per present modality
    {instruction}<|im_end|>\\n<|im_start|>assistant\\n{answer}<|im_end|>

Each soft token block is ``projector[m](feature vector)`` reshaped to (n_soft, hidden), after
a short text marker; a missing modality simply has no block (any subset, including none, runs).
Only the LoRA adapters (``q_proj``/``v_proj`` by default) and the projectors train; the LLM
weights stay frozen, so a tuned run stores a few hundred kB (:meth:`EmoVerse.trainable_state_dict`).

Decoding:

* :meth:`EmoVerse.choose` — **constrained** decoding for classification: greedy over a token
  trie of the valid label strings (each followed by ``<|im_end|>``); at every step only
  tokens that continue some valid label are scored, so an invalid label cannot come out;
  :meth:`EmoVerse.label_scores` gives the full log-likelihood of every label instead.
* :meth:`EmoVerse.generate` — free greedy text (ECPE pair lists, reasons, ``affect ask``).

Not a registry model (``MODELS``): it is a generative model with its own loss, trained through
:func:`affectkit.training.multistage.run_stages`, not the classification Trainer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from affectkit.models.text import LoRALinear as _TextLoRALinear

MODALITIES = ("text", "audio", "vision")
MARKERS = {"text": "text:", "audio": "voice:", "vision": "face:"}
SYSTEM = "You analyse emotions and sentiment."


class LoRALinear(_TextLoRALinear):
    """The text models' LoRA layer (``models.text.LoRALinear``) with dropout 0.05 by default and
    a ``reset`` for starting a new per-task run from the pretrained model."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0,
                 dropout: float = 0.05) -> None:
        super().__init__(base, r, alpha, dropout)

    def reset(self) -> None:
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        nn.init.zeros_(self.lora_b)


@dataclass
class EmoVerseConfig:
    feat_dims: dict[str, int] = field(default_factory=lambda: {"text": 384, "audio": 512,
                                                               "vision": 263})
    n_soft: int = 2
    proj_hidden: int = 256
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    system: str = SYSTEM


class EmoVerse(nn.Module):
    """LLM + LoRA + soft-token projectors (see the module docstring)."""

    def __init__(self, lm: nn.Module, tokenizer, cfg: EmoVerseConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or EmoVerseConfig()
        self.lm = lm
        self.tok = tokenizer
        for p in lm.parameters():
            p.requires_grad_(False)
        self.hidden = lm.get_input_embeddings().weight.shape[1]
        self.loras: list[LoRALinear] = []
        if cfg.lora_r > 0:
            for name, mod in list(lm.named_modules()):
                for t in cfg.lora_targets:
                    child = getattr(mod, t, None)
                    if isinstance(child, nn.Linear):
                        lo = LoRALinear(child, cfg.lora_r, cfg.lora_alpha)
                        setattr(mod, t, lo)
                        self.loras.append(lo)
        self.proj = nn.ModuleDict({
            m: nn.Sequential(nn.LayerNorm(d), nn.Linear(d, cfg.proj_hidden), nn.GELU(),
                             nn.Linear(cfg.proj_hidden, cfg.n_soft * self.hidden))
            for m, d in cfg.feat_dims.items()})
        self.im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
        self.im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self._enc_cache: dict[str, list[int]] = {}

    # -- parameters -----------------------------------------------------------------------------
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def reset_trainable(self, seed: int) -> None:
        """Fresh LoRA (B = 0: the LLM as shipped) and projector weights, seeded."""
        torch.manual_seed(seed)
        for lo in self.loras:
            lo.reset()
        for seq in self.proj.values():
            for layer in seq:
                if hasattr(layer, "reset_parameters"):
                    layer.reset_parameters()

    def n_trainable(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # -- sequences ------------------------------------------------------------------------------
    def enc(self, text: str) -> list[int]:
        ids = self._enc_cache.get(text)
        if ids is None:
            ids = list(self.tok.encode(text, add_special_tokens=False))
            if len(self._enc_cache) < 4096:
                self._enc_cache[text] = ids
        return ids

    def _embed(self, ids: list[int]) -> torch.Tensor:
        return self.lm.get_input_embeddings()(torch.tensor(ids, dtype=torch.long))

    def soft_tokens(self, modality: str, vec) -> torch.Tensor:
        x = torch.as_tensor(vec, dtype=torch.float32).reshape(1, -1)
        if modality not in self.proj:
            raise ValueError(f"EmoVerse has no projector for {modality!r} "
                             f"(has: {', '.join(self.proj)})")
        if x.shape[1] != self.cfg.feat_dims[modality]:
            raise ValueError(f"{modality} features have {x.shape[1]} dims; the projector "
                             f"expects {self.cfg.feat_dims[modality]}")
        return self.proj[modality](x).reshape(self.cfg.n_soft, self.hidden)

    def prompt_embeds(self, instruction: str, feats: dict | None = None,
                      use_soft: bool = True) -> torch.Tensor:
        """(L, H) embeddings of the prompt up to and including ``assistant\\n``."""
        head = [self.im_start] + self.enc("system\n" + self.cfg.system) + [self.im_end] + \
            self.enc("\n") + [self.im_start] + self.enc("user\n")
        parts = [self._embed(head)]
        for m in MODALITIES:
            v = (feats or {}).get(m)
            if v is None or not use_soft:
                continue
            parts.append(self._embed(self.enc(MARKERS[m])))
            parts.append(self.soft_tokens(m, v))
            parts.append(self._embed(self.enc("\n")))
        tail = self.enc(instruction) + [self.im_end] + self.enc("\n") + [self.im_start] + \
            self.enc("assistant\n")
        parts.append(self._embed(tail))
        return torch.cat(parts)

    def answer_ids(self, answer: str) -> list[int]:
        return self.enc(answer) + [self.im_end]

    # -- training -------------------------------------------------------------------------------
    def loss(self, items: list[tuple[str, dict | None, str]], max_len: int = 160) -> torch.Tensor:
        """Mean next-token cross-entropy over the answer tokens of ``(instruction, feats,
        answer)`` items (prompts longer than ``max_len`` are cut from the left of the
        instruction block's start — never the answer)."""
        seqs, targets = [], []
        for instr, feats, ans in items:
            p = self.prompt_embeds(instr, feats)
            a = self.answer_ids(ans)
            room = max_len - len(a)
            if p.shape[0] > room:
                p = torch.cat([p[:8], p[-(room - 8):]])
            seqs.append(torch.cat([p, self._embed(a)]))
            targets.append((p.shape[0], a))
        L = max(s.shape[0] for s in seqs)
        B = len(seqs)
        emb = torch.zeros(B, L, self.hidden)
        mask = torch.zeros(B, L, dtype=torch.long)
        for b, s in enumerate(seqs):
            emb[b, :s.shape[0]] = s
            mask[b, :s.shape[0]] = 1
        h = self.lm.model(inputs_embeds=emb, attention_mask=mask).last_hidden_state
        rows, cols, ys = [], [], []
        for b, (start, a) in enumerate(targets):
            for k, t in enumerate(a):
                rows.append(b)
                cols.append(start - 1 + k)  # the position that predicts answer token k
                ys.append(t)
        logits = self.lm.lm_head(h[torch.tensor(rows), torch.tensor(cols)])
        return nn.functional.cross_entropy(logits.float(), torch.tensor(ys))

    # -- decoding -------------------------------------------------------------------------------
    def _start(self, instruction: str, feats: dict | None, use_soft: bool):
        e = self.prompt_embeds(instruction, feats, use_soft)[None]
        out = self.lm(inputs_embeds=e, use_cache=True)
        return out.logits[0, -1], out.past_key_values, e.shape[1]

    def _step(self, tok: int, past, pos: int):
        out = self.lm(input_ids=torch.tensor([[tok]]), past_key_values=past, use_cache=True,
                      position_ids=torch.tensor([[pos]]))
        return out.logits[0, -1], out.past_key_values

    @torch.no_grad()
    def choose(self, instruction: str, feats: dict | None, labels: list[str], *,
               use_soft: bool = True) -> str:
        """Constrained greedy decoding onto ``labels`` (always returns one of them)."""
        if not labels:
            raise ValueError("choose: no labels given")
        seqs = {lab: self.answer_ids(lab) for lab in dict.fromkeys(labels)}
        if len(seqs) == 1:
            return next(iter(seqs))
        logits, past, pos = self._start(instruction, feats, use_soft)
        prefix: list[int] = []
        while True:
            live = [lab for lab, s in seqs.items() if s[:len(prefix)] == prefix]
            # a label whose every token (its <|im_end|> included) is decoded is complete
            done = [lab for lab in live if len(seqs[lab]) == len(prefix)]
            if done:
                return done[0]
            allowed = sorted({seqs[lab][len(prefix)] for lab in live})
            sub = logits[torch.tensor(allowed)]
            nxt = allowed[int(sub.argmax())]
            prefix.append(nxt)
            live = [lab for lab in live if seqs[lab][:len(prefix)] == prefix]
            if len(live) == 1:
                return live[0]  # the rest of the label is forced
            logits, past = self._step(nxt, past, pos)
            pos += 1

    @torch.no_grad()
    def label_scores(self, instruction: str, feats: dict | None, labels: list[str], *,
                     use_soft: bool = True) -> dict[str, float]:
        """Sum of log-probabilities of each label's tokens (+ end) after the prompt."""
        p = self.prompt_embeds(instruction, feats, use_soft)
        out = {}
        for lab in labels:
            a = self.answer_ids(lab)
            e = torch.cat([p, self._embed(a)])[None]
            lp = torch.log_softmax(self.lm(inputs_embeds=e).logits[0].float(), -1)
            out[lab] = float(sum(lp[p.shape[0] - 1 + k, t] for k, t in enumerate(a)))
        return out

    @torch.no_grad()
    def generate(self, instruction: str, feats: dict | None = None, *, max_new_tokens: int = 32,
                 use_soft: bool = True) -> tuple[str, int]:
        """Free greedy generation; ``(text, number of generated tokens)``."""
        logits, past, pos = self._start(instruction, feats, use_soft)
        ids: list[int] = []
        for _ in range(max_new_tokens):
            nxt = int(logits.argmax())
            if nxt == self.im_end or nxt == getattr(self.tok, "eos_token_id", None):
                break
            ids.append(nxt)
            logits, past = self._step(nxt, past, pos)
            pos += 1
        return self.tok.decode(ids, skip_special_tokens=True).strip(), len(ids)
