/* sft_vs_rl.c - "SFT memorizes, RL generalizes" (Chu et al. 2025) at toy scale: from the same base,
   supervised fine-tuning and GRPO on the same training problems, compared in distribution (ID) and
   out of distribution (OOD) at about equal ID accuracy.

   The paper's OOD test is mostly a *rule variant*: the same task under a changed rule that the
   prompt states (face cards worth 10 instead of 11/12/13). Ours: the world's no-carry rule,
       Q: 47+85=? (no carry)   A: <think>7+5=12;4+8=12</think><answer>22</answer>
   The base (examples/pretrain.c, 600 steps, variant = 0.3: ID 43%, no carry 38%) read both rules
   in pretraining, 30% of its documents without carries; post-training sees only the carry rule.
   Does post-training on one rule keep the model's ability to follow the other when asked? Beside
   it, the length OOD (one more digit) of the earlier chapters.
     SFT   worked solutions of training problems (the carry rule), completion-only loss, at two
           learning rates: 3e-4 (sft_steps) and 1e-3 (a third of them)
     GRPO  other training problems as prompts, rewards correct 1 + format 0.5 (as examples/grpo.c)
   Each run is scored on the validation split (ID accuracy, and the same problems under the
   no-carry rule) at 10-20 evaluations and saved. The comparison takes GRPO's checkpoint of best
   validation ID accuracy and, from each SFT run, the checkpoint whose validation ID accuracy is
   closest to it (and its last one); they are reported on the test split: 1000 ID problems, the
   same 1000 under the no-carry rule, 400 with one more digit, with 95% intervals and paired tests.
   About 20 minutes on 2 cores.

   usage: sft_vs_rl [sft steps (default 900)] [grpo steps (default 300)]
   writes build/sft_vs_rl.csv (run,step,id_valid,variant_valid: the trajectories),
   build/sft_vs_rl_table.csv (model,step,id,id_lo,id_hi,variant,variant_lo,variant_hi,ood,ood_lo,ood_hi)
   and build/sft_vs_rl_grpo.csv (GRPO's per-rollout curves).
   Make the base with: build/pretrain 600 0 build/base_rules.ckpt 0 0.3 */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CKPT 64
static pt_world_config wc, wc_variant;   /* the same problems under the carry and the no-carry rule */
static FILE *curves;

typedef struct run {
    const char *name;
    int every, evals;
    float id_valid[MAX_CKPT], variant_valid[MAX_CKPT];
} run;

static void ckpt_path(const run *r, int k, char *out, size_t cap) { snprintf(out, cap, "build/svr_%s_%d.ckpt", r->name, k); }

/* The trainers' metric: validation ID accuracy (chooses checkpoints); on the way, the variant's
   accuracy and a checkpoint per evaluation, the k-th evaluation being step k * every. */
static float track(pt_model *m, void *user)
{
    run *r = (run *)user;
    pt_world_eval_result id, var;
    char path[128];
    if (r->evals >= MAX_CKPT || pt_world_eval(m, &wc, PT_WORLD_VALID, 400, 0, &id) != PT_OK ||
        pt_world_eval(m, &wc_variant, PT_WORLD_VALID, 400, 0, &var) != PT_OK)
        return 0.0f;
    r->id_valid[r->evals] = id.accuracy;
    r->variant_valid[r->evals] = var.accuracy;
    ckpt_path(r, r->evals, path, sizeof path);
    pt_model_save(m, path, 0);
    fprintf(curves, "%s,%d,%.4f,%.4f\n", r->name, r->evals * r->every, id.accuracy, var.accuracy);
    fflush(curves);
    r->evals++;
    return id.accuracy;
}

static void row(FILE *csv, const char *name, int step, pt_model *m)
{
    pt_world_eval_result id, var, ood;
    char a[160], b[160], c[160];
    if (pt_world_eval(m, &wc, PT_WORLD_ID, 1000, 0, &id) != PT_OK ||
        pt_world_eval(m, &wc_variant, PT_WORLD_ID, 1000, 0, &var) != PT_OK ||
        pt_world_eval(m, &wc, PT_WORLD_OOD, 400, 0, &ood) != PT_OK) {
        printf("eval: %s\n", pt_last_error());
        return;
    }
    pt_world_eval_format(&id, a, sizeof a);
    pt_world_eval_format(&var, b, sizeof b);
    pt_world_eval_format(&ood, c, sizeof c);
    printf("  %-14s ID       %s\n  %-14s no carry %s\n  %-14s 4 digits %s\n", name, a, "", b, "", c);
    fprintf(csv, "%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", name, step, id.accuracy, id.accuracy_lo,
            id.accuracy_hi, var.accuracy, var.accuracy_lo, var.accuracy_hi, ood.accuracy, ood.accuracy_lo, ood.accuracy_hi);
    fflush(csv);
}

/* An SFT run at learning rate lr, tracked as r (pt_sft_train evaluates from its first eval_every steps
   on, so evaluation 0, the base, is taken here). */
static void sft_run(pt_model *base, const pt_example *demos, int n, int steps, float lr, run *r)
{
    pt_model *m = pt_model_clone(base, 1);
    pt_sft_config s;
    memset(&s, 0, sizeof s);
    s.steps = steps;
    s.batch_rows = 8;
    s.seq_len = 64;
    s.lr = lr;
    s.eval_every = r->every;
    s.metric = track;
    s.user = r;
    printf("SFT at lr %g\n", lr);
    track(m, r);
    if (pt_sft_train(m, demos, n, NULL, 0, &s, NULL) != PT_OK) printf("sft: %s\n", pt_last_error());
    pt_model_free(m);
}
/* The checkpoint of run r whose validation ID accuracy is closest to target (evaluation 0 is the base). */
static int closest(const run *r, float target)
{
    int k, best = 0;
    for (k = 1; k < r->evals; k++)
        if (fabsf(r->id_valid[k] - target) < fabsf(r->id_valid[best] - target)) best = k;
    return best;
}
static void paired_variant(const char *what, pt_model *a, pt_model *b)
{
    pt_paired_result pr;
    if (a && b && pt_world_eval_paired(a, b, &wc_variant, PT_WORLD_ID, 1000, 0, &pr) == PT_OK)
        printf("  paired, no carry, %s: %d -> %d of %d; %d wrong -> right, %d right -> wrong; McNemar z = %.2f, "
               "p = %.2g\n", what, pr.correct_a, pr.correct_b, pr.n, pr.b_only, pr.a_only, pr.z, pr.p);
}

int main(int argc, char **argv)
{
    int sft_steps = argc > 1 ? atoi(argv[1]) : 900, rl_steps = argc > 2 ? atoi(argv[2]) : 300, i, k, best_rl = 0;
    int match[2];
    pt_model *base = pt_model_load("build/base_rules.ckpt"), *rl_m, *sft_m[2] = {NULL, NULL}, *m;
    pt_tokenizer tok = pt_byte_tokenizer();
    static pt_example prompts[4000];
    static run sft[2] = {{"sft", 0, 0, {0}, {0}}, {"sft_hot", 0, 0, {0}, {0}}}, rl = {"grpo", 0, 0, {0}, {0}};
    const float sft_lr[2] = {3e-4f, 1e-3f};
    const char *sft_label[2] = {"SFT lr 3e-4", "SFT lr 1e-3"};
    pt_reward_term rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};
    pt_example *demos;
    pt_dataset ds;
    pt_grpo_config g;
    char path[128], label[64];
    FILE *table;
    if (!base) {
        printf("%s\n(make it with: build/pretrain 600 0 build/base_rules.ckpt 0 0.3)\n", pt_last_error());
        return 1;
    }
    wc.min_digits = 1; wc.max_digits = 3;
    wc_variant = wc;
    wc_variant.rule = PT_RULE_NO_CARRY;
    sft[0].every = sft_steps / 20 > 0 ? sft_steps / 20 : 1;
    sft[1].every = sft_steps / 60 > 0 ? sft_steps / 60 : 1;   /* a third of the steps, evaluated as often */
    rl.every = rl_steps / 10 > 0 ? rl_steps / 10 : 1;
    if (!(curves = fopen("build/sft_vs_rl.csv", "w")) || !(table = fopen("build/sft_vs_rl_table.csv", "w"))) return 1;
    fprintf(curves, "run,step,id_valid,variant_valid\n");
    fprintf(table, "model,step,id,id_lo,id_hi,variant,variant_lo,variant_hi,ood,ood_lo,ood_hi\n");
    printf("SFT vs RL from build/base_rules.ckpt: SFT %d steps at lr 3e-4 and %d at 1e-3, %d GRPO rollouts; "
           "post-training on the carry rule only\n", sft_steps, sft_steps / 3, rl_steps);
    row(table, "base", 0, base);

    /* SFT: 4000 worked solutions of training problems in the base's raw format */
    if (pt_world_dataset(&wc, PT_WORLD_TRAIN, 77, 4000, PT_DATA_COMPLETION, &ds) != PT_OK) {
        printf("data: %s\n", pt_last_error());
        return 1;
    }
    demos = (pt_example *)calloc((size_t)ds.n, sizeof(pt_example));
    for (i = 0; i < ds.n; i++) pt_record_example(&tok, &ds.records[i], ds.kind, 0, 0, &demos[i]);
    sft_run(base, demos, ds.n, sft_steps, sft_lr[0], &sft[0]);
    sft_run(base, demos, ds.n, sft_steps / 3, sft_lr[1], &sft[1]);

    /* GRPO: prompts are other training problems of the same rule */
    raw_prompts(&wc, 11, 4000, prompts);
    m = pt_model_clone(base, 1);
    memset(&g, 0, sizeof g);
    g.train.steps = rl_steps;
    g.train.lr = 2e-4f;
    g.train.warmup = PT_ZERO;
    g.train.eval_every = rl.every;
    g.train.csv_path = "build/sft_vs_rl_grpo.csv";
    g.prompts_per_step = 16;
    g.group_size = 8;
    raw_gen(&g.gen, 64);
    g.rewards = rewards;
    g.n_rewards = 2;
    g.metric = track;
    g.user = &rl;
    printf("GRPO\n");
    if (pt_grpo_train(m, prompts, 4000, &g, NULL) != PT_OK) printf("grpo: %s\n", pt_last_error());
    pt_model_free(m);

    /* matched ID: GRPO's best validation checkpoint, each SFT run's checkpoint closest to it in
       validation ID accuracy (everything chosen on validation) */
    for (k = 1; k < rl.evals; k++) if (rl.id_valid[k] > rl.id_valid[best_rl]) best_rl = k;
    printf("validation, ID / no carry: base %.3f / %.3f; GRPO %.3f / %.3f (step %d)", rl.id_valid[0],
           rl.variant_valid[0], rl.id_valid[best_rl], rl.variant_valid[best_rl], best_rl * rl.every);
    for (i = 0; i < 2; i++) {
        match[i] = closest(&sft[i], rl.id_valid[best_rl]);
        printf("; %s %.3f / %.3f (step %d)", sft_label[i], sft[i].id_valid[match[i]], sft[i].variant_valid[match[i]],
               match[i] * sft[i].every);
    }
    printf("\ntest (1000 ID problems; the same under the no-carry rule; 400 with 4 digits):\n");
    ckpt_path(&rl, best_rl, path, sizeof path);
    if (!(rl_m = pt_model_load(path))) {
        printf("checkpoints: %s\n", pt_last_error());
        return 1;
    }
    row(table, "GRPO", best_rl * rl.every, rl_m);
    for (i = 0; i < 2; i++) {
        ckpt_path(&sft[i], match[i], path, sizeof path);
        snprintf(label, sizeof label, "%s (matched)", sft_label[i]);
        if ((sft_m[i] = pt_model_load(path))) row(table, label, match[i] * sft[i].every, sft_m[i]);
        ckpt_path(&sft[i], sft[i].evals - 1, path, sizeof path);
        snprintf(label, sizeof label, "%s (last)", sft_label[i]);
        if ((m = pt_model_load(path))) row(table, label, (sft[i].evals - 1) * sft[i].every, m);
        pt_model_free(m);
    }
    print_paired("ID, SFT lr 3e-4 -> GRPO", sft_m[0], rl_m, &wc, 0);
    paired_variant("SFT lr 3e-4 -> GRPO", sft_m[0], rl_m);
    paired_variant("SFT lr 1e-3 -> GRPO", sft_m[1], rl_m);
    paired_variant("base -> GRPO", base, rl_m);
    paired_variant("base -> SFT lr 3e-4", base, sft_m[0]);
    printf("trajectories in build/sft_vs_rl.csv, table in build/sft_vs_rl_table.csv\n");
    fclose(curves);
    fclose(table);
    for (k = 0; k < rl.evals; k++) { ckpt_path(&rl, k, path, sizeof path); remove(path); }
    for (i = 0; i < 2; i++)
        for (k = 0; k < sft[i].evals; k++) { ckpt_path(&sft[i], k, path, sizeof path); remove(path); }
    pt_model_free(sft_m[0]);
    pt_model_free(sft_m[1]);
    pt_model_free(rl_m);
    pt_model_free(base);
    pt_examples_free(demos, ds.n);
    free(demos);
    pt_dataset_free(&ds);
    pt_examples_free(prompts, 4000);
    return 0;
}
