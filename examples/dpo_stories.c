/* dpo_stories.c - DPO of a real pretrained model (stories260K) toward happy endings, judged by a rule.

   The rule: a story has a HAPPY ENDING when the model finishes it (closes it with BOS within
   MAX_NEW tokens) and its last sentence holds more happy than sad words (the two lists below, whole
   words, any case): score = happy - sad words in the last sentence, > 0.
   Prompts are story openings, 3 openings x 8 kinds x 12 names ("Once upon a time, there was a
   little cat named Tom."); prompt p is for testing when p % 6 == 0, for validation when p % 6 == 3,
   for training otherwise, so no held-out story shares a prompt or a sample with training.
   The model writes K stories per training prompt at T = 1; of the finished ones, the best (highest
   score) and the worst form a pair when the best has a happy ending and the worst has not. DPO
   (Rafailov et al. 2023) trains every weight on these on-policy pairs, the reference being the
   model at the start; the happy-ending rate of validation stories is the metric (the defaults were
   chosen on it, never on the test prompts). Before and after, on the test prompts: the rate with
   its 95% interval and the KL to the base, the mean over the policy's own stories of
   sum_t log pi(y_t) - log pi_base(y_t). Then the model goes out in llama2.c's format and back.

   usage: dpo_stories [steps (default 60)] [lr (default 1e-4)] [beta (default 0.1)]
   Models from $PT_MODELS or ../shared/models. Writes build/dpo_stories.csv (the DPO curves),
   build/dpo_stories_eval.csv (before/after) and build/stories_dpo.bin (llama2.c format). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* story openings, last sentences */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define K 8           /* stories per prompt (training pairs, validation pairs, test) */
#define METRIC_K 4    /* stories per validation prompt for the metric during training */
#define MAX_NEW 480   /* prompt + story fit the model's 512 positions */
#define CHUNK 16      /* prompts per pt_generate call: one tick of the progress bar */
#define N_PROMPTS (3 * 8 * 12)
enum { TRAIN, VALID, TEST };

static const char *const HAPPY[] = {"happy", "smiled", "smile", "laughed", "fun", "love", "loved", "friends", "hug",
                                    "hugged", "glad", "joy", "proud", "together", "thank", "safe", "best", NULL};
static const char *const SAD[] = {"sad", "cried", "cry", "angry", "hurt", "scared", "afraid", "lost", "broken", "mad",
                                  "upset", "sorry", "alone", "lonely", "sick", "bad", NULL};
typedef struct { pt_example ex; char text[3000]; int finished, score; } story;
typedef struct { int n, happy, finished; float lo, hi, kl, tokens; char sample[400]; } report;

static int split_of(int prompt) { return prompt % 6 == 0 ? TEST : prompt % 6 == 3 ? VALID : TRAIN; }

static int in_list(const char *w, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(w, *list) == 0) return 1;
    return 0;
}
/* The rule: happy minus sad words in the last sentence (after the second-to-last . ! or ?); a
   closing "The end." is not the last sentence. */
static int ending_score(const char *s)
{
    const char *p, *end;
    char w[32];
    int score = 0;
    last_sentence(s, &p, &end);
    while (next_word(&p, end, w)) score += in_list(w, HAPPY) - in_list(w, SAD);
    return score;
}
static int happy_ending(const story *s) { return s->finished && s->score > 0; }

static void progress(const char *label, int done, int total, double t0)
{
    int i;
    if (!label) return;
    printf("\r  %-22s [", label);
    for (i = 0; i < 30; i++) putchar(i < done * 30 / total ? '#' : '.');
    printf("] %d/%d prompts %4.0f s%s", done, total, pt_time_seconds() - t0, done == total ? "\n" : "");
    fflush(stdout);
}

/* k stories for every prompt of a split (k in a row per prompt); returns the count or -1. */
static int sample_split(pt_model *m, const pt_tokenizer *tok, int split, int k, uint64_t seed, story *out,
                        const char *label)
{
    static int ids[N_PROMPTS][64];
    int lens[N_PROMPTS], n_p = 0, n = 0, at, i;
    const int *prompts[N_PROMPTS];
    double t0 = pt_time_seconds();
    pt_gen_config g;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = MAX_NEW; g.stop_tokens[0] = 1; g.n_stop_tokens = 1;   /* a story ends with BOS */
    g.sampler.temperature = 1.0f;   /* no top-p: the stories come from the policy itself */
    for (i = 0; i < N_PROMPTS; i++) {
        char text[128];
        if (split_of(i) != split) continue;
        story_opening(i, text, sizeof text);
        lens[n_p] = tok->encode(tok, text, 1, 0, ids[n_p], 64);
        prompts[n_p] = ids[n_p];
        n_p++;
    }
    for (at = 0; at < n_p; at += CHUNK) {
        int c = n_p - at < CHUNK ? n_p - at : CHUNK;
        pt_example ex[CHUNK * K];
        pt_gen_result r;
        g.seed = seed + (uint64_t)at;
        if (pt_generate(m, prompts + at, lens + at, c, k, &g, &r) != PT_OK) return -1;
        if (pt_examples_from_generations(&r, NULL, -1, ex) != c * k) return -1;   /* prompt + story + BOS */
        for (i = 0; i < c * k; i++, n++) {
            const int *t = ex[i].ids + ex[i].n_prompt;
            int len = ex[i].n_ids - ex[i].n_prompt;
            out[n].ex = ex[i];
            out[n].finished = len > 0 && t[len - 1] == 1;
            pt_decode(tok, t, len - out[n].finished, out[n].text, sizeof out[n].text);
            out[n].score = ending_score(out[n].text);
        }
        pt_gen_result_free(&r);
        progress(label, at + c, n_p, t0);
    }
    return n;
}
static void free_stories(story *s, int n)
{
    while (n-- > 0) pt_examples_free(&s[n].ex, 1);
}

/* Best vs worst finished story of each prompt, when the best has a happy ending and the worst not. */
static int make_pairs(const story *s, int n, pt_example *chosen, pt_example *rejected)
{
    int g, i, n_pairs = 0;
    for (g = 0; g + K <= n; g += K) {
        const story *best = NULL, *worst = NULL;
        for (i = g; i < g + K; i++) {
            if (!s[i].finished) continue;
            if (!best || s[i].score > best->score) best = &s[i];
            if (!worst || s[i].score < worst->score) worst = &s[i];
        }
        if (best && happy_ending(best) && !happy_ending(worst)) {
            chosen[n_pairs] = best->ex;   /* shallow copies: the stories own the tokens */
            rejected[n_pairs++] = worst->ex;
        }
    }
    return n_pairs;
}

/* DPO's metric: the happy-ending rate of validation stories (user = the tokenizer). */
static float valid_rate(pt_model *m, void *user)
{
    static story s[N_PROMPTS / 6 * METRIC_K];
    int i, happy = 0, n = sample_split(m, (const pt_tokenizer *)user, VALID, METRIC_K, 77, s, NULL);
    for (i = 0; i < n; i++) happy += happy_ending(&s[i]);
    free_stories(s, n);
    return n > 0 ? (float)happy / n : 0.0f;
}

/* On the test prompts: the happy-ending rate, the KL to the base over the policy's stories, a sample. */
static int evaluate(pt_model *m, pt_model *base, const pt_tokenizer *tok, const char *label, report *rep)
{
    static story s[N_PROMPTS / 6 * K];
    static pt_example ex[N_PROMPTS / 6 * K];
    static float lp[N_PROMPTS / 6 * K], lp_base[N_PROMPTS / 6 * K];
    static int ntok[N_PROMPTS / 6 * K];
    int i, n = sample_split(m, tok, TEST, K, 1000, s, label), len;
    double kl = 0, tokens = 0;
    if (n < 1) return -1;
    for (i = 0; i < n; i++) ex[i] = s[i].ex;
    if (pt_sequence_logprobs(m, ex, n, 16, lp, ntok) != PT_OK || pt_sequence_logprobs(base, ex, n, 16, lp_base, NULL))
        return -1;
    memset(rep, 0, sizeof *rep);
    rep->n = n;
    for (i = 0; i < n; i++) {
        rep->happy += happy_ending(&s[i]);
        rep->finished += s[i].finished;
        kl += lp[i] - lp_base[i];
        tokens += ntok[i];
    }
    rep->kl = (float)(kl / n); rep->tokens = (float)(tokens / n);
    pt_binomial_interval(rep->happy, n, &rep->lo, &rep->hi);
    len = (int)strlen(s[0].text);   /* the first test story's last 300 characters */
    snprintf(rep->sample, sizeof rep->sample, "...%.300s\n    [score %d: %s]", s[0].text + (len > 300 ? len - 300 : 0),
             s[0].score, happy_ending(&s[0]) ? "a happy ending" : "not a happy ending");
    free_stories(s, n);
    return 0;
}
/* One row of the table, and of the CSV. */
static void print_row(FILE *csv, const char *name, const report *r)
{
    float rate = (float)r->happy / r->n, fin = (float)r->finished / r->n;
    printf("  %-11s  %5.1f%% [%4.1f, %4.1f]    %5.1f%%        %5.1f%%     %4.0f    %6.2f\n", name, 100 * rate,
           100 * r->lo, 100 * r->hi, 100 * fin, 100.0f * r->happy / (r->finished ? r->finished : 1), r->tokens, r->kl);
    fprintf(csv, "%s,%d,%.4f,%.4f,%.4f,%.4f,%.1f,%.4f\n", name, r->n, rate, r->lo, r->hi, fin, r->tokens, r->kl);
}
static int fail(void)
{
    printf("\nerror: %s\n", pt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 60, n, n_valid, n_pairs, n_vpairs, same, bos = 1;
    float lr = argc > 2 ? (float)atof(argv[2]) : 1e-4f, beta = argc > 3 ? (float)atof(argv[3]) : 0.1f;
    const int *bos_prompt[1] = {&bos};
    static story train[N_PROMPTS * K], valid[N_PROMPTS / 6 * K];
    static pt_example c[N_PROMPTS], r[N_PROMPTS], vc[N_PROMPTS], vr[N_PROMPTS];
    pt_model *m, *base, *reloaded;
    pt_tokenizer tok;
    pt_dpo_config cfg = {0};
    pt_gen_config greedy = {0};
    pt_gen_result g1, g2;
    pt_train_result res;
    report before, after;
    FILE *f;
    double t0 = pt_time_seconds();
    if (!(m = load_stories(&tok))) return 0;
    if (!(f = fopen("build/dpo_stories_eval.csv", "w"))) {   /* fail now, not after minutes of sampling */
        printf("error: cannot write build/dpo_stories_eval.csv (run from the repository root)\n");
        return 1;
    }
    base = pt_model_clone(m, 0);   /* frozen copy of the base, for the KL */
    printf("DPO of stories260K (%d parameters) toward happy endings: %d steps, lr %g, beta %g\n",
           (int)pt_params_count(m->params, 0), steps, lr, beta);

    /* 1. on-policy pairs from the training and validation prompts */
    n = sample_split(m, &tok, TRAIN, K, 1, train, "stories, train");
    n_valid = sample_split(m, &tok, VALID, K, 2, valid, "stories, validation");
    if (!base || n < 0 || n_valid < 0) return fail();
    n_pairs = make_pairs(train, n, c, r);
    n_vpairs = make_pairs(valid, n_valid, vc, vr);
    printf("  %d training pairs from %d prompts x %d stories; %d validation pairs\n", n_pairs, n / K, K, n_vpairs);
    if (evaluate(m, base, &tok, "stories, test (before)", &before) != 0) return fail();

    /* 2. DPO, the reference being the model at the start (cfg.ref = NULL) */
    cfg.pref.beta = beta;
    cfg.batch_pairs = 8;
    cfg.seed = 1;
    cfg.train.steps = steps;
    cfg.train.lr = lr;
    cfg.train.eval_every = steps / 3 > 0 ? steps / 3 : 1;
    cfg.train.csv_path = "build/dpo_stories.csv";
    cfg.metric = valid_rate;
    cfg.user = &tok;
    if (pt_dpo_train(m, c, r, NULL, n_pairs, vc, vr, n_vpairs, &cfg, &res) != PT_OK ||
        evaluate(m, base, &tok, "stories, test (after)", &after) != 0)
        return fail();
    printf("  %d DPO steps in %.0f s\n\n  %d test stories (%d prompts x %d), T = 1:\n", res.steps_done, res.seconds,
           after.n, after.n / K, K);
    printf("  model        happy ending [95%%]  finished  happy if finished  tokens  KL to base\n");
    fprintf(f, "model,n,rate,lo,hi,finished,tokens,kl\n");
    print_row(f, "stories260K", &before);
    print_row(f, "after DPO", &after);
    fclose(f);
    printf("\n  first test story, before: %s\n  after: %s\n\n", before.sample, after.sample);

    /* 3. export to llama2.c, reload, and compare the greedy stories of both */
    greedy.max_new_tokens = 200;
    if (pt_model_save_llama2c(m, "build/stories_dpo.bin") != PT_OK ||
        !(reloaded = pt_model_load_llama2c("build/stories_dpo.bin")) ||
        pt_generate(m, bos_prompt, &bos, 1, 1, &greedy, &g1) != PT_OK ||
        pt_generate(reloaded, bos_prompt, &bos, 1, 1, &greedy, &g2) != PT_OK)
        return fail();
    same = g1.total_len[0] == g2.total_len[0] &&
           memcmp(g1.tokens, g2.tokens, (size_t)g1.total_len[0] * sizeof(int)) == 0;
    printf("  exported build/stories_dpo.bin and reloaded it: greedy story %s\n", same ? "OK (identical)" : "MISMATCH");
    printf("  curves in build/dpo_stories.csv, before/after in build/dpo_stories_eval.csv; %.0f s in all\n",
           pt_time_seconds() - t0);
    pt_gen_result_free(&g1); pt_gen_result_free(&g2);
    free_stories(train, n); free_stories(valid, n_valid);
    pt_model_free(m); pt_model_free(base); pt_model_free(reloaded);
    pt_tokenizer_free(&tok);
    return same ? 0 : 1;
}
