/* example.h - the few lines several examples share. Include after posttrain.h; only the public
   API is used here. */
#ifndef PT_EXAMPLE_H
#define PT_EXAMPLE_H
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy a run's (step, loss) rows from its SFT metrics CSV (pt_sft_config.csv_path) into a combined
   curves file as "name,step,loss" lines, then delete the run's CSV. */
static inline void append_curve(FILE *out, const char *name, const char *path)
{
    FILE *in = fopen(path, "r");
    char line[512];
    if (!in || !out) { if (in) fclose(in); return; }
    if (fgets(line, sizeof line, in))   /* header: step,loss,... */
        while (fgets(line, sizeof line, in)) {
            int step; float loss;
            if (sscanf(line, "%d,%f", &step, &loss) == 2) fprintf(out, "%s,%d,%.5f\n", name, step, loss);
        }
    fclose(in);
    remove(path);
}

/* Print a model's held-out results: the in-distribution test split (accuracy with its 95% interval
   and per digit count), format and step accuracy, the out-of-distribution split (4 digits) and,
   when mixed is not NULL, the mixed-length split. */
static inline void print_eval(const char *when, const pt_world_eval_result *id, const pt_world_eval_result *ood,
                              const pt_world_eval_result *mixed)
{
    char line[160];
    pt_world_eval_format(id, line, sizeof line);
    printf("  %-7s  ID test accuracy %s\n", when, line);
    printf("           format %5.1f%%  steps %5.1f%%   OOD (4 digits) accuracy %5.1f%%  format %5.1f%%\n",
           100 * id->format_rate, 100 * id->step_accuracy, 100 * ood->accuracy, 100 * ood->format_rate);
    if (mixed) {
        pt_world_eval_format(mixed, line, sizeof line);
        printf("           mixed lengths (composition) %s\n", line);
    }
}
/* The metric examples choose checkpoints by: greedy accuracy (chat template) on 400 problems of the
   validation split, never the test split they report; user is the pt_world_config. */
static inline float valid_accuracy(pt_model *m, void *user)
{
    pt_world_eval_result r;
    return pt_world_eval(m, (const pt_world_config *)user, PT_WORLD_VALID, 400, 1, &r) == PT_OK ? r.accuracy : 0.0f;
}
/* The RL examples' prompts: n training-class problems of the world (seed as pt_world_problem) in the
   base model's raw format "<bos>Q: 47+85=?\nA: " (prompt-only examples; free with pt_examples_free). */
static inline int raw_prompts(const pt_world_config *wc, uint64_t seed, int n, pt_example *out)
{
    int i;
    for (i = 0; i < n; i++) {
        pt_problem p;
        if (!(out[i].ids = (int *)malloc(64 * sizeof(int)))) return -1;
        pt_world_problem(wc, PT_WORLD_TRAIN, seed, i, &p);
        out[i].n_ids = out[i].n_prompt = pt_world_prompt(&p, 0, out[i].ids, 64);
    }
    return n;
}
/* Sampling for the raw format: T = 1, a solution ends with a newline (then <eos>). */
static inline void raw_gen(pt_gen_config *g, int max_new_tokens)
{
    memset(g, 0, sizeof *g);
    g->max_new_tokens = max_new_tokens;
    g->sampler.temperature = 1.0f;
    g->stop_tokens[0] = '\n';
    g->stop_tokens[1] = PT_BYTE_EOS;
    g->n_stop_tokens = 2;
}
/* Sampling for the chat template: T = 1, a reply ends at <|end|> (or <eos>). */
static inline void chat_gen(pt_gen_config *g, int max_new_tokens)
{
    memset(g, 0, sizeof *g);
    g->max_new_tokens = max_new_tokens;
    g->sampler.temperature = 1.0f;
    g->stop_tokens[0] = PT_BYTE_END;
    g->stop_tokens[1] = PT_BYTE_EOS;
    g->n_stop_tokens = 2;
}
/* SFT of m on the records of a completion dataset (rejection sampling's kept samples, STaR's
   rationales): batches of 16 rows, one evaluation at the end, quiet when csv_path is NULL.
   Returns PT_OK or the error (nothing kept: PT_ERR_ARG). */
static inline int sft_on_records(pt_model *m, const pt_dataset *kept, int chat, int steps, float lr,
                                 const char *csv_path)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_example *ex = (pt_example *)calloc((size_t)kept->n + 1, sizeof(pt_example));
    pt_sft_config c;
    int i, st = PT_OK;
    if (!ex) return PT_ERR_NOMEM;
    for (i = 0; i < kept->n && st == PT_OK; i++)
        st = pt_record_example(&tok, &kept->records[i], PT_DATA_COMPLETION, chat, 0, &ex[i]);
    memset(&c, 0, sizeof c);
    c.steps = steps;
    c.batch_rows = 16;
    c.lr = lr;
    c.eval_every = steps;
    c.csv_path = csv_path;
    c.quiet = csv_path == NULL;
    if (st == PT_OK) st = kept->n < 1 ? PT_ERR_ARG : pt_sft_train(m, ex, kept->n, NULL, 0, &c, NULL);
    pt_examples_free(ex, kept->n);
    free(ex);
    return st;
}
/* The mean of a CSV column over data rows [from, to] (1-based), skipping "nan"; -1 if none. */
static inline double csv_mean(const char *path, const char *column, int from, int to)
{
    FILE *f = fopen(path, "r");
    static char line[8192];
    int col = -1, k, row = 0, n = 0;
    double sum = 0;
    char *t;
    if (!f) return -1;
    if (fgets(line, sizeof line, f))
        for (k = 0, t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), k++)
            if (!strcmp(t, column)) col = k;
    while (col >= 0 && fgets(line, sizeof line, f)) {
        if (++row < from || row > to) continue;
        for (k = 0, t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), k++)
            if (k == col && strcmp(t, "nan") != 0) {
                sum += atof(t);
                n++;
            }
    }
    fclose(f);
    return n ? sum / n : -1;
}
/* A learned outcome RM as a batch reward (pt_batch_reward_fn; user = the RM): its score of each
   (prompt, completion), on the example it was trained on, the chat template with the completion
   closed by <|end|><eos>. */
static inline int rm_reward(const char *const *prompts, const char *const *completions, int n, float *out, void *user)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_example *ex = (pt_example *)calloc((size_t)n, sizeof(pt_example));
    int i, st = PT_OK;
    if (!ex) return PT_ERR_NOMEM;
    for (i = 0; i < n && st == PT_OK; i++) {
        int cap = (int)(strlen(prompts[i]) + strlen(completions[i])) + 16, k;
        if (!(ex[i].ids = (int *)malloc((size_t)cap * sizeof(int)))) {
            st = PT_ERR_NOMEM;
            break;
        }
        ex[i].n_prompt = tok.encode(&tok, prompts[i], 0, 0, ex[i].ids, cap);
        k = tok.encode(&tok, completions[i], 0, 0, ex[i].ids + ex[i].n_prompt, cap - ex[i].n_prompt);
        ex[i].n_ids = ex[i].n_prompt + k;
        ex[i].ids[ex[i].n_ids++] = PT_BYTE_END;
        ex[i].ids[ex[i].n_ids++] = PT_BYTE_EOS;
    }
    if (st == PT_OK) st = pt_rm_score((pt_model *)user, ex, n, out);
    pt_examples_free(ex, n);
    free(ex);
    return st;
}
/* An early SFT checkpoint, with headroom for RL: examples/sft.c's recipe (250 of its 600 steps of 16
   rows, lr 3e-3, on 2000 demonstrations) from build/base.ckpt; made once, then loaded from path. */
static inline pt_model *early_sft(const pt_world_config *wc, const char *path)
{
    static pt_example train[2000];
    pt_model *m = pt_model_load(path);
    pt_sft_config c;
    int i;
    if (m) return m;
    if (!(m = pt_model_load("build/base.ckpt"))) return NULL;
    for (i = 0; i < 2000; i++)
        if (pt_world_sft_example(wc, PT_WORLD_TRAIN, 7, i, &train[i]) != PT_OK) return NULL;
    memset(&c, 0, sizeof c);
    c.steps = 250;
    c.batch_rows = 16;
    c.lr = 3e-3f;
    c.eval_every = 250;
    printf("making %s: SFT of build/base.ckpt for 250 steps\n", path);
    if (pt_sft_train(m, train, 2000, NULL, 0, &c, NULL) != PT_OK || pt_model_save(m, path, 0) != PT_OK) {
        pt_model_free(m);
        m = NULL;
    }
    pt_examples_free(train, 2000);
    return m;
}
/* The paired comparison of two models on the same 1000 held-out test problems (McNemar). */
static inline void print_paired(const char *what, pt_model *a, pt_model *b, const pt_world_config *wc, int chat)
{
    pt_paired_result r;
    if (!a || !b || pt_world_eval_paired(a, b, wc, PT_WORLD_ID, 1000, chat, &r) != PT_OK) return;
    printf("  paired, %s: %d -> %d of %d; %d wrong -> right, %d right -> wrong; McNemar z = %.2f, p = %.2g\n", what,
           r.correct_a, r.correct_b, r.n, r.b_only, r.a_only, r.z, r.p);
}
/* The stories260K examples' openings: 3 openings x 8 kinds x 12 names, i = 0..287, e.g. "Once upon a
   time, there was a little cat named Tom."; story_name(i) is its name. */
static inline const char *story_name(int i)
{
    static const char *const names[] = {"Lily", "Tim", "Sue", "Ben", "Max", "Mia",
                                        "Tom", "Anna", "Sam", "Lucy", "Jack", "Amy"};
    return names[i / 8 % 12];
}
static inline void story_opening(int i, char *out, size_t cap)
{
    static const char *const openings[] = {"Once upon a time, there was a little %s named %s.",
                                           "One day, a little %s named %s went to the park.",
                                           "There once was a %s called %s."};
    static const char *const kinds[] = {"girl", "boy", "dog", "cat", "bird", "bunny", "bear", "frog"};
    snprintf(out, cap, openings[i / 96 % 3], kinds[i % 8], story_name(i));
}
/* A story's last sentence, [*from, *to): after the second-to-last . ! or ?; an unfinished tail is not
   a sentence and a closing "The end." does not count as the last one. */
static inline void last_sentence(const char *s, const char **from, const char **to)
{
    const char *end = s + strlen(s), *p;
    while (end > s && !strchr(".!?", end[-1])) end--;
    if (end - s >= 8 && strncmp(end - 8, "The end.", 8) == 0) end -= 8;
    while (end > s && !strchr(".!?", end[-1])) end--;
    for (p = end > s ? end - 1 : s; p > s && !strchr(".!?", p[-1]); p--) {}
    *from = p;
    *to = end;
}
/* The next word of [*p, end), lowercased into w (its first 31 letters); 0 when none is left. */
static inline int next_word(const char **p, const char *end, char w[32])
{
    int n = 0;
    for (; *p < end && !isalpha((unsigned char)**p); (*p)++) {}
    for (; *p < end && isalpha((unsigned char)**p); (*p)++)
        if (n < 31) w[n++] = (char)tolower((unsigned char)**p);
    w[n] = 0;
    return n > 0;
}
/* stories260K and its tokenizer, from $PT_MODELS or ../shared/models; NULL, having printed
   "skipped: ... not found", when either is missing (the examples then exit 0). */
static inline pt_model *load_stories(pt_tokenizer *tok)
{
    const char *dir = getenv("PT_MODELS") ? getenv("PT_MODELS") : "../shared/models";
    char path[512];
    pt_model *m;
    snprintf(path, sizeof path, "%s/stories260K.bin", dir);
    m = pt_model_load_llama2c(path);
    snprintf(path, sizeof path, "%s/tok512.bin", dir);
    if (!m || pt_bpe_load(tok, path, m->cfg.vocab_size) != PT_OK) {
        printf("skipped: %s not found in %s (%s)\n", m ? "tok512.bin" : "stories260K.bin", dir, pt_last_error());
        pt_model_free(m);
        return NULL;
    }
    return m;
}
/* Pretraining (examples/pretrain.c, examples/pipeline.c): next-token cross-entropy over random
   windows of 16 rows x the model's seq_len from the token stream corpus[0..n_tok), AdamW (weight
   decay 0.1) with 5% warmup and cosine decay from 3e-3 to 3e-4, clipping at 1; a progress line;
   rows step,loss,lr,grad_norm,tokens_per_s,elapsed_s to csv_path (NULL: none). Returns 0 or -1. */
static inline int pretrain_world(pt_model *m, pt_ctx *ctx, const int *corpus, int64_t n_tok, int steps,
                                 const char *csv_path)
{
    enum { BATCH = 16 };
    const int SEQ = m->cfg.seq_len;
    int *tokens = (int *)malloc(sizeof(int) * BATCH * SEQ), *targets = (int *)malloc(sizeof(int) * BATCH * SEQ);
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    pt_adamw_config opt;
    pt_rng rng;
    double t0;
    int step, i;
    if (!tokens || !targets) return -1;
    memset(&opt, 0, sizeof opt);
    if (csv) fprintf(csv, "step,loss,lr,grad_norm,tokens_per_s,elapsed_s\n");
    pt_rng_seed(&rng, 7);
    opt.weight_decay = 0.1f;
    t0 = pt_time_seconds();
    for (step = 0; step < steps; step++) {
        pt_batch b = {0};
        pt_tensor *loss;
        double gnorm = 0, el;
        float lr = pt_lr_schedule(step, steps / 20, steps, 3e-3f, 3e-4f);
        for (i = 0; i < BATCH; i++) {   /* a random window of the stream; targets are the next tokens */
            int64_t at = pt_rng_int(&rng, 0, (int)(n_tok - SEQ - 2));
            memcpy(tokens + i * SEQ, corpus + at, SEQ * sizeof(int));
            memcpy(targets + i * SEQ, corpus + at + 1, SEQ * sizeof(int));
        }
        b.B = BATCH; b.T = SEQ; b.tokens = tokens; b.targets = targets;
        loss = pt_model_loss(ctx, m, &b);
        if (!loss || pt_backward(ctx, loss) != PT_OK || pt_clip_grad_norm(m->params, 1.0f, &gnorm) != PT_OK) {
            printf("\nstep %d: %s (skipped)\n", step, pt_last_error());
            pt_params_zero_grad(m->params); pt_ctx_reset(ctx);
            continue;
        }
        pt_adamw_step(m->params, &opt, lr);
        pt_params_zero_grad(m->params);
        el = pt_time_seconds() - t0;
        if (csv) fprintf(csv, "%d,%.5f,%.6g,%.4f,%.0f,%.2f\n", step, loss->data[0], lr, gnorm, (step + 1) * (double)BATCH * SEQ / el, el);
        if (step % 10 == 0 || step == steps - 1) {
            double tps = (step + 1) * (double)BATCH * SEQ / el;
            printf("\r  step %5d/%d  loss %.4f  lr %.2e  %6.0f tok/s  elapsed %4.0fs  ETA %4.0fs ", step + 1, steps,
                   loss->data[0], lr, tps, el, el / (step + 1) * (steps - step - 1));
            fflush(stdout);
        }
        pt_ctx_reset(ctx);
    }
    if (csv) fclose(csv);
    free(tokens);
    free(targets);
    return 0;
}
#endif
