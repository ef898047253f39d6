/* Tests for the SFT half of posttrain.h: the chat template (pt_chat_text), the world's SFT examples
   (pt_world_sft_example, pt_world_prompt with chat = 1), packing (pt_pack_examples), the
   completion-only loss through the model (masking and isolation of packed examples), pt_eval_loss
   against a hand computation, the trainer pt_sft_train (defaults, quiet, CSV, best checkpoint,
   errors, determinism) and a small learning test (pretraining then SFT on the chat template).

   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_sft_XXXXXX, removed at the end. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <string.h>
#include <stdint.h>
#include <math.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

/* The learning test trains for a few seconds optimised, about two minutes under the sanitizers:
   it is skipped there (see main). */

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
#include "test_tmp.h"
static long file_size(const char *p) { struct stat st; return stat(p, &st) == 0 ? (long)st.st_size : -1; }

/* A model with larger random weights (std 0.1, norms 1), so that attention is far from uniform
   and every token's influence on the others is large: isolation checks then have teeth. */
static pt_model *scaled_model(const pt_config *c, uint64_t seed)
{
    pt_model *m = pt_model_new(c, seed);
    pt_rng rng;
    if (!m) return NULL;
    pt_rng_seed(&rng, seed + 100);
    pt_params_init_normal(m->params, "*", 0.1f, &rng);
    pt_params_init_const(m->params, "*norm", 1.0f);
    return m;
}
static pt_example make_example(const int *ids, int n, int n_prompt)
{
    pt_example e;
    memset(&e, 0, sizeof e);
    e.ids = (int *)malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    if (n > 0) memcpy(e.ids, ids, (size_t)n * sizeof(int));
    e.n_ids = n; e.n_prompt = n_prompt;
    return e;
}

/* ---------------------------------------------------------------------------------------------
   1. Chat template
   --------------------------------------------------------------------------------------------- */
static void test_chat_text(void)
{
    char out[512];
    const char *full = "<bos><|system|>S<|end|><|user|>U<|end|><|assistant|>A<|end|><eos>";
    int n, cap, ids[64], k;
    pt_tokenizer tok = pt_byte_tokenizer();

    n = pt_chat_text("S", "U", "A", out, sizeof out);
    CHECK(strcmp(out, full) == 0, "system+user+assistant: '%s'", out);
    CHECK(n == (int)strlen(full), "returned %d, length %d", n, (int)strlen(full));

    n = pt_chat_text(NULL, "U", "A", out, sizeof out);
    CHECK(strcmp(out, "<bos><|user|>U<|end|><|assistant|>A<|end|><eos>") == 0, "no system: '%s'", out);
    CHECK(n == (int)strlen(out), "no system: returned %d", n);

    n = pt_chat_text(NULL, "U", NULL, out, sizeof out);
    CHECK(strcmp(out, "<bos><|user|>U<|end|><|assistant|>") == 0, "generation prompt: '%s'", out);
    CHECK(n == (int)strlen(out), "generation prompt: returned %d", n);

    n = pt_chat_text("S", "U", NULL, out, sizeof out);
    CHECK(strcmp(out, "<bos><|system|>S<|end|><|user|>U<|end|><|assistant|>") == 0, "system, generation prompt: '%s'", out);

    /* an empty system string is a present (empty) system turn; an empty assistant an empty answer */
    pt_chat_text("", "U", "", out, sizeof out);
    CHECK(strcmp(out, "<bos><|system|><|end|><|user|>U<|end|><|assistant|><|end|><eos>") == 0, "empty strings: '%s'", out);
    /* longer texts are copied verbatim, including characters that look like markup */
    pt_chat_text("be brief", "Q: 47+85=?", "<think>7+5=12;4+8+1=13</think><answer>132</answer>", out, sizeof out);
    CHECK(strcmp(out, "<bos><|system|>be brief<|end|><|user|>Q: 47+85=?<|end|><|assistant|>"
                      "<think>7+5=12;4+8+1=13</think><answer>132</answer><|end|><eos>") == 0, "long: '%s'", out);

    /* texts are data, not formats */
    pt_chat_text("%s%d", "100% %n", "%%", out, sizeof out);
    CHECK(strcmp(out, "<bos><|system|>%s%d<|end|><|user|>100% %n<|end|><|assistant|>%%<|end|><eos>") == 0, "percent signs: '%s'", out);

    /* the markers are the byte tokenizer's special tokens */
    pt_chat_text(NULL, "U", "A", out, sizeof out);
    k = tok.encode(&tok, out, 0, 0, ids, 64);
    {
        int want[] = { PT_BYTE_BOS, PT_BYTE_USER, 'U', PT_BYTE_END, PT_BYTE_ASSISTANT, 'A', PT_BYTE_END, PT_BYTE_EOS };
        CHECK(k == 8 && memcmp(ids, want, sizeof want) == 0, "encoded template: %d ids", k);
    }
    pt_chat_text("S", "U", NULL, out, sizeof out);
    k = tok.encode(&tok, out, 0, 0, ids, 64);
    {
        int want[] = { PT_BYTE_BOS, PT_BYTE_SYSTEM, 'S', PT_BYTE_END, PT_BYTE_USER, 'U', PT_BYTE_END, PT_BYTE_ASSISTANT };
        CHECK(k == 8 && memcmp(ids, want, sizeof want) == 0, "encoded system prompt: %d ids", k);
    }

    /* Truncation: for every cap the output is the NUL-terminated prefix of cap-1 bytes, nothing is
       written at or past out[cap], and the return value is the full length, snprintf-style (as the
       declaration says), so a caller can size a second call. */
    {
        int L = (int)strlen(full), bad_prefix = 0, bad_canary = 0, bad_ret = 0, first_bad_ret = -1, ret_bad = 0;
        for (cap = 1; cap <= L + 2; cap++) {
            int i, want = cap - 1 < L ? cap - 1 : L;
            memset(out, 'X', sizeof out);
            n = pt_chat_text("S", "U", "A", out, cap);
            if (strlen(out) != (size_t)want || memcmp(out, full, (size_t)want) != 0) bad_prefix++;
            for (i = cap; i < (int)sizeof out; i++) if (out[i] != 'X') { bad_canary++; break; }
            if (n != L) { bad_ret++; if (first_bad_ret < 0) { first_bad_ret = cap; ret_bad = n; } }
        }
        CHECK(bad_prefix == 0, "truncated output is not the NUL-terminated prefix for %d caps", bad_prefix);
        CHECK(bad_canary == 0, "write past cap for %d caps", bad_canary);
        CHECK(bad_ret == 0, "truncated return value != full length %d for %d of %d caps (first: cap %d returned %d)",
              L, bad_ret, L + 2, first_bad_ret, ret_bad);
    }
    CHECK(pt_chat_text("S", "U", "A", out, 0) == PT_ERR_ARG, "cap 0 is an error");
    CHECK(pt_chat_text("S", "U", "A", NULL, 10) == PT_ERR_ARG, "NULL out is an error");
}

/* ---------------------------------------------------------------------------------------------
   2. World SFT examples
   --------------------------------------------------------------------------------------------- */
static void test_world_sft_example(void)
{
    static const struct { int min_d, max_d, terms, split; uint64_t seed; } cases[] = {
        { 1, 1, 2, PT_WORLD_TRAIN, 7 }, { 1, 3, 2, PT_WORLD_TRAIN, 1 }, { 2, 2, 2, PT_WORLD_ID, 0 },
        { 1, 3, 2, PT_WORLD_OOD, 0 }, { 3, 5, 3, PT_WORLD_TRAIN, 9 }, { 4, 4, 4, PT_WORLD_ID, 0 }, { 15, 15, 8, PT_WORLD_TRAIN, 3 },
    };
    pt_tokenizer tok = pt_byte_tokenizer();
    int ci, idx, total = 0, bad_text = 0, bad_np = 0, bad_end = 0, bad_score = 0, bad_prompt = 0, bad_count = 0, bad_raw = 0;
    for (ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
        pt_world_config wc;
        memset(&wc, 0, sizeof wc);
        wc.min_digits = cases[ci].min_d; wc.max_digits = cases[ci].max_d; wc.terms = cases[ci].terms;
        for (idx = 0; idx < 12; idx++) {
            pt_problem p;
            pt_example ex;
            pt_world_score sc;
            char text[2048], want[2048], comp[2048];
            int prompt[512], np, k, first_asst = -1, st;
            size_t ql;
            pt_world_problem(&wc, cases[ci].split, cases[ci].seed, idx * 37 + 5, &p);
            st = pt_world_sft_example(&wc, cases[ci].split, cases[ci].seed, idx * 37 + 5, &ex);
            total++;
            if (st != PT_OK || !ex.ids || ex.n_ids < 4) { CHECK(0, "case %d idx %d: status %d, %s", ci, idx, st, pt_last_error()); continue; }
            /* expected text, built by hand: question without "\n", solution without "A: " */
            ql = strlen(p.question);
            if (ql < 1 || p.question[ql - 1] != '\n' || strncmp(p.solution, "A: ", 3) != 0) bad_raw++;
            snprintf(want, sizeof want, "<bos><|user|>%.*s<|end|><|assistant|>%s<|end|><eos>", (int)ql - 1, p.question, p.solution + 3);
            pt_decode(&tok, ex.ids, ex.n_ids, text, sizeof text);
            if (strcmp(text, want) != 0) { if (!bad_text) printf("  decoded '%s'\n  expected '%s'\n", text, want); bad_text++; }
            /* n_prompt = ids up to and including the first <|assistant|> */
            for (k = 0; k < ex.n_ids; k++) if (ex.ids[k] == PT_BYTE_ASSISTANT) { first_asst = k; break; }
            if (ex.n_prompt < 1 || ex.n_prompt > ex.n_ids || ex.ids[ex.n_prompt - 1] != PT_BYTE_ASSISTANT || first_asst + 1 != ex.n_prompt) bad_np++;
            /* by hand: <bos> <|user|> question bytes (without "\n") <|end|> <|assistant|> */
            if (ex.n_prompt != (int)ql - 1 + 4) bad_count++;
            if (ex.ids[0] != PT_BYTE_BOS || ex.ids[1] != PT_BYTE_USER || ex.ids[ex.n_ids - 2] != PT_BYTE_END || ex.ids[ex.n_ids - 1] != PT_BYTE_EOS) bad_end++;
            /* the completion (without <|end|><eos>) is a correct, well-formed solution */
            pt_decode(&tok, ex.ids + ex.n_prompt, ex.n_ids - ex.n_prompt - 2, comp, sizeof comp);
            pt_world_score_text(&p, comp, &sc);
            if (sc.format_ok != 1 || sc.correct != 1 || sc.first_bad_step != -1 || sc.steps_ok != sc.n_steps || sc.n_steps < 1) {
                if (!bad_score) printf("  completion '%s': format %d correct %d\n", comp, sc.format_ok, sc.correct);
                bad_score++;
            }
            /* the chat prompt of the problem is exactly the example's prompt */
            np = pt_world_prompt(&p, 1, prompt, 512);
            if (np != ex.n_prompt || memcmp(prompt, ex.ids, (size_t)ex.n_prompt * sizeof(int)) != 0) bad_prompt++;
            pt_examples_free(&ex, 1);
            CHECK(ex.ids == NULL, "pt_examples_free leaves ids NULL");
        }
    }
    CHECK(bad_raw == 0, "%d problems without a trailing newline / 'A: ' (test assumption)", bad_raw);
    CHECK(bad_text == 0, "%d of %d examples decode to the wrong chat text", bad_text, total);
    CHECK(bad_np == 0, "%d of %d examples: n_prompt is not the count up to and including <|assistant|>", bad_np, total);
    CHECK(bad_count == 0, "%d of %d examples: n_prompt != strlen(question) + 3", bad_count, total);
    CHECK(bad_end == 0, "%d of %d examples do not start <bos><|user|> and end <|end|><eos>", bad_end, total);
    CHECK(bad_score == 0, "%d of %d completions do not score format_ok = correct = 1", bad_score, total);
    CHECK(bad_prompt == 0, "%d of %d: pt_world_prompt(chat=1) differs from the example's prompt", bad_prompt, total);

    /* one example by hand */
    {
        pt_world_config wc;
        pt_problem p;
        pt_example ex;
        char want[256];
        int ids[256], n, i, same = 1;
        memset(&wc, 0, sizeof wc);
        wc.min_digits = wc.max_digits = 2;
        pt_world_problem(&wc, PT_WORLD_TRAIN, 4, 11, &p);
        CHECK(pt_world_sft_example(&wc, PT_WORLD_TRAIN, 4, 11, &ex) == PT_OK, "example: %s", pt_last_error());
        {
            long long a = p.terms[0], b = p.terms[1], s0 = a % 10 + b % 10, s1 = a / 10 + b / 10 + s0 / 10;
            if (s0 / 10) snprintf(want, sizeof want, "<bos><|user|>Q: %lld+%lld=?<|end|><|assistant|><think>%lld+%lld=%lld;%lld+%lld+1=%lld</think><answer>%lld</answer><|end|><eos>",
                                  a, b, a % 10, b % 10, s0, a / 10, b / 10, s1, a + b);
            else snprintf(want, sizeof want, "<bos><|user|>Q: %lld+%lld=?<|end|><|assistant|><think>%lld+%lld=%lld;%lld+%lld=%lld</think><answer>%lld</answer><|end|><eos>",
                          a, b, a % 10, b % 10, s0, a / 10, b / 10, s1, a + b);
        }
        {
            pt_tokenizer tk = pt_byte_tokenizer();
            n = tk.encode(&tk, want, 0, 0, ids, 256);
        }
        if (n != ex.n_ids) same = 0;
        for (i = 0; same && i < n; i++) if (ids[i] != ex.ids[i]) same = 0;
        CHECK(same, "hand-made example '%s' differs (%d vs %d ids)", want, n, ex.n_ids);
        CHECK(ex.n_prompt == 4 + (int)strlen("Q: ") + (p.terms[0] >= 10 ? 2 : 1) + 1 + (p.terms[1] >= 10 ? 2 : 1) + 2,
              "hand-counted n_prompt, got %d", ex.n_prompt);
        /* deterministic; another index gives another example */
        {
            pt_example e2, e3;
            pt_world_sft_example(&wc, PT_WORLD_TRAIN, 4, 11, &e2);
            pt_world_sft_example(&wc, PT_WORLD_TRAIN, 4, 12, &e3);
            CHECK(e2.n_ids == ex.n_ids && e2.n_prompt == ex.n_prompt && memcmp(e2.ids, ex.ids, (size_t)ex.n_ids * sizeof(int)) == 0, "not deterministic");
            CHECK(e3.n_ids != ex.n_ids || memcmp(e3.ids, ex.ids, (size_t)ex.n_ids * sizeof(int)) != 0, "index 12 == index 11");
            pt_examples_free(&e2, 1); pt_examples_free(&e3, 1);
        }
        pt_examples_free(&ex, 1);
    }
    pt_examples_free(NULL, 3);   /* no-op */
}

/* ---------------------------------------------------------------------------------------------
   3. Packing
   --------------------------------------------------------------------------------------------- */
#define PB 2
#define PT_ 10
static int row_eq(const int *got, const int *want, int n) { int i; for (i = 0; i < n; i++) if (got[i] != want[i]) return 0; return 1; }
static int rowf_eq(const float *got, const float *want, int n) { int i; for (i = 0; i < n; i++) if (got[i] != want[i]) return 0; return 1; }
static void print_ints(const char *what, const int *v, int n) { int i; printf("    %-7s", what); for (i = 0; i < n; i++) printf(" %3d", v[i]); printf("\n"); }

static void test_pack(void)
{
    const int P = 99;   /* pad id */
    int e0[] = { 10, 11, 12, 13, 14 }, e1[] = { 20, 21, 22, 23 }, e2[] = { 30, 31, 32, 33, 34, 35, 36 };
    int e3[] = { 40 }, e5[] = { 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62 };
    pt_example ex[6];
    int tokens[PB * PT_], targets[PB * PT_], pos[PB * PT_], seg[PB * PT_], used;
    float mask[PB * PT_];
    ex[0] = make_example(e0, 5, 2); ex[1] = make_example(e1, 4, 1); ex[2] = make_example(e2, 7, 3);
    ex[3] = make_example(e3, 1, 1); ex[4] = make_example(NULL, 0, 0); ex[5] = make_example(e5, 13, 4);

    /* lengths 5, 4, 7 (n_prompt 2, 1, 3) into 2 rows of 10: row 0 = e0 e1 pad, row 1 = e2 pad pad pad */
    {
        int order[] = { 0, 1, 2 };
        int w_tok[] = { 10, 11, 12, 13, 14, 20, 21, 22, 23, P,   30, 31, 32, 33, 34, 35, 36, P, P, P };
        int w_tgt[] = { 11, 12, 13, 14, P, 21, 22, 23, P, P,     31, 32, 33, 34, 35, 36, P, P, P, P };
        /* target index t+1 >= n_prompt: e0 t=1..3 (targets 12 13 14), e1 t=0..2, e2 t=2..5 */
        float w_msk[] = { 0, 1, 1, 1, 0, 1, 1, 1, 0, 0,          0, 0, 1, 1, 1, 1, 0, 0, 0, 0 };
        int w_pos[] = { 0, 1, 2, 3, 4, 0, 1, 2, 3, 0,            0, 1, 2, 3, 4, 5, 6, 0, 0, 0 };
        int w_seg[] = { 1, 1, 1, 1, 1, 2, 2, 2, 2, 0,            1, 1, 1, 1, 1, 1, 1, 0, 0, 0 };
        memset(tokens, 0x55, sizeof tokens); memset(targets, 0x55, sizeof targets); memset(mask, 0x55, sizeof mask);
        memset(pos, 0x55, sizeof pos); memset(seg, 0x55, sizeof seg);
        used = pt_pack_examples(ex, order, 3, PB, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 3, "used %d, want 3", used);
        CHECK(row_eq(tokens, w_tok, PB * PT_), "tokens"); 
        CHECK(row_eq(targets, w_tgt, PB * PT_), "targets");
        CHECK(rowf_eq(mask, w_msk, PB * PT_), "mask");
        CHECK(row_eq(pos, w_pos, PB * PT_), "pos");
        CHECK(row_eq(seg, w_seg, PB * PT_), "seg");
        if (!row_eq(tokens, w_tok, PB * PT_) || !row_eq(targets, w_tgt, PB * PT_) || !row_eq(pos, w_pos, PB * PT_) || !row_eq(seg, w_seg, PB * PT_)) {
            print_ints("tokens", tokens, PB * PT_); print_ints("targets", targets, PB * PT_);
            print_ints("pos", pos, PB * PT_); print_ints("seg", seg, PB * PT_);
        }
        /* nothing is predicted across the boundary e0 | e1 */
        CHECK(mask[4] == 0.0f && targets[4] != 20, "target across the example boundary: %d (mask %g)", targets[4], (double)mask[4]);
    }
    /* the order array is followed: e1 first, then e0 */
    {
        int order[] = { 1, 0 };
        int w_tok[] = { 20, 21, 22, 23, 10, 11, 12, 13, 14, P,   P, P, P, P, P, P, P, P, P, P };
        int w_tgt[] = { 21, 22, 23, P, 11, 12, 13, 14, P, P,     P, P, P, P, P, P, P, P, P, P };
        float w_msk[] = { 1, 1, 1, 0, 0, 1, 1, 1, 0, 0,          0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        int w_pos[] = { 0, 1, 2, 3, 0, 1, 2, 3, 4, 0,            0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        int w_seg[] = { 1, 1, 1, 1, 2, 2, 2, 2, 2, 0,            0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
        used = pt_pack_examples(ex, order, 2, PB, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 2, "order: used %d, want 2", used);
        CHECK(row_eq(tokens, w_tok, PB * PT_) && row_eq(targets, w_tgt, PB * PT_) && rowf_eq(mask, w_msk, PB * PT_)
              && row_eq(pos, w_pos, PB * PT_) && row_eq(seg, w_seg, PB * PT_), "order {1, 0}: wrong batch");
    }
    /* short examples (length 1 and 0) are skipped but counted; an example longer than T is cut to
       T when it starts a row; then e1 does not fit after it and starts row 1 */
    {
        int order[] = { 3, 5, 4, 1 };
        int w_tok[] = { 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,  20, 21, 22, 23, P, P, P, P, P, P };
        int w_tgt[] = { 51, 52, 53, 54, 55, 56, 57, 58, 59, P,   21, 22, 23, P, P, P, P, P, P, P };
        /* e5 n_prompt 4: targets index >= 4 -> t = 3..8; t = 9 has no target inside the cut */
        float w_msk[] = { 0, 0, 0, 1, 1, 1, 1, 1, 1, 0,          1, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
        int w_pos[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,            0, 1, 2, 3, 0, 0, 0, 0, 0, 0 };
        int w_seg[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,            1, 1, 1, 1, 0, 0, 0, 0, 0, 0 };
        used = pt_pack_examples(ex, order, 4, PB, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 4, "short/long: used %d, want 4", used);
        CHECK(row_eq(tokens, w_tok, PB * PT_), "short/long: tokens");
        CHECK(row_eq(targets, w_tgt, PB * PT_), "short/long: targets");
        CHECK(rowf_eq(mask, w_msk, PB * PT_), "short/long: mask");
        CHECK(row_eq(pos, w_pos, PB * PT_), "short/long: pos");
        CHECK(row_eq(seg, w_seg, PB * PT_), "short/long: seg");
    }
    /* a long example that does not start a row moves to the next row (cut there) ... */
    {
        int order[] = { 1, 5 };
        used = pt_pack_examples(ex, order, 2, PB, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 2, "long second: used %d, want 2", used);
        CHECK(tokens[4] == P && seg[4] == 0 && mask[3] == 0.0f, "long second: row 0 after e1 is padding");
        CHECK(tokens[10] == 50 && tokens[19] == 59 && seg[19] == 1 && pos[19] == 9, "long second: row 1 holds e5 cut to 10");
        /* ... and is not used when there is no next row */
        used = pt_pack_examples(ex, order, 2, 1, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 1, "B=1: used %d, want 1 (e5 does not fit)", used);
    }
    /* more examples than fit: the return value says how many were taken */
    {
        int order[] = { 2, 2, 2, 2 };
        used = pt_pack_examples(ex, order, 4, PB, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 2, "7+7 tokens per row of 10: used %d, want 2", used);
        used = pt_pack_examples(ex, order, 0, PB, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 0 && tokens[0] == P && seg[0] == 0 && mask[0] == 0.0f && targets[0] == P && pos[0] == 0, "nothing to pack");
    }
    /* an exact fit: 5 + 5 = 10 in one row, seg 1, 2 and no padding */
    {
        int order[] = { 0, 0, 1 };
        used = pt_pack_examples(ex, order, 3, 1, PT_, P, tokens, targets, mask, pos, seg);
        CHECK(used == 2 && seg[4] == 1 && seg[5] == 2 && seg[9] == 2 && tokens[9] == 14 && pos[5] == 0 && mask[4] == 0.0f,
              "exact fit: used %d, seg %d %d %d", used, seg[4], seg[5], seg[9]);
    }
    /* a random batch against an independent reference (invariants per position) */
    {
        pt_rng rng;
        int it, bad = 0;
        pt_example rx[12];
        int buf[40];
        pt_rng_seed(&rng, 77);
        for (it = 0; it < 12; it++) {
            int n = pt_rng_int(&rng, 0, 14), j;
            for (j = 0; j < n; j++) buf[j] = pt_rng_int(&rng, 0, 255);
            rx[it] = make_example(buf, n, pt_rng_int(&rng, 0, n));
        }
        for (it = 0; it < 200; it++) {
            int order[12], no = pt_rng_int(&rng, 0, 12), B = pt_rng_int(&rng, 1, 2), T = pt_rng_int(&rng, 2, 10), j, u;
            int tk[20], tg[20], ps[20], sg[20], cur = 0, row;
            float mk[20];
            for (j = 0; j < no; j++) order[j] = pt_rng_int(&rng, 0, 11);
            u = pt_pack_examples(rx, order, no, B, T, P, tk, tg, mk, ps, sg);
            /* reference: walk the rows greedily */
            for (row = 0; row < B; row++) {
                int at = 0, s = 0;
                while (cur < no) {
                    const pt_example *e = &rx[order[cur]];
                    int len = e->n_ids < T ? e->n_ids : T, t;
                    if (len < 2) { cur++; continue; }
                    if (at + len > T && at > 0) break;
                    s++;
                    for (t = 0; t < len; t++) {
                        int r = row * T + at + t;
                        int want_tg = t + 1 < len ? e->ids[t + 1] : P;
                        float want_m = t + 1 < len && t + 1 >= e->n_prompt ? 1.0f : 0.0f;
                        if (tk[r] != e->ids[t] || ps[r] != t || sg[r] != s || tg[r] != want_tg || mk[r] != want_m) bad++;
                    }
                    at += len; cur++;
                }
                for (; at < T; at++) { int r = row * T + at; if (tk[r] != P || tg[r] != P || mk[r] != 0.0f || sg[r] != 0 || ps[r] != 0) bad++; }
            }
            if (u != cur) bad++;
        }
        CHECK(bad == 0, "random packings: %d mismatches against the reference", bad);
        pt_examples_free(rx, 12);
    }
    pt_examples_free(ex, 6);
}

/* ---------------------------------------------------------------------------------------------
   4. Masked loss and isolation of packed examples in the model
   --------------------------------------------------------------------------------------------- */
typedef struct { int tokens[32], targets[32], pos[32], seg[32]; float mask[32]; } row32;

/* Loss and a copy of every trainable gradient for one batch row (T = 32). */
static float loss_and_grads(pt_model *m, const row32 *r, int use_seg, float *grads)
{
    pt_ctx *ctx = pt_ctx_new(0);
    pt_batch b;
    pt_tensor *l;
    float v = NAN;
    memset(&b, 0, sizeof b);
    b.B = 1; b.T = 32; b.tokens = r->tokens; b.targets = r->targets; b.loss_mask = r->mask;
    b.pos = use_seg ? r->pos : NULL; b.seg = use_seg ? r->seg : NULL;
    pt_params_zero_grad(m->params);
    l = pt_model_loss(ctx, m, &b);
    if (l && pt_backward(ctx, l) == PT_OK) v = l->data[0];
    else printf("  loss/backward: %s\n", pt_last_error());
    memcpy(grads, m->params->grad, (size_t)m->params->n_grad * sizeof(float));
    pt_params_zero_grad(m->params);
    pt_ctx_free(ctx);
    return v;
}
static int64_t count_diff(const float *a, const float *b, int64_t n) { int64_t i, d = 0; for (i = 0; i < n; i++) d += a[i] != b[i]; return d; }

static void test_isolation(void)
{
    /* two examples with disjoint ids (and a third set, disjoint from both, to swap in) */
    int A[10] = { 65, 66, 67, 68, 69, 70, 71, 72, 73, 74 };                 /* n_prompt 4 */
    int Bx[12] = { 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111 }; /* n_prompt 5 */
    int A2[10] = { 150, 151, 152, 153, 154, 155, 156, 157, 158, 159 };
    int B2[12] = { 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211 };
    pt_config c = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 32, 0);
    pt_model *m = scaled_model(&c, 11);
    pt_example ex[4];
    int order[2], i;
    int64_t ng;
    float *g1, *g2, l1, l2;
    row32 r1, r2;
    if (!m) { CHECK(0, "model: %s", pt_last_error()); return; }
    ng = m->params->n_grad;
    g1 = (float *)malloc((size_t)ng * sizeof(float)); g2 = (float *)malloc((size_t)ng * sizeof(float));
    ex[0] = make_example(A, 10, 4); ex[1] = make_example(Bx, 12, 5); ex[2] = make_example(A2, 10, 4); ex[3] = make_example(B2, 12, 5);

    /* (a) masked positions get exactly zero gradient: d loss / d logits is 0 on every row whose
       mask is 0 (prompt targets, example boundaries, padding) and nonzero on every masked-in row */
    {
        pt_ctx *ctx = pt_ctx_new(0);
        pt_batch b;
        pt_tensor *lg, *l;
        int zero_bad = 0, nonzero_bad = 0, V = c.vocab_size;
        order[0] = 0; order[1] = 1;
        pt_pack_examples(ex, order, 2, 1, 32, 0, r1.tokens, r1.targets, r1.mask, r1.pos, r1.seg);
        memset(&b, 0, sizeof b);
        b.B = 1; b.T = 32; b.tokens = r1.tokens; b.targets = r1.targets; b.loss_mask = r1.mask; b.pos = r1.pos; b.seg = r1.seg;
        lg = pt_model_logits(ctx, m, &b);
        l = pt_cross_entropy(ctx, lg, r1.targets, r1.mask);
        CHECK(l && pt_backward(ctx, l) == PT_OK && lg->grad, "backward: %s", pt_last_error());
        if (l && lg->grad) {
            for (i = 0; i < 32; i++) {
                int j, nz = 0;
                for (j = 0; j < V; j++) nz += lg->grad[(int64_t)i * V + j] != 0.0f;
                if (r1.mask[i] == 0.0f && nz) zero_bad++;
                if (r1.mask[i] != 0.0f && nz == 0) nonzero_bad++;
            }
            CHECK(zero_bad == 0, "%d masked-out rows have a nonzero logit gradient", zero_bad);
            CHECK(nonzero_bad == 0, "%d masked-in rows have no gradient", nonzero_bad);
        }
        pt_params_zero_grad(m->params);
        pt_ctx_free(ctx);
    }

    /* (b) Isolation, tied classifier. With a tied classifier every row of tok_embeddings gets a
       gradient through the softmax over the vocabulary, so "rows of the other example's tokens are
       zero" does not hold. The sound version: take the row [X | Y] with the loss only on Y's
       completion and replace X's tokens by other, unused ids X'. If nothing flows between the
       examples then (1) the loss is bit-identical (Y's forward never reads X), and (2) every
       parameter gradient is bit-identical, including all of tok_embeddings: the gradient reaching
       X's input embeddings must be exactly 0, otherwise it would be added to X's rows in one run and
       to X''s rows in the other. Exact equality is expected (not a tolerance) because every kernel
       is row-independent and a zero contribution adds exactly nothing (masked attention
       probabilities are exactly 0, masked loss rows contribute exactly 0). We run it with X first
       (needs the segment mask: Y could attend to X) and X second (causality alone suffices), and a
       control without segments in which X must change Y's loss (so the check can fail). */
    {
        int k;
        for (k = 0; k < 2; k++) {
            /* k = 0: row [A | B], loss on B, swap A -> A2.  k = 1: row [A | B], loss on A, swap B -> B2. */
            int swapped = k == 0 ? 0 : 1;   /* which packed example (segment - 1) is replaced */
            int keep_seg = k == 0 ? 2 : 1;
            int64_t d;
            order[0] = 0; order[1] = 1;
            pt_pack_examples(ex, order, 2, 1, 32, 0, r1.tokens, r1.targets, r1.mask, r1.pos, r1.seg);
            for (i = 0; i < 32; i++) if (r1.seg[i] != keep_seg) r1.mask[i] = 0.0f;
            order[swapped] = swapped + 2;
            pt_pack_examples(ex, order, 2, 1, 32, 0, r2.tokens, r2.targets, r2.mask, r2.pos, r2.seg);
            for (i = 0; i < 32; i++) if (r2.seg[i] != keep_seg) r2.mask[i] = 0.0f;
            l1 = loss_and_grads(m, &r1, 1, g1);
            l2 = loss_and_grads(m, &r2, 1, g2);
            CHECK(l1 == l1 && l1 > 0.5f, "loss %g", (double)l1);
            CHECK(l1 == l2, "%s: loss changes when the other example's tokens change: %.9g vs %.9g",
                  k == 0 ? "loss on the 2nd example" : "loss on the 1st example", (double)l1, (double)l2);
            d = count_diff(g1, g2, ng);
            CHECK(d == 0, "%s: %lld of %lld gradient values change when the other example's tokens change",
                  k == 0 ? "loss on the 2nd example" : "loss on the 1st example", (long long)d, (long long)ng);
        }
        /* control: without segments the second example sees the first */
        order[0] = 0; order[1] = 1;
        pt_pack_examples(ex, order, 2, 1, 32, 0, r1.tokens, r1.targets, r1.mask, r1.pos, r1.seg);
        for (i = 0; i < 32; i++) if (r1.seg[i] != 2) r1.mask[i] = 0.0f;
        order[0] = 2;
        pt_pack_examples(ex, order, 2, 1, 32, 0, r2.tokens, r2.targets, r2.mask, r2.pos, r2.seg);
        for (i = 0; i < 32; i++) if (r2.seg[i] != 2) r2.mask[i] = 0.0f;
        l1 = loss_and_grads(m, &r1, 0, g1);
        l2 = loss_and_grads(m, &r2, 0, g2);
        CHECK(fabsf(l1 - l2) > 1e-4f, "control (no segments): the loss should depend on the first example: %g vs %g", (double)l1, (double)l2);
        CHECK(count_diff(g1, g2, ng) > ng / 2, "control (no segments): gradients should change");
    }

    /* (c) Untied classifier: tok_embeddings is then only the input table, so its rows for tokens
       that appear only in the loss-free example get exactly zero gradient (direct check). */
    {
        pt_config cu = c;
        pt_model *mu;
        pt_param *te;
        int k;
        cu.untied = 1;
        mu = scaled_model(&cu, 12);
        te = mu ? pt_params_find(mu->params, "tok_embeddings") : NULL;
        if (!mu || !te) { CHECK(0, "untied model: %s", pt_last_error()); }
        else {
            float *gu = (float *)malloc((size_t)mu->params->n_grad * sizeof(float));
            for (k = 0; k < 2; k++) {
                int keep_seg = k == 0 ? 2 : 1, j, nz_free = 0, zero_used = 0;
                const int *free_ids = k == 0 ? A : Bx, *used_ids = k == 0 ? Bx : A;
                int n_free = k == 0 ? 10 : 12, n_used = k == 0 ? 12 : 10;
                order[0] = 0; order[1] = 1;
                pt_pack_examples(ex, order, 2, 1, 32, 0, r1.tokens, r1.targets, r1.mask, r1.pos, r1.seg);
                for (i = 0; i < 32; i++) if (r1.seg[i] != keep_seg) r1.mask[i] = 0.0f;
                loss_and_grads(mu, &r1, 1, gu);
                for (i = 0; i < n_free; i++)
                    for (j = 0; j < cu.dim; j++) nz_free += gu[te->grad_offset + (int64_t)free_ids[i] * cu.dim + j] != 0.0f;
                /* the loss example's tokens (but its last, which predicts nothing) do get gradient */
                for (i = 0; i < n_used - 1; i++) {
                    int nz = 0;
                    for (j = 0; j < cu.dim; j++) nz += gu[te->grad_offset + (int64_t)used_ids[i] * cu.dim + j] != 0.0f;
                    zero_used += nz == 0;
                }
                CHECK(nz_free == 0, "untied, loss on example %d: %d embedding-gradient values of the other example's tokens are nonzero", keep_seg, nz_free);
                CHECK(zero_used == 0, "untied, loss on example %d: %d of its own input tokens got no gradient", keep_seg, zero_used);
                /* the last token of the loss example is read by no target of its segment: zero too */
                {
                    int nz = 0;
                    for (j = 0; j < cu.dim; j++) nz += gu[te->grad_offset + (int64_t)used_ids[n_used - 1] * cu.dim + j] != 0.0f;
                    CHECK(nz == 0, "untied: the last token of the loss example got gradient");
                }
            }
            free(gu);
        }
        pt_model_free(mu);
    }

    /* (d) logits of each example inside the packed row equal its logits run alone */
    {
        pt_ctx *ctx = pt_ctx_new(0);
        pt_batch b;
        pt_tensor *packed, *alone;
        int k, V = c.vocab_size;
        order[0] = 0; order[1] = 1;
        pt_pack_examples(ex, order, 2, 1, 32, 0, r1.tokens, r1.targets, r1.mask, r1.pos, r1.seg);
        pt_ctx_set_grad(ctx, 0);
        memset(&b, 0, sizeof b);
        b.B = 1; b.T = 32; b.tokens = r1.tokens; b.pos = r1.pos; b.seg = r1.seg;
        packed = pt_model_logits(ctx, m, &b);
        for (k = 0; k < 2; k++) {
            int off = k == 0 ? 0 : 10, len = k == 0 ? 10 : 12;
            double worst = 0, scale = 0;
            memset(&b, 0, sizeof b);
            b.B = 1; b.T = len; b.tokens = ex[k].ids;
            alone = pt_model_logits(ctx, m, &b);
            if (!packed || !alone) { CHECK(0, "logits: %s", pt_last_error()); break; }
            for (i = 0; i < len * V; i++) {
                double d = fabs((double)packed->data[(int64_t)off * V + i] - (double)alone->data[i]);
                if (d > worst) worst = d;
                if (fabs(alone->data[i]) > scale) scale = fabs(alone->data[i]);
            }
            CHECK(worst <= 1e-5, "example %d: packed vs alone logits differ by %g (max |logit| %g)", k + 1, worst, scale);
            CHECK(scale > 0.1, "example %d: logits are too small to test (%g)", k + 1, scale);
        }
        pt_ctx_free(ctx);
    }
    pt_examples_free(ex, 4);
    free(g1); free(g2);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   5. pt_eval_loss against a hand computation
   --------------------------------------------------------------------------------------------- */
/* The masked mean of -log p over completion targets, each example alone (cut to T tokens), in
   double; pt_model_logprobs gives log p. */
static double ref_eval_loss(pt_model *m, const pt_example *ex, int n, int T)
{
    pt_ctx *ctx = pt_ctx_new(0);
    double sum = 0, cnt = 0;
    int i, t;
    pt_ctx_set_grad(ctx, 0);
    for (i = 0; i < n; i++) {
        int len = ex[i].n_ids < T ? ex[i].n_ids : T, tg[256];
        float mk[256];
        pt_batch b;
        pt_tensor *lp;
        if (len < 2) continue;
        for (t = 0; t < len; t++) {
            tg[t] = t + 1 < len ? ex[i].ids[t + 1] : 0;
            mk[t] = t + 1 < len && t + 1 >= ex[i].n_prompt ? 1.0f : 0.0f;
        }
        memset(&b, 0, sizeof b);
        b.B = 1; b.T = len; b.tokens = ex[i].ids; b.targets = tg; b.loss_mask = mk;
        lp = pt_model_logprobs(ctx, m, &b, 1.0f);
        if (!lp) { printf("  logprobs: %s\n", pt_last_error()); pt_ctx_free(ctx); return NAN; }
        for (t = 0; t < len; t++) if (mk[t] != 0.0f) { sum -= lp->data[t]; cnt += 1; }
        pt_ctx_reset(ctx);
    }
    pt_ctx_free(ctx);
    return cnt > 0 ? sum / cnt : 0.0;
}
static void test_eval_loss(void)
{
    pt_config c = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 64, 0);
    pt_model *m = scaled_model(&c, 21);
    pt_world_config wc;
    pt_example ex[45];
    int i, n = 0, st;
    float loss = -1;
    double ref;
    if (!m) { CHECK(0, "model: %s", pt_last_error()); return; }
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 2;
    for (i = 0; i < 40; i++) pt_world_sft_example(&wc, PT_WORLD_TRAIN, 5, i, &ex[n++]);
    {   /* hand-made: nothing to predict (length 1; prompt = everything), completion-only, all completion */
        int a[] = { 5 }, b[] = { 1, 2, 3, 4, 5, 6 }, d[] = { 7, 8, 9, 10, 11, 12, 13 }, e[] = { 40, 41, 42 };
        ex[n++] = make_example(a, 1, 0);
        ex[n++] = make_example(b, 6, 6);
        ex[n++] = make_example(d, 7, 2);
        ex[n++] = make_example(e, 3, 0);
    }
    /* T = 64: about two examples per row, several batches of 8 rows */
    st = pt_eval_loss(m, ex, n, 64, &loss);
    ref = ref_eval_loss(m, ex, n, 64);
    CHECK(st == PT_OK, "pt_eval_loss: %s", pt_last_error());
    CHECK(ref > 1.0, "reference loss %g", ref);
    CHECK(fabs(loss - ref) <= 1e-5 * fabs(ref), "pt_eval_loss %.9g vs hand %.9g (T = 64)", (double)loss, ref);
    /* another row length: a different packing, the same loss */
    st = pt_eval_loss(m, ex, n, 40, &loss);
    CHECK(st == PT_OK && fabs(loss - ref) <= 1e-5 * fabs(ref), "pt_eval_loss %.9g vs hand %.9g (T = 40)", (double)loss, ref);
    /* T above the model's seq_len is clipped to it */
    st = pt_eval_loss(m, ex, n, 1000, &loss);
    CHECK(st == PT_OK && fabs(loss - ref) <= 1e-5 * fabs(ref), "pt_eval_loss %.9g vs hand %.9g (T = 1000 -> 64)", (double)loss, ref);
    /* T = 20 cuts every world example: the hand computation cuts them too */
    st = pt_eval_loss(m, ex, n, 20, &loss);
    ref = ref_eval_loss(m, ex, n, 20);
    CHECK(st == PT_OK && fabs(loss - ref) <= 1e-5 * fabs(ref), "pt_eval_loss %.9g vs hand %.9g (T = 20, cut)", (double)loss, ref);
    /* one example alone */
    st = pt_eval_loss(m, ex + 42, 1, 64, &loss);
    ref = ref_eval_loss(m, ex + 42, 1, 64);
    CHECK(st == PT_OK && fabs(loss - ref) <= 1e-5 * fabs(ref), "one example: %.9g vs %.9g", (double)loss, ref);
    /* the model is not changed and no gradient is left behind */
    {
        int64_t j, nz = 0;
        for (j = 0; j < m->params->n_grad; j++) nz += m->params->grad[j] != 0.0f;
        CHECK(nz == 0, "pt_eval_loss left %lld nonzero gradients", (long long)nz);
    }
    pt_examples_free(ex, n);
    pt_model_free(m);
}

/* ---------------------------------------------------------------------------------------------
   6. The trainer
   --------------------------------------------------------------------------------------------- */
static int g_metric_calls;
static float *g_snapshot;
static int64_t g_snapshot_n;
static int g_snapshot_step;
static float metric_rising(pt_model *m, void *user) { (void)m; (void)user; return (float)++g_metric_calls; }
/* falling: the first evaluation is the best; remember the weights it saw */
static float metric_falling(pt_model *m, void *user)
{
    (void)user;
    if (g_metric_calls == 0 && g_snapshot) memcpy(g_snapshot, m->params->data, (size_t)g_snapshot_n * sizeof(float));
    return -(float)++g_metric_calls;
}

static void test_sft_train(void)
{
    pt_config c = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 64, 0);
    pt_world_config wc;
    pt_example train[300], eval[16];
    pt_sft_result res;
    int i, st;
    static char lines[300][256];
    const char *csv = tmp_path("sft.csv"), *best = tmp_path("best.ckpt"), *out = tmp_path("stdout.txt");
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 1;
    for (i = 0; i < 300; i++) pt_world_sft_example(&wc, PT_WORLD_TRAIN, 7, i, &train[i]);
    for (i = 0; i < 16; i++) pt_world_sft_example(&wc, PT_WORLD_ID, 0, i, &eval[i]);

    /* (a) zeros mean defaults; quiet; CSV; best by eval loss */
    {
        pt_model *m = pt_model_new(&c, 3), *bm;
        pt_sft_config cfg = {0};
        int nl, bad_step = 0, bad_eval = 0, bad_lr = 0, bad_gn = 0, warm = 30 / 20;
        cfg.steps = 30; cfg.quiet = 1; cfg.csv_path = csv; cfg.best_path = best;
        memset(&res, 0x7f, sizeof res);
        capture_begin(out);
        st = pt_sft_train(m, train, 300, eval, 16, &cfg, &res);
        capture_end();
        CHECK(st == PT_OK, "pt_sft_train: %s", pt_last_error());
        CHECK(file_size(out) == 0, "quiet run printed %ld bytes", file_size(out));
        CHECK(res.steps_done == 30 && res.skipped == 0, "steps_done %d skipped %d", res.steps_done, res.skipped);
        CHECK(res.first_loss > 4.5f && res.first_loss < 7.0f, "first loss %g (about ln 272 = 5.6)", (double)res.first_loss);
        /* measured 5.62 -> 4.66 (default lr 1e-3, 30 steps) */
        CHECK(res.last_loss < res.first_loss - 0.5f, "loss %g -> %g (measured 5.62 -> 4.66)", (double)res.first_loss, (double)res.last_loss);
        CHECK(res.seconds > 0 && res.tokens_per_s > 0, "seconds %g tok/s %g", res.seconds, res.tokens_per_s);
        CHECK(isfinite(res.best_eval_loss) && res.best_eval_loss < res.first_loss, "best eval loss %g", (double)res.best_eval_loss);
        /* eval_every defaults to steps / 4 = 7: evaluations at 7, 14, 21, 28 and the last step 30 */
        CHECK(res.best_step == 7 || res.best_step == 14 || res.best_step == 21 || res.best_step == 28 || res.best_step == 30,
              "best step %d is not an evaluation step", res.best_step);
        nl = read_lines(csv, lines, 300);
        CHECK(nl == 31, "CSV has %d lines, want header + 30", nl);
        CHECK(nl > 0 && strcmp(lines[0], "step,loss,lr,grad_norm,eval_loss,metric\n") == 0, "CSV header '%s'", nl > 0 ? lines[0] : "");
        for (i = 1; i < nl; i++) {
            int s = 0;
            float loss = 0, lr = 0, gn = 0, el = 0, met = 0;
            int k = sscanf(lines[i], "%d,%f,%f,%f,%f,%f", &s, &loss, &lr, &gn, &el, &met);
            int is_eval = i % 7 == 0 || i == 30;
            /* default lr 1e-3, min_lr lr/10, warmup steps/20 = 1 */
            float want_lr = pt_lr_schedule(i - 1, warm, 30, 1e-3f, 1e-4f);
            if (k != 6 || s != i) bad_step++;
            if (k == 6 && (is_eval ? !(el == el && el > 0) : el == el)) bad_eval++;
            if (k == 6 && fabsf(lr - want_lr) > 1e-5f * want_lr) bad_lr++;
            if (k == 6 && !(gn > 0)) bad_gn++;
            if (i == 1) CHECK(k == 6 && fabsf(loss - res.first_loss) < 1e-4f, "CSV first loss %g vs %g", (double)loss, (double)res.first_loss);
            if (i == 30) CHECK(k == 6 && fabsf(loss - res.last_loss) < 1e-4f, "CSV last loss %g vs %g", (double)loss, (double)res.last_loss);
        }
        CHECK(bad_step == 0, "%d CSV lines with a wrong step number or field count", bad_step);
        CHECK(bad_eval == 0, "%d CSV lines with eval_loss where there should be none, or none where there should", bad_eval);
        CHECK(bad_lr == 0, "%d CSV lines whose lr is not the default schedule (1e-3, min 1e-4, warmup 1)", bad_lr);
        CHECK(bad_gn == 0, "%d CSV lines with a non-positive grad norm", bad_gn);
        /* the best checkpoint loads and has the best eval loss */
        bm = pt_model_load(best);
        CHECK(bm != NULL, "best checkpoint: %s", pt_last_error());
        if (bm) {
            float l = 0;
            CHECK(pt_eval_loss(bm, eval, 16, 64, &l) == PT_OK && l == res.best_eval_loss, "best model eval loss %.9g vs best_eval_loss %.9g",
                  (double)l, (double)res.best_eval_loss);
            CHECK(res.best_step != 30 || models_equal(bm, m), "best at the last step but weights differ");
        }
        pt_model_free(bm);
        pt_model_free(m);
        remove(best);
    }
    /* (b) not quiet: a progress line (so the capture above can see output) */
    {
        pt_model *m = pt_model_new(&c, 3);
        pt_sft_config cfg = {0};
        cfg.steps = 2; cfg.batch_rows = 2;
        capture_begin(out);
        st = pt_sft_train(m, train, 300, NULL, 0, &cfg, &res);
        capture_end();
        CHECK(st == PT_OK && file_size(out) > 10, "verbose run printed %ld bytes", file_size(out));
        /* the progress line is finished by the time pt_sft_train returns, so the caller's next
           output starts on a fresh line (here: no eval set and no metric) */
        {
            FILE *f = fopen(out, "rb");
            int last = -1, ch;
            while (f && (ch = fgetc(f)) != EOF) last = ch;
            if (f) fclose(f);
            CHECK(last == '\n', "verbose run without eval/metric leaves its progress line unterminated (last byte %d)", last);
        }
        pt_model_free(m);
    }
    /* (c) a metric: best_path is written when it improves; rising -> the last evaluation */
    {
        pt_model *m = pt_model_new(&c, 4), *bm;
        pt_sft_config cfg = {0};
        cfg.steps = 12; cfg.batch_rows = 4; cfg.eval_every = 4; cfg.quiet = 1; cfg.best_path = best; cfg.metric = metric_rising;
        g_metric_calls = 0;
        st = pt_sft_train(m, train, 300, eval, 16, &cfg, &res);
        CHECK(st == PT_OK, "metric run: %s", pt_last_error());
        CHECK(g_metric_calls == 3, "metric called %d times, want 3 (steps 4, 8, 12)", g_metric_calls);
        CHECK(res.best_step == 12 && res.best_metric == 3.0f, "rising metric: best step %d metric %g", res.best_step, (double)res.best_metric);
        bm = pt_model_load(best);
        CHECK(bm && models_equal(bm, m), "best checkpoint (last evaluation) != final weights");
        pt_model_free(bm); pt_model_free(m);
        remove(best);
    }
    /* falling metric: the first evaluation (step 4) stays the best, and the file holds its weights */
    {
        pt_model *m = pt_model_new(&c, 4), *bm;
        pt_sft_config cfg = {0};
        cfg.steps = 12; cfg.batch_rows = 4; cfg.eval_every = 4; cfg.quiet = 1; cfg.best_path = best; cfg.metric = metric_falling;
        g_metric_calls = 0; g_snapshot_n = m->params->n_data; g_snapshot_step = 4;
        g_snapshot = (float *)malloc((size_t)g_snapshot_n * sizeof(float));
        st = pt_sft_train(m, train, 300, NULL, 0, &cfg, &res);
        CHECK(st == PT_OK, "metric run: %s", pt_last_error());
        CHECK(res.best_step == g_snapshot_step && res.best_metric == -1.0f, "falling metric: best step %d metric %g", res.best_step, (double)res.best_metric);
        CHECK(!isfinite(res.best_eval_loss), "no eval set: best_eval_loss %g", (double)res.best_eval_loss);
        bm = pt_model_load(best);
        CHECK(bm && memcmp(bm->params->data, g_snapshot, (size_t)g_snapshot_n * sizeof(float)) == 0, "best checkpoint != weights at step 4");
        CHECK(bm && !models_equal(bm, m), "weights did not change after step 4");
        pt_model_free(bm); pt_model_free(m);
        free(g_snapshot); g_snapshot = NULL;
        remove(best);
    }
    /* no eval set and no metric: nothing is "best", no file */
    {
        pt_model *m = pt_model_new(&c, 4);
        pt_sft_config cfg = {0};
        cfg.steps = 3; cfg.batch_rows = 2; cfg.quiet = 1; cfg.best_path = best;
        st = pt_sft_train(m, train, 300, NULL, 0, &cfg, &res);
        CHECK(st == PT_OK && !file_exists(best) && res.best_step == -1, "no eval, no metric: status %d, file %d, best step %d", st, file_exists(best), res.best_step);
        pt_model_free(m);
    }
    /* (d) errors */
    {
        pt_model *m = pt_model_new(&c, 4);
        pt_sft_config cfg = {0};
        cfg.steps = 3; cfg.quiet = 1;
        CHECK(pt_sft_train(m, train, 0, NULL, 0, &cfg, &res) == PT_ERR_ARG, "n_train = 0 must be PT_ERR_ARG");
        CHECK(pt_sft_train(m, train, -3, NULL, 0, &cfg, &res) == PT_ERR_ARG, "n_train < 0 must be PT_ERR_ARG");
        cfg.csv_path = "/nonexistent_dir_pt/x.csv";
        CHECK(pt_sft_train(m, train, 10, NULL, 0, &cfg, &res) == PT_ERR_IO, "unwritable CSV must be PT_ERR_IO");
        pt_model_free(m);
    }
    /* (e) determinism: two runs from the same model and seed give bit-identical weights; another
       seed (example order) gives other weights */
    {
        pt_model *m1 = pt_model_new(&c, 9), *m2 = pt_model_new(&c, 9), *m3 = pt_model_new(&c, 9);
        pt_sft_config cfg = {0};
        pt_sft_result r1, r2;
        cfg.steps = 10; cfg.batch_rows = 4; cfg.quiet = 1; cfg.seed = 5;
        CHECK(pt_sft_train(m1, train, 300, eval, 16, &cfg, &r1) == PT_OK, "run 1: %s", pt_last_error());
        CHECK(pt_sft_train(m2, train, 300, eval, 16, &cfg, &r2) == PT_OK, "run 2: %s", pt_last_error());
        CHECK(models_equal(m1, m2), "two identical runs give different weights");
        CHECK(r1.first_loss == r2.first_loss && r1.last_loss == r2.last_loss && r1.best_eval_loss == r2.best_eval_loss,
              "two identical runs give different losses");
        cfg.seed = 6;
        CHECK(pt_sft_train(m3, train, 300, eval, 16, &cfg, &r2) == PT_OK, "run 3: %s", pt_last_error());
        CHECK(!models_equal(m1, m3), "another seed gives the same weights");
        pt_model_free(m1); pt_model_free(m2); pt_model_free(m3);
    }
    /* (e2) the thread count does not change the result */
    {
        pt_model *m1 = pt_model_new(&c, 9), *m2 = pt_model_new(&c, 9);
        pt_sft_config cfg = {0};
        int nt = pt_get_threads();
        cfg.steps = 6; cfg.batch_rows = 4; cfg.quiet = 1; cfg.seed = 5;
        pt_set_threads(1);
        pt_sft_train(m1, train, 300, NULL, 0, &cfg, &res);
        pt_set_threads(nt);
        pt_sft_train(m2, train, 300, NULL, 0, &cfg, &res);
        CHECK(models_equal(m1, m2), "1 thread vs %d threads: different weights", nt);
        pt_model_free(m1); pt_model_free(m2);
    }
    /* (e3) non-finite losses skip the step: an untied model whose embedding row of one byte is NaN
       gives a NaN loss on every batch that contains that byte. Two training examples, one batch row
       each: one clean, one with the poisoned byte, so every epoch (2 steps) has one of each. */
    {
        pt_config cu = c;
        pt_model *m;
        pt_param *te;
        pt_example tx[2], vx[1];
        int clean[24], bad[24], j, nl, calls_want = 6;
        pt_sft_config cfg = {0};
        int64_t k, nonfinite = 0;
        for (j = 0; j < 24; j++) { clean[j] = 'a' + j % 20; bad[j] = 'a' + j % 20; }
        bad[10] = 200;   /* the poisoned byte */
        tx[0] = make_example(clean, 24, 4); tx[1] = make_example(bad, 24, 4); vx[0] = make_example(clean, 24, 4);
        cu.untied = 1;
        m = pt_model_new(&cu, 6);
        te = pt_params_find(m->params, "tok_embeddings");
        for (j = 0; j < cu.dim; j++) te->t.data[200 * cu.dim + j] = NAN;
        cfg.steps = 6; cfg.batch_rows = 1; cfg.seq_len = 24; cfg.eval_every = 1; cfg.quiet = 1; cfg.csv_path = csv;
        cfg.metric = metric_rising;
        g_metric_calls = 0;
        st = pt_sft_train(m, tx, 2, vx, 1, &cfg, &res);
        CHECK(st == PT_OK, "poisoned run: %s", pt_last_error());
        CHECK(res.skipped == 3 && res.steps_done == 6, "poisoned run: skipped %d (want 3), steps_done %d", res.skipped, res.steps_done);
        /* nothing but the poisoned row itself became non-finite */
        for (k = 0; k < m->params->n_data; k++) nonfinite += !isfinite(m->params->data[k]);
        CHECK(nonfinite == cu.dim, "poisoned run: %lld non-finite weights, want %d (the poisoned row)", (long long)nonfinite, cu.dim);
        CHECK(isfinite(res.first_loss) && res.first_loss > 0 && isfinite(res.last_loss) && res.last_loss > 0,
              "poisoned run: first_loss %g last_loss %g (should be the first/last finite losses)", (double)res.first_loss, (double)res.last_loss);
        /* "every eval_every steps": a skipped step must not silently drop the evaluation (and the
           best checkpoint) scheduled for it, nor its CSV line */
        CHECK(g_metric_calls == calls_want, "poisoned run, eval_every 1: metric evaluated %d times in 6 steps (skipped steps drop their evaluation)",
              g_metric_calls);
        nl = read_lines(csv, lines, 300);
        CHECK(nl == 7, "poisoned run: CSV has %d lines, want header + 6 (skipped steps have no line)", nl);
        pt_examples_free(tx, 2); pt_examples_free(vx, 1);
        pt_model_free(m);
    }
    /* (f) an all-zero config: 200 steps, batch 8, the model's seq_len (a short-sequence model) */
    {
        pt_config cs = mkcfg(16, 1, 2, 1, 32, PT_BYTE_VOCAB, 32, 0);
        pt_model *m = pt_model_new(&cs, 2);
        pt_sft_config cfg = {0};
        cfg.quiet = 1;
        st = pt_sft_train(m, train, 300, NULL, 0, &cfg, &res);
        CHECK(st == PT_OK && res.steps_done == 200 && res.skipped == 0, "default config: status %d, %d steps", st, res.steps_done);
        CHECK(res.last_loss < res.first_loss, "default config: loss %g -> %g", (double)res.first_loss, (double)res.last_loss);
        /* NULL config means all defaults too: the same run */
        {
            pt_model *m2 = pt_model_new(&cs, 2);
            pt_sft_result r2;
            capture_begin(out);
            st = pt_sft_train(m2, train, 300, NULL, 0, NULL, &r2);
            capture_end();
            CHECK(st == PT_OK && r2.steps_done == 200 && models_equal(m, m2), "NULL config differs from an all-zero config");
            pt_model_free(m2);
        }
        pt_model_free(m);
    }
    pt_examples_free(train, 300);
    pt_examples_free(eval, 16);
}

/* ---------------------------------------------------------------------------------------------
   7. Learning: pretraining then SFT teaches the chat template
   --------------------------------------------------------------------------------------------- */
static void test_learning(void)
{
    static int corpus[200000];
    static pt_example train[2000], eval[32];
    pt_config c = mkcfg(48, 2, 4, 2, 128, PT_BYTE_VOCAB, 64, 0);
    pt_world_config wc;
    pt_model *m = pt_model_new(&c, 5 + seed_shift());
    pt_ctx *ctx = pt_ctx_new(0);
    pt_rng rng;
    pt_world_eval_result base_raw, before, after;
    pt_sft_config cfg = {0};
    pt_sft_result res;
    int64_t n;
    int i;
    double t0 = pt_time_seconds(), t1;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 1;
    if (!m || !ctx) { CHECK(0, "model: %s", pt_last_error()); return; }
    /* pretraining as in tests/test_learning.c (200 steps instead of 500: a weaker base) */
    pt_rng_seed(&rng, 3 + seed_shift());
    n = pt_world_corpus(&wc, 2, 5000, corpus, 200000);
    pretrain_windows(m, ctx, &rng, corpus, n, 8, 64, 200, NULL, NULL);   /* 8 rows of 64 tokens */
    pt_ctx_free(ctx);
    /* a fresh optimizer for SFT (as loading a base checkpoint without optimizer state would) */
    memset(m->params->adam_m, 0, (size_t)m->params->n_grad * sizeof(float));
    memset(m->params->adam_v, 0, (size_t)m->params->n_grad * sizeof(float));
    m->params->step = 0;
    /* a one-digit world has 100 problems and its 5 test problems never occur in training (held out by
       construction), so this test measures fitting the training distribution: training-class problems */
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 100, 0, &base_raw) == PT_OK, "eval: %s", pt_last_error());
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 100, 1, &before) == PT_OK, "eval: %s", pt_last_error());
    t1 = pt_time_seconds();

    for (i = 0; i < 2000; i++) pt_world_sft_example(&wc, PT_WORLD_TRAIN, 7, i, &train[i]);
    for (i = 0; i < 32; i++) pt_world_sft_example(&wc, PT_WORLD_ID, 0, 1000 + i, &eval[i]);
    cfg.steps = 150; cfg.batch_rows = 8; cfg.lr = 3e-3f; cfg.quiet = 1; cfg.seed = 3 + seed_shift();
    {
        int st = pt_sft_train(m, train, 2000, eval, 32, &cfg, &res);
        CHECK(st == PT_OK, "sft: %s", pt_last_error());
    }
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 100, 1, &after) == PT_OK, "eval: %s", pt_last_error());
    /* Thresholds. Before the honest split (v0.2.0), 9 runs (model seeds 5, 7, 8 x SFT seeds 1, 2, 3,
       gcc -O2): after SFT accuracy 0.48-0.85, step accuracy 0.43-0.82, eval loss 0.23-0.32, when the
       "held-out" one-digit problems were training problems. Now, over seed shifts 0-3 (gcc, model seed
       5-8, SFT seed 3-6; the suite runs shift 0): raw base accuracy 0.08-0.13, chat before format
       0-0.02 accuracy 0, after: format 1.00, accuracy 0.36-0.67 (shift 0: 0.36), step accuracy
       0.16-0.50, SFT loss 2.9-3.8 -> 0.19-0.32, best eval loss 0.35-0.57 (the eval examples are
       held-out one-digit problems the model never trains on). */
    CHECK(before.format_rate <= 0.05f && before.accuracy <= 0.05f, "chat before SFT: format %.2f accuracy %.2f (measured 0, 0)",
          before.format_rate, before.accuracy);
    CHECK(after.format_rate >= 0.9f, "chat format after SFT %.2f (measured 1.00)", after.format_rate);
    CHECK(after.accuracy >= 0.2f && after.accuracy >= before.accuracy + 0.15f && after.accuracy >= base_raw.accuracy + 0.08f,
          "accuracy: raw base %.2f, chat before %.2f, after %.2f (measured 0.08-0.13, 0, 0.36-0.67)", base_raw.accuracy, before.accuracy, after.accuracy);
    CHECK(after.step_accuracy >= 0.08f, "step accuracy after %.2f (measured 0.16-0.50)", after.step_accuracy);
    CHECK(res.steps_done == 150 && res.skipped == 0, "steps %d skipped %d", res.steps_done, res.skipped);
    CHECK(res.first_loss > 2.5f && res.last_loss < 0.45f && res.best_eval_loss < 0.8f,
          "SFT loss %.3f -> %.3f, best eval %.3f (measured 2.9-3.8 -> 0.19-0.32, eval 0.35-0.57)", res.first_loss, res.last_loss, res.best_eval_loss);
    printf("  base (raw format): format %.2f accuracy %.2f | chat before SFT: format %.2f accuracy %.2f steps %.2f\n",
           base_raw.format_rate, base_raw.accuracy, before.format_rate, before.accuracy, before.step_accuracy);
    printf("  SFT %d steps: loss %.3f -> %.3f, best eval loss %.3f | chat after: format %.2f accuracy %.2f steps %.2f\n",
           res.steps_done, res.first_loss, res.last_loss, res.best_eval_loss, after.format_rate, after.accuracy, after.step_accuracy);
    printf("  sample: %s\n", after.first);
    printf("  pretraining %.1f s, SFT + evals %.1f s\n", t1 - t0, pt_time_seconds() - t1);
    pt_examples_free(train, 2000); pt_examples_free(eval, 32);
    pt_model_free(m);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_sft")) return 1;
    RUN("chat template", test_chat_text);
    RUN("world SFT examples", test_world_sft_example);
    RUN("packing", test_pack);
    RUN("masking and isolation", test_isolation);
    RUN("eval loss", test_eval_loss);
    RUN("sft trainer", test_sft_train);
    /* The learning test takes ~2 minutes under the sanitizers; like tests/test_learning.c (which the
       Makefile runs optimised only) it runs in the optimised builds, and the code it runs
       (pt_sft_train, pt_world_sft_example, pt_world_eval with chat = 1) is covered under the
       sanitizers by the sections above. */
    if (!T_SANITIZED) RUN("learning", test_learning);
    else printf("== learning: skipped under the sanitizers (runs in the optimised build)\n");
    return finish_tmp("test_sft", t0);
}
