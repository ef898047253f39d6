/* star.c - STaR, the Self-Taught Reasoner (Zelikman et al. 2022), on the world's additions.

   STaR's own n-digit addition experiment is this world: a pretrained model writes a rationale (the
   think block) and an answer; rationales that reach the right answer are kept; the ORIGINAL model
   is fine-tuned on them (each iteration starts again from it, as the paper does, on the data the
   latest model produced); repeat. Rationalisation: for a problem the model got wrong, ask again
   with the answer given as a hint ("Q: 47+85=? (answer 132)") and keep a rationale that reaches
   it, trained on under the plain question. The paper saw, without rationalisation, one more digit
   length learned per iteration, and with it all lengths at once.
   Here: the base of examples/pretrain.c (build/base.ckpt, trained on 1-3 digit problems), training
   prompts of 1-5 digits (training class), 4 samples per prompt at T = 0.7 (pt_rejection_sample,
   the rule as the scorer, distinct rationales), SFT of the base on what was kept; greedy accuracy
   per digit count on held-out test problems of 1-5 digits after every iteration, without and with
   rationalisation. Writes build/star.csv (notebook 06).
   Measured (v0.9.0, 4 iterations, 1000 test problems): 1-5 digit accuracy 20.0% -> 23.1, 24.8,
   25.9, 25.3%; 2 digits 73% -> 96%, but 3 digits stay at 2-6% although the kept 3-digit rationales
   grow (61 -> 98 of 420 prompts), and 4-5 digits stay at 0: no sample is ever right, so there is
   no data. Rationalisation adds 25-43 rationales per iteration, almost all of 1-2 digits (a 1M
   model pretrained on plain problems barely reads a hint), and ends at 24.9%: no gain. The
   paper's digit-per-iteration pattern does not appear within 4 iterations at this scale.

   usage: star [iterations (default 4)] [prompts (default 2000)] [sft steps (default 200)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"

#define MAX_PROMPTS 8000
#define DIGITS 5

static pt_world_config world;
static pt_problem problems[MAX_PROMPTS];
static char prompt_text[MAX_PROMPTS][96], hint_text[MAX_PROMPTS][128];
static const char *prompts[MAX_PROMPTS], *hints[MAX_PROMPTS];

static void eval_row(pt_model *m, FILE *csv, const char *variant, int iteration, int kept, int rationalised)
{
    pt_world_eval_result r;
    int d;
    if (pt_world_eval(m, &world, PT_WORLD_ID, 1000, 0, &r) != PT_OK) return;
    printf("  %-22s iter %d  kept %5d (%4d by hint)  accuracy %5.1f%%  by digits:", variant, iteration, kept,
           rationalised, 100 * r.accuracy);
    fprintf(csv, "%s,%d,%d,%d,%.4f", variant, iteration, kept, rationalised, r.accuracy);
    for (d = 1; d <= DIGITS; d++) {
        float a = r.n_by_digits[d] ? (float)r.correct_by_digits[d] / r.n_by_digits[d] : 0.0f;
        printf(" %dd %5.1f%%", d, 100 * a);
        fprintf(csv, ",%.4f", a);
    }
    printf("\n");
    fprintf(csv, "\n");
    fflush(stdout);
}

/* One STaR run; rationalise = 1 retries the failures with the answer as a hint. */
static void star(int rationalise, int iterations, int n_prompts, int steps, FILE *csv)
{
    const char *variant = rationalise ? "STaR + rationalisation" : "STaR";
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_reward_term correct = {"correct", pt_reward_correct, NULL, 1.0f};
    pt_model *m = pt_model_load("build/base.ckpt");
    int it, i;
    if (!m) {
        printf("needs build/base.ckpt (build/pretrain): %s\n", pt_last_error());
        exit(1);
    }
    eval_row(m, csv, variant, 0, 0, 0);
    for (it = 1; it <= iterations; it++) {
        pt_rs_config c;
        pt_rs_result res, res_hint;
        pt_dataset kept, kept_hint;
        pt_example *ex;
        pt_sft_config sc;
        int n = 0, n_fail = 0;
        static const char *fail_prompts[MAX_PROMPTS], *fail_hints[MAX_PROMPTS];
        static unsigned char solved[MAX_PROMPTS];
        memset(&c, 0, sizeof c);
        c.samples = 4;
        c.keep = 4;
        c.distinct = 1;
        c.min_score = 1.0f;
        c.rewards = &correct;
        c.n_rewards = 1;
        c.gen.max_new_tokens = 80;
        c.gen.sampler.temperature = 0.7f;
        c.gen.stop_tokens[0] = '\n';
        c.gen.stop_tokens[1] = PT_BYTE_EOS;
        c.gen.n_stop_tokens = 2;
        c.gen.seed = 100 + (uint64_t)it;
        c.prompts_per_batch = 64;
        if (pt_rejection_sample(m, prompts, n_prompts, &c, &kept, &res) != PT_OK) {
            printf("rejection sampling: %s\n", pt_last_error());
            exit(1);
        }
        memset(&kept_hint, 0, sizeof kept_hint);
        memset(&res_hint, 0, sizeof res_hint);
        if (rationalise) {   /* the failures again, with the answer as a hint */
            memset(solved, 0, sizeof solved);
            for (i = 0; i < kept.n; i++)
                for (n = 0; n < n_prompts; n++)
                    if (!strcmp(kept.records[i].prompt, prompts[n])) {
                        solved[n] = 1;
                        break;
                    }
            for (i = 0; i < n_prompts; i++)
                if (!solved[i]) {
                    fail_prompts[n_fail] = prompts[i];
                    fail_hints[n_fail++] = hints[i];
                }
            c.hints = fail_hints;
            c.keep = 1;
            c.gen.seed += 1000;
            if (n_fail && pt_rejection_sample(m, fail_prompts, n_fail, &c, &kept_hint, &res_hint) != PT_OK) {
                printf("rationalisation: %s\n", pt_last_error());
                exit(1);
            }
        }
        n = kept.n + kept_hint.n;
        ex = (pt_example *)calloc((size_t)n + 1, sizeof(pt_example));
        for (i = 0; i < kept.n; i++) pt_record_example(&tok, &kept.records[i], PT_DATA_COMPLETION, 0, 0, &ex[i]);
        for (i = 0; i < kept_hint.n; i++)
            pt_record_example(&tok, &kept_hint.records[i], PT_DATA_COMPLETION, 0, 0, &ex[kept.n + i]);
        pt_model_free(m);   /* fine-tune the original model again, as STaR does */
        m = pt_model_load("build/base.ckpt");
        memset(&sc, 0, sizeof sc);
        sc.steps = steps;
        sc.batch_rows = 16;
        sc.lr = 1e-3f;
        sc.eval_every = steps;
        sc.quiet = 1;
        if (n < 1 || pt_sft_train(m, ex, n, NULL, 0, &sc, NULL) != PT_OK) {
            printf("SFT on %d rationales: %s\n", n, n < 1 ? "nothing kept" : pt_last_error());
            exit(1);
        }
        eval_row(m, csv, variant, it, n, kept_hint.n);
        printf("  %24s rationales kept / prompts, by digits:", "");
        for (i = 1; i <= DIGITS; i++)
            printf(" %dd %d/%d", i, res.kept_by_difficulty[i] + res_hint.kept_by_difficulty[i],
                   res.prompts_by_difficulty[i]);
        printf("\n");
        pt_examples_free(ex, n);
        free(ex);
        pt_dataset_free(&kept);
        pt_dataset_free(&kept_hint);
    }
    pt_model_free(m);
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 4, n_prompts = argc > 2 ? atoi(argv[2]) : 2000;
    int steps = argc > 3 ? atoi(argv[3]) : 200, i;
    FILE *csv;
    if (iterations < 1 || n_prompts < 10 || n_prompts > MAX_PROMPTS || steps < 1) {
        printf("usage: star [iterations] [prompts 10..%d] [sft steps]\n", MAX_PROMPTS);
        return 1;
    }
    memset(&world, 0, sizeof world);
    world.min_digits = 1;
    world.max_digits = DIGITS;
    for (i = 0; i < n_prompts; i++) {   /* training problems of 1-5 digits; the base saw only 1-3 */
        pt_world_problem(&world, PT_WORLD_TRAIN, 61, i, &problems[i]);
        snprintf(prompt_text[i], sizeof prompt_text[i], "%sA: ", problems[i].question);
        snprintf(hint_text[i], sizeof hint_text[i], "%.*s (answer %lld)\nA: ",
                 (int)strcspn(problems[i].question, "\n"), problems[i].question, problems[i].answer);
        prompts[i] = prompt_text[i];
        hints[i] = hint_text[i];
    }
    if (!(csv = fopen("build/star.csv", "w"))) return 1;
    fprintf(csv, "variant,iteration,kept,rationalised,accuracy,acc_1d,acc_2d,acc_3d,acc_4d,acc_5d\n");
    printf("STaR on %d training prompts of 1-%d digits, %d iterations of %d SFT steps; held-out test, greedy\n",
           n_prompts, DIGITS, iterations, steps);
    star(0, iterations, n_prompts, steps, csv);
    star(1, iterations, n_prompts, steps, csv);
    fclose(csv);
    printf("wrote build/star.csv\n");
    return 0;
}
