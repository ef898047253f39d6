/* Tests for llama2.c interoperability in posttrain.h: the checkpoint import (legacy v0 and v1) and
   export (v0), the BPE tokenizer (tokenizer.bin), and the llama2.c-compatible CLI.

     1. The reference model stories260K.bin + tok512.bin (in $PT_MODELS or ../shared/models; the
        checks are skipped with a loud SKIPPED line when it is absent): config, greedy decoding exactly
        as llama2.c's `run` does equals llama2.c's own output byte for byte, import -> export is
        byte-identical, training forward == KV-cache forward, and the tokenizer (against the model's
        greedy path, an independent re-implementation of llama2.c's encoder, round trips, bytes).
     2. Random llama2.c checkpoints written here by hand (MHA, MQA, GQA, unshared classifier, odd
        dims): every tensor lands where it belongs, forwards agree, export gives back the same bytes,
        v1 loads the same weights as v0, pt_model_load_any picks the format.
     3. Malformed checkpoint headers and files: NULL with an error naming the file, never a crash.
     4. Malformed tokenizer files; a hand-written tokenizer whose merges are worked out by hand.
     5. The CLI build/generate (when built) prints llama2.c's known-good output.

   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_llama2c_XXXXXX, removed at the end.
   One check (byte fallback in a vocabulary without byte tokens) runs in a fork()ed child because the
   bug it looks for reads out of bounds (a crash, or an abort under ASan). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------------------------------
   Helpers: temporary files, a little-endian byte builder
   --------------------------------------------------------------------------------------------- */
#include "test_tmp.h"

typedef struct bbuf { unsigned char *p; size_t n, cap; } bbuf;
static void bb_put(bbuf *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n) cap *= 2;
        b->p = (unsigned char *)realloc(b->p, cap);
        if (!b->p) { printf("out of memory\n"); exit(2); }
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void bb_u32(bbuf *b, uint32_t v) { unsigned char c[4]; put_u32(c, v); bb_put(b, c, 4); }
static void bb_i32(bbuf *b, int32_t v) { bb_u32(b, (uint32_t)v); }
static void bb_f32(bbuf *b, float f) { uint32_t u; memcpy(&u, &f, 4); bb_u32(b, u); }
static void bb_u8(bbuf *b, unsigned v) { unsigned char c = (unsigned char)v; bb_put(b, &c, 1); }
static void bb_free(bbuf *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }
static void set_i32(unsigned char *p, int32_t v) { put_u32(p, (uint32_t)v); }

/* 1 if two files have identical contents (and prints where they differ otherwise). */
static int same_file_bytes(const char *a, const char *b)
{
    unsigned char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0, i;
    int same = 0;
    if (pt_read_file(a, &x, &nx) != PT_OK || pt_read_file(b, &y, &ny) != PT_OK) { printf("  cannot read %s or %s: %s\n", a, b, pt_last_error()); goto done; }
    if (nx != ny) { printf("  %s is %zu bytes, %s is %zu\n", a, nx, b, ny); goto done; }
    same = memcmp(x, y, nx) == 0;
    if (!same) { for (i = 0; i < nx && x[i] == y[i]; i++) {} printf("  %s and %s first differ at byte %zu of %zu\n", a, b, i, nx); }
done:
    pt_free(x); pt_free(y);
    return same;
}

/* ---------------------------------------------------------------------------------------------
   Hand-written llama2.c checkpoints. Every element of every tensor has a known value wval(kind,
   layer, index) (a hash, different for every tensor), so any misplaced tensor shows.
   --------------------------------------------------------------------------------------------- */
typedef struct spec { const char *name; int dim, hidden, layers, heads, kv, vocab, seq, shared; } spec;
enum { K_EMB, K_ATTN_NORM, K_WQ, K_WK, K_WV, K_WO, K_FFN_NORM, K_W1, K_W2, K_W3, K_NORM, K_CLS, K_COUNT };
static const char *kind_name[K_COUNT] = {"tok_embeddings", "attn_norm", "attn.wq", "attn.wk", "attn.wv", "attn.wo",
                                         "ffn_norm", "mlp.w1", "mlp.w2", "mlp.w3", "norm", "output"};
static int kind_layered(int k) { return k != K_EMB && k != K_NORM && k != K_CLS; }
static int64_t kind_size(const spec *s, int k)
{
    int64_t D = s->dim, KVD = (int64_t)s->dim / s->heads * s->kv, Hd = s->hidden, V = s->vocab;
    switch (k) {
    case K_EMB: case K_CLS: return V * D;
    case K_ATTN_NORM: case K_FFN_NORM: case K_NORM: return D;
    case K_WQ: case K_WO: return D * D;
    case K_WK: case K_WV: return KVD * D;
    case K_W1: case K_W3: return Hd * D;
    default: return D * Hd;   /* K_W2 */
    }
}
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
/* The value of element i of tensor `kind` in layer l: scaled so the forward stays O(1). */
static float wval(const spec *s, int kind, int l, int64_t i)
{
    uint64_t h = mix64(((uint64_t)(kind + 1) << 52) ^ ((uint64_t)(l + 1) << 40) ^ (uint64_t)i ^ ((uint64_t)s->dim << 20));
    float u = (float)((double)(h >> 40) / 16777216.0) * 2.0f - 1.0f;   /* [-1, 1) */
    switch (kind) {
    case K_ATTN_NORM: case K_FFN_NORM: case K_NORM: return 1.0f + 0.3f * u;
    case K_EMB: return u;
    case K_CLS: return 0.7f * u;
    case K_W2: return u * 1.5f / sqrtf((float)s->hidden);
    default: return u * 1.5f / sqrtf((float)s->dim);
    }
}
static void put_kind(bbuf *b, const spec *s, int kind, int l)
{
    int64_t i, n = kind_size(s, kind);
    for (i = 0; i < n; i++) bb_f32(b, wval(s, kind, l, i));
}
/* llama2.c's RoPE tables as export.py writes them: cos then sin of t * theta^(-2i/hs). */
static float rope_val(const spec *s, int pass, int t, int i)
{
    int hs = s->dim / s->heads;
    double f = 1.0 / pow(10000.0, (2.0 * i) / hs), a = t * f;
    return (float)(pass == 0 ? cos(a) : sin(a));
}
static int64_t rope_floats(const spec *s) { return (int64_t)s->seq * (s->dim / s->heads); }   /* both tables */
static int64_t weight_floats(const spec *s)
{
    int64_t n = kind_size(s, K_EMB) + kind_size(s, K_NORM) + (s->shared ? 0 : kind_size(s, K_CLS));
    int k;
    for (k = 0; k < K_COUNT; k++) if (kind_layered(k)) n += s->layers * kind_size(s, k);
    return n;
}
static void build_v0(bbuf *b, const spec *s)
{
    int k, l, pass, t, i;
    bb_i32(b, s->dim); bb_i32(b, s->hidden); bb_i32(b, s->layers); bb_i32(b, s->heads); bb_i32(b, s->kv);
    bb_i32(b, s->shared ? s->vocab : -s->vocab); bb_i32(b, s->seq);
    put_kind(b, s, K_EMB, 0);
    for (k = K_ATTN_NORM; k <= K_W3; k++)   /* attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3 */
        for (l = 0; l < s->layers; l++) put_kind(b, s, k, l);
    put_kind(b, s, K_NORM, 0);
    for (pass = 0; pass < 2; pass++)
        for (t = 0; t < s->seq; t++)
            for (i = 0; i < s->dim / s->heads / 2; i++) bb_f32(b, rope_val(s, pass, t, i));
    if (!s->shared) put_kind(b, s, K_CLS, 0);
}
static void build_v1(bbuf *b, const spec *s)
{
    static const int mats[7] = {K_WQ, K_WK, K_WV, K_WO, K_W1, K_W2, K_W3};
    int k, l;
    bb_u32(b, 0x616b3432u); bb_i32(b, 1);
    bb_i32(b, s->dim); bb_i32(b, s->hidden); bb_i32(b, s->layers); bb_i32(b, s->heads); bb_i32(b, s->kv);
    bb_i32(b, s->vocab); bb_i32(b, s->seq);
    bb_u8(b, s->shared ? 1 : 0);
    while (b->n < 256) bb_u8(b, 0);
    for (l = 0; l < s->layers; l++) put_kind(b, s, K_ATTN_NORM, l);
    for (l = 0; l < s->layers; l++) put_kind(b, s, K_FFN_NORM, l);
    put_kind(b, s, K_NORM, 0);
    put_kind(b, s, K_EMB, 0);
    for (k = 0; k < 7; k++)
        for (l = 0; l < s->layers; l++) put_kind(b, s, mats[k], l);
    if (!s->shared) put_kind(b, s, K_CLS, 0);
}
static pt_tensor *model_tensor(pt_model *m, int kind, int l)
{
    pt_layer *y = &m->layers[l];
    switch (kind) {
    case K_EMB: return m->tok_embeddings;
    case K_ATTN_NORM: return y->attn_norm;
    case K_WQ: return y->wq;
    case K_WK: return y->wk;
    case K_WV: return y->wv;
    case K_WO: return y->wo;
    case K_FFN_NORM: return y->ffn_norm;
    case K_W1: return y->w1;
    case K_W2: return y->w2;
    case K_W3: return y->w3;
    case K_NORM: return m->norm;
    default: return m->output;
    }
}
/* Check the config and that every tensor holds exactly the values written for it. */
static void check_weights(pt_model *m, const spec *s, const char *what)
{
    const pt_config *c = &m->cfg;
    int k, l;
    CHECK(c->dim == s->dim && c->hidden_dim == s->hidden && c->n_layers == s->layers && c->n_heads == s->heads &&
          c->n_kv_heads == s->kv && c->vocab_size == s->vocab && c->seq_len == s->seq && c->untied == !s->shared,
          "%s %s: config dim %d hidden %d layers %d heads %d kv %d vocab %d seq %d untied %d", s->name, what,
          c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len, c->untied);
    CHECK(c->norm_eps == 1e-5f && c->rope_theta == 10000.0f, "%s %s: norm_eps %g rope_theta %g", s->name, what, (double)c->norm_eps, (double)c->rope_theta);
    CHECK(pt_params_count(m->params, 0) == weight_floats(s), "%s %s: %lld parameters, expected %lld", s->name, what,
          (long long)pt_params_count(m->params, 0), (long long)weight_floats(s));
    if (s->shared) CHECK(m->output == m->tok_embeddings && !pt_params_find(m->params, "output"), "%s %s: shared classifier is not tied", s->name, what);
    else CHECK(m->output && m->output != m->tok_embeddings && pt_params_find(m->params, "output"), "%s %s: unshared classifier has no own tensor", s->name, what);
    for (k = 0; k < K_COUNT; k++) {
        int nl = kind_layered(k) ? s->layers : 1, bad_l = -1;
        int64_t bad = 0, bad_i = -1;
        if (k == K_CLS && s->shared) continue;
        for (l = 0; l < nl; l++) {
            pt_tensor *t = model_tensor(m, k, l);
            int64_t i, n = kind_size(s, k);
            if (!t || t->size != n) { bad++; bad_l = l; continue; }
            for (i = 0; i < n; i++)
                if (t->data[i] != wval(s, k, l, i)) { if (!bad) { bad_l = l; bad_i = i; } bad++; }
        }
        CHECK(bad == 0, "%s %s: %lld wrong values in %s (first: layer %d, index %lld)", s->name, what, (long long)bad, kind_name[k], bad_l, (long long)bad_i);
    }
    /* spot checks by name: the tensors the brief singles out */
    {
        pt_param *p = s->layers > 1 ? pt_params_find(m->params, "layers.1.attn.wk") : NULL;
        int KVD = s->dim / s->heads * s->kv;
        if (s->layers > 1) {
            CHECK(p && p->t.ndim == 2 && p->t.shape[0] == KVD && p->t.shape[1] == s->dim, "%s %s: layers.1.attn.wk missing or wrong shape", s->name, what);
            if (p) {
                CHECK(p->t.data[0] == wval(s, K_WK, 1, 0) && p->t.data[p->t.size - 1] == wval(s, K_WK, 1, kind_size(s, K_WK) - 1) &&
                      p->t.data[s->dim + 1] == wval(s, K_WK, 1, s->dim + 1),
                      "%s %s: layers.1.attn.wk[0] = %g, expected %g", s->name, what, (double)p->t.data[0], (double)wval(s, K_WK, 1, 0));
                CHECK(p->t.data[0] != wval(s, K_WK, 0, 0), "%s %s: the pattern does not tell layers apart", s->name, what);
            }
        }
        p = pt_params_find(m->params, "norm");
        CHECK(p && p->t.size == s->dim && p->t.data[0] == wval(s, K_NORM, 0, 0) && p->t.data[s->dim - 1] == wval(s, K_NORM, 0, s->dim - 1),
              "%s %s: norm has the wrong values", s->name, what);
        if (!s->shared) {
            p = pt_params_find(m->params, "output");
            CHECK(p && p->t.ndim == 2 && p->t.shape[0] == s->vocab && p->t.shape[1] == s->dim && p->t.data[0] == wval(s, K_CLS, 0, 0) &&
                  p->t.data[p->t.size - 1] == wval(s, K_CLS, 0, kind_size(s, K_CLS) - 1),
                  "%s %s: output (the classifier) has the wrong values", s->name, what);
        }
    }
}

/* The training forward (tape off) vs the KV-cache forward over T tokens: the first `prefill` rows
   in one pt_model_step call, then one token per call. Returns max |diff| / max |logit|. */
static double forward_vs_kv(pt_model *m, const int *tokens, int T, int prefill)
{
    int V = m->cfg.vocab_size, t;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_kv_cache *kv = pt_kv_new(m, 1, T);
    float *out = (float *)malloc((size_t)T * V * sizeof(float));
    int *seq = (int *)calloc((size_t)T, sizeof(int));
    pt_batch b;
    pt_tensor *lg;
    double maxd = 0, maxa = 0, rel = 1e30;
    int64_t i;
    if (!ctx || !kv || !out || !seq) { printf("  forward_vs_kv: setup failed: %s\n", pt_last_error()); goto done; }
    pt_ctx_set_grad(ctx, 0);
    memset(&b, 0, sizeof b);
    b.B = 1; b.T = T; b.tokens = tokens;
    lg = pt_model_logits(ctx, m, &b);
    if (!lg || lg->size != (int64_t)T * V) { printf("  pt_model_logits failed: %s\n", pt_last_error()); goto done; }
    if (prefill > 0 && pt_model_step(m, kv, prefill, seq, tokens, out) != PT_OK) { printf("  prefill failed: %s\n", pt_last_error()); goto done; }
    for (t = prefill > 0 ? prefill : 0; t < T; t++)
        if (pt_model_step(m, kv, 1, seq, tokens + t, out + (int64_t)t * V) != PT_OK) { printf("  step %d failed: %s\n", t, pt_last_error()); goto done; }
    for (i = 0; i < (int64_t)T * V; i++) {
        double d = fabs((double)lg->data[i] - out[i]), a = fabs((double)lg->data[i]);
        if (!(d <= maxd)) maxd = d;   /* NaN-safe: a NaN makes maxd NaN */
        if (a > maxa) maxa = a;
    }
    rel = maxa > 0 ? maxd / maxa : maxd;
    if (!(rel <= 1e-5)) printf("  forward vs KV cache: max diff %g, max |logit| %g\n", maxd, maxa);
done:
    free(out); free(seq);
    pt_kv_free(kv);
    pt_ctx_free(ctx);
    return rel;
}

static int same_weights(const pt_model *a, const pt_model *b)
{
    const pt_config *x = &a->cfg, *y = &b->cfg;
    if (x->dim != y->dim || x->hidden_dim != y->hidden_dim || x->n_layers != y->n_layers || x->n_heads != y->n_heads ||
        x->n_kv_heads != y->n_kv_heads || x->vocab_size != y->vocab_size || x->seq_len != y->seq_len || x->untied != y->untied ||
        x->norm_eps != y->norm_eps || x->rope_theta != y->rope_theta) return 0;
    if (a->params->n_data != b->params->n_data || a->params->count != b->params->count) return 0;
    return memcmp(a->params->data, b->params->data, (size_t)a->params->n_data * sizeof(float)) == 0;
}

/* ---------------------------------------------------------------------------------------------
   1. The reference model: stories260K.bin + tok512.bin
   --------------------------------------------------------------------------------------------- */
/* llama2.c's safe_printf filter: skip unprintable single-byte pieces. */
static int printable_piece(const char *p)
{
    if (!p || !p[0]) return 0;
    if (!p[1] && !(isprint((unsigned char)p[0]) || isspace((unsigned char)p[0]))) return 0;
    return 1;
}

/* An independent re-implementation of llama2.c's encode() (linear lookup instead of bsearch), over
   the vocabulary parsed here from the tokenizer file. */
typedef struct ref_vocab { int n, max_len; char **piece; float *score; } ref_vocab;
static int ref_vocab_load(ref_vocab *rv, const char *path, int n)
{
    unsigned char *d = NULL;
    size_t sz = 0, at = 4;
    int i;
    memset(rv, 0, sizeof *rv);
    if (pt_read_file(path, &d, &sz) != PT_OK || sz < 4) { pt_free(d); return -1; }
    rv->max_len = (int)((uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24);
    rv->piece = (char **)calloc((size_t)n, sizeof(char *));
    rv->score = (float *)calloc((size_t)n, sizeof(float));
    rv->n = n;
    for (i = 0; i < n; i++) {
        int32_t len;
        if (at + 8 > sz) break;
        rv->score[i] = get_f32(d + at);
        len = (int32_t)((uint32_t)d[at + 4] | (uint32_t)d[at + 5] << 8 | (uint32_t)d[at + 6] << 16 | (uint32_t)d[at + 7] << 24);
        at += 8;
        if (len < 0 || at + (size_t)len > sz) break;
        rv->piece[i] = (char *)malloc((size_t)len + 1);
        memcpy(rv->piece[i], d + at, (size_t)len);
        rv->piece[i][len] = 0;
        at += (size_t)len;
    }
    pt_free(d);
    return i == n ? 0 : -1;
}
static void ref_vocab_free(ref_vocab *rv)
{
    int i;
    for (i = 0; i < rv->n; i++) free(rv->piece ? rv->piece[i] : NULL);
    free(rv->piece); free(rv->score);
}
static int ref_lookup(const ref_vocab *rv, const char *s)
{
    int i;
    for (i = 0; i < rv->n; i++) if (rv->piece[i] && strcmp(rv->piece[i], s) == 0) return i;
    return -1;
}
static int ref_encode(const ref_vocab *rv, const char *text, int bos, int eos, int *tokens)
{
    char *buf = (char *)malloc((size_t)rv->max_len * 2 + 3);
    size_t str_len = 0;
    int n = 0, i;
    const char *c;
    if (bos) tokens[n++] = 1;
    if (text[0] != 0) { int sp = ref_lookup(rv, " "); if (sp >= 0) tokens[n++] = sp; }
    for (c = text; *c; c++) {
        if ((*c & 0xC0) != 0x80) str_len = 0;
        buf[str_len++] = *c;
        buf[str_len] = 0;
        if ((*(c + 1) & 0xC0) == 0x80 && str_len < 4) continue;
        {
            int id = ref_lookup(rv, buf);
            if (id != -1) tokens[n++] = id;
            else for (i = 0; i < (int)str_len; i++) tokens[n++] = (unsigned char)buf[i] + 3;
        }
        str_len = 0;
    }
    for (;;) {
        float best_score = -1e10f;
        int best_id = -1, best_idx = -1;
        for (i = 0; i < n - 1; i++) {
            int id;
            char tmp[64];
            size_t la = strlen(rv->piece[tokens[i]]), lb = strlen(rv->piece[tokens[i + 1]]);
            if (la + lb >= sizeof tmp) continue;
            memcpy(tmp, rv->piece[tokens[i]], la); memcpy(tmp + la, rv->piece[tokens[i + 1]], lb); tmp[la + lb] = 0;
            id = ref_lookup(rv, tmp);
            if (id != -1 && rv->score[id] > best_score) { best_score = rv->score[id]; best_id = id; best_idx = i; }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        for (i = best_idx + 1; i < n - 1; i++) tokens[i] = tokens[i + 1];
        n--;
    }
    if (eos) tokens[n++] = 2;
    free(buf);
    return n;
}
static void print_ids(const char *label, const int *ids, int n)
{
    int i;
    printf("  %s (%d):", label, n);
    for (i = 0; i < n; i++) printf(" %d", ids[i]);
    printf("\n");
}

static void test_reference_tokenizer(const char *tp, const int *greedy, int n_greedy, int have_greedy)
{
    pt_tokenizer tok;
    ref_vocab rv;
    int ids[512], ref[512], n, nr, i, k;
    char out[1024], buf[16];
    static const char *round[] = {
        "Once upon a time", "Hello world", "Line one\nLine two\n", "\nstarts with a newline", "numbers 0123456789 and 42",
        "  two leading spaces", "trailing space ", "tab\there", "Lily's mom said, \"Let's go!\"", "caf\xc3\xa9 \xc3\xbc \xe2\x80\x9cq\xe2\x80\x9d",
        "a", " ", "\n", "x\x01y", "emoji \xf0\x9f\x98\x80!", "Tim and Lily played in the park. The sun was very happy."
    };
    printf("reference tokenizer (tok512.bin)\n");
    CHECK(pt_bpe_load(&tok, tp, 512) == PT_OK, "pt_bpe_load %s: %s", tp, pt_last_error());
    if (ref_vocab_load(&rv, tp, 512) != 0) { CHECK(0, "cannot parse %s here", tp); pt_tokenizer_free(&tok); ref_vocab_free(&rv); return; }
    CHECK(rv.max_len == 7, "tok512 max_token_length %d", rv.max_len);
    CHECK(tok.vocab_size == 512 && tok.bos_id == 1 && tok.eos_id == 2, "tok512: vocab %d bos %d eos %d", tok.vocab_size, tok.bos_id, tok.eos_id);

    /* encode("Once upon a time") with BOS: the ids the model's own greedy path produced */
    n = tok.encode(&tok, "Once upon a time", 1, 0, ids, 512);
    {
        static const int want[] = {1, 403, 407, 261, 378};   /* <s> " Once" " upon" " a" " time" */
        CHECK(n == 5 && memcmp(ids, want, sizeof want) == 0, "encode(\"Once upon a time\") is not [1 403 407 261 378]");
        if (n != 5 || memcmp(ids, want, sizeof want) != 0) print_ids("got", ids, n);
    }
    if (have_greedy) {
        CHECK(n > 0 && n <= n_greedy && memcmp(ids, greedy, (size_t)n * sizeof(int)) == 0, "encode(\"Once upon a time\") differs from the greedy path's first %d ids", n);
        if (!(n > 0 && n <= n_greedy && memcmp(ids, greedy, (size_t)n * sizeof(int)) == 0)) { print_ids("encode", ids, n); print_ids("greedy", greedy, n < n_greedy ? n : n_greedy); }
        /* and the first greedy sentence: ", there was a little girl named Lily." continues it */
        n = tok.encode(&tok, "Once upon a time, there was a little girl named Lily.", 1, 0, ids, 512);
        CHECK(n > 0 && n <= n_greedy && memcmp(ids, greedy, (size_t)n * sizeof(int)) == 0, "encode of the first greedy sentence differs from the greedy ids");
        if (!(n > 0 && n <= n_greedy && memcmp(ids, greedy, (size_t)n * sizeof(int)) == 0)) { print_ids("encode", ids, n); print_ids("greedy", greedy, n < n_greedy ? n : n_greedy); }
    }

    /* round trips decode(encode(s)) == s (decoding after BOS strips the dummy prefix space) */
    for (k = 0; k < (int)(sizeof round / sizeof *round); k++) {
        n = tok.encode(&tok, round[k], 1, 0, ids, 512);
        CHECK(n >= 2 && ids[0] == 1, "encode(%s) gave %d ids", round[k], n);
        if (n < 2) continue;
        for (i = 0; i < n; i++) if (ids[i] < 0 || ids[i] >= 512) break;
        CHECK(i == n, "encode(%s): id %d out of range", round[k], i < n ? ids[i] : 0);
        pt_decode(&tok, ids + 1, n - 1, out, sizeof out);
        CHECK(strcmp(out, round[k]) == 0, "round trip: '%s' -> '%s'", round[k], out);
        /* without BOS the dummy space stays */
        n = tok.encode(&tok, round[k], 0, 1, ids, 512);
        CHECK(n >= 2 && ids[n - 1] == 2 && ids[0] != 1, "encode(%s, no bos, eos) layout", round[k]);
        {
            char want[300];
            int len = 0;
            snprintf(want, sizeof want, " %s", round[k]);
            for (i = 0; i < n - 1; i++) { const char *p = tok.piece(&tok, i ? ids[i - 1] : 0, ids[i], buf); size_t pl = strlen(p); memcpy(out + len, p, pl); len += (int)pl; }
            out[len] = 0;
            CHECK(strcmp(out, want) == 0, "pieces without BOS: '%s' -> '%s'", want, out);
        }
    }
    /* empty text: only BOS, no dummy space */
    n = tok.encode(&tok, "", 1, 0, ids, 512);
    CHECK(n == 1 && ids[0] == 1, "encode(\"\") with BOS gave %d ids", n);
    n = tok.encode(&tok, "", 0, 0, ids, 512);
    CHECK(n == 0, "encode(\"\") without BOS gave %d ids", n);

    /* byte fallback: a character not in the vocabulary becomes byte + 3 */
    n = tok.encode(&tok, "\x01", 1, 0, ids, 512);
    CHECK(n == 3 && ids[0] == 1 && ids[1] == 410 && ids[2] == 0x01 + 3, "encode(\"\\x01\") is not [1 410 4] (n %d)", n);
    n = tok.encode(&tok, "\xc3\xbc", 1, 0, ids, 512);   /* u-umlaut: not in tok512 -> two byte tokens */
    CHECK(n == 4 && ids[2] == 0xC3 + 3 && ids[3] == 0xBC + 3, "encode(u-umlaut) is not [1 410 198 191] (n %d)", n);
    n = tok.encode(&tok, "\xc3\xa9", 1, 0, ids, 512);   /* e-acute: in tok512 as one piece (485) */
    CHECK(n == 3 && ids[2] == 485, "encode(e-acute) is not [1 410 485] (n %d)", n);
    n = tok.encode(&tok, "a\nb", 0, 0, ids, 512);
    for (i = 0; i < n; i++) if (ids[i] == 0x0A + 3) break;
    CHECK(n > 0 && i < n, "encode(\"a\\nb\") has no byte token 13 for the newline");
    n = tok.encode(&tok, "#", 0, 0, ids, 512);
    CHECK(n == 2 && ids[1] == '#' + 3, "encode(\"#\") byte fallback");
    /* "<0x0A>" pieces decode to the byte itself */
    CHECK(strcmp(rv.piece[13], "<0x0A>") == 0, "tok512 piece 13 is '%s'", rv.piece[13]);
    CHECK(strcmp(tok.piece(&tok, 400, 13, buf), "\n") == 0, "piece(<0x0A>) is not a newline");
    CHECK(strcmp(tok.piece(&tok, 1, 13, buf), "\n") == 0, "piece(<0x0A>) after BOS is not a newline");
    CHECK(strcmp(tok.piece(&tok, 5, 0x41 + 3, buf), "A") == 0, "piece(<0x41>) is not 'A'");
    {
        const char *p = tok.piece(&tok, 5, 3, buf);   /* <0x00>: the empty string */
        CHECK(p && p[0] == 0, "piece(<0x00>) is not empty");
    }
    CHECK(strcmp(tok.piece(&tok, 1, 403, buf), "Once") == 0, "piece(' Once') after BOS keeps its space");
    CHECK(strcmp(tok.piece(&tok, 2, 403, buf), " Once") == 0, "piece(' Once') after EOS lost its space");
    CHECK(strcmp(tok.piece(&tok, 5, 1, buf), "\n<s>\n") == 0, "piece(BOS) is '%s'", tok.piece(&tok, 5, 1, buf));
    CHECK(tok.piece(&tok, 5, 512, buf)[0] == 0 && tok.piece(&tok, 5, -1, buf)[0] == 0, "piece of an out-of-range id is not empty");

    /* bad arguments: NULL text, too small an output buffer (no write beyond it: ASan watches) */
    pt_clear_error();
    CHECK(tok.encode(&tok, NULL, 1, 0, ids, 512) < 0 && pt_last_error()[0], "encode(NULL) did not fail");
    {
        int *small = (int *)malloc(3 * sizeof(int));
        CHECK(tok.encode(&tok, "Hello world, this is long", 1, 0, small, 3) < 0, "encode into 3 ids did not fail");
        free(small);
    }

    /* differential test against the re-implementation of llama2.c's encoder */
    {
        static const char *alpha[] = {"a", "e", "t", "h", "o", " ", " ", "n", "L", "i", "y", ".", ",", "\n", "1", "7", "#", "{",
                                      "\xc3\xa9", "\xc3\xbc", "\xe2\x80\x9c", "\x01", "\x80", "\xff", "\xe2\x82", "T", "s", "d"};
        pt_rng rng;
        int bad = 0, trial;
        char text[160];
        pt_rng_seed(&rng, 7);
        for (trial = 0; trial < 120; trial++) {
            int len = pt_rng_int(&rng, 0, 30), tl = 0;
            for (i = 0; i < len; i++) {
                const char *a = alpha[pt_rng_int(&rng, 0, (int)(sizeof alpha / sizeof *alpha) - 1)];
                size_t al = strlen(a);
                memcpy(text + tl, a, al); tl += (int)al;
            }
            text[tl] = 0;
            n = tok.encode(&tok, text, trial & 1, (trial >> 1) & 1, ids, 512);
            nr = ref_encode(&rv, text, trial & 1, (trial >> 1) & 1, ref);
            if (n != nr || memcmp(ids, ref, (size_t)n * sizeof(int)) != 0) {
                if (bad++ < 3) { printf("  differs on '%s':\n", text); print_ids("posttrain", ids, n); print_ids("llama2.c", ref, nr); }
            }
        }
        for (k = 0; k < (int)(sizeof round / sizeof *round); k++) {
            n = tok.encode(&tok, round[k], 1, 1, ids, 512);
            nr = ref_encode(&rv, round[k], 1, 1, ref);
            if (n != nr || memcmp(ids, ref, (size_t)n * sizeof(int)) != 0) { if (bad++ < 3) { printf("  differs on '%s':\n", round[k]); print_ids("posttrain", ids, n); print_ids("llama2.c", ref, nr); } }
        }
        CHECK(bad == 0, "%d strings encode differently from llama2.c's algorithm", bad);
    }

    /* the file has exactly 512 entries: vocab_size 513 must fail (naming the token), 2 is refused */
    {
        pt_tokenizer t2;
        memset(&t2, 0, sizeof t2);
        pt_clear_error();
        CHECK(pt_bpe_load(&t2, tp, 513) != PT_OK && strstr(pt_last_error(), tp) && strstr(pt_last_error(), "512"),
              "tok512 with vocab_size 513: '%s'", pt_last_error());
        pt_tokenizer_free(&t2);
        CHECK(pt_bpe_load(&t2, tp, 2) != PT_OK && pt_last_error()[0], "vocab_size 2 accepted");
        CHECK(pt_bpe_load(&t2, tp, 300) == PT_OK, "tok512 as a 300-token vocabulary: %s", pt_last_error());
        pt_tokenizer_free(&t2);
        CHECK(t2.impl == NULL, "pt_tokenizer_free left impl set");
        pt_tokenizer_free(&t2);   /* twice is safe */
    }
    ref_vocab_free(&rv);
    pt_tokenizer_free(&tok);
}

static void test_reference(void)
{
    const char *dir = test_models_dir();
    char mp[600], tp[600], gp[600], cmd[2000];
    pt_model *m, *m2;
    pt_tokenizer tok;
    pt_kv_cache *kv;
    float *logits;
    int ids[600], nids = 0, token, next, pos, seq0 = 0, steps = 200, disagree = 0;
    unsigned char *want = NULL;
    size_t nwant = 0;
    bbuf text;
    char buf[16];
    double t0;
    snprintf(mp, sizeof mp, "%s/stories260K.bin", dir);
    snprintf(tp, sizeof tp, "%s/tok512.bin", dir);
    snprintf(gp, sizeof gp, "%s/stories260K_greedy200.txt", dir);
    printf("reference model %s\n", mp);
    if (!file_exists(mp)) { printf("SKIPPED: stories260K.bin not found (set PT_MODELS or see README)\n"); return; }
    if (!file_exists(tp)) { printf("SKIPPED: tok512.bin not found (set PT_MODELS or see README)\n"); return; }
    if (!file_exists(gp)) { printf("SKIPPED: stories260K_greedy200.txt not found (set PT_MODELS or see README)\n"); return; }

    m = pt_model_load_llama2c(mp);
    CHECK(m != NULL, "load %s: %s", mp, pt_last_error());
    if (!m) return;
    {
        const pt_config *c = &m->cfg;
        CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5 && c->n_heads == 8 && c->n_kv_heads == 4 &&
              c->vocab_size == 512 && c->seq_len == 512 && c->untied == 0,
              "stories260K config: dim %d hidden %d layers %d heads %d kv %d vocab %d seq %d untied %d",
              c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len, c->untied);
        CHECK(m->output == m->tok_embeddings, "stories260K: classifier not tied");
        CHECK(pt_params_count(m->params, 0) == 260032, "stories260K: %lld parameters, expected 260032", (long long)pt_params_count(m->params, 0));
        CHECK(m->llama2c_rope && m->llama2c_rope_n == 512 * 8, "stories260K: RoPE tables not kept (%lld floats)", (long long)m->llama2c_rope_n);
    }
    {
        pt_model *a = pt_model_load_any(mp);
        CHECK(a && same_weights(a, m), "pt_model_load_any gives other weights");
        pt_model_free(a);
    }
    if (pt_bpe_load(&tok, tp, m->cfg.vocab_size) != PT_OK) { CHECK(0, "pt_bpe_load %s: %s", tp, pt_last_error()); pt_model_free(m); return; }

    /* greedy decoding exactly as llama2.c's run: BOS start, no prompt, pos counts positions, stop at
       BOS, each piece decoded with the previous token, unprintable single bytes skipped */
    t0 = pt_time_seconds();
    memset(&text, 0, sizeof text);
    logits = (float *)malloc(512 * sizeof(float));
    kv = pt_kv_new(m, 1, steps);
    token = 1; pos = 0; ids[nids++] = token;
    while (kv && pos < steps) {
        const char *piece;
        pt_sampler greedy = {0, 0, 0};
        if (pt_model_step(m, kv, 1, &seq0, &token, logits) != PT_OK) { CHECK(0, "pt_model_step at %d: %s", pos, pt_last_error()); break; }
        next = argmax(logits, m->cfg.vocab_size);
        disagree += pt_sample(logits, m->cfg.vocab_size, &greedy, NULL, NULL) != next;
        pos++;
        if (next == 1) break;
        piece = tok.piece(&tok, token, next, buf);
        if (printable_piece(piece)) bb_put(&text, piece, strlen(piece));
        token = next;
        ids[nids++] = next;
    }
    CHECK(disagree == 0, "pt_sample at temperature 0 disagreed with argmax %d times", disagree);
    CHECK(pt_read_file(gp, &want, &nwant) == PT_OK, "read %s", gp);
    CHECK(text.n == nwant && memcmp(text.p, want, nwant) == 0, "greedy 200 steps differ from %s (%zu vs %zu bytes)", gp, text.n, nwant);
    if (!(text.n == nwant && memcmp(text.p, want, nwant) == 0)) {
        size_t i;
        for (i = 0; i < text.n && i < nwant && text.p[i] == want[i]; i++) {}
        printf("  first difference at byte %zu\n  ours: %.*s\n  want: %.*s\n", i, (int)(text.n - i < 60 ? text.n - i : 60), (char *)text.p + i,
               (int)(nwant - i < 60 ? nwant - i : 60), (char *)want + i);
    }
    CHECK(pos == steps && nids == steps + 1, "greedy run took %d positions (%d ids)", pos, nids);
    /* pt_decode of the ids after BOS gives the same text (every piece here is printable) */
    {
        char *dec = (char *)malloc(nwant + 64);
        int len = pt_decode(&tok, ids + 1, nids - 1, dec, (int)nwant + 64);
        CHECK(len == (int)nwant && memcmp(dec, want, nwant) == 0, "pt_decode(greedy ids) differs from the text (%d vs %zu bytes)", len, nwant);
        /* truncation: cap 11 keeps 10 bytes, still returns the full length */
        len = pt_decode(&tok, ids + 1, nids - 1, dec, 11);
        CHECK(len == (int)nwant && strlen(dec) == 10 && memcmp(dec, want, 10) == 0, "pt_decode truncation");
        free(dec);
    }
    printf("  greedy 200 steps: %.3f s\n", pt_time_seconds() - t0);

    /* import -> export is byte-identical; the export loads back with identical weights */
    {
        const char *ex = tmp_path("stories_export.bin");
        CHECK(pt_model_save_llama2c(m, ex) == PT_OK, "export: %s", pt_last_error());
        CHECK(same_file_bytes(mp, ex), "export of stories260K is not byte-identical to the original");
        m2 = pt_model_load_llama2c(ex);
        CHECK(m2 && same_weights(m, m2), "the exported file loads back with other weights");
        CHECK(m2 && m2->llama2c_rope_n == m->llama2c_rope_n && m2->llama2c_rope &&
              memcmp(m2->llama2c_rope, m->llama2c_rope, (size_t)m->llama2c_rope_n * sizeof(float)) == 0, "RoPE tables changed in the round trip");
        pt_model_free(m2);
    }

    /* full training forward vs KV cache on 30 tokens of the model's own text */
    {
        double r1 = forward_vs_kv(m, ids, 30, 0), r2 = forward_vs_kv(m, ids, 30, 11);
        CHECK(r1 <= 1e-5, "stories260K: training forward vs KV cache (one at a time): rel %g", r1);
        CHECK(r2 <= 1e-5, "stories260K: training forward vs KV cache (prefill 11): rel %g", r2);
        printf("  forward vs KV cache rel diff: %.3g (steps) %.3g (prefill)\n", r1, r2);
    }
    pt_tokenizer_free(&tok);
    pt_kv_free(kv);
    free(logits);

    test_reference_tokenizer(tp, ids, nids, 1);

    /* 5. the CLI, when built */
    printf("CLI build/generate\n");
    if (access("build/generate", X_OK) != 0) printf("  note: build/generate not found (make build/generate); CLI check skipped\n");
    else {
        FILE *p;
        bbuf got;
        char chunk[512];
        size_t r;
        int rc;
        memset(&got, 0, sizeof got);
        snprintf(cmd, sizeof cmd, "build/generate '%s' -z '%s' -t 0 -n 200 2>/dev/null", mp, tp);
        p = popen(cmd, "r");
        CHECK(p != NULL, "popen %s", cmd);
        if (p) {
            while ((r = fread(chunk, 1, sizeof chunk, p)) > 0) bb_put(&got, chunk, r);
            rc = pclose(p);
            CHECK(rc == 0, "%s exited with %d", cmd, rc);
            CHECK(got.n > 0 && got.p[got.n - 1] == '\n', "generate output does not end with a newline");
            if (got.n > 0 && got.p[got.n - 1] == '\n') got.n--;
            CHECK(got.n == nwant && memcmp(got.p, want, nwant) == 0, "build/generate -t 0 -n 200 differs from %s (%zu vs %zu bytes)", gp, got.n, nwant);
        }
        bb_free(&got);
    }
    pt_free(want);
    bb_free(&text);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   2. Random llama2.c checkpoints of several shapes
   --------------------------------------------------------------------------------------------- */
static const spec g_specs[] = {
    /* name                dim hidden L heads kv vocab seq shared */
    {"mha",                32, 64,    2, 4,    4, 50,   24, 1},
    {"mqa",                32, 48,    2, 4,    1, 40,   16, 1},
    {"gqa",                48, 80,    3, 6,    2, 61,   20, 1},
    {"unshared",           32, 64,    2, 4,    2, 45,   16, 0},
    {"odd",                40, 97,    2, 5,    5, 37,   19, 1},
    {"odd-mqa-unshared",   40, 97,    2, 5,    1, 37,   19, 0},
    {"one-layer-one-head",  6, 1,     1, 1,    1, 3,     1, 1},
};

static void test_random_checkpoint(const spec *s, pt_rng *rng)
{
    char name[96];
    const char *p0, *p1, *ex, *ex1, *nat;
    bbuf b0, b1;
    pt_model *m0, *m1, *mx;
    int tokens[64], t;
    int64_t wbytes;
    memset(&b0, 0, sizeof b0); memset(&b1, 0, sizeof b1);
    build_v0(&b0, s);
    build_v1(&b1, s);
    snprintf(name, sizeof name, "%s.v0.bin", s->name); p0 = tmp_path(name);
    snprintf(name, sizeof name, "%s.v1.bin", s->name); p1 = tmp_path(name);
    snprintf(name, sizeof name, "%s.export.bin", s->name); ex = tmp_path(name);
    snprintf(name, sizeof name, "%s.v1export.bin", s->name); ex1 = tmp_path(name);
    snprintf(name, sizeof name, "%s.native.ckpt", s->name); nat = tmp_path(name);
    CHECK(b0.n == (size_t)(28 + 4 * (weight_floats(s) + rope_floats(s))), "%s: v0 writer size", s->name);
    CHECK(b1.n == (size_t)(256 + 4 * weight_floats(s)), "%s: v1 writer size", s->name);
    write_bytes(p0, b0.p, b0.n);
    write_bytes(p1, b1.p, b1.n);

    pt_clear_error();
    m0 = pt_model_load_llama2c(p0);
    CHECK(m0 != NULL, "%s: load v0: %s", s->name, pt_last_error());
    m1 = pt_model_load_llama2c(p1);
    CHECK(m1 != NULL, "%s: load v1: %s", s->name, pt_last_error());
    if (!m0 || !m1) { pt_model_free(m0); pt_model_free(m1); bb_free(&b0); bb_free(&b1); return; }
    check_weights(m0, s, "v0");
    check_weights(m1, s, "v1");
    CHECK(same_weights(m0, m1), "%s: v1 loads other weights than v0", s->name);
    CHECK(m0->llama2c_rope_n == rope_floats(s) && m1->llama2c_rope == NULL && m1->llama2c_rope_n == 0,
          "%s: RoPE tables kept %lld (v0) / %lld (v1)", s->name, (long long)m0->llama2c_rope_n, (long long)m1->llama2c_rope_n);

    /* full forward vs KV cache over the whole context */
    for (t = 0; t < s->seq; t++) tokens[t] = pt_rng_int(rng, 0, s->vocab - 1);
    {
        double r1 = forward_vs_kv(m0, tokens, s->seq, 0), r2 = forward_vs_kv(m0, tokens, s->seq, s->seq / 2);
        CHECK(r1 <= 1e-5, "%s: training forward vs KV cache (steps): rel %g", s->name, r1);
        CHECK(r2 <= 1e-5, "%s: training forward vs KV cache (prefill %d): rel %g", s->name, s->seq / 2, r2);
    }

    /* export gives back the same bytes; exporting the v1 import gives the same weights and RoPE
       tables computed to float precision */
    CHECK(pt_model_save_llama2c(m0, ex) == PT_OK, "%s: export: %s", s->name, pt_last_error());
    CHECK(same_file_bytes(p0, ex), "%s: export of the v0 import is not byte-identical", s->name);
    CHECK(pt_model_save_llama2c(m1, ex1) == PT_OK, "%s: export of v1: %s", s->name, pt_last_error());
    {
        unsigned char *d = NULL;
        size_t n = 0;
        int64_t rn = rope_floats(s), i, bad = 0;
        double maxe = 0;
        wbytes = 28 + 4 * (weight_floats(s) - (s->shared ? 0 : kind_size(s, K_CLS)));
        if (pt_read_file(ex1, &d, &n) == PT_OK && n == b0.n) {
            CHECK(memcmp(d, b0.p, (size_t)wbytes) == 0, "%s: v1 -> v0 export: header or weights differ", s->name);
            CHECK(memcmp(d + wbytes + 4 * rn, b0.p + wbytes + 4 * rn, n - (size_t)(wbytes + 4 * rn)) == 0, "%s: v1 -> v0 export: classifier differs", s->name);
            for (i = 0; i < rn; i++) {
                double e = fabs((double)get_f32(d + wbytes + 4 * i) - get_f32(b0.p + wbytes + 4 * i));
                if (e > maxe) maxe = e;
                bad += !(e <= 2e-6);
            }
            CHECK(bad == 0, "%s: computed RoPE tables off by up to %g", s->name, maxe);
        } else CHECK(0, "%s: v1 -> v0 export has %zu bytes, expected %zu", s->name, n, b0.n);
        pt_free(d);
    }
    mx = pt_model_load_llama2c(ex);
    CHECK(mx && same_weights(mx, m0), "%s: the export loads back with other weights", s->name);
    pt_model_free(mx);

    /* pt_model_load_any picks the format: native, v0 and v1 */
    CHECK(pt_model_save(m0, nat, 0) == PT_OK, "%s: native save: %s", s->name, pt_last_error());
    mx = pt_model_load_any(nat);
    CHECK(mx && same_weights(mx, m0), "%s: load_any(native): %s", s->name, mx ? "other weights" : pt_last_error());
    pt_model_free(mx);
    mx = pt_model_load_any(p0);
    CHECK(mx && same_weights(mx, m0) && mx->llama2c_rope_n == rope_floats(s), "%s: load_any(v0): %s", s->name, mx ? "other weights" : pt_last_error());
    pt_model_free(mx);
    mx = pt_model_load_any(p1);
    CHECK(mx && same_weights(mx, m0), "%s: load_any(v1): %s", s->name, mx ? "other weights" : pt_last_error());
    pt_model_free(mx);
    /* and the wrong loader for each kind refuses, naming the file */
    pt_clear_error();
    mx = pt_model_load_llama2c(nat);
    CHECK(!mx && strstr(pt_last_error(), nat), "%s: load_llama2c accepted a native checkpoint ('%s')", s->name, pt_last_error());
    pt_model_free(mx);
    pt_clear_error();
    mx = pt_model_load(p0);
    CHECK(!mx && strstr(pt_last_error(), p0), "%s: pt_model_load accepted a llama2.c file ('%s')", s->name, pt_last_error());
    pt_model_free(mx);

    pt_model_free(m0); pt_model_free(m1);
    bb_free(&b0); bb_free(&b1);
}

/* A model made here (not imported) exports with computed RoPE tables, loads back identically; a
   model whose norm_eps / rope_theta llama2.c cannot express refuses to export. */
static void test_export_new_model(void)
{
    pt_config c;
    pt_model *m, *m2;
    const char *p = tmp_path("new_export.bin"), *q = tmp_path("bad_eps.bin");
    spec s = {"new", 24, 40, 2, 4, 2, 30, 10, 0};
    unsigned char *d = NULL;
    size_t n = 0;
    memset(&c, 0, sizeof c);
    c.dim = 24; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.vocab_size = 30; c.seq_len = 10; c.untied = 1;
    m = pt_model_new(&c, 5);
    CHECK(m != NULL, "pt_model_new: %s", pt_last_error());
    if (!m) return;
    CHECK(pt_model_save_llama2c(m, p) == PT_OK, "export of a new model: %s", pt_last_error());
    if (pt_read_file(p, &d, &n) == PT_OK) {
        int64_t wb = 28 + 4 * (weight_floats(&s) - kind_size(&s, K_CLS)), i, bad = 0;
        int32_t h[7];
        for (i = 0; i < 7; i++) h[i] = (int32_t)((uint32_t)d[4 * i] | (uint32_t)d[4 * i + 1] << 8 | (uint32_t)d[4 * i + 2] << 16 | (uint32_t)d[4 * i + 3] << 24);
        CHECK(h[0] == 24 && h[1] == 40 && h[2] == 2 && h[3] == 4 && h[4] == 2 && h[5] == -30 && h[6] == 10,
              "export header %d %d %d %d %d %d %d", h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
        CHECK(n == (size_t)(28 + 4 * (weight_floats(&s) + rope_floats(&s))), "export size %zu", n);
        if (n == (size_t)(28 + 4 * (weight_floats(&s) + rope_floats(&s)))) {
            int pass, t, k;
            for (pass = 0, i = 0; pass < 2; pass++)
                for (t = 0; t < 10; t++)
                    for (k = 0; k < 3; k++, i++) bad += !(fabs((double)get_f32(d + wb + 4 * i) - rope_val(&s, pass, t, k)) <= 2e-6);
            CHECK(bad == 0, "computed RoPE tables: %lld values off", (long long)bad);
            /* tok_embeddings first, output last */
            CHECK(get_f32(d + 28) == m->tok_embeddings->data[0] && get_f32(d + n - 4) == m->output->data[m->output->size - 1], "export order");
        }
        pt_free(d);
    }
    m2 = pt_model_load_llama2c(p);
    CHECK(m2 && same_weights(m, m2), "a new model's export loads back with other weights");
    pt_model_free(m2);
    /* exporting into a missing directory fails and names the path */
    {
        char bad[200];
        snprintf(bad, sizeof bad, "%s/no/such/dir/x.bin", g_dir);
        pt_clear_error();
        CHECK(pt_model_save_llama2c(m, bad) != PT_OK && strstr(pt_last_error(), bad), "export into a missing directory: '%s'", pt_last_error());
    }
    pt_model_free(m);
    c.norm_eps = 1e-6f;
    m = pt_model_new(&c, 5);
    pt_clear_error();
    CHECK(m && pt_model_save_llama2c(m, q) == PT_ERR_ARG && !file_exists(q), "export with norm_eps 1e-6 was not refused");
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   3. Malformed llama2.c checkpoints
   --------------------------------------------------------------------------------------------- */
static void expect_load_fail(const char *label, const char *path)
{
    pt_model *m;
    const char *e;
    pt_clear_error();
    m = pt_model_load_llama2c(path);
    e = pt_last_error();
    CHECK(m == NULL, "%s: pt_model_load_llama2c accepted %s", label, path);
    CHECK(e && e[0] && strstr(e, path) != NULL, "%s: error '%s' does not name %s", label, e ? e : "(null)", path);
    CHECK(pt_last_status() != PT_OK, "%s: no error status", label);
    pt_model_free(m);
    pt_clear_error();
    m = pt_model_load_any(path);
    CHECK(m == NULL && pt_last_error()[0], "%s: pt_model_load_any accepted %s", label, path);
    pt_model_free(m);
}
/* A copy of the valid file with the int32 at byte offset `off` set to v (v0: the 7 header ints at
   0..24; v1: the version at 4, the 7 ints at 8..32), written to a temp file named after the label. */
static void bad_header(const bbuf *valid, size_t off, int32_t v, const char *label)
{
    unsigned char *c = (unsigned char *)malloc(valid->n);
    char name[96];
    const char *p;
    size_t i;
    memcpy(c, valid->p, valid->n);
    set_i32(c + off, v);
    snprintf(name, sizeof name, "bad_%s.bin", label);
    for (i = 4; name[i]; i++) if (!isalnum((unsigned char)name[i]) && name[i] != '.') name[i] = '_';
    p = tmp_path(name);
    write_bytes(p, c, valid->n);
    expect_load_fail(label, p);
    free(c);
}
static void test_malformed_checkpoints(void)
{
    spec s = {"small", 8, 16, 1, 2, 1, 11, 4, 1};
    bbuf v0, v1;
    const char *p;
    enum { DIM = 0, HIDDEN = 4, LAYERS = 8, HEADS = 12, KV = 16, VOCAB = 20, SEQ = 24 };
    memset(&v0, 0, sizeof v0); memset(&v1, 0, sizeof v1);
    build_v0(&v0, &s);
    build_v1(&v1, &s);
    printf("malformed llama2.c checkpoints\n");
    /* the valid ones load */
    p = tmp_path("small_ok.bin"); write_bytes(p, v0.p, v0.n);
    { pt_model *m = pt_model_load_llama2c(p); CHECK(m != NULL, "valid small v0: %s", pt_last_error()); pt_model_free(m); }
    p = tmp_path("small_ok1.bin"); write_bytes(p, v1.p, v1.n);
    { pt_model *m = pt_model_load_llama2c(p); CHECK(m != NULL, "valid small v1: %s", pt_last_error()); pt_model_free(m); }

    bad_header(&v0, HEADS, 3, "dim % n_heads != 0");
    bad_header(&v0, KV, 3, "n_heads % n_kv_heads != 0");
    bad_header(&v0, KV, 4, "n_kv_heads > n_heads");
    bad_header(&v0, HEADS, 8, "odd head size (8/8 = 1)");
    {   /* dim 6, 2 heads: head size 3 */
        bbuf o; spec so = {"odd", 6, 16, 1, 2, 1, 11, 4, 1};
        memset(&o, 0, sizeof o);
        build_v0(&o, &so);   /* (the writer is happy to write it) */
        p = tmp_path("bad_odd_head_size_3.bin"); write_bytes(p, o.p, o.n);
        expect_load_fail("odd head size 3", p);
        bb_free(&o);
    }
    bad_header(&v0, VOCAB, 0, "vocab_size 0");
    bad_header(&v0, VOCAB, INT_MIN, "vocab_size INT_MIN");
    bad_header(&v0, VOCAB, 1 << 30, "vocab_size 2^30");
    bad_header(&v0, VOCAB, -(1 << 30), "vocab_size -2^30");
    bad_header(&v0, VOCAB, INT_MAX, "vocab_size INT_MAX");
    bad_header(&v0, SEQ, 0, "seq_len 0");
    bad_header(&v0, SEQ, -4, "seq_len -4");
    bad_header(&v0, SEQ, INT_MAX, "seq_len INT_MAX");
    bad_header(&v0, DIM, -8, "dim -8");
    bad_header(&v0, DIM, 0, "dim 0");
    bad_header(&v0, HIDDEN, -16, "hidden_dim -16");
    bad_header(&v0, LAYERS, -1, "n_layers -1");
    bad_header(&v0, LAYERS, 0, "n_layers 0");
    bad_header(&v0, HEADS, -2, "n_heads -2");
    bad_header(&v0, HEADS, 0, "n_heads 0");
    bad_header(&v0, KV, -1, "n_kv_heads -1");
    bad_header(&v0, KV, 0, "n_kv_heads 0");
    bad_header(&v0, VOCAB, -11, "vocab_size -11 (unshared, file too short)");
    bad_header(&v0, VOCAB, 12, "vocab_size 12 (file too short)");
    bad_header(&v0, VOCAB, 10, "vocab_size 10 (file too long)");
    bad_header(&v0, SEQ, 5, "seq_len 5 (rope tables missing)");
    {   /* a huge but valid config with a tiny file: refused from the size, without allocating */
        unsigned char h[28 + 64];
        double t0 = pt_time_seconds();
        memset(h, 0, sizeof h);
        set_i32(h, 65536); set_i32(h + 4, 1 << 20); set_i32(h + 8, 1024); set_i32(h + 12, 256); set_i32(h + 16, 256);
        set_i32(h + 20, 1 << 22); set_i32(h + 24, 1 << 20);
        p = tmp_path("bad_huge.bin"); write_bytes(p, h, sizeof h);
        expect_load_fail("huge config, tiny file", p);
        CHECK(pt_time_seconds() - t0 < 2.0, "huge config took %.2f s to refuse", pt_time_seconds() - t0);
    }
    p = tmp_path("bad_short1.bin"); write_bytes(p, v0.p, v0.n - 1); expect_load_fail("1 byte too short", p);
    {
        unsigned char *c = (unsigned char *)calloc(v0.n + 1, 1);
        memcpy(c, v0.p, v0.n);
        p = tmp_path("bad_long1.bin"); write_bytes(p, c, v0.n + 1); expect_load_fail("1 byte too long", p);
        free(c);
    }
    p = tmp_path("bad_header_only.bin"); write_bytes(p, v0.p, 28); expect_load_fail("header only", p);
    p = tmp_path("bad_27.bin"); write_bytes(p, v0.p, 27); expect_load_fail("27 bytes", p);
    p = tmp_path("bad_empty.bin"); write_bytes(p, v0.p, 0); expect_load_fail("empty file", p);
    p = tmp_path("bad_v1_short1.bin"); write_bytes(p, v1.p, v1.n - 1); expect_load_fail("v1 1 byte too short", p);
    p = tmp_path("bad_v1_long1.bin");
    { unsigned char *c = (unsigned char *)calloc(v1.n + 1, 1); memcpy(c, v1.p, v1.n); write_bytes(p, c, v1.n + 1); free(c); }
    expect_load_fail("v1 1 byte too long", p);
    p = tmp_path("bad_v1_header_only.bin"); write_bytes(p, v1.p, 256); expect_load_fail("v1 header only", p);
    p = tmp_path("bad_v1_20.bin"); write_bytes(p, v1.p, 20); expect_load_fail("v1 truncated header (20 bytes)", p);
    p = tmp_path("bad_v1_36.bin"); write_bytes(p, v1.p, 36); expect_load_fail("v1 without its flag byte", p);
    bad_header(&v1, 4, 2, "v1 version 2");
    bad_header(&v1, 4, 0, "v1 version 0");
    bad_header(&v1, 4, -1, "v1 version -1");
    bad_header(&v1, 8 + VOCAB, -11, "v1 vocab_size -11");
    bad_header(&v1, 8 + VOCAB, INT_MIN, "v1 vocab_size INT_MIN");
    bad_header(&v1, 8 + HEADS, 3, "v1 dim % n_heads");
    {
        unsigned char *c = (unsigned char *)malloc(v1.n);
        memcpy(c, v1.p, v1.n);
        c[36] = 7;
        p = tmp_path("bad_v1_flag7.bin"); write_bytes(p, c, v1.n); expect_load_fail("v1 shared flag 7", p);
        c[36] = 0;   /* unshared: the classifier is missing -> too short */
        p = tmp_path("bad_v1_flag0.bin"); write_bytes(p, c, v1.n); expect_load_fail("v1 shared flag 0 without a classifier", p);
        free(c);
    }
    {
        char np[200];
        snprintf(np, sizeof np, "%s/does_not_exist.bin", g_dir);
        expect_load_fail("nonexistent path", np);
        expect_load_fail("a directory", g_dir);
    }
    bb_free(&v0); bb_free(&v1);
}

/* ---------------------------------------------------------------------------------------------
   4. Tokenizer files
   --------------------------------------------------------------------------------------------- */
static void tok_begin(bbuf *b, uint32_t max_len) { memset(b, 0, sizeof *b); bb_u32(b, max_len); }
static void tok_add(bbuf *b, float score, const char *s) { bb_f32(b, score); bb_i32(b, (int32_t)strlen(s)); bb_put(b, s, strlen(s)); }
static void expect_tok_fail(const char *label, const bbuf *b, int vocab_size)
{
    char name[96];
    const char *p;
    pt_tokenizer tok, copy;
    int st;
    size_t i;
    snprintf(name, sizeof name, "tok_%s.bin", label);
    for (i = 4; name[i]; i++) if (!isalnum((unsigned char)name[i]) && name[i] != '.') name[i] = '_';
    p = tmp_path(name);
    write_bytes(p, b->p, b->n);
    memset(&tok, 0, sizeof tok);
    memcpy(&copy, &tok, sizeof tok);
    pt_clear_error();
    st = pt_bpe_load(&tok, p, vocab_size);
    CHECK(st < 0, "%s: pt_bpe_load returned %d", label, st);
    CHECK(pt_last_error()[0] && strstr(pt_last_error(), p), "%s: error '%s' does not name the file", label, pt_last_error());
    CHECK(memcmp(&tok, &copy, sizeof tok) == 0, "%s: the tokenizer struct was touched on error", label);
    pt_tokenizer_free(&tok);   /* safe on the untouched struct */
    if (st == PT_OK) pt_tokenizer_free(&tok);
}

/* Child process: encode `arg` with the tokenizer; exit 0 if every id is inside the vocabulary (or
   the encoder reports an error), 3 if an id is out of range. A crash shows as a signal. */
static const pt_tokenizer *g_child_tok;
static int child_encode(void *arg)
{
    const char *text = (const char *)arg;
    int ids[64], n, i;
    n = g_child_tok->encode(g_child_tok, text, 1, 0, ids, 64);
    if (n < 0) return 0;
    for (i = 0; i < n; i++) if (ids[i] < 0 || ids[i] >= g_child_tok->vocab_size) return 3;
    return 0;
}

static void test_tokenizer_files(void)
{
    bbuf b;
    pt_tokenizer tok;
    int ids[64], n;
    char out[128];
    const char *p;
    printf("tokenizer files\n");
    /* malformed files, each with a 5-token vocabulary */
    memset(&b, 0, sizeof b);
    expect_tok_fail("empty", &b, 5);
    bb_put(&b, "\x08\x00", 2); expect_tok_fail("max_token_length truncated", &b, 5); bb_free(&b);
    tok_begin(&b, 8); expect_tok_fail("no entries", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); bb_f32(&b, 0); bb_i32(&b, 5); bb_put(&b, "ab", 2);
    expect_tok_fail("truncated in a piece", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); bb_f32(&b, 0); bb_put(&b, "\x03\x00", 2);
    expect_tok_fail("truncated in a length", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); bb_put(&b, "\x00\x00", 2);
    expect_tok_fail("truncated in a score", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); bb_f32(&b, 0); bb_i32(&b, -1); bb_put(&b, "abcdefgh", 8);
    expect_tok_fail("negative length", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); bb_f32(&b, 0); bb_i32(&b, INT_MIN); bb_put(&b, "abcdefgh", 8);
    expect_tok_fail("length INT_MIN", &b, 5); bb_free(&b);
    tok_begin(&b, 3); tok_add(&b, 0, "a"); tok_add(&b, 0, "<s>"); tok_add(&b, 0, "hello"); tok_add(&b, 0, "b"); tok_add(&b, 0, "c");
    expect_tok_fail("length > max_token_length", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); tok_add(&b, 0, "<s>"); tok_add(&b, 0, "</s>");
    expect_tok_fail("fewer entries than vocab_size", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); tok_add(&b, 0, "<s>"); tok_add(&b, (float)NAN, "</s>"); tok_add(&b, 0, "a"); tok_add(&b, 0, "b");
    expect_tok_fail("NaN score", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); tok_add(&b, 0, "<s>"); tok_add(&b, 0, "</s>"); tok_add(&b, -(float)INFINITY, "a"); tok_add(&b, 0, "b");
    expect_tok_fail("-inf score", &b, 5); bb_free(&b);
    tok_begin(&b, 0); tok_add(&b, 0, ""); tok_add(&b, 0, ""); tok_add(&b, 0, ""); tok_add(&b, 0, ""); tok_add(&b, 0, "");
    expect_tok_fail("max_token_length 0", &b, 5); bb_free(&b);
    tok_begin(&b, 0xFFFFFFFFu); tok_add(&b, 0, "<unk>"); tok_add(&b, 0, "<s>"); tok_add(&b, 0, "</s>"); tok_add(&b, 0, "a"); tok_add(&b, 0, "b");
    expect_tok_fail("max_token_length 2^32-1", &b, 5); bb_free(&b);
    tok_begin(&b, 8); tok_add(&b, 0, "<unk>"); tok_add(&b, 0, "<s>"); tok_add(&b, 0, "</s>"); bb_f32(&b, 0); bb_i32(&b, 3); bb_put(&b, "a\0b", 3); tok_add(&b, 0, "b");
    expect_tok_fail("NUL inside a piece", &b, 5); bb_free(&b);
    {
        char np[200];
        pt_tokenizer t;
        memset(&t, 0, sizeof t);
        snprintf(np, sizeof np, "%s/no_tokenizer.bin", g_dir);
        pt_clear_error();
        CHECK(pt_bpe_load(&t, np, 5) == PT_ERR_IO && strstr(pt_last_error(), np), "missing tokenizer file: '%s'", pt_last_error());
        pt_clear_error();
        CHECK(pt_bpe_load(&t, g_dir, 5) < 0 && strstr(pt_last_error(), g_dir), "tokenizer path is a directory: '%s'", pt_last_error());
        pt_tokenizer_free(&t);
    }

    /* a valid hand-written tokenizer of 11 pieces:
         0 <unk>  1 <s>  2 </s>  3 " "  4 "a"  5 "b"  6 "ab" (5)  7 " ab" (3)  8 " a" (4)  9 "b " (2)  10 "aa" (1)
       encode("ab ab"): dummy prefix + code points = [" " a b " " a b]
         pairs " a"(4) ab(5) "b "(2) " a"(4) ab(5): best ab (5), leftmost -> [" " ab " " a b]
         pairs " ab"(3) "ab "(-) " a"(4) ab(5): best ab        -> [" " ab " " ab]
         pairs " ab"(3) "ab "(-) " ab"(3): tie, leftmost        -> [" ab" " " ab]
         pairs " ab "(-) " ab"(3)                               -> [" ab" " ab"]   = [7 7] */
    tok_begin(&b, 5);
    tok_add(&b, 0, "<unk>"); tok_add(&b, 0, "<s>"); tok_add(&b, 0, "</s>"); tok_add(&b, -1, " "); tok_add(&b, -2, "a");
    tok_add(&b, -3, "b"); tok_add(&b, 5, "ab"); tok_add(&b, 3, " ab"); tok_add(&b, 4, " a"); tok_add(&b, 2, "b "); tok_add(&b, 1, "aa");
    p = tmp_path("tok_small.bin");
    write_bytes(p, b.p, b.n);
    bb_free(&b);
    CHECK(pt_bpe_load(&tok, p, 11) == PT_OK, "small tokenizer: %s", pt_last_error());
    if (tok.impl) {
        static const int w1[] = {1, 7, 7}, w2[] = {1, 7, 6}, w3[] = {8}, w4[] = {1, 3, 5, 4, 2};
        n = tok.encode(&tok, "ab ab", 1, 0, ids, 64);
        CHECK(n == 3 && memcmp(ids, w1, sizeof w1) == 0, "small: encode(\"ab ab\") is not [1 7 7]");
        if (n != 3 || memcmp(ids, w1, sizeof w1) != 0) print_ids("got", ids, n);
        pt_decode(&tok, ids + 1, n - 1, out, sizeof out);
        CHECK(strcmp(out, "ab ab") == 0, "small: decode -> '%s'", out);
        n = tok.encode(&tok, "abab", 1, 0, ids, 64);   /* [" " a b a b] -> [" " ab a b] -> [" " ab ab] -> [" ab" ab] */
        CHECK(n == 3 && memcmp(ids, w2, sizeof w2) == 0, "small: encode(\"abab\") is not [1 7 6]");
        if (n != 3 || memcmp(ids, w2, sizeof w2) != 0) print_ids("got", ids, n);
        n = tok.encode(&tok, "a", 0, 0, ids, 64);      /* [" " a] -> [" a"] */
        CHECK(n == 1 && memcmp(ids, w3, sizeof w3) == 0, "small: encode(\"a\") is not [8]");
        n = tok.encode(&tok, "ba", 1, 1, ids, 64);     /* " b", "ba" are not pieces: nothing merges */
        CHECK(n == 5 && memcmp(ids, w4, sizeof w4) == 0, "small: encode(\"ba\") is not [1 3 5 4 2]");
        if (n != 5 || memcmp(ids, w4, sizeof w4) != 0) print_ids("got", ids, n);
        /* [" " a b " " b]: " a"(4) ab(5) "b "(2) " b"(-) -> [" " ab " " b]: " ab"(3) "ab "(-) " b"(-)
           -> [" ab" " " b]: " ab "(-) " b"(-): done */
        n = tok.encode(&tok, "ab b", 1, 0, ids, 64);
        {
            static const int w6[] = {1, 7, 3, 5};
            CHECK(n == 4 && memcmp(ids, w6, sizeof w6) == 0, "small: encode(\"ab b\") is not [1 7 3 5]");
            if (n != 4 || memcmp(ids, w6, sizeof w6) != 0) print_ids("got", ids, n);
        }
        n = tok.encode(&tok, "ab a", 1, 0, ids, 64);   /* [" " a b " " a]: ab(5) -> [" " ab " " a]: " a"(4) > " ab"(3) -> [" " ab " a"]: " ab"(3) -> [" ab" " a"] */
        {
            static const int w7[] = {1, 7, 8};
            CHECK(n == 3 && memcmp(ids, w7, sizeof w7) == 0, "small: encode(\"ab a\") is not [1 7 8]");
            if (n != 3 || memcmp(ids, w7, sizeof w7) != 0) print_ids("got", ids, n);
        }
        /* [" " a b b " " a] -> ab(5) -> [" " ab b " " a] -> " a"(4) beats "b "(2) and " ab"(3) -> [" " ab b " a"]
           -> " ab"(3) -> [" ab" b " a"]: "abb", "b a" are not pieces: done */
        n = tok.encode(&tok, "abb a", 1, 0, ids, 64);
        {
            static const int w8[] = {1, 7, 5, 8};
            CHECK(n == 4 && memcmp(ids, w8, sizeof w8) == 0, "small: encode(\"abb a\") is not [1 7 5 8]");
            if (n != 4 || memcmp(ids, w8, sizeof w8) != 0) print_ids("got", ids, n);
        }
        /* equal scores: the leftmost pair merges first. [" " b a a a]: " b", "ba" are not pieces, aa (1)
           twice -> leftmost -> [" " b aa a]: "baa", "aaa" are not pieces: done = [3 5 10 4] */
        {
            static const int w9[] = {3, 5, 10, 4};
            n = tok.encode(&tok, "baaa", 0, 0, ids, 64);
            CHECK(n == 4 && memcmp(ids, w9, sizeof w9) == 0, "small: encode(\"baaa\") is not [3 5 10 4] (ties must merge leftmost)");
            if (n != 4 || memcmp(ids, w9, sizeof w9) != 0) print_ids("got", ids, n);
        }
        CHECK(strcmp(tok.piece(&tok, 1, 7, (char[16]){0}), "ab") == 0, "small: ' ab' after BOS");
        /* byte fallback for a character the 11-piece vocabulary lacks: id 'c' + 3 = 102 is outside
           the vocabulary; the encoder must not read vocab[102] (it did: see the report) */
        g_child_tok = &tok;
        {
            int rc = run_in_child(child_encode, (void *)"ab c");
            CHECK(rc == 0, "small tokenizer: encode(\"ab c\") with a character outside the vocabulary %s (child status %d)",
                  rc == 3 ? "returned ids >= vocab_size" : rc >= 1000 ? "crashed" : "failed", rc);
        }
        pt_tokenizer_free(&tok);
    }
}

int main(void)
{
    double t0 = pt_time_seconds(), t;
    pt_rng rng;
    size_t i;
    if (!make_tmp_dir("test_llama2c")) return 2;
    /* the fork()ing check first, before OpenMP starts its worker threads */
    t = pt_time_seconds(); test_tokenizer_files(); printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_reference(); printf("  (%.2f s)\n", pt_time_seconds() - t);
    printf("random llama2.c checkpoints\n");
    t = pt_time_seconds();
    pt_rng_seed(&rng, 42);
    for (i = 0; i < sizeof g_specs / sizeof *g_specs; i++) test_random_checkpoint(&g_specs[i], &rng);
    test_export_new_model();
    printf("  (%.2f s)\n", pt_time_seconds() - t);
    t = pt_time_seconds(); test_malformed_checkpoints(); printf("  (%.2f s)\n", pt_time_seconds() - t);
    cleanup_tmp();
    CHECK(!file_exists(g_dir), "temporary directory %s not removed", g_dir);
    printf("total %.2f s\n", pt_time_seconds() - t0);
    return test_end("test_llama2c");
}
