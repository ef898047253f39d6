/* test_rl: section 13 (policy optimisation). Every expected value is computed here, by hand in a
   comment or by a brute-force loop in double precision, never by the function under test:
     - pt_kl_tokens: k1, k2, k3 on hand values, the mask, k3 >= 0, and k1 / k3 as unbiased
       estimators of KL(p || q) from 200000 draws of a known categorical distribution;
     - pt_gae against the double sum A_t = sum_l (gamma lambda)^l delta_{t+l} over each row's valid
       positions (padding before, after and inside a row, an empty row), Monte Carlo returns at
       gamma = lambda = 1, zeros off the mask, bad gamma / lambda refused;
     - pt_whiten (unbiased std, untouched unmasked entries, shift_mean 0);
     - pt_group_advantages (per-group and batch std, unbiased, eps 1e-4; Dr. GRPO's none), equal
       rewards -> exactly 0, a near-zero-variance group stays bounded by |r - mean| / 1e-4;
     - pt_rloo_advantages (leave-one-out = G/(G-1) (r - mean));
     - pt_ppo_rewards (score on the last valid token, not on the padding after it; -kl_coef k1);
     - pt_kl_control_update (clipped proportional controller, target <= 0 fixed);
     - pt_clipped_surrogate: values and gradients inside / outside the clip for both signs of A with
       eps_high != eps_low, zero gradient exactly where the clip binds, rho = 1 -> REINFORCE;
     - pt_kl_penalty: K1, K2, K3 values and analytic gradients, central differences, a bad kind;
     - pt_value_loss with and without clipping (zero gradient where the clipped branch wins);
     - pt_aggregate_loss: the three modes by hand, the length bias of SEQ_MEAN, and gradient
       accumulation over micro-batches with the whole batch's denominator (and without: differs);
     - rollouts on a tiny random model: refused configurations, completion masks and stop tokens,
       truncation flags, decoded completions, sampling vs scoring temperature, a reference clone's
       log-probs, pt_rollout_logprobs equal bit for bit to a taped forward;
     - pt_grpo_train: refused configurations, a NaN reward (reported, group left out), constant
       rewards (dynamic sampling keeps nothing; zero advantages leave the weights unchanged). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include "test_tmp.h"
#include <string.h>

/* ---------------------------------------------------------------------------------------------
   Small helpers
   --------------------------------------------------------------------------------------------- */
/* The gradient of sum(f(x)) w.r.t. x for a per-element op built by fn, into grad[n]; the forward
   values into val[n]. Returns 0 on failure (and a failed check). */
typedef pt_tensor *(*elem_fn)(pt_ctx *ctx, pt_tensor *x, void *user);
static int value_and_grad(elem_fn fn, void *user, const float *x, int n, float *val, float *grad)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int shape[1];
    pt_tensor *leaf, *out;
    int ok = 0;
    shape[0] = n;
    leaf = pt_tensor_leaf(ctx, 1, shape, x);
    out = leaf ? fn(ctx, leaf, user) : NULL;
    if (out && out->size == n) {
        memcpy(val, out->data, (size_t)n * sizeof(float));
        if (pt_backward(ctx, pt_sum(ctx, out)) == PT_OK) {
            if (leaf->grad) memcpy(grad, leaf->grad, (size_t)n * sizeof(float));
            else memset(grad, 0, (size_t)n * sizeof(float));
            ok = 1;
        }
    }
    CHECK(ok, "forward/backward failed: %s", pt_last_error());
    pt_ctx_free(ctx);
    return ok;
}

/* ---------------------------------------------------------------------------------------------
   1. KL estimators
   --------------------------------------------------------------------------------------------- */
static void test_kl_tokens(void)
{
    /* d = ref - logp.
       i0: logp -1, ref -2: d = -1: k1 = 1, k2 = 0.5, k3 = e^-1 + 1 - 1 = 0.36787944
       i1: logp -2, ref -1: d = +1: k1 = -1, k2 = 0.5, k3 = e - 1 - 1 = 0.71828183
       i2: logp -0.5, ref -0.5: d = 0: all 0
       i3: logp -3, ref -0.5: d = 2.5: k1 = -2.5, k2 = 3.125, k3 = e^2.5 - 3.5 = 8.68249396
       (a wrong sign, d = logp - ref, would swap the k3 of i0 and i1) */
    static const float lp[4] = {-1.0f, -2.0f, -0.5f, -3.0f}, ref[4] = {-2.0f, -1.0f, -0.5f, -0.5f};
    static const double k1[4] = {1.0, -1.0, 0.0, -2.5}, k2[4] = {0.5, 0.5, 0.0, 3.125},
                        k3[4] = {0.36787944117144233, 0.71828182845904524, 0.0, 8.6824939607034732};
    static const float mask[4] = {1, 0, 1, 1};
    float out[4];
    int i, kind;
    for (kind = PT_KL_K1; kind <= PT_KL_K3; kind++) {
        const double *want = kind == PT_KL_K1 ? k1 : kind == PT_KL_K2 ? k2 : k3;
        pt_kl_tokens(lp, ref, NULL, 4, kind, out);
        for (i = 0; i < 4; i++) CHECK(fabs(out[i] - want[i]) <= 1e-6 * (1 + fabs(want[i])), "k%d[%d] = %.8g, want %.8g", kind, i, out[i], want[i]);
        for (i = 0; i < 4; i++) out[i] = 99.0f;
        pt_kl_tokens(lp, ref, mask, 4, kind, out);
        CHECK(out[1] == 0.0f, "k%d: masked entry %g, want 0", kind, out[1]);
        CHECK(fabs(out[3] - want[3]) <= 1e-6 * (1 + fabs(want[3])), "k%d: unmasked entry with a mask", kind);
    }
    {   /* k3 >= 0 on random differences, including large ones */
        pt_rng rng;
        float a[1000], b[1000], o[1000];
        int neg = 0;
        pt_rng_seed(&rng, 5);
        for (i = 0; i < 1000; i++) { a[i] = -6.0f * pt_rng_uniform(&rng); b[i] = -6.0f * pt_rng_uniform(&rng); }
        pt_kl_tokens(a, b, NULL, 1000, PT_KL_K3, o);
        for (i = 0; i < 1000; i++) neg += !(o[i] >= 0.0f);
        CHECK(neg == 0, "k3 negative (or NaN) on %d of 1000 random pairs", neg);
    }
    {   /* unbiasedness: x ~ p, logp = log p(x), ref = log q(x); the mean of k1 and of k3 -> KL(p||q).
           p = {.4,.3,.2,.1}, q = {.1,.2,.3,.4}: KL = .4 ln 4 + .3 ln 1.5 + .2 ln(2/3) + .1 ln(1/4) = 0.4564;
           k2's mean is a different number (E[d^2]/2 = 0.5 * sum p ln^2(q/p)), so it must not match */
        static const double p[4] = {0.4, 0.3, 0.2, 0.1}, q[4] = {0.1, 0.2, 0.3, 0.4};
        enum { N = 200000 };
        float *a = (float *)malloc(N * sizeof(float)), *b = (float *)malloc(N * sizeof(float)), *o = (float *)malloc(N * sizeof(float));
        double kl = 0, half_sq = 0, m1 = 0, m2 = 0, m3 = 0;
        pt_rng rng;
        int j;
        for (j = 0; j < 4; j++) { kl += p[j] * log(p[j] / q[j]); half_sq += p[j] * 0.5 * log(q[j] / p[j]) * log(q[j] / p[j]); }
        pt_rng_seed(&rng, 42);
        for (i = 0; i < N; i++) {
            double u = pt_rng_uniform(&rng), c = 0;
            for (j = 0; j < 3; j++) { c += p[j]; if (u < c) break; }
            a[i] = (float)log(p[j]);
            b[i] = (float)log(q[j]);
        }
        pt_kl_tokens(a, b, NULL, N, PT_KL_K1, o); for (i = 0; i < N; i++) m1 += o[i];
        pt_kl_tokens(a, b, NULL, N, PT_KL_K2, o); for (i = 0; i < N; i++) m2 += o[i];
        pt_kl_tokens(a, b, NULL, N, PT_KL_K3, o); for (i = 0; i < N; i++) m3 += o[i];
        m1 /= N; m2 /= N; m3 /= N;
        CHECK_NEAR(kl, 0.45643, 1e-4, "hand KL(p||q)");
        CHECK_NEAR(m1, kl, 0.01, "mean k1 over 200000 draws vs KL");
        CHECK_NEAR(m3, kl, 0.01, "mean k3 over 200000 draws vs KL");
        CHECK_NEAR(m2, half_sq, 0.01, "mean k2 is E[d^2]/2");
        CHECK(fabs(m2 - kl) > 0.05, "k2 (%g) is biased, not KL (%g): the check can tell estimators apart", m2, kl);
        free(a); free(b); free(o);
    }
}

/* ---------------------------------------------------------------------------------------------
   2. GAE
   --------------------------------------------------------------------------------------------- */
/* brute force over the valid positions of one row: delta_k = r_k + gamma V_{k+1} - V_k (V after the
   last valid position = 0), A_k = sum_{l >= 0} (gamma lambda)^l delta_{k+l} */
static void gae_brute(const float *r, const float *v, const float *m, int T, double gamma, double lambda, double *adv, double *ret)
{
    int idx[64], n = 0, k, l, t;
    double delta[64];
    for (t = 0; t < T; t++) { adv[t] = ret[t] = 0; if (m[t] != 0.0f) idx[n++] = t; }
    for (k = 0; k < n; k++) {
        double vnext = k + 1 < n ? v[idx[k + 1]] : 0.0;
        delta[k] = r[idx[k]] + gamma * vnext - v[idx[k]];
    }
    for (k = 0; k < n; k++) {
        double a = 0, w = 1;
        for (l = k; l < n; l++) { a += w * delta[l]; w *= gamma * lambda; }
        adv[idx[k]] = a;
        ret[idx[k]] = a + v[idx[k]];
    }
}
static void test_gae(void)
{
    enum { B = 3, T = 8 };
    /* row 0: padding before and after; row 1: no valid token; row 2: a gap inside */
    static const float mask[B * T] = {0, 0, 1, 1, 1, 1, 0, 0,
                                      0, 0, 0, 0, 0, 0, 0, 0,
                                      1, 1, 0, 1, 1, 1, 0, 1};
    float r[B * T], v[B * T], adv[B * T], ret[B * T];
    double ea[T], er[T];
    pt_rng rng;
    int i, t, s, bad_val, bad_pad;
    static const float gl[3][2] = {{0.99f, 0.95f}, {0.9f, 0.0f}, {1.0f, 1.0f}};
    pt_rng_seed(&rng, 7);
    for (i = 0; i < B * T; i++) { r[i] = pt_rng_normal(&rng); v[i] = pt_rng_normal(&rng); }
    for (s = 0; s < 3; s++) {
        for (i = 0; i < B * T; i++) adv[i] = ret[i] = 777.0f;
        CHECK(pt_gae(r, v, mask, B, T, gl[s][0], gl[s][1], adv, ret) == PT_OK, "pt_gae: %s", pt_last_error());
        bad_val = bad_pad = 0;
        for (i = 0; i < B; i++) {
            gae_brute(r + i * T, v + i * T, mask + i * T, T, gl[s][0], gl[s][1], ea, er);
            for (t = 0; t < T; t++) {
                int at = i * T + t;
                if (mask[at] == 0.0f) { bad_pad += adv[at] != 0.0f || ret[at] != 0.0f; continue; }
                bad_val += fabs(adv[at] - ea[t]) > 1e-5 * (1 + fabs(ea[t])) || fabs(ret[at] - er[t]) > 1e-5 * (1 + fabs(er[t]));
            }
        }
        CHECK(bad_val == 0, "gamma %g lambda %g: %d advantages/returns differ from the double sum", gl[s][0], gl[s][1], bad_val);
        CHECK(bad_pad == 0, "gamma %g lambda %g: %d invalid positions are not 0", gl[s][0], gl[s][1], bad_pad);
        if (s == 2) {   /* Monte Carlo: returns = the sum of this and all later rewards of the row */
            int bad_mc = 0;
            for (i = 0; i < B; i++)
                for (t = 0; t < T; t++) {
                    double sum = 0;
                    int u;
                    if (mask[i * T + t] == 0.0f) continue;
                    for (u = t; u < T; u++) if (mask[i * T + u] != 0.0f) sum += r[i * T + u];
                    bad_mc += fabs(ret[i * T + t] - sum) > 1e-5 * (1 + fabs(sum));
                }
            CHECK(bad_mc == 0, "gamma = lambda = 1: %d returns are not the Monte Carlo sums of future rewards", bad_mc);
        }
    }
    /* hand case: one row [1 valid 1 valid 1], r = {1, 0, 2}, V = {0.5, 1, -1}, gamma .5, lambda .5:
       delta = {1 + .5*1 - .5, 0 + .5*(-1) - 1, 2 + 0 + 1} = {1, -1.5, 3}
       A_2 = 3, A_1 = -1.5 + .25*3 = -0.75, A_0 = 1 + .25*(-0.75) = 0.8125; R = A + V = {1.3125, .25, 2}.
       (using V of the padding position next to a token would give other numbers) */
    {
        static const float m1[5] = {1, 0, 1, 0, 1}, r1[5] = {1, 5, 0, 5, 2}, v1[5] = {0.5f, 9, 1, 9, -1};
        float a1[5], rr1[5];
        CHECK(pt_gae(r1, v1, m1, 1, 5, 0.5f, 0.5f, a1, rr1) == PT_OK, "pt_gae hand case");
        CHECK(a1[0] == 0.8125f && a1[2] == -0.75f && a1[4] == 3.0f && a1[1] == 0.0f && a1[3] == 0.0f,
              "hand GAE advantages %g %g %g", a1[0], a1[2], a1[4]);
        CHECK(rr1[0] == 1.3125f && rr1[2] == 0.25f && rr1[4] == 2.0f, "hand GAE returns %g %g %g", rr1[0], rr1[2], rr1[4]);
    }
    /* bad gamma / lambda: an error status, not a crash */
    CHECK(pt_gae(r, v, mask, B, T, 1.5f, 0.95f, adv, ret) == PT_ERR_ARG, "gamma 1.5 refused");
    CHECK(pt_gae(r, v, mask, B, T, -0.1f, 0.95f, adv, ret) == PT_ERR_ARG, "gamma -0.1 refused");
    CHECK(pt_gae(r, v, mask, B, T, NAN, 0.95f, adv, ret) == PT_ERR_ARG, "gamma NaN refused");
    CHECK(pt_gae(r, v, mask, B, T, 0.99f, 2.0f, adv, ret) == PT_ERR_ARG, "lambda 2 refused");
    CHECK(pt_gae(r, v, NULL, B, T, 0.99f, 0.95f, adv, ret) == PT_ERR_ARG, "NULL mask refused");
    CHECK(pt_gae(r, v, mask, -1, T, 0.99f, 0.95f, adv, ret) == PT_ERR_ARG, "negative B refused");
}

/* ---------------------------------------------------------------------------------------------
   3. Whitening
   --------------------------------------------------------------------------------------------- */
static void test_whiten(void)
{
    enum { N = 12 };
    static const float mask[N] = {1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0};
    float x0[N], x[N];
    pt_rng rng;
    int i, s, untouched;
    double mean0 = 0, cnt = 0, mean, sq, std_unb, std_b;
    pt_rng_seed(&rng, 11);
    for (i = 0; i < N; i++) x0[i] = 3.0f + 2.0f * pt_rng_normal(&rng);
    for (i = 0; i < N; i++) if (mask[i] != 0.0f) { mean0 += x0[i]; cnt++; }
    mean0 /= cnt;
    for (s = 1; s >= 0; s--) {   /* shift_mean 1 then 0 */
        memcpy(x, x0, sizeof x);
        pt_whiten(x, mask, N, s);
        mean = sq = 0;
        untouched = 1;
        for (i = 0; i < N; i++) {
            if (mask[i] != 0.0f) mean += x[i];
            else untouched &= memcmp(&x[i], &x0[i], sizeof(float)) == 0;
        }
        mean /= cnt;
        for (i = 0; i < N; i++) if (mask[i] != 0.0f) sq += (x[i] - mean) * (x[i] - mean);
        std_unb = sqrt(sq / (cnt - 1));
        std_b = sqrt(sq / cnt);
        CHECK_NEAR(mean, s ? 0.0 : mean0, 1e-5, s ? "whitened mean is 0" : "shift_mean 0 keeps the mean");
        CHECK_NEAR(std_unb, 1.0, 1e-5, "unbiased std of the whitened entries is 1");
        CHECK(fabs(std_b - 1.0) > 0.05, "biased std %g differs from 1 (7 entries): the check can tell them apart", std_b);
        CHECK(untouched, "unmasked entries are left bit for bit");
    }
    {   /* mask NULL: every entry */
        for (i = 0; i < N; i++) x[i] = (float)i;   /* mean 5.5, unbiased var = 13 */
        pt_whiten(x, NULL, N, 1);
        CHECK_NEAR(x[0], -5.5 / sqrt(13.0), 1e-5, "mask NULL: (0 - 5.5) / sqrt(13)");
        CHECK_NEAR(x[11], 5.5 / sqrt(13.0), 1e-5, "mask NULL: (11 - 5.5) / sqrt(13)");
    }
}

/* ---------------------------------------------------------------------------------------------
   4-5. Group and leave-one-out advantages
   --------------------------------------------------------------------------------------------- */
static void test_group_advantages(void)
{
    /* group 0 {1,0,0,0}: mean .25, unbiased var (.5625 + 3 * .0625) / 3 = .25, std .5:
         A = {.75, -.25, -.25, -.25} / .5001 = {1.4997000600, -0.4999000200 x3}
         (the biased std .4330 would give 1.7317)
       group 1 {2,4,6,8}: mean 5, unbiased var 20/3, std 2.5819889: A = {-3,-1,1,3} / 2.5820889 */
    static const float r[8] = {1, 0, 0, 0, 2, 4, 6, 8};
    float a[8];
    double s1 = sqrt(20.0 / 3.0), bm = 0, bs = 0;
    int i;
    pt_group_advantages(r, 2, 4, PT_ADV_STD_GROUP, a);
    CHECK_NEAR(a[0], 0.75 / 0.5001, 1e-6, "group std: A[0]");
    CHECK_NEAR(a[1], -0.25 / 0.5001, 1e-6, "group std: A[1]");
    CHECK_NEAR(a[3], -0.25 / 0.5001, 1e-6, "group std: A[3]");
    CHECK_NEAR(a[4], -3.0 / (s1 + 1e-4), 1e-6, "group std: A[4]");
    CHECK_NEAR(a[6], 1.0 / (s1 + 1e-4), 1e-6, "group std: A[6]");
    CHECK_NEAR(a[7], 3.0 / (s1 + 1e-4), 1e-6, "group std: A[7]");
    CHECK(fabs(a[0] - 0.75 / sqrt(0.1875)) > 0.1, "unbiased, not biased std");
    /* batch std: the mean stays per group, the std is the unbiased std of all 8 rewards */
    for (i = 0; i < 8; i++) bm += r[i];
    bm /= 8;
    for (i = 0; i < 8; i++) bs += (r[i] - bm) * (r[i] - bm);
    bs = sqrt(bs / 7);
    pt_group_advantages(r, 2, 4, PT_ADV_STD_BATCH, a);
    CHECK_NEAR(a[0], 0.75 / (bs + 1e-4), 1e-6, "batch std: A[0]");
    CHECK_NEAR(a[4], -3.0 / (bs + 1e-4), 1e-6, "batch std: A[4]");
    CHECK_NEAR(a[7], 3.0 / (bs + 1e-4), 1e-6, "batch std: A[7]");
    CHECK(fabs(a[0] - 0.75 / 0.5001) > 0.5, "batch std differs from group std");
    /* none (Dr. GRPO): r - mean */
    pt_group_advantages(r, 2, 4, PT_ADV_STD_NONE, a);
    CHECK(a[0] == 0.75f && a[1] == -0.25f && a[4] == -3.0f && a[5] == -1.0f && a[6] == 1.0f && a[7] == 3.0f,
          "std none: r - mean (%g %g %g %g)", a[0], a[1], a[4], a[7]);
    {   /* all-equal groups give exactly 0 in every mode (G = 3 and 5 too, a value that is not a
           power of two), no NaN even when the whole batch is constant */
        static const float eq[8] = {0.3f, 0.3f, 0.3f, 0.3f, 1, 0, 0, 0}, all[6] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
        float b[8];
        int mode, zero;
        for (mode = PT_ADV_STD_GROUP; mode <= PT_ADV_STD_NONE; mode++) {
            pt_group_advantages(eq, 2, 4, mode, b);
            CHECK(b[0] == 0.0f && b[1] == 0.0f && b[2] == 0.0f && b[3] == 0.0f, "mode %d: equal group -> 0 (%g)", mode, b[0]);
            CHECK(isfinite(b[4]) && b[4] > 0, "mode %d: the other group is normal", mode);
            pt_group_advantages(all, 2, 3, mode, b);
            zero = 1;
            for (i = 0; i < 6; i++) zero &= b[i] == 0.0f;
            CHECK(zero, "mode %d: a constant batch of 2 groups of 3 gives 0, no NaN", mode);
            pt_group_advantages(all, 1, 5, mode, b);
            zero = 1;
            for (i = 0; i < 5; i++) zero &= b[i] == 0.0f;
            CHECK(zero, "mode %d: G = 5 constant gives 0", mode);
        }
    }
    {   /* The pitfall: a near-constant group (one reward one ulp higher). Dividing by its std alone
           (~3e-8) would turn float noise into full-scale advantages (|A| = 1.5); with eps 1e-4 each
           |A_i| <= |r_i - mean| / 1e-4 ~ 4.5e-4. */
        float near[4], b[4];
        double m = 0;
        near[0] = near[1] = near[2] = 0.5f;
        near[3] = nextafterf(0.5f, 1.0f);
        for (i = 0; i < 4; i++) m += near[i];
        m /= 4;
        pt_group_advantages(near, 1, 4, PT_ADV_STD_GROUP, b);
        for (i = 0; i < 4; i++)
            CHECK(isfinite(b[i]) && fabs(b[i]) <= fabs(near[i] - m) / 1e-4 * (1 + 1e-5) && fabs(b[i]) < 1e-3,
                  "near-constant group: |A[%d]| = %g is bounded by |r - mean| / 1e-4 = %g", i, b[i], fabs(near[i] - m) / 1e-4);
        CHECK(b[3] > 0 && b[0] < 0, "near-constant group: the signs are kept");
    }
}
static void test_rloo(void)
{
    /* {1,0,0,0}: A0 = 1 - 0 = 1, Ai = 0 - 1/3; {2,4,6,8}: 2 - 18/3 = -4, 4 - 16/3 = -4/3, 6 - 14/3 = 4/3,
       8 - 12/3 = 4 (r - mean would give -3, -1, 1, 3) */
    static const float r[8] = {1, 0, 0, 0, 2, 4, 6, 8};
    static const double want[8] = {1, -1.0 / 3, -1.0 / 3, -1.0 / 3, -4, -4.0 / 3, 4.0 / 3, 4};
    float a[8], rr[15];
    pt_rng rng;
    int i, g, bad = 0;
    pt_rloo_advantages(r, 2, 4, a);
    for (i = 0; i < 8; i++) CHECK_NEAR(a[i], want[i], 1e-6, "RLOO hand value");
    pt_rng_seed(&rng, 3);
    for (i = 0; i < 15; i++) rr[i] = pt_rng_normal(&rng);
    {
        float b[15];
        pt_rloo_advantages(rr, 3, 5, b);
        for (g = 0; g < 3; g++) {
            double m = 0;
            for (i = 0; i < 5; i++) m += rr[g * 5 + i];
            m /= 5;
            for (i = 0; i < 5; i++) bad += fabs(b[g * 5 + i] - 5.0 / 4.0 * (rr[g * 5 + i] - m)) > 1e-5;
        }
        CHECK(bad == 0, "RLOO = G/(G-1) (r - mean): %d of 15 differ", bad);
        pt_rloo_advantages(rr, 3, 1, b);
        CHECK(b[0] == 0.0f && b[1] == 0.0f && b[2] == 0.0f, "G = 1 gives 0");
    }
}

/* ---------------------------------------------------------------------------------------------
   6-7. PPO rewards and the KL controller
   --------------------------------------------------------------------------------------------- */
static void test_ppo_rewards(void)
{
    enum { B = 3, T = 6 };
    /* row 0: prompt, 3 completion tokens (the last, t = 3, is the stop token), padding from t = 4;
       row 1: all valid (truncated: the score goes on t = 5); row 2: no valid token (score dropped) */
    static const float mask[B * T] = {0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    static const float scores[B] = {2.0f, -1.0f, 5.0f};
    float lp[B * T], ref[B * T], rw[B * T];
    const float kl = 0.1f;
    pt_rng rng;
    int i, t, bad = 0;
    pt_rng_seed(&rng, 9);
    for (i = 0; i < B * T; i++) { lp[i] = -3.0f * pt_rng_uniform(&rng); ref[i] = -3.0f * pt_rng_uniform(&rng); rw[i] = 55.0f; }
    pt_ppo_rewards(scores, lp, ref, mask, B, T, kl, rw);
    for (i = 0; i < B; i++)
        for (t = 0; t < T; t++) {
            int at = i * T + t;
            double want = mask[at] != 0.0f ? -(double)kl * ((double)lp[at] - ref[at]) : 0.0;
            if ((i == 0 && t == 3) || (i == 1 && t == 5)) want += scores[i];
            bad += fabs(rw[at] - want) > 1e-6;
        }
    CHECK(bad == 0, "PPO per-token rewards: %d entries differ", bad);
    CHECK(rw[4] == 0.0f && rw[5] == 0.0f, "nothing on the padding after the stop token (t = 4: %g)", rw[4]);
    CHECK(fabs(rw[3] - (2.0 - 0.1 * ((double)lp[3] - ref[3]))) < 1e-6, "the score lands on the stop token");
    for (t = 0; t < T; t++) CHECK(rw[2 * T + t] == 0.0f, "empty row: 0 at %d", t);
}
static void test_kl_control(void)
{
    pt_kl_control c;
    /* kl = 2 target: error 1 clipped to 0.2: coef 0.1 * (1 + 0.2 * 256 / 10000) = 0.100512 */
    c.coef = 0.1f; c.target = 6.0f; c.horizon = 10000.0f;
    pt_kl_control_update(&c, 12.0f, 256);
    CHECK_NEAR(c.coef, 0.100512, 1e-7, "kl = 2 target");
    /* kl = 1.1 target: error 0.1 (not clipped): 0.1 * (1 + 0.1 * 256 / 10000) = 0.100256 */
    c.coef = 0.1f;
    pt_kl_control_update(&c, 6.6f, 256);
    CHECK_NEAR(c.coef, 0.100256, 1e-7, "kl = 1.1 target");
    /* kl = 0: error -1 clipped to -0.2: 0.1 * (1 - 0.00512) = 0.099488 */
    c.coef = 0.1f;
    pt_kl_control_update(&c, 0.0f, 256);
    CHECK_NEAR(c.coef, 0.099488, 1e-7, "kl = 0");
    /* a short horizon: error 0.2, n/horizon = 2: 0.1 * 1.4 */
    c.coef = 0.1f; c.horizon = 100.0f;
    pt_kl_control_update(&c, 60.0f, 200);
    CHECK_NEAR(c.coef, 0.14, 1e-7, "horizon 100, 200 steps");
    /* target <= 0: fixed */
    c.coef = 0.1f; c.target = 0.0f;
    pt_kl_control_update(&c, 12.0f, 256);
    CHECK(c.coef == 0.1f, "target 0 keeps coef (%g)", c.coef);
    c.target = -1.0f;
    pt_kl_control_update(&c, 0.0f, 256);
    CHECK(c.coef == 0.1f, "target < 0 keeps coef (%g)", c.coef);
}

/* ---------------------------------------------------------------------------------------------
   8. Clipped surrogate
   --------------------------------------------------------------------------------------------- */
typedef struct { const float *old, *adv; float el, eh; } surr_args;
static pt_tensor *surr_fn(pt_ctx *ctx, pt_tensor *x, void *user)
{
    const surr_args *a = (const surr_args *)user;
    return pt_clipped_surrogate(ctx, x, a->old, a->adv, a->el, a->eh);
}
static void test_surrogate(void)
{
    enum { N = 9 };
    /* eps_low 0.2, eps_high 0.28: the clip range [0.8, 1.28]. (rho, A) -> l = -min(rho A, clip(rho) A), dl/dlp:
       0 (1.1, 2)   inside                 l = -2.2   g = -2.2
       1 (1.5, 2)   A > 0, rho > 1.28: binds  l = -2.56  g = 0
       2 (1.25, 1)  inside thanks to eps_high (eps 0.2 would bind)  l = -1.25  g = -1.25
       3 (0.5, 1)   A > 0, rho < 0.8: the unclipped term is the min  l = -0.5  g = -0.5
       4 (0.5, -1)  A < 0, rho < 0.8: binds  l = 0.8  g = 0
       5 (1.5, -1)  A < 0, rho > 1.28: unclipped is the min  l = 1.5  g = 1.5
       6 (0.9, -3)  inside                 l = 2.7    g = 2.7
       7 (0.75, -1) A < 0, rho < 0.8: binds (with eps_low 0.28 it would not)  l = 0.8  g = 0
       8 (1, 0.7)   rho = 1 exactly        l = -0.7   g = -0.7 */
    static const double rho[N] = {1.1, 1.5, 1.25, 0.5, 0.5, 1.5, 0.9, 0.75, 1.0};
    static const float adv[N] = {2, 2, 1, 1, -1, -1, -3, -1, 0.7f};
    static const int binds[N] = {0, 1, 0, 0, 1, 0, 0, 1, 0};
    float old[N], lp[N], val[N], grad[N];
    surr_args sa;
    int i;
    for (i = 0; i < N; i++) {
        old[i] = -1.0f - 0.3f * (float)i;
        lp[i] = i == 8 ? old[i] : (float)(old[i] + log(rho[i]));
    }
    sa.old = old; sa.adv = adv; sa.el = 0.2f; sa.eh = 0.28f;
    if (value_and_grad(surr_fn, &sa, lp, N, val, grad)) {
        for (i = 0; i < N; i++) {
            double r = exp((double)lp[i] - old[i]);   /* the float logp's actual ratio */
            double cl = r < 0.8 ? 0.8 : r > 1.28 ? 1.28 : r;
            double u = r * adv[i], c = cl * adv[i], want = -(u < c ? u : c);
            double gwant = binds[i] ? 0.0 : -(double)adv[i] * r;
            CHECK(fabs(val[i] - want) < 1e-5, "surrogate[%d] = %.7g, want %.7g", i, val[i], want);
            if (binds[i]) CHECK(grad[i] == 0.0f, "surrogate[%d]: the clip binds, gradient %g must be exactly 0", i, grad[i]);
            else CHECK(fabs(grad[i] - gwant) < 1e-5, "surrogate[%d]: gradient %.7g, want -A rho = %.7g", i, grad[i], gwant);
        }
        CHECK(grad[8] == -0.7f && val[8] == -0.7f, "rho = 1 exactly: l = -A, gradient -A (%g)", grad[8]);
    }
    /* the first-update pitfall: logp == old everywhere -> rho = 1, no clip binds even with a tiny
       eps, and the gradient is exactly -A (REINFORCE), whatever eps */
    {
        enum { M = 64 };
        float o[M], a[M], v[M], g[M];
        pt_rng rng;
        int bad = 0;
        pt_rng_seed(&rng, 17);
        for (i = 0; i < M; i++) { o[i] = -5.0f * pt_rng_uniform(&rng); a[i] = 2.0f * pt_rng_normal(&rng); }
        sa.old = o; sa.adv = a; sa.el = 0.01f; sa.eh = 0.01f;
        if (value_and_grad(surr_fn, &sa, o, M, v, g))
            for (i = 0; i < M; i++) bad += g[i] != -a[i] || v[i] != -a[i];
        CHECK(bad == 0, "rho = 1: %d of %d tokens not REINFORCE (-A) exactly", bad, M);
    }
    {   /* bad eps: NULL and an error */
        pt_ctx *ctx = pt_ctx_new(0);
        int shape[1] = {N};
        pt_tensor *x = pt_tensor_leaf(ctx, 1, shape, lp);
        CHECK(pt_clipped_surrogate(ctx, x, old, adv, 1.0f, 0.2f) == NULL && pt_last_status() == PT_ERR_ARG, "eps_low 1 refused");
        CHECK(pt_clipped_surrogate(ctx, x, old, adv, -0.1f, 0.2f) == NULL && pt_last_status() == PT_ERR_ARG, "eps_low < 0 refused");
        CHECK(pt_clipped_surrogate(ctx, x, NULL, adv, 0.2f, 0.2f) == NULL && pt_last_status() == PT_ERR_ARG, "NULL old refused");
        pt_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------------------------------------
   9. KL penalty on the tape
   --------------------------------------------------------------------------------------------- */
static const float KL_LP[5] = {-1.0f, -2.0f, -0.5f, -3.0f, -0.2f}, KL_REF[5] = {-2.0f, -1.0f, -0.5f, -0.5f, -1.7f};
typedef struct { int kind; } kl_args;
static pt_tensor *kl_fn(pt_ctx *ctx, pt_tensor *x, void *user) { return pt_kl_penalty(ctx, x, KL_REF, ((const kl_args *)user)->kind); }
static pt_tensor *kl_build(pt_ctx *ctx, pt_tensor **in, void *user) { return kl_fn(ctx, in[0], user); }
static void test_kl_penalty(void)
{
    int kind, i;
    for (kind = PT_KL_K1; kind <= PT_KL_K3; kind++) {
        kl_args ka;
        float val[5], grad[5];
        ka.kind = kind;
        if (value_and_grad(kl_fn, &ka, KL_LP, 5, val, grad))
            for (i = 0; i < 5; i++) {
                double d = (double)KL_REF[i] - KL_LP[i];
                /* k1 = lp - ref: grad 1;  k2 = (ref - lp)^2 / 2: grad lp - ref = -d;  k3 = e^d - d - 1: grad 1 - e^d */
                double v = kind == PT_KL_K1 ? -d : kind == PT_KL_K2 ? 0.5 * d * d : exp(d) - d - 1;
                double g = kind == PT_KL_K1 ? 1.0 : kind == PT_KL_K2 ? -d : 1.0 - exp(d);
                CHECK(fabs(val[i] - v) < 1e-5 * (1 + fabs(v)), "kl penalty k%d[%d] = %g, want %g", kind, i, val[i], v);
                CHECK(fabs(grad[i] - g) < 1e-5 * (1 + fabs(g)), "kl penalty k%d[%d] gradient %g, want %g", kind, i, grad[i], g);
            }
        {
            int shape[1] = {5};
            pt_tensor *in = pt_tensor_heap(1, shape, 1);
            pt_gradcheck_result r;
            memcpy(in->data, KL_LP, sizeof KL_LP);
            memset(&r, 0, sizeof r);
            CHECK(pt_gradcheck(kl_build, &ka, &in, 1, 1e-3f, 1e-4, 1e-3, &r) == PT_OK && r.checked == 5 && r.worst <= 1.0,
                  "k%d gradient check (worst %.3g)", kind, r.worst);
            pt_tensor_heap_free(in);
        }
    }
    {
        pt_ctx *ctx = pt_ctx_new(0);
        int shape[1] = {5};
        pt_tensor *x = pt_tensor_leaf(ctx, 1, shape, KL_LP);
        CHECK(pt_kl_penalty(ctx, x, KL_REF, 7) == NULL && pt_last_status() == PT_ERR_ARG && strstr(pt_last_error(), "kind"),
              "invalid kind: NULL and an error (%s)", pt_last_error());
        CHECK(pt_kl_penalty(ctx, x, KL_REF, 0) == NULL && pt_last_status() == PT_ERR_ARG, "kind 0: NULL");
        pt_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------------------------------------
   10. Value loss
   --------------------------------------------------------------------------------------------- */
typedef struct { const float *old, *ret; float clip; } vl_args;
static pt_tensor *vl_fn(pt_ctx *ctx, pt_tensor *x, void *user)
{
    const vl_args *a = (const vl_args *)user;
    return pt_value_loss(ctx, x, a->old, a->ret, a->clip);
}
static void test_value_loss(void)
{
    /* clip 0.2: l = 0.5 max((V - R)^2, (Vold + clip(V - Vold, -.2, .2) - R)^2)
       0 V 1.0 Vo 0.9 R 1.5: inside, both branches equal: l = .5 * .25 = .125, g = V - R = -0.5
       1 V 1.5 Vo 1.0 R 0.0: clipped V 1.2: 2.25 vs 1.44, unclipped wins: l = 1.125, g = 1.5
       2 V 1.5 Vo 1.0 R 2.0: 0.25 vs (1.2 - 2)^2 = 0.64: clipped wins: l = .32, g = 0
       3 V 0.5 Vo 1.0 R 0.0: 0.25 vs 0.8^2 = 0.64: clipped wins: l = .32, g = 0
       4 V 1.1 Vo 1.0 R 3.0: inside: l = .5 * 3.61 = 1.805, g = -1.9
       (a min instead of the max would give .125, 0.72, .125, .125, 1.805 and nonzero gradients on 2, 3) */
    static const float V[5] = {1.0f, 1.5f, 1.5f, 0.5f, 1.1f}, Vo[5] = {0.9f, 1.0f, 1.0f, 1.0f, 1.0f}, R[5] = {1.5f, 0.0f, 2.0f, 0.0f, 3.0f};
    static const double want[5] = {0.125, 1.125, 0.32, 0.32, 1.805}, gwant[5] = {-0.5, 1.5, 0, 0, -1.9};
    float val[5], grad[5];
    vl_args va;
    int i;
    va.old = Vo; va.ret = R; va.clip = 0.2f;
    if (value_and_grad(vl_fn, &va, V, 5, val, grad))
        for (i = 0; i < 5; i++) {
            CHECK(fabs(val[i] - want[i]) < 1e-5, "clipped value loss[%d] = %g, want %g", i, val[i], want[i]);
            if (gwant[i] == 0) CHECK(grad[i] == 0.0f, "value loss[%d]: clipped branch wins, gradient %g must be 0", i, grad[i]);
            else CHECK(fabs(grad[i] - gwant[i]) < 1e-5, "value loss[%d]: gradient %g, want %g", i, grad[i], gwant[i]);
        }
    va.old = NULL; va.clip = 0.0f;   /* plain 0.5 (V - R)^2, old values not needed */
    if (value_and_grad(vl_fn, &va, V, 5, val, grad))
        for (i = 0; i < 5; i++) {
            double d = (double)V[i] - R[i];
            CHECK(fabs(val[i] - 0.5 * d * d) < 1e-5 && fabs(grad[i] - d) < 1e-5, "unclipped value loss[%d]", i);
        }
    {
        pt_ctx *ctx = pt_ctx_new(0);
        int shape[1] = {5};
        pt_tensor *x = pt_tensor_leaf(ctx, 1, shape, V);
        CHECK(pt_value_loss(ctx, x, NULL, R, 0.2f) == NULL && pt_last_status() == PT_ERR_ARG, "clip without old values refused");
        pt_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------------------------------------
   11. Aggregation, length bias, gradient accumulation
   --------------------------------------------------------------------------------------------- */
/* The aggregate of a leaf [B*T] and its gradient (grad may be NULL); NaN on failure. */
static double agg_value_grad(const float *x, const float *mask, int B, int T, int mode, float denom, float *grad)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int shape[1];
    pt_tensor *leaf, *l;
    double v = NAN;
    shape[0] = B * T;
    leaf = pt_tensor_leaf(ctx, 1, shape, x);
    l = pt_aggregate_loss(ctx, leaf, mask, B, T, mode, denom);
    if (l && l->size == 1 && pt_backward(ctx, l) == PT_OK) {
        v = l->data[0];
        if (grad) {
            if (leaf->grad) memcpy(grad, leaf->grad, (size_t)B * T * sizeof(float));
            else memset(grad, 0, (size_t)B * T * sizeof(float));
        }
    }
    pt_ctx_free(ctx);
    return v;
}
static void test_aggregate(void)
{
    /* B = 2, T = 4; row 0 has 1 valid token (value 2), row 1 has 3 (5, 6, 7):
       SEQ_MEAN = (2/1 + 18/3) / 2 = 4; TOKEN_MEAN = (2 + 18) / 4 = 5; SEQ_SUM_NORM = 20 / 8 = 2.5,
       with denom 10: 2. Gradients: SEQ_MEAN 1/(B len) = .5 on row 0, 1/6 on row 1 (the long row's
       tokens weigh less: length bias); TOKEN_MEAN .25 each; SEQ_SUM_NORM 1/8 each. */
    static const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, mask[8] = {0, 1, 0, 0, 1, 1, 1, 0};
    float g[8];
    double v;
    int i;
    v = agg_value_grad(x, mask, 2, 4, PT_AGG_SEQ_MEAN, 0, g);
    CHECK_NEAR(v, 4.0, 1e-6, "SEQ_MEAN");
    CHECK_NEAR(g[1], 0.5, 1e-7, "SEQ_MEAN: short row's token weight 1/(B*1)");
    CHECK_NEAR(g[4], 1.0 / 6, 1e-7, "SEQ_MEAN: long row's token weight 1/(B*3)");
    CHECK(g[0] == 0 && g[2] == 0 && g[3] == 0 && g[7] == 0, "SEQ_MEAN: masked tokens get no gradient");
    CHECK(g[1] > 2.9 * g[4], "length bias: a token of the short row weighs 3x one of the long row");
    v = agg_value_grad(x, mask, 2, 4, PT_AGG_TOKEN_MEAN, 0, g);
    CHECK_NEAR(v, 5.0, 1e-6, "TOKEN_MEAN");
    CHECK(g[1] == 0.25f && g[4] == 0.25f && g[5] == 0.25f && g[6] == 0.25f && g[0] == 0 && g[7] == 0,
          "TOKEN_MEAN: every valid token weighs 1/4 (no length bias)");
    v = agg_value_grad(x, mask, 2, 4, PT_AGG_SEQ_SUM_NORM, 0, g);
    CHECK_NEAR(v, 2.5, 1e-6, "SEQ_SUM_NORM = sum / (B T)");
    CHECK(g[1] == 0.125f && g[4] == 0.125f && g[3] == 0, "SEQ_SUM_NORM: 1/8 per valid token");
    v = agg_value_grad(x, mask, 2, 4, PT_AGG_SEQ_SUM_NORM, 10.0f, g);
    CHECK_NEAR(v, 2.0, 1e-6, "SEQ_SUM_NORM with denom 10");
    v = agg_value_grad(x, mask, 2, 4, PT_AGG_TOKEN_MEAN, 8.0f, NULL);
    CHECK_NEAR(v, 2.5, 1e-6, "TOKEN_MEAN with denom 8");
    v = agg_value_grad(x, mask, 2, 4, PT_AGG_SEQ_MEAN, 4.0f, NULL);
    CHECK_NEAR(v, 2.0, 1e-6, "SEQ_MEAN with denom 4");
    {   /* an empty row adds 0 under SEQ_MEAN (still counted in B); an empty mask gives 0, not NaN */
        static const float m2[8] = {0, 0, 0, 0, 1, 1, 1, 0}, m0[8] = {0};
        CHECK_NEAR(agg_value_grad(x, m2, 2, 4, PT_AGG_SEQ_MEAN, 0, NULL), 3.0, 1e-6, "SEQ_MEAN with an empty row: (0 + 6) / 2");
        for (i = PT_AGG_SEQ_MEAN; i <= PT_AGG_SEQ_SUM_NORM; i++)
            CHECK(agg_value_grad(x, m0, 2, 4, i, 0, NULL) == 0.0, "mode %d: empty mask gives 0", i);
    }
    {
        pt_ctx *ctx = pt_ctx_new(0);
        int shape[1] = {8};
        pt_tensor *t = pt_tensor_leaf(ctx, 1, shape, x);
        CHECK(pt_aggregate_loss(ctx, t, mask, 2, 4, 9, 0) == NULL && pt_last_status() == PT_ERR_ARG, "bad mode refused");
        CHECK(pt_aggregate_loss(ctx, t, mask, 3, 4, PT_AGG_TOKEN_MEAN, 0) == NULL && pt_last_status() == PT_ERR_ARG, "B*T != size refused");
        pt_ctx_free(ctx);
    }

    /* Gradient accumulation: B = 8 rows, 4 micro-batches of 2 rows, each passing the whole batch's
       denominator, give the full batch's gradient; each micro-batch's own denominator does not. */
    {
        enum { NB = 8, T = 6, MB = 2 };
        float xs[NB * T], ms[NB * T], full[NB * T], micro[NB * T], own[NB * T];
        double tokens = 0;
        pt_rng rng;
        int mode, k;
        pt_rng_seed(&rng, 23);
        for (i = 0; i < NB * T; i++) { xs[i] = pt_rng_normal(&rng); ms[i] = pt_rng_uniform(&rng) < 0.6f ? 1.0f : 0.0f; }
        for (i = 0; i < T; i++) ms[3 * T + i] = 0.0f;   /* one empty row */
        ms[0] = 1.0f;
        for (i = 0; i < NB * T; i++) tokens += ms[i];
        for (mode = PT_AGG_SEQ_MEAN; mode <= PT_AGG_SEQ_SUM_NORM; mode++) {
            float denom = mode == PT_AGG_SEQ_MEAN ? (float)NB : mode == PT_AGG_TOKEN_MEAN ? (float)tokens : (float)(NB * T);
            double full_v, micro_v = 0, exp_err = 0, md = 0, own_d = 0;
            full_v = agg_value_grad(xs, ms, NB, T, mode, 0, full);
            for (k = 0; k < NB / MB; k++) {
                micro_v += agg_value_grad(xs + k * MB * T, ms + k * MB * T, MB, T, mode, denom, micro + k * MB * T);
                agg_value_grad(xs + k * MB * T, ms + k * MB * T, MB, T, mode, 0, own + k * MB * T);
            }
            for (i = 0; i < NB * T; i++) {   /* the expected weight of each token, from the definitions */
                int row = i / T, t;
                double len = 0, w;
                for (t = 0; t < T; t++) len += ms[row * T + t];
                w = ms[i] == 0.0f ? 0.0 : mode == PT_AGG_SEQ_MEAN ? 1.0 / (NB * len) : mode == PT_AGG_TOKEN_MEAN ? 1.0 / tokens : 1.0 / (NB * T);
                exp_err = fmax(exp_err, fabs(full[i] - w));
                md = fmax(md, fabs(micro[i] - full[i]));
                own_d = fmax(own_d, fabs(own[i] - full[i]));
            }
            CHECK(exp_err < 1e-6, "mode %d: full-batch gradient differs from the definition by %g", mode, exp_err);
            CHECK(md < 1e-6 && fabs(micro_v - full_v) < 1e-5, "mode %d: micro-batches with the batch's denominator: gradient "
                  "differs by %g, loss %g vs %g", mode, md, micro_v, full_v);
            CHECK(own_d > 1e-3, "mode %d: micro-batches with their own denominators change the gradient (by %g)", mode, own_d);
        }
        /* the same through a shared heap parameter whose gradient accumulates over 4 tapes:
           per_token[i, t] = X[i, t] + theta[t]; dL/dtheta[t] = sum_i weight(i, t) */
        {
            int tshape[1] = {T}, xshape[2] = {MB, T}, fshape[2] = {NB, T};
            pt_tensor *th_full = pt_tensor_heap(1, tshape, 1), *th_micro = pt_tensor_heap(1, tshape, 1);
            double ew[T];
            int t;
            float denom = (float)tokens;
            pt_ctx *ctx = pt_ctx_new(0);
            pt_tensor *l = pt_aggregate_loss(ctx, pt_add_row(ctx, pt_tensor_from(ctx, 2, fshape, xs), th_full), ms, NB, T, PT_AGG_TOKEN_MEAN, 0);
            CHECK(l && pt_backward(ctx, l) == PT_OK, "theta full: %s", pt_last_error());
            pt_ctx_free(ctx);
            for (k = 0; k < NB / MB; k++) {
                ctx = pt_ctx_new(0);
                l = pt_aggregate_loss(ctx, pt_add_row(ctx, pt_tensor_from(ctx, 2, xshape, xs + k * MB * T), th_micro), ms + k * MB * T,
                                      MB, T, PT_AGG_TOKEN_MEAN, denom);
                CHECK(l && pt_backward(ctx, l) == PT_OK, "theta micro %d: %s", k, pt_last_error());
                pt_ctx_free(ctx);
            }
            for (t = 0; t < T; t++) {
                ew[t] = 0;
                for (i = 0; i < NB; i++) ew[t] += ms[i * T + t] / tokens;
                CHECK(fabs(th_full->grad[t] - ew[t]) < 1e-6 && fabs(th_micro->grad[t] - ew[t]) < 1e-6,
                      "theta[%d]: full %g, accumulated %g, want %g", t, th_full->grad[t], th_micro->grad[t], ew[t]);
            }
            pt_tensor_heap_free(th_full);
            pt_tensor_heap_free(th_micro);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
   12. Rollouts on a tiny random model
   --------------------------------------------------------------------------------------------- */
enum { NP = 3, GROUP = 4, MAXP = 48 };
static int g_pbuf[NP][MAXP], g_plen[NP];
static const int *g_prompts[NP];
static void make_prompts(void)
{
    pt_world_config wc;
    int i;
    memset(&wc, 0, sizeof wc);
    for (i = 0; i < NP; i++) {
        pt_problem p;
        pt_world_problem(&wc, PT_WORLD_TRAIN, 1, i, &p);
        g_plen[i] = pt_world_prompt(&p, 1, g_pbuf[i], MAXP);
        g_prompts[i] = g_pbuf[i];
    }
}
static pt_rollout_config roll_cfg(const pt_tokenizer *tok, int max_new)
{
    pt_rollout_config rc;
    memset(&rc, 0, sizeof rc);
    rc.gen.max_new_tokens = max_new;
    rc.gen.sampler.temperature = 0.7f;
    rc.gen.stop_tokens[0] = PT_BYTE_END;
    rc.gen.stop_tokens[1] = PT_BYTE_EOS;
    rc.gen.n_stop_tokens = 2;
    rc.gen.seed = 12345;
    rc.pad_id = PT_BYTE_PAD;
    rc.tok = tok;
    return rc;
}
static int is_stop(int id) { return id == PT_BYTE_END || id == PT_BYTE_EOS; }
static void test_rollouts(void)
{
    pt_config cfg = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 96, 0);
    pt_model *policy = make_model(cfg, 31), *ref = pt_model_clone(policy, 0);
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_rollout_config rc = roll_cfg(&tok, 40);
    pt_rollout ro, ro2;
    int i, t, st, B, T;
    CHECK(ref != NULL, "clone: %s", pt_last_error());
    make_prompts();
    {   /* refused configurations leave out zeroed */
        pt_rollout_config bad = rc;
        unsigned char zero[sizeof(pt_rollout)];
        memset(zero, 0, sizeof zero);
        bad.pad_id = PT_BYTE_EOS;
        memset(&ro, 0xAB, sizeof ro);
        st = pt_rollout_generate(policy, g_prompts, g_plen, NP, GROUP, &bad, &ro);
        CHECK(st == PT_ERR_ARG && memcmp(&ro, zero, sizeof ro) == 0, "pad id = a stop token: PT_ERR_ARG (%d), out zeroed", st);
        bad = rc;
        bad.gen.n_stop_tokens = 0;
        memset(&ro, 0xAB, sizeof ro);
        st = pt_rollout_generate(policy, g_prompts, g_plen, NP, GROUP, &bad, &ro);
        CHECK(st == PT_ERR_ARG && memcmp(&ro, zero, sizeof ro) == 0, "no stop token: PT_ERR_ARG (%d), out zeroed", st);
        pt_rollout_free(&ro);   /* harmless on a zeroed rollout */
    }
    rc.recompute_old = 1;
    rc.ref = ref;
    st = pt_rollout_generate(policy, g_prompts, g_plen, NP, GROUP, &rc, &ro);
    CHECK(st == PT_OK, "pt_rollout_generate: %s", pt_last_error());
    if (st != PT_OK) { pt_model_free(ref); pt_model_free(policy); return; }
    B = ro.batch.B;
    T = ro.batch.T;
    CHECK(B == NP * GROUP && ro.gen.n_seqs == B && ro.ref_logprobs && !ro.values && ro.completion_text && ro.prompt_text,
          "rollout shape: B %d", B);
    {   /* masks, stop tokens, truncation, texts */
        int bad_mask = 0, bad_flag = 0, bad_text = 0, n_stop = 0, n_trunc = 0, stop_masked = 0;
        for (i = 0; i < B; i++) {
            const int *seq = ro.gen.tokens + (int64_t)i * ro.gen.width;
            int p = ro.gen.prompt_len[i], len = ro.gen.total_len[i], masked = 0, stopped, early = 0;
            char want[512];
            stopped = len > p && is_stop(seq[len - 1]);
            for (t = 0; t < T; t++) {
                int at = i * T + t;
                float m = (t + 1 >= p && t + 1 < len) ? 1.0f : 0.0f;   /* the target seq[t + 1] is generated */
                bad_mask += ro.batch.mask[at] != m;
                masked += ro.batch.mask[at] != 0.0f;
                if (m != 0.0f) bad_mask += ro.batch.targets[at] != seq[t + 1];
                if (m != 0.0f && is_stop(ro.batch.targets[at])) stop_masked++;
            }
            for (t = p; t < len - 1; t++) early += is_stop(seq[t]);
            bad_flag += ro.n_completion[i] != len - p || masked != len - p || early != 0;
            bad_flag += ro.truncated[i] != !stopped;
            bad_flag += ro.truncated[i] && len - p != rc.gen.max_new_tokens;
            n_stop += stopped;
            n_trunc += !stopped;
            pt_decode(&tok, seq + p, len - p - stopped, want, sizeof want);
            bad_text += strcmp(ro.completion_text[i], want) != 0;
            pt_decode(&tok, seq, p, want, sizeof want);
            bad_text += strcmp(ro.prompt_text[i], want) != 0;
        }
        CHECK(bad_mask == 0, "%d mask/target entries differ from 'target generated'", bad_mask);
        CHECK(bad_flag == 0, "%d n_completion / truncated flags inconsistent with the generations", bad_flag);
        CHECK(bad_text == 0, "%d decoded texts differ (completion without its stop token)", bad_text);
        CHECK(n_stop > 0 && n_trunc > 0, "both stopped (%d) and truncated (%d) completions occur", n_stop, n_trunc);
        CHECK(stop_masked == n_stop, "mask 1 on every stop-token target (%d of %d)", stop_masked, n_stop);
    }
    {   /* the sampler's log-probs (at T = 0.7) vs the recomputed ones at 0.7 and those at T = 1 */
        float *lp1 = (float *)malloc((size_t)B * T * sizeof(float));
        double d07 = 0, d1 = 0;
        int n_masked = 0, k1_zero = 1;
        float *k1 = (float *)malloc((size_t)B * T * sizeof(float));
        CHECK(pt_rollout_logprobs(policy, &ro.batch, 1.0f, 0, lp1) == PT_OK, "logprobs at T = 1: %s", pt_last_error());
        for (i = 0; i < B; i++)
            for (t = 0; t < T; t++) {
                int at = i * T + t;
                float sampled = ro.gen.logprobs[(int64_t)i * ro.gen.width + t + 1];
                if (ro.batch.mask[at] == 0.0f) continue;
                n_masked++;
                d07 = fmax(d07, fabs(ro.batch.old_logprobs[at] - sampled));
                d1 = fmax(d1, fabs(lp1[at] - sampled));
            }
        CHECK(n_masked > 0 && d07 < 1e-4, "recomputed old log-probs at the sampling temperature match the sampler's (max diff %g)", d07);
        CHECK(d1 > 1e-2, "log-probs at T = 1 differ from the sampler's at T = 0.7 by much more (max diff %g)", d1);
        /* the reference clone (same weights) gives the same log-probs: k1 = 0 everywhere */
        CHECK(same_floats(ro.ref_logprobs, ro.batch.old_logprobs, (int64_t)B * T), "reference clone's log-probs equal the policy's bit for bit");
        pt_kl_tokens(ro.batch.old_logprobs, ro.ref_logprobs, ro.batch.mask, B * T, PT_KL_K1, k1);
        for (i = 0; i < B * T; i++) k1_zero &= k1[i] == 0.0f;
        CHECK(k1_zero, "k1 against the clone is 0");
        free(lp1);
        free(k1);
    }
    {   /* pt_rollout_logprobs (4 rows per forward) equals a taped forward over the same 4 rows bit for
           bit, so the ratio is exactly 1 on the first update */
        float *lp = (float *)malloc((size_t)B * T * sizeof(float));
        int r0;
        CHECK(pt_rollout_logprobs(policy, &ro.batch, 0.7f, 4, lp) == PT_OK, "logprobs: %s", pt_last_error());
        for (r0 = 0; r0 + 4 <= B; r0 += 4) {
            pt_ctx *ctx = pt_ctx_new(0);
            pt_batch v = pt_rollout_view(&ro.batch);
            pt_tensor *tl;
            v.B = 4;
            v.tokens += r0 * T;
            v.targets += r0 * T;
            v.loss_mask += r0 * T;
            pt_ctx_set_grad(ctx, 1);
            tl = pt_model_logprobs(ctx, policy, &v, 0.7f);
            CHECK(tl && tl->size == 4 * T && tl->requires_grad && same_floats(tl->data, lp + r0 * T, 4 * T),
                  "rows %d..%d: taped forward equals pt_rollout_logprobs bit for bit", r0, r0 + 3);
            pt_ctx_free(ctx);
        }
        free(lp);
    }
    /* recompute_old = 0: old_logprobs are the sampler's own (the same generations: same seed) */
    rc.recompute_old = 0;
    rc.ref = NULL;
    st = pt_rollout_generate(policy, g_prompts, g_plen, NP, GROUP, &rc, &ro2);
    CHECK(st == PT_OK, "second rollout: %s", pt_last_error());
    if (st == PT_OK) {
        int same = ro2.batch.B == B && ro2.batch.T == T && memcmp(ro2.batch.targets, ro.batch.targets, (size_t)B * T * sizeof(int)) == 0;
        int bad = 0;
        CHECK(same && ro2.ref_logprobs == NULL, "same seed, same generations; no reference, no ref log-probs");
        for (i = 0; same && i < B; i++)
            for (t = 0; t < T; t++)
                if (ro2.batch.mask[i * T + t] != 0.0f)
                    bad += ro2.batch.old_logprobs[i * T + t] != ro2.gen.logprobs[(int64_t)i * ro2.gen.width + t + 1];
        CHECK(bad == 0, "default old log-probs are the sampler's: %d differ", bad);
        pt_rollout_free(&ro2);
    }
    pt_rollout_free(&ro);
    CHECK(ro.batch.B == 0 && ro.ref_logprobs == NULL && ro.completion_text == NULL, "pt_rollout_free clears");
    pt_model_free(ref);
    pt_model_free(policy);
}

/* ---------------------------------------------------------------------------------------------
   13. pt_grpo_train
   --------------------------------------------------------------------------------------------- */
/* NaN for completions of the prompt containing *user (a question), else a value that varies */
static float reward_nan_for(const char *prompt, const char *completion, void *user)
{
    unsigned s = 0;
    const char *c;
    if (strstr(prompt, (const char *)user)) return NAN;
    for (c = completion; *c; c++) s += (unsigned char)*c;
    return (float)(s % 7);
}
static float reward_const(const char *prompt, const char *completion, void *user)
{
    (void)prompt; (void)completion; (void)user;
    return 0.5f;
}
/* column `name` of CSV row `row` (1 = the first data row); NaN if absent */
static double csv_value(const char *path, int row, const char *name)
{
    size_t n;
    char *b = (char *)read_bytes(path, &n), *line, *save_line;
    int col = -1, k, r;
    double v = NAN;
    if (!b) return NAN;
    b[n] = 0;
    line = b;
    for (r = 0; line && *line; r++) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        save_line = line;
        if (r == 0 || r == row) {
            char *f = save_line;
            for (k = 0; f; k++) {
                char *comma = strchr(f, ',');
                if (comma) *comma = 0;
                if (r == 0 && strcmp(f, name) == 0) col = k;
                if (r == row && k == col) v = strtod(f, NULL);
                f = comma ? comma + 1 : NULL;
            }
        }
        line = end ? end + 1 : NULL;
    }
    free(b);
    return v;
}
static void test_grpo(void)
{
    pt_config cfg = mkcfg(16, 1, 2, 1, 32, PT_BYTE_VOCAB, 64, 0);
    pt_model *m = make_model(cfg, 77);
    pt_example ex[2];
    pt_problem p0, p1;
    pt_world_config wc;
    pt_grpo_config gc;
    pt_reward_term term;
    pt_train_result res;
    int ids0[MAXP], ids1[MAXP], longp[60], i, st;
    char q0[64];
    float *w0 = copy_floats(m->params->data, m->params->n_data);
    const char *csv = tmp_path("grpo.csv");
    memset(&wc, 0, sizeof wc);
    pt_world_problem(&wc, PT_WORLD_TRAIN, 3, 0, &p0);
    pt_world_problem(&wc, PT_WORLD_TRAIN, 3, 1, &p1);
    snprintf(q0, sizeof q0, "%lld+%lld=", p0.terms[0], p0.terms[1]);
    memset(ex, 0, sizeof ex);
    ex[0].ids = ids0; ex[0].n_ids = ex[0].n_prompt = pt_world_prompt(&p0, 1, ids0, MAXP);
    ex[1].ids = ids1; ex[1].n_ids = ex[1].n_prompt = pt_world_prompt(&p1, 1, ids1, MAXP);
    CHECK(strcmp(p0.question, p1.question) != 0, "two different problems");
    memset(&gc, 0, sizeof gc);
    gc.train.steps = 2;
    gc.train.lr = 1e-2f;
    gc.train.quiet = 1;
    gc.train.csv_path = csv;
    gc.prompts_per_step = 2;
    gc.group_size = 4;
    gc.gen.max_new_tokens = 16;
    gc.gen.sampler.temperature = 0.7f;
    gc.gen.seed = 5;

    /* refused: no reward; a prompt too long for seq_len (named); the weights stay */
    CHECK(pt_grpo_train(m, ex, 2, &gc, &res) == PT_ERR_ARG, "no rewards: PT_ERR_ARG");
    term.name = "nan"; term.fn = reward_nan_for; term.user = q0; term.weight = 1.0f;
    gc.rewards = &term;
    gc.n_rewards = 1;
    {
        pt_example bad[2];
        bad[0] = ex[0];
        memset(&bad[1], 0, sizeof bad[1]);
        for (i = 0; i < 60; i++) longp[i] = 'a' + i % 26;
        bad[1].ids = longp; bad[1].n_ids = bad[1].n_prompt = 60;   /* 60 + 16 > 64 */
        st = pt_grpo_train(m, bad, 2, &gc, &res);
        CHECK(st == PT_ERR_ARG && strstr(pt_last_error(), "prompt 1"), "too long a prompt: %d (%s)", st, pt_last_error());
    }
    CHECK(same_floats(m->params->data, w0, m->params->n_data), "refused calls leave the weights");

    /* a NaN reward for one prompt: reported, its group left out, the run goes on */
    st = pt_grpo_train(m, ex, 2, &gc, &res);
    CHECK(st == PT_OK && res.steps_done == 2, "NaN-reward run: %s (%d steps)", st == PT_OK ? "ok" : pt_last_error(), res.steps_done);
    for (i = 1; i <= 2; i++) {
        double nf = csv_value(csv, i, "nonfinite"), kept = csv_value(csv, i, "kept");
        CHECK(nf == 4 && kept == 0.5, "step %d: nonfinite %g (want 4), kept %g (want 0.5)", i, nf, kept);
    }
    CHECK(!same_floats(m->params->data, w0, m->params->n_data), "the finite group trained");
    CHECK(isfinite(res.last_loss), "the loss is finite (%g)", res.last_loss);

    /* a constant reward with dynamic sampling: every group left out, nothing changes. A fresh model:
       the one above carries AdamW moments from its run (the model owns its optimizer state, for
       exact resume), and momentum alone would move it even with a zero gradient. */
    free(w0);
    pt_model_free(m);
    m = make_model(cfg, 78);
    w0 = copy_floats(m->params->data, m->params->n_data);
    term.fn = reward_const;
    term.name = "const";
    gc.dynamic_sampling = 1;
    st = pt_grpo_train(m, ex, 2, &gc, &res);
    CHECK(st == PT_OK && res.steps_done == 2, "constant reward, dynamic sampling: %s", st == PT_OK ? "ok" : pt_last_error());
    for (i = 1; i <= 2; i++) {
        double kept = csv_value(csv, i, "kept"), nf = csv_value(csv, i, "nonfinite");
        CHECK(kept == 0 && nf == 0, "step %d: kept %g (want 0), nonfinite %g", i, kept, nf);
    }
    CHECK(same_floats(m->params->data, w0, m->params->n_data), "dynamic sampling with nothing kept: weights unchanged");

    /* without dynamic sampling and without KL: zero advantages -> zero gradient -> AdamW (no decay)
       leaves the weights unchanged */
    gc.dynamic_sampling = 0;
    gc.beta = (float)PT_ZERO;
    st = pt_grpo_train(m, ex, 2, &gc, &res);
    CHECK(st == PT_OK && res.steps_done == 2 && res.skipped == 0, "constant reward, no dynamic sampling: %s",
          st == PT_OK ? "ok" : pt_last_error());
    CHECK(csv_value(csv, 1, "kept") == 1 && csv_value(csv, 2, "kept") == 1, "every group kept");
    CHECK(res.last_loss == 0.0f, "loss 0 with zero advantages and no KL (%g)", res.last_loss);
    CHECK(same_floats(m->params->data, w0, m->params->n_data), "zero advantages, no KL, no decay: weights unchanged");
    free(w0);
    pt_model_free(m);
}

/* Direct answers (no think block, as R1-Zero's base often gives) are scored for correctness, not
   only for format: the evaluation once returned early on a missing <think> and counted them wrong. */
static void test_direct_answers(void)
{
    pt_problem p;
    pt_world_score sc;
    memset(&p, 0, sizeof p);
    CHECK(pt_world_parse("Q: 47+85=?", &p) == PT_OK, "parse: %s", pt_last_error());
    pt_world_score_text(&p, "<answer>132</answer>", &sc);
    CHECK(sc.correct == 1 && sc.has_answer == 1 && sc.format_ok == 0, "direct right answer: correct %d has %d format %d",
          sc.correct, sc.has_answer, sc.format_ok);
    pt_world_score_text(&p, "A: <answer>131</answer>", &sc);
    CHECK(sc.correct == 0 && sc.has_answer == 1 && sc.answer == 131, "direct wrong answer: correct %d answer %lld",
          sc.correct, sc.answer);
    pt_world_score_text(&p, "<think>7+5=12;4+8+1=13</think><answer>132</answer>", &sc);
    CHECK(sc.correct == 1 && sc.format_ok == 1 && sc.steps_ok == 2, "worked answer: correct %d format %d steps %d",
          sc.correct, sc.format_ok, sc.steps_ok);
    CHECK(pt_reward_correct("Q: 47+85=?", "<answer>132</answer>", NULL) == 1.0f &&
          pt_reward_format("Q: 47+85=?", "<answer>132</answer>", NULL) == 0.0f, "rewards of a direct answer");
    {   /* the corpus of R1-Zero's base: a fraction `direct` of documents answer without a think block,
           and direct = 0 leaves the corpus exactly as it was (its own random stream) */
        static int plain[60000], mixed[60000];
        pt_world_config wc;
        int64_t n0, n1, i;
        int docs = 0, direct = 0, think = 0;
        memset(&wc, 0, sizeof wc);
        n0 = pt_world_corpus(&wc, 4, 1000, plain, 60000);
        wc.direct = 0.6f;
        n1 = pt_world_corpus(&wc, 4, 1000, mixed, 60000);
        for (i = 0; i < n1; i++) {
            if (mixed[i] == PT_BYTE_BOS) docs++;
            if (mixed[i] == PT_BYTE_THINK) think++;
            if (i >= 3 && mixed[i] == PT_BYTE_ANSWER && mixed[i - 1] == ' ' && mixed[i - 2] == ':' && mixed[i - 3] == 'A') direct++;
        }
        CHECK(docs == 1000 && direct + think == docs, "documents %d: direct %d + think %d", docs, direct, think);
        CHECK(direct > 540 && direct < 660, "direct answers in %d of 1000 documents (expected ~600)", direct);
        wc.direct = 0.0f;
        CHECK(pt_world_corpus(&wc, 4, 1000, mixed, 60000) == n0 && memcmp(plain, mixed, (size_t)n0 * sizeof(int)) == 0,
              "direct = 0 changes the corpus");
    }
}

/* McNemar's paired test by hand: 17 problems lost, 48 gained -> z = 31 / sqrt(65) = 3.8450,
   p = erfc(3.8450 / sqrt 2) = 1.206e-4; no change -> z = 0, p = 1; the sign favours b. And a model
   compared with itself on the world changes nothing, with pt_world_eval's count. */
static void test_paired(void)
{
    pt_config c = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 64, 0);
    pt_model *m = pt_model_new(&c, 3);
    pt_world_config wc;
    pt_world_eval_result e;
    pt_paired_result r;
    float z, p;
    pt_mcnemar(17, 48, &z, &p);
    CHECK_NEAR(z, 3.8450, 1e-3, "McNemar z");
    CHECK_NEAR(p, 1.206e-4, 2e-6, "McNemar p");
    pt_mcnemar(48, 17, &z, &p);
    CHECK_NEAR(z, -3.8450, 1e-3, "McNemar z favours a");
    pt_mcnemar(0, 0, &z, &p);
    CHECK(z == 0.0f && p == 1.0f, "no change: z %g p %g", z, p);
    memset(&wc, 0, sizeof wc);
    CHECK(m != NULL, "model: %s", pt_last_error());
    if (!m) return;
    CHECK(pt_world_eval_paired(m, m, &wc, PT_WORLD_VALID, 40, 0, &r) == PT_OK, "paired: %s", pt_last_error());
    CHECK(pt_world_eval(m, &wc, PT_WORLD_VALID, 40, 0, &e) == PT_OK, "eval: %s", pt_last_error());
    CHECK(r.n == e.n && r.correct_a == e.correct && r.correct_b == e.correct && r.a_only == 0 && r.b_only == 0 &&
          r.p == 1.0f, "self-comparison: n %d/%d correct %d %d/%d, a_only %d b_only %d", r.n, e.n, r.correct_a,
          r.correct_b, e.correct, r.a_only, r.b_only);
    CHECK(pt_world_eval_paired(m, NULL, &wc, PT_WORLD_VALID, 40, 0, &r) != PT_OK, "a NULL model is refused");
    pt_model_free(m);
}

/* PPO's pieces that the learning test does not isolate: a critic's values in a rollout are its head
   on the same rows, bit for bit as a taped forward (the value loss's V_old); a critic without a head
   and a prompt too long are refused; a short PPO run with a fresh critic logs finite value losses. */
static void test_ppo_pieces(void)
{
    pt_config cfg = mkcfg(32, 2, 4, 2, 64, PT_BYTE_VOCAB, 96, 0);
    pt_model *policy = make_model(cfg, 41), *critic = pt_model_clone(policy, 1);
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_rollout_config rc = roll_cfg(&tok, 24);
    pt_reward_term term = {"correct", pt_reward_correct, NULL, 1.0f};
    pt_example ex[NP];
    pt_ppo_config p;
    pt_rollout ro;
    pt_ctx *ctx = pt_ctx_new(0);
    int i, st;
    CHECK(critic && ctx && pt_model_head_attach(critic, 7) == PT_OK, "critic: %s", pt_last_error());
    if (!critic || !ctx) return;
    make_prompts();
    rc.critic = critic;
    rc.rows_per_forward = NP * GROUP;
    st = pt_rollout_generate(policy, g_prompts, g_plen, NP, GROUP, &rc, &ro);
    CHECK(st == PT_OK && ro.values != NULL, "rollout with a critic: %s", pt_last_error());
    if (st == PT_OK && ro.values) {
        pt_batch v = pt_rollout_view(&ro.batch);
        pt_tensor *vals = pt_model_head_values(ctx, critic, &v);
        CHECK(vals && memcmp(vals->data, ro.values, (size_t)ro.batch.B * ro.batch.T * sizeof(float)) == 0,
              "the rollout's values equal a taped forward of the critic's head");
    }
    pt_rollout_free(&ro);
    pt_ctx_reset(ctx);
    memset(ex, 0, sizeof ex);
    for (i = 0; i < NP; i++) {
        ex[i].ids = g_pbuf[i];
        ex[i].n_ids = ex[i].n_prompt = g_plen[i];
    }
    memset(&p, 0, sizeof p);
    p.train.steps = 2;
    p.train.quiet = 1;
    p.train.csv_path = tmp_path("ppo_pieces.csv");
    p.prompts_per_step = 4;
    p.gen.max_new_tokens = 24;
    p.rewards = &term;
    p.n_rewards = 1;
    p.critic = policy;   /* no head */
    CHECK(pt_ppo_train(policy, ex, NP, &p, NULL) == PT_ERR_ARG, "a critic without a head is refused");
    p.critic = NULL;
    p.gen.max_new_tokens = 90;   /* with a ~20-token prompt: more than seq_len 96 */
    CHECK(pt_ppo_train(policy, ex, NP, &p, NULL) == PT_ERR_ARG && strstr(pt_last_error(), "prompt 0") != NULL,
          "a prompt that does not fit is refused, by number: %s", pt_last_error());
    p.gen.max_new_tokens = 24;
    st = pt_ppo_train(policy, ex, NP, &p, NULL);
    CHECK(st == PT_OK, "a short PPO run: %s", pt_last_error());
    for (i = 1; st == PT_OK && i <= 2; i++) {
        double vl = csv_value(p.train.csv_path, i, "value_loss"), kl = csv_value(p.train.csv_path, i, "kl");
        CHECK(isfinite(vl) && vl >= 0 && isfinite(kl), "rollout %d: value loss %g, kl %g", i, vl, kl);
    }
    pt_ctx_free(ctx);
    pt_model_free(critic);
    pt_model_free(policy);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_rl")) return 1;
    RUN("direct answers are scored", test_direct_answers);
    RUN("paired comparison (McNemar)", test_paired);
    RUN("kl estimators", test_kl_tokens);
    RUN("gae", test_gae);
    RUN("whiten", test_whiten);
    RUN("group advantages", test_group_advantages);
    RUN("rloo", test_rloo);
    RUN("ppo rewards", test_ppo_rewards);
    RUN("kl controller", test_kl_control);
    RUN("clipped surrogate", test_surrogate);
    RUN("kl penalty", test_kl_penalty);
    RUN("value loss", test_value_loss);
    RUN("aggregation", test_aggregate);
    RUN("rollouts", test_rollouts);
    RUN("grpo", test_grpo);
    RUN("ppo pieces", test_ppo_pieces);
    return finish_tmp("test_rl", t0);
}
