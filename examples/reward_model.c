/* reward_model.c - an outcome reward model (ORM) learned from graded preferences, then used to pick
   the best of N sampled answers.

   The SFT model (build/sft.ckpt from `make demo`) gets a scalar head read at the last token of a
   completion. Training pairs come from the world's graded preference data (pt_world_preferences:
   a quarter each of Llama 2's four strengths: significant, better, slight, marginal), the loss is
   Bradley-Terry with a margin that grows with the strength (Touvron et al. 2023). The checkpoint
   is chosen by pair accuracy on the validation split; accuracy is reported on test-split pairs,
   overall and per strength, with 95% intervals (held-out problems never occur in training pairs).

   Then best-of-N: the policy samples N completions (T = 1) for each of 200 held-out test problems;
   the ORM picks one; its accuracy for N = 1..16 next to the oracle (any of the N is right) and
   the rule verifier (pt_reward_correct, which is the oracle here). Writes build/reward_model.csv
   (training curves) and build/best_of_n.csv.

   With a 4th argument `onpolicy`, the training pairs also include the policy's own samples ranked by
   the rules (pt_world_onpolicy_pairs, Llama 3's practice of annotating the current model's outputs),
   so the RM sees the mistakes best-of-N will have to catch.

   usage: reward_model [steps (default 300)] [sft checkpoint (default build/sft.ckpt)] [lr (default 3e-4)]
                       [onpolicy] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TRAIN 2000
#define N_VALID 400
#define N_TEST 800
#define N_BON 200   /* best-of-N problems */
#define MAX_N 16

static pt_world_config world;

typedef struct pairs {
    int n;
    pt_example *c, *r;
    float *strength;
} pairs;

/* Graded synthetic pairs (policy NULL), or the policy's own samples ranked by the rules. */
static int load_pairs(pt_model *policy, int split, uint64_t seed, int n, pairs *p)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_sampler t1 = {1.0f, 0, 0.0f};
    pt_dataset ds;
    int st;
    memset(p, 0, sizeof *p);
    st = policy ? pt_world_onpolicy_pairs(policy, &world, split, seed, n, 8, &t1, seed + 1, &ds)
                : pt_world_preferences(&world, split, seed, n, 0, &ds);
    if (st != PT_OK) return -1;
    p->n = ds.n;
    p->c = (pt_example *)calloc((size_t)ds.n, sizeof(pt_example));
    p->r = (pt_example *)calloc((size_t)ds.n, sizeof(pt_example));
    p->strength = (float *)calloc((size_t)ds.n, sizeof(float));
    st = p->c && p->r && p->strength ? pt_pair_examples(&ds, &tok, 1, p->c, p->r, p->strength) : PT_ERR_NOMEM;
    pt_dataset_free(&ds);
    return st;
}
static void free_pairs(pairs *p)
{
    pt_examples_free(p->c, p->n);
    pt_examples_free(p->r, p->n);
    free(p->c);
    free(p->r);
    free(p->strength);
}

/* Pair accuracy (r_c > r_r) overall and per strength, with intervals. */
static void accuracy_table(pt_model *m, const pairs *p, const char *when)
{
    static const char *names[4] = {"marginal", "slight", "better", "significant"};
    float *rc = (float *)malloc((size_t)p->n * sizeof(float)), *rr = (float *)malloc((size_t)p->n * sizeof(float));
    int right[4] = {0, 0, 0, 0}, total[4] = {0, 0, 0, 0}, all = 0, i, s;
    float lo, hi;
    if (!rc || !rr || pt_rm_score(m, p->c, p->n, rc) != PT_OK || pt_rm_score(m, p->r, p->n, rr) != PT_OK) {
        printf("scoring failed: %s\n", pt_last_error());
        free(rc);
        free(rr);
        return;
    }
    for (i = 0; i < p->n; i++) {
        s = (int)p->strength[i] & 3;
        total[s]++;
        right[s] += rc[i] > rr[i];
        all += rc[i] > rr[i];
    }
    pt_binomial_interval(all, p->n, &lo, &hi);
    printf("  %-7s test-pair accuracy %5.1f%% [%4.1f, %4.1f] n=%d   ", when, 100.0 * all / p->n, 100 * lo, 100 * hi,
           p->n);
    for (s = 3; s >= 0; s--) printf(" %s %.0f%%", names[s], total[s] ? 100.0 * right[s] / total[s] : 0.0);
    printf("\n");
    free(rc);
    free(rr);
}

/* Best-of-N with the ORM against the oracle, on held-out problems. */
static void best_of_n(pt_model *policy, pt_model *rm)
{
    pt_problem probs[N_BON];
    int *prompts[N_BON], lens[N_BON], i, j, k, n = pt_world_heldout(&world, PT_WORLD_ID, N_BON, probs);
    pt_gen_config g = {0};
    pt_gen_result out;
    pt_example *ex;
    float *score;
    unsigned char *right;
    pt_tokenizer tok = pt_byte_tokenizer();
    FILE *csv = fopen("build/best_of_n.csv", "w");
    for (i = 0; i < n; i++) {
        prompts[i] = (int *)malloc(256 * sizeof(int));
        lens[i] = pt_world_prompt(&probs[i], 1, prompts[i], 256);
    }
    g.max_new_tokens = 64;
    g.sampler.temperature = 1.0f;
    g.seed = 5;
    g.stop_tokens[0] = PT_BYTE_END;
    g.n_stop_tokens = 1;
    if (pt_generate(policy, (const int *const *)prompts, lens, n, MAX_N, &g, &out) != PT_OK) {
        printf("generation failed: %s\n", pt_last_error());
        return;
    }
    ex = (pt_example *)calloc((size_t)out.n_seqs, sizeof(pt_example));
    score = (float *)malloc((size_t)out.n_seqs * sizeof(float));
    right = (unsigned char *)malloc((size_t)out.n_seqs);
    if (pt_examples_from_generations(&out, NULL, PT_BYTE_EOS, ex) < 0 || pt_rm_score(rm, ex, out.n_seqs, score)) {
        printf("scoring failed: %s\n", pt_last_error());
        return;
    }
    for (i = 0; i < out.n_seqs; i++) {   /* the rule's verdict on each sample */
        char text[512];
        const int *t = out.tokens + (size_t)i * out.width;
        pt_decode(&tok, t + out.prompt_len[i], out.total_len[i] - out.prompt_len[i], text, sizeof text);
        right[i] = pt_reward_correct(probs[i / MAX_N].question, text, NULL) > 0.5f;
    }
    printf("\n  best-of-N on %d held-out problems (samples at T = 1; ORM picks the highest reward):\n", n);
    printf("      N   first sample   ORM pick   oracle (any right)\n");
    if (csv) fprintf(csv, "n,first,orm,oracle\n");
    for (k = 1; k <= MAX_N; k *= 2) {
        int first = 0, orm = 0, oracle = 0;
        for (i = 0; i < n; i++) {
            int best = i * MAX_N, any = 0;
            for (j = 0; j < k; j++) {
                int s = i * MAX_N + j;
                if (score[s] > score[best]) best = s;
                any |= right[s];
            }
            first += right[i * MAX_N];
            orm += right[best];
            oracle += any;
        }
        printf("  %5d   %11.1f%%   %7.1f%%   %7.1f%%\n", k, 100.0 * first / n, 100.0 * orm / n, 100.0 * oracle / n);
        if (csv) fprintf(csv, "%d,%.4f,%.4f,%.4f\n", k, (double)first / n, (double)orm / n, (double)oracle / n);
    }
    if (csv) fclose(csv);
    pt_examples_free(ex, out.n_seqs);
    free(ex);
    free(score);
    free(right);
    for (i = 0; i < n; i++) free(prompts[i]);
    pt_gen_result_free(&out);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 300;
    const char *path = argc > 2 ? argv[2] : "build/sft.ckpt";
    float lr = argc > 3 ? (float)atof(argv[3]) : 3e-4f;
    pt_model *policy = pt_model_load(path), *rm = pt_model_load(path), *best;
    pairs train, valid, test, own;
    int onpolicy = argc > 4 && strcmp(argv[4], "onpolicy") == 0;
    pt_rm_config cfg;
    pt_train_result res;
    if (!policy || !rm) {
        printf("cannot load %s: %s\n(run `make demo` first: it trains build/sft.ckpt)\n", path, pt_last_error());
        return 1;
    }
    if (load_pairs(NULL, PT_WORLD_TRAIN, 1, N_TRAIN, &train) || load_pairs(NULL, PT_WORLD_VALID, 2, N_VALID, &valid) ||
        load_pairs(NULL, PT_WORLD_ID, 3, N_TEST, &test)) {
        printf("pairs: %s\n", pt_last_error());
        return 1;
    }
    if (onpolicy) {   /* append the policy's own ranked samples (training problems only) */
        int i, n;
        if (load_pairs(policy, PT_WORLD_TRAIN, 4, 3000, &own) != PT_OK) {
            printf("on-policy pairs: %s\n", pt_last_error());
            return 1;
        }
        n = train.n + own.n;
        train.c = (pt_example *)realloc(train.c, (size_t)n * sizeof(pt_example));
        train.r = (pt_example *)realloc(train.r, (size_t)n * sizeof(pt_example));
        train.strength = (float *)realloc(train.strength, (size_t)n * sizeof(float));
        for (i = 0; i < own.n; i++) {
            train.c[train.n + i] = own.c[i];
            train.r[train.n + i] = own.r[i];
            train.strength[train.n + i] = own.strength[i];
        }
        printf("  + %d on-policy pairs (the policy's samples on 3000 training problems, ranked by the rules)\n", own.n);
        train.n = n;
        free(own.c);
        free(own.r);
        free(own.strength);
    }
    printf("ORM from %s: %d training pairs, %d validation, %d test (a quarter per strength)\n", path, train.n, valid.n,
           test.n);
    pt_model_head_attach(rm, 7);
    accuracy_table(rm, &test, "before");
    memset(&cfg, 0, sizeof cfg);
    cfg.train.steps = steps;
    cfg.train.lr = lr;
    cfg.train.eval_every = steps / 5 > 0 ? steps / 5 : 1;
    cfg.train.csv_path = "build/reward_model.csv";
    cfg.train.best_path = "build/rm.ckpt";
    cfg.batch_pairs = 16;
    cfg.margin = 0.5f;   /* m = 0.5 x strength: significant 1.5, better 1, slight 0.5, marginal 0 */
    cfg.seed = 7;
    if (pt_rm_train(rm, train.c, train.r, train.strength, train.n, valid.c, valid.r, valid.n, &cfg, &res) != PT_OK) {
        printf("training failed: %s\n", pt_last_error());
        return 1;
    }
    printf("  %d steps in %.0f s; best validation pair accuracy %.1f%% at step %d\n", res.steps_done, res.seconds,
           100 * res.best_metric, res.best_step);
    best = pt_model_load("build/rm.ckpt");
    accuracy_table(best ? best : rm, &test, "after");
    best_of_n(policy, best ? best : rm);
    free_pairs(&train);
    free_pairs(&valid);
    free_pairs(&test);
    pt_model_free(best);
    pt_model_free(rm);
    pt_model_free(policy);
    return 0;
}
