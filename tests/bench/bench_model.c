/* bench_model.c - training-step and generation throughput of the transformer.
   usage: bench_model [tiny|small|stories|all] [threads...]
   stories = the real stories260K.bin (from $PT_MODELS or ../shared/models), generation only.
   Training: forward + backward + AdamW on a [B=8, T=256] batch of random tokens (tokens/s).
   Generation: new tokens/s decoding 128 tokens after a 1-token prompt, batch 1 and batch 16.
   Peak RSS is reported per config (it includes the model, the arena and the KV cache). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
static double peak_rss_mb(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_maxrss / 1024.0; }
#else
static double peak_rss_mb(void) { return 0; }
#endif

static double bench_train(pt_model *m, int B, int T, int steps)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int *tok = (int *)malloc(sizeof(int) * B * T), *tgt = (int *)malloc(sizeof(int) * B * T), i, s;
    pt_rng rng; pt_adamw_config opt = {0};
    double t0 = 0, best = 1e30;
    pt_rng_seed(&rng, 1);
    for (i = 0; i < B * T; i++) { tok[i] = pt_rng_int(&rng, 0, m->cfg.vocab_size - 1); tgt[i] = pt_rng_int(&rng, 0, m->cfg.vocab_size - 1); }
    for (s = 0; s < steps + 2; s++) {
        pt_batch b = {0};
        pt_tensor *loss;
        b.B = B; b.T = T; b.tokens = tok; b.targets = tgt;
        t0 = pt_time_seconds();
        loss = pt_model_loss(ctx, m, &b);
        if (!loss || pt_backward(ctx, loss) != PT_OK) { printf("error: %s\n", pt_last_error()); exit(1); }
        pt_adamw_step(m->params, &opt, 1e-4f);
        pt_params_zero_grad(m->params);
        pt_ctx_reset(ctx);
        if (s >= 2 && pt_time_seconds() - t0 < best) best = pt_time_seconds() - t0;   /* 2 warm-up steps */
    }
    pt_ctx_free(ctx); free(tok); free(tgt);
    return B * T / best;
}
static double bench_gen(pt_model *m, int batch, int n_new)
{
    int prompt[1] = {1};
    const int *pp[1] = {prompt};
    int plen[1] = {1}, r;
    pt_gen_config g; pt_gen_result res;
    double best = 1e30;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = n_new; g.sampler.temperature = 1.0f; g.seed = 3;
    for (r = 0; r < 3; r++) {
        double t0 = pt_time_seconds();
        if (pt_generate(m, pp, plen, 1, batch, &g, &res) != PT_OK) { printf("error: %s\n", pt_last_error()); exit(1); }
        if (pt_time_seconds() - t0 < best) best = pt_time_seconds() - t0;
        pt_gen_result_free(&res);
    }
    return (double)batch * n_new / best;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int threads[2] = {1, 2}, nt = 2, ti, ci;
    struct { const char *name; pt_config c; } cfgs[2];
    memset(cfgs, 0, sizeof cfgs);
    cfgs[0].name = "tiny";  cfgs[0].c.dim = 64;  cfgs[0].c.n_layers = 5; cfgs[0].c.n_heads = 8; cfgs[0].c.n_kv_heads = 4; cfgs[0].c.hidden_dim = 172;
    cfgs[1].name = "small"; cfgs[1].c.dim = 288; cfgs[1].c.n_layers = 6; cfgs[1].c.n_heads = 6; cfgs[1].c.n_kv_heads = 6; cfgs[1].c.hidden_dim = 768;
    for (ci = 0; ci < 2; ci++) { cfgs[ci].c.vocab_size = 512; cfgs[ci].c.seq_len = 256; }
    if (argc > 2) { nt = 0; for (ti = 2; ti < argc && nt < 2; ti++) threads[nt++] = atoi(argv[ti]); }
    printf("%-7s %7s %14s %14s %14s %10s\n", "config", "threads", "train tok/s", "gen b1 tok/s", "gen b16 tok/s", "peak RSS");
    for (ci = 0; ci < 2; ci++) {
        pt_model *m;
        if (strcmp(which, "all") != 0 && strcmp(which, cfgs[ci].name) != 0) continue;
        m = pt_model_new(&cfgs[ci].c, 1);
        if (!m) { printf("error: %s\n", pt_last_error()); return 1; }
        for (ti = 0; ti < nt; ti++) {
            double tr, g1, g16;
            pt_set_threads(threads[ti]);
            tr = bench_train(m, 8, 256, ci == 0 ? 8 : 4);
            g1 = bench_gen(m, 1, 128);
            g16 = bench_gen(m, 16, 128);
            printf("%-7s %7d %14.0f %14.0f %14.0f %8.0f MB\n", cfgs[ci].name, threads[ti], tr, g1, g16, peak_rss_mb());
            fflush(stdout);
        }
        pt_model_free(m);
    }
    if (strcmp(which, "all") == 0 || strcmp(which, "stories") == 0) {
        char path[1024];
        const char *dir = getenv("PT_MODELS");
        pt_model *m;
        snprintf(path, sizeof path, "%s/stories260K.bin", dir && *dir ? dir : "../shared/models");
        m = pt_model_load_llama2c(path);
        if (!m) printf("SKIPPED: stories260K.bin not found (%s)\n", pt_last_error());
        for (ti = 0; m && ti < nt; ti++) {
            pt_set_threads(threads[ti]);
            printf("%-7s %7d %14s %14.0f %14.0f %8.0f MB\n", "stories", threads[ti], "-", bench_gen(m, 1, 128), bench_gen(m, 16, 128), peak_rss_mb());
            fflush(stdout);
        }
        pt_model_free(m);
    }
    return 0;
}
