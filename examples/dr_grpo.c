/* dr_grpo.c - GRPO against Dr. GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training"):
   does per-sequence normalisation make wrong answers longer?

   GRPO's loss averages each completion's token losses over its own length |o_i| before averaging
   over completions, and divides advantages by the group's std. Liu et al. show two biases:
     - length: a wrong answer's (negative) gradient per token is scaled by 1/|o_i|, so long wrong
       answers are penalised less than short ones, and the length of wrong answers keeps growing;
     - difficulty: dividing by the std up-weights prompts that are almost always or almost never
       solved.
   Dr. GRPO drops both: advantages r - mean(group), and the loss summed over tokens and divided by
   a constant (B * L_max). Both runs start from the R1-Zero base of examples/grpo.c with the same
   rewards, seeds and budget; the CSVs record per rollout the mean length of the completions better
   than their group's mean (length_pos) and worse (length_neg), and the correctness of samples.

   usage: dr_grpo [steps (default 150)] [base (default build/base_mixed.ckpt)]
   writes build/dr_grpo_grpo.csv and build/dr_grpo_dr.csv; prints lengths at the start and end. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pt_world_config wc;
static pt_example prompts[4000];

static void run(pt_model *base, int steps, int dr, const char *csv)
{
    pt_reward_term rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};
    pt_model *m = pt_model_clone(base, 1);
    pt_grpo_config g;
    memset(&g, 0, sizeof g);
    g.train.steps = steps;
    g.train.lr = 2e-4f;
    g.train.warmup = PT_ZERO;
    g.train.csv_path = csv;
    g.train.name = dr ? "dr_grpo" : "grpo";
    g.prompts_per_step = 16;
    g.group_size = 8;
    raw_gen(&g.gen, 64);
    g.rewards = rewards;
    g.n_rewards = 2;
    if (dr) {
        g.std_mode = PT_ADV_STD_NONE;
        g.agg = PT_AGG_SEQ_SUM_NORM;
    }
    if (pt_grpo_train(m, prompts, 4000, &g, NULL) != PT_OK) printf("%s: %s\n", g.train.name, pt_last_error());
    pt_model_free(m);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 150, i, k = steps / 10 > 0 ? steps / 10 : 1;
    const char *path = argc > 2 ? argv[2] : "build/base_mixed.ckpt";
    const char *csv[2] = {"build/dr_grpo_grpo.csv", "build/dr_grpo_dr.csv"}, *name[2] = {"GRPO", "Dr. GRPO"};
    pt_model *base = pt_model_load(path);
    if (!base) {
        printf("%s: %s\n(make it with: build/pretrain 1400 0 build/base_mixed.ckpt 0.6)\n", path, pt_last_error());
        return 1;
    }
    wc.min_digits = 1; wc.max_digits = 3;
    raw_prompts(&wc, 11, 4000, prompts);
    for (i = 0; i < 2; i++) run(base, steps, i, csv[i]);
    printf("\nmean over the first and the last %d rollouts (tokens; correctness of samples):\n", k);
    printf("  %-9s  %-15s  %-15s  %-15s  %-15s\n", "", "length", "better (pos)", "worse (neg)", "correct");
    for (i = 0; i < 2; i++)
        printf("  %-9s  %5.1f -> %5.1f    %5.1f -> %5.1f    %5.1f -> %5.1f    %.3f -> %.3f\n", name[i],
               csv_mean(csv[i], "length", 1, k), csv_mean(csv[i], "length", steps - k + 1, steps),
               csv_mean(csv[i], "length_pos", 1, k), csv_mean(csv[i], "length_pos", steps - k + 1, steps),
               csv_mean(csv[i], "length_neg", 1, k), csv_mean(csv[i], "length_neg", steps - k + 1, steps),
               csv_mean(csv[i], "r_correct", 1, k), csv_mean(csv[i], "r_correct", steps - k + 1, steps));
    printf("curves in %s and %s\n", csv[0], csv[1]);
    pt_examples_free(prompts, 4000);
    pt_model_free(base);
    return 0;
}
