/* posttrain.h - v0.1.0 - the LLM post-training chain on a laptop CPU, in one C header.

   A small Llama-style transformer with tape autograd, and (as they land) pretraining, SFT and PEFT,
   reward models, DPO, PPO, GRPO, rejection sampling and test-time search, each written to be read.

   USAGE
     Do this:
        #define POSTTRAIN_IMPLEMENTATION
     before you include this file in *one* C or C++ file to create the implementation:

        #include ...
        #define POSTTRAIN_IMPLEMENTATION
        #include "posttrain.h"

     Every other file includes "posttrain.h" without the define. Link with -lm; compile with -fopenmp
     for threads (optional) and -O2 -march=native for speed.

   OPTIONS (define before the implementation include)
     PT_STATIC              every function is `static` (private to one translation unit)
     PT_MALLOC(sz), PT_REALLOC(p,sz), PT_FREE(p)
                            your allocator; define all three or none
     PT_ASSERT(x)           internal invariant checks (default: assert.h). Never used for bad input:
                            bad input returns an error status, see pt_last_error().
     PT_NO_OPENMP           ignore OpenMP even when the compiler has -fopenmp

   CONVENTIONS (the choices this library makes, named once)
     - Errors: functions return pt_status (0 = PT_OK, negative = error) or NULL; the reason is in
       pt_last_error(), naming the function, argument, file, field or line that is wrong. Graph ops
       propagate NULL: an op given a NULL input returns NULL without overwriting the first error, so a
       whole forward pass can be checked once at the loss.
     - Tensors are float32, row-major, up to 4-D. Linear weights are stored (out, in) like PyTorch and
       llama2.c, so y = x W^T.
     - Parameters, gradients and AdamW moments are flat buffers (llm.c style); a parameter tensor is a
       view into them. Frozen parameters have no gradient slot and cost no gradient work.
     - Activations live on an arena owned by a pt_ctx; the tape records ops as they run;
       pt_ctx_reset() empties both every step. After the first step nothing is allocated on the heap.
     - Threads: one OpenMP pool, a parallel region per heavy op. Every kernel partitions its *output*
       across threads and reduces in a fixed order, so results are bit-identical for any thread count,
       except where a function's doc says otherwise. Run with OMP_WAIT_POLICY=passive on a shared machine
       (the Makefile does): spinning workers collapse when another process holds a core.
     - Randomness: pt_rng (splitmix64 seeding, xoshiro128+-style generator); always drawn on one thread.
     - Not thread-safe: use one pt_ctx per thread if you call the library from several threads, and note
       that pt_last_error() and the matmul scratch buffers are process-wide.

   TABLE OF CONTENTS (sections appear in this order in both halves of the file; [planned] = not built yet)
     1. Basics: status codes, errors, allocator, RNG, arena, timing      (>>basics)
     2. Tensors and autograd: tensors, tape, ops with their backwards      (>>tensors)
        2a. matmul kernels   2b. elementwise   2c. norms, RoPE, attention
        2d. softmax, losses, log-prob gather   2e. gradient checking
     3. Transformer: config, parameters, training forward, KV cache         [planned]
     4. Tokenizers: byte-level, llama2.c BPE                                [planned]
     5. Sampling and generation                                             [planned]
     6. Optimizer: AdamW, gradient clipping, LR schedule                    (>>optimizer)
     7. Checkpoints: native format, llama2.c import/export                  [planned]
     8. PEFT: LoRA, prompt tuning, trainable tokens, subsets                [planned]
     9. Data: the arithmetic world, JSONL, chat template, packing           [planned]
    10. SFT and distillation                                                [planned]
    11. Reward models: rule, outcome (ORM), process (PRM)                   [planned]
    12. Preference optimisation: DPO and variants                           [planned]
    13. Policy optimisation: PPO, GRPO, rejection sampling                  [planned]
    14. Search and test-time compute: best-of-N, MCTS, STaR                 [planned]

   QUICK EXAMPLE (an MLP step; examples/autograd_tour.c is the long version)
     pt_params *P = pt_params_new();
     pt_tensor *W = pt_params_add(P, "w", 2, (int[]){16, 8}, 0);     // (out, in); C99 compound literal
     pt_params_alloc(P); pt_rng rng; pt_rng_seed(&rng, 1); pt_params_init_normal(P, "*", 0.1f, &rng);
     pt_ctx *ctx = pt_ctx_new(0);
     pt_tensor *x = pt_tensor_from(ctx, 2, (int[]){4, 8}, xdata);
     pt_tensor *loss = pt_mean(ctx, pt_square(ctx, pt_linear(ctx, x, W, NULL)));
     if (!loss || pt_backward(ctx, loss) != PT_OK) puts(pt_last_error());
     pt_adamw_config opt = {0}; pt_adamw_step(P, &opt, 1e-3f); pt_params_zero_grad(P); pt_ctx_reset(ctx);

   HISTORY
     0.1.0  engine: tensors, tape autograd, kernels, AdamW (full history at the end of the file)

   LICENSE: MIT, see the end of the file.
*/
/* The implementation uses POSIX clock_gettime; ask for it before the first system header (this has
   no effect if the including file already included one under strict -std=c99; then the timer falls
   back to clock()). */
#if defined(POSTTRAIN_IMPLEMENTATION) && !defined(_WIN32) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef POSTTRAIN_H
#define POSTTRAIN_H

#define PT_VERSION_MAJOR 0
#define PT_VERSION_MINOR 1
#define PT_VERSION_PATCH 0
#define PT_VERSION_STRING "0.1.0"

#include <stddef.h>
#include <stdint.h>

#ifndef PTDEF
#ifdef PT_STATIC
#define PTDEF static
#else
#define PTDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================================================
   1. BASICS                                                                         >>basics
   ------------------------------------------------------------------------------------------------
   Status codes instead of exit(): a library that trains for an hour must never kill its caller over
   a bad file. The RNG is ours (not rand()) so that a seed means the same numbers on every libc.
   The arena is a bump allocator: per-step tensors are carved from one block and freed all at once.
   ================================================================================================ */

typedef enum pt_status {
    PT_OK = 0,
    PT_ERR_NOMEM = -1,     /* an allocation failed */
    PT_ERR_ARG = -2,       /* a bad argument: NULL, a negative size, an out-of-range id */
    PT_ERR_SHAPE = -3,     /* tensor shapes that do not fit together */
    PT_ERR_IO = -4,        /* a file could not be opened, read or written */
    PT_ERR_FORMAT = -5,    /* a file's contents are malformed */
    PT_ERR_NONFINITE = -6  /* a loss or gradient is NaN or infinite */
} pt_status;

PTDEF const char *pt_last_error(void);      /* message of the most recent error ("" if none) */
PTDEF int pt_last_status(void);             /* status of the most recent error (PT_OK if none) */
PTDEF void pt_clear_error(void);            /* forget the last error */
PTDEF const char *pt_status_name(int status); /* "PT_ERR_SHAPE", ... */

/* Threads. pt_set_threads(0) means "all cores". Without OpenMP these are no-ops returning 1. */
PTDEF void pt_set_threads(int n);
PTDEF int pt_get_threads(void);
PTDEF double pt_time_seconds(void);          /* monotonic wall clock (POSIX, Windows, macOS shim) */

/* RNG: xoshiro128+ style 32-bit generator seeded through splitmix64. Small, fast, reproducible;
   not cryptographic. Streams never depend on the thread count because draws happen on one thread. */
typedef struct pt_rng { uint32_t s[4]; } pt_rng;
PTDEF void pt_rng_seed(pt_rng *rng, uint64_t seed);
PTDEF uint32_t pt_rng_u32(pt_rng *rng);
PTDEF float pt_rng_uniform(pt_rng *rng);              /* [0, 1), 24 random bits */
PTDEF float pt_rng_normal(pt_rng *rng);               /* N(0, 1), Box-Muller (one value per call) */
PTDEF int pt_rng_int(pt_rng *rng, int lo, int hi);    /* uniform in [lo, hi], inclusive; lo <= hi */

/* Arena: bump allocation of 64-byte aligned blocks. Grows by chaining blocks; pt_arena_reset()
   merges them into one block of the high-water size, so a steady training loop stops allocating. */
typedef struct pt_arena {
    char *base; size_t used, cap;                    /* current block */
    struct pt__arena_block *overflow;                /* extra blocks used since the last reset */
    size_t overflow_bytes, high_water;
} pt_arena;
PTDEF int pt_arena_init(pt_arena *a, size_t bytes);
PTDEF void *pt_arena_alloc(pt_arena *a, size_t bytes);  /* NULL (and an error) when out of memory */
PTDEF void pt_arena_reset(pt_arena *a);
PTDEF void pt_arena_free(pt_arena *a);

/* ================================================================================================
   2. TENSORS AND AUTOGRAD                                                          >>tensors
   ------------------------------------------------------------------------------------------------
   Reverse-mode autodiff on a tape (Wengert list). Each op computes its output now and, if any input
   needs a gradient, appends a node {backward function, output, inputs, saved values}. For a scalar
   loss L, pt_backward sets dL/dL = 1 and calls the nodes' backwards newest-first; each backward reads
   dL/d(out) and *adds* its contribution into dL/d(input) (gradients accumulate, so a tensor used
   twice gets both contributions, and micro-batches add up in parameter gradients).
   A tensor's gradient buffer is created the first time a gradient reaches it; ops whose inputs need
   no gradient (frozen or reference models) record nothing, so they cost forward work only.
   ================================================================================================ */

typedef struct pt_tensor {
    float *data;
    float *grad;          /* dL/d(data), same layout; NULL until a gradient reaches it */
    int ndim;
    int shape[4];
    int64_t size;         /* number of elements */
    int requires_grad;
} pt_tensor;

typedef struct pt_ctx pt_ctx;   /* arena + tape for one step */

PTDEF pt_ctx *pt_ctx_new(size_t arena_bytes);   /* 0 = a default first block (grows as needed) */
PTDEF void pt_ctx_reset(pt_ctx *ctx);           /* drop all tensors and the tape; keeps memory */
PTDEF void pt_ctx_free(pt_ctx *ctx);
PTDEF void pt_ctx_set_grad(pt_ctx *ctx, int enabled); /* 0: record nothing (evaluation) */
PTDEF size_t pt_ctx_bytes_used(const pt_ctx *ctx);
PTDEF void *pt_ctx_alloc(pt_ctx *ctx, size_t bytes);  /* scratch memory that lives until reset */

/* Tensors on the context's arena (freed by pt_ctx_reset). shape has ndim entries, each >= 1. */
PTDEF pt_tensor *pt_tensor_new(pt_ctx *ctx, int ndim, const int *shape);          /* zeros */
PTDEF pt_tensor *pt_tensor_from(pt_ctx *ctx, int ndim, const int *shape, const float *data); /* copy */
PTDEF pt_tensor *pt_tensor_leaf(pt_ctx *ctx, int ndim, const int *shape, const float *data); /* copy, requires grad */
PTDEF int pt_tensor_rows(const pt_tensor *t);   /* product of all dims but the last */
PTDEF int pt_tensor_cols(const pt_tensor *t);   /* the last dim */
PTDEF int pt_same_shape(const pt_tensor *a, const pt_tensor *b);

/* Run the tape backwards from a scalar loss. Returns PT_ERR_NONFINITE (and touches no gradient)
   when the loss is NaN/inf, so a bad step is reported instead of trained on. */
PTDEF int pt_backward(pt_ctx *ctx, pt_tensor *loss);

/* --- Parameters: named views into flat buffers ------------------------------------------------- */
enum { PT_PARAM_NO_DECAY = 1, PT_PARAM_FROZEN = 2 };
typedef struct pt_param {
    char name[64];
    pt_tensor t;              /* t.data -> params->data + offset, t.grad -> params->grad + grad_offset */
    int64_t offset;           /* into params->data */
    int64_t grad_offset;      /* into params->grad / m / v; -1 when frozen */
    int flags;                /* PT_PARAM_NO_DECAY | PT_PARAM_FROZEN */
} pt_param;
typedef struct pt_params {
    pt_param **items; int count, cap;
    float *data; int64_t n_data;                        /* all parameters */
    float *grad, *adam_m, *adam_v; int64_t n_grad;      /* trainable parameters only */
    int64_t step;                                       /* optimizer steps taken */
} pt_params;

PTDEF pt_params *pt_params_new(void);
PTDEF void pt_params_free(pt_params *P);
/* Declare a tensor (before pt_params_alloc). The returned pointer stays valid for P's lifetime. */
PTDEF pt_tensor *pt_params_add(pt_params *P, const char *name, int ndim, const int *shape, int flags);
PTDEF int pt_params_alloc(pt_params *P);        /* allocate data (zeros) and gradient buffers */
PTDEF pt_param *pt_params_find(pt_params *P, const char *name);   /* exact name, or NULL */
/* Freeze (trainable = 0) or unfreeze every tensor whose name matches a glob pattern ('*' matches any
   run, '?' one char). Rebuilds the gradient layout and zeroes the AdamW moments; returns the count. */
PTDEF int pt_params_set_trainable(pt_params *P, const char *pattern, int trainable);
PTDEF void pt_params_zero_grad(pt_params *P);
PTDEF int64_t pt_params_count(const pt_params *P, int trainable_only);
PTDEF void pt_params_init_normal(pt_params *P, const char *pattern, float std, pt_rng *rng);
PTDEF void pt_params_init_const(pt_params *P, const char *pattern, float value);
PTDEF int pt_glob_match(const char *pattern, const char *name);

/* --- Ops. Every op returns a new tensor on ctx's arena, or NULL with an error set. ---------------- */

/* 2a. Matmul. y[..., N] = x[..., K] W[N, K]^T (+ b[N]). b may be NULL. */
PTDEF pt_tensor *pt_linear(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, pt_tensor *b);
/* c[M, N] = a[M, K] b[K, N] for 2-D tensors (a plain matrix product; pt_linear is the fast path). */
PTDEF pt_tensor *pt_matmul(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
/* The raw kernel: C[M,N] (+)= A[M,K] B[K,N] with any strides (A(i,k) = A[i*rsa + k*csa], ...).
   accumulate = 0 overwrites C. Blocked, packed, vectorised and threaded; bit-identical for any
   thread count. Exposed for benchmarks and for users building their own ops. */
PTDEF void pt_gemm(int M, int N, int K, const float *A, int64_t rsa, int64_t csa,
                   const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, int accumulate);

/* 2b. Elementwise (a and b of the same shape unless said otherwise). */
PTDEF pt_tensor *pt_add(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
PTDEF pt_tensor *pt_sub(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
PTDEF pt_tensor *pt_mul(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
PTDEF pt_tensor *pt_div(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
PTDEF pt_tensor *pt_add_row(pt_ctx *ctx, pt_tensor *a, pt_tensor *row); /* a[..., C] + row[C] */
PTDEF pt_tensor *pt_scale(pt_ctx *ctx, pt_tensor *a, float s);          /* s * a */
PTDEF pt_tensor *pt_add_scalar(pt_ctx *ctx, pt_tensor *a, float s);     /* a + s */
PTDEF pt_tensor *pt_exp(pt_ctx *ctx, pt_tensor *a);
PTDEF pt_tensor *pt_log(pt_ctx *ctx, pt_tensor *a);              /* a > 0 (log of <= 0 gives -inf/NaN) */
PTDEF pt_tensor *pt_square(pt_ctx *ctx, pt_tensor *a);
PTDEF pt_tensor *pt_sigmoid(pt_ctx *ctx, pt_tensor *a);
PTDEF pt_tensor *pt_log_sigmoid(pt_ctx *ctx, pt_tensor *a);      /* log(1/(1+e^-a)), stable */
PTDEF pt_tensor *pt_tanh(pt_ctx *ctx, pt_tensor *a);
PTDEF pt_tensor *pt_silu(pt_ctx *ctx, pt_tensor *a);             /* a * sigmoid(a) */
PTDEF pt_tensor *pt_swiglu(pt_ctx *ctx, pt_tensor *gate, pt_tensor *up); /* silu(gate) * up */
PTDEF pt_tensor *pt_relu(pt_ctx *ctx, pt_tensor *a);
/* min/max of two tensors: the gradient goes to the chosen side (to a on ties). */
PTDEF pt_tensor *pt_minimum(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
PTDEF pt_tensor *pt_maximum(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
/* clamp to [lo, hi]; the gradient is zero where the value was clipped (as torch.clamp). */
PTDEF pt_tensor *pt_clamp(pt_ctx *ctx, pt_tensor *a, float lo, float hi);
/* Copy-free reshape (same number of elements); the gradient flows back unchanged. */
PTDEF pt_tensor *pt_reshape(pt_ctx *ctx, pt_tensor *a, int ndim, const int *shape);
/* No gradient flows through: the value, treated as a constant (for targets, baselines, old log-probs). */
PTDEF pt_tensor *pt_detach(pt_ctx *ctx, pt_tensor *a);

/* Reductions. mask may be NULL (all ones); it has a's shape and weights each element. */
PTDEF pt_tensor *pt_sum(pt_ctx *ctx, pt_tensor *a);             /* scalar */
PTDEF pt_tensor *pt_mean(pt_ctx *ctx, pt_tensor *a);            /* scalar */
PTDEF pt_tensor *pt_masked_sum(pt_ctx *ctx, pt_tensor *a, const float *mask);  /* scalar sum a*m */
PTDEF pt_tensor *pt_masked_mean(pt_ctx *ctx, pt_tensor *a, const float *mask); /* sum a*m / sum m */
/* Per row of a[R, C] (R = all leading dims): out[r] = sum_c a*m, or / sum_c m (0 if a row is empty). */
PTDEF pt_tensor *pt_row_sum(pt_ctx *ctx, pt_tensor *a, const float *mask);
PTDEF pt_tensor *pt_row_mean(pt_ctx *ctx, pt_tensor *a, const float *mask);

/* 2c. Transformer blocks. */
/* Embedding: out[i, :] = table[ids[i], :], shape [n_ids, D] (reshape for [B, T, D]). Ids outside
   [0, V) are an error naming the position. */
PTDEF pt_tensor *pt_embedding(pt_ctx *ctx, pt_tensor *table, const int *ids, int n_ids);
/* RMSNorm over the last dim: y = x / sqrt(mean(x^2) + eps) * w  (Zhang & Sennrich 2019). */
PTDEF pt_tensor *pt_rmsnorm(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, float eps);
/* RoPE on x[B, T, H, hd] (hd even), rotating interleaved pairs (2i, 2i+1) by angle
   pos * theta^(-2i/hd) as llama2.c does (Su et al. 2021). pos[B*T] gives each token's position, so
   packed and left-padded batches rotate correctly; pos NULL means pos = t. */
PTDEF pt_tensor *pt_rope(pt_ctx *ctx, pt_tensor *x, const int *pos, float theta);
/* Causal self-attention, fused (scores, mask, softmax, weighted sum). q[B, T, H, hd],
   k and v [B, T, KVH, hd] with H % KVH == 0: query head h reads kv head h / (H / KVH) (grouped-query,
   Ainslie et al. 2023). seg[B*T] (may be NULL = all 1): token t attends to s <= t only when
   seg[s] == seg[t] != 0, so packed examples never see each other and seg = 0 marks padding (its
   output row is zero). Scale 1/sqrt(hd). Output [B, T, H, hd]. Saves the probabilities for backward. */
PTDEF pt_tensor *pt_attention(pt_ctx *ctx, pt_tensor *q, pt_tensor *k, pt_tensor *v, const int *seg);

/* 2d. Softmax family and losses, all over the last dim of x[R, C]. */
PTDEF pt_tensor *pt_softmax(pt_ctx *ctx, pt_tensor *x);
PTDEF pt_tensor *pt_log_softmax(pt_ctx *ctx, pt_tensor *x);
/* Cross-entropy of logits[R, V] against targets[R]: sum_r m_r * (-log softmax(logits_r)[t_r]) / sum m.
   mask NULL = all ones; targets of masked-out rows are not read. Scalar output. */
PTDEF pt_tensor *pt_cross_entropy(pt_ctx *ctx, pt_tensor *logits, const int *targets, const float *mask);
/* The quantity every post-training loss is built on: out[r] = log softmax(logits_r / temperature)[t_r],
   shape [R]. temperature > 0 (1 = the model's own distribution). Rows with mask 0 give 0 and no
   gradient (mask may be NULL). */
PTDEF pt_tensor *pt_token_logprobs(pt_ctx *ctx, pt_tensor *logits, const int *targets,
                                   const float *mask, float temperature);

/* 2e. Gradient checking. build() makes a tensor from the inputs using ctx; pt_gradcheck compares the
   tape's gradients of L = sum_i w_i out_i (w fixed random) with central differences
   (L(x+h) - L(x-h)) / 2h accumulated in double, for every element of every input that requires grad.
   Inputs must outlive the ctx (pt_params tensors or pt_tensor_alloc'd ones). Passes when
   |g - n| <= atol + rtol * max(|g|, |n|) everywhere; returns the worst ratio of error to tolerance
   (<= 1 passes) in *worst, and the status PT_OK or an error. */
typedef pt_tensor *(*pt_build_fn)(pt_ctx *ctx, pt_tensor **inputs, void *user);
typedef struct pt_gradcheck_result {
    double max_abs_err, max_rel_err, worst;  /* worst = max over elements of err / tolerance */
    int64_t checked;                          /* number of elements compared */
    int worst_input; int64_t worst_index;
} pt_gradcheck_result;
PTDEF int pt_gradcheck(pt_build_fn build, void *user, pt_tensor **inputs, int n_inputs,
                       float h, double atol, double rtol, pt_gradcheck_result *res);
/* A heap tensor for gradcheck inputs and other long-lived data (free with pt_tensor_free). */
PTDEF pt_tensor *pt_tensor_alloc(int ndim, const int *shape, int requires_grad);
PTDEF void pt_tensor_free(pt_tensor *t);

/* ================================================================================================
   6. OPTIMIZER                                                                      >>optimizer
   ------------------------------------------------------------------------------------------------
   AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"):
       m = b1 m + (1-b1) g;   v = b2 v + (1-b2) g^2;   mh = m / (1-b1^t);   vh = v / (1-b2^t)
       w = w - lr * (mh / (sqrt(vh) + eps) + wd * w)        (no wd on PT_PARAM_NO_DECAY tensors)
   Global-norm clipping (Pascanu et al. 2013): if ||g|| > c then g *= c / ||g||.
   Schedule: linear warmup to lr_max over `warmup` steps, then cosine decay to lr_min at `total`.
   ================================================================================================ */
typedef struct pt_adamw_config {
    float beta1;          /* 0 -> 0.9 */
    float beta2;          /* 0 -> 0.95 */
    float eps;            /* 0 -> 1e-8 */
    float weight_decay;   /* 0 -> none (decoupled; skipped on PT_PARAM_NO_DECAY tensors) */
} pt_adamw_config;
/* One AdamW update of every trainable parameter with the given learning rate. Returns
   PT_ERR_NONFINITE (and changes nothing) if any gradient is NaN/inf. */
PTDEF int pt_adamw_step(pt_params *P, const pt_adamw_config *cfg, float lr);
/* Global L2 norm of the trainable gradients (accumulated in double, fixed order). */
PTDEF double pt_grad_norm(const pt_params *P);
/* Scale gradients so their global norm is at most max_norm; the pre-clip norm goes to *norm_out
   (may be NULL). PT_ERR_NONFINITE if the norm is NaN/inf (gradients left as they are). */
PTDEF int pt_clip_grad_norm(pt_params *P, float max_norm, double *norm_out);
PTDEF float pt_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min);

#ifdef __cplusplus
}
#endif
#endif /* POSTTRAIN_H */

/* ################################################################################################
   IMPLEMENTATION                                                              >>implementation
   ################################################################################################ */
#ifdef POSTTRAIN_IMPLEMENTATION
#ifndef POSTTRAIN_IMPLEMENTATION_DONE
#define POSTTRAIN_IMPLEMENTATION_DONE

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(PT_MALLOC) && defined(PT_FREE) && defined(PT_REALLOC)
/* all three given */
#elif !defined(PT_MALLOC) && !defined(PT_FREE) && !defined(PT_REALLOC)
#define PT_MALLOC(sz) malloc(sz)
#define PT_REALLOC(p, sz) realloc(p, sz)
#define PT_FREE(p) free(p)
#else
#error "posttrain.h: define all of PT_MALLOC, PT_REALLOC and PT_FREE, or none of them"
#endif

#ifndef PT_ASSERT
#include <assert.h>
#define PT_ASSERT(x) assert(x)
#endif

#if defined(_OPENMP) && !defined(PT_NO_OPENMP)
#include <omp.h>
#define PT__OMP 1
#else
#define PT__OMP 0
#endif

/* `#pragma omp simd` only when the compiler understands it (-fopenmp or -fopenmp-simd with
   -DPT_OMP_SIMD), so plain -Wall builds do not warn about unknown pragmas. */
#if defined(_OPENMP) || defined(PT_OMP_SIMD)
#define PT__PRAGMA(x) _Pragma(#x)
#define PT__SIMD PT__PRAGMA(omp simd)
#define PT__SIMD_SUM(v) PT__PRAGMA(omp simd reduction(+:v))
#else
#define PT__SIMD
#define PT__SIMD_SUM(v)
#endif
#if PT__OMP
#define PT__PARALLEL_FOR PT__PRAGMA(omp parallel for schedule(static))
#else
#define PT__PARALLEL_FOR
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PT__RESTRICT __restrict__
#elif defined(_MSC_VER)
#define PT__RESTRICT __restrict
#else
#define PT__RESTRICT
#endif

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#elif defined(__APPLE__)
#include <mach/mach_time.h>
#else
#include <time.h>
#endif

/* ================================================================================================
   1. BASICS (implementation)
   ================================================================================================ */

static char pt__errbuf[1024];
static int pt__errcode;

static int pt__fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pt__errbuf, sizeof pt__errbuf, fmt, ap);
    va_end(ap);
    pt__errcode = code;
    return code;
}
/* graph ops return NULL after recording why */
static void *pt__fail_null(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pt__errbuf, sizeof pt__errbuf, fmt, ap);
    va_end(ap);
    pt__errcode = code;
    return NULL;
}

PTDEF const char *pt_last_error(void) { return pt__errbuf; }
PTDEF int pt_last_status(void) { return pt__errcode; }
PTDEF void pt_clear_error(void) { pt__errbuf[0] = 0; pt__errcode = PT_OK; }
PTDEF const char *pt_status_name(int s)
{
    switch (s) {
    case PT_OK: return "PT_OK";
    case PT_ERR_NOMEM: return "PT_ERR_NOMEM";
    case PT_ERR_ARG: return "PT_ERR_ARG";
    case PT_ERR_SHAPE: return "PT_ERR_SHAPE";
    case PT_ERR_IO: return "PT_ERR_IO";
    case PT_ERR_FORMAT: return "PT_ERR_FORMAT";
    case PT_ERR_NONFINITE: return "PT_ERR_NONFINITE";
    default: return "PT_ERR_UNKNOWN";
    }
}

PTDEF void pt_set_threads(int n)
{
#if PT__OMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}
PTDEF int pt_get_threads(void)
{
#if PT__OMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
static int pt__thread_id(void)
{
#if PT__OMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
static int pt__num_threads(void)
{
#if PT__OMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

PTDEF double pt_time_seconds(void)
{
#if defined(_WIN32)
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
#elif defined(__APPLE__)
    static mach_timebase_info_data_t tb;
    if (tb.denom == 0) mach_timebase_info(&tb);
    return (double)mach_absolute_time() * tb.numer / tb.denom * 1e-9;
#elif defined(CLOCK_MONOTONIC)
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#else
    return (double)clock() / CLOCKS_PER_SEC;   /* CPU time: a last resort, see the note at the top */
#endif
}

/* --- RNG ------------------------------------------------------------------------------------- */
static uint64_t pt__splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
PTDEF void pt_rng_seed(pt_rng *rng, uint64_t seed)
{
    uint64_t x = seed, a = pt__splitmix64(&x), b = pt__splitmix64(&x);
    rng->s[0] = (uint32_t)a; rng->s[1] = (uint32_t)(a >> 32);
    rng->s[2] = (uint32_t)b; rng->s[3] = (uint32_t)(b >> 32);
    if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3])) rng->s[0] = 1; /* all-zero state is stuck */
}
static uint32_t pt__rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
PTDEF uint32_t pt_rng_u32(pt_rng *rng)
{
    /* xoshiro128** (Blackman & Vigna 2018): good low bits, 4 words of state */
    uint32_t *s = rng->s;
    uint32_t result = pt__rotl32(s[1] * 5, 7) * 9, t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = pt__rotl32(s[3], 11);
    return result;
}
PTDEF float pt_rng_uniform(pt_rng *rng) { return (float)(pt_rng_u32(rng) >> 8) * (1.0f / 16777216.0f); }
PTDEF float pt_rng_normal(pt_rng *rng)
{
    /* Box-Muller; u1 in (0, 1] so log() is finite */
    float u1 = ((float)(pt_rng_u32(rng) >> 8) + 1.0f) * (1.0f / 16777216.0f);
    float u2 = pt_rng_uniform(rng);
    return (float)(sqrt(-2.0 * log((double)u1)) * cos(6.283185307179586 * (double)u2));
}
PTDEF int pt_rng_int(pt_rng *rng, int lo, int hi)
{
    uint64_t span;
    if (hi <= lo) return lo;
    span = (uint64_t)((int64_t)hi - (int64_t)lo + 1);
    /* multiply-shift (Lemire) with rejection: exactly uniform */
    for (;;) {
        uint64_t m = (uint64_t)pt_rng_u32(rng) * span;
        uint32_t low = (uint32_t)m;
        if (low >= (uint32_t)((0x100000000ull - span) % span)) return lo + (int)(m >> 32);
    }
}

/* --- Arena ----------------------------------------------------------------------------------- */
typedef struct pt__arena_block { struct pt__arena_block *next; size_t cap, used; } pt__arena_block;
#define PT__ALIGN 64
static size_t pt__round_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

PTDEF int pt_arena_init(pt_arena *a, size_t bytes)
{
    memset(a, 0, sizeof *a);
    if (bytes == 0) bytes = (size_t)1 << 20;
    a->base = (char *)PT_MALLOC(bytes + PT__ALIGN);
    if (!a->base) return pt__fail(PT_ERR_NOMEM, "pt_arena_init: cannot allocate %zu bytes", bytes);
    a->cap = bytes;
    return PT_OK;
}
static char *pt__align_ptr(char *p) { return (char *)(((uintptr_t)p + PT__ALIGN - 1) & ~(uintptr_t)(PT__ALIGN - 1)); }
PTDEF void *pt_arena_alloc(pt_arena *a, size_t bytes)
{
    size_t need = pt__round_up(bytes ? bytes : 1, PT__ALIGN);
    pt__arena_block *blk;
    size_t cap;
    if (a->used + need <= a->cap) {
        void *p = pt__align_ptr(a->base) + a->used;
        a->used += need;
        if (a->used + a->overflow_bytes > a->high_water) a->high_water = a->used + a->overflow_bytes;
        return p;
    }
    /* overflow: try the newest extra block, else chain a new one at least as big as the main one */
    blk = a->overflow;
    if (blk && blk->used + need <= blk->cap) {
        void *p = pt__align_ptr((char *)(blk + 1)) + blk->used;
        blk->used += need; a->overflow_bytes += need;
        if (a->used + a->overflow_bytes > a->high_water) a->high_water = a->used + a->overflow_bytes;
        return p;
    }
    cap = need > a->cap ? need : a->cap;
    blk = (pt__arena_block *)PT_MALLOC(sizeof(pt__arena_block) + cap + PT__ALIGN);
    if (!blk) return pt__fail_null(PT_ERR_NOMEM, "arena: cannot allocate %zu bytes", cap);
    blk->next = a->overflow; blk->cap = cap; blk->used = need;
    a->overflow = blk; a->overflow_bytes += need;
    if (a->used + a->overflow_bytes > a->high_water) a->high_water = a->used + a->overflow_bytes;
    return pt__align_ptr((char *)(blk + 1));
}
PTDEF void pt_arena_reset(pt_arena *a)
{
    if (a->overflow) {
        /* grow the main block to the high-water mark so the next step fits in one block */
        size_t cap = a->high_water + a->high_water / 8;
        char *nb;
        while (a->overflow) { pt__arena_block *n = a->overflow->next; PT_FREE(a->overflow); a->overflow = n; }
        nb = (char *)PT_MALLOC(cap + PT__ALIGN);
        if (nb) { PT_FREE(a->base); a->base = nb; a->cap = cap; }
    }
    a->used = 0; a->overflow_bytes = 0;
}
PTDEF void pt_arena_free(pt_arena *a)
{
    while (a->overflow) { pt__arena_block *n = a->overflow->next; PT_FREE(a->overflow); a->overflow = n; }
    PT_FREE(a->base);
    memset(a, 0, sizeof *a);
}

/* ================================================================================================
   2. TENSORS AND AUTOGRAD (implementation)
   ================================================================================================ */

typedef struct pt__node pt__node;
typedef void (*pt__backward_fn)(pt_ctx *ctx, pt__node *n);
struct pt__node {
    pt__backward_fn backward;
    pt_tensor *out;
    pt_tensor *in[3];
    void *aux[3];      /* saved arrays (ids, masks, probabilities, ...) */
    float f[4];        /* saved scalars */
    int i[4];          /* saved ints */
};
struct pt_ctx {
    pt_arena arena;
    pt__node *nodes; int n_nodes, cap_nodes;
    int grad_enabled;
};

PTDEF pt_ctx *pt_ctx_new(size_t arena_bytes)
{
    pt_ctx *ctx = (pt_ctx *)PT_MALLOC(sizeof(pt_ctx));
    if (!ctx) return (pt_ctx *)pt__fail_null(PT_ERR_NOMEM, "pt_ctx_new: out of memory");
    memset(ctx, 0, sizeof *ctx);
    if (pt_arena_init(&ctx->arena, arena_bytes ? arena_bytes : (size_t)16 << 20) != PT_OK) { PT_FREE(ctx); return NULL; }
    ctx->grad_enabled = 1;
    return ctx;
}
PTDEF void pt_ctx_reset(pt_ctx *ctx) { if (ctx) { pt_arena_reset(&ctx->arena); ctx->n_nodes = 0; } }
PTDEF void pt_ctx_free(pt_ctx *ctx)
{
    if (!ctx) return;
    pt_arena_free(&ctx->arena);
    PT_FREE(ctx->nodes);
    PT_FREE(ctx);
}
PTDEF void pt_ctx_set_grad(pt_ctx *ctx, int enabled) { ctx->grad_enabled = enabled; }
PTDEF size_t pt_ctx_bytes_used(const pt_ctx *ctx) { return ctx->arena.used + ctx->arena.overflow_bytes; }
PTDEF void *pt_ctx_alloc(pt_ctx *ctx, size_t bytes) { return pt_arena_alloc(&ctx->arena, bytes); }

static float *pt__floats(pt_ctx *ctx, int64_t n) { return (float *)pt_arena_alloc(&ctx->arena, (size_t)n * sizeof(float)); }

static pt_tensor *pt__new_uninit(pt_ctx *ctx, int ndim, const int *shape)
{
    pt_tensor *t;
    int64_t size = 1;
    int d;
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "tensor: ndim %d not in 1..4", ndim);
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "tensor: dim %d is %d (must be >= 1)", d, shape[d]);
        size *= shape[d];
        if (size > ((int64_t)1 << 40)) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "tensor: too many elements");
    }
    t = (pt_tensor *)pt_arena_alloc(&ctx->arena, sizeof(pt_tensor));
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->size = size;
    t->data = pt__floats(ctx, size);
    return t->data ? t : NULL;
}
PTDEF pt_tensor *pt_tensor_new(pt_ctx *ctx, int ndim, const int *shape)
{
    pt_tensor *t = pt__new_uninit(ctx, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->size * sizeof(float));
    return t;
}
PTDEF pt_tensor *pt_tensor_from(pt_ctx *ctx, int ndim, const int *shape, const float *data)
{
    pt_tensor *t = pt__new_uninit(ctx, ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->size * sizeof(float));
    return t;
}
PTDEF pt_tensor *pt_tensor_leaf(pt_ctx *ctx, int ndim, const int *shape, const float *data)
{
    pt_tensor *t = data ? pt_tensor_from(ctx, ndim, shape, data) : pt_tensor_new(ctx, ndim, shape);
    if (t) t->requires_grad = 1;
    return t;
}
PTDEF int pt_tensor_cols(const pt_tensor *t) { return t->shape[t->ndim - 1]; }
PTDEF int pt_tensor_rows(const pt_tensor *t) { return (int)(t->size / t->shape[t->ndim - 1]); }
PTDEF int pt_same_shape(const pt_tensor *a, const pt_tensor *b)
{
    int d;
    if (a->ndim != b->ndim) return 0;
    for (d = 0; d < a->ndim; d++) if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}
static pt_tensor *pt__like(pt_ctx *ctx, const pt_tensor *a) { return pt__new_uninit(ctx, a->ndim, a->shape); }

PTDEF pt_tensor *pt_tensor_alloc(int ndim, const int *shape, int requires_grad)
{
    pt_tensor *t;
    int64_t size = 1;
    int d;
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_tensor_alloc: ndim %d not in 1..4", ndim);
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_tensor_alloc: dim %d is %d", d, shape[d]);
        size *= shape[d];
    }
    t = (pt_tensor *)PT_MALLOC(sizeof(pt_tensor));
    if (!t) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_tensor_alloc: out of memory");
    memset(t, 0, sizeof *t);
    t->ndim = ndim; t->size = size; t->requires_grad = requires_grad;
    for (d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = (float *)PT_MALLOC((size_t)size * sizeof(float));
    t->grad = requires_grad ? (float *)PT_MALLOC((size_t)size * sizeof(float)) : NULL;
    if (!t->data || (requires_grad && !t->grad)) { pt_tensor_free(t); return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_tensor_alloc: out of memory"); }
    memset(t->data, 0, (size_t)size * sizeof(float));
    if (t->grad) memset(t->grad, 0, (size_t)size * sizeof(float));
    return t;
}
PTDEF void pt_tensor_free(pt_tensor *t)
{
    if (!t) return;
    PT_FREE(t->data);
    PT_FREE(t->grad);
    PT_FREE(t);
}

/* Record a node when gradients are on and some input needs one; marks out->requires_grad. */
static pt__node *pt__record(pt_ctx *ctx, pt__backward_fn fn, pt_tensor *out, pt_tensor *a, pt_tensor *b, pt_tensor *c)
{
    pt__node *n;
    int need = (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad);
    if (!ctx->grad_enabled || !need) return NULL;
    if (ctx->n_nodes == ctx->cap_nodes) {
        int cap = ctx->cap_nodes ? ctx->cap_nodes * 2 : 256;
        pt__node *nn = (pt__node *)PT_REALLOC(ctx->nodes, (size_t)cap * sizeof(pt__node));
        if (!nn) { pt__fail(PT_ERR_NOMEM, "tape: out of memory"); return NULL; }
        ctx->nodes = nn; ctx->cap_nodes = cap;
    }
    n = &ctx->nodes[ctx->n_nodes++];
    memset(n, 0, sizeof *n);
    n->backward = fn; n->out = out; n->in[0] = a; n->in[1] = b; n->in[2] = c;
    out->requires_grad = 1;
    return n;
}
/* The gradient buffer of t, created (zeroed) the first time a gradient reaches it; NULL when t
   needs no gradient. */
static float *pt__grad(pt_ctx *ctx, pt_tensor *t)
{
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        t->grad = pt__floats(ctx, t->size);
        if (t->grad) memset(t->grad, 0, (size_t)t->size * sizeof(float));
    }
    return t->grad;
}

PTDEF int pt_backward(pt_ctx *ctx, pt_tensor *loss)
{
    int i;
    float *g;
    if (!loss) return pt_last_status() ? pt_last_status() : pt__fail(PT_ERR_ARG, "pt_backward: loss is NULL");
    if (loss->size != 1) return pt__fail(PT_ERR_SHAPE, "pt_backward: loss must be a scalar, has %lld elements", (long long)loss->size);
    if (!isfinite(loss->data[0])) return pt__fail(PT_ERR_NONFINITE, "pt_backward: loss is %f; no gradient computed", (double)loss->data[0]);
    if (!loss->requires_grad) return PT_OK; /* nothing trainable upstream */
    g = pt__grad(ctx, loss);
    if (!g) return pt_last_status();
    g[0] += 1.0f;
    for (i = ctx->n_nodes - 1; i >= 0; i--) {
        pt__node *n = &ctx->nodes[i];
        if (n->out->grad) n->backward(ctx, n);
        if (pt_last_status() == PT_ERR_NOMEM) return PT_ERR_NOMEM;
    }
    return PT_OK;
}

/* --- Parameters ------------------------------------------------------------------------------ */
static void pt__free_aligned(float *p);
static float *pt__alloc_aligned_floats(int64_t n);
PTDEF int pt_glob_match(const char *p, const char *s)
{
    /* iterative glob with single-star backtracking */
    const char *star = NULL, *ss = s;
    while (*s) {
        if (*p == '?' || *p == *s) { p++; s++; }
        else if (*p == '*') { star = p++; ss = s; }
        else if (star) { p = star + 1; s = ++ss; }
        else return 0;
    }
    while (*p == '*') p++;
    return *p == 0;
}
PTDEF pt_params *pt_params_new(void)
{
    pt_params *P = (pt_params *)PT_MALLOC(sizeof(pt_params));
    if (!P) return (pt_params *)pt__fail_null(PT_ERR_NOMEM, "pt_params_new: out of memory");
    memset(P, 0, sizeof *P);
    return P;
}
PTDEF void pt_params_free(pt_params *P)
{
    int i;
    if (!P) return;
    for (i = 0; i < P->count; i++) PT_FREE(P->items[i]);
    PT_FREE(P->items);
    pt__free_aligned(P->data); pt__free_aligned(P->grad); pt__free_aligned(P->adam_m); pt__free_aligned(P->adam_v);
    PT_FREE(P);
}
PTDEF pt_tensor *pt_params_add(pt_params *P, const char *name, int ndim, const int *shape, int flags)
{
    pt_param *p;
    int d;
    if (P->data) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_params_add(%s): add every tensor before pt_params_alloc", name);
    if (strlen(name) >= sizeof p->name) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_params_add: name '%s' longer than 63 chars", name);
    if (pt_params_find(P, name)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_params_add: duplicate name '%s'", name);
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_params_add(%s): ndim %d", name, ndim);
    if (P->count == P->cap) {
        int cap = P->cap ? P->cap * 2 : 32;
        pt_param **ni = (pt_param **)PT_REALLOC(P->items, (size_t)cap * sizeof(pt_param *));
        if (!ni) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_params_add: out of memory");
        P->items = ni; P->cap = cap;
    }
    p = (pt_param *)PT_MALLOC(sizeof(pt_param));
    if (!p) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_params_add: out of memory");
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->t.ndim = ndim; p->t.size = 1;
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1) { PT_FREE(p); return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_params_add(%s): dim %d is %d", name, d, shape[d]); }
        p->t.shape[d] = shape[d]; p->t.size *= shape[d];
    }
    p->flags = flags;
    p->offset = P->n_data;
    p->grad_offset = -1;
    /* keep every tensor 64-byte aligned inside the flat buffer */
    P->n_data += (int64_t)pt__round_up((size_t)p->t.size, 16);
    P->items[P->count++] = p;
    return &p->t;
}
PTDEF pt_param *pt_params_find(pt_params *P, const char *name)
{
    int i;
    for (i = 0; i < P->count; i++) if (strcmp(P->items[i]->name, name) == 0) return P->items[i];
    return NULL;
}
static float *pt__alloc_aligned_floats(int64_t n)
{
    /* keep the raw pointer 16 bytes before the aligned block so PT_FREE-compatible free works */
    char *raw = (char *)PT_MALLOC((size_t)n * sizeof(float) + PT__ALIGN + sizeof(void *));
    char *al;
    if (!raw) return NULL;
    al = pt__align_ptr(raw + sizeof(void *));
    ((void **)al)[-1] = raw;
    return (float *)al;
}
static void pt__free_aligned(float *p) { if (p) PT_FREE(((void **)p)[-1]); }

/* (Re)build the gradient layout: trainable tensors get consecutive, aligned slots. */
static int pt__params_layout_grads(pt_params *P)
{
    int64_t n = 0;
    int i;
    float *g, *m, *v;
    for (i = 0; i < P->count; i++) {
        pt_param *p = P->items[i];
        p->grad_offset = (p->flags & PT_PARAM_FROZEN) ? -1 : n;
        if (!(p->flags & PT_PARAM_FROZEN)) n += (int64_t)pt__round_up((size_t)p->t.size, 16);
    }
    g = pt__alloc_aligned_floats(n > 0 ? n : 1);
    m = pt__alloc_aligned_floats(n > 0 ? n : 1);
    v = pt__alloc_aligned_floats(n > 0 ? n : 1);
    if (!g || !m || !v) {
        pt__free_aligned(g); pt__free_aligned(m); pt__free_aligned(v);
        return pt__fail(PT_ERR_NOMEM, "params: cannot allocate %lld gradient floats", (long long)n);
    }
    pt__free_aligned(P->grad); pt__free_aligned(P->adam_m); pt__free_aligned(P->adam_v);
    P->grad = g; P->adam_m = m; P->adam_v = v; P->n_grad = n;
    memset(g, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
    memset(m, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
    memset(v, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
    for (i = 0; i < P->count; i++) {
        pt_param *p = P->items[i];
        p->t.requires_grad = p->grad_offset >= 0;
        p->t.grad = p->grad_offset >= 0 ? P->grad + p->grad_offset : NULL;
    }
    return PT_OK;
}
PTDEF int pt_params_alloc(pt_params *P)
{
    int i;
    if (P->data) return pt__fail(PT_ERR_ARG, "pt_params_alloc: already allocated");
    P->data = pt__alloc_aligned_floats(P->n_data > 0 ? P->n_data : 1);
    if (!P->data) return pt__fail(PT_ERR_NOMEM, "pt_params_alloc: cannot allocate %lld floats", (long long)P->n_data);
    memset(P->data, 0, (size_t)(P->n_data > 0 ? P->n_data : 1) * sizeof(float));
    for (i = 0; i < P->count; i++) P->items[i]->t.data = P->data + P->items[i]->offset;
    return pt__params_layout_grads(P);
}
PTDEF int pt_params_set_trainable(pt_params *P, const char *pattern, int trainable)
{
    int i, hits = 0, st;
    for (i = 0; i < P->count; i++) {
        pt_param *p = P->items[i];
        if (!pt_glob_match(pattern, p->name)) continue;
        hits++;
        if (trainable) p->flags &= ~PT_PARAM_FROZEN; else p->flags |= PT_PARAM_FROZEN;
    }
    if (P->data && (st = pt__params_layout_grads(P)) != PT_OK) return st;
    return hits;
}
PTDEF void pt_params_zero_grad(pt_params *P) { if (P->grad) memset(P->grad, 0, (size_t)P->n_grad * sizeof(float)); }
PTDEF int64_t pt_params_count(const pt_params *P, int trainable_only)
{
    int64_t n = 0;
    int i;
    for (i = 0; i < P->count; i++)
        if (!trainable_only || !(P->items[i]->flags & PT_PARAM_FROZEN)) n += P->items[i]->t.size;
    return n;
}
PTDEF void pt_params_init_normal(pt_params *P, const char *pattern, float std, pt_rng *rng)
{
    int i; int64_t j;
    for (i = 0; i < P->count; i++)
        if (pt_glob_match(pattern, P->items[i]->name))
            for (j = 0; j < P->items[i]->t.size; j++) P->items[i]->t.data[j] = std * pt_rng_normal(rng);
}
PTDEF void pt_params_init_const(pt_params *P, const char *pattern, float value)
{
    int i; int64_t j;
    for (i = 0; i < P->count; i++)
        if (pt_glob_match(pattern, P->items[i]->name))
            for (j = 0; j < P->items[i]->t.size; j++) P->items[i]->t.data[j] = value;
}

/* ------------------------------------------------------------------------------------------------
   2a. Matmul kernels                                                              >>matmul
   The three products of a linear layer (y = x W^T, dx = dy W, dW = dy^T x) are one routine, pt_gemm,
   with strides. It follows the BLIS/GotoBLAS plan: pack a KC x NC block of B and an MC x KC block of A
   into panels laid out in the order the micro-kernel reads them (so every layout streams the same),
   then an MR x NR micro-kernel keeps a tile of C in registers and does KC rank-1 updates. Threads
   split C by rows (or columns when C is wide), each packing its own panels: no thread writes
   another's rows, and every element of C is summed over k in the same order for any thread count.
   gcc vectorises the plain `omp simd` kernel well; clang keeps C in registers only when the kernel
   is written with vector extensions, so clang gets that variant (both measured in tests/bench).
   ------------------------------------------------------------------------------------------------ */
#define PT__MR 8
#define PT__NR 32
#define PT__KC 256
#define PT__MC 128
#define PT__NC 1024

#if defined(__clang__)
typedef float pt__v16 __attribute__((vector_size(64), aligned(4)));
static void pt__microkernel(int kc, const float *PT__RESTRICT Ap, const float *PT__RESTRICT Bp,
                            float *PT__RESTRICT C, int64_t ldc, int mr, int nr, int accumulate)
{
    pt__v16 c[PT__MR][PT__NR / 16];
    float tile[PT__MR][PT__NR];
    int i, j, k;
    for (i = 0; i < PT__MR; i++) for (j = 0; j < PT__NR / 16; j++) c[i][j] = (pt__v16){0};
    for (k = 0; k < kc; k++) {
        const float *a = Ap + k * PT__MR;
        pt__v16 b[PT__NR / 16];
        for (j = 0; j < PT__NR / 16; j++) memcpy(&b[j], Bp + k * PT__NR + 16 * j, 64);
        for (i = 0; i < PT__MR; i++) {
            float av = a[i];
            for (j = 0; j < PT__NR / 16; j++) c[i][j] += av * b[j];
        }
    }
    memcpy(tile, c, sizeof tile);
#else
static void pt__microkernel(int kc, const float *PT__RESTRICT Ap, const float *PT__RESTRICT Bp,
                            float *PT__RESTRICT C, int64_t ldc, int mr, int nr, int accumulate)
{
    float tile[PT__MR][PT__NR];
    int i, j, k;
    for (i = 0; i < PT__MR; i++) for (j = 0; j < PT__NR; j++) tile[i][j] = 0.0f;
    for (k = 0; k < kc; k++) {
        const float *a = Ap + k * PT__MR, *b = Bp + k * PT__NR;
        for (i = 0; i < PT__MR; i++) {
            float av = a[i];
            PT__SIMD
            for (j = 0; j < PT__NR; j++) tile[i][j] += av * b[j];
        }
    }
#endif
    if (mr == PT__MR && nr == PT__NR) {
        for (i = 0; i < PT__MR; i++) {
            float *cr = C + i * ldc;
            if (accumulate) { PT__SIMD for (j = 0; j < PT__NR; j++) cr[j] += tile[i][j]; }
            else { PT__SIMD for (j = 0; j < PT__NR; j++) cr[j] = tile[i][j]; }
        }
    } else {
        for (i = 0; i < mr; i++)
            for (j = 0; j < nr; j++) C[i * ldc + j] = accumulate ? C[i * ldc + j] + tile[i][j] : tile[i][j];
    }
}

static void pt__pack_a(int mc, int kc, const float *A, int64_t rsa, int64_t csa, float *Ap)
{
    int ir, i, k;
    for (ir = 0; ir < mc; ir += PT__MR) {
        int mr = mc - ir < PT__MR ? mc - ir : PT__MR;
        float *dst = Ap + (int64_t)ir * kc;
        if (csa == 1 && mr == PT__MR) {
            for (i = 0; i < PT__MR; i++) {
                const float *src = A + (int64_t)(ir + i) * rsa;
                for (k = 0; k < kc; k++) dst[k * PT__MR + i] = src[k];
            }
        } else {
            for (k = 0; k < kc; k++) {
                const float *src = A + (int64_t)ir * rsa + (int64_t)k * csa;
                for (i = 0; i < PT__MR; i++) dst[k * PT__MR + i] = i < mr ? src[i * rsa] : 0.0f;
            }
        }
    }
}
static void pt__pack_b(int kc, int nc, const float *B, int64_t rsb, int64_t csb, float *Bp)
{
    int jr, j, k;
    for (jr = 0; jr < nc; jr += PT__NR) {
        int nr = nc - jr < PT__NR ? nc - jr : PT__NR;
        float *dst = Bp + (int64_t)jr * kc;
        if (csb == 1 && nr == PT__NR) {
            for (k = 0; k < kc; k++) {
                const float *src = B + (int64_t)k * rsb + jr;
                PT__SIMD for (j = 0; j < PT__NR; j++) dst[k * PT__NR + j] = src[j];
            }
        } else if (rsb == 1 && nr == PT__NR) {
            for (j = 0; j < PT__NR; j++) {
                const float *src = B + (int64_t)(jr + j) * csb;
                for (k = 0; k < kc; k++) dst[k * PT__NR + j] = src[k];
            }
        } else {
            for (k = 0; k < kc; k++) {
                const float *src = B + (int64_t)k * rsb + (int64_t)jr * csb;
                for (j = 0; j < PT__NR; j++) dst[k * PT__NR + j] = j < nr ? src[j * csb] : 0.0f;
            }
        }
    }
}
static void pt__gemm_serial(int M, int N, int K, const float *A, int64_t rsa, int64_t csa,
                            const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                            int accumulate, float *Ap, float *Bp)
{
    int jc, pc, ic, jr, ir;
    for (jc = 0; jc < N; jc += PT__NC) {
        int nc = N - jc < PT__NC ? N - jc : PT__NC;
        for (pc = 0; pc < K; pc += PT__KC) {
            int kc = K - pc < PT__KC ? K - pc : PT__KC;
            pt__pack_b(kc, nc, B + (int64_t)pc * rsb + (int64_t)jc * csb, rsb, csb, Bp);
            for (ic = 0; ic < M; ic += PT__MC) {
                int mc = M - ic < PT__MC ? M - ic : PT__MC;
                pt__pack_a(mc, kc, A + (int64_t)ic * rsa + (int64_t)pc * csa, rsa, csa, Ap);
                for (jr = 0; jr < nc; jr += PT__NR) {
                    int nr = nc - jr < PT__NR ? nc - jr : PT__NR;
                    for (ir = 0; ir < mc; ir += PT__MR) {
                        int mr = mc - ir < PT__MR ? mc - ir : PT__MR;
                        pt__microkernel(kc, Ap + (int64_t)ir * kc, Bp + (int64_t)jr * kc,
                                        C + (int64_t)(ic + ir) * ldc + jc + jr, ldc, mr, nr,
                                        accumulate || pc > 0);
                    }
                }
            }
        }
    }
}

/* Per-thread packing buffers, allocated once and reused by every call (process-wide). */
static float *pt__pack_bufs[64];
static int pt__pack_nbufs;
static int pt__ensure_pack_bufs(int nt)
{
    int t;
    if (nt > 64) nt = 64;
    for (t = pt__pack_nbufs; t < nt; t++) {
        pt__pack_bufs[t] = pt__alloc_aligned_floats((int64_t)PT__MC * PT__KC + (int64_t)PT__KC * (PT__NC + PT__NR));
        if (!pt__pack_bufs[t]) return t;
        pt__pack_nbufs = t + 1;
    }
    return nt;
}

/* Few rows of A times a B whose columns are contiguous along k (the decoding case y = x W^T):
   dot products straight from W, no packing. Split over columns. */
static void pt__gemv_rows(int M, int N, int K, const float *A, int64_t rsa, const float *B, int64_t csb,
                          float *C, int64_t ldc, int accumulate)
{
    int j;
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)N * K > 32768)
#endif
    for (j = 0; j < N; j++) {
        const float *w = B + (int64_t)j * csb;
        int i, k;
        for (i = 0; i < M; i++) {
            const float *x = A + (int64_t)i * rsa;
            float s = 0.0f;
            PT__SIMD_SUM(s)
            for (k = 0; k < K; k++) s += x[k] * w[k];
            C[(int64_t)i * ldc + j] = accumulate ? C[(int64_t)i * ldc + j] + s : s;
        }
    }
}

PTDEF void pt_gemm(int M, int N, int K, const float *A, int64_t rsa, int64_t csa,
                   const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, int accumulate)
{
    int nt = pt_get_threads(), have;
    double flops = 2.0 * M * N * K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        int i, j;
        if (!accumulate) for (i = 0; i < M; i++) for (j = 0; j < N; j++) C[(int64_t)i * ldc + j] = 0.0f;
        return;
    }
    if (M <= 4 && csa == 1 && rsb == 1) { pt__gemv_rows(M, N, K, A, rsa, B, csb, C, ldc, accumulate); return; }
    if (flops < 262144.0) nt = 1;   /* a parallel region costs more than this much work */
    have = pt__ensure_pack_bufs(nt);
    if (have < 1) { /* no memory for packing: a slow but correct fallback */
        int i, j, k;
        for (i = 0; i < M; i++) for (j = 0; j < N; j++) {
            float s = 0.0f;
            for (k = 0; k < K; k++) s += A[i * rsa + k * csa] * B[k * rsb + j * csb];
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
        }
        return;
    }
    if (nt > have) nt = have;
#if PT__OMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        int t = pt__thread_id(), T = pt__num_threads();
        float *Ap = pt__pack_bufs[t], *Bp = Ap + (int64_t)PT__MC * PT__KC;
        if (M >= N) {   /* split rows of C in whole micro-tiles */
            int tiles = (M + PT__MR - 1) / PT__MR;
            int m0 = (int)((int64_t)tiles * t / T) * PT__MR, m1 = (int)((int64_t)tiles * (t + 1) / T) * PT__MR;
            if (m1 > M) m1 = M;
            if (m1 > m0) pt__gemm_serial(m1 - m0, N, K, A + (int64_t)m0 * rsa, rsa, csa, B, rsb, csb,
                                         C + (int64_t)m0 * ldc, ldc, accumulate, Ap, Bp);
        } else {        /* split columns */
            int tiles = (N + PT__NR - 1) / PT__NR;
            int n0 = (int)((int64_t)tiles * t / T) * PT__NR, n1 = (int)((int64_t)tiles * (t + 1) / T) * PT__NR;
            if (n1 > N) n1 = N;
            if (n1 > n0) pt__gemm_serial(M, n1 - n0, K, A, rsa, csa, B + (int64_t)n0 * csb, rsb, csb,
                                         C + n0, ldc, accumulate, Ap, Bp);
        }
    }
}

static void pt__linear_backward(pt_ctx *ctx, pt__node *n)
{
    pt_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    int M = pt_tensor_rows(x), K = pt_tensor_cols(x), N = w->shape[0];
    float *gx = pt__grad(ctx, x), *gw = pt__grad(ctx, w), *gb = pt__grad(ctx, b);
    if (gx) pt_gemm(M, K, N, y->grad, N, 1, w->data, K, 1, gx, K, 1);          /* dx += dy W     */
    if (gw) pt_gemm(N, K, M, y->grad, 1, N, x->data, K, 1, gw, K, 1);          /* dW += dy^T x   */
    if (gb) {
        int i, j;
        for (i = 0; i < M; i++) { const float *g = y->grad + (int64_t)i * N; PT__SIMD for (j = 0; j < N; j++) gb[j] += g[j]; }
    }
}
PTDEF pt_tensor *pt_linear(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, pt_tensor *b)
{
    pt_tensor *y;
    int shape[4], d, M, K, N;
    if (!x || !w) return NULL;
    if (w->ndim != 2 || pt_tensor_cols(x) != w->shape[1])
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_linear: x has last dim %d but W is [%d, %d] (out, in)",
                                         pt_tensor_cols(x), w->shape[0], w->ndim > 1 ? w->shape[1] : 0);
    if (b && (b->size != w->shape[0]))
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_linear: bias has %lld elements, W has %d outputs", (long long)b->size, w->shape[0]);
    M = pt_tensor_rows(x); K = pt_tensor_cols(x); N = w->shape[0];
    for (d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = N;
    y = pt__new_uninit(ctx, x->ndim, shape);
    if (!y) return NULL;
    pt_gemm(M, N, K, x->data, K, 1, w->data, 1, K, y->data, N, 0);
    if (b) { int i, j; for (i = 0; i < M; i++) { float *r = y->data + (int64_t)i * N; PT__SIMD for (j = 0; j < N; j++) r[j] += b->data[j]; } }
    pt__record(ctx, pt__linear_backward, y, x, w, b);
    return y;
}
static void pt__matmul_backward(pt_ctx *ctx, pt__node *n)
{
    pt_tensor *a = n->in[0], *b = n->in[1], *c = n->out;
    int M = a->shape[0], K = a->shape[1], N = b->shape[1];
    float *ga = pt__grad(ctx, a), *gb = pt__grad(ctx, b);
    if (ga) pt_gemm(M, K, N, c->grad, N, 1, b->data, 1, N, ga, K, 1);   /* da += dc b^T */
    if (gb) pt_gemm(K, N, M, a->data, 1, K, c->grad, N, 1, gb, N, 1);   /* db += a^T dc */
}
PTDEF pt_tensor *pt_matmul(pt_ctx *ctx, pt_tensor *a, pt_tensor *b)
{
    pt_tensor *c;
    int shape[2];
    if (!a || !b) return NULL;
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0])
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_matmul: need a[M,K] b[K,N]; got %dD and %dD with K %d vs %d",
                                         a->ndim, b->ndim, a->shape[a->ndim - 1], b->shape[0]);
    shape[0] = a->shape[0]; shape[1] = b->shape[1];
    c = pt__new_uninit(ctx, 2, shape);
    if (!c) return NULL;
    pt_gemm(shape[0], shape[1], a->shape[1], a->data, a->shape[1], 1, b->data, b->shape[1], 1, c->data, shape[1], 0);
    pt__record(ctx, pt__matmul_backward, c, a, b, NULL);
    return c;
}

/* ------------------------------------------------------------------------------------------------
   2b. Elementwise ops and reductions                                          >>elementwise
   One forward and one backward per family, switching on the op outside the loop so each inner
   loop stays a simple vectorisable body. Unary: y = f(x), dx += dy * f'(x) (from x or y).
   Binary: z = f(a, b), da += dz * df/da, db += dz * df/db.
   ------------------------------------------------------------------------------------------------ */
enum { PT__EXP, PT__LOG, PT__SQUARE, PT__SIGMOID, PT__LOGSIG, PT__TANH, PT__SILU, PT__RELU, PT__SCALE,
       PT__ADDS, PT__CLAMP };
#define PT__PAR_N PT__PRAGMA(omp parallel for simd schedule(static) if (n > 65536))
#if !PT__OMP
#undef PT__PAR_N
#define PT__PAR_N PT__SIMD
#endif

static float pt__sigmoidf(float x) { return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x)); }
static float pt__log_sigmoidf(float x) { return x >= 0 ? -log1pf(expf(-x)) : x - log1pf(expf(x)); }

static void pt__unary_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *a = nd->in[0], *y = nd->out;
    const float *x = a->data, *yv = y->data, *dy = y->grad;
    float *dx = pt__grad(ctx, a), s = nd->f[0], hi = nd->f[1];
    int64_t i, n = a->size;
    if (!dx) return;
    switch (nd->i[0]) {
    case PT__EXP: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] * yv[i]; break;
    case PT__LOG: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] / x[i]; break;
    case PT__SQUARE: PT__PAR_N for (i = 0; i < n; i++) dx[i] += 2.0f * dy[i] * x[i]; break;
    case PT__SIGMOID: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] * yv[i] * (1.0f - yv[i]); break;
    case PT__LOGSIG: for (i = 0; i < n; i++) dx[i] += dy[i] * pt__sigmoidf(-x[i]); break; /* d/dx log s(x) = s(-x) */
    case PT__TANH: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - yv[i] * yv[i]); break;
    case PT__SILU:
        for (i = 0; i < n; i++) { float sg = pt__sigmoidf(x[i]); dx[i] += dy[i] * sg * (1.0f + x[i] * (1.0f - sg)); }
        break;
    case PT__RELU: PT__PAR_N for (i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : 0.0f; break;
    case PT__SCALE: PT__PAR_N for (i = 0; i < n; i++) dx[i] += s * dy[i]; break;
    case PT__ADDS: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i]; break;
    case PT__CLAMP: PT__PAR_N for (i = 0; i < n; i++) dx[i] += (x[i] >= s && x[i] <= hi) ? dy[i] : 0.0f; break;
    }
}
static pt_tensor *pt__unary(pt_ctx *ctx, pt_tensor *a, int op, float s, float hi)
{
    pt_tensor *y;
    pt__node *nd;
    float *yv;
    const float *x;
    int64_t i, n;
    if (!a) return NULL;
    y = pt__like(ctx, a);
    if (!y) return NULL;
    yv = y->data; x = a->data; n = a->size;
    switch (op) {
    case PT__EXP: for (i = 0; i < n; i++) yv[i] = expf(x[i]); break;
    case PT__LOG: for (i = 0; i < n; i++) yv[i] = logf(x[i]); break;
    case PT__SQUARE: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] * x[i]; break;
    case PT__SIGMOID: for (i = 0; i < n; i++) yv[i] = pt__sigmoidf(x[i]); break;
    case PT__LOGSIG: for (i = 0; i < n; i++) yv[i] = pt__log_sigmoidf(x[i]); break;
    case PT__TANH: for (i = 0; i < n; i++) yv[i] = tanhf(x[i]); break;
    case PT__SILU: for (i = 0; i < n; i++) yv[i] = x[i] * pt__sigmoidf(x[i]); break;
    case PT__RELU: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] > 0 ? x[i] : 0.0f; break;
    case PT__SCALE: PT__PAR_N for (i = 0; i < n; i++) yv[i] = s * x[i]; break;
    case PT__ADDS: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] + s; break;
    case PT__CLAMP: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] < s ? s : (x[i] > hi ? hi : x[i]); break;
    }
    nd = pt__record(ctx, pt__unary_backward, y, a, NULL, NULL);
    if (nd) { nd->i[0] = op; nd->f[0] = s; nd->f[1] = hi; }
    return y;
}
PTDEF pt_tensor *pt_exp(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__EXP, 0, 0); }
PTDEF pt_tensor *pt_log(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__LOG, 0, 0); }
PTDEF pt_tensor *pt_square(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__SQUARE, 0, 0); }
PTDEF pt_tensor *pt_sigmoid(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__SIGMOID, 0, 0); }
PTDEF pt_tensor *pt_log_sigmoid(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__LOGSIG, 0, 0); }
PTDEF pt_tensor *pt_tanh(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__TANH, 0, 0); }
PTDEF pt_tensor *pt_silu(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__SILU, 0, 0); }
PTDEF pt_tensor *pt_relu(pt_ctx *ctx, pt_tensor *a) { return pt__unary(ctx, a, PT__RELU, 0, 0); }
PTDEF pt_tensor *pt_scale(pt_ctx *ctx, pt_tensor *a, float s) { return pt__unary(ctx, a, PT__SCALE, s, 0); }
PTDEF pt_tensor *pt_add_scalar(pt_ctx *ctx, pt_tensor *a, float s) { return pt__unary(ctx, a, PT__ADDS, s, 0); }
PTDEF pt_tensor *pt_clamp(pt_ctx *ctx, pt_tensor *a, float lo, float hi)
{
    if (a && !(lo <= hi)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_clamp: lo %g > hi %g", (double)lo, (double)hi);
    return pt__unary(ctx, a, PT__CLAMP, lo, hi);
}

enum { PT__ADD, PT__SUB, PT__MUL, PT__DIV, PT__MIN, PT__MAX, PT__SWIGLU };
static void pt__binary_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *A = nd->in[0], *B = nd->in[1], *z = nd->out;
    const float *a = A->data, *b = B->data, *dz = z->grad;
    float *da = pt__grad(ctx, A), *db = pt__grad(ctx, B);
    int64_t i, n = A->size;
    switch (nd->i[0]) {
    case PT__ADD:
        if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i]; }
        if (db) { PT__PAR_N for (i = 0; i < n; i++) db[i] += dz[i]; }
        break;
    case PT__SUB:
        if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i]; }
        if (db) { PT__PAR_N for (i = 0; i < n; i++) db[i] -= dz[i]; }
        break;
    case PT__MUL:
        if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i] * b[i]; }
        if (db) { PT__PAR_N for (i = 0; i < n; i++) db[i] += dz[i] * a[i]; }
        break;
    case PT__DIV:
        if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i] / b[i]; }
        if (db) { PT__PAR_N for (i = 0; i < n; i++) db[i] -= dz[i] * a[i] / (b[i] * b[i]); }
        break;
    case PT__MIN:
        if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += a[i] <= b[i] ? dz[i] : 0.0f; }
        if (db) { PT__PAR_N for (i = 0; i < n; i++) db[i] += a[i] <= b[i] ? 0.0f : dz[i]; }
        break;
    case PT__MAX:
        if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += a[i] >= b[i] ? dz[i] : 0.0f; }
        if (db) { PT__PAR_N for (i = 0; i < n; i++) db[i] += a[i] >= b[i] ? 0.0f : dz[i]; }
        break;
    case PT__SWIGLU: /* z = silu(a) * b */
#if PT__OMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
        for (i = 0; i < n; i++) {
            float sg = pt__sigmoidf(a[i]);
            if (da) da[i] += dz[i] * b[i] * sg * (1.0f + a[i] * (1.0f - sg));
            if (db) db[i] += dz[i] * a[i] * sg;
        }
        break;
    }
}
static pt_tensor *pt__binary(pt_ctx *ctx, pt_tensor *A, pt_tensor *B, int op, const char *name)
{
    pt_tensor *z;
    pt__node *nd;
    const float *a, *b;
    float *o;
    int64_t i, n;
    if (!A || !B) return NULL;
    if (!pt_same_shape(A, B))
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "%s: shapes differ (%lld vs %lld elements, %dD vs %dD)", name,
                                         (long long)A->size, (long long)B->size, A->ndim, B->ndim);
    z = pt__like(ctx, A);
    if (!z) return NULL;
    a = A->data; b = B->data; o = z->data; n = A->size;
    switch (op) {
    case PT__ADD: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] + b[i]; break;
    case PT__SUB: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] - b[i]; break;
    case PT__MUL: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] * b[i]; break;
    case PT__DIV: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] / b[i]; break;
    case PT__MIN: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] <= b[i] ? a[i] : b[i]; break;
    case PT__MAX: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] >= b[i] ? a[i] : b[i]; break;
    case PT__SWIGLU:
#if PT__OMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
        for (i = 0; i < n; i++) o[i] = a[i] / (1.0f + expf(-a[i])) * b[i];
        break;
    }
    nd = pt__record(ctx, pt__binary_backward, z, A, B, NULL);
    if (nd) nd->i[0] = op;
    return z;
}
PTDEF pt_tensor *pt_add(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__ADD, "pt_add"); }
PTDEF pt_tensor *pt_sub(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__SUB, "pt_sub"); }
PTDEF pt_tensor *pt_mul(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__MUL, "pt_mul"); }
PTDEF pt_tensor *pt_div(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__DIV, "pt_div"); }
PTDEF pt_tensor *pt_minimum(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__MIN, "pt_minimum"); }
PTDEF pt_tensor *pt_maximum(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__MAX, "pt_maximum"); }
PTDEF pt_tensor *pt_swiglu(pt_ctx *ctx, pt_tensor *gate, pt_tensor *up) { return pt__binary(ctx, gate, up, PT__SWIGLU, "pt_swiglu"); }

static void pt__add_row_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *a = nd->in[0], *row = nd->in[1], *z = nd->out;
    float *da = pt__grad(ctx, a), *dr = pt__grad(ctx, row);
    int R = pt_tensor_rows(a), C = pt_tensor_cols(a), r, c;
    int64_t i, n = a->size;
    if (da) { const float *dz = z->grad; PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i]; }
    if (dr) for (r = 0; r < R; r++) { const float *g = z->grad + (int64_t)r * C; PT__SIMD for (c = 0; c < C; c++) dr[c] += g[c]; }
}
PTDEF pt_tensor *pt_add_row(pt_ctx *ctx, pt_tensor *a, pt_tensor *row)
{
    pt_tensor *z;
    int R, C, r, c;
    if (!a || !row) return NULL;
    if (row->size != pt_tensor_cols(a))
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_add_row: row has %lld elements, a's last dim is %d", (long long)row->size, pt_tensor_cols(a));
    z = pt__like(ctx, a);
    if (!z) return NULL;
    R = pt_tensor_rows(a); C = pt_tensor_cols(a);
    for (r = 0; r < R; r++) {
        const float *x = a->data + (int64_t)r * C; float *o = z->data + (int64_t)r * C;
        PT__SIMD for (c = 0; c < C; c++) o[c] = x[c] + row->data[c];
    }
    pt__record(ctx, pt__add_row_backward, z, a, row, NULL);
    return z;
}

static void pt__copy_grad_backward(pt_ctx *ctx, pt__node *nd)
{
    float *da = pt__grad(ctx, nd->in[0]);
    const float *dz = nd->out->grad;
    int64_t i, n = nd->out->size;
    if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i]; }
}
PTDEF pt_tensor *pt_reshape(pt_ctx *ctx, pt_tensor *a, int ndim, const int *shape)
{
    pt_tensor *z;
    int64_t size = 1;
    int d;
    if (!a) return NULL;
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_reshape: ndim %d not in 1..4", ndim);
    for (d = 0; d < ndim; d++) { if (shape[d] < 1) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_reshape: dim %d is %d", d, shape[d]); size *= shape[d]; }
    if (size != a->size) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_reshape: %lld elements into a shape of %lld", (long long)a->size, (long long)size);
    z = (pt_tensor *)pt_arena_alloc(&ctx->arena, sizeof(pt_tensor));
    if (!z) return NULL;
    memset(z, 0, sizeof *z);
    z->data = a->data; z->ndim = ndim; z->size = size;
    for (d = 0; d < ndim; d++) z->shape[d] = shape[d];
    pt__record(ctx, pt__copy_grad_backward, z, a, NULL, NULL);
    return z;
}
PTDEF pt_tensor *pt_detach(pt_ctx *ctx, pt_tensor *a)
{
    pt_tensor *z;
    if (!a) return NULL;
    z = (pt_tensor *)pt_arena_alloc(&ctx->arena, sizeof(pt_tensor));
    if (!z) return NULL;
    *z = *a;
    z->grad = NULL; z->requires_grad = 0;
    return z;
}

/* Reductions keep a fixed order (serial, in double) so sums never depend on the thread count. */
static float *pt__copy_mask(pt_ctx *ctx, const float *mask, int64_t n)
{
    float *m;
    if (!mask) return NULL;
    m = pt__floats(ctx, n);
    if (m) memcpy(m, mask, (size_t)n * sizeof(float));
    return m;
}
/* out[r] = scale_r * sum_c a[r,c] * m[r,c]; i[0] = columns per output row, f[0] = global scale or
   aux[1] = per-row scales. */
static void pt__rowsum_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *a = nd->in[0], *z = nd->out;
    float *da = pt__grad(ctx, a);
    const float *m = (const float *)nd->aux[0], *rs = (const float *)nd->aux[1];
    int C = nd->i[0], R = (int)(a->size / C), r, c;
    if (!da) return;
    for (r = 0; r < R; r++) {
        float g = z->grad[r] * (rs ? rs[r] : nd->f[0]);
        float *d = da + (int64_t)r * C;
        if (m) { const float *mr = m + (int64_t)r * C; PT__SIMD for (c = 0; c < C; c++) d[c] += g * mr[c]; }
        else { PT__SIMD for (c = 0; c < C; c++) d[c] += g; }
    }
}
static pt_tensor *pt__rowsum(pt_ctx *ctx, pt_tensor *a, const float *mask, int whole, int mean)
{
    pt_tensor *z;
    pt__node *nd;
    float *m, *rs = NULL;
    int C, R, r, c, one = 1;
    double total_w = 0;
    if (!a) return NULL;
    C = whole ? (int)a->size : pt_tensor_cols(a);
    if (whole && a->size > 0x7fffffff) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "sum: tensor too large");
    R = (int)(a->size / C);
    m = pt__copy_mask(ctx, mask, a->size);
    if (mask && !m) return NULL;
    z = whole ? pt__new_uninit(ctx, 1, &one) : pt__new_uninit(ctx, 1, &R);
    if (!z) return NULL;
    if (mean && !whole) { rs = pt__floats(ctx, R); if (!rs) return NULL; }
    for (r = 0; r < R; r++) {
        const float *x = a->data + (int64_t)r * C;
        double s = 0, w = 0;
        if (m) { const float *mr = m + (int64_t)r * C; for (c = 0; c < C; c++) { s += (double)x[c] * mr[c]; w += mr[c]; } }
        else { for (c = 0; c < C; c++) s += x[c]; w = C; }
        if (mean && !whole) { rs[r] = w != 0 ? (float)(1.0 / w) : 0.0f; s = w != 0 ? s / w : 0.0; }
        z->data[r] = (float)s;
        total_w += w;
    }
    if (mean && whole) z->data[0] = total_w != 0 ? (float)(z->data[0] / total_w) : 0.0f;
    nd = pt__record(ctx, pt__rowsum_backward, z, a, NULL, NULL);
    if (nd) {
        nd->aux[0] = m; nd->aux[1] = rs; nd->i[0] = C;
        nd->f[0] = (mean && whole) ? (total_w != 0 ? (float)(1.0 / total_w) : 0.0f) : 1.0f;
    }
    return z;
}
PTDEF pt_tensor *pt_sum(pt_ctx *ctx, pt_tensor *a) { return pt__rowsum(ctx, a, NULL, 1, 0); }
PTDEF pt_tensor *pt_mean(pt_ctx *ctx, pt_tensor *a) { return pt__rowsum(ctx, a, NULL, 1, 1); }
PTDEF pt_tensor *pt_masked_sum(pt_ctx *ctx, pt_tensor *a, const float *mask) { return pt__rowsum(ctx, a, mask, 1, 0); }
PTDEF pt_tensor *pt_masked_mean(pt_ctx *ctx, pt_tensor *a, const float *mask) { return pt__rowsum(ctx, a, mask, 1, 1); }
PTDEF pt_tensor *pt_row_sum(pt_ctx *ctx, pt_tensor *a, const float *mask) { return pt__rowsum(ctx, a, mask, 0, 0); }
PTDEF pt_tensor *pt_row_mean(pt_ctx *ctx, pt_tensor *a, const float *mask) { return pt__rowsum(ctx, a, mask, 0, 1); }

/* ------------------------------------------------------------------------------------------------
   2c. Transformer blocks: embedding, RMSNorm, RoPE, attention                    >>blocks
   ------------------------------------------------------------------------------------------------ */
static int *pt__copy_ints(pt_ctx *ctx, const int *v, int64_t n)
{
    int *c;
    if (!v) return NULL;
    c = (int *)pt_arena_alloc(&ctx->arena, (size_t)n * sizeof(int));
    if (c) memcpy(c, v, (size_t)n * sizeof(int));
    return c;
}

static void pt__embedding_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *table = nd->in[0], *z = nd->out;
    float *dt = pt__grad(ctx, table);
    const int *ids = (const int *)nd->aux[0];
    int n = nd->i[0], D = table->shape[1], i, c;
    if (!dt) return;
    for (i = 0; i < n; i++) {   /* serial: repeated ids add into the same row */
        float *row = dt + (int64_t)ids[i] * D; const float *g = z->grad + (int64_t)i * D;
        PT__SIMD for (c = 0; c < D; c++) row[c] += g[c];
    }
}
PTDEF pt_tensor *pt_embedding(pt_ctx *ctx, pt_tensor *table, const int *ids, int n_ids)
{
    pt_tensor *z;
    pt__node *nd;
    int shape[2], i, V, D;
    if (!table) return NULL;
    if (table->ndim != 2) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_embedding: table must be [V, D], is %dD", table->ndim);
    if (!ids || n_ids < 1) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_embedding: need at least one id");
    V = table->shape[0]; D = table->shape[1];
    for (i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_embedding: token id %d at position %d is outside the vocabulary [0, %d)", ids[i], i, V);
    shape[0] = n_ids; shape[1] = D;
    z = pt__new_uninit(ctx, 2, shape);
    if (!z) return NULL;
    for (i = 0; i < n_ids; i++) memcpy(z->data + (int64_t)i * D, table->data + (int64_t)ids[i] * D, (size_t)D * sizeof(float));
    nd = pt__record(ctx, pt__embedding_backward, z, table, NULL, NULL);
    if (nd) { nd->aux[0] = pt__copy_ints(ctx, ids, n_ids); nd->i[0] = n_ids; if (!nd->aux[0]) return NULL; }
    return z;
}

/* RMSNorm: r = 1/sqrt(mean(x^2) + eps), y = x r w.
   dx_i = r w_i dy_i - x_i r^3 / C * sum_j dy_j w_j x_j;   dw_i += sum_rows dy_i x_i r. */
static void pt__rmsnorm_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *w = nd->in[1], *y = nd->out;
    const float *rstd = (const float *)nd->aux[0];
    float *dx = pt__grad(ctx, x), *dw = pt__grad(ctx, w);
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), r;
    if (dx) {
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)R * C > 32768)
#endif
        for (r = 0; r < R; r++) {
            const float *xr = x->data + (int64_t)r * C, *g = y->grad + (int64_t)r * C;
            float *d = dx + (int64_t)r * C, rs = rstd[r], dot = 0.0f, k;
            int c;
            PT__SIMD_SUM(dot) for (c = 0; c < C; c++) dot += g[c] * w->data[c] * xr[c];
            k = dot * rs * rs * rs / (float)C;
            PT__SIMD for (c = 0; c < C; c++) d[c] += rs * w->data[c] * g[c] - xr[c] * k;
        }
    }
    if (dw) {
        for (r = 0; r < R; r++) {
            const float *xr = x->data + (int64_t)r * C, *g = y->grad + (int64_t)r * C;
            float rs = rstd[r];
            int c;
            PT__SIMD for (c = 0; c < C; c++) dw[c] += g[c] * xr[c] * rs;
        }
    }
}
PTDEF pt_tensor *pt_rmsnorm(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, float eps)
{
    pt_tensor *y;
    pt__node *nd;
    float *rstd;
    int R, C, r;
    if (!x || !w) return NULL;
    C = pt_tensor_cols(x); R = pt_tensor_rows(x);
    if (w->size != C) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_rmsnorm: weight has %lld elements, x's last dim is %d", (long long)w->size, C);
    y = pt__like(ctx, x);
    rstd = pt__floats(ctx, R);
    if (!y || !rstd) return NULL;
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)R * C > 32768)
#endif
    for (r = 0; r < R; r++) {
        const float *xr = x->data + (int64_t)r * C;
        float *yr = y->data + (int64_t)r * C, ss = 0.0f, rs;
        int c;
        PT__SIMD_SUM(ss) for (c = 0; c < C; c++) ss += xr[c] * xr[c];
        rs = 1.0f / sqrtf(ss / (float)C + eps);
        rstd[r] = rs;
        PT__SIMD for (c = 0; c < C; c++) yr[c] = w->data[c] * (rs * xr[c]);
    }
    nd = pt__record(ctx, pt__rmsnorm_backward, y, x, w, NULL);
    if (nd) nd->aux[0] = rstd;
    return y;
}

/* RoPE: for each pair (x0, x1) = (x[2i], x[2i+1]) at position p, angle a = p * theta^(-2i/hd):
   y0 = x0 cos a - x1 sin a, y1 = x0 sin a + x1 cos a. The backward rotates by -a. The angles use
   float math in the order llama2.c uses, so imported models generate the same tokens. */
static void pt__rope_apply(const float *in, float *out, const float *cs, int rows_bt, int H, int hd, int inverse)
{
    int r;
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)rows_bt * H * hd > 32768)
#endif
    for (r = 0; r < rows_bt; r++) {
        const float *c = cs + (int64_t)r * hd;  /* hd/2 cos then hd/2 sin */
        int h, i;
        for (h = 0; h < H; h++) {
            const float *x = in + ((int64_t)r * H + h) * hd;
            float *y = out + ((int64_t)r * H + h) * hd;
            for (i = 0; i < hd / 2; i++) {
                float co = c[i], si = inverse ? -c[hd / 2 + i] : c[hd / 2 + i];
                float x0 = x[2 * i], x1 = x[2 * i + 1];
                y[2 * i] += x0 * co - x1 * si;
                y[2 * i + 1] += x0 * si + x1 * co;
            }
        }
    }
}
static void pt__rope_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *y = nd->out;
    float *dx = pt__grad(ctx, x);
    if (dx) pt__rope_apply(y->grad, dx, (const float *)nd->aux[0], x->shape[0] * x->shape[1], x->shape[2], x->shape[3], 1);
}
PTDEF pt_tensor *pt_rope(pt_ctx *ctx, pt_tensor *x, const int *pos, float theta)
{
    pt_tensor *y;
    pt__node *nd;
    float *cs;
    int B, T, hd, r, i;
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[3] % 2 != 0)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_rope: x must be [B, T, H, hd] with even hd");
    B = x->shape[0]; T = x->shape[1]; hd = x->shape[3];
    cs = pt__floats(ctx, (int64_t)B * T * hd);
    y = pt_tensor_new(ctx, 4, x->shape);
    if (!cs || !y) return NULL;
    for (r = 0; r < B * T; r++) {
        int p = pos ? pos[r] : r % T;
        if (p < 0) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_rope: negative position %d at row %d", p, r);
        for (i = 0; i < hd / 2; i++) {
            float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd);
            float a = (float)p * freq;
            cs[(int64_t)r * hd + i] = cosf(a);
            cs[(int64_t)r * hd + hd / 2 + i] = sinf(a);
        }
    }
    pt__rope_apply(x->data, y->data, cs, B * T, x->shape[2], hd, 0);
    nd = pt__record(ctx, pt__rope_backward, y, x, NULL, NULL);
    if (nd) nd->aux[0] = cs;
    return y;
}

/* Causal attention with grouped-query heads and segment masks.
   S[t,s] = q_t . k_s / sqrt(hd) for allowed s (s <= t, same segment), P = softmax_s(S), o_t = sum_s P[t,s] v_s.
   Backward (per row t): dP_s = do_t . v_s;  dS_s = P_s (dP_s - sum_u P_u dP_u);
   dq_t = sum_s dS_s k_s / sqrt(hd);  dk_s += dS_s q_t / sqrt(hd);  dv_s += P_s do_t.
   K and V are first transposed to [B, KVH, hd, T] so every inner loop runs over positions s
   (contiguous) whatever the head size. The forward parallelises over (b, h); the backward over
   (b, kv head) so each thread owns the dK/dV rows it writes. P is saved: B*H*T*T floats. */
typedef struct pt__attn_saved { float *P, *kt, *vt; int *seg; } pt__attn_saved;

static int pt__attn_allowed(const int *seg, int t, int s) { return !seg || (seg[s] == seg[t] && seg[t] != 0); }

static void pt__attention_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *o = nd->out;
    pt__attn_saved *sv = (pt__attn_saved *)nd->aux[0];
    int B = q->shape[0], T = q->shape[1], H = q->shape[2], hd = q->shape[3], KVH = k->shape[2];
    int group = H / KVH, bk;
    float scale = 1.0f / sqrtf((float)hd);
    float *dq = pt__grad(ctx, q), *dk = pt__grad(ctx, k), *dv = pt__grad(ctx, v);
    /* scratch: per (b, kvh) transposed dK, dV accumulators, and one dP row per thread */
    float *dkt = pt__floats(ctx, (int64_t)B * KVH * hd * T), *dvt = pt__floats(ctx, (int64_t)B * KVH * hd * T);
    float *dprow = pt__floats(ctx, (int64_t)B * KVH * T);
    if (!dkt || !dvt || !dprow) return;
    memset(dkt, 0, (size_t)B * KVH * hd * T * sizeof(float));
    memset(dvt, 0, (size_t)B * KVH * hd * T * sizeof(float));
#if PT__OMP
#pragma omp parallel for schedule(dynamic, 1) if ((int64_t)B * H * T * T * hd > 65536)
#endif
    for (bk = 0; bk < B * KVH; bk++) {
        int b = bk / KVH, kh = bk % KVH, g, t, s, d;
        const float *kt = sv->kt + (int64_t)bk * hd * T, *vt = sv->vt + (int64_t)bk * hd * T;
        float *gkt = dkt + (int64_t)bk * hd * T, *gvt = dvt + (int64_t)bk * hd * T, *dp = dprow + (int64_t)bk * T;
        const int *seg = sv->seg ? sv->seg + (int64_t)b * T : NULL;
        for (g = 0; g < group; g++) {
            int h = kh * group + g;
            for (t = 0; t < T; t++) {
                const float *P = sv->P + (((int64_t)b * H + h) * T + t) * T;
                const float *gout = o->grad + (((int64_t)b * T + t) * H + h) * hd;
                const float *qt = q->data + (((int64_t)b * T + t) * H + h) * hd;
                float dot = 0.0f;
                if (seg && seg[t] == 0) continue;
                for (s = 0; s <= t; s++) dp[s] = 0.0f;
                for (d = 0; d < hd; d++) {
                    const float *vr = vt + (int64_t)d * T; float gd = gout[d];
                    PT__SIMD for (s = 0; s <= t; s++) dp[s] += gd * vr[s];
                }
                PT__SIMD_SUM(dot) for (s = 0; s <= t; s++) dot += P[s] * dp[s];
                PT__SIMD for (s = 0; s <= t; s++) dp[s] = P[s] * (dp[s] - dot) * scale;   /* dS * scale */
                for (d = 0; d < hd; d++) {
                    const float *kr = kt + (int64_t)d * T;
                    float *gk = gkt + (int64_t)d * T, *gv = gvt + (int64_t)d * T, acc = 0.0f, qd = qt[d], gd = gout[d];
                    PT__SIMD_SUM(acc) for (s = 0; s <= t; s++) acc += dp[s] * kr[s];
                    if (dq) dq[(((int64_t)b * T + t) * H + h) * hd + d] += acc;
                    PT__SIMD for (s = 0; s <= t; s++) gk[s] += dp[s] * qd;
                    PT__SIMD for (s = 0; s <= t; s++) gv[s] += P[s] * gd;
                }
            }
        }
        /* transpose back into dK, dV [B, T, KVH, hd] */
        for (s = 0; s < T; s++)
            for (d = 0; d < hd; d++) {
                int64_t idx = (((int64_t)b * T + s) * KVH + kh) * hd + d;
                if (dk) dk[idx] += gkt[(int64_t)d * T + s];
                if (dv) dv[idx] += gvt[(int64_t)d * T + s];
            }
    }
}
PTDEF pt_tensor *pt_attention(pt_ctx *ctx, pt_tensor *q, pt_tensor *k, pt_tensor *v, const int *seg)
{
    pt_tensor *o;
    pt__node *nd;
    pt__attn_saved *sv;
    int B, T, H, hd, KVH, bh, bk;
    float scale;
    if (!q || !k || !v) return NULL;
    if (q->ndim != 4 || k->ndim != 4 || !pt_same_shape(k, v) || k->shape[0] != q->shape[0] ||
        k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] || q->shape[2] % k->shape[2] != 0)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_attention: need q[B,T,H,hd], k,v[B,T,KVH,hd] with H %% KVH == 0");
    B = q->shape[0]; T = q->shape[1]; H = q->shape[2]; hd = q->shape[3]; KVH = k->shape[2];
    scale = 1.0f / sqrtf((float)hd);
    o = pt_tensor_new(ctx, 4, q->shape);
    sv = (pt__attn_saved *)pt_arena_alloc(&ctx->arena, sizeof *sv);
    if (!o || !sv) return NULL;
    sv->P = pt__floats(ctx, (int64_t)B * H * T * T);
    sv->kt = pt__floats(ctx, (int64_t)B * KVH * hd * T);
    sv->vt = pt__floats(ctx, (int64_t)B * KVH * hd * T);
    sv->seg = pt__copy_ints(ctx, seg, (int64_t)B * T);
    if (!sv->P || !sv->kt || !sv->vt || (seg && !sv->seg)) return NULL;
    for (bk = 0; bk < B * KVH; bk++) {
        int b = bk / KVH, kh = bk % KVH, s, d;
        for (s = 0; s < T; s++)
            for (d = 0; d < hd; d++) {
                int64_t idx = (((int64_t)b * T + s) * KVH + kh) * hd + d;
                sv->kt[((int64_t)bk * hd + d) * T + s] = k->data[idx];
                sv->vt[((int64_t)bk * hd + d) * T + s] = v->data[idx];
            }
    }
#if PT__OMP
#pragma omp parallel for schedule(dynamic, 1) if ((int64_t)B * H * T * T * hd > 65536)
#endif
    for (bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H, kh = h / (H / KVH), t, s, d;
        const float *kt = sv->kt + ((int64_t)b * KVH + kh) * hd * T, *vt = sv->vt + ((int64_t)b * KVH + kh) * hd * T;
        const int *sg = sv->seg ? sv->seg + (int64_t)b * T : NULL;
        for (t = 0; t < T; t++) {
            float *P = sv->P + ((int64_t)bh * T + t) * T;
            const float *qt = q->data + (((int64_t)b * T + t) * H + h) * hd;
            float *ot = o->data + (((int64_t)b * T + t) * H + h) * hd;
            float mx = -INFINITY, sum = 0.0f;
            memset(P, 0, (size_t)T * sizeof(float));
            if (sg && sg[t] == 0) continue;   /* padding: zero output, zero probabilities */
            for (d = 0; d < hd; d++) {
                const float *kr = kt + (int64_t)d * T; float qd = qt[d];
                PT__SIMD for (s = 0; s <= t; s++) P[s] += qd * kr[s];
            }
            for (s = 0; s <= t; s++) {
                if (pt__attn_allowed(sg, t, s)) { P[s] /= sqrtf((float)hd); if (P[s] > mx) mx = P[s]; }
                else P[s] = -INFINITY;
            }
            for (s = 0; s <= t; s++) { P[s] = expf(P[s] - mx); sum += P[s]; }
            for (s = 0; s <= t; s++) P[s] /= sum;
            for (d = 0; d < hd; d++) {
                const float *vr = vt + (int64_t)d * T; float acc = 0.0f;
                PT__SIMD_SUM(acc) for (s = 0; s <= t; s++) acc += P[s] * vr[s];
                ot[d] = acc;
            }
        }
    }
    (void)scale;
    nd = pt__record(ctx, pt__attention_backward, o, q, k, v);
    if (nd) nd->aux[0] = sv;
    return o;
}

/* ------------------------------------------------------------------------------------------------
   2d. Softmax family, cross-entropy and the log-prob gather                       >>softmax
   For a row z: lse = max + log sum exp(z - max); log p_j = z_j - lse.
   Cross-entropy (mean over mask weight W): L = sum_r m_r (lse_r - z_r[t_r]) / W, dz = m_r/W (p - onehot).
   Log-prob at temperature tau: lp_r = z_r[t]/tau - lse(z_r/tau); dz_j = g_r/tau (onehot_j - p_j).
   Rows run in parallel; the scalar sum over rows is serial in double (thread-count independent).
   ------------------------------------------------------------------------------------------------ */
static float pt__row_lse(const float *z, int C, float inv_tau)
{
    float mx = -INFINITY, sum = 0.0f;
    int c;
    for (c = 0; c < C; c++) if (z[c] * inv_tau > mx) mx = z[c] * inv_tau;
    for (c = 0; c < C; c++) sum += expf(z[c] * inv_tau - mx);
    return mx + logf(sum);
}

static void pt__softmax_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *y = nd->out;
    float *dx = pt__grad(ctx, x);
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), r, logsm = nd->i[0];
    if (!dx) return;
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)R * C > 32768)
#endif
    for (r = 0; r < R; r++) {
        const float *yr = y->data + (int64_t)r * C, *g = y->grad + (int64_t)r * C;
        float *d = dx + (int64_t)r * C, s = 0.0f;
        int c;
        if (logsm) {   /* dx = dy - softmax * sum(dy) */
            PT__SIMD_SUM(s) for (c = 0; c < C; c++) s += g[c];
            for (c = 0; c < C; c++) d[c] += g[c] - expf(yr[c]) * s;
        } else {       /* dx = y * (dy - sum(dy * y)) */
            PT__SIMD_SUM(s) for (c = 0; c < C; c++) s += g[c] * yr[c];
            PT__SIMD for (c = 0; c < C; c++) d[c] += yr[c] * (g[c] - s);
        }
    }
}
static pt_tensor *pt__softmax(pt_ctx *ctx, pt_tensor *x, int logsm)
{
    pt_tensor *y;
    pt__node *nd;
    int R, C, r;
    if (!x) return NULL;
    y = pt__like(ctx, x);
    if (!y) return NULL;
    R = pt_tensor_rows(x); C = pt_tensor_cols(x);
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)R * C > 32768)
#endif
    for (r = 0; r < R; r++) {
        const float *z = x->data + (int64_t)r * C;
        float *o = y->data + (int64_t)r * C, lse = pt__row_lse(z, C, 1.0f);
        int c;
        if (logsm) { PT__SIMD for (c = 0; c < C; c++) o[c] = z[c] - lse; }
        else for (c = 0; c < C; c++) o[c] = expf(z[c] - lse);
    }
    nd = pt__record(ctx, pt__softmax_backward, y, x, NULL, NULL);
    if (nd) nd->i[0] = logsm;
    return y;
}
PTDEF pt_tensor *pt_softmax(pt_ctx *ctx, pt_tensor *x) { return pt__softmax(ctx, x, 0); }
PTDEF pt_tensor *pt_log_softmax(pt_ctx *ctx, pt_tensor *x) { return pt__softmax(ctx, x, 1); }

/* Shared by cross-entropy and the log-prob gather: rows r with weight w_r (per-row scale of the
   gradient), targets t_r, temperature tau. dz = g * w_r / tau * (p - onehot) * sign. */
typedef struct pt__gather_saved { int *targets; float *mask, *lse; float inv_tau; int is_ce; float inv_w; } pt__gather_saved;
static void pt__gather_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *y = nd->out;
    pt__gather_saved *sv = (pt__gather_saved *)nd->aux[0];
    float *dx = pt__grad(ctx, x);
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), r;
    if (!dx) return;
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)R * C > 32768)
#endif
    for (r = 0; r < R; r++) {
        const float *z = x->data + (int64_t)r * C;
        float *d = dx + (int64_t)r * C, m = sv->mask ? sv->mask[r] : 1.0f, coef, lse = sv->lse[r], it = sv->inv_tau;
        int c;
        if (m == 0.0f) continue;
        /* CE: dL/dz = m/W (p - onehot);  log-prob: dlp/dz = (onehot - p)/tau */
        coef = sv->is_ce ? y->grad[0] * m * sv->inv_w : -y->grad[r] * it;
        for (c = 0; c < C; c++) d[c] += coef * expf(z[c] * it - lse);
        d[sv->targets[r]] -= coef;
    }
}
static pt_tensor *pt__gather(pt_ctx *ctx, pt_tensor *x, const int *targets, const float *mask, float tau, int is_ce, const char *name)
{
    pt_tensor *y;
    pt__node *nd;
    pt__gather_saved *sv;
    int R, C, r, one = 1;
    double total = 0, wsum = 0;
    if (!x) return NULL;
    if (!targets) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: targets is NULL", name);
    if (!(tau > 0.0f)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: temperature %g must be > 0", name, (double)tau);
    R = pt_tensor_rows(x); C = pt_tensor_cols(x);
    for (r = 0; r < R; r++)
        if ((!mask || mask[r] != 0.0f) && (targets[r] < 0 || targets[r] >= C))
            return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: target %d at row %d is outside [0, %d)", name, targets[r], r, C);
    y = is_ce ? pt__new_uninit(ctx, 1, &one) : pt__new_uninit(ctx, 1, &R);
    sv = (pt__gather_saved *)pt_arena_alloc(&ctx->arena, sizeof *sv);
    if (!y || !sv) return NULL;
    sv->targets = pt__copy_ints(ctx, targets, R);
    sv->mask = pt__copy_mask(ctx, mask, R);
    sv->lse = pt__floats(ctx, R);
    if (!sv->targets || (mask && !sv->mask) || !sv->lse) return NULL;
    sv->inv_tau = 1.0f / tau; sv->is_ce = is_ce;
#if PT__OMP
#pragma omp parallel for schedule(static) if ((int64_t)R * C > 32768)
#endif
    for (r = 0; r < R; r++) {
        const float *z = x->data + (int64_t)r * C;
        if (mask && mask[r] == 0.0f) { sv->lse[r] = 0.0f; if (!is_ce) y->data[r] = 0.0f; continue; }
        sv->lse[r] = pt__row_lse(z, C, sv->inv_tau);
        if (!is_ce) y->data[r] = z[targets[r]] * sv->inv_tau - sv->lse[r];
    }
    if (is_ce) {
        for (r = 0; r < R; r++) {
            float m = mask ? mask[r] : 1.0f;
            if (m == 0.0f) continue;
            total += (double)m * ((double)sv->lse[r] - (double)x->data[(int64_t)r * C + targets[r]]);
            wsum += m;
        }
        sv->inv_w = wsum != 0 ? (float)(1.0 / wsum) : 0.0f;
        y->data[0] = wsum != 0 ? (float)(total / wsum) : 0.0f;
    }
    nd = pt__record(ctx, pt__gather_backward, y, x, NULL, NULL);
    if (nd) nd->aux[0] = sv;
    return y;
}
PTDEF pt_tensor *pt_cross_entropy(pt_ctx *ctx, pt_tensor *logits, const int *targets, const float *mask)
{
    return pt__gather(ctx, logits, targets, mask, 1.0f, 1, "pt_cross_entropy");
}
PTDEF pt_tensor *pt_token_logprobs(pt_ctx *ctx, pt_tensor *logits, const int *targets, const float *mask, float temperature)
{
    return pt__gather(ctx, logits, targets, mask, temperature, 0, "pt_token_logprobs");
}

/* ------------------------------------------------------------------------------------------------
   2e. Gradient checking                                                          >>gradcheck
   ------------------------------------------------------------------------------------------------ */
static double pt__weighted_sum(const pt_tensor *out, const float *w)
{
    double s = 0;
    int64_t i;
    for (i = 0; i < out->size; i++) s += (double)out->data[i] * (double)w[i];
    return s;
}
PTDEF int pt_gradcheck(pt_build_fn build, void *user, pt_tensor **inputs, int n_inputs,
                       float h, double atol, double rtol, pt_gradcheck_result *res)
{
    pt_ctx *ctx = pt_ctx_new(0);
    pt_tensor *out, *loss;
    float *w = NULL, **analytic = NULL;
    pt_rng rng;
    int i, st = PT_OK;
    int64_t j;
    pt_gradcheck_result r;
    memset(&r, 0, sizeof r);
    r.worst_input = -1;
    if (!ctx) return pt_last_status();
    out = build(ctx, inputs, user);
    if (!out) { st = pt_last_status() ? pt_last_status() : PT_ERR_ARG; goto done; }
    w = (float *)PT_MALLOC((size_t)out->size * sizeof(float));
    analytic = (float **)PT_MALLOC((size_t)n_inputs * sizeof(float *));
    if (!w || !analytic) { st = pt__fail(PT_ERR_NOMEM, "pt_gradcheck: out of memory"); goto done; }
    memset(analytic, 0, (size_t)n_inputs * sizeof(float *));
    pt_rng_seed(&rng, 12345);
    for (j = 0; j < out->size; j++) w[j] = pt_rng_uniform(&rng) * 2.0f - 1.0f;
    for (i = 0; i < n_inputs; i++) if (inputs[i]->grad) memset(inputs[i]->grad, 0, (size_t)inputs[i]->size * sizeof(float));
    loss = pt_masked_sum(ctx, out, w);
    if (!loss) { st = pt_last_status(); goto done; }
    if (!loss->requires_grad) { st = pt__fail(PT_ERR_ARG, "pt_gradcheck: output does not depend on any input that requires grad"); goto done; }
    if ((st = pt_backward(ctx, loss)) != PT_OK) goto done;
    for (i = 0; i < n_inputs; i++) {
        if (!inputs[i]->requires_grad || !inputs[i]->grad) continue;
        analytic[i] = (float *)PT_MALLOC((size_t)inputs[i]->size * sizeof(float));
        if (!analytic[i]) { st = pt__fail(PT_ERR_NOMEM, "pt_gradcheck: out of memory"); goto done; }
        memcpy(analytic[i], inputs[i]->grad, (size_t)inputs[i]->size * sizeof(float));
    }
    pt_ctx_set_grad(ctx, 0);
    for (i = 0; i < n_inputs; i++) {
        pt_tensor *x = inputs[i];
        if (!analytic[i]) continue;
        for (j = 0; j < x->size; j++) {
            float saved = x->data[j];
            double lp, lm, num, an = analytic[i][j], err, tol;
            x->data[j] = saved + h;
            pt_ctx_reset(ctx);
            out = build(ctx, inputs, user);
            if (!out) { x->data[j] = saved; st = pt_last_status(); goto done; }
            lp = pt__weighted_sum(out, w);
            x->data[j] = saved - h;
            pt_ctx_reset(ctx);
            out = build(ctx, inputs, user);
            x->data[j] = saved;
            if (!out) { st = pt_last_status(); goto done; }
            lm = pt__weighted_sum(out, w);
            num = (lp - lm) / (2.0 * (double)h);
            err = fabs(num - an);
            tol = atol + rtol * (fabs(num) > fabs(an) ? fabs(num) : fabs(an));
            if (err > r.max_abs_err) r.max_abs_err = err;
            if (err / (fabs(num) + 1e-12) > r.max_rel_err && fabs(num) > atol) r.max_rel_err = err / fabs(num);
            if (err / tol > r.worst) { r.worst = err / tol; r.worst_input = i; r.worst_index = j; }
            r.checked++;
        }
    }
done:
    if (analytic) { for (i = 0; i < n_inputs; i++) PT_FREE(analytic[i]); PT_FREE(analytic); }
    PT_FREE(w);
    pt_ctx_free(ctx);
    if (res) *res = r;
    return st;
}

/* ================================================================================================
   6. OPTIMIZER (implementation)
   ================================================================================================ */
PTDEF double pt_grad_norm(const pt_params *P)
{
    double s = 0;
    int64_t i;
    for (i = 0; i < P->n_grad; i++) s += (double)P->grad[i] * (double)P->grad[i];
    return sqrt(s);
}
PTDEF int pt_clip_grad_norm(pt_params *P, float max_norm, double *norm_out)
{
    double norm = pt_grad_norm(P);
    int64_t i;
    if (norm_out) *norm_out = norm;
    if (!isfinite(norm)) return pt__fail(PT_ERR_NONFINITE, "pt_clip_grad_norm: gradient norm is %f", norm);
    if (max_norm > 0 && norm > max_norm) {
        float s = (float)(max_norm / norm);
        for (i = 0; i < P->n_grad; i++) P->grad[i] *= s;
    }
    return PT_OK;
}
PTDEF int pt_adamw_step(pt_params *P, const pt_adamw_config *cfg, float lr)
{
    float b1 = cfg && cfg->beta1 > 0 ? cfg->beta1 : 0.9f;
    float b2 = cfg && cfg->beta2 > 0 ? cfg->beta2 : 0.95f;
    float eps = cfg && cfg->eps > 0 ? cfg->eps : 1e-8f;
    float wd = cfg ? cfg->weight_decay : 0.0f;
    float bc1, bc2;
    int k;
    int64_t i;
    for (i = 0; i < P->n_grad; i++)
        if (!isfinite(P->grad[i])) {
            for (k = 0; k < P->count; k++) {
                pt_param *p = P->items[k];
                if (p->grad_offset >= 0 && i >= p->grad_offset && i < p->grad_offset + p->t.size)
                    return pt__fail(PT_ERR_NONFINITE, "pt_adamw_step: gradient of '%s' element %lld is %f; step skipped",
                                    p->name, (long long)(i - p->grad_offset), (double)P->grad[i]);
            }
            return pt__fail(PT_ERR_NONFINITE, "pt_adamw_step: non-finite gradient; step skipped");
        }
    P->step++;
    bc1 = 1.0f - powf(b1, (float)P->step);
    bc2 = 1.0f - powf(b2, (float)P->step);
    for (k = 0; k < P->count; k++) {
        pt_param *p = P->items[k];
        float *w = p->t.data, *g, *m, *v, decay;
        int64_t n = p->t.size;
        if (p->grad_offset < 0) continue;
        g = P->grad + p->grad_offset; m = P->adam_m + p->grad_offset; v = P->adam_v + p->grad_offset;
        decay = (p->flags & PT_PARAM_NO_DECAY) ? 0.0f : wd;
#if PT__OMP
#pragma omp parallel for schedule(static) if (n > 65536)
#endif
        for (i = 0; i < n; i++) {
            float mi = b1 * m[i] + (1.0f - b1) * g[i];
            float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
            m[i] = mi; v[i] = vi;
            w[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + decay * w[i]);
        }
    }
    return PT_OK;
}
PTDEF float pt_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min)
{
    double prog;
    if (warmup > 0 && step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    if (total <= warmup || step >= total) return lr_min;
    prog = (double)(step - warmup) / (double)(total - warmup);
    return lr_min + (lr_max - lr_min) * (float)(0.5 * (1.0 + cos(3.141592653589793 * prog)));
}

#endif /* POSTTRAIN_IMPLEMENTATION_DONE */
#endif /* POSTTRAIN_IMPLEMENTATION */

/*
   FULL HISTORY
     0.1.0 (2026-11-28)  engine: status codes, RNG, arena, tensors, tape autograd, blocked SIMD/OpenMP
                         matmul, attention, norms, RoPE, losses and log-prob gather, gradcheck, AdamW.

   ------------------------------------------------------------------------------------------------
   MIT License

   Copyright (c) 2026 the posttrain.h authors

   Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
   associated documentation files (the "Software"), to deal in the Software without restriction,
   including without limitation the rights to use, copy, modify, merge, publish, distribute,
   sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
   furnished to do so, subject to the following conditions:

   The above copyright notice and this permission notice shall be included in all copies or
   substantial portions of the Software.

   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
   NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
   NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
   DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
   OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
*/
