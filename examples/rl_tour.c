/* rl_tour.c - the online RL algorithms side by side, on one small problem, in a few minutes.

   A 60K-parameter base is pretrained here in seconds on the one-digit world (it learns the
   format and most sums: greedy accuracy ~0.84, but one sample at T = 1 is right only ~45% of the
   time). From that same start, with the same rule rewards (correct 1, format 0.5) and the same
   number of sampled completions per step (64), each algorithm trains the policy:
       GRPO      group-relative advantages, std per group, per-sequence token mean, k3 KL (beta 0.04)
       Dr. GRPO  no std, sum / (B * L_max): no length or difficulty bias
       RLOO      REINFORCE with a leave-one-out baseline, token mean
       PPO       a critic (a copy of the base with a value head), GAE, KL in the reward, 4 epochs
   Then the reward/KL frontier of the DPO paper's Figure 2: PPO at several kl_coef and DPO (on
   graded preference pairs of the same problems) at several beta, each run's final correctness of
   samples against its KL to the reference (both measured the same way, on fresh samples).

   usage: rl_tour [scale (default 1; 0.3 for a quick run)] [prefix (default build/rl_tour)]
   writes PREFIX_<algo>.csv (each trainer's per-step CSV: grpo, dr_grpo, rloo, ppo) and
   PREFIX_frontier.csv (method,setting,reward,kl). Only training-class problems are used: this is a tour of the
   optimisers, not a held-out evaluation (examples/grpo.c reports held-out accuracy). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static pt_world_config wc;
static const char *prefix = "build/rl_tour";
static pt_example prompts[400];
static pt_reward_term rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};

static pt_model *pretrain_base(void)
{
    static int corpus[200000], tokens[8 * 64], targets[8 * 64];
    pt_config c = {48, 2, 4, 2, 128, PT_BYTE_VOCAB, 64, 0, 0, 0};
    pt_model *m = pt_model_new(&c, 5);
    pt_ctx *ctx = pt_ctx_new(0);
    pt_adamw_config opt = {0};
    pt_rng rng;
    int64_t n = pt_world_corpus(&wc, 2, 5000, corpus, 200000);
    int step, i;
    pt_rng_seed(&rng, 3);
    for (step = 0; m && ctx && step < 500; step++) {   /* random 64-token windows, as examples/pretrain.c */
        pt_batch b = {0};
        pt_tensor *loss;
        for (i = 0; i < 8; i++) {
            int64_t at = pt_rng_int(&rng, 0, (int)(n - 66));
            memcpy(tokens + i * 64, corpus + at, 64 * sizeof(int));
            memcpy(targets + i * 64, corpus + at + 1, 64 * sizeof(int));
        }
        b.B = 8; b.T = 64; b.tokens = tokens; b.targets = targets;
        if ((loss = pt_model_loss(ctx, m, &b)) && pt_backward(ctx, loss) == PT_OK)
            pt_adamw_step(m->params, &opt, pt_lr_schedule(step, 25, 500, 3e-3f, 3e-4f));
        pt_params_zero_grad(m->params);
        pt_ctx_reset(ctx);
    }
    pt_ctx_free(ctx);
    return m;
}

static void gen_config(pt_gen_config *g) { raw_gen(g, 24); }

/* Correctness of 512 fresh samples (T = 1) of 64 prompts, and their KL to the reference (mean over
   sequences of sum_t log pi - log ref): the two axes of the frontier. */
static void reward_and_kl(pt_model *m, pt_model *ref, float *reward, float *kl)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_rollout_config rc;
    pt_rollout ro;
    const int *ids[64];
    int lens[64], i;
    int64_t t;
    double r = 0, k = 0;
    memset(&rc, 0, sizeof rc);
    gen_config(&rc.gen);
    rc.gen.seed = 2024;
    rc.pad_id = PT_BYTE_PAD;
    rc.ref = ref;
    rc.recompute_old = 1;   /* log pi at T = 1 by the same forward as the reference's */
    rc.tok = &tok;
    for (i = 0; i < 64; i++) {
        ids[i] = prompts[i].ids;
        lens[i] = prompts[i].n_ids;
    }
    *reward = *kl = NAN;
    if (pt_rollout_generate(m, ids, lens, 64, 8, &rc, &ro) != PT_OK) return;
    for (i = 0; i < ro.batch.B; i++) r += pt_reward_correct(ro.prompt_text[i], ro.completion_text[i], NULL);
    for (t = 0; t < (int64_t)ro.batch.B * ro.batch.T; t++)
        if (ro.batch.mask[t] != 0.0f) k += ro.batch.old_logprobs[t] - ro.ref_logprobs[t];
    *reward = (float)(r / ro.batch.B);
    *kl = (float)(k / ro.batch.B);
    pt_rollout_free(&ro);
}

static void grpo_like(pt_model *base, const char *name, int steps, int variant)
{
    pt_model *m = pt_model_clone(base, 1);
    pt_grpo_config g;
    char csv[512];
    snprintf(csv, sizeof csv, "%s_%s.csv", prefix, name);
    memset(&g, 0, sizeof g);
    g.train.steps = steps;
    g.train.lr = 3e-4f;
    g.train.warmup = PT_ZERO;
    g.train.csv_path = csv;
    g.train.name = name;
    g.prompts_per_step = 8;
    g.group_size = 8;
    gen_config(&g.gen);
    g.rewards = rewards;
    g.n_rewards = 2;
    if (variant == 1) {
        g.std_mode = PT_ADV_STD_NONE;
        g.agg = PT_AGG_SEQ_SUM_NORM;
    } else if (variant == 2) {
        g.advantage = PT_ADV_RLOO;
        g.agg = PT_AGG_TOKEN_MEAN;
    }
    if (pt_grpo_train(m, prompts, 400, &g, NULL) != PT_OK) printf("%s: %s\n", name, pt_last_error());
    pt_model_free(m);
}

static pt_model *ppo(pt_model *base, const char *csv, int steps, float kl_coef)
{
    pt_model *m = pt_model_clone(base, 1);
    pt_ppo_config p;
    memset(&p, 0, sizeof p);
    p.train.steps = steps;
    p.train.lr = 3e-4f;
    p.train.warmup = PT_ZERO;
    p.train.csv_path = csv;
    p.train.quiet = csv == NULL;
    p.prompts_per_step = 64;
    gen_config(&p.gen);
    p.rewards = rewards;
    p.n_rewards = 2;
    p.kl_coef = kl_coef;
    if (pt_ppo_train(m, prompts, 400, &p, NULL) != PT_OK) printf("ppo: %s\n", pt_last_error());
    return m;
}

static pt_model *dpo(pt_model *base, int steps, float beta)
{
    static pt_example chosen[800], rejected[800];
    static float strength[800];
    static int n = 0;
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_model *m = pt_model_clone(base, 1);
    pt_dpo_config d;
    if (n == 0) {   /* graded pairs of training problems, in the base's raw format "Q: ..\nA: " */
        pt_dataset ds;
        int k;
        if (pt_world_preferences(&wc, PT_WORLD_TRAIN, 5, 800, 0, &ds) != PT_OK) {
            printf("pairs: %s\n", pt_last_error());
            return m;
        }
        for (k = 0; k < ds.n; k++) {   /* the records' prompts are "Q: 4+5=?" (for the chat template) */
            char *raw = (char *)malloc(strlen(ds.records[k].prompt) + 5);
            sprintf(raw, "%s\nA: ", ds.records[k].prompt);
            free(ds.records[k].prompt);
            ds.records[k].prompt = raw;
        }
        if (pt_pair_examples(&ds, &tok, 0, chosen, rejected, strength) != PT_OK) {
            printf("pairs: %s\n", pt_last_error());
            n = 0;
            return m;
        }
        n = ds.n;
        pt_dataset_free(&ds);
    }
    memset(&d, 0, sizeof d);
    d.train.steps = steps;
    d.train.lr = 3e-4f;
    d.train.quiet = 1;
    d.pref.beta = beta;
    d.batch_pairs = 16;
    if (pt_dpo_train(m, chosen, rejected, strength, n, NULL, NULL, 0, &d, NULL) != PT_OK) printf("dpo: %s\n", pt_last_error());
    return m;
}

int main(int argc, char **argv)
{
    float scale = argc > 1 ? (float)atof(argv[1]) : 1.0f, r, kl;
    int i, s300 = (int)(300 * scale), s150 = (int)(150 * scale);
    pt_model *base, *m;
    FILE *f;
    char path[512];
    static const float kl_coefs[3] = {0.01f, 0.05f, 0.3f}, betas[3] = {0.03f, 0.1f, 0.5f};
    if (argc > 2) prefix = argv[2];
    wc.min_digits = wc.max_digits = 1;
    raw_prompts(&wc, 9, 400, prompts);   /* training-class prompts, raw format */
    printf("pretraining the 1-digit base (500 steps)...\n");
    if (!(base = pretrain_base())) {
        printf("base: %s\n", pt_last_error());
        return 1;
    }
    reward_and_kl(base, base, &r, &kl);
    printf("base: correctness of samples at T=1 %.3f\n", r);
    grpo_like(base, "grpo", s300, 0);
    grpo_like(base, "dr_grpo", s300, 1);
    grpo_like(base, "rloo", s300, 2);
    snprintf(path, sizeof path, "%s_ppo.csv", prefix);
    pt_model_free(ppo(base, path, s150, 0.05f));
    printf("frontier: PPO at kl_coef %.2f, %.2f, %.2f and DPO at beta %.2f, %.2f, %.2f\n", kl_coefs[0], kl_coefs[1],
           kl_coefs[2], betas[0], betas[1], betas[2]);
    snprintf(path, sizeof path, "%s_frontier.csv", prefix);
    if (!(f = fopen(path, "w"))) return 1;
    fprintf(f, "method,setting,reward,kl\nbase,0,%.4f,0\n", r);
    for (i = 0; i < 3; i++) {
        m = ppo(base, NULL, s150 / 2, kl_coefs[i]);
        reward_and_kl(m, base, &r, &kl);
        fprintf(f, "ppo,%g,%.4f,%.4f\n", kl_coefs[i], r, kl);
        printf("  PPO kl_coef %.2f: correctness %.3f, KL %.3f nats\n", kl_coefs[i], r, kl);
        pt_model_free(m);
        m = dpo(base, s150, betas[i]);
        reward_and_kl(m, base, &r, &kl);
        fprintf(f, "dpo,%g,%.4f,%.4f\n", betas[i], r, kl);
        printf("  DPO beta %.2f: correctness %.3f, KL %.3f nats\n", betas[i], r, kl);
        fflush(f);
        pt_model_free(m);
    }
    fclose(f);
    printf("curves in %s_{grpo,dr_grpo,rloo,ppo}.csv, frontier in %s_frontier.csv\n", prefix, prefix);
    pt_model_free(base);
    pt_examples_free(prompts, 400);
    return 0;
}
