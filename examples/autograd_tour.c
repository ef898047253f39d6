/* autograd_tour.c - your first hour with posttrain.h.

   1. Check that backpropagation is right: compare the tape's gradients of a few ops with central
      differences (pt_gradcheck) and print a table.
   2. Build a 2-layer MLP out of ops (linear -> SiLU -> linear -> cross-entropy) and train it with
      AdamW on a generated problem: three interleaved spirals in the plane.
   3. Print accuracy before and after, and write the loss curve to build/autograd_tour.csv.

   Build and run:  make build/autograd_tour && build/autograd_tour   (or: cc -O2 -fopenmp -I. examples/autograd_tour.c -lm && ./a.out) */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <stdio.h>
#include <math.h>

#define N_POINTS 600
#define N_CLASSES 3
#define HIDDEN 64
#define STEPS 600

/* ---- 1. gradient checks: each builder makes a small graph from the inputs ---- */
static pt_tensor *build_linear(pt_ctx *c, pt_tensor **in, void *u) { (void)u; return pt_linear(c, in[0], in[1], in[2]); }
static pt_tensor *build_rmsnorm(pt_ctx *c, pt_tensor **in, void *u) { (void)u; return pt_rmsnorm(c, in[0], in[1], 1e-5f); }
static pt_tensor *build_swiglu(pt_ctx *c, pt_tensor **in, void *u) { (void)u; return pt_swiglu(c, in[0], in[1]); }
static pt_tensor *build_logsoftmax(pt_ctx *c, pt_tensor **in, void *u) { (void)u; return pt_log_softmax(c, in[0]); }
static pt_tensor *build_attention(pt_ctx *c, pt_tensor **in, void *u) { (void)u; return pt_attention(c, in[0], in[1], in[2], NULL); }

static void fill(pt_tensor *t, pt_rng *r) { int64_t i; for (i = 0; i < t->size; i++) t->data[i] = pt_rng_normal(r); }

static void gradcheck_table(void)
{
    pt_rng r; pt_gradcheck_result res;
    int s_x[2] = {3, 17}, s_w[2] = {5, 17}, s_b[1] = {5}, s_g[1] = {17}, s_q[4] = {1, 6, 4, 4}, s_k[4] = {1, 6, 2, 4};
    pt_tensor *x = pt_tensor_heap(2, s_x, 1), *w = pt_tensor_heap(2, s_w, 1), *b = pt_tensor_heap(1, s_b, 1);
    pt_tensor *g = pt_tensor_heap(1, s_g, 1), *x2 = pt_tensor_heap(2, s_x, 1);
    pt_tensor *q = pt_tensor_heap(4, s_q, 1), *k = pt_tensor_heap(4, s_k, 1), *v = pt_tensor_heap(4, s_k, 1);
    struct { const char *name; pt_build_fn fn; pt_tensor *in[3]; int n; } checks[5];
    int i;
    pt_rng_seed(&r, 7);
    fill(x, &r); fill(w, &r); fill(b, &r); fill(g, &r); fill(x2, &r); fill(q, &r); fill(k, &r); fill(v, &r);
    checks[0].name = "linear";      checks[0].fn = build_linear;     checks[0].in[0] = x; checks[0].in[1] = w; checks[0].in[2] = b; checks[0].n = 3;
    checks[1].name = "rmsnorm";     checks[1].fn = build_rmsnorm;    checks[1].in[0] = x; checks[1].in[1] = g; checks[1].n = 2;
    checks[2].name = "swiglu";      checks[2].fn = build_swiglu;     checks[2].in[0] = x; checks[2].in[1] = x2; checks[2].n = 2;
    checks[3].name = "log_softmax"; checks[3].fn = build_logsoftmax; checks[3].in[0] = x; checks[3].n = 1;
    checks[4].name = "attention";   checks[4].fn = build_attention;  checks[4].in[0] = q; checks[4].in[1] = k; checks[4].in[2] = v; checks[4].n = 3;
    printf("gradient check (central differences, h = 1e-2, in double)\n");
    printf("  %-12s %8s %12s %12s  %s\n", "op", "checked", "max abs err", "max rel err", "verdict");
    for (i = 0; i < 5; i++) {
        int st = pt_gradcheck(checks[i].fn, NULL, checks[i].in, checks[i].n, 1e-2f, 1e-3, 1e-2, &res);
        printf("  %-12s %8lld %12.2e %12.2e  %s\n", checks[i].name, (long long)res.checked, res.max_abs_err,
               res.max_rel_err, st == PT_OK && res.worst <= 1.0 ? "ok" : "FAIL");
    }
    pt_tensor_heap_free(x); pt_tensor_heap_free(w); pt_tensor_heap_free(b); pt_tensor_heap_free(g); pt_tensor_heap_free(x2);
    pt_tensor_heap_free(q); pt_tensor_heap_free(k); pt_tensor_heap_free(v);
}

/* ---- 2. the problem: three spirals ---- */
static void make_spirals(float *xy, int *label, pt_rng *r)
{
    int i;
    for (i = 0; i < N_POINTS; i++) {
        int c = i % N_CLASSES;
        float t = pt_rng_uniform(r), ang = 4.0f * t + 2.0944f * (float)c;
        xy[2 * i] = t * cosf(ang) + 0.03f * pt_rng_normal(r);
        xy[2 * i + 1] = t * sinf(ang) + 0.03f * pt_rng_normal(r);
        label[i] = c;
    }
}

static pt_tensor *mlp(pt_ctx *ctx, pt_params *P, pt_tensor *x)
{
    pt_tensor *h = pt_silu(ctx, pt_linear(ctx, x, &pt_params_find(P, "l1.w")->t, &pt_params_find(P, "l1.b")->t));
    return pt_linear(ctx, h, &pt_params_find(P, "l2.w")->t, &pt_params_find(P, "l2.b")->t);
}

static float accuracy(pt_ctx *ctx, pt_params *P, pt_tensor *x, const int *label)
{
    pt_tensor *logits = mlp(ctx, P, x);
    int i, c, right = 0;
    for (i = 0; i < N_POINTS; i++) {
        const float *row = logits->data + i * N_CLASSES;
        int best = 0;
        for (c = 1; c < N_CLASSES; c++) if (row[c] > row[best]) best = c;
        right += best == label[i];
    }
    return (float)right / N_POINTS;
}

int main(void)
{
    static float xy[2 * N_POINTS];
    static int label[N_POINTS];
    int s_w1[2] = {HIDDEN, 2}, s_b1[1] = {HIDDEN}, s_w2[2] = {N_CLASSES, HIDDEN}, s_b2[1] = {N_CLASSES}, s_x[2] = {N_POINTS, 2};
    pt_params *P = pt_params_new();
    pt_ctx *ctx = pt_ctx_new(0);
    pt_adamw_config opt = {0};
    pt_rng rng;
    FILE *csv;
    float acc0, acc1;
    int step;
    double t0;

    gradcheck_table();

    pt_params_add(P, "l1.w", 2, s_w1, 0);
    pt_params_add(P, "l1.b", 1, s_b1, PT_PARAM_NO_DECAY);
    pt_params_add(P, "l2.w", 2, s_w2, 0);
    pt_params_add(P, "l2.b", 1, s_b2, PT_PARAM_NO_DECAY);
    if (pt_params_alloc(P) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    pt_rng_seed(&rng, 42);
    pt_params_init_normal(P, "l1.w", 2.0f, &rng);              /* wide first layer: many kinks */
    pt_params_init_normal(P, "l2.w", 1.0f / sqrtf(HIDDEN), &rng);
    make_spirals(xy, label, &rng);

    pt_ctx_set_grad(ctx, 0);
    acc0 = accuracy(ctx, P, pt_tensor_from(ctx, 2, s_x, xy), label);
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);

    printf("\ntraining a %lld-parameter MLP on %d spiral points (AdamW, warmup + cosine)\n",
           (long long)pt_params_count(P, 1), N_POINTS);
    csv = fopen("build/autograd_tour.csv", "w");
    if (csv) fprintf(csv, "step,loss,lr,grad_norm\n");
    opt.weight_decay = 1e-4f;
    t0 = pt_time_seconds();
    for (step = 0; step < STEPS; step++) {
        pt_tensor *x = pt_tensor_from(ctx, 2, s_x, xy);
        pt_tensor *loss = pt_cross_entropy(ctx, mlp(ctx, P, x), label, NULL);
        float lr = pt_lr_schedule(step, 30, STEPS, 2e-2f, 1e-3f);
        double gnorm = 0;
        if (!loss || pt_backward(ctx, loss) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
        pt_clip_grad_norm(P, 1.0f, &gnorm);
        pt_adamw_step(P, &opt, lr);
        pt_params_zero_grad(P);
        if (csv) fprintf(csv, "%d,%.6f,%.6g,%.6f\n", step, loss->data[0], lr, gnorm);
        if (step % 20 == 0 || step == STEPS - 1) {
            int bar = 30 * (step + 1) / STEPS, i;
            printf("\r  [");
            for (i = 0; i < 30; i++) putchar(i < bar ? '#' : '.');
            printf("] step %4d/%d  loss %.4f  lr %.2e", step + 1, STEPS, loss->data[0], lr);
            fflush(stdout);
        }
        pt_ctx_reset(ctx);
    }
    printf("\n  %.2f s\n", pt_time_seconds() - t0);
    if (csv) fclose(csv);

    pt_ctx_set_grad(ctx, 0);
    acc1 = accuracy(ctx, P, pt_tensor_from(ctx, 2, s_x, xy), label);
    printf("\n  %-10s %8s\n  %-10s %7.1f%%\n  %-10s %7.1f%%\n", "", "accuracy", "before", 100 * acc0, "after", 100 * acc1);
    printf("loss curve written to build/autograd_tour.csv\n");
    pt_ctx_free(ctx);
    pt_params_free(P);
    return 0;
}
