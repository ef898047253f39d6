/* flywheel.c - the Llama 3 data flywheel (Dubey et al. 2024, section 4): rounds of collecting
   preferences on the current best model, training a reward model, rejection sampling with it,
   SFT on what it keeps, then DPO; each round's model is the next round's starting point.

   One round, on the world (the early SFT model of ppo.c, 67% on held-out problems, is round 0):
     1. pairs   the current model samples 8 answers per training problem; the rules rank them
                (best vs worst, with Llama 2's strength levels from the quality gap)
     2. RM      Bradley-Terry on every round's pairs so far, from the current model plus a head;
                accuracy on held-out pairs of the current model's own samples
     3. RS      8 samples per new prompt, the RM's favourite kept (no rule: the RM alone decides,
                as in Llama 3), written as JSONL with its score; we also count how many of the
                kept answers are really right
     4. SFT     on the kept samples, from the current model
     5. DPO     on the round's pairs, from the SFT model
   The prompts get harder each round (the seed's iterative difficulty): round r draws problems of
   r..3 digits, so the last round trains on three-digit problems only.
   Llama 3's choices, and the ablation that switches them off (plain):
     - RM and DPO on the two strongest preference levels only (significant, better); plain: all
     - edited > chosen > rejected triples (an answer repaired by an editor, here the clean solution)
       added to the RM's and DPO's data; plain: none
     - DPO with an NLL term on chosen (Llama 3 weighs it 0.2; rpo_alpha 1 here, the weight that
       holds a model this small, examples/dpo.c); plain: DPO alone
   Per round: held-out accuracy ID (1-3 digits) with its interval and OOD (4 digits), RM accuracy,
   pairs used, samples kept and the share of them that are correct. Writes build/flywheel.csv and
   build/flywheel_<variant>_r<round>.jsonl (the rejection-sampled SFT data with scores).

   usage: flywheel [rounds (default 3)] [problems per round (default 600)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"

#define MAX_PAIRS 20000

static pt_world_config world;
static pt_tokenizer tok;

typedef struct pool { int n; pt_example c[MAX_PAIRS], r[MAX_PAIRS]; float strength[MAX_PAIRS]; } pool;
static pool rm_pool;   /* the RM's pairs, accumulated over rounds */

/* Pairs of a dataset into the pool (only strength >= min_strength); returns how many were added. */
static int add_pairs(pool *p, const pt_dataset *ds, int min_strength)
{
    static pt_example c[MAX_PAIRS], r[MAX_PAIRS];
    static float s[MAX_PAIRS];
    int i, added = 0;
    if (ds->n > MAX_PAIRS || pt_pair_examples(ds, &tok, 1, c, r, s) != PT_OK) return 0;
    for (i = 0; i < ds->n; i++) {
        if (s[i] >= min_strength && p->n < MAX_PAIRS) {
            p->c[p->n] = c[i];
            p->r[p->n] = r[i];
            p->strength[p->n++] = s[i];
            added++;
        } else {
            pt_examples_free(&c[i], 1);
            pt_examples_free(&r[i], 1);
        }
    }
    return added;
}
static void pool_free(pool *p)
{
    pt_examples_free(p->c, p->n);
    pt_examples_free(p->r, p->n);
    p->n = 0;
}

static void run(int llama3, int rounds, int n_problems, FILE *csv)
{
    const char *variant = llama3 ? "llama3" : "plain";
    pt_model *m = early_sft(&world, "build/sft_early.ckpt");
    pt_world_eval_result id, ood;
    int round;
    if (!m) {
        printf("no starting model: %s (build/pretrain makes build/base.ckpt)\n", pt_last_error());
        exit(1);
    }
    pool_free(&rm_pool);
    pt_world_eval(m, &world, PT_WORLD_ID, 800, 1, &id);
    pt_world_eval(m, &world, PT_WORLD_OOD, 400, 1, &ood);
    printf("\n%s: round 0 (early SFT)  ID %5.1f%% [%4.1f, %4.1f]  OOD %4.1f%%\n", variant, 100 * id.accuracy,
           100 * id.accuracy_lo, 100 * id.accuracy_hi, 100 * ood.accuracy);
    fprintf(csv, "%s,0,%.4f,%.4f,%.4f,%.4f,,,,\n", variant, id.accuracy, id.accuracy_lo, id.accuracy_hi, ood.accuracy);
    for (round = 1; round <= rounds; round++) {
        pt_world_config wc = world;
        pt_sampler t1 = {1.0f, 0, 0.0f};
        pt_dataset ds, dv, triples, kept;
        static pool dpo_pool, valid;
        pt_model *rm;
        pt_rm_config rc;
        pt_train_result rres;
        pt_rs_config sc;
        pt_rs_result sres;
        pt_dpo_config dc;
        char jsonl[128];
        const char **prompts = (const char **)malloc(sizeof(char *) * n_problems);
        pt_problem *probs = (pt_problem *)malloc(sizeof(pt_problem) * n_problems);
        int i, min_strength = llama3 ? PT_STRENGTH_BETTER : PT_STRENGTH_MARGINAL, kept_right = 0, used;
        double t0 = pt_time_seconds();
        wc.min_digits = round < 3 ? round : 3;   /* harder prompts each round */
        wc.max_digits = 3;
        /* 1. the current model's samples ranked by the rules; held-out pairs for the RM's accuracy */
        if (pt_world_onpolicy_pairs(m, &wc, PT_WORLD_TRAIN, 100 + round, n_problems, 8, &t1, 200 + round, &ds) != PT_OK ||
            pt_world_onpolicy_pairs(m, &world, PT_WORLD_VALID, 300 + round, 300, 8, &t1, 400 + round, &dv) != PT_OK) {
            printf("pairs: %s\n", pt_last_error());
            exit(1);
        }
        memset(&dpo_pool, 0, sizeof dpo_pool);
        memset(&valid, 0, sizeof valid);
        add_pairs(&rm_pool, &ds, min_strength);
        used = add_pairs(&dpo_pool, &ds, min_strength);
        add_pairs(&valid, &dv, PT_STRENGTH_MARGINAL);
        if (llama3 && pt_world_preferences(&wc, PT_WORLD_TRAIN, 500 + round, 300, 1, &triples) == PT_OK) {
            add_pairs(&rm_pool, &triples, PT_STRENGTH_MARGINAL);
            used += add_pairs(&dpo_pool, &triples, PT_STRENGTH_MARGINAL);
            pt_dataset_free(&triples);
        }
        /* 2. the reward model, from the current model */
        rm = pt_model_clone(m, 1);
        pt_model_head_attach(rm, 7);
        memset(&rc, 0, sizeof rc);
        rc.train.steps = 150;
        rc.train.lr = 3e-4f;
        rc.train.eval_every = 50;
        rc.train.quiet = 1;
        rc.batch_pairs = 16;
        rc.seed = 7;
        if (pt_rm_train(rm, rm_pool.c, rm_pool.r, rm_pool.strength, rm_pool.n, valid.c, valid.r, valid.n, &rc, &rres) !=
            PT_OK) {
            printf("RM: %s\n", pt_last_error());
            exit(1);
        }
        /* 3. rejection sampling with the RM alone */
        for (i = 0; i < n_problems; i++) {
            pt_world_problem(&wc, PT_WORLD_TRAIN, 600 + round, i, &probs[i]);
            probs[i].question[strcspn(probs[i].question, "\n")] = 0;
            prompts[i] = probs[i].question;
        }
        memset(&sc, 0, sizeof sc);
        sc.samples = 8;
        sc.keep = 1;
        sc.min_score = -1e30f;
        sc.chat = 1;
        sc.reward_batch = rm_reward;
        sc.reward_user = rm;
        chat_gen(&sc.gen, 64);
        sc.gen.seed = 700 + round;
        snprintf(jsonl, sizeof jsonl, "build/flywheel_%s_r%d.jsonl", variant, round);
        sc.jsonl_path = jsonl;
        if (pt_rejection_sample(m, prompts, n_problems, &sc, &kept, &sres) != PT_OK) {
            printf("RS: %s\n", pt_last_error());
            exit(1);
        }
        for (i = 0; i < kept.n; i++)
            kept_right += pt_reward_correct(kept.records[i].prompt, kept.records[i].completion, NULL) > 0.5f;
        /* 4. SFT on the kept samples */
        if (sft_on_records(m, &kept, 1, 100, 1e-4f, NULL) != PT_OK) {
            printf("SFT: %s\n", pt_last_error());
            exit(1);
        }
        /* 5. DPO on the round's pairs */
        memset(&dc, 0, sizeof dc);
        dc.pref.beta = 0.1f;
        dc.pref.rpo_alpha = llama3 ? 1.0f : 0.0f;   /* Llama 3 weighs it 0.2; here 1 (examples/dpo.c) */
        dc.train.steps = 100;
        dc.train.lr = 5e-5f;
        dc.train.eval_every = 100;
        dc.train.quiet = 1;
        dc.batch_pairs = 16;
        dc.seed = 3;
        if (dpo_pool.n >= 2 && pt_dpo_train(m, dpo_pool.c, dpo_pool.r, dpo_pool.strength, dpo_pool.n, NULL, NULL, 0, &dc,
                                            NULL) != PT_OK) {
            printf("DPO: %s\n", pt_last_error());
            exit(1);
        }
        pt_world_eval(m, &world, PT_WORLD_ID, 800, 1, &id);
        pt_world_eval(m, &world, PT_WORLD_OOD, 400, 1, &ood);
        printf("%s: round %d (%d-3 digits)  ID %5.1f%% [%4.1f, %4.1f]  OOD %4.1f%%  RM acc %5.1f%%  pairs %d (RM %d)  "
               "kept %d, %.1f%% right  %.0f s\n",
               variant, round, wc.min_digits, 100 * id.accuracy, 100 * id.accuracy_lo, 100 * id.accuracy_hi,
               100 * ood.accuracy, 100 * rres.best_metric, used, rm_pool.n, kept.n, 100.0 * kept_right / (kept.n ? kept.n : 1),
               pt_time_seconds() - t0);
        fflush(stdout);
        fprintf(csv, "%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%d,%d,%.4f\n", variant, round, id.accuracy, id.accuracy_lo,
                id.accuracy_hi, ood.accuracy, rres.best_metric, used, kept.n, (double)kept_right / (kept.n ? kept.n : 1));
        pt_dataset_free(&kept);
        pt_dataset_free(&ds);
        pt_dataset_free(&dv);
        pool_free(&dpo_pool);
        pool_free(&valid);
        pt_model_free(rm);
        free(prompts);
        free(probs);
    }
    pt_model_free(m);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 3, n_problems = argc > 2 ? atoi(argv[2]) : 600;
    FILE *csv;
    if (rounds < 1 || n_problems < 10 || n_problems > 2000) {
        printf("usage: flywheel [rounds] [problems per round 10..2000]\n");
        return 1;
    }
    tok = pt_byte_tokenizer();
    memset(&world, 0, sizeof world);
    if (!(csv = fopen("build/flywheel.csv", "w"))) return 1;
    fprintf(csv, "variant,round,accuracy,lo,hi,ood,rm_accuracy,pairs,kept,kept_correct\n");
    printf("the Llama 3 flywheel: %d rounds of %d problems, Llama 3's choices vs plain\n", rounds, n_problems);
    run(1, rounds, n_problems, csv);
    run(0, rounds, n_problems, csv);
    fclose(csv);
    printf("wrote build/flywheel.csv\n");
    return 0;
}
