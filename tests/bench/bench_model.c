/* bench_model.c - training-step and generation throughput of the transformer.
   usage: bench_model [tiny|small|stories|rl|all] [threads...]
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
   generation; it is read before the DPO and RM runs).
   RL (all, tiny, or rl alone), the tiny config, 8 prompts of 16 random tokens, G = 8 and 16 completions
   of each, 48 new tokens at temperature 1 with no stop token firing (every sequence runs the full 48,
   as the PyTorch peer's): rollout tokens/s = pt_generate alone (best of 3); grpo tokens/s = generated
   tokens per second of a whole pt_grpo_train step (rollout, reference log-probs, rewards, loss,
   backward, AdamW), timed like DPO (a 6-step run minus a 1-step run), with the step's split into
   res.gen_seconds / logprob_seconds / update_seconds as shares of it, and the mean completion length
   read from the run's CSV. One "rl" row per thread count and G. */
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
#include <unistd.h>
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

/* --- RL: rollouts and whole GRPO steps (tiny) -------------------------------------------------------
   RL_PROMPTS prompts of RL_PROMPT_LEN random tokens (fixed seed), G completions of RL_NEW new tokens
   each at temperature 1, every completion the full RL_NEW tokens (no stop token can fire), so both
   sides do the same work whatever the random model samples. */
enum { RL_PROMPTS = 8, RL_PROMPT_LEN = 16, RL_NEW = 48 };
static void rl_prompts(int vocab, int *ids)
{
    pt_rng rng;
    int i;
    pt_rng_seed(&rng, 4);
    for (i = 0; i < RL_PROMPTS * RL_PROMPT_LEN; i++) ids[i] = pt_rng_int(&rng, 0, vocab - 1);
}
/* rollout tokens/s: pt_generate of G completions per prompt (each prompt prefilled once, its KV cache
   copied to the group), no stop tokens, best of 3 */
static double bench_rollout(pt_model *m, int G)
{
    int ids[RL_PROMPTS * RL_PROMPT_LEN], plen[RL_PROMPTS], i, r;
    const int *pp[RL_PROMPTS];
    pt_gen_config g; pt_gen_result res;
    double best = 1e30;
    rl_prompts(m->cfg.vocab_size, ids);
    for (i = 0; i < RL_PROMPTS; i++) { pp[i] = ids + i * RL_PROMPT_LEN; plen[i] = RL_PROMPT_LEN; }
    memset(&g, 0, sizeof g);
    g.max_new_tokens = RL_NEW; g.sampler.temperature = 1.0f; g.seed = 5;
    for (r = 0; r < 3; r++) {
        double t0 = pt_time_seconds();
        if (pt_generate(m, pp, plen, RL_PROMPTS, G, &g, &res) != PT_OK) { printf("error: %s\n", pt_last_error()); exit(1); }
        if (pt_time_seconds() - t0 < best) best = pt_time_seconds() - t0;
        pt_gen_result_free(&res);
    }
    return (double)RL_PROMPTS * G * RL_NEW / best;
}
/* The rule reward: bytes with the high bit set in the completion. A random model samples ids 128..255
   about a quarter of the time, so rewards vary within every group (the text stops at a sampled id 0:
   a NUL byte; the PyTorch peer counts the ids, the same work for timing). */
static float high_bytes(const char *prompt, const char *completion, void *user)
{
    int n = 0;
    (void)prompt; (void)user;
    for (; *completion; completion++) n += (unsigned char)*completion >= 128;
    return (float)n;
}
/* One pt_grpo_train run of `steps` steps: GRPO defaults (beta 0.04: the reference is a frozen clone
   of the policy, its forward runs every step), one update per rollout, lr 1e-4 constant, no clipping
   (as the PyTorch peer). The only stop token is vocab_size: pt_rollout_generate needs one, and the
   sampler never returns an id outside [0, vocab), so every completion runs the full RL_NEW tokens. */
static void grpo_run(pt_model *m, const pt_example *prompts, int G, int steps, const char *csv, pt_train_result *res)
{
    pt_grpo_config c;
    pt_reward_term term = {"high", high_bytes, NULL, 1.0f};
    memset(&c, 0, sizeof c);
    c.train.steps = steps; c.train.lr = 1e-4f; c.train.min_lr = 1e-4f; c.train.warmup = PT_ZERO;
    c.train.grad_clip = PT_ZERO; c.train.quiet = 1; c.train.csv_path = csv;
    c.prompts_per_step = RL_PROMPTS; c.group_size = G; c.updates_per_rollout = 1;
    c.gen.max_new_tokens = RL_NEW; c.gen.sampler.temperature = 1.0f;
    c.gen.stop_tokens[0] = m->cfg.vocab_size; c.gen.n_stop_tokens = 1;
    c.rewards = &term; c.n_rewards = 1; c.seed = 1;
    if (pt_grpo_train(m, prompts, RL_PROMPTS, &c, res) != PT_OK || res->steps_done != steps || res->skipped) {
        printf("error: %s\n", pt_last_error());
        exit(1);
    }
}
/* mean of a GRPO CSV's `length` column (completion tokens) over the rows after the first */
static double csv_mean_length(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096], *tok;
    int col = -1, i, rows = 0;
    double sum = 0;
    if (!f) return -1;
    if (fgets(line, sizeof line, f))
        for (i = 0, tok = strtok(line, ",\n"); tok; tok = strtok(NULL, ",\n"), i++)
            if (strcmp(tok, "length") == 0) col = i;
    if (fgets(line, sizeof line, f))   /* the first step: not timed */
        while (col >= 0 && fgets(line, sizeof line, f)) {
            for (i = 0, tok = strtok(line, ",\n"); tok && i < col; tok = strtok(NULL, ",\n")) i++;
            if (tok) { sum += atof(tok); rows++; }
        }
    fclose(f);
    return rows ? sum / rows : -1;
}
/* A GRPO step timed as the pair steps are: (a (1+k)-step run - a 1-step run) / k, best of `reps`
   each, so the first step (arena growth, first-touch of the buffers) is not in it; the split is the
   difference of res.gen_seconds, logprob_seconds (the reference's forward) and update_seconds
   (policy forward, loss, backward, AdamW) over the same runs, as shares of the step. */
struct grpo_bench { double tok_s, gen, logprob, update, length; };
static struct grpo_bench bench_grpo(const pt_config *cfg, int G, int k, int reps)
{
    int ids[RL_PROMPTS * RL_PROMPT_LEN], i;
    pt_example prompts[RL_PROMPTS];
    pt_train_result s, l, best_s, best_l;
    struct grpo_bench b;
    char csv[256];
    double dt;
    memset(&b, 0, sizeof b);
#if defined(__unix__) || defined(__APPLE__)
    const char *dir = getenv("TMPDIR");
    int fd;
    snprintf(csv, sizeof csv, "%s/bench_model_grpo_XXXXXX", dir && *dir ? dir : "/tmp");
    if ((fd = mkstemp(csv)) < 0) { printf("error: cannot create %s\n", csv); exit(1); }
    close(fd);
#else
    snprintf(csv, sizeof csv, "bench_model_grpo.csv");
#endif
    rl_prompts(cfg->vocab_size, ids);
    for (i = 0; i < RL_PROMPTS; i++) {
        prompts[i].ids = ids + i * RL_PROMPT_LEN;
        prompts[i].n_ids = prompts[i].n_prompt = RL_PROMPT_LEN;
        prompts[i].train = NULL;
    }
    memset(&best_s, 0, sizeof best_s);
    memset(&best_l, 0, sizeof best_l);
    best_s.seconds = best_l.seconds = 1e30;
    for (i = 0; i < reps; i++) {
        pt_model *m = pt_model_new(cfg, 1);   /* each repetition from the same starting policy */
        if (!m) { printf("error: %s\n", pt_last_error()); exit(1); }
        grpo_run(m, prompts, G, 1, NULL, &s);
        grpo_run(m, prompts, G, 1 + k, csv, &l);
        if (s.seconds < best_s.seconds) best_s = s;
        if (l.seconds < best_l.seconds) { best_l = l; b.length = csv_mean_length(csv); }
        pt_model_free(m);
    }
    remove(csv);
    dt = best_l.seconds - best_s.seconds;
    if (dt <= 0 || b.length <= 0) { memset(&b, 0, sizeof b); return b; }
    b.tok_s = (double)RL_PROMPTS * G * b.length * k / dt;
    b.gen = (best_l.gen_seconds - best_s.gen_seconds) / dt;
    b.logprob = (best_l.logprob_seconds - best_s.logprob_seconds) / dt;
    b.update = (best_l.update_seconds - best_s.update_seconds) / dt;
    return b;
}
/* The RL table: rollout and GRPO-step tokens/s for G = 8 and 16 on the tiny config, per thread count. */
static void rl_main(const pt_config *cfg, const int *threads, int nt)
{
    static const int groups[2] = {8, 16};
    int ti, gi;
    pt_model *m = pt_model_new(cfg, 1);
    if (!m) { printf("error: %s\n", pt_last_error()); exit(1); }
    printf("%-4s %-7s %7s %4s %14s %14s %7s %7s %7s %7s\n", "rl", "config", "threads", "G", "rollout tok/s",
           "grpo tok/s", "gen", "logprob", "update", "length");
    for (ti = 0; ti < nt; ti++) {
        pt_set_threads(threads[ti]);
        for (gi = 0; gi < 2; gi++) {
            double ro = bench_rollout(m, groups[gi]);
            struct grpo_bench b = bench_grpo(cfg, groups[gi], 5, 1);
            printf("%-4s %-7s %7d %4d %14.0f %14.0f %7.3f %7.3f %7.3f %7.1f\n", "rl", "tiny", threads[ti], groups[gi], ro,
                   b.tok_s, b.gen, b.logprob, b.update, b.length);
            fflush(stdout);
        }
    }
    pt_model_free(m);
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
    if (strcmp(which, "rl") == 0) { rl_main(&cfgs[0].c, threads, nt); return 0; }
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
    if (strcmp(which, "all") == 0 || strcmp(which, "tiny") == 0) rl_main(&cfgs[0].c, threads, nt);
    return 0;
}
