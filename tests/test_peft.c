/* Tests for section 8 of posttrain.h, PEFT: LoRA. pt_lora_attach / detach / merge / unmerge /
   save / load, pt_model_optimizer_step and pt_model_zero_grad, and the two places the model runs
   the adapters: pt__lin in the training forward and pt__lora_rows in pt_model_step (KV-cache
   inference, including the multi-thread row split that pt_generate's pre-packed cache takes).

     1. identity at init        attach leaves the logits bit-identical (tied / untied, "*" / default)
     2. attach                  frozen base, exact trainable count, A / B init, scale, errors
     3. gradients               dL/dA, dL/dB from pt_backward vs central differences of pt_model_loss
     4. training                30 AdamW steps lower the loss, base bits untouched, NaN step refused
     5. merge / inference       merge == s B A, merged == unmerged, unmerge restores, KV-cache path
                                (token by token, many sequences, row split), pt_generate greedy
     6. adapter files           round trip, replacement, malformed files rejected without side effects
     7. detach and dropout      plain behaviour back, masks differ per call only when grad is on
     8. determinism             same seeds -> same adapter bits, 1 and 2 threads
     9. out of memory           each allocation of attach / merge / unmerge / load failing in turn
                                (through the documented PT_MALLOC hook) leaves the model as it was

   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_peft_XXXXXX, removed at the end.

   Known failures (bugs in posttrain.h at the time of writing; the checks stay until fixed):
     - pt_lora_attach accepts alpha = inf (scale inf: the "exact base at init" forward is NaN) and
       alpha >= 1e6, which pt_lora_load then rejects in the adapter pt_lora_save wrote.
     - pt_lora_load accepts an adapter of a model with other dims when each adapter's r*(in+out)
       happens to match (the file stores no shapes): A and B are silently reinterpreted.
     - pt_lora_merge / pt_lora_unmerge fold slot by slot with a fresh buffer each: an allocation
       failure after the first slot returns PT_ERR_NOMEM with some matrices already changed.
     - pt_lora_attach: when the gradient layout of the base freeze cannot be allocated, it returns
       PT_ERR_NOMEM with every base tensor left flagged frozen. */
#define _POSIX_C_SOURCE 200809L   /* mkdtemp; the header would ask for it too */
#include <stddef.h>
/* The documented allocator hook, used to make one chosen allocation fail (section 9 of this file):
   t_fail_at = k makes the k-th allocation after arming return NULL. */
static void *t_malloc(size_t n);
static void *t_realloc(void *p, size_t n);
static void t_free(void *p);
#define PT_MALLOC(sz) t_malloc(sz)
#define PT_REALLOC(p, sz) t_realloc(p, sz)
#define PT_FREE(p) t_free(p)
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <string.h>
#include <stdint.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
static long t_fail_at = -1, t_allocs;
static int t_failed;
static void *t_malloc(size_t n) { if (t_fail_at >= 0 && t_allocs++ == t_fail_at) { t_failed = 1; return NULL; } return malloc(n); }
static void *t_realloc(void *p, size_t n) { if (t_fail_at >= 0 && t_allocs++ == t_fail_at) { t_failed = 1; return NULL; } return realloc(p, n); }
static void t_free(void *p) { free(p); }
static void arm_failure(long k) { t_fail_at = k; t_allocs = 0; t_failed = 0; }
static void disarm_failure(void) { t_fail_at = -1; }
#include "test_tmp.h"
static int write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t w;
    if (!f) return -1;
    w = n ? fwrite(b, 1, n, f) : 0;
    fclose(f);
    return w == n ? 0 : -1;
}
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long sz;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END); sz = ftell(f); fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    if (b) *n = (size_t)sz;
    return b;
}
/* The adapter file's checksum, computed here independently: FNV-1a 64 over every byte but the
   last 8, stored little-endian in those 8. */
static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}
static void put_u32(unsigned char *p, uint32_t v) { int i; for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get_u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get_u64(const unsigned char *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }
static float get_f32(const unsigned char *p) { uint32_t u = get_u32(p); float f; memcpy(&f, &u, 4); return f; }
static void put_f32(unsigned char *p, float f) { uint32_t u; memcpy(&u, &f, 4); put_u32(p, u); }
static void fix_checksum(unsigned char *b, size_t n)
{
    uint64_t h = fnv1a(b, n - 8);
    int i;
    for (i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(h >> (8 * i));
}

static pt_config mkcfg(int dim, int layers, int heads, int kv, int hidden, int vocab, int seq, int untied)
{
    pt_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim; c.n_layers = layers; c.n_heads = heads; c.n_kv_heads = kv; c.hidden_dim = hidden;
    c.vocab_size = vocab; c.seq_len = seq; c.untied = untied;
    return c;
}
/* The standard test model: dim 32, 2 layers, 4 heads over 2 kv heads (GQA, kv_dim 16), hidden 64,
   the byte vocabulary (272), seq_len 32. */
static pt_config std_cfg(int untied) { return mkcfg(32, 2, 4, 2, 64, 272, 32, untied); }

/* A model with non-trivial weights: N(0, 0.1) everywhere, norm weights 1. */
static pt_model *make_model(pt_config cfg, uint64_t seed)
{
    pt_model *m = pt_model_new(&cfg, seed);
    pt_rng rng;
    if (!m) { printf("pt_model_new failed: %s\n", pt_last_error()); exit(2); }
    pt_rng_seed(&rng, seed * 7919u + 13u);
    pt_params_init_normal(m->params, "*", 0.1f, &rng);
    pt_params_init_const(m->params, "*norm", 1.0f);
    return m;
}
static pt_lora_config lcfg(int rank, float alpha, int rslora, float dropout, const char *targets, uint64_t seed)
{
    pt_lora_config c;
    memset(&c, 0, sizeof c);
    c.rank = rank; c.alpha = alpha; c.rslora = rslora; c.dropout = dropout; c.targets = targets; c.seed = seed;
    return c;
}
static void rand_tokens(int *t, int n, pt_rng *rng) { int i; for (i = 0; i < n; i++) t[i] = pt_rng_int(rng, 0, 271); }
static pt_batch mkbatch(int B, int T, const int *tokens, const int *targets)
{
    pt_batch b;
    memset(&b, 0, sizeof b);
    b.B = B; b.T = T; b.tokens = tokens; b.targets = targets;
    return b;
}

/* Logits of the training forward with the tape off, copied out ([B*T, V], malloc'd). */
static float *logits_of(pt_model *m, pt_ctx *ctx, const int *tokens, int B, int T)
{
    pt_batch b = mkbatch(B, T, tokens, NULL);
    pt_tensor *lg;
    float *out = NULL;
    pt_ctx_set_grad(ctx, 0);
    lg = pt_model_logits(ctx, m, &b);
    if (!lg) printf("pt_model_logits failed: %s\n", pt_last_error());
    else {
        out = (float *)malloc((size_t)lg->size * sizeof(float));
        memcpy(out, lg->data, (size_t)lg->size * sizeof(float));
    }
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);
    return out;
}
static int same_floats(const float *a, const float *b, int64_t n) { return a && b && memcmp(a, b, (size_t)n * sizeof(float)) == 0; }
/* max |a - b| / max |b| */
static double rel_err(const float *a, const float *b, int64_t n)
{
    double md = 0, mb = 0;
    int64_t i;
    if (!a || !b) return INFINITY;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d;          /* NaN propagates as a failure */
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? md / mb : md;
}
static float *copy_floats(const float *p, int64_t n)
{
    float *c = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    memcpy(c, p, (size_t)n * sizeof(float));
    return c;
}
/* Loss of the training forward (tape on or off); NaN on error. */
static double loss_of(pt_model *m, pt_ctx *ctx, const pt_batch *b, int grad)
{
    pt_tensor *l;
    double L;
    pt_ctx_set_grad(ctx, grad);
    l = pt_model_loss(ctx, m, b);
    L = l ? l->data[0] : NAN;
    if (!l) printf("pt_model_loss failed: %s\n", pt_last_error());
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);
    return L;
}
/* One LoRA training step: loss, backward, model-level clip + AdamW, zero grads. Returns the loss. */
static double lora_step(pt_model *m, pt_ctx *ctx, const pt_batch *b, float lr)
{
    pt_adamw_config opt;
    pt_tensor *l;
    double L;
    memset(&opt, 0, sizeof opt);
    pt_ctx_set_grad(ctx, 1);
    l = pt_model_loss(ctx, m, b);
    if (!l) { printf("pt_model_loss failed: %s\n", pt_last_error()); pt_ctx_reset(ctx); return NAN; }
    L = l->data[0];
    if (pt_backward(ctx, l) != PT_OK) { printf("backward failed: %s\n", pt_last_error()); L = NAN; }
    else if (pt_model_optimizer_step(m, &opt, lr, 1.0f, NULL) != PT_OK) { printf("optimizer step failed: %s\n", pt_last_error()); L = NAN; }
    pt_model_zero_grad(m);
    pt_ctx_reset(ctx);
    return L;
}
/* Fill every B with N(0, std) so the adapters change the forward (and dL/dA is nonzero). */
static void randomize_b(pt_model *m, float std, uint64_t seed)
{
    pt_rng rng;
    int s;
    int64_t j;
    pt_rng_seed(&rng, seed);
    for (s = 0; s < m->cfg.n_layers * 7; s++)
        if (m->lora->b[s]) for (j = 0; j < m->lora->b[s]->size; j++) m->lora->b[s]->data[j] = std * pt_rng_normal(&rng);
}
static pt_tensor *slot_w(pt_model *m, int slot)
{
    pt_layer *L = &m->layers[slot / 7];
    switch (slot % 7) {
    case 0: return L->wq; case 1: return L->wk; case 2: return L->wv; case 3: return L->wo;
    case 4: return L->w1; case 5: return L->w2; default: return L->w3;
    }
}
static const char *const slot_names[7] = {"attn.wq", "attn.wk", "attn.wv", "attn.wo", "mlp.w1", "mlp.w2", "mlp.w3"};
static int argmax(const float *z, int n) { int i, b = 0; for (i = 1; i < n; i++) if (z[i] > z[b]) b = i; return b; }

/* ---------------------------------------------------------------------------------------------
   1. LoRA at init is exactly the base model
   --------------------------------------------------------------------------------------------- */
static void test_init_identity(void)
{
    int untied, ti, i;
    const char *targets[2] = {NULL, "*"};
    pt_ctx *ctx = pt_ctx_new(0);
    pt_rng rng;
    int tok[2 * 12], tgt[2 * 12];
    printf("1. identity at init\n");
    pt_rng_seed(&rng, 11);
    rand_tokens(tok, 24, &rng); rand_tokens(tgt, 24, &rng);
    for (untied = 0; untied <= 1; untied++)
        for (ti = 0; ti < 2; ti++) {
            pt_model *m = make_model(std_cfg(untied), 100 + untied);
            pt_batch b = mkbatch(2, 12, tok, tgt);
            int64_t n = (int64_t)24 * 272;
            float *base = logits_of(m, ctx, tok, 2, 12), *after, step_base[272], step_after[272];
            double L0 = loss_of(m, ctx, &b, 1), L1, L2;
            pt_lora_config c = lcfg(4, 8.0f, 0, 0.0f, targets[ti], 5);
            pt_kv_cache *kv = pt_kv_new(m, 1, 12);
            int seq0 = 0, st;
            /* KV-cache logits of the base for the first 12 tokens of row 0 (last step kept) */
            for (i = 0; i < 12; i++) pt_model_step(m, kv, 1, &seq0, &tok[i], step_base);
            st = pt_lora_attach(m, &c);
            CHECK(st == PT_OK, "attach (untied %d, targets %s): %s", untied, targets[ti] ? targets[ti] : "NULL", pt_last_error());
            CHECK(m->lora && m->lora->count == (ti == 0 ? 2 * 2 : 7 * 2), "adapter count %d (untied %d, targets %s)",
                  m->lora ? m->lora->count : -1, untied, targets[ti] ? targets[ti] : "NULL");
            after = logits_of(m, ctx, tok, 2, 12);
            CHECK(same_floats(base, after, n), "logits after attach differ from the base (untied %d, targets %s), rel %g",
                  untied, targets[ti] ? targets[ti] : "NULL", rel_err(after, base, n));
            L1 = loss_of(m, ctx, &b, 1);
            CHECK(L1 == L0, "training loss (tape on) after attach %.9g vs base %.9g (untied %d)", L1, L0, untied);
            /* dropout on the adapter input changes nothing while B = 0, even with the tape on */
            m->lora->dropout = 0.5f;
            L2 = loss_of(m, ctx, &b, 1);
            CHECK(L2 == L0, "loss with dropout 0.5 at init %.9g vs base %.9g (untied %d)", L2, L0, untied);
            m->lora->dropout = 0.0f;
            pt_kv_clear(kv, -1);
            for (i = 0; i < 12; i++) pt_model_step(m, kv, 1, &seq0, &tok[i], step_after);
            CHECK(memcmp(step_base, step_after, sizeof step_base) == 0, "KV-cache logits after attach differ from the base (untied %d, targets %s)",
                  untied, targets[ti] ? targets[ti] : "NULL");
            free(base); free(after);
            pt_kv_free(kv);
            pt_model_free(m);
        }
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   2. Attaching: frozen base, trainable count, initialisation, scale, errors
   --------------------------------------------------------------------------------------------- */
static void test_attach(void)
{
    pt_model *m = make_model(std_cfg(1), 200);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c;
    pt_lora *lo;
    int i, s, st, n_slots = 2 * 7;
    int64_t full = pt_params_count(m->params, 1), expect;
    int tok[16], tgt[16];
    pt_rng rng;
    printf("2. attach: freezing, counts, init, scale, errors\n");
    pt_rng_seed(&rng, 21); rand_tokens(tok, 16, &rng); rand_tokens(tgt, 16, &rng);
    CHECK(full == pt_params_count(m->params, 0) && full > 0, "a new model is fully trainable");

    /* errors first, on a model without adapters: nothing changes */
    c = lcfg(4, 0, 0, 0.0f, "nothing.matches", 1);
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "targets matching nothing: status %d (%s)", st, pt_last_error());
    c.targets = "";
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "empty targets: status %d", st);
    c.targets = "tok_embeddings,norm,output";   /* real parameter names, but not LoRA-able matrices */
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "targets naming only non-matrix tensors: status %d", st);
    c.targets = NULL; c.dropout = 1.0f;
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "dropout 1.0: status %d", st);
    c.dropout = -0.1f;
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "dropout -0.1: status %d", st);
    c.dropout = NAN;
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "dropout NaN: status %d", st);
    c.dropout = 0.0f; c.rank = 5000;
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_ERR_ARG, "rank 5000: status %d", st);
    CHECK(m->lora == NULL, "failed attaches leave no adapters");
    CHECK(pt_params_count(m->params, 1) == full, "failed attaches leave the base trainable (%lld of %lld)",
          (long long)pt_params_count(m->params, 1), (long long)full);
    CHECK(pt_lora_merge(m) == PT_ERR_ARG, "merge without adapters is an error");
    CHECK(pt_lora_unmerge(m) == PT_ERR_ARG, "unmerge without adapters is an error");
    CHECK(pt_lora_save(m, tmp_path("none.ptla")) == PT_ERR_ARG, "save without adapters is an error");

    /* default targets, rank 4: wq [32, 32] and wv [16, 32] in each of 2 layers
       -> 2 * (4 * (32 + 32) + 4 * (32 + 16)) = 896 trainable floats */
    c = lcfg(4, 0, 0, 0.0f, NULL, 7);
    st = pt_lora_attach(m, &c);
    CHECK(st == PT_OK, "attach default targets: %s", pt_last_error());
    lo = m->lora;
    if (!lo) { pt_ctx_free(ctx); pt_model_free(m); return; }
    CHECK(pt_params_count(lo->params, 1) == 896, "trainable adapter floats %lld, expected 896", (long long)pt_params_count(lo->params, 1));
    CHECK(pt_params_count(lo->params, 0) == 896, "adapter floats %lld, expected 896", (long long)pt_params_count(lo->params, 0));
    CHECK(lo->count == 4 && lo->rank == 4 && lo->merged == 0, "count %d rank %d merged %d", lo->count, lo->rank, lo->merged);
    CHECK(fabsf(lo->scale - 1.0f) == 0.0f && lo->alpha == 4.0f, "alpha 0 -> rank: alpha %g scale %g", (double)lo->alpha, (double)lo->scale);
    for (s = 0; s < n_slots; s++) {
        int on = s % 7 == 0 || s % 7 == 2;
        CHECK((lo->a[s] != NULL) == on && (lo->b[s] != NULL) == on, "default targets: slot %d (%s) adapter %s", s, slot_names[s % 7], on ? "missing" : "unexpected");
    }
    {
        pt_param *pa = pt_params_find(lo->params, "lora.1.attn.wv.A"), *pb = pt_params_find(lo->params, "lora.1.attn.wv.B");
        CHECK(pa && pa->t.ndim == 2 && pa->t.shape[0] == 4 && pa->t.shape[1] == 32, "lora.1.attn.wv.A is [4, 32]");
        CHECK(pb && pb->t.ndim == 2 && pb->t.shape[0] == 16 && pb->t.shape[1] == 4, "lora.1.attn.wv.B is [16, 4] (GQA kv_dim 16)");
        CHECK(pa && lo->a[9] && pa->t.data == lo->a[9]->data, "lo->a[slot] is the named parameter");
    }
    /* the base is frozen: no trainable floats, no gradient slots */
    CHECK(pt_params_count(m->params, 1) == 0, "base trainable floats after attach: %lld", (long long)pt_params_count(m->params, 1));
    CHECK(m->params->n_grad == 0, "base gradient slots after attach: %lld", (long long)m->params->n_grad);
    for (i = 0; i < m->params->count; i++) {
        pt_param *p = m->params->items[i];
        CHECK(p->t.grad == NULL && p->t.requires_grad == 0 && (p->flags & PT_PARAM_FROZEN), "base tensor %s not frozen", p->name);
    }
    /* init: A uniform within +-1/sqrt(in), not constant; B zero */
    for (s = 0; s < n_slots; s++) {
        int64_t j;
        float bound, lo_v = INFINITY, hi_v = -INFINITY;
        int bzero = 1;
        if (!lo->a[s]) continue;
        bound = 1.0f / sqrtf((float)lo->a[s]->shape[1]);
        for (j = 0; j < lo->a[s]->size; j++) { float v = lo->a[s]->data[j]; if (v < lo_v) lo_v = v; if (v > hi_v) hi_v = v; }
        for (j = 0; j < lo->b[s]->size; j++) bzero &= lo->b[s]->data[j] == 0.0f;
        CHECK(lo_v >= -bound && hi_v <= bound, "slot %d: A in [%g, %g], bound %g", s, (double)lo_v, (double)hi_v, (double)bound);
        CHECK(hi_v - lo_v > bound, "slot %d: A spread %g too small for U(-%g, %g)", s, (double)(hi_v - lo_v), (double)bound, (double)bound);
        CHECK(bzero, "slot %d: B not zero at init", s);
    }
    CHECK(memcmp(lo->a[0]->data, lo->a[7]->data, (size_t)lo->a[0]->size * sizeof(float)) != 0, "layers 0 and 1 got the same A");
    /* one backward: no gradient reaches the base; dB != 0 and dA == 0 exactly (B is zero) */
    {
        pt_batch b = mkbatch(1, 16, tok, tgt);
        pt_tensor *l = pt_model_loss(ctx, m, &b);
        int64_t j;
        double gb = 0, ga = 0;
        CHECK(l && pt_backward(ctx, l) == PT_OK, "backward with adapters: %s", pt_last_error());
        for (i = 0; i < m->params->count; i++) CHECK(m->params->items[i]->t.grad == NULL, "base %s got a gradient", m->params->items[i]->name);
        for (s = 0; s < n_slots; s++) {
            if (!lo->a[s]) continue;
            for (j = 0; j < lo->a[s]->size; j++) ga += fabs(lo->a[s]->grad[j]);
            for (j = 0; j < lo->b[s]->size; j++) gb += fabs(lo->b[s]->grad[j]);
        }
        CHECK(gb > 1e-6, "dL/dB is zero (%g)", gb);
        CHECK(ga == 0.0, "dL/dA is %g with B = 0", ga);
        pt_ctx_reset(ctx);
        pt_model_zero_grad(m);
        for (j = 0; j < lo->params->n_grad; j++) if (lo->params->grad[j] != 0.0f) break;
        CHECK(j == lo->params->n_grad, "pt_model_zero_grad left adapter gradient %lld nonzero", (long long)j);
    }

    /* same seed -> same A; another seed -> another A */
    {
        float *a1 = copy_floats(lo->params->data, lo->params->n_data);
        int64_t n1 = lo->params->n_data;
        c.seed = 7;
        CHECK(pt_lora_attach(m, &c) == PT_OK, "re-attach");
        lo = m->lora;
        CHECK(lo->params->n_data == n1 && same_floats(a1, lo->params->data, n1), "same seed, same adapters");
        c.seed = 8;
        CHECK(pt_lora_attach(m, &c) == PT_OK, "re-attach seed 8");
        lo = m->lora;
        CHECK(!same_floats(a1, lo->params->data, n1), "another seed gives other A");
        free(a1);
    }

    /* every matrix, rank 4: per layer 4 * ((32+32) + (32+16) + (32+16) + (32+32) + 3 * (32+64)) = 2048 */
    c = lcfg(4, 8.0f, 0, 0.0f, "*", 3);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach * (replacing the adapters): %s", pt_last_error());
    lo = m->lora;
    CHECK(lo->count == 14, "targets *: count %d", lo->count);
    CHECK(pt_params_count(lo->params, 1) == 4096, "targets *: trainable %lld, expected 4096", (long long)pt_params_count(lo->params, 1));
    expect = 0;
    for (s = 0; s < n_slots; s++) expect += 4 * (int64_t)(slot_w(m, s)->shape[0] + slot_w(m, s)->shape[1]);
    CHECK(pt_params_count(lo->params, 1) == expect, "targets *: trainable %lld vs sum r(in+out) %lld", (long long)pt_params_count(lo->params, 1), (long long)expect);
    for (s = 0; s < n_slots; s++) {
        pt_tensor *w = slot_w(m, s);
        CHECK(lo->a[s] && lo->a[s]->shape[0] == 4 && lo->a[s]->shape[1] == w->shape[1] && lo->b[s]->shape[0] == w->shape[0] && lo->b[s]->shape[1] == 4,
              "slot %d (%s): A/B shapes do not fit W [%d, %d]", s, slot_names[s % 7], w->shape[0], w->shape[1]);
    }
    CHECK(lo->scale == 2.0f, "scale alpha/r = 8/4: %g", (double)lo->scale);
    CHECK(pt_params_count(m->params, 1) == 0, "base still frozen after re-attach");
    c.rslora = 1;
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach rslora");
    CHECK(m->lora->scale == 4.0f && m->lora->rslora == 1, "rslora scale alpha/sqrt(r) = 8/2: %g", (double)m->lora->scale);
    c = lcfg(9, 6.0f, 1, 0.0f, "*", 3);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach rslora r 9");
    CHECK(fabsf(m->lora->scale - 2.0f) <= 1e-6f, "rslora scale 6/sqrt(9): %g", (double)m->lora->scale);
    c.rslora = 0;
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach r 9");
    CHECK(fabsf(m->lora->scale - 6.0f / 9.0f) <= 1e-7f, "scale 6/9: %g", (double)m->lora->scale);

    /* several patterns; slot selection follows the names */
    c = lcfg(2, 0, 0, 0.0f, "layers.1.mlp.w2,*.attn.wo", 3);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach two patterns");
    lo = m->lora;
    CHECK(lo->count == 3, "two patterns: count %d, expected 3", lo->count);
    for (s = 0; s < n_slots; s++) {
        int on = s == 3 || s == 10 || s == 12;
        CHECK((lo->a[s] != NULL) == on, "two patterns: slot %d %s", s, on ? "missing" : "unexpected");
    }
    CHECK(pt_params_count(lo->params, 1) == 2 * (32 + 32) * 2 + 2 * (64 + 32), "two patterns: trainable %lld", (long long)pt_params_count(lo->params, 1));
    /* a failing attach over existing adapters keeps them */
    {
        pt_lora *keep = m->lora;
        c = lcfg(2, 0, 0, 0.0f, "zzz", 3);
        CHECK(pt_lora_attach(m, &c) == PT_ERR_ARG && m->lora == keep && keep->count == 3, "failed attach keeps the current adapters");
        c.targets = NULL; c.dropout = 2.0f;
        CHECK(pt_lora_attach(m, &c) == PT_ERR_ARG && m->lora == keep, "bad dropout keeps the current adapters");
    }
    /* alpha: attach must refuse what it cannot use or what pt_lora_load would refuse */
    {
        pt_lora *keep = m->lora;
        c = lcfg(4, INFINITY, 0, 0.0f, NULL, 3);
        st = pt_lora_attach(m, &c);
        CHECK(st == PT_ERR_ARG, "alpha inf accepted (status %s, scale %g)", pt_status_name(st), m->lora ? (double)m->lora->scale : 0.0);
        if (st == PT_OK) keep = m->lora;
        c.alpha = 2e6f;
        st = pt_lora_attach(m, &c);
        if (st == PT_OK) {   /* accepted: then its file must load back */
            const char *ap = tmp_path("alpha.ptla");
            int ls;
            CHECK(pt_lora_save(m, ap) == PT_OK, "save alpha 2e6");
            ls = pt_lora_load(m, ap);
            CHECK(ls == PT_OK, "attach accepts alpha 2e6 but pt_lora_load rejects the adapter it saved: %s", pt_last_error());
        } else {
            CHECK(st == PT_ERR_ARG && m->lora == keep, "alpha 2e6 refused with PT_ERR_ARG");
        }
    }
    /* NULL config: rank 8, alpha 8, default targets */
    CHECK(pt_lora_attach(m, NULL) == PT_OK, "attach NULL config: %s", pt_last_error());
    lo = m->lora;
    CHECK(lo->rank == 8 && lo->scale == 1.0f && lo->count == 4 && lo->dropout == 0.0f, "NULL config: rank %d scale %g count %d", lo->rank, (double)lo->scale, lo->count);
    CHECK(pt_params_count(lo->params, 1) == 2 * 8 * (64 + 48), "NULL config trainable %lld", (long long)pt_params_count(lo->params, 1));
    pt_ctx_free(ctx);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   3. Gradients of A and B vs central differences of the model loss
   --------------------------------------------------------------------------------------------- */
static void test_gradients(void)
{
    pt_model *m = make_model(std_cfg(1), 300);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(3, 6.0f, 0, 0.0f, "*", 31);   /* s = 2, every matrix */
    pt_lora *lo;
    pt_rng rng;
    int tok[2 * 8], tgt[2 * 8], s, k, checked = 0, bad = 0;
    float *ga;
    pt_batch b;
    double worst = 0, L, sum_g = 0;
    printf("3. gradients of A and B vs central differences\n");
    pt_rng_seed(&rng, 33); rand_tokens(tok, 16, &rng); rand_tokens(tgt, 16, &rng);
    b = mkbatch(2, 8, tok, tgt);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach: %s", pt_last_error());
    lo = m->lora;
    randomize_b(m, 0.2f, 34);
    pt_ctx_set_grad(ctx, 1);
    {
        pt_tensor *l = pt_model_loss(ctx, m, &b);
        CHECK(l && pt_backward(ctx, l) == PT_OK, "backward: %s", pt_last_error());
        L = l ? l->data[0] : NAN;
        pt_ctx_reset(ctx);
    }
    ga = copy_floats(lo->params->grad, lo->params->n_grad);   /* every A and B gradient, by grad_offset */
    CHECK(isfinite(L), "loss %g", L);
    for (s = 0; s < 14; s++) {
        int which;
        for (which = 0; which < 2; which++) {
            pt_tensor *t = which ? lo->b[s] : lo->a[s];
            pt_param *p = NULL;
            int64_t idx[4], j, off;
            int pi;
            for (pi = 0; pi < lo->params->count; pi++) if (&lo->params->items[pi]->t == t) p = lo->params->items[pi];
            if (!p) { CHECK(0, "adapter tensor of slot %d not in its params", s); continue; }
            off = p->grad_offset;
            /* the largest gradient of the tensor, and three random entries */
            idx[0] = 0;
            for (j = 1; j < t->size; j++) if (fabsf(ga[off + j]) > fabsf(ga[off + idx[0]])) idx[0] = j;
            for (k = 1; k < 4; k++) idx[k] = pt_rng_int(&rng, 0, (int)t->size - 1);
            for (k = 0; k < 4; k++) {
                float save = t->data[idx[k]], h = 1e-2f;
                double lp, lm, num, g = ga[off + idx[k]], err, tol;
                t->data[idx[k]] = save + h; lp = loss_of(m, ctx, &b, 0);
                t->data[idx[k]] = save - h; lm = loss_of(m, ctx, &b, 0);
                t->data[idx[k]] = save;
                num = (lp - lm) / (2.0 * (double)h);
                err = fabs(g - num);
                tol = 1e-3 * 0.2 + 1e-2 * fmax(fabs(g), fabs(num));
                if (err / tol > worst) worst = err / tol;
                checked++;
                sum_g += fabs(g);
                if (err > tol) {
                    bad++;
                    printf("  slot %d (%s) %s[%lld]: backward %.6g, numeric %.6g\n", s, slot_names[s % 7], which ? "B" : "A", (long long)idx[k], g, num);
                }
            }
        }
    }
    CHECK(bad == 0, "%d of %d sampled adapter gradients disagree with central differences (worst err/tol %.3g)", bad, checked, worst);
    CHECK(checked == 14 * 2 * 4, "checked %d entries", checked);
    CHECK(sum_g / checked > 5e-3, "sampled gradients too small to be a test (mean |g| %g)", sum_g / checked);
    printf("  %d entries, worst err/tol %.3f, mean |g| %.3g\n", checked, worst, sum_g / checked);
    /* the base saw nothing, the gradients were untouched by the no-grad forwards */
    CHECK(m->params->n_grad == 0, "base has gradient slots");
    CHECK(same_floats(ga, lo->params->grad, lo->params->n_grad), "no-grad forwards changed the adapter gradients");
    free(ga);
    pt_ctx_free(ctx);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   4. Training lowers the loss and never touches the base
   --------------------------------------------------------------------------------------------- */
static void test_training(void)
{
    pt_model *m = make_model(std_cfg(0), 400);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(8, 16.0f, 0, 0.0f, "*", 41);
    int tok[4 * 16], tgt[4 * 16], i;
    pt_rng rng;
    pt_batch b;
    float *base;
    double L0, L = 0, Lend;
    printf("4. training\n");
    pt_rng_seed(&rng, 42); rand_tokens(tok, 64, &rng); rand_tokens(tgt, 64, &rng);
    b = mkbatch(4, 16, tok, tgt);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach: %s", pt_last_error());
    base = copy_floats(m->params->data, m->params->n_data);
    L0 = loss_of(m, ctx, &b, 1);
    for (i = 0; i < 30; i++) {
        L = lora_step(m, ctx, &b, 3e-2f);
        CHECK(isfinite(L), "step %d loss %g", i, L);
    }
    Lend = loss_of(m, ctx, &b, 0);
    printf("  loss %.4f -> %.4f (last step %.4f)\n", L0, Lend, L);
    CHECK(Lend < 0.6 * L0, "30 LoRA steps: loss %.4f -> %.4f, expected below 0.6 x", L0, Lend);
    CHECK(same_floats(base, m->params->data, m->params->n_data), "training changed base weights");
    CHECK(m->params->n_grad == 0, "base has gradient slots after training");
    CHECK(m->lora->params->step == 30, "adapter optimizer step count %lld", (long long)m->lora->params->step);
    /* the reported norm is the global norm of the adapter gradients */
    {
        pt_tensor *l = pt_model_loss(ctx, m, &b);
        double norm = -1, want;
        float *before;
        pt_adamw_config opt;
        memset(&opt, 0, sizeof opt);
        CHECK(l && pt_backward(ctx, l) == PT_OK, "backward");
        want = pt_grad_norm(m->lora->params);
        before = copy_floats(m->lora->params->data, m->lora->params->n_data);
        /* a NaN gradient: refused, nothing changes */
        m->lora->params->grad[3] = NAN;
        CHECK(pt_model_optimizer_step(m, &opt, 1e-2f, 1.0f, &norm) == PT_ERR_NONFINITE, "NaN gradient not refused");
        CHECK(same_floats(before, m->lora->params->data, m->lora->params->n_data) && m->lora->params->step == 30, "refused step changed the adapters");
        m->lora->params->grad[3] = 0.0f;
        want = pt_grad_norm(m->lora->params);
        CHECK(pt_model_optimizer_step(m, &opt, 1e-2f, 0.0f, &norm) == PT_OK, "step: %s", pt_last_error());
        CHECK(fabs(norm - want) <= 1e-12 * want, "norm_out %.12g vs adapter grad norm %.12g", norm, want);
        CHECK(!same_floats(before, m->lora->params->data, m->lora->params->n_data), "a step changed nothing");
        CHECK(same_floats(base, m->params->data, m->params->n_data), "a step changed base weights");
        free(before);
        pt_model_zero_grad(m);
        pt_ctx_reset(ctx);
    }
    /* clipping: the gradients are scaled in place to the max norm before AdamW */
    {
        pt_tensor *l = pt_model_loss(ctx, m, &b);
        double norm = 0;
        CHECK(l && pt_backward(ctx, l) == PT_OK, "backward");
        CHECK(pt_model_optimizer_step(m, NULL, 1e-3f, 1e-3f, &norm) == PT_OK, "clipped step: %s", pt_last_error());
        CHECK(norm > 1e-3, "pre-clip norm %g", norm);
        CHECK_NEAR(pt_grad_norm(m->lora->params), 1e-3, 1e-9, "adapter gradient norm after clipping to 1e-3");
        pt_model_zero_grad(m);
        pt_ctx_reset(ctx);
    }
    /* base tensors unfrozen next to the adapters: one global norm, both trained */
    {
        pt_tensor *l;
        double norm = 0, a, ad;
        int64_t j;
        float *before = copy_floats(m->params->data, m->params->n_data);
        pt_param *nw = pt_params_find(m->params, "layers.0.ffn_norm");
        CHECK(pt_params_set_trainable(m->params, "*norm", 1) == 5, "unfreeze the 5 norm weights");
        l = pt_model_loss(ctx, m, &b);
        CHECK(l && pt_backward(ctx, l) == PT_OK, "backward with norms trainable");
        a = pt_grad_norm(m->params); ad = pt_grad_norm(m->lora->params);
        CHECK(a > 0 && ad > 0, "both base norms and adapters get gradients (%g, %g)", a, ad);
        CHECK(pt_model_optimizer_step(m, NULL, 1e-2f, 1e-4f, &norm) == PT_OK, "joint step");
        CHECK(fabs(norm - sqrt(a * a + ad * ad)) <= 1e-9 * norm, "joint norm %.12g vs sqrt(a^2+b^2) %.12g", norm, sqrt(a * a + ad * ad));
        CHECK_NEAR(sqrt(pt_grad_norm(m->params) * pt_grad_norm(m->params) + pt_grad_norm(m->lora->params) * pt_grad_norm(m->lora->params)), 1e-4, 1e-9,
                   "global norm after clipping base + adapters to 1e-4");
        CHECK(nw && memcmp(nw->t.data, before + nw->offset, (size_t)nw->t.size * sizeof(float)) != 0, "the unfrozen norm weight did not move");
        for (j = 0; j < m->params->count; j++) {
            pt_param *p = m->params->items[j];
            if (pt_glob_match("*norm", p->name)) continue;
            CHECK(memcmp(p->t.data, before + p->offset, (size_t)p->t.size * sizeof(float)) == 0, "frozen %s moved", p->name);
        }
        free(before);
        pt_model_zero_grad(m);
        pt_ctx_reset(ctx);
    }
    free(base);
    pt_ctx_free(ctx);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   5. Merge / unmerge, and the KV-cache forward with an unmerged adapter
   --------------------------------------------------------------------------------------------- */
static void test_merge_and_inference(void)
{
    pt_model *m = make_model(std_cfg(1), 500);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(4, 8.0f, 0, 0.0f, "*", 51);
    int tok[2 * 12], i, s, V = 272, st;
    int64_t n = (int64_t)24 * 272;
    float *unmerged, *merged, *w0, *wm;
    pt_rng rng;
    printf("5. merge / unmerge and KV-cache inference\n");
    pt_rng_seed(&rng, 52); rand_tokens(tok, 24, &rng);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach: %s", pt_last_error());
    randomize_b(m, 0.3f, 53);
    w0 = copy_floats(m->params->data, m->params->n_data);
    unmerged = logits_of(m, ctx, tok, 2, 12);
    {
        float *base;
        pt_lora *keep = m->lora;
        m->lora = NULL;
        base = logits_of(m, ctx, tok, 2, 12);
        m->lora = keep;
        CHECK(rel_err(unmerged, base, n) > 1e-2, "the adapters barely change the logits (rel %g): not a test", rel_err(unmerged, base, n));
        free(base);
    }
    CHECK(pt_lora_unmerge(m) == PT_ERR_ARG, "unmerge when not merged is an error");
    CHECK(same_floats(w0, m->params->data, m->params->n_data), "a refused unmerge changed the weights");
    st = pt_lora_merge(m);
    CHECK(st == PT_OK && m->lora->merged == 1, "merge: %s", pt_last_error());
    /* W' - W == s B A, computed here in double */
    {
        double worst = 0;
        for (s = 0; s < 14; s++) {
            pt_tensor *w = slot_w(m, s), *A = m->lora->a[s], *B = m->lora->b[s];
            int o, in, r, R = m->lora->rank, IN = w->shape[1];
            int64_t off = w->data - m->params->data;
            for (o = 0; o < w->shape[0]; o++)
                for (in = 0; in < IN; in++) {
                    double d = 0, got;
                    for (r = 0; r < R; r++) d += (double)B->data[o * R + r] * (double)A->data[r * IN + in];
                    got = (double)w->data[o * IN + in] - (double)w0[off + o * IN + in];
                    if (fabs(got - 2.0 * d) > worst) worst = fabs(got - 2.0 * d);
                }
        }
        CHECK(worst <= 1e-6, "merged W - W differs from s B A by %g", worst);
    }
    {   /* only the targeted matrices changed: norms, embeddings, output stay */
        const char *keep[4] = {"tok_embeddings", "output", "norm", "layers.1.attn_norm"};
        for (i = 0; i < 4; i++) {
            pt_param *p = pt_params_find(m->params, keep[i]);
            CHECK(p && memcmp(p->t.data, w0 + p->offset, (size_t)p->t.size * sizeof(float)) == 0, "merge changed %s", keep[i]);
        }
    }
    wm = copy_floats(m->params->data, m->params->n_data);
    merged = logits_of(m, ctx, tok, 2, 12);
    CHECK(rel_err(merged, unmerged, n) <= 1e-5, "merged vs unmerged logits rel %g", rel_err(merged, unmerged, n));
    CHECK(pt_lora_merge(m) == PT_ERR_ARG, "merging twice is an error");
    CHECK(same_floats(wm, m->params->data, m->params->n_data), "a refused merge changed the weights");
    CHECK(pt_lora_attach(m, &c) == PT_ERR_ARG, "attach while merged is an error");
    CHECK(m->lora && m->lora->merged, "refused attach kept the merged adapters");
    {   /* the KV-cache path with a merged adapter uses W' alone */
        pt_kv_cache *kv = pt_kv_new(m, 1, 12);
        float lg[272];
        int seq0 = 0;
        double worst = 0;
        for (i = 0; i < 12; i++) {
            pt_model_step(m, kv, 1, &seq0, &tok[i], lg);
            if (rel_err(lg, merged + (int64_t)i * V, V) > worst) worst = rel_err(lg, merged + (int64_t)i * V, V);
        }
        CHECK(worst <= 1e-5, "KV-cache vs training forward, merged: rel %g", worst);
        pt_kv_free(kv);
    }
    st = pt_lora_unmerge(m);
    CHECK(st == PT_OK && m->lora->merged == 0, "unmerge: %s", pt_last_error());
    {
        double worst = 0;
        int64_t j;
        for (j = 0; j < m->params->n_data; j++) if (fabs((double)m->params->data[j] - (double)w0[j]) > worst) worst = fabs((double)m->params->data[j] - (double)w0[j]);
        CHECK(worst <= 1e-6, "unmerge restores the weights to %g, expected <= 1e-6", worst);
        printf("  unmerge(merge(W)) - W: max %.3g\n", worst);
    }
    CHECK(pt_lora_unmerge(m) == PT_ERR_ARG, "unmerging twice is an error");
    free(merged); free(wm);

    /* KV-cache inference with the unmerged adapter (the LoRA rows in pt__step_rows) */
    {
        pt_kv_cache *kv = pt_kv_new(m, 1, 12);
        float lg[272], *ref = logits_of(m, ctx, tok, 2, 12);
        int seq0 = 0;
        double worst = 0;
        CHECK(rel_err(ref, unmerged, n) <= 1e-6, "logits after merge+unmerge: rel %g", rel_err(ref, unmerged, n));
        for (i = 0; i < 12; i++) {
            st = pt_model_step(m, kv, 1, &seq0, &tok[i], lg);
            if (st != PT_OK) break;
            if (rel_err(lg, unmerged + (int64_t)i * V, V) > worst) worst = rel_err(lg, unmerged + (int64_t)i * V, V);
        }
        CHECK(st == PT_OK, "pt_model_step: %s", pt_last_error());
        CHECK(worst <= 1e-5, "KV-cache token by token vs training forward, unmerged adapter: rel %g", worst);
        printf("  token by token: rel %.3g\n", worst);
        free(ref);
        pt_kv_free(kv);
    }
    free(unmerged);
    {   /* many sequences per call: prefill all in one call (rows of one sequence in order), then one
           decode call with a row per sequence; with 2 threads and a pre-packed cache (what
           pt_generate builds) the decode call splits its rows between threads */
        enum { NS = 16, TL = 12, PRE = 3 };
        int seqtok[NS * TL], rows_seq[NS * TL], rows_tok[NS * TL], pass, nr, t;
        float *ref, *lg = (float *)malloc((size_t)NS * TL * V * sizeof(float));
        rand_tokens(seqtok, NS * TL, &rng);
        ref = logits_of(m, ctx, seqtok, NS, TL);
        for (pass = 0; pass < 4; pass++) {
            int threads = pass % 2 ? 2 : 1, packed = pass >= 2;
            pt_kv_cache *kv = pt_kv_new(m, NS, TL);
            double wp = 0, wd = 0;
            pt_set_threads(threads);
            if (packed) pt__kv_prepack(kv, m);   /* internal: the cache pt_generate makes for itself */
            nr = 0;
            for (s = 0; s < NS; s++) for (i = 0; i < PRE; i++) { rows_seq[nr] = s; rows_tok[nr] = seqtok[s * TL + i]; nr++; }
            st = pt_model_step(m, kv, nr, rows_seq, rows_tok, lg);
            CHECK(st == PT_OK, "prefill: %s", pt_last_error());
            for (i = 0; i < nr; i++) {
                double e = rel_err(lg + (int64_t)i * V, ref + ((int64_t)rows_seq[i] * TL + i % PRE) * V, V);
                if (e > wp) wp = e;
            }
            for (t = PRE; t < TL && st == PT_OK; t++) {   /* one call per position, a row per sequence */
                for (s = 0; s < NS; s++) { rows_seq[s] = s; rows_tok[s] = seqtok[s * TL + t]; }
                st = pt_model_step(m, kv, NS, rows_seq, rows_tok, lg);
                CHECK(st == PT_OK, "decode: %s", pt_last_error());
                for (s = 0; s < NS; s++) {
                    double e = rel_err(lg + (int64_t)s * V, ref + ((int64_t)s * TL + t) * V, V);
                    if (e > wd) wd = e;
                }
            }
            CHECK(wp <= 1e-5, "%d threads%s: prefill of %d sequences in one call vs training forward rel %g", threads, packed ? ", packed" : "", NS, wp);
            CHECK(wd <= 1e-5, "%d threads%s: decode of %d sequences per call vs training forward rel %g", threads, packed ? ", packed" : "", NS, wd);
            printf("  %d sequences, %d thread(s)%s: prefill rel %.3g, decode rel %.3g\n", NS, threads, packed ? ", pre-packed (row split)" : "", wp, wd);
            pt_kv_free(kv);
        }
        free(ref); free(lg);
    }
    {   /* pt_generate greedy (own pre-packed cache, row split at 2 threads) vs argmax of the training forward */
        enum { NP = 10, PL = 3, NEW = 8 };
        int pr[NP][PL], lens[NP], th, p, t;
        const int *prompts[NP];
        pt_gen_config g;
        memset(&g, 0, sizeof g);
        g.max_new_tokens = NEW;
        for (p = 0; p < NP; p++) { rand_tokens(pr[p], PL, &rng); prompts[p] = pr[p]; lens[p] = PL; }
        for (th = 1; th <= 2; th++) {
            pt_gen_result r;
            int agree = 0, total = 0, close = 0;
            pt_set_threads(th);
            st = pt_generate(m, prompts, lens, NP, 1, &g, &r);
            CHECK(st == PT_OK, "pt_generate: %s", pt_last_error());
            if (st != PT_OK) continue;
            for (p = 0; p < NP; p++) {
                float *lg = logits_of(m, ctx, r.tokens + (int64_t)p * r.width, 1, r.total_len[p]);
                for (t = r.prompt_len[p]; t < r.total_len[p]; t++) {
                    const float *z = lg + (int64_t)(t - 1) * V;
                    int a = argmax(z, V), got = r.tokens[(int64_t)p * r.width + t];
                    total++;
                    agree += a == got;
                    close += z[got] >= z[a] - 1e-4f * fabsf(z[a]) - 1e-6f;   /* a near-tie may go either way */
                }
                free(lg);
            }
            CHECK(total == NP * NEW, "generated %d tokens", total);
            CHECK(close == total, "%d threads: %d of %d greedy tokens are not the argmax of the training forward", th, total - close, total);
            printf("  pt_generate greedy, %d thread(s): %d/%d tokens = argmax of the training forward\n", th, agree, total);
            pt_gen_result_free(&r);
        }
    }
    pt_set_threads(2);
    free(w0);
    pt_ctx_free(ctx);
    pt_model_free(m);
    {   /* a rank above every dim (48 > 32): the KV-cache LoRA scratch (rows x rank) must fit */
        pt_model *m2 = make_model(std_cfg(0), 510);
        pt_ctx *ctx2 = pt_ctx_new(0);
        pt_lora_config c2 = lcfg(48, 0, 0, 0.0f, "*", 511);
        enum { NS = 9, TL = 5 };
        int seqtok[NS * TL], rows_seq[NS * TL], rows_tok[NS * TL], nr = 0;
        float *ref, *lg2 = (float *)malloc((size_t)NS * TL * V * sizeof(float));
        double w2 = 0;
        CHECK(pt_lora_attach(m2, &c2) == PT_OK, "attach rank 48");
        randomize_b(m2, 0.1f, 512);
        rand_tokens(seqtok, NS * TL, &rng);
        ref = logits_of(m2, ctx2, seqtok, NS, TL);
        for (i = 0; i < TL; i++) for (s = 0; s < NS; s++) { rows_seq[nr] = s; rows_tok[nr] = seqtok[s * TL + i]; nr++; }
        {
            pt_kv_cache *kv = pt_kv_new(m2, NS, TL);
            st = pt_model_step(m2, kv, nr, rows_seq, rows_tok, lg2);   /* interleaved rows of 9 sequences */
            CHECK(st == PT_OK, "rank 48 step: %s", pt_last_error());
            for (i = 0; i < nr; i++) {
                double e = rel_err(lg2 + (int64_t)i * V, ref + ((int64_t)rows_seq[i] * TL + i / NS) * V, V);
                if (e > w2) w2 = e;
            }
            CHECK(w2 <= 1e-5, "rank 48: KV-cache (interleaved rows) vs training forward rel %g", w2);
            pt_kv_free(kv);
        }
        free(ref); free(lg2);
        pt_ctx_free(ctx2);
        pt_model_free(m2);
    }
}

/* ---------------------------------------------------------------------------------------------
   6. Adapter files
   --------------------------------------------------------------------------------------------- */
static pt_model *g_dst;   /* the model the bad files are loaded into */
static float *g_dst_adapters, *g_dst_logits;
static int64_t g_dst_n;
static const int *g_tok;
static const char *g_ref_path;   /* the adapter g_dst holds, to restore it after a wrongly accepted file */

/* Load a bad file into g_dst: must fail with `want` (0 = any error) and leave its adapters as they were. */
static void expect_bad(const char *what, const unsigned char *b, size_t n, int want, pt_ctx *ctx)
{
    const char *path = tmp_path("bad.ptla");
    pt_lora *keep = g_dst->lora;
    float *lg;
    int st;
    if (write_bytes(path, b, n) != 0) { CHECK(0, "cannot write %s", path); return; }
    pt_clear_error();
    st = pt_lora_load(g_dst, path);
    CHECK(st != PT_OK && (want == 0 || st == want), "%s: status %s (%s), expected %s", what, pt_status_name(st),
          st == PT_OK ? "loaded without an error" : pt_last_error(), want ? pt_status_name(want) : "an error");
    CHECK(g_dst->lora == keep && keep && keep->params->n_data == g_dst_n && same_floats(g_dst_adapters, keep->params->data, g_dst_n),
          "%s: the model's adapters changed", what);
    lg = logits_of(g_dst, ctx, g_tok, 2, 12);
    CHECK(same_floats(lg, g_dst_logits, (int64_t)24 * 272), "%s: the model's logits changed", what);
    free(lg);
    if (st == PT_OK && pt_lora_load(g_dst, g_ref_path) != PT_OK) { printf("cannot restore the reference adapter: %s\n", pt_last_error()); exit(2); }
}

static void test_files(void)
{
    pt_model *m = make_model(std_cfg(0), 600), *fresh, *other;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(4, 6.0f, 1, 0.0f, "*.attn.wq,*.attn.wk,*.mlp.w2", 61);
    int tok[2 * 12], tgt[2 * 12], i, st, s;
    int64_t n = (int64_t)24 * 272;
    pt_rng rng;
    pt_batch b;
    float *trained;
    unsigned char *file, *bad;
    size_t fn;
    const char *path = tmp_path("adapter.ptla");
    printf("6. adapter files\n");
    pt_rng_seed(&rng, 62); rand_tokens(tok, 24, &rng); rand_tokens(tgt, 24, &rng);
    g_tok = tok;
    g_ref_path = path;
    b = mkbatch(2, 12, tok, tgt);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach: %s", pt_last_error());
    for (i = 0; i < 10; i++) lora_step(m, ctx, &b, 1e-2f);
    trained = logits_of(m, ctx, tok, 2, 12);
    st = pt_lora_save(m, path);
    CHECK(st == PT_OK, "save: %s", pt_last_error());
    file = read_bytes(path, &fn);
    if (!file) { CHECK(0, "cannot read the saved adapter"); free(trained); pt_ctx_free(ctx); pt_model_free(m); return; }
    {   /* the layout the header documents */
        size_t want = 24 + 8;
        for (s = 0; s < 14; s++) if (m->lora->a[s]) want += 12 + 4 * (size_t)4 * (slot_w(m, s)->shape[0] + slot_w(m, s)->shape[1]);
        CHECK(fn == want, "file size %zu, expected %zu", fn, want);
        CHECK(memcmp(file, "PTLA", 4) == 0 && get_u32(file + 4) == 1 && get_u32(file + 8) == 4 && get_f32(file + 12) == 6.0f &&
              get_u32(file + 16) == 1 && get_u32(file + 20) == 6, "header: magic, version 1, rank 4, alpha 6, rslora 1, count 6");
        CHECK(get_u32(file + 24) == 0 && get_u32(file + 36 + 4 * 4 * 64) == 1, "first slots 0 (wq) and 1 (wk)");
        CHECK(get_u32(file + 28) == 32 && get_u32(file + 32) == 32, "slot 0's shape [out, in] = [32, 32]");
        CHECK(get_f32(file + 36) == m->lora->a[0]->data[0], "A of slot 0 follows its slot and shape");
        CHECK(get_u64(file + fn - 8) == fnv1a(file, fn - 8), "trailing FNV-1a checksum");
    }
    /* a fresh base + load == the trained adapted model, bit for bit */
    fresh = make_model(std_cfg(0), 600);
    st = pt_lora_load(fresh, path);
    CHECK(st == PT_OK, "load into a fresh model: %s", pt_last_error());
    if (st == PT_OK) {
        float *lg = logits_of(fresh, ctx, tok, 2, 12);
        CHECK(same_floats(lg, trained, n), "loaded adapter logits differ from the trained model's (rel %g)", rel_err(lg, trained, n));
        CHECK(fresh->lora->rank == 4 && fresh->lora->rslora == 1 && fresh->lora->alpha == 6.0f && fresh->lora->scale == m->lora->scale &&
              fresh->lora->count == 6 && fresh->lora->merged == 0, "loaded rank/alpha/rslora/scale/count");
        CHECK(fresh->lora->params->n_data == m->lora->params->n_data && same_floats(fresh->lora->params->data, m->lora->params->data, m->lora->params->n_data),
              "loaded adapter values differ");
        CHECK(pt_params_count(fresh->params, 1) == 0, "loading froze the base");
        CHECK(pt_params_count(fresh->lora->params, 1) == pt_params_count(m->lora->params, 1), "loaded adapters are trainable");
        free(lg);
    }
    pt_model_free(fresh);
    /* loading replaces existing adapters (other rank and targets) */
    fresh = make_model(std_cfg(0), 600);
    {
        pt_lora_config c2 = lcfg(2, 0, 0, 0.3f, "*", 9);
        CHECK(pt_lora_attach(fresh, &c2) == PT_OK, "attach other adapters");
        randomize_b(fresh, 0.3f, 10);
        st = pt_lora_load(fresh, path);
        CHECK(st == PT_OK, "load over existing adapters: %s", pt_last_error());
        if (st == PT_OK) {
            float *lg = logits_of(fresh, ctx, tok, 2, 12);
            CHECK(fresh->lora->rank == 4 && fresh->lora->count == 6 && fresh->lora->dropout == 0.0f, "replaced: rank %d count %d", fresh->lora->rank, fresh->lora->count);
            for (s = 0; s < 14; s++) CHECK((fresh->lora->a[s] != NULL) == (m->lora->a[s] != NULL), "replaced: slot %d", s);
            CHECK(same_floats(lg, trained, n), "logits after loading over other adapters differ (rel %g)", rel_err(lg, trained, n));
            free(lg);
        }
        CHECK(pt_lora_merge(fresh) == PT_OK, "merge the loaded adapters");
        CHECK(pt_lora_load(fresh, path) == PT_ERR_ARG, "loading while merged is an error");
        CHECK(fresh->lora && fresh->lora->merged, "refused load kept the merged adapters");
        CHECK(pt_lora_unmerge(fresh) == PT_OK, "unmerge");
    }

    /* bad files: loaded into `fresh`, whose adapters must survive each one */
    g_dst = fresh;
    g_dst_n = fresh->lora->params->n_data;
    g_dst_adapters = copy_floats(fresh->lora->params->data, g_dst_n);
    g_dst_logits = logits_of(fresh, ctx, tok, 2, 12);
    bad = (unsigned char *)malloc(fn + 64);
    {
        size_t cuts[] = {0, 1, 4, 8, 23, 24, 28, 31, 32, 33, 100, 0, 0, 0, 0};
        int nc = 11;
        char what[96];
        cuts[nc++] = fn / 2; cuts[nc++] = fn - 9; cuts[nc++] = fn - 8; cuts[nc++] = fn - 1;
        for (i = 0; i < nc; i++) {
            snprintf(what, sizeof what, "truncated to %zu of %zu bytes", cuts[i], fn);
            expect_bad(what, file, cuts[i], PT_ERR_FORMAT, ctx);
        }
        {   /* truncated in the middle of the adapters, checksum made valid */
            memcpy(bad, file, fn / 2);
            fix_checksum(bad, fn / 2);
            expect_bad("truncated to half, checksum recomputed", bad, fn / 2, PT_ERR_FORMAT, ctx);
        }
        {
            size_t at[] = {0, 5, 9, 13, 17, 21, 25, 40, 0, 0, 0};
            int na = 8;
            at[na++] = fn / 2; at[na++] = fn - 9; at[na++] = fn - 1;
            for (i = 0; i < na; i++) {
                memcpy(bad, file, fn);
                bad[at[i]] ^= 0x10;
                snprintf(what, sizeof what, "byte %zu flipped", at[i]);
                expect_bad(what, bad, fn, PT_ERR_FORMAT, ctx);
            }
        }
    }
    memcpy(bad, file, fn); memcpy(bad, "PTLB", 4); fix_checksum(bad, fn);
    expect_bad("wrong magic (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 4, 2); fix_checksum(bad, fn);
    expect_bad("version 2 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 4, 0); fix_checksum(bad, fn);
    expect_bad("version 0 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 8, 0); fix_checksum(bad, fn);
    expect_bad("rank 0 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 8, 2); fix_checksum(bad, fn);
    expect_bad("rank 2 in a rank-4 file (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 8, 0xFFFFFFFFu); fix_checksum(bad, fn);
    expect_bad("rank 2^32-1 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_f32(bad + 12, -1.0f); fix_checksum(bad, fn);
    expect_bad("alpha -1 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_f32(bad + 12, NAN); fix_checksum(bad, fn);
    expect_bad("alpha NaN (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 16, 2); fix_checksum(bad, fn);
    expect_bad("rslora 2 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 20, 0); fix_checksum(bad, fn);
    expect_bad("count 0 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 20, 5); fix_checksum(bad, fn);
    expect_bad("count 5 of 6 adapters (extra bytes, checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 20, 7); fix_checksum(bad, fn);
    expect_bad("count 7 of 6 adapters (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 20, 15); fix_checksum(bad, fn);
    expect_bad("count 15 > 14 slots (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn - 8); memset(bad + fn - 8, 0, 4); memset(bad + fn - 4, 0, 8); fix_checksum(bad, fn + 4);
    expect_bad("4 extra bytes after the adapters (checksum recomputed)", bad, fn + 4, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 24, 14); fix_checksum(bad, fn);
    expect_bad("slot 14 out of range for 2 layers (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    memcpy(bad, file, fn); put_u32(bad + 24, 0xFFFFFFFFu); fix_checksum(bad, fn);
    expect_bad("slot 2^32-1 (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
    {   /* slots: 0 (wq), 1 (wk), 5 (w2), 7 (wq), 8 (wk), 12 (w2). Repeat slot 0 at the place of slot 7
           (same shape, so only the repetition is wrong) */
        size_t a0 = 24, sz_wq = 12 + 4 * 4 * 64, sz_wk = 12 + 4 * 4 * 48, sz_w2 = 12 + 4 * 4 * 96, at7 = a0 + sz_wq + sz_wk + sz_w2;
        CHECK(get_u32(file + at7) == 7, "slot 7 at byte %zu (layout)", at7);
        memcpy(bad, file, fn); put_u32(bad + at7, 0); fix_checksum(bad, fn);
        expect_bad("slot 0 repeated (checksum recomputed)", bad, fn, PT_ERR_FORMAT, ctx);
        memcpy(bad, file, fn); put_u32(bad + at7, 3); fix_checksum(bad, fn);   /* wo: same [32, 32] as wq: a valid file */
        CHECK(write_bytes(tmp_path("renumbered.ptla"), bad, fn) == 0, "write");
        st = pt_lora_load(g_dst, tmp_path("renumbered.ptla"));
        CHECK(st == PT_OK && g_dst->lora->a[3] && !g_dst->lora->a[7], "slot 7 renumbered as 3 (same shape) loads: %s", pt_last_error());
        /* back to the reference adapters for the remaining cases */
        CHECK(pt_lora_load(g_dst, path) == PT_OK, "reload");
        free(g_dst_adapters); free(g_dst_logits);
        g_dst_n = g_dst->lora->params->n_data;
        g_dst_adapters = copy_floats(g_dst->lora->params->data, g_dst_n);
        g_dst_logits = logits_of(g_dst, ctx, tok, 2, 12);
    }
    /* an adapter from a model with other dims */
    {
        const char *op = tmp_path("other.ptla");
        unsigned char *ob;
        size_t on;
        pt_lora_config oc = lcfg(4, 6.0f, 1, 0.0f, "*.attn.wq,*.attn.wk,*.mlp.w2", 61);
        other = make_model(mkcfg(48, 2, 6, 2, 64, 272, 32, 0), 601);   /* dim 48: every shape differs */
        CHECK(pt_lora_attach(other, &oc) == PT_OK && pt_lora_save(other, op) == PT_OK, "save the other model's adapter");
        ob = read_bytes(op, &on);
        if (ob) expect_bad("adapter of a dim-48 model", ob, on, PT_ERR_FORMAT, ctx);
        free(ob);
        pt_model_free(other);
        other = make_model(mkcfg(32, 3, 4, 2, 64, 272, 32, 0), 602);   /* 3 layers: slots 14.. do not exist here */
        oc.targets = "layers.2.*";
        CHECK(pt_lora_attach(other, &oc) == PT_OK && pt_lora_save(other, op) == PT_OK, "save the 3-layer model's adapter");
        ob = read_bytes(op, &on);
        if (ob) expect_bad("adapter of layer 2 of a 3-layer model", ob, on, PT_ERR_FORMAT, ctx);
        free(ob);
        pt_model_free(other);
        /* Same file size but other shapes: wk of a dim-24 model with 3 heads and 3 kv heads is
           [24, 24] (in + out = 48), ours is [16, 32] (in + out = 48 too). The file has the right
           length for this model, but its A is [4, 24] and ours [4, 32]: it is not this model's
           adapter and must be rejected (the header says "validated against the model on load"). */
        other = make_model(mkcfg(24, 2, 3, 3, 64, 272, 32, 0), 603);
        oc.targets = "*.attn.wk";
        CHECK(pt_lora_attach(other, &oc) == PT_OK && pt_lora_save(other, op) == PT_OK, "save the dim-24 model's wk adapter");
        CHECK(other->lora->a[1]->shape[1] == 24 && other->lora->b[1]->shape[0] == 24, "dim-24 wk adapter is A [4, 24], B [24, 4]");
        ob = read_bytes(op, &on);
        if (ob) expect_bad("wk adapter of a dim-24 model (same byte size, other shapes)", ob, on, PT_ERR_FORMAT, ctx);
        free(ob);
        pt_model_free(other);
    }
    {   /* not adapter files */
        const char *ck = tmp_path("model.ptck");
        unsigned char *cb;
        size_t cn;
        CHECK(pt_model_save(g_dst, ck, 0) == PT_OK, "save a model checkpoint");
        cb = read_bytes(ck, &cn);
        if (cb) expect_bad("a model checkpoint", cb, cn, PT_ERR_FORMAT, ctx);
        free(cb);
    }
    {
        pt_lora *keep = g_dst->lora;
        st = pt_lora_load(g_dst, tmp_path("does_not_exist.ptla"));
        CHECK(st == PT_ERR_IO, "nonexistent path: %s", pt_status_name(st));
        st = pt_lora_load(g_dst, g_dir);
        CHECK(st == PT_ERR_IO, "a directory: %s", pt_status_name(st));
        CHECK(g_dst->lora == keep && same_floats(g_dst_adapters, keep->params->data, g_dst_n), "failed opens changed the adapters");
        st = pt_lora_save(g_dst, "/nonexistent_dir_pt/x.ptla");
        CHECK(st == PT_ERR_IO, "save into a missing directory: %s", pt_status_name(st));
    }
    /* the untouched model still round-trips after all that */
    st = pt_lora_load(g_dst, path);
    {
        float *lg = logits_of(g_dst, ctx, tok, 2, 12);
        /* not bit-equal to `trained`: this model went through merge + unmerge, which restores W to ~1e-8 only */
        CHECK(st == PT_OK && same_floats(lg, g_dst_logits, n) && rel_err(lg, trained, n) <= 1e-5, "final reload: %s, rel %g", pt_status_name(st), rel_err(lg, trained, n));
        free(lg);
    }
    free(g_dst_adapters); free(g_dst_logits);
    free(bad); free(file); free(trained);
    pt_model_free(fresh);
    pt_ctx_free(ctx);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   7. Detach; dropout
   --------------------------------------------------------------------------------------------- */
static void test_detach_dropout(void)
{
    pt_model *m = make_model(std_cfg(1), 700);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(4, 8.0f, 0, 0.0f, "*", 71);
    int tok[2 * 12], tgt[2 * 12], i;
    int64_t n = (int64_t)24 * 272;
    pt_rng rng;
    pt_batch b;
    float *base, *lg, *merged;
    printf("7. detach and dropout\n");
    pt_rng_seed(&rng, 72); rand_tokens(tok, 24, &rng); rand_tokens(tgt, 24, &rng);
    b = mkbatch(2, 12, tok, tgt);
    base = logits_of(m, ctx, tok, 2, 12);
    /* detach an unmerged, trained adapter: back to the base, bit for bit */
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach");
    for (i = 0; i < 5; i++) lora_step(m, ctx, &b, 1e-2f);
    lg = logits_of(m, ctx, tok, 2, 12);
    CHECK(!same_floats(lg, base, n), "training changed nothing");
    free(lg);
    pt_lora_detach(m);
    CHECK(m->lora == NULL, "detach leaves m->lora NULL");
    lg = logits_of(m, ctx, tok, 2, 12);
    CHECK(same_floats(lg, base, n), "logits after detach differ from the base (rel %g)", rel_err(lg, base, n));
    free(lg);
    {
        pt_kv_cache *kv = pt_kv_new(m, 1, 12);
        float z[272];
        int seq0 = 0;
        double worst = 0;
        for (i = 0; i < 12; i++) { pt_model_step(m, kv, 1, &seq0, &tok[i], z); if (rel_err(z, base + (int64_t)i * 272, 272) > worst) worst = rel_err(z, base + (int64_t)i * 272, 272); }
        CHECK(worst <= 1e-5, "KV-cache after detach vs base rel %g", worst);
        pt_kv_free(kv);
    }
    pt_lora_detach(m);   /* twice: a no-op */
    pt_lora_detach(NULL);
    CHECK(pt_lora_merge(m) == PT_ERR_ARG && pt_lora_unmerge(m) == PT_ERR_ARG, "merge/unmerge after detach are errors");
    /* detach a merged adapter: the merged weights stay */
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach again");
    randomize_b(m, 0.3f, 73);
    CHECK(pt_lora_merge(m) == PT_OK, "merge");
    merged = logits_of(m, ctx, tok, 2, 12);
    pt_lora_detach(m);
    lg = logits_of(m, ctx, tok, 2, 12);
    CHECK(same_floats(lg, merged, n), "detach of a merged adapter changed the weights");
    CHECK(!same_floats(lg, base, n), "merged weights equal the base: not a test");
    free(lg); free(merged);
    pt_model_free(m);

    /* dropout */
    m = make_model(std_cfg(1), 700);
    c.dropout = 0.5f;
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach with dropout 0.5");
    randomize_b(m, 0.3f, 74);
    {
        double L1 = loss_of(m, ctx, &b, 1), L2 = loss_of(m, ctx, &b, 1), N1 = loss_of(m, ctx, &b, 0), N2 = loss_of(m, ctx, &b, 0), N0;
        float *e1 = logits_of(m, ctx, tok, 2, 12), *e2 = logits_of(m, ctx, tok, 2, 12), *e0;
        CHECK(L1 != L2, "dropout 0.5: two training losses on the same batch are equal (%.9g)", L1);
        CHECK(N1 == N2, "dropout: no-grad losses differ %.9g vs %.9g", N1, N2);
        CHECK(same_floats(e1, e2, n), "dropout: no-grad logits differ between calls");
        m->lora->dropout = 0.0f;
        N0 = loss_of(m, ctx, &b, 0);
        e0 = logits_of(m, ctx, tok, 2, 12);
        m->lora->dropout = 0.5f;
        CHECK(N0 == N1 && same_floats(e0, e1, n), "no-grad forward with dropout differs from the one without (%.9g vs %.9g)", N1, N0);
        CHECK(L1 != N1 && L2 != N1, "training losses equal the no-grad loss: no dropout applied");
        printf("  dropout 0.5: training losses %.5f, %.5f; no-grad %.5f\n", L1, L2, N1);
        /* a training step with dropout runs and moves the adapters */
        {
            float *before = copy_floats(m->lora->params->data, m->lora->params->n_data);
            double L = lora_step(m, ctx, &b, 1e-2f);
            CHECK(isfinite(L) && !same_floats(before, m->lora->params->data, m->lora->params->n_data), "dropout step");
            free(before);
        }
        free(e0); free(e1); free(e2);
    }
    pt_model_free(m);   /* frees the adapters (ASan: no leak) */
    /* inverted dropout: in the linear regime (a tiny B) the mean change of the logits over many
       masks equals the change without dropout (E[mask] = 1); without the 1/(1-p) it would be half */
    m = make_model(std_cfg(1), 701);
    c.dropout = 0.5f;
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach with dropout 0.5");
    randomize_b(m, 1e-3f, 75);
    {
        enum { K = 200 };
        int64_t nn = (int64_t)8 * 272, j;
        float *e_ref = logits_of(m, ctx, tok, 1, 8), *e_base, *mean = (float *)calloc((size_t)nn, sizeof(float));
        pt_lora *keep = m->lora;
        double dot = 0, ref2 = 0, ratio;
        m->lora = NULL; e_base = logits_of(m, ctx, tok, 1, 8); m->lora = keep;
        for (i = 0; i < K; i++) {
            pt_batch bb = mkbatch(1, 8, tok, NULL);
            pt_tensor *lgt = pt_model_logits(ctx, m, &bb);   /* tape on: masks drawn */
            if (!lgt) break;
            for (j = 0; j < nn; j++) mean[j] += (lgt->data[j] - e_base[j]) / (float)K;
            pt_ctx_reset(ctx);
        }
        for (j = 0; j < nn; j++) { double r = (double)e_ref[j] - (double)e_base[j]; dot += mean[j] * r; ref2 += r * r; }
        ratio = ref2 > 0 ? dot / ref2 : 0;
        printf("  dropout 0.5, mean over %d masks / no-dropout change of the logits: %.3f\n", K, ratio);
        CHECK(ref2 > 0 && fabs(ratio - 1.0) < 0.1, "inverted dropout: mean logit change over masks is %.3f x the unmasked one, expected 1", ratio);
        free(e_ref); free(e_base); free(mean);
    }
    pt_model_free(m);
    free(base);
    pt_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
   9. Out of memory: every allocation of attach, load and merge made to fail in turn (PT_MALLOC)
   --------------------------------------------------------------------------------------------- */
static void test_oom(void)
{
    pt_model *m = make_model(std_cfg(0), 900);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(4, 8.0f, 0, 0.0f, "*", 91);
    int tok[12], k, st, fails;
    int64_t full = pt_params_count(m->params, 1), nd;
    float *w0, *lg0, *ad0, *lg;
    pt_rng rng;
    const char *path = tmp_path("oom.ptla");
    printf("9. out of memory in attach, load, merge\n");
    pt_rng_seed(&rng, 92); rand_tokens(tok, 12, &rng);
    w0 = copy_floats(m->params->data, m->params->n_data);
    lg0 = logits_of(m, ctx, tok, 1, 12);
    /* attach on a model without adapters: a failure leaves it as it was (no adapters, trainable) */
    {
        int bad_st = 0, bad_lora = 0, bad_frozen = -1, n_frozen = 0;
        for (k = 0, fails = 0; k < 200; k++) {
            arm_failure(k); st = pt_lora_attach(m, &c); disarm_failure();
            if (st == PT_OK && !t_failed) break;
            fails++;
            bad_st += st != PT_ERR_NOMEM;
            bad_lora += m->lora != NULL;
            if (pt_params_count(m->params, 1) != full) { if (bad_frozen < 0) bad_frozen = k; n_frozen++; }
            if (m->lora) pt_lora_detach(m);
            if (pt_params_count(m->params, 1) != full) pt_params_set_trainable(m->params, "*", 1);   /* repair, go on */
        }
        CHECK(fails >= 3 && m->lora != NULL, "attach: %d failing allocations, then success", fails);
        CHECK(bad_st == 0 && bad_lora == 0, "attach under OOM: %d wrong statuses, %d attached anyway", bad_st, bad_lora);
        CHECK(n_frozen == 0, "attach under OOM: %d of %d failing allocations (first: #%d, the gradient layout of the freeze) "
              "return PT_ERR_NOMEM but leave the whole base frozen (pt_params_count(m->params, 1) == 0 of %lld)",
              n_frozen, fails, bad_frozen, (long long)full);
    }
    if (!m->lora) { free(w0); free(lg0); pt_ctx_free(ctx); pt_model_free(m); return; }
    randomize_b(m, 0.3f, 93);
    CHECK(pt_lora_save(m, path) == PT_OK, "save");
    nd = m->lora->params->n_data;
    ad0 = copy_floats(m->lora->params->data, nd);
    lg = logits_of(m, ctx, tok, 1, 12);
    /* merge: a failure must leave the weights unmerged (else the branch and W' both add s B A) */
    {
        int bad_st = 0, n_changed = 0, first = -1;
        for (k = 0, fails = 0; k < 100; k++) {
            arm_failure(k); st = pt_lora_merge(m); disarm_failure();
            if (st == PT_OK && !t_failed) break;
            fails++;
            bad_st += st != PT_ERR_NOMEM || m->lora->merged != 0;
            if (!same_floats(w0, m->params->data, m->params->n_data)) {
                if (first < 0) first = k;
                n_changed++;
                memcpy(m->params->data, w0, (size_t)m->params->n_data * sizeof(float));   /* repair, go on */
            }
        }
        CHECK(fails >= 1 && m->lora->merged == 1, "merge: %d failing allocations, then success", fails);
        CHECK(bad_st == 0, "merge under OOM: %d wrong statuses / merged flags", bad_st);
        CHECK(n_changed == 0, "merge under OOM: %d of %d failing allocations (first: #%d) return PT_ERR_NOMEM with merged = 0 "
              "but have already folded s B A into the earlier matrices", n_changed, fails, first);
    }
    {
        int bad_st = 0, n_changed = 0, first = -1;
        float *wm = copy_floats(m->params->data, m->params->n_data);
        for (k = 0, fails = 0; k < 100; k++) {
            arm_failure(k); st = pt_lora_unmerge(m); disarm_failure();
            if (st == PT_OK && !t_failed) break;
            fails++;
            bad_st += st != PT_ERR_NOMEM || m->lora->merged != 1;
            if (!same_floats(wm, m->params->data, m->params->n_data)) {
                if (first < 0) first = k;
                n_changed++;
                memcpy(m->params->data, wm, (size_t)m->params->n_data * sizeof(float));
            }
        }
        CHECK(m->lora->merged == 0, "unmerge succeeded in the end");
        CHECK(bad_st == 0, "unmerge under OOM: %d wrong statuses / merged flags", bad_st);
        CHECK(n_changed == 0, "unmerge under OOM: %d of %d failing allocations (first: #%d) return PT_ERR_NOMEM with merged = 1 "
              "but have already taken s B A out of the earlier matrices", n_changed, fails, first);
        free(wm);
    }
    /* load over existing adapters (other ones): a failure keeps them */
    c = lcfg(2, 0, 0, 0.0f, NULL, 94);
    CHECK(pt_lora_attach(m, &c) == PT_OK, "attach other adapters");
    {
        pt_lora *keep = m->lora;
        float *kd = copy_floats(keep->params->data, keep->params->n_data), *klg = logits_of(m, ctx, tok, 1, 12);
        int bad_st = 0, bad_keep = 0, bad_lg = 0;
        for (k = 0, fails = 0; k < 100; k++) {
            float *l2;
            arm_failure(k); st = pt_lora_load(m, path); disarm_failure();
            if (st == PT_OK && !t_failed) break;
            fails++;
            bad_st += st != PT_ERR_NOMEM;
            if (m->lora != keep || !same_floats(kd, keep->params->data, keep->params->n_data)) { bad_keep++; break; }
            l2 = logits_of(m, ctx, tok, 1, 12);
            bad_lg += !same_floats(l2, klg, 12 * 272);
            free(l2);
        }
        CHECK(fails >= 3 && m->lora && m->lora->params->n_data == nd && same_floats(ad0, m->lora->params->data, nd), "load: %d failing allocations, then the saved adapters", fails);
        CHECK(bad_st == 0 && bad_keep == 0 && bad_lg == 0, "load under OOM: %d wrong statuses, current adapters lost %d, logits changed %d", bad_st, bad_keep, bad_lg);
        free(kd); free(klg);
    }
    {   /* merge + unmerge restore W to ~1e-8, not bit for bit */
        float *l2 = logits_of(m, ctx, tok, 1, 12);
        CHECK(rel_err(l2, lg, 12 * 272) <= 1e-5, "logits after the OOM rounds differ from the adapted model's: rel %g", rel_err(l2, lg, 12 * 272));
        free(l2);
    }
    free(w0); free(lg0); free(ad0); free(lg);
    pt_ctx_free(ctx);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   8. Determinism
   --------------------------------------------------------------------------------------------- */
static float *train_run(int threads, uint64_t seed, int64_t *n)
{
    pt_model *m = make_model(std_cfg(0), 800);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_lora_config c = lcfg(4, 8.0f, 0, 0.1f, "*", seed);   /* dropout draws from the adapter RNG too */
    int tok[4 * 16], tgt[4 * 16], i;
    pt_rng rng;
    pt_batch b;
    float *out;
    pt_set_threads(threads);
    pt_rng_seed(&rng, 81); rand_tokens(tok, 64, &rng); rand_tokens(tgt, 64, &rng);
    b = mkbatch(4, 16, tok, tgt);
    if (pt_lora_attach(m, &c) != PT_OK) { printf("attach: %s\n", pt_last_error()); exit(2); }
    for (i = 0; i < 30; i++) lora_step(m, ctx, &b, 1e-2f);
    *n = m->lora->params->n_data;
    out = copy_floats(m->lora->params->data, *n);
    pt_ctx_free(ctx);
    pt_model_free(m);
    return out;
}
static void test_determinism(void)
{
    int64_t n1, n2, n3, n4, n5;
    float *a1, *a2, *b1, *b2, *c1;
    printf("8. determinism\n");
    a1 = train_run(1, 5, &n1); a2 = train_run(1, 5, &n2);
    b1 = train_run(2, 5, &n3); b2 = train_run(2, 5, &n4);
    c1 = train_run(2, 6, &n5);
    CHECK(n1 == n2 && same_floats(a1, a2, n1), "1 thread: two runs differ");
    CHECK(n3 == n4 && same_floats(b1, b2, n3), "2 threads: two runs differ");
    CHECK(n1 == n3 && same_floats(a1, b1, n1), "1 vs 2 threads: adapters differ (the header promises the same bits)");
    CHECK(n5 == n1 && !same_floats(a1, c1, n1), "another seed gives the same adapters");
    free(a1); free(a2); free(b1); free(b2); free(c1);
    pt_set_threads(2);
}

int main(void)
{
    char templ[] = "/tmp/pt_test_peft_XXXXXX";
    double t0 = pt_time_seconds();
    if (!mkdtemp(templ)) { printf("mkdtemp failed\n"); return 2; }
    snprintf(g_dir, sizeof g_dir, "%s", templ);
    pt_set_threads(2);
#define RUN(fn) do { double ts = pt_time_seconds(); fn(); printf("  (%.2f s)\n", pt_time_seconds() - ts); } while (0)
    RUN(test_init_identity);
    RUN(test_attach);
    RUN(test_gradients);
    RUN(test_training);
    RUN(test_merge_and_inference);
    RUN(test_files);
    RUN(test_detach_dropout);
    RUN(test_determinism);
    RUN(test_oom);
    cleanup_tmp();
    printf("  total %.1f s\n", pt_time_seconds() - t0);
    return test_end("test_peft");
}
