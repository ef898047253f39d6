/* dpo.c - Direct Preference Optimization on the SFT model's own mistakes.

   The SFT model (build/sft.ckpt from `make demo`) answers most held-out sums but not all. Here it
   samples 8 completions per training problem; the rules of the world rank them, and the best and
   the worst form a pair whenever the best is strictly better (on-policy pairs, as in Llama 3's
   rounds). DPO (Rafailov et al. 2023) then raises the policy's log-ratio to the reference on the
   chosen completion over the rejected one; the reference is the SFT model itself (its log-probs
   are computed once). Validation pairs from the validation split give the eval loss; the
   checkpoint is chosen by greedy accuracy on the validation split, the SFT model itself (step 0)
   being a candidate, and the test split is only reported: before, after the last step and (when it
   differs) the chosen checkpoint, with 95% intervals.

   Prints the pairs by strength, the DPO curves (loss, reward accuracy, margin, chosen and rejected
   log-probs; build/dpo.csv) and the before/after table.

   usage: dpo [steps (default 150)] [sft checkpoint (default build/sft.ckpt)] [beta (default 0.1)]
              [lr (default 5e-5)] [rpo alpha (default 0: plain DPO; 1: DPO + NLL on chosen, RPO)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* print_eval, valid_accuracy */
#include <stdio.h>
#include <stdlib.h>

#define N_PROBLEMS 1500  /* training problems sampled for pairs */
#define N_VALID_PROBLEMS 300
#define SAMPLES 8
#define N_TEST 800

static pt_world_config world;

static int report(pt_model *m, const char *when)
{
    pt_world_eval_result id, ood, mixed;
    if (pt_world_eval(m, &world, PT_WORLD_ID, N_TEST, 1, &id) != PT_OK ||
        pt_world_eval(m, &world, PT_WORLD_OOD, 400, 1, &ood) != PT_OK ||
        pt_world_eval(m, &world, PT_WORLD_MIXED, 400, 1, &mixed) != PT_OK) {
        printf("eval error: %s\n", pt_last_error());
        return 1;
    }
    print_eval(when, &id, &ood, &mixed);
    return 0;
}

/* On-policy pairs of a split as example arrays (the caller frees them). */
static int make_pairs(pt_model *m, int split, int n_problems, uint64_t seed, pt_example **c, pt_example **r,
                      float **strength)
{
    pt_sampler t1 = {1.0f, 0, 0.0f};
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_dataset ds;
    int n, by[4] = {0, 0, 0, 0}, i;
    if (pt_world_onpolicy_pairs(m, &world, split, seed, n_problems, SAMPLES, &t1, seed + 1, &ds) != PT_OK) return -1;
    n = ds.n;
    *c = (pt_example *)calloc((size_t)(n > 0 ? n : 1), sizeof(pt_example));
    *r = (pt_example *)calloc((size_t)(n > 0 ? n : 1), sizeof(pt_example));
    *strength = (float *)calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!*c || !*r || !*strength || (n > 0 && pt_pair_examples(&ds, &tok, 1, *c, *r, *strength) != PT_OK)) {
        pt_dataset_free(&ds);
        return -1;
    }
    for (i = 0; i < n; i++) by[(int)(*strength)[i] & 3]++;
    printf("  %d pairs from %d problems (significant %d, better %d, slight %d, marginal %d)\n", n, n_problems, by[3],
           by[2], by[1], by[0]);
    pt_dataset_free(&ds);
    return n;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 150;
    const char *path = argc > 2 ? argv[2] : "build/sft.ckpt";
    float beta = argc > 3 ? (float)atof(argv[3]) : 0.1f, lr = argc > 4 ? (float)atof(argv[4]) : 5e-5f;
    float rpo_alpha = argc > 5 ? (float)atof(argv[5]) : 0.0f;
    pt_model *m = pt_model_load(path), *best;
    pt_example *c, *r, *vc, *vr;
    float *strength, *vstrength;
    int n, n_valid;
    pt_dpo_config cfg = {0};
    pt_train_result res;
    if (!m) {
        printf("cannot load %s: %s\n(run `make demo` first: it trains build/sft.ckpt)\n", path, pt_last_error());
        return 1;
    }
    printf("DPO of %s: beta %g, lr %g, %d steps, NLL weight (RPO) %g\n", path, beta, lr, steps, rpo_alpha);
    if (report(m, "before")) return 1;
    printf("\nsampling %d completions per problem at T = 1 and ranking them by the world's rules:\n", SAMPLES);
    printf("  train split:");
    n = make_pairs(m, PT_WORLD_TRAIN, N_PROBLEMS, 11, &c, &r, &strength);
    printf("  validation split:");
    n_valid = make_pairs(m, PT_WORLD_VALID, N_VALID_PROBLEMS, 12, &vc, &vr, &vstrength);
    if (n < 1 || n_valid < 0) {
        printf("no pairs: %s\n", pt_last_error());
        return 1;
    }
    cfg.pref.loss = PT_PREF_DPO;
    cfg.pref.beta = beta;
    cfg.pref.rpo_alpha = rpo_alpha;
    cfg.batch_pairs = 16;
    cfg.seed = 1;
    cfg.train.steps = steps;
    cfg.train.lr = lr;
    cfg.train.eval_every = steps / 5 > 0 ? steps / 5 : 1;
    cfg.train.csv_path = "build/dpo.csv";
    cfg.train.best_path = "build/dpo.ckpt";
    cfg.metric = valid_accuracy;   /* greedy accuracy on 400 validation problems (example.h) */
    cfg.user = &world;
    printf("\n");
    if (pt_dpo_train(m, c, r, strength, n, vc, vr, n_valid, &cfg, &res) != PT_OK) {
        printf("DPO failed: %s\n", pt_last_error());
        return 1;
    }
    printf("  %d steps in %.0f s (%.0f tokens/s); best validation accuracy %.1f%% at step %d\n\n", res.steps_done,
           res.seconds, res.tokens_per_s, 100 * res.best_metric, res.best_step);
    if (report(m, "last")) return 1;   /* the policy after the last step */
    best = pt_model_load("build/dpo.ckpt");
    printf("  chosen on validation: step %d%s\n", res.best_step, res.best_step == 0 ? " (the SFT model itself)" : "");
    if (best && res.best_step > 0 && report(best, "chosen")) return 1;
    printf("\ncurves in build/dpo.csv (step, loss, ..., acc, margin, chosen_logp, rejected_logp, kl)\n");
    pt_examples_free(c, n);
    pt_examples_free(r, n);
    pt_examples_free(vc, n_valid);
    pt_examples_free(vr, n_valid);
    free(c);
    free(r);
    free(vc);
    free(vr);
    free(strength);
    free(vstrength);
    pt_model_free(best);
    pt_model_free(m);
    return 0;
}
