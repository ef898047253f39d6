/* bench_model.c - training-step and generation throughput of the transformer.
   usage: bench_model [tiny|small|stories|all] [threads...]
          bench_model --profile [tiny|small|demo]   per-op profile of a training step, 1 and 2 threads
          bench_model probe                          the FP32 peak now (0.3 s per thread count): a load check
   stories = the real stories260K.bin (from $PT_MODELS or ../shared/models), generation only.
   Training: forward + backward + AdamW on a [B=8, T=256] batch of random tokens (tokens/s).
   Generation: new tokens/s decoding 128 tokens after a 1-token prompt, batch 1 and batch 16.
   DPO and RM: one pt_dpo_train / pt_rm_train step on 4 preference pairs of T=256 tokens each side
   (a shared 64-token prompt + 192 random completion tokens), chosen and rejected through the model
   as one batch of 8 rows (tokens/s = 2048 per step, like training). DPO: sigmoid loss, beta 0.1,
   reference log-probs from the policy (computed once before the first step: not timed); RM: the
   scalar head at the last completion token, Bradley-Terry loss (a second model of the same config,
   with a head). No clipping, no eval pairs, quiet. The trainers' own tokens_per_s counts from the
   start of the loop (the first step's arena growth included), so a step is timed as the difference
   of a 2-step and a (2+k)-step run's res.seconds (both exclude the reference pass), best of a few.
   Peak RSS is reported per config (it includes the model, the arena and the KV cache of training and
   generation; it is read before the DPO and RM runs). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "peak.h"
#if defined(__unix__) || defined(__APPLE__)
#include <sys/resource.h>
static double peak_rss_mb(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_maxrss / 1024.0; }
#else
static double peak_rss_mb(void) { return 0; }
#endif

/* The arithmetic of one training step: 3 x the forward's matmul FLOPs (2 per multiply-add; the
   backward does twice the forward's), the causal attention's QK^T and AV included (query t sees
   t + 1 keys), elementwise work not counted: the usual "model FLOPs". */
static double train_flops(const pt_config *c, int B, int T)
{
    double D = c->dim, KV = (double)c->dim / c->n_heads * c->n_kv_heads, H = c->hidden_dim, V = c->vocab_size;
    double per_token = 2.0 * c->n_layers * (D * D * 2 + 2 * D * KV + 3 * D * H) + 2.0 * D * V;
    double attn = 2.0 * 2.0 * c->n_layers * D * (T + 1) / 2.0;   /* mean keys per query (T+1)/2 */
    return 3.0 * B * T * (per_token + attn);
}

/* Random token ids and targets (fixed seed) for the training benchmarks. */
static void random_tokens(const pt_model *m, int n, int **tok, int **tgt)
{
    pt_rng rng;
    int i;
    *tok = (int *)malloc(sizeof(int) * n);
    *tgt = (int *)malloc(sizeof(int) * n);
    if (!*tok || !*tgt) { printf("error: out of memory\n"); exit(1); }
    pt_rng_seed(&rng, 1);
    for (i = 0; i < n; i++) {
        (*tok)[i] = pt_rng_int(&rng, 0, m->cfg.vocab_size - 1);
        (*tgt)[i] = pt_rng_int(&rng, 0, m->cfg.vocab_size - 1);
    }
}
/* One training step: forward, backward, AdamW, zero the gradients, reset the tape. */
static void train_step(pt_ctx *ctx, pt_model *m, int B, int T, int *tok, int *tgt)
{
    pt_batch b = {0};
    pt_tensor *loss;
    static pt_adamw_config opt;
    b.B = B; b.T = T; b.tokens = tok; b.targets = tgt;
    loss = pt_model_loss(ctx, m, &b);
    if (!loss || pt_backward(ctx, loss) != PT_OK) { printf("error: %s\n", pt_last_error()); exit(1); }
    pt_adamw_step(m->params, &opt, 1e-4f);
    pt_params_zero_grad(m->params);
    pt_ctx_reset(ctx);
}

/* Per-op profile of `steps` training steps (after 2 warm-up steps): milliseconds per step. */
static void profile_train(const char *name, pt_model *m, int B, int T, int steps, int nt, double peak)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int *tok, *tgt, i, n;
    pt_profile_row rows[48];
    double wall, sum = 0, flops = train_flops(&m->cfg, B, T);
    random_tokens(m, B * T, &tok, &tgt);
    train_step(ctx, m, B, T, tok, tgt);   /* 2 warm-up steps */
    train_step(ctx, m, B, T, tok, tgt);
    pt_profile_start();
    wall = pt_time_seconds();
    for (i = 0; i < steps; i++) train_step(ctx, m, B, T, tok, tgt);
    wall = (pt_time_seconds() - wall) / steps;
    pt_profile_stop();
    n = pt_profile_rows(rows, 48);
    for (i = 0; i < n; i++) sum += rows[i].forward_s + rows[i].backward_s;
    printf("\nprofile: %s, %d thread%s, B=%d T=%d: %.1f ms/step, %.0f tokens/s, %.1f GFLOP/s (%.1f%% of the %.0f GFLOP/s peak)\n",
           name, nt, nt > 1 ? "s" : "", B, T, 1e3 * wall, B * T / wall, flops / wall * 1e-9, 100.0 * flops / wall * 1e-9 / peak, peak);
    printf("  %-16s %9s %9s %9s %7s %7s\n", "op", "fwd ms", "bwd ms", "total ms", "%step", "calls");
    for (i = 0; i < n; i++) {
        double tot = rows[i].forward_s + rows[i].backward_s;
        printf("  %-16s %9.2f %9.2f %9.2f %6.1f%% %7.0f\n", rows[i].name, 1e3 * rows[i].forward_s / steps,
               1e3 * rows[i].backward_s / steps, 1e3 * tot / steps, 100.0 * tot / steps / wall,
               (double)rows[i].calls / steps);
    }
    printf("  %-16s %9s %9s %9.2f %6.1f%%\n", "(not in a row)", "", "", 1e3 * (wall - sum / steps), 100.0 * (wall - sum / steps) / wall);
    pt_ctx_free(ctx); free(tok); free(tgt);
}

struct bench_cfg { const char *name; pt_config c; int B, T; };

static double bench_train(pt_model *m, int B, int T, int steps)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int *tok, *tgt, s;
    double t0 = 0, best = 1e30;
    random_tokens(m, B * T, &tok, &tgt);
    for (s = 0; s < steps + 2; s++) {
        t0 = pt_time_seconds();
        train_step(ctx, m, B, T, tok, tgt);
        if (s >= 2 && pt_time_seconds() - t0 < best) best = pt_time_seconds() - t0;   /* 2 warm-up steps */
    }
    pt_ctx_free(ctx); free(tok); free(tgt);
    return B * T / best;
}
/* n preference pairs of T tokens each side: a shared prompt of n_prompt random tokens, then random
   completions (fixed seed). */
static void make_pairs(pt_example *c, pt_example *r, int n, int T, int n_prompt, int vocab)
{
    pt_rng rng;
    int i, t;
    pt_rng_seed(&rng, 2);
    for (i = 0; i < n; i++) {
        c[i].ids = (int *)malloc(sizeof(int) * T);
        r[i].ids = (int *)malloc(sizeof(int) * T);
        c[i].n_ids = r[i].n_ids = T;
        c[i].n_prompt = r[i].n_prompt = n_prompt;
        c[i].train = r[i].train = NULL;
        for (t = 0; t < T; t++) {
            c[i].ids[t] = pt_rng_int(&rng, 0, vocab - 1);
            r[i].ids[t] = t < n_prompt ? c[i].ids[t] : pt_rng_int(&rng, 0, vocab - 1);
        }
    }
}
/* res.seconds of one pt_dpo_train (rm = 0) or pt_rm_train (rm = 1) run of `steps` steps on n pairs,
   one batch of all n pairs per step (the loop's time: the DPO reference pass is before it). */
static double pair_run_seconds(pt_model *m, int rm, const pt_example *c, const pt_example *r, int n, int steps)
{
    pt_train_config tc;
    pt_train_result res;
    int st;
    memset(&tc, 0, sizeof tc);
    tc.steps = steps; tc.lr = 1e-4f; tc.grad_clip = PT_ZERO; tc.warmup = PT_ZERO; tc.quiet = 1;
    if (rm) {
        pt_rm_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.train = tc; cfg.batch_pairs = n; cfg.seed = 1;
        st = pt_rm_train(m, c, r, NULL, n, NULL, NULL, 0, &cfg, &res);
    } else {
        pt_dpo_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.train = tc; cfg.batch_pairs = n; cfg.seed = 1; cfg.pref.beta = 0.1f;
        st = pt_dpo_train(m, c, r, NULL, n, NULL, NULL, 0, &cfg, &res);
    }
    if (st != PT_OK || res.steps_done != steps || res.skipped) {
        printf("error: %s\n", st != PT_OK ? pt_last_error() : "a pair training step was skipped");
        exit(1);
    }
    return res.seconds;
}
/* tokens/s of a DPO or RM step: (best (2+k)-step run - best 2-step run) / k, best of `reps` runs each. */
static double bench_pairs(pt_model *m, int rm, int k, int reps)
{
    enum { N = 4, T = 256, PROMPT = 64 };
    pt_example c[N], r[N];
    double short_run = 1e30, long_run = 1e30, s;
    int i;
    make_pairs(c, r, N, T, PROMPT, m->cfg.vocab_size);
    for (i = 0; i < reps; i++) {
        if ((s = pair_run_seconds(m, rm, c, r, N, 2)) < short_run) short_run = s;
        if ((s = pair_run_seconds(m, rm, c, r, N, 2 + k)) < long_run) long_run = s;
    }
    pt_examples_free(c, N); pt_examples_free(r, N);
    return long_run > short_run ? 2.0 * N * T * k / (long_run - short_run) : 0.0;
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

/* The configs: tiny and small (the PyTorch comparison, B=8 x T=256) and demo (the model of make demo:
   examples/pretrain.c, B=16 x T=128, byte vocabulary). */
static void set_configs(struct bench_cfg *cfgs)
{
    memset(cfgs, 0, 3 * sizeof *cfgs);
    cfgs[0].name = "tiny";  cfgs[0].c.dim = 64;  cfgs[0].c.n_layers = 5; cfgs[0].c.n_heads = 8; cfgs[0].c.n_kv_heads = 4; cfgs[0].c.hidden_dim = 172;
    cfgs[1].name = "small"; cfgs[1].c.dim = 288; cfgs[1].c.n_layers = 6; cfgs[1].c.n_heads = 6; cfgs[1].c.n_kv_heads = 6; cfgs[1].c.hidden_dim = 768;
    cfgs[2].name = "demo";  cfgs[2].c.dim = 128; cfgs[2].c.n_layers = 5; cfgs[2].c.n_heads = 4; cfgs[2].c.n_kv_heads = 2; cfgs[2].c.hidden_dim = 344;
    cfgs[0].c.vocab_size = cfgs[1].c.vocab_size = 512; cfgs[0].c.seq_len = cfgs[1].c.seq_len = 256;
    cfgs[0].B = cfgs[1].B = 8; cfgs[0].T = cfgs[1].T = 256;
    cfgs[2].c.vocab_size = PT_BYTE_VOCAB; cfgs[2].c.seq_len = 128; cfgs[2].B = 16; cfgs[2].T = 128;
}

/* --profile: the per-op profile of a training step for every config on 1 and 2 threads, and the
   demo model's training FLOP rate against the peak. */
static int profile_main(int argc, char **argv)
{
    struct bench_cfg cfgs[3];
    double peak[3];
    int ci, nt;
    set_configs(cfgs);
    peak[1] = fma_peak(1);
    peak[2] = fma_peak(2);
    printf("FP32 peak (%d-bit FMA chains): %.1f GFLOP/s on 1 thread, %.1f on 2\n", LANES * 32, peak[1], peak[2]);
    for (ci = 0; ci < 3; ci++) {
        pt_model *m;
        if (argc > 2 && strcmp(argv[2], cfgs[ci].name) != 0) continue;
        m = pt_model_new(&cfgs[ci].c, 1);
        if (!m) { printf("error: %s\n", pt_last_error()); return 1; }
        for (nt = 1; nt <= 2; nt++) {
            pt_set_threads(nt);
            profile_train(cfgs[ci].name, m, cfgs[ci].B, cfgs[ci].T, ci == 1 ? 4 : 8, nt, peak[nt]);
        }
        pt_model_free(m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "all";
    int threads[2] = {1, 2}, nt = 2, ti, ci;
    struct bench_cfg cfgs[3];
    if (strcmp(which, "--profile") == 0) return profile_main(argc, argv);
    if (strcmp(which, "probe") == 0) {   /* is the machine ours right now? a ~10 ms FMA run per thread count */
        double p1 = fma_peak(1), p2 = fma_peak(2);
        printf("probe peak1=%.1f peak2=%.1f\n", p1, p2);
        return 0;
    }
    set_configs(cfgs);
    if (argc > 2) { nt = 0; for (ti = 2; ti < argc && nt < 2; ti++) threads[nt++] = atoi(argv[ti]); }
    printf("%-7s %7s %14s %14s %14s %14s %14s %10s\n", "config", "threads", "train tok/s", "gen b1 tok/s", "gen b16 tok/s",
           "dpo tok/s", "rm tok/s", "peak RSS");
    for (ci = 0; ci < 2; ci++) {
        pt_model *m, *mr;
        double tr[2], g1[2], g16[2], dpo[2], rm[2], rss;
        if (strcmp(which, "all") != 0 && strcmp(which, cfgs[ci].name) != 0) continue;
        m = pt_model_new(&cfgs[ci].c, 1);
        if (!m) { printf("error: %s\n", pt_last_error()); return 1; }
        for (ti = 0; ti < nt; ti++) {
            pt_set_threads(threads[ti]);
            tr[ti] = bench_train(m, 8, 256, ci == 0 ? 8 : 4);
            g1[ti] = bench_gen(m, 1, 128);
            g16[ti] = bench_gen(m, 16, 128);
        }
        rss = peak_rss_mb();   /* training and generation only, as before the DPO and RM columns */
        mr = pt_model_new(&cfgs[ci].c, 1);   /* the reward model: the same config, a head attached by pt_rm_train */
        if (!mr) { printf("error: %s\n", pt_last_error()); return 1; }
        for (ti = 0; ti < nt; ti++) {
            pt_set_threads(threads[ti]);
            dpo[ti] = bench_pairs(m, 0, ci == 0 ? 4 : 2, ci == 0 ? 3 : 2);
            rm[ti] = bench_pairs(mr, 1, ci == 0 ? 4 : 2, ci == 0 ? 3 : 2);
        }
        for (ti = 0; ti < nt; ti++)
            printf("%-7s %7d %14.0f %14.0f %14.0f %14.0f %14.0f %8.0f MB\n", cfgs[ci].name, threads[ti], tr[ti], g1[ti],
                   g16[ti], dpo[ti], rm[ti], rss);
        fflush(stdout);
        pt_model_free(mr);
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
            printf("%-7s %7d %14s %14.0f %14.0f %14s %14s %8.0f MB\n", "stories", threads[ti], "-", bench_gen(m, 1, 128),
                   bench_gen(m, 16, 128), "-", "-", peak_rss_mb());
            fflush(stdout);
        }
        pt_model_free(m);
    }
    return 0;
}
