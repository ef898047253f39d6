/* grpo.c - R1-Zero at toy scale: GRPO from a *base* model, with rule rewards only (DeepSeek-R1, 2025).

   The base was pretrained (examples/pretrain.c, 1400 steps with direct = 0.6) on a corpus where 60%
   of the solutions answer directly, "A: <answer>132</answer>", and 40% work the columns out first,
   "A: <think>7+5=12;4+8+1=13</think><answer>132</answer>". Prompted in its own raw format
   "Q: 47+85=?\nA: ", greedy decoding always answers directly (7% right: a small model cannot add
   in one shot); sampled at T = 1 it thinks 39% of the time and is right 18% of the time. (With
   80% direct answers and 700 steps the base learned neither way of answering.) GRPO samples G
   completions per training prompt and rewards
       correct  1 if the answer is the sum               (R1-Zero's accuracy reward)
       format   0.5 if the completion is <think>..</think><answer>..</answer>   (its format reward)
   R1-Zero's signature is that accuracy rises together with the response length: the policy finds
   that working the columns out pays. Held-out results (1000 test problems never trained on, greedy)
   before and after; the best checkpoint by validation accuracy is kept.

   usage: grpo [steps (default 150)] [base (default build/base_mixed.ckpt)] [variant grpo|dr|dapo|rloo]
               [format weight (default 0.5; 0: correctness alone, does the policy still learn to think?)]
   writes build/grpo.csv (per step: reward, accuracy and format rewards, KL, length, clip fraction,
   time split) and saves build/grpo.ckpt. Make the base with: build/pretrain 1400 0 build/base_mixed.ckpt 0.6 */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pt_world_config wc;

/* checkpoints are chosen on the validation split, in the base's raw format */
static float valid_raw(pt_model *m, void *user)
{
    pt_world_eval_result r;
    (void)user;
    return pt_world_eval(m, &wc, PT_WORLD_VALID, 400, 0, &r) == PT_OK ? r.accuracy : 0.0f;
}

static void report(pt_model *m, const char *when)
{
    pt_world_eval_result id, ood;
    if (pt_world_eval(m, &wc, PT_WORLD_ID, 1000, 0, &id) != PT_OK || pt_world_eval(m, &wc, PT_WORLD_OOD, 400, 0, &ood) != PT_OK) {
        printf("eval: %s\n", pt_last_error());
        return;
    }
    print_eval(when, &id, &ood, NULL);
    printf("           sample: %s\n", id.first);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 150, n_prompts = 4000;
    const char *base = argc > 2 ? argv[2] : "build/base_mixed.ckpt";
    const char *variant = argc > 3 ? argv[3] : "grpo";
    pt_model *m = pt_model_load(base);
    pt_example *prompts = (pt_example *)calloc((size_t)n_prompts, sizeof(pt_example));
    pt_reward_term rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};
    float format_weight = argc > 4 ? (float)atof(argv[4]) : 0.5f;
    pt_grpo_config g;
    pt_train_result res;
    if (!m || !prompts) {
        printf("%s: %s\n(make it with: build/pretrain 1400 0 build/base_mixed.ckpt 0.6)\n", base, pt_last_error());
        return 1;
    }
    wc.min_digits = 1; wc.max_digits = 3;
    raw_prompts(&wc, 11, n_prompts, prompts);   /* training-class problems: held-out ones never occur here */
    memset(&g, 0, sizeof g);
    g.train.steps = steps;
    g.train.lr = 2e-4f;
    g.train.warmup = PT_ZERO;
    g.train.eval_every = steps / 6 > 0 ? steps / 6 : 1;
    g.train.csv_path = "build/grpo.csv";
    g.train.best_path = "build/grpo.ckpt";
    g.prompts_per_step = 16;
    g.group_size = 8;
    raw_gen(&g.gen, 64);
    rewards[1].weight = format_weight;
    g.rewards = rewards;
    g.n_rewards = format_weight != 0 ? 2 : 1;
    g.metric = valid_raw;
    if (!strcmp(variant, "dr")) {            /* Dr. GRPO: no std, a constant normaliser */
        g.std_mode = PT_ADV_STD_NONE;
        g.agg = PT_AGG_SEQ_SUM_NORM;
    } else if (!strcmp(variant, "dapo")) {   /* DAPO: clip-higher, token mean, dynamic sampling, no KL */
        g.eps_high = 0.28f;
        g.agg = PT_AGG_TOKEN_MEAN;
        g.dynamic_sampling = 1;
        g.mask_truncated = 1;
        g.beta = PT_ZERO;
    } else if (!strcmp(variant, "rloo")) {
        g.advantage = PT_ADV_RLOO;
        g.agg = PT_AGG_TOKEN_MEAN;
    }
    printf("R1-Zero: %s from %s (%.2fM parameters), %d prompts x %d samples per step, %d steps\n", variant, base,
           pt_params_count(m->params, 0) / 1e6, g.prompts_per_step, g.group_size, steps);
    report(m, "base");
    if (pt_grpo_train(m, prompts, n_prompts, &g, &res) != PT_OK) {
        printf("grpo: %s\n", pt_last_error());
        return 1;
    }
    printf("  %d steps in %.0f s (generation %.0f s, log-probs %.0f s, updates %.0f s); best validation accuracy "
           "%.3f at step %d\n", res.steps_done, res.seconds, res.gen_seconds, res.logprob_seconds, res.update_seconds,
           res.best_metric, res.best_step);
    report(m, "last");
    pt_model_free(m);
    if ((m = pt_model_load("build/grpo.ckpt"))) report(m, "best");
    printf("curves in build/grpo.csv (reward, r_correct, r_format, kl, length per step)\n");
    pt_model_free(m);
    pt_examples_free(prompts, n_prompts);
    free(prompts);
    return 0;
}
