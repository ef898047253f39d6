/* r1.c - DeepSeek-R1's two recipes at toy scale: RL alone (R1-Zero) against a small supervised
   "cold start" followed by RL (R1), and against the cold start alone.

   All three start from the mixed-format base of examples/grpo.c (build/base_mixed.ckpt: 60% of its
   corpus answers directly, 40% works the columns out). The cold start is a few hundred worked
   solutions in the base's own format, "A: <think>7+5=12;4+8+1=13</think><answer>132</answer>",
   trained for 100 steps: R1 used a few thousand such examples before its RL stage, to fix the
   format and readability that R1-Zero lacked. RL is the same GRPO run as examples/grpo.c (rewards:
   correct 1, format 0.5; 16 prompts x 8 samples; 150 rollouts). Checkpoints are chosen on the
   validation split; the table reports 1000 held-out test problems (in distribution, 1-3 digits)
   and 400 with one more digit (OOD), with 95% intervals, and the mean length of greedy answers.

   usage: r1 [rl steps (default 150)] [cold-start examples (default 300)]
   writes build/r1.csv (model,id,id_lo,id_hi,ood,format,length) and the runs' curves
   build/r1_zero.csv, build/r1_sft.csv, build/r1_rl.csv. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static pt_world_config wc;
static pt_example prompts[4000];
static pt_reward_term rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};

static float valid_raw(pt_model *m, void *user)
{
    pt_world_eval_result r;
    (void)user;
    return pt_world_eval(m, &wc, PT_WORLD_VALID, 400, 0, &r) == PT_OK ? r.accuracy : 0.0f;
}

/* Mean length in tokens of greedy answers to the first 200 test problems (raw format). */
static float greedy_length(pt_model *m)
{
    static int buf[200][64], lens[200];
    static const int *ids[200];
    static pt_problem probs[200];
    pt_gen_config g;
    pt_gen_result r;
    double total = 0;
    int i, n = pt_world_heldout(&wc, PT_WORLD_ID, 200, probs);
    for (i = 0; i < n; i++) {
        lens[i] = pt_world_prompt(&probs[i], 0, buf[i], 64);
        ids[i] = buf[i];
    }
    raw_gen(&g, 64);
    g.sampler.temperature = 0.0f;   /* greedy */
    if (n < 1 || pt_generate(m, ids, lens, n, 1, &g, &r) != PT_OK) return NAN;
    for (i = 0; i < n; i++) total += r.total_len[i] - r.prompt_len[i];
    pt_gen_result_free(&r);
    return (float)(total / n);
}

static void row(FILE *csv, const char *name, pt_model *m)
{
    pt_world_eval_result id, ood;
    char line[160];
    float len;
    if (pt_world_eval(m, &wc, PT_WORLD_ID, 1000, 0, &id) != PT_OK || pt_world_eval(m, &wc, PT_WORLD_OOD, 400, 0, &ood) != PT_OK) {
        printf("eval: %s\n", pt_last_error());
        return;
    }
    len = greedy_length(m);
    pt_world_eval_format(&id, line, sizeof line);
    printf("  %-12s ID %s\n               OOD %5.1f%%  format %5.1f%%  greedy length %.1f tokens\n", name, line,
           100 * ood.accuracy, 100 * id.format_rate, len);
    fprintf(csv, "%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.2f\n", name, id.accuracy, id.accuracy_lo, id.accuracy_hi, ood.accuracy,
            id.format_rate, len);
    fflush(csv);
}

static int grpo(pt_model *m, int steps, const char *csv, const char *best)
{
    pt_grpo_config g;
    memset(&g, 0, sizeof g);
    g.train.steps = steps;
    g.train.lr = 2e-4f;
    g.train.warmup = PT_ZERO;
    g.train.eval_every = steps / 6 > 0 ? steps / 6 : 1;
    g.train.csv_path = csv;
    g.train.best_path = best;
    g.prompts_per_step = 16;
    g.group_size = 8;
    raw_gen(&g.gen, 64);
    g.rewards = rewards;
    g.n_rewards = 2;
    g.metric = valid_raw;
    return pt_grpo_train(m, prompts, 4000, &g, NULL);
}

int main(int argc, char **argv)
{
    int rl_steps = argc > 1 ? atoi(argv[1]) : 150, n_cold = argc > 2 ? atoi(argv[2]) : 300, i;
    pt_model *base = pt_model_load("build/base_mixed.ckpt"), *m;
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_example *cold, *cold_eval;
    pt_dataset ds, dv;
    pt_sft_config s;
    FILE *csv;
    if (!base) {
        printf("%s\n(make it with: build/pretrain 1400 0 build/base_mixed.ckpt 0.6)\n", pt_last_error());
        return 1;
    }
    wc.min_digits = 1; wc.max_digits = 3;
    raw_prompts(&wc, 11, 4000, prompts);   /* RL prompts: training-class problems, raw format */
    /* the cold start: worked solutions of other training problems, completion-only loss */
    if (pt_world_dataset(&wc, PT_WORLD_TRAIN, 77, n_cold, PT_DATA_COMPLETION, &ds) != PT_OK ||
        pt_world_dataset(&wc, PT_WORLD_VALID, 78, 100, PT_DATA_COMPLETION, &dv) != PT_OK) {
        printf("data: %s\n", pt_last_error());
        return 1;
    }
    cold = (pt_example *)calloc((size_t)ds.n, sizeof(pt_example));
    cold_eval = (pt_example *)calloc((size_t)dv.n, sizeof(pt_example));
    for (i = 0; i < ds.n; i++) pt_record_example(&tok, &ds.records[i], ds.kind, 0, 0, &cold[i]);
    for (i = 0; i < dv.n; i++) pt_record_example(&tok, &dv.records[i], dv.kind, 0, 0, &cold_eval[i]);
    if (!(csv = fopen("build/r1.csv", "w"))) return 1;
    fprintf(csv, "model,id,id_lo,id_hi,ood,format,length\n");
    printf("R1 vs R1-Zero from the mixed-format base; %d cold-start examples, %d GRPO rollouts\n", n_cold, rl_steps);
    row(csv, "base", base);

    printf("R1-Zero: GRPO from the base\n");
    m = pt_model_clone(base, 1);
    if (grpo(m, rl_steps, "build/r1_zero.csv", "build/r1_zero.ckpt") != PT_OK) printf("grpo: %s\n", pt_last_error());
    pt_model_free(m);
    if ((m = pt_model_load("build/r1_zero.ckpt"))) row(csv, "R1-Zero", m);
    pt_model_free(m);

    printf("cold start: SFT on %d worked solutions\n", ds.n);
    m = pt_model_clone(base, 1);
    memset(&s, 0, sizeof s);
    s.steps = 100;
    s.batch_rows = 8;
    s.seq_len = 64;
    s.lr = 1e-3f;
    s.eval_every = 25;
    s.csv_path = "build/r1_sft.csv";
    s.best_path = "build/r1_sft.ckpt";
    s.metric = valid_raw;
    if (pt_sft_train(m, cold, ds.n, cold_eval, dv.n, &s, NULL) != PT_OK) printf("sft: %s\n", pt_last_error());
    pt_model_free(m);
    if (!(m = pt_model_load("build/r1_sft.ckpt"))) return 1;
    row(csv, "cold SFT", m);

    printf("R1: GRPO from the cold start\n");
    if (grpo(m, rl_steps, "build/r1_rl.csv", "build/r1.ckpt") != PT_OK) printf("grpo: %s\n", pt_last_error());
    pt_model_free(m);
    if ((m = pt_model_load("build/r1.ckpt"))) row(csv, "R1 (SFT+RL)", m);
    {   /* what RL added to the cold start, problem by problem */
        pt_model *cold_sft = pt_model_load("build/r1_sft.ckpt");
        print_paired("cold SFT -> R1", cold_sft, m, &wc, 0);
        pt_model_free(cold_sft);
    }
    pt_model_free(m);
    fclose(csv);
    printf("table in build/r1.csv\n");
    pt_examples_free(cold, ds.n);
    pt_examples_free(cold_eval, dv.n);
    free(cold);
    free(cold_eval);
    pt_dataset_free(&ds);
    pt_dataset_free(&dv);
    pt_examples_free(prompts, 4000);
    pt_model_free(base);
    return 0;
}
