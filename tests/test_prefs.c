/* test_prefs: sections 11 (reward models) and 12 (preference optimisation) as pure functions.
   Every loss against a value computed here by hand from the published formula and against central
   differences (pt_gradcheck); the formulas' own landmarks: DPO = ln 2 when policy == reference,
   label smoothing 0 is plain DPO, IPO's optimum at h = 1/(2 beta), SimPO's length normalisation,
   hinge's flat zone; the Bradley-Terry loss with margins and centring; binary cross-entropy; PRM
   aggregation; rule rewards that must not be fooled (empty, repeated, hedged answers); the RM and
   DPO trainers' plumbing (shared prompts, ln 2 at the start, checkpoint round trip, bad arguments). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include "test_tmp.h"
#include <string.h>

static double lsig(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }

/* A batch of 3 pairs with everything a loss may read. */
static const float PI_C[3] = {-1.0f, -2.5f, -0.7f}, PI_R[3] = {-2.0f, -2.0f, -3.1f};
static const float REF_C[3] = {-1.5f, -2.0f, -1.0f}, REF_R[3] = {-1.5f, -2.2f, -2.0f};
static const float LEN_C[3] = {4, 5, 2}, LEN_R[3] = {6, 3, 5}, STRENGTH[3] = {3, 0, 1};

static double h_of(int i) { return ((double)PI_C[i] - REF_C[i]) - ((double)PI_R[i] - REF_R[i]); }

enum { L_DPO, L_CDPO, L_ROBUST, L_IPO, L_HINGE, L_SIMPO, L_ORPO, L_RPO, L_BT, L_BCE, L_DPO_MARGIN };
typedef struct { int which; float beta, e; } loss_args;

static pt_tensor *build(pt_ctx *ctx, pt_tensor **in, void *user)
{
    const loss_args *a = (const loss_args *)user;
    static const float margins[3] = {0.3f, 0.0f, 0.1f}, labels[3] = {1.0f, 0.0f, 0.25f}, mask[3] = {1, 1, 0.5f};
    pt_pref_config c;
    memset(&c, 0, sizeof c);
    switch (a->which) {
    case L_DPO: return pt_dpo_loss(ctx, in[0], in[1], REF_C, REF_R, a->beta, 0.0f, 0, NULL);
    case L_DPO_MARGIN: return pt_dpo_loss(ctx, in[0], in[1], REF_C, REF_R, a->beta, 0.0f, 0, margins);
    case L_CDPO: return pt_dpo_loss(ctx, in[0], in[1], REF_C, REF_R, a->beta, a->e, 0, NULL);
    case L_ROBUST: return pt_dpo_loss(ctx, in[0], in[1], REF_C, REF_R, a->beta, a->e, 1, NULL);
    case L_IPO: return pt_ipo_loss(ctx, in[0], in[1], REF_C, REF_R, a->beta);
    case L_HINGE: return pt_hinge_loss(ctx, in[0], in[1], REF_C, REF_R, a->beta);
    case L_SIMPO: return pt_simpo_loss(ctx, in[0], in[1], LEN_C, LEN_R, a->beta, 0.5f);
    case L_ORPO: return pt_orpo_loss(ctx, in[0], in[1], LEN_C, LEN_R, a->beta);
    case L_RPO:
        c.beta = a->beta;
        c.rpo_alpha = 0.7f;
        return pt_pref_loss(ctx, &c, in[0], in[1], REF_C, REF_R, LEN_C, LEN_R, NULL, NULL);
    case L_BT: return pt_bt_loss(ctx, in[0], in[1], margins, 0.05f);
    case L_BCE: return pt_bce_loss(ctx, in[0], labels, mask);
    }
    return NULL;
}
/* The loss's value at PI_C, PI_R, and its gradient check there. */
static double run(int which, float beta, float e, const char *name)
{
    loss_args a;
    pt_ctx *ctx = pt_ctx_new(0);
    int shape[1] = {3};
    pt_tensor *in[2], *pc, *pr, *loss;
    pt_gradcheck_result r;
    double v;
    int st;
    a.which = which;
    a.beta = beta;
    a.e = e;
    pc = pt_tensor_from(ctx, 1, shape, PI_C);
    pr = pt_tensor_from(ctx, 1, shape, PI_R);
    in[0] = pc;
    in[1] = pr;
    loss = build(ctx, in, &a);
    v = loss ? loss->data[0] : NAN;
    CHECK(loss != NULL && loss->size == 1, "%s: a scalar loss (%s)", name, pt_last_error());
    pt_ctx_free(ctx);
    in[0] = pt_tensor_heap(1, shape, 1);
    in[1] = pt_tensor_heap(1, shape, 1);
    memcpy(in[0]->data, PI_C, sizeof PI_C);
    memcpy(in[1]->data, PI_R, sizeof PI_R);
    memset(&r, 0, sizeof r);
    st = pt_gradcheck(build, &a, in, 2, 1e-3f, 1e-4, 1e-3, &r);
    CHECK(st == PT_OK && r.checked == 6 && r.worst <= 1.0, "%s: gradient check (worst %.3g, %s)", name, r.worst,
          pt_last_error());
    pt_tensor_heap_free(in[0]);
    pt_tensor_heap_free(in[1]);
    return v;
}

static void test_losses(void)
{
    double want, e = 0.1, beta = 0.5;
    int i;
    /* DPO: -mean log sigmoid(beta h) */
    for (want = 0, i = 0; i < 3; i++) want -= lsig(beta * h_of(i)) / 3;
    CHECK_NEAR(run(L_DPO, 0.5f, 0, "dpo"), want, 1e-5, "DPO value");
    for (want = 0, i = 0; i < 3; i++) want -= lsig(beta * h_of(i) - (i == 0 ? 0.3 : i == 2 ? 0.1 : 0.0)) / 3;
    CHECK_NEAR(run(L_DPO_MARGIN, 0.5f, 0, "dpo with margins"), want, 1e-5, "DPO with strength offsets");
    /* cDPO and robust DPO (Chowdhury et al.) */
    for (want = 0, i = 0; i < 3; i++) want -= ((1 - e) * lsig(beta * h_of(i)) + e * lsig(-beta * h_of(i))) / 3;
    CHECK_NEAR(run(L_CDPO, 0.5f, 0.1f, "cdpo"), want, 1e-5, "cDPO value");
    for (want = 0, i = 0; i < 3; i++)
        want += (-(1 - e) * lsig(beta * h_of(i)) + e * lsig(-beta * h_of(i))) / (1 - 2 * e) / 3;
    CHECK_NEAR(run(L_ROBUST, 0.5f, 0.1f, "robust dpo"), want, 1e-5, "robust DPO value");
    /* IPO: mean (h - 1/(2 beta))^2 */
    for (want = 0, i = 0; i < 3; i++) want += pow(h_of(i) - 1.0 / (2 * beta), 2) / 3;
    CHECK_NEAR(run(L_IPO, 0.5f, 0, "ipo"), want, 1e-5, "IPO value");
    /* hinge (SLiC): mean max(0, 1 - beta h); beta 0.8 puts pairs on both sides of the kink */
    for (want = 0, i = 0; i < 3; i++) want += fmax(0.0, 1.0 - 0.8 * h_of(i)) / 3;
    CHECK_NEAR(run(L_HINGE, 0.8f, 0, "hinge"), want, 1e-5, "hinge value");
    /* SimPO: -mean log sigmoid(beta (pi_c/|c| - pi_r/|r|) - gamma) */
    for (want = 0, i = 0; i < 3; i++) want -= lsig(2.0 * (PI_C[i] / LEN_C[i] - PI_R[i] / LEN_R[i]) - 0.5) / 3;
    CHECK_NEAR(run(L_SIMPO, 2.0f, 0, "simpo"), want, 1e-5, "SimPO value");
    /* ORPO: -mean(pi_c/|c|) - lambda mean log sigmoid(log odds_c - log odds_r) */
    {
        double nll = 0, odds = 0;
        for (i = 0; i < 3; i++) {
            double ac = PI_C[i] / LEN_C[i], ar = PI_R[i] / LEN_R[i];
            nll -= ac / 3;
            odds += lsig((ac - log1p(-exp(ac))) - (ar - log1p(-exp(ar)))) / 3;
        }
        CHECK_NEAR(run(L_ORPO, 0.25f, 0, "orpo"), nll - 0.25 * odds, 1e-5, "ORPO value");
    }
    /* RPO: DPO + alpha * chosen NLL per token */
    {
        double dpo = 0, nll = 0;
        for (i = 0; i < 3; i++) {
            dpo -= lsig(0.5 * h_of(i)) / 3;
            nll -= PI_C[i] / LEN_C[i] / 3;
        }
        CHECK_NEAR(run(L_RPO, 0.5f, 0, "rpo"), dpo + 0.7 * nll, 1e-5, "RPO value");
    }
    /* Bradley-Terry with margins and centring: rewards are PI_C, PI_R here */
    for (want = 0, i = 0; i < 3; i++) {
        double m = i == 0 ? 0.3 : i == 2 ? 0.1 : 0.0;
        want += (-lsig((double)PI_C[i] - PI_R[i] - m) + 0.05 * pow((double)PI_C[i] + PI_R[i], 2)) / 3;
    }
    CHECK_NEAR(run(L_BT, 0, 0, "bradley-terry"), want, 1e-5, "BT value");
    /* BCE over logits PI_C with labels 1, 0, 0.25 and mask 1, 1, 0.5 */
    {
        static const double y[3] = {1, 0, 0.25}, m[3] = {1, 1, 0.5};
        double num = 0;
        for (i = 0; i < 3; i++) num -= m[i] * (y[i] * lsig(PI_C[i]) + (1 - y[i]) * lsig(-PI_C[i]));
        CHECK_NEAR(run(L_BCE, 0, 0, "bce"), num / 2.5, 1e-5, "BCE value");
    }
}

/* The formulas' landmarks. */
static void test_landmarks(void)
{
    pt_ctx *ctx = pt_ctx_new(0);
    int shape[1] = {3}, i;
    pt_tensor *pc = pt_tensor_from(ctx, 1, shape, PI_C), *pr = pt_tensor_from(ctx, 1, shape, PI_R), *l0, *l1;
    float same_c[3], same_r[3], scaled_c[3], scaled_len[3];
    for (i = 0; i < 3; i++) {
        same_c[i] = PI_C[i];
        same_r[i] = PI_R[i];
        scaled_c[i] = 3.0f * PI_C[i];
        scaled_len[i] = 3.0f * LEN_C[i];
    }
    l0 = pt_dpo_loss(ctx, pc, pr, same_c, same_r, 0.1f, 0.0f, 0, NULL);
    CHECK(l0 && fabs(l0->data[0] - log(2.0)) < 1e-6, "DPO is ln 2 when policy == reference: %g",
          l0 ? l0->data[0] : -1.0);
    l0 = pt_dpo_loss(ctx, pc, pr, REF_C, REF_R, 0.3f, 0.0f, 0, NULL);
    l1 = pt_dpo_loss(ctx, pc, pr, REF_C, REF_R, 0.3f, 0.0f, 1, NULL);
    CHECK(l0 && l1 && l0->data[0] == l1->data[0], "label smoothing 0: robust and cDPO are plain DPO");
    {   /* IPO's optimum: h = 1/(2 beta) gives loss 0 and zero gradient */
        float beta = 0.25f, opt_c[1] = {-1.0f}, opt_r[1] = {-3.0f}, rc[1] = {0.0f}, rr[1] = {0.0f};
        int one[1] = {1};
        pt_tensor *c1 = pt_tensor_leaf(ctx, 1, one, opt_c), *r1 = pt_tensor_leaf(ctx, 1, one, opt_r), *l;
        l = pt_ipo_loss(ctx, c1, r1, rc, rr, beta);   /* h = 2 = 1 / (2 * 0.25) */
        CHECK(l && l->data[0] == 0.0f, "IPO is 0 at h = 1/(2 beta)");
        CHECK(l && pt_backward(ctx, l) == PT_OK && c1->grad[0] == 0.0f && r1->grad[0] == 0.0f,
              "IPO's gradient vanishes at its optimum");
    }
    {   /* SimPO normalises by length: 3x the log-prob over 3x the tokens is the same loss */
        pt_tensor *sc = pt_tensor_from(ctx, 1, shape, scaled_c);
        l0 = pt_simpo_loss(ctx, pc, pr, LEN_C, LEN_R, 2.0f, 0.5f);
        l1 = pt_simpo_loss(ctx, sc, pr, scaled_len, LEN_R, 2.0f, 0.5f);
        CHECK(l0 && l1 && fabs(l0->data[0] - l1->data[0]) < 1e-6, "SimPO: length-normalised (%g vs %g)",
              l0 ? l0->data[0] : -1.0, l1 ? l1->data[0] : -1.0);
    }
    {   /* hinge is flat (0) once beta h >= 1 */
        float big_c[3] = {0, 0, 0}, big_r[3] = {-50, -50, -50}, zero[3] = {0, 0, 0};
        pt_tensor *bc = pt_tensor_from(ctx, 1, shape, big_c), *br = pt_tensor_from(ctx, 1, shape, big_r);
        l0 = pt_hinge_loss(ctx, bc, br, zero, zero, 0.1f);
        CHECK(l0 && l0->data[0] == 0.0f, "hinge: 0 past the margin");
    }
    {   /* metrics of pt_pref_loss on the hand batch */
        pt_pref_config c;
        pt_pref_metrics met;
        double acc = 0, margin = 0, kl = 0;
        memset(&c, 0, sizeof c);
        c.beta = 0.5f;
        memset(&met, 0, sizeof met);
        l0 = pt_pref_loss(ctx, &c, pc, pr, REF_C, REF_R, NULL, NULL, NULL, &met);
        for (i = 0; i < 3; i++) {
            acc += h_of(i) > 0;
            margin += 0.5 * h_of(i) / 3;
            kl += ((PI_C[i] - REF_C[i]) + (PI_R[i] - REF_R[i])) / 6;
        }
        CHECK(l0 && fabs(met.accuracy - acc / 3) < 1e-6 && fabs(met.margin - margin) < 1e-5 &&
                  fabs(met.kl - kl) < 1e-5 && fabs(met.loss - l0->data[0]) < 1e-7,
              "pt_pref_loss metrics: acc %g (want %g) margin %g (%g) kl %g (%g)", met.accuracy, acc / 3, met.margin,
              margin, met.kl, kl);
        CHECK(fabs(met.chosen_logp - (PI_C[0] + PI_C[1] + PI_C[2]) / 3) < 1e-6, "mean chosen log-prob");
        c.strength_margin = 0.1f;   /* strength-aware: margin 0.1 x strength, as pt_dpo_loss's offsets */
        l0 = pt_pref_loss(ctx, &c, pc, pr, REF_C, REF_R, NULL, NULL, STRENGTH, NULL);
        {
            float m[3] = {0.3f, 0.0f, 0.1f};
            l1 = pt_dpo_loss(ctx, pc, pr, REF_C, REF_R, 0.5f, 0.0f, 0, m);
            CHECK(l0 && l1 && fabs(l0->data[0] - l1->data[0]) < 1e-7, "strength margins reach the DPO offset");
        }
    }
    /* bad arguments are errors, not crashes */
    CHECK(pt_dpo_loss(ctx, pc, pr, NULL, REF_R, 0.1f, 0, 0, NULL) == NULL, "DPO without a reference: error");
    CHECK(pt_dpo_loss(ctx, pc, pr, REF_C, REF_R, 0.0f, 0, 0, NULL) == NULL, "DPO with beta 0: error");
    CHECK(pt_dpo_loss(ctx, pc, pr, REF_C, REF_R, 0.1f, 0.5f, 1, NULL) == NULL, "label smoothing 0.5: error");
    CHECK(pt_simpo_loss(ctx, pc, pr, NULL, LEN_R, 2.0f, 0.5f) == NULL, "SimPO without lengths: error");
    {
        float zero_len[3] = {4, 0, 2};
        CHECK(pt_orpo_loss(ctx, pc, pr, zero_len, LEN_R, 0.1f) == NULL && strstr(pt_last_error(), "length"),
              "a zero length is named: %s", pt_last_error());
    }
    {
        int two[1] = {2};
        pt_tensor *short_r = pt_tensor_from(ctx, 1, two, PI_R);
        CHECK(pt_dpo_loss(ctx, pc, short_r, REF_C, REF_R, 0.1f, 0, 0, NULL) == NULL &&
                  pt_last_status() == PT_ERR_SHAPE,
              "mismatched pair shapes: PT_ERR_SHAPE");
    }
    pt_ctx_free(ctx);
}

static void test_prm_aggregate(void)
{
    float p[4] = {0.9f, 0.5f, 0.8f, 0.7f};
    CHECK(pt_prm_aggregate(p, 4, PT_PRM_MIN) == 0.5f, "PRM min");
    CHECK(fabsf(pt_prm_aggregate(p, 4, PT_PRM_PRODUCT) - 0.9f * 0.5f * 0.8f * 0.7f) < 1e-6f, "PRM product");
    CHECK(pt_prm_aggregate(p, 4, PT_PRM_LAST) == 0.7f, "PRM last step");
    CHECK(pt_prm_aggregate(p, 0, PT_PRM_MIN) == 0.0f && pt_prm_aggregate(NULL, 3, PT_PRM_MIN) == 0.0f,
          "PRM of no steps is 0");
}

/* Rule rewards on the world, including the completions that try to fool them. */
static void test_rules(void)
{
    const char *prompt = "<|user|>Q: 47+85=?<|end|><|assistant|>";
    const char *good = "<think>7+5=12;4+8+1=13</think><answer>132</answer>";
    struct { const char *text; float correct, format; } cases[] = {
        {"<think>7+5=12;4+8+1=13</think><answer>132</answer>", 1, 1},
        {"<think>7+5=12;4+8+1=13</think><answer>132</answer><|end|><eos>", 1, 1},   /* how generations end */
        {"  <think>7+5=12;4+8+1=13</think>\n<answer>132</answer>\n", 1, 1},
        {"", 0, 0},
        {"<answer>132</answer>", 1, 0},                                             /* right, no thinking */
        {"<think>7+5=12;4+8+1=13</think><answer>131</answer>", 0, 1},               /* wrong answer */
        {"<think>x</think><answer>132</answer><think>x</think><answer>132</answer>", 0, 0},   /* repeated */
        {"<think>x</think><answer>131</answer><answer>132</answer>", 0, 0},          /* hedged */
        {"<think>x</think><answer>132</answer> and also 133", 1, 0},                 /* text after the answer */
        {"<think>x</think><answer></answer>", 0, 0},                                 /* empty answer */
        {"<think>x</think><answer>132abc</answer>", 0, 1},                           /* not digits */
        {"<think>x<answer>132</answer></think>", 1, 0},                              /* answer inside think */
        {"132", 0, 0},
        {"<think>x</think><answer>99999999999999999999132</answer>", 0, 1},          /* overflow attempt */
    };
    int i;
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        float c = pt_reward_correct(prompt, cases[i].text, NULL), f = pt_reward_format(prompt, cases[i].text, NULL);
        CHECK(c == cases[i].correct, "correct('%s') = %g, want %g", cases[i].text, c, cases[i].correct);
        CHECK(f == cases[i].format, "format('%s') = %g, want %g", cases[i].text, f, cases[i].format);
    }
    CHECK(pt_reward_correct("no problem here", good, NULL) == 0.0f, "no problem in the prompt: 0");
    CHECK(pt_reward_correct(NULL, good, NULL) == 0.0f && pt_reward_correct(prompt, NULL, NULL) == 0.0f, "NULLs: 0");
    {   /* DAPO's overlong penalty: 0 up to max - cache, linear to -1 at max, -1 beyond */
        pt_length_penalty pl = {100, 20};
        char buf[200];
        memset(buf, 'a', sizeof buf);
        buf[80] = 0;
        CHECK(pt_reward_length(prompt, buf, &pl) == 0.0f, "length 80 of 100/20: 0");
        buf[80] = 'a';
        buf[90] = 0;
        CHECK(fabsf(pt_reward_length(prompt, buf, &pl) + 0.5f) < 1e-6f, "length 90: -0.5");
        buf[90] = 'a';
        buf[100] = 0;
        CHECK(fabsf(pt_reward_length(prompt, buf, &pl) + 1.0f) < 1e-6f, "length 100: -1");
        buf[100] = 'a';
        buf[150] = 0;
        CHECK(pt_reward_length(prompt, buf, &pl) == -1.0f, "length 150: -1");
        CHECK(pt_reward_length(prompt, "short<|end|><eos>", NULL) == 0.0f, "defaults: short is free");
    }
    {   /* weighted mixtures */
        pt_length_penalty pl = {30, 10};
        pt_reward_term terms[3];
        float parts[3], r;
        terms[0].name = "correct";
        terms[0].fn = pt_reward_correct;
        terms[0].user = NULL;
        terms[0].weight = 1.0f;
        terms[1].name = "format";
        terms[1].fn = pt_reward_format;
        terms[1].user = NULL;
        terms[1].weight = 0.5f;
        terms[2].name = "length";
        terms[2].fn = pt_reward_length;
        terms[2].user = &pl;
        terms[2].weight = 2.0f;
        r = pt_reward_mix(terms, 3, prompt, good, parts);   /* 50 bytes: length -1 */
        CHECK(parts[0] == 1.0f && parts[1] == 1.0f && parts[2] == -1.0f && fabsf(r - (1.0f + 0.5f - 2.0f)) < 1e-6f,
              "mix: %g = 1 + 0.5 - 2 (parts %g %g %g)", r, parts[0], parts[1], parts[2]);
    }
    {   /* process labels from the world */
        float lab[8];
        int n = pt_reward_step_labels(prompt, good, lab, 8);
        CHECK(n == 2 && lab[0] == 1.0f && lab[1] == 1.0f, "step labels of a clean solution: %d steps", n);
        n = pt_reward_step_labels(prompt, "<think>7+5=12;4+8+1=14</think><answer>142</answer>", lab, 8);
        CHECK(n == 2 && lab[0] == 1.0f && lab[1] == 0.0f, "step labels: the second step is wrong");
        CHECK(pt_reward_step_labels("nothing", good, lab, 8) == 0, "no problem: no labels");
    }
}

/* The trainers' plumbing on a tiny model: pair examples share their prompt; the pair batch gives
   the same per-sequence log-probs as pt_sequence_logprobs (so DPO's first loss is exactly ln 2
   when the reference is the starting policy); RM scores survive a checkpoint round trip; bad
   arguments are named errors that change nothing. */
static void test_trainers(void)
{
    static pt_example c[16], r[16];
    static float strength[16];
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_world_config wc;
    pt_dataset ds, text_ds;
    pt_config cfg;
    pt_model *m, *back;
    float s0[16], s1[16];
    int i, n, same_prompt = 1;
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1;
    wc.max_digits = 1;
    memset(&cfg, 0, sizeof cfg);
    cfg.dim = 32; cfg.n_layers = 1; cfg.n_heads = 2; cfg.n_kv_heads = 1; cfg.hidden_dim = 64;
    cfg.vocab_size = PT_BYTE_VOCAB; cfg.seq_len = 128;
    m = pt_model_new(&cfg, 3);
    CHECK(m && pt_world_preferences(&wc, PT_WORLD_TRAIN, 1, 16, 0, &ds) == PT_OK, "setup: %s", pt_last_error());
    if (!m) return;
    n = ds.n;
    CHECK(pt_pair_examples(&ds, &tok, 1, c, r, strength) == PT_OK && n == 16, "pair examples: %s", pt_last_error());
    for (i = 0; i < n; i++)
        same_prompt &= c[i].n_prompt == r[i].n_prompt && c[i].n_prompt > 0 &&
                       memcmp(c[i].ids, r[i].ids, (size_t)c[i].n_prompt * sizeof(int)) == 0 &&
                       strength[i] == ds.records[i].strength;
    CHECK(same_prompt, "chosen and rejected share the prompt tokens; strengths copied");
    CHECK(pt_world_dataset(&wc, PT_WORLD_TRAIN, 1, 4, PT_DATA_TEXT, &text_ds) == PT_OK, "text dataset");
    CHECK(pt_pair_examples(&text_ds, &tok, 1, c + 8, r + 8, NULL) == PT_ERR_ARG, "a text dataset is not pairs");
    pt_dataset_free(&text_ds);

    /* RM: no head -> error; scores round-trip through a checkpoint bit for bit */
    CHECK(pt_rm_score(m, c, n, s0) == PT_ERR_ARG && strstr(pt_last_error(), "head"), "pt_rm_score without a head");
    CHECK(pt_model_head_attach(m, 9) == PT_OK && pt_rm_score(m, c, n, s0) == PT_OK, "scores: %s", pt_last_error());
    CHECK(pt_model_save(m, tmp_path("rm.ckpt"), 0) == PT_OK, "save: %s", pt_last_error());
    back = pt_model_load(tmp_path("rm.ckpt"));
    CHECK(back && pt_rm_score(back, c, n, s1) == PT_OK && memcmp(s0, s1, sizeof(float) * 16) == 0,
          "RM scores after a checkpoint round trip are the same bits");
    pt_model_free(back);
    {
        pt_rm_config rc;
        pt_dpo_config dc;
        pt_train_result res;
        float w0 = m->params->data[0];
        memset(&rc, 0, sizeof rc);
        memset(&dc, 0, sizeof dc);
        rc.train.quiet = dc.train.quiet = 1;
        CHECK(pt_rm_train(m, c, r, strength, 0, NULL, NULL, 0, &rc, NULL) == PT_ERR_ARG, "RM with no pairs: error");
        dc.batch_pairs = 300;
        CHECK(pt_dpo_train(m, c, r, strength, n, NULL, NULL, 0, &dc, NULL) == PT_ERR_ARG, "batch_pairs 300: error");
        dc.batch_pairs = 4;
        CHECK(pt_dpo_train(m, c, r, strength, n, c, NULL, 2, &dc, NULL) == PT_ERR_ARG, "eval pairs half missing");
        CHECK(m->params->data[0] == w0, "refused calls change nothing");
        /* DPO from the starting policy: the first step's loss is ln 2 exactly (up to rounding) */
        dc.train.steps = 2;
        dc.train.lr = 1e-3f;
        CHECK(pt_dpo_train(m, c, r, strength, n, c + 12, r + 12, 4, &dc, &res) == PT_OK, "dpo: %s", pt_last_error());
        CHECK(fabs(res.first_loss - log(2.0)) < 1e-4, "first DPO loss %.6f is ln 2: the pair batch's log-probs equal "
              "the reference's", res.first_loss);
        CHECK(res.steps_done == 2 && m->params->data[0] != w0, "two steps moved the weights");
    }
    pt_examples_free(c, n);
    pt_examples_free(r, n);
    pt_dataset_free(&ds);
    pt_model_free(m);
}

/* PRM targets from the world's rules: positions at each step's last digit and at the answer's
   closing '>', labels 1 right / 0 wrong; a cut-off step has none; no world problem, no targets. */
static pt_example prm_example(const pt_tokenizer *tok, const char *question, const char *completion)
{
    pt_record rec;
    pt_example ex;
    memset(&rec, 0, sizeof rec);
    rec.prompt = (char *)question;
    rec.completion = (char *)completion;
    memset(&ex, 0, sizeof ex);
    pt_record_example(tok, &rec, PT_DATA_COMPLETION, 1, 0, &ex);
    return ex;
}
static void test_prm_targets(void)
{
    static const struct {
        const char *completion;
        int n;
        const char *ends;     /* the character at each target */
        const char *labels;   /* '1' / '0' per target */
    } cases[] = {
        {"<think>7+5=12;4+8+1=13</think><answer>132</answer>", 3, "23>", "111"},
        {"<think>7+5=11;4+8+1=13</think><answer>132</answer>", 3, "13>", "011"},   /* slip, answer right */
        {"<think>7+5=12;4+8+1=13</think><answer>131</answer>", 3, "23>", "110"},   /* wrong answer */
        {"<think>7+5=12;4+8+1=14</think><answer>142</answer>", 3, "24>", "100"},   /* carried slip */
        {"<think>7+5=12;4+8", 1, "2", "1"},                                        /* cut off in step 2 */
        {"<answer>132</answer>", 0, "", ""},                                       /* no think block */
        {"", 0, "", ""},
    };
    pt_tokenizer tok = pt_byte_tokenizer();
    int c, j, pos[PT_PRM_MAX_STEPS];
    float labels[PT_PRM_MAX_STEPS];
    for (c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        pt_example ex = prm_example(&tok, "Q: 47+85=?", cases[c].completion);
        int n = pt_prm_targets(&tok, &ex, pos, labels, PT_PRM_MAX_STEPS), ok = n == cases[c].n;
        for (j = 0; ok && j < n; j++) {
            char piece[16];   /* the token's last character: </answer> is one special token */
            int k = pos[j] >= ex.n_prompt && pos[j] < ex.n_ids ? pt_decode(&tok, ex.ids + pos[j], 1, piece, 16) : 0;
            ok = k >= 1 && piece[k - 1] == cases[c].ends[j] && labels[j] == (cases[c].labels[j] == '1' ? 1.0f : 0.0f);
        }
        CHECK(ok, "PRM targets of \"%s\": %d steps (want %d) at the right tokens with the right labels",
              cases[c].completion, n, cases[c].n);
        if (c == 0) {
            CHECK(pt_prm_targets(&tok, &ex, pos, labels, 2) == 2, "max_steps caps the targets");
            CHECK(pt_prm_targets(NULL, &ex, pos, labels, 3) == PT_ERR_ARG, "no tokenizer: an error");
        }
        pt_examples_free(&ex, 1);
    }
    {
        pt_example ex = prm_example(&tok, "Tell me a story", "<think>7+5=12</think><answer>12</answer>");
        CHECK(pt_prm_targets(&tok, &ex, pos, labels, PT_PRM_MAX_STEPS) == 0, "no world problem: no targets");
        pt_examples_free(&ex, 1);
    }
}

/* The judge's text interface: its question, its ideal answer by the rules, and the verdict parser. */
static void test_judge_text(void)
{
    static const struct { const char *response; int verdict; } parse[] = {
        {"yes", 1}, {"no", 0}, {"Yes", 1}, {"NO.", 0}, {"  yes<|end|>", 1}, {"no<|end|><eos>", 0},
        {"<think>7+5=12</think><answer>12</answer>yes", 1}, {"<think>7+5=12</think> no", 0},
        {"<think>7+5=12</think><answer>12</answer>\nno", 0}, {"yesterday", -1}, {"nope", -1}, {"yes2", -1},
        {"", -1}, {"maybe", -1}, {"<think>unfinished yes", -1}, {"<think>x</think><answer>12 yes", -1},
        {"the answer is yes", -1},
    };
    pt_world_config wc;
    pt_dataset ds;
    char buf[512];
    int i, n, yes = 0, consistent = 1, held_out = 1;
    for (i = 0; i < (int)(sizeof parse / sizeof parse[0]); i++)
        CHECK(pt_judge_parse(parse[i].response) == parse[i].verdict, "pt_judge_parse(\"%s\") = %d, want %d",
              parse[i].response, pt_judge_parse(parse[i].response), parse[i].verdict);
    CHECK(pt_judge_parse(NULL) == -1, "pt_judge_parse(NULL) = -1");
    n = pt_judge_prompt("<|user|>Q: 47+85=?<|end|>", "<think>7+5=12;4+8+1=13</think><answer>132</answer><|end|>",
                        buf, sizeof buf);
    CHECK(n == (int)strlen(buf) &&
              strcmp(buf, "Q: 47+85=?\n<think>7+5=12;4+8+1=13</think><answer>132</answer>\n"
                          "Is this solution correct?") == 0,
          "judge prompt: the question alone, the completion without its end marker: \"%s\"", buf);
    CHECK(pt_judge_prompt("Q: 47+85=?", "x", buf, 8) == 38 && strlen(buf) == 7, "snprintf-style length");
    CHECK(pt_judge_prompt("Q: 1+2=?", "<answer>\xff" "3\xc3\xa9</answer>", buf, sizeof buf) == (int)strlen(buf) &&
              strcmp(buf, "Q: 1+2=?\n<answer>?3\xc3\xa9</answer>\nIs this solution correct?") == 0,
          "a byte that is not UTF-8 becomes '?', valid sequences stay: \"%s\"", buf);
    pt_judge_target("Q: 47+85=?", "<think>7+5=12;4+8+1=13</think><answer>132</answer>", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "yes") == 0, "target for a right answer: yes (\"%s\")", buf);
    pt_judge_target("Q: 47+85=?", "<think>7+5=12;4+8+1=14</think><answer>142</answer>", 1, buf, sizeof buf);
    CHECK(strcmp(buf, "<think>7+5=12;4+8+1=13</think><answer>132</answer>no") == 0,
          "thinking target: the judge's own solution, then the verdict (\"%s\")", buf);
    CHECK(pt_judge_parse(buf) == 0, "the parser reads the thinking target's verdict");
    pt_judge_target("Q: 47+85=?", "<answer>132</answer><answer>132</answer>", 0, buf, sizeof buf);
    CHECK(strcmp(buf, "no") == 0, "two answers are not a right answer");
    memset(&wc, 0, sizeof wc);
    CHECK(pt_judge_data(&wc, PT_WORLD_VALID, 4, 60, 1, &ds) == PT_OK && ds.n == 60 && ds.kind == PT_DATA_COMPLETION,
          "judge data: %s", pt_last_error());
    for (i = 0; i < ds.n; i++) {
        pt_problem p;
        const char *cand = strchr(ds.records[i].prompt, '\n') + 1;
        char want[512];
        yes += pt_judge_parse(ds.records[i].completion) == 1;
        held_out &= pt_world_parse(ds.records[i].prompt, &p) == PT_OK && pt_world_split_of(&p) == PT_WORLD_VALID;
        memcpy(want, cand, strlen(cand) - strlen("\nIs this solution correct?"));
        want[strlen(cand) - strlen("\nIs this solution correct?")] = 0;
        consistent &= pt_judge_parse(ds.records[i].completion) == (pt_reward_correct(p.question, want, NULL) > 0.5f);
    }
    CHECK(yes == 30, "judge data: half the verdicts are yes (%d of 60)", yes);
    CHECK(consistent, "each record's verdict is the rule's verdict on its candidate");
    CHECK(held_out, "judge data of a split holds only that split's problems");
    pt_dataset_free(&ds);
    CHECK(pt_judge_data(&wc, PT_WORLD_VALID, 4, 0, 0, &ds) == PT_ERR_ARG, "n = 0: error");
}

/* PRM and judge plumbing on a small random model: step probabilities, their aggregation, the
   evaluation's counts, training moves the weights; the judge's p(yes) per item equals it in a batch. */
static void test_prm_judge_models(void)
{
    static pt_example ex[12];
    static const char *completions[6] = {
        "<think>7+5=12;4+8+1=13</think><answer>132</answer>", "<think>7+5=11;4+8+1=13</think><answer>132</answer>",
        "<think>7+5=12;4+8+1=13</think><answer>131</answer>", "<think>7+5=12;4+8",
        "<answer>132</answer>", "<think>7+5=12;4+8+1=14</think><answer>142</answer>"};
    static const char *prompts[6] = {"Q: 47+85=?", "Q: 47+85=?", "Q: 47+85=?", "Q: 47+85=?", "Q: 47+85=?",
                                     "Q: 47+85=?"};
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_config cfg;
    pt_model *m;
    float probs[6 * PT_PRM_MAX_STEPS], scores[6], p_all[6], p_one;
    int steps[6], i, j, ok = 1;
    pt_prm_eval_result er;
    pt_prm_config pc;
    pt_train_result res;
    memset(&cfg, 0, sizeof cfg);
    cfg.dim = 32; cfg.n_layers = 1; cfg.n_heads = 2; cfg.n_kv_heads = 1; cfg.hidden_dim = 64;
    cfg.vocab_size = PT_BYTE_VOCAB; cfg.seq_len = 256;
    m = pt_model_new(&cfg, 5);
    CHECK(m != NULL, "model: %s", pt_last_error());
    if (!m) return;
    for (i = 0; i < 6; i++) ex[i] = prm_example(&tok, prompts[i], completions[i]);
    CHECK(pt_prm_steps(m, &tok, ex, 6, PT_PRM_MAX_STEPS, probs, NULL, steps) == PT_ERR_ARG, "PRM without a head");
    CHECK(pt_model_head_attach(m, 2) == PT_OK, "head");
    CHECK(pt_prm_steps(m, &tok, ex, 6, PT_PRM_MAX_STEPS, probs, NULL, steps) == PT_OK, "steps: %s", pt_last_error());
    CHECK(steps[0] == 3 && steps[1] == 3 && steps[2] == 3 && steps[3] == 1 && steps[4] == 0 && steps[5] == 3,
          "step counts %d %d %d %d %d %d", steps[0], steps[1], steps[2], steps[3], steps[4], steps[5]);
    CHECK(pt_prm_score(m, &tok, ex, 6, PT_PRM_MIN, scores) == PT_OK, "score: %s", pt_last_error());
    for (i = 0; i < 6; i++) {
        float lo = steps[i] ? 1.0f : 0.0f;
        for (j = 0; j < steps[i]; j++) {
            ok &= probs[i * PT_PRM_MAX_STEPS + j] > 0.0f && probs[i * PT_PRM_MAX_STEPS + j] < 1.0f;
            if (probs[i * PT_PRM_MAX_STEPS + j] < lo) lo = probs[i * PT_PRM_MAX_STEPS + j];
        }
        ok &= scores[i] == lo;
    }
    CHECK(ok, "step probabilities in (0, 1); the min score is their minimum (0 without steps)");
    CHECK(pt_prm_score(m, &tok, ex, 6, 7, scores) == PT_ERR_ARG, "an unknown aggregation is refused");
    CHECK(pt_prm_eval(m, &tok, ex, 6, &er) == PT_OK && er.n_solutions == 5 && er.n_steps == 13 &&
              er.n_with_error == 3 && er.n_clean == 2 && fabsf(er.right_rate - 9.0f / 13.0f) < 1e-6f,
          "PRM eval counts: %d solutions, %d steps, %d with an error, %d clean", er.n_solutions, er.n_steps,
          er.n_with_error, er.n_clean);
    memset(&pc, 0, sizeof pc);
    pc.train.steps = 3;
    pc.train.lr = 1e-3f;
    pc.train.quiet = 1;
    pc.batch_size = 4;
    CHECK(pt_prm_train(m, &tok, ex + 4, 1, NULL, 0, &pc, &res) == PT_ERR_ARG, "PRM data without steps: error");
    CHECK(pt_prm_train(m, &tok, ex, 6, ex, 6, &pc, &res) == PT_OK && res.steps_done == 3 &&
              isfinite(res.first_loss) && res.first_loss > 0.0f,
          "PRM training: %s", pt_last_error());
    CHECK(pt_judge_score(m, &tok, prompts, completions, 6, 0, p_all) == PT_OK, "judge: %s", pt_last_error());
    ok = 1;
    for (i = 0; i < 6; i++) {
        ok &= pt_judge_score(m, &tok, prompts + i, completions + i, 1, 0, &p_one) == PT_OK &&
              fabsf(p_one - p_all[i]) < 1e-5f && p_one > 0.0f && p_one < 1.0f;
    }
    CHECK(ok, "judge p(yes) in (0, 1), the same alone and in a batch");
    CHECK(pt_judge_score(m, &tok, prompts, completions, 2, 1, p_all) == PT_OK && p_all[0] > 0.0f && p_all[0] < 1.0f,
          "thinking judge: %s", pt_last_error());
    pt_examples_free(ex, 6);
    pt_model_free(m);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_prefs")) return 1;
    test_losses();
    test_landmarks();
    test_prm_aggregate();
    test_rules();
    test_trainers();
    test_prm_targets();
    test_judge_text();
    test_prm_judge_models();
    return finish_tmp("test_prefs", t0);
}
