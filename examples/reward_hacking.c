/* reward_hacking.c - optimising a learned reward model too hard (Gao et al. 2022, "Scaling Laws for
   Reward Model Overoptimization").

   The proxy is the outcome RM of examples/reward_model.c (build/rm.ckpt, trained on graded synthetic
   pairs); the truth is the world's rule (is the answer right?). The policy is the early SFT
   checkpoint of examples/ppo.c (67% on held-out problems). Gao et al. plot both rewards against
   d = sqrt(KL(policy || start)) and find the proxy rising steadily while the true reward rises,
   peaks and falls; for best-of-N, KL = log N - (N - 1) / N. Three curves:
     - best-of-N: 64 samples (T = 1) for each of 200 validation problems, the RM picks one among the
       first N, for N = 1, 2, 4, ..., 64;
     - PPO on the RM alone (kl_coef 0.05): per rollout, the RM's score of the samples (proxy), the
       rule's verdict on the same samples (true, logged with weight 0) and the KL;
     - PPO on a mixture, the RM plus the rule with weight 2 (the defence: a reward that cannot be
       satisfied without being right).

   usage: reward_hacking [ppo steps (default 100)]
   writes build/reward_hacking.csv (method,step,sqrt_kl,proxy,true) and the two PPO runs' CSVs
   build/hack_rm.csv and build/hack_mix.csv. Needs build/base.ckpt and build/rm.ckpt (make chapters). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PROB 200
#define MAX_N 64

static pt_world_config wc;

static void best_of_n(pt_model *policy, pt_model *rm, FILE *out)
{
    static int buf[N_PROB][64], lens[N_PROB];
    static const int *ids[N_PROB];
    static pt_problem probs[N_PROB];
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_gen_config g;
    pt_gen_result r;
    char **prompt = (char **)calloc(N_PROB * MAX_N, sizeof(char *));
    char **completion = (char **)calloc(N_PROB * MAX_N, sizeof(char *));
    float *proxy = (float *)malloc(N_PROB * MAX_N * sizeof(float));
    int i, j, at, n = pt_world_heldout(&wc, PT_WORLD_VALID, N_PROB, probs), N;
    for (i = 0; i < n; i++) {
        lens[i] = pt_world_prompt(&probs[i], 1, buf[i], 64);
        ids[i] = buf[i];
    }
    memset(&g, 0, sizeof g);
    g.max_new_tokens = 64;
    g.sampler.temperature = 1.0f;
    g.stop_tokens[0] = PT_BYTE_END;
    g.stop_tokens[1] = PT_BYTE_EOS;
    g.n_stop_tokens = 2;
    g.seed = 5;
    if (!prompt || !completion || !proxy) return;
    for (at = 0; at < n; at += 16) {   /* 16 problems x 64 samples at a time: a bounded KV cache */
        int k = n - at < 16 ? n - at : 16;
        if (pt_generate(policy, ids + at, lens + at, k, MAX_N, &g, &r) != PT_OK) {
            printf("best-of-N: %s\n", pt_last_error());
            return;
        }
        for (j = 0; j < k * MAX_N; j++) {   /* texts as the RL trainers see them: the stop token left off */
            const int *seq = r.tokens + (size_t)j * r.width;
            int p = r.prompt_len[j], len = r.total_len[j], stop = len > p && seq[len - 1] == PT_BYTE_END;
            i = at * MAX_N + j;
            prompt[i] = (char *)malloc(1024);
            completion[i] = (char *)malloc(1024);
            pt_decode(&tok, seq, p, prompt[i], 1024);
            pt_decode(&tok, seq + p, len - p - stop, completion[i], 1024);
        }
        pt_gen_result_free(&r);
    }
    if (rm_reward((const char *const *)prompt, (const char *const *)completion, n * MAX_N, proxy, rm) != PT_OK) {
        printf("RM: %s\n", pt_last_error());
        return;
    }
    printf("  best-of-N (%d validation problems, the RM picks):\n", n);
    for (N = 1; N <= MAX_N; N *= 2) {
        double sp = 0, st = 0, kl = log((double)N) - (N - 1.0) / N;
        for (i = 0; i < n; i++) {
            int best = i * MAX_N;
            for (j = 1; j < N; j++)
                if (proxy[i * MAX_N + j] > proxy[best]) best = i * MAX_N + j;
            sp += proxy[best];
            st += pt_reward_correct(prompt[best], completion[best], NULL);
        }
        printf("    N = %2d  sqrt(KL) %.2f  proxy %.3f  true %.3f\n", N, sqrt(kl), sp / n, st / n);
        fprintf(out, "best_of_n,%d,%.4f,%.4f,%.4f\n", N, sqrt(kl), sp / n, st / n);
    }
    for (i = 0; i < n * MAX_N; i++) {
        free(prompt[i]);
        free(completion[i]);
    }
    free(prompt);
    free(completion);
    free(proxy);
}

static void ppo_run(const char *name, const char *csv, float rule_weight, int steps, pt_model *rm, FILE *out,
                    const pt_example *prompts, int n_prompts)
{
    pt_model *policy = early_sft(&wc, "build/sft_early.ckpt"), *critic = pt_model_load("build/rm.ckpt");
    pt_reward_term truth = {"correct", pt_reward_correct, NULL, rule_weight};
    pt_ppo_config p;
    int s;
    if (!policy || !critic) {
        printf("%s\n", pt_last_error());
        return;
    }
    memset(&p, 0, sizeof p);
    p.train.steps = steps;
    p.train.lr = 1e-4f;
    p.train.warmup = 10;
    p.train.csv_path = csv;
    p.train.name = name;
    p.prompts_per_step = 64;
    p.gen.max_new_tokens = 64;
    p.reward_batch = rm_reward;
    p.reward_user = rm;
    p.rewards = &truth;   /* weight 0: only logged */
    p.n_rewards = 1;
    p.critic = critic;
    if (pt_ppo_train(policy, prompts, n_prompts, &p, NULL) != PT_OK) printf("%s: %s\n", name, pt_last_error());
    for (s = 1; s <= steps; s++) {   /* the per-rollout curve, from the trainer's CSV */
        double kl = csv_mean(csv, "kl", s, s);
        fprintf(out, "%s,%d,%.4f,%.4f,%.4f\n", name, s, sqrt(kl > 0 ? kl : 0), csv_mean(csv, "r_batch", s, s),
                csv_mean(csv, "r_correct", s, s));
    }
    fflush(out);
    pt_model_free(policy);
    pt_model_free(critic);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 100, i, n_prompts = 2000;
    pt_model *policy, *rm;
    pt_example *prompts = (pt_example *)calloc((size_t)n_prompts, sizeof(pt_example));
    FILE *out;
    wc.min_digits = 1; wc.max_digits = 3;
    policy = early_sft(&wc, "build/sft_early.ckpt");
    rm = pt_model_load("build/rm.ckpt");
    if (!policy || !rm || !prompts || !(out = fopen("build/reward_hacking.csv", "w"))) {
        printf("%s\n(needs build/base.ckpt and build/rm.ckpt: make chapters)\n", pt_last_error());
        return 1;
    }
    for (i = 0; i < n_prompts; i++)
        if (pt_world_sft_example(&wc, PT_WORLD_TRAIN, 21, i, &prompts[i]) != PT_OK) return 1;
    fprintf(out, "method,step,sqrt_kl,proxy,true\n");
    printf("reward hacking: the proxy (the learned ORM) against the truth (the rule)\n");
    best_of_n(policy, rm, out);
    printf("  PPO on the RM alone, %d rollouts\n", steps);
    ppo_run("ppo_rm", "build/hack_rm.csv", 0.0f, steps, rm, out, prompts, n_prompts);
    printf("  PPO on the RM + 2 x the rule, %d rollouts\n", steps);
    ppo_run("ppo_mix", "build/hack_mix.csv", 2.0f, steps, rm, out, prompts, n_prompts);
    fclose(out);
    for (i = 0; i < 2; i++) {
        const char *csv = i ? "build/hack_mix.csv" : "build/hack_rm.csv";
        int k = steps / 10 > 0 ? steps / 10 : 1;
        printf("  %-8s first %d rollouts: proxy %.3f true %.3f KL %.2f   last %d: proxy %.3f true %.3f KL %.2f\n",
               i ? "mixture" : "RM only", k, csv_mean(csv, "r_batch", 1, k), csv_mean(csv, "r_correct", 1, k),
               csv_mean(csv, "kl", 1, k), k, csv_mean(csv, "r_batch", steps - k + 1, steps),
               csv_mean(csv, "r_correct", steps - k + 1, steps), csv_mean(csv, "kl", steps - k + 1, steps));
    }
    printf("curves in build/reward_hacking.csv\n");
    pt_model_free(policy);
    pt_model_free(rm);
    pt_examples_free(prompts, n_prompts);
    free(prompts);
    return 0;
}
