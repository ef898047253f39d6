/* Tests for the arithmetic world's held-out splits and preference data, and for the generation
   features they rest on (posttrain.h sections 9 >>world and 5 >>sampling):
     - the canonical-form classes (pt_world_split_of) by exhaustive enumeration against the banner's
       counts; held-out sets (pt_world_heldout): distinct, fixed, per-digit shares, disjoint;
       a million training draws (pt_world_problem), the pretraining corpus and every kind of
       pt_world_dataset record checked against a hash set of every held-out problem, keyed by the
       operands sorted (the canonical form, computed here independently of the library);
     - pt_binomial_interval against hand-computed Wilson intervals; pt_pass_at_k against the
       combinatorial definition; pt_world_eval / pt_world_eval_format / pt_world_eval_sampled on a
       tiny model against a recomputation from pt_generate;
     - synthetic completions of every flaw (pt_world_completion) checked by an independent parser
       and renderer, pt_world_quality / pt_world_strength, pt_world_preferences (pairs and
       triples, JSONL round trip), pt_world_onpolicy_pairs;
     - pt_world_parse, pt_world_step_spans (byte tokenizer and, if present, the llama2.c BPE);
     - pt_generate's stop-token sets and shared prefill (pt_kv_copy), and rollout batches
       (pt_rollout_batch_from / pt_rollout_view) against pt_model_logprobs.
   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_world_XXXXXX, removed at the end. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <string.h>
#include <stdint.h>
#include <math.h>

#include "test_tmp.h"

/* Loops shrink under the sanitizers (about 10x slower). */
#define SCALE(opt, san) (T_SANITIZED ? (san) : (opt))

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
static pt_world_config wcfg(int min_d, int max_d, int terms)
{
    pt_world_config c;
    memset(&c, 0, sizeof c);
    c.min_digits = min_d; c.max_digits = max_d; c.terms = terms;
    return c;
}
static int ndigits(long long v) { int n = 1; while (v >= 10) { v /= 10; n++; } return n; }
static long long pow10ll(int e) { long long p = 1; while (e-- > 0) p *= 10; return p; }
static pt_problem make_problem(const long long *t, int n)
{
    pt_problem p;
    int i;
    memset(&p, 0, sizeof p);
    p.n_terms = n;
    for (i = 0; i < n; i++) { p.terms[i] = t[i]; p.answer += t[i]; }
    return p;
}
/* "Q: a+b+c=?\n" */
static void my_question(const long long *t, int n, char *out, size_t cap)
{
    size_t at = 0;
    int i;
    at += (size_t)snprintf(out + at, cap - at, "Q: ");
    for (i = 0; i < n && at < cap; i++) at += (size_t)snprintf(out + at, cap - at, "%s%lld", i ? "+" : "", t[i]);
    if (at < cap) snprintf(out + at, cap - at, "=?\n");
}
/* A completion, parsed independently of the library: <think>v+v+..=s;...</think><answer>N</answer> */
#define MAXSTEPS 20
typedef struct parsed {
    int n_steps, nv[MAXSTEPS];
    long long v[MAXSTEPS][12], sum[MAXSTEPS];
    long long answer;
    int ok;   /* the whole string is exactly this form */
} parsed;
static int read_num(const char **s, long long *v)
{
    const char *p = *s;
    long long x = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9') { if (n < 18) x = x * 10 + (*p - '0'); p++; n++; }
    if (n == 0 || n > 18) return 0;
    *s = p; *v = x;
    return 1;
}
static int lit(const char **s, const char *l) { size_t n = strlen(l); if (strncmp(*s, l, n)) return 0; *s += n; return 1; }
static void my_parse(const char *text, parsed *out)
{
    const char *s = text;
    memset(out, 0, sizeof *out);
    if (!lit(&s, "<think>")) return;
    for (;;) {
        int j = out->n_steps;
        long long x;
        if (j == MAXSTEPS) return;
        while (out->nv[j] < 12 && read_num(&s, &x)) { out->v[j][out->nv[j]++] = x; if (!lit(&s, "+")) break; }
        if (out->nv[j] < 2 || !lit(&s, "=") || !read_num(&s, &out->sum[j])) return;
        out->n_steps++;
        if (!lit(&s, ";")) break;
    }
    if (!lit(&s, "</think><answer>") || !read_num(&s, &out->answer) || !lit(&s, "</answer>") || *s) return;
    out->ok = 1;
}
/* The clean solution of a problem, computed here: column by column from the right, the column's
   digits (every operand, shorter ones give 0), the incoming carry if nonzero, and the column sum. */
static void my_clean(const long long *t, int n, parsed *out)
{
    int cols = 1, i, j;
    long long carry = 0;
    memset(out, 0, sizeof *out);
    for (i = 0; i < n; i++) if (ndigits(t[i]) > cols) cols = ndigits(t[i]);
    for (j = 0; j < cols; j++) {
        long long s = carry;
        for (i = 0; i < n; i++) { long long d = t[i] / pow10ll(j) % 10; out->v[j][out->nv[j]++] = d; s += d; }
        if (carry) out->v[j][out->nv[j]++] = carry;
        out->sum[j] = s;
        carry = s / 10;
    }
    out->n_steps = cols;
    for (i = 0; i < n; i++) out->answer += t[i];
    out->ok = 1;
}
static void my_render(const parsed *p, char *out, size_t cap)
{
    size_t at = 0;
    int j, v;
    at += (size_t)snprintf(out + at, cap - at, "<think>");
    for (j = 0; j < p->n_steps && at < cap; j++) {
        for (v = 0; v < p->nv[j] && at < cap; v++) at += (size_t)snprintf(out + at, cap - at, "%s%lld", v ? "+" : "", p->v[j][v]);
        if (at < cap) at += (size_t)snprintf(out + at, cap - at, "=%lld%s", p->sum[j], j + 1 < p->n_steps ? ";" : "");
    }
    if (at < cap) snprintf(out + at, cap - at, "</think><answer>%lld</answer>", p->answer);
}
static int same_operands(const parsed *a, const parsed *b, int j)
{
    int v;
    if (a->nv[j] != b->nv[j]) return 0;
    for (v = 0; v < a->nv[j]; v++) if (a->v[j][v] != b->v[j][v]) return 0;
    return 1;
}
/* The answer a completion claims from its steps: units of every column sum but the last, then the last whole. */
static long long claimed_answer(const parsed *p)
{
    long long a = 0, place = 1;
    int j;
    for (j = 0; j < p->n_steps; j++, place *= 10) a += (j + 1 < p->n_steps ? p->sum[j] % 10 : p->sum[j]) * place;
    return a;
}

/* A hash set of problems keyed by their canonical form: the operand count and the operands sorted. */
typedef struct pkey { long long t[8]; int n; } pkey;
typedef struct keyset { pkey *k; unsigned char *used; size_t cap, count; } keyset;
static pkey key_of(const long long *terms, int n)
{
    pkey k;
    int i, j;
    memset(&k, 0, sizeof k);
    k.n = n;
    for (i = 0; i < n; i++) {   /* insertion sort, ascending */
        long long v = terms[i];
        for (j = i; j > 0 && k.t[j - 1] > v; j--) k.t[j] = k.t[j - 1];
        k.t[j] = v;
    }
    return k;
}
static uint64_t key_hash(const pkey *k)
{
    uint64_t h = 1469598103934665603ull;
    int i;
    for (i = 0; i < 8; i++) { h ^= (uint64_t)k->t[i] + 0x9E3779B97F4A7C15ull * (uint64_t)i; h *= 1099511628211ull; h ^= h >> 29; }
    h ^= (uint64_t)k->n; h *= 1099511628211ull;
    return h ^ (h >> 31);
}
static int key_eq(const pkey *a, const pkey *b) { return a->n == b->n && memcmp(a->t, b->t, sizeof a->t) == 0; }
static void keyset_init(keyset *s, size_t cap)
{
    s->cap = cap; s->count = 0;
    s->k = (pkey *)calloc(cap, sizeof(pkey));
    s->used = (unsigned char *)calloc(cap, 1);
}
static void keyset_free(keyset *s) { free(s->k); free(s->used); memset(s, 0, sizeof *s); }
static int keyset_has(const keyset *s, const pkey *k)
{
    size_t i = (size_t)(key_hash(k) % s->cap);
    while (s->used[i]) { if (key_eq(&s->k[i], k)) return 1; i = (i + 1) % s->cap; }
    return 0;
}
static void keyset_add(keyset *s, const pkey *k)
{
    size_t i = (size_t)(key_hash(k) % s->cap);
    if (s->count * 2 >= s->cap) { printf("keyset full\n"); exit(2); }
    while (s->used[i]) { if (key_eq(&s->k[i], k)) return; i = (i + 1) % s->cap; }
    s->used[i] = 1; s->k[i] = *k; s->count++;
}
static int has_problem(const keyset *s, const pt_problem *p) { pkey k = key_of(p->terms, p->n_terms); return keyset_has(s, &k); }

/* Every held-out problem of every config below (filled by test_heldout). */
static keyset g_held;
/* The configs: the defaults (1..3 digits, 2 terms), 3 terms, and 1..4 digits (so the default
   config's OOD problems are in its training range). */
static pt_world_config g_cfgs[3];
static const char *g_cfg_names[3] = { "1-3 digits, 2 terms", "1-3 digits, 3 terms", "1-4 digits, 2 terms" };

static pt_config tiny_config(void) { return mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 192, 0); }
static pt_model *g_rand;      /* random weights */
static pt_model *g_trained;   /* SFT'd briefly on the world (test_train) */

/* 95% Wilson interval, computed here */
static void my_wilson(int k, int n, double *lo, double *hi)
{
    double z = 1.959963984540054, p = (double)k / n, z2n = z * z / n;
    double c = (p + z2n / 2) / (1 + z2n), h = z * sqrt(p * (1 - p) / n + z2n / (4.0 * n)) / (1 + z2n);
    *lo = c - h < 0 ? 0 : c - h;
    *hi = c + h > 1 ? 1 : c + h;
}
/* The operand digit count of a problem (all operands of a world problem have the same) */
static int prob_digits(const pt_problem *p)
{
    int i, d = ndigits(p->terms[0]);
    for (i = 1; i < p->n_terms; i++) if (ndigits(p->terms[i]) != d) return -1;
    return d;
}
/* The question without its newline ("Q: 47+85=?", the prompt of a JSONL record) */
static void user_text(const pt_problem *p, char *out, size_t cap)
{
    size_t n = strlen(p->question);
    if (n && p->question[n - 1] == '\n') n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, p->question, n);
    out[n] = 0;
}
/* The completion text of generated sequence i, without a final stop token (byte tokenizer) */
static void gen_text(const pt_gen_result *r, int i, char *text, int cap)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int len = r->total_len[i] - r->prompt_len[i];
    const int *ids = r->tokens + (int64_t)i * r->width + r->prompt_len[i];
    if (len > 0 && (ids[len - 1] == PT_BYTE_END || ids[len - 1] == PT_BYTE_EOS)) len--;
    pt_decode(&tok, ids, len, text, cap);
    utf8_sanitize(text);
}

/* ---------------------------------------------------------------------------------------------
   1. Classes by exhaustive enumeration
   --------------------------------------------------------------------------------------------- */
static int split_of_terms(const long long *t, int n) { pt_problem p = make_problem(t, n); return pt_world_split_of(&p); }
static int class_index(int split) { return split == PT_WORLD_TEST ? 0 : split == PT_WORLD_VALID ? 1 : split == PT_WORLD_TRAIN ? 2 : -1; }
static void test_classes(void)
{
    int cnt[3] = { 0, 0, 0 }, bad_class = 0, asym = 0, i;
    long long a, b, c;
    long long n3[3] = { 0, 0, 0 };
    /* 1 digit, 2 terms (ordered pairs, as the banner counts them: 100 = 5 + 13 + 82) */
    for (a = 0; a <= 9; a++)
        for (b = 0; b <= 9; b++) {
            long long t[2] = { a, b }, u[2] = { b, a };
            int s = split_of_terms(t, 2), ci = class_index(s);
            if (ci < 0) { bad_class++; continue; }
            cnt[ci]++;
            asym += s != split_of_terms(u, 2);
        }
    CHECK(bad_class == 0, "1 digit: %d problems outside the three classes", bad_class);
    CHECK(cnt[0] == 5 && cnt[1] == 13 && cnt[2] == 82, "1 digit: test/valid/train %d/%d/%d, banner says 5/13/82", cnt[0], cnt[1], cnt[2]);
    printf("  1 digit:  test %d, valid %d, train %d\n", cnt[0], cnt[1], cnt[2]);
    /* 2 digits: 8100 = 758 + 792 + 6550 */
    cnt[0] = cnt[1] = cnt[2] = 0;
    for (a = 10; a <= 99; a++)
        for (b = 10; b <= 99; b++) {
            long long t[2] = { a, b }, u[2] = { b, a };
            int s = split_of_terms(t, 2), ci = class_index(s);
            if (ci < 0) { bad_class++; continue; }
            cnt[ci]++;
            asym += s != split_of_terms(u, 2);
        }
    CHECK(bad_class == 0, "2 digits: %d problems outside the three classes", bad_class);
    CHECK(cnt[0] == 758 && cnt[1] == 792 && cnt[2] == 6550, "2 digits: test/valid/train %d/%d/%d, banner says 758/792/6550", cnt[0], cnt[1], cnt[2]);
    printf("  2 digits: test %d, valid %d, train %d\n", cnt[0], cnt[1], cnt[2]);
    /* 3 digits: all 810,000 ordered pairs, ~10% / 10% / 80% */
    for (a = 100; a <= 999; a++)
        for (b = 100; b <= 999; b++) {
            long long t[2] = { a, b };
            int ci = class_index(split_of_terms(t, 2));
            if (ci < 0) { bad_class++; continue; }
            n3[ci]++;
            if (b < a) { long long u[2] = { b, a }; asym += class_index(split_of_terms(u, 2)) != ci; }
        }
    CHECK(bad_class == 0, "3 digits: %d problems outside the three classes", bad_class);
    CHECK(fabs(n3[0] / 810000.0 - 0.1) < 0.005 && fabs(n3[1] / 810000.0 - 0.1) < 0.005 && fabs(n3[2] / 810000.0 - 0.8) < 0.007,
          "3 digits: test/valid/train %lld/%lld/%lld of 810000, want ~10/10/80%%", n3[0], n3[1], n3[2]);
    printf("  3 digits: test %.2f%%, valid %.2f%%, train %.2f%%\n", n3[0] / 8100.0, n3[1] / 8100.0, n3[2] / 8100.0);
    CHECK(asym == 0, "a+b and b+a in different classes %d times", asym);
    /* 3 terms, 1 digit: every permutation of a triple shares its class; ~10/10/80 over 1000 */
    cnt[0] = cnt[1] = cnt[2] = 0;
    asym = 0;
    for (a = 0; a <= 9; a++)
        for (b = 0; b <= 9; b++)
            for (c = 0; c <= 9; c++) {
                long long perms[6][3] = { { a, b, c }, { a, c, b }, { b, a, c }, { b, c, a }, { c, a, b }, { c, b, a } };
                int s = split_of_terms(perms[0], 3), ci = class_index(s);
                if (ci < 0) { bad_class++; continue; }
                cnt[ci]++;
                for (i = 1; i < 6; i++) asym += split_of_terms(perms[i], 3) != s;
            }
    CHECK(bad_class == 0 && asym == 0, "3 terms: %d outside the classes, %d permutations in another class", bad_class, asym);
    CHECK(cnt[0] >= 50 && cnt[0] <= 150 && cnt[1] >= 50 && cnt[1] <= 150, "3 terms, 1 digit: test/valid/train %d/%d/%d of 1000", cnt[0], cnt[1], cnt[2]);
    /* the operand count is part of the canonical form: 3+4 and 3+4+0 are different problems, and
       most of the 100 1-digit pairs (p, 0) land in a different class from p + 0 (with 3 terms) */
    {
        int differ = 0;
        for (a = 0; a <= 9; a++)
            for (b = 0; b <= 9; b++) { long long t2[2] = { a, b }, t3[3] = { a, b, 0 }; differ += split_of_terms(t2, 2) != split_of_terms(t3, 3); }
        CHECK(differ > 10, "pairs and triples of the same digits share their class too often (%d of 100 differ)", differ);
    }
}

/* ---------------------------------------------------------------------------------------------
   2. Held-out sets
   --------------------------------------------------------------------------------------------- */
/* Ordered 1-digit problems of a class (what pt_world_heldout can take from 1 digit) */
static int count_1digit(int terms, int klass)
{
    long long t[3] = { 0, 0, 0 };
    int count = 0, total = terms == 2 ? 100 : 1000, i;
    for (i = 0; i < total; i++) {
        t[0] = i % 10; t[1] = i / 10 % 10; t[2] = i / 100;
        count += split_of_terms(t, terms) == klass;
    }
    return count;
}
static void test_heldout(void)
{
    static const int splits[3] = { PT_WORLD_ID, PT_WORLD_VALID, PT_WORLD_OOD };
    static const int sizes[3] = { 800, 400, 400 };
    static const char *names[3] = { "ID", "VALID", "OOD" };
    pt_problem *a = (pt_problem *)malloc(800 * sizeof(pt_problem)), *b = (pt_problem *)malloc(800 * sizeof(pt_problem));
    keyset per_split[3];
    int ci, si, i, j;
    keyset_init(&g_held, 1 << 15);
    for (ci = 0; ci < 3; ci++) {
        const pt_world_config *c = &g_cfgs[ci];
        int terms = c->terms ? c->terms : 2, maxd = c->max_digits ? c->max_digits : 3, mind = c->min_digits ? c->min_digits : 1;
        for (si = 0; si < 3; si++) keyset_init(&per_split[si], 4096);
        for (si = 0; si < 3; si++) {
            int split = splits[si], n = sizes[si], got, got2, klass = split == PT_WORLD_VALID ? PT_WORLD_VALID : PT_WORLD_TEST;
            int lo = split == PT_WORLD_OOD ? maxd + 1 : mind, hi = split == PT_WORLD_OOD ? maxd + 1 : maxd;
            int dup = 0, wrong_class = 0, wrong_shape = 0, wrong_text = 0, per_d[17], want_d[17], d, left;
            memset(per_d, 0, sizeof per_d);
            memset(want_d, 0, sizeof want_d);
            got = pt_world_heldout(c, split, n, a);
            got2 = pt_world_heldout(c, split, n, b);
            CHECK(got == n, "%s %s: %d problems, want %d (%s)", g_cfg_names[ci], names[si], got, n, pt_last_error());
            CHECK(got2 == got && memcmp(a, b, (size_t)(got > 0 ? got : 0) * sizeof(pt_problem)) == 0,
                  "%s %s: two calls differ", g_cfg_names[ci], names[si]);
            for (i = 0; i < got; i++) {
                char q[200];
                long long sum = 0;
                int dd = prob_digits(&a[i]);
                for (j = 0; j < i && !dup; j++)   /* distinct as prompts (as ordered operand lists) */
                    dup += a[j].n_terms == a[i].n_terms && memcmp(a[j].terms, a[i].terms, sizeof a[i].terms) == 0;
                wrong_class += pt_world_split_of(&a[i]) != klass;
                for (j = 0; j < a[i].n_terms; j++) sum += a[i].terms[j];
                wrong_shape += a[i].n_terms != terms || dd < lo || dd > hi || sum != a[i].answer;
                my_question(a[i].terms, a[i].n_terms, q, sizeof q);
                wrong_text += strcmp(q, a[i].question) != 0;
                if (dd >= 1 && dd < 17) per_d[dd]++;
                {
                    pkey k = key_of(a[i].terms, a[i].n_terms);
                    keyset_add(&g_held, &k);
                    keyset_add(&per_split[si], &k);
                }
            }
            CHECK(dup == 0, "%s %s: repeated problems", g_cfg_names[ci], names[si]);
            CHECK(wrong_class == 0, "%s %s: %d problems of another class", g_cfg_names[ci], names[si], wrong_class);
            CHECK(wrong_shape == 0, "%s %s: %d problems with the wrong terms, digits (want %d..%d) or answer", g_cfg_names[ci], names[si], wrong_shape, lo, hi);
            CHECK(wrong_text == 0, "%s %s: %d questions differ from \"Q: a+b=?\\n\"", g_cfg_names[ci], names[si], wrong_text);
            /* the documented shares: equal per digit count, what 1 digit cannot fill goes to the next */
            for (d = lo, left = n; d <= hi; d++) {
                int quota = left / (hi - d + 1), avail = d == 1 ? count_1digit(terms, klass) : 1 << 30;
                want_d[d] = quota < avail ? quota : avail;
                left -= want_d[d];
            }
            {
                int mism = 0;
                char line[160];
                size_t at = 0;
                for (d = 1; d < 17; d++) {
                    mism += per_d[d] != want_d[d];
                    if (per_d[d] && at < sizeof line) at += (size_t)snprintf(line + at, sizeof line - at, " %dd %d", d, per_d[d]);
                }
                CHECK(mism == 0, "%s %s: per-digit counts%s differ from the documented shares", g_cfg_names[ci], names[si], line);
                if (ci == 0) printf("  %-5s n=%d:%s\n", names[si], n, line);
            }
            if (ci == 0 && split == PT_WORLD_ID)   /* the defaults: 1 digit gets the few test problems there are */
                CHECK(per_d[1] >= 5 && per_d[1] <= 10 && per_d[2] == (800 - per_d[1]) / 2 && per_d[3] == 800 - per_d[1] - per_d[2],
                      "default ID: 1d %d (5 test problems exist: 5..10 prompts), 2d %d, 3d %d", per_d[1], per_d[2], per_d[3]);
        }
        /* ID, VALID and OOD of one config share no problem */
        {
            int overlap_iv = 0, overlap_io = 0;
            for (i = 0; i < (int)per_split[1].cap; i++) if (per_split[1].used[i]) overlap_iv += keyset_has(&per_split[0], &per_split[1].k[i]);
            for (i = 0; i < (int)per_split[2].cap; i++) if (per_split[2].used[i]) overlap_io += keyset_has(&per_split[0], &per_split[2].k[i]) + keyset_has(&per_split[1], &per_split[2].k[i]);
            CHECK(overlap_iv == 0 && overlap_io == 0, "%s: VALID/ID overlap %d, OOD overlap %d", g_cfg_names[ci], overlap_iv, overlap_io);
        }
        for (si = 0; si < 3; si++) keyset_free(&per_split[si]);
    }
    /* a split with fewer distinct problems than asked: all of them, each once */
    {
        pt_world_config one = wcfg(1, 1, 2);
        int want = count_1digit(2, PT_WORLD_TEST), got = pt_world_heldout(&one, PT_WORLD_ID, 50, a), dup = 0, cls = 0;
        for (i = 0; i < got; i++) {
            cls += pt_world_split_of(&a[i]) != PT_WORLD_TEST || prob_digits(&a[i]) != 1;
            for (j = 0; j < i; j++) dup += a[i].terms[0] == a[j].terms[0] && a[i].terms[1] == a[j].terms[1];
        }
        CHECK(got == want && dup == 0 && cls == 0, "1-digit ID of 50: %d problems (want every one of the %d), %d repeated, %d wrong", got, want, dup, cls);
        want = count_1digit(2, PT_WORLD_VALID);
        got = pt_world_heldout(&one, PT_WORLD_VALID, 100, a);
        CHECK(got == want, "1-digit VALID of 100: %d problems, want %d", got, want);
    }
    /* errors */
    CHECK(pt_world_heldout(NULL, PT_WORLD_TRAIN, 10, a) == PT_ERR_ARG && pt_last_error()[0], "TRAIN is not a held-out split");
    CHECK(pt_world_heldout(NULL, PT_WORLD_ID, 0, a) == PT_ERR_ARG, "n = 0 is an error");
    CHECK(pt_world_heldout(NULL, PT_WORLD_ID, 10, NULL) == PT_ERR_ARG, "NULL out is an error");
    CHECK(pt_world_heldout(NULL, 7, 10, a) == PT_ERR_ARG, "split 7 is an error");
    /* NULL config = the defaults */
    CHECK(pt_world_heldout(NULL, PT_WORLD_VALID, 400, b) == 400 && pt_world_heldout(&g_cfgs[0], PT_WORLD_VALID, 400, a) == 400 &&
          memcmp(a, b, 400 * sizeof(pt_problem)) == 0, "NULL config is not the defaults");
    printf("  %d held-out problems (canonical forms) over 3 configs\n", (int)g_held.count);
    free(a);
    free(b);
}

/* ---------------------------------------------------------------------------------------------
   3. Training draws never hit a held-out problem; held-out draws stay in their class
   --------------------------------------------------------------------------------------------- */
static void test_train_draws(void)
{
    const int per = 250000 / 3;   /* per seed and config: 4 seeds x 3 configs = 10^6 draws */
    static const uint64_t seeds[4] = { 0, 1, 12345, 0xDEADBEEFCAFEull };
    long long total = 0, hits = 0, not_train = 0, bad_shape = 0, bad_text = 0;
    int ci, si, i, seen1[100], n_seen1 = 0;
    char first[200] = "";
    memset(seen1, 0, sizeof seen1);
    for (ci = 0; ci < 3; ci++) {
        const pt_world_config *c = &g_cfgs[ci];
        int terms = c->terms ? c->terms : 2, maxd = c->max_digits ? c->max_digits : 3;
        for (si = 0; si < 4; si++)
            for (i = 0; i < per; i++) {
                pt_problem p;
                char q[200];
                long long sum = 0;
                int d, t;
                pt_world_problem(c, PT_WORLD_TRAIN, seeds[si], i, &p);
                total++;
                if (has_problem(&g_held, &p)) { hits++; if (!first[0]) snprintf(first, sizeof first, "%s", p.question); }
                not_train += pt_world_split_of(&p) != PT_WORLD_TRAIN;
                d = prob_digits(&p);
                for (t = 0; t < p.n_terms; t++) sum += p.terms[t];
                bad_shape += p.n_terms != terms || d < 1 || d > maxd || sum != p.answer;
                if ((i & 15) == 0) { my_question(p.terms, p.n_terms, q, sizeof q); bad_text += strcmp(q, p.question) != 0; }
                if (ci == 0 && d == 1) { int k = (int)(p.terms[0] * 10 + p.terms[1]); n_seen1 += !seen1[k]; seen1[k] = 1; }
            }
    }
    printf("  %lld training draws over 4 seeds and 3 configs\n", total);
    CHECK(hits == 0, "%lld training draws are held-out problems (first %s)", hits, first);
    CHECK(not_train == 0, "%lld training draws are not of the training class", not_train);
    CHECK(bad_shape == 0 && bad_text == 0, "%lld training draws of the wrong shape, %lld with a wrong question", bad_shape, bad_text);
    /* the rejection keeps everything of the training class: all 82 one-digit training pairs occur */
    CHECK(n_seen1 == 82, "default config: %d distinct one-digit training problems drawn, want all 82", n_seen1);
    /* held-out draws: their class, the right digits, independent of the seed */
    {
        static const int splits[3] = { PT_WORLD_ID, PT_WORLD_VALID, PT_WORLD_OOD };
        long long wrong = 0, seed_dep = 0, n = 0;
        for (ci = 0; ci < 3; ci++) {
            const pt_world_config *c = &g_cfgs[ci];
            int maxd = c->max_digits ? c->max_digits : 3;
            for (si = 0; si < 3; si++)
                for (i = 0; i < SCALE(2000, 1000); i++) {
                    pt_problem p, q;
                    int d, klass = splits[si] == PT_WORLD_VALID ? PT_WORLD_VALID : PT_WORLD_TEST;
                    pt_world_problem(c, splits[si], 0, i, &p);
                    pt_world_problem(c, splits[si], 777 + (uint64_t)i, i, &q);
                    d = prob_digits(&p);
                    wrong += pt_world_split_of(&p) != klass || (splits[si] == PT_WORLD_OOD ? d != maxd + 1 : d < 1 || d > maxd);
                    seed_dep += memcmp(&p, &q, sizeof p) != 0;
                    n++;
                }
        }
        CHECK(wrong == 0, "%lld of %lld held-out draws of the wrong class or digit count", wrong, n);
        CHECK(seed_dep == 0, "%lld held-out draws depend on the seed", seed_dep);
    }
}

/* ---------------------------------------------------------------------------------------------
   4. The pretraining corpus and the datasets of the training split carry no held-out problem
   --------------------------------------------------------------------------------------------- */
static void test_streams(void)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int ci;
    for (ci = 0; ci < 3; ci++) {
        pt_world_config c = g_cfgs[ci];
        int64_t n_docs = SCALE(20000, 5000), cap = n_docs * 600, n, i, start = -1;
        int *ids = (int *)malloc((size_t)cap * sizeof(int));
        long long docs = 0, held = 0, unparsed = 0, not_train = 0;
        char *text = (char *)malloc(4096);
        c.noise = 0.1f;
        n = pt_world_corpus(&c, 7 + (uint64_t)ci, n_docs, ids, cap);
        for (i = 0; i < n; i++) {
            if (ids[i] == PT_BYTE_BOS) start = i + 1;
            else if (ids[i] == PT_BYTE_EOS && start >= 0) {
                pt_problem p;
                pt_decode(&tok, ids + start, (int)(i - start), text, 4096);
                docs++;
                if (pt_world_parse(text, &p) != PT_OK) { unparsed++; continue; }
                held += has_problem(&g_held, &p);
                not_train += pt_world_split_of(&p) != PT_WORLD_TRAIN;
                start = -1;
            }
        }
        CHECK(docs == n_docs, "%s corpus: %lld documents, want %lld", g_cfg_names[ci], docs, (long long)n_docs);
        CHECK(unparsed == 0, "%s corpus: %lld questions did not parse", g_cfg_names[ci], unparsed);
        CHECK(held == 0 && not_train == 0, "%s corpus: %lld held-out problems, %lld not of the training class", g_cfg_names[ci], held, not_train);
        free(ids);
        free(text);
    }
    for (ci = 0; ci < 3; ci++) {
        int kind;
        for (kind = PT_DATA_TEXT; kind <= PT_DATA_PROMPT; kind++) {
            pt_dataset ds;
            int st = pt_world_dataset(&g_cfgs[ci], PT_WORLD_TRAIN, 3 + (uint64_t)kind, SCALE(2000, 1000), kind, &ds), i, held = 0, unparsed = 0;
            CHECK(st == PT_OK, "%s dataset %s: %s", g_cfg_names[ci], pt_data_kind_name(kind), pt_last_error());
            if (st != PT_OK) continue;
            for (i = 0; i < ds.n; i++) {
                const pt_record *r = &ds.records[i];
                const char *text = kind == PT_DATA_TEXT ? r->text : kind == PT_DATA_MESSAGES ? (r->n_messages > 0 ? r->messages[0].content : NULL) : r->prompt;
                pt_problem p;
                if (!text || pt_world_parse(text, &p) != PT_OK) { unparsed++; continue; }
                held += has_problem(&g_held, &p) || pt_world_split_of(&p) != PT_WORLD_TRAIN;
                if (kind == PT_DATA_PROMPT) { char a[32]; snprintf(a, sizeof a, "%lld", p.answer); held += !r->answer || strcmp(a, r->answer) != 0; }
            }
            CHECK(unparsed == 0 && held == 0, "%s dataset %s: %d unparsed, %d held out or wrong", g_cfg_names[ci], pt_data_kind_name(kind), unparsed, held);
            pt_dataset_free(&ds);
        }
        /* triples too */
        {
            pt_dataset ds;
            int st = pt_world_preferences(&g_cfgs[ci], PT_WORLD_TRAIN, 5, SCALE(1500, 600), 1, &ds), i, bad = 0;
            CHECK(st == PT_OK, "%s triples: %s", g_cfg_names[ci], pt_last_error());
            for (i = 0; st == PT_OK && i < ds.n; i++) {
                pt_problem p;
                bad += pt_world_parse(ds.records[i].prompt, &p) != PT_OK || has_problem(&g_held, &p);
            }
            CHECK(bad == 0, "%s triples: %d held-out or unparsable prompts", g_cfg_names[ci], bad);
            if (st == PT_OK) pt_dataset_free(&ds);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
   5. Wilson intervals
   --------------------------------------------------------------------------------------------- */
static void test_interval(void)
{
    float lo = -1, hi = -1;
    int k, n, bad = 0;
    /* hand-computed (z = 1.96): 50/100 -> 0.5 -+ 0.0962; 0/10 -> hi = z^2/(n+z^2) = 0.27753;
       10/10 -> lo = n/(n+z^2) = 0.72247; 1/1 -> [0.20655, 1]; 400/800 -> 0.5 -+ 0.03461 */
    pt_binomial_interval(50, 100, &lo, &hi);
    CHECK(fabs(lo - 0.40383) < 2e-4 && fabs(hi - 0.59617) < 2e-4, "50/100: [%f, %f], want [0.4038, 0.5962]", lo, hi);
    pt_binomial_interval(0, 10, &lo, &hi);
    CHECK(lo == 0.0f && fabs(hi - 0.27753) < 2e-4, "0/10: [%f, %f], want [0, 0.2775]", lo, hi);
    pt_binomial_interval(10, 10, &lo, &hi);
    CHECK(fabs(lo - 0.72247) < 2e-4 && hi == 1.0f, "10/10: [%f, %f], want [0.7225, 1]", lo, hi);
    pt_binomial_interval(1, 1, &lo, &hi);
    CHECK(fabs(lo - 0.20655) < 2e-4 && hi == 1.0f, "1/1: [%f, %f], want [0.2065, 1]", lo, hi);
    pt_binomial_interval(400, 800, &lo, &hi);
    CHECK(fabs(lo - 0.46539) < 2e-4 && fabs(hi - 0.53461) < 2e-4, "400/800: [%f, %f] (the banner's +-3.5 points)", lo, hi);
    pt_binomial_interval(3, 20, &lo, &hi);   /* p = .15: [0.05236, 0.36040] */
    CHECK(fabs(lo - 0.05236) < 2e-4 && fabs(hi - 0.36040) < 2e-4, "3/20: [%f, %f], want [0.0524, 0.3604]", lo, hi);
    lo = hi = -1;
    pt_binomial_interval(0, 0, &lo, &hi);
    CHECK(lo == 0.0f && hi == 1.0f, "n = 0: [%f, %f], want [0, 1]", lo, hi);
    lo = hi = -1;
    pt_binomial_interval(0, -3, &lo, &hi);
    CHECK(lo == 0.0f && hi == 1.0f, "n < 0: [%f, %f], want [0, 1]", lo, hi);
    /* a grid against the formula computed here; inside [0, 1], contains k/n, symmetric */
    for (n = 1; n <= 60; n++)
        for (k = 0; k <= n; k++) {
            double wl, wh;
            float l2, h2;
            my_wilson(k, n, &wl, &wh);
            pt_binomial_interval(k, n, &lo, &hi);
            pt_binomial_interval(n - k, n, &l2, &h2);
            bad += fabs(lo - wl) > 1e-6 || fabs(hi - wh) > 1e-6 || lo < 0 || hi > 1 || lo > (float)k / n + 1e-6f || hi < (float)k / n - 1e-6f ||
                   fabs(lo - (1 - h2)) > 1e-6 || fabs(hi - (1 - l2)) > 1e-6;
        }
    CHECK(bad == 0, "Wilson grid: %d of 1890 intervals wrong", bad);
}

/* ---------------------------------------------------------------------------------------------
   6. Synthetic completions, quality and strength
   --------------------------------------------------------------------------------------------- */
static void test_completions(void)
{
    pt_world_config cfgs[5];
    const char *cnames[5] = { "1-3 digits", "3 terms", "4-6 digits", "8 terms of 15 digits", "1-4 digits" };
    static const int want_q[5] = { 3, 2, 1, 1, 0 };
    static const char *flaw_names[5] = { "NONE", "STEP", "ANSWER", "CARRIED", "TRUNCATED" };
    pt_rng rng;
    int ci, i, f;
    cfgs[0] = g_cfgs[0]; cfgs[1] = g_cfgs[1]; cfgs[2] = wcfg(4, 6, 2); cfgs[3] = wcfg(15, 15, 8); cfgs[4] = g_cfgs[2];
    pt_rng_seed(&rng, 42);
    /* quality from hand-made scores */
    {
        pt_world_score s;
        int bad = 0;
        memset(&s, 0, sizeof s);
        s.format_ok = 1; s.correct = 1; s.n_steps = 3; s.steps_ok = 3; bad += pt_world_quality(&s) != 3;
        s.steps_ok = 2; bad += pt_world_quality(&s) != 2;
        s.steps_ok = 3; s.format_ok = 0; bad += pt_world_quality(&s) != 2;
        s.format_ok = 1; s.correct = 0; bad += pt_world_quality(&s) != 1;
        s.steps_ok = 0; bad += pt_world_quality(&s) != 1;
        s.format_ok = 0; bad += pt_world_quality(&s) != 0;
        CHECK(bad == 0, "pt_world_quality on hand-made scores: %d wrong", bad);
    }
    for (ci = 0; ci < 5; ci++) {
        int n = SCALE(600, 300), errs[5] = { 0, 0, 0, 0, 0 }, qbad[5] = { 0, 0, 0, 0, 0 }, strength_bad = 0, clean_bad = 0;
        for (i = 0; i < n; i++) {
            pt_problem p;
            parsed clean, got;
            char txt[5][600], want[600];
            pt_world_score sc[5];
            int wrong_steps[5] = { 0, 0, 0, 0, 0 }, len;
            memset(sc, 0, sizeof sc);
            pt_world_problem(&cfgs[ci], PT_WORLD_TRAIN, 99, i, &p);
            my_clean(p.terms, p.n_terms, &clean);
            my_render(&clean, want, sizeof want);
            clean_bad += strncmp(p.solution, "A: ", 3) != 0 || strcmp(p.solution + 3, want) != 0;
            for (f = 0; f < 5; f++) {
                int j, diff = 0, diff_units_only = 1;
                len = pt_world_completion(&p, f, &rng, txt[f], sizeof txt[f]);
                if (len != (int)strlen(txt[f])) { errs[f]++; continue; }
                pt_world_score_text(&p, txt[f], &sc[f]);
                wrong_steps[f] = sc[f].n_steps - sc[f].steps_ok;
                qbad[f] += pt_world_quality(&sc[f]) != want_q[f];
                my_parse(txt[f], &got);
                if (f == PT_FLAW_TRUNCATED) {
                    /* a prefix of the clean solution, cut inside the think block */
                    const char *close = strstr(want, "</think>");
                    errs[f] += got.ok || strncmp(txt[f], want, (size_t)len) != 0 || len < 7 || len >= (int)(close - want);
                    continue;
                }
                if (!got.ok || got.n_steps != clean.n_steps) { errs[f]++; continue; }
                for (j = 0; j < got.n_steps; j++) {
                    if (!same_operands(&got, &clean, j)) { diff += 100; continue; }
                    if (got.sum[j] != clean.sum[j]) { diff++; diff_units_only &= got.sum[j] / 10 == clean.sum[j] / 10; }
                }
                switch (f) {
                case PT_FLAW_NONE: errs[f] += strcmp(txt[f], want) != 0 || sc[f].first_bad_step != -1; break;
                case PT_FLAW_STEP: errs[f] += diff != 1 || !diff_units_only || got.answer != p.answer || wrong_steps[f] != 1 || !sc[f].correct; break;
                case PT_FLAW_ANSWER: errs[f] += diff != 0 || got.answer == p.answer || llabs(got.answer - p.answer) > 9 || wrong_steps[f] != 0 || sc[f].correct; break;
                default: errs[f] += diff != 1 || !diff_units_only || got.answer != claimed_answer(&got) || got.answer == p.answer || wrong_steps[f] != 1 || sc[f].correct;
                }
            }
            /* strengths: the quality gap when positive; 0 for equal quality and fewer wrong steps; else -1 */
            {
                int x, y;
                for (x = 0; x < 5; x++)
                    for (y = 0; y < 5; y++) {
                        int s = pt_world_strength(&sc[x], &sc[y]), w;
                        if (x == PT_FLAW_TRUNCATED && y == PT_FLAW_TRUNCATED) continue;   /* wrong steps of a cut-off vary */
                        if (want_q[x] > want_q[y]) w = want_q[x] - want_q[y];
                        else if (want_q[x] == want_q[y]) w = wrong_steps[x] < wrong_steps[y] ? PT_STRENGTH_MARGINAL : PT_STRENGTH_NONE;
                        else w = PT_STRENGTH_NONE;
                        strength_bad += s != w;
                    }
                /* ANSWER (no wrong step) over CARRIED (one) is marginal; the reverse is none */
                strength_bad += pt_world_strength(&sc[PT_FLAW_ANSWER], &sc[PT_FLAW_CARRIED]) != PT_STRENGTH_MARGINAL;
                strength_bad += pt_world_strength(&sc[PT_FLAW_CARRIED], &sc[PT_FLAW_ANSWER]) != PT_STRENGTH_NONE;
                strength_bad += pt_world_strength(&sc[PT_FLAW_NONE], &sc[PT_FLAW_TRUNCATED]) != PT_STRENGTH_SIGNIFICANT;
            }
        }
        CHECK(clean_bad == 0, "%s: %d solutions differ from the column addition computed here", cnames[ci], clean_bad);
        for (f = 0; f < 5; f++) {
            CHECK(errs[f] == 0, "%s: PT_FLAW_%s: %d of %d completions not as documented", cnames[ci], flaw_names[f], errs[f], n);
            CHECK(qbad[f] == 0, "%s: PT_FLAW_%s: %d of %d have a quality other than %d", cnames[ci], flaw_names[f], qbad[f], n, want_q[f]);
        }
        CHECK(strength_bad == 0, "%s: %d strengths wrong", cnames[ci], strength_bad);
    }
    /* a worked example: 47+85 */
    {
        long long t[2] = { 47, 85 };
        pt_problem p = make_problem(t, 2);
        char out[256];
        int n = pt_world_completion(&p, PT_FLAW_NONE, NULL, out, sizeof out);   /* NONE needs no rng */
        CHECK(n > 0 && strcmp(out, "<think>7+5=12;4+8+1=13</think><answer>132</answer>") == 0, "47+85 clean: '%s'", out);
        n = pt_world_completion(&p, PT_FLAW_NONE, NULL, out, 12);   /* truncated to cap - 1 */
        CHECK(n == 50 && strlen(out) == 11 && strncmp(out, "<think>7+5=", 11) == 0,
              "cap 12: the full length 50, snprintf-style (returned %d), 11 bytes written ('%s')", n, out);
    }
    /* errors */
    {
        long long t[2] = { 4, 5 };
        pt_problem p = make_problem(t, 2);
        char out[64];
        CHECK(pt_world_completion(&p, 5, &rng, out, sizeof out) == PT_ERR_ARG, "flaw 5 is an error");
        CHECK(pt_world_completion(&p, -1, &rng, out, sizeof out) == PT_ERR_ARG, "flaw -1 is an error");
        CHECK(pt_world_completion(&p, PT_FLAW_STEP, NULL, out, sizeof out) == PT_ERR_ARG, "a flaw without an rng is an error");
        CHECK(pt_world_completion(NULL, PT_FLAW_NONE, &rng, out, sizeof out) == PT_ERR_ARG, "NULL problem is an error");
        CHECK(pt_world_completion(&p, PT_FLAW_NONE, &rng, NULL, 64) == PT_ERR_ARG, "NULL out is an error");
    }
}

/* ---------------------------------------------------------------------------------------------
   7. Preference datasets
   --------------------------------------------------------------------------------------------- */
/* Classify a completion by its flaw, from our own parse (-1 if none fits) */
static int classify(const pt_problem *p, const char *txt)
{
    parsed clean, got;
    char want[600];
    int j, diff = 0;
    my_clean(p->terms, p->n_terms, &clean);
    my_render(&clean, want, sizeof want);
    if (strcmp(txt, want) == 0) return PT_FLAW_NONE;
    my_parse(txt, &got);
    if (!got.ok) return strncmp(want, txt, strlen(txt)) == 0 && strlen(txt) < strlen(want) ? PT_FLAW_TRUNCATED : -1;
    if (got.n_steps != clean.n_steps) return -1;
    for (j = 0; j < got.n_steps; j++) diff += !same_operands(&got, &clean, j) ? 100 : got.sum[j] != clean.sum[j];
    if (diff == 0 && got.answer != p->answer) return PT_FLAW_ANSWER;
    if (diff == 1 && got.answer == p->answer) return PT_FLAW_STEP;
    if (diff == 1 && got.answer == claimed_answer(&got)) return PT_FLAW_CARRIED;
    return -1;
}
static int rescore_strength(const pt_problem *p, const pt_record *r, int *qc, int *qr)
{
    pt_world_score a, b;
    pt_world_score_text(p, r->chosen, &a);
    pt_world_score_text(p, r->rejected, &b);
    if (qc) *qc = pt_world_quality(&a);
    if (qr) *qr = pt_world_quality(&b);
    return pt_world_strength(&a, &b);
}
static void test_preferences(void)
{
    int ci;
    for (ci = 0; ci < 3; ci++) {
        const pt_world_config *c = &g_cfgs[ci];
        pt_dataset ds, ds2, ds3;
        int n = SCALE(400, 200), st, i, per[4] = { 0, 0, 0, 0 }, bad_strength = 0, bad_prompt = 0, same = 0, gap_bad = 0, recipe_bad = 0, no_strength = 0;
        st = pt_world_preferences(c, PT_WORLD_TRAIN, 11, n, 0, &ds);
        CHECK(st == PT_OK && ds.n == n && ds.kind == PT_DATA_PREFERENCE, "%s pairs: %s", g_cfg_names[ci], pt_last_error());
        if (st != PT_OK) continue;
        for (i = 0; i < ds.n; i++) {
            const pt_record *r = &ds.records[i];
            pt_problem p;
            char u[200];
            int s, qc, qr, fc, fr;
            pt_world_problem(c, PT_WORLD_TRAIN, 11, i, &p);
            user_text(&p, u, sizeof u);
            bad_prompt += !r->prompt || strcmp(r->prompt, u) != 0 || r->line != i + 1;
            if (!r->chosen || !r->rejected) { bad_strength++; continue; }
            same += strcmp(r->chosen, r->rejected) == 0;
            no_strength += !r->has_strength;
            s = rescore_strength(&p, r, &qc, &qr);
            bad_strength += s < 0 || (float)s != r->strength;
            if (s >= 0 && s <= 3) per[s]++;
            gap_bad += qc > qr ? s != qc - qr : qc == qr ? s != 0 : 1;
            /* the documented recipes */
            fc = classify(&p, r->chosen);
            fr = classify(&p, r->rejected);
            switch (s) {
            case 3: recipe_bad += !(fc == PT_FLAW_NONE && fr == PT_FLAW_TRUNCATED); break;
            case 2: recipe_bad += !((fc == PT_FLAW_NONE && (fr == PT_FLAW_ANSWER || fr == PT_FLAW_CARRIED)) || (fc == PT_FLAW_STEP && fr == PT_FLAW_TRUNCATED)); break;
            case 1: recipe_bad += fc < 0 || fr < 0; break;
            case 0: recipe_bad += !(fc == PT_FLAW_ANSWER && fr == PT_FLAW_CARRIED); break;
            default: recipe_bad++;
            }
        }
        CHECK(bad_prompt == 0, "%s pairs: %d prompts are not \"Q: ..=?\" of problem i", g_cfg_names[ci], bad_prompt);
        CHECK(no_strength == 0 && bad_strength == 0, "%s pairs: %d without strength, %d with a stored strength other than the rescored one (>= 0)", g_cfg_names[ci], no_strength, bad_strength);
        CHECK(same == 0, "%s pairs: chosen == rejected %d times", g_cfg_names[ci], same);
        CHECK(per[0] == n / 4 && per[1] == n / 4 && per[2] == n / 4 && per[3] == n / 4, "%s pairs: strengths 0/1/2/3 held %d/%d/%d/%d of %d, want a quarter each", g_cfg_names[ci], per[0], per[1], per[2], per[3], n);
        CHECK(gap_bad == 0, "%s pairs: %d strengths are not the quality gap", g_cfg_names[ci], gap_bad);
        CHECK(recipe_bad == 0, "%s pairs: %d pairs not of the documented flaw recipes", g_cfg_names[ci], recipe_bad);
        /* deterministic; the seed matters; pt_world_dataset(PT_DATA_PREFERENCE) is the same data */
        st = pt_world_preferences(c, PT_WORLD_TRAIN, 11, n, 0, &ds2);
        {
            int diff = st != PT_OK || ds2.n != ds.n;
            for (i = 0; !diff && i < ds.n; i++)
                diff += !str_eq(ds.records[i].prompt, ds2.records[i].prompt) || !str_eq(ds.records[i].chosen, ds2.records[i].chosen) ||
                        !str_eq(ds.records[i].rejected, ds2.records[i].rejected) || ds.records[i].strength != ds2.records[i].strength;
            CHECK(diff == 0, "%s pairs: not deterministic", g_cfg_names[ci]);
            if (st == PT_OK) pt_dataset_free(&ds2);
        }
        st = pt_world_dataset(c, PT_WORLD_TRAIN, 11, n, PT_DATA_PREFERENCE, &ds3);
        {
            int diff = st != PT_OK || ds3.n != ds.n || ds3.kind != PT_DATA_PREFERENCE;
            for (i = 0; !diff && i < ds.n; i++)
                diff += !str_eq(ds.records[i].prompt, ds3.records[i].prompt) || !str_eq(ds.records[i].chosen, ds3.records[i].chosen) ||
                        !str_eq(ds.records[i].rejected, ds3.records[i].rejected) || ds.records[i].strength != ds3.records[i].strength ||
                        ds.records[i].has_strength != ds3.records[i].has_strength;
            CHECK(diff == 0, "%s: pt_world_dataset(PT_DATA_PREFERENCE) differs from pt_world_preferences(triples 0)", g_cfg_names[ci]);
            if (st == PT_OK) pt_dataset_free(&ds3);
        }
        /* JSONL round trip keeps the strengths */
        if (ci == 0) {
            const char *path = tmp_path("prefs.jsonl");
            pt_dataset back;
            st = pt_jsonl_save(&ds, path);
            CHECK(st == PT_OK, "save: %s", pt_last_error());
            st = st == PT_OK ? pt_jsonl_load(path, PT_DATA_AUTO, 0, &back) : st;
            CHECK(st == PT_OK, "load: %s", pt_last_error());
            if (st == PT_OK) {
                int diff = back.n != ds.n || back.kind != PT_DATA_PREFERENCE;
                for (i = 0; !diff && i < ds.n; i++)
                    diff += !str_eq(ds.records[i].prompt, back.records[i].prompt) || !str_eq(ds.records[i].chosen, back.records[i].chosen) ||
                            !str_eq(ds.records[i].rejected, back.records[i].rejected) || !back.records[i].has_strength ||
                            back.records[i].strength != ds.records[i].strength;
                CHECK(diff == 0, "JSONL round trip of the preference pairs lost something");
                pt_dataset_free(&back);
            }
        }
        pt_dataset_free(&ds);

        /* triples: edited > chosen, edited > rejected, chosen > rejected of one problem */
        {
            int nt = SCALE(300, 150), bad = 0, bad_q = 0, bad_s = 0, wrong_kinds[3] = { 0, 0, 0 };
            st = pt_world_preferences(c, PT_WORLD_TRAIN, 12, nt, 1, &ds);
            CHECK(st == PT_OK && ds.n == nt, "%s triples: %s", g_cfg_names[ci], pt_last_error());
            for (i = 0; st == PT_OK && i + 2 < ds.n; i += 3) {
                const pt_record *r = &ds.records[i];
                pt_problem p;
                char u[200], want[600];
                parsed clean;
                int q[3][2], s[3], k, fr;
                pt_world_problem(c, PT_WORLD_TRAIN, 12, i / 3, &p);
                user_text(&p, u, sizeof u);
                my_clean(p.terms, p.n_terms, &clean);
                my_render(&clean, want, sizeof want);
                for (k = 0; k < 3; k++) {
                    bad += !str_eq(r[k].prompt, u) || !r[k].has_strength || r[k].line != i + k + 1;
                    s[k] = rescore_strength(&p, &r[k], &q[k][0], &q[k][1]);
                    bad_s += s[k] < 1 || (float)s[k] != r[k].strength;
                }
                /* same three completions: edited = r0.chosen = r1.chosen, chosen = r0.rejected = r2.chosen, rejected = r1.rejected = r2.rejected */
                bad += !str_eq(r[0].chosen, r[1].chosen) || !str_eq(r[0].rejected, r[2].chosen) || !str_eq(r[1].rejected, r[2].rejected);
                bad += strcmp(r[0].chosen, want) != 0;   /* edited: the clean solution */
                bad_q += q[0][0] != 3 || q[0][1] != 2 || q[1][1] > 1 || q[2][0] != 2 || q[2][1] > 1;
                bad_s += s[0] != 1 || s[1] != 3 - q[1][1] || s[2] != 2 - q[2][1];
                bad += classify(&p, r[0].rejected) != PT_FLAW_STEP;
                fr = classify(&p, r[1].rejected);
                if (fr == PT_FLAW_ANSWER) wrong_kinds[0]++;
                else if (fr == PT_FLAW_CARRIED) wrong_kinds[1]++;
                else if (fr == PT_FLAW_TRUNCATED) wrong_kinds[2]++;
                else bad++;
            }
            CHECK(bad == 0, "%s triples: %d records not edited/chosen, edited/rejected, chosen/rejected of one problem", g_cfg_names[ci], bad);
            CHECK(bad_q == 0, "%s triples: %d with edited != 3, chosen != 2 or rejected > 1 in quality", g_cfg_names[ci], bad_q);
            CHECK(bad_s == 0, "%s triples: %d strengths wrong", g_cfg_names[ci], bad_s);
            CHECK(wrong_kinds[0] > 0 && wrong_kinds[1] > 0 && wrong_kinds[2] > 0, "%s triples: rejected kinds answer/carried/truncated %d/%d/%d, want each", g_cfg_names[ci], wrong_kinds[0], wrong_kinds[1], wrong_kinds[2]);
            if (st == PT_OK) pt_dataset_free(&ds);
        }
    }
    /* errors */
    {
        pt_dataset ds;
        CHECK(pt_world_preferences(NULL, PT_WORLD_TRAIN, 0, 10, 1, &ds) == PT_ERR_ARG && pt_last_error()[0], "triples with n = 10 is an error");
        CHECK(pt_world_preferences(NULL, PT_WORLD_TRAIN, 0, 0, 0, &ds) == PT_ERR_ARG, "n = 0 is an error");
        CHECK(pt_world_preferences(NULL, PT_WORLD_TRAIN, 0, 4, 0, NULL) == PT_ERR_ARG, "NULL ds is an error");
        /* n not a multiple of 4 still works: the levels in turn */
        CHECK(pt_world_preferences(NULL, PT_WORLD_TRAIN, 0, 7, 0, &ds) == PT_OK && ds.n == 7, "n = 7: %s", pt_last_error());
        pt_dataset_free(&ds);
    }
}

/* ---------------------------------------------------------------------------------------------
   8. pt_world_parse
   --------------------------------------------------------------------------------------------- */
static int parses_to(const char *text, const long long *t, int n)
{
    pt_problem p;
    char q[200];
    long long sum = 0;
    int i;
    memset(&p, 0x5A, sizeof p);
    if (pt_world_parse(text, &p) != PT_OK) return 0;
    if (p.n_terms != n) return 0;
    for (i = 0; i < n; i++) { if (p.terms[i] != t[i]) return 0; sum += t[i]; }
    my_question(t, n, q, sizeof q);
    return p.answer == sum && strcmp(p.question, q) == 0;
}
static void test_parse(void)
{
    static const long long t1[2] = { 47, 85 }, t2[3] = { 12, 345, 6 }, t3[2] = { 3, 4 },
                           t8[8] = { 1, 22, 333, 4444, 55555, 666666, 7777777, 88888888 },
                           t15[2] = { 999999999999999LL, 1 }, t5[2] = { 2, 3 };
    static const char *bad[] = { "", "Q: 5=?", "Q: 1+=?", "Q: 1234567890123456+1=?", "Q: 1+1234567890123456=?",
                                 "Q: 1+2+1234567890123456=?", "Q: 1+2+3+4+5+6+7+8+9=?", "47+85=?", "Q: 47+85", "Q: +4=?" };
    int i, ci, bad_world = 0;
    CHECK(parses_to("Q: 47+85=?\nA: ", t1, 2), "raw prompt");
    CHECK(parses_to("<bos><|user|>Q: 12+345+6=?<|end|><|assistant|>", t2, 3), "chat text");
    CHECK(parses_to("Q: 3+4=?", t3, 2), "JSONL prompt");
    CHECK(parses_to("Q: 1+22+333+4444+55555+666666+7777777+88888888=?", t8, 8), "8 terms of mixed lengths");
    CHECK(parses_to("Q: 999999999999999+1=?", t15, 2), "a 15-digit operand");
    CHECK(parses_to("Q: nothing here. Q: 2+3=?\nA: <think>", t5, 2), "the first question that parses");
    for (i = 0; i < (int)(sizeof bad / sizeof bad[0]); i++) {
        pt_problem p;
        int st;
        pt_clear_error();
        st = pt_world_parse(bad[i], &p);
        CHECK(st == PT_ERR_FORMAT && pt_last_status() == PT_ERR_FORMAT && pt_last_error()[0], "\"%s\": status %d (%s), want PT_ERR_FORMAT",
              bad[i], st, pt_last_error());
    }
    {
        pt_problem p;
        pt_clear_error();
        CHECK(pt_world_parse(NULL, &p) == PT_ERR_FORMAT && pt_last_error()[0], "NULL text: want PT_ERR_FORMAT with a message");
        CHECK(pt_world_parse("Q: 1+2=?", NULL) == PT_ERR_ARG, "NULL problem is PT_ERR_ARG");
    }
    /* world problems: the parsed problem is the original (question, terms, answer, solution) */
    for (ci = 0; ci < 3; ci++)
        for (i = 0; i < SCALE(2000, 1000); i++) {
            pt_problem p, q;
            char u[200];
            pt_world_problem(&g_cfgs[ci], i % 4, 5, i, &p);
            user_text(&p, u, sizeof u);
            bad_world += pt_world_parse(u, &q) != PT_OK || strcmp(q.question, p.question) != 0 || q.answer != p.answer ||
                         q.n_terms != p.n_terms || memcmp(q.terms, p.terms, sizeof p.terms) != 0 || strcmp(q.solution, p.solution) != 0;
        }
    {
        pt_world_config big = wcfg(15, 15, 8);
        for (i = 0; i < 200; i++) {
            pt_problem p, q;
            pt_world_problem(&big, PT_WORLD_TRAIN, 1, i, &p);
            bad_world += pt_world_parse(p.question, &q) != PT_OK || strcmp(q.question, p.question) != 0 || q.answer != p.answer;
        }
    }
    CHECK(bad_world == 0, "%d world problems do not parse back to themselves", bad_world);
}

/* ---------------------------------------------------------------------------------------------
   9. Step spans
   --------------------------------------------------------------------------------------------- */
static int find_path(char *out, size_t cap, const char *name)
{
    const char *dirs[3];
    int i;
    dirs[0] = test_models_dir(); dirs[1] = "../shared/models"; dirs[2] = "../../shared/models";
    for (i = 0; i < 3; i++) {
        snprintf(out, cap, "%s/%s", dirs[i], name);
        if (file_exists(out)) return 1;
    }
    return 0;
}
static void test_step_spans(void)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int ids[1024], start[32], end[32], n, k, i, ci;
    /* the worked example */
    n = tok.encode(&tok, "<think>7+5=12;4+8+1=13</think><answer>132</answer>", 0, 0, ids, 1024);
    k = pt_world_step_spans(&tok, ids, n, start, end, 32);
    CHECK(k == 2 && start[0] == 1 && end[0] == 6 && start[1] == 8 && end[1] == 15, "47+85: %d steps, [%d,%d] [%d,%d], want [1,6] [8,15]",
          k, start[0], end[0], start[1], end[1]);
    k = pt_world_step_spans(&tok, ids, n, start, end, 1);
    CHECK(k == 1 && start[0] == 1 && end[0] == 6, "max_steps 1: %d steps", k);
    CHECK(pt_world_step_spans(&tok, ids, n, start, end, 0) == 0, "max_steps 0: no steps");
    /* truncated think block: its steps so far, the cut one too */
    n = tok.encode(&tok, "<think>7+5=12;4+8+1=1", 0, 0, ids, 1024);
    k = pt_world_step_spans(&tok, ids, n, start, end, 32);
    CHECK(k == 2 && start[1] == 8 && end[1] == 14, "truncated: %d steps, step 1 [%d,%d], want 2 steps, [8,14]", k, start[1], end[1]);
    n = tok.encode(&tok, "<think>7+5=12;", 0, 0, ids, 1024);
    k = pt_world_step_spans(&tok, ids, n, start, end, 32);
    CHECK(k == 1 && start[0] == 1 && end[0] == 6, "cut after ';': %d steps", k);
    n = tok.encode(&tok, "<answer>132</answer>", 0, 0, ids, 1024);
    CHECK(pt_world_step_spans(&tok, ids, n, start, end, 32) == 0, "no think block: no steps");
    CHECK(pt_world_step_spans(&tok, ids, 0, start, end, 32) == 0, "no tokens: no steps");
    /* with a chat prompt in front: spans index the given ids */
    n = tok.encode(&tok, "<bos><|user|>Q: 47+85=?<|end|><|assistant|><think>7+5=12;4+8+1=13</think><answer>132</answer>", 0, 0, ids, 1024);
    k = pt_world_step_spans(&tok, ids, n, start, end, 32);
    CHECK(k == 2 && start[0] == 15 && end[0] == 20 && start[1] == 22 && end[1] == 29, "after a chat prompt: [%d,%d] [%d,%d]", start[0], end[0], start[1], end[1]);
    CHECK(pt_world_step_spans(NULL, ids, n, start, end, 32) < 0, "NULL tokenizer is an error");
    CHECK(pt_world_step_spans(&tok, ids, n, start, end, -1) < 0, "negative max_steps is an error");
    /* many world solutions: byte tokens, so step j's characters [a, b] in the text are tokens [1 + a, 1 + b] */
    {
        int bad = 0;
        for (ci = 0; ci < 3; ci++)
            for (i = 0; i < SCALE(300, 150); i++) {
                pt_problem p;
                const char *txt, *think, *close, *s;
                int j = 0;
                pt_world_problem(&g_cfgs[ci], PT_WORLD_TRAIN, 3, i, &p);
                txt = p.solution + 3;
                n = tok.encode(&tok, txt, 0, 0, ids, 1024);
                k = pt_world_step_spans(&tok, ids, n, start, end, 32);
                think = txt + 7;   /* after "<think>", one token */
                close = strstr(txt, "</think>");
                for (s = think; s < close; j++) {
                    const char *e = s;
                    while (e < close && *e != ';') e++;
                    bad += j >= k || start[j] != 1 + (int)(s - think) || end[j] != 1 + (int)(e - 1 - think);
                    s = e + 1;
                }
                bad += j != k || k != prob_digits(&p);
            }
        CHECK(bad == 0, "byte tokenizer spans: %d wrong", bad);
    }
    /* the llama2.c BPE tokenizer: the decoded span contains the step, and is the smallest that does */
    {
        char path[512];
        pt_tokenizer bpe;
        if (!find_path(path, sizeof path, "tok512.bin")) { printf("  skipped: tok512.bin not found\n"); return; }
        if (pt_bpe_load(&bpe, path, 512) != PT_OK) { CHECK(0, "pt_bpe_load %s: %s", path, pt_last_error()); return; }
        {
            int bad = 0, total = 0, multi = 0;
            for (ci = 0; ci < 3; ci++)
                for (i = 0; i < SCALE(200, 100); i++) {
                    pt_problem p;
                    const char *txt, *close, *s;
                    int j = 0;
                    pt_world_problem(&g_cfgs[ci], PT_WORLD_TRAIN, 4, i, &p);
                    txt = p.solution + 3;
                    n = bpe.encode(&bpe, txt, 0, 0, ids, 1024);
                    if (n <= 0) { bad++; continue; }
                    k = pt_world_step_spans(&bpe, ids, n, start, end, 32);
                    close = strstr(txt, "</think>");
                    for (s = txt + 7; s < close; j++) {
                        const char *e = s;
                        char step[128], dec[512];
                        while (e < close && *e != ';') e++;
                        snprintf(step, sizeof step, "%.*s", (int)(e - s), s);
                        s = e + 1;
                        total++;
                        if (j >= k || start[j] < 0 || end[j] >= n || start[j] > end[j]) { bad++; continue; }
                        multi += end[j] > start[j];
                        pt_decode(&bpe, ids + start[j], end[j] - start[j] + 1, dec, sizeof dec);
                        bad += strstr(dec, step) == NULL;
                        if (end[j] > start[j]) {   /* dropping either end token loses part of the step */
                            pt_decode(&bpe, ids + start[j] + 1, end[j] - start[j], dec, sizeof dec);
                            bad += strstr(dec, step) != NULL;
                            pt_decode(&bpe, ids + start[j], end[j] - start[j], dec, sizeof dec);
                            bad += strstr(dec, step) != NULL;
                        }
                    }
                    bad += j != k;
                }
            CHECK(bad == 0, "BPE spans: %d of %d steps wrong", bad, total);
            CHECK(multi > 0, "BPE spans: no step covered several tokens");
            printf("  BPE: %d steps checked\n", total);
        }
        pt_tokenizer_free(&bpe);
    }
}

/* ---------------------------------------------------------------------------------------------
   10. pass@k
   --------------------------------------------------------------------------------------------- */
static double binom(int n, int k)
{
    double r = 1;
    int i;
    if (k < 0 || k > n) return 0;
    for (i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}
static void test_pass_at_k(void)
{
    int n, c, k, bad = 0;
    double worst = 0;
    for (n = 1; n <= 30; n++)
        for (c = 0; c <= n; c++)
            for (k = 1; k <= n; k++) {
                double want = 1.0 - binom(n - c, k) / binom(n, k), got = pt_pass_at_k(n, c, k);
                if (fabs(got - want) > worst) worst = fabs(got - want);
                bad += fabs(got - want) > 1e-12;
            }
    CHECK(bad == 0, "pass@k: %d of the n <= 30 cases differ from 1 - C(n-c,k)/C(n,k) (worst %g)", bad, worst);
    CHECK_NEAR(pt_pass_at_k(10, 3, 1), 0.3, 1e-12, "pass@1 = c/n");
    CHECK_NEAR(pt_pass_at_k(4, 1, 2), 0.5, 1e-12, "pass@2 of 1/4 = 1 - C(3,2)/C(4,2) = 0.5");
    CHECK_NEAR(pt_pass_at_k(5, 2, 2), 0.7, 1e-12, "pass@2 of 2/5 = 1 - 3/10");
    CHECK(pt_pass_at_k(10, 0, 5) == 0.0, "no correct sample: 0");
    CHECK(pt_pass_at_k(10, 10, 1) == 1.0 && pt_pass_at_k(10, 6, 5) == 1.0, "n - c < k: 1");
    /* large n: the product over the k draws without replacement, computed here the other way round */
    {
        double miss = 1.0;
        int i;
        for (i = 0; i < 10; i++) miss *= (double)(200 - 3 - i) / (200 - i);
        CHECK_NEAR(pt_pass_at_k(200, 3, 10), 1.0 - miss, 1e-12, "pass@10 of 3/200");
    }
    {
        double v1 = pt_pass_at_k(0, 0, 1), v2 = pt_pass_at_k(5, 2, 6), v3 = pt_pass_at_k(5, 2, 0);
        CHECK(v1 == 0.0 && v2 >= 0.0 && v2 <= 1.0 && v3 >= 0.0 && v3 <= 1.0, "degenerate arguments give a finite value in [0, 1]: %g %g %g", v1, v2, v3);
    }
}

/* ---------------------------------------------------------------------------------------------
   11. Generation: stop-token sets, shared prefill, pt_kv_copy
   --------------------------------------------------------------------------------------------- */
static pt_gen_config gen_cfg(int max_new, float temperature, uint64_t seed)
{
    pt_gen_config g;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = max_new;
    g.sampler.temperature = temperature;
    g.seed = seed;
    return g;
}
/* The first stop in sequence i's generated tokens, or its end: the expected total length */
static int expected_total(const pt_gen_result *ref, int i, const int *stops, int n_stops)
{
    int t, s;
    for (t = ref->prompt_len[i]; t < ref->total_len[i]; t++)
        for (s = 0; s < n_stops; s++)
            if (ref->tokens[(int64_t)i * ref->width + t] == stops[s]) return t + 1;
    return ref->total_len[i];
}
/* b is a (stopped) prefix of a: same prompt, same tokens up to b's total_len (which must be want[i]) */
static int check_truncation(const pt_gen_result *a, const pt_gen_result *b, const int *want, const char *what)
{
    int i, t, bad = 0;
    if (a->n_seqs != b->n_seqs) { CHECK(0, "%s: %d vs %d sequences", what, a->n_seqs, b->n_seqs); return 1; }
    for (i = 0; i < a->n_seqs; i++) {
        const int *ta = a->tokens + (int64_t)i * a->width, *tb = b->tokens + (int64_t)i * b->width;
        if (b->total_len[i] != want[i] || b->prompt_len[i] != a->prompt_len[i]) { bad++; continue; }
        for (t = 0; t < want[i]; t++) {
            bad += ta[t] != tb[t];
            bad += b->mask[(int64_t)i * b->width + t] != (t >= b->prompt_len[i] ? 1.0f : 0.0f);
            if (t >= b->prompt_len[i]) bad += fabsf(a->logprobs[(int64_t)i * a->width + t] - b->logprobs[(int64_t)i * b->width + t]) > 1e-4f;
        }
        for (; t < b->width; t++) bad += b->mask[(int64_t)i * b->width + t] != 0.0f;
    }
    CHECK(bad == 0, "%s: %d mismatches against the unstopped generation cut at the first stop", what, bad);
    return bad;
}
static int same_gen(const pt_gen_result *a, int ia, const pt_gen_result *b, int ib, float lp_tol)
{
    int t;
    if (a->total_len[ia] != b->total_len[ib] || a->prompt_len[ia] != b->prompt_len[ib]) return 0;
    for (t = 0; t < a->total_len[ia]; t++) {
        if (a->tokens[(int64_t)ia * a->width + t] != b->tokens[(int64_t)ib * b->width + t]) return 0;
        if (a->mask[(int64_t)ia * a->width + t] != b->mask[(int64_t)ib * b->width + t]) return 0;
        if (fabsf(a->logprobs[(int64_t)ia * a->width + t] - b->logprobs[(int64_t)ib * b->width + t]) > lp_tol) return 0;
    }
    return 1;
}
static void test_generation(void)
{
    pt_model *m = g_rand;
    static const int p0[6] = { PT_BYTE_BOS, 'Q', ':', ' ', '4', '+' }, p1[1] = { PT_BYTE_BOS },
                     p2[11] = { PT_BYTE_BOS, PT_BYTE_USER, 'Q', ':', ' ', '1', '2', '+', '3', '=', '?' };
    const int *prompts[3] = { p0, p1, p2 };
    int lens[3] = { 6, 1, 11 }, i, st;
    pt_gen_result ref, r;
    pt_gen_config g;
    /* --- stop-token sets --- */
    {
        const int *pp[8];
        int pl[8], stops[8], want[8], absent[PT_BYTE_VOCAB], n_absent = 0, t;
        uint64_t seed;
        for (i = 0; i < 8; i++) { pp[i] = prompts[i % 3]; pl[i] = lens[i % 3]; }
        g = gen_cfg(60, 1.0f, 5);
        st = pt_generate(m, pp, pl, 8, 1, &g, &ref);
        CHECK(st == PT_OK, "reference generation: %s", pt_last_error());
        if (st != PT_OK) return;
        /* two stop tokens taken from the generations: each sequence stops at whichever comes first */
        stops[0] = ref.tokens[0 * ref.width + ref.prompt_len[0] + 40];
        stops[1] = ref.tokens[5 * ref.width + ref.prompt_len[5] + 12];
        g.stop_tokens[0] = stops[0]; g.stop_tokens[1] = stops[1]; g.n_stop_tokens = 2;
        for (i = 0; i < 8; i++) want[i] = expected_total(&ref, i, stops, 2);
        st = pt_generate(m, pp, pl, 8, 1, &g, &r);
        CHECK(st == PT_OK, "two stops: %s", pt_last_error());
        if (st == PT_OK) {
            int stopped = 0;
            check_truncation(&ref, &r, want, "two stop tokens");
            for (i = 0; i < 8; i++) stopped += want[i] < ref.total_len[i];
            CHECK(stopped >= 2, "two stop tokens: only %d sequences stopped early", stopped);
            pt_gen_result_free(&r);
        }
        /* the full set of PT_MAX_STOP_TOKENS, the live one in the last slot */
        for (t = 0; t < PT_BYTE_VOCAB; t++) {
            int found = 0, s, j;
            for (s = 0; s < 8 && !found; s++)
                for (j = ref.prompt_len[s]; j < ref.total_len[s]; j++) found |= ref.tokens[(int64_t)s * ref.width + j] == t;
            if (!found) absent[n_absent++] = t;
        }
        if (n_absent >= PT_MAX_STOP_TOKENS - 1) {
            for (i = 0; i < PT_MAX_STOP_TOKENS - 1; i++) g.stop_tokens[i] = absent[i];
            g.stop_tokens[PT_MAX_STOP_TOKENS - 1] = stops[1];
            g.n_stop_tokens = PT_MAX_STOP_TOKENS;
            for (i = 0; i < 8; i++) want[i] = expected_total(&ref, i, stops + 1, 1);
            st = pt_generate(m, pp, pl, 8, 1, &g, &r);
            CHECK(st == PT_OK, "8 stops: %s", pt_last_error());
            if (st == PT_OK) { check_truncation(&ref, &r, want, "stop token in the last of 8 slots"); pt_gen_result_free(&r); }
            /* slots past n_stop_tokens are not stop tokens */
            g.n_stop_tokens = PT_MAX_STOP_TOKENS - 1;
            st = pt_generate(m, pp, pl, 8, 1, &g, &r);
            if (st == PT_OK) {
                int same = 1;
                for (i = 0; i < 8; i++) same &= same_gen(&ref, i, &r, i, 1e-4f);
                CHECK(same, "a stop token past n_stop_tokens stopped a sequence");
                pt_gen_result_free(&r);
            } else CHECK(0, "7 stops: %s", pt_last_error());
        } else CHECK(0, "only %d tokens absent from the reference generation", n_absent);
        pt_gen_result_free(&ref);
        /* stop token 0 is a real stop token: find a seed whose generations contain a 0 */
        for (seed = 1; seed < 200; seed++) {
            int has0 = 0, zero = 0;
            g = gen_cfg(60, 1.0f, seed);
            if (pt_generate(m, pp, pl, 8, 1, &g, &ref) != PT_OK) break;
            for (i = 0; i < 8; i++) has0 += expected_total(&ref, i, &zero, 1) < ref.total_len[i];
            if (has0) {
                for (i = 0; i < 8; i++) want[i] = expected_total(&ref, i, &zero, 1);
                g.stop_tokens[0] = 0; g.n_stop_tokens = 1;
                st = pt_generate(m, pp, pl, 8, 1, &g, &r);
                CHECK(st == PT_OK, "stop 0: %s", pt_last_error());
                if (st == PT_OK) {
                    check_truncation(&ref, &r, want, "stop token 0");
                    for (i = 0; i < 8; i++)
                        if (want[i] < ref.total_len[i]) CHECK(r.tokens[(int64_t)i * r.width + r.total_len[i] - 1] == 0, "seq %d does not end with token 0", i);
                    pt_gen_result_free(&r);
                }
                /* stop_tokens all 0 but n_stop_tokens = 0: no stop at all */
                memset(g.stop_tokens, 0, sizeof g.stop_tokens);
                g.n_stop_tokens = 0;
                st = pt_generate(m, pp, pl, 8, 1, &g, &r);
                if (st == PT_OK) {
                    int same = 1;
                    for (i = 0; i < 8; i++) same &= same_gen(&ref, i, &r, i, 1e-4f);
                    CHECK(same, "n_stop_tokens = 0 stopped at token 0");
                    pt_gen_result_free(&r);
                }
                printf("  token 0 generated with seed %d (in %d sequences)\n", (int)seed, has0);
                pt_gen_result_free(&ref);
                break;
            }
            pt_gen_result_free(&ref);
        }
        CHECK(seed < 200, "no seed generated token 0");
        /* n_stop_tokens outside [0, PT_MAX_STOP_TOKENS] */
        g = gen_cfg(10, 0.0f, 1);
        g.n_stop_tokens = -1;
        memset(&r, 0x5A, sizeof r);
        CHECK(pt_generate(m, pp, pl, 2, 1, &g, &r) == PT_ERR_ARG && r.tokens == NULL && pt_last_error()[0], "n_stop_tokens -1 is PT_ERR_ARG");
        g.n_stop_tokens = PT_MAX_STOP_TOKENS + 1;
        CHECK(pt_generate(m, pp, pl, 2, 1, &g, &r) == PT_ERR_ARG && r.tokens == NULL, "n_stop_tokens %d is PT_ERR_ARG", PT_MAX_STOP_TOKENS + 1);
    }
    /* --- shared prefill: greedy with repeat = 4 is four copies of repeat = 1 --- */
    g = gen_cfg(20, 0.0f, 3);
    st = pt_generate(m, prompts, lens, 3, 1, &g, &ref);
    CHECK(st == PT_OK, "greedy: %s", pt_last_error());
    st = st == PT_OK ? pt_generate(m, prompts, lens, 3, 4, &g, &r) : st;
    CHECK(st == PT_OK, "greedy repeat 4: %s", pt_last_error());
    if (st == PT_OK) {
        int bad = 0;
        CHECK(r.n_seqs == 12, "repeat 4 of 3 prompts: %d sequences", r.n_seqs);
        for (i = 0; i < r.n_seqs && i < 12; i++) bad += !same_gen(&ref, i / 4, &r, i, 1e-4f);
        CHECK(bad == 0, "greedy repeat 4: %d of 12 sequences differ from repeat 1", bad);
        pt_gen_result_free(&r);
    }
    if (ref.tokens) pt_gen_result_free(&ref);
    /* sampled: with repeat G sequence i is what the G copies as separate prompts give */
    {
        pt_sampler samplers[2];
        int si;
        samplers[0].temperature = 1.0f; samplers[0].top_k = 0; samplers[0].top_p = 0.0f;
        samplers[1].temperature = 0.8f; samplers[1].top_k = 40; samplers[1].top_p = 0.9f;
        for (si = 0; si < 2; si++) {
            const int *sep[6];
            int sl[6], pick[2] = { 0, 2 }, two_lens[2];
            const int *two[2];
            two[0] = prompts[0]; two[1] = prompts[2]; two_lens[0] = lens[0]; two_lens[1] = lens[2];
            for (i = 0; i < 6; i++) { sep[i] = prompts[pick[i / 3]]; sl[i] = lens[pick[i / 3]]; }
            g = gen_cfg(25, 0.0f, 17);
            g.sampler = samplers[si];
            g.stop_tokens[0] = 'e'; g.stop_tokens[1] = PT_BYTE_EOS; g.n_stop_tokens = 2;
            st = pt_generate(m, sep, sl, 6, 1, &g, &ref);
            if (st == PT_OK) st = pt_generate(m, two, two_lens, 2, 3, &g, &r);
            CHECK(st == PT_OK, "sampled repeat: %s", pt_last_error());
            if (st == PT_OK) {
                int bad = 0, distinct = 0;
                for (i = 0; i < 6; i++) bad += !same_gen(&ref, i, &r, i, 1e-4f);
                for (i = 1; i < 3; i++) distinct += !same_gen(&r, 0, &r, i, 0.0f);
                CHECK(bad == 0, "sampler %d: %d of 6 sequences of repeat 3 differ from the copies as separate prompts", si, bad);
                CHECK(distinct == 2, "sampler %d: the 3 samples of a group are not different draws", si);
                pt_gen_result_free(&r);
            }
            if (ref.tokens) pt_gen_result_free(&ref);
        }
    }
    /* --- pt_kv_copy --- */
    {
        pt_kv_cache *kv = pt_kv_new(m, 3, 32), *kv1 = pt_kv_new(m, 1, 32);
        int V = m->cfg.vocab_size, seqs[16], toks[16];
        float *lg = (float *)malloc((size_t)16 * V * sizeof(float)), *lg1 = (float *)malloc((size_t)16 * V * sizeof(float));
        double d01 = 0, d02 = 0, dfresh = 0;
        int len_before;
        CHECK(kv && kv1, "pt_kv_new: %s", pt_last_error());
        /* seq 0: the prompt p2; seq 1: something else, longer; seq 2: empty */
        for (i = 0; i < 11; i++) { seqs[i] = 0; toks[i] = p2[i]; }
        st = pt_model_step(m, kv, 11, seqs, toks, NULL);
        for (i = 0; i < 14; i++) { seqs[i] = 1; toks[i] = 'a' + i; }
        if (st == PT_OK) st = pt_model_step(m, kv, 14, seqs, toks, NULL);
        CHECK(st == PT_OK, "pt_model_step: %s", pt_last_error());
        CHECK(pt_kv_copy(kv, 0, 2) == PT_OK && kv->len[2] == 11, "copy 0 -> 2: len %d", kv->len[2]);
        CHECK(pt_kv_copy(kv, 0, 1) == PT_OK && kv->len[1] == 11, "copy 0 -> 1 over a longer sequence: len %d", kv->len[1]);
        CHECK(pt_kv_copy(kv, 1, 1) == PT_OK && kv->len[1] == 11, "copy to itself");
        /* all three continue with the same token: the same logits, and those of a fresh cache */
        seqs[0] = 0; seqs[1] = 1; seqs[2] = 2; toks[0] = toks[1] = toks[2] = '7';
        st = pt_model_step(m, kv, 3, seqs, toks, lg);
        for (i = 0; i < 11; i++) { seqs[i] = 0; toks[i] = p2[i]; }
        toks[11] = '7'; seqs[11] = 0;
        if (st == PT_OK) st = pt_model_step(m, kv1, 12, seqs, toks, lg1);
        CHECK(st == PT_OK, "pt_model_step after copies: %s", pt_last_error());
        for (i = 0; st == PT_OK && i < V; i++) {
            d01 = fmax(d01, fabs(lg[i] - lg[V + i]));
            d02 = fmax(d02, fabs(lg[i] - lg[2 * V + i]));
            dfresh = fmax(dfresh, fabs(lg[i] - lg1[11 * (int64_t)V + i]));
        }
        CHECK(d01 < 1e-5 && d02 < 1e-5 && dfresh < 1e-4, "copied caches continue differently: %g %g, vs a fresh cache %g", d01, d02, dfresh);
        len_before = kv->len[2];
        pt_clear_error();
        CHECK(pt_kv_copy(kv, -1, 0) == PT_ERR_ARG && pt_last_error()[0], "src -1 is PT_ERR_ARG");
        CHECK(pt_kv_copy(kv, 0, 3) == PT_ERR_ARG, "dst 3 of 3 is PT_ERR_ARG");
        CHECK(pt_kv_copy(kv, 3, 0) == PT_ERR_ARG, "src 3 of 3 is PT_ERR_ARG");
        CHECK(pt_kv_copy(kv, 0, -2) == PT_ERR_ARG, "dst -2 is PT_ERR_ARG");
        CHECK(pt_kv_copy(NULL, 0, 0) == PT_ERR_ARG, "NULL cache is PT_ERR_ARG");
        CHECK(kv->len[2] == len_before && kv->len[0] == 12, "a failed copy changed lengths");
        free(lg); free(lg1);
        pt_kv_free(kv); pt_kv_free(kv1);
    }
}

/* ---------------------------------------------------------------------------------------------
   12. Rollout batches
   --------------------------------------------------------------------------------------------- */
static void test_rollout(void)
{
    pt_model *m = g_rand;
    static const int p0[6] = { PT_BYTE_BOS, 'Q', ':', ' ', '4', '+' }, p1[2] = { PT_BYTE_BOS, 'x' },
                     p2[11] = { PT_BYTE_BOS, PT_BYTE_USER, 'Q', ':', ' ', '1', '2', '+', '3', '=', '?' };
    const int *prompts[3] = { p0, p1, p2 };
    int lens[3] = { 6, 2, 11 }, st, i, t, si;
    for (si = 0; si < 2; si++) {
        pt_gen_config g = gen_cfg(30, si == 0 ? 1.0f : 0.0f, 21);
        pt_gen_result r;
        pt_rollout_batch b;
        int bad = 0, maxlen = 0, varied = 0;
        for (i = 0; i < 8; i++) g.stop_tokens[i] = 'a' + 3 * i;
        g.n_stop_tokens = si == 0 ? 8 : 0;
        st = pt_generate(m, prompts, lens, 3, 2, &g, &r);
        CHECK(st == PT_OK, "generate: %s", pt_last_error());
        if (st != PT_OK) continue;
        st = pt_rollout_batch_from(&r, PT_BYTE_PAD, &b);
        CHECK(st == PT_OK, "pt_rollout_batch_from: %s", pt_last_error());
        if (st != PT_OK) { pt_gen_result_free(&r); continue; }
        for (i = 0; i < r.n_seqs; i++) { if (r.total_len[i] > maxlen) maxlen = r.total_len[i]; varied += r.total_len[i] != r.total_len[0]; }
        CHECK(b.B == r.n_seqs && b.T == maxlen - 1, "B %d T %d, want %d and %d", b.B, b.T, r.n_seqs, maxlen - 1);
        if (si == 0) CHECK(varied > 0, "sampled rollouts all have the same length (stops never fired)");
        for (i = 0; i < b.B; i++) {
            const int *seq = r.tokens + (int64_t)i * r.width;
            for (t = 0; t < b.T; t++) {
                int64_t at = (int64_t)i * b.T + t;
                if (t + 1 < r.total_len[i]) {
                    bad += b.tokens[at] != seq[t] || b.targets[at] != seq[t + 1] || b.seq[at] != i;
                    bad += b.mask[at] != r.mask[(int64_t)i * r.width + t + 1] || b.old_logprobs[at] != r.logprobs[(int64_t)i * r.width + t + 1];
                    bad += b.mask[at] != (t + 1 >= r.prompt_len[i] ? 1.0f : 0.0f);
                } else if (t < r.total_len[i]) {   /* the last token: an input without a target */
                    bad += b.tokens[at] != seq[t] || b.seq[at] != i || b.mask[at] != 0.0f || b.old_logprobs[at] != 0.0f;
                } else {
                    bad += b.tokens[at] != PT_BYTE_PAD || b.seq[at] != -1 || b.mask[at] != 0.0f || b.old_logprobs[at] != 0.0f;
                }
            }
        }
        CHECK(bad == 0, "%s rollout batch: %d entries wrong", si == 0 ? "sampled" : "greedy", bad);
        {
            pt_batch v = pt_rollout_view(&b);
            pt_ctx *ctx = pt_ctx_new(0);
            pt_tensor *lp;
            CHECK(v.B == b.B && v.T == b.T && v.tokens == b.tokens && v.targets == b.targets && v.loss_mask == b.mask && !v.pos && !v.seg,
                  "pt_rollout_view fields");
            pt_ctx_set_grad(ctx, 0);
            lp = pt_model_logprobs(ctx, m, &v, 1.0f);
            CHECK(lp != NULL, "pt_model_logprobs: %s", pt_last_error());
            if (lp) {
                double worst = 0;
                int n_masked = 0, nonzero_pad = 0;
                for (i = 0; i < b.B * b.T; i++) {
                    if (b.mask[i] > 0) { worst = fmax(worst, fabs(lp->data[i] - b.old_logprobs[i])); n_masked++; }
                    else nonzero_pad += lp->data[i] != 0.0f;
                }
                CHECK(worst < 1e-4 && n_masked > 0, "%s: log-probs through the model differ from the sampling ones by %g (%d tokens)",
                      si == 0 ? "sampled" : "greedy", worst, n_masked);
                CHECK(nonzero_pad == 0, "%d masked positions with a nonzero log-prob", nonzero_pad);
            }
            pt_ctx_free(ctx);
        }
        pt_rollout_batch_free(&b);
        CHECK(b.tokens == NULL && b.targets == NULL && b.seq == NULL && b.mask == NULL && b.old_logprobs == NULL, "free clears the batch");
        pt_rollout_batch_free(&b);   /* twice is harmless */
        pt_gen_result_free(&r);
    }
    {
        pt_rollout_batch b;
        pt_gen_result empty;
        memset(&empty, 0, sizeof empty);
        CHECK(pt_rollout_batch_from(NULL, PT_BYTE_PAD, &b) == PT_ERR_ARG, "NULL result is PT_ERR_ARG");
        CHECK(pt_rollout_batch_from(&empty, PT_BYTE_PAD, &b) == PT_ERR_ARG, "an empty result is PT_ERR_ARG");
        pt_rollout_batch_free(NULL);
    }
}

/* ---------------------------------------------------------------------------------------------
   13. A tiny model trained briefly, then evaluation, sampled evaluation and on-policy pairs
   --------------------------------------------------------------------------------------------- */
static void test_train(void)
{
    pt_config c = tiny_config();
    int n = 400, i, st = PT_OK;
    pt_example *ex = (pt_example *)calloc((size_t)n, sizeof(pt_example));
    pt_sft_config sc;
    pt_sft_result res;
    g_trained = pt_model_new(&c, 2);
    CHECK(g_trained != NULL, "pt_model_new: %s", pt_last_error());
    for (i = 0; i < n && st == PT_OK; i++) st = pt_world_sft_example(&g_cfgs[0], PT_WORLD_TRAIN, 1, i, &ex[i]);
    memset(&sc, 0, sizeof sc);
    sc.steps = SCALE(300, 150); sc.batch_rows = 8; sc.seq_len = 96; sc.lr = 6e-3f; sc.quiet = 1; sc.seed = 1; sc.eval_every = sc.steps;
    if (st == PT_OK && g_trained) st = pt_sft_train(g_trained, ex, n, NULL, 0, &sc, &res);
    CHECK(st == PT_OK, "sft: %s", pt_last_error());
    if (st == PT_OK) printf("  %d SFT steps: loss %.3f -> %.3f (%.1f s)\n", res.steps_done, res.first_loss, res.last_loss, res.seconds);
    pt_examples_free(ex, n);
    free(ex);
}
/* Greedy world generation as pt_world_eval documents it, computed here: held-out prompts (chat),
   up to 160 new tokens (or what seq_len leaves), stopping at <|end|> */
static int world_generate(pt_model *m, const pt_problem *probs, int n, int repeat, const pt_sampler *s, uint64_t seed, pt_gen_result *r)
{
    int *buf = (int *)malloc((size_t)n * 192 * sizeof(int)), *lens = (int *)malloc((size_t)n * sizeof(int)), i, maxp = 0, st;
    const int **pp = (const int **)malloc((size_t)n * sizeof(int *));
    pt_gen_config g;
    for (i = 0; i < n; i++) {
        lens[i] = pt_world_prompt(&probs[i], 1, buf + (int64_t)i * 192, 192);
        pp[i] = buf + (int64_t)i * 192;
        if (lens[i] > maxp) maxp = lens[i];
    }
    memset(&g, 0, sizeof g);
    g.max_new_tokens = m->cfg.seq_len - maxp < 160 ? m->cfg.seq_len - maxp : 160;
    g.stop_tokens[0] = PT_BYTE_END; g.n_stop_tokens = 1;
    if (s) g.sampler = *s;
    g.seed = seed;
    st = pt_generate(m, pp, lens, n, repeat, &g, r);
    free(buf); free(lens); free((void *)pp);
    return st;
}
/* pt_world_eval on one setting: its fields, and the per-digit counts and correct answers recomputed
   from the problems (the held-out set, or training problems 0..n-1 of seed 0) and pt_generate */
static void eval_case(const pt_world_config *cfg, int split, int n, const char *what)
{
    pt_model *m = g_trained;
    pt_world_eval_result res;
    pt_problem *probs = (pt_problem *)malloc((size_t)n * sizeof(pt_problem));
    int st, i, sum_n = 0, sum_c = 0, d;
    char out[256];
    st = pt_world_eval(m, cfg, split, n, 1, &res);
    CHECK(st == PT_OK, "%s: pt_world_eval: %s", what, pt_last_error());
    if (st != PT_OK) { free(probs); return; }
    for (d = 0; d < 17; d++) { sum_n += res.n_by_digits[d]; sum_c += res.correct_by_digits[d]; }
    CHECK(res.n == n && sum_n == n, "%s: n %d, per-digit counts sum to %d, want %d", what, res.n, sum_n, n);
    CHECK(res.correct == sum_c, "%s: correct %d, per-digit correct sum to %d", what, res.correct, sum_c);
    CHECK(res.accuracy_lo <= res.accuracy && res.accuracy <= res.accuracy_hi && fabsf(res.accuracy - (float)res.correct / n) < 1e-6f,
          "%s: accuracy %f outside [%f, %f] or not correct / n", what, res.accuracy, res.accuracy_lo, res.accuracy_hi);
    {
        double lo, hi;
        my_wilson(res.correct, n, &lo, &hi);
        CHECK(fabs(lo - res.accuracy_lo) < 1e-6 && fabs(hi - res.accuracy_hi) < 1e-6, "%s: interval [%f, %f], Wilson [%f, %f]", what, res.accuracy_lo, res.accuracy_hi, lo, hi);
    }
    {
        int want_n[17], want_c[17], fmt = 0;
        pt_gen_result r;
        memset(want_n, 0, sizeof want_n);
        memset(want_c, 0, sizeof want_c);
        if (split == PT_WORLD_TRAIN) for (i = 0; i < n; i++) pt_world_problem(cfg, PT_WORLD_TRAIN, 0, i, &probs[i]);
        else CHECK(pt_world_heldout(cfg, split, n, probs) == n, "%s: heldout: %s", what, pt_last_error());
        st = world_generate(m, probs, n, 1, NULL, 0, &r);
        CHECK(st == PT_OK, "%s: generate: %s", what, pt_last_error());
        for (i = 0; st == PT_OK && i < n; i++) {
            char text[1024];
            pt_world_score sc;
            int dd = prob_digits(&probs[i]);
            gen_text(&r, i, text, sizeof text);
            pt_world_score_text(&probs[i], text, &sc);
            if (dd < 0 || dd > 16) continue;
            want_n[dd]++;
            want_c[dd] += sc.correct;
            fmt += sc.format_ok;
        }
        CHECK(memcmp(want_n, res.n_by_digits, sizeof want_n) == 0, "%s: n_by_digits differ from the problems' digit counts", what);
        CHECK(memcmp(want_c, res.correct_by_digits, sizeof want_c) == 0, "%s: correct_by_digits differ from a recomputation", what);
        CHECK(fabsf(res.format_rate - (float)fmt / n) < 1e-6f, "%s: format rate %f, recomputed %f", what, res.format_rate, (float)fmt / n);
        if (st == PT_OK) pt_gen_result_free(&r);
    }
    /* the printed line parses back to the result */
    {
        float acc, lo, hi;
        int nn, pos = 0, dd, cc, tt, ok, seen = 0;
        pt_world_eval_format(&res, out, sizeof out);
        printf("  %-18s %s\n", what, out);
        ok = sscanf(out, " %f%% [%f, %f] n=%d (%n", &acc, &lo, &hi, &nn, &pos) == 4 && pos > 0;
        ok = ok && fabs(acc - 100.0 * res.accuracy) < 0.051 && fabs(lo - 100.0 * res.accuracy_lo) < 0.051 && fabs(hi - 100.0 * res.accuracy_hi) < 0.051 && nn == n;
        while (ok && out[pos] && out[pos] != ')') {
            int used = 0;
            if (sscanf(out + pos, "%dd %d/%d%n", &dd, &cc, &tt, &used) != 3) { ok = 0; break; }
            ok = dd >= 0 && dd < 17 && res.n_by_digits[dd] == tt && res.correct_by_digits[dd] == cc;
            seen += tt;
            pos += used;
            if (out[pos] == ',') pos += 2;
        }
        CHECK(ok && seen == n && out[pos] == ')' && out[pos + 1] == 0, "%s: format of the evaluation: '%s'", what, out);
    }
    free(probs);
}
static void test_eval(void)
{
    pt_model *m = g_trained;
    pt_world_eval_result res;
    pt_world_config one = wcfg(1, 1, 2), onetwo = wcfg(1, 2, 2);
    int i, d;
    char out[256], small[12];
    /* the format, on a made-up result: the doc's example */
    memset(&res, 0, sizeof res);
    res.n = 800; res.correct = 361; res.accuracy = 0.451f; res.accuracy_lo = 0.417f; res.accuracy_hi = 0.486f;
    res.n_by_digits[1] = 5; res.correct_by_digits[1] = 5; res.n_by_digits[2] = 397; res.correct_by_digits[2] = 301;
    res.n_by_digits[3] = 398; res.correct_by_digits[3] = 55;
    i = pt_world_eval_format(&res, out, sizeof out);
    {   /* the doc's example, up to the leading padding that aligns the accuracy column ("%5.1f") */
        const char *o = out;
        while (*o == ' ') o++;
        CHECK(strcmp(o, "45.1% [41.7, 48.6] n=800 (1d 5/5, 2d 301/397, 3d 55/398)") == 0 && o - out <= 1 && i == (int)strlen(out), "format: '%s' (%d)", out, i);
    }
    d = pt_world_eval_format(&res, small, sizeof small);
    CHECK(d == i && strlen(small) == sizeof small - 1 && strncmp(small, out, sizeof small - 1) == 0, "truncated format: '%s' returned %d, want %d", small, d, i);
    CHECK(pt_world_eval_format(&res, NULL, 0) == i, "format with no buffer returns the length");
    if (!m) return;
    eval_case(NULL, PT_WORLD_ID, SCALE(90, 45), "defaults, ID");
    eval_case(&one, PT_WORLD_TRAIN, 40, "1 digit, TRAIN");
    eval_case(&onetwo, PT_WORLD_VALID, 40, "1-2 digits, VALID");
    eval_case(&g_cfgs[1], PT_WORLD_OOD, SCALE(30, 20), "3 terms, OOD");
}

/* pt_world_eval_sampled on one setting, against a recomputation from pt_generate: per problem c
   correct of `samples`, unbiased pass@k, and the majority over the parsed answers (ties: first seen) */
static void eval_sampled_case(const pt_world_config *cfg, int split, int n, int samples, int k, float temperature, uint64_t seed, const char *what)
{
    pt_model *m = g_trained;
    pt_world_sampled_result res;
    pt_world_eval_result greedy;
    pt_sampler s;
    pt_problem *probs = (pt_problem *)malloc((size_t)n * sizeof(pt_problem));
    pt_gen_result r;
    double mean = 0, pak = 0, maj = 0, fmt = 0;
    int st, i, j, nh, ties = 0;
    s.temperature = temperature; s.top_k = 0; s.top_p = 0.0f;
    st = pt_world_eval_sampled(m, cfg, split, n, 1, samples, k, &s, seed, &res);
    CHECK(st == PT_OK, "%s: pt_world_eval_sampled: %s", what, pt_last_error());
    nh = pt_world_heldout(cfg, split, n, probs);
    if (st != PT_OK || nh < 1) { free(probs); return; }
    CHECK(res.n == nh && res.samples == samples && res.k == k, "%s: fields n %d samples %d k %d", what, res.n, res.samples, res.k);
    CHECK(0 <= res.mean && res.mean <= res.pass_at_k + 1e-6f && res.pass_at_k <= 1 && 0 <= res.majority && res.majority <= 1 &&
          0 <= res.format_rate && res.format_rate <= 1, "%s: mean %f pass@k %f majority %f format %f", what, res.mean, res.pass_at_k, res.majority, res.format_rate);
    CHECK(pt_world_eval(m, cfg, split, n, 1, &greedy) == PT_OK && res.greedy == greedy.accuracy, "%s: greedy %f vs pt_world_eval %f", what, res.greedy, greedy.accuracy);
    st = world_generate(m, probs, nh, samples, &s, seed, &r);
    CHECK(st == PT_OK, "%s: generate: %s", what, pt_last_error());
    for (i = 0; st == PT_OK && i < nh; i++) {
        long long ans[16];
        int cnt[16], nv = 0, c = 0, best = -1, v;
        for (j = 0; j < samples; j++) {
            char text[1024];
            pt_world_score sc;
            gen_text(&r, i * samples + j, text, sizeof text);
            pt_world_score_text(&probs[i], text, &sc);
            c += sc.correct;
            fmt += sc.format_ok;
            if (!sc.has_answer) continue;
            for (v = 0; v < nv && ans[v] != sc.answer; v++) {}
            if (v == nv) { ans[nv] = sc.answer; cnt[nv++] = 0; }
            cnt[v]++;
        }
        for (v = 0; v < nv; v++) if (best < 0 || cnt[v] > cnt[best]) best = v;   /* ties: the first seen */
        for (v = 0; v < nv; v++) ties += v != best && cnt[v] == cnt[best] && (ans[v] == probs[i].answer || ans[best] == probs[i].answer);
        mean += (double)c / samples;
        pak += 1.0 - binom(samples - c, k) / binom(samples, k);
        maj += best >= 0 && ans[best] == probs[i].answer;
    }
    if (st == PT_OK) {
        CHECK(fabs(mean / nh - res.mean) < 1e-5 && fabs(pak / nh - res.pass_at_k) < 1e-5 && fabs(maj / nh - res.majority) < 1e-5 &&
              fabs(fmt / (nh * samples) - res.format_rate) < 1e-5,
              "%s: recomputed mean %f pass@k %f majority %f format %f", what, mean / nh, pak / nh, maj / nh, fmt / (nh * samples));
        pt_gen_result_free(&r);
    }
    printf("  %-22s greedy %.3f mean %.3f pass@%d %.3f majority %.3f format %.3f (%d ties with the right answer)\n", what, res.greedy, res.mean, k,
           res.pass_at_k, res.majority, res.format_rate, ties);
    free(probs);
}
static void test_eval_sampled(void)
{
    pt_model *m = g_trained;
    pt_world_sampled_result res;
    pt_world_config one = wcfg(1, 1, 2), onetwo = wcfg(1, 2, 2);
    pt_sampler s;
    int n = SCALE(24, 16);
    if (!m) return;
    eval_sampled_case(NULL, PT_WORLD_ID, n, 4, 2, 1.0f, 9, "defaults, ID");
    eval_sampled_case(&one, PT_WORLD_VALID, 13, 2, 1, 1.0f, 5, "1 digit, VALID");   /* two samples: ties are common */
    eval_sampled_case(&onetwo, PT_WORLD_VALID, n, 3, 3, 0.7f, 6, "1-2 digits, VALID");
    s.temperature = 1.0f; s.top_k = 0; s.top_p = 0.0f;
    CHECK(pt_world_eval_sampled(m, NULL, PT_WORLD_ID, n, 1, 2, 3, &s, 9, &res) == PT_ERR_ARG, "k > samples is PT_ERR_ARG");
    CHECK(pt_world_eval_sampled(m, NULL, PT_WORLD_ID, n, 1, 2, 0, &s, 9, &res) == PT_ERR_ARG, "k = 0 is PT_ERR_ARG");
    CHECK(pt_world_eval_sampled(m, NULL, PT_WORLD_ID, n, 1, 2, 1, NULL, 9, &res) == PT_ERR_ARG, "no sampler is PT_ERR_ARG");
    CHECK(pt_world_eval_sampled(m, NULL, PT_WORLD_TRAIN, 0, 1, 2, 1, &s, 9, &res) < 0, "n = 0 is an error");
}
static int dataset_same(const pt_dataset *a, const pt_dataset *b)
{
    int i;
    if (a->n != b->n || a->kind != b->kind) return 0;
    for (i = 0; i < a->n; i++)
        if (!str_eq(a->records[i].prompt, b->records[i].prompt) || !str_eq(a->records[i].chosen, b->records[i].chosen) ||
            !str_eq(a->records[i].rejected, b->records[i].rejected) || a->records[i].strength != b->records[i].strength ||
            a->records[i].has_strength != b->records[i].has_strength) return 0;
    return 1;
}
/* The no-carry rule variant: the same operands as the carry rule, the rule stated in the question,
   the answer, the think block and the step labels computed here independently. */
static void nocarry_clean(const long long *t, int n, parsed *out)
{
    int cols = 1, i, j;
    memset(out, 0, sizeof *out);
    for (i = 0; i < n; i++) if (ndigits(t[i]) > cols) cols = ndigits(t[i]);
    for (j = 0; j < cols; j++) {
        long long s = 0;
        for (i = 0; i < n; i++) { long long d = t[i] / pow10ll(j) % 10; out->v[j][out->nv[j]++] = d; s += d; }
        out->sum[j] = s;
        out->answer += s % 10 * pow10ll(j);
    }
    out->n_steps = cols;
    out->ok = 1;
}
static void test_rule_variant(void)
{
    pt_world_config c0 = wcfg(1, 4, 2), c1;
    pt_problem a, b, q, held0[200], held1[200];
    pt_world_score sc;
    parsed mine, theirs;
    char text[600], want_q[200];
    int split, i, bad_terms = 0, bad_text = 0, bad_score = 0, bad_parse = 0, differ = 0, n0, n1, ci;
    /* by hand: 47+85 -> 22, 55+55 -> 0, 999+1 -> 990 */
    {
        long long t1[2] = {47, 85}, t2[2] = {55, 55}, t3[2] = {999, 1};
        CHECK(pt_world_parse("Q: 47+85=? (no carry)\nA: ", &q) == PT_OK && q.rule == PT_RULE_NO_CARRY && q.answer == 22,
              "47+85 without carries: rule %d answer %lld, want 22", q.rule, q.answer);
        CHECK(strcmp(q.question, "Q: 47+85=? (no carry)\n") == 0, "question \"%s\"", q.question);
        CHECK(strcmp(q.solution, "A: <think>7+5=12;4+8=12</think><answer>22</answer>") == 0, "solution \"%s\"", q.solution);
        CHECK(pt_world_parse("Q: 47+85=?\nA: ", &q) == PT_OK && q.rule == PT_RULE_CARRY && q.answer == 132,
              "47+85 with carries: rule %d answer %lld", q.rule, q.answer);
        CHECK(pt_world_parse("Q: 55+55=? (no carry)", &q) == PT_OK && q.answer == 0, "55+55 without carries: %lld", q.answer);
        CHECK(pt_world_parse("Q: 999+1=? (no carry)", &q) == PT_OK && q.answer == 990, "999+1 without carries: %lld", q.answer);
        nocarry_clean(t1, 2, &mine); CHECK(mine.answer == 22, "reference 47+85: %lld", mine.answer);
        nocarry_clean(t2, 2, &mine); CHECK(mine.answer == 0, "reference 55+55: %lld", mine.answer);
        nocarry_clean(t3, 2, &mine); CHECK(mine.answer == 990, "reference 999+1: %lld", mine.answer);
        /* the carry rule's solution is wrong under the variant: the answer and the carried step */
        pt_world_parse("Q: 47+85=? (no carry)", &q);
        pt_world_score_text(&q, "A: <think>7+5=12;4+8+1=13</think><answer>132</answer>", &sc);
        CHECK(!sc.correct && sc.format_ok && sc.step_ok[0] && !sc.step_ok[1] && sc.first_bad_step == 1,
              "carried solution under no carry: correct %d format %d steps %d %d", sc.correct, sc.format_ok, sc.step_ok[0], sc.step_ok[1]);
        pt_world_score_text(&q, "<think>7+5=12;4+8=12</think><answer>22</answer>", &sc);
        CHECK(sc.correct && sc.format_ok && sc.steps_ok == 2, "no-carry solution: correct %d format %d steps %d", sc.correct, sc.format_ok, sc.steps_ok);
        CHECK(pt_reward_correct("<bos>Q: 47+85=? (no carry)\nA: ", "<think>x</think><answer>22</answer>", NULL) == 1.0f &&
              pt_reward_correct("<bos>Q: 47+85=? (no carry)\nA: ", "<think>x</think><answer>132</answer>", NULL) == 0.0f &&
              pt_reward_correct("<bos>Q: 47+85=?\nA: ", "<think>x</think><answer>132</answer>", NULL) == 1.0f,
              "pt_reward_correct follows the stated rule");
    }
    for (ci = 0; ci < 2; ci++) {
        c0 = ci ? wcfg(1, 3, 3) : wcfg(1, 4, 2);
        c1 = c0;
        c1.rule = PT_RULE_NO_CARRY;
        for (split = PT_WORLD_TRAIN; split <= PT_WORLD_MIXED; split++)
            for (i = 0; i < 300; i++) {
                pt_world_problem(&c0, split, 5, i, &a);
                pt_world_problem(&c1, split, 5, i, &b);
                if (a.n_terms != b.n_terms || memcmp(a.terms, b.terms, sizeof a.terms) || b.rule != PT_RULE_NO_CARRY ||
                    a.rule != PT_RULE_CARRY || pt_world_split_of(&b) != pt_world_split_of(&a))
                    bad_terms++;
                nocarry_clean(b.terms, b.n_terms, &mine);
                my_question(b.terms, b.n_terms, want_q, sizeof want_q);
                want_q[strlen(want_q) - 1] = 0;
                strcat(want_q, " (no carry)\n");
                my_parse(b.solution + 3, &theirs);
                my_render(&mine, text, sizeof text);
                if (strcmp(b.question, want_q) || strcmp(b.solution + 3, text) || !theirs.ok || b.answer != mine.answer)
                    bad_text++;
                differ += a.answer != b.answer;
                pt_world_score_text(&b, b.solution, &sc);
                if (!sc.correct || !sc.format_ok || sc.steps_ok != sc.n_steps || sc.n_steps != mine.n_steps) bad_score++;
                if (pt_world_parse(b.question, &q) != PT_OK || q.rule != b.rule || q.answer != b.answer ||
                    strcmp(q.solution, b.solution))
                    bad_parse++;
            }
    }
    CHECK(bad_terms == 0, "the rule changed the operands or split of %d problems", bad_terms);
    CHECK(bad_text == 0, "%d no-carry questions or solutions differ from the reference", bad_text);
    CHECK(bad_score == 0, "%d clean no-carry solutions scored wrong", bad_score);
    CHECK(bad_parse == 0, "%d no-carry questions do not parse back", bad_parse);
    CHECK(differ > 1000, "the rules agree too often (%d of 3000 answers differ)", differ);
    /* held-out sets: the same problems under either rule */
    c0 = wcfg(1, 3, 2); c1 = c0; c1.rule = PT_RULE_NO_CARRY;
    n0 = pt_world_heldout(&c0, PT_WORLD_ID, 200, held0);
    n1 = pt_world_heldout(&c1, PT_WORLD_ID, 200, held1);
    for (i = 0, bad_terms = 0; i < n0 && n0 == n1; i++)
        bad_terms += memcmp(held0[i].terms, held1[i].terms, sizeof held0[i].terms) != 0 || held1[i].rule != PT_RULE_NO_CARRY;
    CHECK(n0 == 200 && n1 == 200 && bad_terms == 0, "held-out sets under the two rules: %d/%d problems, %d differ", n0, n1, bad_terms);
    /* flawed completions keep their meaning under the variant */
    {
        pt_rng rng;
        int bad = 0, f;
        pt_rng_seed(&rng, 3);
        for (i = 0; i < 200; i++) {
            pt_world_problem(&c1, PT_WORLD_TRAIN, 9, i, &b);
            for (f = PT_FLAW_NONE; f <= PT_FLAW_CARRIED; f++) {
                pt_world_completion(&b, f, &rng, text, sizeof text);
                pt_world_score_text(&b, text, &sc);
                if (pt_world_quality(&sc) != (f == PT_FLAW_NONE ? 3 : f == PT_FLAW_STEP ? 2 : 1)) bad++;
                if (f == PT_FLAW_CARRIED) {   /* the claimed answer is the written units digits */
                    my_parse(text, &theirs);
                    {
                        long long claimed = 0; int j;
                        for (j = 0; j < theirs.n_steps; j++) claimed += theirs.sum[j] % 10 * pow10ll(j);
                        if (!theirs.ok || claimed != theirs.answer) bad++;
                    }
                }
            }
        }
        CHECK(bad == 0, "%d flawed no-carry completions of the wrong quality or claim", bad);
    }
    /* the corpus: a fraction of documents under the variant, each stating it and solved by it */
    {
        static int ids[400000];
        pt_world_config cv = wcfg(1, 3, 2);
        int64_t n, k, start = 0;
        int docs = 0, variant_docs = 0, bad_docs = 0;
        static char doc[1024];
        pt_tokenizer tok = pt_byte_tokenizer();
        cv.variant = 0.3f;
        n = pt_world_corpus(&cv, 4, 4000, ids, 400000);
        for (k = 0; k < n; k++) {
            if (ids[k] != PT_BYTE_EOS) continue;
            pt_decode(&tok, ids + start, (int)(k - start), doc, (int)sizeof doc);   /* <think> etc. are special ids */
            start = k + 1;
            docs++;
            if (pt_world_parse(doc, &q) != PT_OK) { if (!bad_docs++) printf("  doc \"%s\"\n", doc); continue; }
            variant_docs += q.rule == PT_RULE_NO_CARRY;
            pt_world_score_text(&q, strstr(doc, "A: "), &sc);
            if (!sc.correct || !sc.format_ok) { if (!bad_docs++) printf("  doc \"%s\"\n", doc); }
        }
        CHECK(docs == 4000 && bad_docs == 0, "variant corpus: %d documents, %d not solved by their stated rule", docs, bad_docs);
        CHECK(variant_docs > 1080 && variant_docs < 1320, "variant corpus: %d of 4000 documents without carries, want ~1200", variant_docs);
    }
}

static void test_onpolicy(void)
{
    pt_model *m = g_trained;
    pt_sampler s;
    pt_dataset ds, ds2;
    int np = SCALE(32, 16), samples = 4, st, i, j;
    if (!m) return;
    s.temperature = 1.0f; s.top_k = 0; s.top_p = 0.0f;
    st = pt_world_onpolicy_pairs(m, &g_cfgs[0], PT_WORLD_TRAIN, 3, np, samples, &s, 77, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_PREFERENCE && ds.n <= np, "pt_world_onpolicy_pairs: %s", pt_last_error());
    if (st != PT_OK) return;
    printf("  %d pairs from %d problems x %d samples\n", ds.n, np, samples);
    CHECK(ds.n > 0, "no on-policy pair from %d problems (the model's samples all tie)", np);
    /* each record rescored: strength >= 0 and the stored one; prompts are training problems */
    {
        int bad = 0, same = 0;
        for (i = 0; i < ds.n; i++) {
            const pt_record *r = &ds.records[i];
            pt_problem p;
            int sg;
            if (!r->prompt || !r->chosen || !r->rejected || pt_world_parse(r->prompt, &p) != PT_OK) { bad++; continue; }
            sg = rescore_strength(&p, r, NULL, NULL);
            bad += sg < 0 || !r->has_strength || (float)sg != r->strength || has_problem(&g_held, &p) || r->line != i + 1;
            same += strcmp(r->chosen, r->rejected) == 0;
        }
        CHECK(bad == 0 && same == 0, "on-policy pairs: %d wrong (strength, prompt), %d with chosen == rejected", bad, same);
    }
    /* deterministic for the same seeds */
    st = pt_world_onpolicy_pairs(m, &g_cfgs[0], PT_WORLD_TRAIN, 3, np, samples, &s, 77, &ds2);
    CHECK(st == PT_OK && dataset_same(&ds, &ds2), "on-policy pairs are not deterministic");
    if (st == PT_OK) pt_dataset_free(&ds2);
    /* recomputed: the same generations, best (highest quality, then fewest wrong steps) against worst */
    {
        pt_problem *probs = (pt_problem *)malloc((size_t)np * sizeof(pt_problem));
        pt_gen_result r;
        int at = 0, bad = 0;
        for (i = 0; i < np; i++) pt_world_problem(&g_cfgs[0], PT_WORLD_TRAIN, 3, i, &probs[i]);
        st = world_generate(m, probs, np, samples, &s, 77, &r);
        CHECK(st == PT_OK, "generate: %s", pt_last_error());
        for (i = 0; st == PT_OK && i < np; i++) {
            char text[8][1024];
            int q[8], w[8], best = 0, worst = 0;
            for (j = 0; j < samples; j++) {
                pt_world_score sc;
                gen_text(&r, i * samples + j, text[j], sizeof text[j]);
                pt_world_score_text(&probs[i], text[j], &sc);
                q[j] = pt_world_quality(&sc);
                w[j] = sc.n_steps - sc.steps_ok;
                if (q[j] > q[best] || (q[j] == q[best] && w[j] < w[best])) best = j;
                if (q[j] < q[worst] || (q[j] == q[worst] && w[j] > w[worst])) worst = j;
            }
            if (!(q[best] > q[worst] || (q[best] == q[worst] && w[best] < w[worst])) || !text[best][0] || !text[worst][0]) continue;
            if (at >= ds.n) { bad++; continue; }
            {
                char u[200];
                user_text(&probs[i], u, sizeof u);
                bad += !str_eq(ds.records[at].prompt, u) || !str_eq(ds.records[at].chosen, text[best]) || !str_eq(ds.records[at].rejected, text[worst]);
            }
            at++;
        }
        CHECK(bad == 0 && at == ds.n, "recomputed pairs: %d expected, %d returned, %d differ", at, ds.n, bad);
        if (st == PT_OK) pt_gen_result_free(&r);
        free(probs);
    }
    pt_dataset_free(&ds);
    /* other seeds give other samples */
    st = pt_world_onpolicy_pairs(m, &g_cfgs[0], PT_WORLD_TRAIN, 3, np, samples, &s, 78, &ds2);
    CHECK(st == PT_OK, "gen seed 78: %s", pt_last_error());
    if (st == PT_OK) pt_dataset_free(&ds2);
    CHECK(pt_world_onpolicy_pairs(m, NULL, PT_WORLD_TRAIN, 0, 4, 1, &s, 1, &ds2) == PT_ERR_ARG, "samples = 1 is PT_ERR_ARG");
    CHECK(pt_world_onpolicy_pairs(m, NULL, PT_WORLD_TRAIN, 0, 4, 2, NULL, 1, &ds2) == PT_ERR_ARG, "no sampler is PT_ERR_ARG");
    CHECK(pt_world_onpolicy_pairs(m, NULL, PT_WORLD_TRAIN, 0, 4, 2, &s, 1, NULL) == PT_ERR_ARG, "NULL ds is PT_ERR_ARG");
}

/* PT_WORLD_MIXED: operands of different lengths, held out twice over (test class, and training only
   ever pairs equal lengths); its solutions are right by an independent column sum. */
static void test_mixed(void)
{
    CHECK(pt_set_error(PT_ERR_IO, "x %d", 3) == PT_ERR_IO && strcmp(pt_last_error(), "x 3") == 0 && pt_last_status() == PT_ERR_IO,
          "pt_set_error records the status and message");
    pt_clear_error();
    static pt_problem mp[400];
    pt_world_config wc = wcfg(1, 3, 2), one = wcfg(1, 1, 2);
    int n = pt_world_heldout(&wc, PT_WORLD_MIXED, 400, mp), i, j, t, bad_class = 0, bad_len = 0, dup = 0, bad_sol = 0, by[4] = {0, 0, 0, 0};
    long long unequal_train = 0;
    CHECK(n == 400, "mixed held-out set: %d problems (%s)", n, pt_last_error());
    for (i = 0; i < n; i++) {
        int lo = 99, hi = 0;
        pt_world_score sc;
        long long sum = 0;
        for (t = 0; t < mp[i].n_terms; t++) {
            int d = ndigits(mp[i].terms[t]);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
            sum += mp[i].terms[t];
        }
        bad_len += lo == hi || hi < 2 || hi > 3;
        if (hi >= 2 && hi <= 3) by[hi]++;
        bad_class += pt_world_split_of(&mp[i]) != PT_WORLD_TEST;
        pt_world_score_text(&mp[i], mp[i].solution, &sc);
        bad_sol += sum != mp[i].answer || !sc.correct || !sc.format_ok || sc.steps_ok != sc.n_steps;
        for (j = 0; j < i && !dup; j++) dup += mp[j].terms[0] == mp[i].terms[0] && mp[j].terms[1] == mp[i].terms[1];
    }
    CHECK(bad_len == 0 && bad_class == 0 && dup == 0 && bad_sol == 0,
          "mixed set: %d equal or out-of-range lengths, %d not in the test class, duplicates %d, %d bad solutions", bad_len, bad_class, dup, bad_sol);
    CHECK(by[2] > 100 && by[3] >= 200 && by[2] + by[3] == n, "mixed set by longest operand: 2 digits %d, 3 digits %d", by[2], by[3]);
    for (i = 0; i < 100000; i++) {   /* training streams only pair equal lengths */
        pt_problem p;
        pt_world_problem(&wc, PT_WORLD_TRAIN, (uint64_t)(i % 3), i, &p);
        unequal_train += ndigits(p.terms[0]) != ndigits(p.terms[1]);
    }
    CHECK(unequal_train == 0, "%lld training problems pair operands of different lengths", unequal_train);
    pt_clear_error();
    CHECK(pt_world_heldout(&one, PT_WORLD_MIXED, 10, mp) == PT_ERR_ARG && pt_last_error()[0], "mixed lengths need two digit counts");
    {
        pt_problem p;
        pt_world_problem(&one, PT_WORLD_MIXED, 0, 3, &p);
        CHECK(pt_world_split_of(&p) == PT_WORLD_TEST, "a mixed request without two lengths still gives a held-out problem");
        pt_world_problem(&wc, PT_WORLD_MIXED, 0, 3, &p);
        CHECK(pt_world_split_of(&p) == PT_WORLD_TEST && ndigits(p.terms[0]) != ndigits(p.terms[1]), "pt_world_problem(MIXED): %s", p.question);
    }
}

int main(void)
{
    double t0 = pt_time_seconds();
    pt_config c = tiny_config();
    if (!make_tmp_dir("test_world")) return 1;
    pt_set_threads(1);   /* tiny models; results do not depend on the thread count */
    g_cfgs[0] = wcfg(0, 0, 0); g_cfgs[1] = wcfg(1, 3, 3); g_cfgs[2] = wcfg(1, 4, 2);
    g_rand = pt_model_new(&c, 7);
    if (!g_rand) { printf("pt_model_new: %s\n", pt_last_error()); return 1; }
    RUN("classes by exhaustive enumeration", test_classes);
    RUN("held-out sets", test_heldout);
    RUN("training draws never held out", test_train_draws);
    RUN("mixed lengths", test_mixed);
    RUN("corpus and datasets carry no held-out problem", test_streams);
    RUN("Wilson intervals", test_interval);
    RUN("synthetic completions, quality, strength", test_completions);
    RUN("preference datasets", test_preferences);
    RUN("pt_world_parse", test_parse);
    RUN("step spans", test_step_spans);
    RUN("pass@k", test_pass_at_k);
    RUN("generation: stop tokens, shared prefill, pt_kv_copy", test_generation);
    RUN("rollout batches", test_rollout);
    RUN("tiny model: SFT", test_train);
    RUN("evaluation and its format", test_eval);
    RUN("sampled evaluation", test_eval_sampled);
    RUN("on-policy pairs", test_onpolicy);
    RUN("the no-carry rule variant", test_rule_variant);
    keyset_free(&g_held);
    pt_model_free(g_rand);
    pt_model_free(g_trained);
    return finish_tmp("test_world", t0);
}
