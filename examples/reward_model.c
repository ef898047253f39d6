/* reward_model.c - three learned verifiers of the SFT model's answers, then best-of-N with each.

   The SFT model (build/sft.ckpt from `make chapters`) is the starting point of all three:
   - an outcome reward model (ORM): a scalar head read at the last token of a completion, trained
     on the world's graded preference pairs (a quarter each of Llama 2's four strengths) with
     Bradley-Terry and a margin growing with the strength (Touvron et al. 2023);
   - a process reward model (PRM): the same kind of head read at the end of every reasoning step
     and of the answer, trained with binary cross-entropy on the world's step labels (Lightman et
     al. 2023), on both completions of the same pairs;
   - a generative judge: the model itself, fine-tuned to answer "Is this solution correct?" with
     yes or no (scored by p(yes)); with `think`, it first solves the problem itself.
   Checkpoints are chosen on the validation split; every number is on test-split problems that
   never occur in training, with 95% intervals.

   Then best-of-N: the policy samples N completions (T = 1) for 200 held-out problems; each
   verifier picks one; accuracy for N = 1..32 next to majority voting (self-consistency) and the
   oracle (any of the N is right). Writes build/reward_model.csv, build/prm.csv, build/judge.csv
   (training curves) and build/best_of_n.csv.

   With `onpolicy`, the ORM and PRM also train on the policy's own samples ranked by the rules
   (Llama 3's practice of annotating the current model's outputs): the mistakes best-of-N must catch.

   usage: reward_model [steps (default 300)] [sft checkpoint (default build/sft.ckpt)] [lr (default 3e-4)]
                       [onpolicy] [think] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TRAIN 2000
#define N_VALID 400
#define N_TEST 800
#define N_JUDGE 300  /* held-out candidates for the judge's accuracy */
#define N_BON 200    /* best-of-N problems */
#define MAX_N 32

static pt_world_config world;
static pt_tokenizer tok;

typedef struct pairs {
    int n;
    pt_example *c, *r, *both;   /* both: c and r interleaved, the PRM's examples */
    float *strength;
} pairs;

/* Graded synthetic pairs (policy NULL), or the policy's own samples ranked by the rules. */
static int load_pairs(pt_model *policy, int split, uint64_t seed, int n, pairs *p)
{
    pt_sampler t1 = {1.0f, 0, 0.0f};
    pt_dataset ds;
    int st;
    memset(p, 0, sizeof *p);
    st = policy ? pt_world_onpolicy_pairs(policy, &world, split, seed, n, 8, &t1, seed + 1, &ds)
                : pt_world_preferences(&world, split, seed, n, 0, &ds);
    if (st != PT_OK) return -1;
    p->n = ds.n;
    p->c = (pt_example *)calloc((size_t)ds.n + 1, sizeof(pt_example));
    p->r = (pt_example *)calloc((size_t)ds.n + 1, sizeof(pt_example));
    p->strength = (float *)calloc((size_t)ds.n + 1, sizeof(float));
    st = p->c && p->r && p->strength ? pt_pair_examples(&ds, &tok, 1, p->c, p->r, p->strength) : PT_ERR_NOMEM;
    pt_dataset_free(&ds);
    return st;
}
static void add_pairs(pairs *to, pairs *from)   /* moves from's examples to the end of to */
{
    int i, n = to->n + from->n;
    to->c = (pt_example *)realloc(to->c, (size_t)n * sizeof(pt_example));
    to->r = (pt_example *)realloc(to->r, (size_t)n * sizeof(pt_example));
    to->strength = (float *)realloc(to->strength, (size_t)n * sizeof(float));
    for (i = 0; i < from->n; i++) {
        to->c[to->n + i] = from->c[i];
        to->r[to->n + i] = from->r[i];
        to->strength[to->n + i] = from->strength[i];
    }
    to->n = n;
    free(from->c);
    free(from->r);
    free(from->strength);
}
static void interleave(pairs *p)
{
    int i;
    p->both = (pt_example *)malloc((size_t)(2 * p->n + 1) * sizeof(pt_example));
    for (i = 0; i < p->n; i++) {
        p->both[2 * i] = p->c[i];
        p->both[2 * i + 1] = p->r[i];
    }
}
static void free_pairs(pairs *p)
{
    pt_examples_free(p->c, p->n);
    pt_examples_free(p->r, p->n);
    free(p->c);
    free(p->r);
    free(p->both);
    free(p->strength);
}

/* --- the ORM: pair accuracy overall and per strength (also to build/rm_strength.csv) ---------- */
static void orm_table(pt_model *m, const pairs *p, const char *when)
{
    static FILE *csv;
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
    if (!csv && (csv = fopen("build/rm_strength.csv", "w")) != NULL) fprintf(csv, "when,strength,accuracy,n\n");
    for (s = 3; csv && s >= 0; s--)
        fprintf(csv, "%s,%s,%.4f,%d\n", when, names[s], total[s] ? (double)right[s] / total[s] : 0.0, total[s]);
    if (csv) fprintf(csv, "%s,all,%.4f,%d\n", when, (double)all / p->n, p->n);
    if (csv) fflush(csv);
    free(rc);
    free(rr);
}
static pt_model *train_orm(const char *path, pairs *train, pairs *valid, pairs *test, int steps, float lr)
{
    pt_model *rm = pt_model_load(path);
    pt_rm_config cfg;
    pt_train_result res;
    printf("\nORM: %d training pairs, %d validation, %d test\n", train->n, valid->n, test->n);
    pt_model_head_attach(rm, 7);
    orm_table(rm, test, "before");
    memset(&cfg, 0, sizeof cfg);
    cfg.train.steps = steps;
    cfg.train.lr = lr;
    cfg.train.eval_every = steps / 5 > 0 ? steps / 5 : 1;
    cfg.train.csv_path = "build/reward_model.csv";
    cfg.train.best_path = "build/rm.ckpt";
    cfg.batch_pairs = 16;
    cfg.margin = 0.5f;   /* m = 0.5 x strength: significant 1.5, better 1, slight 0.5, marginal 0 */
    cfg.seed = 7;
    if (pt_rm_train(rm, train->c, train->r, train->strength, train->n, valid->c, valid->r, valid->n, &cfg, &res)) {
        printf("ORM training failed: %s\n", pt_last_error());
        exit(1);
    }
    printf("  %d steps in %.0f s; best validation pair accuracy %.1f%% at step %d\n", res.steps_done, res.seconds,
           100 * res.best_metric, res.best_step);
    pt_model_free(rm);
    rm = pt_model_load("build/rm.ckpt");
    orm_table(rm, test, "after");
    return rm;
}

/* --- the PRM: step accuracy, first-error detection, false alarms ------------------------------- */
static void prm_table(pt_model *m, const pairs *p, const char *when)
{
    pt_prm_eval_result r;
    float lo, hi;
    if (pt_prm_eval(m, &tok, p->both, 2 * p->n, &r) != PT_OK) {
        printf("PRM eval failed: %s\n", pt_last_error());
        return;
    }
    pt_binomial_interval((int)(r.step_accuracy * r.n_steps + 0.5f), r.n_steps, &lo, &hi);
    printf("  %-7s step accuracy %5.1f%% [%4.1f, %4.1f] of %d steps (%.1f%% are right)   first error found %5.1f%% "
           "(of %d)   false alarms %5.1f%% (of %d clean)\n", when, 100 * r.step_accuracy, 100 * lo, 100 * hi,
           r.n_steps, 100 * r.right_rate, 100 * r.first_error_rate, r.n_with_error, 100 * r.false_alarm_rate,
           r.n_clean);
}
static pt_model *train_prm(const char *path, pairs *train, pairs *valid, pairs *test, int steps, float lr)
{
    pt_model *prm = pt_model_load(path);
    pt_prm_config cfg;
    pt_train_result res;
    printf("\nPRM: the step labels of both completions of every pair (%d training solutions)\n", 2 * train->n);
    pt_model_head_attach(prm, 8);
    prm_table(prm, test, "before");
    memset(&cfg, 0, sizeof cfg);
    cfg.train.steps = steps;
    cfg.train.lr = lr;
    cfg.train.eval_every = steps / 5 > 0 ? steps / 5 : 1;
    cfg.train.csv_path = "build/prm.csv";
    cfg.train.best_path = "build/prm.ckpt";
    cfg.batch_size = 16;
    cfg.seed = 8;
    if (pt_prm_train(prm, &tok, train->both, 2 * train->n, valid->both, 2 * valid->n, &cfg, &res) != PT_OK) {
        printf("PRM training failed: %s\n", pt_last_error());
        exit(1);
    }
    printf("  %d steps in %.0f s; best validation step accuracy %.1f%% at step %d\n", res.steps_done, res.seconds,
           100 * res.best_metric, res.best_step);
    pt_model_free(prm);
    prm = pt_model_load("build/prm.ckpt");
    prm_table(prm, test, "after");
    return prm;
}

/* --- the judge: SFT on verdicts, chosen by its accuracy on validation candidates --------------- */
typedef struct candidates {
    int n, think;
    pt_problem problems[N_JUDGE];
    char text[N_JUDGE][512];
    const char *prompts[N_JUDGE], *completions[N_JUDGE];
} candidates;
static void make_candidates(int split, uint64_t seed, int think, candidates *c)
{
    pt_rng rng;
    int i;
    pt_rng_seed(&rng, seed);
    c->n = N_JUDGE;
    c->think = think;
    for (i = 0; i < c->n; i++) {   /* every flaw kind in turn: 2 of 5 right */
        pt_world_problem(&world, split, seed, i, &c->problems[i]);
        pt_world_completion(&c->problems[i], i % 5, &rng, c->text[i], sizeof c->text[i]);
        c->prompts[i] = c->problems[i].question;
        c->completions[i] = c->text[i];
    }
}
static float judge_accuracy(pt_model *judge, void *user)
{
    candidates *c = (candidates *)user;
    float p_yes[N_JUDGE];
    int i, right = 0;
    if (pt_judge_score(judge, &tok, c->prompts, c->completions, c->n, c->think, p_yes) != PT_OK) return 0.0f;
    for (i = 0; i < c->n; i++) right += (p_yes[i] > 0.5f) == (pt_reward_correct(c->prompts[i], c->text[i], NULL) > 0.5f);
    return (float)right / c->n;
}
static pt_model *train_judge(const char *path, int think, int steps, float lr)
{
    static candidates valid, test;
    pt_model *judge = pt_model_load(path);
    pt_dataset ds, dv;
    pt_example *ex, *ev;
    pt_sft_config cfg;
    pt_train_result res;
    float acc, lo, hi;
    int i;
    make_candidates(PT_WORLD_VALID, 12, think, &valid);
    make_candidates(PT_WORLD_ID, 13, think, &test);
    if (pt_judge_data(&world, PT_WORLD_TRAIN, 11, 4000, think, &ds) != PT_OK ||
        pt_judge_data(&world, PT_WORLD_VALID, 14, 200, think, &dv) != PT_OK) {
        printf("judge data: %s\n", pt_last_error());
        exit(1);
    }
    ex = (pt_example *)calloc((size_t)ds.n, sizeof(pt_example));
    ev = (pt_example *)calloc((size_t)dv.n, sizeof(pt_example));
    for (i = 0; i < ds.n; i++) pt_record_example(&tok, &ds.records[i], PT_DATA_COMPLETION, 1, 0, &ex[i]);
    for (i = 0; i < dv.n; i++) pt_record_example(&tok, &dv.records[i], PT_DATA_COMPLETION, 1, 0, &ev[i]);
    printf("\njudge%s: SFT on %d conversations, e.g.\n  user: %s\n  assistant: %s\n", think ? " (thinking first)" : "",
           ds.n, ds.records[1].prompt, ds.records[1].completion);
    acc = judge_accuracy(judge, &test);
    pt_binomial_interval((int)(acc * test.n + 0.5f), test.n, &lo, &hi);
    printf("  before  verdict accuracy on %d test candidates %5.1f%% [%4.1f, %4.1f] (2 of 5 right)\n", test.n,
           100 * acc, 100 * lo, 100 * hi);
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = steps;
    cfg.lr = lr;
    cfg.batch_rows = 16;
    cfg.seq_len = 192;
    cfg.eval_every = steps / 5 > 0 ? steps / 5 : 1;
    cfg.seed = 9;
    cfg.csv_path = "build/judge.csv";
    cfg.best_path = "build/judge.ckpt";
    cfg.metric = judge_accuracy;   /* the verdicts' accuracy on validation candidates */
    cfg.user = &valid;
    if (pt_sft_train(judge, ex, ds.n, ev, dv.n, &cfg, &res) != PT_OK) {
        printf("judge training failed: %s\n", pt_last_error());
        exit(1);
    }
    printf("  %d steps in %.0f s; best validation accuracy %.1f%% at step %d\n", res.steps_done, res.seconds,
           100 * res.best_metric, res.best_step);
    pt_model_free(judge);
    judge = pt_model_load("build/judge.ckpt");
    acc = judge_accuracy(judge, &test);
    pt_binomial_interval((int)(acc * test.n + 0.5f), test.n, &lo, &hi);
    printf("  after   verdict accuracy on %d test candidates %5.1f%% [%4.1f, %4.1f]\n", test.n, 100 * acc, 100 * lo,
           100 * hi);
    pt_examples_free(ex, ds.n);
    pt_examples_free(ev, dv.n);
    free(ex);
    free(ev);
    pt_dataset_free(&ds);
    pt_dataset_free(&dv);
    return judge;
}

/* --- best-of-N: each verifier picks one of N samples per held-out problem ---------------------- */
enum { FIRST, ORM, PRM, JUDGE, MAJORITY, ORACLE, N_PICKERS };
static void best_of_n(pt_model *policy, pt_model *orm, pt_model *prm, pt_model *judge, int think)
{
    static const char *names[N_PICKERS] = {"first", "orm", "prm", "judge", "majority", "oracle"};
    pt_problem probs[N_BON];
    int *prompts[N_BON], lens[N_BON], i, j, k, p, n = pt_world_heldout(&world, PT_WORLD_ID, N_BON, probs);
    pt_gen_config g = {0};
    pt_gen_result out;
    pt_example *ex;
    float *score[N_PICKERS];
    char (*text)[256];
    const char **qs, **cs;
    unsigned char *right;
    long long *answer;
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
    printf("\nbest-of-N: %d samples at T = 1 for each of %d held-out problems...\n", MAX_N, n);
    if (pt_generate(policy, (const int *const *)prompts, lens, n, MAX_N, &g, &out) != PT_OK) {
        printf("generation failed: %s\n", pt_last_error());
        return;
    }
    ex = (pt_example *)calloc((size_t)out.n_seqs, sizeof(pt_example));
    text = (char (*)[256])malloc((size_t)out.n_seqs * 256);
    qs = (const char **)malloc((size_t)out.n_seqs * sizeof(char *));
    cs = (const char **)malloc((size_t)out.n_seqs * sizeof(char *));
    right = (unsigned char *)malloc((size_t)out.n_seqs);
    answer = (long long *)malloc((size_t)out.n_seqs * sizeof(long long));
    for (p = 0; p < N_PICKERS; p++) score[p] = (float *)calloc((size_t)out.n_seqs, sizeof(float));
    for (i = 0; i < out.n_seqs; i++) {   /* the rule's verdict and the parsed answer of each sample */
        const int *t = out.tokens + (size_t)i * out.width;
        pt_world_score s;
        pt_decode(&tok, t + out.prompt_len[i], out.total_len[i] - out.prompt_len[i], text[i], 256);
        qs[i] = probs[i / MAX_N].question;
        cs[i] = text[i];
        right[i] = pt_reward_correct(qs[i], text[i], NULL) > 0.5f;
        pt_world_score_text(&probs[i / MAX_N], text[i], &s);
        answer[i] = s.has_answer ? s.answer : -1;
    }
    if (pt_examples_from_generations(&out, NULL, PT_BYTE_EOS, ex) < 0 ||
        pt_rm_score(orm, ex, out.n_seqs, score[ORM]) != PT_OK ||
        pt_prm_score(prm, &tok, ex, out.n_seqs, PT_PRM_MIN, score[PRM]) != PT_OK ||
        pt_judge_score(judge, &tok, qs, cs, out.n_seqs, think, score[JUDGE]) != PT_OK) {
        printf("scoring failed: %s\n", pt_last_error());
        return;
    }
    printf("      N   first sample      ORM      PRM    judge   majority   oracle (any right)\n");
    if (csv) fprintf(csv, "n,first,orm,prm,judge,majority,oracle\n");
    for (k = 1; k <= MAX_N; k *= 2) {
        int hits[N_PICKERS] = {0, 0, 0, 0, 0, 0};
        for (i = 0; i < n; i++) {
            int base = i * MAX_N, best[N_PICKERS], votes_best = 0, any = 0;
            for (p = 0; p < N_PICKERS; p++) best[p] = base;
            for (j = 0; j < k; j++) {
                int s = base + j, votes = 0, q;
                for (p = ORM; p <= JUDGE; p++)
                    if (score[p][s] > score[p][best[p]]) best[p] = s;
                for (q = 0; q < k && answer[s] >= 0; q++) votes += answer[base + q] == answer[s];
                if (votes > votes_best) {   /* ties: the answer seen first */
                    votes_best = votes;
                    best[MAJORITY] = s;
                }
                any |= right[s];
            }
            for (p = FIRST; p <= MAJORITY; p++) hits[p] += right[best[p]];
            hits[ORACLE] += any;
        }
        printf("  %5d ", k);
        for (p = 0; p < N_PICKERS; p++) printf("  %6.1f%%", 100.0 * hits[p] / n);
        printf("\n");
        if (csv) {
            fprintf(csv, "%d", k);
            for (p = 0; p < N_PICKERS; p++) fprintf(csv, ",%.4f", (double)hits[p] / n);
            fprintf(csv, "\n");
        }
    }
    printf("  (columns: %s", names[0]);
    for (p = 1; p < N_PICKERS; p++) printf(", %s", names[p]);
    printf("; 200 problems: +-7 points at 50%%)\n");
    for (p = ORM; p <= JUDGE; p++)   /* what fooled each verifier: its first wrong pick of 32, next to a right sample */
        for (i = 0; i < n; i++) {
            int best = i * MAX_N, good = -1;
            for (j = 0; j < MAX_N; j++) {
                if (score[p][i * MAX_N + j] > score[p][best]) best = i * MAX_N + j;
                if (good < 0 && right[i * MAX_N + j]) good = i * MAX_N + j;
            }
            if (right[best] || good < 0) continue;
            printf("  %s at N = 32, %.*s: picked (score %.2f) %s\n", names[p], (int)strcspn(qs[best], "\n"), qs[best],
                   score[p][best], text[best]);
            printf("      over a right sample (score %.2f) %s\n", score[p][good], text[good]);
            break;
        }
    if (csv) fclose(csv);
    pt_examples_free(ex, out.n_seqs);
    free(ex);
    free(text);
    free(qs);
    free(cs);
    free(right);
    free(answer);
    for (p = 0; p < N_PICKERS; p++) free(score[p]);
    for (i = 0; i < n; i++) free(prompts[i]);
    pt_gen_result_free(&out);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 300, onpolicy = 0, think = 0, i;
    const char *path = argc > 2 ? argv[2] : "build/sft.ckpt";
    float lr = argc > 3 ? (float)atof(argv[3]) : 3e-4f;
    pt_model *policy = pt_model_load(path), *orm, *prm, *judge;
    pairs train, valid, test;
    tok = pt_byte_tokenizer();
    for (i = 4; i < argc; i++) {
        onpolicy |= strcmp(argv[i], "onpolicy") == 0;
        think |= strcmp(argv[i], "think") == 0;
    }
    if (!policy) {
        printf("cannot load %s: %s\n(run `make chapters` first: it trains build/sft.ckpt)\n", path, pt_last_error());
        return 1;
    }
    if (load_pairs(NULL, PT_WORLD_TRAIN, 1, N_TRAIN, &train) || load_pairs(NULL, PT_WORLD_VALID, 2, N_VALID, &valid) ||
        load_pairs(NULL, PT_WORLD_ID, 3, N_TEST, &test)) {
        printf("pairs: %s\n", pt_last_error());
        return 1;
    }
    if (onpolicy) {   /* append the policy's own ranked samples (training problems only) */
        pairs own;
        if (load_pairs(policy, PT_WORLD_TRAIN, 4, 3000, &own) != PT_OK) {
            printf("on-policy pairs: %s\n", pt_last_error());
            return 1;
        }
        printf("+ %d on-policy pairs (the policy's samples on 3000 training problems, ranked by the rules)\n", own.n);
        add_pairs(&train, &own);
    }
    interleave(&train);
    interleave(&valid);
    interleave(&test);
    printf("verifiers of %s (held-out problems never occur in training data)\n", path);
    orm = train_orm(path, &train, &valid, &test, steps, lr);
    prm = train_prm(path, &train, &valid, &test, steps, lr);
    judge = train_judge(path, think, steps, lr);
    if (!orm || !prm || !judge) {
        printf("reloading a chosen checkpoint failed: %s\n", pt_last_error());
        return 1;
    }
    best_of_n(policy, orm, prm, judge, think);
    free_pairs(&train);
    free_pairs(&valid);
    free_pairs(&test);
    pt_model_free(orm);
    pt_model_free(prm);
    pt_model_free(judge);
    pt_model_free(policy);
    return 0;
}
