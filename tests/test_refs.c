/* Tests for the reference-model tools of posttrain.h (section 10, "References") and the parts of
   section 3 they read: pt_model_set_adapters, pt_model_clone, pt_sequence_logprobs,
   pt_model_hidden and the scalar heads (pt_model_head_attach / values / detach).

     1. adapters off            LoRA, trainable tokens, prompt tuning, both kinds at once (tied and
                                untied): switched off, the training forward, pt_model_step and
                                pt_generate (greedy tokens and log-probs, with and without the row
                                split) are bit-identical to a plain copy of the base; switched back
                                on, bit-identical to before; base and adapter bits untouched; no
                                gradient reaches an adapter while off; virtual tokens refused while
                                off; input vocab / prompt prefix; merged LoRA refuses to switch off
     2. clone                   frozen clone: same logits (adapters, virtual tokens, KV cache, head),
                                no trainable tensor or gradient buffer anywhere, independent of the
                                original's training; trainable clone: same frozen set, trains exactly
                                as the original does; heads copied; adapters-off state copied;
                                llama2.c import exported byte-identically (rope tables kept)
     3. sequence log-probs      per example == an independent per-example forward with a hand-made
                                log-softmax (world examples, multi-turn train masks, random masks,
                                prompt-only, 1-token, full-length, virtual-token prefixes);
                                independent of rows_per_batch; counts; adapters off == the base;
                                errors
     4. hidden states           [B*T, D]; logits == hidden x output^T (tied, untied, packed batch,
                                trainable tokens' classifier rows)
     5. heads                   values == hidden . w + b; init; gradient check (head w, b and base
                                tensors); AdamW through pt_model_optimizer_step fits a regression,
                                clipping uses one global norm over base and head; zero_grad;
                                detach / re-attach / replace (leaks: ASan); errors
     6. used context            the training forward on an arena that held NaN == on a zeroed one

   Every comparison is against an independent computation: a second model built from the same seed
   without adapters, a per-example forward, a hand-written matrix product or log-softmax.
   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_refs_XXXXXX, removed at the end.
   The suite runs on one thread except pt_generate with 8+ sequences (two threads: the row split).

   Bugs these checks found (fixed in posttrain.h 0.3.0): a frozen clone of a model with a head stayed
   trainable (a count kept as a status); pt_lora_merge succeeded while adapters were switched off;
   pt_attention's 16 padding floats were read uninitialised (0 * NaN from a reused arena). */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include "test_tmp.h"

#include <string.h>
#include <stdint.h>
#include <math.h>

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
#define V_ 272
static void randomize(pt_params *P, float std, uint64_t seed)
{
    pt_rng rng;
    pt_rng_seed(&rng, seed);
    pt_params_init_normal(P, "*", std, &rng);
}
/* max |a - b| / max(1, max |b|); NaN counts as a failure */
static double max_err(const float *a, const float *b, int64_t n) { return scaled_err(a, b, n, 1.0); }
static double abs_sum(const float *p, int64_t n) { double s = 0; int64_t i; for (i = 0; i < n; i++) s += fabs((double)p[i]); return s; }
/* sum |grad| over every trainable tensor of a parameter set (NaN-propagating) */
static double grad_abs_sum(const pt_params *P) { return P && P->grad ? abs_sum(P->grad, P->n_grad) : 0.0; }

/* KV-cache logits for one sequence: the first `pre` tokens in one call (a prefill, rows of one
   sequence), the rest one per call. [n, V] malloc'd; NULL on error. */
static float *kv_logits(pt_model *m, const int *tok, int n, int pre)
{
    pt_kv_cache *kv = pt_kv_new(m, 1, n);
    float *out = (float *)malloc((size_t)n * m->cfg.vocab_size * sizeof(float));
    int seq[64], i, st = PT_OK;
    for (i = 0; i < 64; i++) seq[i] = 0;
    if (!kv) { free(out); return NULL; }
    if (pre > 0) st = pt_model_step(m, kv, pre, seq, tok, out);
    for (i = pre; st == PT_OK && i < n; i++) st = pt_model_step(m, kv, 1, seq, tok + i, out + (int64_t)i * m->cfg.vocab_size);
    pt_kv_free(kv);
    if (st != PT_OK) { free(out); return NULL; }
    return out;
}
/* Greedy generation of n prompts (lens[i] tokens each), max_new tokens; the status. The suite runs
   on one thread (a second core is busy on the test machine); 8 or more sequences get two, so
   pt_generate takes its pre-packed weights and its row split between threads. */
static int gen(pt_model *m, int **prompts, const int *lens, int n, int max_new, pt_gen_result *r)
{
    pt_gen_config g;
    int st;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = max_new;
    if (n >= 8) pt_set_threads(2);
    st = pt_generate(m, (const int *const *)prompts, lens, n, 1, &g, r);
    pt_set_threads(1);
    return st;
}
static int same_gen(const pt_gen_result *a, const pt_gen_result *b)
{
    size_t n;
    if (!a->tokens || !b->tokens || a->n_seqs != b->n_seqs || a->width != b->width) return 0;
    n = (size_t)a->n_seqs * a->width;
    return memcmp(a->tokens, b->tokens, n * sizeof(int)) == 0 && memcmp(a->logprobs, b->logprobs, n * sizeof(float)) == 0 &&
           memcmp(a->total_len, b->total_len, (size_t)a->n_seqs * sizeof(int)) == 0;
}
static int params_frozen_everywhere(const pt_params *P)
{
    int i;
    if (!P) return 1;
    if (pt_params_count(P, 1) != 0 || P->n_grad != 0) return 0;
    for (i = 0; i < P->count; i++)
        if (!(P->items[i]->flags & PT_PARAM_FROZEN) || P->items[i]->t.grad || P->items[i]->t.requires_grad) return 0;
    return 1;
}

/* ---------------------------------------------------------------------------------------------
   1. Adapters off: the base model, bit for bit
   --------------------------------------------------------------------------------------------- */
enum { K_LORA, K_TRAIN_TOKENS, K_PROMPT, K_MIXED, K_COUNT };
static const char *const kind_names[K_COUNT] = {"LoRA", "trainable tokens", "prompt tuning", "LoRA + tokens (virtual and trainable)"};
static const int train_ids[3] = {7, PT_BYTE_END, PT_BYTE_ASSISTANT};

#define NP 9   /* prompts per generation: > 8 distinct sequences takes pt_generate's row split */
static void make_prompts(int **pr, int *lens, int n, int prefix, uint64_t seed)
{
    pt_rng rng;
    int i, j;
    pt_rng_seed(&rng, seed);
    for (i = 0; i < n; i++) {
        lens[i] = prefix + 2 + i % 4;
        pr[i] = (int *)malloc((size_t)lens[i] * sizeof(int));
        for (j = 0; j < prefix; j++) pr[i][j] = V_ + j;
        pr[i][prefix] = PT_BYTE_BOS;
        for (j = prefix + 1; j < lens[i]; j++) pr[i][j] = pt_rng_int(&rng, 0, 10) < 3 ? train_ids[pt_rng_int(&rng, 0, 2)] : pt_rng_int(&rng, 0, 255);
    }
}
static void free_prompts(int **pr, int n) { int i; for (i = 0; i < n; i++) free(pr[i]); }
/* B rows of T input tokens (a third of them ids the token adapters train), random targets, and the
   same tokens with a virtual prefix V_, V_ + 1 at the start of every row (tokv) */
static void make_inputs(int *tok, int *tgt, int *tokv, int B, int T, uint64_t seed)
{
    pt_rng rng;
    int i;
    pt_rng_seed(&rng, seed);
    for (i = 0; i < B * T; i++) {
        tok[i] = pt_rng_int(&rng, 0, 3) == 0 ? train_ids[pt_rng_int(&rng, 0, 2)] : pt_rng_int(&rng, 0, V_ - 1);
        tgt[i] = pt_rng_int(&rng, 0, V_ - 1);
    }
    memcpy(tokv, tok, (size_t)B * T * sizeof(int));
    for (i = 0; i < B; i++) { tokv[i * T] = V_; tokv[i * T + 1] = V_ + 1; }
}

static void test_adapters_off(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int untied, kind;
    enum { B = 2, T = 14 };
    int tok[B * T], tgt[B * T], tokv[B * T];
    printf("1. adapters off: the base model bit for bit\n");
    make_inputs(tok, tgt, tokv, B, T, 3);

    for (untied = 0; untied <= 1; untied++)
        for (kind = 0; kind < K_COUNT; kind++) {
            pt_config cfg = std_cfg(untied);
            pt_model *base = make_model(cfg, 40 + untied), *m = make_model(cfg, 40 + untied);
            int nv = kind == K_PROMPT || kind == K_MIXED ? 2 : 0, has_lora = kind == K_LORA || kind == K_MIXED;
            int changes_plain = kind != K_PROMPT;   /* adapters that act on tokens < V */
            int64_t NL = (int64_t)B * T * V_;
            float *w0, *lora0 = NULL, *tok0 = NULL, *Lbase, *Lon, *Lonv = NULL, *Loff, *Lon2, *Lonv2 = NULL;
            float *Kbase, *Kon, *Koff, *Kon2, *Konv = NULL, *Konv2 = NULL;
            int *pr[NP], *prv[NP], lens[NP], lensv[NP], pfx[8], st;
            pt_gen_result Gbase, Gon, Goff, Gon2, Gbase2, Goff2, Gonv, Gonv2, Gbad;
            pt_batch bt = mkbatch(B, T, tok, tgt);
            pt_tensor *l;
            char what[96];
            snprintf(what, sizeof what, "%s, %s", kind_names[kind], untied ? "untied" : "tied");
            printf("  %s\n", what);
            w0 = copy_floats(m->params->data, m->params->n_data);
            if (has_lora) {
                pt_lora_config lc = lcfg(4, 8.0f, 0, 0.0f, "*", 5);
                st = pt_lora_attach(m, &lc);
                CHECK(st == PT_OK, "%s: lora attach: %s", what, pt_last_error());
                randomize(m->lora->params, 0.1f, 17);   /* nonzero B: the adapters change the forward */
            }
            if (kind == K_TRAIN_TOKENS) st = pt_trainable_tokens_attach(m, train_ids, 3);
            else if (kind == K_PROMPT) st = pt_prompt_tuning_attach(m, 2, NULL, 9);
            else if (kind == K_MIXED) st = pt_tokens_attach(m, 2, NULL, train_ids, 3, 9);
            else st = PT_OK;
            CHECK(st == PT_OK, "%s: token attach: %s", what, pt_last_error());
            if (m->tokens) randomize(m->tokens->params, 0.3f, 23);
            if (m->lora) lora0 = copy_floats(m->lora->params->data, m->lora->params->n_data);
            if (m->tokens) tok0 = copy_floats(m->tokens->params->data, m->tokens->params->n_data);
            make_prompts(pr, lens, NP, 0, 77);
            make_prompts(prv, lensv, NP, nv, 77);

            /* the base, computed on the plain copy */
            Lbase = logits_of(base, ctx, tok, B, T);
            Kbase = kv_logits(base, tok, T, 5);
            st = gen(base, pr, lens, NP, 6, &Gbase);
            CHECK(st == PT_OK, "%s: generate (base): %s", what, pt_last_error());
            st = gen(base, pr, lens, 2, 6, &Gbase2);
            CHECK(st == PT_OK, "%s: generate 2 (base): %s", what, pt_last_error());

            /* adapters on */
            CHECK(pt_model_input_vocab(m) == V_ + nv, "%s: input vocab %d while on, expected %d", what, pt_model_input_vocab(m), V_ + nv);
            CHECK(pt_model_prompt_prefix(m, pfx, 8) == nv && (nv == 0 || (pfx[0] == V_ && pfx[1] == V_ + 1)),
                  "%s: prompt prefix while on", what);
            Lon = logits_of(m, ctx, tok, B, T);
            Kon = kv_logits(m, tok, T, 5);
            st = gen(m, pr, lens, NP, 6, &Gon);
            CHECK(st == PT_OK, "%s: generate (on): %s", what, pt_last_error());
            CHECK(Lon && Kon, "%s: forwards with adapters on failed: %s", what, pt_last_error());
            if (changes_plain) {   /* else the checks below could not tell on from off */
                CHECK(Lon && Lbase && memcmp(Lon, Lbase, (size_t)NL * sizeof(float)) != 0, "%s: adapters on do not change the logits", what);
                CHECK(Kon && Kbase && memcmp(Kon, Kbase, (size_t)T * V_ * sizeof(float)) != 0, "%s: adapters on do not change the KV-cache logits", what);
                CHECK(st == PT_OK && memcmp(Gon.logprobs, Gbase.logprobs, (size_t)Gon.n_seqs * Gon.width * sizeof(float)) != 0,
                      "%s: adapters on do not change the generation", what);
            }
            if (nv) {
                Lonv = logits_of(m, ctx, tokv, B, T);
                Konv = kv_logits(m, tokv, T, 3);
                st = gen(m, prv, lensv, NP, 6, &Gonv);
                CHECK(Lonv && Konv && st == PT_OK, "%s: forwards with virtual tokens failed: %s", what, pt_last_error());
            }
            /* adapters get a gradient while on (so the "none while off" check below can fail) */
            pt_model_zero_grad(m);
            l = pt_model_loss(ctx, m, &bt);
            CHECK(l && pt_backward(ctx, l) == PT_OK, "%s: backward (on): %s", what, pt_last_error());
            pt_ctx_reset(ctx);
            if (m->lora) CHECK(grad_abs_sum(m->lora->params) > 0, "%s: no LoRA gradient while on", what);
            if (m->tokens && changes_plain) CHECK(grad_abs_sum(m->tokens->params) > 0, "%s: no token-row gradient while on", what);
            pt_model_zero_grad(m);

            /* off */
            st = pt_model_set_adapters(m, 0);
            CHECK(st == PT_OK, "%s: set_adapters(0): %s", what, pt_last_error());
            CHECK(pt_model_input_vocab(m) == V_, "%s: input vocab %d while off, expected %d", what, pt_model_input_vocab(m), V_);
            pfx[0] = -5;
            CHECK(pt_model_prompt_prefix(m, pfx, 8) == 0 && pfx[0] == -5, "%s: prompt prefix while off is not empty", what);
            CHECK(pt_model_prompt_prefix(m, pfx, 0) == 0, "%s: prompt prefix (cap 0) while off", what);
            Loff = logits_of(m, ctx, tok, B, T);
            CHECK(same_floats(Loff, Lbase, NL), "%s: logits with adapters off differ from the base (max err %g)", what, max_err(Loff, Lbase, NL));
            Koff = kv_logits(m, tok, T, 5);
            CHECK(same_floats(Koff, Kbase, (int64_t)T * V_), "%s: KV-cache logits with adapters off differ from the base (max err %g)",
                  what, max_err(Koff, Kbase, (int64_t)T * V_));
            st = gen(m, pr, lens, NP, 6, &Goff);
            CHECK(st == PT_OK && same_gen(&Goff, &Gbase), "%s: %d greedy generations (row split) with adapters off differ from the base", what, NP);
            if (st == PT_OK) pt_gen_result_free(&Goff);
            st = gen(m, pr, lens, 2, 6, &Goff2);
            CHECK(st == PT_OK && same_gen(&Goff2, &Gbase2), "%s: 2 greedy generations with adapters off differ from the base", what);
            if (st == PT_OK) pt_gen_result_free(&Goff2);
            /* no gradient reaches an adapter while off; the base (where trainable) still gets one */
            l = pt_model_loss(ctx, m, &bt);
            CHECK(l && pt_backward(ctx, l) == PT_OK, "%s: backward (off): %s", what, pt_last_error());
            pt_ctx_reset(ctx);
            if (m->lora) CHECK(grad_abs_sum(m->lora->params) == 0, "%s: LoRA got a gradient while off", what);
            if (m->tokens) CHECK(grad_abs_sum(m->tokens->params) == 0, "%s: token rows got a gradient while off", what);
            pt_model_zero_grad(m);
            if (nv) {   /* virtual tokens are not inputs while off: refused, not read out of bounds */
                float *bad = logits_of(m, ctx, tokv, B, T);
                pt_kv_cache *kv = pt_kv_new(m, 1, 4);
                int seq0 = 0, vt = V_;
                CHECK(bad == NULL && pt_last_status() == PT_ERR_ARG, "%s: forward of a virtual token while off not refused", what);
                free(bad);
                st = pt_model_step(m, kv, 1, &seq0, &vt, NULL);
                CHECK(st == PT_ERR_ARG && kv->len[0] == 0, "%s: pt_model_step of a virtual token while off: %d", what, st);
                pt_kv_free(kv);
                st = gen(m, prv, lensv, NP, 6, &Gbad);
                CHECK(st == PT_ERR_ARG, "%s: pt_generate with virtual tokens while off: %d", what, st);
                if (st == PT_OK) pt_gen_result_free(&Gbad);
            }
            /* off twice is still off; on again */
            CHECK(pt_model_set_adapters(m, 0) == PT_OK, "%s: set_adapters(0) twice", what);
            st = pt_model_set_adapters(m, 1);
            CHECK(st == PT_OK, "%s: set_adapters(1): %s", what, pt_last_error());
            CHECK(pt_model_input_vocab(m) == V_ + nv && pt_model_prompt_prefix(m, pfx, 8) == nv, "%s: vocab / prefix after on again", what);
            Lon2 = logits_of(m, ctx, tok, B, T);
            CHECK(same_floats(Lon2, Lon, NL), "%s: logits after off -> on differ from before (max err %g)", what, max_err(Lon2, Lon, NL));
            Kon2 = kv_logits(m, tok, T, 5);
            CHECK(same_floats(Kon2, Kon, (int64_t)T * V_), "%s: KV-cache logits after off -> on differ from before", what);
            st = gen(m, pr, lens, NP, 6, &Gon2);
            CHECK(st == PT_OK && same_gen(&Gon2, &Gon), "%s: generation after off -> on differs from before", what);
            if (st == PT_OK) pt_gen_result_free(&Gon2);
            if (nv) {
                Lonv2 = logits_of(m, ctx, tokv, B, T);
                Konv2 = kv_logits(m, tokv, T, 3);
                CHECK(same_floats(Lonv2, Lonv, NL), "%s: virtual-token logits after off -> on differ", what);
                CHECK(same_floats(Konv2, Konv, (int64_t)T * V_), "%s: virtual-token KV-cache logits after off -> on differ", what);
                st = gen(m, prv, lensv, NP, 6, &Gonv2);
                CHECK(st == PT_OK && same_gen(&Gonv2, &Gonv), "%s: virtual-prefix generation after off -> on differs", what);
                if (st == PT_OK) pt_gen_result_free(&Gonv2);
                pt_gen_result_free(&Gonv);
            }
            CHECK(same_floats(m->params->data, w0, m->params->n_data), "%s: base weights changed through the round trip", what);
            if (m->lora) CHECK(same_floats(m->lora->params->data, lora0, m->lora->params->n_data), "%s: LoRA weights changed", what);
            if (m->tokens) CHECK(same_floats(m->tokens->params->data, tok0, m->tokens->params->n_data), "%s: token rows changed", what);
            free(w0); free(lora0); free(tok0);
            free(Lbase); free(Lon); free(Lonv); free(Loff); free(Lon2); free(Lonv2);
            free(Kbase); free(Kon); free(Koff); free(Kon2); free(Konv); free(Konv2);
            pt_gen_result_free(&Gbase); pt_gen_result_free(&Gbase2); pt_gen_result_free(&Gon);
            free_prompts(pr, NP); free_prompts(prv, NP);
            pt_model_free(m);
            pt_model_free(base);
        }

    /* merged LoRA cannot be switched off: refused, nothing changes */
    for (untied = 0; untied <= 1; untied++) {
        pt_config cfg = std_cfg(untied);
        pt_model *base = make_model(cfg, 60 + untied), *m = make_model(cfg, 60 + untied);
        pt_lora_config lc = lcfg(4, 4.0f, 0, 0.0f, NULL, 3);
        int64_t NL = (int64_t)B * T * V_;
        float *Lbase = logits_of(base, ctx, tok, B, T), *Lm, *La, *Lu, *Kb, *Kb2, *w1, *Lmo;
        int st;
        char what[64];
        snprintf(what, sizeof what, "merged LoRA, %s", untied ? "untied" : "tied");
        pt_lora_attach(m, &lc);
        randomize(m->lora->params, 0.1f, 31);
        st = pt_lora_merge(m);
        CHECK(st == PT_OK, "%s: merge: %s", what, pt_last_error());
        Lm = logits_of(m, ctx, tok, B, T);
        Kb = kv_logits(m, tok, T, 5);
        w1 = copy_floats(m->params->data, m->params->n_data);
        pt_clear_error();
        st = pt_model_set_adapters(m, 0);
        CHECK(st == PT_ERR_ARG && pt_last_status() == PT_ERR_ARG, "%s: switching off merged LoRA: status %d", what, st);
        CHECK(strstr(pt_last_error(), "merge") != NULL, "%s: the error does not say why: %s", what, pt_last_error());
        La = logits_of(m, ctx, tok, B, T);
        Kb2 = kv_logits(m, tok, T, 5);
        CHECK(same_floats(La, Lm, NL), "%s: logits changed by the refused switch", what);
        CHECK(same_floats(Kb2, Kb, (int64_t)T * V_), "%s: KV-cache logits changed by the refused switch", what);
        CHECK(same_floats(m->params->data, w1, m->params->n_data), "%s: weights changed by the refused switch", what);
        CHECK(m->lora && m->lora->merged == 1, "%s: still merged", what);
        CHECK(max_err(Lm, Lbase, NL) > 1e-3, "%s: the merged adapters change nothing (test is vacuous)", what);
        /* unmerged, it switches off: the base up to the rounding of W + sBA - sBA */
        st = pt_lora_unmerge(m);
        CHECK(st == PT_OK && pt_model_set_adapters(m, 0) == PT_OK, "%s: unmerge then off: %s", what, pt_last_error());
        Lu = logits_of(m, ctx, tok, B, T);
        CHECK(max_err(Lu, Lbase, NL) < 1e-5, "%s: off after unmerge vs base: %g", what, max_err(Lu, Lbase, NL));
        /* merging while off must not bring the adapters into the "off" forward (the documented
           invariant: off means the base's logits); either refused or still the base */
        st = pt_lora_merge(m);
        Lmo = logits_of(m, ctx, tok, B, T);
        CHECK(st != PT_OK || max_err(Lmo, Lbase, NL) < 1e-5,
              "%s: pt_lora_merge while adapters are off succeeded and the \"off\" model now runs the adapters (max err vs base %g)",
              what, max_err(Lmo, Lbase, NL));
        free(Lbase); free(Lm); free(La); free(Lu); free(Kb); free(Kb2); free(w1); free(Lmo);
        pt_model_free(m); pt_model_free(base);
    }
    /* a model without adapters: switching is harmless; NULL is an error */
    {
        pt_model *m = make_model(std_cfg(0), 70);
        float *L0 = logits_of(m, ctx, tok, B, T), *L1, *L2;
        CHECK(pt_model_set_adapters(m, 0) == PT_OK, "set_adapters(0) without adapters");
        L1 = logits_of(m, ctx, tok, B, T);
        CHECK(pt_model_set_adapters(m, 1) == PT_OK, "set_adapters(1) without adapters");
        L2 = logits_of(m, ctx, tok, B, T);
        CHECK(same_floats(L1, L0, (int64_t)B * T * V_) && same_floats(L2, L0, (int64_t)B * T * V_), "switching a model without adapters changed its logits");
        CHECK(pt_model_set_adapters(NULL, 0) == PT_ERR_ARG, "set_adapters(NULL) is not PT_ERR_ARG");
        free(L0); free(L1); free(L2);
        pt_model_free(m);
    }
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   2. Clones
   --------------------------------------------------------------------------------------------- */
static int same_flags(const pt_params *a, const pt_params *b)
{
    int i;
    if (!a || !b || a->count != b->count) return 0;
    for (i = 0; i < a->count; i++)
        if (strcmp(a->items[i]->name, b->items[i]->name) != 0 || (a->items[i]->flags & PT_PARAM_FROZEN) != (b->items[i]->flags & PT_PARAM_FROZEN))
            return 0;
    return 1;
}
static float *head_values_of(pt_model *m, pt_ctx *ctx, const pt_batch *b)
{
    pt_tensor *v;
    float *out = NULL;
    pt_ctx_set_grad(ctx, 0);
    v = pt_model_head_values(ctx, m, b);
    if (v) out = copy_floats(v->data, v->size);
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);
    return out;
}

static void test_clone(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    enum { B = 2, T = 12 };
    int tok[B * T], tgt[B * T], tokv[B * T], i, untied;
    printf("2. pt_model_clone\n");
    make_inputs(tok, tgt, tokv, B, T, 5);

    /* frozen clone of a model with LoRA, a mixed token adapter and a head */
    for (untied = 0; untied <= 1; untied++) {
        pt_model *m = make_model(std_cfg(untied), 80 + untied), *c;
        pt_lora_config lc = lcfg(4, 8.0f, 0, 0.0f, "*.attn.*,*.mlp.w2", 2);
        pt_batch bt = mkbatch(B, T, tok, tgt), bv = mkbatch(B, T, tokv, tgt);
        int64_t NL = (int64_t)B * T * V_;
        float *Lm, *Lmv, *Lc, *Lcv, *Km, *Kc, *Hm, *Hc, *Lc2, *Hc2, *Lm2, *cw0;
        double L0 = NAN, L3 = NAN;
        int st;
        char what[64];
        snprintf(what, sizeof what, "frozen clone, %s", untied ? "untied" : "tied");
        CHECK(pt_lora_attach(m, &lc) == PT_OK, "%s: lora attach", what);
        CHECK(pt_tokens_attach(m, 2, NULL, train_ids, 3, 4) == PT_OK, "%s: tokens attach", what);
        CHECK(pt_model_head_attach(m, 6) == PT_OK, "%s: head attach", what);
        randomize(m->lora->params, 0.1f, 41);
        randomize(m->tokens->params, 0.3f, 42);
        m->head->b->data[0] = 0.375f;
        c = pt_model_clone(m, 0);
        CHECK(c != NULL, "%s: %s", what, pt_last_error());
        if (!c) { pt_model_free(m); continue; }
        CHECK(c->params != m->params && c->params->data != m->params->data && c->lora && c->lora != m->lora &&
              c->tokens && c->tokens != m->tokens && c->head && c->head != m->head && c->head->params->data != m->head->params->data,
              "%s: not a deep copy", what);
        CHECK(same_floats(c->params->data, m->params->data, m->params->n_data) && c->params->n_data == m->params->n_data, "%s: base weights differ", what);
        CHECK(c->lora && c->lora->params->n_data == m->lora->params->n_data && same_floats(c->lora->params->data, m->lora->params->data, m->lora->params->n_data),
              "%s: LoRA weights differ", what);
        CHECK(c->lora && c->lora->rank == m->lora->rank && c->lora->scale == m->lora->scale && c->lora->count == m->lora->count, "%s: LoRA config differs", what);
        CHECK(c->tokens && c->tokens->n == 5 && c->tokens->n_virtual == 2 && memcmp(c->tokens->ids, m->tokens->ids, 5 * sizeof(int)) == 0 &&
              same_floats(c->tokens->params->data, m->tokens->params->data, m->tokens->params->n_data), "%s: token adapter differs", what);
        CHECK(c->head && same_floats(c->head->w->data, m->head->w->data, 32) && c->head->b->data[0] == 0.375f, "%s: head differs", what);
        Lm = logits_of(m, ctx, tok, B, T); Lc = logits_of(c, ctx, tok, B, T);
        Lmv = logits_of(m, ctx, tokv, B, T); Lcv = logits_of(c, ctx, tokv, B, T);
        CHECK(same_floats(Lc, Lm, NL), "%s: logits differ", what);
        CHECK(same_floats(Lcv, Lmv, NL), "%s: logits with virtual tokens differ", what);
        Km = kv_logits(m, tokv, T, 4); Kc = kv_logits(c, tokv, T, 4);
        CHECK(same_floats(Kc, Km, (int64_t)T * V_), "%s: KV-cache logits differ", what);
        Hm = head_values_of(m, ctx, &bv); Hc = head_values_of(c, ctx, &bv);
        CHECK(same_floats(Hc, Hm, B * T), "%s: head values differ", what);
        /* frozen: nothing trainable, no gradient buffer, in any parameter set */
        CHECK(pt_params_count(c->params, 1) == 0 && params_frozen_everywhere(c->params), "%s: base has trainable tensors (%lld) or gradient buffers (%lld)",
              what, (long long)pt_params_count(c->params, 1), (long long)c->params->n_grad);
        CHECK(params_frozen_everywhere(c->lora->params), "%s: LoRA tensors trainable (%lld) or with gradient buffers (%lld)",
              what, (long long)pt_params_count(c->lora->params, 1), (long long)c->lora->params->n_grad);
        CHECK(params_frozen_everywhere(c->tokens->params), "%s: token rows trainable or with gradient buffers", what);
        CHECK(params_frozen_everywhere(c->head->params), "%s: head trainable or with gradient buffers", what);
        /* ... while the original keeps its own trainable set */
        CHECK(pt_params_count(m->params, 1) == 0 && pt_params_count(m->lora->params, 1) == m->lora->params->n_data &&
              pt_params_count(m->tokens->params, 1) > 0 && pt_params_count(m->head->params, 1) == 33, "%s: the original's trainable set changed", what);
        /* a forward of the clone with the tape on records nothing to train */
        {
            pt_tensor *l = pt_model_loss(ctx, c, &bt);
            CHECK(l && !l->requires_grad, "%s: the clone's loss requires grad", what);
            pt_ctx_reset(ctx);
        }
        /* training the original leaves the clone as it was */
        cw0 = copy_floats(c->params->data, c->params->n_data);
        for (i = 0; i < 4; i++) { double L = model_train_step(m, ctx, &bv, 1e-2f); if (i == 0) L0 = L; L3 = L; }
        CHECK(L3 < L0, "%s: training the original did not lower its loss (%g -> %g)", what, L0, L3);
        Lm2 = logits_of(m, ctx, tokv, B, T);
        Lc2 = logits_of(c, ctx, tokv, B, T);
        Hc2 = head_values_of(c, ctx, &bv);
        CHECK(max_err(Lm2, Lmv, NL) > 1e-4, "%s: training did not change the original (vacuous)", what);
        CHECK(same_floats(Lc2, Lcv, NL), "%s: training the original changed the clone's logits", what);
        CHECK(same_floats(Hc2, Hm, B * T), "%s: training the original changed the clone's head", what);
        CHECK(same_floats(c->params->data, cw0, c->params->n_data), "%s: clone base weights changed", what);
        /* an optimizer step on the frozen clone does nothing */
        {
            pt_adamw_config opt;
            memset(&opt, 0, sizeof opt);
            st = pt_model_optimizer_step(c, &opt, 1e-2f, 1.0f, NULL);
        }
        free(Lc2);
        Lc2 = logits_of(c, ctx, tokv, B, T);
        CHECK(st == PT_OK && same_floats(Lc2, Lcv, NL), "%s: optimizer step on the frozen clone: %d / changed it", what, st);
        free(Lm); free(Lc); free(Lmv); free(Km); free(Kc); free(Hm); free(Hc); free(Lc2); free(Hc2); free(Lm2); free(cw0);
        /* the original freed first: the clone owns everything it uses (ASan would report otherwise) */
        pt_model_free(m);
        Lc = logits_of(c, ctx, tokv, B, T);
        CHECK(same_floats(Lc, Lcv, NL), "%s: the clone's logits changed when the original was freed", what);
        free(Lc); free(Lcv);
        pt_model_free(c);
    }

    /* frozen clones of simpler models: a plain model with a head (the base must freeze too), and
       adapters without a head */
    {
        pt_model *m = make_model(std_cfg(0), 85), *c;
        pt_model_head_attach(m, 1);
        c = pt_model_clone(m, 0);
        CHECK(c && params_frozen_everywhere(c->params), "frozen clone of a plain model with a head: base has %lld trainable parameters",
              c ? (long long)pt_params_count(c->params, 1) : -1LL);
        CHECK(c && c->head && params_frozen_everywhere(c->head->params), "frozen clone of a plain model with a head: head trainable");
        CHECK(pt_params_count(m->params, 1) == pt_params_count(m->params, 0), "cloning froze the original");
        pt_model_free(c);
        pt_model_head_detach(m);
        c = pt_model_clone(m, 0);
        CHECK(c && params_frozen_everywhere(c->params), "frozen clone of a plain model: base has %lld trainable parameters",
              c ? (long long)pt_params_count(c->params, 1) : -1LL);
        pt_model_free(c);
        {
            pt_lora_config lc = lcfg(2, 2.0f, 0, 0.0f, NULL, 1);
            pt_lora_attach(m, &lc);
            pt_tokens_attach(m, 1, NULL, train_ids, 2, 1);
            c = pt_model_clone(m, 0);
            CHECK(c && params_frozen_everywhere(c->params) && params_frozen_everywhere(c->lora->params) && params_frozen_everywhere(c->tokens->params),
                  "frozen clone of a LoRA + tokens model without a head: something trainable");
            pt_model_free(c);
        }
        pt_model_free(m);
    }

    /* trainable clone: the same frozen set, the same training */
    {
        pt_model *m = make_model(std_cfg(1), 90), *c;
        pt_batch bt = mkbatch(B, T, tok, tgt);
        float *mw0, *mh0, *cw_before;
        int st, j, nf = 0, changed_frozen = 0, changed_trainable = 0;
        st = pt_params_set_trainable(m->params, "layers.0.*", 0);
        CHECK(st == 9, "freezing layers.0.*: %d tensors", st);
        CHECK(pt_model_head_attach(m, 3) == PT_OK, "head attach");
        c = pt_model_clone(m, 1);
        CHECK(c != NULL, "trainable clone: %s", pt_last_error());
        if (c) {
            CHECK(same_flags(c->params, m->params), "trainable clone: frozen flags differ");
            for (j = 0; j < c->params->count; j++) nf += (c->params->items[j]->flags & PT_PARAM_FROZEN) != 0;
            CHECK(nf == 9, "trainable clone: %d frozen tensors, expected 9", nf);
            CHECK(pt_params_count(c->params, 1) == pt_params_count(m->params, 1) && c->params->n_grad == m->params->n_grad,
                  "trainable clone: %lld trainable, original %lld", (long long)pt_params_count(c->params, 1), (long long)pt_params_count(m->params, 1));
            CHECK(c->head && pt_params_count(c->head->params, 1) == 33 && same_floats(c->head->params->data, m->head->params->data, m->head->params->n_data),
                  "trainable clone: head not copied or not trainable");
            /* three identical steps on both: bit-identical weights after */
            for (i = 0; i < 3; i++) { model_train_step(m, ctx, &bt, 1e-2f); model_train_step(c, ctx, &bt, 1e-2f); }
            CHECK(same_floats(c->params->data, m->params->data, m->params->n_data), "trainable clone trains differently from the original (base)");
            CHECK(same_floats(c->head->params->data, m->head->params->data, m->head->params->n_data), "trainable clone trains differently (head)");
            /* the frozen tensors stayed, the others moved */
            {
                pt_model *ref = make_model(std_cfg(1), 90);
                for (j = 0; j < c->params->count; j++) {
                    pt_param *p = c->params->items[j];
                    int diff = memcmp(p->t.data, ref->params->data + p->offset, (size_t)p->t.size * sizeof(float)) != 0;
                    if (p->flags & PT_PARAM_FROZEN) changed_frozen += diff; else changed_trainable += diff;
                }
                CHECK(changed_frozen == 0 && changed_trainable == c->params->count - 9,
                      "trainable clone after training: %d frozen tensors changed, %d of %d trainable changed", changed_frozen, changed_trainable, c->params->count - 9);
                pt_model_free(ref);
            }
            /* training the clone leaves the original alone */
            mw0 = copy_floats(m->params->data, m->params->n_data);
            mh0 = copy_floats(m->head->params->data, m->head->params->n_data);
            cw_before = copy_floats(c->params->data, c->params->n_data);
            model_train_step(c, ctx, &bt, 1e-2f);
            CHECK(!same_floats(c->params->data, cw_before, c->params->n_data), "trainable clone did not train");
            CHECK(same_floats(m->params->data, mw0, m->params->n_data) && same_floats(m->head->params->data, mh0, m->head->params->n_data),
                  "training the clone changed the original");
            free(mw0); free(mh0); free(cw_before);
            pt_model_free(c);
        }
        pt_model_free(m);
    }

    /* trainable clone of a LoRA + trainable-tokens model: base frozen, adapters trainable */
    {
        pt_model *m = make_model(std_cfg(0), 91), *c, *cf;
        pt_lora_config lc = lcfg(2, 2.0f, 0, 0.0f, NULL, 8);
        pt_lora_attach(m, &lc);
        pt_trainable_tokens_attach(m, train_ids, 3);
        c = pt_model_clone(m, 1);
        CHECK(c && pt_params_count(c->params, 1) == 0 && c->params->n_grad == 0, "trainable LoRA clone: base not frozen");
        CHECK(c && c->lora && pt_params_count(c->lora->params, 1) == pt_params_count(m->lora->params, 1) && pt_params_count(c->lora->params, 1) > 0 &&
              same_flags(c->lora->params, m->lora->params), "trainable LoRA clone: LoRA trainable set differs");
        CHECK(c && c->tokens && pt_params_count(c->tokens->params, 1) == 3 * 32 && same_flags(c->tokens->params, m->tokens->params),
              "trainable LoRA clone: token rows trainable set differs");
        /* with the base unfrozen next to the adapters */
        pt_params_set_trainable(m->params, "norm", 1);
        cf = pt_model_clone(m, 1);
        CHECK(cf && pt_params_count(cf->params, 1) == 32 && same_flags(cf->params, m->params), "clone after unfreezing norm: %lld trainable",
              cf ? (long long)pt_params_count(cf->params, 1) : -1LL);
        pt_model_free(cf);
        pt_model_free(c);
        pt_model_free(m);
    }

    /* the adapters-off state is copied, and the clone can switch its own */
    {
        pt_model *m = make_model(std_cfg(0), 92), *base = make_model(std_cfg(0), 92), *c;
        pt_lora_config lc = lcfg(4, 4.0f, 0, 0.0f, "*", 8);
        float *Lb = logits_of(base, ctx, tok, B, T), *Lon, *Lc, *Lc2, *Lm;
        int64_t NL = (int64_t)B * T * V_;
        pt_lora_attach(m, &lc);
        randomize(m->lora->params, 0.1f, 5);
        Lon = logits_of(m, ctx, tok, B, T);
        pt_model_set_adapters(m, 0);
        c = pt_model_clone(m, 0);
        Lc = logits_of(c, ctx, tok, B, T);
        CHECK(same_floats(Lc, Lb, NL), "clone of a model with adapters off does not run as the base");
        CHECK(c && pt_model_set_adapters(c, 1) == PT_OK, "clone: set_adapters(1)");
        Lc2 = logits_of(c, ctx, tok, B, T);
        Lm = logits_of(m, ctx, tok, B, T);
        CHECK(same_floats(Lc2, Lon, NL), "clone switched on does not run the adapters");
        CHECK(same_floats(Lm, Lb, NL), "switching the clone on switched the original");
        free(Lb); free(Lon); free(Lc); free(Lc2); free(Lm);
        pt_model_free(c); pt_model_free(m); pt_model_free(base);
    }
    /* merged LoRA: the clone is merged too (its forward == the original's, it cannot switch off) */
    {
        pt_model *m = make_model(std_cfg(1), 93), *c;
        pt_lora_config lc = lcfg(4, 4.0f, 0, 0.0f, "*", 8);
        float *Lm, *Lc;
        pt_lora_attach(m, &lc);
        randomize(m->lora->params, 0.1f, 6);
        pt_lora_merge(m);
        c = pt_model_clone(m, 0);
        Lm = logits_of(m, ctx, tok, B, T);
        Lc = logits_of(c, ctx, tok, B, T);
        CHECK(c && c->lora && c->lora->merged && same_floats(Lc, Lm, (int64_t)B * T * V_), "clone of merged LoRA: not merged or different logits");
        CHECK(c && pt_model_set_adapters(c, 0) == PT_ERR_ARG, "clone of merged LoRA switches off");
        free(Lm); free(Lc);
        pt_model_free(c); pt_model_free(m);
    }
    CHECK(pt_model_clone(NULL, 0) == NULL && pt_last_status() == PT_ERR_ARG, "clone(NULL)");

    /* a llama2.c import: the clone keeps the RoPE tables, so its export is byte-identical */
    {
        char mp[512];
        snprintf(mp, sizeof mp, "%s/stories260K.bin", test_models_dir());
        if (!file_exists(mp)) printf("  skipped: stories260K.bin not found (set PT_MODELS or see README)\n");
        else {
            pt_model *m = pt_model_load_llama2c(mp), *c;
            const char *pa = tmp_path("orig.bin"), *pb = tmp_path("clone.bin");
            unsigned char *ba, *bb, *bf;
            size_t na, nb, nf;
            CHECK(m != NULL, "load %s: %s", mp, pt_last_error());
            if (m) {
                CHECK(m->llama2c_rope != NULL, "the import kept no RoPE tables (test assumption)");
                c = pt_model_clone(m, 0);
                CHECK(c && c->llama2c_rope && c->llama2c_rope != m->llama2c_rope && c->llama2c_rope_n == m->llama2c_rope_n,
                      "clone of the import: RoPE tables not copied");
                CHECK(pt_model_save_llama2c(m, pa) == PT_OK, "export original: %s", pt_last_error());
                pt_model_free(m);   /* before the clone's export: it must not read the original */
                CHECK(c && pt_model_save_llama2c(c, pb) == PT_OK, "export clone: %s", pt_last_error());
                ba = read_bytes(pa, &na); bb = read_bytes(pb, &nb); bf = read_bytes(mp, &nf);
                CHECK(ba && bb && na == nb && na > 0 && memcmp(ba, bb, na) == 0, "clone's llama2.c export differs from the original's (%zu vs %zu bytes)", na, nb);
                CHECK(bb && bf && nb == nf && memcmp(bb, bf, nf) == 0, "clone's llama2.c export differs from the file it came from");
                free(ba); free(bb); free(bf);
                pt_model_free(c);
            }
        }
    }
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   3. pt_sequence_logprobs
   --------------------------------------------------------------------------------------------- */
/* The reference: each example alone (B = 1, T = n_ids - 1, no packing), the logits of the
   training forward, a log-softmax in double written here, summed over the targets a trainer would
   train on: train[t+1] if given, else t+1 >= n_prompt. */
static double ref_logprob(pt_model *m, pt_ctx *ctx, const pt_example *e, int *count)
{
    int T = e->n_ids - 1, t, v, V = m->cfg.vocab_size;
    pt_batch b;
    pt_tensor *lg;
    double s = 0;
    *count = 0;
    if (T < 1) return 0;
    b = mkbatch(1, T, e->ids, NULL);
    pt_ctx_set_grad(ctx, 0);
    lg = pt_model_logits(ctx, m, &b);
    if (!lg) { printf("reference forward failed: %s\n", pt_last_error()); pt_ctx_reset(ctx); return NAN; }
    for (t = 0; t < T; t++) {
        const float *z = lg->data + (int64_t)t * V;
        double mx = -INFINITY, se = 0;
        int on = e->train ? e->train[t + 1] != 0 : t + 1 >= e->n_prompt;
        if (!on) continue;
        for (v = 0; v < V; v++) if (z[v] > mx) mx = z[v];
        for (v = 0; v < V; v++) se += exp((double)z[v] - mx);
        s += (double)z[e->ids[t + 1]] - mx - log(se);
        (*count)++;
    }
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);
    return s;
}
static void ex_from(pt_example *e, const int *ids, int n, int n_prompt, const unsigned char *train)
{
    e->ids = (int *)malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    memcpy(e->ids, ids, (size_t)n * sizeof(int));
    e->n_ids = n; e->n_prompt = n_prompt;
    e->train = NULL;
    if (train) { e->train = (unsigned char *)malloc((size_t)n); memcpy(e->train, train, (size_t)n); }
}
/* Compare pt_sequence_logprobs (each rows_per_batch) with the reference; returns the rpb=1 sums. */
static void check_seq_logprobs(pt_model *m, pt_ctx *ctx, const pt_example *ex, int n, const char *what)
{
    static const int rpbs[5] = {1, 3, 16, 0, 7};
    float *s1 = (float *)malloc((size_t)n * sizeof(float)), *s = (float *)malloc((size_t)n * sizeof(float));
    int *c = (int *)malloc((size_t)n * sizeof(int)), *c1 = (int *)malloc((size_t)n * sizeof(int));
    int i, k, st, bad = 0, badc = 0, worst_i = -1, nonzero = 0;
    double worst = 0;
    st = pt_sequence_logprobs(m, ex, n, 1, s1, c);
    CHECK(st == PT_OK, "%s: pt_sequence_logprobs: %s", what, pt_last_error());
    for (i = 0; i < n; i++) {
        int cnt;
        double r = ref_logprob(m, ctx, &ex[i], &cnt), e = fabs((double)s1[i] - r) / (fabs(r) > 1 ? fabs(r) : 1);
        if (!(e <= 1e-4)) bad++;
        if (!(e <= worst)) { worst = e; worst_i = i; }
        if (c[i] != cnt) { if (!badc) printf("    example %d: count %d, expected %d\n", i, c[i], cnt); badc++; }
        c1[i] = c[i];
        nonzero += cnt > 0;
    }
    CHECK(bad == 0, "%s: %d of %d sums differ from the per-example reference (worst rel %g at example %d)", what, bad, n, worst, worst_i);
    CHECK(badc == 0, "%s: %d of %d token counts differ", what, badc, n);
    CHECK(nonzero > 0, "%s: no example has a trained token (vacuous)", what);
    printf("    %-40s %2d examples, worst rel err vs reference %.2g\n", what, n, worst);
    for (k = 0; k < 5; k++) {
        double w = 0;
        int cb = 0;
        for (i = 0; i < n; i++) { s[i] = NAN; c[i] = -1; }
        st = pt_sequence_logprobs(m, ex, n, rpbs[k], s, c);
        for (i = 0; i < n; i++) {
            double e = fabs((double)s[i] - s1[i]) / (fabs(s1[i]) > 1 ? fabs(s1[i]) : 1);
            if (!(e <= w)) w = e;
            cb += c[i] != c1[i];
        }
        CHECK(st == PT_OK && w <= 1e-5 && cb == 0, "%s: rows_per_batch %d vs 1: status %d, worst rel %g, %d counts differ", what, rpbs[k], st, w, cb);
    }
    /* n_tokens may be NULL */
    for (i = 0; i < n; i++) s[i] = NAN;
    st = pt_sequence_logprobs(m, ex, n, 4, s, NULL);
    {
        double w = 0;
        for (i = 0; i < n; i++) { double e = fabs((double)s[i] - s1[i]) / (fabs(s1[i]) > 1 ? fabs(s1[i]) : 1); if (!(e <= w)) w = e; }
        CHECK(st == PT_OK && w <= 1e-5, "%s: n_tokens NULL: status %d, worst rel %g", what, st, w);
    }
    free(s1); free(s); free(c); free(c1);
}

static void test_sequence_logprobs(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    pt_config cfg = mkcfg(32, 2, 4, 2, 64, 272, 64, 0);
    pt_model *m = make_model(cfg, 110), *base = make_model(cfg, 110);
    pt_world_config wc;
    enum { NW = 10, NH = 7, N = NW + NH };
    pt_example ex[N];
    int i, j, st, maxlen = 0;
    pt_rng rng;
    printf("3. pt_sequence_logprobs\n");
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 2;
    for (i = 0; i < NW; i++) {
        st = pt_world_sft_example(&wc, PT_WORLD_TRAIN, 3, i, &ex[i]);
        CHECK(st == PT_OK, "world example %d: %s", i, pt_last_error());
        if (ex[i].n_ids > maxlen) maxlen = ex[i].n_ids;
    }
    CHECK(maxlen <= 64 - 2, "world examples too long for the test model (%d)", maxlen);
    {   /* hand-made: a two-turn conversation with an assistant-only train mask */
        static const int conv[] = {PT_BYTE_BOS, PT_BYTE_USER, 'h', 'i', PT_BYTE_END, PT_BYTE_ASSISTANT, 'y', 'o', PT_BYTE_END,
                                   PT_BYTE_USER, 'a', 'g', 'a', 'i', 'n', PT_BYTE_END, PT_BYTE_ASSISTANT, 'o', 'k', '!', PT_BYTE_END, PT_BYTE_EOS};
        enum { NC = (int)(sizeof conv / sizeof conv[0]) };
        unsigned char tr[NC], rtr[40], allz[12];
        int ids[64];
        memset(tr, 0, sizeof tr);
        for (j = 6; j <= 8; j++) tr[j] = 1;
        for (j = 17; j < NC; j++) tr[j] = 1;
        ex_from(&ex[NW + 0], conv, NC, 6, tr);
        /* random train mask, train[0] set (never a target), n_prompt irrelevant when train is given */
        pt_rng_seed(&rng, 8);
        for (j = 0; j < 40; j++) { ids[j] = pt_rng_int(&rng, 0, V_ - 1); rtr[j] = (unsigned char)(pt_rng_int(&rng, 0, 2) == 0); }
        rtr[0] = 1; rtr[39] = 1;
        ex_from(&ex[NW + 1], ids, 40, 30, rtr);
        /* prompt only (nothing to score), one token, two tokens with n_prompt 0 */
        ex_from(&ex[NW + 2], ids, 9, 9, NULL);
        ex_from(&ex[NW + 3], ids, 1, 0, NULL);
        ex_from(&ex[NW + 4], ids + 3, 2, 0, NULL);
        /* exactly seq_len tokens */
        for (j = 0; j < 64; j++) ids[j] = pt_rng_int(&rng, 0, V_ - 1);
        ex_from(&ex[NW + 5], ids, 64, 20, NULL);
        /* a train mask of zeros: nothing counted even past n_prompt */
        memset(allz, 0, sizeof allz);
        ex_from(&ex[NW + 6], ids, 12, 2, allz);
    }
    check_seq_logprobs(m, ctx, ex, N, "plain model");
    {   /* the counts, by hand for the hand-made ones */
        int c[N];
        float s[N];
        pt_sequence_logprobs(m, ex, N, 0, s, c);
        CHECK(c[NW + 0] == 8 && c[NW + 2] == 0 && c[NW + 3] == 0 && c[NW + 4] == 1 && c[NW + 5] == 44 && c[NW + 6] == 0,
              "hand counts: %d %d %d %d %d %d", c[NW + 0], c[NW + 2], c[NW + 3], c[NW + 4], c[NW + 5], c[NW + 6]);
        CHECK(s[NW + 2] == 0 && s[NW + 3] == 0 && s[NW + 6] == 0, "nothing to score must sum to 0: %g %g %g", s[NW + 2], s[NW + 3], s[NW + 6]);
        for (j = 0; j < NW; j++) if (c[j] != ex[j].n_ids - ex[j].n_prompt) break;
        CHECK(j == NW, "world example %d: %d tokens counted, completion has %d", j, j < NW ? c[j] : 0, j < NW ? ex[j].n_ids - ex[j].n_prompt : 0);
        for (j = 0; j < N; j++) if (!(s[j] <= 0)) break;
        CHECK(j == N, "a log-prob sum is positive or NaN (example %d)", j);
    }
    /* with LoRA and a trainable-token adapter: on == reference on; off == the base model, bit for bit */
    {
        pt_lora_config lc = lcfg(4, 8.0f, 0, 0.0f, "*", 1);
        float so[N], sb[N], son[N];
        int co[N], cb[N];
        pt_lora_attach(m, &lc);
        randomize(m->lora->params, 0.1f, 2);
        pt_trainable_tokens_attach(m, train_ids, 3);
        randomize(m->tokens->params, 0.3f, 3);
        check_seq_logprobs(m, ctx, ex, N, "LoRA + trainable tokens");
        pt_sequence_logprobs(m, ex, N, 5, son, NULL);
        pt_model_set_adapters(m, 0);
        st = pt_sequence_logprobs(m, ex, N, 5, so, co);
        pt_sequence_logprobs(base, ex, N, 5, sb, cb);
        CHECK(st == PT_OK && memcmp(so, sb, sizeof so) == 0 && memcmp(co, cb, sizeof co) == 0, "adapters off: sequence log-probs differ from the base");
        CHECK(memcmp(son, sb, sizeof son) != 0, "adapters on give the base's sequence log-probs (vacuous)");
        pt_model_set_adapters(m, 1);
        pt_lora_detach(m);
        pt_tokens_detach(m);
    }
    /* prompt tuning: examples with the virtual prefix prepended */
    {
        pt_example pv[NW];
        int pfx[4], k;
        for (i = 0; i < NW; i++) ex_from(&pv[i], ex[i].ids, ex[i].n_ids, ex[i].n_prompt, NULL);
        pt_prompt_tuning_attach(m, 3, NULL, 4);
        randomize(m->tokens->params, 0.3f, 5);
        k = pt_model_prompt_prefix(m, pfx, 4);
        CHECK(k == 3 && pt_examples_prepend(pv, NW, pfx, k) == PT_OK && pv[0].ids[0] == V_ && pv[0].n_prompt == ex[0].n_prompt + 3, "prepend");
        check_seq_logprobs(m, ctx, pv, NW, "prompt tuning (virtual prefix)");
        /* while off, the virtual tokens are not inputs: an error, not a read out of bounds */
        pt_model_set_adapters(m, 0);
        {
            float s[NW];
            st = pt_sequence_logprobs(m, pv, NW, 4, s, NULL);
            CHECK(st == PT_ERR_ARG, "virtual tokens while off: status %d", st);
        }
        pt_model_set_adapters(m, 1);
        pt_tokens_detach(m);
        pt_examples_free(pv, NW);
    }
    /* errors and edge cases */
    {
        float s[2] = {123.0f, 456.0f};
        int c[2] = {7, 8};
        pt_example longer[2];
        int ids[65];
        for (j = 0; j < 65; j++) ids[j] = j;
        ex_from(&longer[0], ids, 10, 2, NULL);
        ex_from(&longer[1], ids, 65, 2, NULL);
        st = pt_sequence_logprobs(m, longer, 2, 0, s, c);
        CHECK(st == PT_ERR_ARG, "an example longer than seq_len: status %d", st);
        CHECK(strstr(pt_last_error(), "example 1") != NULL, "the error names the example: %s", pt_last_error());
        st = pt_sequence_logprobs(m, ex, 0, 0, s, c);
        CHECK(st == PT_OK && s[0] == 123.0f && c[0] == 7, "n = 0: status %d, wrote %g %d", st, s[0], c[0]);
        st = pt_sequence_logprobs(m, NULL, 0, 0, s, NULL);
        CHECK(st == PT_OK, "n = 0 with ex NULL: status %d", st);
        CHECK(pt_sequence_logprobs(m, ex, 2, 0, NULL, c) == PT_ERR_ARG, "sum_logp NULL");
        CHECK(pt_sequence_logprobs(NULL, ex, 2, 0, s, c) == PT_ERR_ARG, "model NULL");
        CHECK(pt_sequence_logprobs(m, NULL, 2, 0, s, c) == PT_ERR_ARG, "ex NULL with n > 0");
        CHECK(pt_sequence_logprobs(m, ex, -1, 0, s, c) == PT_ERR_ARG, "n < 0");
        pt_examples_free(longer, 2);
    }
    pt_examples_free(ex, N);
    pt_model_free(m); pt_model_free(base);
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   4. pt_model_hidden
   --------------------------------------------------------------------------------------------- */
/* max |logits - hidden x W^T| / max(1, |ref|), the product in double here; W's rows come from
   out (V rows), or for columns listed in cols from rows[j] */
static double check_hidden_logits(const pt_tensor *h, const float *lg, const float *out, int V, int D,
                                  const float *rows, const int *cols, int n_cols)
{
    int r, v, d, j, R = h->shape[0];
    double worst = 0;
    for (r = 0; r < R; r++)
        for (v = 0; v < V; v++) {
            const float *w = out + (int64_t)v * D;
            double s = 0, e;
            for (j = 0; j < n_cols; j++) if (cols[j] == v) w = rows + (int64_t)j * D;
            for (d = 0; d < D; d++) s += (double)h->data[(int64_t)r * D + d] * w[d];
            e = fabs(lg[(int64_t)r * V + v] - s) / (fabs(s) > 1 ? fabs(s) : 1);
            if (!(e <= worst)) worst = e;
        }
    return worst;
}
static void test_hidden(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    enum { B = 3, T = 10 };
    int tok[B * T], pos[B * T], seg[B * T], i, untied, tt;
    pt_rng rng;
    printf("4. pt_model_hidden\n");
    pt_rng_seed(&rng, 12);
    for (i = 0; i < B * T; i++) tok[i] = pt_rng_int(&rng, 0, 3) == 0 ? train_ids[pt_rng_int(&rng, 0, 2)] : pt_rng_int(&rng, 0, V_ - 1);
    for (i = 0; i < B * T; i++) { int t = i % T; pos[i] = t < 6 ? t : t - 6; seg[i] = t < 6 ? 1 : (t < 9 ? 2 : 0); }
    for (untied = 0; untied <= 1; untied++)
        for (tt = 0; tt <= 1; tt++) {
            pt_model *m = make_model(std_cfg(untied), 120 + untied);
            int packed;
            if (tt) { pt_trainable_tokens_attach(m, train_ids, 3); randomize(m->tokens->params, 0.3f, 7); }
            for (packed = 0; packed <= 1; packed++) {
                pt_batch b = mkbatch(B, T, tok, NULL);
                pt_tensor *h, *lg;
                float *lgc;
                double e;
                if (packed) { b.pos = pos; b.seg = seg; }
                pt_ctx_set_grad(ctx, 0);
                lg = pt_model_logits(ctx, m, &b);
                lgc = lg ? copy_floats(lg->data, lg->size) : NULL;
                h = pt_model_hidden(ctx, m, &b);
                CHECK(h && h->ndim == 2 && h->shape[0] == B * T && h->shape[1] == 32 && h->size == B * T * 32,
                      "hidden shape (untied %d, tokens %d, packed %d)", untied, tt, packed);
                if (h && lgc) {
                    const pt_token_adapter *ta = m->tokens;
                    e = check_hidden_logits(h, lgc, m->output->data, V_, 32, ta ? (ta->out_rows ? ta->out_rows->data : ta->rows->data) : NULL,
                                            ta ? ta->cols : NULL, ta ? ta->n : 0);
                    CHECK(e <= 1e-5, "logits vs hidden x output^T (untied %d, tokens %d, packed %d): rel err %g", untied, tt, packed, e);
                    if (packed) {   /* padding (seg 0) rows: RMSNorm of x, finite */
                        CHECK(isfinite(abs_sum(h->data, h->size)), "hidden with padding is not finite");
                    }
                }
                if (tt && h && lgc) {   /* the adapter's classifier rows matter: the base output gives other logits */
                    e = check_hidden_logits(h, lgc, m->output->data, V_, 32, NULL, NULL, 0);
                    CHECK(e > 1e-3, "trainable tokens do not change their logit columns (vacuous) %g", e);
                }
                free(lgc);
                pt_ctx_reset(ctx);
            }
            /* bad batch: NULL, not a crash */
            {
                pt_batch b = mkbatch(B, 40, tok, NULL);
                CHECK(pt_model_hidden(ctx, m, &b) == NULL && pt_last_status() == PT_ERR_ARG, "hidden with T > seq_len");
                pt_ctx_reset(ctx);
            }
            pt_ctx_set_grad(ctx, 1);
            pt_model_free(m);
        }
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   5. Scalar heads
   --------------------------------------------------------------------------------------------- */
typedef struct { pt_model *m; pt_batch b; } head_args;
static pt_tensor *head_build(pt_ctx *ctx, pt_tensor **in, void *user)
{
    head_args *a = (head_args *)user;
    (void)in;   /* the inputs are the model's own tensors, read by the forward */
    return pt_model_head_values(ctx, a->m, &a->b);
}
static double head_regression_loss(pt_model *m, pt_ctx *ctx, const pt_batch *b, const float *y, int backward)
{
    pt_tensor *v = pt_model_head_values(ctx, m, b), *yt, *l;
    int n = b->B * b->T;
    double L;
    yt = pt_tensor_from(ctx, 1, &n, y);
    l = pt_mean(ctx, pt_square(ctx, pt_sub(ctx, v, yt)));
    if (!l) { printf("head loss failed: %s\n", pt_last_error()); return NAN; }
    L = l->data[0];
    if (backward && pt_backward(ctx, l) != PT_OK) { printf("head backward failed: %s\n", pt_last_error()); return NAN; }
    return L;
}
static void test_heads(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    enum { B = 2, T = 12 };
    int tok[B * T], i, st;
    pt_rng rng;
    printf("5. scalar heads\n");
    pt_rng_seed(&rng, 13);
    for (i = 0; i < B * T; i++) tok[i] = pt_rng_int(&rng, 0, V_ - 1);

    /* errors, init, values by hand */
    {
        pt_model *m = make_model(std_cfg(1), 130);
        pt_batch b = mkbatch(B, T, tok, NULL);
        pt_tensor *v, *h;
        double mean = 0, var = 0, worst = 0;
        float *w1;
        pt_clear_error();
        CHECK(pt_model_head_values(ctx, m, &b) == NULL && pt_last_status() == PT_ERR_ARG, "values without a head: not an error");
        CHECK(strstr(pt_last_error(), "head") != NULL, "the error names the head: %s", pt_last_error());
        pt_ctx_reset(ctx);
        CHECK(pt_model_head_attach(NULL, 1) == PT_ERR_ARG, "head attach on NULL");
        st = pt_model_head_attach(m, 1);
        CHECK(st == PT_OK && m->head && m->head->w && m->head->b, "head attach: %s", pt_last_error());
        CHECK(m->head->w->size == 32 && m->head->b->size == 1, "head sizes w %lld b %lld", (long long)m->head->w->size, (long long)m->head->b->size);
        CHECK(m->head->b->data[0] == 0.0f, "head b starts at %g", m->head->b->data[0]);
        for (i = 0; i < 32; i++) mean += m->head->w->data[i] / 32.0;
        for (i = 0; i < 32; i++) var += (m->head->w->data[i] - mean) * (m->head->w->data[i] - mean) / 31.0;
        CHECK(var > 0.3 / 33.0 && var < 3.0 / 33.0, "head w variance %g, expected about 1/(D+1) = %g", var, 1.0 / 33.0);
        CHECK(pt_params_count(m->head->params, 1) == 33, "head trainable count %lld", (long long)pt_params_count(m->head->params, 1));
        w1 = copy_floats(m->head->w->data, 32);
        pt_model_head_attach(m, 1);
        CHECK(same_floats(m->head->w->data, w1, 32), "head init is not deterministic in the seed");
        pt_model_head_attach(m, 2);   /* replaces: ASan reports a leak if the old one is not freed */
        CHECK(!same_floats(m->head->w->data, w1, 32), "head init ignores the seed");
        free(w1);
        m->head->b->data[0] = -0.625f;
        pt_ctx_set_grad(ctx, 0);
        v = pt_model_head_values(ctx, m, &b);
        h = pt_model_hidden(ctx, m, &b);
        CHECK(v && v->ndim == 1 && v->shape[0] == B * T && v->size == B * T, "values shape");
        if (v && h) {
            for (i = 0; i < B * T; i++) {
                double s = -0.625, e;
                int d;
                for (d = 0; d < 32; d++) s += (double)h->data[i * 32 + d] * m->head->w->data[d];
                e = fabs(v->data[i] - s);
                if (!(e <= worst)) worst = e;
            }
            CHECK(worst <= 1e-5, "head values vs hidden . w + b by hand: max err %g", worst);
        }
        pt_ctx_reset(ctx);
        pt_ctx_set_grad(ctx, 1);
        /* detach, detach again, values error again, re-attach */
        pt_model_head_detach(m);
        CHECK(m->head == NULL, "detach leaves a head");
        pt_model_head_detach(m);
        pt_model_head_detach(NULL);
        CHECK(pt_model_head_values(ctx, m, &b) == NULL && pt_last_status() == PT_ERR_ARG, "values after detach");
        pt_ctx_reset(ctx);
        CHECK(pt_model_head_attach(m, 3) == PT_OK && m->head, "re-attach");
        pt_model_free(m);   /* with its head: ASan reports a leak otherwise */
    }

    /* gradient check: dv/d(head w, head b, norm, a base matrix, a LoRA B) */
    {
        pt_config cfg = mkcfg(16, 1, 2, 1, 24, 272, 8, 0);
        pt_model *m = make_model(cfg, 131);
        head_args a;
        pt_gradcheck_result r;
        pt_tensor *in[4];
        int64_t expect;
        int tk[2 * 5];
        for (i = 0; i < 10; i++) tk[i] = pt_rng_int(&rng, 0, V_ - 1);
        pt_model_head_attach(m, 4);
        m->head->b->data[0] = 0.2f;
        a.m = m; a.b = mkbatch(2, 5, tk, NULL);
        in[0] = m->head->w; in[1] = m->head->b; in[2] = m->norm; in[3] = m->layers[0].wo;
        expect = 16 + 1 + 16 + 256;
        memset(&r, 0, sizeof r);
        st = pt_gradcheck(head_build, &a, in, 4, 1e-2f, 1e-3, 1e-2, &r);
        printf("    gradcheck head w, b, norm, layers.0.attn.wo: %lld elements, max abs err %.3g, worst %.3g\n",
               (long long)r.checked, r.max_abs_err, r.worst);
        CHECK(st == PT_OK && r.checked == expect && r.worst <= 1.0, "head gradcheck: status %s (%s), checked %lld of %lld, worst %g at input %d index %lld",
              pt_status_name(st), pt_last_error(), (long long)r.checked, (long long)expect, r.worst, r.worst_input, (long long)r.worst_index);
        /* with LoRA attached (base frozen): the head and the adapter's B */
        {
            pt_lora_config lc = lcfg(2, 2.0f, 0, 0.0f, "*.attn.wv", 3);
            pt_lora_attach(m, &lc);
            randomize(m->lora->params, 0.2f, 4);
            in[2] = m->lora->b[2];
            memset(&r, 0, sizeof r);
            st = pt_gradcheck(head_build, &a, in, 3, 1e-2f, 1e-3, 1e-2, &r);
            CHECK(st == PT_OK && r.checked == 16 + 1 + 8 * 2 && r.worst <= 1.0, "head gradcheck with LoRA: status %s, checked %lld, worst %g",
                  pt_status_name(st), (long long)r.checked, r.worst);
        }
        pt_model_free(m);
    }

    /* training the head: regression toward targets through pt_model_optimizer_step; one global
       norm over base and head; zero_grad zeroes both */
    {
        pt_model *m = make_model(std_cfg(0), 132);
        pt_batch b = mkbatch(B, T, tok, NULL);
        float y[B * T], *w0, *base0, b0;
        double L0, L = NAN, norm = 0, hand = 0;
        pt_adamw_config opt;
        int64_t j;
        int k;
        memset(&opt, 0, sizeof opt);
        for (i = 0; i < B * T; i++) y[i] = (float)pt_rng_int(&rng, -10, 10) / 10.0f;
        pt_model_head_attach(m, 5);
        /* first: base trainable too. The clipping norm covers both sets. */
        L0 = head_regression_loss(m, ctx, &b, y, 1);
        pt_ctx_reset(ctx);
        CHECK(grad_abs_sum(m->head->params) > 0 && grad_abs_sum(m->params) > 0, "no gradient in the head or the base");
        for (j = 0; j < m->params->n_grad; j++) hand += (double)m->params->grad[j] * m->params->grad[j];
        for (j = 0; j < m->head->params->n_grad; j++) hand += (double)m->head->params->grad[j] * m->head->params->grad[j];
        hand = sqrt(hand);
        w0 = copy_floats(m->head->params->data, m->head->params->n_data);
        st = pt_model_optimizer_step(m, &opt, 1e-2f, 1e-3f, &norm);
        CHECK(st == PT_OK && fabs(norm - hand) <= 1e-6 * hand, "global norm %.9g vs base + head by hand %.9g", norm, hand);
        CHECK(!same_floats(m->head->params->data, w0, m->head->params->n_data), "optimizer step did not move the head");
        free(w0);
        /* zero_grad zeroes the head's gradients (and the base's) */
        head_regression_loss(m, ctx, &b, y, 1);
        pt_ctx_reset(ctx);
        CHECK(grad_abs_sum(m->head->params) > 0, "no head gradient (vacuous zero_grad check)");
        pt_model_zero_grad(m);
        CHECK(grad_abs_sum(m->head->params) == 0 && grad_abs_sum(m->params) == 0, "pt_model_zero_grad left head %g / base %g",
              grad_abs_sum(m->head->params), grad_abs_sum(m->params));
        /* then: base frozen, only the head trains; 30 steps fit the regression */
        pt_params_set_trainable(m->params, "*", 0);
        base0 = copy_floats(m->params->data, m->params->n_data);
        w0 = copy_floats(m->head->params->data, m->head->params->n_data);
        b0 = m->head->b->data[0];
        L0 = head_regression_loss(m, ctx, &b, y, 0);
        pt_ctx_reset(ctx);
        for (k = 0; k < 30; k++) {
            L = head_regression_loss(m, ctx, &b, y, 1);
            pt_ctx_reset(ctx);
            if (pt_model_optimizer_step(m, &opt, 3e-2f, 0.0f, NULL) != PT_OK) { L = NAN; break; }
            pt_model_zero_grad(m);
        }
        L = head_regression_loss(m, ctx, &b, y, 0);
        pt_ctx_reset(ctx);
        printf("    head regression, base frozen: loss %.4f -> %.4f in 30 steps\n", L0, L);
        CHECK(L < 0.5 * L0, "head regression: loss %g -> %g in 30 steps", L0, L);
        CHECK(same_floats(m->params->data, base0, m->params->n_data), "frozen base changed while training the head");
        CHECK(!same_floats(m->head->params->data, w0, m->head->params->n_data) && m->head->b->data[0] != b0, "head w or b did not move");
        free(base0); free(w0);
        pt_model_head_detach(m);
        CHECK(pt_model_optimizer_step(m, &opt, 1e-2f, 1.0f, NULL) == PT_OK, "optimizer step after head detach");
        pt_model_zero_grad(m);
        pt_model_free(m);
    }
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   6. The training forward on a used context (run last: the NaN it leaves in freed memory would
      reach the next test's fresh context through malloc)
   --------------------------------------------------------------------------------------------- */
static void test_dirty_arena(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int tok[28], i;
    pt_rng rng;
    printf("6. forward on a used context\n");
    pt_rng_seed(&rng, 14);
    for (i = 0; i < 28; i++) tok[i] = pt_rng_int(&rng, 0, V_ - 1);
    /* The forward must not depend on what an earlier step left in the context's arena: with the
       arena's first block filled with zeros, then with NaN, before the forward, the logits, loss
       and gradients are the same. T = 14 is not a multiple of 16, so a chunked kernel that reads
       past the end of a row meets the filler. */
    {
        pt_model *m = make_model(std_cfg(0), 125);
        int tgt[28], fill;
        pt_batch b = mkbatch(2, 14, tok, tgt);
        float *L[2], *g[2];
        double loss[2];
        for (i = 0; i < 28; i++) tgt[i] = (i * 37) % V_;
        for (fill = 0; fill < 2; fill++) {
            float *junk = (float *)pt_ctx_alloc(ctx, (size_t)200000 * sizeof(float));   /* 800 KB of the 1 MB first block */
            pt_tensor *l;
            int64_t j;
            for (j = 0; junk && j < 200000; j++) junk[j] = fill ? NAN : 0.0f;
            pt_ctx_reset(ctx);
            L[fill] = logits_of(m, ctx, tok, 2, 14);
            for (j = 0; junk && j < 200000; j++) junk[j] = fill ? NAN : 0.0f;   /* the same block again */
            pt_ctx_reset(ctx);
            pt_model_zero_grad(m);
            l = pt_model_loss(ctx, m, &b);
            loss[fill] = l && pt_backward(ctx, l) == PT_OK ? l->data[0] : NAN;
            g[fill] = copy_floats(m->params->grad, m->params->n_grad);
            pt_ctx_reset(ctx);
        }
        CHECK(isfinite(loss[0]) && L[0] && isfinite(abs_sum(L[0], 28 * V_)), "forward on a zero-filled arena is not finite");
        CHECK(same_floats(L[1], L[0], (int64_t)28 * V_), "logits on an arena that held NaN differ from those on a zeroed one (max err %g)",
              max_err(L[1], L[0], (int64_t)28 * V_));
        CHECK(loss[1] == loss[0] && same_floats(g[1], g[0], m->params->n_grad),
              "loss / gradients on an arena that held NaN differ from those on a zeroed one (loss %g vs %g)", loss[1], loss[0]);
        pt_model_zero_grad(m);
        for (fill = 0; fill < 2; fill++) { free(L[fill]); free(g[fill]); }
        pt_model_free(m);
    }
    pt_ctx_free(ctx);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_refs")) return 2;
    pt_set_threads(1);   /* see gen() */
    /* each section prints its own heading */
    RUN(NULL, test_adapters_off);
    RUN(NULL, test_clone);
    RUN(NULL, test_sequence_logprobs);
    RUN(NULL, test_hidden);
    RUN(NULL, test_heads);
    RUN(NULL, test_dirty_arena);
    return finish_tmp("test_refs", t0);
}
