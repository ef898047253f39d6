/* ppo.c - RLHF's original recipe: PPO against a learned reward model, with a KL penalty.

   The policy is an early SFT checkpoint: the base of `make chapters` (build/base.ckpt) after 250 of
   sft.c's 600 steps, which answers two thirds of the held-out sums (67.3%; the full SFT model
   answers all of them, leaving PPO nothing to gain). It is made here once and kept as
   build/sft_early.ckpt. The reward is the outcome reward model of examples/reward_model.c
   (build/rm.ckpt: Bradley-Terry on graded pairs), read at the last token of each sampled
   completion. The critic starts from the reward model too (TRL's default: its transformer and its
   head). Per token the reward is -kl_coef * (log pi - log ref), plus the RM's score on the stop
   token (Ziegler et al. 2019; Stiennon et al. 2020; Ouyang et al. 2022); GAE, whitened advantages,
   the clipped policy and value losses, 4 epochs per rollout. With a KL target
   the coefficient adapts (Ziegler et al.'s controller).
   The RM is a proxy: what it rewards is not exactly correctness. Both are reported: the RM score
   of the policy's samples (the proxy, in the CSV) and held-out accuracy by the rules (the truth).
   Then, from the same early SFT model and for the same number of sampled completions, GRPO with
   the verifiable rule reward (correct 1, format 0.5; 8 prompts x 8 samples per step, as PPO's 64
   prompts): RL from a learned proxy against RL from a rule (Tulu 3's RLVR, DeepSeek-R1). Both use
   lr 1e-4 with 10 warmup steps: without warmup a fresh AdamW's first updates, full-size in every
   weight whatever the noise of the gradient, cost the early SFT model up to 9 points of accuracy.

   usage: ppo [steps (default 150)] [kl_coef (default 0.05)] [kl target (default 0 = fixed)] [policy checkpoint]
   writes build/ppo.csv (per step: reward = mean RM score, r_correct = the rule's verdict on the same
   samples, logged with weight 0, kl, kl_coef, length, clip_frac, value_loss) and build/ppo_grpo.csv; saves build/ppo.ckpt and build/ppo_grpo.ckpt (the best by
   validation accuracy; the table reports the last models). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pt_world_config wc;

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 150, i, n_prompts = 2000;
    float kl_coef = argc > 2 ? (float)atof(argv[2]) : 0.05f, kl_target = argc > 3 ? (float)atof(argv[3]) : 0.0f;
    const char *policy_path = argc > 4 ? argv[4] : "build/sft_early.ckpt";
    pt_model *policy, *critic, *rm;
    pt_reward_term truth = {"correct", pt_reward_correct, NULL, 0.0f};
    pt_example *prompts = (pt_example *)calloc((size_t)n_prompts, sizeof(pt_example));
    pt_world_eval_result id, ood;
    pt_ppo_config p;
    pt_train_result res;
    wc.min_digits = 1; wc.max_digits = 3;
    policy = early_sft(&wc, policy_path);
    rm = pt_model_load("build/rm.ckpt");
    critic = rm ? pt_model_load("build/rm.ckpt") : NULL;
    if (!policy || !rm || !critic || !prompts) {
        printf("%s\n(this example needs build/base.ckpt and build/rm.ckpt: make chapters)\n", pt_last_error());
        return 1;
    }
    for (i = 0; i < n_prompts; i++)   /* training-class prompts in the chat template */
        if (pt_world_sft_example(&wc, PT_WORLD_TRAIN, 21, i, &prompts[i]) != PT_OK) return 1;
    memset(&p, 0, sizeof p);
    p.train.steps = steps;
    p.train.lr = 1e-4f;
    p.train.warmup = 10;   /* a fresh AdamW's first updates are full-size whatever the gradient's noise */
    p.train.eval_every = steps / 4 > 0 ? steps / 4 : 1;
    p.train.csv_path = "build/ppo.csv";
    p.train.best_path = "build/ppo.ckpt";
    p.prompts_per_step = 64;
    p.gen.max_new_tokens = 64;
    p.kl_coef = kl_coef;
    p.kl_target = kl_target;
    p.reward_batch = rm_reward;
    p.reward_user = rm;
    p.rewards = &truth;   /* weight 0: logged per step (r_correct), never optimised */
    p.n_rewards = 1;
    p.critic = critic;
    p.metric = valid_accuracy;
    p.user = &wc;
    printf("PPO: the SFT policy against the learned ORM, kl_coef %.3f%s, %d prompts per step, %d steps\n", kl_coef,
           kl_target > 0 ? " (adaptive)" : "", p.prompts_per_step, steps);
    if (pt_world_eval(policy, &wc, PT_WORLD_ID, 1000, 1, &id) == PT_OK &&
        pt_world_eval(policy, &wc, PT_WORLD_OOD, 400, 1, &ood) == PT_OK)
        print_eval("policy", &id, &ood, NULL);
    if (pt_ppo_train(policy, prompts, n_prompts, &p, &res) != PT_OK) {
        printf("ppo: %s\n", pt_last_error());
        return 1;
    }
    printf("  %d steps in %.0f s (generation %.0f s, log-probs and values %.0f s, updates %.0f s)\n", res.steps_done,
           res.seconds, res.gen_seconds, res.logprob_seconds, res.update_seconds);
    if (pt_world_eval(policy, &wc, PT_WORLD_ID, 1000, 1, &id) == PT_OK &&
        pt_world_eval(policy, &wc, PT_WORLD_OOD, 400, 1, &ood) == PT_OK)
        print_eval("PPO", &id, &ood, NULL);
    pt_model_free(policy);
    {   /* GRPO with the rule reward from the same start and budget */
        pt_reward_term rules[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};
        pt_grpo_config g;
        pt_model *start;
        policy = pt_model_load(policy_path);
        memset(&g, 0, sizeof g);
        g.train = p.train;
        g.train.csv_path = "build/ppo_grpo.csv";
        g.train.best_path = "build/ppo_grpo.ckpt";
        g.prompts_per_step = 8;   /* 8 x 8 = 64 samples per step, as PPO's 64 prompts */
        g.group_size = 8;
        g.gen = p.gen;
        g.rewards = rules;
        g.n_rewards = 2;
        g.metric = valid_accuracy;
        g.user = &wc;
        if (!policy || pt_grpo_train(policy, prompts, n_prompts, &g, &res) != PT_OK) {
            printf("grpo: %s\n", pt_last_error());
            return 1;
        }
        printf("  GRPO: %d steps in %.0f s\n", res.steps_done, res.seconds);
        if (pt_world_eval(policy, &wc, PT_WORLD_ID, 1000, 1, &id) == PT_OK &&
            pt_world_eval(policy, &wc, PT_WORLD_OOD, 400, 1, &ood) == PT_OK)
            print_eval("GRPO", &id, &ood, NULL);
        start = pt_model_load(policy_path);
        pt_model_free(policy);   /* the paired comparison is of the checkpoint chosen on validation */
        policy = pt_model_load("build/ppo_grpo.ckpt");
        print_paired("the early SFT model -> GRPO (best checkpoint)", start, policy, &wc, 1);
        pt_model_free(start);
    }
    printf("curves in build/ppo.csv (reward = the RM's score, the proxy; kl) and build/ppo_grpo.csv\n");
    pt_model_free(policy);
    pt_model_free(rm);
    pt_model_free(critic);
    pt_examples_free(prompts, n_prompts);
    free(prompts);
    return 0;
}
