/* sft.c - supervised fine-tuning of the pretrained base model on the world's demonstrations.

   The base model (build/base.ckpt from `make chapters` / examples/pretrain.c) has only seen raw
   documents "Q: ...\nA: ...". SFT teaches it the chat template and sharpens the arithmetic on clean
   demonstrations (the corpus had 10% noisy ones):
       <bos><|user|>Q: 47+85=?<|end|><|assistant|>  ->  <think>7+5=12;4+8+1=13</think><answer>132</answer><|end|>
   with the loss on the assistant's tokens only, examples packed into rows with attention that
   never crosses an example. Prints format validity and accuracy on the test splits (in-distribution
   with its 95% interval and per digit count, and 4-digit out-of-distribution) before and after,
   writes build/sft.csv, saves build/sft.ckpt: the best model by accuracy on the validation split
   (never by the test split it reports).

   Recipe: 600 steps of 16 packed rows of 128 tokens (about four passes over the 6000
   demonstrations), peak learning rate 3e-3 with warmup and cosine decay. A quarter of that budget
   (300 steps of 8 rows at 1e-3) teaches the template but leaves the arithmetic where the base had it.

   usage: sft [steps (default 600)] [base checkpoint (default build/base.ckpt)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* print_eval, valid_accuracy */
#include <stdio.h>
#include <stdlib.h>

#define N_TRAIN 6000
#define N_EVAL 200   /* validation examples for the eval loss */
#define N_TEST 800   /* test problems reported (ID); 400 OOD */
#define N_OOD 400

static pt_world_config world;

static void report(pt_model *m, const char *when, float *acc_out)
{
    pt_world_eval_result id, ood, mixed;
    pt_world_sampled_result sampled;
    pt_sampler t1 = {1.0f, 0, 0.0f};
    if (pt_world_eval(m, &world, PT_WORLD_ID, N_TEST, 1, &id) != PT_OK || pt_world_eval(m, &world, PT_WORLD_OOD, N_OOD, 1, &ood) != PT_OK ||
        pt_world_eval(m, &world, PT_WORLD_MIXED, N_OOD, 1, &mixed) != PT_OK) {
        printf("eval error: %s\n", pt_last_error());
        return;
    }
    print_eval(when, &id, &ood, &mixed);
    /* sampling at T = 1: the mean sample, pass@8 and the majority of 8 next to greedy */
    if (id.format_rate > 0.5f && pt_world_eval_sampled(m, &world, PT_WORLD_ID, N_TEST, 1, 8, 8, &t1, 3, &sampled) == PT_OK)
        printf("           8 samples at T=1: mean %.1f%%  pass@8 %.1f%%  majority %.1f%%  (greedy %.1f%%)\n", 100 * sampled.mean,
               100 * sampled.pass_at_k, 100 * sampled.majority, 100 * sampled.greedy);
    printf("           sample: %s\n", id.first);
    if (acc_out) *acc_out = id.accuracy;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 600, i;
    const char *base = argc > 2 ? argv[2] : "build/base.ckpt";
    pt_model *m = pt_model_load(base);
    static pt_example train[N_TRAIN], eval[N_EVAL];
    pt_sft_config cfg = {0};
    pt_sft_result res;
    if (!m) { printf("error: %s (run `make chapters` or build/pretrain first)\n", pt_last_error()); return 1; }
    world.min_digits = 1; world.max_digits = 3;
    for (i = 0; i < N_TRAIN; i++)   /* seed 7: problems the pretraining corpus (seed 1) did not use */
        if (pt_world_sft_example(&world, PT_WORLD_TRAIN, 7, i, &train[i]) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    for (i = 0; i < N_EVAL; i++)
        if (pt_world_sft_example(&world, PT_WORLD_VALID, 0, i, &eval[i]) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    printf("SFT of %s (%.2fM parameters) on %d world demonstrations, chat template, completion-only loss\n",
           base, pt_params_count(m->params, 1) / 1e6, N_TRAIN);
    report(m, "before", NULL);
    cfg.steps = steps; cfg.batch_rows = 16; cfg.lr = 3e-3f; cfg.weight_decay = 0.0f;
    cfg.eval_every = steps / 3 > 0 ? steps / 3 : 1;
    cfg.csv_path = "build/sft.csv"; cfg.best_path = "build/sft.ckpt";
    cfg.metric = valid_accuracy;   /* the checkpoint is chosen on validation (example.h) */
    cfg.user = &world;
    if (pt_sft_train(m, train, N_TRAIN, eval, N_EVAL, &cfg, &res) != PT_OK) { printf("\nerror: %s\n", pt_last_error()); return 1; }
    printf("  %d steps in %.1f s (%.0f tok/s), loss %.3f -> %.3f, best validation accuracy %.1f%% at step %d, %d skipped\n",
           res.steps_done, res.seconds, res.tokens_per_s, res.first_loss, res.last_loss, 100 * res.best_metric, res.best_step, res.skipped);
    pt_model_free(m);
    m = pt_model_load("build/sft.ckpt");
    if (!m) { printf("error: %s\n", pt_last_error()); return 1; }
    report(m, "after", NULL);
    printf("saved build/sft.ckpt; metrics in build/sft.csv\n");
    pt_examples_free(train, N_TRAIN); pt_examples_free(eval, N_EVAL);
    pt_model_free(m);
    return 0;
}
