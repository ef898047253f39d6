/* Tests for the training loop every trainer shares (pt_trainer_begin / running / step / eval_due /
   evaluated / log / end) and what it relies on:
     1. defaults and PT_ZERO: the learning rate of every step against the warmup + cosine formula,
        the evaluation cadence, and every parameter update against a hand AdamW (clipping to the
        default 1.0 or none, beta1 0, weight decay sparing the norms), the pre-clip grad norm
     2. the CSV: header with extra columns, one row per step, NaN where nothing was evaluated,
        an unwritable path
     3. non-finite losses and gradients: skipped (weights, moments and the step counter
        bit-unchanged), counted, NaN in the CSV, ignored by first_loss / last_loss
     4. the best checkpoint: by metric (higher) else by eval loss (lower), written only when it
        improves, the model / a LoRA adapter / PATH.head next to it / a native file with a head
     5. pt_sft_train through the loop: learning, steps, measured memory (a head counted exactly)
     6. checkpoints and head files with scalar heads: exact resume, refusals that change nothing,
        a hand-written head file, corrupted files
   Every expectation is computed here independently (the schedule and AdamW from the formulas in
   the header's banners, sizes from the config, files from the documented formats).
   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_trainer_XXXXXX, removed at the end. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <string.h>
#include <stdint.h>
#include <math.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "test_tmp.h"

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
#define DIM 16
static pt_config tiny_config(int dim) { return mkcfg(dim, 1, 2, 1, 2 * dim, PT_BYTE_VOCAB, 32, 0); }
/* parameters of the tiny model, counted from its config (section 3's tensor list) */
static int64_t n_params_of(const pt_config *c)
{
    int64_t D = c->dim, kv = (int64_t)(c->dim / c->n_heads) * c->n_kv_heads, H = c->hidden_dim;
    return (int64_t)c->vocab_size * D + c->n_layers * (D + D * D + 2 * D * kv + D * D + D + 3 * D * H) + D;
}

/* One fixed batch of 2 rows of 16 bytes (next-token targets). */
#define BB 2
#define BT 16
static int g_tok[BB * BT], g_tgt[BB * BT];
static pt_batch g_batch;
static void batch_init(void)
{
    pt_rng rng;
    int i;
    pt_rng_seed(&rng, 42);
    for (i = 0; i < BB * BT; i++) g_tok[i] = pt_rng_int(&rng, 'a', 'z');
    for (i = 0; i < BB * BT; i++) g_tgt[i] = i % BT == BT - 1 ? pt_rng_int(&rng, 'a', 'z') : g_tok[i + 1];
    memset(&g_batch, 0, sizeof g_batch);
    g_batch.B = BB; g_batch.T = BT; g_batch.tokens = g_tok; g_batch.targets = g_tgt;
}

/* The loss of a step: the model's cross-entropy on the fixed batch (plus the mean squared head
   value when the model has a scalar head, so the head trains), times scale. L_NAN / L_INF make the
   loss NaN / +inf; L_INFGRAD keeps the loss finite but makes a gradient overflow: one small
   embedding weight x (|x| ~ 0.02) enters twice as x * 2e38 (value ~1e37, finite), so its gradient
   is 2e38 + 2e38 = inf. */
enum { L_PLAIN = 0, L_NAN, L_INF, L_INFGRAD };
static float *g_bigc;   /* [V * D]: 2e38 at one element, else 0 */
static pt_tensor *make_loss(pt_ctx *ctx, pt_model *m, float scale, int kind)
{
    pt_tensor *l = pt_model_loss(ctx, m, &g_batch);
    if (m->head) l = pt_add(ctx, l, pt_mean(ctx, pt_square(ctx, pt_model_head_values(ctx, m, &g_batch))));
    if (scale != 1.0f) l = pt_scale(ctx, l, scale);
    if (kind == L_NAN) l = pt_scale(ctx, l, NAN);
    if (kind == L_INF) l = pt_scale(ctx, l, INFINITY);
    if (kind == L_INFGRAD) {
        pt_tensor *te = m->tok_embeddings, *c = pt_tensor_from(ctx, te->ndim, te->shape, g_bigc);
        l = pt_add(ctx, l, pt_add(ctx, pt_sum(ctx, pt_mul(ctx, te, c)), pt_sum(ctx, pt_mul(ctx, te, c))));
    }
    return l;
}
/* The gradient of the base parameters the trainer will see, computed on a separate ctx (same
   weights, same deterministic kernels: the same bits), copied to g[n_grad]; the model's gradient
   buffers are zeroed again. Returns the loss value. */
static float grad_of(pt_model *m, float scale, int kind, float *g)
{
    pt_ctx *ctx = pt_ctx_new(0);
    pt_tensor *l = make_loss(ctx, m, scale, kind);
    float v = l ? l->data[0] : NAN;
    if (l && isfinite(v)) pt_backward(ctx, l);
    memcpy(g, m->params->grad, (size_t)m->params->n_grad * sizeof(float));
    pt_model_zero_grad(m);
    pt_ctx_free(ctx);
    return v;
}
/* run n plain trainer steps (no evaluation) */
static void train_plain(pt_model *m, int n, float lr)
{
    pt_trainer tr;
    pt_train_config cfg;
    pt_ctx *ctx = pt_ctx_new(0);
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = n; cfg.lr = lr; cfg.warmup = PT_ZERO; cfg.min_lr = lr; cfg.quiet = 1;
    pt_trainer_begin(&tr, m, &cfg, NULL);
    while (pt_trainer_running(&tr)) {
        pt_trainer_step(&tr, ctx, make_loss(ctx, m, 1.0f, L_PLAIN), BB * BT);
        pt_trainer_log(&tr, NULL, 0);
    }
    pt_trainer_end(&tr, ctx, NULL);
    pt_ctx_free(ctx);
}
static int floats_equal(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof(float)) == 0; }
static long read_into(const char *path, unsigned char *buf, long cap)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}
static int has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

/* The schedule of section 6 from its description, in double: linear warmup to lr over `warmup`
   steps (step s of the warmup at lr (s+1)/warmup), then cosine decay to min_lr at `total`. */
static double sched(int64_t s, int warmup, int total, double lr, double min_lr)
{
    if (warmup > 0 && s < warmup) return lr * (double)(s + 1) / warmup;
    if (s >= total) return min_lr;
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)(s - warmup) / (double)(total - warmup)));
}

/* ---------------------------------------------------------------------------------------------
   The hand-checked loop: what a configuration must resolve to, and a run that checks every step
   --------------------------------------------------------------------------------------------- */
typedef struct expect {
    int steps, warmup, eval_every;
    double lr, min_lr, clip, b1, b2, wd;   /* clip 0: none */
} expect;
#define MAXS 64
typedef struct trace {
    int n;
    float loss[MAXS];          /* the loss value built this step (NaN/inf for skipped ones) */
    double lr[MAXS], norm[MAXS];
    int skipped[MAXS], evaluated[MAXS];
    float eval_loss[MAXS], metric[MAXS], extra[MAXS][2];
    int bad_lr, bad_due, bad_norm, bad_skip, bad_stepcount, bad_status, updates;
    double worst;              /* worst |w - hand w| / tolerance over all updates */
    double lr_after;           /* tr.lr after the loop */
    pt_train_result res;
} trace;
/* Runs cfg on m with scales[k] and kinds[k] for step k (NULL: 1 and L_PLAIN); at every step checks
   the learning rate and eval cadence against e, then computes the gradient independently, applies
   a hand AdamW (section 6's formula, clipping by the global norm) in double and compares the
   trainer's weights. evals: call pt_trainer_evaluated on due steps with eval loss 3 + k/8 and,
   on every other evaluation, metric k/2; extras: pass two extra CSV values. */
static void run_hand(pt_model *m, const pt_train_config *cfg, const char *extra_cols, const expect *e, const float *scales,
                     const int *kinds, int evals, int extras, trace *t)
{
    pt_params *P = m->params;
    int64_t ng = P->n_grad, i;
    int64_t *dix = (int64_t *)malloc((size_t)(ng > 0 ? ng : 1) * sizeof(int64_t));
    unsigned char *decay = (unsigned char *)malloc((size_t)ng);
    double *hm = (double *)calloc((size_t)ng, sizeof(double)), *hv = (double *)calloc((size_t)ng, sizeof(double));
    float *g = (float *)malloc((size_t)ng * sizeof(float)), *w0 = (float *)malloc((size_t)P->n_data * sizeof(float));
    float *m0 = (float *)malloc((size_t)ng * sizeof(float)), *v0 = (float *)malloc((size_t)ng * sizeof(float));
    pt_ctx *ctx = pt_ctx_new(0);
    pt_trainer tr;
    int k, ht = 0, n_eval = 0, st;
    memset(t, 0, sizeof *t);
    for (i = 0; i < ng; i++) dix[i] = -1;   /* alignment padding between tensors */
    /* the gradient layout: where each gradient's weight lives, and whether it decays (norm
       weights do not, section 3) */
    for (k = 0; k < P->count; k++) {
        pt_param *p = P->items[k];
        if (p->grad_offset < 0) continue;
        for (i = 0; i < p->t.size; i++) { dix[p->grad_offset + i] = p->offset + i; decay[p->grad_offset + i] = !has(p->name, "norm"); }
    }
    st = pt_trainer_begin(&tr, m, cfg, extra_cols);
    CHECK(st == PT_OK, "pt_trainer_begin: %s", pt_last_error());
    if (st != PT_OK) goto done;
    while (pt_trainer_running(&tr)) {
        double norm = 0, want_lr, c;
        float lv, scale = scales ? scales[tr.step] : 1.0f;
        int kind = kinds ? kinds[tr.step] : L_PLAIN, skip, due, want_due;
        int64_t step0 = P->step;
        k = tr.step;
        if (k >= MAXS) break;
        want_lr = sched(k, e->warmup, e->steps, e->lr, e->min_lr);
        t->lr[k] = want_lr;
        if (fabs((double)tr.lr - want_lr) > 2e-6 * e->lr || pt_trainer_lr(&tr) != tr.lr) {
            if (t->bad_lr++ < 3) printf("  step %d: lr %.9g, want %.9g\n", k, (double)tr.lr, want_lr);
        }
        lv = grad_of(m, scale, kind, g);
        for (i = 0; i < ng; i++) norm += (double)g[i] * (double)g[i];
        norm = sqrt(norm);
        t->loss[k] = lv; t->norm[k] = norm;
        skip = !isfinite(lv) || !isfinite(norm);
        t->skipped[k] = skip;
        memcpy(w0, P->data, (size_t)P->n_data * sizeof(float));
        memcpy(m0, P->adam_m, (size_t)ng * sizeof(float));
        memcpy(v0, P->adam_v, (size_t)ng * sizeof(float));
        st = pt_trainer_step(&tr, ctx, make_loss(ctx, m, scale, kind), BB * BT);
        if (st != PT_OK) t->bad_status++;
        if (skip) {
            int bad = !floats_equal(w0, P->data, P->n_data) || !floats_equal(m0, P->adam_m, ng) || !floats_equal(v0, P->adam_v, ng) ||
                      P->step != step0;
            for (i = 0; i < ng; i++) bad |= P->grad[i] != 0.0f;
            if (bad) t->bad_skip++;
        } else {
            double tol_base = 1e-4 * want_lr;
            if (fabs(tr.grad_norm - norm) > 1e-9 * norm) {
                if (t->bad_norm++ < 3) printf("  step %d: grad_norm %.12g, want the pre-clip %.12g\n", k, tr.grad_norm, norm);
            }
            if (P->step != step0 + 1) t->bad_stepcount++;
            c = e->clip > 0 && norm > e->clip ? e->clip / norm : 1.0;
            ht++;
            for (i = 0; i < ng; i++) {
                double gg = (double)g[i] * c, mh, vh, w, want, err;
                if (dix[i] < 0) continue;
                w = w0[dix[i]];
                hm[i] = e->b1 * hm[i] + (1 - e->b1) * gg;
                hv[i] = e->b2 * hv[i] + (1 - e->b2) * gg * gg;
                mh = hm[i] / (1 - pow(e->b1, ht));
                vh = hv[i] / (1 - pow(e->b2, ht));
                want = w - want_lr * (mh / (sqrt(vh) + 1e-8) + (decay[i] ? e->wd * w : 0.0));
                err = fabs((double)P->data[dix[i]] - want) / (tol_base + 2.5e-7 * fabs(w));
                if (err > t->worst) t->worst = err;
            }
            t->updates++;
        }
        due = pt_trainer_eval_due(&tr);
        want_due = (k + 1) % e->eval_every == 0 || k == e->steps - 1;
        if (due != want_due) t->bad_due++;
        t->eval_loss[k] = t->metric[k] = NAN;
        if (due && evals) {
            t->eval_loss[k] = 3.0f + 0.125f * (float)k;
            t->metric[k] = n_eval % 2 ? 0.5f * (float)k : NAN;
            t->evaluated[k] = 1;
            n_eval++;
            if (pt_trainer_evaluated(&tr, t->eval_loss[k], t->metric[k]) != PT_OK) t->bad_status++;
        }
        t->extra[k][0] = (float)k + 0.25f; t->extra[k][1] = -2.5f * (float)k;
        pt_trainer_log(&tr, extras ? t->extra[k] : NULL, extras ? 2 : 0);
        t->n++;
    }
    t->lr_after = tr.lr;
    pt_trainer_end(&tr, ctx, &t->res);
done:
    free(dix); free(decay); free(hm); free(hv); free(g); free(w0); free(m0); free(v0);
    pt_ctx_free(ctx);
}
/* the checks every hand run makes */
static void check_run(const char *what, const trace *t, const expect *e)
{
    CHECK(t->n == e->steps && t->res.steps_done == e->steps, "%s: ran %d steps, steps_done %d, want %d", what, t->n, t->res.steps_done, e->steps);
    CHECK(t->bad_status == 0, "%s: %d calls returned an error (%s)", what, t->bad_status, pt_last_error());
    CHECK(t->bad_lr == 0, "%s: %d steps whose lr is not warmup %d + cosine %g -> %g over %d steps", what, t->bad_lr, e->warmup, e->lr, e->min_lr, e->steps);
    CHECK(fabs(t->lr_after - e->min_lr) <= 1e-9 * e->lr, "%s: lr after the last step %.9g, want min_lr %.9g", what, t->lr_after, e->min_lr);
    CHECK(t->bad_due == 0, "%s: %d steps where eval_due differs from every %d steps + the last", what, t->bad_due, e->eval_every);
    CHECK(t->bad_norm == 0, "%s: %d steps whose grad_norm is not the pre-clip global norm", what, t->bad_norm);
    CHECK(t->bad_stepcount == 0, "%s: %d updates that did not advance the optimizer step by one", what, t->bad_stepcount);
    CHECK(t->updates > 0 && t->worst <= 1.0, "%s: weights differ from a hand AdamW (clip %g, beta1 %g, beta2 %g, wd %g): worst error %.3g x tolerance",
          what, e->clip, e->b1, e->b2, e->wd, t->worst);
}
/* the same model for every run: fresh from seed 7 */
static pt_model *fresh(void) { pt_config c = tiny_config(DIM); return pt_model_new(&c, 7); }

/* ---------------------------------------------------------------------------------------------
   1. Defaults and PT_ZERO
   --------------------------------------------------------------------------------------------- */
/* gradient scales that put the global norm well above and below 1, step to step */
static float g_scales[MAXS];
/* run_hand on a fresh model with the gradient scales above, then check_run */
static void hand_case(const char *what, const pt_train_config *cfg, const expect *e, trace *t)
{
    pt_model *m = fresh();
    run_hand(m, cfg, NULL, e, g_scales, NULL, 0, 0, t);
    check_run(what, t, e);
    pt_model_free(m);
}
static void test_defaults(void)
{
    trace *t = (trace *)malloc(sizeof(trace));
    pt_train_config cfg;
    expect e;
    int k;
    for (k = 0; k < MAXS; k++) g_scales[k] = k % 3 == 0 ? 20.0f : k % 3 == 1 ? 1.0f : 0.02f;
    /* (a) an all-zero config resolves as documented */
    {
        pt_model *m = fresh();
        pt_trainer tr;
        memset(&cfg, 0, sizeof cfg);
        CHECK(pt_trainer_begin(&tr, m, &cfg, NULL) == PT_OK, "begin: %s", pt_last_error());
        CHECK(tr.cfg.steps == 200 && fabsf(tr.cfg.lr - 1e-3f) == 0 && tr.cfg.min_lr == tr.cfg.lr / 10 && tr.cfg.warmup == 10 &&
              tr.cfg.grad_clip == 1.0f && tr.cfg.eval_every == 50 && tr.cfg.weight_decay == 0 && tr.cfg.name && strcmp(tr.cfg.name, "train") == 0,
              "zero config resolved to steps %d lr %g min_lr %g warmup %d clip %g eval_every %d", tr.cfg.steps, (double)tr.cfg.lr,
              (double)tr.cfg.min_lr, tr.cfg.warmup, (double)tr.cfg.grad_clip, tr.cfg.eval_every);
        CHECK(tr.step == 0 && fabs(tr.lr - sched(0, 10, 200, 1e-3, 1e-4)) < 1e-10 && pt_trainer_running(&tr), "first step %d lr %g", tr.step, (double)tr.lr);
        pt_trainer_end(&tr, NULL, NULL);
        CHECK(pt_trainer_begin(&tr, NULL, &cfg, NULL) == PT_ERR_ARG, "NULL model must be PT_ERR_ARG");
        CHECK(pt_trainer_begin(NULL, m, &cfg, NULL) == PT_ERR_ARG, "NULL trainer must be PT_ERR_ARG");
        pt_model_free(m);
    }
    /* (b) a NULL config is the all-zero config: 200 steps, evaluations at 50, 100, 150, 200 */
    {
        pt_model *m = fresh();
        pt_trainer tr;
        pt_ctx *ctx = pt_ctx_new(0);
        pt_train_result res;
        int n = 0, dues = 0, bad_lr = 0;
        char out[4096];
        const char *cap = tmp_path("stdout_null.txt");
        capture_begin(cap);   /* not quiet: the progress line goes to the file */
        CHECK(pt_trainer_begin(&tr, m, NULL, NULL) == PT_OK, "begin(NULL config): %s", pt_last_error());
        while (pt_trainer_running(&tr) && n < 1000) {
            if (fabs(tr.lr - sched(tr.step, 10, 200, 1e-3, 1e-4)) > 2e-9) bad_lr++;
            pt_trainer_step(&tr, ctx, make_loss(ctx, m, 1.0f, L_PLAIN), BB * BT);
            if (pt_trainer_eval_due(&tr)) dues += (tr.step + 1) % 50 == 0 ? 1 : 100;
            pt_trainer_log(&tr, NULL, 0);
            n++;
        }
        pt_trainer_end(&tr, ctx, &res);
        capture_end();
        CHECK(n == 200 && res.steps_done == 200, "NULL config: %d steps (want 200)", n);
        CHECK(dues == 4, "NULL config: evaluation due at the wrong steps (score %d, want 4: steps 50, 100, 150, 200)", dues);
        CHECK(bad_lr == 0, "NULL config: %d steps off the default schedule", bad_lr);
        CHECK(res.last_loss < res.first_loss && res.skipped == 0, "NULL config: loss %g -> %g", (double)res.first_loss, (double)res.last_loss);
        {
            long nb = read_into(cap, (unsigned char *)out, (long)sizeof out - 1);
            out[nb > 0 ? nb : 0] = 0;
            CHECK(nb > 0 && has(out, "train step") && has(out, "200/200") && out[nb - 1] == '\n',
                  "progress line with the default name 'train' and a final newline: '%.80s'", out);
        }
        pt_ctx_free(ctx);
        pt_model_free(m);
    }
    /* (c) defaults with 42 steps: warmup 42/20 = 2, min_lr lr/10, eval every 42/4 = 10 (steps 10,
       20, 30, 40 and the last, 42), clipping at 1.0 (pre-clip norm logged), beta1 0.9, no decay */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 42; cfg.quiet = 1;
        e.steps = 42; e.warmup = 2; e.eval_every = 10; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
        hand_case("defaults", &cfg, &e, t);
        {
            int above = 0, below = 0;
            for (k = 0; k < t->n; k++) { above += t->norm[k] > 1.0; below += t->norm[k] < 1.0; }
            CHECK(above >= 10 && below >= 10, "the gradient norms should straddle the clip (above %d, below %d)", above, below);
            CHECK(fabs(t->lr[0] - 0.5e-3) < 1e-12 && fabs(t->lr[1] - 1e-3) < 1e-12, "warmup 2: lr %g, %g", t->lr[0], t->lr[1]);
        }
        CHECK(t->res.skipped == 0 && t->res.first_loss == t->loss[0] && t->res.last_loss == t->loss[41],
              "first/last loss %g %g vs %g %g", (double)t->res.first_loss, (double)t->res.last_loss, (double)t->loss[0], (double)t->loss[41]);
    }
    /* (d) few steps: warmup 3/20 = 0 (no warmup: the peak at step 0), eval_every 3/4 = 0 -> every step */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 3; cfg.lr = 4e-3f; cfg.quiet = 1;
        e.steps = 3; e.warmup = 0; e.eval_every = 1; e.lr = 4e-3f; e.min_lr = (double)(4e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
        hand_case("3 steps", &cfg, &e, t);
    }
    /* (e) warmup PT_ZERO: no warmup, the first step at the peak */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 40; cfg.lr = 2e-3f; cfg.warmup = PT_ZERO; cfg.quiet = 1;
        e.steps = 40; e.warmup = 0; e.eval_every = 10; e.lr = 2e-3f; e.min_lr = (double)(2e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
        hand_case("warmup PT_ZERO", &cfg, &e, t);
    }
    /* (f) min_lr PT_ZERO: cosine to exactly 0; an explicit warmup and eval_every */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 20; cfg.lr = 2e-3f; cfg.min_lr = PT_ZERO; cfg.warmup = 5; cfg.eval_every = 3; cfg.quiet = 1;
        e.steps = 20; e.warmup = 5; e.eval_every = 3; e.lr = 2e-3f; e.min_lr = 0; e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
        hand_case("min_lr PT_ZERO", &cfg, &e, t);
        CHECK(t->lr_after == 0.0 && t->lr[19] < 2e-3 * 0.02, "min_lr PT_ZERO: last lr %g, after the end %g (want exactly 0)", t->lr[19], t->lr_after);
    }
    /* (g) an explicit min_lr and beta2 */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 12; cfg.lr = 3e-3f; cfg.min_lr = 1e-3f; cfg.beta2 = 0.99f; cfg.quiet = 1;
        e.steps = 12; e.warmup = 0; e.eval_every = 3; e.lr = 3e-3f; e.min_lr = 1e-3f; e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.99f; e.wd = 0;
        hand_case("min_lr 1e-3, beta2 0.99", &cfg, &e, t);
    }
    /* (h) grad_clip PT_ZERO, and any negative value: no clipping */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 12; cfg.grad_clip = PT_ZERO; cfg.quiet = 1;
        e.steps = 12; e.warmup = 0; e.eval_every = 3; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
        hand_case("grad_clip PT_ZERO", &cfg, &e, t);
        cfg.grad_clip = -3.0f;
        hand_case("grad_clip -3", &cfg, &e, t);
        /* an explicit bound */
        cfg.grad_clip = 0.5f;
        e.clip = 0.5;
        hand_case("grad_clip 0.5", &cfg, &e, t);
    }
    /* (i) beta1 PT_ZERO: AdamW without momentum; beta1 0.5 */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 12; cfg.beta1 = PT_ZERO; cfg.quiet = 1;
        e.steps = 12; e.warmup = 0; e.eval_every = 3; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 1.0; e.b1 = 0; e.b2 = 0.95; e.wd = 0;
        hand_case("beta1 PT_ZERO", &cfg, &e, t);
        cfg.beta1 = 0.5f;
        e.b1 = 0.5;
        hand_case("beta1 0.5", &cfg, &e, t);
    }
    /* (j) weight decay (decoupled, not on the norm weights); a negative one means none */
    {
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 12; cfg.weight_decay = 0.5f; cfg.quiet = 1;
        e.steps = 12; e.warmup = 0; e.eval_every = 3; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0.5;
        hand_case("weight_decay 0.5", &cfg, &e, t);
        cfg.weight_decay = -1.0f;
        e.wd = 0;
        hand_case("weight_decay -1", &cfg, &e, t);
    }
    free(t);
}

/* ---------------------------------------------------------------------------------------------
   2. The CSV
   --------------------------------------------------------------------------------------------- */
/* split a CSV line into up to max doubles (strtod reads "nan"); returns the field count */
static int csv_fields(const char *line, double *v, int max)
{
    int n = 0;
    const char *p = line;
    while (n < max) {
        char *end;
        v[n++] = strtod(p, &end);
        if (end == p) return -1;
        if (*end != ',') return *end == '\n' || *end == 0 ? n : -1;
        p = end + 1;
    }
    return -1;
}
static int same_or_nan(double got, double want, double tol)
{
    if (want != want) return got != got;
    return fabs(got - want) <= tol;
}
static void test_csv(void)
{
    static char lines[64][256];
    trace *t = (trace *)malloc(sizeof(trace));
    const char *csv = tmp_path("run.csv");
    pt_train_config cfg;
    expect e;
    int k, nl;
    /* extra columns, evaluations on every 4th step (eval loss, and a metric on every other one) */
    {
        pt_model *m = fresh();
        int bad_fields = 0, bad_step = 0, bad_loss = 0, bad_lr = 0, bad_norm = 0, bad_eval = 0, bad_extra = 0, n_eval_rows = 0;
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 12; cfg.eval_every = 4; cfg.quiet = 1; cfg.csv_path = csv;
        e.steps = 12; e.warmup = 0; e.eval_every = 4; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
        run_hand(m, &cfg, "margin,acc", &e, g_scales, NULL, 1, 1, t);
        check_run("CSV run", t, &e);
        nl = read_lines(csv, lines, 64);
        CHECK(nl == 13, "CSV has %d lines, want a header and 12 rows", nl);
        CHECK(nl > 0 && strcmp(lines[0], "step,loss,lr,grad_norm,eval_loss,metric,margin,acc\n") == 0, "CSV header '%s'", nl > 0 ? lines[0] : "");
        for (k = 0; k + 1 < nl && k < t->n; k++) {
            double v[10];
            int nf = csv_fields(lines[k + 1], v, 10);
            if (nf != 8) { bad_fields++; continue; }
            if (v[0] != k + 1) bad_step++;
            if (!same_or_nan(v[1], t->loss[k], 6e-6 + 1e-6 * fabs(t->loss[k]))) bad_loss++;
            if (fabs(v[2] - t->lr[k]) > 1e-5 * t->lr[k]) bad_lr++;
            if (fabs(v[3] - t->norm[k]) > 6e-5 + 1e-6 * t->norm[k]) bad_norm++;
            if (!same_or_nan(v[4], t->evaluated[k] ? t->eval_loss[k] : NAN, 6e-6) || !same_or_nan(v[5], t->evaluated[k] ? t->metric[k] : NAN, 6e-5))
                bad_eval++;
            n_eval_rows += v[4] == v[4];
            if (fabs(v[6] - t->extra[k][0]) > 1e-5 * fabs(t->extra[k][0]) || fabs(v[7] - t->extra[k][1]) > 1e-5 * fabs(t->extra[k][1]) + 1e-9)
                bad_extra++;
        }
        CHECK(bad_fields == 0, "%d CSV rows without 6 + 2 fields", bad_fields);
        CHECK(bad_step == 0, "%d CSV rows with a wrong step number", bad_step);
        CHECK(bad_loss == 0, "%d CSV rows whose loss is not the step's loss", bad_loss);
        CHECK(bad_lr == 0, "%d CSV rows whose lr is not the schedule's", bad_lr);
        CHECK(bad_norm == 0, "%d CSV rows whose grad_norm is not the pre-clip norm", bad_norm);
        CHECK(bad_eval == 0 && n_eval_rows == 3, "%d CSV rows with wrong eval columns (NaN except on evaluated steps 4, 8, 12); %d eval rows",
              bad_eval, n_eval_rows);
        CHECK(bad_extra == 0, "%d CSV rows with wrong extra values", bad_extra);
        pt_model_free(m);
    }
    /* no extra columns (NULL or ""): six fields, no trailing comma */
    {
        const char *cols[2] = {NULL, ""};
        int j;
        for (j = 0; j < 2; j++) {
            pt_model *m = fresh();
            int bad = 0;
            memset(&cfg, 0, sizeof cfg);
            cfg.steps = 3; cfg.quiet = 1; cfg.csv_path = csv;
            e.steps = 3; e.warmup = 0; e.eval_every = 1; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
            run_hand(m, &cfg, cols[j], &e, NULL, NULL, 0, 0, t);
            nl = read_lines(csv, lines, 64);
            CHECK(nl == 4 && strcmp(lines[0], "step,loss,lr,grad_norm,eval_loss,metric\n") == 0, "extra columns %s: %d lines, header '%s'",
                  cols[j] ? "\"\"" : "NULL", nl, nl > 0 ? lines[0] : "");
            for (k = 1; k < nl; k++) {
                double v[10];
                if (csv_fields(lines[k], v, 10) != 6 || v[4] == v[4] || v[5] == v[5]) bad++;   /* nothing evaluated: NaN */
            }
            CHECK(bad == 0, "extra columns %s: %d rows without exactly 6 fields and NaN eval columns", cols[j] ? "\"\"" : "NULL", bad);
            pt_model_free(m);
        }
    }
    /* an unwritable path: PT_ERR_IO from begin, naming the path */
    {
        pt_model *m = fresh();
        pt_trainer tr;
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 3; cfg.quiet = 1; cfg.csv_path = "/nonexistent_dir_pt_trainer/x.csv";
        CHECK(pt_trainer_begin(&tr, m, &cfg, NULL) == PT_ERR_IO && has(pt_last_error(), "/nonexistent_dir_pt_trainer/x.csv"),
              "unwritable CSV: want PT_ERR_IO naming the path, got '%s'", pt_last_error());
        cfg.csv_path = g_dir;   /* a directory */
        CHECK(pt_trainer_begin(&tr, m, &cfg, NULL) == PT_ERR_IO, "a directory as the CSV path must be PT_ERR_IO");
        pt_model_free(m);
    }
    free(t);
}

/* ---------------------------------------------------------------------------------------------
   3. Non-finite losses and gradients
   --------------------------------------------------------------------------------------------- */
static void test_nonfinite(void)
{
    static char lines[64][256];
    trace *t = (trace *)malloc(sizeof(trace));
    const char *csv = tmp_path("skip.csv");
    pt_model *m = fresh();
    pt_train_config cfg;
    expect e;
    int kinds[12] = {L_NAN, L_PLAIN, L_PLAIN, L_PLAIN, L_NAN, L_PLAIN, L_INFGRAD, L_PLAIN, L_PLAIN, L_INF, L_PLAIN, L_NAN};
    int k, nl, bad_row = 0, skipped_rows = 0;
    /* the overflow term sits on a small embedding weight of byte 'q' */
    g_bigc = (float *)calloc((size_t)PT_BYTE_VOCAB * DIM, sizeof(float));
    g_bigc['q' * DIM + 3] = 2e38f;
    CHECK(fabsf(m->tok_embeddings->data['q' * DIM + 3]) < 0.1f, "the weight under the overflow term is small");
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = 12; cfg.eval_every = 2; cfg.quiet = 1; cfg.csv_path = csv;
    /* skipped steps must leave the optimizer step alone: the hand AdamW counts only updates */
    e.steps = 12; e.warmup = 0; e.eval_every = 2; e.lr = 1e-3; e.min_lr = (double)(1e-3f / 10); e.clip = 1.0; e.b1 = 0.9; e.b2 = 0.95; e.wd = 0;
    run_hand(m, &cfg, NULL, &e, g_scales, kinds, 1, 0, t);
    check_run("non-finite run", t, &e);
    for (k = 0; k < 12; k++) skipped_rows += t->skipped[k];
    CHECK(skipped_rows == 5 && t->skipped[0] && t->skipped[4] && t->skipped[6] && t->skipped[9] && t->skipped[11],
          "the planted non-finite steps are 0, 4, 6 (gradient), 9, 11 (%d seen)", skipped_rows);
    CHECK(isfinite(t->loss[6]) && !isfinite(t->norm[6]), "step 6: finite loss %g with an infinite gradient norm %g", (double)t->loss[6], t->norm[6]);
    CHECK(t->bad_skip == 0, "%d skipped steps changed the weights, the AdamW moments, the step counter or left gradients", t->bad_skip);
    CHECK(t->res.skipped == 5, "res.skipped %d, want 5", t->res.skipped);
    CHECK(t->res.first_loss == t->loss[1] && t->res.last_loss == t->loss[10],
          "first/last loss %g %g: want the first and last finite steps' %g %g", (double)t->res.first_loss, (double)t->res.last_loss,
          (double)t->loss[1], (double)t->loss[10]);
    nl = read_lines(csv, lines, 64);
    CHECK(nl == 13, "CSV has %d lines, want a header and 12 rows (skipped steps keep their rows)", nl);
    for (k = 1; k < nl; k++) {
        double v[10];
        int nf = csv_fields(lines[k], v, 10), sk = t->skipped[k - 1];
        if (nf != 6 || v[0] != k || (sk ? v[1] == v[1] : !same_or_nan(v[1], t->loss[k - 1], 6e-6 + 1e-6 * fabs(t->loss[k - 1])))) bad_row++;
        if (nf == 6 && k % 2 == 0 && v[4] != v[4]) bad_row++;   /* evaluations on even steps happen, skipped or not */
    }
    CHECK(bad_row == 0, "%d CSV rows wrong: skipped steps must log loss nan, the others their loss; evaluations kept", bad_row);
    /* a run whose every step is non-finite: nothing trained */
    {
        pt_model *m2 = fresh(), *ref = fresh();
        int all[4] = {L_NAN, L_INF, L_INFGRAD, L_NAN};
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 4; cfg.quiet = 1;
        e.steps = 4; e.eval_every = 1; e.min_lr = (double)(1e-3f / 10);
        run_hand(m2, &cfg, NULL, &e, NULL, all, 0, 0, t);
        CHECK(t->res.skipped == 4 && t->res.steps_done == 4 && t->bad_skip == 0 && params_equal(m2->params, ref->params) && m2->params->step == 0,
              "all steps non-finite: skipped %d steps_done %d, weights %s", t->res.skipped, t->res.steps_done,
              params_equal(m2->params, ref->params) ? "unchanged" : "CHANGED");
        pt_model_free(m2); pt_model_free(ref);
    }
    free(g_bigc); g_bigc = NULL;
    pt_model_free(m);
    free(t);
}

/* ---------------------------------------------------------------------------------------------
   4. The best checkpoint
   --------------------------------------------------------------------------------------------- */
/* Everything a best checkpoint may hold, copied at one moment. */
typedef struct snap { float *base, *lora, *head; int64_t nb, nl, nh; } snap;
static void snap_take(snap *s, const pt_model *m)
{
    free(s->base); free(s->lora); free(s->head);
    memset(s, 0, sizeof *s);
    s->nb = m->params->n_data; s->base = copy_floats(m->params->data, s->nb);
    if (m->lora) { s->nl = m->lora->params->n_data; s->lora = copy_floats(m->lora->params->data, s->nl); }
    if (m->head) {   /* w then b (the flat buffer pads each tensor) */
        s->nh = DIM + 1; s->head = copy_floats(m->head->w->data, DIM + 1);
        s->head[DIM] = m->head->b->data[0];
    }
}
static void snap_free(snap *s) { free(s->base); free(s->lora); free(s->head); memset(s, 0, sizeof *s); }
static int head_equals(const pt_model *m, const snap *s)
{
    return m->head && s->head && m->head->w->size == DIM && m->head->b->size == 1 && floats_equal(m->head->w->data, s->head, DIM) &&
           m->head->b->data[0] == s->head[DIM];
}
/* What best_path must hold now, given the snapshot of the best moment (by the model's kind):
   1 if the files match it. */
static int best_matches(const pt_model *m, const char *best, const snap *s)
{
    char hp[200];
    int ok = 1;
    snprintf(hp, sizeof hp, "%s.head", best);
    if (!m->lora) {   /* a native checkpoint, with the head inside when the model has one */
        pt_model *b = pt_model_load(best);
        ok = b && b->params->n_data == s->nb && floats_equal(b->params->data, s->base, s->nb);
        if (ok) ok = m->head ? head_equals(b, s) : b->head == NULL;
        pt_model_free(b);
        return ok && !file_exists(hp);
    } else {          /* a LoRA file (and PATH.head) loaded into a fresh model */
        pt_config c = tiny_config(DIM);
        pt_model *f = pt_model_new(&c, 99);
        unsigned char magic[4] = {0, 0, 0, 0};
        int sl;
        ok = read_into(best, magic, 4) == 4 && memcmp(magic, "PTLA", 4) == 0 && pt_lora_load(f, best) == PT_OK && f->lora &&
             f->lora->params->n_data == s->nl;
        for (sl = 0; ok && sl < c.n_layers * 7; sl++) {
            const pt_tensor *a = m->lora->a[sl], *bb = m->lora->b[sl];
            if (!a != !f->lora->a[sl]) { ok = 0; break; }
            if (!a) continue;
            ok = floats_equal(f->lora->a[sl]->data, s->lora + (a->data - m->lora->params->data), a->size) &&
                 floats_equal(f->lora->b[sl]->data, s->lora + (bb->data - m->lora->params->data), bb->size);
        }
        if (ok && m->head) ok = pt_model_head_load(f, hp) == PT_OK && head_equals(f, s);
        if (ok && !m->head) ok = !file_exists(hp);
        pt_model_free(f);
        return ok;
    }
}
/* Train `steps` steps with an evaluation every 2; evaluation j reports eval loss losses[j] and
   metric metrics[j] (NaN = not measured). After every evaluation the best file(s) must hold the
   model of the last improvement (by metric if given, else by loss), and best_step follow. */
static void run_best(const char *what, pt_model *m, const char *best, int steps, const float *losses, const float *metrics,
                     int want_best_step, int want_saves)
{
    pt_trainer tr;
    pt_train_config cfg;
    pt_ctx *ctx = pt_ctx_new(0);
    pt_train_result res;
    snap now, prev, keep;
    int j = 0, bad_file = 0, bad_best_step = 0, saves = 0, changed = 0, best_step = -1;
    double best_metric = -INFINITY, best_loss = INFINITY;
    memset(&now, 0, sizeof now); memset(&prev, 0, sizeof prev); memset(&keep, 0, sizeof keep);
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = steps; cfg.lr = 1e-2f; cfg.warmup = PT_ZERO; cfg.eval_every = 2; cfg.quiet = 1; cfg.best_path = best;
    remove(best);
    CHECK(pt_trainer_begin(&tr, m, &cfg, NULL) == PT_OK, "%s: begin: %s", what, pt_last_error());
    while (pt_trainer_running(&tr)) {
        pt_trainer_step(&tr, ctx, make_loss(ctx, m, 1.0f, L_PLAIN), BB * BT);
        if (pt_trainer_eval_due(&tr)) {
            float l = losses[j], mt = metrics[j];
            int better = mt == mt ? mt > best_metric : (l == l && l < best_loss);
            snap_take(&now, m);
            if (prev.base) changed += !floats_equal(prev.base, now.base, now.nb) || (now.lora && !floats_equal(prev.lora, now.lora, now.nl)) ||
                                      (now.head && !floats_equal(prev.head, now.head, now.nh));
            snap_take(&prev, m);
            if (mt == mt && mt > best_metric) best_metric = mt;
            if (l == l && l < best_loss) best_loss = l;
            if (better) { snap_take(&keep, m); best_step = tr.step + 1; saves++; }
            CHECK(pt_trainer_evaluated(&tr, l, mt) == PT_OK, "%s: evaluated: %s", what, pt_last_error());
            if (keep.base ? !best_matches(m, best, &keep) : file_exists(best)) bad_file++;
            if (tr.res.best_step != best_step) bad_best_step++;
            j++;
        }
        pt_trainer_log(&tr, NULL, 0);
    }
    pt_trainer_end(&tr, ctx, &res);
    CHECK(changed == j - 1, "%s: the model must change between evaluations (else the file checks have no teeth): %d of %d", what, changed, j - 1);
    CHECK(saves == want_saves && best_step == want_best_step, "%s: test plan: %d improvements (want %d), best step %d (want %d)", what, saves,
          want_saves, best_step, want_best_step);
    CHECK(bad_file == 0, "%s: after %d of %d evaluations best_path did not hold the model of the last improvement (written when not better, or not when better)",
          what, bad_file, j);
    CHECK(bad_best_step == 0 && res.best_step == want_best_step, "%s: best_step %d (want %d; %d evaluations off)", what, res.best_step, want_best_step,
          bad_best_step);
    /* (with a metric, which eval loss best_eval_loss reports is not documented: not checked) */
    if (best_metric > -INFINITY) CHECK(res.best_metric == (float)best_metric, "%s: best_metric %g, want %g", what, (double)res.best_metric, best_metric);
    else if (best_loss < INFINITY) CHECK(res.best_eval_loss == (float)best_loss, "%s: best_eval_loss %g, want %g", what, (double)res.best_eval_loss, best_loss);
    else CHECK(!isfinite(res.best_eval_loss), "%s: no eval loss given, best_eval_loss %g", what, (double)res.best_eval_loss);
    snap_free(&now); snap_free(&prev); snap_free(&keep);
    pt_ctx_free(ctx);
}
static void test_best(void)
{
    const char *best = tmp_path("best.ckpt");
    char hp[200], mp[200];
    /* losses fall at every evaluation, the metric does not: the metric decides (improves at
       evaluations 0, 1, 3; the tie at 4 is not an improvement) */
    static const float loss_fall[5] = {5, 4, 3, 2, 1}, metric_mixed[5] = {0.2f, 0.5f, 0.4f, 0.7f, 0.7f};
    /* no metric: the loss decides (improves at 0, 1, 3; 2.7 is worse and the tie at 4 is not better) */
    static const float loss_mixed[5] = {3.0f, 2.5f, 2.7f, 1.0f, 1.0f}, metric_none[5] = {NAN, NAN, NAN, NAN, NAN};
    snprintf(hp, sizeof hp, "%s.head", best); tmp_path("best.ckpt.head");
    snprintf(mp, sizeof mp, "%s.model", best); tmp_path("best.ckpt.model");
    {
        pt_model *m = fresh();
        run_best("metric", m, best, 10, loss_fall, metric_mixed, 8, 3);
        pt_model_free(m);
        m = fresh();
        run_best("eval loss", m, best, 10, loss_mixed, metric_none, 8, 3);
        pt_model_free(m);
        m = fresh();
        run_best("nothing measured", m, best, 6, metric_none, metric_none, -1, 0);
        CHECK(!file_exists(best), "nothing measured: no best file");
        pt_model_free(m);
    }
    /* a model with a head and no adapters: a native checkpoint that pt_model_load returns with its head */
    {
        pt_model *m = fresh();
        pt_model_head_attach(m, 3);
        run_best("head, native", m, best, 10, loss_mixed, metric_none, 8, 3);
        pt_model_free(m);
    }
    /* LoRA: the adapter file at best_path, nothing else */
    {
        pt_model *m = fresh();
        pt_lora_config lc;
        memset(&lc, 0, sizeof lc);
        lc.rank = 2; lc.seed = 5;
        CHECK(pt_lora_attach(m, &lc) == PT_OK, "lora attach: %s", pt_last_error());
        run_best("LoRA", m, best, 10, loss_fall, metric_mixed, 8, 3);
        CHECK(pt_model_load(best) == NULL && !file_exists(hp) && !file_exists(mp), "LoRA best: not a full checkpoint, no .head, no .model");
        pt_model_free(m);
    }
    /* LoRA + a scalar head: the adapter at best_path and the head at PATH.head */
    {
        pt_model *m = fresh();
        pt_lora_config lc;
        memset(&lc, 0, sizeof lc);
        lc.rank = 2; lc.seed = 5;
        pt_lora_attach(m, &lc);
        pt_model_head_attach(m, 4);
        run_best("LoRA + head", m, best, 10, loss_mixed, metric_none, 8, 3);
        CHECK(file_exists(hp) && !file_exists(mp), "LoRA + head: PATH.head written, no PATH.model");
        pt_model_free(m);
    }
    /* an unwritable best_path: the evaluation that improves reports the error */
    {
        pt_model *m = fresh();
        pt_trainer tr;
        pt_train_config cfg;
        pt_ctx *ctx = pt_ctx_new(0);
        memset(&cfg, 0, sizeof cfg);
        cfg.steps = 2; cfg.quiet = 1; cfg.best_path = "/nonexistent_dir_pt_trainer/best.ckpt";
        pt_trainer_begin(&tr, m, &cfg, NULL);
        pt_trainer_step(&tr, ctx, make_loss(ctx, m, 1.0f, L_PLAIN), 1);
        CHECK(pt_trainer_evaluated(&tr, 2.0f, NAN) == PT_ERR_IO, "unwritable best_path: want PT_ERR_IO (%s)", pt_last_error());
        pt_trainer_end(&tr, ctx, NULL);
        pt_ctx_free(ctx);
        pt_model_free(m);
    }
    remove(best); remove(hp); remove(mp);
}

/* ---------------------------------------------------------------------------------------------
   5. pt_sft_train through the loop
   --------------------------------------------------------------------------------------------- */
static void test_sft(void)
{
    pt_config c = tiny_config(DIM);
    pt_world_config wc;
    pt_example train[64], eval[8];
    pt_sft_config cfg;
    pt_sft_result r1, r2, r3;
    pt_model *m1 = pt_model_new(&c, 3), *m2 = pt_model_new(&c, 3), *m3 = pt_model_new(&c, 3);
    int64_t np = n_params_of(&c), lora_np;
    float *head0;
    int i, st;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 1;
    for (i = 0; i < 64; i++) pt_world_sft_example(&wc, PT_WORLD_TRAIN, 7, i, &train[i]);
    for (i = 0; i < 8; i++) pt_world_sft_example(&wc, PT_WORLD_VALID, 0, i, &eval[i]);
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = 30; cfg.batch_rows = 4; cfg.lr = 3e-3f; cfg.quiet = 1; cfg.seed = 1;
    CHECK(m1->params->n_data == np, "parameter count %lld, counted from the config %lld", (long long)m1->params->n_data, (long long)np);
    st = pt_sft_train(m1, train, 64, eval, 8, &cfg, &r1);
    CHECK(st == PT_OK, "sft: %s", pt_last_error());
    CHECK(r1.steps_done == 30 && r1.skipped == 0, "sft: steps_done %d skipped %d", r1.steps_done, r1.skipped);
    CHECK(r1.first_loss > 4.5f && r1.first_loss < 7.0f, "sft: first loss %g (about ln 272 = 5.6)", (double)r1.first_loss);
    CHECK(r1.last_loss < r1.first_loss - 0.5f, "sft: loss %g -> %g should fall by more than 0.5 (measured 5.60 -> 4.43)", (double)r1.first_loss,
          (double)r1.last_loss);
    CHECK(isfinite(r1.best_eval_loss) && r1.best_eval_loss < r1.first_loss && r1.best_step > 0, "sft: best eval loss %g at step %d",
          (double)r1.best_eval_loss, r1.best_step);
    CHECK(r1.seconds > 0 && r1.tokens_per_s > 0, "sft: seconds %g tok/s %g", r1.seconds, r1.tokens_per_s);
    printf("  SFT 30 steps: loss %.3f -> %.3f, best eval loss %.3f at step %d; memory %zu + %zu + %zu bytes\n", (double)r1.first_loss,
           (double)r1.last_loss, (double)r1.best_eval_loss, r1.best_step, r1.weight_bytes, r1.state_bytes, r1.activation_bytes);
    CHECK(r1.weight_bytes == (size_t)np * 4 && r1.state_bytes == (size_t)np * 12 && r1.activation_bytes > 0,
          "sft memory: weights %zu (want %lld), state %zu (want %lld), activations %zu", r1.weight_bytes, (long long)np * 4, r1.state_bytes,
          (long long)np * 12, r1.activation_bytes);
    /* the same run with a scalar head: the head is counted (weights + grad/m/v), and since it is
       not in the SFT loss its gradient is zero: the base trains bit for bit as before, the head
       stays as it was */
    pt_model_head_attach(m2, 11);
    head0 = copy_floats(m2->head->params->data, m2->head->params->n_data);
    st = pt_sft_train(m2, train, 64, eval, 8, &cfg, &r2);
    CHECK(st == PT_OK, "sft with head: %s", pt_last_error());
    /* memory is "measured from what was allocated": the head's dim + 1 floats as its flat buffers
       hold them (each tensor padded to a multiple of 16 floats, 64 bytes: w 16, b 1 -> 16) */
    {
        size_t hf = (size_t)m2->head->params->n_data, want = 16 + 16;
        CHECK(hf == want && pt_params_count(m2->head->params, 0) == DIM + 1, "head buffer: %zu floats for %lld parameters (want %zu)", hf,
              (long long)pt_params_count(m2->head->params, 0), want);
        CHECK(r2.weight_bytes == r1.weight_bytes + 4 * want, "head: weight_bytes %zu vs %zu without, want + %zu (the head's allocated floats; %d bytes of parameters)",
              r2.weight_bytes, r1.weight_bytes, 4 * want, 4 * (DIM + 1));
        CHECK(r2.state_bytes == r1.state_bytes + 12 * want, "head: state_bytes %zu vs %zu without, want + %zu (grad, m, v of the head's floats)",
              r2.state_bytes, r1.state_bytes, 12 * want);
    }
    CHECK(params_equal(m1->params, m2->params) && r2.last_loss == r1.last_loss, "head: the base did not train as without a head");
    CHECK(floats_equal(head0, m2->head->params->data, m2->head->params->n_data), "head: a head outside the loss changed");
    free(head0);
    /* LoRA rank 2 on wq [16, 16] and wv [8, 16]: A [2, in] and B [out, 2] each */
    {
        pt_lora_config lc;
        memset(&lc, 0, sizeof lc);
        lc.rank = 2;
        pt_lora_attach(m3, &lc);
        lora_np = 2 * 16 + 16 * 2 + 2 * 16 + 8 * 2;
        st = pt_sft_train(m3, train, 64, eval, 8, &cfg, &r3);
        CHECK(st == PT_OK && r3.steps_done == 30, "sft with LoRA: status %d, %d steps", st, r3.steps_done);
        CHECK(r3.weight_bytes == (size_t)(np + lora_np) * 4 && r3.state_bytes == (size_t)lora_np * 12,
              "LoRA memory: weights %zu (want %lld), state %zu (want %lld)", r3.weight_bytes, (long long)(np + lora_np) * 4, r3.state_bytes,
              (long long)lora_np * 12);
    }
    pt_examples_free(train, 64);
    pt_examples_free(eval, 8);
    pt_model_free(m1); pt_model_free(m2); pt_model_free(m3);
}

/* ---------------------------------------------------------------------------------------------
   6. Checkpoints and head files with scalar heads
   --------------------------------------------------------------------------------------------- */
/* one more trainer step (lr 1e-2, no warmup) */
/* pt_trainer_baseline: the starting model is a candidate (best_step 0, saved), later evaluations
   must beat it, and it is refused once training has begun. */
static void test_baseline(void)
{
    const char *best = tmp_path("baseline.ckpt");
    pt_model *m = fresh(), *saved;
    pt_trainer tr;
    pt_train_config cfg;
    pt_train_result res;
    pt_ctx *ctx = pt_ctx_new(0);
    float w0;
    memset(&cfg, 0, sizeof cfg);
    cfg.steps = 3;
    cfg.lr = 1e-2f;
    cfg.quiet = 1;
    cfg.best_path = best;
    remove(best);
    if (!m || !ctx) return;
    w0 = m->params->data[0];
    CHECK(pt_trainer_begin(&tr, m, &cfg, NULL) == PT_OK, "begin: %s", pt_last_error());
    CHECK(pt_trainer_baseline(&tr, 2.0f, 0.5f) == PT_OK && tr.res.best_step == 0 && tr.res.best_metric == 0.5f,
          "baseline: best step %d metric %g", tr.res.best_step, tr.res.best_metric);
    saved = pt_model_load(best);
    CHECK(saved && saved->params->data[0] == w0, "the starting model was saved as the best");
    pt_model_free(saved);
    while (pt_trainer_running(&tr)) {
        CHECK(pt_trainer_step(&tr, ctx, make_loss(ctx, m, 1.0f, L_PLAIN), BB * BT) == PT_OK, "step");
        if (tr.step == 0) CHECK(pt_trainer_evaluated(&tr, 1.0f, 0.4f) == PT_OK, "eval 1");
        if (tr.step == 1) CHECK(pt_trainer_baseline(&tr, 1.0f, 0.9f) == PT_ERR_ARG, "baseline after a step: refused");
        pt_trainer_log(&tr, NULL, 0);
    }
    pt_trainer_end(&tr, ctx, &res);
    CHECK(res.best_step == 0 && res.best_metric == 0.5f, "a worse evaluation keeps step 0: best step %d", res.best_step);
    saved = pt_model_load(best);
    CHECK(saved && saved->params->data[0] == w0 && m->params->data[0] != w0,
          "the best file still holds the starting weights after training moved them");
    pt_model_free(saved);
    pt_model_free(m);
    pt_ctx_free(ctx);
}
static void one_step(pt_model *m) { train_plain(m, 1, 1e-2f); }
static int opt_equal(const pt_params *a, const pt_params *b)
{
    return a->n_grad == b->n_grad && a->step == b->step && floats_equal(a->adam_m, b->adam_m, a->n_grad) && floats_equal(a->adam_v, b->adam_v, a->n_grad);
}
static void test_head_checkpoints(void)
{
    pt_config c = tiny_config(DIM);
    const char *p_opt = tmp_path("head_opt.ckpt"), *p_noopt = tmp_path("head_noopt.ckpt"), *p_nohead = tmp_path("nohead.ckpt");
    const char *hp = tmp_path("h.head"), *bad = tmp_path("bad.head"), *hand = tmp_path("hand.head");
    pt_model *m = pt_model_new(&c, 5), *r, *r2;
    unsigned char buf[512], mine[512];
    long n;
    size_t hn = 4 + 4 + 4 + 4 * (DIM + 1) + 8;
    int i;
    pt_model_head_attach(m, 6);
    train_plain(m, 3, 1e-2f);   /* moments and a trained head */
    CHECK(m->head->params->step == 3 && m->params->step == 3, "3 steps: base step %lld head step %lld", (long long)m->params->step,
          (long long)m->head->params->step);
    /* (a) with the optimizer: everything back, and training continues identically */
    CHECK(pt_model_save(m, p_opt, 1) == PT_OK, "save: %s", pt_last_error());
    CHECK(pt_model_save(m, p_noopt, 0) == PT_OK, "save without optimizer: %s", pt_last_error());
    r = pt_model_load(p_opt);
    CHECK(r && r->head, "load with head: %s", pt_last_error());
    if (r && r->head) {
        CHECK(params_equal(r->params, m->params) && params_equal(r->head->params, m->head->params), "loaded weights or head differ");
        CHECK(opt_equal(r->params, m->params) && opt_equal(r->head->params, m->head->params), "loaded optimizer state (moments, step) differs");
        CHECK(pt_params_count(r->head->params, 1) == DIM + 1, "the loaded head is trainable (%lld trainable)", (long long)pt_params_count(r->head->params, 1));
        one_step(r);
    }
    r2 = pt_model_load(p_noopt);
    CHECK(r2 && r2->head && params_equal(r2->head->params, m->head->params), "load without optimizer: head %s", r2 && r2->head ? "differs" : "missing");
    one_step(m);
    if (r2 && r2->head) one_step(r2);
    CHECK(r && r->head && params_equal(r->params, m->params) && params_equal(r->head->params, m->head->params),
          "one more step after a load with the optimizer: weights differ from the original's");
    /* the check above has teeth: without the moments the next step differs */
    CHECK(r2 && r2->head && !params_equal(r2->head->params, m->head->params), "one more step without moments should differ");
    pt_model_free(r); pt_model_free(r2);
    /* (b) pt_model_load_into refuses a file whose head presence differs, changing nothing */
    {
        pt_model *nh = pt_model_new(&c, 8);
        float *w;
        int st;
        CHECK(pt_model_save(nh, p_nohead, 1) == PT_OK, "save without head");
        train_plain(nh, 1, 1e-2f);
        w = copy_floats(nh->params->data, nh->params->n_data);
        {
            float *mm = copy_floats(nh->params->adam_m, nh->params->n_grad);
            int64_t step = nh->params->step;
            st = pt_model_load_into(nh, p_opt);
            CHECK(st == PT_ERR_FORMAT && has(pt_last_error(), p_opt), "head file into a model without a head: %d '%s'", st, pt_last_error());
            CHECK(nh->head == NULL && floats_equal(w, nh->params->data, nh->params->n_data) && floats_equal(mm, nh->params->adam_m, nh->params->n_grad) &&
                  nh->params->step == step, "the refused load changed the model");
            free(mm);
        }
        /* a model with a head, from a file without one */
        {
            pt_model *wh = pt_model_new(&c, 5);
            float *hw, *bw;
            int64_t step;
            pt_model_head_attach(wh, 9);
            train_plain(wh, 2, 1e-2f);
            hw = copy_floats(wh->head->params->data, wh->head->params->n_data);
            bw = copy_floats(wh->params->data, wh->params->n_data);
            step = wh->params->step;
            st = pt_model_load_into(wh, p_nohead);
            CHECK(st == PT_ERR_FORMAT && has(pt_last_error(), p_nohead), "headless file into a model with a head: %d '%s'", st, pt_last_error());
            CHECK(wh->head && floats_equal(hw, wh->head->params->data, wh->head->params->n_data) && floats_equal(bw, wh->params->data, wh->params->n_data) &&
                  wh->params->step == step, "the refused load changed the model or its head");
            /* and a file with a head loads into it: the positive control */
            st = pt_model_load_into(wh, p_opt);
            r = pt_model_load(p_opt);
            CHECK(st == PT_OK && r && params_equal(wh->params, r->params) && params_equal(wh->head->params, r->head->params) &&
                  opt_equal(wh->head->params, r->head->params), "head file into a model with a head: %s", pt_last_error());
            pt_model_free(r);
            free(hw); free(bw);
            pt_model_free(wh);
        }
        free(w);
        pt_model_free(nh);
    }
    /* (c) head files: the documented bytes, a round trip, a file written by hand */
    CHECK(pt_model_head_save(m, hp) == PT_OK, "head save: %s", pt_last_error());
    memcpy(mine, "PTHD", 4); put_u32(mine + 4, 1); put_u32(mine + 8, DIM);
    for (i = 0; i < DIM; i++) put_f32(mine + 12 + 4 * i, m->head->w->data[i]);
    put_f32(mine + 12 + 4 * DIM, m->head->b->data[0]);
    fix_checksum(mine, hn);
    n = read_into(hp, buf, (long)sizeof buf);
    CHECK(n == (long)hn && memcmp(buf, mine, hn) == 0, "head file: %ld bytes, want the documented %zu bytes", n, hn);
    {
        pt_model *f = pt_model_new(&c, 1);
        CHECK(pt_model_head_load(f, hp) == PT_OK && f->head && params_equal(f->head->params, m->head->params), "head round trip: %s", pt_last_error());
        CHECK(f->head && pt_params_count(f->head->params, 1) == DIM + 1, "a loaded head is trainable");
        pt_model_head_attach(f, 77);   /* replace, then load over it */
        CHECK(pt_model_head_load(f, hp) == PT_OK && params_equal(f->head->params, m->head->params), "head load over another head");
        /* a file written here: w_i = i / 4, b = -3 */
        for (i = 0; i < DIM; i++) put_f32(mine + 12 + 4 * i, (float)i / 4);
        put_f32(mine + 12 + 4 * DIM, -3.0f);
        fix_checksum(mine, hn);
        write_bytes(hand, mine, hn);
        CHECK(pt_model_head_load(f, hand) == PT_OK, "hand-written head file: %s", pt_last_error());
        {
            int okv = f->head && f->head->b->data[0] == -3.0f;
            for (i = 0; okv && i < DIM; i++) okv = f->head->w->data[i] == (float)i / 4;
            CHECK(okv, "hand-written head file: values not read back as written");
        }
        pt_model_free(f);
    }
    /* (d) bad head files: PT_ERR_FORMAT naming the path, the model's head unchanged */
    {
        pt_model *f = pt_model_new(&c, 2);
        pt_config c32 = tiny_config(32);
        pt_model *big = pt_model_new(&c32, 2);
        float *h0, *h32;
        int st, k;
        pt_head *hptr;
        pt_model_head_attach(f, 12);
        pt_model_head_attach(big, 13);
        h0 = copy_floats(f->head->params->data, f->head->params->n_data);
        h32 = copy_floats(big->head->params->data, big->head->params->n_data);
        hptr = f->head;
        /* wrong dim: a dim-16 head into a dim-32 model */
        st = pt_model_head_load(big, hp);
        CHECK(st == PT_ERR_FORMAT && has(pt_last_error(), hp), "wrong dim: %d '%s'", st, pt_last_error());
        CHECK(big->head && floats_equal(h32, big->head->params->data, big->head->params->n_data), "wrong dim: the existing head changed");
        n = read_into(hp, buf, (long)sizeof buf);
        for (k = 0; k < 7; k++) {
            const char *what = "";
            size_t len = (size_t)n;
            memcpy(mine, buf, (size_t)n);
            switch (k) {
            case 0: what = "bad magic"; mine[1] = 'X'; break;
            case 1: what = "truncated by 4 bytes"; len -= 4; break;
            case 2: what = "truncated to 10 bytes"; len = 10; break;
            case 3: what = "a flipped byte in w"; mine[12 + 5] ^= 0x10; break;
            case 4: what = "a flipped byte in the checksum"; mine[len - 1] ^= 0x01; break;
            case 5: what = "version 2 (valid checksum)"; put_u32(mine + 4, 2); fix_checksum(mine, len); break;
            case 6: what = "one float too many (valid checksum)";
                memcpy(mine + len - 8, mine + len - 12, 4); len += 4; fix_checksum(mine, len); break;
            }
            write_bytes(bad, mine, len);
            st = pt_model_head_load(f, bad);
            CHECK(st == PT_ERR_FORMAT && has(pt_last_error(), bad), "%s: want PT_ERR_FORMAT naming the path, got %d '%s'", what, st, pt_last_error());
            CHECK(f->head == hptr && floats_equal(h0, f->head->params->data, f->head->params->n_data), "%s: the existing head changed", what);
        }
        st = pt_model_head_load(f, tmp_path("missing.head"));
        CHECK(st == PT_ERR_IO && has(pt_last_error(), "missing.head") && f->head == hptr && floats_equal(h0, f->head->params->data, f->head->params->n_data),
              "missing head file: %d '%s'", st, pt_last_error());
        /* a model without a head stays without one after a failed load */
        pt_model_head_detach(f);
        CHECK(pt_model_head_load(f, bad) == PT_ERR_FORMAT && f->head == NULL, "failed load into a headless model attached something");
        CHECK(pt_model_head_save(f, bad) == PT_ERR_ARG, "saving the head of a headless model must be PT_ERR_ARG");
        free(h0); free(h32);
        pt_model_free(f); pt_model_free(big);
    }
    /* (e) exact resume when the head joined later: a base trained alone (its AdamW step is 3), then
       a head attached (its step starts at 0) and both trained; save with the optimizer, load, one
       more step on both: the same weights (each parameter set's bias correction must continue from
       its own step count) */
    {
        pt_model *b = pt_model_new(&c, 5), *l;
        train_plain(b, 3, 1e-2f);
        pt_model_head_attach(b, 6);
        train_plain(b, 1, 1e-2f);
        CHECK(pt_model_save(b, p_opt, 1) == PT_OK, "save: %s", pt_last_error());
        l = pt_model_load(p_opt);
        CHECK(l && l->head, "load: %s", pt_last_error());
        if (l && l->head) {
            CHECK(l->head->params->step == b->head->params->step && l->params->step == b->params->step,
                  "resume after a later head: loaded steps base %lld head %lld, the model had base %lld head %lld", (long long)l->params->step,
                  (long long)l->head->params->step, (long long)b->params->step, (long long)b->head->params->step);
            one_step(b); one_step(l);
            CHECK(params_equal(l->params, b->params) && params_equal(l->head->params, b->head->params),
                  "resume after a later head: the next step differs (base %s, head %s)", params_equal(l->params, b->params) ? "same" : "differs",
                  params_equal(l->head->params, b->head->params) ? "same" : "differs");
        }
        pt_model_free(l); pt_model_free(b);
    }
    pt_model_free(m);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_trainer")) return 1;
    batch_init();
    RUN("defaults, PT_ZERO, schedule and AdamW by hand", test_defaults);
    RUN("CSV", test_csv);
    RUN("non-finite losses and gradients", test_nonfinite);
    RUN("best checkpoint", test_best);
    RUN("the starting model as a candidate", test_baseline);
    RUN("pt_sft_train through the loop", test_sft);
    RUN("checkpoints and head files with scalar heads", test_head_checkpoints);
    return finish_tmp("test_trainer", t0);
}
