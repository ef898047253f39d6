/* parity_dump.c - dump a small random model, a batch, and what posttrain.h computes for it, so that
   tests/torch_parity.py can compare against an independent PyTorch implementation.

   Usage: build/parity_dump OUTDIR
   Writes OUTDIR/case1 (tied classifier) and OUTDIR/case2 (untied), each holding raw little-endian
   .bin files (float32 unless said otherwise) and a meta.json describing them:
       <param name>.bin          every parameter tensor before training, e.g. layers.0.attn.wq.bin
       tokens.bin, targets.bin   int32 [B*T]
       mask.bin                  float32 [B*T] loss weights (some zeros, a few 0.5)
       logits.bin                [B*T, V]  pt_model_logits
       loss.bin                  [1]       pt_model_loss
       grad.<param name>.bin     dL/dparam after pt_backward on pt_model_loss
       adamw_losses.bin          [n_steps] loss before each AdamW step on the same batch
       adamw.<param name>.bin    every parameter after the n_steps AdamW steps
   Build: cc -std=c99 -O2 -march=native -fopenmp -Wall -Wextra -Werror -I. tests/parity_dump.c -o build/parity_dump -lm */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/types.h>

#define N_STEPS 5
#define LR 1e-2f
#define WEIGHT_DECAY 0.1f

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "parity_dump: cannot create directory %s\n", path);
    return -1;
}

static int write_bin(const char *dir, const char *prefix, const char *name, const void *data, size_t elem, size_t n)
{
    char path[1024];
    FILE *f;
    int len = snprintf(path, sizeof path, "%s/%s%s.bin", dir, prefix, name);
    if (len < 0 || (size_t)len >= sizeof path) { fprintf(stderr, "parity_dump: path too long\n"); return -1; }
    f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "parity_dump: cannot open %s for writing\n", path); return -1; }
    if (fwrite(data, elem, n, f) != n) { fprintf(stderr, "parity_dump: short write to %s\n", path); fclose(f); return -1; }
    if (fclose(f) != 0) { fprintf(stderr, "parity_dump: cannot close %s\n", path); return -1; }
    return 0;
}

static int write_params(const char *dir, const char *prefix, pt_params *P, int grads)
{
    int k;
    for (k = 0; k < P->count; k++) {
        pt_param *p = P->items[k];
        const float *src = grads ? (p->grad_offset >= 0 ? P->grad + p->grad_offset : NULL) : p->t.data;
        if (!src) { fprintf(stderr, "parity_dump: %s has no gradient slot\n", p->name); return -1; }
        if (write_bin(dir, prefix, p->name, src, sizeof(float), (size_t)p->t.size) != 0) return -1;
    }
    return 0;
}

static int write_meta(const char *dir, const pt_model *m, int B, int T, int case_id)
{
    char path[1024];
    FILE *f;
    int k, d, n;
    const pt_config *c = &m->cfg;
    n = snprintf(path, sizeof path, "%s/meta.json", dir);
    if (n < 0 || (size_t)n >= sizeof path) { fprintf(stderr, "parity_dump: path too long\n"); return -1; }
    f = fopen(path, "w");
    if (!f) { fprintf(stderr, "parity_dump: cannot open %s for writing\n", path); return -1; }
    fprintf(f, "{\n  \"case\": %d,\n  \"config\": {\"dim\": %d, \"n_layers\": %d, \"n_heads\": %d, \"n_kv_heads\": %d, "
               "\"hidden_dim\": %d, \"vocab_size\": %d, \"seq_len\": %d, \"norm_eps\": %.9g, \"rope_theta\": %.9g, \"untied\": %d},\n",
            case_id, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim, c->vocab_size, c->seq_len,
            (double)c->norm_eps, (double)c->rope_theta, c->untied);
    fprintf(f, "  \"B\": %d,\n  \"T\": %d,\n", B, T);
    fprintf(f, "  \"adamw\": {\"steps\": %d, \"lr\": %.9g, \"beta1\": 0.9, \"beta2\": 0.95, \"eps\": 1e-8, \"weight_decay\": %.9g},\n",
            N_STEPS, (double)LR, (double)WEIGHT_DECAY);
    fprintf(f, "  \"params\": [\n");
    for (k = 0; k < m->params->count; k++) {
        const pt_param *p = m->params->items[k];
        fprintf(f, "    {\"name\": \"%s\", \"shape\": [", p->name);
        for (d = 0; d < p->t.ndim; d++) fprintf(f, "%s%d", d ? ", " : "", p->t.shape[d]);
        fprintf(f, "], \"no_decay\": %d}%s\n", (p->flags & PT_PARAM_NO_DECAY) ? 1 : 0, k + 1 < m->params->count ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    if (fclose(f) != 0) return -1;
    return 0;
}

static int run_case(const char *outdir, int case_id, int untied)
{
    enum { B = 2, T = 33 };
    char dir[900];
    pt_config cfg;
    pt_model *m = NULL;
    pt_ctx *ctx = NULL;
    pt_rng rng;
    pt_adamw_config opt;
    pt_batch batch;
    pt_tensor *logits, *loss;
    int tokens[B * T], targets[B * T], i, k, step, rc = -1, V;
    float mask[B * T], losses[N_STEPS];

    memset(&cfg, 0, sizeof cfg);
    cfg.dim = 48; cfg.n_layers = 2; cfg.n_heads = 6; cfg.n_kv_heads = 2; cfg.hidden_dim = 100;
    cfg.vocab_size = 67; cfg.seq_len = 40; cfg.untied = untied;
    V = cfg.vocab_size;

    i = snprintf(dir, sizeof dir, "%s/case%d", outdir, case_id);
    if (i < 0 || (size_t)i >= sizeof dir) { fprintf(stderr, "parity_dump: OUTDIR too long\n"); return -1; }
    if (make_dir(dir) != 0) return -1;

    m = pt_model_new(&cfg, 1000u + (uint64_t)case_id);
    ctx = pt_ctx_new(0);
    if (!m || !ctx) { fprintf(stderr, "parity_dump: %s\n", pt_last_error()); goto done; }

    /* Large random weights (std 0.2, not the 0.02 of a fresh model) so that attention is far from
       uniform and every part of the forward matters; norm weights uniform in [0.6, 1.4). */
    pt_rng_seed(&rng, 7u + (uint64_t)case_id);
    pt_params_init_normal(m->params, "*", 0.2f, &rng);
    for (k = 0; k < m->params->count; k++) {
        pt_param *p = m->params->items[k];
        if (pt_glob_match("*norm", p->name)) {
            int64_t j;
            for (j = 0; j < p->t.size; j++) p->t.data[j] = 0.6f + 0.8f * pt_rng_uniform(&rng);
        }
    }

    /* The batch: random tokens and targets; loss weights mostly 1, some 0 (including a whole prefix
       of row 0, as a prompt would be) and a few 0.5. */
    for (i = 0; i < B * T; i++) {
        float u;
        tokens[i] = pt_rng_int(&rng, 0, V - 1);
        targets[i] = pt_rng_int(&rng, 0, V - 1);
        u = pt_rng_uniform(&rng);
        mask[i] = u < 0.2f ? 0.0f : (u < 0.3f ? 0.5f : 1.0f);
    }
    for (i = 0; i < 6; i++) mask[i] = 0.0f;
    mask[T] = 1.0f;   /* row 1 starts with a weighted target */

    memset(&batch, 0, sizeof batch);
    batch.B = B; batch.T = T; batch.tokens = tokens; batch.targets = targets; batch.loss_mask = mask;

    if (write_meta(dir, m, B, T, case_id) != 0) goto done;
    if (write_params(dir, "", m->params, 0) != 0) goto done;
    if (write_bin(dir, "", "tokens", tokens, sizeof(int), B * T) != 0) goto done;
    if (write_bin(dir, "", "targets", targets, sizeof(int), B * T) != 0) goto done;
    if (write_bin(dir, "", "mask", mask, sizeof(float), B * T) != 0) goto done;

    /* logits (evaluation forward: no tape) */
    pt_ctx_set_grad(ctx, 0);
    logits = pt_model_logits(ctx, m, &batch);
    if (!logits) { fprintf(stderr, "parity_dump: pt_model_logits: %s\n", pt_last_error()); goto done; }
    if (logits->size != (int64_t)B * T * V) { fprintf(stderr, "parity_dump: logits have %lld elements\n", (long long)logits->size); goto done; }
    if (write_bin(dir, "", "logits", logits->data, sizeof(float), (size_t)logits->size) != 0) goto done;
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 1);

    /* loss and gradients */
    pt_params_zero_grad(m->params);
    loss = pt_model_loss(ctx, m, &batch);
    if (!loss || pt_backward(ctx, loss) != PT_OK) { fprintf(stderr, "parity_dump: loss/backward: %s\n", pt_last_error()); goto done; }
    if (write_bin(dir, "", "loss", loss->data, sizeof(float), 1) != 0) goto done;
    if (write_params(dir, "grad.", m->params, 1) != 0) goto done;
    pt_ctx_reset(ctx);

    /* N_STEPS AdamW steps on the same batch, constant lr, no clipping */
    memset(&opt, 0, sizeof opt);
    opt.beta1 = 0.9f; opt.beta2 = 0.95f; opt.eps = 1e-8f; opt.weight_decay = WEIGHT_DECAY;
    for (step = 0; step < N_STEPS; step++) {
        pt_params_zero_grad(m->params);
        loss = pt_model_loss(ctx, m, &batch);
        if (!loss || pt_backward(ctx, loss) != PT_OK) { fprintf(stderr, "parity_dump: step %d: %s\n", step, pt_last_error()); goto done; }
        losses[step] = loss->data[0];
        if (pt_adamw_step(m->params, &opt, LR) != PT_OK) { fprintf(stderr, "parity_dump: adamw: %s\n", pt_last_error()); goto done; }
        pt_ctx_reset(ctx);
    }
    if (write_bin(dir, "", "adamw_losses", losses, sizeof(float), N_STEPS) != 0) goto done;
    if (write_params(dir, "adamw.", m->params, 0) != 0) goto done;

    printf("parity_dump: case%d (%s) written to %s: loss %.6f, losses after AdamW %.6f .. %.6f\n", case_id,
           untied ? "untied" : "tied", dir, (double)losses[0], (double)losses[1], (double)losses[N_STEPS - 1]);
    rc = 0;
done:
    pt_ctx_free(ctx);
    pt_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    const uint32_t one = 1;
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR\n", argv[0]); return 2; }
    if (*(const unsigned char *)&one != 1) { fprintf(stderr, "parity_dump: the .bin files are little-endian; this host is not\n"); return 2; }
    if (make_dir(argv[1]) != 0) return 1;
    if (run_case(argv[1], 1, 0) != 0) return 1;
    if (run_case(argv[1], 2, 1) != 0) return 1;
    return 0;
}
