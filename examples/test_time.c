/* test_time.c - thinking longer instead of training more: the same models, more compute at inference.

   Part 1, System 1 vs System 2 without training: the mixed-format base of R1-Zero (make chapters'
   build/base_mixed.ckpt, which answers directly 60% of the time) on the same held-out problems,
   prompted to answer at once ("A: <answer>"), left to choose, prompted to think (the think marker
   is this world's "Let's think step by step", Kojima et al. 2022), and one-shot (a solved problem
   before the question, Brown et al. 2020; Wei et al. 2022; one is what fits the 128-token context),
   either in the same document (after a newline) or as the previous document (<eos><bos> between,
   as the pretraining windows pack documents).
   Part 2, verifiers of the policy (the early SFT model, which has headroom): an outcome RM and a
   process RM trained on the policy's own samples ranked and step-labelled by the rules (Llama 3's
   practice; Math-Shepherd's automatic step labels, here exact), chosen on the validation split.
   Part 3, the test-time scaling curve on held-out problems: greedy, best-of-N with the ORM, the PRM
   (min over steps) and the judge of reward_model.c (when build/judge.ckpt exists), self-consistency
   (majority vote), the PRM-weighted vote, and MCTS over reasoning steps guided by the PRM, against
   generated tokens per problem; overall, by difficulty (the policy's own pass rate over the N
   samples: easy >= 2/3, hard < 1/3, as Snell et al. 2024 bin by the model's pass@1) and by digits.
   Writes build/test_time_system.csv and build/test_time.csv (notebooks/06_flywheel_test_time.ipynb).

   usage: test_time [problems (default 300)] [max N (default 16)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"

#define MAX_P 1000
#define MAX_N 32
#define BUDGETS 5

static pt_world_config world;
static pt_tokenizer tok;
static pt_problem problems[MAX_P];
static int n_problems, max_n, digits_of[MAX_P];

/* Greedy or sampled completions of prompts (ids), repeat each `repeat` times; texts[i] (malloc'd) is
   prefix + the generated text without a marker stop token; tokens[i] its generated token count. */
static int complete(pt_model *m, int *const *ids, const int *lens, int n, int repeat, float temperature, int chat,
                    const char *prefix, uint64_t seed, char **texts, int *tokens)
{
    pt_gen_config g;
    pt_gen_result r;
    int i;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = 64;
    g.sampler.temperature = temperature;
    g.stop_tokens[0] = chat ? PT_BYTE_END : '\n';
    g.stop_tokens[1] = PT_BYTE_EOS;
    g.n_stop_tokens = 2;
    g.seed = seed;
    if (pt_generate(m, (const int *const *)ids, lens, n, repeat, &g, &r) != PT_OK) return -1;
    for (i = 0; i < r.n_seqs; i++) {
        const int *seq = r.tokens + (size_t)i * r.width;
        int p = r.prompt_len[i], len = r.total_len[i], at = (int)strlen(prefix);
        if (len > p && (seq[len - 1] == PT_BYTE_END || seq[len - 1] == PT_BYTE_EOS)) len--;
        texts[i] = (char *)malloc(512);
        strcpy(texts[i], prefix);
        pt_decode(&tok, seq + p, len - p, texts[i] + at, 512 - at);
        tokens[i] = r.total_len[i] - p;
    }
    pt_gen_result_free(&r);
    return 0;
}

/* --- Part 1: System 1 vs System 2 on the mixed base -------------------------------------------- */
static void system1_vs_2(FILE *csv)
{
    static const char *const names[] = {"direct (A: <answer>)", "model's choice (A: )", "think (A: <think>)",
                                        "one-shot: same document", "one-shot: previous document"};
    static const char *const forced[] = {"<answer>", "", "<think>", "", ""};
    pt_model *base = pt_model_load("build/base_mixed.ckpt");
    static int ids_buf[MAX_P][192], shot_ids[192];
    int *ids[MAX_P], lens[MAX_P], tokens[MAX_P], mode, i, n_shot;
    char *texts[MAX_P], shots[1400];
    pt_problem s1;
    pt_world_config two = world;
    if (!base) {
        printf("Part 1 skipped: build/base_mixed.ckpt not found (make chapters, or build/pretrain 1400 0 "
               "build/base_mixed.ckpt 0.6)\n");
        return;
    }
    two.min_digits = two.max_digits = 2;   /* the shot: a 2-digit training problem (one fits in 128 tokens) */
    pt_world_problem(&two, PT_WORLD_TRAIN, 99, 0, &s1);
    snprintf(shots, sizeof shots, "%s%s\n", s1.question, s1.solution);
    n_shot = tok.encode(&tok, shots, 1, 1, shot_ids, 192);   /* <bos>shot<eos>, as packed in pretraining */
    printf("Part 1: System 1 vs System 2 on the mixed-format base, greedy, %d held-out problems\n", n_problems);
    printf("  %-30s %-26s %6s %6s %6s  %s\n", "prompt", "accuracy [95% CI]", "1d", "2d", "3d", "tokens");
    fprintf(csv, "mode,accuracy,lo,hi,acc_1d,acc_2d,acc_3d,think_rate,tokens\n");
    for (mode = 0; mode < 5; mode++) {
        int correct = 0, by_d[4] = {0}, n_d[4] = {0}, think = 0;
        double sum_tokens = 0;
        float lo, hi;
        for (i = 0; i < n_problems; i++) {
            char text[1600];
            int at = mode == 4 ? n_shot : 0;
            snprintf(text, sizeof text, "%s%sA: %s", mode == 3 ? shots : "", problems[i].question, forced[mode]);
            ids[i] = ids_buf[i];
            if (mode == 4) memcpy(ids[i], shot_ids, (size_t)n_shot * sizeof(int));
            lens[i] = at + tok.encode(&tok, text, 1, 0, ids[i] + at, 192 - at);
        }
        if (complete(base, ids, lens, n_problems, 1, 0.0f, 0, forced[mode], 1, texts, tokens) != 0) {
            printf("  %s: %s\n", names[mode], pt_last_error());
            break;
        }
        for (i = 0; i < n_problems; i++) {
            pt_world_score s;
            int d = digits_of[i];
            pt_world_score_text(&problems[i], texts[i], &s);
            correct += s.correct;
            think += strstr(texts[i], "<think>") != NULL;
            if (d >= 1 && d <= 3) {
                n_d[d]++;
                by_d[d] += s.correct;
            }
            sum_tokens += tokens[i];
            free(texts[i]);
        }
        pt_binomial_interval(correct, n_problems, &lo, &hi);
        printf("  %-30s %5.1f%% [%4.1f, %4.1f]      %5.1f%% %5.1f%% %5.1f%%  %5.1f  (thinks %3.0f%%)\n", names[mode],
               100.0 * correct / n_problems, 100 * lo, 100 * hi, 100.0 * by_d[1] / (n_d[1] ? n_d[1] : 1),
               100.0 * by_d[2] / (n_d[2] ? n_d[2] : 1), 100.0 * by_d[3] / (n_d[3] ? n_d[3] : 1),
               sum_tokens / n_problems, 100.0 * think / n_problems);
        fprintf(csv, "%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.2f\n", names[mode], (double)correct / n_problems, lo, hi,
                (double)by_d[1] / (n_d[1] ? n_d[1] : 1), (double)by_d[2] / (n_d[2] ? n_d[2] : 1),
                (double)by_d[3] / (n_d[3] ? n_d[3] : 1), (double)think / n_problems, sum_tokens / n_problems);
    }
    pt_model_free(base);
}

/* --- Part 2: verifiers trained on the policy's own samples --------------------------------------- */
typedef struct pairs { int n; pt_example *c, *r, *both; float *strength; } pairs;
static void onpolicy_pairs(pt_model *policy, int split, uint64_t seed, int n_problems_, pairs *p)
{
    pt_sampler t1 = {1.0f, 0, 0.0f};
    pt_dataset ds;
    int i;
    memset(p, 0, sizeof *p);
    if (pt_world_onpolicy_pairs(policy, &world, split, seed, n_problems_, 8, &t1, seed + 1, &ds) != PT_OK) return;
    p->n = ds.n;
    p->c = (pt_example *)calloc((size_t)ds.n + 1, sizeof(pt_example));
    p->r = (pt_example *)calloc((size_t)ds.n + 1, sizeof(pt_example));
    p->both = (pt_example *)calloc(2 * (size_t)ds.n + 1, sizeof(pt_example));
    p->strength = (float *)calloc((size_t)ds.n + 1, sizeof(float));
    pt_pair_examples(&ds, &tok, 1, p->c, p->r, p->strength);
    for (i = 0; i < ds.n; i++) {
        p->both[2 * i] = p->c[i];
        p->both[2 * i + 1] = p->r[i];
    }
    pt_dataset_free(&ds);
}
static pt_model *train_verifier(pt_model *policy, int process, pairs *train, pairs *valid, const char *path)
{
    pt_model *v = pt_model_clone(policy, 1);
    pt_train_result res;
    int st;
    pt_train_config t;
    memset(&t, 0, sizeof t);
    t.steps = 300;
    t.lr = 3e-4f;
    t.eval_every = 60;
    t.best_path = path;
    t.name = process ? "prm" : "orm";
    pt_model_head_attach(v, process ? 8 : 7);
    if (process) {
        pt_prm_config c;
        memset(&c, 0, sizeof c);
        c.train = t;
        c.batch_size = 16;
        c.seed = 8;
        st = pt_prm_train(v, &tok, train->both, 2 * train->n, valid->both, 2 * valid->n, &c, &res);
    } else {
        pt_rm_config c;
        memset(&c, 0, sizeof c);
        c.train = t;
        c.batch_pairs = 16;
        c.seed = 7;
        st = pt_rm_train(v, train->c, train->r, train->strength, train->n, valid->c, valid->r, valid->n, &c, &res);
    }
    pt_model_free(v);
    if (st != PT_OK) {
        printf("verifier training failed: %s\n", pt_last_error());
        return NULL;
    }
    printf("  %s: %d steps in %.0f s, best validation %s %.1f%% at step %d\n", process ? "PRM" : "ORM", res.steps_done,
           res.seconds, process ? "step accuracy" : "pair accuracy", 100 * res.best_metric, res.best_step);
    return pt_model_load(path);
}

/* --- Part 3: the scaling curve ------------------------------------------------------------------ */
typedef struct curve_row { double tokens; int correct, n; int by_bin[3], n_bin[3], by_d[4], n_d[4]; } curve_row;
static int bin_of[MAX_P];
static void add(curve_row *r, int i, int ok)
{
    r->correct += ok;
    r->n++;
    r->by_bin[bin_of[i]] += ok;
    r->n_bin[bin_of[i]]++;
    if (digits_of[i] >= 1 && digits_of[i] <= 3) {
        r->by_d[digits_of[i]] += ok;
        r->n_d[digits_of[i]]++;
    }
}
static void emit(FILE *csv, const char *method, int n, const curve_row *r)
{
    float lo, hi;
    double a = (double)r->correct / (r->n ? r->n : 1);
    int b;
    pt_binomial_interval(r->correct, r->n, &lo, &hi);
    printf("  %-18s %3d %7.1f   %5.1f%% [%4.1f, %4.1f]", method, n, r->tokens / (r->n ? r->n : 1), 100 * a, 100 * lo,
           100 * hi);
    for (b = 0; b < 3; b++) printf(" %5.1f%%", 100.0 * r->by_bin[b] / (r->n_bin[b] ? r->n_bin[b] : 1));
    for (b = 2; b <= 3; b++) printf(" %5.1f%%", 100.0 * r->by_d[b] / (r->n_d[b] ? r->n_d[b] : 1));
    printf("\n");
    fprintf(csv, "%s,%d,%.2f,%.4f,%.4f,%.4f", method, n, r->tokens / (r->n ? r->n : 1), a, lo, hi);
    for (b = 0; b < 3; b++) fprintf(csv, ",%.4f", (double)r->by_bin[b] / (r->n_bin[b] ? r->n_bin[b] : 1));
    for (b = 1; b <= 3; b++) fprintf(csv, ",%.4f", (double)r->by_d[b] / (r->n_d[b] ? r->n_d[b] : 1));
    fprintf(csv, "\n");
}
/* Verifier scores of every sample: the ORM or PRM on its chat example, or the judge's p(yes). */
static void score_samples(pt_model *v, int kind, char **texts, float *scores)
{
    int n = n_problems * max_n, i;
    if (kind == 2) {
        const char **pr = (const char **)malloc((size_t)n * sizeof(char *));
        for (i = 0; i < n; i++) pr[i] = problems[i / max_n].question;
        pt_judge_score(v, &tok, pr, (const char *const *)texts, n, 0, scores);
        free(pr);
        return;
    }
    {
        pt_example *ex = (pt_example *)calloc((size_t)n, sizeof(pt_example));
        for (i = 0; i < n; i++) {
            char text[800];
            pt_chat_text(NULL, problems[i / max_n].question, texts[i], text, sizeof text);
            ex[i].ids = (int *)malloc(sizeof(int) * 800);
            ex[i].n_ids = tok.encode(&tok, text, 0, 0, ex[i].ids, 800);
            ex[i].n_prompt = pt_world_prompt(&problems[i / max_n], 1, ex[i].ids, 800);   /* same prefix */
        }
        if (kind == 0) pt_rm_score(v, ex, n, scores);
        else pt_prm_score(v, &tok, ex, n, PT_PRM_MIN, scores);
        pt_examples_free(ex, n);
        free(ex);
    }
}
static void scaling(pt_model *policy, pt_model *orm, pt_model *prm, pt_model *judge, FILE *csv)
{
    static int ids_buf[MAX_P][64];
    int *ids[MAX_P], lens[MAX_P], i, j, n, k, *tokens = (int *)malloc(sizeof(int) * MAX_P * MAX_N);
    char **texts = (char **)malloc(sizeof(char *) * MAX_P * MAX_N), *greedy[MAX_P];
    unsigned char *right = (unsigned char *)malloc((size_t)MAX_P * MAX_N), *valid = right + 0;
    long long *answers = (long long *)malloc(sizeof(long long) * MAX_P * MAX_N);
    float *s_orm = (float *)malloc(sizeof(float) * MAX_P * MAX_N), *s_prm = (float *)malloc(sizeof(float) * MAX_P * MAX_N);
    float *s_judge = (float *)malloc(sizeof(float) * MAX_P * MAX_N);
    unsigned char *has = (unsigned char *)malloc((size_t)MAX_P * MAX_N);
    int gtok[MAX_P];
    curve_row row;
    double t0;
    (void)valid;
    for (i = 0; i < n_problems; i++) {
        ids[i] = ids_buf[i];
        lens[i] = pt_world_prompt(&problems[i], 1, ids[i], 64);
    }
    complete(policy, ids, lens, n_problems, 1, 0.0f, 1, "", 5, greedy, gtok);
    t0 = pt_time_seconds();
    complete(policy, ids, lens, n_problems, max_n, 1.0f, 1, "", 6, texts, tokens);
    printf("  %d samples in %.1f s\n", n_problems * max_n, pt_time_seconds() - t0);
    for (i = 0; i < n_problems * max_n; i++) {
        pt_world_score s;
        pt_world_score_text(&problems[i / max_n], texts[i], &s);
        right[i] = (unsigned char)s.correct;
        has[i] = (unsigned char)s.has_answer;
        answers[i] = s.answer;
    }
    for (i = 0; i < n_problems; i++) {   /* difficulty: the policy's own pass rate over the N samples */
        int c = 0;
        for (j = 0; j < max_n; j++) c += right[i * max_n + j];
        bin_of[i] = 3 * c >= 2 * max_n ? 0 : 3 * c >= max_n ? 1 : 2;
    }
    t0 = pt_time_seconds();
    score_samples(orm, 0, texts, s_orm);
    score_samples(prm, 1, texts, s_prm);
    if (judge) score_samples(judge, 2, texts, s_judge);
    printf("  verifier scores in %.1f s\n", pt_time_seconds() - t0);
    {
        int nb[3] = {0};
        for (i = 0; i < n_problems; i++) nb[bin_of[i]]++;
        printf("  difficulty bins (the policy's pass rate over %d samples): easy %d, medium %d, hard %d problems\n\n",
               max_n, nb[0], nb[1], nb[2]);
    }
    printf("  %-18s %3s %7s   %-21s %6s %6s %6s %6s %6s\n", "method", "N", "tokens", "accuracy [95% CI]", "easy",
           "medium", "hard", "2d", "3d");
    fprintf(csv, "method,n,tokens,accuracy,lo,hi,easy,medium,hard,acc_1d,acc_2d,acc_3d\n");
    memset(&row, 0, sizeof row);
    for (i = 0; i < n_problems; i++) {
        pt_world_score s;
        pt_world_score_text(&problems[i], greedy[i], &s);
        add(&row, i, s.correct);
        row.tokens += gtok[i];
    }
    emit(csv, "greedy", 1, &row);
    for (n = 1; n <= max_n; n *= 2) {
        static const char *const names[] = {"first sample", "best-of-N ORM", "best-of-N PRM", "best-of-N judge",
                                            "majority vote", "PRM-weighted vote", "oracle (pass@N)"};
        for (k = 0; k < 7; k++) {
            if (k == 3 && !judge) continue;
            memset(&row, 0, sizeof row);
            for (i = 0; i < n_problems; i++) {
                int base = i * max_n, pick = 0, ok;
                for (j = 0; j < n; j++) row.tokens += tokens[base + j];
                if (k == 1) pt_best_of_n(s_orm + base, 1, max_n, n, &pick);
                if (k == 2) pt_best_of_n(s_prm + base, 1, max_n, n, &pick);
                if (k == 3) pt_best_of_n(s_judge + base, 1, max_n, n, &pick);
                if (k == 4 || k == 5) pick = pt_majority_vote(answers + base, has + base, k == 5 ? s_prm + base : NULL, n);
                ok = pick >= 0 && right[base + pick];
                if (k == 6)
                    for (j = 0, ok = 0; j < n; j++) ok |= right[base + j];
                add(&row, i, ok);
            }
            if (n == 1 && k > 0 && k != 6) continue;   /* every method is the first sample at N = 1 */
            emit(csv, names[k], n, &row);
        }
    }
    {   /* MCTS at growing simulation budgets */
        static const int sims[BUDGETS] = {1, 2, 4, 8, 16};
        pt_mcts_config mc;
        pt_mcts_result *res = (pt_mcts_result *)malloc(sizeof(pt_mcts_result) * MAX_P);
        int b;
        memset(&mc, 0, sizeof mc);
        mc.expand = 4;
        mc.stop_tokens[0] = PT_BYTE_END;
        mc.stop_tokens[1] = PT_BYTE_EOS;
        mc.n_stop_tokens = 2;
        mc.seed = 9;
        for (b = 0; b < BUDGETS; b++) {
            char name[32];
            mc.simulations = sims[b];
            t0 = pt_time_seconds();
            if (pt_mcts_solve(policy, prm, (const int *const *)ids, lens, n_problems, &mc, res) != PT_OK) {
                printf("MCTS failed: %s\n", pt_last_error());
                break;
            }
            memset(&row, 0, sizeof row);
            for (i = 0; i < n_problems; i++) {
                pt_world_score s;
                pt_world_score_text(&problems[i], res[i].text, &s);
                add(&row, i, s.correct);
                row.tokens += res[i].tokens;
            }
            snprintf(name, sizeof name, "MCTS (PRM) x%d", mc.expand);
            emit(csv, name, sims[b], &row);
            if (b == BUDGETS - 1) printf("    (%d simulations: %.1f s; e.g. %s -> %s, value %.2f, %d nodes)\n", sims[b],
                                         pt_time_seconds() - t0, problems[n_problems - 1].question,
                                         res[n_problems - 1].text, res[n_problems - 1].value, res[n_problems - 1].nodes);
        }
        mc.token_level = 1;   /* the token-level option: every token a step */
        mc.simulations = 16;
        if (pt_mcts_solve(policy, prm, (const int *const *)ids, lens, n_problems, &mc, res) == PT_OK) {
            memset(&row, 0, sizeof row);
            for (i = 0; i < n_problems; i++) {
                pt_world_score s;
                pt_world_score_text(&problems[i], res[i].text, &s);
                add(&row, i, s.correct);
                row.tokens += res[i].tokens;
            }
            emit(csv, "MCTS token-level", 16, &row);
        }
        free(res);
    }
    for (i = 0; i < n_problems * max_n; i++) free(texts[i]);
    for (i = 0; i < n_problems; i++) free(greedy[i]);
    free(texts);
    free(tokens);
    free(right);
    free(answers);
    free(s_orm);
    free(s_prm);
    free(s_judge);
    free(has);
}

int main(int argc, char **argv)
{
    pt_model *policy, *orm, *prm, *judge;
    pairs train, valid;
    FILE *csv;
    int i;
    n_problems = argc > 1 ? atoi(argv[1]) : 300;
    max_n = argc > 2 ? atoi(argv[2]) : 16;
    if (n_problems < 10 || n_problems > MAX_P || max_n < 1 || max_n > MAX_N) {
        printf("usage: test_time [problems 10..%d] [max N 1..%d]\n", MAX_P, MAX_N);
        return 1;
    }
    tok = pt_byte_tokenizer();
    memset(&world, 0, sizeof world);
    n_problems = pt_world_heldout(&world, PT_WORLD_ID, n_problems, problems);
    for (i = 0; i < n_problems; i++) {
        long long v;
        for (v = problems[i].terms[0], digits_of[i] = 0; v > 0; v /= 10) digits_of[i]++;
        if (!digits_of[i]) digits_of[i] = 1;
    }
    if (!(csv = fopen("build/test_time_system.csv", "w"))) return 1;
    system1_vs_2(csv);
    fclose(csv);

    if (!(policy = early_sft(&world, "build/sft_early.ckpt"))) {
        printf("no policy: %s (run make chapters first: it makes build/base.ckpt)\n", pt_last_error());
        return 1;
    }
    printf("\nPart 2: verifiers of the early SFT policy, trained on its own samples (1500 training problems x 8,"
           " best vs worst by the rules)\n");
    onpolicy_pairs(policy, PT_WORLD_TRAIN, 31, 1500, &train);
    onpolicy_pairs(policy, PT_WORLD_VALID, 32, 300, &valid);
    printf("  %d training pairs, %d validation pairs\n", train.n, valid.n);
    orm = train_verifier(policy, 0, &train, &valid, "build/test_time_orm.ckpt");
    prm = train_verifier(policy, 1, &train, &valid, "build/test_time_prm.ckpt");
    judge = pt_model_load("build/judge.ckpt");
    if (!orm || !prm) return 1;
    printf("\nPart 3: test-time scaling on %d held-out problems, up to N = %d samples (T = 1)%s\n", n_problems, max_n,
           judge ? "" : "; no build/judge.ckpt (reward_model.c makes it): judge left out");
    if (!(csv = fopen("build/test_time.csv", "w"))) return 1;
    scaling(policy, orm, prm, judge, csv);
    fclose(csv);
    printf("\nwrote build/test_time_system.csv, build/test_time.csv\n");
    pt_examples_free(train.both, 2 * train.n);
    pt_examples_free(valid.both, 2 * valid.n);
    pt_model_free(policy);
    pt_model_free(orm);
    pt_model_free(prm);
    pt_model_free(judge);
    return 0;
}
