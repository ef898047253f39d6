#!/usr/bin/python3
"""torch_ref.py - the PyTorch peer of tests/bench/bench_model.c.

A plain PyTorch Llama with the same math as posttrain.h (tied classifier, RMSNorm eps 1e-5,
interleaved-pair RoPE, SwiGLU, grouped-query attention) measuring the same workloads the
same way as bench_model.c:
  train  forward + backward + AdamW on B=8, T=256 random tokens; tokens/s of the best step
         after 2 warm-up steps (8 timed steps on tiny, 4 on small, like bench_model.c)
  gen1   new tokens/s decoding 128 tokens after a 1-token prompt, batch 1 (best of 3 runs)
  gen16  the same with batch 16
  dpo    one DPO step on 4 preference pairs of T=256 tokens each side (a shared 64-token prompt + 192
         random completion tokens): chosen and rejected through the policy as one batch of 8 rows
         (row 2i chosen i, 2i+1 rejected i, as posttrain.h's pair batch), per-sequence log-prob = sum
         over the completion's tokens of log_softmax(logits)[target], reference log-probs cached
         (computed once from the starting policy, not timed), sigmoid loss with beta 0.1, backward,
         AdamW; tokens/s = 2048 per step. Timed as bench_model.c does: 2 warm-up steps, then the
         best of a few runs of k steps (tiny 3 x 4, small 2 x 2), mean step of the run
  rm     the same pairs through a reward model (a second Llama of the config with a Linear(dim, 1)
         head on the final normed hidden state), the head read where posttrain.h reads it (the last
         position with a completion target), Bradley-Terry loss -logsigmoid(r_c - r_r).mean(),
         backward, AdamW over the model and the head; timed like dpo
  rss    peak RSS (getrusage ru_maxrss) of a separate subprocess per config that builds the
         model and runs the same training steps only (at the largest thread count);
         rss_base_mb: the same process right after "import torch" (the interpreter + libtorch
         floor included in rss_mb)
  rl     (all, tiny, or rl alone; the tiny config) 8 prompts of 16 random tokens, G = 8 and 16
         completions each of 48 new tokens at temperature 1, no stop token (as bench_model.c):
         rollout  tokens/s of the batched KV-cache sampler alone (Llama.rollout: the prompt prefilled
                  once per group, its cache copied to the G sequences, as pt_generate; best of 3)
         grpo     generated tokens/s of a whole GRPO step (bench_grpo), mean of 5 steps after 1,
                  and its split: gen (rollout), logprob (the reference's forward), update (policy
                  forward, loss, backward, AdamW) as shares of the step time; length = 48

usage: /usr/bin/python3 tests/bench/torch_ref.py [tiny|small|all|rl] [threads...]
       (defaults: all 1 2).  env: TORCH_REF_OPT=foreach|forloop (AdamW implementation),
       TORCH_REF_GQA=group|repeat (decode-time GQA, see GQA_DECODE).
Prints one machine-readable line per config and thread count:
  torch tiny threads=2 train=13012 gen1=1100 gen16=7400 dpo=12000 rm=14000 rss_mb=940 rss_base_mb=230
        train_minflt_per_step=0   (one line)
and one line per thread count and G for RL:
  torch_rl tiny threads=2 G=8 rollout=6400 grpo=2300 gen=0.404 logprob=0.162 update=0.434 length=48.0
plus an info line with the torch version, BLAS library actually mapped, CPU capability,
malloc settings and optimizer mode:
  torch_info version=1.13.0a0 blas=/usr/lib/.../openblas-openmp/libopenblasp-r0.3.21.so ...
"""
import copy
import math
import os
import resource
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "tiny": dict(dim=64, n_layers=5, n_heads=8, n_kv_heads=4, hidden_dim=172, vocab_size=512, seq_len=256),
    "small": dict(dim=288, n_layers=6, n_heads=6, n_kv_heads=6, hidden_dim=768, vocab_size=512, seq_len=256),
}
TRAIN_STEPS = {"tiny": 8, "small": 4}   # timed steps after 2 warm-ups, as in bench_model.c
B, T, N_NEW, GEN_RUNS = 8, 256, 128, 3
PAIRS, PROMPT, DPO_BETA = 4, 64, 0.1    # DPO / RM: 4 pairs = B rows of T tokens, 64-token prompts
PAIR_RUNS = {"tiny": (4, 3), "small": (2, 2)}   # (k steps per run, runs), as in bench_model.c
# RL (tiny only): RL_PROMPTS prompts of RL_PROMPT_LEN random tokens, G completions of RL_NEW tokens
RL_PROMPTS, RL_PROMPT_LEN, RL_NEW, RL_GROUPS = 8, 16, 48, (8, 16)
RL_BETA, RL_EPS, RL_WARMUP, RL_STEPS = 0.04, 0.2, 1, 5     # GRPO defaults; 1 warm-up + 5 timed steps
# decode-time GQA: "group" (default) views the n_heads queries as [n_kv, rep] against the
# cache as it is; "repeat" repeat_interleaves the cached K/V to n_heads every step (same math,
# about half the batch-1 speed on tiny: the per-step copies and index ops cost more than the
# attention itself)
GQA_DECODE = os.environ.get("TORCH_REF_GQA", "group")


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2.0 ** 20


# ----------------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim, seq_len, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    ang = torch.outer(torch.arange(seq_len).float(), freqs)          # [seq, hd/2]
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """x [..., T, H, hd] with interleaved pairs (x[2i], x[2i+1]); cos/sin [T, hd/2]."""
    xr = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    c, s = cos[:, None, :], sin[:, None, :]                         # broadcast over heads
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads, self.n_kv = c["n_heads"], c["n_kv_heads"]
        self.hd = c["dim"] // c["n_heads"]
        d = c["dim"]
        self.attn_norm = RMSNorm(d)
        self.wq = nn.Linear(d, self.n_heads * self.hd, bias=False)
        self.wk = nn.Linear(d, self.n_kv * self.hd, bias=False)
        self.wv = nn.Linear(d, self.n_kv * self.hd, bias=False)
        self.wo = nn.Linear(self.n_heads * self.hd, d, bias=False)
        self.ffn_norm = RMSNorm(d)
        self.w1 = nn.Linear(d, c["hidden_dim"], bias=False)
        self.w2 = nn.Linear(c["hidden_dim"], d, bias=False)
        self.w3 = nn.Linear(d, c["hidden_dim"], bias=False)

    def ffn(self, x):
        h = self.ffn_norm(x)
        return self.w2(F.silu(self.w1(h)) * self.w3(h))

    def forward(self, x, cos, sin, mask, cache=None):
        """training / full-sequence path: x [B, T, D]; causal mask [T, T] additive (-inf above);
        cache (kc, vc) [B, KV, Tmax, hd]: positions 0..T-1 receive this K/V (a rollout's prefill)."""
        Bn, Tn, _ = x.shape
        h = self.attn_norm(x)
        q = apply_rope(self.wq(h).view(Bn, Tn, self.n_heads, self.hd), cos, sin)
        k = apply_rope(self.wk(h).view(Bn, Tn, self.n_kv, self.hd), cos, sin)
        v = self.wv(h).view(Bn, Tn, self.n_kv, self.hd)
        if cache is not None:
            cache[0][:, :, :Tn] = k.transpose(1, 2)
            cache[1][:, :, :Tn] = v.transpose(1, 2)
        rep = self.n_heads // self.n_kv
        if rep > 1:                                                 # GQA: repeat the kv heads
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B, H, T, hd]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd)) + mask
        y = F.softmax(att, dim=-1) @ v                              # [B, H, T, hd]
        x = x + self.wo(y.transpose(1, 2).reshape(Bn, Tn, -1))
        return x + self.ffn(x)

    def step(self, x, pos, cos, sin, kc, vc):
        """decode path: x [N, 1, D] at position pos; kc/vc preallocated [N, KV, Tmax, hd]."""
        N = x.shape[0]
        h = self.attn_norm(x)
        q = apply_rope(self.wq(h).view(N, 1, self.n_heads, self.hd), cos, sin)
        k = apply_rope(self.wk(h).view(N, 1, self.n_kv, self.hd), cos, sin)
        v = self.wv(h).view(N, 1, self.n_kv, self.hd)
        kc[:, :, pos] = k[:, 0]
        vc[:, :, pos] = v[:, 0]
        K, V = kc[:, :, :pos + 1], vc[:, :, :pos + 1]                 # [N, KV, t, hd]
        rep = self.n_heads // self.n_kv
        if GQA_DECODE == "repeat" and rep > 1:                      # copy the cache to n_heads every step
            K, V = K.repeat_interleave(rep, dim=1), V.repeat_interleave(rep, dim=1)
            qg = q.view(N, self.n_heads, 1, self.hd)
        else:                                                       # group q heads by kv head: no copy
            qg = q.view(N, self.n_kv, rep, self.hd)
        att = (qg @ K.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))   # [N, KV, rep, t]
        y = F.softmax(att, dim=-1) @ V                              # [N, KV, rep, hd]
        x = x + self.wo(y.reshape(N, 1, -1))
        return x + self.ffn(x)


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.tok_embeddings = nn.Embedding(c["vocab_size"], c["dim"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["n_layers"])])
        self.norm = RMSNorm(c["dim"])
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
        cos, sin = rope_tables(c["dim"] // c["n_heads"], c["seq_len"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.full((c["seq_len"], c["seq_len"]), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def hidden(self, tokens):
        """final hidden states after the last norm, [B, T, D] (what the classifier and a head read)"""
        Tn = tokens.shape[1]
        x = self.tok_embeddings(tokens)
        cos, sin, mask = self.cos[:Tn], self.sin[:Tn], self.mask[:Tn, :Tn]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)

    def logits(self, tokens):
        return self.hidden(tokens) @ self.tok_embeddings.weight.t()   # tied classifier

    def forward(self, tokens, targets):
        logits = self.logits(tokens)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))

    @torch.inference_mode()
    def generate(self, prompt, batch, n_new, temperature=1.0):
        """prompt: list of ints (>= 1 token); one forward per new token for the whole batch."""
        c = self.c
        hd, width = c["dim"] // c["n_heads"], len(prompt) + n_new
        caches = [(torch.empty(batch, c["n_kv_heads"], width, hd), torch.empty(batch, c["n_kv_heads"], width, hd))
                  for _ in self.layers]
        out = torch.empty(batch, width, dtype=torch.long)
        out[:, :len(prompt)] = torch.tensor(prompt)
        pos = 0
        for pos in range(len(prompt) - 1):                          # prefill all but the last prompt token
            self._step(out[:, pos:pos + 1], pos, caches)
        for i in range(n_new):
            pos = len(prompt) - 1 + i
            logits = self._step(out[:, pos:pos + 1], pos, caches)   # [batch, V]
            probs = F.softmax(logits / temperature, dim=-1)
            out[:, pos + 1] = torch.multinomial(probs, 1)[:, 0]
        return out

    @torch.inference_mode()
    def rollout(self, prompts, G, n_new, temperature=1.0):
        """G completions of n_new tokens for each prompt of prompts [P, L] (no stop token), as
        pt_generate does it: all but the last prompt token prefilled once per prompt (one forward),
        that KV cache copied to the group's G sequences, then one batched step per new token for all
        P * G sequences (the first feeds the last prompt token). Returns [P * G, L + n_new]."""
        c = self.c
        P, L = prompts.shape
        N, hd, kv, width = P * G, c["dim"] // c["n_heads"], c["n_kv_heads"], L + n_new
        caches = [(torch.empty(N, kv, width, hd), torch.empty(N, kv, width, hd)) for _ in self.layers]
        if L > 1:
            pre = [(torch.empty(P, kv, L - 1, hd), torch.empty(P, kv, L - 1, hd)) for _ in self.layers]
            x = self.tok_embeddings(prompts[:, :L - 1])
            cos, sin, mask = self.cos[:L - 1], self.sin[:L - 1], self.mask[:L - 1, :L - 1]
            for layer, cache in zip(self.layers, pre):
                x = layer(x, cos, sin, mask, cache)
            for (kc, vc), (pk, pv) in zip(caches, pre):
                kc[:, :, :L - 1] = pk.repeat_interleave(G, dim=0)
                vc[:, :, :L - 1] = pv.repeat_interleave(G, dim=0)
        out = torch.empty(N, width, dtype=torch.long)
        out[:, :L] = prompts.repeat_interleave(G, dim=0)
        for i in range(n_new):
            pos = L - 1 + i
            logits = self._step(out[:, pos:pos + 1], pos, caches)   # [N, V]
            probs = F.softmax(logits / temperature, dim=-1)
            out[:, pos + 1] = torch.multinomial(probs, 1)[:, 0]
        return out

    def _step(self, tok, pos, caches):
        x = self.tok_embeddings(tok)                                # [N, 1, D]
        cos, sin = self.cos[pos:pos + 1], self.sin[pos:pos + 1]
        for layer, (kc, vc) in zip(self.layers, caches):
            x = layer.step(x, pos, cos, sin, kc, vc)
        return (self.norm(x) @ self.tok_embeddings.weight.t())[:, 0]


# ----------------------------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------------------------
def make_opt(model, extra=()):
    kw = dict(lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)   # posttrain.h AdamW defaults
    mode = os.environ.get("TORCH_REF_OPT", "foreach")           # fused does not exist on CPU in 1.13
    params = list(model.parameters()) + list(extra)
    try:
        return torch.optim.AdamW(params, foreach=(mode == "foreach"), **kw), mode
    except TypeError:
        return torch.optim.AdamW(params, **kw), "default"


def make_head(c):
    """posttrain.h's scalar head: v = h . w + b, w ~ N(0, 1/(D+1)), b = 0"""
    head = nn.Linear(c["dim"], 1)
    nn.init.normal_(head.weight, std=1.0 / math.sqrt(c["dim"] + 1))
    nn.init.zeros_(head.bias)
    return head


def train_batch(c):
    g = torch.Generator().manual_seed(1)
    tok = torch.randint(0, c["vocab_size"], (B, T), generator=g)
    tgt = torch.randint(0, c["vocab_size"], (B, T), generator=g)
    return tok, tgt


def bench_train(model, opt, steps):
    """tokens/s of the best of `steps` timed steps after 2 warm-ups, and the mean number of
    minor page faults per timed step (memory the allocator gave back to the OS and re-faulted,
    or fresh heap growth; ~0 when malloc keeps its buffers)."""
    tok, tgt = train_batch(model.c)
    best, faults = 1e30, 0
    for s in range(steps + 2):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        loss = model(tok, tgt)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if s >= 2:                                                  # 2 warm-up steps
            best = min(best, dt)
            faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    if not math.isfinite(loss.item()):
        sys.exit("torch_ref: non-finite loss")
    return B * T / best, faults / steps


def pair_batch(c):
    """The pairs as one batch of B = 2 * PAIRS rows (row 2i chosen i, 2i+1 rejected i, sharing the
    prompt): inputs all T tokens, targets the next token on completion targets (-100 elsewhere),
    and the position the reward head is read at: the last one with a completion target."""
    g = torch.Generator().manual_seed(2)
    prompt = torch.randint(0, c["vocab_size"], (PAIRS, PROMPT), generator=g)
    ids = torch.empty(B, T, dtype=torch.long)
    ids[0::2, :PROMPT] = prompt
    ids[1::2, :PROMPT] = prompt
    ids[:, PROMPT:] = torch.randint(0, c["vocab_size"], (B, T - PROMPT), generator=g)
    tgt = torch.full((B, T), -100, dtype=torch.long)
    tgt[:, PROMPT - 1:T - 1] = ids[:, PROMPT:]                      # 192 completion targets per row
    return ids, tgt, T - 2


def seq_logps(model, tok, tgt):
    """per-sequence sum of log_softmax(logits)[target] over the completion: chosen [PAIRS], rejected"""
    logits = model.logits(tok)
    lp = -F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1), ignore_index=-100, reduction="none")
    lp = lp.view(tok.shape).sum(-1)
    return lp[0::2], lp[1::2]


def time_pair_steps(step, k, runs):
    """tokens/s of the mean step of the best of `runs` runs of k steps, after 2 warm-up steps"""
    for _ in range(2):
        step()
    best = 1e30
    for _ in range(runs):
        t0 = time.perf_counter()
        for _ in range(k):
            loss = step()
        best = min(best, (time.perf_counter() - t0) / k)
    if not math.isfinite(loss):
        sys.exit("torch_ref: non-finite pair loss")
    return B * T / best


def bench_dpo(model, opt, k, runs):
    tok, tgt, _ = pair_batch(model.c)
    with torch.no_grad():                                           # the reference, once: not timed
        ref_c, ref_r = seq_logps(model, tok, tgt)

    def step():
        pi_c, pi_r = seq_logps(model, tok, tgt)
        loss = -F.logsigmoid(DPO_BETA * ((pi_c - ref_c) - (pi_r - ref_r))).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    return time_pair_steps(step, k, runs)


def bench_rm(model, head, opt, k, runs):
    tok, _, last = pair_batch(model.c)

    def step():
        r = head(model.hidden(tok))[:, last, 0]                     # the head on every position, read at one
        loss = -F.logsigmoid(r[0::2] - r[1::2]).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    return time_pair_steps(step, k, runs)


def bench_gen(model, batch):
    best = 1e30
    for _ in range(GEN_RUNS):
        t0 = time.perf_counter()
        model.generate([1], batch, N_NEW)
        best = min(best, time.perf_counter() - t0)
    return batch * N_NEW / best


def rl_prompts(c):
    g = torch.Generator().manual_seed(4)
    return torch.randint(0, c["vocab_size"], (RL_PROMPTS, RL_PROMPT_LEN), generator=g)


def bench_rollout(model, G):
    """rollout tokens/s: P * G completions of RL_NEW tokens, best of GEN_RUNS"""
    prompts, best = rl_prompts(model.c), 1e30
    for _ in range(GEN_RUNS):
        t0 = time.perf_counter()
        model.rollout(prompts, G, RL_NEW)
        best = min(best, time.perf_counter() - t0)
    return RL_PROMPTS * G * RL_NEW / best


def token_logps(model, inp, tgt, temperature=1.0):
    """log_softmax(logits / temperature)[target] at every position, [B, T]"""
    logits = model.logits(inp) / temperature
    return -F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none").view(tgt.shape)


def bench_grpo(c, G):
    """A whole GRPO step, as pt_grpo_train with bench_model.c's settings: the rollout (above), the
    reward (completion ids 128..255 counted, so rewards vary within groups), group-normalised
    advantages (r - mean) / (std + 1e-4) (unbiased std, per group), the reference's per-token
    log-probs (a frozen copy of the starting policy, torch.no_grad), then the policy's log-probs at
    temperature 1, the clipped surrogate with ratio exp(lp - lp.detach()) (= 1: one update per
    rollout) plus 0.04 x k3 KL to the reference, the per-sequence mean over completion tokens then
    the mean, backward, AdamW (lr 1e-4, no clipping). A fresh policy from the same seed as the other
    measurements. tokens/s = generated tokens (P * G * RL_NEW) per second of the mean step over
    RL_STEPS steps after RL_WARMUP; the split: generation, the reference's forward, the update
    (policy forward, loss, backward, AdamW), as shares of the step."""
    torch.manual_seed(0)
    model = Llama(c)
    opt, _ = make_opt(model)
    ref = copy.deepcopy(model).requires_grad_(False)
    prompts = rl_prompts(c)
    P, L = prompts.shape
    N = P * G
    mask = torch.zeros(N, L + RL_NEW - 1)                           # position t predicts token t + 1
    mask[:, L - 1:] = 1.0                                           # the completion's targets
    gen_s = ref_s = upd_s = total = 0.0
    for s in range(RL_WARMUP + RL_STEPS):
        t0 = time.perf_counter()
        seqs = model.rollout(prompts, G, RL_NEW).clone()            # out of inference mode: autograd saves it
        t1 = time.perf_counter()
        comp = seqs[:, L:]
        r = ((comp >= 128) & (comp < 256)).sum(1).float().view(P, G)
        adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(N, 1)
        inp, tgt = seqs[:, :-1], seqs[:, 1:]
        t2 = time.perf_counter()
        with torch.no_grad():
            ref_lp = token_logps(ref, inp, tgt)
        t3 = time.perf_counter()
        lp = token_logps(model, inp, tgt)
        ratio = torch.exp(lp - lp.detach())
        per = -torch.min(ratio * adv, ratio.clamp(1 - RL_EPS, 1 + RL_EPS) * adv)
        d = ref_lp - lp
        per = per + RL_BETA * (torch.exp(d) - d - 1)                # k3
        loss = ((per * mask).sum(1) / mask.sum(1)).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = loss.item()
        t4 = time.perf_counter()
        if s >= RL_WARMUP:
            gen_s, ref_s, upd_s, total = gen_s + t1 - t0, ref_s + t3 - t2, upd_s + t4 - t3, total + t4 - t0
    if not math.isfinite(loss):
        sys.exit("torch_ref: non-finite GRPO loss")
    return N * RL_NEW * RL_STEPS / total, gen_s / total, ref_s / total, upd_s / total, float(RL_NEW)


def mapped_blas():
    """The BLAS / OpenMP shared objects actually mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1] if len(line.split()) >= 6 else ""
            base = os.path.basename(p)
            if "blas" in base or "lapack" in base or "mkl" in base or "omp" in base:
                libs.add(os.path.realpath(p))
    blas = sorted(l for l in libs if "blas" in os.path.basename(l) or "mkl" in os.path.basename(l))
    omp = sorted(l for l in libs if "omp" in os.path.basename(l) and "blas" not in os.path.basename(l))
    return blas, omp


def rss_worker(name):
    """Separate process: peak RSS of building the model + training steps only."""
    torch.ones(64, 64) @ torch.ones(64, 64)                         # BLAS loaded, like the timed process
    base = current_rss_mb()
    torch.set_num_threads(int(os.environ.get("TORCH_REF_RSS_THREADS", "2")))
    torch.manual_seed(0)
    model = Llama(CONFIGS[name])
    opt, _ = make_opt(model)
    bench_train(model, opt, TRAIN_STEPS[name])                      # same steps as the timed run
    hwm = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")]
    print("rss %s %.1f %.1f vmhwm_mb=%.1f" % (name, peak_rss_mb(), base, int(hwm[0]) / 1024.0 if hwm else -1))


def main(argv):
    which = argv[0] if argv else "all"
    threads = [int(a) for a in argv[1:3]] or [1, 2]
    names = [n for n in CONFIGS if which in ("all", n)]
    if not names and which != "rl":
        sys.exit("usage: torch_ref.py [tiny|small|all|rl] [threads...]")
    # one throwaway matmul so libtorch has loaded its BLAS before we look at the mappings
    torch.ones(64, 64) @ torch.ones(64, 64)
    blas, omp = mapped_blas()
    cap = "unknown"
    for line in torch.__config__.show().splitlines():             # reflects ATEN_CPU_CAPABILITY
        if "CPU capability usage:" in line:
            cap = line.split(":", 1)[1].strip().replace(" ", "_")
    print("torch_info version=%s blas=%s omp=%s cpu_capability=%s opt=%s gqa_decode=%s omp_wait_policy=%s "
          "malloc_mmap_threshold=%s malloc_trim_threshold=%s"
          % (torch.__version__, ",".join(blas) or "none", ",".join(omp) or "none", cap,
             os.environ.get("TORCH_REF_OPT", "foreach"), GQA_DECODE, os.environ.get("OMP_WAIT_POLICY", "unset"),
             os.environ.get("MALLOC_MMAP_THRESHOLD_", "unset"),
             os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset")), flush=True)
    # Peak RSS first, one fresh process per config, while this process is still at its import
    # floor: Linux carries the parent's RSS high-water mark into a child's ru_maxrss across
    # fork/exec, so spawning after the timing runs would mix the numbers.
    rss = {}
    env = dict(os.environ, TORCH_REF_RSS_THREADS=str(max(threads)))
    for name in names:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss", name],
                           env=env, capture_output=True, text=True)
        rss[name] = ("nan", "nan")
        for line in r.stdout.splitlines():
            if line.startswith("rss "):
                rss[name] = (line.split()[2], line.split()[3])
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
    for name in names:
        torch.manual_seed(0)
        model = Llama(CONFIGS[name])
        opt, _ = make_opt(model)
        torch.manual_seed(1)
        rm_model, head = Llama(CONFIGS[name]), make_head(CONFIGS[name])   # the reward model
        rm_opt, _ = make_opt(rm_model, head.parameters())
        for nt in threads:
            torch.set_num_threads(nt)
            tr, flt = bench_train(model, opt, TRAIN_STEPS[name])
            g1 = bench_gen(model, 1)
            g16 = bench_gen(model, 16)
            dpo = bench_dpo(model, opt, *PAIR_RUNS[name])
            rm = bench_rm(rm_model, head, rm_opt, *PAIR_RUNS[name])
            print("torch %s threads=%d train=%.0f gen1=%.0f gen16=%.0f dpo=%.0f rm=%.0f rss_mb=%s rss_base_mb=%s "
                  "train_minflt_per_step=%.0f" % (name, nt, tr, g1, g16, dpo, rm, rss[name][0], rss[name][1], flt),
                  flush=True)
        del model, opt, rm_model, head, rm_opt
    if which in ("all", "tiny", "rl"):                             # the RL lines: tiny only
        torch.manual_seed(0)
        model = Llama(CONFIGS["tiny"])
        for nt in threads:
            torch.set_num_threads(nt)
            for G in RL_GROUPS:
                ro = bench_rollout(model, G)
                tok_s, gen, lp, upd, length = bench_grpo(CONFIGS["tiny"], G)
                print("torch_rl tiny threads=%d G=%d rollout=%.0f grpo=%.0f gen=%.3f logprob=%.3f update=%.3f "
                      "length=%.1f" % (nt, G, ro, tok_s, gen, lp, upd, length), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--rss":
        rss_worker(sys.argv[2])
    else:
        main(sys.argv[1:])
