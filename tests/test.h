/* A tiny test harness: CHECK counts, failures print where and why, test_end() prints the line
   "N passed, N failed" and returns the process exit code. Then the helpers the test files share:
   bytes and files, float arrays, and (when posttrain.h was included before this header) tiny
   configs and models, batches, logits, a training step, a pretraining loop and timed sections.
   Every helper is static and marked unused, so a test that does not call one gets no warning;
   all of it compiles as C99 and as C++ (tests/cpp_tu.cpp). POSIX-only helpers are in test_tmp.h. */
#ifndef PT_TEST_H
#define PT_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <math.h>
static int t_pass, t_fail;
#define CHECK(cond, ...) do { if (cond) t_pass++; else { t_fail++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); fflush(stdout); } } while (0)
#define CHECK_NEAR(a, b, tol, what) CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what, (double)(a), (double)(b), (double)(tol))
#if defined(__GNUC__) || defined(__clang__)
#define TEST_MAYBE_UNUSED __attribute__((unused))
#else
#define TEST_MAYBE_UNUSED
#endif
static int test_end(const char *name) { printf("%s: %d passed, %d failed\n", name, t_pass, t_fail); return t_fail ? 1 : 0; }
/* Reference models live outside the repo: $PT_MODELS or ../shared/models. */
TEST_MAYBE_UNUSED static const char *test_models_dir(void) { const char *d = getenv("PT_MODELS"); return d && *d ? d : "../shared/models"; }
/* 1 under AddressSanitizer (gcc or clang): learning loops shrink there. */
#if defined(__SANITIZE_ADDRESS__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif
/* 1 when the library has threads: the test and the implementation it links are built with the same
   flags (the Makefile's OMPFLAGS), so the test's own view of OpenMP is the library's. */
#if defined(_OPENMP) && !defined(PT_NO_OPENMP)
#define T_OPENMP 1
#else
#define T_OPENMP 0
#endif
/* A whole file into a malloc'd buffer (one spare byte); NULL if it cannot be read. */
TEST_MAYBE_UNUSED static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long sz;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    if (b) *n = (size_t)sz;
    return b;
}
/* Writes n bytes to path (n may be 0: an empty file); 0 on success, -1 (and a message) if not. */
TEST_MAYBE_UNUSED static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t w;
    if (!f) { printf("cannot write %s\n", path); return -1; }
    w = n ? fwrite(p, 1, n, f) : 0;
    if (fclose(f) != 0) return -1;
    return w == n ? 0 : -1;
}
/* Up to max lines of a text file (each with its newline; a line longer than 255 bytes continues in
   the next entry); the count, -1 if the file cannot be read. */
TEST_MAYBE_UNUSED static int read_lines(const char *path, char lines[][256], int max)
{
    FILE *f = fopen(path, "r");
    int n = 0;
    if (!f) return -1;
    while (n < max && fgets(lines[n], 256, f)) n++;
    fclose(f);
    return n;
}
TEST_MAYBE_UNUSED static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* Little-endian fields and the files' checksum, computed here independently of the library: FNV-1a
   64 over every byte but the last 8, stored little-endian in those 8. */
TEST_MAYBE_UNUSED static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}
TEST_MAYBE_UNUSED static void fix_checksum(unsigned char *b, size_t n)
{
    uint64_t h = fnv1a(b, n - 8);
    int i;
    for (i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(h >> (8 * i));
}
TEST_MAYBE_UNUSED static void put_u32(unsigned char *p, uint32_t v) { int i; for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
TEST_MAYBE_UNUSED static void put_u64(unsigned char *p, uint64_t v) { int i; for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
TEST_MAYBE_UNUSED static void put_f32(unsigned char *p, float f) { uint32_t u; memcpy(&u, &f, 4); put_u32(p, u); }
TEST_MAYBE_UNUSED static uint32_t get_u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
TEST_MAYBE_UNUSED static uint64_t get_u64(const unsigned char *p) { return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }
TEST_MAYBE_UNUSED static float get_f32(const unsigned char *p) { uint32_t u = get_u32(p); float f; memcpy(&f, &u, 4); return f; }

/* Float arrays: a malloc'd copy (n may be 0), bitwise equality (NULL is never equal), the error
   max |a - b| / max(min_scale, max |b|) (NaN propagates as a failure; NULL gives infinity) and with
   min_scale 0 the relative error, the argmax. */
TEST_MAYBE_UNUSED static float *copy_floats(const float *p, int64_t n)
{
    float *c = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (n > 0) memcpy(c, p, (size_t)n * sizeof(float));
    return c;
}
TEST_MAYBE_UNUSED static int same_floats(const float *a, const float *b, int64_t n) { return a && b && memcmp(a, b, (size_t)n * sizeof(float)) == 0; }
TEST_MAYBE_UNUSED static double scaled_err(const float *a, const float *b, int64_t n, double min_scale)
{
    double md = 0, mb = min_scale;
    int64_t i;
    if (!a || !b) return INFINITY;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= md)) md = d;
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    return mb > 0 ? md / mb : md;
}
TEST_MAYBE_UNUSED static double rel_err(const float *a, const float *b, int64_t n) { return scaled_err(a, b, n, 0.0); }
TEST_MAYBE_UNUSED static int argmax(const float *z, int n) { int i, b = 0; for (i = 1; i < n; i++) if (z[i] > z[b]) b = i; return b; }

/* PT_TEST_SEED=k shifts the learning tests' seeds by k: how their thresholds were measured over
   several runs (the suite itself always runs k = 0, so it is deterministic). */
TEST_MAYBE_UNUSED static uint64_t seed_shift(void) { const char *e = getenv("PT_TEST_SEED"); return e ? (uint64_t)atoi(e) : 0; }
#endif

/* ---------------------------------------------------------------------------------------------
   Helpers over the posttrain.h API: defined when posttrain.h was included before this header.
   --------------------------------------------------------------------------------------------- */
#if defined(POSTTRAIN_H) && !defined(PT_TEST_H_MODEL)
#define PT_TEST_H_MODEL
TEST_MAYBE_UNUSED static pt_config mkcfg(int dim, int layers, int heads, int kv, int hidden, int vocab, int seq, int untied)
{
    pt_config c;
    memset(&c, 0, sizeof c);
    c.dim = dim; c.n_layers = layers; c.n_heads = heads; c.n_kv_heads = kv; c.hidden_dim = hidden;
    c.vocab_size = vocab; c.seq_len = seq; c.untied = untied;
    return c;
}
/* The standard test model: dim 32, 2 layers, 4 heads over 2 kv heads (GQA, kv_dim 16), hidden 64,
   the byte vocabulary (272), seq_len 32. */
TEST_MAYBE_UNUSED static pt_config std_cfg(int untied) { return mkcfg(32, 2, 4, 2, 64, 272, 32, untied); }

/* A model with non-trivial weights: N(0, 0.1) everywhere, norm weights 1 (exits if it cannot be
   made). The same seed gives the same bits, so a second call is a plain copy of the first. */
TEST_MAYBE_UNUSED static pt_model *make_model(pt_config cfg, uint64_t seed)
{
    pt_model *m = pt_model_new(&cfg, seed);
    pt_rng rng;
    if (!m) { printf("pt_model_new failed: %s\n", pt_last_error()); exit(2); }
    pt_rng_seed(&rng, seed * 7919u + 13u);
    pt_params_init_normal(m->params, "*", 0.1f, &rng);
    pt_params_init_const(m->params, "*norm", 1.0f);
    return m;
}
TEST_MAYBE_UNUSED static pt_lora_config lcfg(int rank, float alpha, int rslora, float dropout, const char *targets, uint64_t seed)
{
    pt_lora_config c;
    memset(&c, 0, sizeof c);
    c.rank = rank; c.alpha = alpha; c.rslora = rslora; c.dropout = dropout; c.targets = targets; c.seed = seed;
    return c;
}
/* Bitwise the same weights (and as many); NULL is never the same. */
TEST_MAYBE_UNUSED static int params_equal(const pt_params *a, const pt_params *b)
{
    return a && b && a->n_data == b->n_data && memcmp(a->data, b->data, (size_t)a->n_data * sizeof(float)) == 0;
}
TEST_MAYBE_UNUSED static int models_equal(const pt_model *a, const pt_model *b) { return a && b && params_equal(a->params, b->params); }
/* n token ids drawn uniformly from lo..hi */
TEST_MAYBE_UNUSED static void rand_tokens(int *t, int n, int lo, int hi, pt_rng *rng) { int i; for (i = 0; i < n; i++) t[i] = pt_rng_int(rng, lo, hi); }
TEST_MAYBE_UNUSED static pt_batch mkbatch(int B, int T, const int *tokens, const int *targets)
{
    pt_batch b;
    memset(&b, 0, sizeof b);
    b.B = B; b.T = T; b.tokens = tokens; b.targets = targets;
    return b;
}
/* Logits of the training forward with the tape off, copied out ([B*T, V], malloc'd); NULL on error
   (pt_last_error says why). pos / seg may be NULL. */
TEST_MAYBE_UNUSED static float *full_logits(pt_model *m, pt_ctx *ctx, const int *tokens, int B, int T, const int *pos, const int *seg)
{
    pt_batch b = mkbatch(B, T, tokens, NULL);
    pt_tensor *lg;
    float *out = NULL;
    b.pos = pos; b.seg = seg;
    pt_ctx_set_grad(ctx, 0);
    lg = pt_model_logits(ctx, m, &b);
    if (lg) out = copy_floats(lg->data, lg->size);
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);
    return out;
}
TEST_MAYBE_UNUSED static float *logits_of(pt_model *m, pt_ctx *ctx, const int *tokens, int B, int T) { return full_logits(m, ctx, tokens, B, T, NULL, NULL); }

/* One training step through the model-level optimizer: the LM loss (+ the mean of the squared head
   values when the model has a scalar head, so the head trains), backward, pt_model_optimizer_step
   (AdamW defaults, clip 1), zero grads. Returns the loss (NaN on error). */
TEST_MAYBE_UNUSED static double model_train_step(pt_model *m, pt_ctx *ctx, const pt_batch *b, float lr)
{
    pt_adamw_config opt;
    pt_tensor *l;
    double L = NAN;
    memset(&opt, 0, sizeof opt);
    pt_ctx_set_grad(ctx, 1);
    l = pt_model_loss(ctx, m, b);
    if (l && m->head) l = pt_add(ctx, l, pt_mean(ctx, pt_square(ctx, pt_model_head_values(ctx, m, b))));
    if (!l) printf("model_train_step: loss failed: %s\n", pt_last_error());
    else if (pt_backward(ctx, l) != PT_OK) printf("model_train_step: backward failed: %s\n", pt_last_error());
    else if (pt_model_optimizer_step(m, &opt, lr, 1.0f, NULL) != PT_OK) printf("model_train_step: optimizer failed: %s\n", pt_last_error());
    else L = l->data[0];
    pt_model_zero_grad(m);
    pt_ctx_reset(ctx);
    return L;
}

/* Pretraining on a token stream (corpus[n]): `steps` steps of B random T-token windows (targets the
   next tokens), gradient clipping to 1, AdamW (defaults) at pt_lr_schedule(warmup 20, 3e-3 ->
   3e-4). A failing step is a failed check and ends the loop. first / last (may be NULL) get the
   loss of the first and of the last step. */
TEST_MAYBE_UNUSED static void pretrain_windows(pt_model *m, pt_ctx *ctx, pt_rng *rng, const int *corpus, int64_t n, int B, int T,
                                               int steps, float *first, float *last)
{
    int *tok = (int *)malloc((size_t)B * T * sizeof(int)), *tgt = (int *)malloc((size_t)B * T * sizeof(int));
    pt_adamw_config opt;
    int s, b;
    memset(&opt, 0, sizeof opt);
    for (s = 0; s < steps; s++) {
        pt_batch bt = mkbatch(B, T, tok, tgt);
        pt_tensor *l;
        for (b = 0; b < B; b++) {
            int at = pt_rng_int(rng, 0, (int)(n - T - 2));
            memcpy(tok + b * T, corpus + at, (size_t)T * sizeof(int));
            memcpy(tgt + b * T, corpus + at + 1, (size_t)T * sizeof(int));
        }
        l = pt_model_loss(ctx, m, &bt);
        if (!l || pt_backward(ctx, l) != PT_OK) { CHECK(0, "step %d: %s", s, pt_last_error()); break; }
        if (s == 0 && first) *first = l->data[0];
        if (last) *last = l->data[0];
        pt_clip_grad_norm(m->params, 1.0f, NULL);
        pt_adamw_step(m->params, &opt, pt_lr_schedule(s, 20, steps, 3e-3f, 3e-4f));
        pt_params_zero_grad(m->params);
        pt_ctx_reset(ctx);
    }
    free(tok); free(tgt);
}

/* One section of a test's main: "== name" (sections that print their own heading pass NULL), the
   section, then its time. */
/* PT_TEST_ONLY="a|b" runs only the sections whose names contain a or b (for measuring thresholds;
   include the sections the chosen ones build on). */
TEST_MAYBE_UNUSED static int test_selected(const char *name)
{
    const char *only = getenv("PT_TEST_ONLY"), *p;
    if (!only || !*only || !name) return 1;
    for (p = only; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        const char *hit = name;
        for (; (hit = strchr(hit, *p)) != NULL; hit++)
            if (strncmp(hit, p, len) == 0) return 1;
        p += len + (bar ? 1 : 0);
    }
    return 0;
}
TEST_MAYBE_UNUSED static void run_timed(const char *name, void (*fn)(void))
{
    double t = pt_time_seconds();
    if (!test_selected(name)) return;
    if (name) printf("== %s\n", name);
    fn();
    printf("  (%.2f s)\n", pt_time_seconds() - t);
}
#define RUN(name, fn) run_timed(name, fn)
/* What the library does to sampled text before it becomes a record or an eval text: every byte
   that does not start a valid UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF)
   becomes '?'. Written here independently of the header's own check. */
TEST_MAYBE_UNUSED static void utf8_sanitize(char *s)
{
    unsigned char *u = (unsigned char *)s;
    size_t i = 0, n = strlen(s);
    while (i < n) {
        size_t k = u[i] < 0x80 ? 1 : u[i] >= 0xC2 && u[i] <= 0xDF ? 2 : u[i] >= 0xE0 && u[i] <= 0xEF ? 3
                                   : u[i] >= 0xF0 && u[i] <= 0xF4 ? 4 : 0, j;
        int ok = k > 0 && i + k <= n;
        for (j = 1; ok && j < k; j++) ok = (u[i + j] & 0xC0) == 0x80;
        if (ok && k == 3) ok = !(u[i] == 0xE0 && u[i + 1] < 0xA0) && !(u[i] == 0xED && u[i + 1] > 0x9F);
        if (ok && k == 4) ok = !(u[i] == 0xF0 && u[i + 1] < 0x90) && !(u[i] == 0xF4 && u[i + 1] > 0x8F);
        if (ok) {
            i += k;
        } else {
            u[i++] = '?';
        }
    }
}

#endif
