/* sft_vs_rl.c - "SFT memorizes, RL generalizes" (Chu et al. 2025) at toy scale: from the same base,
   supervised fine-tuning and GRPO on the same training problems, compared in distribution (ID) and
   out of distribution (OOD) at about equal ID accuracy.

   The paper's OOD test is mostly a *rule variant*: the same task under a changed rule that the
   prompt states (face cards worth 10 instead of 11/12/13). Ours: the world's no-carry rule,
       Q: 47+85=? (no carry)   A: <think>7+5=12;4+8=12</think><answer>22</answer>
   The base (examples/pretrain.c with variant = 0.3) read both rules in pretraining, 30% of its
   documents without carries; post-training sees only the carry rule. Does post-training on one rule
   keep the model's ability to follow the other when asked? Beside it, the length OOD (one more
   digit) of the earlier chapters.
     SFT   worked solutions of training problems (the carry rule), completion-only loss
     GRPO  the same problems as prompts, rewards correct 1 + format 0.5 (as examples/grpo.c)
   Every eval_every steps each run is scored on the validation split (ID accuracy, and the same
   problems under the no-carry rule) and saved. The comparison takes GRPO's checkpoint of best
   validation ID accuracy and the SFT checkpoint whose validation ID accuracy is closest to it; both
   are then reported on the test split: 1000 ID problems, the same 1000 under the no-carry rule, 400
   with one more digit, with 95% intervals and a paired test on the variant.

   usage: sft_vs_rl [sft steps (default 300)] [grpo steps (default 150)]
   writes build/sft_vs_rl.csv (run,step,id_valid,variant_valid: the trajectories) and
   build/sft_vs_rl_table.csv (model,step,id,id_lo,id_hi,variant,variant_lo,variant_hi,ood,ood_lo,ood_hi).
   Make the base with: build/pretrain 1400 0 build/base_rules.ckpt 0 0.3 */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <stdio.h>
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

int main(int argc, char **argv)
{
    int sft_steps = argc > 1 ? atoi(argv[1]) : 300, rl_steps = argc > 2 ? atoi(argv[2]) : 150, i, k;
    int best_rl = 0, match = 0;
    pt_model *base = pt_model_load("build/base_rules.ckpt"), *m, *sft_m, *rl_m;
    pt_tokenizer tok = pt_byte_tokenizer();
    static pt_example prompts[4000];
    static run sft = {"sft", 0, 0, {0}, {0}}, rl = {"grpo", 0, 0, {0}, {0}};
    pt_reward_term rewards[2] = {{"correct", pt_reward_correct, NULL, 1.0f}, {"format", pt_reward_format, NULL, 0.5f}};
    pt_example *demos;
    pt_dataset ds;
    pt_sft_config s;
    pt_grpo_config g;
    pt_paired_result pr;
    char path[128];
    FILE *table;
    if (!base) {
        printf("%s\n(make it with: build/pretrain 1400 0 build/base_rules.ckpt 0 0.3)\n", pt_last_error());
        return 1;
    }
    wc.min_digits = 1; wc.max_digits = 3;
    wc_variant = wc;
    wc_variant.rule = PT_RULE_NO_CARRY;
    sft.every = sft_steps / 20 > 0 ? sft_steps / 20 : 1;
    rl.every = rl_steps / 10 > 0 ? rl_steps / 10 : 1;
    if (!(curves = fopen("build/sft_vs_rl.csv", "w")) || !(table = fopen("build/sft_vs_rl_table.csv", "w"))) return 1;
    fprintf(curves, "run,step,id_valid,variant_valid\n");
    fprintf(table, "model,step,id,id_lo,id_hi,variant,variant_lo,variant_hi,ood,ood_lo,ood_hi\n");
    printf("SFT vs RL from build/base_rules.ckpt: %d SFT steps, %d GRPO rollouts, post-training on the carry rule only\n",
           sft_steps, rl_steps);
    row(table, "base", 0, base);

    /* SFT: 4000 worked solutions of training problems in the base's raw format */
    if (pt_world_dataset(&wc, PT_WORLD_TRAIN, 77, 4000, PT_DATA_COMPLETION, &ds) != PT_OK) {
        printf("data: %s\n", pt_last_error());
        return 1;
    }
    demos = (pt_example *)calloc((size_t)ds.n, sizeof(pt_example));
    for (i = 0; i < ds.n; i++) pt_record_example(&tok, &ds.records[i], ds.kind, 0, 0, &demos[i]);
    m = pt_model_clone(base, 1);
    memset(&s, 0, sizeof s);
    s.steps = sft_steps;
    s.batch_rows = 8;
    s.seq_len = 64;
    s.lr = 3e-4f;   /* 1e-3 first knocked the base's ID accuracy down (42% -> 10% at step 30) */
    s.eval_every = sft.every;
    s.metric = track;
    s.user = &sft;
    printf("SFT\n");
    track(m, &sft);   /* pt_sft_train evaluates from its first eval_every steps on: evaluation 0 is the base */
    if (pt_sft_train(m, demos, ds.n, NULL, 0, &s, NULL) != PT_OK) printf("sft: %s\n", pt_last_error());
    pt_model_free(m);

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

    /* matched ID: GRPO's best validation checkpoint, the SFT checkpoint closest to it (both chosen on
       validation; evaluation 0 is the base itself) */
    for (k = 1; k < rl.evals; k++) if (rl.id_valid[k] > rl.id_valid[best_rl]) best_rl = k;
    for (k = 1; k < sft.evals; k++)
        if (fabsf(sft.id_valid[k] - rl.id_valid[best_rl]) < fabsf(sft.id_valid[match] - rl.id_valid[best_rl])) match = k;
    printf("validation ID accuracy: GRPO %.3f (step %d), SFT %.3f (step %d); no carry: GRPO %.3f, SFT %.3f, base %.3f\n",
           rl.id_valid[best_rl], best_rl * rl.every, sft.id_valid[match], match * sft.every, rl.variant_valid[best_rl],
           sft.variant_valid[match], sft.variant_valid[0]);
    printf("test (1000 ID problems; the same under the no-carry rule; 400 with 4 digits):\n");
    ckpt_path(&sft, match, path, sizeof path);
    sft_m = pt_model_load(path);
    ckpt_path(&rl, best_rl, path, sizeof path);
    rl_m = pt_model_load(path);
    if (!sft_m || !rl_m) {
        printf("checkpoints: %s\n", pt_last_error());
        return 1;
    }
    row(table, "SFT (matched)", match * sft.every, sft_m);
    row(table, "GRPO", best_rl * rl.every, rl_m);
    ckpt_path(&sft, sft.evals - 1, path, sizeof path);
    if ((m = pt_model_load(path))) row(table, "SFT (last)", (sft.evals - 1) * sft.every, m);
    pt_model_free(m);
    print_paired("ID, SFT -> GRPO", sft_m, rl_m, &wc, 0);
    if (pt_world_eval_paired(sft_m, rl_m, &wc_variant, PT_WORLD_ID, 1000, 0, &pr) == PT_OK)
        printf("  paired, no carry, SFT -> GRPO: %d -> %d of %d; %d wrong -> right, %d right -> wrong; McNemar z = %.2f, "
               "p = %.2g\n", pr.correct_a, pr.correct_b, pr.n, pr.b_only, pr.a_only, pr.z, pr.p);
    if (pt_world_eval_paired(base, rl_m, &wc_variant, PT_WORLD_ID, 1000, 0, &pr) == PT_OK)
        printf("  paired, no carry, base -> GRPO: %d -> %d; McNemar z = %.2f\n", pr.correct_a, pr.correct_b, pr.z);
    if (pt_world_eval_paired(base, sft_m, &wc_variant, PT_WORLD_ID, 1000, 0, &pr) == PT_OK)
        printf("  paired, no carry, base -> SFT: %d -> %d; McNemar z = %.2f\n", pr.correct_a, pr.correct_b, pr.z);
    printf("trajectories in build/sft_vs_rl.csv, table in build/sft_vs_rl_table.csv\n");
    fclose(curves);
    fclose(table);
    for (k = 0; k < sft.evals; k++) { ckpt_path(&sft, k, path, sizeof path); if (k != match) remove(path); }
    for (k = 0; k < rl.evals; k++) { ckpt_path(&rl, k, path, sizeof path); if (k != best_rl) remove(path); }
    pt_model_free(sft_m);
    pt_model_free(rl_m);
    pt_model_free(base);
    pt_examples_free(demos, ds.n);
    free(demos);
    pt_dataset_free(&ds);
    pt_examples_free(prompts, 4000);
    return 0;
}
