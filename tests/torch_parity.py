#!/usr/bin/python3
"""torch_parity.py - check posttrain.h's transformer, loss, gradients and AdamW against PyTorch.

Usage: /usr/bin/python3 tests/torch_parity.py build/parity_dump OUTDIR

Runs the dumper (tests/parity_dump.c) into OUTDIR, then rebuilds the same model in plain PyTorch
(an independent implementation written here; it follows the conventions of llama2.c's model.py:
RMSNorm, interleaved-pair RoPE, grouped-query attention with repeat_kv, SwiGLU w2(silu(w1 x) * w3 x),
weights stored (out, in), classifier tied to tok_embeddings unless `output` exists) and compares, for
each case (1 = tied classifier, 2 = untied):
    logits              max |ours - ref64|                                    < 1e-4
    loss                |ours - ref64| / |ref64|                              < 1e-5
    grad.<param>        ||g_ours - g_ref64|| / ||g_ref64||   (one per tensor) < 1e-3
    adamw loss k        |ours - ref64| (absolute), k = 0..4, loss before step k < 1e-4
    adamw params        ||w_ours - w_ref64|| / ||w_ref64|| after 5 steps, worst tensor < 1e-3
The reference runs in float64 (the judge); a float32 run of the same reference is printed alongside
as the float32 noise floor. AdamW is torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.95), eps=1e-8) with two
parameter groups: weight_decay 0.1, and 0 for the norm weights (posttrain.h flags them
PT_PARAM_NO_DECAY; meta.json carries the flag).
Prints a table, then exactly "N passed, N failed" as the last line; exits 1 on any failure. If torch
is not importable it prints "SKIPPED: ..." and "0 passed, 0 failed" and exits 0.
"""
import json
import math
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
except ImportError:
    print("!" * 72)
    print("SKIPPED: torch_parity (python3-torch not installed)")
    print("!" * 72)
    print("0 passed, 0 failed")
    sys.exit(0)

TOL_LOGITS = 1e-4      # max abs
TOL_LOSS = 1e-5        # relative
TOL_GRAD = 1e-3        # relative, norm-wise, per tensor
TOL_ADAM_LOSS = 1e-4   # absolute, per step
TOL_ADAM_PARAM = 1e-3  # relative, norm-wise, worst tensor


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, label, value, tol, floor=None, unit=""):
        ok = bool(value < tol)          # NaN compares False: a NaN fails
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(label)
        fl = "" if floor is None else "%.3e" % floor
        print("  %-40s %12.3e %12s %10.0e  %s%s" % (label, value, fl, tol, "PASS" if ok else "FAIL", unit))
        return ok


# --------------------------------------------------------------------------------------------------
# The reference model (plain PyTorch, functional over a dict of parameter tensors)
# --------------------------------------------------------------------------------------------------
def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, theta):
    """x [B, T, H, hd]: rotate interleaved pairs (2i, 2i+1) by t * theta^(-2i/hd), t = 0..T-1."""
    B, T, H, hd = x.shape
    i = torch.arange(0, hd, 2, dtype=torch.float64)
    freq = theta ** (-i / hd)                                       # [hd/2]
    ang = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]  # [T, hd/2]
    cos = torch.cos(ang).to(x.dtype)[None, :, None, :]
    sin = torch.sin(ang).to(x.dtype)[None, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x0 * sin + x1 * cos
    return torch.stack((y0, y1), dim=-1).reshape(B, T, H, hd)


def attention(q, k, v):
    """q [B, T, H, hd], k/v [B, T, KVH, hd]; causal; query head h uses kv head h // (H // KVH)."""
    B, T, H, hd = q.shape
    group = H // k.shape[2]
    k = k.repeat_interleave(group, dim=2)   # llama2.c repeat_kv: kv head j -> query heads j*g .. j*g+g-1
    v = v.repeat_interleave(group, dim=2)
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)   # [B, H, T, hd]
    scores = q @ k.transpose(-2, -1) / math.sqrt(hd)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    scores = scores.masked_fill(causal, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    return (p @ v).transpose(1, 2).reshape(B, T, H * hd)


def forward_logits(P, cfg, tokens):
    """tokens int64 [B, T] -> logits [B*T, V]."""
    B, T = tokens.shape
    D, H, KVH = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    hd = D // H
    eps, theta = cfg["norm_eps"], cfg["rope_theta"]
    x = P["tok_embeddings"][tokens]                                   # [B, T, D]
    for l in range(cfg["n_layers"]):
        pre = "layers.%d." % l
        h = rmsnorm(x, P[pre + "attn_norm"], eps)
        q = (h @ P[pre + "attn.wq"].t()).view(B, T, H, hd)
        k = (h @ P[pre + "attn.wk"].t()).view(B, T, KVH, hd)
        v = (h @ P[pre + "attn.wv"].t()).view(B, T, KVH, hd)
        q, k = rope(q, theta), rope(k, theta)
        x = x + attention(q, k, v) @ P[pre + "attn.wo"].t()
        h = rmsnorm(x, P[pre + "ffn_norm"], eps)
        g = torch.nn.functional.silu(h @ P[pre + "mlp.w1"].t()) * (h @ P[pre + "mlp.w3"].t())
        x = x + g @ P[pre + "mlp.w2"].t()
    x = rmsnorm(x, P["norm"], eps)
    C = P["output"] if cfg["untied"] else P["tok_embeddings"]
    return (x @ C.t()).reshape(B * T, -1)


def masked_ce(logits, targets, mask):
    logp = torch.log_softmax(logits, dim=-1)
    ce = -logp.gather(1, targets[:, None]).squeeze(1)
    return (mask * ce).sum() / mask.sum()


# --------------------------------------------------------------------------------------------------
# Loading the dump
# --------------------------------------------------------------------------------------------------
def load(d, name, dtype, n):
    path = os.path.join(d, name + ".bin")
    a = np.fromfile(path, dtype=dtype)
    if a.size != n:
        raise RuntimeError("%s has %d elements, expected %d" % (path, a.size, n))
    return a


def make_params(raw, dtype):
    return {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in raw.items()}


def rel_norm(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    nb = np.linalg.norm(b)
    diff = np.linalg.norm(a - b)
    return diff / nb if nb > 0 else diff


def run_case(d, res):
    meta = json.load(open(os.path.join(d, "meta.json")))
    cfg, B, T = meta["config"], meta["B"], meta["T"]
    V, N = cfg["vocab_size"], meta["B"] * meta["T"]
    specs = meta["params"]
    raw = {p["name"]: load(d, p["name"], "<f4", int(np.prod(p["shape"]))).reshape(p["shape"]) for p in specs}
    tokens = torch.tensor(load(d, "tokens", "<i4", N).reshape(B, T), dtype=torch.int64)
    targets = torch.tensor(load(d, "targets", "<i4", N), dtype=torch.int64)
    mask_np = load(d, "mask", "<f4", N)
    our_logits = load(d, "logits", "<f4", N * V).reshape(N, V)
    our_loss = float(load(d, "loss", "<f4", 1)[0])
    our_grads = {p["name"]: load(d, "grad." + p["name"], "<f4", int(np.prod(p["shape"]))) for p in specs}
    ad = meta["adamw"]
    our_adam_losses = load(d, "adamw_losses", "<f4", ad["steps"])
    our_adam_params = {p["name"]: load(d, "adamw." + p["name"], "<f4", int(np.prod(p["shape"]))) for p in specs}

    print("case %d: %s classifier, dim %d, layers %d, heads %d/%d kv, hidden %d, vocab %d, B %d, T %d, "
          "%d of %d targets weighted (mask sum %.1f)"
          % (meta["case"], "untied" if cfg["untied"] else "tied", cfg["dim"], cfg["n_layers"], cfg["n_heads"],
             cfg["n_kv_heads"], cfg["hidden_dim"], V, B, T, int((mask_np != 0).sum()), N, mask_np.sum()))
    if not cfg["untied"] and "output" in raw:
        raise RuntimeError("tied case has an 'output' parameter")
    if cfg["untied"] and "output" not in raw:
        raise RuntimeError("untied case has no 'output' parameter")
    print("  %-40s %12s %12s %10s" % ("quantity", "ours-ref64", "ref32-ref64", "tol"))

    ref = {}
    for dt in (torch.float64, torch.float32):
        P = make_params(raw, dt)
        logits = forward_logits(P, cfg, tokens)
        loss = masked_ce(logits, targets, torch.tensor(mask_np, dtype=dt))
        loss.backward()
        ref[dt] = dict(logits=logits.detach().double().numpy(), loss=loss.item(),
                       grads={k: (P[k].grad.double().numpy().ravel() if P[k].grad is not None
                                  else np.zeros(P[k].numel())) for k in P})
    r64, r32 = ref[torch.float64], ref[torch.float32]

    res.check("logits max abs", np.abs(our_logits - r64["logits"]).max(), TOL_LOGITS,
              np.abs(r32["logits"] - r64["logits"]).max())
    res.check("loss rel (%.6f)" % r64["loss"], abs(our_loss - r64["loss"]) / abs(r64["loss"]), TOL_LOSS,
              abs(r32["loss"] - r64["loss"]) / abs(r64["loss"]))
    worst = (0.0, "")
    for p in specs:
        k = p["name"]
        e = rel_norm(our_grads[k], r64["grads"][k])
        if np.linalg.norm(r64["grads"][k]) == 0:
            raise RuntimeError("reference gradient of %s is zero: the check would be vacuous" % k)
        res.check("grad." + k, e, TOL_GRAD, rel_norm(r32["grads"][k], r64["grads"][k]))
        worst = max(worst, (e, k))
    print("  max grad rel error: %.3e (%s)" % worst)

    # AdamW on the same batch, in float64 (judge) and float32 (noise floor)
    adam = {}
    for dt in (torch.float64, torch.float32):
        P = make_params(raw, dt)
        groups = [
            {"params": [P[p["name"]] for p in specs if not p["no_decay"]], "weight_decay": ad["weight_decay"]},
            {"params": [P[p["name"]] for p in specs if p["no_decay"]], "weight_decay": 0.0},
        ]
        opt = torch.optim.AdamW(groups, lr=ad["lr"], betas=(ad["beta1"], ad["beta2"]), eps=ad["eps"])
        losses = []
        for _ in range(ad["steps"]):
            opt.zero_grad()
            loss = masked_ce(forward_logits(P, cfg, tokens), targets, torch.tensor(mask_np, dtype=dt))
            losses.append(loss.item())
            loss.backward()
            opt.step()
        adam[dt] = (np.array(losses), {k: v.detach().double().numpy().ravel() for k, v in P.items()})
    a64, a32 = adam[torch.float64], adam[torch.float32]
    for s in range(ad["steps"]):
        res.check("adamw loss %d (%.6f)" % (s, a64[0][s]), abs(float(our_adam_losses[s]) - a64[0][s]),
                  TOL_ADAM_LOSS, abs(a32[0][s] - a64[0][s]))
    pe = max((rel_norm(our_adam_params[k], a64[1][k]), k) for k in a64[1])
    pf = max(rel_norm(a32[1][k], a64[1][k]) for k in a64[1])
    res.check("adamw params (worst %s)" % pe[1], pe[0], TOL_ADAM_PARAM, pf)
    print("  max adamw loss abs error: %.3e" % np.abs(our_adam_losses.astype(np.float64) - a64[0]).max())


def main():
    if len(sys.argv) != 3:
        print("usage: %s build/parity_dump OUTDIR" % sys.argv[0])
        print("0 passed, 1 failed")
        return 1
    dumper, outdir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    res = Results()
    print("torch %s, numpy %s" % (torch.__version__, np.__version__))
    try:
        os.makedirs(outdir, exist_ok=True)
        r = subprocess.run([dumper, outdir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=120)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            raise RuntimeError("%s exited with status %d" % (dumper, r.returncode))
    except Exception as e:   # a dumper that cannot run is one failure, not a crash
        print("FAIL: dumper: %s" % e)
        print("0 passed, 1 failed")
        return 1
    for case in ("case1", "case2"):
        try:
            run_case(os.path.join(outdir, case), res)
        except Exception as e:
            print("FAIL: %s: %s: %s" % (case, type(e).__name__, e))
            res.failed += 1
            res.failures.append(case)
    if res.failures:
        print("failed: " + ", ".join(res.failures))
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
