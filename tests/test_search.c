/* test_search: section 14 (search and test-time compute). Every expected value is computed here, by
   hand in a comment or by replaying the generation with the public API, never by the function
   under test:
     - pt_best_of_n: ties go to the first, only the first n_use count (n_use > N clipped), several
       groups, NaN never wins (NaN first, NaN between, all NaN), -inf;
     - pt_majority_vote: plain majority, ties to the answer seen first, the valid mask, weights that
       change the winner, the index of the first (valid) sample holding the winner, none valid / n 0;
     - pt_rejection_sample on a tiny random byte model with rule rewards written here (completion
       length in bytes, digits counted by a batch reward): the kept records equal a replay of the
       same generation with pt_generate (stop markers dropped, one-character stops kept), ranked by
       the score (stable), top-N per prompt, min_score, distinct (run first in a child process: a
       crash there is a failed check, not a dead test), counts (samples, tokens, mean score,
       difficulty bins), the JSONL file (loads, equals the records, score and difficulty per line),
       determinism, batching, chat prompts, hints (sampled from, never recorded or scored), the
       prompt the rewards see, nothing kept (no file, a stale one removed), error paths (no reward,
       a prompt too long, NULL model / prompt, a failing batch reward) leaving *kept untouched and
       writing no file; a completion that is not valid UTF-8 is never kept (the plain random model),
       and a NaN score is never kept and hides no finite one behind it;
     - KV-cache reuse (what MCTS relies on): a prefix copied with pt_kv_copy and stepped on gives
       the logits of a fresh prefill of the whole sequence;
     - pt_mcts_solve with a tiny random policy and PRM: structure (node counts, tokens, stop tokens,
       text), the value equal to the PRM's own score of the chosen solution, determinism in (seed,
       prompt index), the top-1 sampler giving exactly the greedy generation (step and token level:
       the tree's copied caches decode like a fresh cache), error paths;
     - with build/sft.ckpt and build/prm.ckpt (make chapters): MCTS solves >= 15 of 20 held-out one-
       and two-digit problems (5 of 6 under the sanitizers), each result's value is the trained
       PRM's score of it, top-1 search equals greedy decoding and cuts the steps at ";" / ">" after
       a digit (skipped when the checkpoints are absent). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include "test_tmp.h"
#include <string.h>

/* ---------------------------------------------------------------------------------------------
   1. Best-of-N
   --------------------------------------------------------------------------------------------- */
static void test_best_of_n(void)
{
    const float nan = NAN, inf = INFINITY;
    /* 4 groups of 5:
       g0 {1, 3, 3, 2, 0}: the max 3 twice -> the first, 1
       g1 {0, 1, 2, 3, 9}: 4 with n_use 5; 3 with n_use 4 (the 9 not looked at)
       g2 {NaN, 1, 3, 3, 2}: NaN first never wins -> 2
       g3 {2, NaN, NaN, 5, NaN}: -> 3 */
    float s[4][5] = {{1, 3, 3, 2, 0}, {0, 1, 2, 3, 9}, {0, 1, 3, 3, 2}, {2, 0, 0, 5, 0}};
    int pick[4], i;
    s[2][0] = nan;
    s[3][1] = s[3][2] = s[3][4] = nan;
    for (i = 0; i < 4; i++) pick[i] = -7;
    pt_best_of_n(&s[0][0], 4, 5, 5, pick);
    CHECK(pick[0] == 1, "tie -> the first of the maxima: %d, want 1", pick[0]);
    CHECK(pick[1] == 4, "max at the end: %d, want 4", pick[1]);
    CHECK(pick[2] == 2, "NaN first, then finite: %d, want 2", pick[2]);
    CHECK(pick[3] == 3, "NaN in between: %d, want 3", pick[3]);
    for (i = 0; i < 4; i++) pick[i] = -7;
    pt_best_of_n(&s[0][0], 4, 5, 4, pick);
    CHECK(pick[0] == 1 && pick[1] == 3 && pick[2] == 2 && pick[3] == 3,
          "n_use 4: {%d %d %d %d}, want {1 3 2 3} (only the first 4 looked at)", pick[0], pick[1], pick[2], pick[3]);
    /* n_use 2: g0 {1,3} -> 1, g1 {0,1} -> 1, g2 {NaN,1} -> 1, g3 {2,NaN} -> 0 */
    pt_best_of_n(&s[0][0], 4, 5, 2, pick);
    CHECK(pick[0] == 1 && pick[1] == 1 && pick[2] == 1 && pick[3] == 0, "n_use 2: {%d %d %d %d}, want {1 1 1 0}",
          pick[0], pick[1], pick[2], pick[3]);
    pt_best_of_n(&s[0][0], 4, 5, 1, pick);
    CHECK(pick[0] == 0 && pick[1] == 0 && pick[2] == 0 && pick[3] == 0, "n_use 1: always 0");
    pt_best_of_n(&s[0][0], 4, 5, 99, pick);
    CHECK(pick[0] == 1 && pick[1] == 4 && pick[2] == 2 && pick[3] == 3, "n_use > N acts as N: {%d %d %d %d}",
          pick[0], pick[1], pick[2], pick[3]);
    {   /* a group only read where it is: group 1 of 2 uses scores 3..5 */
        float t[6] = {9, 9, 9, 1, 7, 7};
        pick[0] = pick[1] = -7;
        pt_best_of_n(t, 2, 3, 3, pick);
        CHECK(pick[0] == 0 && pick[1] == 1, "groups of 3: {%d %d}, want {0 1}", pick[0], pick[1]);
    }
    {   /* all NaN -> 0; -inf everywhere -> 0; -inf then a finite -> that one; +inf wins */
        float a[3] = {nan, nan, nan}, b[3] = {-inf, -inf, -inf}, c[3] = {-inf, -1e30f, -inf}, d[3] = {1, inf, nan};
        pt_best_of_n(a, 1, 3, 3, pick);
        CHECK(pick[0] == 0, "all NaN: %d, want 0", pick[0]);
        pt_best_of_n(b, 1, 3, 3, pick);
        CHECK(pick[0] == 0, "all -inf: %d, want 0", pick[0]);
        pt_best_of_n(c, 1, 3, 3, pick);
        CHECK(pick[0] == 1, "-inf, -1e30, -inf: %d, want 1", pick[0]);
        pt_best_of_n(d, 1, 3, 3, pick);
        CHECK(pick[0] == 1, "1, +inf, NaN: %d, want 1", pick[0]);
    }
}

/* ---------------------------------------------------------------------------------------------
   2. Majority vote
   --------------------------------------------------------------------------------------------- */
/* Called through a volatile pointer: clang 14.0.6 at -O2 miscompiles pt_majority_vote inlined into
   a caller whose arrays are compile-time constants with valid = weights = NULL (its GVN pass; 0
   instead of 2 for {3, 1, 2, 2, 3, 2}; -O1, -O3, gcc and runtime data are right). */
static int (*volatile majority_vote)(const long long *, const unsigned char *, const float *, int) = pt_majority_vote;
#define pt_majority_vote majority_vote
static void test_majority_vote(void)
{
    {   /* {1, 2, 2, 3}: 2 wins, first held at 1 */
        long long a[4] = {1, 2, 2, 3};
        int w = pt_majority_vote(a, NULL, NULL, 4);
        CHECK(w == 1, "plain majority: %d, want 1", w);
    }
    {   /* {3, 1, 2, 2, 3, 2}: 2 (three votes) first at index 2 */
        long long a[6] = {3, 1, 2, 2, 3, 2};
        int w = pt_majority_vote(a, NULL, NULL, 6);
        CHECK(w == 2, "the first sample holding the winner: %d, want 2", w);
    }
    {   /* ties go to the answer seen first: {4, 7, 7, 4} -> 4 (0); {7, 4, 4, 7} -> 7 (0);
           {1, 9, 9, 5, 5} -> 9 (1), 5 ties it later */
        long long a[4] = {4, 7, 7, 4}, b[4] = {7, 4, 4, 7}, c[5] = {1, 9, 9, 5, 5};
        int w1 = pt_majority_vote(a, NULL, NULL, 4), w2 = pt_majority_vote(b, NULL, NULL, 4),
            w3 = pt_majority_vote(c, NULL, NULL, 5);
        CHECK(w1 == 0 && w2 == 0, "ties -> the answer seen first: %d %d, want 0 0", w1, w2);
        CHECK(w3 == 1, "tie between 9 (first at 1) and 5 (first at 3): %d, want 1", w3);
    }
    {   /* the valid mask: {1, 2, 2, 3, 3, 3} with the first two 3s invalid: 2 (two votes) beats 3 (one) */
        long long a[6] = {1, 2, 2, 3, 3, 3};
        unsigned char v[6] = {1, 1, 1, 0, 0, 1};
        int w = pt_majority_vote(a, v, NULL, 6);
        CHECK(w == 1, "valid mask: %d, want 1", w);
        /* without the mask 3 wins at 3 */
        w = pt_majority_vote(a, NULL, NULL, 6);
        CHECK(w == 3, "no mask: %d, want 3", w);
    }
    {   /* invalid samples hold no answer: {8, 8, 5} with sample 0 invalid: 8 and 5 tie, 8 seen first
           among the valid ones -> its first valid holder, 1 */
        long long a[3] = {8, 8, 5};
        unsigned char v[3] = {0, 1, 1};
        int w = pt_majority_vote(a, v, NULL, 3);
        CHECK(w == 1, "first valid holder: %d, want 1", w);
        /* {3, 2, 3, 2, 2} with sample 0 invalid: 2 has three votes, 3 one -> 1 */
        {
            long long b[5] = {3, 2, 3, 2, 2};
            unsigned char vb[5] = {0, 1, 1, 1, 1};
            w = pt_majority_vote(b, vb, NULL, 5);
            CHECK(w == 1, "invalid first sample: %d, want 1", w);
        }
    }
    {   /* weights: 5, 5 at 0.1 each (0.2) vs 7 at 0.5 -> the 7, index 2; unweighted the 5 wins (0) */
        long long a[3] = {5, 5, 7};
        float wt[3] = {0.1f, 0.1f, 0.5f};
        int w = pt_majority_vote(a, NULL, wt, 3);
        CHECK(w == 2, "weighted vote: %d, want 2", w);
        w = pt_majority_vote(a, NULL, NULL, 3);
        CHECK(w == 0, "same answers unweighted: %d, want 0", w);
    }
    {   /* weights summed per answer: {7, 5, 5, 7} at {0.1, 0.3, 0.3, 0.6}: 7 0.7 vs 5 0.6 -> 0;
           with 7's last weight 0.4: 7 0.5 vs 5 0.6 -> 1 */
        long long a[4] = {7, 5, 5, 7};
        float w1[4] = {0.1f, 0.3f, 0.3f, 0.6f}, w2[4] = {0.1f, 0.3f, 0.3f, 0.4f};
        int w = pt_majority_vote(a, NULL, w1, 4);
        CHECK(w == 0, "weights summed (7: 0.7 vs 5: 0.6): %d, want 0", w);
        w = pt_majority_vote(a, NULL, w2, 4);
        CHECK(w == 1, "weights summed (7: 0.5 vs 5: 0.6): %d, want 1", w);
    }
    {   /* weights and mask together: {5, 7, 5} weights {1, 0.5, 1}, sample 2 invalid: 5 1.0 vs 7 0.5 -> 0;
           sample 0 invalid: 7 0.5 vs 5 1.0 -> 2 */
        long long a[3] = {5, 7, 5};
        float wt[3] = {1.0f, 0.5f, 1.0f};
        unsigned char v1[3] = {1, 1, 0}, v2[3] = {0, 1, 1};
        int w = pt_majority_vote(a, v1, wt, 3);
        CHECK(w == 0, "weights + mask: %d, want 0", w);
        w = pt_majority_vote(a, v2, wt, 3);
        CHECK(w == 2, "weights + mask (first holder invalid): %d, want 2", w);
    }
    {   /* answers are long long: 10^15 and 10^15 + 1 are different answers */
        long long a[3] = {1000000000000000LL, 1000000000000001LL, 1000000000000001LL};
        int w = pt_majority_vote(a, NULL, NULL, 3);
        CHECK(w == 1, "64-bit answers: %d, want 1", w);
    }
    {   /* none valid, n = 0 */
        long long a[3] = {1, 2, 3};
        unsigned char v[3] = {0, 0, 0};
        int w = pt_majority_vote(a, v, NULL, 3);
        CHECK(w == -1, "all invalid: %d, want -1", w);
        w = pt_majority_vote(a, NULL, NULL, 0);
        CHECK(w == -1, "n = 0: %d, want -1", w);
        w = pt_majority_vote(a, NULL, NULL, 1);
        CHECK(w == 0, "one sample: %d, want 0", w);
    }
}

#undef pt_majority_vote

/* ---------------------------------------------------------------------------------------------
   3. Rejection sampling
   --------------------------------------------------------------------------------------------- */
#define RS_NP 5
#define RS_K 6
#define RS_NEW 16
static const char *const g_rs_prompts[RS_NP] = {"Q: 47+85=?\nA: ", "Q: 3+4=?\nA: ", "Hello there, ", "Q: 12+34=?\nA: ",
                                                "Q: 123+456=?\nA: "};
static const int g_rs_diff[RS_NP] = {2, 1, 0, 2, 3};
/* the stop set: two markers (dropped from the text) and single characters (kept) */
static const int g_rs_stops[6] = {PT_BYTE_END, PT_BYTE_EOS, '\n', 'e', 'a', ' '};

/* What the rule rewards see: the prompt as the model saw it (without any hint) */
typedef struct rs_seen { int chat, calls, bad_prompt; } rs_seen;
static rs_seen g_seen;
static void seen_prompt(const char *prompt)
{
    int i, ok = 0;
    char want[256];
    g_seen.calls++;
    for (i = 0; i < RS_NP && !ok; i++) {
        if (g_seen.chat) pt_chat_text(NULL, g_rs_prompts[i], NULL, want, sizeof want);
        else snprintf(want, sizeof want, "<bos>%s", g_rs_prompts[i]);
        ok = strcmp(prompt, want) == 0;
    }
    g_seen.bad_prompt += !ok;
}
/* the score: the completion's length in bytes (HINT in the prompt: -1, so a hint scored would keep nothing) */
static float rw_len(const char *prompt, const char *completion, void *user)
{
    seen_prompt(prompt);
    if (strstr(prompt, "HINT")) return -1.0f;
    if (user && strlen(completion) % 2) return NAN;   /* user set: odd lengths score NaN */
    return (float)strlen(completion);
}
static int count_digits(const char *s) { int n = 0; for (; *s; s++) n += *s >= '0' && *s <= '9'; return n; }
/* a batch reward: the digits of each completion (user: the status to return) */
static int g_batch_calls;
static int rw_batch_digits(const char *const *prompts, const char *const *completions, int n, float *r, void *user)
{
    int i;
    g_batch_calls++;
    for (i = 0; i < n; i++) {
        seen_prompt(prompts[i]);
        r[i] = (float)count_digits(completions[i]);
    }
    return user ? *(const int *)user : PT_OK;
}

/* The sampling model: random weights, except that embedding coordinate 0 is +3 for ASCII bytes and
   the markers and -3 for bytes 128..255. Prompts are ASCII, so the residual stream carries a large
   positive coordinate 0 and (tied classifier) the logits of bytes 128..255 sit far below the others:
   the completions are nearly always valid UTF-8 (the library keeps no other), yet as random as
   before among the rest. The plain random model (most completions not UTF-8) is the UTF-8 test's. */
static pt_model *make_rs_model(void)
{
    pt_model *m = make_model(mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 96, 0), 31);
    int t, D = m->cfg.dim;
    for (t = 0; t < PT_BYTE_VOCAB; t++) m->tok_embeddings->data[(int64_t)t * D] = t >= 128 && t < 256 ? -3.0f : 3.0f;
    return m;
}
static pt_model *g_rs_model;
static pt_model *rs_model(void)
{
    if (!g_rs_model) g_rs_model = make_rs_model();
    return g_rs_model;
}
static pt_rs_config rs_cfg(int keep, float min_score, const pt_reward_term *terms, int n_terms)
{
    pt_rs_config c;
    int i;
    memset(&c, 0, sizeof c);
    c.gen.max_new_tokens = RS_NEW;
    c.gen.sampler.temperature = 1.0f;
    for (i = 0; i < 6; i++) c.gen.stop_tokens[i] = g_rs_stops[i];
    c.gen.n_stop_tokens = 6;
    c.gen.seed = 1234;
    c.samples = RS_K;
    c.keep = keep;
    c.min_score = min_score;
    c.rewards = terms;
    c.n_rewards = n_terms;
    return c;
}

/* The expected samples: a replay of the generation (one batch: the config's own seed) with
   pt_generate, each completion decoded without a marker stop token and with a one-character one;
   text[p][k] (malloc'd), the generated token count into tokens. Returns 0 on failure. */
typedef struct rs_replay { char *text[RS_NP][RS_K]; long long tokens; } rs_replay;
static int rs_replay_run(pt_model *m, const pt_rs_config *c, const char *const *src, int n, int chat, rs_replay *out)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int ids[RS_NP][96], lens[RS_NP], *pp[RS_NP], i, k, st;
    pt_gen_result g;
    memset(out, 0, sizeof *out);
    for (i = 0; i < n; i++) {
        char buf[256];
        if (chat) {
            pt_chat_text(NULL, src[i], NULL, buf, sizeof buf);
            lens[i] = tok.encode(&tok, buf, 0, 0, ids[i], 96);
        } else
            lens[i] = tok.encode(&tok, src[i], 1, 0, ids[i], 96);
        pp[i] = ids[i];
    }
    st = pt_generate(m, (const int *const *)pp, lens, n, c->samples, &c->gen, &g);
    CHECK(st == PT_OK, "replay pt_generate: %s", pt_last_error());
    if (st != PT_OK) return 0;
    for (i = 0; i < n; i++)
        for (k = 0; k < c->samples; k++) {
            int s = i * c->samples + k, p = g.prompt_len[s], len = g.total_len[s], j, stop = 0, L;
            const int *seq = g.tokens + (int64_t)s * g.width;
            for (j = 0; j < c->gen.n_stop_tokens; j++) stop |= len > p && seq[len - 1] == c->gen.stop_tokens[j];
            out->tokens += len - p;
            if (stop && seq[len - 1] >= 256) len--;   /* a marker: the template writes it, not the completion */
            L = pt_decode(&tok, seq + p, len - p, NULL, 0);
            out->text[i][k] = (char *)malloc((size_t)L + 1);
            pt_decode(&tok, seq + p, len - p, out->text[i][k], L + 1);
        }
    pt_gen_result_free(&g);
    return 1;
}
static void rs_replay_free(rs_replay *r)
{
    int i, k;
    for (i = 0; i < RS_NP; i++)
        for (k = 0; k < RS_K; k++) free(r->text[i][k]);
}
/* score of a completion under the test's rewards: w_len * bytes + w_dig * digits (g_nan_odd: NaN
   for an odd length) */
static int g_nan_odd;
static double rs_score(const char *t, double w_len, double w_dig)
{
    if (g_nan_odd && strlen(t) % 2) return NAN;
    return w_len * (double)strlen(t) + w_dig * count_digits(t);
}
/* a ranks before b: a higher score, or a score where b has none (NaN) */
static int rs_before(double a, double b) { return a > b || (b != b && a == a); }
/* The order the records must come in for prompt i: stable descending sort of the K scores, NaN last */
static void rs_order(const rs_replay *r, int i, double w_len, double w_dig, int *order)
{
    int a, b;
    for (a = 0; a < RS_K; a++) order[a] = a;
    for (a = 1; a < RS_K; a++)
        for (b = a; b > 0 && rs_before(rs_score(r->text[i][order[b]], w_len, w_dig), rs_score(r->text[i][order[b - 1]], w_len, w_dig)); b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
}
/* valid UTF-8 (RFC 3629), by test.h's own check: sanitizing changes nothing */
static int is_utf8(const char *s)
{
    char *x = (char *)malloc(strlen(s) + 1);
    int eq;
    strcpy(x, s);
    utf8_sanitize(x);
    eq = strcmp(x, s) == 0;
    free(x);
    return eq;
}
/* The expected kept records of a run over the replay: per prompt in order, the stable ranking,
   scores >= min_score, at most keep, completions that are not valid UTF-8 never (JSON cannot hold
   them), duplicates skipped when distinct. Compares with ds (records: the plain prompt, the
   completion); returns the number of mismatches, counts the expected records into *n_expect and
   (per_prompt not NULL) per prompt. */
static int g_utf8_skipped;   /* how many valid-scored completions the last comparison skipped as not UTF-8 */
static int g_quiet;          /* 1: a mismatch is expected, print none */
static int rs_compare_per(const rs_replay *r, const char *const *prompts, int n, int keep, double min_score, int distinct,
                          double w_len, double w_dig, const pt_dataset *ds, int *n_expect, int *per_prompt)
{
    int i, a, b, at = 0, bad = 0, order[RS_K];
    g_utf8_skipped = 0;
    for (i = 0; i < n; i++) {
        int kept = 0;
        rs_order(r, i, w_len, w_dig, order);
        for (a = 0; a < RS_K && kept < keep; a++) {
            const char *t = r->text[i][order[a]];
            int dup = 0;
            if (!(rs_score(t, w_len, w_dig) >= min_score)) break;
            if (!is_utf8(t)) { g_utf8_skipped++; continue; }
            for (b = 0; distinct && b < a; b++) dup |= strcmp(r->text[i][order[b]], t) == 0;
            if (dup) continue;
            if (at < ds->n) {
                const pt_record *rec = &ds->records[at];
                int ok = rec->prompt && rec->completion && strcmp(rec->prompt, prompts[i]) == 0 && strcmp(rec->completion, t) == 0;
                if (!ok && bad < 3 && !g_quiet)
                    printf("  record %d: prompt %d sample %d: got [%s], want [%s]\n", at, i, order[a],
                           rec->completion ? rec->completion : "(null)", t);
                bad += !ok;
            }
            at++;
            kept++;
        }
        if (per_prompt) per_prompt[i] = kept;
    }
    *n_expect = at;
    return bad + (at != ds->n);
}
static int rs_compare(const rs_replay *r, const char *const *prompts, int n, int keep, double min_score, int distinct,
                      double w_len, double w_dig, const pt_dataset *ds, int *n_expect)
{
    return rs_compare_per(r, prompts, n, keep, min_score, distinct, w_len, w_dig, ds, n_expect, NULL);
}
static int datasets_equal(const pt_dataset *a, const pt_dataset *b)
{
    int i;
    if (a->n != b->n || a->kind != b->kind) return 0;
    for (i = 0; i < a->n; i++)
        if (!str_eq(a->records[i].prompt, b->records[i].prompt) || !str_eq(a->records[i].completion, b->records[i].completion))
            return 0;
    return 1;
}

/* distinct = 1, run in a child process first (before any OpenMP region in this process): a crash
   is a failed check. Exit 0 when every expectation holds, else a code naming the first that did not. */
static int child_distinct(void *arg)
{
    pt_model *m = make_rs_model();
    pt_reward_term term = {"len", rw_len, NULL, 1.0f};
    pt_rs_config c = rs_cfg(RS_K, -1e30f, &term, 1);
    pt_dataset ds;
    int st, i, j;
    (void)arg;
    c.gen.sampler.top_k = 1;   /* every sample of a prompt the same */
    c.distinct = 1;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
    if (st != PT_OK) return 2;
    if (ds.n < 1 || ds.n > RS_NP) return 3;   /* one per prompt (none where that completion is not UTF-8) */
    for (i = 1; i < ds.n; i++)
        if (strcmp(ds.records[i].prompt, ds.records[i - 1].prompt) == 0) return 4;
    pt_dataset_free(&ds);
    c.gen.sampler.top_k = 0;
    c.gen.max_new_tokens = 1;   /* 1-token completions: repeats likely */
    c.samples = RS_K;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
    if (st != PT_OK) return 5;
    for (i = 0; i < ds.n; i++)
        for (j = 0; j < i; j++)
            if (!strcmp(ds.records[i].prompt, ds.records[j].prompt) && !strcmp(ds.records[i].completion, ds.records[j].completion))
                return 6;
    pt_dataset_free(&ds);
    pt_model_free(m);
    return 0;
}
static int g_distinct_rc = -1;

static void test_rs_distinct(void)
{
    pt_model *m = rs_model();
    pt_reward_term term = {"len", rw_len, NULL, 1.0f};
    pt_rs_config c = rs_cfg(RS_K, -1e30f, &term, 1);
    pt_dataset ds;
    rs_replay rp;
    int st, n_exp, bad;
    CHECK(g_distinct_rc == 0, "distinct = 1 in a child process: exit %d (0 = fine; 2-6 a wrong result; 1 or >= 1000 "
          "a crash or a sanitizer report)", g_distinct_rc);
    if (g_distinct_rc != 0) {
        printf("  (distinct = 1 crashed or failed in the child; its in-process checks are skipped)\n");
        return;
    }
    /* top_k 1: the K samples of a prompt are one completion: one record per prompt */
    c.gen.sampler.top_k = 1;
    c.distinct = 1;
    if (!rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &rp)) return;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
    CHECK(st == PT_OK, "distinct, identical samples: %s", pt_last_error());
    if (st == PT_OK) {
        bad = rs_compare(&rp, g_rs_prompts, RS_NP, RS_K, -1e30, 1, 1.0, 0.0, &ds, &n_exp);
        CHECK(bad == 0 && ds.n == RS_NP, "distinct, identical samples: %d records, want %d (one per prompt)", ds.n, RS_NP);
        pt_dataset_free(&ds);
    }
    rs_replay_free(&rp);
    /* 2-token completions from the top 3 tokens: at most 9 per prompt, so repeats among 6 are
       likely; the expectation is the replay's own distinct ranking */
    c.gen.sampler.top_k = 3;
    c.gen.max_new_tokens = 2;
    if (!rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &rp)) return;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
    CHECK(st == PT_OK, "distinct: %s", pt_last_error());
    if (st == PT_OK) {
        bad = rs_compare(&rp, g_rs_prompts, RS_NP, RS_K, -1e30, 1, 1.0, 0.0, &ds, &n_exp);
        CHECK(bad == 0, "distinct: %d mismatches against the replay (%d records, want %d)", bad, ds.n, n_exp);
        CHECK(n_exp < RS_NP * RS_K, "distinct: the replay has repeats to skip (%d of %d kept)", n_exp, RS_NP * RS_K);
        pt_dataset_free(&ds);
    }
    rs_replay_free(&rp);
}

static void test_rs_ranking(void)
{
    pt_model *m = rs_model();
    pt_reward_term term = {"len", rw_len, NULL, 1.0f};
    pt_rs_config c = rs_cfg(RS_K, -1e30f, &term, 1);
    pt_dataset all, top2, thr, again;
    pt_rs_result res, res2;
    rs_replay rp;
    int st, i, k, n_exp, bad, d, n_invalid = 0;
    double sum = 0, median;
    if (!rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &rp)) return;
    {   /* the replay itself: some completions stop at a marker, some at a character, some run out */
        int n_char = 0, n_full = 0;
        for (i = 0; i < RS_NP; i++)
            for (k = 0; k < RS_K; k++) {
                size_t L = strlen(rp.text[i][k]);
                n_char += L > 0 && strchr("\nea ", rp.text[i][k][L - 1]) != NULL;
                sum += (double)L;
            }
        n_full = (int)(rp.tokens == (long long)RS_NP * RS_K * RS_NEW);
        CHECK(n_char > 0 && !n_full, "the replay exercises the stop tokens (%d end at a character)", n_char);
        for (i = 0; i < RS_NP; i++)
            for (k = 0; k < RS_K; k++) n_invalid += !is_utf8(rp.text[i][k]);
        CHECK(n_invalid == 0, "setup: %d of the ASCII-leaning model's samples are not UTF-8", n_invalid);
    }
    /* keep = K, min_score -inf: every sample, ranked */
    g_seen.chat = 0;
    g_seen.calls = g_seen.bad_prompt = 0;
    memset(&res, 0xAB, sizeof res);
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &all, &res);
    CHECK(st == PT_OK, "keep all: %s", pt_last_error());
    if (st != PT_OK) { rs_replay_free(&rp); return; }
    CHECK(g_seen.calls == RS_NP * RS_K && g_seen.bad_prompt == 0,
          "the reward saw %d calls (want %d), %d prompts not \"<bos>\" + the prompt", g_seen.calls, RS_NP * RS_K, g_seen.bad_prompt);
    CHECK(res.n_prompts == RS_NP && res.n_samples == RS_NP * RS_K && res.n_kept == RS_NP * RS_K && all.n == RS_NP * RS_K &&
          res.prompts_with_kept == RS_NP, "keep all: prompts %d samples %d kept %d (records %d) with_kept %d (every sample "
          "valid UTF-8: %d skipped)", res.n_prompts, res.n_samples, res.n_kept, all.n, res.prompts_with_kept, n_invalid);
    CHECK(all.kind == PT_DATA_COMPLETION, "kept kind %d, want completion", all.kind);
    CHECK(res.tokens == rp.tokens, "tokens %lld, want %lld (the replay's generated tokens)", res.tokens, rp.tokens);
    CHECK_NEAR(res.mean_score, sum / (RS_NP * RS_K), 1e-9, "mean score = mean completion length");
    CHECK(res.seconds >= 0 && res.seconds < 60, "seconds %g", res.seconds);
    bad = rs_compare(&rp, g_rs_prompts, RS_NP, RS_K, -1e30, 0, 1.0, 0.0, &all, &n_exp);
    CHECK(bad == 0, "keep all: %d records differ from the replay ranked by score (stable)", bad);
    {   /* the records are valid UTF-8 (they go to JSONL, which must be) */
        int bad_utf8 = 0, first = -1;
        for (i = 0; i < all.n; i++)
            if (!is_utf8(all.records[i].completion)) { bad_utf8++; if (first < 0) first = i; }
        CHECK(bad_utf8 == 0, "%d of %d kept completions are not valid UTF-8 (first: record %d) although they become "
              "JSONL", bad_utf8, all.n, first);
    }
    for (i = 0, d = 0; i < 17; i++) d += res.prompts_by_difficulty[i];
    CHECK(d == RS_NP, "prompts_by_difficulty sums to %d, want %d", d, RS_NP);
    CHECK(res.prompts_by_difficulty[0] == 1 && res.prompts_by_difficulty[1] == 1 && res.prompts_by_difficulty[2] == 2 &&
          res.prompts_by_difficulty[3] == 1, "difficulty bins {%d %d %d %d}, want {1 1 2 1}", res.prompts_by_difficulty[0],
          res.prompts_by_difficulty[1], res.prompts_by_difficulty[2], res.prompts_by_difficulty[3]);
    CHECK(res.kept_by_difficulty[0] == RS_K && res.kept_by_difficulty[1] == RS_K && res.kept_by_difficulty[2] == 2 * RS_K &&
          res.kept_by_difficulty[3] == RS_K, "kept by difficulty {%d %d %d %d}", res.kept_by_difficulty[0],
          res.kept_by_difficulty[1], res.kept_by_difficulty[2], res.kept_by_difficulty[3]);

    /* determinism: the same config again */
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &again, &res2);
    CHECK(st == PT_OK && datasets_equal(&all, &again) && res2.tokens == res.tokens, "the same config twice: identical records");
    if (st == PT_OK) pt_dataset_free(&again);
    /* another seed: other samples */
    c.gen.seed = 99;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &again, NULL);
    CHECK(st == PT_OK && !datasets_equal(&all, &again), "another seed: other records");
    if (st == PT_OK) pt_dataset_free(&again);
    c.gen.seed = 1234;

    /* keep = 2: the first two of each prompt's ranking */
    c.keep = 2;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &top2, &res2);
    CHECK(st == PT_OK, "keep 2: %s", pt_last_error());
    if (st == PT_OK) {
        bad = rs_compare(&rp, g_rs_prompts, RS_NP, 2, -1e30, 0, 1.0, 0.0, &top2, &n_exp);
        CHECK(bad == 0 && top2.n == 2 * RS_NP && res2.n_kept == top2.n, "keep 2: %d mismatches, %d records (want %d)", bad,
              top2.n, 2 * RS_NP);
        CHECK(res2.n_samples == RS_NP * RS_K && res2.tokens == rp.tokens, "keep 2 still samples K per prompt");
        for (i = 0, d = 0; i < 17; i++) d += res2.kept_by_difficulty[i];
        CHECK(d == res2.n_kept, "kept_by_difficulty sums to %d, want n_kept %d", d, res2.n_kept);
        pt_dataset_free(&top2);
    }
    /* min_score = the median length: exactly the samples at or above it, at most keep */
    {
        double v[RS_NP * RS_K], t;
        int a, b, n = 0;
        for (i = 0; i < RS_NP; i++)
            for (k = 0; k < RS_K; k++) v[n++] = (double)strlen(rp.text[i][k]);
        for (a = 1; a < n; a++)
            for (b = a; b > 0 && v[b] < v[b - 1]; b--) { t = v[b]; v[b] = v[b - 1]; v[b - 1] = t; }
        median = v[n / 2];
    }
    c.keep = 4;
    c.min_score = (float)median;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &thr, &res2);
    CHECK(st == PT_OK, "min_score: %s", pt_last_error());
    if (st == PT_OK) {
        int with = 0, below = 0, per[RS_NP] = {0};
        bad = rs_compare(&rp, g_rs_prompts, RS_NP, 4, median, 0, 1.0, 0.0, &thr, &n_exp);
        CHECK(bad == 0, "min_score %g, keep 4: %d mismatches (%d records, want %d)", median, bad, thr.n, n_exp);
        for (i = 0; i < thr.n; i++) {
            below += (double)strlen(thr.records[i].completion) < median;
            for (k = 0; k < RS_NP; k++) per[k] += strcmp(thr.records[i].prompt, g_rs_prompts[k]) == 0;
        }
        for (k = 0; k < RS_NP; k++) with += per[k] > 0;
        CHECK(below == 0, "%d kept completions score below min_score", below);
        CHECK(res2.n_kept == thr.n && res2.prompts_with_kept == with && thr.n > 0 && thr.n < 4 * RS_NP,
              "min_score: n_kept %d records %d, prompts_with_kept %d (want %d)", res2.n_kept, thr.n, res2.prompts_with_kept, with);
        for (k = 0; k < RS_NP; k++) CHECK(per[k] <= 4, "prompt %d kept %d > keep 4", k, per[k]);
        pt_dataset_free(&thr);
    }
    /* min_score above every score: nothing kept, and that is not an error without a file */
    c.min_score = 1e9f;
    memset(&res2, 0xAB, sizeof res2);
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &thr, &res2);
    CHECK(st == PT_OK && thr.n == 0 && res2.n_kept == 0 && res2.prompts_with_kept == 0 && res2.n_samples == RS_NP * RS_K,
          "min_score 1e9: status %d, kept %d records (n_kept %d)", st, st == PT_OK ? thr.n : -1, res2.n_kept);
    for (i = 0, d = 0; i < 17; i++) d += res2.kept_by_difficulty[i];
    CHECK(d == 0 && res2.prompts_by_difficulty[2] == 2, "nothing kept: kept_by_difficulty all 0");
    if (st == PT_OK) pt_dataset_free(&thr);
    /* ... and with a JSONL path: no file, and an old one at the path is removed (the reader refuses
       an empty file; a stale one would pass for this run's) */
    {
        const char *path = tmp_path("empty.jsonl");
        CHECK(write_bytes(path, "{\"prompt\": \"old\", \"completion\": \"old\"}\n", 39) == 0 && file_exists(path),
              "a stale file");
        c.jsonl_path = path;
        st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &thr, NULL);
        CHECK(st == PT_OK && thr.n == 0 && !file_exists(path), "nothing kept with a JSONL path: status %d (%s), %d records, "
              "file still there: %d", st, pt_last_error(), st == PT_OK ? thr.n : -1, file_exists(path));
        if (st == PT_OK) pt_dataset_free(&thr);
        c.jsonl_path = NULL;
    }
    /* prompts_per_batch 2: three generation calls; the first batch starts where one batch does, so
       its prompts' records are the same (a sequence's samples do not depend on the batch) */
    c.min_score = -1e30f;
    c.keep = RS_K;
    c.prompts_per_batch = 2;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &thr, &res2);
    CHECK(st == PT_OK && thr.n == all.n && res2.n_prompts == RS_NP && res2.n_samples == RS_NP * RS_K &&
          res2.prompts_by_difficulty[2] == 2 && res2.kept_by_difficulty[3] == RS_K, "prompts_per_batch 2: counts");
    if (st == PT_OK) {
        int same = 1;
        for (i = 0; i < 2 * RS_K; i++) same &= str_eq(thr.records[i].completion, all.records[i].completion);
        CHECK(same, "prompts_per_batch 2: the first batch's records equal one batch's");
        pt_dataset_free(&thr);
    }
    pt_dataset_free(&all);
    rs_replay_free(&rp);
}

/* JSONL output, rule + batch rewards together */
static void test_rs_jsonl(void)
{
    pt_model *m = rs_model();
    pt_reward_term term = {"len", rw_len, NULL, 0.5f};
    pt_rs_config c = rs_cfg(3, -1e30f, &term, 1);
    const char *path = tmp_path("kept.jsonl");
    pt_dataset kept, loaded;
    pt_rs_result res;
    rs_replay rp;
    int st, n_exp, bad, i;
    unsigned char *raw;
    size_t n_raw;
    c.reward_batch = rw_batch_digits;
    c.reward_batch_weight = 3.0f;
    c.jsonl_path = path;
    if (!rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &rp)) return;
    g_batch_calls = 0;
    g_seen.chat = 0;
    g_seen.calls = g_seen.bad_prompt = 0;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &kept, &res);
    CHECK(st == PT_OK, "jsonl run: %s", pt_last_error());
    if (st != PT_OK) { rs_replay_free(&rp); return; }
    CHECK(g_batch_calls == 1 && g_seen.bad_prompt == 0, "batch reward called %d times (want 1), %d bad prompts", g_batch_calls,
          g_seen.bad_prompt);
    /* score = 0.5 * bytes + 3 * digits */
    bad = rs_compare(&rp, g_rs_prompts, RS_NP, 3, -1e30, 0, 0.5, 3.0, &kept, &n_exp);
    CHECK(bad == 0 && kept.n == 3 * RS_NP, "rule + batch reward ranking: %d mismatches (%d records)", bad, kept.n);
    {   /* mean score over all K samples */
        double sum = 0;
        int k;
        for (i = 0; i < RS_NP; i++)
            for (k = 0; k < RS_K; k++) sum += rs_score(rp.text[i][k], 0.5, 3.0);
        CHECK_NEAR(res.mean_score, sum / (RS_NP * RS_K), 1e-6, "mean of 0.5 bytes + 3 digits");
    }
    CHECK(file_exists(path), "the JSONL file is written");
    raw = read_bytes(path, &n_raw);
    CHECK(raw != NULL, "read %s", path);
    if (raw) {   /* one line per record; "score" = the record's score, "difficulty" its prompt's */
        char *s = (char *)raw, *line = s, *nl;
        int lines = 0, bad_score = 0, bad_diff = 0, bad_field = 0;
        raw[n_raw] = 0;
        CHECK(strstr(s, "\"score\":") != NULL && strstr(s, "\"difficulty\":") != NULL, "the file has score and difficulty fields");
        while ((nl = strchr(line, '\n')) != NULL) {
            char *sc, *df, *p;
            *nl = 0;
            /* the last occurrence of each field: a completion cannot end the line */
            for (sc = NULL, p = line; (p = strstr(p, "\"score\":")) != NULL; p++) sc = p;
            for (df = NULL, p = line; (p = strstr(p, "\"difficulty\":")) != NULL; p++) df = p;
            if (!sc || !df || strncmp(line, "{\"prompt\":", 10) != 0) bad_field++;
            else if (lines < kept.n) {
                const pt_record *r = &kept.records[lines];
                double want = rs_score(r->completion, 0.5, 3.0), got = strtod(sc + 8, NULL);
                int wd = -1, k;
                for (k = 0; k < RS_NP; k++) if (!strcmp(r->prompt, g_rs_prompts[k])) wd = g_rs_diff[k];
                bad_score += fabs(got - want) > 1e-6 * (1 + fabs(want));
                bad_diff += atoi(df + 13) != wd;
            }
            lines++;
            line = nl + 1;
        }
        CHECK(lines == kept.n && *line == 0, "%d lines for %d records (trailing bytes: %d)", lines, kept.n, *line != 0);
        CHECK(bad_field == 0 && bad_score == 0 && bad_diff == 0, "JSONL lines: %d without fields, %d wrong scores, %d wrong "
              "difficulties", bad_field, bad_score, bad_diff);
        free(raw);
    }
    memset(&loaded, 0, sizeof loaded);
    st = pt_jsonl_load(path, PT_DATA_COMPLETION, 0, &loaded);
    CHECK(st == PT_OK, "the kept JSONL loads: %s", pt_last_error());
    if (st == PT_OK) {
        CHECK(loaded.n == kept.n && datasets_equal(&loaded, &kept), "the file's %d records equal the %d kept", loaded.n, kept.n);
        pt_dataset_free(&loaded);
    }
    pt_dataset_free(&kept);
    rs_replay_free(&rp);
}

/* chat prompts and hints */
static void test_rs_chat_hints(void)
{
    pt_model *m = rs_model();
    pt_reward_term term = {"len", rw_len, NULL, 1.0f};
    pt_rs_config c = rs_cfg(RS_K, -1e30f, &term, 1);
    pt_dataset ds, plain;
    rs_replay rp;
    int st, n_exp, bad, i;
    /* chat = 1: sampled after the chat template's user turn; the reward sees that template */
    c.chat = 1;
    if (rs_replay_run(m, &c, g_rs_prompts, RS_NP, 1, &rp)) {
        g_seen.chat = 1;
        g_seen.calls = g_seen.bad_prompt = 0;
        st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
        CHECK(st == PT_OK, "chat: %s", pt_last_error());
        if (st == PT_OK) {
            bad = rs_compare(&rp, g_rs_prompts, RS_NP, RS_K, -1e30, 0, 1.0, 0.0, &ds, &n_exp);
            CHECK(bad == 0 && ds.n > RS_NP * RS_K / 2, "chat: %d mismatches against the chat replay (%d records)", bad, ds.n);
            CHECK(g_seen.calls == RS_NP * RS_K && g_seen.bad_prompt == 0, "chat: the reward saw %d prompts not rendered "
                  "with the template", g_seen.bad_prompt);
            pt_dataset_free(&ds);
        }
        rs_replay_free(&rp);
    }
    g_seen.chat = 0;
    c.chat = 0;
    /* hints: prompt 0 and 3 sampled from a hinted prompt, the others plain (a NULL hint). The records
       carry the plain prompt, the reward sees the plain prompt (a hint would score -1 and be dropped
       by min_score 0), the samples are the hinted prompt's */
    {
        const char *hints[RS_NP] = {"Q: 47+85=? HINT 132\nA: ", NULL, NULL, "Q: 12+34=? HINT 46\nA: ", NULL};
        const char *src[RS_NP];
        for (i = 0; i < RS_NP; i++) src[i] = hints[i] ? hints[i] : g_rs_prompts[i];
        c.hints = hints;
        c.min_score = 0.0f;
        if (rs_replay_run(m, &c, src, RS_NP, 0, &rp)) {
            g_seen.calls = g_seen.bad_prompt = 0;
            st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
            CHECK(st == PT_OK, "hints: %s", pt_last_error());
            if (st == PT_OK) {
                int hint_in_rec = 0;
                bad = rs_compare(&rp, g_rs_prompts, RS_NP, RS_K, 0.0, 0, 1.0, 0.0, &ds, &n_exp);
                CHECK(bad == 0 && ds.n > RS_NP * RS_K / 2, "hints: %d mismatches against the hinted replay (%d records)", bad, ds.n);
                for (i = 0; i < ds.n; i++) hint_in_rec += strstr(ds.records[i].prompt, "HINT") != NULL;
                CHECK(hint_in_rec == 0, "%d records carry the hint", hint_in_rec);
                CHECK(g_seen.bad_prompt == 0, "hints: the reward saw %d prompts other than the plain ones", g_seen.bad_prompt);
                /* the comparison tells the sources apart: a run without hints matches the plain
                   replay, not the hinted one (prompt 0's samples differ between the two) */
                c.hints = NULL;
                st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &plain, NULL);
                if (st == PT_OK) {
                    int bad_hinted, same0 = 1;
                    rs_replay pl;
                    g_quiet = 1;
                    bad_hinted = rs_compare(&rp, g_rs_prompts, RS_NP, RS_K, 0.0, 0, 1.0, 0.0, &plain, &n_exp);
                    g_quiet = 0;
                    CHECK(bad_hinted > 0, "without hints the records still match the hinted replay");
                    if (rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &pl)) {
                        for (i = 0; i < RS_K; i++) same0 &= strcmp(pl.text[0][i], rp.text[0][i]) == 0;
                        CHECK(!same0, "setup: the hinted prompt 0 samples like the plain one");
                        bad = rs_compare(&pl, g_rs_prompts, RS_NP, RS_K, 0.0, 0, 1.0, 0.0, &plain, &n_exp);
                        CHECK(bad == 0, "without hints: %d mismatches against the plain replay", bad);
                        rs_replay_free(&pl);
                    }
                    pt_dataset_free(&plain);
                }
                pt_dataset_free(&ds);
            }
            rs_replay_free(&rp);
        }
    }
}

/* Sampled bytes need not be UTF-8; a completion that is not is never kept (JSON cannot hold it):
   the plain random model (bytes 128..255 as likely as any) against the replay, keep all and keep 2,
   and the JSONL of what is kept loads. */
static void test_rs_utf8(void)
{
    pt_model *m = make_model(mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 96, 0), 31);
    pt_reward_term term = {"len", rw_len, NULL, 1.0f};
    pt_rs_config c = rs_cfg(RS_K, -1e30f, &term, 1);
    const char *path = tmp_path("utf8.jsonl");
    pt_dataset ds, loaded;
    pt_rs_result res;
    rs_replay rp;
    int st, i, k, n_exp, bad, valid = 0, per[RS_NP], d;
    c.gen.max_new_tokens = 4;   /* short: some completions are ASCII */
    c.jsonl_path = path;
    if (!rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &rp)) { pt_model_free(m); return; }
    for (i = 0; i < RS_NP; i++)
        for (k = 0; k < RS_K; k++) valid += is_utf8(rp.text[i][k]);
    CHECK(valid > 0 && valid < RS_NP * RS_K, "setup: %d of %d samples valid UTF-8", valid, RS_NP * RS_K);
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, &res);
    CHECK(st == PT_OK, "UTF-8: %s", pt_last_error());
    if (st == PT_OK) {
        bad = rs_compare_per(&rp, g_rs_prompts, RS_NP, RS_K, -1e30, 0, 1.0, 0.0, &ds, &n_exp, per);
        CHECK(bad == 0 && ds.n == valid, "keep all: %d records (want the %d valid UTF-8 ones, %d mismatches)", ds.n, valid, bad);
        for (i = 0, d = 0; i < RS_NP; i++) d += per[i] > 0;
        CHECK(res.n_kept == ds.n && res.prompts_with_kept == d && res.n_samples == RS_NP * RS_K,
              "counts: n_kept %d, prompts_with_kept %d (want %d)", res.n_kept, res.prompts_with_kept, d);
        for (i = 0; i < RS_NP; i++)
            CHECK(res.kept_by_difficulty[g_rs_diff[i]] >= per[i], "kept_by_difficulty[%d] %d < prompt %d's %d", g_rs_diff[i],
                  res.kept_by_difficulty[g_rs_diff[i]], i, per[i]);
        memset(&loaded, 0, sizeof loaded);
        if (ds.n > 0) {
            st = pt_jsonl_load(path, PT_DATA_COMPLETION, 0, &loaded);
            CHECK(st == PT_OK && datasets_equal(&loaded, &ds), "the JSONL of the valid ones loads and equals them: %s",
                  pt_last_error());
            if (st == PT_OK) pt_dataset_free(&loaded);
        }
        pt_dataset_free(&ds);
    }
    /* keep 2: an invalid completion gives its place to the next valid one */
    c.keep = 2;
    c.jsonl_path = NULL;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, &res);
    CHECK(st == PT_OK, "UTF-8, keep 2: %s", pt_last_error());
    if (st == PT_OK) {
        bad = rs_compare(&rp, g_rs_prompts, RS_NP, 2, -1e30, 0, 1.0, 0.0, &ds, &n_exp);
        CHECK(bad == 0 && g_utf8_skipped > 0, "keep 2: %d mismatches (%d records, %d invalid passed over)", bad, ds.n,
              g_utf8_skipped);
        pt_dataset_free(&ds);
    }
    rs_replay_free(&rp);
    pt_model_free(m);
}

/* A NaN score (a reward that failed) is never kept and hides no finite one: the kept records are
   the finite scores' ranking (the NaN rule of pt_best_of_n). */
static void test_rs_nan(void)
{
    pt_model *m = rs_model();
    int flag = 1;
    pt_reward_term term = {"len_or_nan", rw_len, &flag, 1.0f};
    pt_rs_config c = rs_cfg(RS_K, -1e30f, &term, 1);
    pt_dataset ds;
    rs_replay rp;
    int st, i, k, n_exp, bad, n_nan = 0, mixed = 0, keep;
    if (!rs_replay_run(m, &c, g_rs_prompts, RS_NP, 0, &rp)) return;
    for (i = 0; i < RS_NP; i++) {
        int nan_here = 0;
        for (k = 0; k < RS_K; k++) nan_here += (int)(strlen(rp.text[i][k]) % 2);
        n_nan += nan_here;
        mixed += nan_here > 0 && nan_here < RS_K;
    }
    CHECK(n_nan > 0 && mixed > 0, "the replay has NaN and finite scores for one prompt (%d NaN, %d mixed prompts)", n_nan, mixed);
    g_nan_odd = 1;
    for (keep = 1; keep <= RS_K; keep += RS_K - 1) {
        c.keep = keep;
        st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &ds, NULL);
        CHECK(st == PT_OK, "NaN scores: %s", pt_last_error());
        if (st != PT_OK) continue;
        bad = rs_compare(&rp, g_rs_prompts, RS_NP, keep, -1e30, 0, 1.0, 0.0, &ds, &n_exp);
        CHECK(bad == 0, "NaN scores, keep %d: %d records, want the %d finite-score ones ranked (%d mismatches)", keep, ds.n,
              n_exp, bad);
        pt_dataset_free(&ds);
    }
    g_nan_odd = 0;
    rs_replay_free(&rp);
}

static void test_rs_errors(void)
{
    pt_model *m = rs_model();
    pt_reward_term term = {"len", rw_len, NULL, 1.0f};
    pt_rs_config c = rs_cfg(2, -1e30f, &term, 1);
    pt_dataset kept, sentinel;
    pt_rs_result res;
    const char *path = tmp_path("err.jsonl");
    char longp[200];
    const char *two[2];
    int st, fail_status = PT_ERR_IO;
    memset(&sentinel, 0x5A, sizeof sentinel);
    /* no reward at all */
    c.n_rewards = 0;
    c.jsonl_path = path;
    memcpy(&kept, &sentinel, sizeof kept);
    pt_clear_error();
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &kept, &res);
    CHECK(st != PT_OK && memcmp(&kept, &sentinel, sizeof kept) == 0 && pt_last_error()[0] && !file_exists(path),
          "no reward: status %d, kept untouched, error \"%s\", no file", st, pt_last_error());
    c.n_rewards = 1;
    /* a prompt too long for seq_len 96 with 16 new tokens: 90 bytes + <bos> */
    memset(longp, 'x', 90);
    longp[90] = 0;
    two[0] = g_rs_prompts[1];
    two[1] = longp;
    memcpy(&kept, &sentinel, sizeof kept);
    pt_clear_error();
    st = pt_rejection_sample(m, two, 2, &c, &kept, &res);
    CHECK(st != PT_OK && memcmp(&kept, &sentinel, sizeof kept) == 0 && strstr(pt_last_error(), "prompt 1") && !file_exists(path),
          "prompt too long: status %d, error \"%s\" names prompt 1, kept untouched, no file", st, pt_last_error());
    /* 79 bytes + <bos> + 16 = 96 fits */
    longp[79] = 0;
    st = pt_rejection_sample(m, two, 2, &c, &kept, &res);
    CHECK(st == PT_OK, "prompt + max_new_tokens == seq_len fits: %s", pt_last_error());
    if (st == PT_OK) pt_dataset_free(&kept);
    remove(path);
    c.jsonl_path = NULL;
    /* NULL model, NULL prompt, no prompts */
    memcpy(&kept, &sentinel, sizeof kept);
    pt_clear_error();
    st = pt_rejection_sample(NULL, g_rs_prompts, RS_NP, &c, &kept, &res);
    CHECK(st != PT_OK && memcmp(&kept, &sentinel, sizeof kept) == 0 && pt_last_error()[0], "NULL model: status %d", st);
    two[1] = NULL;
    pt_clear_error();
    st = pt_rejection_sample(m, two, 2, &c, &kept, &res);
    CHECK(st != PT_OK && memcmp(&kept, &sentinel, sizeof kept) == 0 && strstr(pt_last_error(), "prompt 1"),
          "NULL prompt: status %d, \"%s\"", st, pt_last_error());
    st = pt_rejection_sample(m, g_rs_prompts, 0, &c, &kept, &res);
    CHECK(st != PT_OK && memcmp(&kept, &sentinel, sizeof kept) == 0, "no prompts: status %d", st);
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, NULL, &kept, &res);
    CHECK(st != PT_OK && memcmp(&kept, &sentinel, sizeof kept) == 0, "NULL config: status %d", st);
    /* a batch reward that fails: its status comes back, nothing kept */
    c.reward_batch = rw_batch_digits;
    c.reward_user = &fail_status;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &kept, &res);
    CHECK(st == PT_ERR_IO && memcmp(&kept, &sentinel, sizeof kept) == 0, "a failing batch reward: status %d, want %d", st,
          PT_ERR_IO);
    /* the batch reward alone is a reward */
    c.n_rewards = 0;
    c.reward_user = NULL;
    st = pt_rejection_sample(m, g_rs_prompts, RS_NP, &c, &kept, NULL);
    CHECK(st == PT_OK && kept.n > 0 && kept.n <= 2 * RS_NP, "batch reward only, res NULL: %s", pt_last_error());
    if (st == PT_OK) pt_dataset_free(&kept);
}

/* ---------------------------------------------------------------------------------------------
   4. KV-cache reuse and MCTS
   --------------------------------------------------------------------------------------------- */
static void test_kv_reuse(void)
{
    pt_model *m = make_model(mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 96, 0), 41);
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_kv_cache *kv = pt_kv_new(m, 3, 64), *fresh = pt_kv_new(m, 1, 64);
    int ids[64], n, st, seq[64], next = 'Z', other = 'q', V = PT_BYTE_VOCAB;
    float *lg = (float *)malloc((size_t)64 * V * sizeof(float)), a[PT_BYTE_VOCAB], b[PT_BYTE_VOCAB], c[PT_BYTE_VOCAB],
          d[PT_BYTE_VOCAB];
    n = tok.encode(&tok, "Q: 47+85=?\nA: <think>7+5", 1, 0, ids, 64);
    CHECK(kv && fresh && n > 10, "setup");
    if (!kv || !fresh) goto out;
    memset(seq, 0, sizeof seq);
    st = pt_model_step(m, kv, n, seq, ids, lg);   /* prefill into sequence 0 */
    CHECK(st == PT_OK && kv->len[0] == n, "prefill: %s", pt_last_error());
    st = pt_kv_copy(kv, 0, 1);
    CHECK(st == PT_OK && kv->len[1] == n && kv->len[2] == 0, "copy: %s", pt_last_error());
    seq[0] = 1;
    st = pt_model_step(m, kv, 1, seq, &next, a);   /* one more token on the copy */
    CHECK(st == PT_OK && kv->len[1] == n + 1 && kv->len[0] == n, "step on the copy: %s", pt_last_error());
    seq[0] = 0;
    st = pt_model_step(m, kv, 1, seq, &other, c);   /* the original goes on with another token */
    CHECK(st == PT_OK, "step on the original");
    /* the fresh cache: prompt + token in one prefill */
    ids[n] = next;
    memset(seq, 0, sizeof seq);
    st = pt_model_step(m, fresh, n + 1, seq, ids, lg);
    CHECK(st == PT_OK, "fresh prefill: %s", pt_last_error());
    memcpy(b, lg + (int64_t)n * V, sizeof b);
    CHECK(scaled_err(a, b, V, 1.0) <= 1e-5, "copied prefix + 1 step vs a fresh prefill: err %.3g", scaled_err(a, b, V, 1.0));
    ids[n] = other;
    pt_kv_clear(fresh, -1);
    st = pt_model_step(m, fresh, n + 1, seq, ids, lg);
    memcpy(d, lg + (int64_t)n * V, sizeof d);
    CHECK(st == PT_OK && scaled_err(c, d, V, 1.0) <= 1e-5, "the original after the copy stepped on: err %.3g", scaled_err(c, d, V, 1.0));
    CHECK(scaled_err(a, c, V, 1.0) > 1e-3, "different tokens give different logits (the check can fail)");
    /* both sequences stepped in one batched call: row order does not matter */
    {
        int rows_seq[2] = {2, 1}, rows_tok[2] = {next, 'k'};
        float two[2 * PT_BYTE_VOCAB], e[PT_BYTE_VOCAB];
        pt_kv_copy(kv, 0, 2);   /* seq 2: prompt + other */
        st = pt_model_step(m, kv, 2, rows_seq, rows_tok, two);
        ids[n] = other;
        ids[n + 1] = next;
        pt_kv_clear(fresh, -1);
        st |= pt_model_step(m, fresh, n + 2, seq, ids, lg);
        memcpy(e, lg + (int64_t)(n + 1) * V, sizeof e);
        CHECK(st == PT_OK && scaled_err(two, e, V, 1.0) <= 1e-5, "batched step on a copied slot: err %.3g", scaled_err(two, e, V, 1.0));
    }
out:
    free(lg);
    pt_kv_free(kv);
    pt_kv_free(fresh);
    pt_model_free(m);
}

static pt_mcts_config mcts_cfg(void)
{
    static const int stops[8] = {PT_BYTE_END, PT_BYTE_EOS, 'x', 'y', 'z', 'q', 'k', 'j'};
    pt_mcts_config c;
    memset(&c, 0, sizeof c);
    c.simulations = 6;
    c.expand = 3;
    c.max_new_tokens = 24;
    memcpy(c.stop_tokens, stops, sizeof stops);
    c.n_stop_tokens = 8;
    c.seed = 5;
    return c;
}
static int is_stop_of(const pt_mcts_config *c, int id)
{
    int j;
    for (j = 0; j < c->n_stop_tokens; j++) if (c->stop_tokens[j] == id) return 1;
    return 0;
}
/* Structural checks of one result, and its value against the PRM's own score of prompt + ids. */
static void mcts_check_result(const char *what, pt_model *prm, const pt_mcts_config *c, const int *prompt, int plen,
                              const pt_mcts_result *r)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int sims = c->simulations, E = c->expand, j, early = 0, ends_stop, len;
    char want[600];
    CHECK(r->nodes >= 1 + E && r->nodes <= 2 + sims * E, "%s: nodes %d outside [%d, %d]", what, r->nodes, 1 + E, 2 + sims * E);
    CHECK((r->nodes - 1) % E == 0 || (r->nodes - 2) % E == 0, "%s: nodes %d is not 1 + expansions x %d (+ a finish)", what,
          r->nodes, E);
    CHECK(r->n_ids >= 1 && r->n_ids <= c->max_new_tokens, "%s: n_ids %d outside [1, %d]", what, r->n_ids, c->max_new_tokens);
    CHECK(r->tokens >= r->nodes - 1 && r->tokens <= (r->nodes - 1) * c->max_new_tokens && r->tokens >= r->n_ids,
          "%s: tokens %d for %d nodes, n_ids %d", what, r->tokens, r->nodes, r->n_ids);
    for (j = 0; j + 1 < r->n_ids; j++) early += is_stop_of(c, r->ids[j]);
    ends_stop = r->n_ids > 0 && is_stop_of(c, r->ids[r->n_ids - 1]);
    CHECK(early == 0, "%s: %d stop tokens before the end", what, early);
    CHECK(r->complete == ends_stop, "%s: complete %d but ends with a stop token %d", what, r->complete, ends_stop);
    CHECK(r->complete || r->n_ids == c->max_new_tokens, "%s: unfinished at %d of %d tokens", what, r->n_ids, c->max_new_tokens);
    if (!r->complete) CHECK((r->nodes - 2) % E == 0, "%s: no finished solution but no greedy finish (nodes %d)", what, r->nodes);
    if (c->token_level) {   /* every child one token longer than its parent (E >= 2: the finish is told apart) */
        int finish = (r->nodes - 2) % E == 0, expansions = (r->nodes - 1 - finish) / E, ft = r->tokens - (r->nodes - 1 - finish);
        if (!finish)
            CHECK(ft == 0 && r->n_ids <= expansions, "%s: token level: %d tokens for %d children, n_ids %d deeper than %d "
                  "expansions", what, r->tokens, r->nodes - 1, r->n_ids, expansions);
        else
            CHECK(ft >= 1 && ft <= c->max_new_tokens && r->n_ids - ft >= 0 && r->n_ids - ft <= expansions,
                  "%s: token level: %d tokens for %d children + a finish, n_ids %d", what, r->tokens, r->nodes - 2, r->n_ids);
    }
    len = r->n_ids - (ends_stop && r->ids[r->n_ids - 1] >= 256);
    pt_decode(&tok, r->ids, len, want, sizeof want);
    CHECK(strcmp(r->text, want) == 0, "%s: text [%s], want [%s]", what, r->text, want);
    CHECK(r->value >= 0.0f && r->value <= 1.0f, "%s: value %g outside [0, 1]", what, r->value);
    {   /* the value: the PRM's aggregate (min) over the solution's steps; none scored: the root's 0.5 */
        pt_example ex;
        float probs[PT_PRM_MAX_STEPS];
        int n_steps = -1, st;
        ex.ids = (int *)malloc((size_t)(plen + r->n_ids) * sizeof(int));
        memcpy(ex.ids, prompt, (size_t)plen * sizeof(int));
        memcpy(ex.ids + plen, r->ids, (size_t)r->n_ids * sizeof(int));
        ex.n_prompt = plen;
        ex.n_ids = plen + r->n_ids;
        ex.train = NULL;
        st = pt_prm_steps(prm, &tok, &ex, 1, PT_PRM_MAX_STEPS, probs, NULL, &n_steps);
        CHECK(st == PT_OK, "%s: pt_prm_steps: %s", what, pt_last_error());
        if (st == PT_OK) {
            double want_v = n_steps > 0 ? pt_prm_aggregate(probs, n_steps, c->prm_mode) : 0.5;
            CHECK_NEAR(r->value, want_v, 1e-5, "MCTS value = the PRM score of its solution");
        }
        free(ex.ids);
    }
}

/* The reasoning steps of a completion as MCTS cuts them (written here from the banner): a step
   ends at a token whose text holds one of ";>" once the step holds a digit, or at a stop token, or
   at the token limit. */
static int count_steps(const pt_mcts_config *c, const int *ids, int n)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int i, steps = 0, digit = 0, open = 0;
    for (i = 0; i < n; i++) {
        char buf[16];
        const char *p = tok.piece(&tok, i ? ids[i - 1] : -1, ids[i], buf);
        int end = 0;
        open = 1;
        for (; *p; p++) {
            if (*p >= '0' && *p <= '9') digit = 1;
            else if (digit && strchr(";>", *p)) end = 1;
        }
        if (end || is_stop_of(c, ids[i])) {
            steps++;
            digit = open = 0;
        }
    }
    return steps + open;
}
/* The top-1 sampler: every child of a node takes the argmax, so the answer is the greedy
   generation, whether it finished in the tree or was finished greedily: the tree's copied caches
   must decode exactly like pt_generate's own (step level and token level, 2 children per
   expansion). With one child per expansion the tree is a chain of steps: a finished greedy
   solution of S <= simulations steps takes S expansions (1 + S nodes) and generates each token once. */
static void mcts_top1(pt_model *policy, pt_model *prm, const pt_mcts_config *c, const int *const *pp, const int *lens, int n,
                      const char *what)
{
    pt_gen_config g;
    pt_gen_result gr;
    pt_mcts_result *r = (pt_mcts_result *)calloc((size_t)n, sizeof *r);
    int run, i, st, chains = 0;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = c->max_new_tokens;
    memcpy(g.stop_tokens, c->stop_tokens, sizeof g.stop_tokens);
    g.n_stop_tokens = c->n_stop_tokens;
    st = pt_generate(policy, pp, lens, n, 1, &g, &gr);
    CHECK(st == PT_OK, "%s: greedy generate: %s", what, pt_last_error());
    for (run = 0; st == PT_OK && run < 3; run++) {
        pt_mcts_config t = *c;
        t.sampler.top_k = 1;
        t.token_level = run == 1;
        t.simulations = 10;
        t.expand = run == 2 ? 1 : 2;
        if (pt_mcts_solve(policy, prm, pp, lens, n, &t, r) != PT_OK) {
            CHECK(0, "%s: top-1 mcts: %s", what, pt_last_error());
            continue;
        }
        for (i = 0; i < n; i++) {
            const int *seq = gr.tokens + (int64_t)i * gr.width + gr.prompt_len[i];
            int len = gr.total_len[i] - gr.prompt_len[i], first = 0;
            while (first < len && first < r[i].n_ids && r[i].ids[first] == seq[first]) first++;
            CHECK(r[i].n_ids == len && first == len, "%s: top-1 sampler (token level %d, expand %d), prompt %d: %d tokens, "
                  "the greedy generation %d (first difference at %d)", what, t.token_level, t.expand, i, r[i].n_ids, len, first);
            if (run == 2 && r[i].complete) {
                int S = count_steps(&t, seq, len);
                if (S <= t.simulations) {
                    chains++;
                    CHECK(r[i].nodes == 1 + S && r[i].tokens == len, "%s: a chain of %d steps: %d nodes (want %d), %d tokens "
                          "(want %d)", what, S, r[i].nodes, 1 + S, r[i].tokens, len);
                }
            }
        }
    }
    if (st == PT_OK) pt_gen_result_free(&gr);
    printf("  %s: top-1 search = greedy decoding on %d prompts; %d step chains checked\n", what, n, chains);
    free(r);
}

static void test_mcts_random(void)
{
    pt_config cfg = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 96, 0);
    pt_model *policy = make_model(cfg, 41), *prm = make_model(cfg, 43), *nohead = make_model(cfg, 47);
    pt_problem pr[2];
    int ids[2][96], lens[2], *pp[2], i, st;
    pt_mcts_config c = mcts_cfg();
    pt_mcts_result r1[2], r2[2], r3[1];
    CHECK(pt_model_head_attach(prm, 7) == PT_OK, "head attach: %s", pt_last_error());
    CHECK(pt_world_parse("Q: 47+85=?", &pr[0]) == PT_OK && pt_world_parse("Q: 12+34=?", &pr[1]) == PT_OK, "parse");
    for (i = 0; i < 2; i++) {
        lens[i] = pt_world_prompt(&pr[i], 1, ids[i], 96);
        pp[i] = ids[i];
    }
    CHECK(lens[0] == lens[1] && lens[0] > 10, "two prompts of one length (%d, %d)", lens[0], lens[1]);
    /* step level */
    memset(r1, 0xCD, sizeof r1);
    st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &c, r1);
    CHECK(st == PT_OK, "mcts: %s", pt_last_error());
    if (st == PT_OK) {
        mcts_check_result("step level, prompt 0", prm, &c, ids[0], lens[0], &r1[0]);
        mcts_check_result("step level, prompt 1", prm, &c, ids[1], lens[1], &r1[1]);
        printf("  step level: nodes %d/%d tokens %d/%d complete %d/%d value %.3f/%.3f\n", r1[0].nodes, r1[1].nodes,
               r1[0].tokens, r1[1].tokens, r1[0].complete, r1[1].complete, r1[0].value, r1[1].value);
        /* determinism: the same call again; prompt 0 alone (same index, same seed) */
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &c, r2);
        CHECK(st == PT_OK && memcmp(r1, r2, sizeof r1) == 0, "the same search twice: identical results");
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 1, &c, r3);
        CHECK(st == PT_OK && memcmp(&r1[0], &r3[0], sizeof r3[0]) == 0, "prompt 0 alone: the same result as in a batch of 2");
        c.seed = 6;
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &c, r2);
        CHECK(st == PT_OK && (r2[0].n_ids != r1[0].n_ids || memcmp(r2[0].ids, r1[0].ids, sizeof r1[0].ids) != 0 ||
                              r2[0].tokens != r1[0].tokens), "another seed: another search");
        c.seed = 5;
    }
    /* token level: every token a step */
    c.token_level = 1;
    st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &c, r1);
    CHECK(st == PT_OK, "mcts token level: %s", pt_last_error());
    if (st == PT_OK) {
        mcts_check_result("token level, prompt 0", prm, &c, ids[0], lens[0], &r1[0]);
        mcts_check_result("token level, prompt 1", prm, &c, ids[1], lens[1], &r1[1]);
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &c, r2);
        CHECK(st == PT_OK && memcmp(r1, r2, sizeof r1) == 0, "token level twice: identical results");
        printf("  token level: nodes %d/%d tokens %d/%d complete %d/%d\n", r1[0].nodes, r1[1].nodes, r1[0].tokens,
               r1[1].tokens, r1[0].complete, r1[1].complete);
    }
    c.token_level = 0;
    mcts_top1(policy, prm, &c, (const int *const *)pp, lens, 2, "random");
    /* n = 0 */
    st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 0, &c, r1);
    CHECK(st == PT_OK, "no prompts: %s", pt_last_error());
    /* errors */
    pt_clear_error();
    st = pt_mcts_solve(policy, nohead, (const int *const *)pp, lens, 2, &c, r1);
    CHECK(st != PT_OK && pt_last_error()[0], "a PRM without a head: status %d", st);
    {
        pt_mcts_config bad = c;
        bad.n_stop_tokens = 0;
        pt_clear_error();
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &bad, r1);
        CHECK(st != PT_OK && pt_last_error()[0], "no stop token: status %d", st);
        bad = c;
        bad.n_stop_tokens = PT_MAX_STOP_TOKENS + 1;
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &bad, r1);
        CHECK(st != PT_OK, "too many stop tokens: status %d", st);
        bad = c;
        bad.max_new_tokens = 96 - lens[0] + 1;
        pt_clear_error();
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &bad, r1);
        CHECK(st != PT_OK && pt_last_error()[0], "prompt + max_new_tokens > seq_len: status %d", st);
        bad.max_new_tokens = 96 - lens[0];   /* exactly fits */
        bad.simulations = 2;
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &bad, r1);
        CHECK(st == PT_OK, "prompt + max_new_tokens == seq_len fits: %s", pt_last_error());
        bad = c;
        bad.expand = 65;
        st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, 2, &bad, r1);
        CHECK(st != PT_OK, "expand 65: status %d", st);
        st = pt_mcts_solve(NULL, prm, (const int *const *)pp, lens, 2, &c, r1);
        CHECK(st != PT_OK, "NULL policy: status %d", st);
        {
            int zero = 0, *none = NULL;
            st = pt_mcts_solve(policy, prm, (const int *const *)&none, &zero, 1, &c, r1);
            CHECK(st != PT_OK, "an empty prompt: status %d", st);
        }
        {   /* vocabularies differ */
            pt_model *small = make_model(mkcfg(32, 2, 4, 2, 64, 256, 96, 0), 49);
            pt_model_head_attach(small, 3);
            st = pt_mcts_solve(policy, small, (const int *const *)pp, lens, 2, &c, r1);
            CHECK(st != PT_OK, "policy and PRM vocabularies differ: status %d", st);
            pt_model_free(small);
        }
    }
    pt_model_free(policy);
    pt_model_free(prm);
    pt_model_free(nohead);
}

/* ---------------------------------------------------------------------------------------------
   5. MCTS with the trained models of make chapters
   --------------------------------------------------------------------------------------------- */
static void test_mcts_trained(void)
{
    const char *sp = "build/sft.ckpt", *pp_ = "build/prm.ckpt";
    pt_model *policy, *prm;
    pt_world_config wc;
    pt_problem all[60], pr[20];
    /* under the sanitizers 6 problems (the code paths, not the accuracy, are what they check) */
    int i, n = 0, got, ok = 0, *pp[20], lens[20], ids[20][64], st, want_n = T_SANITIZED ? 6 : 20, need = (3 * want_n + 3) / 4;
    pt_mcts_result *res;
    pt_mcts_config c;
    if (!file_exists(sp)) { printf("  skipped: %s not found\n", sp); return; }
    if (!file_exists(pp_)) { printf("  skipped: %s not found\n", pp_); return; }
    policy = pt_model_load(sp);
    prm = pt_model_load(pp_);
    CHECK(policy && prm && prm->head, "load the checkpoints: %s", pt_last_error());
    if (!policy || !prm || !prm->head) { pt_model_free(policy); pt_model_free(prm); return; }
    memset(&wc, 0, sizeof wc);   /* the defaults: 1..3 digits; the one- and two-digit ones first */
    got = pt_world_heldout(&wc, PT_WORLD_ID, 60, all);
    for (i = 0; i < got && n < want_n; i++)
        if (all[i].terms[0] < 100 && all[i].terms[1] < 100) pr[n++] = all[i];
    CHECK(n == want_n, "%d one- and two-digit held-out problems (%d)", want_n, n);
    for (i = 0; i < n; i++) {
        lens[i] = pt_world_prompt(&pr[i], 1, ids[i], 64);
        pp[i] = ids[i];
    }
    memset(&c, 0, sizeof c);
    c.simulations = 8;
    c.expand = 4;
    c.stop_tokens[0] = PT_BYTE_END;
    c.stop_tokens[1] = PT_BYTE_EOS;
    c.n_stop_tokens = 2;
    c.max_new_tokens = 64;
    c.seed = 1;
    if (c.max_new_tokens + 32 > policy->cfg.seq_len) c.max_new_tokens = policy->cfg.seq_len - 32;
    res = (pt_mcts_result *)calloc((size_t)n, sizeof *res);
    st = pt_mcts_solve(policy, prm, (const int *const *)pp, lens, n, &c, res);
    CHECK(st == PT_OK, "mcts on the trained models: %s", pt_last_error());
    if (st == PT_OK) {
        int complete = 0;
        for (i = 0; i < n; i++) {   /* the structure, and the value against the trained PRM's own score */
            char what[64];
            snprintf(what, sizeof what, "trained, problem %d", i);
            mcts_check_result(what, prm, &c, ids[i], lens[i], &res[i]);
        }
        for (i = 0; i < n; i++) {
            pt_world_score sc;
            pt_world_score_text(&pr[i], res[i].text, &sc);
            ok += sc.correct;
            complete += res[i].complete;
        }
        printf("  MCTS (8 simulations x 4) on the SFT policy with the PRM: %d/%d correct, %d finished; e.g. %s-> %s\n", ok, n,
               complete, pr[0].question, res[0].text);
        CHECK(ok >= need, "MCTS solves %d of %d held-out one- and two-digit problems, want >= %d", ok, n, need);
    }
    mcts_top1(policy, prm, &c, (const int *const *)pp, lens, T_SANITIZED ? 2 : 4, "trained");
    free(res);
    pt_model_free(policy);
    pt_model_free(prm);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_search")) return 1;
    /* before any OpenMP region of this process: a forked child must not inherit a thread pool */
    if (test_selected("rejection sampling: distinct")) g_distinct_rc = run_in_child(child_distinct, NULL);
    RUN("best of n", test_best_of_n);
    RUN("majority vote", test_majority_vote);
    RUN("rejection sampling: ranking", test_rs_ranking);
    RUN("rejection sampling: distinct", test_rs_distinct);
    RUN("rejection sampling: jsonl", test_rs_jsonl);
    RUN("rejection sampling: chat and hints", test_rs_chat_hints);
    RUN("rejection sampling: UTF-8", test_rs_utf8);
    RUN("rejection sampling: NaN scores", test_rs_nan);
    RUN("rejection sampling: errors", test_rs_errors);
    RUN("kv reuse", test_kv_reuse);
    RUN("mcts (random models)", test_mcts_random);
    RUN("mcts (trained models)", test_mcts_trained);
    pt_model_free(g_rs_model);
    return finish_tmp("test_search", t0);
}
