/* pretrain.c - pretrain a ~1M-parameter Llama-style model from scratch on the arithmetic world.

   The corpus is the world's documents "Q: 47+85=?\nA: <think>7+5=12;4+8+1=13</think><answer>132</answer>"
   with 10% noisy solutions (as web text would be). Training: next-token cross-entropy over random
   128-token windows of the token stream, AdamW with warmup + cosine decay, gradient clipping.
   The model learns the format quickly and the arithmetic only partly: the gap that SFT, reward
   models and RL close in later examples. Prints samples and held-out accuracy before and after,
   writes build/pretrain.csv and saves build/base.ckpt.

   usage: pretrain [steps (default 700)] [threads (0 = all)] [checkpoint (default build/base.ckpt)] [direct]
                   [variant]
   direct (default 0): the fraction of corpus solutions that answer directly, "A: <answer>132</answer>",
   with no think block: examples/grpo.c's R1-Zero base is `pretrain 1400 0 build/base_mixed.ckpt 0.6`.
   variant (default 0): the fraction of documents under the no-carry rule, "Q: 47+85=? (no carry)":
   examples/sft_vs_rl.c's base is `pretrain 600 0 build/base_rules.ckpt 0 0.3`.
   Also writes build/pretrain_samples.txt (held-out completions before and after) for the notebook. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* print_eval */
#include <stdio.h>
#include <stdlib.h>

#define BATCH 16
#define SEQ 128

static FILE *samples;

static void evaluate(pt_model *m, const pt_world_config *wc, const char *when)
{
    pt_world_eval_result id, ood, mixed;
    pt_tokenizer tok = pt_byte_tokenizer();
    int i, have_mixed;
    if (pt_world_eval(m, wc, PT_WORLD_ID, 800, 0, &id) != PT_OK || pt_world_eval(m, wc, PT_WORLD_OOD, 400, 0, &ood) != PT_OK) {
        printf("eval error: %s\n", pt_last_error());
        return;
    }
    have_mixed = pt_world_eval(m, wc, PT_WORLD_MIXED, 400, 0, &mixed) == PT_OK;
    print_eval(when, &id, &ood, have_mixed ? &mixed : NULL);
    if (id.format_rate > 0.5f) {   /* sampling at T = 1: the headroom later chapters use */
        pt_world_sampled_result sampled;
        pt_sampler t1 = {1.0f, 0, 0.0f};
        if (pt_world_eval_sampled(m, wc, PT_WORLD_ID, 800, 0, 8, 8, &t1, 3, &sampled) == PT_OK)
            printf("           8 samples at T=1: mean %.1f%%  pass@8 %.1f%%  majority %.1f%%  (greedy %.1f%%)\n",
                   100 * sampled.mean, 100 * sampled.pass_at_k, 100 * sampled.majority, 100 * sampled.greedy);
    }
    if (wc->variant > 0) {   /* the rule variant, on the same held-out problems */
        pt_world_config nc = *wc;
        pt_world_eval_result v;
        char line[160];
        nc.rule = PT_RULE_NO_CARRY;
        if (pt_world_eval(m, &nc, PT_WORLD_ID, 800, 0, &v) == PT_OK) {
            pt_world_eval_format(&v, line, sizeof line);
            printf("           no-carry rule %s\n", line);
        }
    }
    printf("           sample: %s\n", id.first);
    if (samples) {   /* greedy completions of the first 5 held-out problems */
        fprintf(samples, "== %s: ID accuracy %.1f%%, format %.1f%%, step accuracy %.1f%%; OOD accuracy %.1f%%\n", when,
                100 * id.accuracy, 100 * id.format_rate, 100 * id.step_accuracy, 100 * ood.accuracy);
        for (i = 0; i < 5; i++) {
            pt_problem p;
            int prompt[192], n;
            const int *pp[1];
            pt_gen_config g;
            pt_gen_result r;
            char text[1024];
            pt_world_problem(wc, PT_WORLD_ID, 0, i, &p);
            n = pt_world_prompt(&p, 0, prompt, 192);
            pp[0] = prompt;
            memset(&g, 0, sizeof g);
            g.max_new_tokens = m->cfg.seq_len - n; g.stop_tokens[0] = tok.eos_id; g.n_stop_tokens = 1;
            if (pt_generate(m, pp, &n, 1, 1, &g, &r) != PT_OK) continue;
            pt_decode(&tok, r.tokens + n, r.total_len[0] - n, text, sizeof text);
            fprintf(samples, "%sA: %s\n", p.question, text);
            pt_gen_result_free(&r);
        }
    }
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 700, step, i;
    const char *out_path = argc > 3 ? argv[3] : "build/base.ckpt";
    pt_config cfg = {0};
    pt_world_config wc = {0};
    pt_model *m;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_adamw_config opt = {0};
    pt_rng rng;
    int64_t n_tok, cap = 6000000;
    int *corpus = (int *)malloc((size_t)cap * sizeof(int));
    static int tokens[BATCH * SEQ], targets[BATCH * SEQ];
    FILE *csv;
    double t0;
    if (argc > 2) pt_set_threads(atoi(argv[2]));
    if (argc <= 4) samples = fopen("build/pretrain_samples.txt", "w");   /* the default base's samples only */

    cfg.dim = 128; cfg.n_layers = 5; cfg.n_heads = 4; cfg.n_kv_heads = 2; cfg.hidden_dim = 344;
    cfg.vocab_size = PT_BYTE_VOCAB; cfg.seq_len = SEQ;
    wc.min_digits = 1; wc.max_digits = 3; wc.noise = 0.1f;
    wc.direct = argc > 4 ? (float)atof(argv[4]) : 0.0f;
    wc.variant = argc > 5 ? (float)atof(argv[5]) : 0.0f;
    m = pt_model_new(&cfg, 1337);
    if (!m || !ctx || !corpus) { printf("error: %s\n", pt_last_error()); return 1; }
    n_tok = pt_world_corpus(&wc, 1, 80000, corpus, cap);
    printf("pretraining a %.2fM-parameter model (dim %d, %d layers, %d heads / %d kv, hidden %d) on %lld corpus tokens, %d threads\n",
           pt_params_count(m->params, 1) / 1e6, cfg.dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.hidden_dim,
           (long long)n_tok, pt_get_threads());
    evaluate(m, &wc, "before");

    csv = fopen("build/pretrain.csv", "w");
    if (csv) fprintf(csv, "step,loss,lr,grad_norm,tokens_per_s,elapsed_s\n");
    pt_rng_seed(&rng, 7);
    opt.weight_decay = 0.1f;
    t0 = pt_time_seconds();
    for (step = 0; step < steps; step++) {
        pt_batch b = {0};
        pt_tensor *loss;
        double gnorm = 0, el;
        float lr = pt_lr_schedule(step, steps / 20, steps, 3e-3f, 3e-4f);
        for (i = 0; i < BATCH; i++) {   /* a random window of the stream; targets are the next tokens */
            int64_t at = pt_rng_int(&rng, 0, (int)(n_tok - SEQ - 2));
            memcpy(tokens + i * SEQ, corpus + at, SEQ * sizeof(int));
            memcpy(targets + i * SEQ, corpus + at + 1, SEQ * sizeof(int));
        }
        b.B = BATCH; b.T = SEQ; b.tokens = tokens; b.targets = targets;
        loss = pt_model_loss(ctx, m, &b);
        if (!loss || pt_backward(ctx, loss) != PT_OK || pt_clip_grad_norm(m->params, 1.0f, &gnorm) != PT_OK) {
            printf("\nstep %d: %s (skipped)\n", step, pt_last_error());
            pt_params_zero_grad(m->params); pt_ctx_reset(ctx);
            continue;
        }
        pt_adamw_step(m->params, &opt, lr);
        pt_params_zero_grad(m->params);
        el = pt_time_seconds() - t0;
        if (csv) fprintf(csv, "%d,%.5f,%.6g,%.4f,%.0f,%.2f\n", step, loss->data[0], lr, gnorm, (step + 1) * (double)BATCH * SEQ / el, el);
        if (step % 10 == 0 || step == steps - 1) {
            double tps = (step + 1) * (double)BATCH * SEQ / el;
            printf("\r  step %5d/%d  loss %.4f  lr %.2e  %6.0f tok/s  elapsed %4.0fs  ETA %4.0fs ", step + 1, steps,
                   loss->data[0], lr, tps, el, el / (step + 1) * (steps - step - 1));
            fflush(stdout);
        }
        pt_ctx_reset(ctx);
    }
    printf("\n  trained %d steps in %.1f s\n", steps, pt_time_seconds() - t0);
    if (csv) fclose(csv);
    evaluate(m, &wc, "after");
    if (samples) fclose(samples);
    if (pt_model_save(m, out_path, 0) != PT_OK) { printf("save: %s\n", pt_last_error()); return 1; }
    printf("saved %s; metrics in build/pretrain.csv, samples in build/pretrain_samples.txt\n", out_path);
    pt_model_free(m); pt_ctx_free(ctx); free(corpus);
    return 0;
}
