/* dpo.c - Direct Preference Optimization on the SFT model's own mistakes.

   The SFT model (build/sft.ckpt from `make chapters`) answers most held-out sums but not all. Here it
   samples 8 completions per training problem; the rules of the world rank them, and the best and
   the worst form a pair whenever the best is strictly better (on-policy pairs, as in Llama 3's
   rounds). DPO (Rafailov et al. 2023) then raises the policy's log-ratio to the reference (the SFT
   model; its log-probs are computed once) on the chosen completion over the rejected one.
   Validation pairs give the eval loss; the checkpoint is chosen by greedy accuracy on the
   validation split, the SFT model itself (step 0) being a candidate; the test split is only
   reported (before, last step, chosen checkpoint; 95% intervals). Prints the pairs by strength, the
   before/after table and the ends of the chosen and rejected log-prob curves (build/dpo.csv).

   `sweep` trains on the same pairs once per configuration, each from a fresh copy of the SFT model,
   without evaluations during training: DPO with beta 0.03, 0.1 and 0.3, DPO with LoRA (r=8 on every
   matrix, 10x the lr; reference: the same model with its adapters off), RPO full and LoRA, IPO,
   SimPO and ORPO. One row each (build/dpo_sweep.csv; every run's curves in
   build/dpo_sweep_curves.csv); the row to report is the one with the best validation accuracy, the
   test column only shown. 100 steps by default: the ten rows took 18-33 minutes on 2 shared cores.

   usage: dpo [steps (default 150)] [sft checkpoint (default build/sft.ckpt)] [beta (default 0.1)]
              [lr (default 5e-5)] [rpo alpha (default 0: plain DPO; 1: DPO + NLL on chosen, RPO)]
          dpo sweep [steps (default 100)] [sft checkpoint] [lr (default 5e-5; LoRA rows 10x)]
   Files go to build/; PT_OUT=dir writes them to dir instead. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* print_eval, valid_accuracy */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_PROBLEMS 1500  /* training problems sampled for pairs */
#define N_VALID_PROBLEMS 300
#define SAMPLES 8
#define N_TEST 800

static pt_world_config world;
static char out_dir[256] = "build";

typedef struct pairs {
    int n;
    pt_example *c, *r;   /* chosen, rejected */
    float *strength;
} pairs;

static const char *out(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", out_dir, name);
    return buf;
}

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

/* On-policy pairs of a split as example arrays (pairs_free frees them). */
static int make_pairs(pt_model *m, int split, int n_problems, uint64_t seed, pairs *p)
{
    pt_sampler t1 = {1.0f, 0, 0.0f};
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_dataset ds;
    int n, by[4] = {0, 0, 0, 0}, i;
    if (pt_world_onpolicy_pairs(m, &world, split, seed, n_problems, SAMPLES, &t1, seed + 1, &ds) != PT_OK) return -1;
    p->n = n = ds.n;
    p->c = (pt_example *)calloc((size_t)n + 1, sizeof(pt_example));
    p->r = (pt_example *)calloc((size_t)n + 1, sizeof(pt_example));
    p->strength = (float *)calloc((size_t)n + 1, sizeof(float));
    if (!p->c || !p->r || !p->strength || (n > 0 && pt_pair_examples(&ds, &tok, 1, p->c, p->r, p->strength) != PT_OK)) {
        pt_dataset_free(&ds);
        return -1;
    }
    for (i = 0; i < n; i++) by[(int)p->strength[i] & 3]++;
    printf("  %d pairs from %d problems (significant %d, better %d, slight %d, marginal %d)\n", n, n_problems, by[3],
           by[2], by[1], by[0]);
    pt_dataset_free(&ds);
    return n;
}
static void pairs_free(pairs *p)
{
    pt_examples_free(p->c, p->n);
    pt_examples_free(p->r, p->n);
    free(p->c);
    free(p->r);
    free(p->strength);
}

/* The settings both modes share: 16 pairs a step, the same pair order. */
static void dpo_setup(pt_dpo_config *cfg, int loss, float beta, float rpo_alpha, int steps, float lr)
{
    cfg->pref.loss = loss;
    cfg->pref.beta = beta;
    cfg->pref.rpo_alpha = rpo_alpha;
    cfg->batch_pairs = 16;
    cfg->seed = 1;
    cfg->train.steps = steps;
    cfg->train.lr = lr;
}

/* The ends of a run's curves (CSV: step,loss,lr,grad_norm,eval_loss,metric,acc,margin,chosen_logp,
   rejected_logp,kl): e[0..2] the first step's chosen log-prob, rejected log-prob and KL (batch
   means, before any update), e[3..5] the same averaged over the last ten steps. copy (may be NULL)
   gets every row prefixed with name. Returns the number of rows. */
static int curve_ends(const char *path, FILE *copy, const char *name, float e[6])
{
    FILE *f = fopen(path, "r");
    char line[512];
    float v[11], last[10][3];
    int n = 0, i, j;
    memset(e, 0, 6 * sizeof(float));
    if (!f) return 0;
    if (fgets(line, sizeof line, f))   /* the header */
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "%f,%f,%f,%f,%f,%f,%f,%f,%f,%f,%f", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                       &v[7], &v[8], &v[9], &v[10]) != 11)
                continue;
            for (j = 0; j < 3; j++) last[n % 10][j] = v[8 + j];
            if (n++ == 0) memcpy(e, v + 8, 3 * sizeof(float));
            if (copy) fprintf(copy, "%s,%s", name, line);
        }
    fclose(f);
    for (i = 0; i < (n < 10 ? n : 10); i++)
        for (j = 0; j < 3; j++) e[3 + j] += last[i][j] / (n < 10 ? n : 10);
    return n;
}

/* The sweep's configurations: loss, beta (0: the loss's default; ORPO has none), RPO's alpha, LoRA. */
typedef struct { const char *name; int loss; float beta, rpo_alpha; int lora; } config;
static const config configs[] = {
    {"DPO b=0.03", PT_PREF_DPO, 0.03f, 0, 0},  {"DPO b=0.1", PT_PREF_DPO, 0.1f, 0, 0},
    {"DPO b=0.3", PT_PREF_DPO, 0.3f, 0, 0},    {"DPO b=0.1 LoRA", PT_PREF_DPO, 0.1f, 0, 1},
    {"RPO b=0.1", PT_PREF_DPO, 0.1f, 1, 0},    {"RPO b=0.1 LoRA", PT_PREF_DPO, 0.1f, 1, 1},
    {"IPO b=0.1", PT_PREF_IPO, 0.1f, 0, 0},    {"SimPO b=2 g=0.5", PT_PREF_SIMPO, 2.0f, 0, 0},
    {"ORPO l=0.1", PT_PREF_ORPO, 0, 0, 0},
};
#define N_CONFIGS (int)(sizeof configs / sizeof configs[0])

/* One sweep row: a fresh SFT model (with LoRA when asked), trained, then evaluated once. k < 0:
   the SFT model itself. Returns the validation accuracy, or -1 on error. */
static float sweep_row(const char *sft, int k, int steps, float lr, const pairs *p, FILE *csv, FILE *curves)
{
    static const pt_lora_config lc = {8, 16, 0, 0, "*", 1};   /* rank 8, alpha 16, every matrix, seed 1 */
    const config *s = k >= 0 ? &configs[k] : NULL;
    pt_model *m = pt_model_load(sft);
    pt_dpo_config cfg = {0};
    pt_train_result res = {0};
    pt_world_eval_result id;
    float e[6] = {0, 0, 0, 0, 0, 0}, valid = -1, kl = k < 0 ? 0 : NAN;
    char path[300];
    if (!m || (s && s->lora && pt_lora_attach(m, &lc) != PT_OK)) goto done;
    if (s) {
        dpo_setup(&cfg, s->loss, s->beta, s->rpo_alpha, steps, s->lora ? 10 * lr : lr);
        cfg.ref_adapters_off = s->lora;   /* LoRA: the reference is the base, adapters off */
        cfg.train.eval_every = steps;   /* no eval pairs and no metric: nothing runs during training */
        cfg.train.csv_path = out(path, sizeof path, "dpo_sweep_run.csv");
        cfg.train.quiet = 1;
        if (pt_dpo_train(m, p->c, p->r, p->strength, p->n, NULL, NULL, 0, &cfg, &res) != PT_OK) goto done;
        curve_ends(path, curves, s->name, e);
        remove(path);
        if (s->loss != PT_PREF_SIMPO && s->loss != PT_PREF_ORPO) kl = e[5];   /* none without a reference */
    }
    valid = valid_accuracy(m, &world);
    if (pt_world_eval(m, &world, PT_WORLD_ID, N_TEST, 1, &id) != PT_OK) valid = -1;
    if (valid < 0) goto done;
    printf("  %-16s %5.1f%%   %5.1f%% [%4.1f, %4.1f]  %5.1f%%  %+8.2f  %+8.2f  %6.2f  %5.0f\n",
           s ? s->name : "SFT (start)", 100 * valid, 100 * id.accuracy, 100 * id.accuracy_lo, 100 * id.accuracy_hi,
           100 * id.format_rate, e[3] - e[0], e[4] - e[1], kl, res.seconds);
    fprintf(csv, "%s,%g,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.1f\n", s ? s->name : "SFT", s ? s->beta : 0,
            s ? s->lora : 0, valid, id.accuracy, id.accuracy_lo, id.accuracy_hi, id.format_rate, e[3] - e[0],
            e[4] - e[1], kl, res.seconds);
    fflush(stdout);
done:
    if (valid < 0) printf("  %s failed: %s\n", s ? s->name : "SFT", pt_last_error());
    pt_model_free(m);
    return valid;
}

static int sweep(const char *sft, int steps, float lr, const pairs *p)
{
    char path[300], cpath[300];
    FILE *csv = fopen(out(path, sizeof path, "dpo_sweep.csv"), "w");
    FILE *curves = fopen(out(cpath, sizeof cpath, "dpo_sweep_curves.csv"), "w");
    float valid, best = -1;
    int k, best_k = -1;
    double t0 = pt_time_seconds();
    if (!csv || !curves) return printf("cannot write %s\n", path), 1;
    fprintf(csv, "config,beta,lora,valid_acc,test_acc,test_lo,test_hi,format,d_chosen_logp,d_rejected_logp,"
                 "kl,seconds\n");
    fprintf(curves, "config,step,loss,lr,grad_norm,eval_loss,metric,acc,margin,chosen_logp,rejected_logp,kl\n");
    printf("\n%d steps per run, lr %g (LoRA r=8 on every matrix: %g), 16 pairs a step\n", steps, lr, 10 * lr);
    printf("  config           valid    ID test [95%%]         format  d chosen  d reject      KL      s\n");
    for (k = -1; k < N_CONFIGS; k++) {
        if ((valid = sweep_row(sft, k, steps, lr, p, csv, curves)) < 0) return 1;
        if (valid > best) best = valid, best_k = k;
    }
    fclose(csv);
    fclose(curves);
    printf("  (valid: greedy accuracy on 400 validation problems; d chosen/reject: change of the mean\n"
           "  per-sequence log-prob of the training batches, first step -> mean of the last ten; KL: the\n"
           "  implicit KL mean(pi - ref) of the last ten steps, none for SimPO and ORPO (no reference))\n");
    printf("\nchosen on VALIDATION accuracy (ties: the earlier row): %s (%.1f%%); its test row is the\n"
           "result to report. The test column is shown for every row for transparency, never used to\n"
           "choose (differences of a few points are within the noise of 400 validation problems).\n",
           best_k < 0 ? "the SFT model itself" : configs[best_k].name, 100 * best);
    printf("%s, %s; %.0f s in all\n", path, cpath, pt_time_seconds() - t0);
    return 0;
}

/* The default mode: one run with periodic evaluation, the best checkpoint kept; m is trained. */
static int train_once(pt_model *m, float beta, float lr, float rpo_alpha, int steps, const pairs *p, const pairs *v)
{
    pt_dpo_config cfg = {0};
    pt_train_result res;
    pt_model *best;
    char csv[300], ckpt[300];
    float e[6];
    dpo_setup(&cfg, PT_PREF_DPO, beta, rpo_alpha, steps, lr);
    cfg.train.eval_every = steps / 5 > 0 ? steps / 5 : 1;
    cfg.train.csv_path = out(csv, sizeof csv, "dpo.csv");
    cfg.train.best_path = out(ckpt, sizeof ckpt, "dpo.ckpt");
    cfg.metric = valid_accuracy;   /* greedy accuracy on 400 validation problems (example.h) */
    cfg.user = &world;
    printf("\n");
    if (pt_dpo_train(m, p->c, p->r, p->strength, p->n, v->c, v->r, v->n, &cfg, &res) != PT_OK) {
        printf("DPO failed: %s\n", pt_last_error());
        return 1;
    }
    printf("  %d steps in %.0f s (%.0f tokens/s); best validation accuracy %.1f%% at step %d\n\n", res.steps_done,
           res.seconds, res.tokens_per_s, 100 * res.best_metric, res.best_step);
    if (report(m, "last")) return 1;   /* the policy after the last step */
    best = pt_model_load(ckpt);
    printf("  chosen on validation: step %d%s\n", res.best_step, res.best_step == 0 ? " (the SFT model itself)" : "");
    if (best && res.best_step > 0 && report(best, "chosen")) return 1;
    pt_model_free(best);
    if (curve_ends(csv, NULL, NULL, e) > 0)
        printf("\nlog-probs (batch means, first step -> last ten steps): chosen %.2f -> %.2f, "
               "rejected %.2f -> %.2f%s\n", e[0], e[3], e[1], e[4], e[3] < e[0] && e[4] < e[1] ?
               ": both fell (a known DPO behaviour: the margin grows while both likelihoods drop)" : "");
    printf("curves in %s (step, loss, ..., acc, margin, chosen_logp, rejected_logp, kl)\n", csv);
    return 0;
}

int main(int argc, char **argv)
{
    int sw = argc > 1 && strcmp(argv[1], "sweep") == 0, steps = argc > 1 + sw ? atoi(argv[1 + sw]) : sw ? 100 : 150;
    const char *path = argc > 2 + sw ? argv[2 + sw] : "build/sft.ckpt";
    float beta = !sw && argc > 3 ? (float)atof(argv[3]) : 0.1f;
    float lr = argc > 4 ? (float)atof(argv[4]) : 5e-5f;   /* argv[4] in both modes */
    float rpo_alpha = !sw && argc > 5 ? (float)atof(argv[5]) : 0.0f;
    pt_model *m = pt_model_load(path);
    pairs p = {0, NULL, NULL, NULL}, v = {0, NULL, NULL, NULL};
    int rc, ok;
    if (getenv("PT_OUT")) snprintf(out_dir, sizeof out_dir, "%s", getenv("PT_OUT"));
    if (!m) {
        printf("cannot load %s: %s\n(run `make chapters` first: it trains build/sft.ckpt)\n", path, pt_last_error());
        return 1;
    }
    if (sw) printf("DPO sweep from %s: the same on-policy pairs for every configuration\n", path);
    else printf("DPO of %s: beta %g, lr %g, %d steps, NLL weight (RPO) %g\n", path, beta, lr, steps, rpo_alpha);
    if (!sw && report(m, "before")) return 1;
    printf("\nsampling %d completions per problem at T = 1 and ranking them by the world's rules:\n", SAMPLES);
    printf("  train split:");
    ok = make_pairs(m, PT_WORLD_TRAIN, N_PROBLEMS, 11, &p) > 0;
    if (ok && !sw) printf("  validation split:");
    if (ok && !sw) ok = make_pairs(m, PT_WORLD_VALID, N_VALID_PROBLEMS, 12, &v) >= 0;
    if (!ok) {
        printf("no pairs: %s\n", pt_last_error());
        return 1;
    }
    rc = sw ? sweep(path, steps, lr, &p) : train_once(m, beta, lr, rpo_alpha, steps, &p, &v);
    pairs_free(&p);
    pairs_free(&v);
    pt_model_free(m);
    return rc;
}
