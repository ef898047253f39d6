/* test_kernels: every FAST kernel pinned to the plain version a student reads (section 2).
   pt_gemm and pt__gemv_rows against pt__gemm_plain over layouts, odd sizes and accumulation; the
   attention row (blocked, padded) against pt__attend_row_plain with and without segments; the
   shared row blocks (RMSNorm, RoPE, embedding, LoRA branch) against formulas written out here. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include <string.h>

static float *rand_floats(pt_rng *rng, int64_t n)
{
    float *v = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    int64_t i;
    for (i = 0; i < n; i++) v[i] = 2.0f * pt_rng_uniform(rng) - 1.0f;
    return v;
}
static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double worst = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d;   /* NaN counts as the worst */
    }
    return worst;
}

/* pt_gemm (packed, threaded) and the dot-product path against the three loops. */
static void test_gemm(void)
{
    static const int sizes[][3] = {{1, 1, 1}, {3, 37, 5}, {4, 64, 64}, {5, 1030, 20}, {17, 33, 300},
                                   {130, 70, 257}, {64, 288, 288}, {9, 8, 1}};
    pt_rng rng;
    int si, layout, acc;
    pt_rng_seed(&rng, 11);
    for (si = 0; si < (int)(sizeof sizes / sizeof sizes[0]); si++)
        for (layout = 0; layout < 4; layout++)
            for (acc = 0; acc < 2; acc++) {
                int M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
                int a_t = layout & 1, b_t = layout >> 1;   /* A transposed?  B stored as W[N, K]? */
                int64_t rsa = a_t ? 1 : K, csa = a_t ? M : 1, rsb = b_t ? 1 : N, csb = b_t ? K : 1;
                float *A = rand_floats(&rng, (int64_t)M * K), *B = rand_floats(&rng, (int64_t)K * N);
                float *C0 = rand_floats(&rng, (int64_t)M * N), *C1 = (float *)malloc((size_t)M * N * sizeof(float));
                double d;
                memcpy(C1, C0, (size_t)M * N * sizeof(float));
                pt__gemm_plain(M, N, K, A, rsa, csa, B, rsb, csb, C0, N, acc);
                pt_gemm(M, N, K, A, rsa, csa, B, rsb, csb, C1, N, acc);
                d = max_abs_diff(C0, C1, (int64_t)M * N);
                CHECK(d <= 2e-6 * K + 1e-6, "pt_gemm %dx%dx%d layout %d acc %d: max diff %g", M, N, K, layout, acc, d);
                if (!a_t && b_t) {   /* the dot-product path takes y = x W^T only */
                    memcpy(C1, C0, (size_t)M * N * sizeof(float));
                    pt__gemm_plain(M, N, K, A, rsa, csa, B, rsb, csb, C0, N, acc);
                    pt__gemv_rows(M, N, K, A, K, B, K, C1, N, acc);
                    d = max_abs_diff(C0, C1, (int64_t)M * N);
                    CHECK(d <= 2e-6 * K + 1e-6, "pt__gemv_rows %dx%dx%d acc %d: max diff %g", M, N, K, acc, d);
                }
                free(A); free(B); free(C0); free(C1);
            }
    {   /* the comparison can fail: one wrong element is seen */
        float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4.001f};
        CHECK(max_abs_diff(a, b, 4) > 1e-4, "self-test: a changed element must be detected");
    }
}

/* The blocked attention row reads up to 15 positions past n (padding times zero weights); the
   plain one reads exactly n. Same probabilities and output within rounding. */
static void test_attention_row(void)
{
    static const int hds[] = {2, 8, 16, 24, 64}, ns[] = {1, 2, 15, 16, 17, 33, 100};
    pt_rng rng;
    int hi, ni, segmented;
    pt_rng_seed(&rng, 12);
    for (hi = 0; hi < 5; hi++)
        for (ni = 0; ni < 7; ni++)
            for (segmented = 0; segmented < 2; segmented++) {
                int hd = hds[hi], n = ns[ni], s, me;
                int64_t stride = n + 16;
                float *q = rand_floats(&rng, hd), *kt = rand_floats(&rng, hd * stride + 16);
                float *vt = rand_floats(&rng, hd * stride + 16);
                float *p0 = (float *)calloc((size_t)n + 16, sizeof(float)), *p1 = (float *)calloc((size_t)n + 16, sizeof(float));
                float *o0 = (float *)calloc((size_t)hd, sizeof(float)), *o1 = (float *)calloc((size_t)hd, sizeof(float));
                int *seg = (int *)malloc((size_t)n * sizeof(int));
                double psum = 0.0;
                for (s = 0; s < n; s++) seg[s] = 1 + (int)(pt_rng_uniform(&rng) * 3.0f);
                me = seg[n - 1];
                pt__attend_row_plain(o0, p0, q, kt, vt, stride, hd, n, segmented ? seg : NULL, me);
                pt__attend_row(o1, p1, q, kt, vt, stride, hd, n, segmented ? seg : NULL, me, 1);
                for (s = 0; s < n; s++) psum += p1[s];
                CHECK(max_abs_diff(p0, p1, n) <= 1e-6, "attention row hd %d n %d seg %d: probabilities differ by %g",
                      hd, n, segmented, max_abs_diff(p0, p1, n));
                CHECK(max_abs_diff(o0, o1, hd) <= 1e-5, "attention row hd %d n %d seg %d: outputs differ by %g", hd,
                      n, segmented, max_abs_diff(o0, o1, hd));
                CHECK(fabs(psum - 1.0) < 1e-5, "attention row hd %d n %d: probabilities sum to %g", hd, n, psum);
                {   /* inference's variant: unnormalised p, the output scaled by 1/sum instead */
                    float *p2 = (float *)calloc((size_t)n + 16, sizeof(float));
                    float *o2 = (float *)calloc((size_t)hd, sizeof(float));
                    pt__attend_row(o2, p2, q, kt, vt, stride, hd, n, segmented ? seg : NULL, me, 0);
                    CHECK(max_abs_diff(o0, o2, hd) <= 1e-5, "attention row (inference) hd %d n %d seg %d: outputs differ by %g",
                          hd, n, segmented, max_abs_diff(o0, o2, hd));
                    free(p2);
                    free(o2);
                }
                if (segmented) {
                    int masked_ok = 1;
                    for (s = 0; s < n; s++) masked_ok &= seg[s] == me || p1[s] == 0.0f;
                    CHECK(masked_ok, "attention row hd %d n %d: another segment got weight", hd, n);
                }
                free(q); free(kt); free(vt); free(p0); free(p1); free(o0); free(o1); free(seg);
            }
}

/* The shared row blocks against their formulas. */
static void test_row_blocks(void)
{
    pt_rng rng;
    int C = 37, hd = 8, H = 3, i, h;
    float *x = NULL, *w = NULL, y[37], rs, cs[8], v[24], back[24];
    pt_rng_seed(&rng, 13);
    x = rand_floats(&rng, C);
    w = rand_floats(&rng, C);
    rs = pt__rmsnorm_row(y, x, w, C, 1e-5f);
    {
        double ss = 0.0, worst = 0.0;
        for (i = 0; i < C; i++) ss += (double)x[i] * x[i];
        ss = 1.0 / sqrt(ss / C + 1e-5);
        for (i = 0; i < C; i++) worst = fmax(worst, fabs(y[i] - w[i] * x[i] * ss));
        CHECK_NEAR(rs, ss, 1e-5, "rmsnorm row: 1/rms");
        CHECK(worst < 1e-5, "rmsnorm row: y differs from w x / rms by %g", worst);
    }
    pt__rope_angles(cs, 5, hd, 10000.0f);
    for (i = 0; i < hd / 2; i++) {
        double a = 5.0 * pow(10000.0, -2.0 * i / hd);
        CHECK_NEAR(cs[i], cos(a), 1e-5, "rope cos");
        CHECK_NEAR(cs[hd / 2 + i], sin(a), 1e-5, "rope sin");
    }
    for (i = 0; i < H * hd; i++) v[i] = 2.0f * pt_rng_uniform(&rng) - 1.0f;
    memcpy(back, v, sizeof v);
    pt__rope_row(back, back, cs, H, hd, 0, 0);   /* in place, as inference does */
    {
        double worst = 0.0;
        for (h = 0; h < H; h++)
            for (i = 0; i < hd / 2; i++) {
                double x0 = v[h * hd + 2 * i], x1 = v[h * hd + 2 * i + 1], co = cs[i], si = cs[hd / 2 + i];
                worst = fmax(worst, fabs(back[h * hd + 2 * i] - (x0 * co - x1 * si)));
                worst = fmax(worst, fabs(back[h * hd + 2 * i + 1] - (x0 * si + x1 * co)));
            }
        CHECK(worst < 1e-6, "rope row: rotation differs from the formula by %g", worst);
    }
    pt__rope_row(back, back, cs, H, hd, 1, 0);   /* the inverse rotation undoes it */
    CHECK(max_abs_diff(back, v, H * hd) < 1e-6, "rope row: inverse(rotate(x)) != x (%g)", max_abs_diff(back, v, H * hd));
    {   /* embedding rows with an override table */
        float table[4 * 2] = {0, 0, 1, 1, 2, 2, 3, 3}, over[2 * 2] = {-1, -1, -2, -2}, out[3 * 2];
        int slot[4] = {-1, 1, -1, 0}, ids[3] = {3, 2, 1};
        pt__embed_rows(out, table, over, slot, ids, 3, 2);
        CHECK(out[0] == -1 && out[2] == 2 && out[4] == -2, "embed rows: got %g %g %g, want -1 2 -2", out[0], out[2],
              out[4]);
        pt__embed_rows(out, table, NULL, NULL, ids, 3, 2);
        CHECK(out[0] == 3 && out[2] == 2 && out[4] == 1, "embed rows without override: got %g %g %g", out[0], out[2],
              out[4]);
    }
    {   /* the LoRA branch: both up-projection paths equal s x A^T B^T */
        int M = 6, N = 10, K = 12, r = 3, a, b, k;
        float *X = rand_floats(&rng, M * K), *A = rand_floats(&rng, r * K), *B = rand_floats(&rng, N * r);
        float u[18], y0[60], y1[60], ref[60];
        memset(y0, 0, sizeof y0);
        memset(y1, 0, sizeof y1);
        for (a = 0; a < M; a++)
            for (b = 0; b < N; b++) {
                double acc = 0.0;
                int j;
                for (j = 0; j < r; j++) {
                    double xa = 0.0;
                    for (k = 0; k < K; k++) xa += (double)X[a * K + k] * A[j * K + k];
                    acc += xa * B[b * r + j];
                }
                ref[a * N + b] = (float)(0.5 * acc);
            }
        pt__lora_delta(M, N, K, r, X, A, B, 0.5f, u, y0, 1);
        pt__lora_delta(M, N, K, r, X, A, B, 0.5f, u, y1, 0);
        CHECK(max_abs_diff(y0, ref, M * N) < 1e-5, "lora delta (gemm): differs by %g", max_abs_diff(y0, ref, M * N));
        CHECK(max_abs_diff(y1, ref, M * N) < 1e-5, "lora delta (dots): differs by %g", max_abs_diff(y1, ref, M * N));
        free(X); free(A); free(B);
    }
    CHECK(pt__swiglu1(0.0f, 3.0f) == 0.0f && fabsf(pt__swiglu1(1.0f, 2.0f) - 2.0f / (1.0f + expf(-1.0f))) < 1e-6f,
          "swiglu: silu(a) * b");
    free(x); free(w);
}

/* The layer-matrix enum and its accessor agree with the fields, and the slot table with the names. */
static void test_layer_matrices(void)
{
    pt_config cfg;
    pt_model *m;
    memset(&cfg, 0, sizeof cfg);
    cfg.dim = 16; cfg.n_layers = 2; cfg.n_heads = 2; cfg.n_kv_heads = 1; cfg.vocab_size = 32; cfg.seq_len = 8; cfg.hidden_dim = 40;
    m = pt_model_new(&cfg, 1);
    CHECK(m != NULL, "tiny model: %s", pt_last_error());
    if (!m) return;
    CHECK(pt_layer_weight(m, 1, PT_WQ) == m->layers[1].wq && pt_layer_weight(m, 1, PT_WK) == m->layers[1].wk &&
              pt_layer_weight(m, 1, PT_WV) == m->layers[1].wv && pt_layer_weight(m, 1, PT_WO) == m->layers[1].wo &&
              pt_layer_weight(m, 0, PT_W1) == m->layers[0].w1 && pt_layer_weight(m, 0, PT_W2) == m->layers[0].w2 &&
              pt_layer_weight(m, 0, PT_W3) == m->layers[0].w3,
          "pt_layer_weight: every matrix maps to its field");
    CHECK(pt_layer_weight(m, 2, PT_WQ) == NULL && pt_layer_weight(m, -1, PT_WQ) == NULL &&
              pt_layer_weight(m, 0, PT_LAYER_MATRICES) == NULL,
          "pt_layer_weight: out of range gives NULL");
    {
        int slot, names_ok = 1;
        for (slot = 0; slot < cfg.n_layers * PT_LAYER_MATRICES; slot++) {
            char want[64];
            const pt_tensor *t = pt__slot_weight(m, slot);
            snprintf(want, sizeof want, "layers.%d.%s", slot / PT_LAYER_MATRICES,
                     pt__matrix_names[slot % PT_LAYER_MATRICES]);
            names_ok &= t != NULL && pt_params_find(m->params, want) && &pt_params_find(m->params, want)->t == t;
        }
        CHECK(names_ok, "slot table: the weight of each slot carries the slot's name");
    }
    pt_model_free(m);
}

int main(void)
{
    test_gemm();
    test_attention_row();
    test_row_blocks();
    test_layer_matrices();
    return test_end("test_kernels");
}
