/* Learning tests: each algorithm must show its effect on real numbers, with thresholds set from
   measured runs with a margin (measured values in the comments). Results are bit-identical for a
   given thread count and, by construction of the kernels, across thread counts. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include "test_tmp.h"
#include <stdlib.h>
#include <string.h>

/* PT_TEST_SEED=k shifts every seed by k (seed_shift() in test.h): how the thresholds below were
   measured over several runs (the suite itself always runs k = 0, so it is deterministic). */

/* Pretraining: a 60K-parameter model on one-digit problems for 300 steps learns the format and
   part of the arithmetic. Measured: loss 5.61 -> 0.378, format 0.00 -> 1.00, accuracy 0.00 -> 0.54,
   step accuracy 0.60 (3 s optimised on 2 cores). */
static pt_model *g_base;   /* the pretrained model, reused by the post-training tests (not freed until the end) */
static void test_pretraining(void)
{
    static int corpus[200000];
    pt_config c = mkcfg(48, 2, 4, 2, 128, PT_BYTE_VOCAB, 64, 0);
    pt_world_config wc;
    pt_model *m;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_rng rng;
    pt_world_eval_result before, after;
    int64_t n;
    float first = 0, last = 0;
    memset(&wc, 0, sizeof wc);
    /* one-digit worlds: 82 training problems, 5 test problems that never occur in training (held out
       by construction). These tests assert that training fits the training distribution, so they
       evaluate on training-class problems; generalisation is measured by the examples on 1-3 digits. */
    wc.min_digits = 1; wc.max_digits = 1;
    m = pt_model_new(&c, 5 + seed_shift());
    CHECK(m && ctx, "model: %s", pt_last_error());
    if (!m || !ctx) return;
    pt_rng_seed(&rng, 3 + seed_shift());
    n = pt_world_corpus(&wc, 2, 5000, corpus, 200000);
    CHECK(n > 100000, "corpus has %lld tokens", (long long)n);
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 50, 0, &before) == PT_OK, "eval: %s", pt_last_error());
    pretrain_windows(m, ctx, &rng, corpus, n, 8, 64, 500, &first, &last);   /* 500 steps of 8 rows of 64 tokens */
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 50, 0, &after) == PT_OK, "eval: %s", pt_last_error());
    printf("  pretraining: loss %.3f -> %.3f, format %.2f -> %.2f, accuracy %.2f -> %.2f, steps %.2f\n",
           first, last, before.format_rate, after.format_rate, before.accuracy, after.accuracy, after.step_accuracy);
    CHECK(first > 5.0f && last < 0.6f, "loss %.3f -> %.3f (measured 5.61 -> 0.27)", first, last);
    CHECK(before.format_rate < 0.05f && after.format_rate >= 0.8f, "format %.2f -> %.2f (measured 0 -> 1.00)", before.format_rate, after.format_rate);
    /* 500 steps, training-class problems: accuracy = step accuracy 0.84 (gcc and clang, seed shift 0);
       over five model/data seeds 0.76-0.84. At 300 steps some seeds had not learned to copy the
       operands yet (step accuracy 0.00-0.38). */
    CHECK(after.accuracy >= 0.5f, "accuracy %.2f (measured 0.84; 0.76-0.84 over 5 seeds)", after.accuracy);
    CHECK(after.step_accuracy >= 0.5f, "step accuracy %.2f (measured 0.84; 0.74-0.84 over 5 seeds)", after.step_accuracy);
    CHECK(pt_model_save(m, tmp_path("base.ckpt"), 0) == PT_OK, "save: %s", pt_last_error());
    g_base = m;
    pt_ctx_free(ctx);
}

/* SFT data on the chat template for the 1-digit world */
static pt_world_config g_wc;
static pt_example g_train[1500];
static void make_sft_data(void)
{
    int i;
    memset(&g_wc, 0, sizeof g_wc);
    g_wc.min_digits = 1; g_wc.max_digits = 1;
    for (i = 0; i < 1500; i++) pt_world_sft_example(&g_wc, PT_WORLD_TRAIN, 9, i, &g_train[i]);
}
/* One PEFT variant from the base checkpoint: SFT, then chat-template eval. */
static void peft_run(const char *name, int variant, int steps, float lr, pt_world_eval_result *out)
{
    pt_model *m = pt_model_load(tmp_path("base.ckpt"));
    static pt_example prefixed[1500];
    pt_example *data = g_train;
    pt_sft_config cfg = {0};
    pt_sft_result res;
    const int chat_ids[4] = {PT_BYTE_USER, PT_BYTE_ASSISTANT, PT_BYTE_END, PT_BYTE_EOS};
    int st = m ? PT_OK : PT_ERR_IO, i;
    memset(out, 0, sizeof *out);
    if (st == PT_OK && variant == 1) { pt_lora_config lc = {0}; lc.rank = 4; lc.alpha = 8; lc.targets = "*"; lc.seed = 1; st = pt_lora_attach(m, &lc); }
    if (st == PT_OK && variant == 2) st = pt_trainable_tokens_attach(m, chat_ids, 4);
    if (st == PT_OK && variant == 3) {
        int prefix[8], k;
        st = pt_tokens_attach(m, 8, NULL, chat_ids, 4, 1);
        k = st == PT_OK ? pt_model_prompt_prefix(m, prefix, 8) : 0;
        for (i = 0; i < 1500 && st == PT_OK; i++) {
            prefixed[i] = g_train[i];
            prefixed[i].ids = (int *)malloc((size_t)g_train[i].n_ids * sizeof(int));
            memcpy(prefixed[i].ids, g_train[i].ids, (size_t)g_train[i].n_ids * sizeof(int));
        }
        if (st == PT_OK) st = pt_examples_prepend(prefixed, 1500, prefix, k);
        data = prefixed;
    }
    CHECK(st == PT_OK, "%s: setup: %s", name, pt_last_error());
    if (st != PT_OK) { pt_model_free(m); return; }
    cfg.steps = steps; cfg.lr = lr; cfg.quiet = 1; cfg.eval_every = steps; cfg.seed = 1 + seed_shift();
    CHECK(pt_sft_train(m, data, 1500, NULL, 0, &cfg, &res) == PT_OK, "%s: sft: %s", name, pt_last_error());
    CHECK(pt_world_eval(m, &g_wc, PT_WORLD_TRAIN, 100, 1, out) == PT_OK, "%s: eval: %s", name, pt_last_error());
    printf("  %-22s loss %.3f -> %.3f   chat format %.2f  accuracy %.2f  (%.1f s)\n", name, res.first_loss, res.last_loss,
           out->format_rate, out->accuracy, res.seconds);
    if (variant == 3) pt_examples_free(prefixed, 1500);
    if (variant == 0) CHECK(pt_model_save(m, tmp_path("sft.ckpt"), 0) == PT_OK, "save: %s", pt_last_error());   /* the distillation teacher */
    pt_model_free(m);
}
/* The same SFT budget on different trainable sets (examples/peft.c in small): full FT and LoRA
   learn the chat template and keep the arithmetic; trainable chat tokens alone learn the format
   but not to read the question in its new place; a soft prompt on top does not fix that at
   this size (Lester et al. 2021: prompt tuning catches up with fine-tuning only at ~10B). */
static void test_peft_learning(void)
{
    pt_world_eval_result base, full, lora, tok, prompt;
    if (!g_base) return;
    make_sft_data();
    CHECK(pt_world_eval(g_base, &g_wc, PT_WORLD_TRAIN, 100, 1, &base) == PT_OK, "eval: %s", pt_last_error());
    printf("  base model on the chat template: format %.2f accuracy %.2f\n", base.format_rate, base.accuracy);
    peft_run("full fine-tuning", 0, 120, 1e-3f, &full);
    peft_run("LoRA r=4 (all)", 1, 120, 3e-3f, &lora);
    peft_run("chat tokens only", 2, 120, 3e-2f, &tok);
    peft_run("prompt k=8 + chat", 3, 120, 3e-2f, &prompt);
    CHECK(base.format_rate <= 0.05f, "base chat format %.2f (measured 0)", base.format_rate);
    CHECK(full.format_rate >= 0.9f && full.accuracy >= 0.4f, "full FT format %.2f accuracy %.2f (measured 1.00, 0.65)", full.format_rate, full.accuracy);
    CHECK(lora.format_rate >= 0.9f && lora.accuracy >= 0.08f, "LoRA format %.2f accuracy %.2f (measured 1.00, 0.16)", lora.format_rate, lora.accuracy);
    CHECK(tok.format_rate >= 0.3f, "chat tokens format %.2f (measured 1.00)", tok.format_rate);
    CHECK(prompt.format_rate >= 0.8f, "prompt + chat tokens format %.2f (measured 1.00)", prompt.format_rate);
    CHECK(full.accuracy > tok.accuracy + 0.3f && full.accuracy > prompt.accuracy + 0.3f,
          "full FT accuracy %.2f should beat token-level PEFT (%.2f, %.2f) by 0.3 (measured 0.65 vs 0.03, 0.15)", full.accuracy, tok.accuracy, prompt.accuracy);
    pt_examples_free(g_train, 1500);
}

/* Distillation (examples/distill.c in small): a half-size student (33K vs 64K parameters) from scratch learns the task
   from the SFT teacher's greedy answers alone. Measured: format 0 -> 1.00, accuracy 0 -> 0.95 (the
   teacher: 0.95), 6 s on 2 cores. */
static void test_distillation(void)
{
    pt_model *teacher = pt_model_load(tmp_path("sft.ckpt")), *student;
    static int buf[800][64], lens[800];
    static const int *prompts[800];
    static pt_example ex[800];
    pt_gen_config g;
    pt_gen_result r;
    pt_config sc;
    pt_sft_config cfg = {0};
    pt_sft_result res;
    pt_world_eval_result te, before, after;
    int i, n;
    CHECK(teacher != NULL, "teacher: %s", pt_last_error());
    if (!teacher) return;
    for (i = 0; i < 800; i++) {
        pt_problem p;
        pt_world_problem(&g_wc, PT_WORLD_TRAIN, 13, i, &p);
        lens[i] = pt_world_prompt(&p, 1, buf[i], 64);
        prompts[i] = buf[i];
    }
    memset(&g, 0, sizeof g);
    g.max_new_tokens = 40; g.stop_tokens[0] = PT_BYTE_END; g.n_stop_tokens = 1;
    CHECK(pt_generate(teacher, prompts, lens, 800, 1, &g, &r) == PT_OK, "generate: %s", pt_last_error());
    n = pt_examples_from_generations(&r, NULL, PT_BYTE_EOS, ex);
    CHECK(n == 800, "examples from generations: %d (%s)", n, pt_last_error());
    pt_gen_result_free(&r);
    memset(&sc, 0, sizeof sc);
    sc.dim = 32; sc.n_layers = 2; sc.n_heads = 4; sc.n_kv_heads = 2; sc.hidden_dim = 96; sc.vocab_size = PT_BYTE_VOCAB; sc.seq_len = 64;
    student = pt_model_new(&sc, 3 + seed_shift());
    CHECK(pt_world_eval(teacher, &g_wc, PT_WORLD_TRAIN, 100, 1, &te) == PT_OK && pt_world_eval(student, &g_wc, PT_WORLD_TRAIN, 100, 1, &before) == PT_OK,
          "eval: %s", pt_last_error());
    cfg.steps = 600; cfg.batch_rows = 16; cfg.lr = 3e-3f; cfg.quiet = 1; cfg.eval_every = 600; cfg.seed = 1 + seed_shift();
    CHECK(pt_sft_train(student, ex, n > 0 ? n : 0, NULL, 0, &cfg, &res) == PT_OK, "sft: %s", pt_last_error());
    CHECK(pt_world_eval(student, &g_wc, PT_WORLD_TRAIN, 100, 1, &after) == PT_OK, "eval: %s", pt_last_error());
    printf("  teacher %lld params: accuracy %.2f; student %lld params: format %.2f -> %.2f, accuracy %.2f -> %.2f (loss %.3f -> %.3f, %.1f s)\n",
           (long long)pt_params_count(teacher->params, 0), te.accuracy, (long long)pt_params_count(student->params, 0),
           before.format_rate, after.format_rate, before.accuracy, after.accuracy, res.first_loss, res.last_loss, res.seconds);
    CHECK(before.format_rate <= 0.05f && after.format_rate >= 0.9f, "student format %.2f -> %.2f (measured 0 -> 1.00)", before.format_rate, after.format_rate);
    CHECK(after.accuracy >= 0.3f && after.accuracy >= te.accuracy - 0.2f, "student accuracy %.2f (teacher %.2f; measured 0.62 and 0.65)", after.accuracy, te.accuracy);
    pt_examples_free(ex, n > 0 ? n : 0);
    pt_model_free(teacher); pt_model_free(student);
}

/* SFT of a real model (examples/sft_stories.c in small): LoRA teaches stories260K to open a story
   with a title line and close it with "The end.", from its own stories rewritten in that style.
   Skipped when the model files are absent. */
static int stories_habit(pt_model *m, const pt_tokenizer *tok, int n, int max_new, uint64_t seed, char (*texts)[1600], float *title, float *ending)
{
    int bos = 1, i;
    const int *prompt[1] = {&bos};
    pt_gen_config g;
    pt_gen_result r;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = max_new; g.stop_tokens[0] = 1; g.n_stop_tokens = 1; g.sampler.temperature = 0.8f; g.sampler.top_p = 0.95f; g.seed = seed;
    if (pt_generate(m, prompt, &bos, 1, n, &g, &r) != PT_OK) return -1;
    *title = *ending = 0;
    for (i = 0; i < n; i++) {
        const int *t = r.tokens + (int64_t)i * r.width + 1;
        int len = r.total_len[i] - 1, done = len > 0 && t[len - 1] == 1;
        size_t k;
        char *x = texts[i];
        pt_decode(tok, t, done ? len - 1 : len, x, 1600);
        while (*x == ' ') x++;
        memmove(texts[i], x, strlen(x) + 1);
        k = strlen(texts[i]);
        while (k > 0 && texts[i][k - 1] == ' ') texts[i][--k] = 0;
        *title += strncmp(texts[i], "Title: ", 7) == 0 ? 1.0f / n : 0.0f;
        *ending += done && k >= 8 && strcmp(texts[i] + k - 8, "The end.") == 0 ? 1.0f / n : 0.0f;
        if (!done) { char *stop = strrchr(texts[i], '.'); if (stop) stop[1] = 0; }   /* cut after the last full sentence */
    }
    pt_gen_result_free(&r);
    return 0;
}
static void test_stories_habit(void)
{
    char path[512], tpath[512];
    static char texts[160][1600];
    static pt_example ex[160];
    pt_model *m;
    pt_tokenizer tok;
    pt_lora_config lc = {0};
    pt_sft_config cfg = {0};
    pt_sft_result res;
    float t0, e0, t1, e1;
    int i, n = 0;
    snprintf(path, sizeof path, "%s/stories260K.bin", test_models_dir());
    snprintf(tpath, sizeof tpath, "%s/tok512.bin", test_models_dir());
    if (!file_exists(path) || !file_exists(tpath)) { printf("  skipped: %s or tok512.bin not found (set PT_MODELS)\n", path); return; }
    m = pt_model_load_llama2c(path);
    CHECK(m && pt_bpe_load(&tok, tpath, m->cfg.vocab_size) == PT_OK, "load: %s", pt_last_error());
    if (!m) return;
    tok.eos_id = 1;   /* stories end with BOS */
    CHECK(stories_habit(m, &tok, 160, 200, 7, texts, &t0, &e0) == 0, "sample: %s", pt_last_error());
    for (i = 0; i < 160; i++) {
        char text[1700];
        pt_record r;
        if (strlen(texts[i]) < 100) continue;
        memset(&r, 0, sizeof r);
        snprintf(text, sizeof text, "Title: A little story\n%s The end.", texts[i]);
        r.text = text;
        if (pt_record_example(&tok, &r, PT_DATA_TEXT, 0, 0, &ex[n]) == PT_OK) n++;
    }
    CHECK(n >= 100, "%d demonstrations", n);
    CHECK(stories_habit(m, &tok, 50, 320, 99, texts, &t0, &e0) == 0, "eval: %s", pt_last_error());
    lc.rank = 8; lc.alpha = 16; lc.targets = "*"; lc.seed = 1;
    CHECK(pt_lora_attach(m, &lc) == PT_OK, "lora: %s", pt_last_error());
    cfg.steps = 60; cfg.batch_rows = 8; cfg.seq_len = 256; cfg.lr = 3e-3f; cfg.eval_every = 60; cfg.quiet = 1; cfg.seed = 1;
    CHECK(pt_sft_train(m, ex, n, NULL, 0, &cfg, &res) == PT_OK, "sft: %s", pt_last_error());
    CHECK(stories_habit(m, &tok, 50, 320, 99, texts, &t1, &e1) == 0, "eval: %s", pt_last_error());
    printf("  stories260K + LoRA r=8, %d demos, 60 steps (%.1f s): title line %.2f -> %.2f, \"The end.\" %.2f -> %.2f\n", n, res.seconds, t0, t1, e0, e1);
    CHECK(t0 <= 0.02f && t1 >= 0.8f, "title line %.2f -> %.2f (measured 0 -> 1.00)", t0, t1);
    CHECK(e0 <= 0.02f && e1 >= 0.6f, "\"The end.\" %.2f -> %.2f (measured 0 -> 0.90)", e0, e1);
    pt_examples_free(ex, n);
    pt_model_free(m);
    pt_tokenizer_free(&tok);
}

/* Preference pairs of the one-digit world (graded strengths; held-out pairs on the validation
   split's problems, which never occur in training pairs). */
static int pref_pairs(int split, uint64_t seed, int n, pt_example *c, pt_example *r, float *strength)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_world_config wc;
    pt_dataset ds;
    int st;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1;
    wc.max_digits = 1;
    if (pt_world_preferences(&wc, split, seed, n, 0, &ds) != PT_OK) return -1;
    st = pt_pair_examples(&ds, &tok, 1, c, r, strength);
    n = ds.n;
    pt_dataset_free(&ds);
    return st == PT_OK ? n : -1;
}
static float pair_accuracy(pt_model *m, const pt_example *c, const pt_example *r, int n)
{
    float rc[200], rr[200];
    int i, right = 0;
    if (n > 200 || pt_rm_score(m, c, n, rc) != PT_OK || pt_rm_score(m, r, n, rr) != PT_OK) return -1.0f;
    for (i = 0; i < n; i++) right += rc[i] > rr[i];
    return (float)right / (float)n;
}

/* Reward model: the pretrained base plus a fresh head, Bradley-Terry on 800 graded pairs for 120
   steps; accuracy on 200 held-out pairs. Measured over PT_TEST_SEED 0-3: before 0.31 / 0.50 / 0.22 /
   0.41 (an untrained head), after 0.755 / 0.700 / 0.705 / 0.680 (15-25 s on 2 cores). */
static void test_reward_model(void)
{
    static pt_example c[800], r[800], vc[200], vr[200];
    static float strength[800], vs[200];
    pt_model *m = pt_model_clone(g_base, 1);
    pt_rm_config cfg;
    pt_train_result res;
    int n = pref_pairs(PT_WORLD_TRAIN, 21 + seed_shift(), 800, c, r, strength);
    int nv = pref_pairs(PT_WORLD_VALID, 22 + seed_shift(), 200, vc, vr, vs);
    float before, after;
    CHECK(m && n == 800 && nv == 200, "setup: %s", pt_last_error());
    if (!m || n != 800 || nv != 200) return;
    CHECK(pt_model_head_attach(m, 3 + seed_shift()) == PT_OK, "head: %s", pt_last_error());
    before = pair_accuracy(m, vc, vr, nv);
    memset(&cfg, 0, sizeof cfg);
    cfg.train.steps = 120;
    cfg.train.lr = 1e-3f;
    cfg.train.quiet = 1;
    cfg.batch_pairs = 16;
    cfg.margin = 0.5f;
    cfg.seed = 4 + seed_shift();
    CHECK(pt_rm_train(m, c, r, strength, n, vc, vr, nv, &cfg, &res) == PT_OK, "rm train: %s", pt_last_error());
    after = pair_accuracy(m, vc, vr, nv);
    printf("  ORM, 120 steps (%.1f s): held-out pair accuracy %.3f -> %.3f, BT loss %.3f -> %.3f\n", res.seconds, before,
           after, res.first_loss, res.last_loss);
    CHECK(after >= 0.62f && after - before >= 0.12f, "pair accuracy %.3f -> %.3f (measured after 0.68-0.755)",
          before, after);
    CHECK(res.last_loss < res.first_loss, "BT loss falls: %.3f -> %.3f", res.first_loss, res.last_loss);
    pt_examples_free(c, n);
    pt_examples_free(r, n);
    pt_examples_free(vc, nv);
    pt_examples_free(vr, nv);
    pt_model_free(m);
}

/* Process RM: the pretrained base plus a fresh head, BCE on the step labels of both sides of 800
   graded pairs for 400 steps; step accuracy and first-error detection on both sides of 200
   held-out pairs. Measured over PT_TEST_SEED 0-2: step accuracy 0.452 / 0.558 / 0.525 (an untrained
   head) -> 0.624 / 0.628 / 0.697, first error found 0.575 / 0.472 / 0.610, false alarms 0.469 /
   0.400 / 0.217 (1.000 before); 120 steps gave 0.583 / 0.625 / 0.486: the step check (is 3+4=8?)
   needs the arithmetic redone at the step's last digit, which takes training (35-80 s, loaded). */
static void test_process_reward_model(void)
{
    static pt_example c[800], r[800], vc[200], vr[200], all[1600], vall[400];
    static float strength[800], vs[200];
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_model *m = pt_model_clone(g_base, 1);
    pt_prm_config cfg;
    pt_prm_eval_result before, after;
    pt_train_result res;
    int n = pref_pairs(PT_WORLD_TRAIN, 41 + seed_shift(), 800, c, r, strength);
    int nv = pref_pairs(PT_WORLD_VALID, 42 + seed_shift(), 200, vc, vr, vs), i;
    CHECK(m && n == 800 && nv == 200, "setup: %s", pt_last_error());
    if (!m || n != 800 || nv != 200) return;
    for (i = 0; i < n; i++) {
        all[2 * i] = c[i];
        all[2 * i + 1] = r[i];
    }
    for (i = 0; i < nv; i++) {
        vall[2 * i] = vc[i];
        vall[2 * i + 1] = vr[i];
    }
    CHECK(pt_model_head_attach(m, 6 + seed_shift()) == PT_OK, "head: %s", pt_last_error());
    CHECK(pt_prm_eval(m, &tok, vall, 2 * nv, &before) == PT_OK, "eval: %s", pt_last_error());
    memset(&cfg, 0, sizeof cfg);
    cfg.train.steps = 400;
    cfg.train.lr = 1e-3f;
    cfg.train.quiet = 1;
    cfg.batch_size = 16;
    cfg.seed = 7 + seed_shift();
    CHECK(pt_prm_train(m, &tok, all, 2 * n, vall, 2 * nv, &cfg, &res) == PT_OK, "prm train: %s", pt_last_error());
    CHECK(pt_prm_eval(m, &tok, vall, 2 * nv, &after) == PT_OK, "eval: %s", pt_last_error());
    printf("  PRM, 400 steps (%.1f s): held-out step accuracy %.3f -> %.3f, first error found %.3f -> %.3f, "
           "false alarms %.3f -> %.3f (%d steps, %.3f labelled right)\n", res.seconds, before.step_accuracy,
           after.step_accuracy, before.first_error_rate, after.first_error_rate, before.false_alarm_rate,
           after.false_alarm_rate, after.n_steps, after.right_rate);
    CHECK(after.step_accuracy >= 0.58f && after.step_accuracy - before.step_accuracy >= 0.05f,
          "step accuracy %.3f -> %.3f (measured 0.452/0.558/0.525 -> 0.624/0.628/0.697)", before.step_accuracy,
          after.step_accuracy);
    CHECK(res.last_loss < res.first_loss, "BCE falls: %.3f -> %.3f", res.first_loss, res.last_loss);
    pt_examples_free(c, n);
    pt_examples_free(r, n);
    pt_examples_free(vc, nv);
    pt_examples_free(vr, nv);
    pt_model_free(m);
}

/* How many of the first 40 candidates get a greedy answer that pt_judge_parse reads as a verdict. */
static int parsed_verdicts(pt_model *m, const char **prompts, const char **completions)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int i, n = 0;
    for (i = 0; i < 40; i++) {
        char user[640], out[256];
        pt_record rec;
        pt_example ex;
        pt_gen_config g;
        pt_gen_result res;
        const int *ids[1];
        int len[1];
        memset(&rec, 0, sizeof rec);
        memset(&g, 0, sizeof g);
        pt_judge_prompt(prompts[i], completions[i], user, sizeof user);
        rec.prompt = user;
        if (pt_record_example(&tok, &rec, PT_DATA_PROMPT, 1, 0, &ex) != PT_OK) continue;
        ids[0] = ex.ids;
        len[0] = ex.n_ids;
        g.max_new_tokens = 8;
        g.stop_tokens[0] = PT_BYTE_END;
        g.n_stop_tokens = 1;
        if (ex.n_ids + 8 <= m->cfg.seq_len && pt_generate(m, ids, len, 1, 1, &g, &res) == PT_OK) {
            pt_decode(&tok, res.tokens + res.prompt_len[0], res.total_len[0] - res.prompt_len[0], out, sizeof out);
            n += pt_judge_parse(out) >= 0;
            pt_gen_result_free(&res);
        }
        pt_examples_free(&ex, 1);
    }
    return n;
}
/* Generative judge: SFT of the pretrained base on 1200 judge conversations (verdict only) for 400
   steps; p(yes) > 1/2 against the rule on 200 held-out candidates (2 of 5 right: before training
   every p(yes) is below 1/2, which scores 0.600). Measured over PT_TEST_SEED 0-2: 0.600 -> 0.665 /
   0.705 / 0.690, and every greedy answer a verdict (0 -> 40 of 40); at 150 steps 0.58-0.60 and
   8-40 verdicts of 40 (a verdict answered in one forward pass is slow to learn). */
static void test_judge(void)
{
    static pt_example ex[1200];
    static char cand[200][512];
    const char *prompts[200], *completions[200];
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_model *m = pt_model_clone(g_base, 1);
    pt_world_config wc;
    pt_dataset ds;
    pt_sft_config cfg;
    pt_train_result res;
    pt_problem probs[200];
    pt_rng rng;
    float p_yes[200];
    int i, n = 0, right_before = 0, right_after = 0, truth[200], parsed_before, parsed_after;
    float cut_before = 0.0f, cut_after = 0.0f;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1;
    wc.max_digits = 1;
    CHECK(m && pt_judge_data(&wc, PT_WORLD_TRAIN, 51 + seed_shift(), 1200, 0, &ds) == PT_OK, "setup: %s",
          pt_last_error());
    if (!m) return;
    for (i = 0; i < ds.n; i++) n += pt_record_example(&tok, &ds.records[i], PT_DATA_COMPLETION, 1, 0, &ex[i]) == PT_OK;
    CHECK(n == 1200, "judge examples: %s", pt_last_error());
    pt_rng_seed(&rng, 52 + seed_shift());
    for (i = 0; i < 200; i++) {   /* held-out candidates: every flaw kind in turn */
        pt_world_problem(&wc, PT_WORLD_VALID, 53 + seed_shift(), i, &probs[i]);
        pt_world_completion(&probs[i], i % 5, &rng, cand[i], sizeof cand[i]);
        prompts[i] = probs[i].question;
        completions[i] = cand[i];
        truth[i] = pt_reward_correct(prompts[i], completions[i], NULL) > 0.5f;
    }
    CHECK(pt_judge_score(m, &tok, prompts, completions, 200, 0, p_yes) == PT_OK, "judge: %s", pt_last_error());
    for (i = 0; i < 200; i++) {
        right_before += (p_yes[i] > 0.5f) == truth[i];
        if (i % 5 == PT_FLAW_TRUNCATED) cut_before += p_yes[i] / 40.0f;
    }
    parsed_before = parsed_verdicts(m, prompts, completions);
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = 400;
    cfg.lr = 1e-3f;
    cfg.batch_rows = 8;
    cfg.quiet = 1;
    cfg.seed = 54 + seed_shift();
    CHECK(pt_sft_train(m, ex, n, NULL, 0, &cfg, &res) == PT_OK, "judge SFT: %s", pt_last_error());
    CHECK(pt_judge_score(m, &tok, prompts, completions, 200, 0, p_yes) == PT_OK, "judge: %s", pt_last_error());
    for (i = 0; i < 200; i++) {
        right_after += (p_yes[i] > 0.5f) == truth[i];
        if (i % 5 == PT_FLAW_TRUNCATED) cut_after += p_yes[i] / 40.0f;
    }
    parsed_after = parsed_verdicts(m, prompts, completions);
    printf("  judge, 400 SFT steps (%.1f s): held-out verdict accuracy %.3f -> %.3f, p(yes) on cut-off "
           "solutions %.3f -> %.3f, greedy answers that are a verdict %d -> %d of 40\n", res.seconds,
           right_before / 200.0, right_after / 200.0, cut_before, cut_after, parsed_before, parsed_after);
    CHECK(right_after >= 126 && parsed_after >= 36,
          "verdict accuracy %.3f -> %.3f (measured 0.600 -> 0.665/0.705/0.690), verdicts %d of 40 (measured 40)",
          right_before / 200.0, right_after / 200.0, parsed_after);
    pt_examples_free(ex, n);
    pt_dataset_free(&ds);
    pt_model_free(m);
}

/* DPO: the pretrained base as policy and reference, 60 steps on 800 graded pairs; the implicit
   reward's accuracy on 200 held-out pairs (0 before: policy == reference gives equal rewards).
   Measured over PT_TEST_SEED 0-3: accuracy 0.760 / 0.755 / 0.820 / 0.770, eval loss 0.415 / 0.389 /
   0.357 / 0.399 (ln 2 = 0.693 before; 8-16 s). */
static void test_dpo(void)
{
    static pt_example c[800], r[800], vc[200], vr[200];
    static float strength[800], vs[200];
    pt_model *m = pt_model_clone(g_base, 1);
    pt_dpo_config cfg;
    pt_train_result res;
    int n = pref_pairs(PT_WORLD_TRAIN, 31 + seed_shift(), 800, c, r, strength);
    int nv = pref_pairs(PT_WORLD_VALID, 32 + seed_shift(), 200, vc, vr, vs);
    CHECK(m && n == 800 && nv == 200, "setup: %s", pt_last_error());
    if (!m || n != 800 || nv != 200) return;
    memset(&cfg, 0, sizeof cfg);
    cfg.pref.beta = 0.1f;
    cfg.train.steps = 60;
    cfg.train.lr = 1e-3f;
    cfg.train.eval_every = 60;
    cfg.train.quiet = 1;
    cfg.batch_pairs = 16;
    cfg.seed = 5 + seed_shift();
    CHECK(pt_dpo_train(m, c, r, strength, n, vc, vr, nv, &cfg, &res) == PT_OK, "dpo train: %s", pt_last_error());
    printf("  DPO, 60 steps (%.1f s): loss %.3f -> %.3f, held-out reward accuracy 0 -> %.3f (eval loss %.3f)\n",
           res.seconds, res.first_loss, res.last_loss, res.best_metric, res.best_eval_loss);
    CHECK(fabsf(res.first_loss - 0.6931f) < 1e-3f, "DPO starts at ln 2 (policy == reference): %.4f", res.first_loss);
    CHECK(res.best_metric >= 0.68f && res.best_eval_loss < 0.55f,
          "held-out reward accuracy %.3f, eval loss %.3f (measured 0.755-0.82, 0.357-0.415)", res.best_metric,
          res.best_eval_loss);
    pt_examples_free(c, n);
    pt_examples_free(r, n);
    pt_examples_free(vc, nv);
    pt_examples_free(vr, nv);
    pt_model_free(m);
}

/* The mean of a CSV column over rows [from, to] (1-based data rows): how the RL tests read curves. */
static double csv_mean(const char *path, const char *column, int from, int to)
{
    FILE *f = fopen(path, "r");
    static char line[8192];
    int col = -1, k, row = 0, n = 0;
    double sum = 0;
    char *t;
    if (!f) return NAN;
    if (!fgets(line, sizeof line, f)) { fclose(f); return NAN; }
    for (k = 0, t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), k++)
        if (!strcmp(t, column)) col = k;
    while (col >= 0 && fgets(line, sizeof line, f)) {
        if (++row < from || row > to) continue;
        for (k = 0, t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), k++)
            if (k == col) { sum += atof(t); n++; }
    }
    fclose(f);
    return n ? sum / n : NAN;
}
/* Training prompts of the 1-digit world in the base's raw format, and the R1-style rule rewards. */
static pt_example g_rl_prompts[400];
static pt_reward_term g_rl_rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};
static void make_rl_prompts(const pt_world_config *wc)
{
    int i;
    for (i = 0; i < 400; i++) {
        pt_problem p;
        if (!g_rl_prompts[i].ids) g_rl_prompts[i].ids = (int *)malloc(64 * sizeof(int));
        pt_world_problem(wc, PT_WORLD_TRAIN, 9 + seed_shift(), i, &p);
        g_rl_prompts[i].n_ids = g_rl_prompts[i].n_prompt = pt_world_prompt(&p, 0, g_rl_prompts[i].ids, 64);
    }
}
static void rl_gen(pt_gen_config *g)
{
    memset(g, 0, sizeof *g);
    g->max_new_tokens = 24;
    g->stop_tokens[0] = '\n';   /* the raw format's end of a solution */
    g->stop_tokens[1] = PT_BYTE_EOS;
    g->n_stop_tokens = 2;
}
/* The GRPO tests' recipe: 8 prompts x 8 samples with the rule rewards, lr 3e-4 (no warmup, cosine to
   lr / 10), quiet, a CSV of the rollouts. */
static void grpo_recipe(pt_grpo_config *g, int steps, const char *csv)
{
    memset(g, 0, sizeof *g);
    g->train.steps = steps;
    g->train.lr = 3e-4f;
    g->train.warmup = PT_ZERO;
    g->train.csv_path = csv;
    g->train.quiet = 1;
    g->prompts_per_step = 8;
    g->group_size = 8;
    rl_gen(&g->gen);
    g->rewards = g_rl_rewards;
    g->n_rewards = 2;
    g->seed = seed_shift();
}

/* GRPO from the pretrained base (the R1-Zero recipe on the 1-digit world): 8 prompts x 8 samples,
   300 rollouts, lr 3e-4, beta 0.04. The learning effect is the correctness reward of fresh samples
   (T = 1) in the first 30 rollouts against the last 30. Measured (PT_TEST_SEED 0): 0.454 -> 0.632 with
   gcc, 0.448 -> 0.629 with clang; greedy training-class accuracy 0.84 -> 0.90 / 0.88; KL 0.23 nats
   (9 s on 2 cores).
   At lr 1e-3 the same run collapses (KL 21 nats, accuracy 0.14): the reason for the conservative lr. */
static void test_grpo(void)
{
    pt_world_config wc;
    pt_model *m = pt_model_clone(g_base, 1);
    pt_grpo_config g;
    pt_train_result res;
    pt_world_eval_result before, after;
    double first, last, kl;
    const char *csv = tmp_path("grpo.csv");
    memset(&wc, 0, sizeof wc);
    wc.min_digits = wc.max_digits = 1;
    CHECK(m != NULL, "clone: %s", pt_last_error());
    if (!m) return;
    make_rl_prompts(&wc);
    grpo_recipe(&g, 300, csv);
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 50, 0, &before) == PT_OK, "eval: %s", pt_last_error());
    CHECK(pt_grpo_train(m, g_rl_prompts, 400, &g, &res) == PT_OK, "grpo: %s", pt_last_error());
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 50, 0, &after) == PT_OK, "eval: %s", pt_last_error());
    first = csv_mean(csv, "r_correct", 1, 30);
    last = csv_mean(csv, "r_correct", 271, 300);
    kl = csv_mean(csv, "kl", 271, 300);
    printf("  GRPO: sampled correctness %.3f -> %.3f, greedy accuracy %.2f -> %.2f, KL %.3f nats, %.1f s "
           "(generation %.1f, log-probs %.1f, updates %.1f)\n", first, last, before.accuracy, after.accuracy, kl,
           res.seconds, res.gen_seconds, res.logprob_seconds, res.update_seconds);
    CHECK(last >= first + 0.08, "GRPO: sampled correctness %.3f -> %.3f (measured 0.454 -> 0.632)", first, last);
    CHECK(after.accuracy >= 0.7f, "GRPO: greedy accuracy fell to %.2f (measured 0.84 -> 0.88)", after.accuracy);
    CHECK(kl > 0.01 && kl < 3.0, "GRPO: KL %.3f nats (measured 0.3)", kl);
    pt_model_free(m);
}

/* Rejection sampling, then SFT on what was kept (STaR's loop, one iteration, from the base): 8
   samples (T = 1) per training prompt of the 1-digit world, the correct ones kept (at most 2 per
   prompt, distinct), 100 SFT steps from the base on them. The learning effect is the mean
   correctness of fresh samples (another seed) before and after. Measured (gcc, PT_TEST_SEED 0, 1, 2):
   0.470 -> 0.568, 0.383 -> 0.443, 0.520 -> 0.585 (kept 529-570 of 3200 samples; 4 s on 2 cores). */
static void test_rejection_sampling(void)
{
    static char texts[400][192];
    const char *prompts[400];
    pt_world_config wc;
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_reward_term correct = {"correct", pt_reward_correct, NULL, 1.0f};
    pt_model *m = pt_model_clone(g_base, 1);
    pt_rs_config c;
    pt_rs_result before, kept_res, after;
    pt_dataset kept, probe;
    pt_example *ex;
    pt_sft_config sc;
    int i;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = wc.max_digits = 1;
    CHECK(m != NULL, "clone: %s", pt_last_error());
    if (!m) return;
    for (i = 0; i < 400; i++) {
        pt_problem p;
        pt_world_problem(&wc, PT_WORLD_TRAIN, 19 + seed_shift(), i, &p);
        snprintf(texts[i], sizeof texts[i], "%sA: ", p.question);
        prompts[i] = texts[i];
    }
    memset(&c, 0, sizeof c);
    c.samples = 8;
    c.keep = 2;
    c.distinct = 1;
    c.min_score = 1.0f;
    c.rewards = &correct;
    c.n_rewards = 1;
    rl_gen(&c.gen);
    c.gen.seed = 1 + seed_shift();
    c.jsonl_path = tmp_path("rs.jsonl");
    CHECK(pt_rejection_sample(m, prompts, 400, &c, &kept, &kept_res) == PT_OK, "RS: %s", pt_last_error());
    c.gen.seed = 2 + seed_shift();
    c.jsonl_path = NULL;
    CHECK(pt_rejection_sample(m, prompts, 400, &c, &probe, &before) == PT_OK, "RS: %s", pt_last_error());
    pt_dataset_free(&probe);
    ex = (pt_example *)calloc((size_t)kept.n + 1, sizeof(pt_example));
    for (i = 0; i < kept.n; i++)
        CHECK(pt_record_example(&tok, &kept.records[i], PT_DATA_COMPLETION, 0, 0, &ex[i]) == PT_OK, "example: %s",
              pt_last_error());
    memset(&sc, 0, sizeof sc);
    sc.steps = 100;
    sc.batch_rows = 16;
    sc.lr = 1e-3f;
    sc.eval_every = 100;
    sc.quiet = 1;
    CHECK(kept.n > 0 && pt_sft_train(m, ex, kept.n, NULL, 0, &sc, NULL) == PT_OK, "SFT on %d kept: %s", kept.n,
          pt_last_error());
    CHECK(pt_rejection_sample(m, prompts, 400, &c, &probe, &after) == PT_OK, "RS: %s", pt_last_error());
    pt_dataset_free(&probe);
    printf("  rejection sampling: kept %d of %d samples (%d of %d prompts); sampled correctness %.3f -> %.3f\n",
           kept_res.n_kept, kept_res.n_samples, kept_res.prompts_with_kept, kept_res.n_prompts, before.mean_score,
           after.mean_score);
    CHECK(kept_res.n_kept > 100 && kept_res.n_kept <= 800, "kept %d", kept_res.n_kept);
    CHECK(after.mean_score >= before.mean_score + 0.03, "sampled correctness %.3f -> %.3f (measured +0.06 to +0.10)",
          before.mean_score, after.mean_score);
    pt_examples_free(ex, kept.n);
    free(ex);
    pt_dataset_free(&kept);
    pt_model_free(m);
}

/* Test-time compute on the base (raw format, 100 training-class problems of the 1-digit world, T = 1):
   the majority vote of 8 samples against one sample (self-consistency). Measured (gcc, PT_TEST_SEED 0
   and 1): one sample 0.451 / 0.362, majority 0.63 / 0.55. Then MCTS over steps (4 simulations of 4
   children) with a PRM trained on the base's own samples (16 x 100 other problems, exact step
   labels, 300 steps): its mechanics (below). */
static void test_test_time(void)
{
    static int ids[100][64];
    static const int *pp[100];
    static int lens[100];
    static pt_problem probs[100];
    static pt_mcts_result res[100];
    pt_world_config wc;
    pt_gen_config g;
    pt_gen_result r;
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_mcts_config mc;
    long long answers[8];
    unsigned char has[8], right[8];
    int i, j, sample_right = 0, vote_right = 0, mcts_right = 0, mcts_tokens = 0, mcts_complete = 0;
    pt_model *prm = pt_model_clone(g_base, 1);
    pt_prm_config pc;
    static pt_example ex[1600];
    int n_ex;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = wc.max_digits = 1;
    CHECK(prm != NULL, "clone: %s", pt_last_error());
    if (!prm) return;
    for (i = 0; i < 100; i++) {   /* the PRM's data: the base's samples on problems of another seed */
        pt_problem p;
        pt_world_problem(&wc, PT_WORLD_TRAIN, 29 + seed_shift(), i, &p);
        lens[i] = pt_world_prompt(&p, 0, ids[i], 64);
        pp[i] = ids[i];
    }
    rl_gen(&g);
    g.sampler.temperature = 1.0f;
    g.seed = 3 + seed_shift();
    CHECK(pt_generate(g_base, pp, lens, 100, 16, &g, &r) == PT_OK, "generate: %s", pt_last_error());
    n_ex = r.tokens ? pt_examples_from_generations(&r, NULL, PT_BYTE_EOS, ex) : 0;
    pt_gen_result_free(&r);
    memset(&pc, 0, sizeof pc);
    pc.train.steps = 300;
    pc.train.lr = 1e-3f;
    pc.train.quiet = 1;
    pc.batch_size = 16;
    pc.seed = 7 + seed_shift();
    CHECK(n_ex == 1600 && pt_model_head_attach(prm, 6) == PT_OK &&
          pt_prm_train(prm, &tok, ex, 1400, ex + 1400, 200, &pc, NULL) == PT_OK, "PRM: %s", pt_last_error());
    pt_examples_free(ex, n_ex);
    for (i = 0; i < 100; i++) {
        pt_world_problem(&wc, PT_WORLD_TRAIN, 23 + seed_shift(), i, &probs[i]);
        lens[i] = pt_world_prompt(&probs[i], 0, ids[i], 64);
        pp[i] = ids[i];
    }
    rl_gen(&g);
    g.sampler.temperature = 1.0f;
    g.seed = 4 + seed_shift();
    CHECK(pt_generate(g_base, pp, lens, 100, 8, &g, &r) == PT_OK, "generate: %s", pt_last_error());
    for (i = 0; i < 100 && r.tokens; i++) {
        int vote;
        for (j = 0; j < 8; j++) {
            char text[256];
            pt_world_score sc;
            int k = i * 8 + j;
            pt_decode(&tok, r.tokens + (size_t)k * r.width + r.prompt_len[k], r.total_len[k] - r.prompt_len[k], text,
                      sizeof text);
            pt_world_score_text(&probs[i], text, &sc);
            answers[j] = sc.answer;
            has[j] = (unsigned char)sc.has_answer;
            right[j] = (unsigned char)sc.correct;
            sample_right += sc.correct;
        }
        vote = pt_majority_vote(answers, has, NULL, 8);
        vote_right += vote >= 0 && right[vote];
    }
    pt_gen_result_free(&r);
    memset(&mc, 0, sizeof mc);
    mc.simulations = 4;
    mc.expand = 4;
    mc.max_new_tokens = 24;
    mc.stop_tokens[0] = '\n';
    mc.stop_tokens[1] = PT_BYTE_EOS;
    mc.n_stop_tokens = 2;
    mc.seed = 5 + seed_shift();
    CHECK(pt_mcts_solve(g_base, prm, pp, lens, 100, &mc, res) == PT_OK, "MCTS: %s", pt_last_error());
    for (i = 0; i < 100; i++) {
        pt_world_score sc;
        pt_world_score_text(&probs[i], res[i].text, &sc);
        mcts_right += sc.correct;
        mcts_tokens += res[i].tokens;
        mcts_complete += res[i].complete;
    }
    printf("  test-time: one sample %.3f, majority of 8 %.2f, MCTS (4 x 4, PRM) %.2f at %.0f tokens/problem\n",
           sample_right / 800.0, vote_right / 100.0, mcts_right / 100.0, mcts_tokens / 100.0);
    CHECK(vote_right / 100.0 >= sample_right / 800.0 + 0.15, "majority %.2f vs one sample %.3f", vote_right / 100.0,
          sample_right / 800.0);
    /* MCTS is only as good as its PRM: this one (300 steps on the base's own samples) does not know the
       sums better than the base samples them, and MCTS picked worse answers than one sample (0.29 vs
       0.45; examples/test_time.c measures it with a better PRM). What must hold is the mechanics. */
    CHECK(mcts_complete >= 90 && mcts_tokens > 100 * 8, "MCTS: %d of 100 complete, %d tokens", mcts_complete,
          mcts_tokens);
    pt_model_free(prm);
}

/* PPO with a fresh critic (a clone of the base with a value head), the same rule rewards, 64 prompts
   per rollout, 4 epochs, kl_coef 0.05, 150 rollouts. Measured (PT_TEST_SEED 0): sampled correctness
   over the first 15 rollouts -> the last 15: 0.455 -> 0.748 (gcc), 0.433 -> 0.739 (clang), KL 0.40 /
   0.38 nats (23 s on 2 cores). The bound the issue asks for: KL stays below 2 nats per sequence. */
static void test_ppo(void)
{
    pt_world_config wc;
    pt_model *m = pt_model_clone(g_base, 1);
    pt_ppo_config p;
    pt_train_result res;
    double first, last, kl;
    const char *csv = tmp_path("ppo.csv");
    memset(&wc, 0, sizeof wc);
    wc.min_digits = wc.max_digits = 1;
    CHECK(m != NULL, "clone: %s", pt_last_error());
    if (!m) return;
    make_rl_prompts(&wc);
    memset(&p, 0, sizeof p);
    p.train.steps = 150;
    p.train.lr = 3e-4f;
    p.train.warmup = PT_ZERO;
    p.train.csv_path = csv;
    p.train.quiet = 1;
    p.prompts_per_step = 64;
    rl_gen(&p.gen);
    p.rewards = g_rl_rewards;
    p.n_rewards = 2;
    p.seed = seed_shift();
    CHECK(pt_ppo_train(m, g_rl_prompts, 400, &p, &res) == PT_OK, "ppo: %s", pt_last_error());
    first = csv_mean(csv, "r_correct", 1, 15);
    last = csv_mean(csv, "r_correct", 136, 150);
    kl = csv_mean(csv, "kl", 136, 150);
    printf("  PPO: sampled correctness %.3f -> %.3f, KL %.3f nats, %.1f s\n", first, last, kl, res.seconds);
    CHECK(last >= first + 0.12, "PPO: sampled correctness %.3f -> %.3f (measured 0.455 -> 0.748)", first, last);
    CHECK(kl < 2.0, "PPO: KL %.3f nats, above the 2-nat bound (measured 0.38)", kl);
    pt_model_free(m);
}

/* "SFT memorizes, RL generalizes" (Chu et al. 2025) in miniature, the effect examples/sft_vs_rl.c
   measures at scale: a tiny base pretrained (800 steps) on the 1-digit world with half of its
   documents under the no-carry rule ("Q: 7+5=? (no carry)" -> 2) learns both rules; post-training
   sees only the carry rule. Accuracy under each rule on 80 training-class problems (greedy).
   Measured (PT_TEST_SEED 0, gcc): base 0.98 / 0.98 (carry / no carry); SFT at lr 3e-3 for 300
   steps 1.00 / 0.10; GRPO (test_grpo's recipe, 150 rollouts) 0.95 / 0.95 while its samples'
   correctness rose 0.793 -> 0.874. Not every setting shows it: SFT at lr 1e-3 for 150 steps from a
   base that had fully learned both (1000 pretraining steps) kept the variant (0.98), and with 600
   pretraining steps the base had not learned the variant yet (0.10). examples/sft_vs_rl.c shows the
   same dependence on SFT's learning rate at 1-3 digits. */
static void test_rule_variant(void)
{
    static int corpus[200000];
    pt_config c = mkcfg(48, 2, 4, 2, 128, PT_BYTE_VOCAB, 64, 0);
    pt_world_config wc, nc;
    pt_model *base, *m;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_rng rng;
    pt_world_eval_result carry0, var0, carry_sft, var_sft, carry_rl, var_rl;
    pt_sft_config s;
    pt_grpo_config g;
    static pt_example demos[1500];
    int64_t n;
    float first = 0, last = 0;
    double r_first, r_last;
    int i;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = wc.max_digits = 1;
    wc.variant = 0.5f;
    nc = wc;
    nc.rule = PT_RULE_NO_CARRY;
    base = pt_model_new(&c, 6 + seed_shift());
    CHECK(base && ctx, "model: %s", pt_last_error());
    if (!base || !ctx) return;
    pt_rng_seed(&rng, 4 + seed_shift());
    n = pt_world_corpus(&wc, 3, 5000, corpus, 200000);
    pretrain_windows(base, ctx, &rng, corpus, n, 8, 64, 800, &first, &last);
    CHECK(pt_world_eval(base, &wc, PT_WORLD_TRAIN, 80, 0, &carry0) == PT_OK &&
          pt_world_eval(base, &nc, PT_WORLD_TRAIN, 80, 0, &var0) == PT_OK, "eval: %s", pt_last_error());
    wc.variant = 0.0f;   /* post-training data: the carry rule only */
    for (i = 0; i < 1500; i++) {
        pt_problem p;
        char text[sizeof p.question + sizeof p.solution + 2];
        pt_tokenizer tok = pt_byte_tokenizer();
        pt_world_problem(&wc, PT_WORLD_TRAIN, 21, i, &p);
        snprintf(text, sizeof text, "%s%s\n", p.question, p.solution);   /* the raw format of the corpus */
        demos[i].ids = (int *)malloc(256 * sizeof(int));
        demos[i].n_prompt = pt_world_prompt(&p, 0, demos[i].ids, 256);
        demos[i].n_ids = tok.encode(&tok, text, 1, 1, demos[i].ids, 256);
    }
    m = pt_model_clone(base, 1);
    memset(&s, 0, sizeof s);
    s.steps = 300;
    s.lr = 3e-3f;
    s.quiet = 1;
    CHECK(m && pt_sft_train(m, demos, 1500, NULL, 0, &s, NULL) == PT_OK, "sft: %s", pt_last_error());
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 80, 0, &carry_sft) == PT_OK &&
          pt_world_eval(m, &nc, PT_WORLD_TRAIN, 80, 0, &var_sft) == PT_OK, "eval: %s", pt_last_error());
    pt_model_free(m);
    m = pt_model_clone(base, 1);
    make_rl_prompts(&wc);
    grpo_recipe(&g, 150, tmp_path("rule_variant_grpo.csv"));
    CHECK(m && pt_grpo_train(m, g_rl_prompts, 400, &g, NULL) == PT_OK, "grpo: %s", pt_last_error());
    CHECK(pt_world_eval(m, &wc, PT_WORLD_TRAIN, 80, 0, &carry_rl) == PT_OK &&
          pt_world_eval(m, &nc, PT_WORLD_TRAIN, 80, 0, &var_rl) == PT_OK, "eval: %s", pt_last_error());
    r_first = csv_mean(tmp_path("rule_variant_grpo.csv"), "r_correct", 1, 15);
    r_last = csv_mean(tmp_path("rule_variant_grpo.csv"), "r_correct", 136, 150);
    printf("  carry / no-carry accuracy: base %.2f / %.2f, SFT %.2f / %.2f, GRPO %.2f / %.2f (its samples' "
           "correctness %.3f -> %.3f)\n", carry0.accuracy, var0.accuracy, carry_sft.accuracy, var_sft.accuracy,
           carry_rl.accuracy, var_rl.accuracy, r_first, r_last);
    CHECK(r_last >= r_first + 0.04, "GRPO did not learn: samples' correctness %.3f -> %.3f (measured 0.793 -> 0.874)",
          r_first, r_last);
    CHECK(var0.accuracy >= 0.7f, "the base did not learn the no-carry rule: %.2f (measured 0.98)", var0.accuracy);
    CHECK(carry_sft.accuracy >= 0.9f, "SFT did not learn the carry rule: %.2f (measured 1.00)", carry_sft.accuracy);
    CHECK(var_sft.accuracy <= var0.accuracy - 0.3f, "SFT kept the variant: %.2f -> %.2f (measured 0.98 -> 0.10)",
          var0.accuracy, var_sft.accuracy);
    CHECK(var_rl.accuracy >= var0.accuracy - 0.15f, "GRPO lost the variant: %.2f -> %.2f (measured 0.98 -> 0.95)",
          var0.accuracy, var_rl.accuracy);
    CHECK(var_rl.accuracy >= var_sft.accuracy + 0.2f, "no-carry accuracy: GRPO %.2f vs SFT %.2f", var_rl.accuracy,
          var_sft.accuracy);
    pt_examples_free(demos, 1500);
    pt_model_free(m);
    pt_model_free(base);
    pt_ctx_free(ctx);
}

/* Quiet-STaR, small (examples/quiet_star.c on the 1-digit base): the algorithm opens a thought
   ("A: <think>"), the model writes it, and GRPO's reward is how much the thought raises the
   likelihood of the true answer, mixed 1/2 with the prediction without it:
   r = log(p_with / 2 + p_without / 2) - log p_without. No answer checker in the reward; the test
   asserts (1) the signal: under the base, thoughts whose steps are all right add more nats than
   thoughts with a wrong step, and (2) that GRPO raises the mean reward (first 20 rollouts against
   the last 20; 150 rollouts of 8 x 8, 7 s). Measured (gcc, PT_TEST_SEED 0, 1, 2): see the CHECK
   messages. Not asserted, because it does not hold robustly: better answers. Sampled correctness
   (8 samples per training problem, T = 1) went 0.450 -> 0.525, 0.403 -> 0.352, 0.512 -> 0.550;
   300 rollouts at lr 1e-4 gave the same picture. The reward, dominated by log p(answer | thought),
   also moves with p(answer | no thought), which the group baseline cancels in the update but not in
   the mean. */
static pt_model *g_qs_model;
static int qs_answer_logp(char **prefix, char **answer, int n, float *out)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_example *ex = (pt_example *)calloc((size_t)n, sizeof(pt_example));
    int i, st;
    for (i = 0; i < n; i++) {
        int cap = (int)(strlen(prefix[i]) + strlen(answer[i])) + 8;
        ex[i].ids = (int *)malloc(sizeof(int) * (size_t)cap);
        ex[i].n_prompt = tok.encode(&tok, prefix[i], 0, 0, ex[i].ids, cap);
        ex[i].n_ids = ex[i].n_prompt + tok.encode(&tok, answer[i], 0, 0, ex[i].ids + ex[i].n_prompt, cap - ex[i].n_prompt);
    }
    st = pt_sequence_logprobs(g_qs_model, ex, n, 32, out, NULL);
    pt_examples_free(ex, n);
    free(ex);
    return st;
}
static int qs_reward(const char *const *prompts, const char *const *thoughts, int n, float *r, void *user)
{
    char **pre = (char **)calloc(2 * (size_t)n, sizeof(char *)), **ans = (char **)calloc(2 * (size_t)n, sizeof(char *));
    float *lp = (float *)calloc(2 * (size_t)n, sizeof(float));
    int i, st;
    (void)user;
    for (i = 0; i < n; i++) {
        pt_problem p;
        const char *q = strstr(prompts[i], "<think>");
        int head = q ? (int)(q - prompts[i]) : (int)strlen(prompts[i]);
        pt_world_parse(prompts[i], &p);
        pre[2 * i] = (char *)malloc(strlen(prompts[i]) + strlen(thoughts[i]) + 32);
        pre[2 * i + 1] = (char *)malloc(strlen(prompts[i]) + 32);
        ans[2 * i] = ans[2 * i + 1] = (char *)malloc(40);
        sprintf(pre[2 * i], "%s%s</think><answer>", prompts[i], thoughts[i]);
        sprintf(pre[2 * i + 1], "%.*s<answer>", head, prompts[i]);
        sprintf(ans[2 * i], "%lld</answer>", p.answer);
    }
    st = qs_answer_logp(pre, ans, 2 * n, lp);
    for (i = 0; i < n; i++) {
        double a = lp[2 * i], b = lp[2 * i + 1], hi = a > b ? a : b;
        r[i] = (float)(hi + log(0.5 * exp(a - hi) + 0.5 * exp(b - hi)) - b);
        free(pre[2 * i]);
        free(pre[2 * i + 1]);
        free(ans[2 * i]);
    }
    free(pre);
    free(ans);
    free(lp);
    return st;
}
/* The signal Quiet-STaR learns from: 8 thoughts (T = 1) for each of 40 training problems, scored by
   qs_reward under m; the mean reward of the thoughts whose steps are all right against the rest. */
static void qs_signal(pt_model *m, const pt_example *prompts, const pt_world_config *wc, double *right, double *wrong)
{
    enum { NP = 40, K = 8 };
    pt_tokenizer tok = pt_byte_tokenizer();
    const int *pp[NP];
    int lens[NP], i, n_right = 0, n_wrong = 0;
    static char ptext[NP * K][160], ttext[NP * K][160];
    const char *pv[NP * K], *tv[NP * K];
    float r[NP * K];
    pt_gen_config g;
    pt_gen_result out;
    *right = *wrong = NAN;
    for (i = 0; i < NP; i++) {
        pp[i] = prompts[i].ids;
        lens[i] = prompts[i].n_ids;
    }
    rl_gen(&g);
    g.stop_tokens[0] = PT_BYTE_THINK_END;
    g.sampler.temperature = 1.0f;
    g.seed = 123;
    if (pt_generate(m, pp, lens, NP, K, &g, &out) != PT_OK) return;
    for (i = 0; i < NP * K; i++) {
        const int *seq = out.tokens + (int64_t)i * out.width;
        int p = out.prompt_len[i], len = out.total_len[i];
        int stopped = len > p && seq[len - 1] == PT_BYTE_THINK_END;
        pt_decode(&tok, seq, p, ptext[i], 160);
        pt_decode(&tok, seq + p, len - p - stopped, ttext[i], 160);
        pv[i] = ptext[i];
        tv[i] = ttext[i];
    }
    pt_gen_result_free(&out);
    g_qs_model = m;
    if (qs_reward(pv, tv, NP * K, r, NULL) != PT_OK) return;
    *right = *wrong = 0;
    for (i = 0; i < NP * K; i++) {
        pt_problem prob;
        pt_world_score sc;
        char text[sizeof ttext[0] + 24];
        pt_world_problem(wc, PT_WORLD_TRAIN, 9 + seed_shift(), i / K, &prob);
        snprintf(text, sizeof text, "<think>%.159s</think>", ttext[i]);
        pt_world_score_text(&prob, text, &sc);
        if (sc.n_steps > 0 && sc.steps_ok == sc.n_steps) {
            *right += r[i];
            n_right++;
        } else {
            *wrong += r[i];
            n_wrong++;
        }
    }
    *right = n_right ? *right / n_right : NAN;
    *wrong = n_wrong ? *wrong / n_wrong : NAN;
}
static void test_quiet_star(void)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_world_config wc;
    pt_model *m = pt_model_clone(g_base, 1);
    pt_example prompts[400];
    pt_grpo_config g;
    pt_train_result res;
    pt_world_sampled_result before, after;
    pt_sampler t1 = {1.0f, 0, 0.0f};
    double first, last, sig_right, sig_wrong;
    const char *csv = tmp_path("quiet_star.csv");
    int i, steps = 150;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = wc.max_digits = 1;
    memset(prompts, 0, sizeof prompts);
    CHECK(m != NULL, "clone: %s", pt_last_error());
    if (!m) return;
    for (i = 0; i < 400; i++) {   /* "Q: 3+4=?\nA: <think>": the thought is opened for the model */
        pt_problem p;
        char text[sizeof p.question + 16];
        pt_world_problem(&wc, PT_WORLD_TRAIN, 9 + seed_shift(), i, &p);
        snprintf(text, sizeof text, "%sA: <think>", p.question);
        prompts[i].ids = (int *)malloc(64 * sizeof(int));
        prompts[i].n_ids = prompts[i].n_prompt = tok.encode(&tok, text, 1, 0, prompts[i].ids, 64);
    }
    grpo_recipe(&g, steps, csv);
    g.gen.stop_tokens[0] = PT_BYTE_THINK_END;   /* the end of the thought */
    g.rewards = NULL;
    g.n_rewards = 0;
    g.reward_batch = qs_reward;
    g_qs_model = m;   /* the likelihoods are the current model's, as in Quiet-STaR */
    CHECK(pt_world_eval_sampled(m, &wc, PT_WORLD_TRAIN, 50, 0, 8, 1, &t1, 77, &before) == PT_OK, "eval: %s", pt_last_error());
    qs_signal(m, prompts, &wc, &sig_right, &sig_wrong);
    printf("  the signal: a thought with right steps adds %.2f nats, one with a wrong step %.2f\n", sig_right, sig_wrong);
    CHECK(pt_grpo_train(m, prompts, 400, &g, &res) == PT_OK, "quiet-star: %s", pt_last_error());
    CHECK(pt_world_eval_sampled(m, &wc, PT_WORLD_TRAIN, 50, 0, 8, 1, &t1, 77, &after) == PT_OK, "eval: %s", pt_last_error());
    first = csv_mean(csv, "reward", 1, 20);
    last = csv_mean(csv, "reward", steps - 19, steps);
    printf("  Quiet-STaR: reward (nats a thought adds) %.3f -> %.3f, sampled correctness %.3f -> %.3f, greedy %.2f -> %.2f, %.1f s\n",
           first, last, before.mean, after.mean, before.greedy, after.greedy, res.seconds);
    CHECK(sig_right >= sig_wrong + 1.0, "Quiet-STaR: right thoughts add %.2f nats, wrong ones %.2f (measured 7.28 / 4.34, "
          "13.82 / 9.81, 13.65 / 11.51)", sig_right, sig_wrong);
    CHECK(last >= first + 0.3, "Quiet-STaR: reward %.3f -> %.3f (measured +1.79, +0.75, +1.01)", first, last);
    CHECK(after.greedy >= 0.5f, "Quiet-STaR: greedy accuracy fell to %.2f (measured 0.84 -> 0.84, 0.88 -> 0.56, 0.88 -> 0.86)",
          after.greedy);
    pt_examples_free(prompts, 400);
    pt_model_free(m);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_learning")) return 1;
    RUN("pretraining", test_pretraining);
    RUN("PEFT: the same SFT budget on different trainable sets", test_peft_learning);
    RUN("distillation: a small student learns from the SFT teacher's answers", test_distillation);
    RUN("SFT of stories260K to a house style (LoRA)", test_stories_habit);
    RUN("reward model: Bradley-Terry on graded pairs", test_reward_model);
    RUN("process reward model: BCE on step labels", test_process_reward_model);
    RUN("generative judge: SFT on verdicts", test_judge);
    RUN("DPO on graded pairs", test_dpo);
    RUN("GRPO from the base with rule rewards (R1-Zero, 1 digit)", test_grpo);
    RUN("PPO with a fresh critic and rule rewards", test_ppo);
    RUN("rejection sampling, then SFT on the kept samples (STaR's loop)", test_rejection_sampling);
    RUN("test-time compute: majority vote and MCTS with the PRM", test_test_time);
    RUN("SFT vs GRPO on a rule variant (Chu et al. 2025)", test_rule_variant);
    RUN("Quiet-STaR, small: thoughts rewarded by the likelihood they add", test_quiet_star);
    pt_examples_free(g_rl_prompts, 400);
    pt_model_free(g_base);
    return finish_tmp("test_learning", t0);
}
