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
#include "example.h"   /* print_eval, pretrain_world */
#include <stdio.h>
#include <stdlib.h>

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
    int steps = argc > 1 ? atoi(argv[1]) : 700;
    const char *out_path = argc > 3 ? argv[3] : "build/base.ckpt";
    pt_config cfg = {0};
    pt_world_config wc = {0};
    pt_model *m;
    pt_ctx *ctx = pt_ctx_new(0);
    int64_t n_tok, cap = 6000000;
    int *corpus = (int *)malloc((size_t)cap * sizeof(int));
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

    t0 = pt_time_seconds();
    if (pretrain_world(m, ctx, corpus, n_tok, steps, "build/pretrain.csv") != 0) return 1;
    printf("\n  trained %d steps in %.1f s\n", steps, pt_time_seconds() - t0);
    evaluate(m, &wc, "after");
    if (samples) fclose(samples);
    if (pt_model_save(m, out_path, 0) != PT_OK) { printf("save: %s\n", pt_last_error()); return 1; }
    printf("saved %s; metrics in build/pretrain.csv, samples in build/pretrain_samples.txt\n", out_path);
    pt_model_free(m); pt_ctx_free(ctx); free(corpus);
    return 0;
}
