/* Tests for the model half of posttrain.h: the transformer (training forward vs KV-cache decoding,
   packed and padded batches, overfitting one batch), checkpoints (round trip, exact resume, corrupt
   files), input errors, determinism (seeds, thread counts, batch composition), sampling, batched
   generation, the byte tokenizer and the arithmetic world.

   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_model_XXXXXX, removed at the end.
   A few checks (NULL batch, loading a directory, huge world configs) run in a fork()ed child,
   because the bug they look for crashes the process (or aborts it under ASan). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <string.h>
#include <stdint.h>
#include <math.h>
#include <float.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
#include "test_tmp.h"

/* A model with weights large enough that every part of the forward matters: N(0, std) everywhere,
   norm weights 1 + N(0, 0.2) (random, so a norm applied to the wrong tensor shows). */
static pt_model *make_model_norms(pt_config cfg, uint64_t seed, float std)
{
    pt_model *m = pt_model_new(&cfg, seed);
    pt_rng rng;
    int i;
    if (!m) { printf("pt_model_new failed: %s\n", pt_last_error()); return NULL; }
    pt_rng_seed(&rng, seed * 7919u + 13u);
    pt_params_init_normal(m->params, "*", std, &rng);
    for (i = 0; i < m->params->count; i++) {
        pt_param *p = m->params->items[i];
        int64_t j;
        if (!pt_glob_match("*norm", p->name)) continue;
        for (j = 0; j < p->t.size; j++) p->t.data[j] = 1.0f + 0.2f * pt_rng_normal(&rng);
    }
    return m;
}

static double max_abs(const float *a, int64_t n) { double m = 0; int64_t i; for (i = 0; i < n; i++) if (fabs((double)a[i]) > m) m = fabs((double)a[i]); return m; }

/* snapshot of a model's full state, for "untouched" checks */
typedef struct snap { float *data, *m, *v; int64_t nd, ng, step; } snap;
static snap take_snap(const pt_model *mo)
{
    snap s;
    const pt_params *P = mo->params;
    s.nd = P->n_data; s.ng = P->n_grad; s.step = P->step;
    s.data = (float *)malloc((size_t)s.nd * sizeof(float)); memcpy(s.data, P->data, (size_t)s.nd * sizeof(float));
    s.m = (float *)malloc((size_t)(s.ng ? s.ng : 1) * sizeof(float)); memcpy(s.m, P->adam_m, (size_t)s.ng * sizeof(float));
    s.v = (float *)malloc((size_t)(s.ng ? s.ng : 1) * sizeof(float)); memcpy(s.v, P->adam_v, (size_t)s.ng * sizeof(float));
    return s;
}
static int snap_same(const snap *s, const pt_model *mo)
{
    const pt_params *P = mo->params;
    return P->n_data == s->nd && P->n_grad == s->ng && P->step == s->step &&
           memcmp(P->data, s->data, (size_t)s->nd * sizeof(float)) == 0 &&
           memcmp(P->adam_m, s->m, (size_t)s->ng * sizeof(float)) == 0 &&
           memcmp(P->adam_v, s->v, (size_t)s->ng * sizeof(float)) == 0;
}
static void free_snap(snap *s) { free(s->data); free(s->m); free(s->v); }

static int same_opt(const pt_model *a, const pt_model *b)
{
    return a->params->n_grad == b->params->n_grad && a->params->step == b->params->step &&
           memcmp(a->params->adam_m, b->params->adam_m, (size_t)a->params->n_grad * sizeof(float)) == 0 &&
           memcmp(a->params->adam_v, b->params->adam_v, (size_t)a->params->n_grad * sizeof(float)) == 0;
}

/* One optimisation step: loss, backward, clip, AdamW; returns the loss (NaN on error). */
static float train_step(pt_model *m, pt_ctx *ctx, const pt_batch *b, const pt_adamw_config *opt, float lr, float clip)
{
    pt_tensor *loss;
    float L;
    pt_ctx_set_grad(ctx, 1);
    loss = pt_model_loss(ctx, m, b);
    if (!loss) { printf("pt_model_loss failed: %s\n", pt_last_error()); pt_ctx_reset(ctx); return NAN; }
    L = loss->data[0];
    if (pt_backward(ctx, loss) != PT_OK) { printf("backward failed: %s\n", pt_last_error()); L = NAN; }
    else {
        if (clip > 0) pt_clip_grad_norm(m->params, clip, NULL);
        if (pt_adamw_step(m->params, opt, lr) != PT_OK) { printf("adamw failed: %s\n", pt_last_error()); L = NAN; }
    }
    pt_params_zero_grad(m->params);
    pt_ctx_reset(ctx);
    return L;
}

/* ---------------------------------------------------------------------------------------------
   1. KV-cache decoding == training forward
   --------------------------------------------------------------------------------------------- */
static void test_kv_config(const char *name, pt_config cfg, uint64_t seed, pt_ctx *ctx)
{
    pt_model *m = make_model_norms(cfg, seed, 0.1f);
    pt_rng rng;
    int V, T, T1, t, i;
    int *t0, *t1, *t01;
    float *ref0, *ref1, *ref01, *out, *out0, *out1, *lg;
    pt_kv_cache *kv;
    double e, worst = 0;
    if (!m) { CHECK(0, "%s: model", name); return; }
    V = m->cfg.vocab_size;
    T = m->cfg.seq_len < 40 ? m->cfg.seq_len : 40;
    T1 = T - 6;
    pt_rng_seed(&rng, seed + 99);
    t0 = (int *)malloc((size_t)T * sizeof(int)); t1 = (int *)malloc((size_t)T * sizeof(int));
    t01 = (int *)malloc((size_t)2 * T * sizeof(int));
    rand_tokens(t0, T, 0, V - 1, &rng); rand_tokens(t1, T, 0, V - 1, &rng);
    ref0 = full_logits(m, ctx, t0, 1, T, NULL, NULL);
    ref1 = full_logits(m, ctx, t1, 1, T, NULL, NULL);
    memcpy(t01, t0, (size_t)T * sizeof(int)); memcpy(t01 + T, t1, (size_t)T * sizeof(int));
    ref01 = full_logits(m, ctx, t01, 2, T, NULL, NULL);
    out = (float *)calloc((size_t)T * V, sizeof(float));
    out0 = (float *)calloc((size_t)T * V, sizeof(float));
    out1 = (float *)calloc((size_t)T * V, sizeof(float));
    lg = (float *)calloc((size_t)8 * V, sizeof(float));
    if (!ref0 || !ref1 || !ref01) { CHECK(0, "%s: reference forward failed", name); goto done; }
    CHECK(max_abs(ref0, (int64_t)T * V) > 1.0, "%s: logits too small (%g) for a meaningful comparison", name, max_abs(ref0, (int64_t)T * V));
    /* the batched training forward agrees with one row at a time */
    e = rel_err(ref01, ref0, (int64_t)T * V);
    if (rel_err(ref01 + (int64_t)T * V, ref1, (int64_t)T * V) > e) e = rel_err(ref01 + (int64_t)T * V, ref1, (int64_t)T * V);
    CHECK(e <= 1e-5, "%s: B=2 training forward differs from B=1 rows: rel %g", name, e);

    kv = pt_kv_new(m, 3, T);
    if (!kv) { CHECK(0, "%s: pt_kv_new: %s", name, pt_last_error()); goto done; }
    /* (a) token by token */
    for (t = 0; t < T; t++) {
        int s = 0;
        if (pt_model_step(m, kv, 1, &s, &t0[t], out + (int64_t)t * V) != PT_OK) { CHECK(0, "%s: step: %s", name, pt_last_error()); break; }
    }
    e = rel_err(out, ref0, (int64_t)T * V); if (e > worst) worst = e;
    CHECK(e <= 1e-5, "%s: token-by-token decoding vs training forward: rel %g", name, e);
    CHECK(kv->len[0] == T && kv->len[1] == 0 && kv->len[2] == 0, "%s: lens %d %d %d after %d steps", name, kv->len[0], kv->len[1], kv->len[2], T);

    /* (b) a prefill chunk of 9 rows, then single steps (in sequence 1 this time) */
    memset(out, 0, (size_t)T * V * sizeof(float));
    {
        int seqs[9];
        for (i = 0; i < 9; i++) seqs[i] = 1;
        CHECK(pt_model_step(m, kv, 9, seqs, t0, out) == PT_OK, "%s: prefill: %s", name, pt_last_error());
        for (t = 9; t < T; t++) pt_model_step(m, kv, 1, seqs, &t0[t], out + (int64_t)t * V);
    }
    e = rel_err(out, ref0, (int64_t)T * V); if (e > worst) worst = e;
    CHECK(e <= 1e-5, "%s: prefill(9)+decode vs training forward: rel %g", name, e);

    /* (b2) the same with logits NULL during the prefill (the generation path) */
    pt_kv_clear(kv, 1);
    {
        int seqs[9];
        for (i = 0; i < 9; i++) seqs[i] = 1;
        memset(out, 0, (size_t)T * V * sizeof(float));
        CHECK(pt_model_step(m, kv, 9, seqs, t1, NULL) == PT_OK && kv->len[1] == 9, "%s: prefill without logits: %s", name, pt_last_error());
        for (t = 9; t < T; t++) pt_model_step(m, kv, 1, seqs, &t1[t], out + (int64_t)t * V);
        e = rel_err(out + (int64_t)9 * V, ref1 + (int64_t)9 * V, (int64_t)(T - 9) * V); if (e > worst) worst = e;
        CHECK(e <= 1e-5, "%s: NULL-logits prefill + decode vs training forward: rel %g", name, e);
    }

    /* (c) two sequences interleaved in the same calls at different positions */
    pt_kv_clear(kv, -1);
    CHECK(kv->len[0] == 0 && kv->len[1] == 0, "%s: pt_kv_clear(-1)", name);
    memset(out0, 0, (size_t)T * V * sizeof(float)); memset(out1, 0, (size_t)T * V * sizeof(float));
    {
        int seqs[16], toks[16], n0 = 0, n1 = 0, k;
        for (i = 0; i < 7; i++) { seqs[i] = 0; toks[i] = t0[i]; }
        pt_model_step(m, kv, 7, seqs, toks, lg);            /* seq 0 positions 0..6 (logits of the first 7 rows only) */
        for (i = 0; i < 7; i++) memcpy(out0 + (int64_t)i * V, lg + (int64_t)i * V, (size_t)V * sizeof(float));
        seqs[0] = seqs[1] = 2; toks[0] = t1[0]; toks[1] = t1[1];
        pt_model_step(m, kv, 2, seqs, toks, lg);            /* seq 2 positions 0..1 */
        memcpy(out1, lg, (size_t)2 * V * sizeof(float));
        /* seq 0 at pos 7, seq 2 at pos 2, seq 2 at pos 3, seq 0 at pos 8 - one call */
        seqs[0] = 0; toks[0] = t0[7]; seqs[1] = 2; toks[1] = t1[2]; seqs[2] = 2; toks[2] = t1[3]; seqs[3] = 0; toks[3] = t0[8];
        CHECK(pt_model_step(m, kv, 4, seqs, toks, lg) == PT_OK, "%s: mixed step: %s", name, pt_last_error());
        memcpy(out0 + (int64_t)7 * V, lg, (size_t)V * sizeof(float));
        memcpy(out1 + (int64_t)2 * V, lg + V, (size_t)2 * V * sizeof(float));
        memcpy(out0 + (int64_t)8 * V, lg + 3 * (int64_t)V, (size_t)V * sizeof(float));
        CHECK(kv->len[0] == 9 && kv->len[2] == 4 && kv->len[1] == 0, "%s: lens after mixed step %d %d %d", name, kv->len[0], kv->len[1], kv->len[2]);
        n0 = 9; n1 = 4;
        /* then random interleavings of 0..3 rows per sequence until both are done */
        while (n0 < T || n1 < T1) {
            int want0 = pt_rng_int(&rng, 0, 3), want1 = pt_rng_int(&rng, 0, 3), nr = 0, p0 = n0, p1 = n1;
            int rowpos[8];
            if (want0 > T - n0) want0 = T - n0;
            if (want1 > T1 - n1) want1 = T1 - n1;
            if (want0 + want1 == 0) continue;
            while (want0 + want1 > 0) {
                int pick0 = want1 == 0 || (want0 > 0 && pt_rng_int(&rng, 0, 1));
                if (pick0) { seqs[nr] = 0; toks[nr] = t0[p0]; rowpos[nr] = p0++; want0--; }
                else { seqs[nr] = 2; toks[nr] = t1[p1]; rowpos[nr] = p1++; want1--; }
                nr++;
            }
            if (pt_model_step(m, kv, nr, seqs, toks, lg) != PT_OK) { CHECK(0, "%s: interleaved step: %s", name, pt_last_error()); break; }
            for (k = 0; k < nr; k++)
                memcpy((seqs[k] == 0 ? out0 : out1) + (int64_t)rowpos[k] * V, lg + (int64_t)k * V, (size_t)V * sizeof(float));
            n0 = p0; n1 = p1;
        }
        e = rel_err(out0, ref0, (int64_t)T * V);
        if (rel_err(out1, ref1, (int64_t)T1 * V) > e) e = rel_err(out1, ref1, (int64_t)T1 * V);
        if (e > worst) worst = e;
        CHECK(e <= 1e-5, "%s: interleaved multi-sequence decoding vs training forward: rel %g", name, e);
        CHECK(kv->len[0] == T && kv->len[2] == T1 && kv->len[1] == 0, "%s: lens after interleaving %d %d %d", name, kv->len[0], kv->len[1], kv->len[2]);

        /* clearing one sequence leaves the other; redo seq 2 in one prefill of T rows */
        pt_kv_clear(kv, 2);
        CHECK(kv->len[0] == T && kv->len[2] == 0, "%s: pt_kv_clear(2)", name);
        {
            int *sq = (int *)malloc((size_t)T * sizeof(int));
            for (i = 0; i < T; i++) sq[i] = 2;
            memset(out, 0, (size_t)T * V * sizeof(float));
            CHECK(pt_model_step(m, kv, T, sq, t1, out) == PT_OK, "%s: full prefill: %s", name, pt_last_error());
            e = rel_err(out, ref1, (int64_t)T * V); if (e > worst) worst = e;
            CHECK(e <= 1e-5, "%s: full-length prefill after clear vs training forward: rel %g", name, e);
            free(sq);
        }
        /* sensitivity: the same token at position 0 of an empty sequence gives different logits, so the
           comparisons above really exercise the cache and the positions */
        pt_kv_clear(kv, 1);
        k = 1;
        pt_model_step(m, kv, 1, &k, &t0[T - 1], lg);
        e = rel_err(lg, ref0 + (int64_t)(T - 1) * V, V);
        CHECK(e > 1e-2, "%s: context-free logits equal the in-context ones (rel %g): the test is not sensitive", name, e);
    }
    printf("  kv %-28s worst rel err %.2e\n", name, worst);
    pt_kv_free(kv);
done:
    free(t0); free(t1); free(t01); free(ref0); free(ref1); free(ref01); free(out); free(out0); free(out1); free(lg);
    pt_model_free(m);
}

static void test_kv_cache(pt_ctx *ctx)
{
    printf("1. KV cache vs training forward\n");
    test_kv_config("GQA 8h/4kv tied", mkcfg(64, 2, 8, 4, 96, 272, 64, 0), 1, ctx);
    test_kv_config("MHA 4h untied (kv=0 default)", mkcfg(64, 2, 4, 0, 128, 272, 64, 1), 2, ctx);
    test_kv_config("MQA 8h/1kv", mkcfg(64, 2, 8, 1, 80, 272, 64, 0), 3, ctx);
    test_kv_config("GQA untied odd hidden 75", mkcfg(48, 1, 6, 2, 75, 97, 40, 1), 4, ctx);
    test_kv_config("dim32 hd16 odd hidden 33", mkcfg(32, 2, 2, 2, 33, 272, 48, 0), 5, ctx);
}

/* ---------------------------------------------------------------------------------------------
   2. Packed and left-padded batches, gradient isolation
   --------------------------------------------------------------------------------------------- */
static void test_packing(pt_ctx *ctx)
{
    pt_model *m = make_model_norms(mkcfg(64, 2, 8, 4, 96, 272, 64, 1), 11, 0.1f);
    enum { LA = 5, LB = 7, LC = 4, TP = LA + LB + LC, PAD = 5 };
    int A[LA], Bx[LB], C[LC], packed[TP], pos[TP], seg[TP], i, j, V, D;
    int padded[2 * (PAD + LB + LC)], ppos[2 * (PAD + LB + LC)], pseg[2 * (PAD + LB + LC)];
    float *la, *lb, *lc, *lp, *lpad, *lbc;
    pt_rng rng;
    double e;
    printf("2. packed / padded batches\n");
    if (!m) { CHECK(0, "packing model"); return; }
    V = m->cfg.vocab_size; D = m->cfg.dim;
    pt_rng_seed(&rng, 5);
    /* distinct token ids per example: A in [10, 59], B in [100, 159], C in [200, 255] */
    for (i = 0; i < LA; i++) A[i] = 10 + 10 * i + pt_rng_int(&rng, 0, 9);
    for (i = 0; i < LB; i++) Bx[i] = 100 + 8 * i + pt_rng_int(&rng, 0, 7);
    for (i = 0; i < LC; i++) C[i] = 200 + 14 * i + pt_rng_int(&rng, 0, 13);
    for (i = 0; i < TP; i++) {
        if (i < LA) { packed[i] = A[i]; pos[i] = i; seg[i] = 1; }
        else if (i < LA + LB) { packed[i] = Bx[i - LA]; pos[i] = i - LA; seg[i] = 2; }
        else { packed[i] = C[i - LA - LB]; pos[i] = i - LA - LB; seg[i] = 3; }
    }
    la = full_logits(m, ctx, A, 1, LA, NULL, NULL);
    lb = full_logits(m, ctx, Bx, 1, LB, NULL, NULL);
    lc = full_logits(m, ctx, C, 1, LC, NULL, NULL);
    lp = full_logits(m, ctx, packed, 1, TP, pos, seg);
    if (!la || !lb || !lc || !lp) { CHECK(0, "packing forward"); goto done0; }
    e = rel_err(lp, la, (int64_t)LA * V);
    CHECK(e <= 1e-5, "packed: example 1 vs alone: rel %g", e);
    e = rel_err(lp + (int64_t)LA * V, lb, (int64_t)LB * V);
    CHECK(e <= 1e-5, "packed: example 2 vs alone: rel %g", e);
    e = rel_err(lp + (int64_t)(LA + LB) * V, lc, (int64_t)LC * V);
    CHECK(e <= 1e-5, "packed: example 3 vs alone: rel %g", e);
    /* without the segment ids the second example sees the first: must differ (the test can fail) */
    {
        float *ln = full_logits(m, ctx, packed, 1, TP, pos, NULL);
        e = ln ? rel_err(ln + (int64_t)LA * V, lb, (int64_t)LB * V) : 0;
        CHECK(e > 1e-3, "packed without seg should leak across examples (rel %g)", e);
        free(ln);
    }
    /* left padding: row 0 = PAD pads then B then C as one example; row 1 = an unpadded example of the
       full width. Pads have seg 0 and position 0; real tokens positions from 0. */
    {
        int W = PAD + LB + LC, Lr = LB + LC, bc[LB + LC];
        int *row1 = padded + W;
        for (i = 0; i < LB; i++) bc[i] = Bx[i];
        for (i = 0; i < LC; i++) bc[LB + i] = C[i];
        for (i = 0; i < W; i++) {
            if (i < PAD) { padded[i] = PT_BYTE_PAD; ppos[i] = 0; pseg[i] = 0; }
            else { padded[i] = bc[i - PAD]; ppos[i] = i - PAD; pseg[i] = 1; }
            row1[i] = pt_rng_int(&rng, 0, 255); ppos[W + i] = i; pseg[W + i] = 1;
        }
        lbc = full_logits(m, ctx, bc, 1, Lr, NULL, NULL);
        lpad = full_logits(m, ctx, padded, 2, W, ppos, pseg);
        {
            float *lrow1 = full_logits(m, ctx, row1, 1, W, NULL, NULL);
            if (lbc && lpad && lrow1) {
                e = rel_err(lpad + (int64_t)PAD * V, lbc, (int64_t)Lr * V);
                CHECK(e <= 1e-5, "left padded row vs unpadded: rel %g", e);
                e = rel_err(lpad + (int64_t)W * V, lrow1, (int64_t)W * V);
                CHECK(e <= 1e-5, "unpadded row next to a padded one vs alone: rel %g", e);
                for (j = 0; j < PAD * V; j++) if (!isfinite(lpad[j])) break;
                CHECK(j == PAD * V, "padding rows have non-finite logits");
            } else CHECK(0, "padded forward");
            free(lrow1);
        }
        free(lbc); free(lpad);
    }
    /* gradient isolation (untied model, so the classifier does not touch the embedding rows) */
    {
        int targets[TP];
        float mask[TP];
        int pass;
        for (i = 0; i < TP; i++) {
            int last = (i == LA - 1) || (i == LA + LB - 1) || (i == TP - 1);
            targets[i] = last ? 0 : packed[i + 1];
        }
        for (pass = 0; pass < 3; pass++) {
            /* pass 0: loss on example 1 only; check rows used only by example 2 (follows causally)
               pass 1: loss on example 2 only; check rows used only by example 1 (needs the seg mask)
               pass 2: as pass 1 but without seg: example 1 rows must get a gradient (sanity) */
            pt_batch b;
            pt_tensor *loss;
            const int *ids_zero = pass == 0 ? Bx : A, *ids_nz = pass == 0 ? A : Bx;
            int n_zero = pass == 0 ? LB : LA, n_nz = pass == 0 ? LA : LB;
            int nonzero_zero = 0, nonzero_nz = 0, tg2[TP];
            memcpy(tg2, targets, sizeof tg2);
            for (i = 0; i < TP; i++) {
                int in1 = i < LA - 1, in2 = i >= LA && i < LA + LB - 1;
                mask[i] = (pass == 0 ? in1 : in2) ? 1.0f : 0.0f;
                if (mask[i] == 0.0f) tg2[i] = -1;   /* masked targets are documented as not read */
            }
            memset(&b, 0, sizeof b);
            b.B = 1; b.T = TP; b.tokens = packed; b.targets = tg2; b.loss_mask = mask; b.pos = pos; b.seg = pass == 2 ? NULL : seg;
            pt_params_zero_grad(m->params);
            loss = pt_model_loss(ctx, m, &b);
            if (!loss || pt_backward(ctx, loss) != PT_OK) { CHECK(0, "isolation pass %d: %s", pass, pt_last_error()); pt_ctx_reset(ctx); continue; }
            for (i = 0; i < n_zero; i++) {
                const float *g = m->tok_embeddings->grad + (int64_t)ids_zero[i] * D;
                for (j = 0; j < D; j++) nonzero_zero += g[j] != 0.0f;
            }
            for (i = 0; i < n_nz - 1; i++) {   /* the last token of an example feeds no masked target */
                const float *g = m->tok_embeddings->grad + (int64_t)ids_nz[i] * D;
                for (j = 0; j < D; j++) nonzero_nz += g[j] != 0.0f;
            }
            if (pass < 2) {
                CHECK(nonzero_zero == 0, "isolation pass %d: %d nonzero gradient entries in embedding rows of the other example", pass, nonzero_zero);
                CHECK(nonzero_nz > 0, "isolation pass %d: the example with the loss has no embedding gradient", pass);
            } else {
                CHECK(nonzero_zero > 0, "without seg, example 1's rows should get a gradient from example 2's loss");
            }
            pt_params_zero_grad(m->params);
            pt_ctx_reset(ctx);
        }
    }
done0:
    free(la); free(lb); free(lc); free(lp);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   3. One batch overfits
   --------------------------------------------------------------------------------------------- */
static void test_overfit(pt_ctx *ctx)
{
    pt_model *m = pt_model_new((const pt_config[]){mkcfg(64, 2, 4, 4, 128, 272, 32, 0)}, 21);
    enum { B = 2, T = 32 };
    int seqs[B][T + 1], tokens[B * T], targets[B * T], i, r, step, steps = 120;
    pt_rng rng;
    pt_batch b;
    pt_adamw_config opt;
    float first = 0, last = 0, L = 0;
    double t0 = pt_time_seconds();
    printf("3. overfit one batch\n");
    if (!m) { CHECK(0, "overfit model: %s", pt_last_error()); return; }
    pt_rng_seed(&rng, 77);
    for (r = 0; r < B; r++) for (i = 0; i <= T; i++) seqs[r][i] = pt_rng_int(&rng, 0, 255);
    for (r = 0; r < B; r++) for (i = 0; i < T; i++) { tokens[r * T + i] = seqs[r][i]; targets[r * T + i] = seqs[r][i + 1]; }
    memset(&b, 0, sizeof b); b.B = B; b.T = T; b.tokens = tokens; b.targets = targets;
    memset(&opt, 0, sizeof opt);
    for (step = 0; step < steps; step++) {
        L = train_step(m, ctx, &b, &opt, 3e-3f, 0.0f);
        if (step == 0) first = L;
        if (step % 25 == 0) printf("  step %3d loss %.5f\n", step, L);
        if (!isfinite(L)) break;
    }
    /* the loss after the last update */
    pt_ctx_set_grad(ctx, 0);
    { pt_tensor *l = pt_model_loss(ctx, m, &b); last = l ? l->data[0] : NAN; }
    pt_ctx_reset(ctx); pt_ctx_set_grad(ctx, 1);
    printf("  loss %.4f -> %.5f after %d AdamW steps (lr 3e-3), %.2f s\n", first, last, steps, pt_time_seconds() - t0);
    CHECK(fabsf(first - logf(272.0f)) < 0.2f, "initial loss %g should be near ln(272) = %g", first, log(272.0));
    CHECK(last < 0.05f, "one batch did not overfit: loss %g after %d steps", last, steps);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   4. Checkpoints: bit-exact round trip and exact resume
   --------------------------------------------------------------------------------------------- */
static void make_batch(int step, int B, int T, int V, int *tokens, int *targets, float *mask)
{
    pt_rng rng;
    int i;
    pt_rng_seed(&rng, 1000 + (uint64_t)step);
    for (i = 0; i < B * T; i++) { tokens[i] = pt_rng_int(&rng, 0, V - 1); targets[i] = pt_rng_int(&rng, 0, V - 1); mask[i] = pt_rng_uniform(&rng) < 0.8f ? 1.0f : 0.0f; }
    mask[0] = 1.0f;
}
static float resume_step(pt_model *m, pt_ctx *ctx, int step)
{
    enum { B = 2, T = 16 };
    int tokens[B * T], targets[B * T];
    float mask[B * T], lr;
    pt_batch b;
    pt_adamw_config opt;
    memset(&opt, 0, sizeof opt); opt.weight_decay = 0.1f;
    make_batch(step, B, T, m->cfg.vocab_size, tokens, targets, mask);
    memset(&b, 0, sizeof b); b.B = B; b.T = T; b.tokens = tokens; b.targets = targets; b.loss_mask = mask;
    lr = pt_lr_schedule(m->params->step, 3, 20, 3e-3f, 3e-4f);   /* depends on the restored step */
    return train_step(m, ctx, &b, &opt, lr, 1.0f);
}
static void test_checkpoints(pt_ctx *ctx)
{
    pt_config cfg = mkcfg(32, 2, 4, 2, 64, 272, 32, 0);
    pt_model *A = make_model_norms(cfg, 31, 0.05f), *B = NULL, *C = NULL;
    const char *p_opt = tmp_path("a_opt.ckpt"), *p_noopt = tmp_path("a_noopt.ckpt"), *p_untied = tmp_path("untied.ckpt");
    const char *p_frozen = tmp_path("frozen.ckpt");
    float la[10], lb[10], lc[10];
    int i;
    char tmpname[200];
    printf("4. checkpoints\n");
    if (!A) { CHECK(0, "ckpt model"); return; }
    for (i = 0; i < 10; i++) resume_step(A, ctx, i);
    CHECK(A->params->step == 10, "step count %lld", (long long)A->params->step);
    CHECK(pt_model_save(A, p_opt, 1) == PT_OK, "save with optimizer: %s", pt_last_error());
    CHECK(pt_model_save(A, p_noopt, 0) == PT_OK, "save without optimizer: %s", pt_last_error());
    snprintf(tmpname, sizeof tmpname, "%s.tmp", p_opt);
    CHECK(!file_exists(tmpname), "the temporary %s was left behind", tmpname);

    /* round trip with optimizer */
    B = pt_model_load(p_opt);
    CHECK(B != NULL, "load with optimizer: %s", pt_last_error());
    if (B) {
        CHECK(memcmp(&B->cfg, &A->cfg, sizeof(pt_config)) == 0, "config differs after load");
        CHECK(models_equal(A, B), "weights are not bit-identical after a round trip");
        CHECK(same_opt(A, B), "AdamW state / step not bit-identical after a round trip (step %lld vs %lld)", (long long)B->params->step, (long long)A->params->step);
        CHECK(B->output == B->tok_embeddings, "tied model loaded untied");
        pt_model_free(B); B = NULL;
    }
    /* without optimizer: weights identical, fresh optimizer */
    B = pt_model_load(p_noopt);
    CHECK(B != NULL, "load without optimizer: %s", pt_last_error());
    if (B) {
        int64_t j, nz = 0;
        CHECK(models_equal(A, B), "weights differ after a no-optimizer round trip");
        for (j = 0; j < B->params->n_grad; j++) nz += B->params->adam_m[j] != 0.0f || B->params->adam_v[j] != 0.0f;
        CHECK(nz == 0 && B->params->step == 0, "no-optimizer load has optimizer state (%lld nonzero, step %lld)", (long long)nz, (long long)B->params->step);
        pt_model_free(B); B = NULL;
    }
    /* untied and partially frozen models round trip too */
    {
        pt_model *U = make_model_norms(mkcfg(32, 1, 4, 4, 48, 100, 16, 1), 32, 0.05f), *U2;
        pt_model *F = make_model_norms(cfg, 33, 0.05f), *F2;
        CHECK(pt_model_save(U, p_untied, 1) == PT_OK, "save untied: %s", pt_last_error());
        U2 = pt_model_load(p_untied);
        CHECK(U2 && models_equal(U, U2) && U2->cfg.untied == 1 && U2->output != U2->tok_embeddings, "untied round trip");
        pt_model_free(U2);
        pt_params_set_trainable(F->params, "layers.0.*", 0);
        for (i = 0; i < 2; i++) resume_step(F, ctx, i);
        CHECK(pt_model_save(F, p_frozen, 1) == PT_OK, "save frozen: %s", pt_last_error());
        F2 = pt_model_load(p_frozen);
        CHECK(F2 != NULL, "load frozen: %s", pt_last_error());
        if (F2) {
            int same_flags = 1;
            for (i = 0; i < F->params->count; i++)
                same_flags &= (F->params->items[i]->grad_offset >= 0) == (F2->params->items[i]->grad_offset >= 0);
            CHECK(same_flags, "frozen flags not restored");
            CHECK(models_equal(F, F2) && same_opt(F, F2), "partially frozen model round trip not bit-exact");
            pt_model_free(F2);
        }
        /* a checkpoint whose trainable flags differ from the model's is refused by load_into */
        {
            pt_model *T = make_model_norms(cfg, 34, 0.05f);
            snap s = take_snap(T);
            pt_clear_error();
            CHECK(pt_model_load_into(T, p_frozen) < 0 && pt_last_error()[0], "load_into accepted different trainable flags");
            CHECK(snap_same(&s, T), "failed load_into changed the model");
            free_snap(&s); pt_model_free(T);
        }
        pt_model_free(U); pt_model_free(F);
    }

    /* exact resume: A continues; B = pt_model_load; C = pt_model_new(other seed) + pt_model_load_into */
    for (i = 0; i < 10; i++) la[i] = resume_step(A, ctx, 10 + i);
    B = pt_model_load(p_opt);
    C = pt_model_new(&cfg, 999);
    CHECK(B && C && pt_model_load_into(C, p_opt) == PT_OK, "resume loads: %s", pt_last_error());
    if (B && C) {
        CHECK(C->params->step == 10, "load_into restored step %lld", (long long)C->params->step);
        for (i = 0; i < 10; i++) { lb[i] = resume_step(B, ctx, 10 + i); lc[i] = resume_step(C, ctx, 10 + i); }
        CHECK(memcmp(la, lb, sizeof la) == 0, "resumed (pt_model_load) losses differ: %.9g vs %.9g at step 10, %.9g vs %.9g at 19", la[0], lb[0], la[9], lb[9]);
        CHECK(memcmp(la, lc, sizeof la) == 0, "resumed (pt_model_load_into) losses differ: %.9g vs %.9g at step 19", la[9], lc[9]);
        CHECK(models_equal(A, B) && same_opt(A, B), "resumed (pt_model_load) weights/optimizer not bit-identical");
        CHECK(models_equal(A, C) && same_opt(A, C), "resumed (pt_model_load_into) weights/optimizer not bit-identical");
        printf("  resume: losses %.6f .. %.6f identical over 10 steps\n", la[0], la[9]);
    }
    pt_model_free(B); pt_model_free(C); B = C = NULL;
    /* sanity: resuming without the optimizer state does not reproduce the run (the check can fail) */
    B = pt_model_load(p_noopt);
    if (B) {
        B->params->step = 10;   /* even with the right step, fresh moments change the trajectory */
        for (i = 0; i < 10; i++) lb[i] = resume_step(B, ctx, 10 + i);
        CHECK(lb[0] == la[0], "first loss after a no-optimizer load should equal (same weights): %.9g vs %.9g", lb[0], la[0]);
        CHECK(memcmp(la, lb, sizeof la) != 0, "resume without optimizer state reproduced the run: the resume check is vacuous");
        pt_model_free(B);
    }
    pt_model_free(A);
}

/* ---------------------------------------------------------------------------------------------
   5. Bad checkpoints
   --------------------------------------------------------------------------------------------- */
static void expect_bad(const char *what, const unsigned char *buf, size_t n, pt_model *target, const char *must_mention, int check_plain_load)
{
    const char *path = tmp_path("bad.ckpt");
    snap s;
    pt_model *m;
    int st;
    if (write_bytes(path, buf, n) != 0) { CHECK(0, "%s: cannot write", what); return; }
    if (check_plain_load) {
        pt_clear_error();
        m = pt_model_load(path);
        CHECK(m == NULL, "%s: pt_model_load accepted a bad checkpoint", what);
        pt_model_free(m);
        CHECK(pt_last_error()[0] != 0 && pt_last_status() < 0, "%s: pt_model_load gave no error message", what);
        CHECK(strstr(pt_last_error(), path) != NULL, "%s: message does not name the file: '%s'", what, pt_last_error());
        if (must_mention) CHECK(strstr(pt_last_error(), must_mention) != NULL, "%s: message should mention '%s': '%s'", what, must_mention, pt_last_error());
    }
    s = take_snap(target);
    pt_clear_error();
    st = pt_model_load_into(target, path);
    CHECK(st < 0, "%s: pt_model_load_into returned %d", what, st);
    CHECK(pt_last_error()[0] != 0, "%s: pt_model_load_into gave no message", what);
    CHECK(strstr(pt_last_error(), path) != NULL, "%s: load_into message does not name the file: '%s'", what, pt_last_error());
    CHECK(snap_same(&s, target), "%s: pt_model_load_into changed the model on error", what);
    free_snap(&s);
}
/* child: pt_model_load / load_into of a directory. 0 = a clean PT_ERR_IO naming the path. */
static int child_load_dir(void *arg)
{
    pt_model *target = (pt_model *)arg, *l;
    snap s = take_snap(target);
    pt_clear_error();
    l = pt_model_load(g_dir);
    if (l != NULL) return 1;
    if (!strstr(pt_last_error(), g_dir)) return 2;
    if (pt_last_status() != PT_ERR_IO) return 3;
    pt_clear_error();
    if (pt_model_load_into(target, g_dir) >= 0 || !snap_same(&s, target)) return 4;
    return 0;
}
static void test_bad_checkpoints(pt_ctx *ctx)
{
    pt_config cfg = mkcfg(64, 1, 4, 2, 96, 272, 64, 0);
    pt_model *src = make_model_norms(cfg, 41, 0.05f), *target = make_model_norms(cfg, 42, 0.05f);
    const char *good = tmp_path("good.ckpt"), *other = tmp_path("other.ckpt");
    unsigned char *orig = NULL, *buf;
    size_t n = 0, hb;
    int k;
    char what[96];
    printf("5. bad checkpoints\n");
    if (!src || !target) { CHECK(0, "models"); return; }
    resume_step(src, ctx, 0); resume_step(target, ctx, 1); resume_step(target, ctx, 2);   /* nonzero AdamW state */
    if (pt_model_save(src, good, 1) != PT_OK || pt_read_file(good, &orig, &n) != PT_OK) { CHECK(0, "save/read: %s", pt_last_error()); return; }
    buf = (unsigned char *)malloc(n + 16);
    hb = get_u32(orig + 8);
    CHECK(memcmp(orig, "PTCK", 4) == 0 && get_u32(orig + 4) == 1 && hb > 68 && hb < n, "layout: magic/version/header_bytes %u", (unsigned)hb);
    CHECK(fnv1a(orig, n - 8) == ((uint64_t)get_u32(orig + n - 8) | (uint64_t)get_u32(orig + n - 4) << 32), "checksum is FNV-1a 64 LE of the preceding bytes");
    /* the unmodified file loads into target */
    {
        pt_model *t2 = make_model_norms(cfg, 43, 0.05f);
        pt_clear_error();
        CHECK(pt_model_load_into(t2, good) == PT_OK && models_equal(t2, src) && same_opt(t2, src), "good file: load_into failed or not bit-exact ('%s')", pt_last_error());
        pt_model_free(t2);
    }
    /* truncated at k/16 of the length */
    for (k = 0; k < 16; k++) {
        snprintf(what, sizeof what, "truncated at %d/16 (%zu bytes)", k, n * k / 16);
        expect_bad(what, orig, n * k / 16, target, NULL, 1);
    }
    expect_bad("truncated by one byte", orig, n - 1, target, NULL, 1);
    /* single flipped bytes */
    {
        size_t offs[] = {0, 3, 5, 9, 13, 21, 33, 53, 57, 61, 70, 0, 0, 0, 0, 0};
        int no = 11, j;
        offs[no++] = hb - 1; offs[no++] = hb + 7; offs[no++] = hb + (n - 8 - hb) / 2; offs[no++] = n - 9; offs[no++] = n - 3;
        for (j = 0; j < no; j++) {
            memcpy(buf, orig, n); buf[offs[j]] ^= 0xFF;
            snprintf(what, sizeof what, "byte %zu flipped", offs[j]);
            expect_bad(what, buf, n, target, NULL, 1);
        }
    }
    /* wrong magic (checksum fixed) */
    memcpy(buf, orig, n); buf[3] = 'X'; fix_checksum(buf, n);
    expect_bad("wrong magic", buf, n, target, NULL, 1);
    /* wrong version with a valid checksum */
    memcpy(buf, orig, n); put_u32(buf + 4, 2); fix_checksum(buf, n);
    expect_bad("version 2", buf, n, target, "version", 1);
    memcpy(buf, orig, n); put_u32(buf + 4, 0); fix_checksum(buf, n);
    expect_bad("version 0", buf, n, target, "version", 1);
    /* config fields with a valid checksum */
    {
        struct { size_t off; uint32_t val; const char *name, *mention; } pf[] = {
            {20, 7, "n_heads 7 (does not divide dim 64)", "n_heads"},
            {20, 0, "n_heads 0", "n_heads"},
            {24, 3, "n_kv_heads 3", "n_kv_heads"},
            {24, 0, "n_kv_heads 0", "n_kv_heads"},
            {32, 0, "vocab_size 0", "vocab_size"},
            {36, 0x7fffffffu, "seq_len 2^31-1", "seq_len"},
            {36, 0xffffffffu, "seq_len -1", "seq_len"},
            {12, 0, "dim 0", "dim"},
            {12, 65536, "dim 65536 (needs more data than the file has)", NULL},
            {16, 3, "n_layers 3", NULL},
            {28, 97, "hidden_dim 97 (shapes no longer match)", NULL},
            {40, 1, "untied 1 (tensor count no longer matches)", NULL},
            {40, 2, "untied 2", "untied"},
            {44, 0x7fc00000u, "norm_eps NaN", "norm_eps"},
            {48, 0xbf800000u, "rope_theta -1", "rope_theta"},
            {52, 0, "n_tensors 0", NULL},
            {56, 2, "has_optimizer 2", NULL},
            {56, 0, "has_optimizer 0 on a file with optimizer state", NULL},
            {8, 0, "header_bytes 0", NULL},
        };
        int j;
        for (j = 0; j < (int)(sizeof pf / sizeof pf[0]); j++) {
            memcpy(buf, orig, n); put_u32(buf + pf[j].off, pf[j].val); fix_checksum(buf, n);
            expect_bad(pf[j].name, buf, n, target, pf[j].mention, 1);
        }
        memcpy(buf, orig, n); put_u32(buf + 8, (uint32_t)hb + 4); fix_checksum(buf, n);
        expect_bad("header_bytes + 4", buf, n, target, NULL, 1);
        memcpy(buf, orig, n); put_u32(buf + 60, 0xffffffffu); put_u32(buf + 64, 0xffffffffu); fix_checksum(buf, n);
        expect_bad("step -1", buf, n, target, NULL, 1);
        memcpy(buf, orig, n); put_u32(buf + 52, get_u32(orig + 52) + 1); fix_checksum(buf, n);
        expect_bad("n_tensors + 1", buf, n, target, NULL, 1);
    }
    /* tensor table entries with a valid checksum: first tensor is tok_embeddings [272, 64] */
    {
        CHECK(orig[68] == 14 && orig[69] == 0 && memcmp(orig + 70, "tok_embeddings", 14) == 0 && orig[84] == 2, "tensor table layout");
        memcpy(buf, orig, n); buf[70] = 'X'; fix_checksum(buf, n);
        expect_bad("tensor name changed", buf, n, target, NULL, 1);
        memcpy(buf, orig, n); put_u32(buf + 85, 271); fix_checksum(buf, n);
        expect_bad("tensor shape changed", buf, n, target, NULL, 1);
        memcpy(buf, orig, n); buf[84] = 3; fix_checksum(buf, n);
        expect_bad("tensor ndim changed", buf, n, target, NULL, 1);
        memcpy(buf, orig, n); buf[68] = 200; fix_checksum(buf, n);
        expect_bad("tensor name length 200", buf, n, target, NULL, 1);
        memcpy(buf, orig, n); buf[93] = 2; fix_checksum(buf, n);
        expect_bad("trainable flag 2", buf, n, target, NULL, 1);
        /* data section 4 bytes too long / too short */
        memcpy(buf, orig, n - 8); memset(buf + n - 8, 0, 4); memcpy(buf + n - 4, orig + n - 8, 8); fix_checksum(buf, n + 4);
        expect_bad("4 extra data bytes", buf, n + 4, target, NULL, 1);
        memcpy(buf, orig, n - 12); memcpy(buf + n - 12, orig + n - 8, 8); fix_checksum(buf, n - 4);
        expect_bad("4 data bytes missing", buf, n - 4, target, NULL, 1);
    }
    /* a valid checkpoint of another config: pt_model_load is fine, load_into must refuse */
    {
        pt_model *o = make_model_norms(mkcfg(32, 1, 4, 2, 96, 272, 64, 0), 44, 0.05f), *l;
        pt_model_save(o, other, 0);
        l = pt_model_load(other);
        CHECK(l != NULL, "other config loads alone: %s", pt_last_error());
        pt_model_free(l);
        pt_model_free(o);
    }
    pt_free(orig); orig = NULL;
    if (pt_read_file(other, &orig, &n) == PT_OK) { free(buf); buf = (unsigned char *)malloc(n + 16); expect_bad("dim 32 checkpoint into a dim 64 model", orig, n, target, NULL, 0); }
    pt_free(orig); orig = NULL;
    /* the same file with only seq_len changed (valid) and an untied variant */
    if (pt_read_file(good, &orig, &n) == PT_OK) {
        pt_model *l;
        free(buf); buf = (unsigned char *)malloc(n + 16);
        memcpy(buf, orig, n); put_u32(buf + 36, 32); fix_checksum(buf, n);
        write_bytes(other, buf, n);
        l = pt_model_load(other);
        CHECK(l != NULL && l->cfg.seq_len == 32, "seq_len 32 variant is a valid checkpoint: %s", pt_last_error());
        pt_model_free(l);
        expect_bad("seq_len 32 checkpoint into a seq_len 64 model", buf, n, target, NULL, 0);
    }
    {
        pt_model *u = make_model_norms(mkcfg(64, 1, 4, 2, 96, 272, 64, 1), 45, 0.05f);
        unsigned char *ub = NULL; size_t un = 0;
        pt_model_save(u, other, 0);
        if (pt_read_file(other, &ub, &un) == PT_OK) expect_bad("untied checkpoint into a tied model", ub, un, target, NULL, 0);
        pt_free(ub); pt_model_free(u);
    }
    /* nonexistent path, a directory, and saving into a missing directory */
    {
        char missing[200], dirsave[200];
        snap s = take_snap(target);
        pt_model *l;
        snprintf(missing, sizeof missing, "%s/does_not_exist.ckpt", g_dir);
        pt_clear_error();
        l = pt_model_load(missing);
        CHECK(l == NULL && strstr(pt_last_error(), missing) != NULL, "nonexistent path: '%s'", pt_last_error());
        pt_model_free(l);
        pt_clear_error();
        CHECK(pt_model_load_into(target, missing) < 0 && strstr(pt_last_error(), missing) != NULL, "load_into nonexistent: '%s'", pt_last_error());
        {   /* a directory: run in a child, a huge allocation attempt aborts under ASan */
            int rc = run_in_child(child_load_dir, target);
            CHECK(rc == 0, "loading a directory (%s) should fail with PT_ERR_IO naming it; child %s %d%s", g_dir,
                  rc >= 1000 ? "died of signal" : "exited", rc >= 1000 ? rc - 1000 : rc,
                  rc == 3 ? " (wrong status: PT_ERR_NOMEM, pt_read_file tried to allocate ftell()+1 bytes)" : "");
        }
        CHECK(snap_same(&s, target), "failed loads changed the model");
        snprintf(dirsave, sizeof dirsave, "%s/no/such/dir.ckpt", g_dir);
        pt_clear_error();
        CHECK(pt_model_save(target, dirsave, 1) < 0 && strstr(pt_last_error(), "dir.ckpt") != NULL, "save into a missing directory: '%s'", pt_last_error());
        free_snap(&s);
    }
    pt_free(orig); free(buf);
    pt_model_free(src); pt_model_free(target);
}

/* ---------------------------------------------------------------------------------------------
   6. Input errors
   --------------------------------------------------------------------------------------------- */
static int child_null_batch(void *arg)
{
    pt_model *m = (pt_model *)arg;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_tensor *l;
    pt_clear_error();
    l = pt_model_loss(ctx, m, NULL);
    if (l != NULL || !pt_last_error()[0]) return 1;
    pt_clear_error();
    l = pt_model_logprobs(ctx, m, NULL, 1.0f);
    if (l != NULL || !pt_last_error()[0]) return 2;
    return 0;
}
static void test_errors(pt_ctx *ctx)
{
    pt_model *m = make_model_norms(mkcfg(32, 1, 4, 2, 48, 272, 16, 0), 51, 0.1f);
    int tokens[17], targets[17], pos[16], i, V;
    pt_batch b;
    pt_tensor *l;
    printf("6. input errors\n");
    if (!m) { CHECK(0, "model"); return; }
    V = m->cfg.vocab_size;
    for (i = 0; i < 17; i++) { tokens[i] = i * 7 % 256; targets[i] = (i * 5 + 1) % 256; }
    for (i = 0; i < 16; i++) pos[i] = i;
    memset(&b, 0, sizeof b); b.B = 1; b.T = 16; b.tokens = tokens; b.targets = targets;
    l = pt_model_loss(ctx, m, &b);
    CHECK(l != NULL && isfinite(l->data[0]), "valid batch: %s", pt_last_error());
    pt_ctx_reset(ctx);
#define EXPECT_LOSS_ERR(what) do { pt_clear_error(); l = pt_model_loss(ctx, m, &b); \
        CHECK(l == NULL && pt_last_error()[0] && pt_last_status() < 0, "%s: pt_model_loss should fail (got %p, '%s')", what, (void *)l, pt_last_error()); \
        pt_ctx_reset(ctx); } while (0)
    tokens[3] = V; EXPECT_LOSS_ERR("token == vocab");
    tokens[3] = V + 1000; EXPECT_LOSS_ERR("token > vocab");
    tokens[3] = -1; EXPECT_LOSS_ERR("token < 0");
    tokens[3] = 21;
    targets[5] = V; EXPECT_LOSS_ERR("target == vocab");
    targets[5] = -2; EXPECT_LOSS_ERR("target < 0");
    targets[5] = 6;
    b.T = 17; EXPECT_LOSS_ERR("T > seq_len");
    b.T = 0; EXPECT_LOSS_ERR("T == 0");
    b.T = 16; b.B = 0; EXPECT_LOSS_ERR("B == 0");
    b.B = 1; b.pos = pos; pos[4] = 16; EXPECT_LOSS_ERR("position >= seq_len");
    pos[4] = -1; EXPECT_LOSS_ERR("position < 0");
    pos[4] = 4; b.targets = NULL; EXPECT_LOSS_ERR("targets NULL");
    b.targets = targets; b.tokens = NULL; EXPECT_LOSS_ERR("tokens NULL");
    b.tokens = tokens;
#undef EXPECT_LOSS_ERR
    l = pt_model_loss(ctx, m, &b);
    CHECK(l != NULL, "the context still works after errors: %s", pt_last_error());
    pt_ctx_reset(ctx);
    /* bad configs */
    {
        pt_config bc[6];
        const char *why[6] = {"n_heads does not divide dim", "odd head size", "n_kv_heads does not divide n_heads", "vocab 0", "seq_len 0", "untied 2"};
        int k;
        for (k = 0; k < 6; k++) bc[k] = mkcfg(32, 1, 4, 2, 48, 272, 16, 0);
        bc[0].n_heads = 5; bc[1].n_heads = 32; bc[1].n_kv_heads = 32; bc[2].n_kv_heads = 3; bc[3].vocab_size = 0; bc[4].seq_len = 0; bc[5].untied = 2;
        for (k = 0; k < 6; k++) {
            pt_model *bm;
            pt_clear_error();
            bm = pt_model_new(&bc[k], 1);
            CHECK(bm == NULL && pt_last_error()[0], "pt_model_new accepted a bad config (%s)", why[k]);
            pt_model_free(bm);
        }
    }
    /* a NULL batch must be an error, not a crash (run in a child: a NULL dereference kills it) */
    {
        int rc = run_in_child(child_null_batch, m);
        CHECK(rc == 0, "pt_model_loss/pt_model_logprobs(ctx, m, NULL) should return NULL + error; child %s %d",
              rc >= 1000 ? "died of signal" : "exited", rc >= 1000 ? rc - 1000 : rc);
    }

    /* pt_model_step */
    {
        pt_kv_cache *kv = pt_kv_new(m, 2, 6), *kv_other;
        float *lg = (float *)malloc((size_t)4 * V * sizeof(float)), *ref = (float *)malloc((size_t)V * sizeof(float));
        float *ref_full;
        int seqs[4], toks[4], st, tk[6] = {5, 17, 99, 3, 250, 42};
        pt_model *m2;
        CHECK(pt_kv_new(m, 0, 6) == NULL && pt_last_error()[0], "pt_kv_new n_seqs 0");
        CHECK(pt_kv_new(m, 1, 17) == NULL && pt_last_error()[0], "pt_kv_new max_len > seq_len");
        ref_full = full_logits(m, ctx, tk, 1, 6, NULL, NULL);
        seqs[0] = 0; toks[0] = tk[0];
        pt_model_step(m, kv, 1, seqs, toks, lg);
#define EXPECT_STEP_ERR(what, n) do { int l0 = kv->len[0], l1 = kv->len[1]; pt_clear_error(); st = pt_model_step(m, kv, n, seqs, toks, lg); \
        CHECK(st < 0 && pt_last_error()[0], "%s: pt_model_step should fail (%d)", what, st); \
        CHECK(kv->len[0] == l0 && kv->len[1] == l1, "%s: kv->len changed on error (%d,%d -> %d,%d)", what, l0, l1, kv->len[0], kv->len[1]); } while (0)
        seqs[0] = 0; toks[0] = tk[1]; seqs[1] = 1; toks[1] = V; EXPECT_STEP_ERR("token == vocab in row 1", 2);
        toks[1] = -1; EXPECT_STEP_ERR("token < 0", 2);
        toks[1] = 7; seqs[1] = 2; EXPECT_STEP_ERR("sequence id == n_seqs", 2);
        seqs[1] = -1; EXPECT_STEP_ERR("sequence id < 0", 2);
        EXPECT_STEP_ERR("n_rows 0", 0);
        /* after the errors, decoding sequence 0 continues exactly where it was */
        seqs[0] = 0;
        for (i = 1; i < 6; i++) { toks[0] = tk[i]; if (pt_model_step(m, kv, 1, seqs, toks, lg + (int64_t)(i % 4) * V) != PT_OK) break; memcpy(ref, lg + (int64_t)(i % 4) * V, (size_t)V * sizeof(float)); if (ref_full) CHECK(rel_err(ref, ref_full + (int64_t)i * V, V) <= 1e-5, "decoding after rejected steps, pos %d: rel %g", i, rel_err(ref, ref_full + (int64_t)i * V, V)); }
        CHECK(kv->len[0] == 6, "len %d", kv->len[0]);
        toks[0] = 1; EXPECT_STEP_ERR("full cache", 1);
        /* two rows of a sequence with room for one */
        for (i = 0; i < 5; i++) { seqs[0] = 1; toks[0] = tk[i]; pt_model_step(m, kv, 1, seqs, toks, lg); }
        seqs[0] = seqs[1] = 1; toks[0] = toks[1] = 3; EXPECT_STEP_ERR("second row overflows the cache", 2);
        CHECK(pt_model_step(m, kv, 1, seqs, toks, lg) == PT_OK && kv->len[1] == 6, "last slot usable after the rejected call: %s", pt_last_error());
        /* a cache built for another model */
        m2 = make_model_norms(mkcfg(32, 2, 4, 2, 48, 272, 16, 0), 52, 0.1f);
        kv_other = pt_kv_new(m2, 2, 6);
        seqs[0] = 0; toks[0] = 1; pt_clear_error();
        CHECK(pt_model_step(m, kv_other, 1, seqs, toks, lg) < 0 && pt_last_error()[0], "cache of another model accepted");
        CHECK(kv_other->len[0] == 0, "other cache len changed");
        pt_kv_free(kv_other); pt_model_free(m2);
#undef EXPECT_STEP_ERR
        free(lg); free(ref); free(ref_full);
        pt_kv_free(kv);
    }
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   7. Determinism
   --------------------------------------------------------------------------------------------- */
static int gen_seq_equal(const pt_gen_result *a, int ia, const pt_gen_result *b, int ib, double *lp_diff, int *lp_bitwise)
{
    int t, n;
    const int *ta = a->tokens + (int64_t)ia * a->width, *tb = b->tokens + (int64_t)ib * b->width;
    if (a->total_len[ia] != b->total_len[ib] || a->prompt_len[ia] != b->prompt_len[ib]) return 0;
    n = a->total_len[ia];
    *lp_diff = 0; *lp_bitwise = 1;
    for (t = 0; t < n; t++) {
        float la = a->logprobs[(int64_t)ia * a->width + t], lb = b->logprobs[(int64_t)ib * b->width + t];
        if (ta[t] != tb[t]) return 0;
        if (a->mask[(int64_t)ia * a->width + t] != b->mask[(int64_t)ib * b->width + t]) return 0;
        if (fabs((double)la - lb) > *lp_diff) *lp_diff = fabs((double)la - lb);
        if (memcmp(&la, &lb, sizeof la) != 0) *lp_bitwise = 0;
    }
    return 1;
}
static void train3(pt_model *m, pt_ctx *ctx)
{
    enum { B = 6, T = 64 };
    static int tokens[B * T], targets[B * T];
    static float mask[B * T];
    int s;
    pt_batch b;
    pt_adamw_config opt;
    memset(&opt, 0, sizeof opt); opt.weight_decay = 0.05f;
    for (s = 0; s < 3; s++) {
        make_batch(50 + s, B, T, m->cfg.vocab_size, tokens, targets, mask);
        memset(&b, 0, sizeof b); b.B = B; b.T = T; b.tokens = tokens; b.targets = targets; b.loss_mask = mask;
        train_step(m, ctx, &b, &opt, 1e-3f, 1.0f);
    }
}
static void test_determinism(pt_ctx *ctx)
{
    pt_config cfg = mkcfg(128, 1, 8, 4, 256, 272, 64, 0);
    pt_model *a = pt_model_new(&cfg, 61), *b = pt_model_new(&cfg, 61), *c = pt_model_new(&cfg, 62);
    int threads0 = pt_get_threads();
    printf("7. determinism (threads available: %d)\n", threads0);
    if (!a || !b || !c) { CHECK(0, "models"); return; }
    CHECK(models_equal(a, b), "two models from the same seed differ");
    CHECK(!models_equal(a, c), "models from different seeds are identical");
    /* training: 1 thread vs 2 threads */
    pt_set_threads(1); train3(a, ctx);
    pt_set_threads(2); train3(b, ctx);
    CHECK(pt_get_threads() == 2 || !T_OPENMP, "pt_set_threads(2) -> %d", pt_get_threads());
    {
        int64_t j, ndiff = 0; double md = 0;
        for (j = 0; j < a->params->n_data; j++) if (memcmp(&a->params->data[j], &b->params->data[j], 4) != 0) { ndiff++; if (fabs((double)a->params->data[j] - b->params->data[j]) > md) md = fabs((double)a->params->data[j] - b->params->data[j]); }
        CHECK(ndiff == 0, "3 training steps with 1 vs 2 threads: %lld weights differ (max %g)", (long long)ndiff, md);
        CHECK(!models_equal(a, c), "training changed nothing?");
    }
    /* inference: logits and generation with 1 vs 2 threads */
    {
        int toks[6 * 64], i;
        float *l1, *l2;
        pt_rng rng;
        pt_rng_seed(&rng, 3);
        rand_tokens(toks, 6 * 64, 0, 271, &rng);
        pt_set_threads(1); l1 = full_logits(a, ctx, toks, 6, 64, NULL, NULL);
        pt_set_threads(2); l2 = full_logits(a, ctx, toks, 6, 64, NULL, NULL);
        CHECK(l1 && l2 && memcmp(l1, l2, (size_t)6 * 64 * 272 * sizeof(float)) == 0, "forward logits differ between 1 and 2 threads");
        free(l1); free(l2);
        {
            int p0[5] = {256, 10, 20, 30, 40}, p1[9] = {256, 1, 2, 3, 4, 5, 6, 7, 8};
            const int *prompts[2] = {p0, p1};
            int lens[2] = {5, 9};
            pt_gen_config g;
            pt_gen_result r1, r2;
            double d; int bw, ok = 1;
            memset(&g, 0, sizeof g); g.max_new_tokens = 24; g.sampler.temperature = 1.0f; g.seed = 5;
            pt_set_threads(1); pt_generate(a, prompts, lens, 2, 3, &g, &r1);
            pt_set_threads(2); pt_generate(a, prompts, lens, 2, 3, &g, &r2);
            for (i = 0; i < 6 && r1.tokens && r2.tokens; i++) ok &= gen_seq_equal(&r1, i, &r2, i, &d, &bw) && bw;
            CHECK(r1.tokens && r2.tokens && ok, "generation differs between 1 and 2 threads");
            pt_gen_result_free(&r1); pt_gen_result_free(&r2);
        }
    }
    pt_set_threads(threads0);
    pt_model_free(a); pt_model_free(b); pt_model_free(c);

    /* generation: same seed, batch independence, greedy = argmax */
    {
        pt_model *m = make_model_norms(mkcfg(64, 2, 8, 4, 96, 272, 64, 0), 63, 0.1f);
        int P[4] = {256, 72, 105, 33}, Q[7] = {256, 1, 2, 3, 4, 5, 6}, R[9] = {256, 9, 8, 7, 6, 5, 4, 3, 2};
        const int *three[3] = {P, Q, R}, *one[1] = {P};
        int lens3[3] = {4, 7, 9}, lens1[1] = {4}, i, t;
        pt_gen_config g;
        pt_gen_result r1, r2, rs, rg;
        double d; int bw;
        memset(&g, 0, sizeof g); g.max_new_tokens = 24; g.sampler.temperature = 1.0f; g.seed = 42;
        CHECK(pt_generate(m, one, lens1, 1, 1, &g, &r1) == PT_OK, "generate: %s", pt_last_error());
        CHECK(pt_generate(m, one, lens1, 1, 1, &g, &r2) == PT_OK, "generate: %s", pt_last_error());
        CHECK(gen_seq_equal(&r1, 0, &r2, 0, &d, &bw) && bw, "same seed gives different tokens/logprobs");
        pt_gen_result_free(&r2);
        g.seed = 43; pt_generate(m, one, lens1, 1, 1, &g, &r2); g.seed = 42;
        CHECK(!gen_seq_equal(&r1, 0, &r2, 0, &d, &bw), "a different seed gives the same 24 sampled tokens");
        pt_gen_result_free(&r2);
        /* P alone vs P in a batch of 3 prompts (the sampled stream of sequence 0 is the same) */
        CHECK(pt_generate(m, three, lens3, 3, 1, &g, &rs) == PT_OK, "generate 3: %s", pt_last_error());
        CHECK(rs.n_seqs == 3 && rs.width == 9 + 24, "n_seqs %d width %d", rs.n_seqs, rs.width);
        {
            int eq = gen_seq_equal(&r1, 0, &rs, 0, &d, &bw);
            CHECK(eq, "sequence 0's tokens depend on the other prompts in the batch");
            CHECK(!eq || d <= 1e-5, "sequence 0's logprobs depend on the batch beyond 1e-5: %g", d);
            printf("  batch independence: tokens identical, logprobs max diff %.3g (%s)\n", d, bw ? "bitwise equal" : "not bitwise equal");
        }
        pt_gen_result_free(&rs);
        /* repeat: P x2 + Q x2; sequence 0 is P's first copy */
        {
            const int *two[2] = {P, Q};
            int lens2[2] = {4, 7};
            CHECK(pt_generate(m, two, lens2, 2, 2, &g, &rs) == PT_OK, "generate repeat: %s", pt_last_error());
            CHECK(gen_seq_equal(&r1, 0, &rs, 0, &d, &bw) && d <= 1e-5, "sequence 0 (P, repeat 2) differs from P alone");
            CHECK(rs.prompt_len[1] == 4 && rs.prompt_len[2] == 7 && memcmp(rs.tokens + rs.width, P, 4 * sizeof(int)) == 0, "repeat layout: sequence i uses prompt i / repeat");
            CHECK(!gen_seq_equal(&rs, 0, &rs, 1, &d, &bw), "the two samples of one group are identical (RNG streams not per sequence?)");
            pt_gen_result_free(&rs);
        }
        pt_gen_result_free(&r1);
        /* 8 prompts of 45 tokens: the prefill (352 rows) spans several pt_model_step calls; every
           sequence must match generating its prompt alone */
        {
            static int pp[8][45];
            const int *pps[8];
            int lp[8], k, bad = 0;
            pt_rng rr;
            pt_gen_result big, alone;
            pt_rng_seed(&rr, 64);
            for (k = 0; k < 8; k++) { pp[k][0] = 256; rand_tokens(pp[k] + 1, 44, 0, 255, &rr); pps[k] = pp[k]; lp[k] = 45; }
            /* greedy: sequence k alone is index 0 and would draw from another RNG stream if sampled */
            memset(&g, 0, sizeof g); g.max_new_tokens = 12;
            CHECK(pt_generate(m, pps, lp, 8, 1, &g, &big) == PT_OK, "greedy 8x45: %s", pt_last_error());
            for (k = 0; k < 8 && big.tokens; k++) {
                double dd; int bb;
                if (pt_generate(m, pps + k, lp + k, 1, 1, &g, &alone) != PT_OK) { bad++; continue; }
                if (!gen_seq_equal(&big, k, &alone, 0, &dd, &bb) || dd > 1e-5) bad++;
                pt_gen_result_free(&alone);
            }
            CHECK(bad == 0, "greedy with a multi-call prefill: %d of 8 sequences differ from generating them alone", bad);
            pt_gen_result_free(&big);
            memset(&g, 0, sizeof g); g.max_new_tokens = 24; g.sampler.temperature = 1.0f; g.seed = 42;
        }
        /* greedy: 4 copies identical, and equal to argmax of the training forward step by step */
        memset(&g, 0, sizeof g); g.max_new_tokens = 20;
        {
            CHECK(pt_generate(m, one, lens1, 1, 4, &g, &rg) == PT_OK, "greedy: %s", pt_last_error());
            for (i = 1; i < 4; i++) CHECK(gen_seq_equal(&rg, 0, &rg, i, &d, &bw) && bw, "greedy copy %d differs", i);
            {
                int n = rg.total_len[0], skipped = 0, bad = 0;
                double lpd = 0;
                float *lg = full_logits(m, ctx, rg.tokens, 1, n, NULL, NULL);
                CHECK(n == 4 + 20, "greedy total_len %d", n);
                for (t = 4; t < n && lg; t++) {
                    const float *row = lg + (int64_t)(t - 1) * 272;
                    int am = 0, k2 = -1, j;
                    double mx, lse = 0;
                    for (j = 1; j < 272; j++) if (row[j] > row[am]) am = j;
                    for (j = 0; j < 272; j++) if (j != am && (k2 < 0 || row[j] > row[k2])) k2 = j;
                    mx = row[am];
                    for (j = 0; j < 272; j++) lse += exp((double)row[j] - mx);
                    lse = mx + log(lse);
                    if (fabs((double)row[am] - row[k2]) < 1e-4 * (1 + fabs(mx))) { skipped++; continue; }
                    if (rg.tokens[t] != am) bad++;
                    if (fabs(rg.logprobs[t] - ((double)row[am] - lse)) > lpd) lpd = fabs(rg.logprobs[t] - ((double)row[am] - lse));
                }
                CHECK(lg && bad == 0, "greedy tokens differ from argmax of pt_model_logits at %d positions", bad);
                CHECK(lpd < 1e-4, "greedy logprobs vs log softmax of the training forward: max diff %g", lpd);
                CHECK(skipped < 3, "too many near-ties (%d)", skipped);
                free(lg);
            }
            pt_gen_result_free(&rg);
        }
        pt_model_free(m);
    }
}

/* ---------------------------------------------------------------------------------------------
   8. Sampling
   --------------------------------------------------------------------------------------------- */
static void softmax_d(const float *z, int V, double T, double *p)
{
    double mx = -1e300, s = 0;
    int i;
    for (i = 0; i < V; i++) if (z[i] / T > mx) mx = z[i] / T;
    for (i = 0; i < V; i++) { p[i] = exp(z[i] / T - mx); s += p[i]; }
    for (i = 0; i < V; i++) p[i] /= s;
}
static void test_sampling(void)
{
    enum { V = 8, N = 20000 };
    const float z[V] = {1.0f, 2.5f, 0.3f, -1.0f, 2.0f, 0.0f, 1.7f, -0.5f};
    double p[V], pt[V], freq[V];
    pt_sampler s;
    pt_rng rng;
    float lp;
    int i, tok, bad, cnt[V];
    printf("8. sampling\n");
    softmax_d(z, V, 1.0, p);
    pt_rng_seed(&rng, 1);
    /* greedy */
    memset(&s, 0, sizeof s);
    tok = pt_sample(z, V, &s, &rng, &lp);
    CHECK(tok == 1, "greedy returned %d, argmax is 1", tok);
    CHECK_NEAR(lp, log(p[1]), 1e-5, "greedy logprob = log softmax max");
    tok = pt_sample(z, V, NULL, &rng, &lp);
    CHECK(tok == 1 && fabs(lp - log(p[1])) < 1e-5, "NULL sampler = greedy (%d, %g)", tok, lp);
    {
        const float tie[5] = {0.5f, 3.0f, -2.0f, 3.0f, 1.0f};
        pt_sampler k1; memset(&k1, 0, sizeof k1); k1.temperature = 1.0f; k1.top_k = 1;
        CHECK(pt_sample(tie, 5, &s, &rng, NULL) == 1, "greedy on a tie takes the lowest id");
        CHECK(pt_sample(tie, 5, &k1, &rng, NULL) == 1, "top_k 1 on a tie takes the lowest id (same as greedy)");
    }
    /* top_k 1 and tiny top_p: always the argmax, log-prob 0 */
    for (i = 0, bad = 0; i < 2000; i++) {
        memset(&s, 0, sizeof s); s.temperature = 1.0f;
        if (i & 1) s.top_k = 1; else s.top_p = 0.01f;
        tok = pt_sample(z, V, &s, &rng, &lp);
        if (tok != 1 || lp != 0.0f) bad++;
    }
    CHECK(bad == 0, "top_k=1 / top_p=0.01: %d draws were not (argmax, logprob 0)", bad);
    /* temperature 1, no truncation: frequencies match softmax */
    memset(&s, 0, sizeof s); s.temperature = 1.0f;
    memset(cnt, 0, sizeof cnt); bad = 0;
    for (i = 0; i < N; i++) {
        tok = pt_sample(z, V, &s, &rng, &lp);
        if (tok < 0 || tok >= V) { bad++; continue; }
        cnt[tok]++;
        if (fabs(lp - log(p[tok])) > 1e-5) bad++;
    }
    CHECK(bad == 0, "T=1: %d draws with a wrong token or logprob", bad);
    for (i = 0; i < V; i++) { freq[i] = (double)cnt[i] / N; CHECK(fabs(freq[i] - p[i]) < 0.01, "T=1: token %d frequency %.4f vs softmax %.4f", i, freq[i], p[i]); }
    /* temperature 0.5 */
    softmax_d(z, V, 0.5, pt);
    s.temperature = 0.5f; memset(cnt, 0, sizeof cnt); bad = 0;
    for (i = 0; i < N; i++) { tok = pt_sample(z, V, &s, &rng, &lp); cnt[tok]++; if (fabs(lp - log(pt[tok])) > 1e-5) bad++; }
    CHECK(bad == 0, "T=0.5: %d wrong logprobs", bad);
    for (i = 0; i < V; i++) CHECK(fabs((double)cnt[i] / N - pt[i]) < 0.01, "T=0.5: token %d frequency %.4f vs %.4f", i, (double)cnt[i] / N, pt[i]);
    /* a vocabulary of 103 (the sampler sums in blocks of 16: six whole blocks and a tail of 7) with
       -inf logits (probability 0: never drawn) in the first, a middle and the tail block */
    {
        enum { VB = 103, NB = 60000 };
        float zb[VB];
        double pb[VB], chi = 0;
        int cb[VB], j, zero_hits = 0;
        pt_rng zr;
        pt_rng_seed(&zr, 77);
        for (j = 0; j < VB; j++) zb[j] = 3.0f * pt_rng_uniform(&zr) - 1.5f;
        zb[0] = zb[40] = zb[101] = -INFINITY;
        zb[102] = 2.0f;
        softmax_d(zb, VB, 0.8, pb);
        memset(&s, 0, sizeof s); s.temperature = 0.8f;
        memset(cb, 0, sizeof cb); bad = 0;
        for (i = 0; i < NB; i++) {
            tok = pt_sample(zb, VB, &s, &rng, &lp);
            if (tok < 0 || tok >= VB) { bad++; continue; }
            cb[tok]++;
            if (pb[tok] == 0) zero_hits++;
            else if (fabs(lp - log(pb[tok])) > 1e-5) bad++;
        }
        for (j = 0; j < VB; j++) if (pb[j] > 0) chi += (cb[j] - NB * pb[j]) * (cb[j] - NB * pb[j]) / (NB * pb[j]);
        CHECK(bad == 0 && zero_hits == 0, "V=103, T=0.8: %d bad draws or logprobs, %d draws of a -inf logit", bad, zero_hits);
        /* 99 degrees of freedom: mean 99, sd 14; 160 is beyond 4 sd */
        CHECK(chi < 160, "V=103, T=0.8: frequencies vs softmax chi-square %.1f (99 dof)", chi);
        printf("  V=103 T=0.8: chi-square %.1f on 99 dof\n", chi);
    }
    /* top_k 2: tokens 1 and 4 only, logprob log(p_i / (p_1 + p_4)) */
    memset(&s, 0, sizeof s); s.temperature = 1.0f; s.top_k = 2;
    memset(cnt, 0, sizeof cnt); bad = 0;
    for (i = 0; i < N; i++) {
        tok = pt_sample(z, V, &s, &rng, &lp);
        cnt[tok]++;
        if (tok != 1 && tok != 4) bad++;
        else if (fabs(lp - log(p[tok] / (p[1] + p[4]))) > 1e-5) bad++;
    }
    CHECK(bad == 0, "top_k=2: %d draws outside the top 2 or with a wrong logprob", bad);
    CHECK(fabs((double)cnt[1] / N - p[1] / (p[1] + p[4])) < 0.01, "top_k=2 frequency %.4f vs %.4f", (double)cnt[1] / N, p[1] / (p[1] + p[4]));
    /* top_p 0.6: sorted probabilities 1 (.41), 4 (.25), ... -> nucleus {1, 4} */
    CHECK(p[1] < 0.6 && p[1] + p[4] >= 0.6, "test setup: nucleus is {1,4}");
    memset(&s, 0, sizeof s); s.temperature = 1.0f; s.top_p = 0.6f;
    memset(cnt, 0, sizeof cnt); bad = 0;
    for (i = 0; i < 5000; i++) {
        tok = pt_sample(z, V, &s, &rng, &lp);
        if (tok != 1 && tok != 4) bad++;
        else if (fabs(lp - log(p[tok] / (p[1] + p[4]))) > 1e-5) bad++;
    }
    CHECK(bad == 0, "top_p=0.6: %d draws outside the nucleus {1,4} or with a wrong logprob", bad);
    /* same RNG state -> same draw */
    {
        pt_rng r1, r2; float l1, l2;
        pt_rng_seed(&r1, 9); pt_rng_seed(&r2, 9);
        memset(&s, 0, sizeof s); s.temperature = 1.0f;
        for (i = 0, bad = 0; i < 100; i++) if (pt_sample(z, V, &s, &r1, &l1) != pt_sample(z, V, &s, &r2, &l2) || l1 != l2) bad++;
        CHECK(bad == 0, "pt_sample is not a function of the RNG state");
    }
    CHECK(pt_sample(z, 0, &s, &rng, &lp) < 0, "V = 0 should be an error");
    /* tiny temperatures: the argmax, no NaN (1e-38 would overflow z / T; 1e-45 overflows 1 / T) */
    {
        static const float temps[3] = {1e-30f, 1e-38f, 1e-45f};
        for (i = 0; i < 3; i++) {
            memset(&s, 0, sizeof s); s.temperature = temps[i];
            tok = pt_sample(z, V, &s, &rng, &lp);
            /* 1e-45 acts as greedy, whose log-prob is log softmax(z) at the argmax (documented) */
            CHECK(tok == 1 && fabs(lp - (i < 2 ? 0.0 : log(p[1]))) < 1e-5, "T=%g: token %d logprob %g (expected the argmax 1, %g)",
                  (double)temps[i], tok, (double)lp, i < 2 ? 0.0 : log(p[1]));
        }
    }
    /* NaN or +inf logits, or every logit -inf: an error naming the id, for greedy and sampled draws */
    {
        float zz[V];
        int kase;
        for (kase = 0; kase < 6; kase++) {
            memcpy(zz, z, sizeof zz);
            if (kase / 2 == 0) zz[5] = NAN;
            else if (kase / 2 == 1) zz[5] = INFINITY;
            else for (i = 0; i < V; i++) zz[i] = -INFINITY;
            memset(&s, 0, sizeof s); s.temperature = kase % 2 ? 1.0f : 0.0f;
            pt_clear_error();
            tok = pt_sample(zz, V, &s, &rng, &lp);
            CHECK(tok == PT_ERR_NONFINITE && strstr(pt_last_error(), kase < 4 ? "logit 5" : "every logit") != NULL,
                  "bad logits case %d (T=%g): returned %d '%s'", kase, (double)s.temperature, tok, pt_last_error());
        }
    }
}

/* ---------------------------------------------------------------------------------------------
   9. Generation
   --------------------------------------------------------------------------------------------- */
static void check_gen_invariants(const char *what, const pt_gen_result *r, int stop, int max_new)
{
    int i, t, bad = 0;
    for (i = 0; i < r->n_seqs; i++) {
        int pl = r->prompt_len[i], tl = r->total_len[i];
        const int *tk = r->tokens + (int64_t)i * r->width;
        const float *mk = r->mask + (int64_t)i * r->width, *lp = r->logprobs + (int64_t)i * r->width;
        int stopped_at = -1;
        for (t = pl; t < tl; t++) if (stop > 0 && tk[t] == stop) { stopped_at = t; break; }
        if (tl < pl + 1 || tl > pl + max_new || tl > r->width) { bad++; printf("  %s seq %d: total_len %d prompt %d\n", what, i, tl, pl); continue; }
        if (stopped_at >= 0 && stopped_at != tl - 1) { bad++; printf("  %s seq %d: went on after the stop token at %d (total %d)\n", what, i, stopped_at, tl); }
        if (stopped_at < 0 && tl != pl + max_new) { bad++; printf("  %s seq %d: stopped early at %d without a stop token\n", what, i, tl); }
        for (t = 0; t < r->width; t++) {
            int gen = t >= pl && t < tl;
            if (mk[t] != (gen ? 1.0f : 0.0f)) { bad++; printf("  %s seq %d: mask[%d] = %g\n", what, i, t, mk[t]); break; }
            if (!gen && lp[t] != 0.0f) { bad++; printf("  %s seq %d: logprob %g where mask 0 (t %d)\n", what, i, lp[t], t); break; }
            if (gen && !(lp[t] <= 0.0f && isfinite(lp[t]))) { bad++; printf("  %s seq %d: logprob %g at %d\n", what, i, lp[t], t); break; }
            if (t >= tl && tk[t] != 0) { bad++; printf("  %s seq %d: token %d after the end\n", what, i, tk[t]); break; }
        }
    }
    CHECK(bad == 0, "%s: %d generation invariant violations", what, bad);
}
static void test_generation(void)
{
    pt_model *m = make_model_norms(mkcfg(64, 2, 8, 4, 96, 272, 64, 0), 71, 0.1f);
    int P[6] = {256, 81, 58, 32, 49, 61}, Q[3] = {256, 7, 200};
    const int *prompts[2] = {P, Q};
    int lens[2] = {6, 3}, k, stop = -1, i;
    pt_gen_config g;
    pt_gen_result r0, r1;
    printf("9. generation\n");
    if (!m) { CHECK(0, "model"); return; }
    memset(&g, 0, sizeof g); g.max_new_tokens = 16;
    {   /* a NaN in the classifier: every logit NaN, an error that names the sequence, nothing returned */
        float saved = m->output->data[5];
        int st;
        m->output->data[5] = NAN;
        memset(&r0, 0x5A, sizeof r0);
        g.sampler.temperature = 1.0f;
        st = pt_generate(m, prompts, lens, 2, 1, &g, &r0);
        CHECK(st == PT_ERR_NONFINITE && strstr(pt_last_error(), "sequence 0") != NULL && r0.tokens == NULL,
              "NaN weights: generate returned %d '%s'", st, pt_last_error());
        m->output->data[5] = saved;
        g.sampler.temperature = 0.0f;
    }
    CHECK(pt_generate(m, prompts, lens, 1, 1, &g, &r0) == PT_OK, "greedy: %s", pt_last_error());
    if (!r0.tokens) return;
    check_gen_invariants("greedy, no stop", &r0, 0, 16);
    CHECK(r0.total_len[0] == 6 + 16 && r0.width == 6 + 16, "no stop: total_len %d", r0.total_len[0]);
    /* stop token: the first generated token (index >= 2 if possible) that did not occur before */
    for (k = 2; k < 16 && stop < 0; k++) {
        int tkk = r0.tokens[6 + k], j, seen = 0;
        for (j = 0; j < k; j++) seen |= r0.tokens[6 + j] == tkk;
        if (!seen && tkk != 0) { stop = tkk; break; }
    }
    if (stop < 0) { k = 0; stop = r0.tokens[6]; }
    if (stop == 0) { printf("  (greedy output starts with byte 0; stop test skipped)\n"); }
    else {
        g.stop_tokens[0] = stop; g.n_stop_tokens = 1;
        CHECK(pt_generate(m, prompts, lens, 1, 1, &g, &r1) == PT_OK, "greedy with stop: %s", pt_last_error());
        if (r1.tokens) {
            CHECK(r1.total_len[0] == 6 + k + 1, "stop at generated index %d: total_len %d, expected %d", k, r1.total_len[0], 6 + k + 1);
            CHECK(memcmp(r1.tokens, r0.tokens, (size_t)(6 + k + 1) * sizeof(int)) == 0, "tokens before the stop differ from the unstopped run");
            CHECK(r1.tokens[r1.total_len[0] - 1] == stop && r1.mask[r1.total_len[0] - 1] == 1.0f, "the stop token is kept with mask 1");
            check_gen_invariants("greedy with stop", &r1, stop, 16);
            pt_gen_result_free(&r1);
        }
    }
    pt_gen_result_free(&r0);
    /* sampling with two prompts of different lengths, repeated, with a stop token that is likely */
    memset(&g, 0, sizeof g); g.max_new_tokens = 20; g.sampler.temperature = 1.0f; g.sampler.top_k = 4; g.seed = 3;
    g.stop_tokens[0] = stop > 0 ? stop : 257; g.n_stop_tokens = 1;
    CHECK(pt_generate(m, prompts, lens, 2, 4, &g, &r1) == PT_OK, "sampling: %s", pt_last_error());
    if (r1.tokens) {
        int stopped = 0;
        CHECK(r1.n_seqs == 8 && r1.width == 6 + 20, "n_seqs %d width %d", r1.n_seqs, r1.width);
        for (i = 0; i < 8; i++) {
            CHECK(r1.prompt_len[i] == lens[i / 4] && memcmp(r1.tokens + (int64_t)i * r1.width, prompts[i / 4], (size_t)lens[i / 4] * sizeof(int)) == 0, "seq %d prompt", i);
            stopped += r1.total_len[i] < r1.prompt_len[i] + 20;
        }
        check_gen_invariants("sampled, stop token", &r1, g.stop_tokens[0], 20);
        printf("  sampled: %d of 8 sequences stopped early\n", stopped);
        pt_gen_result_free(&r1);
    }
    /* errors */
    memset(&g, 0, sizeof g); g.max_new_tokens = 64 - 6 + 1;
    pt_clear_error();
    CHECK(pt_generate(m, prompts, lens, 1, 1, &g, &r1) < 0 && pt_last_error()[0] && r1.tokens == NULL, "prompt + max_new > seq_len accepted");
    g.max_new_tokens = 64 - 6;
    CHECK(pt_generate(m, prompts, lens, 1, 1, &g, &r1) == PT_OK && r1.total_len[0] == 64, "prompt + max_new == seq_len: %s", pt_last_error());
    pt_gen_result_free(&r1);
    g.max_new_tokens = 8;
    {
        int bad1[3] = {256, 272, 5}, bad2[3] = {256, -1, 5};
        const int *pb1[1] = {bad1}, *pb2[1] = {bad2};
        int l3[1] = {3}, l0[1] = {0};
        pt_clear_error();
        CHECK(pt_generate(m, pb1, l3, 1, 1, &g, &r1) < 0 && pt_last_error()[0], "prompt token == vocab accepted");
        pt_clear_error();
        CHECK(pt_generate(m, pb2, l3, 1, 1, &g, &r1) < 0 && pt_last_error()[0], "prompt token -1 accepted");
        CHECK(pt_generate(m, pb1, l0, 1, 1, &g, &r1) < 0, "empty prompt accepted");
        CHECK(pt_generate(m, prompts, lens, 0, 1, &g, &r1) < 0, "n_prompts 0 accepted");
        CHECK(pt_generate(m, prompts, lens, 1, 0, &g, &r1) < 0, "repeat 0 accepted");
    }
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   10. Byte tokenizer
   --------------------------------------------------------------------------------------------- */
static void test_tokenizer(void)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    static const char *markers[] = {"<bos>", "<eos>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
                                    "<think>", "</think>", "<answer>", "</answer>", "<reserved0>", "<reserved4>"};
    char s[4096], out[4096];
    int ids[4096], n, i, len = 0, r, bad = 0;
    pt_rng rng;
    printf("10. byte tokenizer\n");
    CHECK(tok.vocab_size == 272 && tok.bos_id == PT_BYTE_BOS && tok.eos_id == PT_BYTE_EOS && tok.pad_id == PT_BYTE_PAD, "tokenizer ids");
    n = tok.encode(&tok, "<think>", 0, 0, ids, 16);
    CHECK(n == 1 && ids[0] == PT_BYTE_THINK, "<think> -> %d tokens, first %d", n, ids[0]);
    for (i = 0; i < 11; i++) {
        n = tok.encode(&tok, markers[i], 0, 0, ids, 16);
        CHECK(n == 1 && ids[0] == 256 + i, "marker %s -> n %d id %d", markers[i], n, ids[0]);
    }
    n = tok.encode(&tok, "<thin", 0, 0, ids, 16);
    CHECK(n == 5 && ids[0] == '<', "a partial marker is plain bytes");
    /* all bytes 1..255 and every marker, shuffled with random bytes, round trip */
    pt_rng_seed(&rng, 10);
    for (i = 1; i < 256; i++) s[len++] = (char)i;
    for (r = 0; r < 40; r++) {
        if (pt_rng_int(&rng, 0, 1)) { const char *mk = markers[pt_rng_int(&rng, 0, 12)]; memcpy(s + len, mk, strlen(mk)); len += (int)strlen(mk); }
        else { int b = pt_rng_int(&rng, 1, 5), j; for (j = 0; j < b; j++) s[len++] = (char)pt_rng_int(&rng, 1, 255); }
        if (r % 7 == 0) s[len++] = '<';
    }
    s[len] = 0;
    n = tok.encode(&tok, s, 0, 0, ids, 4096);
    CHECK(n > 0 && n < len, "encode: %d ids for %d bytes (markers should merge)", n, len);
    for (i = 0; i < n; i++) if (ids[i] < 0 || ids[i] >= 272) bad++;
    CHECK(bad == 0, "ids out of range");
    r = pt_decode(&tok, ids, n, out, sizeof out);
    CHECK(r == len && strcmp(out, s) == 0, "decode(encode(s)) != s (len %d vs %d)", r, len);
    /* many random strings */
    for (r = 0, bad = 0; r < 200; r++) {
        int L = pt_rng_int(&rng, 0, 60), j;
        for (j = 0; j < L; j++) {
            if (pt_rng_int(&rng, 0, 9) == 0) { const char *mk = markers[pt_rng_int(&rng, 0, 12)]; int ml = (int)strlen(mk); memcpy(s + j, mk, (size_t)ml); j += ml - 1; if (j >= L) L = j + 1; }
            else s[j] = (char)(pt_rng_int(&rng, 0, 2) ? pt_rng_int(&rng, 1, 255) : "<>/|a"[pt_rng_int(&rng, 0, 4)]);
        }
        s[L] = 0;
        n = tok.encode(&tok, s, 0, 0, ids, 4096);
        if (n < 0 || pt_decode(&tok, ids, n, out, sizeof out) != (int)strlen(s) || strcmp(out, s) != 0) bad++;
    }
    CHECK(bad == 0, "%d of 200 random strings did not round trip", bad);
    /* bos / eos */
    n = tok.encode(&tok, "ab", 1, 1, ids, 16);
    CHECK(n == 4 && ids[0] == PT_BYTE_BOS && ids[1] == 'a' && ids[2] == 'b' && ids[3] == PT_BYTE_EOS, "add_bos/add_eos");
    n = tok.encode(&tok, "", 1, 0, ids, 16);
    CHECK(n == 1 && ids[0] == PT_BYTE_BOS, "empty + bos");
    n = tok.encode(&tok, "", 0, 0, ids, 16);
    CHECK(n == 0, "empty string -> %d", n);
    /* overflow */
    pt_clear_error();
    CHECK(tok.encode(&tok, "abcdef", 0, 0, ids, 5) < 0 && pt_last_error()[0], "overflow of max_ids");
    CHECK(tok.encode(&tok, "abcdef", 0, 0, ids, 6) == 6, "exact fit");
    CHECK(tok.encode(&tok, "abcdef", 1, 0, ids, 6) < 0, "bos makes it overflow");
    CHECK(tok.encode(&tok, "abcdef", 0, 1, ids, 6) < 0, "eos makes it overflow");
    CHECK(tok.encode(&tok, "x", 1, 1, ids, 0) < 0, "max_ids 0");
    CHECK(tok.encode(&tok, NULL, 0, 0, ids, 6) < 0, "NULL text");
    /* decode truncation: returns the full length, writes cap-1 bytes + NUL */
    n = tok.encode(&tok, "<think>12</think>", 0, 0, ids, 16);
    memset(out, 'Z', 32);
    r = pt_decode(&tok, ids, n, out, 6);
    CHECK(r == 17 && strcmp(out, "<thin") == 0 && out[6] == 'Z', "truncated decode: %d '%s'", r, out);
    CHECK(pt_decode(&tok, ids, n, NULL, 0) == 17, "decode length only");
}

/* ---------------------------------------------------------------------------------------------
   11. The arithmetic world
   --------------------------------------------------------------------------------------------- */
static int ndig(long long v) { int n = 1; while (v >= 10) { v /= 10; n++; } return n; }
static int score_perfect(const pt_problem *p, const char *text, pt_world_score *sc)
{
    pt_world_score_text(p, text, sc);
    return sc->format_ok == 1 && sc->correct == 1 && sc->steps_ok == sc->n_steps && sc->n_steps == ndig(p->terms[0]) && sc->first_bad_step == -1;
}
/* child: render problems with many digits / terms and check the reference solutions */
static int child_world_big(void *arg)
{
    int terms = *(int *)arg, digits, split, i;
    for (digits = 1; digits <= 15; digits++)
        for (split = 0; split < 2; split++) {
            pt_world_config c;
            memset(&c, 0, sizeof c);
            c.min_digits = c.max_digits = digits; c.terms = terms;
            for (i = 0; i < 5; i++) {
                pt_problem p;
                pt_world_score sc;
                size_t ql;
                pt_world_problem(&c, split ? PT_WORLD_OOD : PT_WORLD_TRAIN, 7, i, &p);
                ql = strnlen(p.question, sizeof p.question);
                if (ql >= sizeof p.question || ql < 3 || strcmp(p.question + ql - 3, "=?\n") != 0 || !score_perfect(&p, p.solution, &sc))
                    return 1 + (digits - 1) * 2 + split;
            }
        }
    return 0;
}
/* child: render every accepted (terms, digits, split) into a heap block with a canary after the
   struct; returns 1 + an index of the first configuration that wrote past pt_problem */
static int child_world_canary(void *arg)
{
    int terms, digits, split, i;
    unsigned char *blk = (unsigned char *)malloc(sizeof(pt_problem) + 4096);
    (void)arg;
    for (terms = 2; terms <= 8; terms++)
        for (digits = 1; digits <= 15; digits++)
            for (split = 0; split < 2; split++) {
                pt_world_config c;
                memset(&c, 0, sizeof c);
                c.min_digits = c.max_digits = digits; c.terms = terms;
                memset(blk, 0xAB, sizeof(pt_problem) + 4096);
                pt_world_problem(&c, split ? PT_WORLD_OOD : PT_WORLD_TRAIN, 7, 0, (pt_problem *)blk);
                for (i = 0; i < 4096; i++)
                    if (blk[sizeof(pt_problem) + i] != 0xAB) return 1 + (terms - 2) * 30 + (digits - 1) * 2 + split;
            }
    free(blk);
    return 0;
}
/* parse "Q: a+b+c=?\n" into a problem (so the corpus is checked without assuming its indexing) */
static int parse_question(const char *q, pt_problem *p)
{
    const char *s = q;
    memset(p, 0, sizeof *p);
    if (strncmp(s, "Q: ", 3) != 0) return 0;
    s += 3;
    for (;;) {
        long long v = 0; int nd = 0;
        while (*s >= '0' && *s <= '9') { v = v * 10 + (*s - '0'); s++; nd++; }
        if (!nd || p->n_terms == 8) return 0;
        p->terms[p->n_terms++] = v; p->answer += v;
        if (*s == '+') { s++; continue; }
        break;
    }
    return strncmp(s, "=?\n", 3) == 0 ? (int)(s + 3 - q) : 0;
}
/* returns (docs, docs scored perfect); checks structure */
static void score_corpus(const pt_world_config *c, uint64_t seed, int n_docs, int *docs, int *perfect, int *malformed)
{
    int64_t cap = (int64_t)n_docs * 200, n, i, start = 0;
    int *ids = (int *)malloc((size_t)cap * sizeof(int));
    pt_tokenizer tok = pt_byte_tokenizer();
    char text[1024];
    *docs = *perfect = *malformed = 0;
    n = pt_world_corpus(c, seed, n_docs, ids, cap);
    for (i = 0; i < n; i++) {
        if (ids[i] != PT_BYTE_EOS) continue;
        {
            int64_t a = start;
            pt_problem p;
            pt_world_score sc;
            int qlen;
            if (ids[a] == PT_BYTE_BOS) a++;
            pt_decode(&tok, ids + a, (int)(i - a), text, sizeof text);
            (*docs)++;
            qlen = parse_question(text, &p);
            if (!qlen || text[strlen(text) - 1] != '\n') (*malformed)++;
            else if (score_perfect(&p, text + qlen, &sc)) (*perfect)++;
        }
        start = i + 1;
    }
    if (start != n) (*malformed)++;   /* a trailing partial document */
    free(ids);
}
static void test_world(void)
{
    pt_world_config c;
    pt_problem p, q;
    pt_world_score sc;
    int i, bad, ok;
    printf("11. arithmetic world\n");
    memset(&c, 0, sizeof c);
    /* deterministic */
    for (i = 0, bad = 0; i < 50; i++) {
        pt_world_problem(&c, PT_WORLD_TRAIN, 5, i, &p); pt_world_problem(&c, PT_WORLD_TRAIN, 5, i, &q);
        bad += memcmp(&p, &q, sizeof p) != 0;
    }
    CHECK(bad == 0, "pt_world_problem is not deterministic");
    /* the example from the header */
    memset(&p, 0, sizeof p); p.n_terms = 2; p.terms[0] = 47; p.terms[1] = 85; p.answer = 132;
    ok = score_perfect(&p, "A: <think>7+5=12;4+8+1=13</think><answer>132</answer>", &sc);
    CHECK(ok && sc.n_steps == 2, "the documented example scores perfectly (fmt %d corr %d steps %d/%d)", sc.format_ok, sc.correct, sc.steps_ok, sc.n_steps);
    ok = score_perfect(&p, "<think>7+5=12;4+8+1=13</think><answer>132</answer>", &sc);
    CHECK(ok, "a completion without the 'A: ' prefix (prompt ended with it) scores perfectly");
    /* ID split: same for any seed, differs from TRAIN; TRAIN depends on the seed */
    {
        int diff_train = 0, diff_seed = 0, diff_ood = 0;
        for (i = 0, bad = 0; i < 100; i++) {
            pt_problem t, o;
            pt_world_problem(&c, PT_WORLD_ID, 1, i, &p); pt_world_problem(&c, PT_WORLD_ID, 123456789, i, &q);
            bad += memcmp(&p, &q, sizeof p) != 0;
            pt_world_problem(&c, PT_WORLD_TRAIN, 1, i, &t);
            diff_train += memcmp(&p, &t, sizeof p) != 0;
            pt_world_problem(&c, PT_WORLD_TRAIN, 2, i, &o);
            diff_seed += memcmp(&t, &o, sizeof t) != 0;
            pt_world_problem(&c, PT_WORLD_OOD, 1, i, &o);
            diff_ood += memcmp(&p, &o, sizeof p) != 0;
        }
        CHECK(bad == 0, "ID split depends on the caller's seed (%d of 100)", bad);
        CHECK(diff_train >= 90, "ID and TRAIN problems coincide too often (%d of 100 differ)", diff_train);
        CHECK(diff_seed >= 90, "TRAIN problems do not depend on the seed (%d of 100 differ)", diff_seed);
        CHECK(diff_ood == 100, "OOD equals ID");
    }
    /* digits: ID in [min, max], OOD = max + 1; reference solutions are perfect everywhere */
    {
        pt_world_config cfgs[4];
        int k, split, cols_ok = 1, dig_ok = 1, perfect = 1, qfmt = 1;
        memset(cfgs, 0, sizeof cfgs);
        cfgs[1].min_digits = 2; cfgs[1].max_digits = 4;
        cfgs[2].min_digits = 1; cfgs[2].max_digits = 5; cfgs[2].terms = 3;
        cfgs[3].min_digits = 3; cfgs[3].max_digits = 3; cfgs[3].terms = 4;
        for (k = 0; k < 4; k++) {
            int lo = cfgs[k].min_digits ? cfgs[k].min_digits : 1, hi = cfgs[k].max_digits ? cfgs[k].max_digits : 3;
            int nt = cfgs[k].terms ? cfgs[k].terms : 2;
            for (split = 0; split < 3; split++)
                for (i = 0; i < 100; i++) {
                    int t, d;
                    long long sum = 0;
                    char qb[128];
                    pt_world_problem(&cfgs[k], split, 17, i, &p);
                    d = ndig(p.terms[0]);
                    if (p.n_terms != nt) dig_ok = 0;
                    for (t = 0; t < p.n_terms; t++) {
                        sum += p.terms[t];
                        if (split == PT_WORLD_OOD ? ndig(p.terms[t]) != hi + 1 : (ndig(p.terms[t]) < lo || ndig(p.terms[t]) > hi)) dig_ok = 0;
                        if (d > 1 && ndig(p.terms[t]) != d) dig_ok = 0;   /* all operands have the same width */
                    }
                    if (sum != p.answer) dig_ok = 0;
                    if (!score_perfect(&p, p.solution, &sc)) { if (perfect) printf("  not perfect: %s%s\n", p.question, p.solution); perfect = 0; }
                    if (sc.n_steps != d) cols_ok = 0;
                    if (parse_question(p.question, &q) == 0 || q.n_terms != p.n_terms || q.answer != p.answer) qfmt = 0;
                    snprintf(qb, sizeof qb, "%lld", p.answer);
                    if (!strstr(p.solution, qb)) perfect = 0;
                }
        }
        CHECK(dig_ok, "digit counts / terms / answer wrong (OOD must have max_digits + 1 digits)");
        CHECK(perfect, "a reference solution does not score format_ok=1 correct=1 all steps ok");
        CHECK(cols_ok, "n_steps != number of columns");
        CHECK(qfmt, "question text does not match the terms");
    }
    /* corrupted solutions */
    {
        int j, nd_bad = 0, ans_bad = 0;
        for (i = 0; i < 60; i++) {
            char sol[300], *th, *eq;
            int d, cols, e;
            pt_world_problem(&c, PT_WORLD_TRAIN, 99, i, &p);
            cols = ndig(p.terms[0]);
            for (j = 0; j < cols; j++) {
                strcpy(sol, p.solution);
                th = strstr(sol, "<think>");
                eq = th;
                for (e = 0; e <= j; e++) eq = strchr(eq + 1, '=');
                eq++;
                while (eq[1] >= '0' && eq[1] <= '9') eq++;   /* last digit of the step's sum */
                d = *eq - '0'; *eq = (char)('0' + (d + 1) % 10);
                pt_world_score_text(&p, sol, &sc);
                if (!(sc.step_ok[j] == 0 && sc.first_bad_step == j && sc.steps_ok == cols - 1 && sc.n_steps == cols && sc.format_ok == 1 && sc.correct == 1)) {
                    if (!nd_bad) printf("  wrong step %d: '%s' -> ok[j]=%d first_bad=%d steps %d/%d fmt %d corr %d\n", j, sol, sc.step_ok[j], sc.first_bad_step, sc.steps_ok, sc.n_steps, sc.format_ok, sc.correct);
                    nd_bad++;
                }
            }
            /* wrong answer: change its last digit */
            strcpy(sol, p.solution);
            eq = strstr(sol, "</answer>") - 1;
            d = *eq - '0'; *eq = (char)('0' + (d + 3) % 10);
            pt_world_score_text(&p, sol, &sc);
            if (!(sc.correct == 0 && sc.format_ok == 1 && sc.steps_ok == cols && sc.first_bad_step == -1)) ans_bad++;
        }
        CHECK(nd_bad == 0, "%d single wrong step sums not flagged exactly at their step", nd_bad);
        CHECK(ans_bad == 0, "%d wrong answers not scored correct=0, format_ok=1", ans_bad);
        /* a wrong operand digit in a step */
        memset(&p, 0, sizeof p); p.n_terms = 2; p.terms[0] = 47; p.terms[1] = 85; p.answer = 132;
        pt_world_score_text(&p, "A: <think>7+5=12;4+9+1=13</think><answer>132</answer>", &sc);
        CHECK(sc.step_ok[0] == 1 && sc.step_ok[1] == 0 && sc.first_bad_step == 1 && sc.correct == 1, "wrong operand digit in step 1");
        pt_world_score_text(&p, "A: <think>7+5=12;4+8=12</think><answer>132</answer>", &sc);
        CHECK(sc.step_ok[1] == 0 && sc.first_bad_step == 1, "missing carry in step 1");
        /* garbage */
        {
            const char *garbage[] = {"", "hello world", "A: 132", "<think>", "A: <think>7+5=12;4+8+1=13</think>", "A: <answer>", "\xff\xfe<</think>"};
            for (i = 0, bad = 0; i < (int)(sizeof garbage / sizeof garbage[0]); i++) {
                pt_world_score_text(&p, garbage[i], &sc);
                if (sc.format_ok != 0 || sc.correct != 0) { bad++; printf("  garbage '%s': fmt %d corr %d\n", garbage[i], sc.format_ok, sc.correct); }
            }
            CHECK(bad == 0, "garbage completions scored format_ok or correct");
            pt_world_score_text(&p, NULL, &sc);
            CHECK(sc.format_ok == 0 && sc.correct == 0, "NULL completion");
        }
    }
    /* corpus */
    {
        int docs, perfect, malformed;
        memset(&c, 0, sizeof c);
        score_corpus(&c, 3, 300, &docs, &perfect, &malformed);
        CHECK(docs == 300 && malformed == 0 && perfect == 300, "noise 0 corpus: %d docs, %d perfect, %d malformed", docs, perfect, malformed);
        c.noise = 0.3f;
        score_corpus(&c, 3, 400, &docs, &perfect, &malformed);
        {
            double frac = docs ? (double)(docs - perfect) / docs : 0;
            printf("  noise 0.3: %d of %d documents imperfect (%.3f)\n", docs - perfect, docs, frac);
            CHECK(docs == 400 && malformed == 0, "noisy corpus: %d docs, %d malformed", docs, malformed);
            CHECK(frac >= 0.2 && frac <= 0.4, "noise 0.3 gives an imperfect fraction of %.3f", frac);
        }
        /* a small cap holds whole documents only */
        {
            int ids[100];
            int64_t n;
            memset(&c, 0, sizeof c);
            n = pt_world_corpus(&c, 3, 50, ids, 100);
            CHECK(n > 0 && n <= 100 && ids[n - 1] == PT_BYTE_EOS, "capped corpus ends with a whole document (n %lld)", (long long)n);
            CHECK(pt_world_corpus(&c, 3, 50, ids, 5) == 0, "a cap smaller than one document gives 0");
        }
        /* deterministic in the seed */
        {
            int a[2000], b2[2000];
            int64_t na = pt_world_corpus(&c, 8, 20, a, 2000), nb = pt_world_corpus(&c, 8, 20, b2, 2000);
            CHECK(na == nb && memcmp(a, b2, (size_t)na * sizeof(int)) == 0, "corpus not deterministic");
        }
    }
    /* large but accepted configurations (terms up to 8, digits up to 15, OOD = 16): the reference
       problem must still render whole and score perfectly, and must never write outside pt_problem.
       Run in children: the overflow can crash the process. */
    {
        int terms, rc, nfail = 0;
        char summary[512];
        size_t at = 0;
        summary[0] = 0;
        for (terms = 2; terms <= 8; terms++) {
            rc = run_in_child(child_world_big, &terms);
            if (rc == 0) continue;
            nfail++;
            if (rc >= 1000) at += (size_t)snprintf(summary + at, sizeof summary - at, " terms=%d: killed by signal %d;", terms, rc - 1000);
            else at += (size_t)snprintf(summary + at, sizeof summary - at, " terms=%d: from digits=%d %s;", terms, (rc - 1) / 2 + 1, (rc - 1) % 2 ? "OOD" : "TRAIN");
            if (at >= sizeof summary) at = sizeof summary - 1;
        }
        CHECK(nfail == 0, "world: reference problems of accepted configs are truncated (question without '=?' or solution not scoring perfectly):%s", summary);
        rc = run_in_child(child_world_canary, NULL);
        CHECK(rc == 0, "world: pt_world_problem writes past the end of pt_problem: %s", rc >= 1000 ? "child killed by a signal" :
              rc == 0 ? "" : (snprintf(summary, sizeof summary, "first at terms=%d digits=%d %s split", (rc - 1) / 30 + 2, (rc - 1) % 30 / 2 + 1, (rc - 1) % 2 ? "OOD" : "TRAIN"), summary));
    }
}

int main(void)
{
    pt_ctx *ctx;
    double t0 = pt_time_seconds(), t;
    (void)test_models_dir;
    if (!make_tmp_dir("test_model")) return 2;
    /* sections 11, 10, 8, 6 first: the fork()ing tests run before OpenMP starts its worker threads
       (a forked child of a process with an OpenMP pool must not enter a parallel region) */
    test_world();
    test_tokenizer();
    test_sampling();
    ctx = pt_ctx_new(0);
    test_errors(ctx);
    t = pt_time_seconds(); test_kv_cache(ctx); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_packing(ctx); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_overfit(ctx); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_checkpoints(ctx); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_bad_checkpoints(ctx); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_determinism(ctx); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_generation(); printf("  (%.2f s)\n", pt_time_seconds() - t);
    pt_ctx_free(ctx);
    cleanup_tmp();
    CHECK(!file_exists(g_dir), "temporary directory %s not removed", g_dir);
    printf("total %.2f s\n", pt_time_seconds() - t0);
    return test_end("test_model");
}
