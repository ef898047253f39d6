/* posttrain.h - v0.9.1 - the LLM post-training chain on a laptop CPU, in one C header.

   A small Llama-style transformer with tape autograd, pretraining, SFT and PEFT, references and
   preference data, reward models, DPO and its variants, PPO and GRPO, rejection sampling (STaR, the
   Llama 3 flywheel) and test-time search (best-of-N, votes, MCTS with a PRM), each written to be
   read. examples/pipeline.c (make demo) runs the whole chain.

   USAGE
     Do this:
        #define POSTTRAIN_IMPLEMENTATION
     before you include this file in *one* C or C++ file to create the implementation:

        #include ...
        #define POSTTRAIN_IMPLEMENTATION
        #include "posttrain.h"

     Every other file includes "posttrain.h" without the define. Link with -lm; compile with -fopenmp
     for threads (optional) and, for speed, what the Makefile passes:
        cc -O2 -march=native -mprefer-vector-width=512 -fno-math-errno -ffp-contract=fast -fopenmp ...
     -march=native turns on the CPU's vector instructions (AVX-512 where it has them). gcc and clang
     tuned for Intel still prefer 256-bit registers for the loops they vectorise themselves;
     -mprefer-vector-width=512 asks for the full width (x86 only; elsewhere leave it out). The matmul
     micro-kernel and the batch-1 dot products use full-width vector types whatever these flags say.
     -fno-math-errno lets sqrtf vectorise; -ffp-contract=fast fuses a*b+c into FMAs in strict -std=c99
     mode (gcc turns contraction off there). Run with OMP_WAIT_POLICY=passive on a shared machine.

   OPTIONS (define before the implementation include)
     PT_STATIC              every function is `static` (private to one translation unit)
     PT_MALLOC(sz), PT_REALLOC(p,sz), PT_FREE(p)
                            your allocator; define all three or none
     PT_ASSERT(x)           internal invariant checks (default: assert.h). Never used for bad input:
                            bad input returns an error status, see pt_last_error().
     PT_NO_OPENMP           ignore OpenMP even when the compiler has -fopenmp
     PT_EXTERNAL_IMPLEMENTATION
                            this file's POSTTRAIN_IMPLEMENTATION is ignored: the implementation is
                            linked from an object compiled once elsewhere. The Makefile builds every
                            example and test this way (one compile per configuration, not one per
                            program), while each program still builds alone without the flag. The
                            options above are then the object's: defining PT_MALLOC or PT_ASSERT
                            in such a file changes nothing, and PT_STATIC cannot be combined with it.

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
     - Threads: one OpenMP pool, a parallel region per heavy op (memory-bound loops fork only above
       1M elements: waking passive workers costs ~40 us; see PT__PAR_MIN). Every kernel partitions
       its *output* across threads and reduces in a fixed order, so results are bit-identical for any
       thread count, except where a function's doc says otherwise. Run with OMP_WAIT_POLICY=passive
       on a shared machine (the Makefile does): spinning workers collapse when another process holds
       a core.
     - Randomness: pt_rng (xoshiro128** seeded through splitmix64); always drawn on one thread.
     - Not thread-safe: use one pt_ctx per thread if you call the library from several threads, and note
       that pt_last_error() and the matmul scratch buffers are process-wide.

   TABLE OF CONTENTS (sections appear in this order in both halves of the file; grep the >>marker
   for a section's banner and API, "N. NAME (implementation)" for its code; [planned] = not built yet)
     1. Basics: status codes, errors, allocator, RNG, arena, timing, files    >>basics
        (whole reads, atomic writes, the checked byte writer and reader)
     2. Tensors and autograd: tensors, tape, ops with their backwards          >>tensors
        2a. matmul kernels >>matmul   2b. elementwise >>elementwise   2c. embedding, RMSNorm, RoPE,
        attention >>blocks   2d. softmax, losses, log-prob gather >>softmax   2e. gradcheck >>gradcheck
        2f. per-op profile of a step >>profile
     3. Transformer: config, parameters, training forward, KV-cache inference  >>transformer
     4. Tokenizers: byte-level (built-in world), llama2.c BPE                 >>tokenizers
     5. Sampling and generation: greedy/temperature/top-k/top-p, batched,     >>sampling
        stop-token sets, shared prefill, rollout batches
     6. Optimizer: AdamW, gradient clipping, LR schedule                      >>optimizer
     7. Checkpoints: native format, atomic save, validated load,             >>checkpoints
        llama2.c v0/v1 import and v0 export
     8. PEFT: LoRA (merge, adapter files), parameter subsets by name pattern  >>lora
        8b. prompt tuning, trainable tokens, token adapter files             >>tokens
     9. Data: the arithmetic world (problems, checkers, corpus, held-out      >>world
        splits, eval with intervals, pass@k, graded preference data)
        9b. chat template, SFT examples, packing                              >>chat
        9c. strict JSONL datasets (TRL schemas), world export                 >>jsonl
    10. The training loop every trainer shares, SFT, generations as          >>sft
        examples (distillation: examples/distill.c), references (adapters off,
        clones, reference log-probs)
    11. Reward models: rule rewards (correctness, format, length, mixtures),  >>rewards
        Bradley-Terry and process losses, outcome and process RMs, a judge
    12. Preference optimisation: DPO, cDPO/robust, IPO, hinge, RPO, SimPO,    >>preference
        ORPO as pure losses with TRL's metrics
    13. Policy optimisation: KL estimators, GAE, group/RLOO advantages,      >>policy
        clipped losses and aggregation modes, rollouts, GRPO/Dr. GRPO/DAPO/RLOO,
        PPO with a critic
    14. Search and test-time compute: best-of-N and votes, rejection         >>search
        sampling (STaR, the Llama 3 flywheel), MCTS with a PRM

   QUICK EXAMPLE (an MLP step; examples/autograd_tour.c is the long version)
     pt_params *P = pt_params_new();
     pt_tensor *W = pt_params_add(P, "w", 2, (int[]){16, 8}, 0);     // (out, in); C99 compound literal
     pt_params_alloc(P); pt_rng rng; pt_rng_seed(&rng, 1); pt_params_init_normal(P, "*", 0.1f, &rng);
     pt_ctx *ctx = pt_ctx_new(0);
     pt_tensor *x = pt_tensor_from(ctx, 2, (int[]){4, 8}, xdata);
     pt_tensor *loss = pt_mean(ctx, pt_square(ctx, pt_linear(ctx, x, W, NULL)));
     if (!loss || pt_backward(ctx, loss) != PT_OK) puts(pt_last_error());
     pt_adamw_config opt = {0}; pt_adamw_step(P, &opt, 1e-3f); pt_params_zero_grad(P); pt_ctx_reset(ctx);

   VERSION AND HISTORY: PT_VERSION_MAJOR/MINOR/PATCH and PT_VERSION_STRING below (test_manual checks
   that the string, line 1 and the newest history entry all say the numbers); the history, one
   entry per version, is at the end of the file.

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
#define PT_VERSION_MINOR 9
#define PT_VERSION_PATCH 1
#define PT_VERSION_STRING "0.9.1"   /* a literal, readable by any tool; test_manual checks it */

#include <stddef.h>
#include <stdint.h>

#ifndef PTDEF
#ifdef PT_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define PTDEF static __attribute__((unused))   /* a static build need not call every function */
#else
#define PTDEF static
#endif
#else
#define PTDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================================================
   1. BASICS                                                                               >>basics
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
/* Record an error the way the library does (for code built on it: wrappers, bindings, trainers);
   returns status, so `return pt_set_error(PT_ERR_ARG, "f: bad n %d", n);` reads naturally. */
PTDEF int pt_set_error(int status, const char *fmt, ...);
PTDEF const char *pt_status_name(int status); /* "PT_ERR_SHAPE", ... */

/* Configs: every config struct works zero-initialised ({0}), each 0 meaning "the default" its field
   names, and each struct resolves its defaults in one place, a private pt__<name>_resolve() that
   returns a resolved copy (the caller's struct is never changed; pt_config_validate is the one public
   resolver and fills the struct it is given, by request). Where 0 is also a meaningful value (no
   warmup, min_lr 0, beta1 0, no clipping), the field takes PT_ZERO to mean exactly zero/none. */
#define PT_ZERO (-1)

/* Threads. pt_set_threads(0) means "all cores". Without OpenMP these are no-ops returning 1. */
PTDEF void pt_set_threads(int n);
PTDEF int pt_get_threads(void);
PTDEF double pt_time_seconds(void);          /* monotonic wall clock (POSIX, Windows, macOS shim) */

/* RNG: xoshiro128** (Blackman & Vigna 2018), 32-bit outputs, seeded through splitmix64. Small, fast, reproducible;
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

/* Files. Atomic write (temp + rename), used by every saver in the library. */
PTDEF int pt_write_file_atomic(const char *path, const void *data, size_t n);
/* Read a whole file; *out must be freed with pt_free(). */
PTDEF int pt_read_file(const char *path, unsigned char **out, size_t *n);
PTDEF void pt_free(void *p);
/* ================================================================================================
   2. TENSORS AND AUTOGRAD                                                                >>tensors
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
PTDEF size_t pt_ctx_bytes_peak(const pt_ctx *ctx);    /* arena high-water mark since pt_ctx_new */
PTDEF void *pt_ctx_alloc(pt_ctx *ctx, size_t bytes);  /* scratch memory that lives until reset */

/* Tensors on the context's arena (freed by pt_ctx_reset). shape has ndim entries, each >= 1. */
PTDEF pt_tensor *pt_tensor_new(pt_ctx *ctx, int ndim, const int *shape);          /* zeros */
PTDEF pt_tensor *pt_tensor_from(pt_ctx *ctx, int ndim, const int *shape, const float *data); /* copy */
PTDEF pt_tensor *pt_tensor_leaf(pt_ctx *ctx, int ndim, const int *shape, const float *data); /* copy, requires grad */
PTDEF int pt_tensor_rows(const pt_tensor *t);   /* product of all dims but the last */
PTDEF int pt_tensor_cols(const pt_tensor *t);   /* the last dim */
PTDEF int pt_same_shape(const pt_tensor *a, const pt_tensor *b);

/* Run the tape backwards from a scalar loss. Returns PT_ERR_NONFINITE (and touches no gradient)
   when the loss is NaN/inf, so a bad step is reported instead of trained on. Afterwards the
   gradients of leaves and parameters are dL/dx; an intermediate tensor's ->grad is not kept (a
   reshape or an add hands its buffer on to its input, which then gathers its other terms). Once
   per tape: a second call before pt_ctx_reset is PT_ERR_ARG (it would count the tape twice). */
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

/* A heap tensor for gradcheck inputs and other long-lived data (free with pt_tensor_heap_free). */
PTDEF pt_tensor *pt_tensor_heap(int ndim, const int *shape, int requires_grad);
PTDEF void pt_tensor_heap_free(pt_tensor *t);
/* --- Ops. Every op returns a new tensor on ctx's arena, or NULL with an error set. ---------------- */

/* ------------------------------------------------------------------------------------------------
   2a. Matmul                                                                              >>matmul
   ------------------------------------------------------------------------------------------------ */
/* y[..., N] = x[..., K] W[N, K]^T (+ b[N]). b may be NULL. */
PTDEF pt_tensor *pt_linear(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, pt_tensor *b);
/* LoRA in one op: y = x W^T + s (x*mask) A^T B^T, with A [r, K] and B [N, r] (Hu et al. 2021).
   mask (x's shape, may be NULL) is the adapter's dropout. The tape keeps only the [rows, r] product
   x A^T, so the adapter adds almost no activation memory (three separate ops would keep three
   [rows, N] outputs and their gradients per adapted matrix). */
PTDEF pt_tensor *pt_linear_lora(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, pt_tensor *a, pt_tensor *b, float s,
                                const float *mask);
/* c[M, N] = a[M, K] b[K, N] for 2-D tensors (a plain matrix product; pt_linear is the fast path). */
PTDEF pt_tensor *pt_matmul(pt_ctx *ctx, pt_tensor *a, pt_tensor *b);
/* The raw kernel: C[M,N] (+)= A[M,K] B[K,N] with any strides (A(i,k) = A[i*rsa + k*csa], ...).
   accumulate = 0 overwrites C. Bit-identical for any thread count. Exposed for benchmarks and for
   users building their own ops (the plain three loops it stands for open section 2a's code). */
PTDEF void pt_gemm(int M, int N, int K, const float *A, int64_t rsa, int64_t csa,
                   const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc, int accumulate);

/* ------------------------------------------------------------------------------------------------
   2b. Elementwise ops and reductions                                                 >>elementwise
   ------------------------------------------------------------------------------------------------ */
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

/* ------------------------------------------------------------------------------------------------
   2c. Transformer blocks: embedding, RMSNorm, RoPE, attention                             >>blocks
   ------------------------------------------------------------------------------------------------ */
/* Embedding: out[i, :] = table[ids[i], :], shape [n_ids, D] (reshape for [B, T, D]). Ids outside
   [0, V) are an error naming the position. */
PTDEF pt_tensor *pt_embedding(pt_ctx *ctx, pt_tensor *table, const int *ids, int n_ids);
/* Embedding with overridden rows: out[i, :] = over[slot[ids[i]], :] where that slot is >= 0, else
   table[ids[i], :]. slot has n_slot entries (n_slot may exceed the table's V: ids >= V must have a
   slot). Gradients go to whichever row was read. Trainable tokens and prompt tuning (8b) use it. */
PTDEF pt_tensor *pt_embedding_override(pt_ctx *ctx, pt_tensor *table, pt_tensor *over, const int *slot, int n_slot,
                                       const int *ids, int n_ids);
/* y = x [R, C] with column cols[j] replaced by src[:, j] (src [R, n_cols]; cols[j] < 0 skips j;
   the other columns must be distinct). The replaced columns of x get no gradient. */
PTDEF pt_tensor *pt_set_columns(pt_ctx *ctx, pt_tensor *x, pt_tensor *src, const int *cols, int n_cols);
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

/* ------------------------------------------------------------------------------------------------
   2d. Softmax family, cross-entropy and the log-prob gather                              >>softmax
   ------------------------------------------------------------------------------------------------ */
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

/* ------------------------------------------------------------------------------------------------
   2e. Gradient checking                                                                >>gradcheck
   ------------------------------------------------------------------------------------------------ */
/* build() makes a tensor from the inputs using ctx; pt_gradcheck compares the
   tape's gradients of L = sum_i w_i out_i (w fixed random) with central differences
   (L(x+h) - L(x-h)) / 2h accumulated in double, for every element of every input that requires grad.
   Inputs must outlive the ctx (pt_params tensors or pt_tensor_heap ones). Passes when
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

/* ------------------------------------------------------------------------------------------------
   2f. Profiling                                                                            >>profile
   ------------------------------------------------------------------------------------------------ */
/* Where a training step's time goes, per kind of op. While profiling is on, each op's forward is
   charged the wall time since the previous op or mark (ops record themselves on the tape when they
   finish, so the glue code just before an op counts as that op's), each backward its own time, and
   AdamW, gradient clipping, zeroing the gradients and resetting the arena are charged as
   themselves; the gap between pt_backward's call and the last op goes to "other". Process-wide,
   for one calling thread (ops still use the thread pool inside). Off by default; when off it costs
   one branch per op. tests/bench/bench_model.c --profile prints it. */
typedef struct pt_profile_row {
    const char *name;          /* "linear", "attention", "swiglu", "adamw", ... (static strings) */
    double forward_s;          /* forward time (for non-op rows such as "adamw": their whole time) */
    double backward_s;
    int64_t calls;             /* forward calls (or region entries) */
} pt_profile_row;
PTDEF void pt_profile_start(void);   /* zero the table and start timing */
PTDEF void pt_profile_stop(void);
/* Copies up to max_rows rows, largest forward + backward first; returns the number of rows. */
PTDEF int pt_profile_rows(pt_profile_row *rows, int max_rows);

/* ================================================================================================
   3. TRANSFORMER                                                                     >>transformer
   ------------------------------------------------------------------------------------------------
   A Llama-style decoder (Touvron et al. 2023), the architecture of llama2.c:
       x = E[tokens]
       for each layer:  h = RMSNorm(x);  q, k, v = h Wq^T, h Wk^T, h Wv^T;  q, k = RoPE(q, k)
                        x = x + Attention(q, k, v) Wo^T                      (causal, grouped-query)
                        h = RMSNorm(x);  x = x + (silu(h W1^T) * (h W3^T)) W2^T   (SwiGLU MLP)
       logits = RMSNorm(x) C^T     with C = E when the classifier is tied (the default).
   Parameter names (used by checkpoints, freezing and LoRA targeting):
       tok_embeddings, layers.N.attn_norm, layers.N.attn.wq|wk|wv|wo, layers.N.ffn_norm,
       layers.N.mlp.w1|w2|w3, norm, output (only when untied).
   Initialisation (documented choice, GPT-2 style): every matrix ~ N(0, 0.02^2), except the residual
   output projections attn.wo and mlp.w2 ~ N(0, (0.02 / sqrt(2 n_layers))^2); norm weights = 1.
   Norm weights get no weight decay (PT_PARAM_NO_DECAY).
   Two forwards share the same math: the training forward builds the tape over a whole [B, T] batch;
   the inference forward (pt_model_step) runs without the tape over a KV cache, for any mix of
   sequences at different positions (prefill a prompt = many rows of one sequence; decode = one row
   per live sequence).
   ================================================================================================ */
typedef struct pt_config {
    int dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, seq_len;
    float norm_eps;     /* 0 -> 1e-5 */
    float rope_theta;   /* 0 -> 10000 */
    int untied;         /* 0: classifier shares the token embedding; 1: its own `output` matrix */
} pt_config;

typedef struct pt_layer {
    pt_tensor *attn_norm, *wq, *wk, *wv, *wo, *ffn_norm, *w1, *w2, *w3;
} pt_layer;
/* A layer's seven weight matrices, in the order every per-matrix table uses (LoRA adapters and their
   files, pre-packed inference weights): slot = layer * PT_LAYER_MATRICES + matrix. */
typedef enum pt_layer_matrix {
    PT_WQ, PT_WK, PT_WV, PT_WO,   /* attention: queries, keys, values, output */
    PT_W1, PT_W2, PT_W3,          /* SwiGLU FFN: gate, down, up (y = W2 (silu(W1 x) * W3 x)) */
    PT_LAYER_MATRICES
} pt_layer_matrix;
typedef struct pt_model {
    pt_config cfg;            /* with defaults filled in */
    pt_params *params;
    pt_tensor *tok_embeddings, *norm, *output;   /* output == tok_embeddings when tied */
    pt_layer *layers;
    float *llama2c_rope; int64_t llama2c_rope_n;  /* RoPE tables kept from a llama2.c import, so an
                                                     import -> export round trip is byte-identical */
    struct pt_lora *lora;                         /* LoRA adapters (section 8), or NULL */
    struct pt_token_adapter *tokens;              /* prompt tuning / trainable tokens (8b), or NULL */
    int adapters_off;                             /* 1: forwards skip LoRA and token adapters */
    struct pt_head *head;                         /* a scalar reward/value head, or NULL */
} pt_model;

/* Check a config (positive dims, dim % n_heads == 0, n_heads % n_kv_heads == 0, even head size,
   sane limits); fills defaults into *cfg. */
PTDEF int pt_config_validate(pt_config *cfg);
/* A new model with initialised weights (see above); NULL and an error on a bad config. */
PTDEF pt_model *pt_model_new(const pt_config *cfg, uint64_t seed);
PTDEF void pt_model_free(pt_model *m);
/* Matrix `which` of layer `layer` (NULL when out of range): the one place the enum meets the fields. */
PTDEF pt_tensor *pt_layer_weight(const pt_model *m, int layer, pt_layer_matrix which);

/* A training batch of B rows of T tokens (T <= seq_len). targets[i] is the token that should follow
   tokens[i]; loss_mask[i] weights it (NULL = all ones; masked targets are not read). pos and seg are
   optional ([B*T]; NULL = positions 0..T-1 and one segment per row): packed rows give each example
   its own segment id and positions from 0, left-padded rows give padding seg 0. */
typedef struct pt_batch {
    int B, T;
    const int *tokens, *targets;
    const float *loss_mask;
    const int *pos, *seg;
} pt_batch;
PTDEF pt_tensor *pt_model_logits(pt_ctx *ctx, pt_model *m, const pt_batch *b);   /* [B*T, V] */
PTDEF pt_tensor *pt_model_loss(pt_ctx *ctx, pt_model *m, const pt_batch *b);     /* masked mean CE */
/* log p(targets[i] | prefix) at a temperature, [B*T], 0 where the mask is 0. */
PTDEF pt_tensor *pt_model_logprobs(pt_ctx *ctx, pt_model *m, const pt_batch *b, float temperature);
/* The final hidden states after the last RMSNorm, [B*T, D]: what the classifier, a reward head
   and a value head read. */
PTDEF pt_tensor *pt_model_hidden(pt_ctx *ctx, pt_model *m, const pt_batch *b);
/* A scalar head (reward model, PPO value): v_t = h_t . w + b on the final hidden state of every
   position (a reward model reads it at the last completion token, a PRM at each step's last token).
   w ~ N(0, 1/(D+1)) as the reward head of Stiennon et al. 2020 / lm-human-preferences, b = 0. The
   head has its own flat buffers (m->head->params), always trainable; pt_model_optimizer_step,
   pt_model_zero_grad, pt_model_clone and pt_sft_result's memory count it with the rest; native
   checkpoints store it (section 7), and a head file (pt_model_head_save) carries it alone, next
   to a LoRA adapter. */
typedef struct pt_head { pt_params *params; pt_tensor *w, *b; } pt_head;
PTDEF int pt_model_head_attach(pt_model *m, uint64_t seed);
PTDEF void pt_model_head_detach(pt_model *m);
PTDEF pt_tensor *pt_model_head_values(pt_ctx *ctx, pt_model *m, const pt_batch *b);   /* [B*T] */

/* KV cache for n_seqs sequences of up to max_len tokens each, plus reusable inference scratch. */
typedef struct pt_kv_cache {
    int n_seqs, max_len, kv_dim, n_layers;
    float *k, *v;             /* [n_layers][n_seqs][kv_dim][max_len]: positions contiguous */
    int *len;                 /* tokens stored per sequence */
    float *scratch; int64_t scratch_floats; int scratch_rows;
    float **packed;           /* internal: weights pre-packed by pt_generate for its own cache */
    float *rope;              /* [max_len][head_size]: cos then sin of each position's angles */
} pt_kv_cache;
PTDEF pt_kv_cache *pt_kv_new(const pt_model *m, int n_seqs, int max_len);
PTDEF void pt_kv_free(pt_kv_cache *kv);
PTDEF void pt_kv_clear(pt_kv_cache *kv, int seq);    /* seq < 0: every sequence */
/* Copy sequence src's cached keys, values and length to sequence dst (a shared prompt prefix). */
PTDEF int pt_kv_copy(pt_kv_cache *kv, int src, int dst);
/* Inference forward (no tape): row i feeds tokens[i] to sequence seq_ids[i] at position
   kv->len[seq_ids[i]] (rows of one sequence in order), appends its keys/values, and writes the
   next-token logits to logits[i*V] (logits may be NULL). Errors (bad id, full cache) change nothing. */
PTDEF int pt_model_step(pt_model *m, pt_kv_cache *kv, int n_rows, const int *seq_ids, const int *tokens, float *logits);


/* ================================================================================================
   4. TOKENIZERS                                                                       >>tokenizers
   ------------------------------------------------------------------------------------------------
   One interface, several vocabularies. The byte-level tokenizer (the built-in world's default) maps
   each byte to its value 0..255 and adds special tokens:
       256 <bos>  257 <eos>  258 <pad>  259 <|system|>  260 <|user|>  261 <|assistant|>  262 <|end|>
       263 <think>  264 </think>  265 <answer>  266 </answer>  267..271 reserved       (vocab 272)
   Encoding turns the exact marker strings into their ids, everything else into bytes; decoding is
   the inverse, so decode(encode(s)) == s for any string. The llama2.c BPE tokenizer (pt_bpe_load)
   fills the same struct.
   ================================================================================================ */
enum { PT_BYTE_BOS = 256, PT_BYTE_EOS, PT_BYTE_PAD, PT_BYTE_SYSTEM, PT_BYTE_USER, PT_BYTE_ASSISTANT,
       PT_BYTE_END, PT_BYTE_THINK, PT_BYTE_THINK_END, PT_BYTE_ANSWER, PT_BYTE_ANSWER_END, PT_BYTE_VOCAB = 272 };
typedef struct pt_tokenizer pt_tokenizer;
struct pt_tokenizer {
    int vocab_size, bos_id, eos_id, pad_id;
    /* encode text into ids (up to max_ids); returns the count, or a negative status. BPE checks
       max_ids before merging: give it at least strlen(text) + 3 slots, as llama2.c does. */
    int (*encode)(const pt_tokenizer *tok, const char *text, int add_bos, int add_eos, int *ids, int max_ids);
    /* the text of one token (prev = the previous id, for tokenizers whose rendering depends on it) */
    const char *(*piece)(const pt_tokenizer *tok, int prev, int id, char buf[16]);
    void *impl;
};
PTDEF pt_tokenizer pt_byte_tokenizer(void);
/* The llama2.c / sentencepiece-style BPE tokenizer from a tokenizer.bin (uint32 max_token_length,
   then per token: f32 score, i32 length, bytes). vocab_size comes from the model (the file does not
   store it). Encoding follows llama2.c: optional BOS (1), a dummy leading space when the text is not
   empty, UTF-8 code points looked up whole or split into byte tokens (id = byte + 3), then greedy
   merges of the adjacent pair whose merged string has the highest score, optional EOS (2).
   Decoding drops the leading space of a piece that follows BOS and turns "<0x0A>" into its byte.
   Errors (truncated file, a bad length, fewer entries than vocab_size) name the token index. */
PTDEF int pt_bpe_load(pt_tokenizer *tok, const char *path, int vocab_size);
PTDEF void pt_tokenizer_free(pt_tokenizer *tok);   /* releases a BPE tokenizer; no-op for bytes */
/* Decode ids into text (NUL-terminated, truncated to cap-1 bytes); returns the full length. */
PTDEF int pt_decode(const pt_tokenizer *tok, const int *ids, int n, char *out, int cap);

/* ================================================================================================
   5. SAMPLING AND GENERATION                                                            >>sampling
   ------------------------------------------------------------------------------------------------
   From logits z: temperature 0 -> argmax (greedy). Otherwise p = softmax(z / T), then optionally
   keep the top_k most likely tokens, then the smallest set whose (top-k renormalised) mass reaches
   top_p (nucleus, Holtzman et al. 2020; the order Hugging Face applies them), renormalise and draw.
   The log-prob returned for a sampled token is log p under that final (truncated, renormalised)
   distribution; greedy returns log softmax(z)[argmax]. Without top-k/top-p the draw is one inverse-
   CDF lookup over exp(z/T - max) in index order, with no sort; a draw that rounding pushes past the
   last token with probability takes the last token of nonzero probability. A logit of -inf is a
   masked token; NaN, +inf or every logit -inf is PT_ERR_NONFINITE (pt_generate names the sequence
   and step); a temperature whose inverse overflows float acts as greedy. Token choices never depend
   on the batch; log-probs may differ in the last bits (~1e-6) because few-row and many-row matmuls sum in a
   different order.
   Generation runs many sequences at once: all prompts are prefilled, then every step decodes one
   token for all live sequences in a single batched forward. A prompt repeated G times (GRPO's
   group, best-of-N) is prefilled once and its KV cache copied to the other G - 1 sequences. A
   sequence stops at any of its stop tokens (kept, with mask 1; a set, since every id including 0
   is a real token) or at max_new_tokens. Determinism: sequence i draws from its own RNG stream seeded by
   (seed, i), so its tokens do not depend on which other sequences share the batch, nor on the
   thread count.
   ================================================================================================ */
typedef struct pt_sampler { float temperature; int top_k; float top_p; } pt_sampler;  /* 0s = greedy */
/* Sample from logits[V]; writes the token's log-prob (see above) to *logprob (may be NULL). */
PTDEF int pt_sample(const float *logits, int V, const pt_sampler *s, pt_rng *rng, float *logprob);

enum { PT_MAX_STOP_TOKENS = 8 };
typedef struct pt_gen_config {
    int max_new_tokens;   /* 0 -> 64 */
    pt_sampler sampler;
    int stop_tokens[PT_MAX_STOP_TOKENS];   /* ids that end a sequence (kept, mask 1), e.g. <|end|> */
    int n_stop_tokens;    /* how many of stop_tokens are used; 0 = run to max_new_tokens */
    uint64_t seed;
} pt_gen_config;
typedef struct pt_gen_result {
    int n_seqs, width;        /* width = longest prompt + max_new_tokens */
    int *tokens;              /* [n_seqs][width]: prompt then completion, PAD-free, left aligned */
    float *logprobs;          /* [n_seqs][width]: log-prob of tokens[i][t] when it was sampled, else 0 */
    float *mask;              /* [n_seqs][width]: 1 on generated tokens (including EOS), else 0 */
    int *prompt_len, *total_len;
} pt_gen_result;
/* Generate for n_prompts prompts, each repeated `repeat` times (GRPO groups): sequence i uses prompt
   i / repeat. Fills *out (free with pt_gen_result_free). prompt + max_new_tokens must fit seq_len. */
PTDEF int pt_generate(pt_model *m, const int *const *prompts, const int *prompt_lens, int n_prompts, int repeat,
                      const pt_gen_config *cfg, pt_gen_result *out);
PTDEF void pt_gen_result_free(pt_gen_result *r);
/* Generations as a training batch, one sequence per row (B = n_seqs, T = longest sequence - 1):
   tokens and targets (the next token), mask 1 where the target was generated (the completion,
   stop token included), old_logprobs the sampling log-prob of that target (0 elsewhere), seq the
   sequence of each position (-1 on padding, whose tokens are pad_id). Heap buffers; free with
   pt_rollout_batch_free. pt_rollout_view gives the pt_batch to run the model on. */
typedef struct pt_rollout_batch {
    int B, T;
    int *tokens, *targets, *seq;
    float *mask, *old_logprobs;
} pt_rollout_batch;
PTDEF int pt_rollout_batch_from(const pt_gen_result *r, int pad_id, pt_rollout_batch *out);
PTDEF void pt_rollout_batch_free(pt_rollout_batch *b);
PTDEF pt_batch pt_rollout_view(const pt_rollout_batch *b);

/* ================================================================================================
   6. OPTIMIZER                                                                         >>optimizer
   ------------------------------------------------------------------------------------------------
   AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"):
       m = b1 m + (1-b1) g;   v = b2 v + (1-b2) g^2;   mh = m / (1-b1^t);   vh = v / (1-b2^t)
       w = w - lr * (mh / (sqrt(vh) + eps) + wd * w)        (no wd on PT_PARAM_NO_DECAY tensors)
   Global-norm clipping (Pascanu et al. 2013): if ||g|| > c then g *= c / ||g||.
   Schedule: linear warmup to lr_max over `warmup` steps, then cosine decay to lr_min at `total`.
   ================================================================================================ */
typedef struct pt_adamw_config {
    float beta1;          /* 0 -> 0.9; PT_ZERO -> 0 (no momentum) */
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

/* Optimizer step for everything trainable in the model (base and adapters): clip the global norm
   (max_norm <= 0: no clipping), then AdamW. Returns PT_ERR_NONFINITE and changes nothing on NaN. */
PTDEF int pt_model_optimizer_step(pt_model *m, const pt_adamw_config *cfg, float lr, float max_norm, double *norm_out);
PTDEF void pt_model_zero_grad(pt_model *m);
/* ================================================================================================
   7. CHECKPOINTS                                                                     >>checkpoints
   ------------------------------------------------------------------------------------------------
   Native format, little-endian (all multi-byte fields):
       "PTCK"  u32 version (=1)  u32 header_bytes
       config: i32 dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, seq_len, untied;
               f32 norm_eps, rope_theta
       u32 n_tensors   u32 has_optimizer   i64 step
       tensor table: per tensor  u16 name_len, name bytes, u8 ndim, i32 shape[ndim], u8 trainable
                     (the model's tensors; then head.w [1, dim] and head.b [1] when it has a scalar head,
                     followed by i64 head_step, the head's own AdamW step count)
       data: each tensor's fp32 values in table order
       if has_optimizer: AdamW m then v for each trainable tensor, in table order
       u64 FNV-1a checksum of every byte before it
   Saving writes PATH.tmp, flushes it and renames it over PATH, so a crash never leaves a torn file.
   Loading reads the whole file, checks the checksum, magic, version, every size against the file
   length, and the config and tensor table against the model they describe, before touching
   anything: on any error the caller's model is unchanged. A model with a scalar head (section 3)
   saves it in the same file and pt_model_load gives it back; pt_model_load_into refuses a file
   whose head presence differs from the model's (a reward model never loads without its head).
   ================================================================================================ */
PTDEF int pt_model_save(const pt_model *m, const char *path, int with_optimizer);
PTDEF pt_model *pt_model_load(const char *path);               /* a new model (optimizer state too) */
/* Load into an existing model of the same config (weights, and optimizer state + step if the file
   has them): for exact resume. On error the model is unchanged. */
PTDEF int pt_model_load_into(pt_model *m, const char *path);
/* llama2.c checkpoints. Import reads the legacy v0 format (7 x i32 header: dim, hidden_dim,
   n_layers, n_heads, n_kv_heads, vocab_size (negative = unshared classifier), seq_len; fp32 weights
   in llama2.c's order; RoPE tables skipped; classifier last when unshared) and the v1 format
   (uint32 magic "ak42", i32 version 1, the 7 ints, u8 shared_classifier, zero pad to 256 bytes,
   norms first). Every header field is validated and the file size must match exactly. Export writes
   v0, which llama2.c's `run` loads. pt_model_load_any() picks the format from the first bytes. */
PTDEF pt_model *pt_model_load_llama2c(const char *path);
PTDEF int pt_model_save_llama2c(const pt_model *m, const char *path);
PTDEF pt_model *pt_model_load_any(const char *path);
/* Head files (3): "PTHD", u32 version 1, u32 dim, w[dim], b as fp32, u64 FNV-1a checksum; atomic.
   Loading checks the dim against the model and attaches the head (replacing any); on error the
   model is unchanged. A model whose head is expected but whose file is missing fails here, by name. */
PTDEF int pt_model_head_save(const pt_model *m, const char *path);
PTDEF int pt_model_head_load(pt_model *m, const char *path);

/* ================================================================================================
   8. PEFT: LoRA                                                                             >>lora
   ------------------------------------------------------------------------------------------------
   LoRA (Hu et al. 2021): a frozen weight W [out, in] gets a trainable low-rank update,
       y = x W^T + s * dropout(x) A^T B^T,     A [r, in], B [out, r],  s = alpha / r
   (rsLoRA, Kalajdzievski 2023: s = alpha / sqrt(r)). A starts Kaiming-uniform (bound 1/sqrt(in),
   as PEFT's kaiming_uniform_(a=sqrt(5))), B starts at zero, so the adapted model starts exactly at
   the base model. Attaching freezes every base tensor: they get no gradient slots and no gradient
   work. Memory: each adapted product is one op (pt_linear_lora, 2a) that keeps only x A^T [rows, r]
   for the backward, so training adds gradients + AdamW moments of A and B (12 bytes per trainable
   parameter) and almost no activations; the activations of the frozen network are still needed,
   and on a small model they dominate (pt_sft_result reports all three; examples/peft.c prints them).
   The adapters live in their own flat buffers (m->lora->params); merge folds s B A into W
   (for export or fast inference), unmerge takes it out again. Targets are glob patterns over the
   names of the seven matrices of each layer (layers.N.attn.wq|wk|wv|wo, layers.N.mlp.w1|w2|w3).
   Adapter files: "PTLA", u32 version 1, u32 rank, f32 alpha, u32 rslora, u32 count, then per
   adapter u32 slot (layer * PT_LAYER_MATRICES + pt_layer_matrix, i.e. layer * 7 + 0..6 for wq wk wv
   wo w1 w2 w3), u32 out, u32 in, A, B as fp32 (shapes are checked against the model on load); a u64
   FNV-1a checksum; saved atomically, validated against the model on load.
   ================================================================================================ */
typedef struct pt_lora_config {
    int rank;             /* 0 -> 8 */
    float alpha;          /* 0 -> rank (s = 1) */
    int rslora;           /* 1: s = alpha / sqrt(rank) */
    float dropout;        /* on the adapter input while training (grad on); 0 = none */
    const char *targets;  /* comma-separated globs; NULL -> "*.attn.wq,*.attn.wv" (the LoRA paper's) */
    uint64_t seed;        /* A's initialisation and the dropout masks */
} pt_lora_config;
typedef struct pt_lora {
    pt_params *params;    /* every A and B, trainable */
    pt_tensor **a, **b; /* [n_layers * PT_LAYER_MATRICES], by pt_layer_matrix: NULL where the matrix is not targeted */
    int rank, rslora, merged, count;
    float alpha, scale, dropout;
    pt_rng rng;
} pt_lora;
PTDEF int pt_lora_attach(pt_model *m, const pt_lora_config *cfg);
PTDEF void pt_lora_detach(pt_model *m);          /* drops the adapters (unmerged weights stay as they are) */
PTDEF int pt_lora_merge(pt_model *m);            /* W += s B A for every adapter (not while switched off) */
PTDEF int pt_lora_unmerge(pt_model *m);          /* W -= s B A */
PTDEF int pt_lora_save(const pt_model *m, const char *path);
PTDEF int pt_lora_load(pt_model *m, const char *path);   /* attaches (replacing any) and loads */

/* ------------------------------------------------------------------------------------------------
   8b. Prompt tuning and trainable tokens                                                  >>tokens
   Prompt tuning (Lester et al. 2021, "The Power of Scale for Parameter-Efficient Prompt Tuning"):
   k trainable virtual-token embeddings P [k, D] are prepended to every input and nothing else
   trains. Here virtual token j is the id V + j, past the vocabulary: prepending them is a data
   operation (pt_examples_prepend, pt_model_prompt_prefix), so packing, segment masks, the KV cache
   and generation need nothing new; the classifier still covers the V real tokens (a virtual token
   is never predicted). They go before everything, <bos> included, as PEFT does. Init: the
   embeddings of given token ids (the paper's class-label/text init, PEFT's PromptTuningInit.TEXT)
   or of k random vocabulary rows (the paper's sampled-vocabulary init).
   Trainable tokens (PEFT's TrainableTokensModel; the recipe for new special tokens): only the rows
   of chosen ids train, e.g. the chat template's markers that a base model never saw. The rows live
   in a small trainable tensor R [n, D] that overrides those rows of the frozen table,
       x_t = R[j] if token t is ids[j], else E[t],     logit[ids[j]] = h . R[j]
   (through the tied classifier; an untied model gets a second tensor for its classifier rows), so
   the base keeps no gradient buffer. pt_tokens_merge writes R into the base tables (exact).
   One token adapter at a time (pt_tokens_attach makes one with both kinds of rows); it combines
   with LoRA (both train, the base stays frozen).
   Adapter files: "PTTK", u32 version 1, u32 n, u32 n_virtual, u32 dim, u32 vocab, u32 has_out,
   i32 ids[n], R, then the classifier rows if has_out, as fp32; u64 FNV-1a checksum; atomic.
   ------------------------------------------------------------------------------------------------ */
typedef struct pt_token_adapter {
    pt_params *params;
    pt_tensor *rows;      /* [n, D]: the embedding of each token in ids */
    pt_tensor *out_rows;  /* [n, D]: their classifier rows in an untied model, else NULL */
    int n, n_virtual;     /* rows; the first n_virtual are virtual tokens V .. V+n_virtual-1 */
    int *ids;             /* [n] */
    int *slot;            /* [V + n_virtual]: j if the token is ids[j], else -1 */
    int *cols;            /* [n]: the classifier column of each row (-1 for virtual tokens) */
} pt_token_adapter;
/* Prompt tuning with n_virtual tokens (ids V ..), rows copied from the embeddings of init_ids
   (NULL: of random vocabulary rows drawn with seed). Freezes the base; replaces a token adapter. */
PTDEF int pt_prompt_tuning_attach(pt_model *m, int n_virtual, const int *init_ids, uint64_t seed);
/* Train only the embedding (and classifier) rows of ids[0..n); freezes the base. */
PTDEF int pt_trainable_tokens_attach(pt_model *m, const int *ids, int n);
/* Both in one adapter: n_virtual virtual tokens (0 = none; init as above) and trainable rows for
   train_ids[0..n_train) (the soft prompt cannot teach the model tokens it never saw; this can). */
PTDEF int pt_tokens_attach(pt_model *m, int n_virtual, const int *init_ids, const int *train_ids, int n_train,
                           uint64_t seed);
PTDEF void pt_tokens_detach(pt_model *m);
PTDEF int pt_tokens_merge(pt_model *m);   /* trainable tokens: write R into the base, detach */
PTDEF int pt_tokens_save(const pt_model *m, const char *path);
PTDEF int pt_tokens_load(pt_model *m, const char *path);   /* attaches (replacing any) and loads */
/* The virtual-token prefix every prompt needs (0 tokens without prompt tuning); returns the count. */
PTDEF int pt_model_prompt_prefix(const pt_model *m, int *ids, int cap);
typedef struct pt_example pt_example;   /* a tokenized training example, section 9b */
/* Insert ids[0..k) at the front of each example (into its prompt; never trained on). */
PTDEF int pt_examples_prepend(pt_example *ex, int n, const int *ids, int k);
/* Tokens the model accepts as input: V plus the virtual tokens. */
PTDEF int pt_model_input_vocab(const pt_model *m);

/* ================================================================================================
   9. DATA: THE ARITHMETIC WORLD                                                            >>world
   ------------------------------------------------------------------------------------------------
   A deterministic, seeded world of multi-digit additions whose reasoning is checkable step by step:
       Q: 47+85=?
       A: <think>7+5=12;4+8+1=13</think><answer>132</answer>
   The think block adds column by column from the right: each step lists the column's digits, then
   the carry from the previous column (if any), and their sum; the last column's sum is written
   whole. A rule checks the final answer (correctness), the format (markers in order, parsable
   steps) and every step (process labels for PRMs: step j is right iff its digits are the operands'
   j-th column digits, its carry is the previous step's tens, and its sum is correct).
   Knobs: digits per operand (all operands of a problem have the same count), number of operands
   (terms), and the corpus noise (below).
   Splits, held out by construction. A problem's canonical form (its operands sorted, so 47+85 and
   85+47 are one problem) is hashed to a bucket 0..99: buckets 0-9 are the test class, 10-19 the
   validation class, 20-99 training (pt_world_split_of). Every draw of a split rejects problems of
   another class, so no test or validation problem can occur in any training stream (corpus, SFT,
   preference or RL prompts), for any seed or config. PT_WORLD_ID tests the training difficulty,
   PT_WORLD_OOD one more digit (test class too, so a later model trained on longer problems never
   sees them either), PT_WORLD_VALID is for choosing checkpoints and settings; report ID and OOD.
   Distinct problems with 2 terms: 1 digit 10^2 = 100 (this hash puts 5 in test, 13 in validation,
   82 in training), 2 digits 90^2 = 8,100 (758 / 792 / 6,550), 3 digits 810,000, 4 digits
   81,000,000; each class holds ~10% of every larger digit count. One-digit problems are few and
   most of them are training facts (their column sums are also steps of every longer problem).
   pt_world_heldout gives a fixed set of *distinct* held-out problems, an equal share per digit count
   (one digit offers only ~10 test prompts; what it cannot fill goes to the next count); pt_world_eval
   scores it per digit count with a 95% Wilson interval. At n = 800 and accuracy near 50% the
   interval is +-3.5 points: a 5-point difference between two models on the same set is about the
   smallest this size resolves (a paired comparison resolves less).
   Difficulty ladder (the settings later chapters use; measured numbers in README.md): the
   defaults, 1-3 digits and 2 terms, with the 0.94M model of examples/pretrain.c (10%-noise text):
   the base is imperfect where it matters (test 86.8%: 2 digits 96.7%, 3 digits 76.6%; one sample at
   T = 1 45%, pass@8 92%), SFT improves without saturating (90.2%; 3 digits 84.4%), and two held-out
   generalisation tests sit at the floor for both: one more digit (PT_WORLD_OOD, 0%) and operands
   of different lengths (PT_WORLD_MIXED, 0%). Harder rungs: terms = 3 (more carries, longer think
   blocks), max_digits = 4 (training then covers the default OOD's length, never its problems).
   The pretraining corpus mixes clean solutions with a fraction of noisy ones (a wrong digit in a
   step or the answer), as web text would, so a small base model learns the format and only
   imperfectly the arithmetic: that gap is what SFT, rewards and RL later close.
   ================================================================================================ */
typedef struct pt_world_config {
    int min_digits, max_digits;   /* 0 -> 1 .. 3 */
    int terms;                    /* operands per problem; 0 -> 2 */
    float noise;                  /* fraction of corrupted solutions in the corpus; 0 -> none */
    float direct;                 /* fraction of corpus solutions that answer directly, "A: <answer>132
                                     </answer>" without a think block (R1-Zero's base, section 13) */
    int rule;                     /* the rule of every problem drawn: PT_RULE_CARRY (0) or PT_RULE_NO_CARRY */
    float variant;                /* fraction of corpus documents under the no-carry rule (their question
                                     says so); 0 -> none (a base that knows both rules, section 13) */
} pt_world_config;
/* A rule variant, the same task under a changed rule stated in the prompt (Chu et al. 2025's OOD):
   "Q: 47+85=? (no carry)" adds column by column and drops every carry, 7+5=12 -> 2, 4+8=12 -> 2,
   answer 22; its think block lists the same columns without a carry term:
       A: <think>7+5=12;4+8=12</think><answer>22</answer>
   Its problems share the canonical form, so the split of 47+85 is the same under both rules. */
enum { PT_RULE_CARRY = 0, PT_RULE_NO_CARRY = 1 };
typedef struct pt_problem {
    int n_terms;
    long long terms[8];
    long long answer;             /* under the problem's rule */
    int rule;                     /* PT_RULE_CARRY or PT_RULE_NO_CARRY */
    char question[160];           /* "Q: 47+85=?\n", "Q: 47+85=? (no carry)\n" (8 terms of 16 digits fit) */
    char solution[512];           /* "A: <think>...</think><answer>132</answer>" */
} pt_problem;
/* Splits. PT_WORLD_TEST names the test class of pt_world_split_of (PT_WORLD_ID draws from it).
   PT_WORLD_MIXED: test problems whose operands have different lengths within [min, max] digits
   (347+5=?): every digit count is in range but training only ever pairs equal lengths, so it tests
   composition (aligning columns) rather than length; needs max_digits > min_digits (otherwise
   pt_world_problem gives ID test problems and pt_world_heldout an error). */
enum { PT_WORLD_TRAIN = 0, PT_WORLD_ID = 1, PT_WORLD_OOD = 2, PT_WORLD_VALID = 3, PT_WORLD_MIXED = 4,
       PT_WORLD_TEST = PT_WORLD_ID };
/* Problem `index` of a split (deterministic in (cfg, split, seed, index); held-out splits ignore
   seed). Small held-out spaces repeat problems across indices: evaluate on pt_world_heldout. */
PTDEF void pt_world_problem(const pt_world_config *cfg, int split, uint64_t seed, int64_t index, pt_problem *p);
/* The class of a problem by its canonical form: PT_WORLD_TRAIN, PT_WORLD_VALID or PT_WORLD_TEST. */
PTDEF int pt_world_split_of(const pt_problem *p);
/* Up to n distinct problems of a held-out split (ID, OOD, VALID, MIXED), an equal share per digit count,
   always the same; returns how many (fewer when the split has fewer distinct problems). */
PTDEF int pt_world_heldout(const pt_world_config *cfg, int split, int n, pt_problem *out);
/* 95% Wilson score interval of a proportion k/n (n = 0 gives [0, 1]). */
PTDEF void pt_binomial_interval(int k, int n, float *lo, float *hi);
/* Score a completion text (what follows the question) against a problem. */
typedef struct pt_world_score {
    int format_ok;      /* A: <think>steps</think><answer>digits</answer> in this order */
    int correct;        /* the answer equals the true sum */
    int n_steps;        /* steps parsed */
    int steps_ok;       /* how many of them are right */
    int first_bad_step; /* index of the first wrong step, -1 if none */
    int step_ok[16];    /* per-step labels (process supervision), for the first 16 steps */
    int has_answer;     /* an <answer>digits</answer> was found (majority votes count these) */
    long long answer;   /* its value */
} pt_world_score;
PTDEF void pt_world_score_text(const pt_problem *p, const char *completion, pt_world_score *s);
/* Parse "Q: 47+85=?" (anywhere in text: a raw prompt, a chat prompt, a JSONL prompt field) back into
   a problem, so any prompt can be scored; "=? (no carry)" selects that rule. 2..8 operands of up to
   15 digits; PT_ERR_FORMAT if none. */
PTDEF int pt_world_parse(const char *text, pt_problem *p);
/* The token span of each reasoning step of a completion (for per-step PRM labels on tokens): step j
   covers tokens start[j]..end[j] (inclusive), end[j] holding the step's last character (the last
   digit of its sum; the PRM reads its score there). ids are the completion's tokens (decoded with
   tok piece by piece, so BPE works too). Returns the number of steps (at most max_steps). */
PTDEF int pt_world_step_spans(const pt_tokenizer *tok, const int *ids, int n, int *start, int *end, int max_steps);

typedef struct pt_dataset pt_dataset;   /* records of a JSONL file, section 9c */
/* Preference data. The quality of a completion, the scale that preference strengths measure:
       3  right answer, every step right, well-formed
       2  right answer but flawed: a wrong step, or the format broken
       1  wrong answer in a well-formed completion
       0  wrong (or no) answer and the format broken
   "a is preferred to b" has a strength from the quality gap, the four levels of Llama 2's
   preference annotation (Touvron et al. 2023): gap 3 significantly better, 2 better, 1 slightly
   better; equal quality but fewer wrong steps is marginally better (0); anything else is no
   preference (-1). The strength is written to JSONL as "strength" (3, 2, 1, 0: Llama 2's "large"
   margins, usable as a Bradley-Terry margin). */
enum {
    PT_STRENGTH_NONE = -1,
    PT_STRENGTH_MARGINAL = 0,
    PT_STRENGTH_SLIGHT,
    PT_STRENGTH_BETTER,
    PT_STRENGTH_SIGNIFICANT
};
PTDEF int pt_world_quality(const pt_world_score *s);
PTDEF int pt_world_strength(const pt_world_score *a, const pt_world_score *b);
/* Synthetic completions (assistant text "<think>..</think><answer>..</answer>") of known flaws:
     PT_FLAW_NONE       the clean solution (quality 3)
     PT_FLAW_STEP       one step's sum wrong, not carried on: the answer stays right (quality 2)
     PT_FLAW_ANSWER     every step right, the answer wrong (quality 1, no wrong step)
     PT_FLAW_CARRIED    one step's sum wrong and carried on into a wrong answer (quality 1, one wrong step)
     PT_FLAW_TRUNCATED  cut off inside the think block, as a generation that ran out of tokens (quality 0)
   Returns the full length, snprintf-style (the text written is truncated to cap - 1 bytes). */
enum { PT_FLAW_NONE = 0, PT_FLAW_STEP, PT_FLAW_ANSWER, PT_FLAW_CARRIED, PT_FLAW_TRUNCATED };
PTDEF int pt_world_completion(const pt_problem *p, int flaw, pt_rng *rng, char *out, int cap);
/* n preference records (prompt "Q: 47+85=?", chosen, rejected, strength) for problems of a split,
   the four strengths in equal shares (significant: clean vs truncated; better: clean vs a wrong
   answer, or a step slip vs truncated; slight: clean vs a step slip, ...; marginal: a wrong answer
   with right steps vs one carried from a wrong step). triples = 1 builds Llama 3's
   edited > chosen > rejected rankings instead: per problem a wrong completion (rejected), a
   flawed one with the right answer (chosen) and its repair (edited = the clean solution), written
   as the three pairs edited/chosen, edited/rejected, chosen/rejected (n records, n a multiple of 3). */
PTDEF int pt_world_preferences(const pt_world_config *cfg, int split, uint64_t seed, int n, int triples,
                               pt_dataset *ds);
/* On-policy pairs: `samples` completions per problem from the model (chat template, sampler s),
   ranked by the rules: the best and the worst form a pair when the best is strictly preferred.
   Problems 0..n_problems-1 of a split (seed as pt_world_problem). Returns the pairs in ds. */
PTDEF int pt_world_onpolicy_pairs(pt_model *m, const pt_world_config *cfg, int split, uint64_t seed, int n_problems,
                                  int samples, const pt_sampler *s, uint64_t gen_seed, pt_dataset *ds);
/* Sampled evaluation next to greedy: `samples` completions per held-out problem at sampler s:
   mean accuracy (pass@1), unbiased pass@k (Chen et al. 2021), and the majority vote over the
   parsed answers (self-consistency, Wang et al. 2023; ties go to the answer seen first). */
typedef struct pt_world_sampled_result {
    int n, samples, k;
    float greedy, mean, pass_at_k, majority, format_rate;
} pt_world_sampled_result;
PTDEF int pt_world_eval_sampled(pt_model *m, const pt_world_config *cfg, int split, int n, int chat, int samples, int k,
                                const pt_sampler *s, uint64_t seed, pt_world_sampled_result *res);
/* pass@k from n samples of which c are right: 1 - C(n-c, k) / C(n, k) (k <= n). */
PTDEF double pt_pass_at_k(int n, int c, int k);
/* The pretraining corpus: `n_docs` documents BOS "Q: ...\nA: ...\n" EOS (noisy with probability
   cfg->noise) written as byte-tokenizer ids into ids (up to cap); returns the count. */
PTDEF int64_t pt_world_corpus(const pt_world_config *cfg, uint64_t seed, int64_t n_docs, int *ids, int64_t cap);
/* The prompt for a problem as byte ids; returns the count. chat = 0: the base model's raw format,
   BOS "Q: 47+85=?\nA: "; chat = 1: the chat template (below), BOS <|user|>Q: 47+85=?<|end|><|assistant|>. */
PTDEF int pt_world_prompt(const pt_problem *p, int chat, int *ids, int cap);
/* Greedy-decode the fixed held-out set of a split (pt_world_heldout; for PT_WORLD_TRAIN problems
   0..n-1 of seed 0) in one batched generation and score it: answer accuracy with its 95% interval,
   per digit count, format validity and the fraction of correct steps; res->first keeps the first
   completion text. Prompts start with the model's virtual tokens when prompt tuning is attached. */
typedef struct pt_world_eval_result {
    int n, correct;
    float accuracy, accuracy_lo, accuracy_hi;   /* correct / n and its 95% Wilson interval */
    float format_rate, step_accuracy;
    int n_by_digits[17], correct_by_digits[17];  /* indexed by operand digit count */
    char first[256];
} pt_world_eval_result;
PTDEF int pt_world_eval(pt_model *m, const pt_world_config *cfg, int split, int n, int chat, pt_world_eval_result *res);
/* Two models on the same held-out problems (greedy, as pt_world_eval): a paired comparison resolves
   differences that two separate intervals cannot. a_only counts problems model a gets right and b
   wrong, b_only the reverse; McNemar's test (McNemar 1947) z = (b_only - a_only) / sqrt(a_only +
   b_only), normal approximation without continuity correction, two-sided p (z = 0, p = 1 when no
   problem changes). A positive z favours b. */
typedef struct pt_paired_result {
    int n, correct_a, correct_b, a_only, b_only;
    float z, p;
} pt_paired_result;
PTDEF int pt_world_eval_paired(pt_model *a, pt_model *b, const pt_world_config *cfg, int split, int n, int chat,
                               pt_paired_result *res);
PTDEF void pt_mcnemar(int a_only, int b_only, float *z, float *p);
/* " 45.1% [41.7, 48.6] n=800 (1d 5/5, 2d 301/397, 3d 55/398)": accuracy, interval (fixed widths,
   so lines align), per digit count.
   Returns the length (snprintf-style). */
PTDEF int pt_world_eval_format(const pt_world_eval_result *res, char *out, int cap);

/* ------------------------------------------------------------------------------------------------
   9b. Chat template and SFT examples                                                        >>chat
   One template for every algorithm, with the byte tokenizer's special tokens:
       <bos>[<|system|>SYSTEM<|end|>]<|user|>USER<|end|><|assistant|>ASSISTANT<|end|><eos>
   A supervised example is prompt ids (everything up to and including <|assistant|>, never
   trained on) followed by completion ids (the assistant's text, <|end|>, <eos>): the loss mask is
   1 exactly on the completion ("completion-only" / "assistant-only" loss, as TRL's
   DataCollatorForCompletionOnlyLM). The world's demonstration for a problem is its clean solution:
       prompt      <bos><|user|>Q: 47+85=?<|end|><|assistant|>
       completion  <think>7+5=12;4+8+1=13</think><answer>132</answer><|end|><eos>
   ------------------------------------------------------------------------------------------------ */
struct pt_example {
    int *ids;          /* prompt then completion */
    int n_ids, n_prompt;
    unsigned char *train;   /* optional [n_ids]: 1 where token i is a training target (multi-turn
                               assistant-only loss); NULL = every token from n_prompt on */
};
/* Render a conversation with the template; system may be NULL; assistant NULL ends with
   <|assistant|> (a generation prompt). Returns the full length, snprintf-style (the text written is
   truncated to cap - 1 bytes). */
PTDEF int pt_chat_text(const char *system, const char *user, const char *assistant, char *out, int cap);
/* The world's SFT example for problem `index` of a split (heap ids; free with pt_examples_free). */
PTDEF int pt_world_sft_example(const pt_world_config *cfg, int split, uint64_t seed, int64_t index, pt_example *ex);
PTDEF void pt_examples_free(pt_example *ex, int n);   /* frees each ex[i].ids and .train (not the array) */
/* Pack examples into one batch of B rows of T tokens: examples are laid end to end in each row,
   each with its own segment id (1, 2, ...) and positions from 0, so attention never crosses an
   example (pt_attention's segment mask); targets are the next token of the same example, the loss
   mask is 1 on completion targets only (or where ex.train says); the rest of a row is padding (seg 0, mask 0). Takes
   examples order[0..] while they fit (an example longer than T is cut to T); returns how many were
   used. Buffers are [B*T]. */
PTDEF int pt_pack_examples(const pt_example *ex, const int *order, int n_order, int B, int T, int pad_id,
                           int *tokens, int *targets, float *mask, int *pos, int *seg);

/* ------------------------------------------------------------------------------------------------
   9c. Datasets: strict JSONL                                                               >>jsonl
   One JSON object per line (JSON Lines), in the schemas TRL's trainers read:
       text        {"text": "..."}                                      plain language modelling
       completion  {"prompt": "...", "completion": "..."}               SFT, prompt not trained on
       messages    {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
       preference  {"prompt": "...", "chosen": "...", "rejected": "..."[, "strength" | "margin": x]}
       prompt      {"prompt": "..."[, "answer": "..."]}                 RL with a rule reward
   The schema is the caller's, or (PT_DATA_AUTO) the first record's: messages, else chosen+rejected,
   else completion, else text, else prompt; every line must then carry that schema's fields.
   Strict means: RFC 8259 JSON (no comments, trailing commas, NaN or single quotes), valid UTF-8
   (no overlongs, surrogates or code points past U+10FFFF), every field of the right type, no field
   of the schema twice, no NUL (\u0000) in a string, at most max_line bytes per line (0 -> 1 MiB),
   values nested at most 64 deep, numbers finite and at most 63 characters long (so an id such
   as 2**256 in a metadata field is an error), strength |x| < 1e30.
   Other fields are allowed and skipped (datasets carry ids and metadata); the schemas' own names
   (text, prompt, completion, chosen, rejected, answer, messages, strength, margin) are reserved:
   wherever they appear they must have their schema's type. Blank lines are skipped, \r\n line
   ends and a leading UTF-8 byte-order mark are accepted. Errors read
       data.jsonl:12:34: expected ',' or '}' after a field, found 'x'
   (line and byte column from 1; on line 1 counted after a byte-order mark) and leave *ds
   untouched: a file loads whole or not at all. Saving refuses (PT_ERR_ARG, nothing written) what
   the reader would reject: no records, missing fields, bad UTF-8, unknown roles, non-finite
   strength, a line longer than the default limit.
   Records become examples (pt_record_example) as follows, so every trainer sees the same tokens:
       text        <bos>TEXT<eos>, every token trained
       completion  <bos>PROMPT | COMPLETION<eos> (raw concatenation, TRL's "standard" format), or
                   with chat = 1 the chat template with user = PROMPT, assistant = COMPLETION
       messages    the chat template over all turns; the loss covers every assistant turn and
                   its <|end|> (assistant-only loss); n_prompt ends at the first assistant turn
       preference  prompt + chosen (which = 0) or prompt + rejected (which = 1), as completion
       prompt      the generation prompt alone (n_ids == n_prompt)
   Pieces are encoded separately, so the prompt/completion boundary is always a token boundary.
   ------------------------------------------------------------------------------------------------ */
enum { PT_DATA_AUTO = 0, PT_DATA_TEXT, PT_DATA_COMPLETION, PT_DATA_MESSAGES, PT_DATA_PREFERENCE, PT_DATA_PROMPT };
typedef struct pt_message { char *role, *content; } pt_message;
typedef struct pt_record {
    int line;                     /* 1-based line in the file */
    char *text, *prompt, *completion, *chosen, *rejected, *answer;   /* NULL when absent */
    pt_message *messages; int n_messages;
    float strength; int has_strength;   /* "strength" or "margin", if given */
} pt_record;
struct pt_dataset { int kind, n; pt_record *records; };
/* Load a JSONL file (kind = PT_DATA_* or PT_DATA_AUTO; max_line 0 -> 1 MiB). */
PTDEF int pt_jsonl_load(const char *path, int kind, size_t max_line, pt_dataset *ds);
/* The same over a buffer; `name` stands for the file name in error messages. */
PTDEF int pt_jsonl_parse(const char *name, const char *text, size_t len, int kind, size_t max_line, pt_dataset *ds);
PTDEF void pt_dataset_free(pt_dataset *ds);
PTDEF const char *pt_data_kind_name(int kind);   /* "text", "completion", ... */
/* Write a dataset as JSONL in its schema (atomic; strings escaped so that loading gives them back). */
PTDEF int pt_jsonl_save(const pt_dataset *ds, const char *path);
/* One record as a tokenized example (see above); which = 1 picks a preference record's rejected. */
PTDEF int pt_record_example(const pt_tokenizer *tok, const pt_record *r, int kind, int chat, int which, pt_example *ex);
/* The world as a dataset of n problems of a split, in any schema: text "Q: ..\nA: <think>..</answer>\n";
   completion the same split after "A: "; messages user "Q: 47+85=?", assistant "<think>..</answer>"
   (pt_record_example gives exactly pt_world_sft_example's ids); preference chosen = the clean solution,
   rejected = one with a corrupted step or answer; prompt "Q: 47+85=?" with answer "132". Text and
   completion records follow the base model's raw format; messages, preference and prompt records
   are meant for the chat template (pt_record_example with chat = 1). */
PTDEF int pt_world_dataset(const pt_world_config *cfg, int split, uint64_t seed, int n, int kind, pt_dataset *ds);

/* ================================================================================================
   10. TRAINING LOOP, SFT AND REFERENCES                                                      >>sft
   ------------------------------------------------------------------------------------------------
   Supervised fine-tuning on demonstrations (Ouyang et al. 2022, "InstructGPT", step 1): minimise
   the completion-only cross-entropy over packed batches,
       L = - (1/|C|) sum_{t in C} log p(y_t | y_<t)      C = completion tokens of the batch,
   with AdamW, linear warmup + cosine decay and global-norm clipping. Every eval_every steps: the
   loss on held-out examples and an optional task metric (e.g. world accuracy); the best model
   (by the metric, else by eval loss) is saved atomically. Non-finite losses skip the step.
   Distillation (Kim & Rush 2016, sequence-level; the distilled small models of DeepSeek-R1, 2025)
   is SFT on a teacher's generations: pt_generate with the teacher, pt_examples_from_generations
   (optionally keeping only answers a rule accepts), pt_sft_train on the student
   (examples/distill.c).
   ================================================================================================ */
/* --- The training loop every trainer shares (SFT here; reward models, DPO and RL later) ---------
   A trainer builds its own loss each step; the loop does the rest, the same way for all:
       pt_trainer tr;  pt_trainer_begin(&tr, m, &cfg, "margin,acc");     (extra CSV columns)
       while (pt_trainer_running(&tr)) {
           loss = ... (on ctx, using pt_trainer_lr(&tr) if needed)
           pt_trainer_step(&tr, ctx, loss, tokens);     backward, clip, AdamW, non-finite skip
           if (pt_trainer_eval_due(&tr)) pt_trainer_evaluated(&tr, eval_loss, metric);
           pt_trainer_log(&tr, extra, n_extra);         CSV row, progress line, next step
       }
       pt_trainer_end(&tr, ctx, &result);
   Schedule: linear warmup, cosine decay to min_lr (section 6). The best model (by the metric,
   higher is better, else by the eval loss) is saved to best_path after each evaluation that
   improves it (the model, or its adapters, see pt_sft_config). A non-finite loss or gradient skips
   the step (counted, never trained on); any other error stops the loop with that status. */
typedef struct pt_train_config {
    int steps;            /* 0 -> 200 */
    float lr;             /* peak learning rate; 0 -> 1e-3 */
    float min_lr;         /* end of the cosine; 0 -> lr / 10; PT_ZERO -> 0 */
    int warmup;           /* linear warmup steps; 0 -> steps / 20; PT_ZERO -> none */
    float weight_decay;   /* decoupled AdamW decay; 0 -> none */
    float beta1, beta2;   /* AdamW; 0 -> 0.9, 0.95 (beta1 PT_ZERO -> 0) */
    float grad_clip;      /* global-norm bound; 0 -> 1.0; PT_ZERO or < 0 -> no clipping */
    int eval_every;       /* 0 -> steps / 4 */
    const char *csv_path;     /* step,loss,lr,grad_norm,eval_loss,metric[,extra columns]; NULL = none */
    const char *best_path;    /* best checkpoint; NULL = none */
    const char *name;         /* the progress line's label; NULL -> "train" */
    int quiet;                /* 1: no progress line */
} pt_train_config;
typedef struct pt_train_result {
    float first_loss, last_loss, best_eval_loss, best_metric;
    int best_step, steps_done, skipped;
    double seconds, tokens_per_s;
    /* memory, measured from what was allocated (bytes): training peaks at the sum of the three */
    size_t weight_bytes;      /* every parameter: base + adapters + head (fp32) */
    size_t state_bytes;       /* gradients + AdamW m and v: the trainable tensors only */
    size_t activation_bytes;  /* the step arena's high-water mark: activations, their gradients and
                                 the tape's saved values (frozen prefixes of the network record none) */
    double gen_seconds, logprob_seconds, update_seconds;   /* RL trainers' time split (section 13) */
} pt_train_result;
typedef struct pt_trainer {
    pt_model *m;
    pt_train_config cfg;      /* resolved */
    pt_adamw_config opt;
    pt_train_result res;      /* filled as the loop runs */
    int step;                 /* the step being run, from 0 */
    float loss, lr;           /* this step's loss (NaN if skipped) and learning rate */
    float eval_loss, metric;  /* this step's evaluation (NaN if none) */
    double grad_norm, t0, tokens;
    void *csv;                /* FILE * */
    int n_extra, have_loss;
    int show_extra;           /* >= 0: the progress line also shows extra[show_extra] (e.g. RL's reward) */
    const char *show_name;
} pt_trainer;
/* Resolve defaults (the one place), open the CSV with the extra column names (NULL = none). */
PTDEF int pt_trainer_begin(pt_trainer *tr, pt_model *m, const pt_train_config *cfg, const char *extra_columns);
PTDEF int pt_trainer_running(const pt_trainer *tr);      /* step < steps */
PTDEF float pt_trainer_lr(const pt_trainer *tr);         /* this step's learning rate */
/* Backward from loss (a scalar on ctx), clip and step everything trainable in the model, zero the
   gradients, reset ctx. tokens counts toward tokens/s. PT_OK also when the step was skipped. */
PTDEF int pt_trainer_step(pt_trainer *tr, pt_ctx *ctx, pt_tensor *loss, double tokens);
PTDEF int pt_trainer_eval_due(const pt_trainer *tr);     /* evaluate after this step? */
/* Record this step's evaluation (NaN for what was not measured); save the best checkpoint. */
PTDEF int pt_trainer_evaluated(pt_trainer *tr, float eval_loss, float metric);
/* Before the first step: the starting model's evaluation, a candidate like any other (best_step 0),
   so a run that only makes the model worse keeps the model it started from. */
PTDEF int pt_trainer_baseline(pt_trainer *tr, float eval_loss, float metric);
/* Write the CSV row (with n_extra values) and the progress line; advance to the next step. */
PTDEF void pt_trainer_log(pt_trainer *tr, const float *extra, int n_extra);
/* Close the CSV; fill *res (may be NULL) with the result and measured memory (ctx: the step arena). */
PTDEF void pt_trainer_end(pt_trainer *tr, const pt_ctx *ctx, pt_train_result *res);

/* SFT: the loop above over packed completion-only batches. */
typedef struct pt_sft_config {
    int steps;            /* 0 -> 200 */
    int batch_rows;       /* rows per batch; 0 -> 8 */
    int seq_len;          /* row length for packing; 0 -> the model's seq_len */
    float lr;             /* peak learning rate; 0 -> 1e-3 */
    float min_lr;         /* 0 -> lr / 10; PT_ZERO -> 0 */
    int warmup;           /* 0 -> steps / 20; PT_ZERO -> none */
    float weight_decay;   /* 0 -> none */
    float grad_clip;      /* 0 -> 1.0; PT_ZERO or < 0 -> no clipping */
    int eval_every;       /* 0 -> steps / 4 */
    uint64_t seed;        /* example order */
    const char *csv_path;     /* metrics CSV (step,loss,lr,grad_norm,eval_loss,metric); NULL = none */
    const char *best_path;    /* best checkpoint; NULL = none. The model (native format), or when
                                 adapters are attached only they: LoRA (pt_lora_save) or a token
                                 adapter (pt_tokens_save) at best_path; both: tokens at PATH.tokens;
                                 base tensors unfrozen next to adapters: the model at PATH.model
                                 too; a scalar head next to adapters: PATH.head (a model's own
                                 checkpoint holds its head). Each file is atomic, the set is not. */
    float (*metric)(pt_model *m, void *user);   /* optional task metric, higher is better */
    void *user;
    int quiet;            /* 1: no progress line */
} pt_sft_config;
typedef pt_train_result pt_sft_result;
PTDEF int pt_sft_train(pt_model *m, const pt_example *train, int n_train, const pt_example *eval, int n_eval,
                       const pt_sft_config *cfg, pt_sft_result *res);
/* Completion-only mean cross-entropy of the model on examples (no gradient). */
PTDEF int pt_eval_loss(pt_model *m, const pt_example *ex, int n, int T, float *loss);
/* Generations as SFT examples (distillation, rejection sampling, STaR): sequence i's prompt, then its
   generated tokens, then end_id if end_id >= 0 (e.g. <eos> after a stop at <|end|>). keep (may be
   NULL) selects sequences. Writes up to r->n_seqs examples to ex; returns the count or an error. */
PTDEF int pt_examples_from_generations(const pt_gen_result *r, const unsigned char *keep, int end_id, pt_example *ex);

/* --- References (DPO, PPO and GRPO's KL anchor) ---------------------------------------------------
   A reference is the model before preference or RL training. Two ways to have one:
   - the same model with its adapters switched off (PEFT's disable_adapter(), how TRL's DPO trainer
     gets a reference for free when the policy is LoRA): pt_model_set_adapters(m, 0) makes both
     forwards skip LoRA and token adapters without touching the base, so the logits are the base's
     bit for bit; prompts must not contain virtual tokens meanwhile. Merged LoRA cannot be
     switched off (PT_ERR_ARG: unmerge first).
   - a separate copy, pt_model_clone: the weights (and adapters) of m, frozen (no gradient or
     optimizer buffers: forward-only memory) or trainable as m's tensors are.
   Reference log-probs are computed once per dataset, without the tape, in batches of bounded size. */
PTDEF int pt_model_set_adapters(pt_model *m, int enabled);
PTDEF pt_model *pt_model_clone(const pt_model *m, int trainable);
/* Per example: the sum of log p(completion tokens | prefix) (the tokens a trainer would train on,
   pt_pack_examples' mask) into sum_logp[i], and their count into n_tokens[i] (may be NULL).
   Runs without gradients, rows_per_batch examples at a time (0 -> 16), one example per row. */
PTDEF int pt_sequence_logprobs(pt_model *m, const pt_example *ex, int n, int rows_per_batch, float *sum_logp,
                               int *n_tokens);

/* ================================================================================================
   11. REWARD MODELS                                                                      >>rewards
   ------------------------------------------------------------------------------------------------
   A reward turns a prompt and a completion into a number that says how good the completion is.
   Rules (verifiable rewards: DeepSeek-R1 2025, Tulu 3's RLVR 2024): the world checks an answer and
   every step exactly. A rule must not be fooled: an empty completion, one that repeats itself or
   answers more than once scores 0 for correctness.
       correct   1 if the completion holds exactly one <answer>digits</answer> and it equals the sum
       format    1 if it is exactly <think>...</think><answer>...</answer> (R1's format reward)
       length    DAPO's soft overlong penalty (Yu et al. 2025): 0 up to max_len - cache_len bytes,
                 then linearly down to -1 at max_len, -1 beyond
       mix       sum_i w_i r_i: several rewards at once, the defence against hacking any one of them
   Trailing <|end|>, <eos> and whitespace (how generations end) are ignored by every rule.
   Learned outcome reward model (ORM; Ouyang et al. 2022, Touvron et al. 2023): the transformer
   with its scalar head (section 3) read at the last token of the completion, r(x, y). Trained on
   preference pairs with the Bradley-Terry model P(y_c > y_r) = sigmoid(r_c - r_r):
       L_BT = -log sigmoid(r_c - r_r - m) + eta (r_c + r_r)^2
   m is a margin from the pair's strength (Llama 2: larger for clearer preferences); the second
   term, reward centring (Eisenstein et al. 2023), keeps rewards near zero.
   Process reward model (PRM; Lightman et al. 2023, "Let's verify step by step"; Math-Shepherd,
   Wang et al. 2024): the head read at the last token of every reasoning step s_j, trained with
   binary cross-entropy on the world's step labels y_j (step j right given the steps before it):
       L_PRM = mean_j -[y_j log sigmoid(s_j) + (1 - y_j) log sigmoid(-s_j)]
   A solution's PRM score aggregates the step probabilities: the minimum (Lightman et al.), the
   product, or the last step's.
   Generative judge (LLM-as-a-judge, Zheng et al. 2023; GenRM, Zhang et al. 2024): no head at all;
   the policy-format model is fine-tuned (plain SFT) to answer "Is this solution correct?" with
   yes/no, optionally after solving the problem itself, and scores by p(yes).
   Any of them can start from the SFT model or the base, fully trained or with LoRA (section 8):
   the head is always trainable, and a LoRA reward model saves its adapters and its head.
   ================================================================================================ */
/* A rule reward: any text holding "Q: a+b=?" as the prompt, the completion after it. */
typedef float (*pt_reward_fn)(const char *prompt, const char *completion, void *user);
PTDEF float pt_reward_correct(const char *prompt, const char *completion, void *user);
PTDEF float pt_reward_format(const char *prompt, const char *completion, void *user);
/* DAPO's overlong penalty in bytes; user points to one (NULL: max_len 256, cache_len 64). */
typedef struct pt_length_penalty {
    int max_len;     /* 0 -> 256 */
    int cache_len;   /* the soft zone before max_len; 0 -> max_len / 4 */
} pt_length_penalty;
PTDEF float pt_reward_length(const char *prompt, const char *completion, void *user);
/* sum_i weight_i * fn_i(prompt, completion); parts (may be NULL) receives each term's raw value. */
typedef struct pt_reward_term {
    const char *name;
    pt_reward_fn fn;
    void *user;
    float weight;
} pt_reward_term;
PTDEF float pt_reward_mix(const pt_reward_term *terms, int n_terms, const char *prompt, const char *completion,
                          float *parts);
/* The world's step labels of a completion (1 right, 0 wrong, process supervision); returns the
   number of steps (at most max_steps), 0 when the prompt holds no problem. */
PTDEF int pt_reward_step_labels(const char *prompt, const char *completion, float *labels, int max_steps);

/* Losses: pure functions of tensors, each a scalar on the tape. r_chosen, r_rejected are [n].
   margins (n floats, may be NULL) are subtracted inside the sigmoid; eta >= 0 is reward centring. */
PTDEF pt_tensor *pt_bt_loss(pt_ctx *ctx, pt_tensor *r_chosen, pt_tensor *r_rejected, const float *margins,
                            float eta);
/* Mean binary cross-entropy of logits[n] against labels in [0, 1] over mask (NULL = all):
   sum_i m_i -[y_i log sigmoid(z_i) + (1 - y_i) log sigmoid(-z_i)] / sum_i m_i. */
PTDEF pt_tensor *pt_bce_loss(pt_ctx *ctx, pt_tensor *logits, const float *labels, const float *mask);
enum { PT_PRM_MIN = 0, PT_PRM_PRODUCT, PT_PRM_LAST };
/* A solution's score from its step probabilities (n = 0 gives 0). */
PTDEF float pt_prm_aggregate(const float *step_probs, int n, int mode);

/* Preference records (pt_world_preferences, JSONL) as example pairs: chosen[i], rejected[i] share
   the prompt (pt_record_example, chat template when chat = 1); strength[i] is the record's
   strength (0 when absent; strength may be NULL). Free each array with pt_examples_free. */
PTDEF int pt_pair_examples(const pt_dataset *ds, const pt_tokenizer *tok, int chat, pt_example *chosen,
                           pt_example *rejected, float *strength);

/* Outcome reward model training: the model's scalar head (attached with cfg->seed if missing) read
   at the last completion token of both sides of each pair, the Bradley-Terry loss, the shared loop
   (section 10). Pair i is chosen[i] > rejected[i]. Every eval_every steps: the eval pairs' loss and
   accuracy (the metric, unless cfg->train sets none: the best checkpoint is the most accurate). */
typedef struct pt_rm_config {
    pt_train_config train;   /* steps, lr, schedule, CSV (extra columns: acc, margin) */
    int batch_pairs;         /* 0 -> 8 */
    float margin;            /* m = margin * strength (Llama 2's margin); 0 = none */
    float center_eta;        /* reward centring; 0 = none */
    uint64_t seed;           /* pair order, and the head's initialisation when attached here */
} pt_rm_config;
PTDEF int pt_rm_train(pt_model *m, const pt_example *chosen, const pt_example *rejected, const float *strength,
                      int n, const pt_example *eval_chosen, const pt_example *eval_rejected, int n_eval,
                      const pt_rm_config *cfg, pt_train_result *res);
/* The reward of each example: the head's value at its last completion token (no gradient). */
PTDEF int pt_rm_score(pt_model *m, const pt_example *ex, int n, float *rewards);

/* Process RM targets of one world example: the position in ex->ids of each step's last token (the
   head reads its score there) and the step's label by the world's rules (1 right given the steps
   before it, 0 wrong); the final <answer>..</answer> counts as the last step (its '>' token),
   right iff it is the true sum (Lightman et al. grade the answer with the last step). A step cut
   off before its sum gets no label. Returns the number of labelled steps (<= max_steps), 0 when the
   prompt holds no world problem or the completion no step, < 0 on error. */
enum { PT_PRM_MAX_STEPS = 17 };   /* the world's 16 labelled steps and the answer */
PTDEF int pt_prm_targets(const pt_tokenizer *tok, const pt_example *ex, int *pos, float *labels, int max_steps);
/* Process RM training: the head (attached with cfg->seed if missing) read at every step target of
   each example, the mean binary cross-entropy against the labels, the shared loop (section 10).
   Examples without a labelled step are left out. Every eval_every steps: the eval examples' loss and
   step accuracy (the metric: the best checkpoint has the most accurate steps). */
typedef struct pt_prm_config {
    pt_train_config train;   /* steps, lr, schedule, CSV (extra column: step_acc) */
    int batch_size;          /* examples per step; 0 -> 16 */
    uint64_t seed;           /* example order, and the head's initialisation when attached here */
} pt_prm_config;
PTDEF int pt_prm_train(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, const pt_example *eval,
                       int n_eval, const pt_prm_config *cfg, pt_train_result *res);
/* Step probabilities sigmoid(s_j) of each example into probs[i * max_steps + j], its step count into
   n_steps[i] (targets as pt_prm_targets; labels may be NULL, else receives them alike). No gradient. */
PTDEF int pt_prm_steps(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, int max_steps,
                       float *probs, float *labels, int *n_steps);
/* A solution score per example: pt_prm_aggregate(mode) of its step probabilities (0 without steps). */
PTDEF int pt_prm_score(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, int mode,
                       float *scores);
/* Held-out process metrics: step accuracy (p > 0.5 agrees with the label), and the first-error
   detection rate: among solutions with a wrong step, the share whose first step with p < 0.5 is the
   first wrong one (ProcessBench's task, Zheng et al. 2024); false alarms: among solutions with every
   step right, the share with some step flagged. right_rate, the share of steps labelled right, is
   the step accuracy of a PRM that calls every step right: the baseline to beat. */
typedef struct pt_prm_eval_result {
    int n_solutions, n_steps, n_with_error, n_clean;
    float step_accuracy, first_error_rate, false_alarm_rate, right_rate;
} pt_prm_eval_result;
PTDEF int pt_prm_eval(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, pt_prm_eval_result *r);

/* Generative reward model, a judge (LLM-as-a-judge, Zheng et al. 2023; GenRM, Zhang et al. 2024):
   a policy-format model asked whether a solution is correct answers with a verdict word, and its
   score is p(yes) = p("yes") / (p("yes") + p("no")) at the verdict position. With think = 1 the
   judge first solves the problem itself in the world's format, then gives the verdict (GenRM's
   chain of thought: the verdict compares the candidate with its own answer). The conversation:
       user       Q: 47+85=?\n<candidate completion>\nIs this solution correct?
       assistant  [<think>7+5=12;4+8+1=13</think><answer>132</answer>]yes
   The verdict is about the outcome: "yes" iff the candidate's answer is right (pt_reward_correct).
   Returns lengths snprintf-style; bytes of the completion that are not UTF-8 (a sampled byte
   sequence can be anything) are written as '?', so the prompt is valid text for any template. */
PTDEF int pt_judge_prompt(const char *prompt, const char *completion, char *out, int cap);
/* The ideal response by the world's rules (the judge's SFT target), as above. */
PTDEF int pt_judge_target(const char *prompt, const char *completion, int think, char *out, int cap);
/* The verdict of a judge's response: 1 yes, 0 no, -1 none. The first word after the optional think
   and answer blocks decides, case-insensitively; "yes"/"no" must stand as a word ("yesterday" is
   none), and trailing <|end|>/<eos> are ignored. */
PTDEF int pt_judge_parse(const char *response);
/* n judge SFT records (completion schema: prompt = pt_judge_prompt, completion = pt_judge_target)
   on problems of a split, the candidates synthetic solutions of known flaws (pt_world_completion),
   half of them right (clean or with a step slip), half wrong (wrong answer, carried slip, cut off). */
PTDEF int pt_judge_data(const pt_world_config *cfg, int split, uint64_t seed, int n, int think, pt_dataset *ds);
/* p(yes) of the judge for each (prompt, completion) (chat template, no gradient). think = 1: the
   judge's thought is generated greedily first (up to 96 tokens) and the verdict read after it. */
PTDEF int pt_judge_score(pt_model *judge, const pt_tokenizer *tok, const char *const *prompts,
                         const char *const *completions, int n, int think, float *p_yes);

/* ================================================================================================
   12. PREFERENCE OPTIMISATION                                                         >>preference
   ------------------------------------------------------------------------------------------------
   Learn from preference pairs directly, without a reward model. With per-sequence log-probs of
   the policy (pi_c, pi_r: sum over completion tokens) and of a frozen reference (ref_c, ref_r),
   the implicit rewards are r = beta (log pi - log ref), and h = (pi_c - ref_c) - (pi_r - ref_r):
       DPO     -log sigmoid(beta h - m)                      Rafailov et al. 2023 (m: strength offset)
       cDPO    -(1-e) log sigmoid(beta h) - e log sigmoid(-beta h)     labels flipped with prob. e
                                                             (Mitchell 2023; e = 0 is DPO)
       robust  [-(1-e) log sigmoid(beta h) + e log sigmoid(-beta h)] / (1 - 2e)
                                                             Chowdhury et al. 2024 (unbiased)
       IPO     (h - 1/(2 beta))^2                            Azar et al. 2023 (optimum h = 1/(2 beta))
       hinge   max(0, 1 - beta h)                            SLiC, Zhao et al. 2023
       RPO     DPO + alpha * pi_c-NLL per token               Pang et al. 2024
       SimPO   -log sigmoid(beta (pi_c/|y_c| - pi_r/|y_r|) - gamma)   Meng et al. 2024, no reference
       ORPO    -pi_c/|y_c| - lambda log sigmoid(log odds_c - log odds_r),
               odds = p / (1 - p), p = exp(pi/|y|)            Hong et al. 2024, no reference
   Each loss is a public pure function returning the batch mean on the tape; pt_pref_loss picks
   one by config and reports the metrics TRL logs: reward accuracy (r_c > r_r), margin, mean
   chosen and rejected log-probs, and the implicit KL estimate mean(pi - ref) over both. A known
   DPO behaviour: chosen and rejected log-probs can both fall while the margin grows.
   ================================================================================================ */
PTDEF pt_tensor *pt_dpo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c, const float *ref_r,
                             float beta, float label_smoothing, int robust, const float *margins);
PTDEF pt_tensor *pt_ipo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c, const float *ref_r,
                             float beta);
PTDEF pt_tensor *pt_hinge_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c,
                               const float *ref_r, float beta);
/* len_c, len_r: completion tokens per sequence (the per-token normalisation). */
PTDEF pt_tensor *pt_simpo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *len_c, const float *len_r,
                               float beta, float gamma);
PTDEF pt_tensor *pt_orpo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *len_c, const float *len_r,
                              float lambda);
/* The NLL per token of the chosen completions, mean(-pi_c / len_c): RPO's and ORPO's SFT term. */
PTDEF pt_tensor *pt_chosen_nll(pt_ctx *ctx, pt_tensor *pi_c, const float *len_c);

enum { PT_PREF_DPO = 0, PT_PREF_IPO, PT_PREF_HINGE, PT_PREF_ROBUST, PT_PREF_SIMPO, PT_PREF_ORPO };
typedef struct pt_pref_config {
    int loss;               /* PT_PREF_* (0 = DPO) */
    float beta;             /* 0 -> 0.1 (SimPO: 2.0) */
    float label_smoothing;  /* cDPO / robust e in [0, 0.5); 0 = none */
    float rpo_alpha;        /* > 0: + alpha * chosen NLL per token (RPO; Llama 3's DPO) */
    float gamma;            /* SimPO's target margin; 0 -> 0.5 (beta-scaled in the paper: gamma/beta 0.25) */
    float lambda;           /* ORPO's weight; 0 -> 0.1 */
    float strength_margin;  /* > 0: DPO margin m = strength * this (strength-aware DPO) */
} pt_pref_config;
typedef struct pt_pref_metrics {
    float loss, accuracy, margin;          /* accuracy: share with r_c > r_r; margin: mean r_c - r_r */
    float chosen_logp, rejected_logp;      /* mean per-sequence policy log-probs */
    float chosen_reward, rejected_reward;  /* mean beta (pi - ref) (reference-free losses: beta pi/|y|) */
    float kl;                              /* mean (pi - ref) over chosen and rejected */
} pt_pref_metrics;
/* The configured loss over a batch of n pairs; ref_* may be NULL for SimPO and ORPO; len_* may be
   NULL except for SimPO, ORPO and RPO; strength may be NULL. metrics may be NULL. */
PTDEF pt_tensor *pt_pref_loss(pt_ctx *ctx, const pt_pref_config *cfg, pt_tensor *pi_c, pt_tensor *pi_r,
                              const float *ref_c, const float *ref_r, const float *len_c, const float *len_r,
                              const float *strength, pt_pref_metrics *metrics);

/* DPO training (any loss above) on example pairs with the shared loop (section 10): chosen and
   rejected sequences of a batch run through the policy together; the reference log-probs are
   computed once, before the first step, from cfg->ref, or (NULL) from the policy as it is when
   training starts (the DPO paper's pi_ref = pi_SFT), or with ref_adapters_off from the policy
   with its adapters switched off (PEFT's disable_adapter). CSV extra columns: acc, margin,
   chosen_logp, rejected_logp, kl. Every eval_every steps: the eval pairs' loss; the metric is
   cfg->metric (e.g. world accuracy) or else the eval pairs' reward accuracy. */
typedef struct pt_dpo_config {
    pt_pref_config pref;
    pt_train_config train;
    int batch_pairs;         /* pairs per step; 0 -> 8 */
    uint64_t seed;           /* pair order */
    pt_model *ref;           /* NULL: see above */
    int ref_adapters_off;
    float (*metric)(pt_model *m, void *user);
    void *user;
} pt_dpo_config;
PTDEF int pt_dpo_train(pt_model *m, const pt_example *chosen, const pt_example *rejected, const float *strength,
                       int n, const pt_example *eval_chosen, const pt_example *eval_rejected, int n_eval,
                       const pt_dpo_config *cfg, pt_train_result *res);

/* ================================================================================================
   13. POLICY OPTIMISATION                                                                 >>policy
   ------------------------------------------------------------------------------------------------
   Online RL: the policy writes completions (a rollout), a reward scores them, and the policy moves
   toward what scored well while a KL term keeps it near a frozen reference.
   Per completion token t: log-probs lp_t (the policy being trained), old_t (the policy that
   sampled), ref_t (the reference); the ratio rho_t = exp(lp_t - old_t); an advantage A_t.
       clipped surrogate  l_t = -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)
                          PPO (Schulman et al. 2017); eps_high > eps_low is DAPO's clip-higher
                          (Yu et al. 2025). Where the clip binds the token's gradient is zero.
       KL estimators      d = ref - lp:   k1 = -d    k2 = d^2 / 2    k3 = exp(d) - d - 1
                          (Schulman 2020, "Approximating KL divergence": samples from the policy,
                          k1 unbiased, k3 unbiased and never negative: GRPO's penalty)
   Advantages:
       GRPO   A_i = (r_i - mean_group r) / (std + 1e-4) for every token of completion i, the std per
              group (DeepSeekMath, Shao et al. 2024), over the batch, or none (Dr. GRPO, Liu et al.
              2025: the std divides easy and hard prompts' signal unequally). std is the unbiased
              one (torch.std, as TRL); a group whose rewards are all equal gets A = 0 exactly.
       RLOO   A_i = r_i - mean_{j != i} r_j = G/(G-1) (r_i - mean r)   (Kool et al. 2019; Ahmadian
              et al. 2024, "Back to basics": REINFORCE with a leave-one-out baseline)
       PPO    GAE (Schulman et al. 2016) on per-token rewards and critic values V_t:
                  delta_t = r_t + gamma V_{t+1} - V_t,   A_t = delta_t + gamma lambda A_{t+1},
                  returns R_t = A_t + V_t,  V and A are 0 after the last token
              per-token reward r_t = -kl_coef k1_t, plus the sequence score on the last completion
              token, the stop token (Ziegler et al. 2019; Stiennon et al. 2020; TRL's PPOTrainer).
              Advantages are whitened over the batch's valid tokens ((A - mean) / sqrt(var + 1e-8),
              unbiased var, as TRL's masked_whiten). Value loss, clipped like the policy:
                  0.5 max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)
   Aggregation of per-token losses over B sequences (m = completion mask):
       PT_AGG_SEQ_MEAN      (1/B) sum_i (sum_t m l) / (sum_t m)   GRPO's paper: a long completion's
                                                                 tokens each weigh less (length bias)
       PT_AGG_TOKEN_MEAN    sum_{i,t} m l / sum_{i,t} m            DAPO, BNPO
       PT_AGG_SEQ_SUM_NORM  sum_{i,t} m l / (B L_max)               Dr. GRPO: a constant normaliser
   With gradient accumulation the denominators must be the whole batch's (B, token count), not each
   micro-batch's, or the gradient changes with the split: pt_aggregate_loss takes them as arguments.
   Facts that surprise users of the peers:
     - The first update of each rollout has rho = 1 exactly (old == current, computed by the same
       forward), so the clip cannot bind there, and with one update per rollout the loss's gradient
       is plain REINFORCE, A grad lp. The clip matters only with several updates per rollout
       (updates_per_rollout, minibatches): then the old log-probs come from a no-gradient forward
       of the sampling policy over the same rows.
     - Log-probs in every loss are the full softmax at the sampling temperature (TRL divides the
       logits by it too): sampling at T = 0.7 and scoring at T = 1 computes ratios and KL of a
       different distribution. Top-k/top-p truncation is not applied when scoring (as TRL): the
       ratios then refer to the untruncated distribution; the trainers sample without it.
     - EOS is not PAD: the stop token is a generated token with mask 1, so the policy learns to
       stop; pt_rollout_generate refuses a pad id that is also a stop token.
     - A completion that ran out of tokens has no stop token: flagged as truncated; the trainers can
       leave it out of the loss (DAPO's overlong filtering) or penalise it (missing_eos_penalty).
     - A non-finite reward is reported (counted in the CSV) and its group is left out of the step.
   Timing: every step reports generation, log-prob (reference, old, values) and training seconds.
   Examples: grpo.c (R1-Zero: GRPO from a base that mostly answers directly), r1.c (R1-Zero against
   a cold-start SFT then GRPO, and SFT alone), ppo.c (PPO against the learned ORM), rl_tour.c (GRPO,
   Dr. GRPO, RLOO and PPO from one base; the DPO-vs-PPO reward/KL frontier), dr_grpo.c (length
   bias), reward_hacking.c (proxy against truth), sft_vs_rl.c (SFT and GRPO at matched ID accuracy
   on the world's no-carry rule variant: SFT forgets the variant, GRPO keeps it), grpo_stories.c
   (GRPO of stories260K with a rule reward, back to llama2.c); notebook 05_rl.
   ================================================================================================ */
/* --- Pure functions over arrays (no tape) ---------------------------------------------------------- */
enum { PT_KL_K1 = 1, PT_KL_K2, PT_KL_K3 };
/* out[i] = the per-token estimate of KL(policy || ref) for d = ref_logp[i] - logp[i]; 0 where mask
   (may be NULL) is 0. */
PTDEF void pt_kl_tokens(const float *logp, const float *ref_logp, const float *mask, int n, int kind, float *out);
/* GAE over B rows of T positions: the valid (mask 1) positions of a row are its actions in order;
   advantages and returns are written there (0 elsewhere). Values after a row's last valid position
   count as 0 (the episode ends). PT_ERR_ARG on bad sizes or gamma/lambda outside [0, 1]. */
PTDEF int pt_gae(const float *rewards, const float *values, const float *mask, int B, int T, float gamma,
                 float lambda, float *advantages, float *returns);
/* Whiten x over the entries with mask 1 (mask may be NULL): (x - mean) / sqrt(var + 1e-8) with the
   unbiased variance; shift_mean = 0 adds the mean back (TRL's option). Others are left as they are. */
PTDEF void pt_whiten(float *x, const float *mask, int n, int shift_mean);
enum { PT_ADV_STD_GROUP = 0, PT_ADV_STD_BATCH, PT_ADV_STD_NONE };
/* GRPO's group-relative advantages of n_groups groups of G consecutive rewards (see above). */
PTDEF void pt_group_advantages(const float *rewards, int n_groups, int G, int std_mode, float *adv);
/* RLOO's leave-one-out advantages (G >= 2; G = 1 gives 0). */
PTDEF void pt_rloo_advantages(const float *rewards, int n_groups, int G, float *adv);
/* PPO's per-token rewards over B rows of T: -kl_coef * k1 on every valid token, plus scores[i] on
   row i's last valid token (its stop token, or the last token of a truncated completion). */
PTDEF void pt_ppo_rewards(const float *scores, const float *logp, const float *ref_logp, const float *mask, int B,
                          int T, float kl_coef, float *rewards);
/* The adaptive KL controller of Ziegler et al. 2019: coef *= 1 + clip(kl / target - 1, -0.2, 0.2) *
   n_steps / horizon. target <= 0 keeps coef fixed. */
typedef struct pt_kl_control { float coef, target, horizon; } pt_kl_control;
PTDEF void pt_kl_control_update(pt_kl_control *c, float kl, int n_steps);

/* --- Losses on the tape ------------------------------------------------------------------------- */
/* Per-token clipped surrogate l_t (see above) of logp [n] against old_logp and adv (n floats). */
PTDEF pt_tensor *pt_clipped_surrogate(pt_ctx *ctx, pt_tensor *logp, const float *old_logp, const float *adv,
                                      float eps_low, float eps_high);
/* Per-token KL estimate (kind PT_KL_*) of logp [n] against ref_logp, with its gradient. */
PTDEF pt_tensor *pt_kl_penalty(pt_ctx *ctx, pt_tensor *logp, const float *ref_logp, int kind);
/* Per-token clipped value loss of values [n] (see above); clip <= 0: plain 0.5 (V - R)^2. */
PTDEF pt_tensor *pt_value_loss(pt_ctx *ctx, pt_tensor *values, const float *old_values, const float *returns,
                               float clip);
enum { PT_AGG_SEQ_MEAN = 0, PT_AGG_TOKEN_MEAN, PT_AGG_SEQ_SUM_NORM };
/* A scalar from per-token losses [B*T] under mask, by mode (see above). denom is the whole batch's
   normaliser: sequences (SEQ_MEAN), valid tokens (TOKEN_MEAN), sequences * L_max (SEQ_SUM_NORM);
   0 -> this call's own (B, the mask's sum, B * T). */
PTDEF pt_tensor *pt_aggregate_loss(pt_ctx *ctx, pt_tensor *per_token, const float *mask, int B, int T, int mode,
                                   float denom);

/* --- Rollouts ---------------------------------------------------------------------------------------
   G completions for each of n prompts in one batched generation (the prompt prefilled once), then
   the per-token quantities every loss needs over the rollout batch (section 5's pt_rollout_batch,
   rows left-aligned, one sequence per row): reference log-probs, the policy's own log-probs (the
   sampler's, or recomputed at the sampling temperature by the same forward the loss runs, so the
   first update's ratio is exactly 1), critic values; completions decoded for rewards. */
typedef struct pt_rollout_config {
    pt_gen_config gen;        /* max_new_tokens, sampler, stop tokens (at least one), seed */
    int pad_id;               /* padding id: not a stop token */
    pt_model *ref;            /* reference log-probs from this model; NULL: none (or see below) */
    int ref_adapters_off;     /* 1: the reference is the policy with its adapters off */
    int recompute_old;        /* 1: old log-probs by a forward of the policy (default: the sampler's) */
    pt_model *critic;         /* values from this model's scalar head (PPO), or NULL */
    const pt_tokenizer *tok;  /* to decode prompts and completions (NULL: no text) */
    int rows_per_forward;     /* 0 -> 32 */
    pt_ctx *ctx;              /* scratch for the forwards, reused across calls (a fresh arena every step
                                 costs page faults); NULL: a temporary one. Left reset, gradients on. */
} pt_rollout_config;
typedef struct pt_rollout {
    pt_gen_result gen;            /* the generations (G consecutive sequences per prompt) */
    pt_rollout_batch batch;       /* B = n * G rows of T; old_logprobs as configured */
    float *ref_logprobs;          /* [B*T] or NULL */
    float *values;                /* [B*T] critic values V_t of the state before each target, or NULL */
    int *n_completion;            /* [B] completion tokens, stop token included */
    unsigned char *truncated;     /* [B] 1: no stop token (ran out of max_new_tokens) */
    char **prompt_text, **completion_text;   /* [B] decoded (completion without its stop token), or NULL */
    double gen_s, logprob_s;      /* seconds spent generating and in the no-gradient forwards */
} pt_rollout;
/* Sample `group` completions per prompt and compute the above into *out (free with pt_rollout_free);
   on error *out is left zeroed. */
PTDEF int pt_rollout_generate(pt_model *policy, const int *const *prompts, const int *prompt_lens, int n_prompts,
                              int group, const pt_rollout_config *cfg, pt_rollout *out);
PTDEF void pt_rollout_free(pt_rollout *r);
/* Log-probs of the batch's targets at a temperature by forwards without the tape, rows_per_forward
   rows at a time (0 -> 32), into out [B*T] (0 where the mask is 0). */
PTDEF int pt_rollout_logprobs(pt_model *m, const pt_rollout_batch *b, float temperature, int rows_per_forward,
                              float *out);

/* --- GRPO, Dr. GRPO, DAPO and RLOO -----------------------------------------------------------------
   One step: sample G completions for each of prompts_per_step prompts, score them (a weighted sum
   of rule rewards and optionally a batch reward such as an ORM, PRM or judge), turn rewards into
   advantages, then updates_per_rollout passes over the rollout, each in `minibatches` optimizer
   steps, minimising aggregate(l_t + beta k3_t). CSV extra columns (one row per rollout): reward,
   reward_std, kl (mean over sequences of sum_t k1, nats), length (completion tokens), clip_frac,
   truncated, kept (share of groups trained on), nonfinite (rewards), length_pos and length_neg
   (mean length of the completions better / worse than their group's mean: Dr. GRPO's length bias
   shows in length_neg), one column per reward term (its mean raw value), gen_s, logprob_s, train_s.
   Presets: GRPO (defaults), Dr. GRPO (std_mode NONE, agg SEQ_SUM_NORM), DAPO (eps_high 0.28,
   agg TOKEN_MEAN, dynamic_sampling, mask_truncated, beta PT_ZERO), RLOO (advantage RLOO).
   The RL trainers start from a fresh AdamW state (moments and step zeroed), as each TRL trainer
   builds its own optimizer: the moments a checkpoint carries from SFT would otherwise keep pushing
   the weights along SFT's gradient (even where the RL gradient is zero). A fresh AdamW's first
   updates are full-size in every weight whatever the gradient's noise: a few warmup steps
   (train.warmup) spare a converged SFT model (measured: up to 9 points of accuracy lost without).
   DAPO's dynamic sampling here drops the all-equal groups of a step; DAPO refills the batch by
   sampling more prompts, which this trainer does not. */
typedef int (*pt_batch_reward_fn)(const char *const *prompts, const char *const *completions, int n, float *rewards,
                                  void *user);
enum { PT_ADV_GRPO = 0, PT_ADV_RLOO };
typedef struct pt_grpo_config {
    pt_train_config train;        /* steps = rollouts; lr 0 -> 1e-4 (small models; LLMs use ~1e-6); CSV */
    int prompts_per_step;         /* 0 -> 8 */
    int group_size;               /* G; 0 -> 8 */
    pt_gen_config gen;            /* max_new_tokens (0 -> 64), sampler (temperature 0 -> 1), stops */
    int updates_per_rollout;      /* mu, passes over each rollout; 0 -> 1 */
    int minibatches;              /* optimizer steps per pass; 0 -> 1 */
    float beta;                   /* k3 KL coefficient; 0 -> 0.04 (DeepSeekMath); PT_ZERO -> none */
    float eps_low, eps_high;      /* 0 -> 0.2; eps_high 0 -> eps_low */
    int advantage;                /* PT_ADV_GRPO or PT_ADV_RLOO */
    int std_mode;                 /* PT_ADV_STD_* (GRPO advantages) */
    int agg;                      /* PT_AGG_* */
    int max_len_norm;             /* SEQ_SUM_NORM's L_max; 0 -> gen.max_new_tokens */
    int dynamic_sampling;         /* 1: leave out groups whose rewards are all equal (DAPO) */
    int mask_truncated;           /* 1: leave truncated completions out of the loss */
    float truncated_penalty;      /* added to a truncated completion's reward (e.g. -1); 0 = none */
    const pt_reward_term *rewards; int n_rewards;   /* rule rewards, summed with their weights (a term of
                                                       weight 0 is only logged: the true reward next
                                                       to a proxy, as reward-hacking curves need) */
    pt_batch_reward_fn reward_batch; void *reward_user; float reward_batch_weight;   /* 0 -> 1 */
    pt_model *ref;                /* the reference; NULL: a frozen clone of the policy at the start */
    int ref_adapters_off;         /* 1: the policy with adapters off is the reference */
    const pt_tokenizer *tok;      /* NULL -> the byte tokenizer */
    uint64_t seed;                /* prompt order */
    float (*metric)(pt_model *m, void *user);   /* e.g. validation accuracy; chooses best_path */
    void *user;
} pt_grpo_config;
/* Train the policy on prompts (prompt-only examples: n_ids == n_prompt, or the prompt part of any
   example), cycled in a seeded order. */
PTDEF int pt_grpo_train(pt_model *policy, const pt_example *prompts, int n_prompts, const pt_grpo_config *cfg,
                        pt_train_result *res);

/* --- PPO (RLHF's original recipe) --------------------------------------------------------------------
   One step: sample one completion per prompt for prompts_per_step prompts; score each (rule terms,
   a batch reward such as a learned ORM, minus missing_eos_penalty when truncated); per-token rewards
   (pt_ppo_rewards, k1 to the reference times kl_coef); the critic's values; GAE and whitened
   advantages; then `epochs` passes in `minibatches` optimizer steps over the clipped policy loss
   (token mean) plus vf_coef times the clipped value loss (token mean), the policy and the critic
   each with their own AdamW state. Defaults are TRL's PPOTrainer's. With kl_target > 0 the
   coefficient adapts (pt_kl_control_update). CSV extra columns: reward (mean score), kl (sequence
   k1, nats), kl_coef, length, clip_frac, value_loss, truncated, nonfinite, one per reward term,
   gen_s, logprob_s, train_s. */
typedef struct pt_ppo_config {
    pt_train_config train;        /* steps = rollouts; lr 0 -> 1e-4 (policy and critic) */
    int prompts_per_step;         /* 0 -> 32 */
    pt_gen_config gen;            /* as pt_grpo_config */
    int epochs;                   /* 0 -> 4 */
    int minibatches;              /* 0 -> 1 */
    float kl_coef;                /* 0 -> 0.05; PT_ZERO -> none */
    float kl_target, kl_horizon;  /* > 0: the adaptive controller (horizon 0 -> 10000) */
    float gamma, lambda;          /* 0 -> 1, 0.95; PT_ZERO -> 0 */
    float clip, value_clip;       /* 0 -> 0.2, 0.2 */
    float vf_coef;                /* 0 -> 0.1 */
    float missing_eos_penalty;    /* subtracted from a truncated completion's score; 0 = none */
    const pt_reward_term *rewards; int n_rewards;
    pt_batch_reward_fn reward_batch; void *reward_user; float reward_batch_weight;
    pt_model *ref; int ref_adapters_off;   /* as pt_grpo_config */
    pt_model *critic;             /* a model with a scalar head (e.g. a clone of the reward model);
                                     NULL: a clone of the policy with a fresh head */
    const pt_tokenizer *tok;
    uint64_t seed;
    float (*metric)(pt_model *m, void *user);
    void *user;
} pt_ppo_config;
PTDEF int pt_ppo_train(pt_model *policy, const pt_example *prompts, int n_prompts, const pt_ppo_config *cfg,
                       pt_train_result *res);

/* ================================================================================================
   14. SEARCH AND TEST-TIME COMPUTE                                                          >>search
   ------------------------------------------------------------------------------------------------
   The model's own samples, filtered, as training data; and more computation at inference instead
   of more training.
   Rejection sampling (Touvron et al. 2023, Llama 2; Dubey et al. 2024, Llama 3): K samples per
   prompt, each scored (rules or a reward model); the best N per prompt whose score reaches a bar are
   kept as SFT data. Llama 2 used K up to 30 samples per prompt; the kept share per difficulty shows
   where the model can still teach itself. STaR (Zelikman et al. 2022) is rejection sampling with the
   answer checker as the scorer, fine-tuning the original model on the kept rationales each
   iteration; rationalisation retries the failures with the answer given as a hint and keeps the
   rationales that reach it, trained on without the hint.
   Test-time compute, for one fixed model (Snell et al. 2024):
       best-of-N          sample N, answer with the one a verifier (ORM, PRM, judge) scores highest
       self-consistency   sample N, answer with the most frequent final answer (Wang et al. 2023)
       weighted vote      the answer whose samples' scores sum highest (Li et al. 2023)
       MCTS               grow a tree of partial solutions one reasoning step at a time, guided
                          by a PRM's value of each partial solution:
           select    from the root, follow argmax_c Q(c) + c_uct sqrt(ln N(parent) / N(c)) to a leaf
                     (Kocsis & Szepesvari 2006, UCT; Q = mean value of the subtree, N = visits)
           expand    sample `expand` next steps from the leaf (the policy at temperature T)
           evaluate  the PRM's score of each new partial solution (min over its steps so far)
           backup    add each child's value to the visits and value sums of its ancestors
       The answer is the complete solution with the highest value (else the best leaf, finished
       greedily). Partial solutions share prefixes: each node keeps its KV cache slot and next-token
       logits, and a child starts from a copy of its parent's slot (pt_kv_copy), so no prefix is
       recomputed; only the PRM rescores each new partial solution in full (it is another model).
       A step ends at a token holding one of step_delims (";" or ">") once the step holds a digit
       (the world's "7+5=12;" and "</answer>"); token_level = 1 makes every token a step.
   Compute is counted as generated tokens (samples, tree expansions, the greedy finish), not
   verifier forwards. The scaling curves of examples/test_time.c plot accuracy against it.
   Examples: test_time.c (System 1 vs 2, best-of-N, votes, MCTS, curves by difficulty), flywheel.c
   (Llama 3's rounds with an ablation), star.c (STaR, rationalisation), quiet_star.c (Quiet-STaR,
   small: one thought per problem, GRPO on its likelihood gain), pipeline.c (the whole chain).
   Measured at this scale (README, notebook 06): the learned verifiers are over-optimised, best-of-N
   falls below one sample as N grows while the majority vote rises; MCTS with the PRM matches
   greedy at 1-2 simulations and falls after; rejection sampling then SFT takes the pipeline's
   GRPO model from 91.0% to 94.5%; STaR learns 2-digit sums but not 3-digit ones in 4
   iterations, and a hint barely helps a model pretrained without hints.
   ================================================================================================ */
/* The index within each group of N scores of the highest of its first n_use (ties: the first);
   pick[g] for groups g = 0..n_groups-1, scores [n_groups][N]. */
PTDEF void pt_best_of_n(const float *scores, int n_groups, int N, int n_use, int *pick);
/* Majority vote over n answers (valid[i] = 0: sample i has none): the answer with the largest
   total weight (weights NULL = 1 each; ties: the answer seen first). Returns the index of the first
   sample holding the winning answer, -1 if no sample has one. */
PTDEF int pt_majority_vote(const long long *answers, const unsigned char *valid, const float *weights, int n);

/* Rejection sampling. Prompts are texts: with chat = 1 the user turn of the chat template, else the
   raw text after <bos> (e.g. "Q: 47+85=?\nA: "). A kept completion is its generated text without
   the stop token when that token is a marker (<|end|>: the template writes it), with it when it is
   one character (a newline of the raw format). A completion that is not valid UTF-8 (sampled bytes
   can be anything) is never kept: it could not be written as JSON. */
typedef struct pt_rs_config {
    pt_gen_config gen;            /* max_new_tokens, sampler (temperature 0 -> 1), stop tokens, seed */
    int samples;                  /* K per prompt; 0 -> 16 */
    int keep;                     /* at most N kept per prompt (the best first); 0 -> 1 */
    float min_score;              /* kept only if score >= this (e.g. 1 = correct) */
    int distinct;                 /* 1: never keep two identical completions of one prompt */
    int chat;                     /* prompts as the chat template's user turn */
    const pt_reward_term *rewards; int n_rewards;   /* score = sum of weighted rule terms */
    pt_batch_reward_fn reward_batch; void *reward_user; float reward_batch_weight;   /* + a learned RM; 0 -> 1 */
    const char **hints;           /* optional [n_prompts]: prompts to sample from instead (STaR's
                                     rationalisation); kept records still carry the plain prompt */
    int prompts_per_batch;        /* prompts per generation call; 0 -> 16 */
    const pt_tokenizer *tok;      /* NULL -> the byte tokenizer */
    const char *jsonl_path;       /* kept records as JSONL, {"prompt", "completion", "score",
                                     "difficulty"} (completion schema; atomic); NULL = none. Nothing
                                     kept: no file (an old one at the path is removed) */
} pt_rs_config;
typedef struct pt_rs_result {
    int n_prompts, n_samples, n_kept, prompts_with_kept;
    int nonfinite;                /* samples whose score was NaN: never kept, left out of mean_score */
    double mean_score, seconds;
    long long tokens;             /* completion tokens generated */
    int prompts_by_difficulty[17], kept_by_difficulty[17];   /* world problems: by operand digit count */
} pt_rs_result;
/* Sample, score and keep (see above); *kept gets the kept records (completion schema; free with
   pt_dataset_free). Difficulty: the operand digit count of the world problem in the prompt (0 if
   none). res may be NULL. */
PTDEF int pt_rejection_sample(pt_model *m, const char *const *prompts, int n_prompts, const pt_rs_config *cfg,
                              pt_dataset *kept, pt_rs_result *res);

/* MCTS over reasoning steps with PRM values (see above). */
typedef struct pt_mcts_config {
    int simulations;              /* select-expand-evaluate-backup rounds; 0 -> 8 */
    int expand;                   /* children sampled per expansion; 0 -> 4 */
    float c_uct;                  /* exploration constant; 0 -> 1; PT_ZERO -> 0 */
    pt_sampler sampler;           /* step sampling; temperature 0 -> 1 */
    int max_new_tokens;           /* longest solution; 0 -> 64; at most 256 (pt_mcts_result.ids) */
    int stop_tokens[PT_MAX_STOP_TOKENS]; int n_stop_tokens;   /* a solution ends at one (at least one) */
    const char *step_delims;      /* NULL -> ";>" */
    int token_level;              /* 1: every token is a step */
    int prm_mode;                 /* PT_PRM_MIN (default), PT_PRM_PRODUCT or PT_PRM_LAST */
    uint64_t seed;
    const pt_tokenizer *tok;      /* NULL -> the byte tokenizer */
} pt_mcts_config;
typedef struct pt_mcts_result {
    int ids[256], n_ids;          /* the chosen completion's tokens (stop token included if reached) */
    char text[512];               /* and its text (without a marker stop token) */
    float value;                  /* its PRM score */
    int tokens;                   /* tokens generated for this problem: all expansions + the finish */
    int nodes, complete;          /* tree size; 1 if the answer is a finished solution */
} pt_mcts_result;
/* Search for each of n prompts (token ids) with policy and prm (a model with a head, section 11);
   res[i] per prompt. Deterministic in (seed, prompt index). */
PTDEF int pt_mcts_solve(pt_model *policy, pt_model *prm, const int *const *prompts, const int *prompt_lens, int n,
                        const pt_mcts_config *cfg, pt_mcts_result *res);

#ifdef __cplusplus
}
#endif
#endif /* POSTTRAIN_H */

/* ################################################################################################
   IMPLEMENTATION                                                                  >>implementation
   ################################################################################################ */
#ifdef POSTTRAIN_IMPLEMENTATION
#if !defined(POSTTRAIN_IMPLEMENTATION_DONE) && !defined(PT_EXTERNAL_IMPLEMENTATION)
#define POSTTRAIN_IMPLEMENTATION_DONE
#if defined(__clang__)
/* `omp simd` is a request; at -O0/-O1 (sanitizer builds) clang declines some loops and says so with
   -Wpass-failed. That is not a defect of the code, so it is silenced for the implementation only. */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#include <limits.h>
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
/* A vector loop that calls libm (sqrtf) vectorises only when libm need not set errno
   (-fno-math-errno, which defines __NO_MATH_ERRNO__); without it clang reports the `omp simd` it
   could not honour, so the request is made only when it can be met. */
#if defined(__NO_MATH_ERRNO__)
#define PT__SIMD_LIBM PT__SIMD
#else
#define PT__SIMD_LIBM
#endif
/* Starting a parallel region wakes the sleeping (passive) workers: measured at about 40 us on a
   2-core VM (a barrier inside a running region: about 2 us; with spinning workers under 1 us). A
   loop that only streams memory (elementwise ops, norms, RoPE, AdamW) forks only above this many
   elements, about half a millisecond of work on one core; compute-heavy loops (exp per element,
   matrix products, attention) have their own lower thresholds. */
#define PT__PAR_MIN 1048576
/* The one per-row threading pattern: a loop over independent rows (or work items), split across
   the pool only when `work` is large enough to pay for waking sleeping workers. Static schedule
   (or dynamic for uneven causal rows): each item's arithmetic never depends on the split. */
#if PT__OMP
#define PT__PARALLEL_FOR PT__PRAGMA(omp parallel for schedule(static))
#define PT__PARALLEL_ROWS(work) PT__PRAGMA(omp parallel for schedule(static) if (work))
#define PT__PARALLEL_DYNAMIC(work) PT__PRAGMA(omp parallel for schedule(dynamic, 1) if (work))
#else
#define PT__PARALLEL_FOR
#define PT__PARALLEL_ROWS(work)
#define PT__PARALLEL_DYNAMIC(work)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PT__INLINE static inline __attribute__((always_inline))
#define PT__RESTRICT __restrict__
#elif defined(_MSC_VER)
#define PT__INLINE static __forceinline
#define PT__RESTRICT __restrict
#else
#define PT__INLINE static
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
   1. BASICS (implementation)                                                              >>basics
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
PTDEF void pt_clear_error(void)
{
    pt__errbuf[0] = 0;
    pt__errcode = PT_OK;
}
PTDEF int pt_set_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pt__errbuf, sizeof pt__errbuf, fmt, ap);
    va_end(ap);
    pt__errcode = status;
    return status;
}
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
    rng->s[0] = (uint32_t)a;
    rng->s[1] = (uint32_t)(a >> 32);
    rng->s[2] = (uint32_t)b;
    rng->s[3] = (uint32_t)(b >> 32);
    if (!(rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3])) rng->s[0] = 1; /* all-zero state is stuck */
}
static uint32_t pt__rotl32(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
PTDEF uint32_t pt_rng_u32(pt_rng *rng)
{
    /* xoshiro128** (Blackman & Vigna 2018): good low bits, 4 words of state */
    uint32_t *s = rng->s;
    uint32_t result = pt__rotl32(s[1] * 5, 7) * 9, t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = pt__rotl32(s[3], 11);
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
        if (low >= (uint32_t)((0x100000000ull - span) % span)) return (int)((int64_t)lo + (int64_t)(m >> 32));
    }
}

/* --- Arena ----------------------------------------------------------------------------------- */
typedef struct pt__arena_block {
    struct pt__arena_block *next;
    size_t cap, used;
} pt__arena_block;
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
        blk->used += need;
        a->overflow_bytes += need;
        if (a->used + a->overflow_bytes > a->high_water) a->high_water = a->used + a->overflow_bytes;
        return p;
    }
    cap = need > a->cap ? need : a->cap;
    blk = (pt__arena_block *)PT_MALLOC(sizeof(pt__arena_block) + cap + PT__ALIGN);
    if (!blk) return pt__fail_null(PT_ERR_NOMEM, "arena: cannot allocate %zu bytes", cap);
    blk->next = a->overflow;
    blk->cap = cap;
    blk->used = need;
    a->overflow = blk;
    a->overflow_bytes += need;
    if (a->used + a->overflow_bytes > a->high_water) a->high_water = a->used + a->overflow_bytes;
    return pt__align_ptr((char *)(blk + 1));
}
PTDEF void pt_arena_reset(pt_arena *a)
{
    if (a->overflow) {
        /* grow the main block to the high-water mark so the next step fits in one block */
        size_t cap = a->high_water + a->high_water / 8;
        char *nb;
        while (a->overflow) {
            pt__arena_block *n = a->overflow->next;
            PT_FREE(a->overflow);
            a->overflow = n;
        }
        nb = (char *)PT_MALLOC(cap + PT__ALIGN);
        if (nb) {
            PT_FREE(a->base);
            a->base = nb;
            a->cap = cap;
        }
    }
    a->used = 0;
    a->overflow_bytes = 0;
}
PTDEF void pt_arena_free(pt_arena *a)
{
    while (a->overflow) {
        pt__arena_block *n = a->overflow->next;
        PT_FREE(a->overflow);
        a->overflow = n;
    }
    PT_FREE(a->base);
    memset(a, 0, sizeof *a);
}

/* --- Files: whole reads, atomic writes, and the one checked byte writer and reader every saver and
   loader of the library uses (little-endian fields, errors named by file and field). --------- */
#if defined(_WIN32)
#include <io.h>
#endif
PTDEF void pt_free(void *p) { PT_FREE(p); }
PTDEF int pt_read_file(const char *path, unsigned char **out, size_t *n)
{
    FILE *f;
    long sz;
    unsigned char *buf;
    *out = NULL;
    *n = 0;
    f = fopen(path, "rb");
    if (!f) return pt__fail(PT_ERR_IO, "%s: cannot open for reading", path);
    /* a directory opens on POSIX but fails the first read (EISDIR): reject it before sizing */
    if (fgetc(f) == EOF && ferror(f)) {
        fclose(f);
        return pt__fail(PT_ERR_IO, "%s: cannot read (a directory?)", path);
    }
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || sz == LONG_MAX || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return pt__fail(PT_ERR_IO, "%s: cannot determine the size", path);
    }
    buf = (unsigned char *)PT_MALLOC((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return pt__fail(PT_ERR_NOMEM, "%s: cannot allocate %ld bytes", path, sz);
    }
    if (sz > 0 && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        PT_FREE(buf);
        return pt__fail(PT_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    buf[sz] = 0;
    *out = buf;
    *n = (size_t)sz;
    return PT_OK;
}
PTDEF int pt_write_file_atomic(const char *path, const void *data, size_t n)
{
    char tmp[4096];
    FILE *f;
    int ok;
    if (strlen(path) + 5 > sizeof tmp) return pt__fail(PT_ERR_ARG, "%s: path too long", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) return pt__fail(PT_ERR_IO, "%s: cannot open for writing", tmp);
    ok = n == 0 || fwrite(data, 1, n, f) == n;   /* fwrite(NULL, 1, 0, f) is undefined */
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        remove(tmp);
        return pt__fail(PT_ERR_IO, "%s: write failed (disk full?)", tmp);
    }
#if defined(_WIN32)
    if (!MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING)) {
        remove(tmp);
        return pt__fail(PT_ERR_IO, "%s: cannot rename into place", path);
    }
#else
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return pt__fail(PT_ERR_IO, "%s: cannot rename %s into place", path, tmp);
    }
#endif
    return PT_OK;
}

static uint64_t pt__fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
/* little-endian byte writer / reader (portable: never casts the buffer to wider types) */
typedef struct pt__wbuf {
    unsigned char *p;
    size_t n, cap;
    int err;
} pt__wbuf;
static void pt__put(pt__wbuf *w, const void *src, size_t n)
{
    if (w->err) return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        unsigned char *np;
        while (cap < w->n + n) cap *= 2;
        np = (unsigned char *)PT_REALLOC(w->p, cap);
        if (!np) {
            w->err = 1;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->n, src, n);
    w->n += n;
}
static void pt__put_u32(pt__wbuf *w, uint32_t v)
{
    unsigned char b[4];
    int i;
    for (i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    pt__put(w, b, 4);
}
static void pt__put_u64(pt__wbuf *w, uint64_t v)
{
    unsigned char b[8];
    int i;
    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    pt__put(w, b, 8);
}
static void pt__put_f32(pt__wbuf *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    pt__put_u32(w, u);
}
static void pt__put_floats(pt__wbuf *w, const float *f, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        pt__put_f32(w, f[i]);
}

typedef struct pt__rbuf {
    const unsigned char *p;
    size_t n, at;
    int err;
    const char *path;
    const char *what;
} pt__rbuf;
static int pt__get(pt__rbuf *r, void *dst, size_t n, const char *what)
{
    if (r->err) return 0;
    if (n > r->n - r->at) {
        r->err = 1;
        r->what = what;
        return 0;
    }
    memcpy(dst, r->p + r->at, n);
    r->at += n;
    return 1;
}
static uint32_t pt__get_u32(pt__rbuf *r, const char *what)
{
    unsigned char b[4] = {0, 0, 0, 0};
    pt__get(r, b, 4, what);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static uint64_t pt__get_u64(pt__rbuf *r, const char *what)
{
    uint64_t lo = pt__get_u32(r, what), hi = pt__get_u32(r, what);
    return lo | hi << 32;
}
static float pt__get_f32(pt__rbuf *r, const char *what)
{
    uint32_t u = pt__get_u32(r, what);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* Every posttrain.h file (checkpoint, head, LoRA and token adapters) has one frame: a 4-byte magic,
   u32 version, the fields, and a u64 FNV-1a checksum of every byte before it. The writer: */
static void pt__wbuf_begin(pt__wbuf *w, const char *magic, uint32_t version)
{
    memset(w, 0, sizeof *w);
    pt__put(w, magic, 4);
    pt__put_u32(w, version);
}
/* Append the checksum, write the file atomically, free the buffer. */
static int pt__wbuf_finish(pt__wbuf *w, const char *path)
{
    int st;
    if (!w->err) pt__put_u64(w, pt__fnv1a(w->p, w->n));
    st = w->err ? pt__fail(PT_ERR_NOMEM, "%s: out of memory", path) : pt_write_file_atomic(path, w->p, w->n);
    PT_FREE(w->p);
    w->p = NULL;
    return st;
}
/* The reader: the whole file into *data (free it with PT_FREE), its magic, size (>= min_bytes),
   version and checksum checked, naming `kind` and the path. r then reads the fields after the
   version and stops before the checksum (the file is r->n + 8 bytes). */
static int pt__rbuf_open(pt__rbuf *r, unsigned char **data, const char *path, const char *magic, size_t min_bytes,
                         uint32_t version, const char *kind)
{
    size_t n = 0;
    uint32_t v;
    int st;
    *data = NULL;
    memset(r, 0, sizeof *r);
    if ((st = pt_read_file(path, data, &n)) != PT_OK) return st;
    r->p = *data;
    r->n = n;
    r->path = path;
    r->at = 4;
    if (n < min_bytes || n < 16 || memcmp(*data, magic, 4) != 0)
        st = pt__fail(PT_ERR_FORMAT, "%s: not a posttrain.h %s (bad magic or only %zu bytes)", path, kind, n);
    else if ((v = pt__get_u32(r, "version")) != version)
        st = pt__fail(PT_ERR_FORMAT, "%s: %s version %u, this library reads version %u", path, kind, v, version);
    else if ((r->at = n - 8, pt__fnv1a(*data, n - 8) != pt__get_u64(r, "checksum")))
        st = pt__fail(PT_ERR_FORMAT, "%s: checksum mismatch (the file is corrupted or truncated)", path);
    if (st != PT_OK) {
        PT_FREE(*data);
        *data = NULL;
        return st;
    }
    r->at = 8;
    r->n = n - 8;
    return PT_OK;
}
/* A copy of a string on PT_MALLOC (NULL when out of memory). */
static char *pt__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = (char *)PT_MALLOC(n);
    if (d) memcpy(d, s, n);
    return d;
}
/* ================================================================================================
   2. TENSORS AND AUTOGRAD (implementation)                                               >>tensors
   ================================================================================================ */

typedef struct pt__node pt__node;
typedef void (*pt__backward_fn)(pt_ctx *ctx, pt__node *n);
/* What an op keeps for its backward: one typed record per kind of op (arrays live on the arena). */
typedef union pt__saved {
    struct {
        int op;
        float scale, addend, lo, hi;
    } unary; /* pt_scale, pt_add_scalar, pt_clamp */
    struct {
        int op;
    } binary;
    struct {
        const float *mask, *row_scale;
        int cols;
        float scale;
    } rowsum; /* row_scale NULL: scale */
    struct {
        pt_tensor *W;
        const float *u, *mask_x;
        float scale;
    } lora; /* u = s x~A^T, mask_x = [mask | x~] */
    struct {
        const int *ids, *rows;
        int n;
    } embed; /* rows: override row or -1 */
    struct {
        const int *cols;
        float *keep;
        int n;
    } columns;
    struct {
        const float *rstd;
    } rmsnorm;
    struct {
        const float *angles;
    } rope;
    struct pt__attn_saved *attention;
    struct {
        int log;
    } softmax;
    struct pt__gather_saved *gather;
} pt__saved;
struct pt__node {
    pt__backward_fn backward;
    pt_tensor *out;
    pt_tensor *in[3];
    pt__saved saved;
};
struct pt_ctx {
    pt_arena arena;
    pt__node *nodes;
    int n_nodes, cap_nodes;
    int grad_enabled;
    int failed;        /* an allocation for the tape or a gradient failed since the last reset */
    int backward_done; /* pt_backward ran on this tape */
};

static int pt__prof_on;
static void pt__prof_forward(pt__backward_fn fn);   /* the per-op profile (2f) */
static void pt__prof_relabel(const char *name);
static void pt__prof_begin(void);
static void pt__prof_end(const char *name);
static void pt__prof_backward(const pt__node *n, double t0);

PTDEF pt_ctx *pt_ctx_new(size_t arena_bytes)
{
    pt_ctx *ctx = (pt_ctx *)PT_MALLOC(sizeof(pt_ctx));
    if (!ctx) return (pt_ctx *)pt__fail_null(PT_ERR_NOMEM, "pt_ctx_new: out of memory");
    memset(ctx, 0, sizeof *ctx);
    if (pt_arena_init(&ctx->arena, arena_bytes ? arena_bytes : (size_t)16 << 20) != PT_OK) {
        PT_FREE(ctx);
        return NULL;
    }
    ctx->grad_enabled = 1;
    return ctx;
}
PTDEF void pt_ctx_reset(pt_ctx *ctx)
{
    if (ctx) {
        if (pt__prof_on) pt__prof_begin();
        pt_arena_reset(&ctx->arena);
        ctx->n_nodes = 0;
        ctx->failed = 0;
        ctx->backward_done = 0;
        if (pt__prof_on) pt__prof_end("arena_reset");
    }
}
PTDEF void pt_ctx_free(pt_ctx *ctx)
{
    if (!ctx) return;
    pt_arena_free(&ctx->arena);
    PT_FREE(ctx->nodes);
    PT_FREE(ctx);
}
PTDEF void pt_ctx_set_grad(pt_ctx *ctx, int enabled) { ctx->grad_enabled = enabled; }
PTDEF size_t pt_ctx_bytes_used(const pt_ctx *ctx) { return ctx->arena.used + ctx->arena.overflow_bytes; }
PTDEF size_t pt_ctx_bytes_peak(const pt_ctx *ctx) { return ctx->arena.high_water; }
PTDEF void *pt_ctx_alloc(pt_ctx *ctx, size_t bytes) { return pt_arena_alloc(&ctx->arena, bytes); }

static float *pt__floats(pt_ctx *ctx, int64_t n)
{
    return (float *)pt_arena_alloc(&ctx->arena, (size_t)n * sizeof(float));
}

static pt_tensor *pt__new_uninit(pt_ctx *ctx, int ndim, const int *shape)
{
    pt_tensor *t;
    int64_t size = 1;
    int d;
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "tensor: ndim %d not in 1..4", ndim);
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "tensor: dim %d is %d (must be >= 1)", d, shape[d]);
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

PTDEF pt_tensor *pt_tensor_heap(int ndim, const int *shape, int requires_grad)
{
    pt_tensor *t;
    int64_t size = 1;
    int d;
    if (ndim < 1 || ndim > 4)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_tensor_heap: ndim %d not in 1..4", ndim);
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_tensor_heap: dim %d is %d", d, shape[d]);
        size *= shape[d];
    }
    t = (pt_tensor *)PT_MALLOC(sizeof(pt_tensor));
    if (!t) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_tensor_heap: out of memory");
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->size = size;
    t->requires_grad = requires_grad;
    for (d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->data = (float *)PT_MALLOC((size_t)size * sizeof(float));
    t->grad = requires_grad ? (float *)PT_MALLOC((size_t)size * sizeof(float)) : NULL;
    if (!t->data || (requires_grad && !t->grad)) {
        pt_tensor_heap_free(t);
        return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_tensor_heap: out of memory");
    }
    memset(t->data, 0, (size_t)size * sizeof(float));
    if (t->grad) memset(t->grad, 0, (size_t)size * sizeof(float));
    return t;
}
PTDEF void pt_tensor_heap_free(pt_tensor *t)
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
    if (pt__prof_on) pt__prof_forward(fn);
    if (!ctx->grad_enabled || !need) return NULL;
    if (ctx->n_nodes == ctx->cap_nodes) {
        int cap = ctx->cap_nodes ? ctx->cap_nodes * 2 : 256;
        pt__node *nn = (pt__node *)PT_REALLOC(ctx->nodes, (size_t)cap * sizeof(pt__node));
        if (!nn) {
            ctx->failed = 1;
            pt__fail(PT_ERR_NOMEM, "tape: out of memory; this step's gradients would be wrong");
            return NULL;
        }
        ctx->nodes = nn;
        ctx->cap_nodes = cap;
    }
    n = &ctx->nodes[ctx->n_nodes++];
    memset(n, 0, sizeof *n);
    n->backward = fn;
    n->out = out;
    n->in[0] = a;
    n->in[1] = b;
    n->in[2] = c;
    out->requires_grad = 1;
    return n;
}
/* When t needs a gradient and has none yet, t takes out's gradient buffer as its own and this
   returns 1: its gradient so far is exactly out's (a reshape, the first operand of an add). This is
   safe because out's gradient is complete when its backward runs and nothing reads it afterwards;
   it saves a zeroed buffer and a pass over it. So the gradients of intermediate tensors are not
   kept after pt_backward (those of leaves and parameters are). */
static int pt__grad_take(pt_tensor *t, pt_tensor *out)
{
    if (!t || !t->requires_grad || t->grad || !out->grad || t->size != out->size) return 0;
    t->grad = out->grad;
    return 1;
}
/* Like pt__grad, but a buffer created now is left unzeroed and *fresh is set: the caller writes
   its contribution with '=' instead of '+=' (a matrix product with accumulate = 0), which saves a
   memset of the buffer and a read of it. */
static float *pt__grad_for_write(pt_ctx *ctx, pt_tensor *t, int *fresh)
{
    *fresh = 0;
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        if (!(t->grad = pt__floats(ctx, t->size))) {
            ctx->failed = 1;
            return NULL;
        }
        *fresh = 1;
    }
    return t->grad;
}
/* The gradient buffer of t, created (zeroed) the first time a gradient reaches it; NULL when t
   needs no gradient. */
static float *pt__grad(pt_ctx *ctx, pt_tensor *t)
{
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        t->grad = pt__floats(ctx, t->size);
        if (t->grad) memset(t->grad, 0, (size_t)t->size * sizeof(float));
        else ctx->failed = 1;
    }
    return t->grad;
}

PTDEF int pt_backward(pt_ctx *ctx, pt_tensor *loss)
{
    int i;
    float *g;
    if (!loss) return pt_last_status() ? pt_last_status() : pt__fail(PT_ERR_ARG, "pt_backward: loss is NULL");
    if (loss->size != 1)
        return pt__fail(PT_ERR_SHAPE, "pt_backward: loss must be a scalar, has %lld elements", (long long)loss->size);
    if (!isfinite(loss->data[0]))
        return pt__fail(PT_ERR_NONFINITE, "pt_backward: loss is %f; no gradient computed", (double)loss->data[0]);
    if (ctx->failed)
        return pt__fail(PT_ERR_NOMEM,
                        "pt_backward: the tape of this step is incomplete (out of memory while recording)");
    if (ctx->backward_done)
        return pt__fail(PT_ERR_ARG, "pt_backward: this tape was already run backward; pt_ctx_reset first");
    if (!loss->requires_grad) return PT_OK; /* nothing trainable upstream */
    ctx->backward_done = 1;
    g = pt__grad(ctx, loss);
    if (!g) return pt_last_status();
    g[0] += 1.0f;
    if (pt__prof_on) pt__prof_begin();
    for (i = ctx->n_nodes - 1; i >= 0; i--) {
        pt__node *n = &ctx->nodes[i];
        if (n->out->grad && pt__prof_on) {
            double t0 = pt_time_seconds();
            n->backward(ctx, n);
            pt__prof_backward(n, t0);
        } else if (n->out->grad) {
            n->backward(ctx, n);
        }
        if (ctx->failed)
            return pt__fail(PT_ERR_NOMEM,
                            "pt_backward: out of memory for gradients; parameter gradients are incomplete");
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
        if (*p == '*') {
            star = p++;
            ss = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else
            return 0;
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
    pt__free_aligned(P->data);
    pt__free_aligned(P->grad);
    pt__free_aligned(P->adam_m);
    pt__free_aligned(P->adam_v);
    PT_FREE(P);
}
PTDEF pt_tensor *pt_params_add(pt_params *P, const char *name, int ndim, const int *shape, int flags)
{
    pt_param *p;
    int d;
    if (P->data)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_params_add(%s): add every tensor before pt_params_alloc",
                                          name);
    if (strlen(name) >= sizeof p->name)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_params_add: name '%s' longer than 63 chars", name);
    if (pt_params_find(P, name))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_params_add: duplicate name '%s'", name);
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_params_add(%s): ndim %d", name, ndim);
    if (P->count == P->cap) {
        int cap = P->cap ? P->cap * 2 : 32;
        pt_param **ni = (pt_param **)PT_REALLOC(P->items, (size_t)cap * sizeof(pt_param *));
        if (!ni) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_params_add: out of memory");
        P->items = ni;
        P->cap = cap;
    }
    p = (pt_param *)PT_MALLOC(sizeof(pt_param));
    if (!p) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_params_add: out of memory");
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->t.ndim = ndim;
    p->t.size = 1;
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1) {
            PT_FREE(p);
            return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_params_add(%s): dim %d is %d", name, d, shape[d]);
        }
        p->t.shape[d] = shape[d];
        p->t.size *= shape[d];
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
        pt__free_aligned(g);
        pt__free_aligned(m);
        pt__free_aligned(v);
        return pt__fail(PT_ERR_NOMEM, "params: cannot allocate %lld gradient floats", (long long)n);
    }
    pt__free_aligned(P->grad);
    pt__free_aligned(P->adam_m);
    pt__free_aligned(P->adam_v);
    P->grad = g;
    P->adam_m = m;
    P->adam_v = v;
    P->n_grad = n;
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
    int *old = (int *)PT_MALLOC((size_t)(P->count > 0 ? P->count : 1) * sizeof(int));
    if (!old) return pt__fail(PT_ERR_NOMEM, "pt_params_set_trainable: out of memory");
    for (i = 0; i < P->count; i++) old[i] = P->items[i]->flags;
    for (i = 0; i < P->count; i++) {
        pt_param *p = P->items[i];
        if (!pt_glob_match(pattern, p->name)) continue;
        hits++;
        if (trainable)
            p->flags &= ~PT_PARAM_FROZEN;
        else
            p->flags |= PT_PARAM_FROZEN;
    }
    if (P->data && (st = pt__params_layout_grads(P)) != PT_OK) {   /* leave the flags as they were */
        for (i = 0; i < P->count; i++) P->items[i]->flags = old[i];
        PT_FREE(old);
        return st;
    }
    PT_FREE(old);
    return hits;
}
PTDEF void pt_params_zero_grad(pt_params *P)
{
    if (pt__prof_on) pt__prof_begin();
    if (P->grad) memset(P->grad, 0, (size_t)P->n_grad * sizeof(float));
    if (pt__prof_on) pt__prof_end("zero_grad");
}
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
    int i;
    int64_t j;
    for (i = 0; i < P->count; i++)
        if (pt_glob_match(pattern, P->items[i]->name))
            for (j = 0; j < P->items[i]->t.size; j++) P->items[i]->t.data[j] = std * pt_rng_normal(rng);
}
PTDEF void pt_params_init_const(pt_params *P, const char *pattern, float value)
{
    int i;
    int64_t j;
    for (i = 0; i < P->count; i++)
        if (pt_glob_match(pattern, P->items[i]->name))
            for (j = 0; j < P->items[i]->t.size; j++) P->items[i]->t.data[j] = value;
}

/* ------------------------------------------------------------------------------------------------
   2a. Matmul kernels (implementation)                                                     >>matmul
   The three products of a linear layer (y = x W^T, dx = dy W, dW = dy^T x) are one routine with
   strides:  C[i, j] (+)= sum_k A[i rsa + k csa] B[k rsb + j csb].  pt__gemm_plain is that
   definition in three loops; pt_gemm (FAST, below) computes the same numbers about a hundred times
   faster and is pinned to the plain loops by test_engine.
   ------------------------------------------------------------------------------------------------ */
static void pt__gemm_plain(int M, int N, int K, const float *A, int64_t rsa, int64_t csa, const float *B,
                           int64_t rsb, int64_t csb, float *C, int64_t ldc, int accumulate)
{
    int i, j, k;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++) {
            float sum = 0.0f;
            for (k = 0; k < K; k++) sum += A[i * rsa + k * csa] * B[k * rsb + j * csb];
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + sum : sum;
        }
}

/* FAST: pt_gemm. It follows the BLIS/GotoBLAS plan: pack a KC x NC block of B and an MC x KC block
   of A into panels laid out in the order the micro-kernel reads them (so every layout streams the
   same), then an MR x NR micro-kernel keeps a tile of C in registers and does KC rank-1 updates.
   Threads split C by rows (or columns when C is wide), each packing its own panels: no thread writes
   another's rows, and every element of C is summed over k in the same order for any thread count.
   Full width: the micro-kernel is written with vector types (gcc and clang vector extensions), so
   it uses 512-bit registers wherever the target has AVX-512, whatever the compiler's tuning (gcc's
   tuning for Intel, -march=native included, prefers 256-bit registers for `omp simd` loops; a
   256-bit kernel runs at half the machine's peak). The tile fits the register file: with AVX-512,
   8 x 32 floats = 16 zmm accumulators of 32 registers; with 16 registers (AVX2, NEON) 6 x 16.
   Other compilers get the same loops as `omp simd` lanes. */
#if defined(__AVX512F__) || defined(__AVX512__)
#define PT__VL 16           /* floats per vector register */
#define PT__MR 8
#else
#define PT__VL 8
#define PT__MR 6
#endif
#define PT__NR (2 * PT__VL)
#define PT__KC 320          /* the most k per packed block; K is cut into equal blocks of at most this */
#define PT__MC 120          /* a multiple of both MRs: the packed A block fills whole tiles */
#define PT__NC 1024

/* Strict ISO modes (-std=c99) turn off FMA contraction in gcc, which halves the kernel's speed; an
   explicit fmaf() is one instruction wherever the target has FMA (FP_FAST_FMAF). */
#if defined(FP_FAST_FMAF)
#define PT__FMA(a, b, c) fmaf(a, b, c)
#else
#define PT__FMA(a, b, c) ((a) * (b) + (c))
#endif
#if defined(__GNUC__) || defined(__clang__)
/* aligned(4): the packed panels are aligned, but C's rows need not be (memcpy does the loads). */
typedef float pt__vec __attribute__((vector_size(PT__VL * 4), aligned(4), may_alias));
/* One accumulator variable per row (an array of vectors would live in memory): X(i) for each row. */
#if PT__MR == 8
#define PT__ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#else
#define PT__ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#endif
#if defined(__clang__)
/* clang splits 512-bit vector types into two 256-bit halves when its tuning prefers 256 bits,
   unless the function asks for the full width */
__attribute__((min_vector_width(PT__VL * 32)))
#else
/* gcc in strict ISO mode (-std=c99) does not fuse c += a * b unless told to, here only */
__attribute__((optimize("fp-contract=fast")))
#endif
static void pt__microkernel(int kc, const float *PT__RESTRICT Ap, int64_t rsa, const float *PT__RESTRICT Bp,
                            float *PT__RESTRICT C, int64_t ldc, int mr, int nr, int accumulate)
{
    float tile[PT__MR][PT__NR];
    int i, j, k;
#define PT__DECL(r) pt__vec c0_##r = {0}, c1_##r = {0};
    PT__ROWS(PT__DECL)
    if (rsa == 0) {   /* A packed: a panel of MR values per k */
        for (k = 0; k < kc; k++) {
            const float *a = Ap + k * PT__MR;
            pt__vec b0 = *(const pt__vec *)(Bp + k * PT__NR), b1 = *(const pt__vec *)(Bp + k * PT__NR + PT__VL);
#define PT__FMA_ROW(r) c0_##r += a[r] * b0; c1_##r += a[r] * b1;   /* a[r] broadcast, product fused */
            PT__ROWS(PT__FMA_ROW)
        }
    } else {          /* A read in place: MR rows of stride rsa (a short tile repeats its last row) */
#define PT__ROW_PTR(r) const float *a_##r = Ap + (int64_t)((r) < mr ? (r) : mr - 1) * rsa;
        PT__ROWS(PT__ROW_PTR)
        for (k = 0; k < kc; k++) {
            pt__vec b0 = *(const pt__vec *)(Bp + k * PT__NR), b1 = *(const pt__vec *)(Bp + k * PT__NR + PT__VL);
#define PT__FMA_ROW_DIRECT(r) c0_##r += a_##r[k] * b0; c1_##r += a_##r[k] * b1;
            PT__ROWS(PT__FMA_ROW_DIRECT)
        }
    }
#define PT__STORE_ROW(r) *(pt__vec *)tile[r] = c0_##r; *(pt__vec *)(tile[r] + PT__VL) = c1_##r;
    PT__ROWS(PT__STORE_ROW)
#undef PT__DECL
#undef PT__FMA_ROW
#undef PT__ROW_PTR
#undef PT__FMA_ROW_DIRECT
#undef PT__STORE_ROW
#else
static void pt__microkernel(int kc, const float *PT__RESTRICT Ap, int64_t rsa, const float *PT__RESTRICT Bp,
                            float *PT__RESTRICT C, int64_t ldc, int mr, int nr, int accumulate)
{
    float tile[PT__MR][PT__NR];
    int i, j, k;
    for (i = 0; i < PT__MR; i++) for (j = 0; j < PT__NR; j++) tile[i][j] = 0.0f;
    for (k = 0; k < kc; k++) {
        const float *b = Bp + k * PT__NR;
        for (i = 0; i < PT__MR; i++) {
            float av = rsa == 0 ? Ap[k * PT__MR + i] : Ap[(int64_t)(i < mr ? i : mr - 1) * rsa + k];
            PT__SIMD
            for (j = 0; j < PT__NR; j++) tile[i][j] = PT__FMA(av, b[j], tile[i][j]);
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
        } else if (rsa == 1 && mr == PT__MR) {   /* A transposed (dW = dy^T x): MR contiguous values per k */
            for (k = 0; k < kc; k++) {
                const float *src = A + (int64_t)ir + (int64_t)k * csa;
                for (i = 0; i < PT__MR; i++) dst[k * PT__MR + i] = src[i];
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
/* K in equal blocks of at most PT__KC (e.g. 344 = two blocks of 172, not 320 + a short 24 whose C
   tile loads and stores would cost as much as its arithmetic). Depends on K only: any thread count
   sums in the same order. */
static int pt__kblock(int K)
{
    int nblocks = (K + PT__KC - 1) / PT__KC;
    return (K + nblocks - 1) / nblocks;
}
static void pt__gemm_serial(int M, int N, int K, const float *A, int64_t rsa, int64_t csa,
                            const float *B, int64_t rsb, int64_t csb, float *C, int64_t ldc,
                            int accumulate, float *Ap, float *Bp)
{
    int jc, pc, ic, jr, ir, kblock = pt__kblock(K);
    for (jc = 0; jc < N; jc += PT__NC) {
        int nc = N - jc < PT__NC ? N - jc : PT__NC;
        for (pc = 0; pc < K; pc += kblock) {
            int kc = K - pc < kblock ? K - pc : kblock;
            /* B is always packed (read in place by its rows it measured slower: each k is a new pair
               of cache lines) */
            pt__pack_b(kc, nc, B + (int64_t)pc * rsb + (int64_t)jc * csb, rsb, csb, Bp);
            for (ic = 0; ic < M; ic += PT__MC) {
                int mc = M - ic < PT__MC ? M - ic : PT__MC;
                /* rows of A contiguous along k (y = x W^T, dx = dy W): the kernel reads them in
                   place, MR rows at a time; otherwise (dW = dy^T x) A is packed first */
                const float *a_block = A + (int64_t)ic * rsa + (int64_t)pc * csa;
                if (csa != 1 || rsa <= 0) pt__pack_a(mc, kc, a_block, rsa, csa, Ap);
                for (jr = 0; jr < nc; jr += PT__NR) {
                    int nr = nc - jr < PT__NR ? nc - jr : PT__NR;
                    for (ir = 0; ir < mc; ir += PT__MR) {
                        int mr = mc - ir < PT__MR ? mc - ir : PT__MR;
                        int direct = csa == 1 && rsa > 0;   /* rsa 0 (one row broadcast) is packed */
                        pt__microkernel(kc, direct ? a_block + (int64_t)ir * rsa : Ap + (int64_t)ir * kc,
                                        direct ? rsa : 0, Bp + (int64_t)jr * kc,
                                        C + (int64_t)(ic + ir) * ldc + jc + jr, ldc, mr, nr, accumulate || pc > 0);
                    }
                }
            }
        }
    }
}

/* Pre-packed weights for inference: y = x W^T with W [N, K] packed once into panels of NR columns
   over the full K, [ceil(N/NR)][K][NR] (zero padded), so decoding many steps never repacks them. */
static int64_t pt__prepacked_floats(int N, int K) { return (int64_t)((N + PT__NR - 1) / PT__NR) * PT__NR * K; }
static void pt__prepack_w(const float *W, int N, int K, float *out)
{
    int jr;
    for (jr = 0; jr < N; jr += PT__NR) {
        int nr = N - jr < PT__NR ? N - jr : PT__NR, j, k;
        float *dst = out + (int64_t)jr * K;
        for (j = 0; j < PT__NR; j++) {
            const float *src = W + (int64_t)(jr + j) * K;
            if (j < nr) for (k = 0; k < K; k++) dst[(int64_t)k * PT__NR + j] = src[k];
            else for (k = 0; k < K; k++) dst[(int64_t)k * PT__NR + j] = 0.0f;
        }
    }
}
/* C[M, N] (+)= A[M, K] (rows contiguous) W^T with W pre-packed; columns [n0, n1) only. */
static void pt__gemm_prepacked_cols(int M, int n0, int n1, int K, const float *A, int64_t rsa, const float *Wp,
                                    float *C, int64_t ldc, int accumulate, float *Ap)
{
    int pc, ic, jr, ir, kblock = pt__kblock(K);
    (void)Ap;   /* rows of A are read in place; kept for the callers' symmetry with pt__gemm_serial */
    for (pc = 0; pc < K; pc += kblock) {
        int kc = K - pc < kblock ? K - pc : kblock;
        for (ic = 0; ic < M; ic += PT__MC) {
            int mc = M - ic < PT__MC ? M - ic : PT__MC;
            const float *a_block = A + (int64_t)ic * rsa + pc;   /* rows read in place, as in pt__gemm_serial */
            for (jr = n0; jr < n1; jr += PT__NR) {
                int nr = n1 - jr < PT__NR ? n1 - jr : PT__NR;
                const float *bp = Wp + (int64_t)jr * K + (int64_t)pc * PT__NR;
                for (ir = 0; ir < mc; ir += PT__MR) {
                    int mr = mc - ir < PT__MR ? mc - ir : PT__MR;
                    pt__microkernel(kc, a_block + (int64_t)ir * rsa, rsa, bp, C + (int64_t)(ic + ir) * ldc + jr,
                                    ldc, mr, nr, accumulate || pc > 0);
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
   dot products straight from W, no packing. Split over columns. The plain loop of one output is
       s = sum_k x[k] w[k];
   FAST: four outputs at a time, each a vector of partial sums over k (four independent chains of
   FMAs instead of one that waits on its own latency), the lanes summed at the end in a fixed order. */
#if defined(__GNUC__) || defined(__clang__)
#if defined(__clang__)
__attribute__((min_vector_width(PT__VL * 32)))
#else
__attribute__((optimize("fp-contract=fast")))
#endif
static void pt__dot4(int K, const float *x, const float *const w[4], float out[4])
{
    pt__vec a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int k, c, l;
    for (k = 0; k + PT__VL <= K; k += PT__VL) {
        pt__vec xv = *(const pt__vec *)(x + k);
        a0 += xv * *(const pt__vec *)(w[0] + k);
        a1 += xv * *(const pt__vec *)(w[1] + k);
        a2 += xv * *(const pt__vec *)(w[2] + k);
        a3 += xv * *(const pt__vec *)(w[3] + k);
    }
    for (; k < K; k++)
        for (c = 0; c < 4; c++) tail[c] += x[k] * w[c][k];
    for (c = 0; c < 4; c++) out[c] = tail[c];
    for (l = 0; l < PT__VL; l++) {
        out[0] += a0[l];
        out[1] += a1[l];
        out[2] += a2[l];
        out[3] += a3[l];
    }
}
#else
static void pt__dot4(int K, const float *x, const float *const w[4], float out[4])
{
    int k, c;
    for (c = 0; c < 4; c++) {
        float s = 0.0f;
        PT__SIMD_SUM(s)
        for (k = 0; k < K; k++) s += x[k] * w[c][k];
        out[c] = s;
    }
}
#endif
static void pt__gemv_rows(int M, int N, int K, const float *A, int64_t rsa, const float *B, int64_t csb,
                          float *C, int64_t ldc, int accumulate)
{
    int j0;
    PT__PARALLEL_ROWS((int64_t)M * N * K > 1048576)
    for (j0 = 0; j0 < N; j0 += 4) {
        const float *w[4];
        float s[4];
        int i, c, nc = N - j0 < 4 ? N - j0 : 4;
        for (c = 0; c < 4; c++) w[c] = B + (int64_t)(c < nc ? j0 + c : j0) * csb;   /* a short block repeats a column */
        for (i = 0; i < M; i++) {
            float *y = C + (int64_t)i * ldc + j0;
            pt__dot4(K, A + (int64_t)i * rsa, w, s);
            for (c = 0; c < nc; c++) y[c] = accumulate ? y[c] + s[c] : s[c];
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
    if (M <= 4 && csa == 1 && rsb == 1) {
        pt__gemv_rows(M, N, K, A, rsa, B, csb, C, ldc, accumulate);
        return;
    }
    /* Waking sleeping (passive) workers costs tens of microseconds: only fork for work that is
       clearly larger (about 40 us on one core at 100 GFLOP/s). */
    if (flops < 4194304.0) nt = 1;
    have = pt__ensure_pack_bufs(nt);
    if (have < 1) {   /* no memory for packing: slow but correct */
        pt__gemm_plain(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
        return;
    }
    if (nt > have) nt = have;
#if PT__OMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        int t = pt__thread_id(), n_threads = pt__num_threads();
        float *Ap = pt__pack_bufs[t], *Bp = Ap + (int64_t)PT__MC * PT__KC;
        if (M >= N) {   /* split rows of C in whole micro-tiles */
            int tiles = (M + PT__MR - 1) / PT__MR;
            int m0 = (int)((int64_t)tiles * t / n_threads) * PT__MR;
            int m1 = (int)((int64_t)tiles * (t + 1) / n_threads) * PT__MR;
            if (m1 > M) m1 = M;
            if (m1 > m0) pt__gemm_serial(m1 - m0, N, K, A + (int64_t)m0 * rsa, rsa, csa, B, rsb, csb,
                                         C + (int64_t)m0 * ldc, ldc, accumulate, Ap, Bp);
        } else {        /* split columns */
            int tiles = (N + PT__NR - 1) / PT__NR;
            int n0 = (int)((int64_t)tiles * t / n_threads) * PT__NR;
            int n1 = (int)((int64_t)tiles * (t + 1) / n_threads) * PT__NR;
            if (n1 > N) n1 = N;
            if (n1 > n0) pt__gemm_serial(M, n1 - n0, K, A, rsa, csa, B + (int64_t)n0 * csb, rsb, csb,
                                         C + n0, ldc, accumulate, Ap, Bp);
        }
    }
}

/* y = x W^T for inference: the pre-packed path when a packed copy exists and there are enough rows
   to amortise a kernel call, else pt_gemm (which takes dot products for 1-4 rows). */
static void pt__matmul_infer(int n_all, int M, int N, int K, const float *x, const float *W, const float *Wp, float *y,
                             int accumulate)
{
    int nt = pt_get_threads(), have;
    if (!Wp) {
        pt_gemm(M, N, K, x, K, 1, W, 1, K, y, N, accumulate);
        return;
    }
    if (n_all <= 4) {
        pt__gemv_rows(M, N, K, x, K, W, K, y, N, accumulate);
        return;
    }
    if (2.0 * M * N * K < 4194304.0) nt = 1;
    have = pt__ensure_pack_bufs(nt);
    if (have < 1) {
        pt_gemm(M, N, K, x, K, 1, W, 1, K, y, N, accumulate);
        return;
    }
    if (nt > have) nt = have;
#if PT__OMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        int t = pt__thread_id(), n_threads = pt__num_threads(), tiles = (N + PT__NR - 1) / PT__NR;
        int n0 = (int)((int64_t)tiles * t / n_threads) * PT__NR;
        int n1 = (int)((int64_t)tiles * (t + 1) / n_threads) * PT__NR;
        if (n1 > N) n1 = N;
        if (n1 > n0) pt__gemm_prepacked_cols(M, n0, n1, K, x, K, Wp, y, N, accumulate, pt__pack_bufs[t]);
    }
}

static void pt__linear_backward(pt_ctx *ctx, pt__node *n)
{
    pt_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    int M = pt_tensor_rows(x), K = pt_tensor_cols(x), N = w->shape[0];
    int fresh;
    float *gx = pt__grad_for_write(ctx, x, &fresh), *gw = pt__grad(ctx, w), *gb = pt__grad(ctx, b);
    if (gx) pt_gemm(M, K, N, y->grad, N, 1, w->data, K, 1, gx, K, !fresh);     /* dx (+)= dy W   */
    if (gw) pt_gemm(N, K, M, y->grad, 1, N, x->data, K, 1, gw, K, 1);          /* dW += dy^T x   */
    if (gb) {
        int i, j;
        for (i = 0; i < M; i++) {
            const float *g = y->grad + (int64_t)i * N;
            PT__SIMD for (j = 0; j < N; j++) gb[j] += g[j];
        }
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
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_linear: bias has %lld elements, W has %d outputs",
                                          (long long)b->size, w->shape[0]);
    M = pt_tensor_rows(x);
    K = pt_tensor_cols(x);
    N = w->shape[0];
    for (d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = N;
    y = pt__new_uninit(ctx, x->ndim, shape);
    if (!y) return NULL;
    pt_gemm(M, N, K, x->data, K, 1, w->data, 1, K, y->data, N, 0);
    if (b) {
        int i, j;
        for (i = 0; i < M; i++) {
            float *r = y->data + (int64_t)i * N;
            PT__SIMD for (j = 0; j < N; j++) r[j] += b->data[j];
        }
    }
    pt__record(ctx, pt__linear_backward, y, x, w, b);
    return y;
}
/* The LoRA branch, shared by the training op and KV-cache inference: u = s (x A^T) [M, r] (kept for
   the backward), then y += u B^T. wide: the up-projection through pt_gemm (training: many rows);
   else by row dot products, which give the same bits whichever rows a thread owns (inference). */
static void pt__lora_delta(int M, int N, int K, int r, const float *x, const float *A, const float *B, float s,
                           float *u, float *y, int wide)
{
    int64_t i;
    pt__gemv_rows(M, r, K, x, K, A, K, u, r, 0);
    for (i = 0; i < (int64_t)M * r; i++) u[i] *= s;
    if (wide) pt_gemm(M, N, r, u, r, 1, B, 1, r, y, N, 1);
    else pt__gemv_rows(M, N, r, u, r, B, r, y, N, 1);
}
/* in = {x, A, B}; saved: W, u = s x~ A^T [M, r], NULL or [mask | x~] (2 M K floats), s; x~ = x * mask */
static void pt__linear_lora_backward(pt_ctx *ctx, pt__node *n)
{
    pt_tensor *x = n->in[0], *A = n->in[1], *B = n->in[2], *W = n->saved.lora.W, *y = n->out;
    const float *us = n->saved.lora.u, *mask = n->saved.lora.mask_x, *dy = y->grad;
    int M = pt_tensor_rows(x), K = pt_tensor_cols(x), N = W->shape[0], r = A->shape[0];
    int64_t i, MK = (int64_t)M * K;
    float *gx = pt__grad(ctx, x), *gw = pt__grad(ctx, W), *ga = pt__grad(ctx, A), *gb = pt__grad(ctx, B), *g, *tmp;
    const float *xt;
    int j, k;
    /* The products with a side of r columns are arranged so the long side is the kernel's wide
       one: a packed gemm with r (1..16) output columns would fill only r/32 of its register tile. */
    if (gx) pt_gemm(M, K, N, dy, N, 1, W->data, K, 1, gx, K, 1);              /* dx += dy W          */
    if (gw) pt_gemm(N, K, M, dy, 1, N, x->data, K, 1, gw, K, 1);              /* dW += dy^T x        */
    if (!(tmp = pt__floats(ctx, (int64_t)r * N))) {
        ctx->failed = 1;
        return;
    }
    if (gb) {                                                                  /* dB += dy^T (s x~A^T) */
        pt_gemm(r, N, M, us, 1, r, dy, N, 1, tmp, N, 0);                       /* as [r, N], then add transposed */
        for (j = 0; j < N; j++) for (k = 0; k < r; k++) gb[(int64_t)j * r + k] += tmp[(int64_t)k * N + j];
    }
    if (!gx && !ga) return;
    g = pt__floats(ctx, (int64_t)M * r);                                      /* g = s dy B  [M, r]  */
    if (!g) {
        ctx->failed = 1;
        return;
    }
    for (j = 0; j < N; j++)
        for (k = 0; k < r; k++)
            tmp[(int64_t)k * N + j] = n->saved.lora.scale * B->data[(int64_t)j * r + k]; /* s B^T */
    pt__gemv_rows(M, r, N, dy, N, tmp, N, g, r, 0);
    xt = mask ? mask + MK : x->data;
    if (ga) pt_gemm(r, K, M, g, 1, r, xt, K, 1, ga, K, 1);                   /* dA += g^T x~        */
    if (gx && !mask) pt_gemm(M, K, r, g, r, 1, A->data, K, 1, gx, K, 1);     /* dx += (g A) * mask  */
    else if (gx) {
        if (!(tmp = pt__floats(ctx, MK))) {
            ctx->failed = 1;
            return;
        }
        pt_gemm(M, K, r, g, r, 1, A->data, K, 1, tmp, K, 0);
        PT__SIMD for (i = 0; i < MK; i++) gx[i] += tmp[i] * mask[i];
    }
}
PTDEF pt_tensor *pt_linear_lora(pt_ctx *ctx, pt_tensor *x, pt_tensor *w, pt_tensor *a, pt_tensor *b, float s,
                                const float *mask)
{
    pt_tensor *y;
    pt__node *nd;
    float *us, *xt, *saved = NULL;
    int64_t i, MK;
    int shape[4], d, M, K, N, r;
    if (!x || !w || !a || !b) return NULL;
    if (w->ndim != 2 || a->ndim != 2 || b->ndim != 2 || pt_tensor_cols(x) != w->shape[1] ||
        a->shape[1] != w->shape[1] || b->shape[0] != w->shape[0] || b->shape[1] != a->shape[0])
        return (pt_tensor *)pt__fail_null(
            PT_ERR_SHAPE,
            "pt_linear_lora: need x[..., K] W[N, K] A[r, K] B[N, r]; got K %d, W %dD [%d, %d], "
            "A %dD [%d, %d], B %dD [%d, %d]",
            pt_tensor_cols(x), w->ndim, w->shape[0], w->ndim > 1 ? w->shape[1] : 0, a->ndim, a->shape[0],
            a->ndim > 1 ? a->shape[1] : 0, b->ndim, b->shape[0], b->ndim > 1 ? b->shape[1] : 0);
    M = pt_tensor_rows(x);
    K = pt_tensor_cols(x);
    N = w->shape[0];
    r = a->shape[0];
    MK = (int64_t)M * K;
    for (d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
    shape[x->ndim - 1] = N;
    y = pt__new_uninit(ctx, x->ndim, shape);
    us = pt__floats(ctx, (int64_t)M * r);
    if (!y || !us) return NULL;
    xt = x->data;
    if (mask) {   /* a copy of the mask (the caller's may not outlive the step), then x~ */
        if (!(saved = pt__floats(ctx, 2 * MK))) return NULL;
        memcpy(saved, mask, (size_t)MK * sizeof(float));
        xt = saved + MK;
        PT__SIMD for (i = 0; i < MK; i++) xt[i] = x->data[i] * mask[i];
    }
    pt_gemm(M, N, K, x->data, K, 1, w->data, 1, K, y->data, N, 0);           /* y = x W^T          */
    pt__lora_delta(M, N, K, r, xt, a->data, b->data, s, us, y->data, 1);     /* y += s (x~ A^T) B^T */
    /* W has no slot among the three inputs that decide whether to record: ask for it separately */
    nd = pt__record(ctx, pt__linear_lora_backward, y, x, a, b);
    if (!nd && w->requires_grad && (nd = pt__record(ctx, pt__linear_lora_backward, y, w, NULL, NULL)) != NULL) {
        nd->in[0] = x;
        nd->in[1] = a;
        nd->in[2] = b;
    }
    if (nd) {
        nd->saved.lora.W = w;
        nd->saved.lora.u = us;
        nd->saved.lora.mask_x = saved;
        nd->saved.lora.scale = s;
    }
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
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE,
                                          "pt_matmul: need a[M,K] b[K,N]; got %dD and %dD with K %d vs %d", a->ndim,
                                          b->ndim, a->shape[a->ndim - 1], b->shape[0]);
    shape[0] = a->shape[0];
    shape[1] = b->shape[1];
    c = pt__new_uninit(ctx, 2, shape);
    if (!c) return NULL;
    pt_gemm(shape[0], shape[1], a->shape[1], a->data, a->shape[1], 1, b->data, b->shape[1], 1, c->data, shape[1], 0);
    pt__record(ctx, pt__matmul_backward, c, a, b, NULL);
    return c;
}

/* A vectorisable expf for the hot softmax loops (libm's expf is a call the compiler cannot
   vectorise). Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then the Cephes degree-6
   polynomial for e^r and 2^n built in the exponent bits: max relative error about 2e-7 (measured in
   tests/test_engine.c against exp() in double). x < -87.3 returns exactly 0 (so -inf scores vanish);
   x > 88.3 saturates to e^88.3 (about 2.2e38); NaN stays NaN. */
PT__INLINE float pt__exp(float x)
{
    union {
        uint32_t u;
        float f;
    } scale;
    float xc = x < 88.3f ? x : 88.3f;          /* NaN takes the bound here, and is restored below */
    xc = xc > -87.3f ? xc : -87.3f;
    float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;   /* round to nearest */
    float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    scale.u = (uint32_t)((int32_t)n + 127) << 23;
    return x != x ? x : (x < -87.3f ? 0.0f : (p * r * r + r + 1.0f) * scale.f);
}

/* ------------------------------------------------------------------------------------------------
   2b. Elementwise ops and reductions (implementation)                                >>elementwise
   One forward and one backward per family, switching on the op outside the loop so each inner
   loop stays a simple vectorisable body. Unary: y = f(x), dx += dy * f'(x) (from x or y).
   Binary: z = f(a, b), da += dz * df/da, db += dz * df/db.
   ------------------------------------------------------------------------------------------------ */
enum { PT__EXP, PT__LOG, PT__SQUARE, PT__SIGMOID, PT__LOGSIG, PT__TANH, PT__SILU, PT__RELU, PT__SCALE,
       PT__ADDS, PT__CLAMP };
static const char *const pt__unary_names[] = {"exp",  "log",  "square", "sigmoid",    "logsigmoid", "tanh",
                                              "silu", "relu", "scale",  "add_scalar", "clamp"};
/* `if (parallel: ...)`, not a bare `if`: OpenMP 5 applies a bare if clause to the simd part too, and
   gcc then runs the loop unvectorised whenever the tensor is too small to fork for (3x slower). */
#define PT__PAR_N PT__PRAGMA(omp parallel for simd schedule(static) if (parallel : n > PT__PAR_MIN))
/* loops with an exp per element do ~10x the arithmetic per byte: worth a fork much sooner */
#define PT__PAR_EXP PT__PRAGMA(omp parallel for simd schedule(static) if (parallel : n > 131072))
#if !PT__OMP
#undef PT__PAR_N
#define PT__PAR_N PT__SIMD
#undef PT__PAR_EXP
#define PT__PAR_EXP PT__SIMD
#endif

static float pt__sigmoidf(float x) { return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x)); }
static float pt__log_sigmoidf(float x) { return x >= 0 ? -log1pf(expf(-x)) : x - log1pf(expf(x)); }

static void pt__unary_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *a = nd->in[0], *y = nd->out;
    const float *x = a->data, *yv = y->data, *dy = y->grad;
    float *dx = pt__grad(ctx, a), scale = nd->saved.unary.scale, lo = nd->saved.unary.lo, hi = nd->saved.unary.hi;
    int64_t i, n = a->size;
    if (!dx) return;
    switch (nd->saved.unary.op) {
    case PT__EXP: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] * yv[i]; break;
    case PT__LOG: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] / x[i]; break;
    case PT__SQUARE: PT__PAR_N for (i = 0; i < n; i++) dx[i] += 2.0f * dy[i] * x[i]; break;
    case PT__SIGMOID: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] * yv[i] * (1.0f - yv[i]); break;
    case PT__LOGSIG: for (i = 0; i < n; i++) dx[i] += dy[i] * pt__sigmoidf(-x[i]); break; /* d/dx log s(x) = s(-x) */
    case PT__TANH: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - yv[i] * yv[i]); break;
    case PT__SILU:
        for (i = 0; i < n; i++) {
            float sg = pt__sigmoidf(x[i]);
            dx[i] += dy[i] * sg * (1.0f + x[i] * (1.0f - sg));
        }
        break;
    case PT__RELU: PT__PAR_N for (i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : 0.0f; break;
    case PT__SCALE: PT__PAR_N for (i = 0; i < n; i++) dx[i] += scale * dy[i]; break;
    case PT__ADDS: PT__PAR_N for (i = 0; i < n; i++) dx[i] += dy[i]; break;
    case PT__CLAMP: PT__PAR_N for (i = 0; i < n; i++) dx[i] += (x[i] >= lo && x[i] <= hi) ? dy[i] : 0.0f; break;
    }
}
/* c is the op's constant: the factor of PT__SCALE, the addend of PT__ADDS, the low bound of PT__CLAMP
   (whose high bound is hi). */
static pt_tensor *pt__unary(pt_ctx *ctx, pt_tensor *a, int op, float c, float hi)
{
    pt_tensor *y;
    pt__node *nd;
    float *yv;
    const float *x;
    int64_t i, n;
    if (!a) return NULL;
    y = pt__like(ctx, a);
    if (!y) return NULL;
    yv = y->data;
    x = a->data;
    n = a->size;
    switch (op) {
    case PT__EXP: for (i = 0; i < n; i++) yv[i] = expf(x[i]); break;
    case PT__LOG: for (i = 0; i < n; i++) yv[i] = logf(x[i]); break;
    case PT__SQUARE: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] * x[i]; break;
    case PT__SIGMOID: for (i = 0; i < n; i++) yv[i] = pt__sigmoidf(x[i]); break;
    case PT__LOGSIG: for (i = 0; i < n; i++) yv[i] = pt__log_sigmoidf(x[i]); break;
    case PT__TANH: for (i = 0; i < n; i++) yv[i] = tanhf(x[i]); break;
    case PT__SILU: for (i = 0; i < n; i++) yv[i] = x[i] * pt__sigmoidf(x[i]); break;
    case PT__RELU: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] > 0 ? x[i] : 0.0f; break;
    case PT__SCALE: PT__PAR_N for (i = 0; i < n; i++) yv[i] = c * x[i]; break;
    case PT__ADDS: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] + c; break;
    case PT__CLAMP: PT__PAR_N for (i = 0; i < n; i++) yv[i] = x[i] < c ? c : (x[i] > hi ? hi : x[i]); break;
    }
    nd = pt__record(ctx, pt__unary_backward, y, a, NULL, NULL);
    if (pt__prof_on) pt__prof_relabel(pt__unary_names[op]);
    if (nd) {
        nd->saved.unary.op = op;
        nd->saved.unary.scale = op == PT__SCALE ? c : 0.0f;
        nd->saved.unary.addend = op == PT__ADDS ? c : 0.0f;
        nd->saved.unary.lo = op == PT__CLAMP ? c : 0.0f;
        nd->saved.unary.hi = hi;
    }
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
    if (a && !(lo <= hi))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_clamp: lo %g > hi %g", (double)lo, (double)hi);
    return pt__unary(ctx, a, PT__CLAMP, lo, hi);
}

enum { PT__ADD, PT__SUB, PT__MUL, PT__DIV, PT__MIN, PT__MAX, PT__SWIGLU };
static void pt__binary_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *A = nd->in[0], *B = nd->in[1], *z = nd->out;
    const float *a = A->data, *b = B->data, *dz = z->grad;
    float *da = NULL, *db = NULL;
    int64_t i, n = A->size;
    int fresh_a = 0, fresh_b = 0;
    if (nd->saved.binary.op == PT__SWIGLU && A != B) {   /* new buffers are written, not zeroed + added */
        da = pt__grad_for_write(ctx, A, &fresh_a);
        db = pt__grad_for_write(ctx, B, &fresh_b);
        if (da && db && fresh_a != fresh_b) {   /* mixed: zero the new one and add to both */
            memset(fresh_a ? da : db, 0, (size_t)n * sizeof(float));
            fresh_a = fresh_b = 0;
        }
    } else if (nd->saved.binary.op != PT__ADD) {
        da = pt__grad(ctx, A);
        db = pt__grad(ctx, B);
    }
    switch (nd->saved.binary.op) {
    case PT__ADD:   /* a takes dz's buffer when it has none yet (the residual stream); b gets a copy */
        if (!pt__grad_take(A, z) && (da = pt__grad(ctx, A)) != NULL) {
            PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i];
        }
        if (B->requires_grad && B->grad == NULL) {
            if ((db = pt__floats(ctx, n)) == NULL) {
                ctx->failed = 1;
                break;
            }
            memcpy(db, dz, (size_t)n * sizeof(float));
            B->grad = db;
        } else if ((db = pt__grad(ctx, B)) != NULL) {
            PT__PAR_N for (i = 0; i < n; i++) db[i] += dz[i];
        }
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
    case PT__SWIGLU: /* z = silu(a) * b; the sigmoid through pt__exp so the loops vectorise */
        if (da && db && fresh_a) {
            PT__PAR_EXP for (i = 0; i < n; i++) {
                float sg = 1.0f / (1.0f + pt__exp(-a[i]));
                da[i] = dz[i] * b[i] * sg * (1.0f + a[i] * (1.0f - sg));
                db[i] = dz[i] * a[i] * sg;
            }
        } else if (da && db) {
            PT__PAR_EXP for (i = 0; i < n; i++) {
                float sg = 1.0f / (1.0f + pt__exp(-a[i]));
                da[i] += dz[i] * b[i] * sg * (1.0f + a[i] * (1.0f - sg));
                db[i] += dz[i] * a[i] * sg;
            }
        } else if (da) {
            if (fresh_a) memset(da, 0, (size_t)n * sizeof(float));
            PT__PAR_EXP for (i = 0; i < n; i++) {
                float sg = 1.0f / (1.0f + pt__exp(-a[i]));
                da[i] += dz[i] * b[i] * sg * (1.0f + a[i] * (1.0f - sg));
            }
        } else if (db) {
            if (fresh_b) memset(db, 0, (size_t)n * sizeof(float));
            PT__PAR_EXP for (i = 0; i < n; i++) db[i] += dz[i] * a[i] / (1.0f + pt__exp(-a[i]));
        }
        break;
    }
}
/* SwiGLU of one element, silu(a) * b, in llama2.c's order of operations (shared with inference);
   exp through pt__exp (relative error about 2e-7, test_engine) so that loops over it vectorise. */
PT__INLINE float pt__swiglu1(float a, float b) { return a * (1.0f / (1.0f + pt__exp(-a))) * b; }
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
    a = A->data;
    b = B->data;
    o = z->data;
    n = A->size;
    switch (op) {
    case PT__ADD: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] + b[i]; break;
    case PT__SUB: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] - b[i]; break;
    case PT__MUL: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] * b[i]; break;
    case PT__DIV: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] / b[i]; break;
    case PT__MIN: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] <= b[i] ? a[i] : b[i]; break;
    case PT__MAX: PT__PAR_N for (i = 0; i < n; i++) o[i] = a[i] >= b[i] ? a[i] : b[i]; break;
    case PT__SWIGLU: PT__PAR_EXP for (i = 0; i < n; i++) o[i] = pt__swiglu1(a[i], b[i]);
        break;
    }
    nd = pt__record(ctx, pt__binary_backward, z, A, B, NULL);
    if (pt__prof_on) pt__prof_relabel(name + 3);   /* "pt_add" -> "add" */
    if (nd) nd->saved.binary.op = op;
    return z;
}
PTDEF pt_tensor *pt_add(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__ADD, "pt_add"); }
PTDEF pt_tensor *pt_sub(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__SUB, "pt_sub"); }
PTDEF pt_tensor *pt_mul(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__MUL, "pt_mul"); }
PTDEF pt_tensor *pt_div(pt_ctx *ctx, pt_tensor *a, pt_tensor *b) { return pt__binary(ctx, a, b, PT__DIV, "pt_div"); }
PTDEF pt_tensor *pt_minimum(pt_ctx *ctx, pt_tensor *a, pt_tensor *b)
{
    return pt__binary(ctx, a, b, PT__MIN, "pt_minimum");
}
PTDEF pt_tensor *pt_maximum(pt_ctx *ctx, pt_tensor *a, pt_tensor *b)
{
    return pt__binary(ctx, a, b, PT__MAX, "pt_maximum");
}
PTDEF pt_tensor *pt_swiglu(pt_ctx *ctx, pt_tensor *gate, pt_tensor *up)
{
    return pt__binary(ctx, gate, up, PT__SWIGLU, "pt_swiglu");
}

static void pt__add_row_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *a = nd->in[0], *row = nd->in[1], *z = nd->out;
    float *da = pt__grad(ctx, a), *dr = pt__grad(ctx, row);
    int R = pt_tensor_rows(a), C = pt_tensor_cols(a), r, c;
    int64_t i, n = a->size;
    if (da) {
        const float *dz = z->grad;
        PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i];
    }
    if (dr)
        for (r = 0; r < R; r++) {
            const float *g = z->grad + (int64_t)r * C;
            PT__SIMD for (c = 0; c < C; c++) dr[c] += g[c];
        }
}
PTDEF pt_tensor *pt_add_row(pt_ctx *ctx, pt_tensor *a, pt_tensor *row)
{
    pt_tensor *z;
    int R, C, r, c;
    if (!a || !row) return NULL;
    if (row->size != pt_tensor_cols(a))
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_add_row: row has %lld elements, a's last dim is %d",
                                          (long long)row->size, pt_tensor_cols(a));
    z = pt__like(ctx, a);
    if (!z) return NULL;
    R = pt_tensor_rows(a);
    C = pt_tensor_cols(a);
    for (r = 0; r < R; r++) {
        const float *x = a->data + (int64_t)r * C;
        float *o = z->data + (int64_t)r * C;
        PT__SIMD for (c = 0; c < C; c++) o[c] = x[c] + row->data[c];
    }
    pt__record(ctx, pt__add_row_backward, z, a, row, NULL);
    return z;
}

static void pt__copy_grad_backward(pt_ctx *ctx, pt__node *nd)
{
    float *da;
    const float *dz = nd->out->grad;
    int64_t i, n = nd->out->size;
    if (pt__grad_take(nd->in[0], nd->out)) return;
    da = pt__grad(ctx, nd->in[0]);
    if (da) { PT__PAR_N for (i = 0; i < n; i++) da[i] += dz[i]; }
}
PTDEF pt_tensor *pt_reshape(pt_ctx *ctx, pt_tensor *a, int ndim, const int *shape)
{
    pt_tensor *z;
    int64_t size = 1;
    int d;
    if (!a) return NULL;
    if (ndim < 1 || ndim > 4) return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_reshape: ndim %d not in 1..4", ndim);
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_reshape: dim %d is %d", d, shape[d]);
        size *= shape[d];
    }
    if (size != a->size)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_reshape: %lld elements into a shape of %lld",
                                          (long long)a->size, (long long)size);
    z = (pt_tensor *)pt_arena_alloc(&ctx->arena, sizeof(pt_tensor));
    if (!z) return NULL;
    memset(z, 0, sizeof *z);
    z->data = a->data;
    z->ndim = ndim;
    z->size = size;
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
    z->grad = NULL;
    z->requires_grad = 0;
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
/* out[r] = scale_r * sum_c a[r,c] * m[r,c]: saved are the mask, the columns per output row and
   per-row scales, or one scale for all rows. */
static void pt__rowsum_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *a = nd->in[0], *z = nd->out;
    float *da = pt__grad(ctx, a);
    const float *m = nd->saved.rowsum.mask, *rs = nd->saved.rowsum.row_scale;
    int C = nd->saved.rowsum.cols, R = (int)(a->size / C), r, c;
    if (!da) return;
    for (r = 0; r < R; r++) {
        float g = z->grad[r] * (rs ? rs[r] : nd->saved.rowsum.scale);
        float *d = da + (int64_t)r * C;
        if (m) {
            const float *mr = m + (int64_t)r * C;
            PT__SIMD for (c = 0; c < C; c++) d[c] += g * mr[c];
        } else {
            PT__SIMD for (c = 0; c < C; c++) d[c] += g;
        }
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
    if (mean && !whole) {
        rs = pt__floats(ctx, R);
        if (!rs) return NULL;
    }
    for (r = 0; r < R; r++) {
        const float *x = a->data + (int64_t)r * C;
        double s = 0, w = 0;
        if (m) {
            const float *mr = m + (int64_t)r * C;
            for (c = 0; c < C; c++) {
                s += (double)x[c] * mr[c];
                w += mr[c];
            }
        } else {
            for (c = 0; c < C; c++)
                s += x[c];
            w = C;
        }
        if (mean && !whole) {
            rs[r] = w != 0 ? (float)(1.0 / w) : 0.0f;
            s = w != 0 ? s / w : 0.0;
        }
        z->data[r] = (float)s;
        total_w += w;
    }
    if (mean && whole) z->data[0] = total_w != 0 ? (float)(z->data[0] / total_w) : 0.0f;
    nd = pt__record(ctx, pt__rowsum_backward, z, a, NULL, NULL);
    if (nd) {
        nd->saved.rowsum.mask = m;
        nd->saved.rowsum.row_scale = rs;
        nd->saved.rowsum.cols = C;
        nd->saved.rowsum.scale = (mean && whole) ? (total_w != 0 ? (float)(1.0 / total_w) : 0.0f) : 1.0f;
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
   2c. Transformer blocks: embedding, RMSNorm, RoPE, attention (implementation)            >>blocks
   ------------------------------------------------------------------------------------------------ */
static int *pt__copy_ints(pt_ctx *ctx, const int *v, int64_t n)
{
    int *c;
    if (!v) return NULL;
    c = (int *)pt_arena_alloc(&ctx->arena, (size_t)n * sizeof(int));
    if (c) memcpy(c, v, (size_t)n * sizeof(int));
    return c;
}

/* --- Row building blocks ----------------------------------------------------------------------
   Each model feature is computed here once, on rows. The tape ops below loop these over a batch and
   record a backward; KV-cache inference (section 3, pt_model_step) calls the same functions on the
   rows of one decoding step. A fix or a new feature touches one place. */

/* Embedding rows: x[i] = table[ids[i]], or over[slot[ids[i]]] when an override table and slot map
   are given and the slot is >= 0 (prompt tuning and trainable tokens, section 8b). */
static void pt__embed_rows(float *x, const float *table, const float *over, const int *slot, const int *ids, int n,
                           int D)
{
    int i;
    for (i = 0; i < n; i++) {
        int row = over && slot ? slot[ids[i]] : -1;
        const float *src = row >= 0 ? over + (int64_t)row * D : table + (int64_t)ids[i] * D;
        memcpy(x + (int64_t)i * D, src, (size_t)D * sizeof(float));
    }
}

/* RMSNorm of one row: y = w * x / sqrt(mean(x^2) + eps). Returns the factor 1/sqrt(...), which the
   backward needs. */
PT__INLINE float pt__rmsnorm_row(float *y, const float *x, const float *w, int C, float eps)
{
    float ss = 0.0f, rs;
    int c;
    PT__SIMD_SUM(ss) for (c = 0; c < C; c++) ss += x[c] * x[c];
    rs = 1.0f / sqrtf(ss / (float)C + eps);
    PT__SIMD for (c = 0; c < C; c++) y[c] = w[c] * (rs * x[c]);
    return rs;
}

/* RoPE angles at position p: a_i = p * theta^(-2i/hd); cs[i] = cos a_i, cs[hd/2 + i] = sin a_i.
   Float math in the order llama2.c uses, so imported models generate the same tokens. */
static void pt__rope_angles(float *cs, int p, int hd, float theta)
{
    int i;
    for (i = 0; i < hd / 2; i++) {
        float freq = 1.0f / powf(theta, (float)(2 * i) / (float)hd), a = (float)p * freq;
        cs[i] = cosf(a);
        cs[hd / 2 + i] = sinf(a);
    }
}
/* Rotate each pair (x[2i], x[2i+1]) of n_heads heads of one row by the angles in cs (by minus the
   angles when inverse: the backward). y may be x; accumulate: y += rotated instead of y = rotated. */
PT__INLINE void pt__rope_row(float *y, const float *x, const float *cs, int n_heads, int hd, int inverse,
                             int accumulate)
{
    int h, i, half = hd / 2;
    float sgn = inverse ? -1.0f : 1.0f;   /* the branches outside the loops, so each one vectorises */
    for (h = 0; h < n_heads; h++) {
        const float *xh = x + (int64_t)h * hd;
        float *yh = y + (int64_t)h * hd;
        if (accumulate) {
            PT__SIMD for (i = 0; i < half; i++) {
                float co = cs[i], si = sgn * cs[half + i], x0 = xh[2 * i], x1 = xh[2 * i + 1];
                yh[2 * i] += x0 * co - x1 * si;
                yh[2 * i + 1] += x0 * si + x1 * co;
            }
        } else {
            PT__SIMD for (i = 0; i < half; i++) {
                float co = cs[i], si = sgn * cs[half + i], x0 = xh[2 * i], x1 = xh[2 * i + 1];
                yh[2 * i] = x0 * co - x1 * si;
                yh[2 * i + 1] = x0 * si + x1 * co;
            }
        }
    }
}

/* Attention of one query row over n key/value positions. K and V are stored transposed, kt[d * stride
   + s], so every inner loop runs over positions (the KV cache stores them that way). seg: NULL, or
   the row's segment ids, and only positions with seg[s] == me are attended (packed sequences).
     p[s] = softmax_s(q . k_s / sqrt(hd)),   out = sum_s p[s] v_s
   p (n floats) keeps the probabilities. This is the definition the training op (pt_attention, which
   runs many queries at once as matrix products) and KV-cache inference (one query per sequence and
   step, pt__attend_row below) both compute; test_engine pins the training op to a naive version and
   test_model the cache to the training forward. The plain version: */
PT__INLINE void pt__attend_row_plain(float *out, float *p, const float *q, const float *kt, const float *vt,
                                     int64_t stride, int hd, int n, const int *seg, int me)
{
    float mx = -INFINITY, sum = 0.0f;
    int s, d;
    for (s = 0; s < n; s++) {
        float dot = 0.0f;
        for (d = 0; d < hd; d++) dot += q[d] * kt[(int64_t)d * stride + s];
        p[s] = seg && seg[s] != me ? -INFINITY : dot / sqrtf((float)hd);
        mx = p[s] > mx ? p[s] : mx;
    }
    for (s = 0; s < n; s++) {
        p[s] = expf(p[s] - mx);
        sum += p[s];
    }
    for (s = 0; s < n; s++) p[s] /= sum;
    for (d = 0; d < hd; d++) {
        float acc = 0.0f;
        for (s = 0; s < n; s++) acc += p[s] * vt[(int64_t)d * stride + s];
        out[d] = acc;
    }
}

/* FAST: the same attention row, used by KV-cache inference (test_kernels pins it to the plain one).
   The two products are blocked: 16 positions per vector step with the head dimension inside, so
   each chunk of scores is one store instead of one pass over p per head dimension. */
/* out[s] = sum_d w[d] * rows[d][s] for s in [0, n): 16 positions per step with the head dim
   inside, one store per chunk (instead of one pass over out per head dim). Reads up to 15 floats
   past n in each row (the callers pad their buffers); those lanes are discarded. */
PT__INLINE void pt__attn_rows_dot(float *out, const float *w, const float *rows, int64_t stride, int hd, int n,
                                  float scale)
{
    int s0, j, d;
    for (s0 = 0; s0 < n; s0 += 16) {
        float acc[16];
        int len = n - s0 < 16 ? n - s0 : 16;
        for (j = 0; j < 16; j++) acc[j] = 0.0f;
        for (d = 0; d < hd; d++) {
            const float *r = rows + (int64_t)d * stride + s0;
            float wd = w[d];
            PT__SIMD for (j = 0; j < 16; j++) acc[j] += wd * r[j];
        }
        if (len == 16) { PT__SIMD for (j = 0; j < 16; j++) out[s0 + j] = acc[j] * scale; }   /* no rep movs */
        else for (j = 0; j < len; j++) out[s0 + j] = acc[j] * scale;
    }
}
/* out[d] (+)= scale * sum_{s<n} p[s] * rows[d][s], 8 dims x 16 positions per step. */
PT__INLINE void pt__attn_weighted_rows(float *out, const float *p, const float *rows, int64_t stride, int hd, int n,
                                       float scale, int accumulate)
{
    int d0, s0, j, e;
    for (d0 = 0; d0 < hd; d0 += 8) {
        float acc[8][16];
        int nd = hd - d0 < 8 ? hd - d0 : 8;
        for (e = 0; e < 8; e++) for (j = 0; j < 16; j++) acc[e][j] = 0.0f;
        for (s0 = 0; s0 < n; s0 += 16) {
            float pc[16];
            const float *pp = p + s0;   /* a whole chunk is read in place; the tail is zero-padded */
            int len = n - s0 < 16 ? n - s0 : 16;
            if (len < 16) {
                for (j = 0; j < 16; j++) pc[j] = j < len ? p[s0 + j] : 0.0f;
                pp = pc;
            }
            for (e = 0; e < nd; e++) {
                const float *r = rows + (int64_t)(d0 + e) * stride + s0;
                PT__SIMD for (j = 0; j < 16; j++) acc[e][j] += pp[j] * r[j];
            }
        }
        for (e = 0; e < nd; e++) {
            float tot = 0.0f;
            for (j = 0; j < 16; j++) tot += acc[e][j];
            out[d0 + e] = accumulate ? out[d0 + e] + tot * scale : tot * scale;
        }
    }
}
/* The largest of p[0..n) in 16 independent lanes, so it vectorises (a running max is a serial
   dependency chain); max is exact in any order. */
PT__INLINE float pt__row_max(const float *p, int n)
{
    float lane[16], mx;
    int s0, j;
    for (j = 0; j < 16; j++) lane[j] = -INFINITY;
    for (s0 = 0; s0 + 16 <= n; s0 += 16) {
        PT__SIMD for (j = 0; j < 16; j++) lane[j] = p[s0 + j] > lane[j] ? p[s0 + j] : lane[j];
    }
    for (j = 0; s0 + j < n; j++) lane[j] = p[s0 + j] > lane[j] ? p[s0 + j] : lane[j];
    mx = lane[0];
    for (j = 1; j < 16; j++) mx = lane[j] > mx ? lane[j] : mx;
    return mx;
}
/* keep_probs = 0: p is left unnormalised and 1/sum scales the output instead, one pass over the
   positions fewer; the same numbers up to rounding. */
PT__INLINE void pt__attend_row(float *out, float *p, const float *q, const float *kt, const float *vt, int64_t stride,
                               int hd, int n, const int *seg, int me, int keep_probs)
{
    float scale = 1.0f / sqrtf((float)hd), mx = -INFINITY, sum = 0.0f, inv;
    int s;
    pt__attn_rows_dot(p, q, kt, stride, hd, n, scale);
    if (seg)
        for (s = 0; s < n; s++)
            if (seg[s] != me) p[s] = -INFINITY;
    mx = pt__row_max(p, n);
    PT__SIMD_SUM(sum) for (s = 0; s < n; s++) {
        p[s] = pt__exp(p[s] - mx);
        sum += p[s];
    }
    inv = 1.0f / sum;
    if (!keep_probs) {
        pt__attn_weighted_rows(out, p, vt, stride, hd, n, inv, 0);
        return;
    }
    PT__SIMD for (s = 0; s < n; s++) p[s] *= inv;
    pt__attn_weighted_rows(out, p, vt, stride, hd, n, 1.0f, 0);
}

/* Scatter columns: y[r, cols[j]] = src[r, j] for the n columns with cols[j] >= 0 (trainable tokens'
   classifier columns come from the adapter's rows). */
static void pt__scatter_columns(float *y, int R, int C, const float *src, const int *cols, int n)
{
    int r, j;
    for (r = 0; r < R; r++)
        for (j = 0; j < n; j++)
            if (cols[j] >= 0) y[(int64_t)r * C + cols[j]] = src[(int64_t)r * n + j];
}

static void pt__embedding_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *table = nd->in[0], *z = nd->out;
    float *dt = pt__grad(ctx, table);
    const int *ids = nd->saved.embed.ids;
    int n = nd->saved.embed.n, D = table->shape[1], i, c;
    if (!dt) return;
    for (i = 0; i < n; i++) {   /* serial: repeated ids add into the same row */
        float *row = dt + (int64_t)ids[i] * D;
        const float *g = z->grad + (int64_t)i * D;
        PT__SIMD for (c = 0; c < D; c++) row[c] += g[c];
    }
}
PTDEF pt_tensor *pt_embedding(pt_ctx *ctx, pt_tensor *table, const int *ids, int n_ids)
{
    pt_tensor *z;
    pt__node *nd;
    int shape[2], i, V, D;
    if (!table) return NULL;
    if (table->ndim != 2)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_embedding: table must be [V, D], is %dD", table->ndim);
    if (!ids || n_ids < 1) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_embedding: need at least one id");
    V = table->shape[0];
    D = table->shape[1];
    for (i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return (pt_tensor *)pt__fail_null(
                PT_ERR_ARG, "pt_embedding: token id %d at position %d is outside the vocabulary [0, %d)", ids[i], i, V);
    shape[0] = n_ids;
    shape[1] = D;
    z = pt__new_uninit(ctx, 2, shape);
    if (!z) return NULL;
    pt__embed_rows(z->data, table->data, NULL, NULL, ids, n_ids, D);
    nd = pt__record(ctx, pt__embedding_backward, z, table, NULL, NULL);
    if (nd) {
        nd->saved.embed.ids = pt__copy_ints(ctx, ids, n_ids);
        nd->saved.embed.n = n_ids;
        if (!nd->saved.embed.ids) return NULL;
    }
    return z;
}

static void pt__embedding_override_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *table = nd->in[0], *over = nd->in[1], *z = nd->out;
    float *dt = pt__grad(ctx, table), *dov = pt__grad(ctx, over);
    const int *ids = nd->saved.embed.ids, *row = nd->saved.embed.rows;
    int n = nd->saved.embed.n, D = table->shape[1], i, c;
    for (i = 0; i < n; i++) {   /* serial: repeated ids add into the same row */
        float *dst = row[i] >= 0 ? (dov ? dov + (int64_t)row[i] * D : NULL) : (dt ? dt + (int64_t)ids[i] * D : NULL);
        const float *g = z->grad + (int64_t)i * D;
        if (!dst) continue;
        PT__SIMD for (c = 0; c < D; c++) dst[c] += g[c];
    }
}
PTDEF pt_tensor *pt_embedding_override(pt_ctx *ctx, pt_tensor *table, pt_tensor *over, const int *slot, int n_slot,
                                       const int *ids, int n_ids)
{
    pt_tensor *z;
    pt__node *nd;
    int shape[2], i, V, D, *row;
    if (!table || !over) return NULL;
    if (table->ndim != 2 || over->ndim != 2 || over->shape[1] != table->shape[1])
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE,
                                          "pt_embedding_override: table [V, D] and over [n, D] must share D");
    if (!ids || !slot || n_ids < 1 || n_slot < 1)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_embedding_override: need ids and a slot map");
    V = table->shape[0];
    D = table->shape[1];
    row = (int *)pt_arena_alloc(&ctx->arena, (size_t)n_ids * sizeof(int));
    if (!row) return NULL;
    for (i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= n_slot)
            return (pt_tensor *)pt__fail_null(
                PT_ERR_ARG, "pt_embedding_override: token id %d at position %d is outside [0, %d)", ids[i], i, n_slot);
        row[i] = slot[ids[i]];
        if (row[i] >= over->shape[0] || (row[i] < 0 && ids[i] >= V))
            return (pt_tensor *)pt__fail_null(
                PT_ERR_ARG,
                "pt_embedding_override: token id %d at position %d has slot %d (table %d rows, over %d rows)", ids[i],
                i, row[i], V, over->shape[0]);
    }
    shape[0] = n_ids;
    shape[1] = D;
    z = pt__new_uninit(ctx, 2, shape);
    if (!z) return NULL;
    pt__embed_rows(z->data, table->data, over->data, slot, ids, n_ids, D);
    nd = pt__record(ctx, pt__embedding_override_backward, z, table, over, NULL);
    if (nd) {
        nd->saved.embed.ids = pt__copy_ints(ctx, ids, n_ids);
        nd->saved.embed.rows = row;
        nd->saved.embed.n = n_ids;
        if (!nd->saved.embed.ids) return NULL;
    }
    return z;
}
static void pt__set_columns_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *src = nd->in[1], *y = nd->out;
    float *dx = pt__grad(ctx, x), *ds = pt__grad(ctx, src);
    const int *cols = nd->saved.columns.cols;
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), n = nd->saved.columns.n, r, j;
    for (r = 0; r < R; r++) {
        const float *g = y->grad + (int64_t)r * C;
        if (dx) {   /* the overwritten columns get no gradient: save them, add the row, restore */
            float *d = dx + (int64_t)r * C, *keep = nd->saved.columns.keep;
            int c;
            for (j = 0; j < n; j++) if (cols[j] >= 0) keep[j] = d[cols[j]];
            PT__SIMD for (c = 0; c < C; c++) d[c] += g[c];
            for (j = 0; j < n; j++) if (cols[j] >= 0) d[cols[j]] = keep[j];
        }
        if (ds) for (j = 0; j < n; j++) if (cols[j] >= 0) ds[(int64_t)r * n + j] += g[cols[j]];
    }
}
PTDEF pt_tensor *pt_set_columns(pt_ctx *ctx, pt_tensor *x, pt_tensor *src, const int *cols, int n_cols)
{
    pt_tensor *y;
    pt__node *nd;
    int R, C, j, k;
    if (!x || !src) return NULL;
    R = pt_tensor_rows(x);
    C = pt_tensor_cols(x);
    if (!cols || n_cols < 1 || pt_tensor_rows(src) != R || pt_tensor_cols(src) != n_cols)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_set_columns: src must be [%d, n_cols = %d]", R, n_cols);
    for (j = 0; j < n_cols; j++) {
        if (cols[j] >= C)
            return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_set_columns: column %d (entry %d) outside [0, %d)",
                                              cols[j], j, C);
        for (k = 0; k < j; k++)
            if (cols[j] >= 0 && cols[k] == cols[j])
                return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_set_columns: column %d given twice", cols[j]);
    }
    y = pt__new_uninit(ctx, x->ndim, x->shape);
    if (!y) return NULL;
    memcpy(y->data, x->data, (size_t)x->size * sizeof(float));
    pt__scatter_columns(y->data, R, C, src->data, cols, n_cols);
    nd = pt__record(ctx, pt__set_columns_backward, y, x, src, NULL);
    if (nd) {
        nd->saved.columns.cols = pt__copy_ints(ctx, cols, n_cols);
        nd->saved.columns.keep = pt__floats(ctx, n_cols);
        nd->saved.columns.n = n_cols;
        if (!nd->saved.columns.cols || !nd->saved.columns.keep) return NULL;
    }
    return y;
}

/* RMSNorm: r = 1/sqrt(mean(x^2) + eps), y = x r w.
   dx_i = r w_i dy_i - x_i r^3 / C * sum_j dy_j w_j x_j;   dw_i += sum_rows dy_i x_i r. */
/* One row of RMSNorm's backward: d += rs w g - x (sum_c g w x) rs^3 / C, and dw += g x rs when dw
   is given (rows in order: the sum over rows is the same for any thread count). */
static void pt__rmsnorm_row_backward(float *d, float *dw, const float *xr, const float *g, const float *w, float rs,
                                     int C)
{
    float dot = 0.0f, k;
    int c;
    PT__SIMD_SUM(dot) for (c = 0; c < C; c++) dot += g[c] * w[c] * xr[c];
    k = dot * rs * rs * rs / (float)C;
    if (dw) {
        PT__SIMD for (c = 0; c < C; c++) {
            d[c] += rs * w[c] * g[c] - xr[c] * k;
            dw[c] += g[c] * xr[c] * rs;
        }
    } else {
        PT__SIMD for (c = 0; c < C; c++) d[c] += rs * w[c] * g[c] - xr[c] * k;
    }
}
static void pt__rmsnorm_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *w = nd->in[1], *y = nd->out;
    const float *rstd = nd->saved.rmsnorm.rstd;
    float *dx = pt__grad(ctx, x), *dw = pt__grad(ctx, w);
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), r;
    if (dx && dw && (int64_t)R * C <= PT__PAR_MIN) {   /* one pass over x and dy for both (same sums) */
        for (r = 0; r < R; r++)
            pt__rmsnorm_row_backward(dx + (int64_t)r * C, dw, x->data + (int64_t)r * C, y->grad + (int64_t)r * C,
                                     w->data, rstd[r], C);
        return;
    }
    if (dx) {
        PT__PARALLEL_ROWS((int64_t)R * C > PT__PAR_MIN)
        for (r = 0; r < R; r++)
            pt__rmsnorm_row_backward(dx + (int64_t)r * C, NULL, x->data + (int64_t)r * C, y->grad + (int64_t)r * C,
                                     w->data, rstd[r], C);
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
    C = pt_tensor_cols(x);
    R = pt_tensor_rows(x);
    if (w->size != C)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_rmsnorm: weight has %lld elements, x's last dim is %d",
                                          (long long)w->size, C);
    y = pt__like(ctx, x);
    rstd = pt__floats(ctx, R);
    if (!y || !rstd) return NULL;
    PT__PARALLEL_ROWS((int64_t)R * C > PT__PAR_MIN)
    for (r = 0; r < R; r++)
        rstd[r] = pt__rmsnorm_row(y->data + (int64_t)r * C, x->data + (int64_t)r * C, w->data, C, eps);
    nd = pt__record(ctx, pt__rmsnorm_backward, y, x, w, NULL);
    if (nd) nd->saved.rmsnorm.rstd = rstd;
    return y;
}

/* RoPE: for each pair (x0, x1) = (x[2i], x[2i+1]) at position p, angle a = p * theta^(-2i/hd):
   y0 = x0 cos a - x1 sin a, y1 = x0 sin a + x1 cos a. The backward rotates by -a. */
static void pt__rope_apply(const float *in, float *out, const float *cs, int rows_bt, int H, int hd, int inverse,
                           int accumulate)
{
    int r;
    PT__PARALLEL_ROWS((int64_t)rows_bt * H * hd > PT__PAR_MIN)
    for (r = 0; r < rows_bt; r++)
        pt__rope_row(out + (int64_t)r * H * hd, in + (int64_t)r * H * hd, cs + (int64_t)r * hd, H, hd, inverse,
                     accumulate);
}
static void pt__rope_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *y = nd->out;
    float *dx = pt__grad(ctx, x);
    if (dx)
        pt__rope_apply(y->grad, dx, nd->saved.rope.angles, x->shape[0] * x->shape[1], x->shape[2], x->shape[3], 1, 1);
}
PTDEF pt_tensor *pt_rope(pt_ctx *ctx, pt_tensor *x, const int *pos, float theta)
{
    pt_tensor *y;
    pt__node *nd;
    float *cs;
    int B, T, hd, r, max_pos = 0, *first_row;
    if (!x) return NULL;
    if (x->ndim != 4 || x->shape[3] % 2 != 0)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_rope: x must be [B, T, H, hd] with even hd");
    B = x->shape[0];
    T = x->shape[1];
    hd = x->shape[3];
    cs = pt__floats(ctx, (int64_t)B * T * hd);
    y = pt__like(ctx, x);
    if (!cs || !y) return NULL;
    for (r = 0; r < B * T; r++) {
        int p = pos ? pos[r] : r % T;
        if (p < 0) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_rope: negative position %d at row %d", p, r);
        if (p > max_pos) max_pos = p;
    }
    /* the angles of each distinct position are computed once (powf, cosf and sinf per pair are
       most of this op's time) and copied to the other rows at that position; positions far beyond
       the rows (a caller's offset) are computed row by row rather than indexed */
    first_row = max_pos <= 4 * B * T ? (int *)pt_arena_alloc(&ctx->arena, ((size_t)max_pos + 1) * sizeof(int)) : NULL;
    for (r = 0; first_row && r <= max_pos; r++) first_row[r] = -1;
    for (r = 0; r < B * T; r++) {
        int p = pos ? pos[r] : r % T;
        if (!first_row)
            pt__rope_angles(cs + (int64_t)r * hd, p, hd, theta);
        else if (first_row[p] >= 0)
            memcpy(cs + (int64_t)r * hd, cs + (int64_t)first_row[p] * hd, (size_t)hd * sizeof(float));
        else {
            pt__rope_angles(cs + (int64_t)r * hd, p, hd, theta);
            first_row[p] = r;
        }
    }
    pt__rope_apply(x->data, y->data, cs, B * T, x->shape[2], hd, 0, 0);
    nd = pt__record(ctx, pt__rope_backward, y, x, NULL, NULL);
    if (nd) nd->saved.rope.angles = cs;
    return y;
}

/* Causal attention with grouped-query heads and segment masks.
   S[t,s] = q_t . k_s / sqrt(hd) for allowed s (s <= t, same segment), P = softmax_s(S), o_t = sum_s P[t,s] v_s.
   Backward (per row t): dP_s = do_t . v_s;  dS_s = P_s (dP_s - sum_u P_u dP_u);
   dq_t = sum_s dS_s k_s / sqrt(hd);  dk_s += dS_s q_t / sqrt(hd);  dv_s += P_s do_t.
   The plain version of one row is pt__attend_row_plain above (inference runs pt__attend_row on its
   KV cache, one query at a time).
   FAST (training): blocks of PT__ATTN_QB queries at once, so the four products are matrix products
   through the gemm micro-kernel: S = Q K^T and O = P V forward; dP = dO V^T, dQ = dS K,
   dK = dS^T Q and dV = P^T dO backward. A block of queries [t0, t1) only sees keys [0, t1): the
   causal mask costs at most the diagonal block. The forward runs over (b, h) in parallel, the
   backward over (b, kv head) so that each thread owns the dK/dV rows it writes; every product is a
   serial gemm on its thread's packing buffers, so the sums are the same for any thread count.
   P is saved: B*H*T*T floats (zero above the diagonal inside a block). test_engine pins it to a
   naive implementation and checks its gradients by finite differences. */
#define PT__ATTN_QB 64
typedef struct pt__attn_saved {
    float *P;
    int *seg;
} pt__attn_saved;

/* One row of scores -> probabilities: p[s] = softmax over allowed s <= t of S[s] * scale; zero for
   the rest of the block (t < s < t1) and for a padding row (seg[t] == 0). */
static void pt__attn_softmax_row(float *p, int t, int t1, float scale, const int *seg)
{
    float mx, sum = 0.0f, inv;
    int s;
    if (seg && seg[t] == 0) {
        for (s = 0; s < t1; s++) p[s] = 0.0f;
        return;
    }
    PT__SIMD for (s = 0; s <= t; s++) p[s] *= scale;
    if (seg)
        for (s = 0; s <= t; s++)
            if (seg[s] != seg[t]) p[s] = -INFINITY;
    mx = pt__row_max(p, t + 1);
    PT__SIMD_SUM(sum) for (s = 0; s <= t; s++) {
        p[s] = pt__exp(p[s] - mx);
        sum += p[s];
    }
    inv = 1.0f / sum;
    PT__SIMD for (s = 0; s <= t; s++) p[s] *= inv;
    for (s = t + 1; s < t1; s++) p[s] = 0.0f;
}

static void pt__attention_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *q = nd->in[0], *k = nd->in[1], *v = nd->in[2], *o = nd->out;
    pt__attn_saved *sv = nd->saved.attention;
    int B = q->shape[0], T = q->shape[1], H = q->shape[2], hd = q->shape[3], KVH = k->shape[2];
    int group = H / KVH, bk, nt = pt_get_threads();
    int64_t qs = (int64_t)H * hd, ks = (int64_t)KVH * hd;   /* row strides of q (and o) and of k, v */
    float scale = 1.0f / sqrtf((float)hd);
    float *dq = pt__grad(ctx, q), *dk = pt__grad(ctx, k), *dv = pt__grad(ctx, v);
    float *dsbuf;
    if (nt > pt__ensure_pack_bufs(nt)) nt = pt__pack_nbufs;
    if (nt < 1 || !(dsbuf = pt__floats(ctx, (int64_t)nt * PT__ATTN_QB * T))) {
        ctx->failed = 1;
        return;
    }
    if ((int64_t)B * KVH < 2 || (int64_t)B * H * T * T * hd < 65536) nt = 1;
#if PT__OMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
#endif
    for (bk = 0; bk < B * KVH; bk++) {
        int b = bk / KVH, kh = bk % KVH, g, t0, th = pt__thread_id();
        float *Ap = pt__pack_bufs[th], *Bp = Ap + (int64_t)PT__MC * PT__KC, *dS = dsbuf + (int64_t)th * PT__ATTN_QB * T;
        const float *kb = k->data + (int64_t)b * T * ks + (int64_t)kh * hd;
        const float *vb = v->data + (int64_t)b * T * ks + (int64_t)kh * hd;
        const int *seg = sv->seg ? sv->seg + (int64_t)b * T : NULL;
        float *dkb = dk ? dk + (int64_t)b * T * ks + (int64_t)kh * hd : NULL;
        float *dvb = dv ? dv + (int64_t)b * T * ks + (int64_t)kh * hd : NULL;
        for (g = 0; g < group; g++) {
            int h = kh * group + g;
            float *dqb = dq ? dq + (int64_t)b * T * qs + (int64_t)h * hd : NULL;
            const float *P = sv->P + ((int64_t)b * H + h) * T * T;
            const float *qb = q->data + (int64_t)b * T * qs + (int64_t)h * hd;
            const float *gob = o->grad + (int64_t)b * T * qs + (int64_t)h * hd;
            for (t0 = 0; t0 < T; t0 += PT__ATTN_QB) {
                int t1 = T - t0 < PT__ATTN_QB ? T : t0 + PT__ATTN_QB, t, s;
                /* dP = dO V^T over keys [0, t1) */
                pt__gemm_serial(t1 - t0, t1, hd, gob + (int64_t)t0 * qs, qs, 1, vb, 1, ks, dS, T, 0, Ap, Bp);
                for (t = t0; t < t1; t++) {   /* dS = P (dP - sum P dP) * scale, zero where P is */
                    const float *pr = P + (int64_t)t * T;
                    float *ds = dS + (int64_t)(t - t0) * T, dot = 0.0f;
                    PT__SIMD_SUM(dot) for (s = 0; s <= t; s++) dot += pr[s] * ds[s];
                    PT__SIMD for (s = 0; s <= t; s++) ds[s] = pr[s] * (ds[s] - dot) * scale;
                    for (s = t + 1; s < t1; s++) ds[s] = 0.0f;
                    if (seg && seg[t] == 0) for (s = 0; s < t1; s++) ds[s] = 0.0f;
                }
                if (dqb)   /* dQ += dS K */
                    pt__gemm_serial(t1 - t0, hd, t1, dS, T, 1, kb, ks, 1, dqb + (int64_t)t0 * qs, qs, 1, Ap, Bp);
                if (dkb)   /* dK += dS^T Q */
                    pt__gemm_serial(t1, hd, t1 - t0, dS, 1, T, qb + (int64_t)t0 * qs, qs, 1, dkb, ks, 1, Ap, Bp);
                if (dvb)   /* dV += P^T dO */
                    pt__gemm_serial(t1, hd, t1 - t0, P + (int64_t)t0 * T, 1, T, gob + (int64_t)t0 * qs, qs, 1, dvb, ks,
                                    1, Ap, Bp);
            }
        }
    }
}
PTDEF pt_tensor *pt_attention(pt_ctx *ctx, pt_tensor *q, pt_tensor *k, pt_tensor *v, const int *seg)
{
    pt_tensor *o;
    pt__node *nd;
    pt__attn_saved *sv;
    int B, T, H, hd, KVH, bh, nt = pt_get_threads();
    int64_t qs, ks;
    float scale;
    if (!q || !k || !v) return NULL;
    if (q->ndim != 4 || k->ndim != 4 || !pt_same_shape(k, v) || k->shape[0] != q->shape[0] ||
        k->shape[1] != q->shape[1] || k->shape[3] != q->shape[3] || q->shape[2] % k->shape[2] != 0)
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE,
                                          "pt_attention: need q[B,T,H,hd], k,v[B,T,KVH,hd] with H %% KVH == 0");
    B = q->shape[0];
    T = q->shape[1];
    H = q->shape[2];
    hd = q->shape[3];
    KVH = k->shape[2];
    qs = (int64_t)H * hd;
    ks = (int64_t)KVH * hd;
    scale = 1.0f / sqrtf((float)hd);
    o = pt__like(ctx, q);
    sv = (pt__attn_saved *)pt_arena_alloc(&ctx->arena, sizeof *sv);
    if (!o || !sv) return NULL;
    sv->P = pt__floats(ctx, (int64_t)B * H * T * T);
    sv->seg = pt__copy_ints(ctx, seg, (int64_t)B * T);
    if (!sv->P || (seg && !sv->seg)) return NULL;
    if (nt > pt__ensure_pack_bufs(nt)) nt = pt__pack_nbufs;
    if (nt < 1) return (pt_tensor *)pt__fail_null(PT_ERR_NOMEM, "pt_attention: out of memory");
    if (B * H < 2 || (int64_t)B * H * T * T * hd < 65536) nt = 1;
#if PT__OMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
#endif
    for (bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H, kh = h / (H / KVH), t0, th = pt__thread_id();
        float *Ap = pt__pack_bufs[th], *Bp = Ap + (int64_t)PT__MC * PT__KC, *P = sv->P + (int64_t)bh * T * T;
        const float *qb = q->data + (int64_t)b * T * qs + (int64_t)h * hd;
        const float *kb = k->data + (int64_t)b * T * ks + (int64_t)kh * hd;
        const float *vb = v->data + (int64_t)b * T * ks + (int64_t)kh * hd;
        float *ob = o->data + (int64_t)b * T * qs + (int64_t)h * hd;
        const int *sg = sv->seg ? sv->seg + (int64_t)b * T : NULL;
        for (t0 = 0; t0 < T; t0 += PT__ATTN_QB) {
            int t1 = T - t0 < PT__ATTN_QB ? T : t0 + PT__ATTN_QB, t;
            float *Pb = P + (int64_t)t0 * T;
            /* S = Q K^T over keys [0, t1), probabilities in place, then O = P V */
            pt__gemm_serial(t1 - t0, t1, hd, qb + (int64_t)t0 * qs, qs, 1, kb, 1, ks, Pb, T, 0, Ap, Bp);
            for (t = t0; t < t1; t++) pt__attn_softmax_row(Pb + (int64_t)(t - t0) * T, t, t1, scale, sg);
            pt__gemm_serial(t1 - t0, hd, t1, Pb, T, 1, vb, ks, 1, ob + (int64_t)t0 * qs, qs, 0, Ap, Bp);
        }
    }
    nd = pt__record(ctx, pt__attention_backward, o, q, k, v);
    if (nd) nd->saved.attention = sv;
    return o;
}

/* ------------------------------------------------------------------------------------------------
   2d. Softmax family, cross-entropy and the log-prob gather (implementation)             >>softmax
   For a row z: lse = max + log sum exp(z - max); log p_j = z_j - lse.
   Cross-entropy (mean over mask weight W): L = sum_r m_r (lse_r - z_r[t_r]) / W, dz = m_r/W (p - onehot).
   Log-prob at temperature tau: lp_r = z_r[t]/tau - lse(z_r/tau); dz_j = g_r/tau (onehot_j - p_j).
   Rows run in parallel; the scalar sum over rows is serial in double (thread-count independent).
   ------------------------------------------------------------------------------------------------ */
/* Returns max_c z_c / tau and writes log sum_c exp(z_c / tau - max) to *logsum; callers form
   (z_t / tau - max) - logsum so that huge logits keep their precision. */
static float pt__row_max_logsum(const float *z, int C, float inv_tau, float *logsum)
{
    float mx = -INFINITY, sum = 0.0f;
    int c;
    for (c = 0; c < C; c++) if (z[c] * inv_tau > mx) mx = z[c] * inv_tau;
    for (c = 0; c < C; c++) sum += expf(z[c] * inv_tau - mx);
    *logsum = logf(sum);
    return mx;
}

static void pt__softmax_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *y = nd->out;
    float *dx = pt__grad(ctx, x);
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), r, logsm = nd->saved.softmax.log;
    if (!dx) return;
    PT__PARALLEL_ROWS((int64_t)R * C > 32768)
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
    R = pt_tensor_rows(x);
    C = pt_tensor_cols(x);
    PT__PARALLEL_ROWS((int64_t)R * C > 32768)
    for (r = 0; r < R; r++) {
        const float *z = x->data + (int64_t)r * C;
        float *o = y->data + (int64_t)r * C, mx = -INFINITY, sum = 0.0f, ls;
        int c;
        /* subtract the max before anything else so huge logits keep their precision */
        for (c = 0; c < C; c++) mx = z[c] > mx ? z[c] : mx;
        for (c = 0; c < C; c++) sum += expf(z[c] - mx);
        if (logsm) {
            ls = logf(sum);
            PT__SIMD for (c = 0; c < C; c++) o[c] = (z[c] - mx) - ls;
        } else {
            ls = 1.0f / sum;
            for (c = 0; c < C; c++) o[c] = expf(z[c] - mx) * ls;
        }
    }
    nd = pt__record(ctx, pt__softmax_backward, y, x, NULL, NULL);
    if (nd) nd->saved.softmax.log = logsm;
    return y;
}
PTDEF pt_tensor *pt_softmax(pt_ctx *ctx, pt_tensor *x) { return pt__softmax(ctx, x, 0); }
PTDEF pt_tensor *pt_log_softmax(pt_ctx *ctx, pt_tensor *x) { return pt__softmax(ctx, x, 1); }

/* Shared by cross-entropy and the log-prob gather: rows r with weight w_r (per-row scale of the
   gradient), targets t_r, temperature tau. dz = g * w_r / tau * (p - onehot) * sign. */
typedef struct pt__gather_saved {
    int *targets;
    float *mask, *lse, *row_loss;
    float inv_tau;
    int is_ce;
    float inv_w;
} pt__gather_saved;
static void pt__gather_backward(pt_ctx *ctx, pt__node *nd)
{
    pt_tensor *x = nd->in[0], *y = nd->out;
    pt__gather_saved *sv = nd->saved.gather;
    float *dx = pt__grad(ctx, x);
    int R = pt_tensor_rows(x), C = pt_tensor_cols(x), r;
    if (!dx) return;
    PT__PARALLEL_ROWS((int64_t)R * C > 32768)
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
static pt_tensor *pt__gather(pt_ctx *ctx, pt_tensor *x, const int *targets, const float *mask, float tau, int is_ce,
                             const char *name)
{
    pt_tensor *y;
    pt__node *nd;
    pt__gather_saved *sv;
    int R, C, r, one = 1;
    double total = 0, wsum = 0;
    if (!x) return NULL;
    if (!targets) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: targets is NULL", name);
    if (!(tau > 0.0f))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: temperature %g must be > 0", name, (double)tau);
    R = pt_tensor_rows(x);
    C = pt_tensor_cols(x);
    for (r = 0; r < R; r++)
        if ((!mask || mask[r] != 0.0f) && (targets[r] < 0 || targets[r] >= C))
            return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: target %d at row %d is outside [0, %d)", name,
                                              targets[r], r, C);
    y = is_ce ? pt__new_uninit(ctx, 1, &one) : pt__new_uninit(ctx, 1, &R);
    sv = (pt__gather_saved *)pt_arena_alloc(&ctx->arena, sizeof *sv);
    if (!y || !sv) return NULL;
    sv->targets = pt__copy_ints(ctx, targets, R);
    sv->mask = pt__copy_mask(ctx, mask, R);
    sv->lse = pt__floats(ctx, R);
    sv->row_loss = pt__floats(ctx, R);
    if (!sv->targets || (mask && !sv->mask) || !sv->lse || !sv->row_loss) return NULL;
    sv->inv_tau = 1.0f / tau;
    sv->is_ce = is_ce;
    PT__PARALLEL_ROWS((int64_t)R * C > 32768)
    for (r = 0; r < R; r++) {
        const float *z = x->data + (int64_t)r * C;
        float mx, ls;
        if (mask && mask[r] == 0.0f) {
            sv->lse[r] = 0.0f;
            sv->row_loss[r] = 0.0f;
            if (!is_ce)
                y->data[r] = 0.0f;
            continue;
        }
        mx = pt__row_max_logsum(z, C, sv->inv_tau, &ls);
        sv->lse[r] = mx + ls;
        sv->row_loss[r] = ls - (z[targets[r]] * sv->inv_tau - mx);    /* -log p(target) */
        if (!is_ce) y->data[r] = -sv->row_loss[r];
    }
    if (is_ce) {
        for (r = 0; r < R; r++) {
            float m = mask ? mask[r] : 1.0f;
            if (m == 0.0f) continue;
            total += (double)m * (double)sv->row_loss[r];
            wsum += m;
        }
        sv->inv_w = wsum != 0 ? (float)(1.0 / wsum) : 0.0f;
        y->data[0] = wsum != 0 ? (float)(total / wsum) : 0.0f;
    }
    nd = pt__record(ctx, pt__gather_backward, y, x, NULL, NULL);
    if (pt__prof_on) pt__prof_relabel(is_ce ? "cross_entropy" : "token_logprobs");
    if (nd) nd->saved.gather = sv;
    return y;
}
PTDEF pt_tensor *pt_cross_entropy(pt_ctx *ctx, pt_tensor *logits, const int *targets, const float *mask)
{
    return pt__gather(ctx, logits, targets, mask, 1.0f, 1, "pt_cross_entropy");
}
PTDEF pt_tensor *pt_token_logprobs(pt_ctx *ctx, pt_tensor *logits, const int *targets, const float *mask,
                                   float temperature)
{
    return pt__gather(ctx, logits, targets, mask, temperature, 0, "pt_token_logprobs");
}

/* ------------------------------------------------------------------------------------------------
   2e. Gradient checking (implementation)                                               >>gradcheck
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
    if (!out) {
        st = pt_last_status() ? pt_last_status() : PT_ERR_ARG;
        goto done;
    }
    w = (float *)PT_MALLOC((size_t)out->size * sizeof(float));
    analytic = (float **)PT_MALLOC((size_t)n_inputs * sizeof(float *));
    if (!w || !analytic) {
        st = pt__fail(PT_ERR_NOMEM, "pt_gradcheck: out of memory");
        goto done;
    }
    memset(analytic, 0, (size_t)n_inputs * sizeof(float *));
    pt_rng_seed(&rng, 12345);
    for (j = 0; j < out->size; j++) w[j] = pt_rng_uniform(&rng) * 2.0f - 1.0f;
    for (i = 0; i < n_inputs; i++)
        if (inputs[i]->grad)
            memset(inputs[i]->grad, 0, (size_t)inputs[i]->size * sizeof(float));
    loss = pt_masked_sum(ctx, out, w);
    if (!loss) {
        st = pt_last_status();
        goto done;
    }
    if (!loss->requires_grad) {
        st = pt__fail(PT_ERR_ARG, "pt_gradcheck: output does not depend on any input that requires grad");
        goto done;
    }
    if ((st = pt_backward(ctx, loss)) != PT_OK) goto done;
    for (i = 0; i < n_inputs; i++) {
        if (!inputs[i]->requires_grad || !inputs[i]->grad) continue;
        analytic[i] = (float *)PT_MALLOC((size_t)inputs[i]->size * sizeof(float));
        if (!analytic[i]) {
            st = pt__fail(PT_ERR_NOMEM, "pt_gradcheck: out of memory");
            goto done;
        }
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
            if (!out) {
                x->data[j] = saved;
                st = pt_last_status();
                goto done;
            }
            lp = pt__weighted_sum(out, w);
            x->data[j] = saved - h;
            pt_ctx_reset(ctx);
            out = build(ctx, inputs, user);
            x->data[j] = saved;
            if (!out) {
                st = pt_last_status();
                goto done;
            }
            lm = pt__weighted_sum(out, w);
            num = (lp - lm) / (2.0 * (double)h);
            err = fabs(num - an);
            tol = atol + rtol * (fabs(num) > fabs(an) ? fabs(num) : fabs(an));
            if (err > r.max_abs_err) r.max_abs_err = err;
            if (err / (fabs(num) + 1e-12) > r.max_rel_err && fabs(num) > atol) r.max_rel_err = err / fabs(num);
            if (err / tol > r.worst) {
                r.worst = err / tol;
                r.worst_input = i;
                r.worst_index = j;
            }
            r.checked++;
        }
    }
done:
    if (analytic) {
        for (i = 0; i < n_inputs; i++) PT_FREE(analytic[i]);
        PT_FREE(analytic);
    }
    PT_FREE(w);
    pt_ctx_free(ctx);
    if (res) *res = r;
    return st;
}


/* ------------------------------------------------------------------------------------------------
   2f. Profiling (implementation)                                                           >>profile
   ------------------------------------------------------------------------------------------------ */
#define PT__PROF_ROWS 48
static pt_profile_row pt__prof_table[PT__PROF_ROWS];
static int pt__prof_n;
static double pt__prof_last;               /* end of the previous op or mark */
static pt_profile_row *pt__prof_last_row;  /* where the last forward time went, and how much */
static double pt__prof_last_dt;

static pt_profile_row *pt__prof_row(const char *name)
{
    int i;
    for (i = 0; i < pt__prof_n; i++)
        if (strcmp(pt__prof_table[i].name, name) == 0) return &pt__prof_table[i];
    if (pt__prof_n == PT__PROF_ROWS) return &pt__prof_table[PT__PROF_ROWS - 1];   /* full: lumped */
    memset(&pt__prof_table[pt__prof_n], 0, sizeof pt__prof_table[0]);
    pt__prof_table[pt__prof_n].name = name;
    return &pt__prof_table[pt__prof_n++];
}
static const char *pt__prof_fn_name(pt__backward_fn fn)
{
    if (fn == pt__linear_backward) return "linear";
    if (fn == pt__linear_lora_backward) return "linear_lora";
    if (fn == pt__matmul_backward) return "matmul";
    if (fn == pt__unary_backward) return "unary";
    if (fn == pt__binary_backward) return "binary";
    if (fn == pt__add_row_backward) return "add_row";
    if (fn == pt__copy_grad_backward) return "copy";
    if (fn == pt__rowsum_backward) return "rowsum";
    if (fn == pt__embedding_backward || fn == pt__embedding_override_backward) return "embedding";
    if (fn == pt__set_columns_backward) return "set_columns";
    if (fn == pt__rmsnorm_backward) return "rmsnorm";
    if (fn == pt__rope_backward) return "rope";
    if (fn == pt__attention_backward) return "attention";
    if (fn == pt__softmax_backward) return "softmax";
    if (fn == pt__gather_backward) return "gather";
    return "op";
}
static void pt__prof_forward(pt__backward_fn fn)
{
    double now = pt_time_seconds();
    pt_profile_row *r = pt__prof_row(pt__prof_fn_name(fn));
    pt__prof_last_dt = now - pt__prof_last;
    r->forward_s += pt__prof_last_dt;
    r->calls++;
    pt__prof_last_row = r;
    pt__prof_last = now;
}
/* The op that just recorded itself is a member of a family (unary, binary, gather): name it. */
static void pt__prof_relabel(const char *name)
{
    pt_profile_row *r;
    if (!pt__prof_last_row) return;
    pt__prof_last_row->forward_s -= pt__prof_last_dt;
    pt__prof_last_row->calls--;
    r = pt__prof_row(name);
    r->forward_s += pt__prof_last_dt;
    r->calls++;
    pt__prof_last_row = r;
}
static void pt__prof_begin(void)
{
    double now = pt_time_seconds();
    pt__prof_row("other")->forward_s += now - pt__prof_last;
    pt__prof_last = now;
    pt__prof_last_row = NULL;
}
static void pt__prof_end(const char *name)
{
    double now = pt_time_seconds();
    pt_profile_row *r = pt__prof_row(name);
    r->forward_s += now - pt__prof_last;
    r->calls++;
    pt__prof_last = now;
}
static void pt__prof_backward(const pt__node *n, double t0)
{
    const char *name = pt__prof_fn_name(n->backward);
    double now = pt_time_seconds();
    if (n->backward == pt__unary_backward) name = pt__unary_names[n->saved.unary.op];
    else if (n->backward == pt__binary_backward) {
        static const char *const binary_names[] = {"add", "sub", "mul", "div", "minimum", "maximum", "swiglu"};
        name = binary_names[n->saved.binary.op];
    } else if (n->backward == pt__gather_backward) name = n->saved.gather->is_ce ? "cross_entropy" : "token_logprobs";
    pt__prof_row(name)->backward_s += now - t0;
    pt__prof_last = now;
}
static double pt__prof_total(const pt_profile_row *r) { return r->forward_s + r->backward_s; }
PTDEF void pt_profile_start(void)
{
    pt__prof_n = 0;
    pt__prof_last_row = NULL;
    pt__prof_last = pt_time_seconds();
    pt__prof_on = 1;
}
PTDEF void pt_profile_stop(void) { pt__prof_on = 0; }
PTDEF int pt_profile_rows(pt_profile_row *rows, int max_rows)
{
    int i, j, n;
    pt_profile_row sorted[PT__PROF_ROWS], t;
    if (!rows || max_rows < 1) return 0;
    for (i = j = 0; i < pt__prof_n; i++)   /* rows that never ran (a family's placeholder) are left out */
        if (pt__prof_table[i].calls || pt__prof_table[i].forward_s + pt__prof_table[i].backward_s > 0)
            sorted[j++] = pt__prof_table[i];
    n = j;
    for (i = 1; i < n; i++)   /* insertion sort, largest first */
        for (j = i; j > 0 && pt__prof_total(&sorted[j]) > pt__prof_total(&sorted[j - 1]); j--) {
            t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    if (n > max_rows) n = max_rows;
    memcpy(rows, sorted, (size_t)n * sizeof rows[0]);
    return n;
}

/* ================================================================================================
   3. TRANSFORMER (implementation)                                                    >>transformer
   ================================================================================================ */
PTDEF int pt_config_validate(pt_config *c)
{
    if (c->norm_eps == 0.0f) c->norm_eps = 1e-5f;
    if (c->rope_theta == 0.0f) c->rope_theta = 10000.0f;
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->dim < 2 || c->dim > 65536) return pt__fail(PT_ERR_ARG, "config: dim %d not in [2, 65536]", c->dim);
    if (c->n_layers < 1 || c->n_layers > 1024)
        return pt__fail(PT_ERR_ARG, "config: n_layers %d not in [1, 1024]", c->n_layers);
    if (c->n_heads < 1 || c->dim % c->n_heads != 0)
        return pt__fail(PT_ERR_ARG, "config: n_heads %d does not divide dim %d", c->n_heads, c->dim);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads != 0)
        return pt__fail(PT_ERR_ARG, "config: n_kv_heads %d does not divide n_heads %d", c->n_kv_heads, c->n_heads);
    if ((c->dim / c->n_heads) % 2 != 0)
        return pt__fail(PT_ERR_ARG, "config: head size %d must be even for RoPE", c->dim / c->n_heads);
    if (c->hidden_dim < 1 || c->hidden_dim > 1 << 20)
        return pt__fail(PT_ERR_ARG, "config: hidden_dim %d not in [1, 2^20]", c->hidden_dim);
    if (c->vocab_size < 1 || c->vocab_size > 1 << 22)
        return pt__fail(PT_ERR_ARG, "config: vocab_size %d not in [1, 2^22]", c->vocab_size);
    if (c->seq_len < 1 || c->seq_len > 1 << 20)
        return pt__fail(PT_ERR_ARG, "config: seq_len %d not in [1, 2^20]", c->seq_len);
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return pt__fail(PT_ERR_ARG, "config: norm_eps %g not in (0, 1)", (double)c->norm_eps);
    if (!(c->rope_theta > 1.0f && c->rope_theta < 1e9f))
        return pt__fail(PT_ERR_ARG, "config: rope_theta %g not in (1, 1e9)", (double)c->rope_theta);
    if (c->untied != 0 && c->untied != 1)
        return pt__fail(PT_ERR_ARG, "config: untied must be 0 or 1, is %d", c->untied);
    return PT_OK;
}

/* Declare every tensor in a fixed order (the checkpoint order). */
static pt_model *pt__model_declare(const pt_config *cfg_in)
{
    pt_config c = *cfg_in;
    pt_model *m;
    int l, D, KV, Hd, V;
    char name[64];
    int s2[2], s1[1];
    if (pt_config_validate(&c) != PT_OK) return NULL;
    m = (pt_model *)PT_MALLOC(sizeof(pt_model));
    if (!m) return (pt_model *)pt__fail_null(PT_ERR_NOMEM, "pt_model_new: out of memory");
    memset(m, 0, sizeof *m);
    m->cfg = c;
    m->params = pt_params_new();
    m->layers = (pt_layer *)PT_MALLOC((size_t)c.n_layers * sizeof(pt_layer));
    if (!m->params || !m->layers) {
        pt_model_free(m);
        return (pt_model *)pt__fail_null(PT_ERR_NOMEM, "pt_model_new: out of memory");
    }
    D = c.dim;
    KV = c.dim / c.n_heads * c.n_kv_heads;
    Hd = c.hidden_dim;
    V = c.vocab_size;
#define PT__ADD2(dst, nm, r, cl, fl)                                                                                   \
    do {                                                                                                               \
        s2[0] = (r);                                                                                                   \
        s2[1] = (cl);                                                                                                  \
        if (!((dst) = pt_params_add(m->params, nm, 2, s2, fl)))                                                        \
            goto fail;                                                                                                 \
    } while (0)
#define PT__ADD1(dst, nm, n, fl)                                                                                       \
    do {                                                                                                               \
        s1[0] = (n);                                                                                                   \
        if (!((dst) = pt_params_add(m->params, nm, 1, s1, fl)))                                                        \
            goto fail;                                                                                                 \
    } while (0)
    PT__ADD2(m->tok_embeddings, "tok_embeddings", V, D, 0);
    for (l = 0; l < c.n_layers; l++) {
        pt_layer *L = &m->layers[l];
        snprintf(name, sizeof name, "layers.%d.attn_norm", l);
        PT__ADD1(L->attn_norm, name, D, PT_PARAM_NO_DECAY);
        snprintf(name, sizeof name, "layers.%d.attn.wq", l);
        PT__ADD2(L->wq, name, D, D, 0);
        snprintf(name, sizeof name, "layers.%d.attn.wk", l);
        PT__ADD2(L->wk, name, KV, D, 0);
        snprintf(name, sizeof name, "layers.%d.attn.wv", l);
        PT__ADD2(L->wv, name, KV, D, 0);
        snprintf(name, sizeof name, "layers.%d.attn.wo", l);
        PT__ADD2(L->wo, name, D, D, 0);
        snprintf(name, sizeof name, "layers.%d.ffn_norm", l);
        PT__ADD1(L->ffn_norm, name, D, PT_PARAM_NO_DECAY);
        snprintf(name, sizeof name, "layers.%d.mlp.w1", l);
        PT__ADD2(L->w1, name, Hd, D, 0);
        snprintf(name, sizeof name, "layers.%d.mlp.w2", l);
        PT__ADD2(L->w2, name, D, Hd, 0);
        snprintf(name, sizeof name, "layers.%d.mlp.w3", l);
        PT__ADD2(L->w3, name, Hd, D, 0);
    }
    PT__ADD1(m->norm, "norm", D, PT_PARAM_NO_DECAY);
    if (c.untied) PT__ADD2(m->output, "output", V, D, 0);
#undef PT__ADD1
#undef PT__ADD2
    if (pt_params_alloc(m->params) != PT_OK) goto fail;
    if (!c.untied) m->output = m->tok_embeddings;
    return m;
fail:
    pt_model_free(m);
    return NULL;
}
PTDEF pt_model *pt_model_new(const pt_config *cfg, uint64_t seed)
{
    pt_model *m = pt__model_declare(cfg);
    pt_rng rng;
    if (!m) return NULL;
    pt_rng_seed(&rng, seed);
    pt_params_init_normal(m->params, "*", 0.02f, &rng);
    pt_params_init_normal(m->params, "layers.*.attn.wo", 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers), &rng);
    pt_params_init_normal(m->params, "layers.*.mlp.w2", 0.02f / sqrtf(2.0f * (float)m->cfg.n_layers), &rng);
    pt_params_init_const(m->params, "*norm", 1.0f);
    return m;
}
PTDEF void pt_model_free(pt_model *m)
{
    if (!m) return;
    pt_params_free(m->params);
    PT_FREE(m->layers);
    PT_FREE(m->llama2c_rope);
    pt_lora_detach(m);
    pt_tokens_detach(m);
    pt_model_head_detach(m);
    PT_FREE(m);
}

PTDEF pt_tensor *pt_layer_weight(const pt_model *m, int layer, pt_layer_matrix which)
{
    const pt_layer *L;
    if (!m || layer < 0 || layer >= m->cfg.n_layers) return NULL;
    L = &m->layers[layer];
    switch (which) {
    case PT_WQ: return L->wq;
    case PT_WK: return L->wk;
    case PT_WV: return L->wv;
    case PT_WO: return L->wo;
    case PT_W1: return L->w1;
    case PT_W2: return L->w2;
    case PT_W3: return L->w3;
    default: return NULL;
    }
}
static int pt__slot(int layer, pt_layer_matrix which) { return layer * PT_LAYER_MATRICES + (int)which; }
/* Per-matrix tables of inference (pre-packed weights) end with the classifier after every layer's. */
static int pt__output_slot(const pt_model *m) { return m->cfg.n_layers * PT_LAYER_MATRICES; }
static pt_tensor *pt__slot_weight(const pt_model *m, int slot)
{
    return pt_layer_weight(m, slot / PT_LAYER_MATRICES, (pt_layer_matrix)(slot % PT_LAYER_MATRICES));
}
/* The matrices' names inside a layer (parameter names are layers.N.<name>). */
static const char *const pt__matrix_names[PT_LAYER_MATRICES] = {"attn.wq", "attn.wk", "attn.wv", "attn.wo",
                                                                 "mlp.w1",  "mlp.w2",  "mlp.w3"};

/* The token adapter the forwards use: none while adapters are switched off. */
static const pt_token_adapter *pt__tok(const pt_model *m) { return m->adapters_off ? NULL : m->tokens; }
/* y = h W^T, plus the LoRA branch s * dropout(h) A^T B^T when the matrix has an unmerged adapter. */
static pt_tensor *pt__lin(pt_ctx *ctx, pt_model *m, pt_tensor *h, int layer, pt_layer_matrix which)
{
    pt_lora *lo = m->lora;
    pt_tensor *W = pt_layer_weight(m, layer, which);
    int slot = pt__slot(layer, which);
    float *mask = NULL;
    if (!lo || lo->merged || m->adapters_off || !lo->a[slot]) return pt_linear(ctx, h, W, NULL);
    if (lo->dropout > 0 && ctx->grad_enabled) {   /* inverted dropout on the adapter's input only */
        int64_t i;
        if (!(mask = pt__floats(ctx, h->size))) return NULL;
        for (i = 0; i < h->size; i++)
            mask[i] = pt_rng_uniform(&lo->rng) < lo->dropout ? 0.0f : 1.0f / (1.0f - lo->dropout);
    }
    return pt_linear_lora(ctx, h, W, lo->a[slot], lo->b[slot], lo->scale, mask);
}

/* The training forward through the tape: final hidden states after the last norm, [B*T, D]. */
static pt_tensor *pt__model_hidden(pt_ctx *ctx, pt_model *m, const pt_batch *b)
{
    const pt_config *c = &m->cfg;
    int hd = c->dim / c->n_heads, l, i;
    int s4q[4], s4k[4], s2[2];
    pt_tensor *x;
    if (!b || !b->tokens) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "model forward: batch or tokens is NULL");
    if (b->B < 1 || b->T < 1)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "model forward: B %d and T %d must be >= 1", b->B, b->T);
    if (b->T > c->seq_len)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "model forward: T %d exceeds the model's seq_len %d", b->T,
                                          c->seq_len);
    if (b->pos)
        for (i = 0; i < b->B * b->T; i++)
            if (b->pos[i] < 0 || b->pos[i] >= c->seq_len)
                return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "model forward: position %d at row %d outside [0, %d)",
                                                  b->pos[i], i, c->seq_len);
    s4q[0] = s4k[0] = b->B;
    s4q[1] = s4k[1] = b->T;
    s4q[2] = c->n_heads;
    s4k[2] = c->n_kv_heads;
    s4q[3] = s4k[3] = hd;
    s2[0] = b->B * b->T;
    s2[1] = c->dim;
    x = pt__tok(m) ? pt_embedding_override(ctx, m->tok_embeddings, m->tokens->rows, m->tokens->slot,
                                           pt_model_input_vocab(m), b->tokens, b->B * b->T)
                   : pt_embedding(ctx, m->tok_embeddings, b->tokens, b->B * b->T);
    for (l = 0; l < c->n_layers; l++) {
        pt_layer *L = &m->layers[l];
        pt_tensor *h = pt_rmsnorm(ctx, x, L->attn_norm, c->norm_eps);
        pt_tensor *q =
            pt_rope(ctx, pt_reshape(ctx, pt__lin(ctx, m, h, l, PT_WQ), 4, s4q), b->pos, c->rope_theta);
        pt_tensor *k =
            pt_rope(ctx, pt_reshape(ctx, pt__lin(ctx, m, h, l, PT_WK), 4, s4k), b->pos, c->rope_theta);
        pt_tensor *v = pt_reshape(ctx, pt__lin(ctx, m, h, l, PT_WV), 4, s4k);
        pt_tensor *a = pt_reshape(ctx, pt_attention(ctx, q, k, v, b->seg), 2, s2);
        x = pt_add(ctx, x, pt__lin(ctx, m, a, l, PT_WO));
        h = pt_rmsnorm(ctx, x, L->ffn_norm, c->norm_eps);
        h = pt_swiglu(ctx, pt__lin(ctx, m, h, l, PT_W1), pt__lin(ctx, m, h, l, PT_W3));
        x = pt_add(ctx, x, pt__lin(ctx, m, h, l, PT_W2));
    }
    return pt_rmsnorm(ctx, x, m->norm, c->norm_eps);
}
PTDEF pt_tensor *pt_model_logits(pt_ctx *ctx, pt_model *m, const pt_batch *b)
{
    pt_tensor *h = pt__model_hidden(ctx, m, b), *logits = pt_linear(ctx, h, m->output, NULL);
    const pt_token_adapter *ta = pt__tok(m);
    if (!ta || ta->n == ta->n_virtual) return logits;
    /* trainable tokens: their classifier columns come from the adapter's rows */
    return pt_set_columns(ctx, logits, pt_linear(ctx, h, ta->out_rows ? ta->out_rows : ta->rows, NULL), ta->cols,
                          ta->n);
}
PTDEF pt_tensor *pt_model_loss(pt_ctx *ctx, pt_model *m, const pt_batch *b)
{
    if (!b || !b->targets) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_model_loss: batch or its targets is NULL");
    return pt_cross_entropy(ctx, pt_model_logits(ctx, m, b), b->targets, b->loss_mask);
}
PTDEF pt_tensor *pt_model_logprobs(pt_ctx *ctx, pt_model *m, const pt_batch *b, float temperature)
{
    if (!b || !b->targets)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_model_logprobs: batch or its targets is NULL");
    return pt_token_logprobs(ctx, pt_model_logits(ctx, m, b), b->targets, b->loss_mask, temperature);
}
PTDEF pt_tensor *pt_model_hidden(pt_ctx *ctx, pt_model *m, const pt_batch *b) { return pt__model_hidden(ctx, m, b); }

/* --- Scalar heads ---------------------------------------------------------------------------- */
PTDEF void pt_model_head_detach(pt_model *m)
{
    if (!m || !m->head) return;
    pt_params_free(m->head->params);
    PT_FREE(m->head);
    m->head = NULL;
}
PTDEF int pt_model_head_attach(pt_model *m, uint64_t seed)
{
    pt_head *h;
    pt_rng rng;
    int shape[2], st;
    int64_t i;
    if (!m) return pt__fail(PT_ERR_ARG, "pt_model_head_attach: model is NULL");
    if (!(h = (pt_head *)PT_MALLOC(sizeof(pt_head))))
        return pt__fail(PT_ERR_NOMEM, "pt_model_head_attach: out of memory");
    memset(h, 0, sizeof *h);
    shape[0] = 1;
    shape[1] = m->cfg.dim;
    if (!(h->params = pt_params_new()) || !(h->w = pt_params_add(h->params, "head.w", 2, shape, 0)) ||
        !(h->b = pt_params_add(h->params, "head.b", 1, shape, PT_PARAM_NO_DECAY)) ||
        (st = pt_params_alloc(h->params)) != PT_OK) {
        st = pt_last_status() ? pt_last_status() : PT_ERR_NOMEM;
        pt_params_free(h->params);
        PT_FREE(h);
        return st;
    }
    pt_rng_seed(&rng, seed);
    for (i = 0; i < h->w->size; i++) h->w->data[i] = pt_rng_normal(&rng) / sqrtf((float)m->cfg.dim + 1.0f);
    pt_model_head_detach(m);
    m->head = h;
    return PT_OK;
}
PTDEF pt_tensor *pt_model_head_values(pt_ctx *ctx, pt_model *m, const pt_batch *b)
{
    pt_tensor *v;
    int shape[1];
    if (!m || !m->head)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG,
                                          "pt_model_head_values: the model has no head (pt_model_head_attach)");
    v = pt_linear(ctx, pt__model_hidden(ctx, m, b), m->head->w, m->head->b);
    if (!v) return NULL;
    shape[0] = b->B * b->T;
    return pt_reshape(ctx, v, 1, shape);
}

/* --- KV-cache inference ---------------------------------------------------------------------- */
PTDEF pt_kv_cache *pt_kv_new(const pt_model *m, int n_seqs, int max_len)
{
    pt_kv_cache *kv;
    int64_t n;
    if (n_seqs < 1 || max_len < 1 || max_len > m->cfg.seq_len)
        return (pt_kv_cache *)pt__fail_null(PT_ERR_ARG,
                                            "pt_kv_new: n_seqs %d must be >= 1 and max_len %d in [1, seq_len %d]",
                                            n_seqs, max_len, m->cfg.seq_len);
    kv = (pt_kv_cache *)PT_MALLOC(sizeof *kv);
    if (!kv) return (pt_kv_cache *)pt__fail_null(PT_ERR_NOMEM, "pt_kv_new: out of memory");
    memset(kv, 0, sizeof *kv);
    kv->n_seqs = n_seqs;
    kv->max_len = max_len;
    kv->n_layers = m->cfg.n_layers;
    kv->kv_dim = m->cfg.dim / m->cfg.n_heads * m->cfg.n_kv_heads;
    n = (int64_t)kv->n_layers * n_seqs * max_len * kv->kv_dim + 16;   /* +16: chunked reads past the end */
    kv->k = pt__alloc_aligned_floats(n);
    kv->v = pt__alloc_aligned_floats(n);
    if (kv->k) memset(kv->k, 0, (size_t)n * sizeof(float));
    if (kv->v) memset(kv->v, 0, (size_t)n * sizeof(float));
    {   /* RoPE angles per position, the training op's (pt__rope_angles), computed once */
        int hd = m->cfg.dim / m->cfg.n_heads, t;
        kv->rope = (float *)PT_MALLOC((size_t)max_len * hd * sizeof(float));
        if (kv->rope)
            for (t = 0; t < max_len; t++) pt__rope_angles(kv->rope + (int64_t)t * hd, t, hd, m->cfg.rope_theta);
    }
    kv->len = (int *)PT_MALLOC((size_t)n_seqs * sizeof(int));
    if (!kv->k || !kv->v || !kv->len || !kv->rope) {
        pt_kv_free(kv);
        return (pt_kv_cache *)pt__fail_null(PT_ERR_NOMEM, "pt_kv_new: cannot allocate the cache (%lld floats)",
                                            (long long)(2 * n));
    }
    memset(kv->len, 0, (size_t)n_seqs * sizeof(int));
    return kv;
}
PTDEF void pt_kv_free(pt_kv_cache *kv)
{
    if (!kv) return;
    pt__free_aligned(kv->k);
    pt__free_aligned(kv->v);
    pt__free_aligned(kv->scratch);
    if (kv->packed) {
        int i;
        for (i = 0; i < kv->n_layers * PT_LAYER_MATRICES + 1; i++)   /* + 1: the classifier */
            pt__free_aligned(kv->packed[i]);
        PT_FREE(kv->packed);
    }
    PT_FREE(kv->len);
    PT_FREE(kv->rope);
    PT_FREE(kv);
}
PTDEF void pt_kv_clear(pt_kv_cache *kv, int seq)
{
    int i;
    for (i = 0; i < kv->n_seqs; i++) if (seq < 0 || seq == i) kv->len[i] = 0;
}
PTDEF int pt_kv_copy(pt_kv_cache *kv, int src, int dst)
{
    int l;
    size_t block;
    if (!kv || src < 0 || dst < 0 || src >= kv->n_seqs || dst >= kv->n_seqs)
        return pt__fail(PT_ERR_ARG, "pt_kv_copy: sequences %d -> %d outside [0, %d)", src, dst, kv ? kv->n_seqs : 0);
    if (src == dst) return PT_OK;
    block = (size_t)kv->kv_dim * (size_t)kv->max_len;
    for (l = 0; l < kv->n_layers; l++) {
        size_t s = ((size_t)l * kv->n_seqs + (size_t)src) * block, d = ((size_t)l * kv->n_seqs + (size_t)dst) * block;
        memcpy(kv->k + d, kv->k + s, block * sizeof(float));
        memcpy(kv->v + d, kv->v + s, block * sizeof(float));
    }
    kv->len[dst] = kv->len[src];
    return PT_OK;
}

/* Inference scratch (rows of the whole call) and the forward over rows [r0, r1). tid >= 0: this is
   one thread of a row split, so every helper runs serially on that thread's packing buffer;
   tid < 0: the helpers parallelise inside. n (all rows of the call) picks the matmul path. */
typedef struct pt__step_ws {
    float *x, *xb, *q, *k, *v, *att, *h1, *h3;   /* [rows, width] activations */
    float *scores;                                /* [rows * n_heads, max_len + 16] attention probabilities */
    float *lora_u;                                /* [rows, rank] LoRA down-projections */
    float *tok_logits;                            /* [rows, adapter tokens] trainable tokens' logits */
    int *pos;                                     /* each row's position in its sequence */
} pt__step_ws;
/* y = x W^T (+= when acc) for the inference rows: pre-packed weights when there are enough rows. */
static void pt__step_matmul(int n_all, int M, int N, int K, const float *x, const float *W, const float *Wp, float *y,
                            int acc, int tid)
{
    if (tid < 0) {
        pt__matmul_infer(n_all, M, N, K, x, W, Wp, y, acc);
        return;
    }
    if (Wp && n_all > 4) pt__gemm_prepacked_cols(M, 0, N, K, x, K, Wp, y, N, acc, pt__pack_bufs[tid]);
    else pt__gemv_rows(M, N, K, x, K, W, K, y, N, acc);   /* nested: its parallel-for stays serial */
}
/* One of a layer's linear maps on the inference rows: y (+)= x W^T plus the LoRA branch when the
   matrix has an unmerged adapter (pt__lin's twin: the same pt__lora_delta). */
static void pt__step_matrix(const pt_model *m, const pt_kv_cache *kv, const pt__step_ws *w, int layer,
                            pt_layer_matrix which, int n_all, int rows, const float *x, float *y, int acc, int tid,
                            float *lora_u)
{
    const pt_tensor *W = pt_layer_weight(m, layer, which);
    const pt_lora *lo = m->lora;
    int slot = pt__slot(layer, which), N = W->shape[0], K = W->shape[1];
    (void)w;
    pt__step_matmul(n_all, rows, N, K, x, W->data, kv->packed ? kv->packed[slot] : NULL, y, acc, tid);
    if (lo && !lo->merged && !m->adapters_off && lo->a[slot])
        pt__lora_delta(rows, N, K, lo->rank, x, lo->a[slot]->data, lo->b[slot]->data, lo->scale, lora_u, y, 0);
}
static void pt__step_rows(pt_model *m, pt_kv_cache *kv, const pt__step_ws *w, int n, int r0, int r1,
                          const int *seq_ids, const int *tokens, float *logits, int tid)
{
    const pt_config *c = &m->cfg;
    const pt_token_adapter *ta = pt__tok(m);
    int D = c->dim, H = c->n_heads, KVH = c->n_kv_heads, hd = D / H, KVD = kv->kv_dim, Hd = c->hidden_dim;
    int V = c->vocab_size, S = kv->max_len, l, i, group = H / KVH, nr = r1 - r0;
    int64_t r;
    const int *pos = w->pos;
    float *x = w->x + (int64_t)r0 * D, *xb = w->xb + (int64_t)r0 * D, *q = w->q + (int64_t)r0 * D;
    float *k = w->k + (int64_t)r0 * KVD, *v = w->v + (int64_t)r0 * KVD, *att = w->att + (int64_t)r0 * D;
    float *h1 = w->h1 + (int64_t)r0 * Hd, *h3 = w->h3 + (int64_t)r0 * Hd;
    float *lora_u = m->lora ? w->lora_u + (int64_t)r0 * m->lora->rank : NULL;
    if (nr < 1) return;
    pt__embed_rows(x, m->tok_embeddings->data, ta ? ta->rows->data : NULL, ta ? ta->slot : NULL, tokens + r0, nr, D);
    for (l = 0; l < c->n_layers; l++) {
        pt_layer *L = &m->layers[l];
        float *kc = kv->k + (int64_t)l * kv->n_seqs * S * KVD, *vc = kv->v + (int64_t)l * kv->n_seqs * S * KVD;
        int rh;
        for (i = 0; i < nr; i++)
            pt__rmsnorm_row(xb + (int64_t)i * D, x + (int64_t)i * D, L->attn_norm->data, D, c->norm_eps);
        pt__step_matrix(m, kv, w, l, PT_WQ, n, nr, xb, q, 0, tid, lora_u);
        pt__step_matrix(m, kv, w, l, PT_WK, n, nr, xb, k, 0, tid, lora_u);
        pt__step_matrix(m, kv, w, l, PT_WV, n, nr, xb, v, 0, tid, lora_u);
        for (i = 0; i < nr; i++) {   /* store k, v transposed: position is the fastest index */
            int64_t base = (int64_t)seq_ids[r0 + i] * KVD * S + pos[r0 + i];
            const float *angles = kv->rope + (int64_t)pos[r0 + i] * hd;
            int e;
            pt__rope_row(q + (int64_t)i * D, q + (int64_t)i * D, angles, H, hd, 0, 0);
            pt__rope_row(k + (int64_t)i * KVD, k + (int64_t)i * KVD, angles, KVH, hd, 0, 0);
            for (e = 0; e < KVD; e++) {
                kc[base + (int64_t)e * S] = k[(int64_t)i * KVD + e];
                vc[base + (int64_t)e * S] = v[(int64_t)i * KVD + e];
            }
        }
        /* attention: one (row, head) pair per work item over the cached positions 0..pos */
        PT__PARALLEL_ROWS(tid < 0 && (int64_t)nr * H * (pos[r1 - 1] + 1) * hd > 524288)
        for (rh = r0 * H; rh < r1 * H; rh++) {
            int row = rh / H, h = rh % H, kh = h / group;
            int64_t head = ((int64_t)seq_ids[row] * KVD + (int64_t)kh * hd) * S;
            pt__attend_row(w->att + (int64_t)row * D + h * hd, w->scores + (int64_t)rh * (S + 16),
                           w->q + (int64_t)row * D + h * hd, kc + head, vc + head, S, hd, pos[row] + 1, NULL, 0, 0);
        }
        pt__step_matrix(m, kv, w, l, PT_WO, n, nr, att, x, 1, tid, lora_u);   /* x += att Wo^T */
        for (i = 0; i < nr; i++)
            pt__rmsnorm_row(xb + (int64_t)i * D, x + (int64_t)i * D, L->ffn_norm->data, D, c->norm_eps);
        pt__step_matrix(m, kv, w, l, PT_W1, n, nr, xb, h1, 0, tid, lora_u);
        pt__step_matrix(m, kv, w, l, PT_W3, n, nr, xb, h3, 0, tid, lora_u);
        for (r = 0; r < (int64_t)nr * Hd; r++) h1[r] = pt__swiglu1(h1[r], h3[r]);
        pt__step_matrix(m, kv, w, l, PT_W2, n, nr, h1, x, 1, tid, lora_u);    /* x += h W2^T */
    }
    if (logits) {
        float *lg = logits + (int64_t)r0 * V;
        for (i = 0; i < nr; i++)
            pt__rmsnorm_row(xb + (int64_t)i * D, x + (int64_t)i * D, m->norm->data, D, c->norm_eps);
        pt__step_matmul(n, nr, V, D, xb, m->output->data, kv->packed ? kv->packed[pt__output_slot(m)] : NULL, lg, 0,
                        tid);
        if (ta && ta->n > ta->n_virtual) {   /* trainable tokens: their classifier columns (pt_set_columns) */
            float *tl = w->tok_logits + (int64_t)r0 * ta->n;
            pt__gemv_rows(nr, ta->n, D, xb, D, (ta->out_rows ? ta->out_rows : ta->rows)->data, D, tl, ta->n, 0);
            pt__scatter_columns(lg, nr, V, tl, ta->cols, ta->n);
        }
    }
}

PTDEF int pt_model_step(pt_model *m, pt_kv_cache *kv, int n, const int *seq_ids, const int *tokens, float *logits)
{
    const pt_config *c = &m->cfg;
    int D = c->dim, H = c->n_heads, KVH = c->n_kv_heads, KVD = kv->kv_dim, Hd = c->hidden_dim;
    int S = kv->max_len, i, distinct = 1, nt;
    int *pos;
    float *x, *xb, *q, *k, *v, *att, *h1, *h3, *sc;
    int64_t need;
    if (n < 1) return pt__fail(PT_ERR_ARG, "pt_model_step: n_rows %d must be >= 1", n);
    if (kv->n_layers != c->n_layers || KVD != D / H * KVH)
        return pt__fail(PT_ERR_ARG, "pt_model_step: the cache was made for another model");
    /* validate everything first, so an error changes nothing */
    for (i = 0; i < n; i++) {
        int s = seq_ids[i], already = 0, j;
        if (s < 0 || s >= kv->n_seqs)
            return pt__fail(PT_ERR_ARG, "pt_model_step: row %d has sequence id %d outside [0, %d)", i, s, kv->n_seqs);
        if (tokens[i] < 0 || tokens[i] >= pt_model_input_vocab(m))
            return pt__fail(PT_ERR_ARG, "pt_model_step: row %d has token %d outside the vocabulary [0, %d)", i,
                            tokens[i], pt_model_input_vocab(m));
        for (j = 0; j < i; j++) already += seq_ids[j] == s;
        if (kv->len[s] + already >= S)
            return pt__fail(PT_ERR_ARG, "pt_model_step: sequence %d is full (%d tokens, cache length %d)", s,
                            kv->len[s] + already, S);
    }
    /* scratch: x, xb, q, k, v, att, h1, h3 rows + scores for each (row, head) + positions */
    need = (int64_t)n * (4 * D + 2 * KVD + 2 * Hd) + (int64_t)n * H * (S + 16) + n + 64 +
        (m->lora ? (int64_t)n * m->lora->rank : 0) + (m->tokens ? (int64_t)n * m->tokens->n : 0);
    if (kv->scratch_floats < need) {
        float *ns = pt__alloc_aligned_floats(need);
        if (!ns)
            return pt__fail(PT_ERR_NOMEM, "pt_model_step: cannot allocate %lld floats of scratch", (long long)need);
        pt__free_aligned(kv->scratch);
        kv->scratch = ns;
        kv->scratch_floats = need;
    }
    x = kv->scratch;
    xb = x + (int64_t)n * D;
    q = xb + (int64_t)n * D;
    att = q + (int64_t)n * D;
    k = att + (int64_t)n * D;
    v = k + (int64_t)n * KVD;
    h1 = v + (int64_t)n * KVD;
    h3 = h1 + (int64_t)n * Hd;
    sc = h3 + (int64_t)n * Hd;
    pos = (int *)(sc + (int64_t)n * H * (S + 16));
    for (i = 0; i < n; i++) {
        int j, before = 0;
        for (j = 0; j < i; j++) before += seq_ids[j] == seq_ids[i];
        pos[i] = kv->len[seq_ids[i]] + before;
        distinct &= before == 0;
    }
    {
        pt__step_ws w;
        w.x = x;
        w.xb = xb;
        w.q = q;
        w.k = k;
        w.v = v;
        w.att = att;
        w.h1 = h1;
        w.h3 = h3;
        w.scores = sc;
        w.pos = pos;
        w.lora_u = (float *)(pos + n + 16);   /* LoRA and token-adapter scratch after the positions */
        w.tok_logits = w.lora_u + (m->lora ? (int64_t)n * m->lora->rank : 0);
        /* Decoding many sequences: split the rows between threads for the whole forward (one
           parallel region per step instead of several per layer). Rows are independent, every
           row takes the same kernel path either way, so the bits do not depend on the split. */
        nt = pt_get_threads();
        if (nt > 1 && distinct && kv->packed && n >= 8 && pt__ensure_pack_bufs(nt) >= nt) {
#if PT__OMP
#pragma omp parallel num_threads(nt)
#endif
            {
                int t = pt__thread_id(), n_threads = pt__num_threads();
                pt__step_rows(m, kv, &w, n, n * t / n_threads, n * (t + 1) / n_threads, seq_ids, tokens, logits, t);
            }
        } else {
            pt__step_rows(m, kv, &w, n, 0, n, seq_ids, tokens, logits, -1);
        }
    }
    for (i = 0; i < n; i++) kv->len[seq_ids[i]]++;
    return PT_OK;
}
/* Pack every weight matrix for kv's private use (pt_generate's own cache, whose weights cannot
   change while it lives). Failure is harmless: the unpacked path is used. */
static void pt__kv_prepack(pt_kv_cache *kv, const pt_model *m)
{
    int slot, n = pt__output_slot(m) + 1;
    kv->packed = (float **)PT_MALLOC((size_t)n * sizeof(float *));
    if (!kv->packed) return;
    for (slot = 0; slot < n; slot++) {
        const pt_tensor *w = slot == pt__output_slot(m)
            ? m->output
            : pt__slot_weight(m, slot);
        float *p = pt__alloc_aligned_floats(pt__prepacked_floats(w->shape[0], w->shape[1]));
        if (p) pt__prepack_w(w->data, w->shape[0], w->shape[1], p);
        kv->packed[slot] = p;
    }
}

/* ================================================================================================
   4. TOKENIZERS (implementation)                                                      >>tokenizers
   ================================================================================================ */
static const char *const pt__byte_specials[PT_BYTE_VOCAB - 256] = {
    "<bos>", "<eos>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>",
    "<think>", "</think>", "<answer>", "</answer>", "<reserved0>", "<reserved1>", "<reserved2>",
    "<reserved3>", "<reserved4>"
};
static int pt__byte_encode(const pt_tokenizer *tok, const char *text, int add_bos, int add_eos, int *ids, int max_ids)
{
    int n = 0, j;
    const unsigned char *s = (const unsigned char *)text;
    (void)tok;
    if (!text) return pt__fail(PT_ERR_ARG, "byte tokenizer: text is NULL");
#define PT__PUSH(id)                                                                                                   \
    do {                                                                                                               \
        if (n >= max_ids)                                                                                              \
            return pt__fail(PT_ERR_ARG, "byte tokenizer: more than %d tokens", max_ids);                               \
        ids[n++] = (id);                                                                                               \
    } while (0)
    if (add_bos) PT__PUSH(PT_BYTE_BOS);
    while (*s) {
        int matched = -1;
        if (*s == '<')
            for (j = 0; j < PT_BYTE_VOCAB - 256; j++) {
                size_t len = strlen(pt__byte_specials[j]);
                if (strncmp((const char *)s, pt__byte_specials[j], len) == 0) {
                    matched = j;
                    s += len;
                    break;
                }
            }
        if (matched >= 0) PT__PUSH(256 + matched);
        else PT__PUSH(*s++);
    }
    if (add_eos) PT__PUSH(PT_BYTE_EOS);
#undef PT__PUSH
    return n;
}
static const char *pt__byte_piece(const pt_tokenizer *tok, int prev, int id, char buf[16])
{
    (void)tok;
    (void)prev;
    if (id >= 0 && id < 256) {
        buf[0] = (char)id;
        buf[1] = 0;
        return buf;
    }
    if (id >= 256 && id < PT_BYTE_VOCAB) return pt__byte_specials[id - 256];
    return "";
}
PTDEF pt_tokenizer pt_byte_tokenizer(void)
{
    pt_tokenizer t;
    memset(&t, 0, sizeof t);
    t.vocab_size = PT_BYTE_VOCAB;
    t.bos_id = PT_BYTE_BOS;
    t.eos_id = PT_BYTE_EOS;
    t.pad_id = PT_BYTE_PAD;
    t.encode = pt__byte_encode;
    t.piece = pt__byte_piece;
    return t;
}
PTDEF int pt_decode(const pt_tokenizer *tok, const int *ids, int n, char *out, int cap)
{
    int i, len = 0, prev = tok->bos_id;
    char buf[16];
    for (i = 0; i < n; i++) {
        const char *p = tok->piece(tok, prev, ids[i], buf);
        /* a byte token 0 renders as an empty C string; it cannot appear in NUL-terminated text */
        size_t pl = (ids[i] == 0 && p == buf) ? 0 : strlen(p);
        if (out && cap > 0 && len < cap - 1) {
            size_t room = (size_t)(cap - 1 - len);
            memcpy(out + len, p, pl < room ? pl : room);
        }
        len += (int)pl;
        prev = ids[i];
    }
    if (out && cap > 0) out[len < cap - 1 ? len : cap - 1] = 0;
    return len;
}

/* --- llama2.c BPE tokenizer ---------------------------------------------------------------- */
typedef struct pt__bpe {
    char **vocab;            /* NUL-terminated pieces */
    float *scores;
    int *sorted;             /* ids sorted by piece, for binary search */
    int max_len;
    char byte_pieces[512];   /* "\x00\0\x01\0..." : the text of byte tokens */
} pt__bpe;
static const pt__bpe *pt__bpe_sort_ctx;
static int pt__bpe_cmp(const void *a, const void *b)
{
    return strcmp(pt__bpe_sort_ctx->vocab[*(const int *)a], pt__bpe_sort_ctx->vocab[*(const int *)b]);
}
static int pt__bpe_lookup(const pt__bpe *b, int V, const char *str)
{
    int lo = 0, hi = V - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(str, b->vocab[b->sorted[mid]]);
        if (c == 0) return b->sorted[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}
static int pt__bpe_encode(const pt_tokenizer *tok, const char *text, int add_bos, int add_eos, int *ids, int max_ids)
{
    const pt__bpe *b = (const pt__bpe *)tok->impl;
    int V = tok->vocab_size, n = 0, str_len = 0;
    char *buf;
    const char *c;
    if (!text) return pt__fail(PT_ERR_ARG, "bpe tokenizer: text is NULL");
    buf = (char *)PT_MALLOC((size_t)b->max_len * 2 + 4);
    if (!buf) return pt__fail(PT_ERR_NOMEM, "bpe tokenizer: out of memory");
#define PT__PUSH(id)                                                                                                   \
    do {                                                                                                               \
        if (n >= max_ids) {                                                                                            \
            PT_FREE(buf);                                                                                              \
            return pt__fail(PT_ERR_ARG, "bpe tokenizer: more than %d tokens", max_ids);                                \
        }                                                                                                              \
        ids[n++] = (id);                                                                                               \
    } while (0)
    if (add_bos) PT__PUSH(tok->bos_id);
    if (text[0] != 0) {   /* sentencepiece's dummy prefix: a leading space */
        int sp = pt__bpe_lookup(b, V, " ");
        if (sp >= 0) PT__PUSH(sp);
    }
    for (c = text; *c; c++) {
        /* gather one UTF-8 code point (a lead byte and its continuation bytes, at most 4) */
        if (((unsigned char)*c & 0xC0) != 0x80) str_len = 0;
        buf[str_len++] = *c;
        buf[str_len] = 0;
        if ((((unsigned char)c[1]) & 0xC0) == 0x80 && str_len < 4) continue;
        {
            int id = pt__bpe_lookup(b, V, buf), i;
            if (id >= 0) PT__PUSH(id);
            else for (i = 0; i < str_len; i++) {   /* byte fallback */
                int bid = (unsigned char)buf[i] + 3;
                if (bid >= V) {
                    PT_FREE(buf);
                    return pt__fail(PT_ERR_ARG,
                                    "bpe tokenizer: byte 0x%02X is not in the vocabulary and it has no byte tokens",
                                    bid - 3);
                }
                PT__PUSH(bid);
            }
        }
        str_len = 0;
    }
    for (;;) {   /* merge the best-scoring adjacent pair until none merges */
        float best = -1e10f;
        int best_id = -1, best_at = -1, i;
        for (i = 0; i + 1 < n; i++) {
            const char *x = b->vocab[ids[i]], *y = b->vocab[ids[i + 1]];
            size_t lx = strlen(x), ly = strlen(y);
            int id;
            if (lx + ly > (size_t)b->max_len * 2 + 2) continue;
            memcpy(buf, x, lx);
            memcpy(buf + lx, y, ly);
            buf[lx + ly] = 0;
            id = pt__bpe_lookup(b, V, buf);
            if (id >= 0 && b->scores[id] > best) {
                best = b->scores[id];
                best_id = id;
                best_at = i;
            }
        }
        if (best_at < 0) break;
        ids[best_at] = best_id;
        memmove(ids + best_at + 1, ids + best_at + 2, (size_t)(n - best_at - 2) * sizeof(int));
        n--;
    }
    if (add_eos) PT__PUSH(tok->eos_id);
#undef PT__PUSH
    PT_FREE(buf);
    return n;
}
static const char *pt__bpe_piece(const pt_tokenizer *tok, int prev, int id, char buf[16])
{
    const pt__bpe *b = (const pt__bpe *)tok->impl;
    const char *p;
    unsigned v;
    (void)buf;
    if (id < 0 || id >= tok->vocab_size) return "";
    p = b->vocab[id];
    if (prev == tok->bos_id && p[0] == ' ') p++;   /* sentencepiece strips the dummy prefix after BOS */
    /* byte tokens "<0x0A>" render as the byte itself */
    if (strlen(p) == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>') {
        int k, ok = 1;
        v = 0;
        for (k = 3; k < 5; k++) {
            char ch = p[k];
            v <<= 4;
            if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
            else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
            else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
            else ok = 0;
        }
        if (ok) return b->byte_pieces + v * 2;
    }
    return p;
}
PTDEF void pt_tokenizer_free(pt_tokenizer *tok)
{
    pt__bpe *b;
    int i;
    if (!tok || tok->encode != pt__bpe_encode || !tok->impl) return;
    b = (pt__bpe *)tok->impl;
    if (b->vocab) for (i = 0; i < tok->vocab_size; i++) PT_FREE(b->vocab[i]);
    PT_FREE(b->vocab);
    PT_FREE(b->scores);
    PT_FREE(b->sorted);
    PT_FREE(b);
    tok->impl = NULL;
}
PTDEF int pt_bpe_load(pt_tokenizer *out, const char *path, int vocab_size)
{
    unsigned char *data = NULL;
    size_t n = 0;
    pt__rbuf r;
    pt__bpe *b;
    pt_tokenizer t;
    int i, st;
    uint32_t max_len;
    if (vocab_size < 3 || vocab_size > 1 << 22)
        return pt__fail(PT_ERR_ARG, "%s: vocab_size %d not in [3, 2^22]", path, vocab_size);
    if ((st = pt_read_file(path, &data, &n)) != PT_OK) return st;
    memset(&r, 0, sizeof r);
    r.p = data;
    r.n = n;
    memset(&t, 0, sizeof t);
    t.vocab_size = vocab_size;
    t.bos_id = 1;
    t.eos_id = 2;
    t.pad_id = 0;
    t.encode = pt__bpe_encode;
    t.piece = pt__bpe_piece;
    b = (pt__bpe *)PT_MALLOC(sizeof *b);
    if (!b) {
        PT_FREE(data);
        return pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
    }
    memset(b, 0, sizeof *b);
    t.impl = b;
    max_len = pt__get_u32(&r, "max_token_length");
    if (r.err || max_len < 1 || max_len > 65536) {
        st = pt__fail(PT_ERR_FORMAT, "%s: max_token_length %u %s", path, max_len,
                      r.err ? "(file too short)" : "not in [1, 65536]");
        goto fail;
    }
    b->max_len = (int)max_len;
    b->vocab = (char **)PT_MALLOC((size_t)vocab_size * sizeof(char *));
    if (b->vocab) memset(b->vocab, 0, (size_t)vocab_size * sizeof(char *));
    b->scores = (float *)PT_MALLOC((size_t)vocab_size * sizeof(float));
    b->sorted = (int *)PT_MALLOC((size_t)vocab_size * sizeof(int));
    if (!b->vocab || !b->scores || !b->sorted) {
        st = pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (i = 0; i < 256; i++) {
        b->byte_pieces[2 * i] = (char)i;
        b->byte_pieces[2 * i + 1] = 0;
    }
    for (i = 0; i < vocab_size; i++) {
        uint32_t len;
        b->scores[i] = pt__get_f32(&r, "score");
        len = pt__get_u32(&r, "length");
        if (r.err) {
            st = pt__fail(PT_ERR_FORMAT, "%s: truncated at token %d of %d (the model's vocab_size)", path, i,
                          vocab_size);
            goto fail;
        }
        if ((int32_t)len < 0 || len > max_len) {
            st = pt__fail(PT_ERR_FORMAT, "%s: token %d has length %d, outside [0, max_token_length %u]", path, i,
                          (int32_t)len, max_len);
            goto fail;
        }
        if (!isfinite(b->scores[i])) {
            st = pt__fail(PT_ERR_FORMAT, "%s: token %d has a non-finite score", path, i);
            goto fail;
        }
        b->vocab[i] = (char *)PT_MALLOC(len + 1);
        if (!b->vocab[i]) {
            st = pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        if (!pt__get(&r, b->vocab[i], len, "piece")) {
            st = pt__fail(PT_ERR_FORMAT, "%s: truncated inside token %d", path, i);
            goto fail;
        }
        b->vocab[i][len] = 0;
        if (strlen(b->vocab[i]) != len) {
            st = pt__fail(PT_ERR_FORMAT, "%s: token %d contains a NUL byte", path, i);
            goto fail;
        }
        b->sorted[i] = i;
    }
    pt__bpe_sort_ctx = b;
    qsort(b->sorted, (size_t)vocab_size, sizeof(int), pt__bpe_cmp);
    PT_FREE(data);
    *out = t;
    return PT_OK;
fail:
    PT_FREE(data);
    pt_tokenizer_free(&t);
    return st;
}
/* ================================================================================================
   5. SAMPLING AND GENERATION (implementation)                                           >>sampling
   ================================================================================================ */
typedef struct pt__prob_idx {
    float p;
    int i;
} pt__prob_idx;
static int pt__cmp_prob_desc(const void *a, const void *b)
{
    const pt__prob_idx *x = (const pt__prob_idx *)a, *y = (const pt__prob_idx *)b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->i - y->i;   /* ties: lower id first, so the order is total and deterministic */
}
/* sampling scratch: V probabilities + index pairs, kept between calls */
static pt__prob_idx *pt__sample_buf;
static int pt__sample_cap;
static int pt__sample_into(const float *logits, int V, const pt_sampler *s, pt_rng *rng, float *logprob,
                           pt__prob_idx *buf);
PTDEF int pt_sample(const float *logits, int V, const pt_sampler *s, pt_rng *rng, float *logprob)
{
    if (V >= 1 && pt__sample_cap < V) {
        pt__prob_idx *nb = (pt__prob_idx *)PT_REALLOC(pt__sample_buf, (size_t)V * sizeof(pt__prob_idx));
        if (!nb) return pt__fail(PT_ERR_NOMEM, "pt_sample: out of memory");
        pt__sample_buf = nb;
        pt__sample_cap = V;
    }
    return pt__sample_into(logits, V, s, rng, logprob, pt__sample_buf);
}
/* -2 if logits can be sampled; else the index of a NaN or +inf, or -1 when every logit is -inf
   (-inf alone is a masked token). */
static int pt__bad_logit(const float *logits, int V)
{
    int i, bad = 0, usable = 0;
    PT__SIMD_SUM(bad) for (i = 0; i < V; i++) bad += !(logits[i] < INFINITY);   /* NaN or +inf */
    PT__SIMD_SUM(usable) for (i = 0; i < V; i++) usable += logits[i] > -INFINITY;
    if (bad) for (i = 0; i < V; i++) if (!(logits[i] < INFINITY)) return i;
    return usable ? -2 : -1;
}
/* The sampler proper, on a caller's scratch of V entries (so rows can be sampled in parallel). */
static int pt__sample_into(const float *logits, int V, const pt_sampler *s, pt_rng *rng, float *logprob,
                           pt__prob_idx *pt__sample_buf)
{
    float temp = s ? s->temperature : 0.0f, mx = -INFINITY, sum = 0.0f, u, cum = 0.0f, kept = 0.0f;
    int i, n, best = 0, k = s ? s->top_k : 0;
    float top_p = s ? s->top_p : 0.0f;
    if (V < 1) return pt__fail(PT_ERR_ARG, "pt_sample: vocabulary size %d", V);
    if ((i = pt__bad_logit(logits, V)) >= -1) {
        if (i < 0) return pt__fail(PT_ERR_NONFINITE, "pt_sample: every logit is -inf");
        return pt__fail(PT_ERR_NONFINITE, "pt_sample: logit %d is %f", i, (double)logits[i]);
    }
    for (i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    if (temp > 0.0f && !(1.0f / temp < INFINITY)) temp = 0.0f;   /* so small that 1/temp overflows: greedy */
    if (!(temp > 0.0f)) {   /* greedy */
        if (logprob) {
            float m = logits[best], z = 0.0f;
            PT__SIMD_SUM(z) for (i = 0; i < V; i++) z += pt__exp(logits[i] - m);
            *logprob = -logf(z);
        }
        return best;
    }
    if (!((k > 0 && k < V) || (top_p > 0.0f && top_p < 1.0f)) && V <= 16 * 4096) {
        /* FAST path for plain temperature sampling, the common case: no sort and no index array.
           The exps are summed in blocks of 16 (vectorised); u falls in one block, which is scanned
           alone (a draw that rounding pushes past the block's last token with probability takes it). */
        float it = 1.0f / temp, lmax = logits[best], bsum[4096], e = 0.0f;
        int nb = (V + 15) / 16, b, j, len;
        for (b = 0; b < nb; b++) {
            const float *lb = logits + 16 * b;
            float z = 0.0f;
            len = V - 16 * b < 16 ? V - 16 * b : 16;
            PT__SIMD_SUM(z) for (j = 0; j < len; j++) z += pt__exp((lb[j] - lmax) * it);   /* <= 0: never overflows */
            bsum[b] = z;
            sum += z;
        }
        u = pt_rng_uniform(rng) * sum;
        for (b = 0; b < nb - 1 && u >= cum + bsum[b]; b++) cum += bsum[b];
        len = V - 16 * b < 16 ? V - 16 * b : 16;
        for (j = 0, i = 16 * b; j < len; j++) {
            float ej = pt__exp((logits[16 * b + j] - lmax) * it);
            if (ej > 0.0f) {
                i = 16 * b + j;
                e = ej;
            } /* rounding: the block's last possible token */
            cum += ej;
            if (ej > 0.0f && u < cum) break;
        }
        if (!(e > 0.0f)) {
            i = best;
            e = 1.0f;
        }
        if (logprob) *logprob = logf(e / sum);
        return i;
    }
    mx = logits[best];
    {
        float it = 1.0f / temp;
        for (i = 0; i < V; i++) {
            float e = pt__exp((logits[i] - mx) * it);
            pt__sample_buf[i].p = e;
            pt__sample_buf[i].i = i;
            sum += e;
        }
    }
    {
        float inv = 1.0f / sum;
        for (i = 0; i < V; i++) pt__sample_buf[i].p *= inv;
    }
    n = V;
    if ((k > 0 && k < V) || (top_p > 0.0f && top_p < 1.0f)) {
        qsort(pt__sample_buf, (size_t)V, sizeof(pt__prob_idx), pt__cmp_prob_desc);
        if (k > 0 && k < n) n = k;
        if (top_p > 0.0f && top_p < 1.0f) {   /* on the top-k renormalised mass, as Hugging Face does */
            float c = 0.0f, km = 0.0f;
            for (i = 0; i < n; i++) km += pt__sample_buf[i].p;
            for (i = 0; i < n; i++) {
                c += pt__sample_buf[i].p;
                if (c >= top_p * km) {
                    n = i + 1;
                    break;
                }
            }
        }
    }
    for (i = 0; i < n; i++) kept += pt__sample_buf[i].p;
    u = pt_rng_uniform(rng) * kept;
    for (i = 0; i < n - 1; i++) {
        cum += pt__sample_buf[i].p;
        if (u < cum) break;
    }
    if (logprob) *logprob = logf(pt__sample_buf[i].p / kept);
    return pt__sample_buf[i].i;
}

PTDEF void pt_gen_result_free(pt_gen_result *r)
{
    if (!r) return;
    PT_FREE(r->tokens);
    PT_FREE(r->logprobs);
    PT_FREE(r->mask);
    PT_FREE(r->prompt_len);
    PT_FREE(r->total_len);
    memset(r, 0, sizeof *r);
}
/* The one place generation's defaults are resolved (a copy): 64 new tokens, seed 0, greedy. */
static pt_gen_config pt__gen_resolve(const pt_gen_config *in)
{
    pt_gen_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    if (c.max_new_tokens <= 0) c.max_new_tokens = 64;
    return c;
}
static int pt__is_stop(const pt_gen_config *cfg, int tok)
{
    int i;
    for (i = 0; cfg && i < cfg->n_stop_tokens && i < PT_MAX_STOP_TOKENS; i++)
        if (tok == cfg->stop_tokens[i]) return 1;
    return 0;
}
PTDEF void pt_rollout_batch_free(pt_rollout_batch *b)
{
    if (!b) return;
    PT_FREE(b->tokens);
    PT_FREE(b->targets);
    PT_FREE(b->seq);
    PT_FREE(b->mask);
    PT_FREE(b->old_logprobs);
    memset(b, 0, sizeof *b);
}
PTDEF pt_batch pt_rollout_view(const pt_rollout_batch *b)
{
    pt_batch v;
    memset(&v, 0, sizeof v);
    v.B = b->B;
    v.T = b->T;
    v.tokens = b->tokens;
    v.targets = b->targets;
    v.loss_mask = b->mask;
    return v;
}
PTDEF int pt_rollout_batch_from(const pt_gen_result *r, int pad_id, pt_rollout_batch *out)
{
    pt_rollout_batch b;
    int i, t, T = 1;
    size_t n;
    if (!r || !out || r->n_seqs < 1 || !r->tokens) return pt__fail(PT_ERR_ARG, "pt_rollout_batch_from: no generations");
    for (i = 0; i < r->n_seqs; i++) if (r->total_len[i] - 1 > T) T = r->total_len[i] - 1;
    memset(&b, 0, sizeof b);
    b.B = r->n_seqs;
    b.T = T;
    n = (size_t)b.B * (size_t)T;
    b.tokens = (int *)PT_MALLOC(n * sizeof(int));
    b.targets = (int *)PT_MALLOC(n * sizeof(int));
    b.seq = (int *)PT_MALLOC(n * sizeof(int));
    b.mask = (float *)PT_MALLOC(n * sizeof(float));
    b.old_logprobs = (float *)PT_MALLOC(n * sizeof(float));
    if (!b.tokens || !b.targets || !b.seq || !b.mask || !b.old_logprobs) {
        pt_rollout_batch_free(&b);
        return pt__fail(PT_ERR_NOMEM, "pt_rollout_batch_from: out of memory");
    }
    for (i = 0; i < b.B; i++) {
        const int *seq = r->tokens + (int64_t)i * r->width;
        for (t = 0; t < T; t++) {
            size_t at = (size_t)i * T + t;
            int valid = t + 1 < r->total_len[i];   /* position t predicts token t + 1 */
            b.tokens[at] = t < r->total_len[i] ? seq[t] : pad_id;
            b.targets[at] = valid ? seq[t + 1] : pad_id;
            b.seq[at] = t < r->total_len[i] ? i : -1;
            b.mask[at] = valid ? r->mask[(int64_t)i * r->width + t + 1] : 0.0f;
            b.old_logprobs[at] = valid ? r->logprobs[(int64_t)i * r->width + t + 1] : 0.0f;
        }
    }
    *out = b;
    return PT_OK;
}
PTDEF int pt_generate(pt_model *m, const int *const *prompts, const int *prompt_lens, int n_prompts, int repeat,
                      const pt_gen_config *cfg_in, pt_gen_result *out)
{
    pt_gen_config resolved = pt__gen_resolve(cfg_in);
    const pt_gen_config *cfg = &resolved;
    int N, i, j, maxp = 0, max_new = cfg->max_new_tokens, V = m->cfg.vocab_size;
    int st = PT_OK, n_live, step;
    pt_kv_cache *kv = NULL;
    pt_rng *rngs = NULL;
    int *rows_seq = NULL, *rows_tok = NULL, *live = NULL, *picked = NULL;
    float *logits = NULL, *picked_lp = NULL;
    pt__prob_idx *sbuf = NULL;
    pt_gen_result r;
    memset(&r, 0, sizeof r);
    if (!out) return pt__fail(PT_ERR_ARG, "pt_generate: out is NULL");
    memset(out, 0, sizeof *out);
    if (n_prompts < 1 || repeat < 1)
        return pt__fail(PT_ERR_ARG, "pt_generate: n_prompts %d and repeat %d must be >= 1", n_prompts, repeat);
    for (i = 0; i < n_prompts; i++) {
        if (prompt_lens[i] < 1) return pt__fail(PT_ERR_ARG, "pt_generate: prompt %d is empty (start it with BOS)", i);
        for (j = 0; j < prompt_lens[i]; j++)
            if (prompts[i][j] < 0 || prompts[i][j] >= pt_model_input_vocab(m))
                return pt__fail(PT_ERR_ARG, "pt_generate: prompt %d token %d is %d, outside [0, %d)", i, j,
                                prompts[i][j], pt_model_input_vocab(m));
        if (prompt_lens[i] > maxp) maxp = prompt_lens[i];
    }
    if (maxp + max_new > m->cfg.seq_len)
        return pt__fail(PT_ERR_ARG, "pt_generate: prompt %d + %d new tokens exceed seq_len %d", maxp, max_new,
                        m->cfg.seq_len);
    if (cfg->n_stop_tokens < 0 || cfg->n_stop_tokens > PT_MAX_STOP_TOKENS)
        return pt__fail(PT_ERR_ARG, "pt_generate: n_stop_tokens %d outside [0, %d]", cfg->n_stop_tokens,
                        PT_MAX_STOP_TOKENS);
    N = n_prompts * repeat;
    r.n_seqs = N;
    r.width = maxp + max_new;
    r.tokens = (int *)PT_MALLOC((size_t)N * r.width * sizeof(int));
    r.logprobs = (float *)PT_MALLOC((size_t)N * r.width * sizeof(float));
    r.mask = (float *)PT_MALLOC((size_t)N * r.width * sizeof(float));
    r.prompt_len = (int *)PT_MALLOC((size_t)N * sizeof(int));
    r.total_len = (int *)PT_MALLOC((size_t)N * sizeof(int));
    rngs = (pt_rng *)PT_MALLOC((size_t)N * sizeof(pt_rng));
    rows_seq = (int *)PT_MALLOC((size_t)N * (maxp > 1 ? maxp : 1) * sizeof(int));
    rows_tok = (int *)PT_MALLOC((size_t)N * (maxp > 1 ? maxp : 1) * sizeof(int));
    live = (int *)PT_MALLOC((size_t)N * sizeof(int));
    logits = (float *)PT_MALLOC((size_t)N * V * sizeof(float));
    sbuf = (pt__prob_idx *)PT_MALLOC((size_t)N * V * sizeof(pt__prob_idx));
    picked = (int *)PT_MALLOC((size_t)N * sizeof(int));
    picked_lp = (float *)PT_MALLOC((size_t)N * sizeof(float));
    kv = pt_kv_new(m, N, r.width);
    if (kv && N > 4) pt__kv_prepack(kv, m);   /* decoding more than 4 rows goes through the kernel */
    if (!r.tokens || !r.logprobs || !r.mask || !r.prompt_len || !r.total_len || !rngs || !rows_seq || !rows_tok ||
        !live || !logits || !sbuf || !picked || !picked_lp || !kv) {
        st = pt_last_status() == PT_ERR_NOMEM ? PT_ERR_NOMEM : pt__fail(PT_ERR_NOMEM, "pt_generate: out of memory");
        goto done;
    }
    memset(r.tokens, 0, (size_t)N * r.width * sizeof(int));
    memset(r.logprobs, 0, (size_t)N * r.width * sizeof(float));
    memset(r.mask, 0, (size_t)N * r.width * sizeof(float));
    for (i = 0; i < N; i++) {
        const int *p = prompts[i / repeat];
        r.prompt_len[i] = r.total_len[i] = prompt_lens[i / repeat];
        memcpy(r.tokens + (int64_t)i * r.width, p, (size_t)r.prompt_len[i] * sizeof(int));
        pt_rng_seed(&rngs[i], cfg->seed * 0x9E3779B97F4A7C15ull + (uint64_t)i + 1);
    }
    /* prefill all but the last prompt token of the first sequence of each group, a few sequences
       per call; the other repeat - 1 sequences of a group (GRPO's G samples) copy its KV cache */
    {
        int nrows = 0;
        for (i = 0; i < N; i += repeat) {
            for (j = 0; j < r.prompt_len[i] - 1; j++) {
                rows_seq[nrows] = i;
                rows_tok[nrows] = r.tokens[(int64_t)i * r.width + j];
                nrows++;
            }
        }
        for (i = 0; i < nrows; i += 256) {
            int cnt = nrows - i < 256 ? nrows - i : 256;
            if ((st = pt_model_step(m, kv, cnt, rows_seq + i, rows_tok + i, NULL)) != PT_OK) goto done;
        }
        for (i = 0; i < N; i++)
            if (i % repeat) pt_kv_copy(kv, i - i % repeat, i);
    }
    /* decode: every live sequence feeds its last token and samples the next */
    for (i = 0; i < N; i++) live[i] = 1;
    n_live = N;
    for (step = 0; step < max_new && n_live > 0; step++) {
        int nr = 0;
        for (i = 0; i < N; i++)
            if (live[i]) {
                rows_seq[nr] = i;
                rows_tok[nr] = r.tokens[(int64_t)i * r.width + r.total_len[i] - 1];
                nr++;
            }
        if ((st = pt_model_step(m, kv, nr, rows_seq, rows_tok, logits)) != PT_OK) goto done;
        for (j = 0; j < nr; j++) {   /* checked here, so the parallel sampler below cannot fail */
            int bad = pt__bad_logit(logits + (int64_t)j * V, V);
            if (bad >= -1) {
                st = pt__fail(PT_ERR_NONFINITE, "pt_generate: sequence %d, new token %d: %s%d", rows_seq[j], step,
                              bad < 0 ? "every logit is -inf" : "non-finite logit at id ", bad < 0 ? 0 : bad);
                goto done;
            }
        }
        /* each row samples from its own RNG stream into its own scratch: parallel, same bits */
        PT__PARALLEL_ROWS((int64_t)nr * V > 65536)
        for (j = 0; j < nr; j++)
            picked[j] = pt__sample_into(logits + (int64_t)j * V, V, &cfg->sampler, &rngs[rows_seq[j]],
                                        &picked_lp[j], sbuf + (int64_t)j * V);
        for (j = 0; j < nr; j++) {
            float lp = picked_lp[j];
            int s = rows_seq[j], tok = picked[j];
            int64_t at = (int64_t)s * r.width + r.total_len[s];
            if (tok < 0) {
                st = tok;
                goto done;
            }
            r.tokens[at] = tok;
            r.logprobs[at] = lp;
            r.mask[at] = 1.0f;
            r.total_len[s]++;
            if (pt__is_stop(cfg, tok) || r.total_len[s] >= r.width) {
                live[s] = 0;
                n_live--;
            }
        }
    }
    *out = r;
    memset(&r, 0, sizeof r);
done:
    pt_gen_result_free(&r);
    PT_FREE(rngs);
    PT_FREE(rows_seq);
    PT_FREE(rows_tok);
    PT_FREE(live);
    PT_FREE(logits);
    PT_FREE(sbuf);
    PT_FREE(picked);
    PT_FREE(picked_lp);
    pt_kv_free(kv);
    return st;
}

/* ================================================================================================
   6. OPTIMIZER (implementation)                                                        >>optimizer
   ================================================================================================ */
PTDEF double pt_grad_norm(const pt_params *P)
{
    double s = 0;
    int64_t i;
    for (i = 0; i < P->n_grad; i++) s += (double)P->grad[i] * (double)P->grad[i];
    return sqrt(s);
}
static int pt__clip_grad_norm(pt_params *P, float max_norm, double *norm_out)
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
/* The one place AdamW's defaults are resolved. */
static pt_adamw_config pt__adamw_resolve(const pt_adamw_config *in)
{
    pt_adamw_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    c.beta1 = c.beta1 == (float)PT_ZERO ? 0.0f : c.beta1 > 0 ? c.beta1 : 0.9f;
    c.beta2 = c.beta2 > 0 ? c.beta2 : 0.95f;
    c.eps = c.eps > 0 ? c.eps : 1e-8f;
    c.weight_decay = c.weight_decay > 0 ? c.weight_decay : 0.0f;
    return c;
}
static void pt__adamw_chunk(int64_t n, float *PT__RESTRICT w, const float *PT__RESTRICT g, float *PT__RESTRICT m,
                            float *PT__RESTRICT v, float lr, float b1, float b2, float bc1, float bc2, float eps,
                            float decay)
{
    int64_t i;
    PT__SIMD_LIBM for (i = 0; i < n; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + decay * w[i]);
    }
}
static int pt__adamw_step(pt_params *P, const pt_adamw_config *cfg_in, float lr)
{
    pt_adamw_config cfg = pt__adamw_resolve(cfg_in);
    float b1 = cfg.beta1, b2 = cfg.beta2, eps = cfg.eps, wd = cfg.weight_decay;
    float bc1, bc2, probe = 0.0f;
    int k;
    int64_t i;
    /* one vectorised pass: g * 0 is NaN exactly when g is inf or NaN; only then look for it */
    PT__SIMD_SUM(probe) for (i = 0; i < P->n_grad; i++) probe += P->grad[i] * 0.0f;
    for (i = 0; probe != 0.0f && i < P->n_grad; i++)
        if (!isfinite(P->grad[i])) {
            for (k = 0; k < P->count; k++) {
                pt_param *p = P->items[k];
                if (p->grad_offset >= 0 && i >= p->grad_offset && i < p->grad_offset + p->t.size)
                    return pt__fail(PT_ERR_NONFINITE,
                                    "pt_adamw_step: gradient of '%s' element %lld is %f; step skipped", p->name,
                                    (long long)(i - p->grad_offset), (double)P->grad[i]);
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
        g = P->grad + p->grad_offset;
        m = P->adam_m + p->grad_offset;
        v = P->adam_v + p->grad_offset;
        decay = (p->flags & PT_PARAM_NO_DECAY) ? 0.0f : wd;
        {   /* chunks of 4096 in parallel, each a vector loop */
            int64_t c, n_chunks = (n + 4095) / 4096;
            PT__PARALLEL_ROWS(n > PT__PAR_MIN)
            for (c = 0; c < n_chunks; c++) {
                int64_t i0 = c * 4096, len = n - i0 < 4096 ? n - i0 : 4096;
                pt__adamw_chunk(len, w + i0, g + i0, m + i0, v + i0, lr, b1, b2, bc1, bc2, eps, decay);
            }
        }
    }
    return PT_OK;
}
PTDEF int pt_clip_grad_norm(pt_params *P, float max_norm, double *norm_out)
{
    int st;
    if (pt__prof_on) pt__prof_begin();
    st = pt__clip_grad_norm(P, max_norm, norm_out);
    if (pt__prof_on) pt__prof_end("clip_grad");
    return st;
}
PTDEF int pt_adamw_step(pt_params *P, const pt_adamw_config *cfg, float lr)
{
    int st;
    if (pt__prof_on) pt__prof_begin();
    st = pt__adamw_step(P, cfg, lr);
    if (pt__prof_on) pt__prof_end("adamw");
    return st;
}
PTDEF float pt_lr_schedule(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min)
{
    double prog;
    if (warmup > 0 && step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    if (total <= warmup || step >= total) return lr_min;
    prog = (double)(step - warmup) / (double)(total - warmup);
    return lr_min + (lr_max - lr_min) * (float)(0.5 * (1.0 + cos(3.141592653589793 * prog)));
}

/* The model's parameter sets: base, LoRA adapters, token adapter, head (absent ones are NULL). */
#define PT__N_SETS 4
static void pt__model_param_sets(pt_model *m, pt_params *sets[PT__N_SETS])
{
    sets[0] = m->params;
    sets[1] = m->lora ? m->lora->params : NULL;
    sets[2] = m->tokens ? m->tokens->params : NULL;
    sets[3] = m->head ? m->head->params : NULL;
}
PTDEF void pt_model_zero_grad(pt_model *m)
{
    pt_params *sets[PT__N_SETS];
    int k;
    pt__model_param_sets(m, sets);
    for (k = 0; k < PT__N_SETS; k++) if (sets[k]) pt_params_zero_grad(sets[k]);
}
PTDEF int pt_model_optimizer_step(pt_model *m, const pt_adamw_config *cfg, float lr, float max_norm, double *norm_out)
{
    pt_params *sets[PT__N_SETS];
    double sq = 0, norm;
    int st, k;
    pt__model_param_sets(m, sets);
    if (pt__prof_on) pt__prof_begin();
    for (k = 0; k < PT__N_SETS; k++)
        if (sets[k]) {
            double g = pt_grad_norm(sets[k]);
            sq += g * g;
        }
    if (pt__prof_on) pt__prof_end("clip_grad");
    norm = sqrt(sq);
    if (norm_out) *norm_out = norm;
    if (!isfinite(norm)) return pt__fail(PT_ERR_NONFINITE, "optimizer step: gradient norm is %f; step skipped", norm);
    if (max_norm > 0 && norm > max_norm) {   /* one global norm over base and adapters */
        float s = (float)(max_norm / norm);
        int64_t i;
        for (k = 0; k < PT__N_SETS; k++) if (sets[k]) for (i = 0; i < sets[k]->n_grad; i++) sets[k]->grad[i] *= s;
    }
    for (k = 0; k < PT__N_SETS; k++) if (sets[k] && (st = pt_adamw_step(sets[k], cfg, lr)) != PT_OK) return st;
    return PT_OK;
}
/* ================================================================================================
   7. CHECKPOINTS (implementation)                                                    >>checkpoints
   ================================================================================================ */

#define PT__CKPT_VERSION 1
/* The tensors a native checkpoint stores, in order: the model's, then its head's (if any), each
   with the parameter set that owns its gradient and AdamW moments. */
static int pt__ckpt_tensors(const pt_model *m, pt_param ***list, pt_params ***owner)
{
    int n = m->params->count + (m->head ? m->head->params->count : 0), i, k = 0;
    *list = (pt_param **)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof(pt_param *));
    *owner = (pt_params **)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof(pt_params *));
    if (!*list || !*owner) {
        PT_FREE(*list);
        PT_FREE(*owner);
        return pt__fail(PT_ERR_NOMEM, "checkpoint: out of memory");
    }
    for (i = 0; i < m->params->count; i++, k++) {
        (*list)[k] = m->params->items[i];
        (*owner)[k] = m->params;
    }
    for (i = 0; m->head && i < m->head->params->count; i++, k++) {
        (*list)[k] = m->head->params->items[i];
        (*owner)[k] = m->head->params;
    }
    return n;
}
PTDEF int pt_model_save(const pt_model *m, const char *path, int with_optimizer)
{
    pt__wbuf w;
    const pt_params *P = m->params;
    pt_param **list;
    pt_params **owner;
    int i, d, count = pt__ckpt_tensors(m, &list, &owner);
    if (count < 0) return count;
    pt__wbuf_begin(&w, "PTCK", PT__CKPT_VERSION);
    pt__put_u32(&w, 0);   /* header_bytes, patched below */
    pt__put_u32(&w, (uint32_t)m->cfg.dim);
    pt__put_u32(&w, (uint32_t)m->cfg.n_layers);
    pt__put_u32(&w, (uint32_t)m->cfg.n_heads);
    pt__put_u32(&w, (uint32_t)m->cfg.n_kv_heads);
    pt__put_u32(&w, (uint32_t)m->cfg.hidden_dim);
    pt__put_u32(&w, (uint32_t)m->cfg.vocab_size);
    pt__put_u32(&w, (uint32_t)m->cfg.seq_len);
    pt__put_u32(&w, (uint32_t)m->cfg.untied);
    pt__put_f32(&w, m->cfg.norm_eps);
    pt__put_f32(&w, m->cfg.rope_theta);
    pt__put_u32(&w, (uint32_t)count);
    pt__put_u32(&w, with_optimizer ? 1u : 0u);
    pt__put_u64(&w, (uint64_t)P->step);
    for (i = 0; i < count; i++) {
        const pt_param *p = list[i];
        unsigned char nl[2], nd = (unsigned char)p->t.ndim, tr = p->grad_offset >= 0;
        size_t len = strlen(p->name);
        nl[0] = (unsigned char)len;
        nl[1] = (unsigned char)(len >> 8);
        pt__put(&w, nl, 2);
        pt__put(&w, p->name, len);
        pt__put(&w, &nd, 1);
        for (d = 0; d < p->t.ndim; d++) pt__put_u32(&w, (uint32_t)p->t.shape[d]);
        pt__put(&w, &tr, 1);
    }
    if (m->head) pt__put_u64(&w, (uint64_t)m->head->params->step);   /* a head attached later has its own */
    if (!w.err) {
        uint32_t hb = (uint32_t)w.n;
        int k;
        for (k = 0; k < 4; k++)
            w.p[8 + k] = (unsigned char)(hb >> (8 * k));
    }
    for (i = 0; i < count; i++) pt__put_floats(&w, list[i]->t.data, list[i]->t.size);
    if (with_optimizer) {
        for (i = 0; i < count; i++)
            if (list[i]->grad_offset >= 0)
                pt__put_floats(&w, owner[i]->adam_m + list[i]->grad_offset, list[i]->t.size);
        for (i = 0; i < count; i++)
            if (list[i]->grad_offset >= 0)
                pt__put_floats(&w, owner[i]->adam_v + list[i]->grad_offset, list[i]->t.size);
    }
    PT_FREE(list);
    PT_FREE(owner);
    return pt__wbuf_finish(&w, path);
}

/* Parse and validate a checkpoint completely into a fresh model (weights + optimizer state). */
static pt_model *pt__load_checkpoint(const char *path)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    pt__rbuf r;
    pt_config c;
    pt_model *m = NULL;
    uint32_t header_bytes, n_tensors, has_opt;
    int64_t step;
    int i, d, count = 0;
    int64_t head_step = 0;
    pt_param **list = NULL;
    pt_params **owner = NULL;
    if (pt__rbuf_open(&r, &buf, path, "PTCK", 4 + 4 + 4 + 8, PT__CKPT_VERSION, "checkpoint") != PT_OK) return NULL;
    n = r.n + 8;
    header_bytes = pt__get_u32(&r, "header_bytes");
    memset(&c, 0, sizeof c);
    c.dim = (int)pt__get_u32(&r, "config.dim");
    c.n_layers = (int)pt__get_u32(&r, "config.n_layers");
    c.n_heads = (int)pt__get_u32(&r, "config.n_heads");
    c.n_kv_heads = (int)pt__get_u32(&r, "config.n_kv_heads");
    c.hidden_dim = (int)pt__get_u32(&r, "config.hidden_dim");
    c.vocab_size = (int)pt__get_u32(&r, "config.vocab_size");
    c.seq_len = (int)pt__get_u32(&r, "config.seq_len");
    c.untied = (int)pt__get_u32(&r, "config.untied");
    c.norm_eps = pt__get_f32(&r, "config.norm_eps");
    c.rope_theta = pt__get_f32(&r, "config.rope_theta");
    n_tensors = pt__get_u32(&r, "n_tensors");
    has_opt = pt__get_u32(&r, "has_optimizer");
    step = (int64_t)pt__get_u64(&r, "step");
    if (r.err) {
        pt__fail(PT_ERR_FORMAT, "%s: truncated in %s", path, r.what);
        goto fail;
    }
    if (c.n_kv_heads == 0) {
        pt__fail(PT_ERR_FORMAT, "%s: config.n_kv_heads is 0", path);
        goto fail;
    }
    if (pt_config_validate(&c) != PT_OK) {
        char msg[sizeof pt__errbuf];
        memcpy(msg, pt__errbuf, sizeof msg);
        msg[sizeof msg - 1] = 0;
        pt__fail(PT_ERR_FORMAT, "%s: bad %s", path, msg);
        goto fail;
    }
    if (has_opt > 1 || step < 0) {
        pt__fail(PT_ERR_FORMAT, "%s: has_optimizer %u / step %lld invalid", path, has_opt, (long long)step);
        goto fail;
    }
    /* the weights alone must fit: a cheap check before allocating a model */
    {
        double params = (double)c.vocab_size * c.dim * (1 + c.untied) +
            (double)c.n_layers *
                (2.0 * c.dim * c.dim + 2.0 * c.dim * (c.dim / c.n_heads * c.n_kv_heads) + 3.0 * c.dim * c.hidden_dim +
                 2 * c.dim) +
            c.dim;
        if (params * 4 > (double)n) {
            pt__fail(PT_ERR_FORMAT, "%s: config needs %.0f parameters, file has only %zu bytes", path, params, n);
            goto fail;
        }
    }
    m = pt__model_declare(&c);
    if (!m) goto fail;
    /* the model's tensors, then optionally a scalar head's two (head.w, head.b): checked by name below */
    if ((int)n_tensors == m->params->count + 2 && pt_model_head_attach(m, 0) != PT_OK) goto fail;
    if ((count = pt__ckpt_tensors(m, &list, &owner)) < 0) goto fail;
    if ((int)n_tensors != count) {
        pt__fail(PT_ERR_FORMAT, "%s: %u tensors, the config implies %d (or %d with a head)", path, n_tensors,
                 m->params->count, m->params->count + 2);
        goto fail;
    }
    for (i = 0; i < count; i++) {
        pt_param *p = list[i];
        unsigned char nl[2], nd = 0, tr = 0;
        char name[64];
        size_t len;
        pt__get(&r, nl, 2, "tensor table");
        len = (size_t)nl[0] | (size_t)nl[1] << 8;
        if (r.err || len >= sizeof name) {
            pt__fail(PT_ERR_FORMAT, "%s: tensor %d: bad name length", path, i);
            goto fail;
        }
        pt__get(&r, name, len, "tensor table");
        name[len] = 0;
        pt__get(&r, &nd, 1, "tensor table");
        if (r.err || strcmp(name, p->name) != 0) {
            pt__fail(PT_ERR_FORMAT, "%s: tensor %d is '%s', expected '%s'", path, i, r.err ? "?" : name, p->name);
            goto fail;
        }
        if (nd != p->t.ndim) {
            pt__fail(PT_ERR_FORMAT, "%s: tensor '%s' has %d dims, expected %d", path, name, nd, p->t.ndim);
            goto fail;
        }
        for (d = 0; d < nd; d++) {
            uint32_t s = pt__get_u32(&r, "tensor shape");
            if (r.err || (int64_t)s != p->t.shape[d]) {
                pt__fail(PT_ERR_FORMAT, "%s: tensor '%s' dim %d is %u, expected %d", path, name, d, s, p->t.shape[d]);
                goto fail;
            }
        }
        pt__get(&r, &tr, 1, "tensor table");
        if (r.err || tr > 1) {
            pt__fail(PT_ERR_FORMAT, "%s: tensor '%s': bad trainable flag", path, name);
            goto fail;
        }
        if (!tr)
            p->flags |= PT_PARAM_FROZEN;
        else
            p->flags &= ~PT_PARAM_FROZEN;
    }
    if (m->head) {
        head_step = (int64_t)pt__get_u64(&r, "head step");
        if (r.err || head_step < 0) {
            pt__fail(PT_ERR_FORMAT, "%s: bad or missing head step", path);
            goto fail;
        }
    }
    if (r.at != header_bytes) {
        pt__fail(PT_ERR_FORMAT, "%s: header is %zu bytes, the file says %u", path, r.at, header_bytes);
        goto fail;
    }
    /* rebuild the gradient layouts for the flags (the pointers in list stay valid) */
    if (pt_params_set_trainable(m->params, "", 0) < 0 ||
        (m->head && pt_params_set_trainable(m->head->params, "", 0) < 0))
        goto fail;
    {
        int64_t need = 0, have = (int64_t)(r.n - r.at);
        for (i = 0; i < count; i++) need += list[i]->t.size;
        if (has_opt) for (i = 0; i < count; i++) if (list[i]->grad_offset >= 0) need += 2 * list[i]->t.size;
        if (need * 4 != have) {
            pt__fail(PT_ERR_FORMAT, "%s: data section is %lld bytes, the header implies %lld", path, (long long)have,
                     (long long)need * 4);
            goto fail;
        }
    }
    for (i = 0; i < count; i++) {
        pt_param *p = list[i];
        int64_t j;
        for (j = 0; j < p->t.size; j++) p->t.data[j] = pt__get_f32(&r, "data");
    }
    if (has_opt) {
        int pass;
        for (pass = 0; pass < 2; pass++)
            for (i = 0; i < count; i++) {
                pt_param *p = list[i];
                float *dst = (pass == 0 ? owner[i]->adam_m : owner[i]->adam_v);
                int64_t j;
                if (p->grad_offset < 0) continue;
                for (j = 0; j < p->t.size; j++) dst[p->grad_offset + j] = pt__get_f32(&r, "optimizer state");
            }
        m->params->step = step;
        if (m->head) m->head->params->step = head_step;
    }
    if (r.err) {
        pt__fail(PT_ERR_FORMAT, "%s: truncated in %s", path, r.what);
        goto fail;
    }
    PT_FREE(buf);
    PT_FREE(list);
    PT_FREE(owner);
    return m;
fail:
    PT_FREE(buf);
    PT_FREE(list);
    PT_FREE(owner);
    pt_model_free(m);
    return NULL;
}
PTDEF pt_model *pt_model_load(const char *path) { return pt__load_checkpoint(path); }
PTDEF int pt_model_head_save(const pt_model *m, const char *path)
{
    pt__wbuf w;
    if (!m || !m->head) return pt__fail(PT_ERR_ARG, "%s: the model has no head to save", path ? path : "(null)");
    pt__wbuf_begin(&w, "PTHD", 1);
    pt__put_u32(&w, (uint32_t)m->cfg.dim);
    pt__put_floats(&w, m->head->w->data, m->head->w->size);
    pt__put_f32(&w, m->head->b->data[0]);
    return pt__wbuf_finish(&w, path);
}
PTDEF int pt_model_head_load(pt_model *m, const char *path)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    pt__rbuf r;
    pt_head *saved;
    uint32_t dim;
    int st;
    int64_t i;
    if (!m) return pt__fail(PT_ERR_ARG, "pt_model_head_load: model is NULL");
    if ((st = pt__rbuf_open(&r, &buf, path, "PTHD", 20, 1, "head file")) != PT_OK) return st;
    n = r.n + 8;
    dim = pt__get_u32(&r, "dim");
    if ((int64_t)dim != m->cfg.dim) {
        st = pt__fail(PT_ERR_FORMAT, "%s: head dim %u, the model's dim is %d", path, dim, m->cfg.dim);
        goto done;
    }
    if (n != 4 + 4 + 4 + 4 * ((size_t)dim + 1) + 8) {
        st = pt__fail(PT_ERR_FORMAT, "%s: %zu bytes, a head of dim %u needs %zu", path, n, dim,
                      4 + 4 + 4 + 4 * ((size_t)dim + 1) + 8);
        goto done;
    }
    saved = m->head;
    m->head = NULL;   /* build the new head aside; the old one comes back on failure */
    if ((st = pt_model_head_attach(m, 0)) != PT_OK) {
        m->head = saved;
        goto done;
    }
    for (i = 0; i < m->head->w->size; i++) m->head->w->data[i] = pt__get_f32(&r, "w");
    m->head->b->data[0] = pt__get_f32(&r, "b");
    if (saved) {
        pt_params_free(saved->params);
        PT_FREE(saved);
    }
done:
    PT_FREE(buf);
    return st;
}

/* --- llama2.c checkpoints -------------------------------------------------------------------- */
/* The tensors of one llama2.c file in its storage order. v0 (legacy): embeddings, then per kind
   stacked over layers: attn_norm, wq, wk, wv, wo, ffn_norm, w1, w2, w3; final norm; two RoPE tables;
   classifier if unshared. v1: the norms first (attn, ffn, final), then embeddings and matrices. */
static int pt__l2c_order(const pt_model *m, int version, pt_tensor **list)
{
    int L = m->cfg.n_layers, n = 0, l, k;
    if (version == 0) {
        list[n++] = m->tok_embeddings;
        for (k = 0; k < 9; k++)
            for (l = 0; l < L; l++) {
                pt_layer *y = &m->layers[l];
                pt_tensor *t[9];
                t[0] = y->attn_norm;
                t[1] = y->wq;
                t[2] = y->wk;
                t[3] = y->wv;
                t[4] = y->wo;
                t[5] = y->ffn_norm;
                t[6] = y->w1;
                t[7] = y->w2;
                t[8] = y->w3;
                list[n++] = t[k];
            }
        list[n++] = m->norm;
    } else {
        for (l = 0; l < L; l++) list[n++] = m->layers[l].attn_norm;
        for (l = 0; l < L; l++) list[n++] = m->layers[l].ffn_norm;
        list[n++] = m->norm;
        list[n++] = m->tok_embeddings;
        for (k = 0; k < 7; k++)
            for (l = 0; l < L; l++) {
                pt_layer *y = &m->layers[l];
                pt_tensor *t[7];
                t[0] = y->wq;
                t[1] = y->wk;
                t[2] = y->wv;
                t[3] = y->wo;
                t[4] = y->w1;
                t[5] = y->w2;
                t[6] = y->w3;
                list[n++] = t[k];
            }
    }
    return n;   /* the classifier, when unshared, follows (after the RoPE tables in v0) */
}
static int64_t pt__model_weight_floats(const pt_config *c)
{
    int64_t D = c->dim, KVD = (int64_t)c->dim / c->n_heads * c->n_kv_heads, L = c->n_layers, Hd = c->hidden_dim;
    return (int64_t)c->vocab_size * D * (1 + c->untied) + L * (2 * D + 2 * D * D + 2 * D * KVD + 3 * D * Hd) + D;
}
PTDEF pt_model *pt_model_load_llama2c(const char *path)
{
    unsigned char *data = NULL;
    size_t n = 0;
    pt__rbuf r;
    pt_config c;
    pt_model *m = NULL;
    int32_t h[7];
    int version = 0, i, shared, nt;
    int64_t rope_n, expect;
    size_t header;
    pt_tensor **list = NULL;
    if (pt_read_file(path, &data, &n) != PT_OK) return NULL;
    memset(&r, 0, sizeof r);
    r.p = data;
    r.n = n;
    if (n >= 8 && memcmp(data, "24ka", 4) == 0) {   /* uint32 0x616b3432 "ak42", little-endian */
        r.at = 4;
        version = (int)pt__get_u32(&r, "version");
        if (version != 1) {
            pt__fail(PT_ERR_FORMAT, "%s: llama2.c format version %d is not supported (only fp32 v0 and v1)", path,
                     version);
            goto fail;
        }
    }
    for (i = 0; i < 7; i++) h[i] = (int32_t)pt__get_u32(&r, "header");
    if (r.err) {
        pt__fail(PT_ERR_FORMAT, "%s: file too short for a llama2.c header (%zu bytes)", path, n);
        goto fail;
    }
    memset(&c, 0, sizeof c);
    c.dim = h[0];
    c.hidden_dim = h[1];
    c.n_layers = h[2];
    c.n_heads = h[3];
    c.n_kv_heads = h[4];
    c.seq_len = h[6];
    if (version == 0) {
        if (h[5] == INT32_MIN) {
            pt__fail(PT_ERR_FORMAT, "%s: header vocab_size %d is invalid", path, h[5]);
            goto fail;
        }
        shared = h[5] > 0;
        c.vocab_size = h[5] < 0 ? -h[5] : h[5];
        header = 28;
    } else {
        unsigned char flag = 0;
        pt__get(&r, &flag, 1, "shared_classifier");
        if (r.err || flag > 1) {
            pt__fail(PT_ERR_FORMAT, "%s: bad shared_classifier flag", path);
            goto fail;
        }
        shared = flag;
        c.vocab_size = h[5];
        header = 256;
    }
    c.untied = !shared;
    {
        const char *names[7] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"};
        for (i = 0; i < 7; i++)
            if ((i == 5 ? c.vocab_size : h[i]) <= 0) {
                pt__fail(PT_ERR_FORMAT, "%s: header field %s is %d (must be positive)", path, names[i], h[i]);
                goto fail;
            }
    }
    if (pt_config_validate(&c) != PT_OK) {
        char msg[sizeof pt__errbuf];
        memcpy(msg, pt__errbuf, sizeof msg);
        msg[sizeof msg - 1] = 0;
        pt__fail(PT_ERR_FORMAT, "%s: bad llama2.c header: %s", path, msg);
        goto fail;
    }
    rope_n = version == 0 ? (int64_t)c.seq_len * (c.dim / c.n_heads) : 0;   /* two tables of seq_len*hs/2 */
    expect = (int64_t)header + 4 * (pt__model_weight_floats(&c) + rope_n);
    if ((int64_t)n != expect) {
        pt__fail(PT_ERR_FORMAT,
                 "%s: file is %zu bytes, the header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d%s, seq %d) "
                 "implies %lld",
                 path, n, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size,
                 shared ? " shared" : " unshared", c.seq_len, (long long)expect);
        goto fail;
    }
    m = pt__model_declare(&c);
    list = (pt_tensor **)PT_MALLOC((size_t)(9 * c.n_layers + 4) * sizeof(pt_tensor *));
    if (!m || !list) {
        if (!list) pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    r.at = header;
    nt = pt__l2c_order(m, version, list);
    for (i = 0; i < nt; i++) {
        int64_t j;
        for (j = 0; j < list[i]->size; j++) list[i]->data[j] = pt__get_f32(&r, "weights");
    }
    if (rope_n) {
        int64_t j;
        m->llama2c_rope = (float *)PT_MALLOC((size_t)rope_n * sizeof(float));
        if (!m->llama2c_rope) {
            pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
        for (j = 0; j < rope_n; j++) m->llama2c_rope[j] = pt__get_f32(&r, "rope tables");
        m->llama2c_rope_n = rope_n;
    }
    if (!shared) {
        int64_t j;
        for (j = 0; j < m->output->size; j++)
            m->output->data[j] = pt__get_f32(&r, "classifier");
    }
    if (r.err || r.at != n) {
        pt__fail(PT_ERR_FORMAT, "%s: size mismatch while reading %s", path, r.what ? r.what : "the end");
        goto fail;
    }
    PT_FREE(list);
    PT_FREE(data);
    return m;
fail:
    PT_FREE(list);
    PT_FREE(data);
    pt_model_free(m);
    return NULL;
}
PTDEF int pt_model_save_llama2c(const pt_model *m, const char *path)
{
    pt__wbuf w;
    const pt_config *c = &m->cfg;
    pt_tensor **list;
    int i, nt, hs = c->dim / c->n_heads, st;
    memset(&w, 0, sizeof w);
    if (c->norm_eps != 1e-5f || c->rope_theta != 10000.0f)
        return pt__fail(PT_ERR_ARG,
                        "%s: llama2.c's format fixes norm_eps 1e-5 and rope_theta 10000; this model has %g and %g",
                        path, (double)c->norm_eps, (double)c->rope_theta);
    list = (pt_tensor **)PT_MALLOC((size_t)(9 * c->n_layers + 4) * sizeof(pt_tensor *));
    if (!list) return pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
    pt__put_u32(&w, (uint32_t)c->dim);
    pt__put_u32(&w, (uint32_t)c->hidden_dim);
    pt__put_u32(&w, (uint32_t)c->n_layers);
    pt__put_u32(&w, (uint32_t)c->n_heads);
    pt__put_u32(&w, (uint32_t)c->n_kv_heads);
    pt__put_u32(&w, (uint32_t)(c->untied ? -c->vocab_size : c->vocab_size));
    pt__put_u32(&w, (uint32_t)c->seq_len);
    nt = pt__l2c_order(m, 0, list);
    for (i = 0; i < nt; i++) pt__put_floats(&w, list[i]->data, list[i]->size);
    if (m->llama2c_rope && m->llama2c_rope_n == (int64_t)c->seq_len * hs) {
        pt__put_floats(&w, m->llama2c_rope, m->llama2c_rope_n);
    } else {   /* the tables export.py writes: cos then sin of t * theta^(-2i/hs), float32 */
        int pass, t, k;
        for (pass = 0; pass < 2; pass++)
            for (t = 0; t < c->seq_len; t++)
                for (k = 0; k < hs / 2; k++) {
                    float f = 1.0f / powf(c->rope_theta, (float)(2 * k) / (float)hs), a = (float)t * f;
                    pt__put_f32(&w, pass == 0 ? cosf(a) : sinf(a));
                }
    }
    if (c->untied) pt__put_floats(&w, m->output->data, m->output->size);
    PT_FREE(list);
    st = w.err ? pt__fail(PT_ERR_NOMEM, "%s: out of memory", path) : pt_write_file_atomic(path, w.p, w.n);
    PT_FREE(w.p);
    return st;
}
PTDEF pt_model *pt_model_load_any(const char *path)
{
    unsigned char head[4] = {0, 0, 0, 0};
    FILE *f = fopen(path, "rb");
    size_t got;
    if (!f) return (pt_model *)pt__fail_null(PT_ERR_IO, "%s: cannot open for reading", path);
    got = fread(head, 1, 4, f);
    fclose(f);
    if (got == 4 && memcmp(head, "PTCK", 4) == 0) return pt_model_load(path);
    return pt_model_load_llama2c(path);
}


PTDEF int pt_model_load_into(pt_model *m, const char *path)
{
    pt_model *src = pt__load_checkpoint(path);
    pt_config fc;
    const pt_config *a = &fc, *b = &m->cfg;
    int i;
    if (!src) return pt_last_status();
    fc = src->cfg;
    if (a->dim != b->dim || a->n_layers != b->n_layers || a->n_heads != b->n_heads || a->n_kv_heads != b->n_kv_heads ||
        a->hidden_dim != b->hidden_dim || a->vocab_size != b->vocab_size || a->seq_len != b->seq_len ||
        a->untied != b->untied || a->norm_eps != b->norm_eps || a->rope_theta != b->rope_theta) {
        pt_model_free(src);
        return pt__fail(PT_ERR_FORMAT,
                        "%s: its config differs from the model's (dim %d vs %d, layers %d vs %d, vocab %d vs %d, ...)",
                        path, a->dim, b->dim, a->n_layers, b->n_layers, a->vocab_size, b->vocab_size);
    }
    if (!src->head != !m->head) {   /* a reward/value model needs its head: never load half of one */
        pt_model_free(src);
        return pt__fail(
            PT_ERR_FORMAT,
            m->head ? "%s: the checkpoint has no scalar head, the model has one"
                    : "%s: the checkpoint has a scalar head, the model has none (attach one, or use pt_model_load)",
            path);
    }
    for (i = 0; i < m->params->count; i++)
        if ((src->params->items[i]->grad_offset >= 0) != (m->params->items[i]->grad_offset >= 0)) {
            pt_model_free(src);
            return pt__fail(PT_ERR_FORMAT, "%s: tensor '%s' trainable flag differs from the model's", path,
                            m->params->items[i]->name);
        }
    if (m->head && m->head->params->n_grad != src->head->params->n_grad) {
        pt_model_free(src);
        return pt__fail(PT_ERR_FORMAT, "%s: the head's trainable flags differ from the model's", path);
    }
    memcpy(m->params->data, src->params->data, (size_t)m->params->n_data * sizeof(float));
    memcpy(m->params->adam_m, src->params->adam_m, (size_t)m->params->n_grad * sizeof(float));
    memcpy(m->params->adam_v, src->params->adam_v, (size_t)m->params->n_grad * sizeof(float));
    m->params->step = src->params->step;
    pt_params_zero_grad(m->params);
    if (m->head) {
        pt_params *d = m->head->params, *s = src->head->params;
        memcpy(d->data, s->data, (size_t)d->n_data * sizeof(float));
        memcpy(d->adam_m, s->adam_m, (size_t)d->n_grad * sizeof(float));
        memcpy(d->adam_v, s->adam_v, (size_t)d->n_grad * sizeof(float));
        d->step = s->step;
        pt_params_zero_grad(d);
    }
    pt_model_free(src);
    return PT_OK;
}

/* ================================================================================================
   8. PEFT: LoRA (implementation)                                                            >>lora
   ================================================================================================ */
static void pt__lora_free(pt_lora *lo)
{
    if (!lo) return;
    pt_params_free(lo->params);
    PT_FREE(lo->a);
    PT_FREE(lo->b);
    PT_FREE(lo);
}
PTDEF void pt_lora_detach(pt_model *m)
{
    if (!m || !m->lora) return;
    pt__lora_free(m->lora);
    m->lora = NULL;
}
static int pt__lora_attach_slots(pt_model *m, int rank, float alpha, int rslora, float dropout, uint64_t seed,
                                 const unsigned char *on)
{
    int n_slots = m->cfg.n_layers * PT_LAYER_MATRICES, slot, count = 0, st;
    pt_lora *lo = (pt_lora *)PT_MALLOC(sizeof(pt_lora));
    char name[64];
    if (!lo) return pt__fail(PT_ERR_NOMEM, "pt_lora_attach: out of memory");
    memset(lo, 0, sizeof *lo);
    lo->params = pt_params_new();
    lo->a = (pt_tensor **)PT_MALLOC((size_t)n_slots * sizeof(pt_tensor *));
    lo->b = (pt_tensor **)PT_MALLOC((size_t)n_slots * sizeof(pt_tensor *));
    if (!lo->params || !lo->a || !lo->b) {
        pt__lora_free(lo);
        return pt__fail(PT_ERR_NOMEM, "pt_lora_attach: out of memory");
    }
    memset(lo->a, 0, (size_t)n_slots * sizeof(pt_tensor *));
    memset(lo->b, 0, (size_t)n_slots * sizeof(pt_tensor *));
    for (slot = 0; slot < n_slots; slot++) {
        const pt_tensor *w = pt__slot_weight(m, slot);
        int sa[2], sb[2];
        if (!on[slot]) continue;
        sa[0] = rank;
        sa[1] = w->shape[1];
        sb[0] = w->shape[0];
        sb[1] = rank;
        snprintf(name, sizeof name, "lora.%d.%s.A", slot / PT_LAYER_MATRICES,
                 pt__matrix_names[slot % PT_LAYER_MATRICES]);
        lo->a[slot] = pt_params_add(lo->params, name, 2, sa, 0);
        snprintf(name, sizeof name, "lora.%d.%s.B", slot / PT_LAYER_MATRICES,
                 pt__matrix_names[slot % PT_LAYER_MATRICES]);
        lo->b[slot] = pt_params_add(lo->params, name, 2, sb, 0);
        if (!lo->a[slot] || !lo->b[slot]) {
            pt__lora_free(lo);
            return pt_last_status();
        }
        count++;
    }
    if (count == 0) {
        pt__lora_free(lo);
        return pt__fail(PT_ERR_ARG, "pt_lora_attach: no weight matrix matches the targets");
    }
    if ((st = pt_params_alloc(lo->params)) != PT_OK) {
        pt__lora_free(lo);
        return st;
    }
    lo->rank = rank;
    lo->alpha = alpha;
    lo->rslora = rslora;
    lo->dropout = dropout;
    lo->count = count;
    lo->scale = rslora ? alpha / sqrtf((float)rank) : alpha / (float)rank;
    pt_rng_seed(&lo->rng, seed);
    for (slot = 0; slot < n_slots; slot++) {   /* A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0 */
        int64_t j;
        float bound;
        if (!lo->a[slot]) continue;
        bound = 1.0f / sqrtf((float)lo->a[slot]->shape[1]);
        for (j = 0; j < lo->a[slot]->size; j++) lo->a[slot]->data[j] = (2.0f * pt_rng_uniform(&lo->rng) - 1.0f) * bound;
    }
    if ((st = pt_params_set_trainable(m->params, "*", 0)) < 0) {
        pt__lora_free(lo);
        return st;
    } /* freeze the base */
    pt_lora_detach(m);
    m->lora = lo;
    return PT_OK;
}
/* The one place LoRA's defaults are resolved (a copy): rank 8, alpha = rank (s = 1), the LoRA
   paper's targets wq and wv. */
static pt_lora_config pt__lora_resolve(const pt_lora_config *in)
{
    pt_lora_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    if (c.rank <= 0) c.rank = 8;
    if (!(c.alpha > 0)) c.alpha = (float)c.rank;
    if (!c.targets) c.targets = "*.attn.wq,*.attn.wv";
    return c;
}
PTDEF int pt_lora_attach(pt_model *m, const pt_lora_config *cfg)
{
    pt_lora_config c = pt__lora_resolve(cfg);
    int n_slots = m->cfg.n_layers * PT_LAYER_MATRICES, slot, st, rank = c.rank;
    float alpha = c.alpha, dropout = c.dropout;
    const char *targets = c.targets;
    unsigned char *on;
    char name[64], pat[128];
    if (m->lora && m->lora->merged) return pt__fail(PT_ERR_ARG, "pt_lora_attach: unmerge the current adapters first");
    if (!(dropout >= 0.0f && dropout < 1.0f))
        return pt__fail(PT_ERR_ARG, "pt_lora_attach: dropout %g not in [0, 1)", (double)dropout);
    if (rank > 4096) return pt__fail(PT_ERR_ARG, "pt_lora_attach: rank %d too large", rank);
    if (!(alpha < 1e6f))
        return pt__fail(PT_ERR_ARG, "pt_lora_attach: alpha %g must be finite and below 1e6", (double)alpha);
    on = (unsigned char *)PT_MALLOC((size_t)n_slots);
    if (!on) return pt__fail(PT_ERR_NOMEM, "pt_lora_attach: out of memory");
    for (slot = 0; slot < n_slots; slot++) {
        const char *p = targets;
        on[slot] = 0;
        snprintf(name, sizeof name, "layers.%d.%s", slot / PT_LAYER_MATRICES,
                 pt__matrix_names[slot % PT_LAYER_MATRICES]);
        while (*p) {   /* comma-separated glob patterns */
            size_t len = strcspn(p, ",");
            if (len < sizeof pat) {
                memcpy(pat, p, len);
                pat[len] = 0;
                if (len && pt_glob_match(pat, name))
                    on[slot] = 1;
            }
            p += len + (p[len] == ',');
        }
    }
    st = pt__lora_attach_slots(m, rank, alpha, c.rslora, dropout, c.seed, on);
    PT_FREE(on);
    return st;
}
static int pt__lora_fold(pt_model *m, float sign)
{
    pt_lora *lo = m->lora;
    int slot;
    int64_t biggest = 1;
    float *ba;
    if (!lo) return pt__fail(PT_ERR_ARG, "LoRA merge/unmerge: the model has no adapters");
    for (slot = 0; slot < m->cfg.n_layers * PT_LAYER_MATRICES; slot++)
        if (lo->a[slot] && pt__slot_weight(m, slot)->size > biggest) biggest = pt__slot_weight(m, slot)->size;
    ba = pt__alloc_aligned_floats(biggest);   /* one buffer up front: never a half-merged model */
    if (!ba) return pt__fail(PT_ERR_NOMEM, "LoRA merge: out of memory");
    for (slot = 0; slot < m->cfg.n_layers * PT_LAYER_MATRICES; slot++) {
        pt_tensor *w = pt__slot_weight(m, slot);
        int64_t j;
        if (!lo->a[slot]) continue;
        /* BA [out, in] = B [out, r] A [r, in] */
        pt_gemm(w->shape[0], w->shape[1], lo->rank, lo->b[slot]->data, lo->rank, 1, lo->a[slot]->data, w->shape[1], 1,
                ba, w->shape[1], 0);
        for (j = 0; j < w->size; j++) w->data[j] += sign * lo->scale * ba[j];
    }
    pt__free_aligned(ba);
    return PT_OK;
}
PTDEF int pt_lora_merge(pt_model *m)
{
    int st;
    if (m->lora && m->lora->merged) return pt__fail(PT_ERR_ARG, "pt_lora_merge: already merged");
    if (m->adapters_off)
        return pt__fail(PT_ERR_ARG,
                        "pt_lora_merge: adapters are switched off (pt_model_set_adapters); switch them on first");
    if ((st = pt__lora_fold(m, 1.0f)) == PT_OK) m->lora->merged = 1;
    return st;
}
PTDEF int pt_lora_unmerge(pt_model *m)
{
    int st;
    if (m->lora && !m->lora->merged) return pt__fail(PT_ERR_ARG, "pt_lora_unmerge: not merged");
    if ((st = pt__lora_fold(m, -1.0f)) == PT_OK) m->lora->merged = 0;
    return st;
}
PTDEF int pt_lora_save(const pt_model *m, const char *path)
{
    const pt_lora *lo = m->lora;
    pt__wbuf w;
    int slot;
    if (!lo) return pt__fail(PT_ERR_ARG, "%s: the model has no adapters to save", path);
    pt__wbuf_begin(&w, "PTLA", 1);
    pt__put_u32(&w, (uint32_t)lo->rank);
    pt__put_f32(&w, lo->alpha);
    pt__put_u32(&w, (uint32_t)lo->rslora);
    pt__put_u32(&w, (uint32_t)lo->count);
    for (slot = 0; slot < m->cfg.n_layers * PT_LAYER_MATRICES; slot++) {
        if (!lo->a[slot]) continue;
        pt__put_u32(&w, (uint32_t)slot);
        pt__put_u32(&w, (uint32_t)lo->b[slot]->shape[0]);   /* out */
        pt__put_u32(&w, (uint32_t)lo->a[slot]->shape[1]);   /* in */
        pt__put_floats(&w, lo->a[slot]->data, lo->a[slot]->size);
        pt__put_floats(&w, lo->b[slot]->data, lo->b[slot]->size);
    }
    return pt__wbuf_finish(&w, path);
}
PTDEF int pt_lora_load(pt_model *m, const char *path)
{
    unsigned char *data = NULL, *on = NULL;
    pt__rbuf r;
    uint32_t rank, rslora, count, i;
    float alpha;
    int n_slots = m->cfg.n_layers * PT_LAYER_MATRICES, st;
    uint32_t *slots = NULL;
    size_t at0;
    pt_lora *saved = m->lora;
    if (saved && saved->merged) return pt__fail(PT_ERR_ARG, "pt_lora_load: unmerge the current adapters first");
    if ((st = pt__rbuf_open(&r, &data, path, "PTLA", 32, 1, "LoRA adapter")) != PT_OK) return st;
    rank = pt__get_u32(&r, "rank");
    alpha = pt__get_f32(&r, "alpha");
    rslora = pt__get_u32(&r, "rslora");
    count = pt__get_u32(&r, "count");
    if (r.err || rank < 1 || rank > 4096 || !(alpha > 0 && alpha < 1e6f) || rslora > 1 || count < 1 ||
        count > (uint32_t)n_slots) {
        st = pt__fail(PT_ERR_FORMAT, "%s: bad header (rank %u, alpha %g, rslora %u, count %u for a %d-layer model)",
                      path, rank, (double)alpha, rslora, count, m->cfg.n_layers);
        goto done;
    }
    slots = (uint32_t *)PT_MALLOC(count * sizeof(uint32_t));
    on = (unsigned char *)PT_MALLOC((size_t)n_slots);
    if (!slots || !on) {
        st = pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memset(on, 0, (size_t)n_slots);
    at0 = r.at;
    for (i = 0; i < count; i++) {   /* first pass: slots and sizes */
        const pt_tensor *w;
        uint32_t s = pt__get_u32(&r, "slot"), out = pt__get_u32(&r, "out"), in = pt__get_u32(&r, "in");
        if (r.err || s >= (uint32_t)n_slots || on[s]) {
            st = pt__fail(PT_ERR_FORMAT, "%s: adapter %u has a bad or repeated slot %u", path, i, s);
            goto done;
        }
        on[s] = 1;
        slots[i] = s;
        w = pt__slot_weight(m, (int)s);
        if (out != (uint32_t)w->shape[0] || in != (uint32_t)w->shape[1]) {
            st = pt__fail(
                PT_ERR_FORMAT, "%s: adapter %u is for a [%u, %u] matrix, this model's layers.%u.%s is [%d, %d]", path,
                i, out, in, s / PT_LAYER_MATRICES, pt__matrix_names[s % PT_LAYER_MATRICES], w->shape[0], w->shape[1]);
            goto done;
        }
        if ((uint64_t)rank * ((uint64_t)w->shape[0] + (uint64_t)w->shape[1]) * 4 > r.n - r.at) {
            st = pt__fail(PT_ERR_FORMAT, "%s: truncated in adapter %u", path, i);
            goto done;
        }
        r.at += (size_t)rank * ((size_t)w->shape[0] + (size_t)w->shape[1]) * 4;
    }
    if (r.at != r.n) {
        st = pt__fail(PT_ERR_FORMAT, "%s: %zu extra bytes after the adapters", path, r.n - r.at);
        goto done;
    }
    m->lora = NULL;   /* build the new adapters aside; the old ones come back on failure */
    if ((st = pt__lora_attach_slots(m, (int)rank, alpha, (int)rslora, 0.0f, 0, on)) != PT_OK) {
        m->lora = saved;
        goto done;
    }
    pt__lora_free(saved);
    r.at = at0;
    for (i = 0; i < count; i++) {
        pt_lora *lo = m->lora;
        int64_t j;
        (void)pt__get_u32(&r, "slot");
        (void)pt__get_u32(&r, "out");
        (void)pt__get_u32(&r, "in");
        for (j = 0; j < lo->a[slots[i]]->size; j++) lo->a[slots[i]]->data[j] = pt__get_f32(&r, "A");
        for (j = 0; j < lo->b[slots[i]]->size; j++) lo->b[slots[i]]->data[j] = pt__get_f32(&r, "B");
    }
done:
    PT_FREE(data);
    PT_FREE(slots);
    PT_FREE(on);
    return st;
}
/* ------------------------------------------------------------------------------------------------
   8b. Prompt tuning and trainable tokens (implementation)                                 >>tokens
   ------------------------------------------------------------------------------------------------ */
static void pt__tokens_free(pt_token_adapter *ta)
{
    if (!ta) return;
    pt_params_free(ta->params);
    PT_FREE(ta->ids);
    PT_FREE(ta->slot);
    PT_FREE(ta->cols);
    PT_FREE(ta);
}
PTDEF void pt_tokens_detach(pt_model *m)
{
    if (!m || !m->tokens) return;
    pt__tokens_free(m->tokens);
    m->tokens = NULL;
}
PTDEF int pt_model_input_vocab(const pt_model *m)
{
    return m->cfg.vocab_size + (pt__tok(m) ? m->tokens->n_virtual : 0);
}
/* A new adapter for ids (virtual ones are >= V), rows copied from src rows of the base tables
   (src_ids[j] for R; ids[j] for the classifier rows of an untied model); src_ids NULL: left zero. */
static int pt__tokens_build(pt_model *m, const int *ids, const int *src_ids, int n, int n_virtual)
{
    int V = m->cfg.vocab_size, D = m->cfg.dim, j, st, shape[2];
    pt_token_adapter *ta = (pt_token_adapter *)PT_MALLOC(sizeof(pt_token_adapter));
    if (!ta) return pt__fail(PT_ERR_NOMEM, "token adapter: out of memory");
    memset(ta, 0, sizeof *ta);
    ta->params = pt_params_new();
    ta->ids = (int *)PT_MALLOC((size_t)n * sizeof(int));
    ta->cols = (int *)PT_MALLOC((size_t)n * sizeof(int));
    ta->slot = (int *)PT_MALLOC((size_t)(V + n_virtual) * sizeof(int));
    if (!ta->params || !ta->ids || !ta->cols || !ta->slot) {
        pt__tokens_free(ta);
        return pt__fail(PT_ERR_NOMEM, "token adapter: out of memory");
    }
    ta->n = n;
    ta->n_virtual = n_virtual;
    for (j = 0; j < V + n_virtual; j++) ta->slot[j] = -1;
    for (j = 0; j < n; j++) {
        ta->ids[j] = ids[j];
        ta->slot[ids[j]] = j;
        ta->cols[j] = ids[j] < V ? ids[j] : -1;
    }
    shape[0] = n;
    shape[1] = D;
    if (!(ta->rows = pt_params_add(ta->params, "tokens.rows", 2, shape, 0))) {
        pt__tokens_free(ta);
        return pt_last_status();
    }
    if (m->cfg.untied && n > n_virtual &&
        !(ta->out_rows = pt_params_add(ta->params, "tokens.output_rows", 2, shape, 0))) {
        pt__tokens_free(ta);
        return pt_last_status();
    }
    if ((st = pt_params_alloc(ta->params)) != PT_OK) {
        pt__tokens_free(ta);
        return st;
    }
    for (j = 0; j < n && src_ids; j++) {
        memcpy(ta->rows->data + (int64_t)j * D, m->tok_embeddings->data + (int64_t)src_ids[j] * D,
               (size_t)D * sizeof(float));
        if (ta->out_rows && ids[j] < V)
            memcpy(ta->out_rows->data + (int64_t)j * D, m->output->data + (int64_t)ids[j] * D,
                   (size_t)D * sizeof(float));
    }
    if ((st = pt_params_set_trainable(m->params, "*", 0)) < 0) {
        pt__tokens_free(ta);
        return st;
    } /* freeze the base */
    pt_tokens_detach(m);
    m->tokens = ta;
    return PT_OK;
}
/* The first id that repeats an earlier one (all ids in [0, limit)), -1 if none, -2 out of memory:
   one pass over a table of flags, so a whole vocabulary of trainable rows costs O(V), not O(V^2). */
static int pt__first_repeat(const int *ids, int n, int limit)
{
    unsigned char *seen = (unsigned char *)PT_MALLOC((size_t)(limit > 0 ? limit : 1));
    int j, at = -1;
    if (!seen) return -2;
    memset(seen, 0, (size_t)(limit > 0 ? limit : 1));
    for (j = 0; j < n && at < 0; j++) {
        if (seen[ids[j]]) at = j;
        seen[ids[j]] = 1;
    }
    PT_FREE(seen);
    return at;
}
PTDEF int pt_tokens_attach(pt_model *m, int n_virtual, const int *init_ids, const int *train_ids, int n_train,
                           uint64_t seed)
{
    int V = m->cfg.vocab_size, j, st, n = n_virtual + n_train, *ids, *src;
    pt_rng rng;
    if (n_virtual < 0 || n_virtual > 1024 || n_virtual >= m->cfg.seq_len)
        return pt__fail(PT_ERR_ARG, "token adapter: n_virtual %d not in [0, min(1024, seq_len %d))", n_virtual,
                        m->cfg.seq_len);
    if (n_train < 0 || n_train > V || (n_train > 0 && !train_ids) || n < 1)
        return pt__fail(PT_ERR_ARG, "token adapter: need 1..%d trainable ids or virtual tokens, got %d and %d", V,
                        n_train, n_virtual);
    for (j = 0; init_ids && j < n_virtual; j++)
        if (init_ids[j] < 0 || init_ids[j] >= V)
            return pt__fail(PT_ERR_ARG, "token adapter: init id %d (entry %d) outside [0, %d)", init_ids[j], j, V);
    for (j = 0; j < n_train; j++) {
        if (train_ids[j] < 0 || train_ids[j] >= V)
            return pt__fail(PT_ERR_ARG, "token adapter: trainable id %d (entry %d) outside [0, %d)", train_ids[j], j,
                            V);
    }
    if ((j = pt__first_repeat(train_ids, n_train, V)) != -1)
        return j == -2 ? pt__fail(PT_ERR_NOMEM, "token adapter: out of memory")
                       : pt__fail(PT_ERR_ARG, "token adapter: trainable id %d given twice", train_ids[j]);
    ids = (int *)PT_MALLOC((size_t)n * 2 * sizeof(int));
    if (!ids) return pt__fail(PT_ERR_NOMEM, "token adapter: out of memory");
    src = ids + n;
    pt_rng_seed(&rng, seed);
    for (j = 0; j < n_virtual; j++) {
        ids[j] = V + j;
        src[j] = init_ids ? init_ids[j] : pt_rng_int(&rng, 0, V - 1);
    }
    for (j = 0; j < n_train; j++) ids[n_virtual + j] = src[n_virtual + j] = train_ids[j];
    st = pt__tokens_build(m, ids, src, n, n_virtual);
    PT_FREE(ids);
    return st;
}
PTDEF int pt_prompt_tuning_attach(pt_model *m, int n_virtual, const int *init_ids, uint64_t seed)
{
    if (n_virtual < 1) return pt__fail(PT_ERR_ARG, "pt_prompt_tuning_attach: n_virtual %d must be >= 1", n_virtual);
    return pt_tokens_attach(m, n_virtual, init_ids, NULL, 0, seed);
}
PTDEF int pt_trainable_tokens_attach(pt_model *m, const int *ids, int n)
{
    if (!ids || n < 1) return pt__fail(PT_ERR_ARG, "pt_trainable_tokens_attach: need at least one id, got %d", n);
    return pt_tokens_attach(m, 0, NULL, ids, n, 0);
}
PTDEF int pt_tokens_merge(pt_model *m)
{
    pt_token_adapter *ta = m->tokens;
    int D = m->cfg.dim, j;
    if (!ta) return pt__fail(PT_ERR_ARG, "pt_tokens_merge: the model has no token adapter");
    if (ta->n_virtual)
        return pt__fail(
            PT_ERR_ARG,
            "pt_tokens_merge: virtual tokens have no row in the vocabulary to merge into; keep the adapter");
    for (j = 0; j < ta->n; j++) {
        memcpy(m->tok_embeddings->data + (int64_t)ta->ids[j] * D, ta->rows->data + (int64_t)j * D,
               (size_t)D * sizeof(float));
        if (ta->out_rows)
            memcpy(m->output->data + (int64_t)ta->ids[j] * D, ta->out_rows->data + (int64_t)j * D,
                   (size_t)D * sizeof(float));
    }
    pt_tokens_detach(m);
    return PT_OK;
}
PTDEF int pt_model_prompt_prefix(const pt_model *m, int *ids, int cap)
{
    int j, k = pt__tok(m) ? m->tokens->n_virtual : 0;
    if (k > cap) return pt__fail(PT_ERR_ARG, "pt_model_prompt_prefix: %d virtual tokens do not fit in %d", k, cap);
    for (j = 0; j < k; j++) ids[j] = m->tokens->ids[j];
    return k;
}
PTDEF int pt_examples_prepend(pt_example *ex, int n, const int *ids, int k)
{
    int i, st = PT_OK;
    int **ni;
    unsigned char **nt;
    if (k < 0 || (k > 0 && !ids) || n < 0)
        return pt__fail(PT_ERR_ARG, "pt_examples_prepend: bad prefix (k %d) or count (n %d)", k, n);
    if (k == 0 || n == 0) return PT_OK;
    ni = (int **)PT_MALLOC((size_t)n * sizeof(int *));
    nt = (unsigned char **)PT_MALLOC((size_t)n * sizeof(unsigned char *));
    if (ni) memset(ni, 0, (size_t)n * sizeof(int *));
    if (nt) memset(nt, 0, (size_t)n * sizeof(unsigned char *));
    for (i = 0; ni && nt && i < n; i++) {   /* every new buffer first, so a failure changes nothing */
        ni[i] = (int *)PT_MALLOC((size_t)(ex[i].n_ids + k) * sizeof(int));
        if (ex[i].train) nt[i] = (unsigned char *)PT_MALLOC((size_t)(ex[i].n_ids + k));
        if (!ni[i] || (ex[i].train && !nt[i])) break;
    }
    if (!ni || !nt || i < n) {
        for (i = 0; ni && nt && i < n; i++) {
            PT_FREE(ni[i]);
            PT_FREE(nt[i]);
        }
        st = pt__fail(PT_ERR_NOMEM, "pt_examples_prepend: out of memory");
    } else {
        for (i = 0; i < n; i++) {
            memcpy(ni[i], ids, (size_t)k * sizeof(int));
            memcpy(ni[i] + k, ex[i].ids, (size_t)ex[i].n_ids * sizeof(int));
            PT_FREE(ex[i].ids);
            ex[i].ids = ni[i];
            if (nt[i]) {
                memset(nt[i], 0, (size_t)k);
                memcpy(nt[i] + k, ex[i].train, (size_t)ex[i].n_ids);
                PT_FREE(ex[i].train);
                ex[i].train = nt[i];
            }
            ex[i].n_ids += k;
            ex[i].n_prompt += k;
        }
    }
    PT_FREE(ni);
    PT_FREE(nt);
    return st;
}
PTDEF int pt_tokens_save(const pt_model *m, const char *path)
{
    const pt_token_adapter *ta = m->tokens;
    pt__wbuf w;
    int j;
    if (!ta) return pt__fail(PT_ERR_ARG, "%s: the model has no token adapter to save", path);
    pt__wbuf_begin(&w, "PTTK", 1);
    pt__put_u32(&w, (uint32_t)ta->n);
    pt__put_u32(&w, (uint32_t)ta->n_virtual);
    pt__put_u32(&w, (uint32_t)m->cfg.dim);
    pt__put_u32(&w, (uint32_t)m->cfg.vocab_size);
    pt__put_u32(&w, ta->out_rows ? 1u : 0u);
    for (j = 0; j < ta->n; j++) pt__put_u32(&w, (uint32_t)ta->ids[j]);
    pt__put_floats(&w, ta->rows->data, ta->rows->size);
    if (ta->out_rows) pt__put_floats(&w, ta->out_rows->data, ta->out_rows->size);
    return pt__wbuf_finish(&w, path);
}
PTDEF int pt_tokens_load(pt_model *m, const char *path)
{
    unsigned char *data = NULL;
    pt__rbuf r;
    uint32_t cnt, nv, dim, vocab, has_out, j;
    int st, V = m->cfg.vocab_size, D = m->cfg.dim, *ids = NULL, rep;
    pt_token_adapter *saved = m->tokens;
    if ((st = pt__rbuf_open(&r, &data, path, "PTTK", 40, 1, "token adapter")) != PT_OK) return st;
    cnt = pt__get_u32(&r, "n");
    nv = pt__get_u32(&r, "n_virtual");
    dim = pt__get_u32(&r, "dim");
    vocab = pt__get_u32(&r, "vocab");
    has_out = pt__get_u32(&r, "has_out");
    if (r.err || dim != (uint32_t)D || vocab != (uint32_t)V) {
        st = pt__fail(PT_ERR_FORMAT, "%s: adapter for dim %u vocab %u, the model has dim %d vocab %d", path, dim, vocab,
                      D, V);
        goto done;
    }
    if (cnt < 1 || cnt > (uint32_t)V + 1024 || nv > cnt || nv > 1024 || nv >= (uint32_t)m->cfg.seq_len || has_out > 1 ||
        has_out != (uint32_t)(m->cfg.untied && cnt > nv)) {
        st = pt__fail(PT_ERR_FORMAT, "%s: bad header (n %u, n_virtual %u, has_out %u for an %s model)", path, cnt, nv,
                      has_out, m->cfg.untied ? "untied" : "tied");
        goto done;
    }
    if ((uint64_t)cnt * 4 + (uint64_t)cnt * (uint64_t)D * 4 * (1 + has_out) != r.n - r.at) {
        st = pt__fail(PT_ERR_FORMAT, "%s: size does not match %u rows of %d floats", path, cnt, D);
        goto done;
    }
    ids = (int *)PT_MALLOC((size_t)cnt * sizeof(int));
    if (!ids) {
        st = pt__fail(PT_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (j = 0; j < cnt; j++) {
        ids[j] = (int)pt__get_u32(&r, "id");
        if (j < nv ? ids[j] != V + (int)j : (ids[j] < 0 || ids[j] >= V)) {
            st = pt__fail(PT_ERR_FORMAT, "%s: token id %d (entry %u) is not valid here", path, ids[j], j);
            goto done;
        }
    }
    if ((rep = pt__first_repeat(ids, (int)cnt, V + (int)nv)) != -1) {
        st = rep == -2 ? pt__fail(PT_ERR_NOMEM, "%s: out of memory", path)
                       : pt__fail(PT_ERR_FORMAT, "%s: token id %d repeated", path, ids[rep]);
        goto done;
    }
    m->tokens = NULL;   /* build aside; the old adapter comes back on failure */
    if ((st = pt__tokens_build(m, ids, NULL, (int)cnt, (int)nv)) != PT_OK) {
        m->tokens = saved;
        goto done;
    }
    pt__tokens_free(saved);
    {
        int64_t i;
        for (i = 0; i < m->tokens->rows->size; i++) m->tokens->rows->data[i] = pt__get_f32(&r, "rows");
    }
    if (has_out) {
        int64_t i;
        for (i = 0; i < m->tokens->out_rows->size; i++)
            m->tokens->out_rows->data[i] = pt__get_f32(&r, "output rows");
    }
done:
    PT_FREE(data);
    PT_FREE(ids);
    return st;
}

/* ================================================================================================
   9. DATA: THE ARITHMETIC WORLD (implementation)                                           >>world
   ================================================================================================ */
/* The one place the world's defaults are resolved (a copy: the caller's config is never changed). */
static pt_world_config pt__world_resolve(const pt_world_config *in)
{
    pt_world_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    if (c.min_digits < 1) c.min_digits = 1;
    if (c.max_digits < c.min_digits) c.max_digits = c.min_digits > 3 ? c.min_digits : 3;
    if (c.max_digits > 15) c.max_digits = 15;
    if (c.min_digits > c.max_digits) c.min_digits = c.max_digits;
    if (c.terms < 2) c.terms = 2;
    if (c.terms > 8) c.terms = 8;
    if (c.rule != PT_RULE_NO_CARRY) c.rule = PT_RULE_CARRY;
    return c;
}
/* The correct step list for column j: the operands' digits, then the incoming carry if nonzero. */
static int pt__world_column(const pt_problem *p, int j, long long carry_in, int *vals, long long *sum)
{
    int t, n = 0;
    long long s = carry_in, div = 1;
    for (t = 0; t < j; t++) div *= 10;
    for (t = 0; t < p->n_terms; t++) {
        int dgt = (int)(p->terms[t] / div % 10);
        vals[n++] = dgt;
        s += dgt;
    }
    if (carry_in) vals[n++] = (int)carry_in;
    *sum = s;
    return n;
}
static int pt__world_ndigits(long long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}
/* columns of the think block: the longest operand's digits */
static int pt__world_cols(const pt_problem *p)
{
    int t, cols = 1;
    for (t = 0; t < p->n_terms; t++) if (pt__world_ndigits(p->terms[t]) > cols) cols = pt__world_ndigits(p->terms[t]);
    return cols;
}
/* snprintf at offset `at` of a string being built: writes what fits (NUL-terminated within cap)
   and returns at + the piece's full length, so a chain of appends ends with the untruncated
   length, as snprintf returns (every text writer of the library returns lengths this way). */
static size_t pt__append(char *buf, size_t cap, size_t at, const char *fmt, ...)
{
    va_list ap;
    char none[1];
    int k;
    va_start(ap, fmt);
    k = at < cap ? vsnprintf(buf + at, cap - at, fmt, ap) : vsnprintf(none, 0, fmt, ap);
    va_end(ap);
    return k < 0 ? at : at + (size_t)k;
}
/* The carry into the next column after a column summing to `sum`: none under the no-carry rule. */
static long long pt__world_carry(const pt_problem *p, long long sum)
{
    return p->rule == PT_RULE_NO_CARRY ? 0 : sum / 10;
}
/* The true answer under the problem's rule: the sum, or each column's digit sum mod 10. */
static long long pt__world_answer(const pt_problem *p)
{
    long long ans = 0, place = 1, sum;
    int t, j, vals[10];
    if (p->rule != PT_RULE_NO_CARRY) {
        for (t = 0; t < p->n_terms; t++) ans += p->terms[t];
        return ans;
    }
    for (j = 0; j < pt__world_cols(p); j++, place *= 10) {
        pt__world_column(p, j, 0, vals, &sum);
        ans += sum % 10 * place;
    }
    return ans;
}
/* Write the question and the clean (or, with noise_rng, sometimes corrupted) solution of p's
   operands under p's rule, and set p->answer. */
static void pt__world_render(pt_problem *p, pt_rng *noise_rng, float noise)
{
    char *q = p->question, *s = p->solution;
    int t, j, cols = pt__world_cols(p), corrupt_at = -1;
    long long carry = 0;
    size_t at;
    if (p->rule != PT_RULE_NO_CARRY) p->rule = PT_RULE_CARRY;
    p->answer = pt__world_answer(p);
    at = pt__append(q, sizeof p->question, 0, "Q: ");
    for (t = 0; t < p->n_terms; t++) at = pt__append(q, sizeof p->question, at, "%s%lld", t ? "+" : "", p->terms[t]);
    pt__append(q, sizeof p->question, at, p->rule == PT_RULE_NO_CARRY ? "=? (no carry)\n" : "=?\n");
    if (noise_rng && pt_rng_uniform(noise_rng) < noise)
        corrupt_at = pt_rng_int(noise_rng, 0, cols); /* cols = the answer */
    at = pt__append(s, sizeof p->solution, 0, "A: <think>");
    for (j = 0; j < cols; j++) {
        int vals[10], nv = 0, v;
        long long sum;
        nv = pt__world_column(p, j, carry, vals, &sum);
        if (corrupt_at == j) sum = (sum + 1 + pt_rng_int(noise_rng, 0, 8)) % (j == cols - 1 ? 100 : 20);
        for (v = 0; v < nv; v++) at = pt__append(s, sizeof p->solution, at, "%s%d", v ? "+" : "", vals[v]);
        at = pt__append(s, sizeof p->solution, at, "=%lld%s", sum, j < cols - 1 ? ";" : "");
        carry = pt__world_carry(p, sum);
    }
    {
        long long ans = p->answer;
        if (corrupt_at == cols) ans += (pt_rng_int(noise_rng, 0, 1) ? 1 : -1) * (long long)pt_rng_int(noise_rng, 1, 9);
        if (ans < 0) ans = -ans;
        pt__append(s, sizeof p->solution, at, "</think><answer>%lld</answer>", ans);
    }
}
/* Operands of exactly `digits` digits (one-digit operands include 0), drawn as two halves to cover
   15 digits with 32-bit draws. */
static void pt__world_draw(const pt_world_config *c, int digits, pt_rng *rng, pt_problem *p)
{
    long long lo = 1, hi;
    int t;
    for (t = 1; t < digits; t++) lo *= 10;
    hi = lo * 10 - 1;
    if (digits == 1) lo = 0;
    memset(p, 0, sizeof *p);
    p->n_terms = c->terms;
    for (t = 0; t < c->terms; t++) {
        long long span = hi - lo + 1, high = (long long)pt_rng_u32(rng), low = (long long)pt_rng_u32(rng);
        long long v = (high << 31 ^ low) % span;   /* two statements: C leaves the order of calls in one open */
        if (v < 0) v = -v;
        p->terms[t] = lo + v;
        p->answer += p->terms[t];
    }
}
PTDEF int pt_world_split_of(const pt_problem *p)
{
    long long sorted[8];
    uint64_t h, x;
    int i, j, n = p->n_terms < 8 ? p->n_terms : 8;
    /* the canonical form: operands sorted, so 47+85 and 85+47 are one problem and share a split */
    for (i = 0; i < n; i++) {
        long long v = p->terms[i];
        for (j = i; j > 0 && sorted[j - 1] > v; j--) sorted[j] = sorted[j - 1];
        sorted[j] = v;
    }
    x = 0x5EC12E7ull ^ (uint64_t)n;
    h = pt__splitmix64(&x);
    for (i = 0; i < n; i++) {
        x = h ^ (uint64_t)sorted[i];
        h = pt__splitmix64(&x);
    }
    h %= 100;
    return h < 10 ? PT_WORLD_TEST : h < 20 ? PT_WORLD_VALID : PT_WORLD_TRAIN;
}
/* The digit counts a split draws from: [min, max], or max + 1 for OOD. */
static void pt__world_digit_range(const pt_world_config *c, int split, int *lo, int *hi)
{
    *lo = split == PT_WORLD_OOD ? c->max_digits + 1 : split == PT_WORLD_MIXED ? c->min_digits + 1 : c->min_digits;
    *hi = split == PT_WORLD_OOD ? c->max_digits + 1 : c->max_digits;
}
/* The split's key class: OOD and mixed-length problems are test problems too. */
static int pt__world_class(int split)
{
    return split == PT_WORLD_OOD || split == PT_WORLD_MIXED ? PT_WORLD_TEST : split;
}
/* A problem of the split whose longest operand has d digits: equal lengths, or for PT_WORLD_MIXED
   lengths in [min, d] that are not all equal, with d among them. */
static void pt__world_draw_split(const pt_world_config *c, int split, int d, pt_rng *rng, pt_problem *p)
{
    int lens[8], t, attempt, longest, all_equal;
    if (split != PT_WORLD_MIXED) {
        pt__world_draw(c, d, rng, p);
        return;
    }
    for (attempt = 0; attempt < 1000; attempt++) {
        longest = 0;
        all_equal = 1;
        for (t = 0; t < c->terms; t++) {
            lens[t] = pt_rng_int(rng, c->min_digits, d);
            if (lens[t] > longest) longest = lens[t];
            if (t && lens[t] != lens[0]) all_equal = 0;
        }
        if (longest == d && !all_equal) break;
    }
    memset(p, 0, sizeof *p);
    p->n_terms = c->terms;
    for (t = 0; t < c->terms; t++) {
        pt_problem one;
        pt__world_draw(c, lens[t], rng, &one);   /* draws c->terms operands; keep the first */
        p->terms[t] = one.terms[0];
        p->answer += p->terms[t];
    }
}
PTDEF void pt_world_problem(const pt_world_config *cfg_in, int split, uint64_t seed, int64_t index, pt_problem *p)
{
    pt_world_config c;
    pt_rng rng;
    int lo, hi, attempt, want;
    c = pt__world_resolve(cfg_in);
    if (split < PT_WORLD_TRAIN || split > PT_WORLD_MIXED) split = PT_WORLD_TRAIN;
    if (split == PT_WORLD_MIXED && c.max_digits == c.min_digits)
        split = PT_WORLD_ID; /* no mixed lengths: still held out */
    pt__world_digit_range(&c, split, &lo, &hi);
    want = pt__world_class(split);
    /* disjoint streams per split: the held-out splits ignore the caller's seed so they stay fixed */
    pt_rng_seed(&rng,
                (split == PT_WORLD_TRAIN ? seed : 0xC0FFEEull + (uint64_t)split * 0x51ED27ull) * 0x9E3779B97F4A7C15ull ^
                    (uint64_t)index * 0xD1B54A32D192ED03ull ^ (uint64_t)split);
    /* Rejection: draw until the problem's canonical form belongs to the split. Every class holds
       ~10% or more of each digit count's problems, so this ends after ~1.25 (train) or ~10 draws;
       the cap is never reached for any config the defaults allow (each class is non-empty). */
    for (attempt = 0; attempt < (1 << 20); attempt++) {
        pt__world_draw_split(&c, split, pt_rng_int(&rng, lo, hi), &rng, p);
        if (pt_world_split_of(p) == want) break;
    }
    p->rule = c.rule;
    pt__world_render(p, NULL, 0.0f);
}
PTDEF int pt_world_heldout(const pt_world_config *cfg_in, int split, int n, pt_problem *out)
{
    pt_world_config c;
    int lo, hi, d, got = 0, want = pt__world_class(split);
    if (!out || n < 1 || split < PT_WORLD_ID || split > PT_WORLD_MIXED)
        return pt__fail(
            PT_ERR_ARG,
            "pt_world_heldout: need n >= 1 and a held-out split (ID, OOD, VALID or MIXED), got n %d split %d", n,
            split);
    c = pt__world_resolve(cfg_in);
    if (split == PT_WORLD_MIXED && c.max_digits == c.min_digits)
        return pt__fail(PT_ERR_ARG, "pt_world_heldout: mixed lengths need max_digits > min_digits (both %d)",
                        c.min_digits);
    pt__world_digit_range(&c, split, &lo, &hi);
    for (d = lo; d <= hi; d++) {
        /* an equal share per digit count; what a small digit count cannot fill goes to the next */
        int quota = (n - got) / (hi - d + 1), start = got, attempt;
        long long max_attempts = 200LL * quota + 20000;
        pt_rng rng;
        pt_rng_seed(&rng, 0xE7A1ull * 0x9E3779B97F4A7C15ull ^ (uint64_t)split * 0xD1B54A32D192ED03ull ^ (uint64_t)d);
        for (attempt = 0; attempt < max_attempts && got - start < quota; attempt++) {
            pt_problem *p = &out[got];
            int k, t, dup = 0;
            pt__world_draw_split(&c, split, d, &rng, p);
            if (pt_world_split_of(p) != want) continue;
            for (k = start; k < got && !dup; k++) {   /* distinct as prompts: 3+5 and 5+3 are two */
                for (t = 0; t < p->n_terms && out[k].terms[t] == p->terms[t]; t++) {}
                dup = t == p->n_terms;
            }
            if (dup) continue;
            p->rule = c.rule;
            pt__world_render(p, NULL, 0.0f);
            got++;
        }
    }
    return got;
}
PTDEF void pt_binomial_interval(int k, int n, float *lo, float *hi)
{
    /* Wilson score interval (Wilson 1927) at 95%: stays inside [0, 1] and is sane at k = 0 or n */
    double z = 1.959963984540054, p, den, mid, half;
    if (n <= 0) {
        *lo = 0.0f;
        *hi = 1.0f;
        return;
    }
    p = (double)k / n;
    den = 1.0 + z * z / n;
    mid = (p + z * z / (2.0 * n)) / den;
    half = z * sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * (double)n)) / den;
    *lo = (float)(mid - half < 0 ? 0 : mid - half);
    *hi = (float)(mid + half > 1 ? 1 : mid + half);
}

/* A tiny cursor parser over the completion text. */
static int pt__lit(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) == 0) {
        *s += n;
        return 1;
    }
    return 0;
}
static int pt__num(const char **s, long long *v)
{
    const char *p = *s;
    long long x = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9' && n < 18) {
        x = x * 10 + (*p - '0');
        p++;
        n++;
    }
    if (n == 0 || (*p >= '0' && *p <= '9')) return 0;
    *s = p;
    *v = x;
    return 1;
}
PTDEF void pt_world_score_text(const pt_problem *p, const char *text, pt_world_score *sc)
{
    const char *s = text;
    long long carry = 0, ans;
    int j, cols = pt__world_cols(p), steps_parsed_ok = 1;
    memset(sc, 0, sizeof *sc);
    sc->first_bad_step = -1;
    if (!text) return;
    if (!pt__lit(&s, "A: ")) { /* tolerate a missing "A: " prefix if the prompt already ended with it */ }
    /* no think block: a direct answer, still scored for correctness below (format_ok stays 0) */
    if (!pt__lit(&s, "<think>")) steps_parsed_ok = 0;
    for (j = 0; steps_parsed_ok; j++) {
        int vals[12], nv = 0, ok = 1, expect[12], ne, v;
        long long x, sum, want_sum;
        while (nv < 12 && pt__num(&s, &x)) {
            vals[nv++] = (int)(x > 1000000 ? 1000000 : x);
            if (!pt__lit(&s, "+"))
                break;
        }
        if (nv == 0 || !pt__lit(&s, "=") || !pt__num(&s, &sum)) {
            steps_parsed_ok = 0;
            break;
        }
        ne = j < cols ? pt__world_column(p, j, carry, expect, &want_sum) : 0;
        if (j >= cols || ne != nv) ok = 0;
        for (v = 0; ok && v < nv; v++) if (vals[v] != expect[v]) ok = 0;
        if (ok && sum != want_sum) ok = 0;
        if (j < 16) sc->step_ok[j] = ok;
        sc->steps_ok += ok;
        if (!ok && sc->first_bad_step < 0) sc->first_bad_step = j;
        carry = pt__world_carry(p, sum);   /* later steps are judged given the previous step's claimed sum */
        sc->n_steps = j + 1;
        if (!pt__lit(&s, ";")) break;
    }
    if (!steps_parsed_ok || !pt__lit(&s, "</think>") || !pt__lit(&s, "<answer>") || !pt__num(&s, &ans) ||
        !pt__lit(&s, "</answer>")) {
        sc->format_ok = 0;
        /* an answer may still be present even if the steps are malformed */
        {
            const char *a = strstr(text, "<answer>");
            if (a) {
                a += 8;
                if (pt__num(&a, &ans) && pt__lit(&a, "</answer>")) {
                    sc->correct = ans == p->answer;
                    sc->has_answer = 1;
                    sc->answer = ans;
                }
            }
        }
        return;
    }
    sc->format_ok = sc->n_steps >= 1;
    sc->correct = ans == p->answer;
    sc->has_answer = 1;
    sc->answer = ans;
}
PTDEF int pt_world_parse(const char *text, pt_problem *p)
{
    const char *s = text ? strstr(text, "Q: ") : NULL;
    pt_problem q;
    memset(&q, 0, sizeof q);
    if (!p) return pt__fail(PT_ERR_ARG, "pt_world_parse: p is NULL");
    for (; s; s = strstr(s + 1, "Q: ")) {   /* the first "Q: a+b=?" that parses */
        const char *c = s + 3;
        long long v;
        memset(&q, 0, sizeof q);
        int too_long = 0;
        while (q.n_terms < 8) {
            const char *start = c;
            if (!pt__num(&c, &v)) break;
            if (c - start > 15) {
                too_long = 1;
                break;
            } /* this question is malformed as a whole */
            q.terms[q.n_terms++] = v;
            q.answer += v;
            if (!pt__lit(&c, "+")) break;
        }
        if (!too_long && q.n_terms >= 2 && pt__lit(&c, "=?")) {
            q.rule = pt__lit(&c, " (no carry)") ? PT_RULE_NO_CARRY : PT_RULE_CARRY;
            pt__world_render(&q, NULL, 0.0f);
            *p = q;
            return PT_OK;
        }
    }
    return pt__fail(PT_ERR_FORMAT,
                    "pt_world_parse: no \"Q: a+b=?\" question (2 to 8 operands of up to 15 digits) in \"%.40s\"",
                    text ? text : "(null)");
}
/* Decode ids piece by piece into *text (NUL-terminated, heap) and, per character, the index of the
   token it came from (*owner, heap); prev is the token before ids[0] (BPE's leading space). */
static int pt__decode_owned(const pt_tokenizer *tok, int prev, const int *ids, int n, char **text_out,
                            int **owner_out, int *len_out)
{
    char *text = NULL;
    int *owner = NULL, len = 0, cap = 0, i;
    for (i = 0; i < n; i++) {
        char buf[16];
        const char *piece = tok->piece(tok, prev, ids[i], buf);
        int k = piece ? (int)strlen(piece) : 0, c;
        if (len + k + 1 > cap) {
            int nc = (len + k + 1) * 2 + 64;
            char *nt = (char *)PT_REALLOC(text, (size_t)nc);
            int *no = nt ? (int *)PT_REALLOC(owner, (size_t)nc * sizeof(int)) : NULL;
            if (nt) text = nt;
            if (no) owner = no;
            if (!nt || !no) {
                PT_FREE(text);
                PT_FREE(owner);
                return pt__fail(PT_ERR_NOMEM, "decoding %d tokens: out of memory", n);
            }
            cap = nc;
        }
        for (c = 0; c < k; c++) {
            text[len] = piece[c];
            owner[len] = i;
            len++;
        }
        prev = ids[i];
    }
    if (text) text[len] = 0;
    *text_out = text;
    *owner_out = owner;
    *len_out = len;
    return PT_OK;
}
/* The steps of a decoded completion: the tokens (owner[char]) of each ';'-separated piece of its
   think block, up to max_steps; a think block cut off before </think> gives its steps so far. */
static int pt__step_spans_text(const char *text, int len, const int *owner, int *start, int *end, int max_steps)
{
    const char *think = strstr(text, "<think>"), *close;
    int steps = 0;
    if (!think) return 0;
    think += 7;
    close = strstr(think, "</think>");
    if (!close) close = text + len;
    while (think < close && steps < max_steps) {
        const char *e = think;
        while (e < close && *e != ';') e++;
        if (e > think) {
            if (start) start[steps] = owner[think - text];
            if (end) end[steps] = owner[e - 1 - text];
            steps++;
        }
        think = e + 1;
    }
    return steps;
}
PTDEF int pt_world_step_spans(const pt_tokenizer *tok, const int *ids, int n, int *start, int *end, int max_steps)
{
    char *text = NULL;
    int *owner = NULL, len = 0, steps = 0;
    if (!tok || (!ids && n > 0) || n < 0 || max_steps < 0)
        return pt__fail(PT_ERR_ARG, "pt_world_step_spans: bad arguments");
    if ((steps = pt__decode_owned(tok, -1, ids, n, &text, &owner, &len)) != PT_OK) return steps;
    steps = text ? pt__step_spans_text(text, len, owner, start, end, max_steps) : 0;
    PT_FREE(text);
    PT_FREE(owner);
    return steps;
}
PTDEF int pt_world_quality(const pt_world_score *s)
{
    if (s->correct) return s->format_ok && s->steps_ok == s->n_steps ? 3 : 2;
    return s->format_ok ? 1 : 0;
}
PTDEF int pt_world_strength(const pt_world_score *a, const pt_world_score *b)
{
    int qa = pt_world_quality(a), qb = pt_world_quality(b);
    if (qa > qb) return qa - qb;
    if (qa == qb && a->n_steps - a->steps_ok < b->n_steps - b->steps_ok) return PT_STRENGTH_MARGINAL;
    return PT_STRENGTH_NONE;
}
PTDEF int pt_world_completion(const pt_problem *p, int flaw, pt_rng *rng, char *out, int cap)
{
    int cols, j, bad = -1;
    long long carry = 0, claimed = 0, place = 1, ans;
    size_t at = 0;
    if (!p || !out || cap < 2 || flaw < PT_FLAW_NONE || flaw > PT_FLAW_TRUNCATED || (flaw != PT_FLAW_NONE && !rng))
        return pt__fail(PT_ERR_ARG, "pt_world_completion: bad arguments (flaw %d, cap %d)", flaw, cap);
    cols = pt__world_cols(p);
    if (flaw == PT_FLAW_STEP || flaw == PT_FLAW_CARRIED) bad = pt_rng_int(rng, 0, cols - 1);
    at = pt__append(out, (size_t)cap, at, "<think>");
    for (j = 0; j < cols; j++) {
        int vals[10], nv, v;
        long long sum, written;
        nv = pt__world_column(p, j, carry, vals, &sum);
        written = sum;
        /* a slip changes the units digit only, so the carry (and so every other step) stays right:
           exactly one wrong step, which the answer either ignores (STEP) or carries (CARRIED) */
        if (j == bad) written = sum / 10 * 10 + (sum % 10 + pt_rng_int(rng, 1, 9)) % 10;
        for (v = 0; v < nv; v++) at = pt__append(out, (size_t)cap, at, "%s%d", v ? "+" : "", vals[v]);
        at = pt__append(out, (size_t)cap, at, "=%lld%s", written, j < cols - 1 ? ";" : "");
        claimed += (j < cols - 1 || p->rule == PT_RULE_NO_CARRY ? written % 10 : written) * place;
        place *= 10;
        carry = pt__world_carry(p, sum);
    }
    ans = flaw == PT_FLAW_CARRIED ? claimed : p->answer;
    if (flaw == PT_FLAW_ANSWER) {
        long long d = pt_rng_int(rng, 1, 9);
        ans = ans >= d && pt_rng_int(rng, 0, 1) ? ans - d : ans + d;
    }
    at = pt__append(out, (size_t)cap, at, "</think><answer>%lld</answer>", ans);
    if (flaw == PT_FLAW_TRUNCATED) {   /* cut somewhere inside the think block: that is its text */
        const char *close = strstr(out, "</think>");
        int lo = 7, hi = close ? (int)(close - out) : (int)strlen(out);
        out[hi > lo ? pt_rng_int(rng, lo, hi - 1) : lo] = 0;
        return (int)strlen(out);
    }
    return (int)at;
}
PTDEF double pt_pass_at_k(int n, int c, int k)
{
    /* Chen et al. 2021 (Codex), the numerically stable product form of 1 - C(n-c,k)/C(n,k) */
    double miss = 1.0;
    int i;
    if (n < 1 || k < 1 || c < 0 || c > n || k > n) return 0.0;
    if (n - c < k) return 1.0;
    for (i = n - c + 1; i <= n; i++) miss *= 1.0 - (double)k / i;
    return 1.0 - miss;
}
/* The prompts of an evaluation: the problems (held-out set, or train problems 0..n-1), each as
   ids with the model's virtual-token prefix. Sets *n to the problems found. */
typedef struct pt__world_prompts {
    pt_problem *probs;
    int *buf, **prompts, *lens;
    int n, maxp;
} pt__world_prompts;
static void pt__world_prompts_free(pt__world_prompts *w)
{
    PT_FREE(w->probs);
    PT_FREE(w->buf);
    PT_FREE(w->prompts);
    PT_FREE(w->lens);
    memset(w, 0, sizeof *w);
}
static int pt__world_prompts_make(pt_model *m, const pt_world_config *cfg, int split, uint64_t seed, int n, int chat,
                                  pt__world_prompts *w, const char *who)
{
    int i, stride = 192 + (m->tokens ? m->tokens->n_virtual : 0), nalloc = n > 0 ? n : 1;
    memset(w, 0, sizeof *w);
    if (n < 1) return pt__fail(PT_ERR_ARG, "%s: n %d must be >= 1", who, n);
    w->probs = (pt_problem *)PT_MALLOC((size_t)nalloc * sizeof(pt_problem));
    w->buf = (int *)PT_MALLOC((size_t)nalloc * stride * sizeof(int));
    w->prompts = (int **)PT_MALLOC((size_t)nalloc * sizeof(int *));
    w->lens = (int *)PT_MALLOC((size_t)nalloc * sizeof(int));
    if (!w->probs || !w->buf || !w->prompts || !w->lens) {
        pt__world_prompts_free(w);
        return pt__fail(PT_ERR_NOMEM, "%s: out of memory", who);
    }
    if (split != PT_WORLD_TRAIN) {
        if ((n = pt_world_heldout(cfg, split, n, w->probs)) < 1) {
            pt__world_prompts_free(w);
            return n < 0 ? n : pt__fail(PT_ERR_ARG, "%s: empty split", who);
        }
    } else {
        for (i = 0; i < n; i++) pt_world_problem(cfg, split, seed, i, &w->probs[i]);
    }
    for (i = 0; i < n; i++) {   /* prompts start with the model's virtual tokens (prompt tuning) */
        int k = pt_model_prompt_prefix(m, w->buf + (int64_t)i * stride, stride - 192), len;
        if (k < 0) {
            pt__world_prompts_free(w);
            return k;
        }
        w->prompts[i] = w->buf + (int64_t)i * stride;
        len = pt_world_prompt(&w->probs[i], chat, w->prompts[i] + k, 192);
        if (len < 0) {
            pt__world_prompts_free(w);
            return len;
        }
        w->lens[i] = len + k;
        if (w->lens[i] > w->maxp) w->maxp = w->lens[i];
    }
    w->n = n;
    if (m->cfg.seq_len - w->maxp < 1) {
        pt__world_prompts_free(w);
        return pt__fail(PT_ERR_ARG, "%s: seq_len %d leaves no room after a %d-token prompt", who, m->cfg.seq_len,
                        w->maxp);
    }
    return PT_OK;
}
/* A world generation: up to 160 new tokens, stopping at <|end|> (chat) or <eos>. */
static pt_gen_config pt__world_gen(const pt_model *m, int maxp, int chat)
{
    pt_gen_config g;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = m->cfg.seq_len - maxp < 160 ? m->cfg.seq_len - maxp : 160;
    g.stop_tokens[0] = chat ? PT_BYTE_END : PT_BYTE_EOS;
    g.n_stop_tokens = 1;
    return g;
}
static int pt__utf8_len(const unsigned char *s, size_t n);   /* section 9c */
/* Sequence i's completion as text, without a final stop marker. Sampled bytes need not form UTF-8:
   invalid ones become '?', so the text can go into records and JSONL (which must be UTF-8). */
static void pt__gen_text(const pt_gen_result *r, int i, char *text, int cap)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    int len = r->total_len[i] - r->prompt_len[i];
    const int *ids = r->tokens + (int64_t)i * r->width + r->prompt_len[i];
    size_t at = 0, n;
    if (len > 0 && (ids[len - 1] == PT_BYTE_END || ids[len - 1] == PT_BYTE_EOS)) len--;
    pt_decode(&tok, ids, len, text, cap);
    n = strlen(text);
    while (at < n) {
        int k = pt__utf8_len((const unsigned char *)text + at, n - at);
        if (k == 0) text[at++] = '?';
        at += (size_t)k;
    }
}
/* pt_world_eval, with each problem's verdict into each[i] when each is not NULL (n bytes) */
static int pt__world_eval(pt_model *m, const pt_world_config *cfg, int split, int n, int chat,
                          pt_world_eval_result *res, unsigned char *each)
{
    pt__world_prompts w;
    pt_gen_config g;
    pt_gen_result r;
    int i, st, steps = 0, steps_ok = 0;
    memset(res, 0, sizeof *res);
    memset(&r, 0, sizeof r);
    if (!m) return pt__fail(PT_ERR_ARG, "pt_world_eval: model is NULL");
    if ((st = pt__world_prompts_make(m, cfg, split, 0, n, chat, &w, "pt_world_eval")) != PT_OK) return st;
    g = pt__world_gen(m, w.maxp, chat);
    if ((st = pt_generate(m, (const int *const *)w.prompts, w.lens, w.n, 1, &g, &r)) != PT_OK) goto done;
    for (i = 0; i < w.n; i++) {
        char text[1024];
        pt_world_score sc;
        int d = pt__world_cols(&w.probs[i]);
        pt__gen_text(&r, i, text, sizeof text);
        pt_world_score_text(&w.probs[i], text, &sc);
        res->correct += sc.correct;
        if (each) each[i] = (unsigned char)sc.correct;
        if (d < 17) {
            res->n_by_digits[d]++;
            res->correct_by_digits[d] += sc.correct;
        }
        res->format_rate += (float)sc.format_ok;
        steps += sc.n_steps > 0 ? sc.n_steps : 1;
        steps_ok += sc.steps_ok;
        if (i == 0) {   /* question + completion, truncated to fit */
            size_t ql = strlen(w.probs[i].question), tl = strlen(text), room = sizeof res->first - 1;
            if (ql > room) ql = room;
            memcpy(res->first, w.probs[i].question, ql);
            if (tl > room - ql) tl = room - ql;
            memcpy(res->first + ql, text, tl);
            res->first[ql + tl] = 0;
        }
    }
    res->n = w.n;
    res->accuracy = (float)res->correct / (float)w.n;
    pt_binomial_interval(res->correct, w.n, &res->accuracy_lo, &res->accuracy_hi);
    res->format_rate /= (float)w.n;
    res->step_accuracy = steps ? (float)steps_ok / (float)steps : 0.0f;
done:
    pt_gen_result_free(&r);
    pt__world_prompts_free(&w);
    return st;
}
PTDEF int pt_world_eval(pt_model *m, const pt_world_config *cfg, int split, int n, int chat, pt_world_eval_result *res)
{
    return pt__world_eval(m, cfg, split, n, chat, res, NULL);
}
PTDEF void pt_mcnemar(int a_only, int b_only, float *z, float *p)
{
    double zz = a_only + b_only > 0 ? (b_only - a_only) / sqrt((double)(a_only + b_only)) : 0.0;
    if (z) *z = (float)zz;
    if (p) *p = (float)erfc(fabs(zz) / sqrt(2.0));   /* two-sided normal tail */
}
PTDEF int pt_world_eval_paired(pt_model *a, pt_model *b, const pt_world_config *cfg, int split, int n, int chat,
                               pt_paired_result *res)
{
    pt_world_eval_result ra, rb;
    unsigned char *each;
    int i, st;
    if (!res || n < 1) return pt__fail(PT_ERR_ARG, "pt_world_eval_paired: no result or n %d < 1", n);
    memset(res, 0, sizeof *res);
    if (!(each = (unsigned char *)PT_MALLOC((size_t)n * 2)))
        return pt__fail(PT_ERR_NOMEM, "pt_world_eval_paired: out of memory");
    st = pt__world_eval(a, cfg, split, n, chat, &ra, each);
    if (st == PT_OK) st = pt__world_eval(b, cfg, split, n, chat, &rb, each + n);
    if (st == PT_OK) {   /* the same fixed held-out set both times (pt_world_heldout), in the same order */
        res->n = ra.n;
        res->correct_a = ra.correct;
        res->correct_b = rb.correct;
        for (i = 0; i < ra.n; i++) {
            res->a_only += each[i] && !each[n + i];
            res->b_only += !each[i] && each[n + i];
        }
        pt_mcnemar(res->a_only, res->b_only, &res->z, &res->p);
    }
    PT_FREE(each);
    return st;
}
PTDEF int pt_world_eval_format(const pt_world_eval_result *res, char *out, int cap)
{
    size_t at, c = cap > 0 ? (size_t)cap : 0;
    int d, first = 1;
    char tmp[1];
    if (!out || c == 0) {
        out = tmp;
        c = 1;
    }
    at = pt__append(out, c, 0, "%5.1f%% [%4.1f, %4.1f] n=%d (", 100.0 * res->accuracy, 100.0 * res->accuracy_lo,
                    100.0 * res->accuracy_hi, res->n);
    for (d = 0; d < 17; d++) {
        if (!res->n_by_digits[d]) continue;
        at = pt__append(out, c, at, "%s%dd %d/%d", first ? "" : ", ", d, res->correct_by_digits[d],
                        res->n_by_digits[d]);
        first = 0;
    }
    return (int)pt__append(out, c, at, ")");
}
PTDEF int pt_world_eval_sampled(pt_model *m, const pt_world_config *cfg, int split, int n, int chat, int samples, int k,
                                const pt_sampler *s, uint64_t seed, pt_world_sampled_result *res)
{
    pt__world_prompts w;
    pt_world_eval_result greedy;
    pt_gen_config g;
    pt_gen_result r;
    long long *votes = NULL;
    int i, j, st;
    memset(res, 0, sizeof *res);
    memset(&r, 0, sizeof r);
    if (samples < 1 || k < 1 || k > samples || !s)
        return pt__fail(PT_ERR_ARG, "pt_world_eval_sampled: need 1 <= k (%d) <= samples (%d) and a sampler", k,
                        samples);
    if ((st = pt_world_eval(m, cfg, split, n, chat, &greedy)) != PT_OK) return st;
    if ((st = pt__world_prompts_make(m, cfg, split, 0, n, chat, &w, "pt_world_eval_sampled")) != PT_OK) return st;
    votes = (long long *)PT_MALLOC((size_t)samples * 2 * sizeof(long long));
    if (!votes) {
        st = pt__fail(PT_ERR_NOMEM, "pt_world_eval_sampled: out of memory");
        goto done;
    }
    g = pt__world_gen(m, w.maxp, chat);
    g.sampler = *s;
    g.seed = seed;
    if ((st = pt_generate(m, (const int *const *)w.prompts, w.lens, w.n, samples, &g, &r)) != PT_OK) goto done;
    for (i = 0; i < w.n; i++) {
        int c = 0, n_votes = 0, best = -1;
        for (j = 0; j < samples; j++) {   /* votes[2v] = an answer, votes[2v+1] = its count */
            char text[1024];
            pt_world_score sc;
            int v;
            pt__gen_text(&r, i * samples + j, text, sizeof text);
            pt_world_score_text(&w.probs[i], text, &sc);
            c += sc.correct;
            res->format_rate += (float)sc.format_ok;
            if (!sc.has_answer) continue;
            for (v = 0; v < n_votes && votes[2 * v] != sc.answer; v++) {}
            if (v == n_votes) {
                votes[2 * v] = sc.answer;
                votes[2 * v + 1] = 0;
                n_votes++;
            }
            votes[2 * v + 1]++;
        }
        for (j = 0; j < n_votes; j++) if (best < 0 || votes[2 * j + 1] > votes[2 * best + 1]) best = j;
        res->mean += (float)c / (float)samples;
        res->pass_at_k += (float)pt_pass_at_k(samples, c, k);
        res->majority += best >= 0 && votes[2 * best] == w.probs[i].answer ? 1.0f : 0.0f;
    }
    res->n = w.n;
    res->samples = samples;
    res->k = k;
    res->greedy = greedy.accuracy;
    res->mean /= (float)w.n;
    res->pass_at_k /= (float)w.n;
    res->majority /= (float)w.n;
    res->format_rate /= (float)w.n * (float)samples;
done:
    PT_FREE(votes);
    pt_gen_result_free(&r);
    pt__world_prompts_free(&w);
    return st;
}
PTDEF int64_t pt_world_corpus(const pt_world_config *cfg_in, uint64_t seed, int64_t n_docs, int *ids, int64_t cap)
{
    pt_world_config c;
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_rng noise_rng, direct_rng, variant_rng;
    int64_t d, n = 0;
    char doc[sizeof(((pt_problem *)0)->question) + sizeof(((pt_problem *)0)->solution) + 4];
    c = pt__world_resolve(cfg_in);
    pt_rng_seed(&noise_rng, seed ^ 0xA5A5A5A5ull);
    pt_rng_seed(&direct_rng, seed ^ 0xD12EC7ull);   /* its own stream: direct = 0 keeps the corpus as it was */
    pt_rng_seed(&variant_rng, seed ^ 0x7A21A7ull);  /* and so has the rule variant */
    for (d = 0; d < n_docs; d++) {
        pt_problem p;
        int k;
        const char *answer;
        pt_world_problem(&c, PT_WORLD_TRAIN, seed, d, &p);
        if (c.variant > 0 && pt_rng_uniform(&variant_rng) < c.variant) p.rule = PT_RULE_NO_CARRY;
        pt__world_render(&p, &noise_rng, c.noise);
        if (c.direct > 0 && pt_rng_uniform(&direct_rng) < c.direct && (answer = strstr(p.solution, "<answer>")))
            snprintf(doc, sizeof doc, "%sA: %s\n", p.question, answer);   /* the (possibly noisy) answer alone */
        else snprintf(doc, sizeof doc, "%s%s\n", p.question, p.solution);
        if (n + (int64_t)strlen(doc) + 2 > cap) break;
        k = tok.encode(&tok, doc, 1, 1, ids + n, (int)(cap - n));
        if (k < 0) break;
        n += k;
    }
    return n;
}

/* The question without its trailing newline: "Q: 47+85=?" */
static void pt__world_user_text(const pt_problem *p, char *out, size_t cap)
{
    size_t n = strlen(p->question);
    if (n > 0 && p->question[n - 1] == '\n') n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, p->question, n);
    out[n] = 0;
}
/* One preference record: prompt, chosen and rejected texts, the strength the rules give them. */
static int pt__pref_record(pt_record *r, int line, const pt_problem *p, const char *chosen, const char *rejected)
{
    char user[sizeof p->question];
    pt_world_score a, b;
    pt__world_user_text(p, user, sizeof user);
    pt_world_score_text(p, chosen, &a);
    pt_world_score_text(p, rejected, &b);
    r->line = line;
    r->prompt = pt__strdup(user);
    r->chosen = pt__strdup(chosen);
    r->rejected = pt__strdup(rejected);
    r->strength = (float)pt_world_strength(&a, &b);
    r->has_strength = 1;
    return r->prompt && r->chosen && r->rejected ? PT_OK : PT_ERR_NOMEM;
}
PTDEF int pt_world_preferences(const pt_world_config *cfg, int split, uint64_t seed, int n, int triples, pt_dataset *ds)
{
    /* pairs (chosen flaw, rejected flaw) per strength level: the level is their quality gap */
    static const int recipes[4][3][2] = {
        {{PT_FLAW_ANSWER, PT_FLAW_CARRIED}, {PT_FLAW_ANSWER, PT_FLAW_CARRIED}, {PT_FLAW_ANSWER, PT_FLAW_CARRIED}},
        {{PT_FLAW_NONE, PT_FLAW_STEP}, {PT_FLAW_STEP, PT_FLAW_ANSWER}, {PT_FLAW_CARRIED, PT_FLAW_TRUNCATED}},
        {{PT_FLAW_NONE, PT_FLAW_ANSWER}, {PT_FLAW_NONE, PT_FLAW_CARRIED}, {PT_FLAW_STEP, PT_FLAW_TRUNCATED}},
        {{PT_FLAW_NONE, PT_FLAW_TRUNCATED}, {PT_FLAW_NONE, PT_FLAW_TRUNCATED}, {PT_FLAW_NONE, PT_FLAW_TRUNCATED}}};
    pt_dataset out;
    pt_rng rng;
    int i, st = PT_OK;
    if (!ds || n < 1 || (triples && n % 3))
        return pt__fail(PT_ERR_ARG, "pt_world_preferences: need n >= 1%s, got %d",
                        triples ? " and a multiple of 3" : "", n);
    memset(&out, 0, sizeof out);
    out.kind = PT_DATA_PREFERENCE;
    out.records = (pt_record *)PT_MALLOC((size_t)n * sizeof(pt_record));
    if (!out.records) return pt__fail(PT_ERR_NOMEM, "pt_world_preferences: out of memory");
    memset(out.records, 0, (size_t)n * sizeof(pt_record));
    out.n = n;
    pt_rng_seed(&rng, seed ^ 0x5EEDBADull ^ (uint64_t)split << 40);
    for (i = 0; i < n && st == PT_OK; i += triples ? 3 : 1) {
        pt_problem p;
        char x[sizeof p.solution], y[sizeof p.solution], z[sizeof p.solution];
        pt_world_problem(cfg, split, seed, triples ? i / 3 : i, &p);
        if (triples) {   /* rejected: a wrong answer or a cut-off; chosen: right but flawed; edited: repaired */
            static const int wrong[3] = { PT_FLAW_ANSWER, PT_FLAW_CARRIED, PT_FLAW_TRUNCATED };
            pt_world_completion(&p, PT_FLAW_NONE, &rng, x, sizeof x);
            pt_world_completion(&p, PT_FLAW_STEP, &rng, y, sizeof y);
            pt_world_completion(&p, wrong[pt_rng_int(&rng, 0, 2)], &rng, z, sizeof z);
            st = pt__pref_record(&out.records[i], i + 1, &p, x, y);
            if (st == PT_OK) st = pt__pref_record(&out.records[i + 1], i + 2, &p, x, z);
            if (st == PT_OK) st = pt__pref_record(&out.records[i + 2], i + 3, &p, y, z);
        } else {         /* the four levels in turn, so each holds a quarter of the pairs */
            const int *rc = recipes[3 - i % 4][pt_rng_int(&rng, 0, 2)];
            pt_world_completion(&p, rc[0], &rng, x, sizeof x);
            pt_world_completion(&p, rc[1], &rng, y, sizeof y);
            st = pt__pref_record(&out.records[i], i + 1, &p, x, y);
        }
    }
    if (st != PT_OK) {
        pt_dataset_free(&out);
        return pt__fail(PT_ERR_NOMEM, "pt_world_preferences: out of memory");
    }
    *ds = out;
    return PT_OK;
}
PTDEF int pt_world_onpolicy_pairs(pt_model *m, const pt_world_config *cfg, int split, uint64_t seed, int n_problems,
                                  int samples, const pt_sampler *s, uint64_t gen_seed, pt_dataset *ds)
{
    pt__world_prompts w;
    pt_gen_config g;
    pt_gen_result r;
    pt_dataset out;
    char *texts = NULL;
    pt_world_score *sc = NULL;
    int i, j, st;
    const int text_cap = 1024;
    memset(&r, 0, sizeof r);
    memset(&out, 0, sizeof out);
    if (!ds || samples < 2 || !s)
        return pt__fail(PT_ERR_ARG, "pt_world_onpolicy_pairs: need ds, samples >= 2 (got %d) and a sampler", samples);
    if ((st = pt__world_prompts_make(m, cfg, split, seed, n_problems, 1, &w, "pt_world_onpolicy_pairs")) != PT_OK)
        return st;
    out.kind = PT_DATA_PREFERENCE;
    out.records = (pt_record *)PT_MALLOC((size_t)w.n * sizeof(pt_record));
    texts = (char *)PT_MALLOC((size_t)samples * text_cap);
    sc = (pt_world_score *)PT_MALLOC((size_t)samples * sizeof(pt_world_score));
    if (!out.records || !texts || !sc) {
        st = pt__fail(PT_ERR_NOMEM, "pt_world_onpolicy_pairs: out of memory");
        goto done;
    }
    memset(out.records, 0, (size_t)w.n * sizeof(pt_record));
    g = pt__world_gen(m, w.maxp, 1);
    g.sampler = *s;
    g.seed = gen_seed;
    if ((st = pt_generate(m, (const int *const *)w.prompts, w.lens, w.n, samples, &g, &r)) != PT_OK) goto done;
    for (i = 0; i < w.n; i++) {
        int best = 0, worst = 0;
        for (j = 0; j < samples; j++) {
            char *t = texts + (size_t)j * text_cap;
            pt__gen_text(&r, i * samples + j, t, text_cap);
            pt_world_score_text(&w.probs[i], t, &sc[j]);
            /* best: highest quality, then fewest wrong steps; worst the reverse; first seen on ties */
            if (pt_world_strength(&sc[j], &sc[best]) >= 0) best = j;
            if (pt_world_strength(&sc[worst], &sc[j]) >= 0) worst = j;
        }
        if (pt_world_strength(&sc[best], &sc[worst]) < 0 || !texts[(size_t)best * text_cap] ||
            !texts[(size_t)worst * text_cap])
            continue;
        if (pt__pref_record(&out.records[out.n], out.n + 1, &w.probs[i], texts + (size_t)best * text_cap,
                            texts + (size_t)worst * text_cap) != PT_OK) {
            out.n++;
            st = pt__fail(PT_ERR_NOMEM, "pt_world_onpolicy_pairs: out of memory");
            goto done;
        }
        out.n++;
    }
    *ds = out;
    memset(&out, 0, sizeof out);
done:
    pt_dataset_free(&out);
    PT_FREE(texts);
    PT_FREE(sc);
    pt_gen_result_free(&r);
    pt__world_prompts_free(&w);
    return st;
}
PTDEF int pt_world_prompt(const pt_problem *p, int chat, int *ids, int cap)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    char text[sizeof p->question + 64], user[sizeof p->question];
    if (!chat) {
        snprintf(text, sizeof text, "%sA: ", p->question);
        return tok.encode(&tok, text, 1, 0, ids, cap);
    }
    pt__world_user_text(p, user, sizeof user);
    pt_chat_text(NULL, user, NULL, text, (int)sizeof text);
    return tok.encode(&tok, text, 0, 0, ids, cap);   /* the template already starts with <bos> */
}
/* ------------------------------------------------------------------------------------------------
   9b. Chat template and SFT examples (implementation)                                       >>chat
   ------------------------------------------------------------------------------------------------ */
PTDEF int pt_chat_text(const char *system, const char *user, const char *assistant, char *out, int cap)
{
    size_t at = 0;
    if (!out || cap < 1) return pt__fail(PT_ERR_ARG, "pt_chat_text: no output buffer");
    at = pt__append(out, (size_t)cap, at, "<bos>");
    if (system) at = pt__append(out, (size_t)cap, at, "<|system|>%s<|end|>", system);
    at = pt__append(out, (size_t)cap, at, "<|user|>%s<|end|><|assistant|>", user ? user : "");
    if (assistant) at = pt__append(out, (size_t)cap, at, "%s<|end|><eos>", assistant);
    return (int)at;   /* the full length, snprintf-style (the text is truncated to cap - 1) */
}
PTDEF void pt_examples_free(pt_example *ex, int n)
{
    int i;
    if (!ex) return;
    for (i = 0; i < n; i++) {
        PT_FREE(ex[i].ids);
        PT_FREE(ex[i].train);
        ex[i].ids = NULL;
        ex[i].train = NULL;
    }
}
PTDEF int pt_world_sft_example(const pt_world_config *cfg, int split, uint64_t seed, int64_t index, pt_example *ex)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_problem p;
    char user[sizeof p.question], text[sizeof p.question + sizeof p.solution + 64];
    int ids[1024], n, np;
    memset(ex, 0, sizeof *ex);
    pt_world_problem(cfg, split, seed, index, &p);
    pt__world_user_text(&p, user, sizeof user);
    np = pt_world_prompt(&p, 1, ids, 1024);
    if (np < 0) return np;
    /* the assistant's text is the solution without the base format's "A: " */
    pt_chat_text(NULL, user, p.solution + 3, text, (int)sizeof text);
    n = tok.encode(&tok, text, 0, 0, ids, 1024);
    if (n < 0) return n;
    ex->ids = (int *)PT_MALLOC((size_t)n * sizeof(int));
    if (!ex->ids) return pt__fail(PT_ERR_NOMEM, "pt_world_sft_example: out of memory");
    memcpy(ex->ids, ids, (size_t)n * sizeof(int));
    ex->n_ids = n;
    ex->n_prompt = np;
    return PT_OK;
}
PTDEF int pt_pack_examples(const pt_example *ex, const int *order, int n_order, int B, int T, int pad_id,
                           int *tokens, int *targets, float *mask, int *pos, int *seg)
{
    int used = 0, b, i;
    for (i = 0; i < B * T; i++) {
        tokens[i] = pad_id;
        targets[i] = pad_id;
        mask[i] = 0.0f;
        pos[i] = 0;
        seg[i] = 0;
    }
    for (b = 0; b < B && used < n_order; b++) {
        int at = 0, segment = 0;
        while (used < n_order) {
            const pt_example *e = &ex[order[used]];
            int len = e->n_ids < T ? e->n_ids : T, t;
            if (len < 2) {
                used++;
                continue;
            } /* nothing to predict */
            if (at + len > T) {
                if (at == 0)
                    len = T;
                else
                    break;
            }
            segment++;
            for (t = 0; t < len; t++) {
                int r = b * T + at + t;
                tokens[r] = e->ids[t];
                pos[r] = t;
                seg[r] = segment;
                if (t + 1 < len) {
                    targets[r] = e->ids[t + 1];
                    /* predict completion tokens only */
                    mask[r] = (e->train ? e->train[t + 1] != 0 : t + 1 >= e->n_prompt) ? 1.0f : 0.0f;
                }
            }
            at += len;
            used++;
        }
    }
    return used;
}

/* ------------------------------------------------------------------------------------------------
   9c. Datasets: strict JSONL (implementation)                                              >>jsonl
   A recursive-descent parser over one line at a time. The schemas' field names are decoded wherever
   they appear (the schema may be decided by this very line); any other value is still fully
   validated and then skipped.
   ------------------------------------------------------------------------------------------------ */
#define PT__JSONL_MAX_LINE (1 << 20)   /* the default line limit, bytes without the line end */
typedef struct pt__json {
    const unsigned char *s;
    size_t n, at; /* the line, without its line end */
    const char *file;
    int line, depth;
} pt__json;
static int pt__jfail(const pt__json *j, size_t at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pt__fail(PT_ERR_FORMAT, "%s:%d:%zu: %s", j->file, j->line, at + 1, msg);
}
/* "found 'x'" / "found end of line" for messages */
static const char *pt__jfound(const pt__json *j, char buf[32])
{
    unsigned char c;
    if (j->at >= j->n) return "end of line";
    c = j->s[j->at];
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 32, "'%c'", c);
    else snprintf(buf, 32, "byte 0x%02x", c);
    return buf;
}
static void pt__jws(pt__json *j)
{
    while (j->at < j->n && (j->s[j->at] == ' ' || j->s[j->at] == '\t' || j->s[j->at] == '\r'))
        j->at++;
}
/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static int pt__utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;   /* no overlongs, no surrogates */
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;   /* <= U+10FFFF */
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}
static int pt__jhex4(const pt__json *j, size_t at, unsigned *out)
{
    unsigned v = 0;
    int i;
    if (at + 4 > j->n) return 0;
    for (i = 0; i < 4; i++) {
        unsigned c = j->s[at + i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return 0;
    }
    *out = v;
    return 1;
}
/* A string; decoded into a new buffer when out != NULL. */
static int pt__jstring(pt__json *j, char **out)
{
    size_t start, end, o = 0;
    char *buf = NULL;
    char found[32];
    if (j->at >= j->n || j->s[j->at] != '"')
        return pt__jfail(j, j->at, "expected a string, found %s", pt__jfound(j, found));
    start = ++j->at;
    for (end = start; end < j->n && j->s[end] != '"'; end++)   /* find the closing quote to size the buffer */
        if (j->s[end] == '\\') end++;
    if (end >= j->n) return pt__jfail(j, start - 1, "unterminated string");
    if (out && !(buf = (char *)PT_MALLOC(end - start + 1)))
        return pt__fail(PT_ERR_NOMEM, "%s:%d: out of memory", j->file, j->line);
    while (j->at < end) {
        unsigned c = j->s[j->at];
        if (c < 0x20) {
            PT_FREE(buf);
            return pt__jfail(j, j->at, "unescaped control character (byte 0x%02x) in a string", c);
        }
        if (c != '\\') {
            if (buf) buf[o++] = (char)c;
            j->at++;
            continue;
        }
        c = j->s[j->at + 1];
        if (c == 'u') {
            unsigned u, lo;
            if (!pt__jhex4(j, j->at + 2, &u)) {
                PT_FREE(buf);
                return pt__jfail(j, j->at, "\\u must be followed by 4 hex digits");
            }
            if (u >= 0xDC00 && u <= 0xDFFF) {
                PT_FREE(buf);
                return pt__jfail(j, j->at, "unpaired low surrogate \\u%04X", u);
            }
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (j->at + 12 > end || j->s[j->at + 6] != '\\' || j->s[j->at + 7] != 'u' ||
                    !pt__jhex4(j, j->at + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    PT_FREE(buf);
                    return pt__jfail(j, j->at, "high surrogate \\u%04X is not followed by a low surrogate", u);
                }
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                j->at += 6;
            }
            if (u == 0) {
                PT_FREE(buf);
                return pt__jfail(j, j->at, "\\u0000 (NUL) is not supported in strings");
            }
            j->at += 6;
            if (!buf) continue;
            if (u < 0x80) buf[o++] = (char)u;
            else if (u < 0x800) {
                buf[o++] = (char)(0xC0 | (u >> 6));
                buf[o++] = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                buf[o++] = (char)(0xE0 | (u >> 12));
                buf[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
                buf[o++] = (char)(0x80 | (u & 0x3F));
            } else {
                buf[o++] = (char)(0xF0 | (u >> 18));
                buf[o++] = (char)(0x80 | ((u >> 12) & 0x3F));
                buf[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
                buf[o++] = (char)(0x80 | (u & 0x3F));
            }
            continue;
        }
        switch (c) {
        case '"': case '\\': case '/': break;
        case 'b': c = '\b'; break; case 'f': c = '\f'; break; case 'n': c = '\n'; break;
        case 'r': c = '\r'; break; case 't': c = '\t'; break;
        default:
            PT_FREE(buf);
            return pt__jfail(j, j->at, "invalid escape '\\%c'", c >= 0x20 && c < 0x7f ? (int)c : '?');
        }
        if (buf) buf[o++] = (char)c;
        j->at += 2;
    }
    j->at = end + 1;
    if (buf) {
        buf[o] = 0;
        *out = buf;
    }
    return PT_OK;
}
static int pt__jnumber(pt__json *j, double *out)
{
    size_t s0 = j->at, len;
    char tmp[64], found[32];
    const unsigned char *s = j->s;
    if (j->at < j->n && s[j->at] == '-') j->at++;
    if (j->at < j->n && s[j->at] == '0') {
        j->at++;
        if (j->at < j->n && s[j->at] >= '0' && s[j->at] <= '9')
            return pt__jfail(j, s0, "leading zeros are not allowed in a number");
    } else if (j->at < j->n && s[j->at] >= '1' && s[j->at] <= '9')
        while (j->at < j->n && s[j->at] >= '0' && s[j->at] <= '9')
            j->at++;
    else return pt__jfail(j, j->at, "expected a number, found %s", pt__jfound(j, found));
    if (j->at < j->n && s[j->at] == '.') {
        j->at++;
        if (!(j->at < j->n && s[j->at] >= '0' && s[j->at] <= '9'))
            return pt__jfail(j, j->at, "expected a digit after '.'");
        while (j->at < j->n && s[j->at] >= '0' && s[j->at] <= '9') j->at++;
    }
    if (j->at < j->n && (s[j->at] == 'e' || s[j->at] == 'E')) {
        j->at++;
        if (j->at < j->n && (s[j->at] == '+' || s[j->at] == '-')) j->at++;
        if (!(j->at < j->n && s[j->at] >= '0' && s[j->at] <= '9'))
            return pt__jfail(j, j->at, "expected a digit in the exponent");
        while (j->at < j->n && s[j->at] >= '0' && s[j->at] <= '9') j->at++;
    }
    len = j->at - s0;
    if (len >= sizeof tmp) return pt__jfail(j, s0, "number longer than %d characters", (int)sizeof tmp - 1);
    memcpy(tmp, s + s0, len);
    tmp[len] = 0;
    *out = strtod(tmp, NULL);   /* the grammar is checked above; strtod only converts */
    if (!isfinite(*out)) return pt__jfail(j, s0, "number %s out of range", tmp);
    return PT_OK;
}
static int pt__jvalue(pt__json *j);   /* validate and skip any value */
/* An object's `"key" :` (whitespace around it); the decoded key goes to *key when key != NULL. */
static int pt__jkey(pt__json *j, char **key, size_t *key_at)
{
    char found[32];
    int st;
    pt__jws(j);
    if (key_at) *key_at = j->at;
    if ((st = pt__jstring(j, key)) != PT_OK) return st;
    pt__jws(j);
    if (j->at >= j->n || j->s[j->at] != ':') {
        if (key) {
            PT_FREE(*key);
            *key = NULL;
        }
        return pt__jfail(j, j->at, "expected ':' after a key, found %s", pt__jfound(j, found));
    }
    j->at++;
    pt__jws(j);
    return PT_OK;
}
static int pt__jcontainer(pt__json *j, int object)
{
    char found[32];
    int st;
    if (++j->depth > 64) return pt__jfail(j, j->at, "nested deeper than 64 levels");
    j->at++;   /* past '{' or '[' */
    pt__jws(j);
    if (j->at < j->n && j->s[j->at] == (object ? '}' : ']')) {
        j->at++;
        j->depth--;
        return PT_OK;
    }
    for (;;) {
        pt__jws(j);
        if (object && (st = pt__jkey(j, NULL, NULL)) != PT_OK) return st;
        if ((st = pt__jvalue(j)) != PT_OK) return st;
        pt__jws(j);
        if (j->at < j->n && j->s[j->at] == ',') {
            j->at++;
            continue;
        }
        if (j->at < j->n && j->s[j->at] == (object ? '}' : ']')) {
            j->at++;
            j->depth--;
            return PT_OK;
        }
        return pt__jfail(j, j->at,
                         object ? "expected ',' or '}' in an object, found %s"
                                : "expected ',' or ']' in an array, found %s",
                         pt__jfound(j, found));
    }
}
static int pt__jvalue(pt__json *j)
{
    char found[32];
    double d;
    if (j->at >= j->n) return pt__jfail(j, j->at, "expected a value, found end of line");
    switch (j->s[j->at]) {
    case '{': return pt__jcontainer(j, 1);
    case '[': return pt__jcontainer(j, 0);
    case '"': return pt__jstring(j, NULL);
    case 't': if (j->n - j->at >= 4 && memcmp(j->s + j->at, "true", 4) == 0) { j->at += 4; return PT_OK; } break;
    case 'f': if (j->n - j->at >= 5 && memcmp(j->s + j->at, "false", 5) == 0) { j->at += 5; return PT_OK; } break;
    case 'n': if (j->n - j->at >= 4 && memcmp(j->s + j->at, "null", 4) == 0) { j->at += 4; return PT_OK; } break;
    default: if (j->s[j->at] == '-' || (j->s[j->at] >= '0' && j->s[j->at] <= '9')) return pt__jnumber(j, &d);
    }
    return pt__jfail(j, j->at, "expected a JSON value, found %s", pt__jfound(j, found));
}
static void pt__record_free(pt_record *r)
{
    int i;
    PT_FREE(r->text);
    PT_FREE(r->prompt);
    PT_FREE(r->completion);
    PT_FREE(r->chosen);
    PT_FREE(r->rejected);
    PT_FREE(r->answer);
    for (i = 0; i < r->n_messages; i++) {
        PT_FREE(r->messages[i].role);
        PT_FREE(r->messages[i].content);
    }
    PT_FREE(r->messages);
    memset(r, 0, sizeof *r);
}
PTDEF void pt_dataset_free(pt_dataset *ds)
{
    int i;
    if (!ds) return;
    for (i = 0; i < ds->n; i++) pt__record_free(&ds->records[i]);
    PT_FREE(ds->records);
    memset(ds, 0, sizeof *ds);
}
PTDEF const char *pt_data_kind_name(int kind)
{
    static const char *const names[] = {"auto", "text", "completion", "messages", "preference", "prompt"};
    return kind >= 0 && kind <= PT_DATA_PROMPT ? names[kind] : "unknown";
}
/* One message object {"role": ..., "content": ...} */
/* The fields of an object whose '{' is at j->at, one per call: 1 and the next field's key (*key, for
   the caller to free) with its position, 0 after the closing '}', or an error status (< 0). `where`
   names the place in the error for a missing ',' or '}'. */
static int pt__jfield(pt__json *j, int *started, char **key, size_t *key_at, const char *where)
{
    char found[32];
    int st;
    pt__jws(j);
    if (!*started) {
        *started = 1;
        j->at++;   /* the '{' */
        pt__jws(j);
        if (j->at < j->n && j->s[j->at] == '}') {
            j->at++;
            return 0;
        }
    } else if (j->at < j->n && j->s[j->at] == ',') {
        j->at++;
    } else if (j->at < j->n && j->s[j->at] == '}') {
        j->at++;
        return 0;
    } else {
        return pt__jfail(j, j->at, "expected ',' or '}' %s, found %s", where, pt__jfound(j, found));
    }
    if ((st = pt__jkey(j, key, key_at)) != PT_OK) return st;
    return 1;
}
static int pt__jmessage(pt__json *j, pt_message *msg)
{
    char found[32], *key = NULL;
    size_t obj_at = j->at, key_at;
    int st, started = 0;
    if (j->at >= j->n || j->s[j->at] != '{')
        return pt__jfail(j, j->at, "expected a message object {\"role\", \"content\"}, found %s", pt__jfound(j, found));
    if (++j->depth > 64) return pt__jfail(j, j->at, "nested deeper than 64 levels");
    while ((st = pt__jfield(j, &started, &key, &key_at, "in a message")) == 1) {
        size_t val_at = j->at;
        char **dst = NULL;
        if (strcmp(key, "role") == 0) dst = &msg->role;
        else if (strcmp(key, "content") == 0) dst = &msg->content;
        if (dst && *dst) {
            st = pt__jfail(j, key_at, "field \"%s\" appears twice in a message", key);
            PT_FREE(key);
            return st;
        }
        PT_FREE(key);
        key = NULL;
        if (dst) {
            if (j->at >= j->n || j->s[j->at] != '"')
                return pt__jfail(j, val_at, "wrong type: message field \"%s\" must be a string, found %s",
                                 dst == &msg->role ? "role" : "content", pt__jfound(j, found));
            if ((st = pt__jstring(j, dst)) != PT_OK) return st;
            if (dst == &msg->role && strcmp(msg->role, "system") != 0 && strcmp(msg->role, "user") != 0 &&
                strcmp(msg->role, "assistant") != 0)
                return pt__jfail(j, val_at, "role \"%s\" is not one of \"system\", \"user\", \"assistant\"", msg->role);
        } else if ((st = pt__jvalue(j)) != PT_OK) return st;
    }
    if (st < 0) return st;
    j->depth--;
    if (!msg->role) return pt__jfail(j, obj_at, "message without a \"role\"");
    if (!msg->content) return pt__jfail(j, obj_at, "message without a \"content\"");
    return PT_OK;
}
static int pt__jmessages(pt__json *j, pt_record *r)
{
    char found[32];
    int st, cap = 0;
    size_t arr_at = j->at;
    if (j->at >= j->n || j->s[j->at] != '[')
        return pt__jfail(j, j->at, "wrong type: \"messages\" must be an array of messages, found %s",
                         pt__jfound(j, found));
    if (++j->depth > 64) return pt__jfail(j, j->at, "nested deeper than 64 levels");   /* the array is a level */
    j->at++;
    pt__jws(j);
    if (j->at < j->n && j->s[j->at] == ']') return pt__jfail(j, arr_at, "\"messages\" is empty");
    for (;;) {
        pt__jws(j);
        if (r->n_messages == cap) {
            int nc = cap ? cap * 2 : 4;
            pt_message *nm = (pt_message *)PT_REALLOC(r->messages, (size_t)nc * sizeof(pt_message));
            if (!nm) return pt__fail(PT_ERR_NOMEM, "%s:%d: out of memory", j->file, j->line);
            r->messages = nm;
            cap = nc;
        }
        memset(&r->messages[r->n_messages], 0, sizeof(pt_message));
        r->n_messages++;   /* counted before parsing, so a failure frees what was read */
        if ((st = pt__jmessage(j, &r->messages[r->n_messages - 1])) != PT_OK) return st;
        pt__jws(j);
        if (j->at < j->n && j->s[j->at] == ',') {
            j->at++;
            continue;
        }
        if (j->at < j->n && j->s[j->at] == ']') {
            j->at++;
            j->depth--;
            return PT_OK;
        }
        return pt__jfail(j, j->at, "expected ',' or ']' in \"messages\", found %s", pt__jfound(j, found));
    }
}
/* One line: an object whose schema fields are decoded into *r. */
static int pt__jrecord(pt__json *j, pt_record *r)
{
    static const char *const str_fields[6] = {"text", "prompt", "completion", "chosen", "rejected", "answer"};
    char found[32], *key = NULL;
    size_t key_at;
    int st, k, seen_messages = 0, started = 0;
    pt__jws(j);
    if (j->at >= j->n || j->s[j->at] != '{')
        return pt__jfail(j, j->at, "expected '{' (each line must be one JSON object), found %s", pt__jfound(j, found));
    j->depth = 1;
    while ((st = pt__jfield(j, &started, &key, &key_at, "after a field")) == 1) {
        size_t val_at = j->at;
        char **dst = NULL;
        for (k = 0; k < 6; k++) if (strcmp(key, str_fields[k]) == 0) break;
        if (k < 6) {
            char **fields[6];
            fields[0] = &r->text;
            fields[1] = &r->prompt;
            fields[2] = &r->completion;
            fields[3] = &r->chosen;
            fields[4] = &r->rejected;
            fields[5] = &r->answer;
            dst = fields[k];
            if (*dst) {
                st = pt__jfail(j, key_at, "field \"%s\" appears twice", key);
                PT_FREE(key);
                return st;
            }
            if (j->at >= j->n || j->s[j->at] != '"') {
                st = pt__jfail(j, val_at, "wrong type: field \"%s\" must be a string, found %s", key,
                               pt__jfound(j, found));
                PT_FREE(key);
                return st;
            }
            PT_FREE(key);
            key = NULL;
            if ((st = pt__jstring(j, dst)) != PT_OK) return st;
        } else if (strcmp(key, "messages") == 0) {
            PT_FREE(key);
            key = NULL;
            if (seen_messages) return pt__jfail(j, key_at, "field \"messages\" appears twice");
            seen_messages = 1;
            if ((st = pt__jmessages(j, r)) != PT_OK) return st;
        } else if (strcmp(key, "strength") == 0 || strcmp(key, "margin") == 0) {
            double d;
            if (r->has_strength) {
                st = pt__jfail(j, key_at, "field \"%s\": a record has one \"strength\" or \"margin\"", key);
                PT_FREE(key);
                return st;
            }
            if (j->at >= j->n || !(j->s[j->at] == '-' || (j->s[j->at] >= '0' && j->s[j->at] <= '9'))) {
                st = pt__jfail(j, val_at, "wrong type: field \"%s\" must be a number, found %s", key,
                               pt__jfound(j, found));
                PT_FREE(key);
                return st;
            }
            PT_FREE(key);
            key = NULL;
            if ((st = pt__jnumber(j, &d)) != PT_OK) return st;
            if (!(fabs(d) < 1e30)) return pt__jfail(j, val_at, "preference strength %g out of range", d);
            r->strength = (float)d;
            r->has_strength = 1;
        } else {
            PT_FREE(key);
            key = NULL;
            if ((st = pt__jvalue(j)) != PT_OK) return st;   /* a field outside the schemas: validated, skipped */
        }
    }
    if (st < 0) return st;
    pt__jws(j);
    if (j->at < j->n)
        return pt__jfail(j, j->at, "expected the end of the line after the object, found %s", pt__jfound(j, found));
    return PT_OK;
}
static int pt__record_kind(const pt_record *r)
{
    if (r->messages) return PT_DATA_MESSAGES;
    if (r->chosen || r->rejected) return PT_DATA_PREFERENCE;
    if (r->completion) return PT_DATA_COMPLETION;
    if (r->text) return PT_DATA_TEXT;
    if (r->prompt) return PT_DATA_PROMPT;
    return PT_DATA_AUTO;
}
/* The schema's required fields, or the name of the first one missing. */
static const char *pt__record_missing(const pt_record *r, int kind)
{
    switch (kind) {
    case PT_DATA_TEXT: return r->text ? NULL : "text";
    case PT_DATA_COMPLETION: return !r->prompt ? "prompt" : !r->completion ? "completion" : NULL;
    case PT_DATA_MESSAGES: return r->messages ? NULL : "messages";
    case PT_DATA_PREFERENCE: return !r->prompt ? "prompt" : !r->chosen ? "chosen" : !r->rejected ? "rejected" : NULL;
    default: return r->prompt ? NULL : "prompt";
    }
}
/* What the reader would reject in a record built in memory (NULL if it is fine): the schema's
   fields, message roles and contents, valid UTF-8, a finite strength. */
static int pt__utf8_ok(const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        int k = pt__utf8_len((const unsigned char *)s + i, n - i);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}
static const char *pt__record_invalid(const pt_record *r, int kind, char why[96])
{
    const char *miss = pt__record_missing(r, kind), *const fields[6] = {r->text,   r->prompt,   r->completion,
                                                                        r->chosen, r->rejected, r->answer};
    int i;
    if (miss) {
        snprintf(why, 96, "has no \"%s\"", miss);
        return why;
    }
    for (i = 0; i < 6; i++)
        if (fields[i] && !pt__utf8_ok(fields[i])) {
            snprintf(why, 96, "has a string that is not valid UTF-8");
            return why;
        }
    if (kind == PT_DATA_MESSAGES) {
        if (r->n_messages < 1) {
            snprintf(why, 96, "has no messages");
            return why;
        }
        for (i = 0; i < r->n_messages; i++) {
            const pt_message *msg = &r->messages[i];
            if (!msg->role || !msg->content) {
                snprintf(why, 96, "message %d has no %s", i, msg->role ? "content" : "role");
                return why;
            }
            if (strcmp(msg->role, "system") != 0 && strcmp(msg->role, "user") != 0 &&
                strcmp(msg->role, "assistant") != 0) {
                snprintf(why, 96, "message %d has role \"%.32s\" (system, user or assistant)", i, msg->role);
                return why;
            }
            if (!pt__utf8_ok(msg->content) || !pt__utf8_ok(msg->role)) {
                snprintf(why, 96, "message %d is not valid UTF-8", i);
                return why;
            }
        }
    }
    if (r->has_strength && !(fabsf(r->strength) < 1e30f)) {
        snprintf(why, 96, "has strength %g (finite, |x| < 1e30)", (double)r->strength);
        return why;
    }
    return NULL;
}
PTDEF int pt_jsonl_parse(const char *name, const char *text, size_t len, int kind, size_t max_line, pt_dataset *ds)
{
    pt_dataset out;
    size_t at = 0;
    int line = 0, cap = 0, st = PT_OK, kind_line = 0;
    if (!ds || (!text && len)) return pt__fail(PT_ERR_ARG, "pt_jsonl_parse: NULL dataset or text");
    if (kind < PT_DATA_AUTO || kind > PT_DATA_PROMPT)
        return pt__fail(PT_ERR_ARG, "pt_jsonl_parse: unknown schema %d", kind);
    if (!name) name = "<jsonl>";
    if (max_line == 0) max_line = PT__JSONL_MAX_LINE;
    memset(&out, 0, sizeof out);
    out.kind = kind;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) at = 3;   /* a byte-order mark */
    while (at < len) {
        const unsigned char *s = (const unsigned char *)text + at;
        size_t n = 0, i, next;
        pt__json j;
        pt_record r;
        while (at + n < len && s[n] != '\n') n++;
        next = at + n + 1;
        line++;
        if (n > 0 && s[n - 1] == '\r') n--;
        at = next;
        if (n > max_line) {
            st = pt__fail(PT_ERR_FORMAT, "%s:%d:1: line is %zu bytes, longer than the limit of %zu", name, line, n,
                          max_line);
            goto fail;
        }
        for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++) {}
        if (i == n) continue;   /* blank line */
        for (i = 0; i < n;) {
            int k = pt__utf8_len(s + i, n - i);
            if (!k) {
                st = pt__fail(PT_ERR_FORMAT, "%s:%d:%zu: invalid UTF-8 (byte 0x%02x)", name, line, i + 1, s[i]);
                goto fail;
            }
            i += (size_t)k;
        }
        memset(&j, 0, sizeof j);
        j.s = s;
        j.n = n;
        j.file = name;
        j.line = line;
        memset(&r, 0, sizeof r);
        r.line = line;
        if ((st = pt__jrecord(&j, &r)) != PT_OK) {
            pt__record_free(&r);
            goto fail;
        }
        if (out.kind == PT_DATA_AUTO) {
            if ((out.kind = pt__record_kind(&r)) == PT_DATA_AUTO) {
                pt__record_free(&r);
                st = pt__fail(PT_ERR_FORMAT,
                              "%s:%d:1: no dataset fields: expected \"text\", \"prompt\"+\"completion\", \"messages\", "
                              "\"prompt\"+\"chosen\"+\"rejected\" or \"prompt\"",
                              name, line);
                goto fail;
            }
            kind_line = line;
        }
        {
            const char *miss = pt__record_missing(&r, out.kind);
            if (miss) {
                pt__record_free(&r);
                if (kind_line)
                    st =
                        pt__fail(PT_ERR_FORMAT, "%s:%d:1: missing field \"%s\" (the file's schema is %s, from line %d)",
                                 name, line, miss, pt_data_kind_name(out.kind), kind_line);
                else
                    st = pt__fail(PT_ERR_FORMAT, "%s:%d:1: missing field \"%s\" (schema %s)", name, line, miss,
                                  pt_data_kind_name(out.kind));
                goto fail;
            }
        }
        if (out.n == cap) {
            int nc = cap ? cap * 2 : 64;
            pt_record *nr =
                cap > INT_MAX / 2 ? NULL : (pt_record *)PT_REALLOC(out.records, (size_t)nc * sizeof(pt_record));
            if (!nr) {
                pt__record_free(&r);
                st = pt__fail(PT_ERR_NOMEM, "%s:%d: out of memory", name, line);
                goto fail;
            }
            out.records = nr;
            cap = nc;
        }
        out.records[out.n++] = r;
    }
    if (out.n == 0) {
        st = pt__fail(PT_ERR_FORMAT, "%s: no records", name);
        goto fail;
    }
    *ds = out;
    return PT_OK;
fail:
    pt_dataset_free(&out);
    return st;
}
PTDEF int pt_jsonl_load(const char *path, int kind, size_t max_line, pt_dataset *ds)
{
    unsigned char *data = NULL;
    size_t n = 0;
    int st;
    if ((st = pt_read_file(path, &data, &n)) != PT_OK) return st;
    st = pt_jsonl_parse(path, (const char *)data, n, kind, max_line, ds);
    PT_FREE(data);
    return st;
}
static void pt__put_jstring(pt__wbuf *w, const char *key, const char *v, int first)
{
    const unsigned char *p = (const unsigned char *)v;
    char esc[8];
    if (!first) pt__put(w, ", ", 2);
    pt__put(w, "\"", 1);
    pt__put(w, key, strlen(key));
    pt__put(w, "\": \"", 4);
    for (; *p; p++) {
        switch (*p) {
        case '"': pt__put(w, "\\\"", 2); break;
        case '\\': pt__put(w, "\\\\", 2); break;
        case '\n': pt__put(w, "\\n", 2); break;
        case '\r': pt__put(w, "\\r", 2); break;
        case '\t': pt__put(w, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                pt__put(w, esc, 6);
            } else
                pt__put(w, p, 1);
        }
    }
    pt__put(w, "\"", 1);
}
PTDEF int pt_jsonl_save(const pt_dataset *ds, const char *path)
{
    pt__wbuf w;
    int i, k, st;
    if (!ds || ds->kind < PT_DATA_TEXT || ds->kind > PT_DATA_PROMPT)
        return pt__fail(PT_ERR_ARG, "%s: pt_jsonl_save needs a dataset with a schema", path);
    if (ds->n < 1 || !ds->records)
        return pt__fail(PT_ERR_ARG, "%s: pt_jsonl_save: no records (the reader refuses an empty file); nothing written",
                        path);
    memset(&w, 0, sizeof w);
    for (i = 0; i < ds->n; i++) {
        const pt_record *r = &ds->records[i];
        size_t line_start = w.n;
        char why[96];
        if (pt__record_invalid(r, ds->kind, why)) {
            PT_FREE(w.p);
            return pt__fail(PT_ERR_ARG, "%s: record %d %s; nothing written", path, i, why);
        }
        pt__put(&w, "{", 1);
        switch (ds->kind) {
        case PT_DATA_TEXT: pt__put_jstring(&w, "text", r->text, 1); break;
        case PT_DATA_COMPLETION:
            pt__put_jstring(&w, "prompt", r->prompt, 1);
            pt__put_jstring(&w, "completion", r->completion, 0);
            break;
        case PT_DATA_MESSAGES:
            pt__put(&w, "\"messages\": [", 13);
            for (k = 0; k < r->n_messages; k++) {
                pt__put(&w, k ? ", {" : "{", k ? 3 : 1);
                pt__put_jstring(&w, "role", r->messages[k].role, 1);
                pt__put_jstring(&w, "content", r->messages[k].content, 0);
                pt__put(&w, "}", 1);
            }
            pt__put(&w, "]", 1);
            break;
        case PT_DATA_PREFERENCE:
            pt__put_jstring(&w, "prompt", r->prompt, 1);
            pt__put_jstring(&w, "chosen", r->chosen, 0);
            pt__put_jstring(&w, "rejected", r->rejected, 0);
            if (r->has_strength) {
                char num[48];
                int len = snprintf(num, sizeof num, ", \"strength\": %.9g", (double)r->strength);
                pt__put(&w, num, (size_t)len);
            }
            break;
        default:
            pt__put_jstring(&w, "prompt", r->prompt, 1);
            if (r->answer) pt__put_jstring(&w, "answer", r->answer, 0);
        }
        pt__put(&w, "}\n", 2);
        if (!w.err && w.n - line_start - 1 > PT__JSONL_MAX_LINE) {
            PT_FREE(w.p);
            return pt__fail(PT_ERR_ARG,
                            "%s: record %d would be a line of %zu bytes, longer than the reader's default limit of %d; "
                            "nothing written",
                            path, i, w.n - line_start - 1, PT__JSONL_MAX_LINE);
        }
    }
    st = w.err ? pt__fail(PT_ERR_NOMEM, "%s: out of memory", path) : pt_write_file_atomic(path, w.p, w.n);
    PT_FREE(w.p);
    return st;
}
/* growing token buffer for pt_record_example */
typedef struct pt__ids {
    int *ids;
    unsigned char *train;
    int n, cap, err;
} pt__ids;
static void pt__ids_text(pt__ids *v, const pt_tokenizer *tok, const char *text, int bos, int eos, int train)
{
    int need, k, i;
    if (v->err) return;
    need = (int)strlen(text) * 2 + 8;   /* byte: one id per byte; BPE: at most bytes + 3 */
    if (v->n + need > v->cap) {
        int nc = v->cap ? v->cap : 256;
        int *ni;
        unsigned char *nt;
        while (nc < v->n + need) nc *= 2;
        ni = (int *)PT_REALLOC(v->ids, (size_t)nc * sizeof(int));
        if (!ni) {
            v->err = PT_ERR_NOMEM;
            return;
        }
        v->ids = ni;
        nt = (unsigned char *)PT_REALLOC(v->train, (size_t)nc);
        if (!nt) {
            v->err = PT_ERR_NOMEM;
            return;
        }
        v->train = nt;
        v->cap = nc;
    }
    if (!*text && !bos && !eos) return;
    k = tok->encode(tok, text, bos, eos, v->ids + v->n, v->cap - v->n);
    if (k < 0) {
        v->err = k;
        return;
    }
    for (i = 0; i < k; i++) v->train[v->n + i] = (unsigned char)train;
    v->n += k;
}
PTDEF int pt_record_example(const pt_tokenizer *tok, const pt_record *r, int kind, int chat, int which, pt_example *ex)
{
    pt__ids v;
    int n_prompt = 0, i, uses_mask = 0;
    char why[96];
    if (!tok || !r || !ex) return pt__fail(PT_ERR_ARG, "pt_record_example: NULL argument");
    memset(ex, 0, sizeof *ex);
    if (kind < PT_DATA_AUTO || kind > PT_DATA_PROMPT)
        return pt__fail(PT_ERR_ARG, "pt_record_example: kind %d is not a PT_DATA_* schema", kind);
    if (kind == PT_DATA_AUTO) kind = pt__record_kind(r);
    if (pt__record_invalid(r, kind, why))
        return pt__fail(PT_ERR_ARG, "pt_record_example: record (line %d) %s for schema %s", r->line, why,
                        pt_data_kind_name(kind));
    memset(&v, 0, sizeof v);
    /* the special markers are written as text: the byte tokenizer turns them into their ids */
#define PT__PIECE(text, train) pt__ids_text(&v, tok, text, 0, 0, train)
    switch (kind) {
    case PT_DATA_TEXT:
        pt__ids_text(&v, tok, r->text, 1, 1, 1);
        n_prompt = 1;
        break;
    case PT_DATA_MESSAGES:
        uses_mask = 1;
        pt__ids_text(&v, tok, "", 1, 0, 0);
        for (i = 0; i < r->n_messages; i++) {
            const pt_message *msg = &r->messages[i];
            int assistant = strcmp(msg->role, "assistant") == 0;
            PT__PIECE(assistant ? "<|assistant|>" : strcmp(msg->role, "user") == 0 ? "<|user|>" : "<|system|>", 0);
            if (assistant && !n_prompt) n_prompt = v.n;
            PT__PIECE(msg->content, assistant);
            PT__PIECE("<|end|>", assistant);
        }
        if (!n_prompt) {
            PT__PIECE("<|assistant|>", 0);
            n_prompt = v.n;
        } /* no assistant turn: a generation prompt */
        else
            pt__ids_text(&v, tok, "", 0, 1,
                         strcmp(r->messages[r->n_messages - 1].role, "assistant") ==
                             0); /* <eos> trains after an assistant turn only */
        break;
    default: {
        const char *completion = kind == PT_DATA_COMPLETION ? r->completion
            : kind == PT_DATA_PREFERENCE                    ? (which ? r->rejected : r->chosen)
                                                            : NULL;
        if (chat || kind == PT_DATA_PREFERENCE || kind == PT_DATA_PROMPT) {
            if (!chat) {
                pt__ids_text(&v, tok, r->prompt, 1, 0, 0);
                n_prompt = v.n;
            } else {
                pt__ids_text(&v, tok, "", 1, 0, 0);
                PT__PIECE("<|user|>", 0);
                PT__PIECE(r->prompt, 0);
                PT__PIECE("<|end|><|assistant|>", 0);
                n_prompt = v.n;
            }
            if (completion) {
                PT__PIECE(completion, 1);
                if (chat)
                    PT__PIECE("<|end|>", 1);
                pt__ids_text(&v, tok, "", 0, 1, 1);
            }
        } else {
            pt__ids_text(&v, tok, r->prompt, 1, 0, 0);
            n_prompt = v.n;
            PT__PIECE(completion, 1);
            pt__ids_text(&v, tok, "", 0, 1, 1);
        }
    }
    }
#undef PT__PIECE
    if (v.err) {
        PT_FREE(v.ids);
        PT_FREE(v.train);
        return v.err == PT_ERR_NOMEM ? pt__fail(PT_ERR_NOMEM, "pt_record_example: out of memory") : v.err;
    }
    ex->ids = v.ids;
    ex->n_ids = v.n;
    ex->n_prompt = n_prompt;
    if (uses_mask)
        ex->train = v.train;
    else
        PT_FREE(v.train);
    return PT_OK;
}
PTDEF int pt_world_dataset(const pt_world_config *cfg, int split, uint64_t seed, int n, int kind, pt_dataset *ds)
{
    pt_dataset out;
    int i, oom = 0;
    if (!ds || n < 1 || kind < PT_DATA_TEXT || kind > PT_DATA_PROMPT)
        return pt__fail(PT_ERR_ARG, "pt_world_dataset: need n >= 1 and a schema, got n %d kind %d", n, kind);
    if (kind == PT_DATA_PREFERENCE) return pt_world_preferences(cfg, split, seed, n, 0, ds);
    memset(&out, 0, sizeof out);
    out.kind = kind;
    out.records = (pt_record *)PT_MALLOC((size_t)n * sizeof(pt_record));
    if (!out.records) return pt__fail(PT_ERR_NOMEM, "pt_world_dataset: out of memory");
    memset(out.records, 0, (size_t)n * sizeof(pt_record));
    out.n = n;
    for (i = 0; i < n && !oom; i++) {
        pt_problem p;
        pt_record *r = &out.records[i];
        char user[sizeof p.question], buf[sizeof p.question + sizeof p.solution + 8];
        pt_world_problem(cfg, split, seed, i, &p);
        pt__world_user_text(&p, user, sizeof user);
        r->line = i + 1;
        switch (kind) {
        case PT_DATA_TEXT:
            snprintf(buf, sizeof buf, "%s%s\n", p.question, p.solution);
            oom |= !(r->text = pt__strdup(buf));
            break;
        case PT_DATA_COMPLETION:
            snprintf(buf, sizeof buf, "%sA: ", p.question);
            oom |= !(r->prompt = pt__strdup(buf));
            snprintf(buf, sizeof buf, "%s\n", p.solution + 3);
            oom |= !(r->completion = pt__strdup(buf));
            break;
        case PT_DATA_MESSAGES:
            r->messages = (pt_message *)PT_MALLOC(2 * sizeof(pt_message));
            if (!r->messages) {
                oom = 1;
                break;
            }
            r->n_messages = 2;
            r->messages[0].role = pt__strdup("user");
            r->messages[0].content = pt__strdup(user);
            r->messages[1].role = pt__strdup("assistant");
            r->messages[1].content = pt__strdup(p.solution + 3);
            oom |= !r->messages[0].role || !r->messages[0].content || !r->messages[1].role || !r->messages[1].content;
            break;
        default:
            oom |= !(r->prompt = pt__strdup(user));
            snprintf(buf, sizeof buf, "%lld", p.answer);
            oom |= !(r->answer = pt__strdup(buf));
        }
    }
    if (oom) {
        pt_dataset_free(&out);
        return pt__fail(PT_ERR_NOMEM, "pt_world_dataset: out of memory");
    }
    *ds = out;
    return PT_OK;
}


/* ================================================================================================
   10. TRAINING LOOP, SFT AND REFERENCES (implementation)                                     >>sft
   ================================================================================================ */
/* Pack examples order[0..n) into a [B, T] batch b over buf (4 B T ints: tokens, targets, positions,
   segments) and mask (B T floats); returns how many examples went in (pt_pack_examples). */
static int pt__pack_batch(pt_batch *b, const pt_example *ex, const int *order, int n, int B, int T, int *buf,
                          float *mask)
{
    int64_t BT = (int64_t)B * T;
    memset(b, 0, sizeof *b);
    b->B = B;
    b->T = T;
    b->tokens = buf;
    b->targets = buf + BT;
    b->loss_mask = mask;
    b->pos = buf + 2 * BT;
    b->seg = buf + 3 * BT;
    return pt_pack_examples(ex, order, n, B, T, 0, buf, buf + BT, mask, buf + 2 * BT, buf + 3 * BT);
}
PTDEF int pt_eval_loss(pt_model *m, const pt_example *ex, int n, int T, float *loss)
{
    int B = 8, done = 0, st = PT_OK, i;
    int *order = (int *)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof(int));
    int *buf = (int *)PT_MALLOC((size_t)B * T * 4 * sizeof(int));
    float *mask = (float *)PT_MALLOC((size_t)B * T * sizeof(float));
    pt_ctx *ctx = pt_ctx_new(0);
    double total = 0, weight = 0;
    *loss = 0.0f;
    if (!order || !buf || !mask || !ctx) {
        st = pt__fail(PT_ERR_NOMEM, "pt_eval_loss: out of memory");
        goto done;
    }
    if (T > m->cfg.seq_len) T = m->cfg.seq_len;
    pt_ctx_set_grad(ctx, 0);
    for (i = 0; i < n; i++) order[i] = i;
    while (done < n) {
        pt_batch b;
        pt_tensor *l;
        double w = 0;
        int used = pt__pack_batch(&b, ex, order + done, n - done, B, T, buf, mask);
        if (used < 1) break;
        done += used;
        for (i = 0; i < B * T; i++) w += mask[i];
        if (w == 0) continue;
        l = pt_model_loss(ctx, m, &b);
        if (!l) {
            st = pt_last_status();
            goto done;
        }
        total += (double)l->data[0] * w;
        weight += w;
        pt_ctx_reset(ctx);
    }
    *loss = weight > 0 ? (float)(total / weight) : 0.0f;
done:
    PT_FREE(order);
    PT_FREE(buf);
    PT_FREE(mask);
    pt_ctx_free(ctx);
    return st;
}
PTDEF int pt_examples_from_generations(const pt_gen_result *r, const unsigned char *keep, int end_id, pt_example *ex)
{
    int i, n = 0;
    for (i = 0; i < r->n_seqs; i++) {
        const int *t = r->tokens + (int64_t)i * r->width;
        int len = r->total_len[i], extra = end_id >= 0 ? 1 : 0;
        if (keep && !keep[i]) continue;
        memset(&ex[n], 0, sizeof ex[n]);
        ex[n].ids = (int *)PT_MALLOC((size_t)(len + extra) * sizeof(int));
        if (!ex[n].ids) {
            pt_examples_free(ex, n);
            return pt__fail(PT_ERR_NOMEM, "pt_examples_from_generations: out of memory");
        }
        memcpy(ex[n].ids, t, (size_t)len * sizeof(int));
        if (extra) ex[n].ids[len] = end_id;
        ex[n].n_ids = len + extra;
        ex[n].n_prompt = r->prompt_len[i];
        n++;
    }
    return n;
}
/* what the parameter sets hold: data of every tensor, and grad + AdamW m, v of the trainable ones */
static void pt__param_bytes(const pt_params *P, size_t *weights, size_t *state)
{
    if (!P) return;
    *weights += (size_t)P->n_data * sizeof(float);
    *state += (size_t)P->n_grad * 3 * sizeof(float);
}
/* What training changed: the model (with its head), or only its adapters (and head) when some are attached. */
static int pt__save_trained(pt_model *m, const char *path)
{
    char tpath[1024];
    int st;
    if (!m->lora && !m->tokens) return pt_model_save(m, path, 0);
    if (pt_params_count(m->params, 1) > 0) {   /* base tensors trained next to the adapters: keep them too */
        if (snprintf(tpath, sizeof tpath, "%s.model", path) >= (int)sizeof tpath)
            return pt__fail(PT_ERR_ARG, "%s: path too long", path);
        if ((st = pt_model_save(m, tpath, 0)) != PT_OK) return st;
    }
    if (m->head) {   /* adapters plus a trained head (a LoRA reward model): the head at PATH.head */
        if (snprintf(tpath, sizeof tpath, "%s.head", path) >= (int)sizeof tpath)
            return pt__fail(PT_ERR_ARG, "%s: path too long", path);
        if ((st = pt_model_head_save(m, tpath)) != PT_OK) return st;
    }
    if (m->lora && (st = pt_lora_save(m, path)) != PT_OK) return st;
    if (!m->tokens) return PT_OK;
    if (!m->lora) return pt_tokens_save(m, path);
    if (snprintf(tpath, sizeof tpath, "%s.tokens", path) >= (int)sizeof tpath)
        return pt__fail(PT_ERR_ARG, "%s: path too long", path);
    return pt_tokens_save(m, tpath);
}
/* --- The shared training loop --------------------------------------------------------------- */
static pt_train_config pt__train_resolve(const pt_train_config *in)
{
    pt_train_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    if (c.steps <= 0) c.steps = 200;
    if (c.lr <= 0) c.lr = 1e-3f;
    c.min_lr = c.min_lr == (float)PT_ZERO ? 0.0f : c.min_lr > 0 ? c.min_lr : c.lr / 10;
    c.warmup = c.warmup == PT_ZERO ? 0 : c.warmup > 0 ? c.warmup : c.steps / 20;
    if (c.weight_decay < 0) c.weight_decay = 0;
    c.grad_clip = c.grad_clip == 0 ? 1.0f : c.grad_clip < 0 ? 0.0f : c.grad_clip;   /* 0 below: none */
    if (c.eval_every <= 0) c.eval_every = c.steps / 4 > 0 ? c.steps / 4 : 1;
    if (!c.name) c.name = "train";
    return c;
}
PTDEF int pt_trainer_begin(pt_trainer *tr, pt_model *m, const pt_train_config *cfg, const char *extra_columns)
{
    FILE *csv = NULL;
    if (!tr || !m) return pt__fail(PT_ERR_ARG, "pt_trainer_begin: trainer or model is NULL");
    memset(tr, 0, sizeof *tr);
    tr->m = m;
    tr->cfg = pt__train_resolve(cfg);
    tr->opt.beta1 = cfg ? cfg->beta1 : 0.0f;   /* as given: pt_adamw_step resolves (and PT_ZERO) them */
    tr->opt.beta2 = cfg ? cfg->beta2 : 0.0f;
    tr->opt.weight_decay = tr->cfg.weight_decay;
    tr->res.best_eval_loss = INFINITY;
    tr->res.best_metric = -INFINITY;
    tr->res.best_step = -1;
    tr->eval_loss = tr->metric = NAN;
    tr->show_extra = -1;
    tr->lr = pt_lr_schedule(0, tr->cfg.warmup, tr->cfg.steps, tr->cfg.lr, tr->cfg.min_lr);
    tr->t0 = pt_time_seconds();
    if (tr->cfg.csv_path) {
        if (!(csv = fopen(tr->cfg.csv_path, "w")))
            return pt__fail(PT_ERR_IO, "%s: cannot open for writing", tr->cfg.csv_path);
        fprintf(csv, "step,loss,lr,grad_norm,eval_loss,metric%s%s\n", extra_columns && *extra_columns ? "," : "",
                extra_columns ? extra_columns : "");
        tr->csv = csv;
    }
    return PT_OK;
}
PTDEF int pt_trainer_running(const pt_trainer *tr) { return tr->step < tr->cfg.steps; }
PTDEF float pt_trainer_lr(const pt_trainer *tr) { return tr->lr; }
PTDEF int pt_trainer_eval_due(const pt_trainer *tr)
{
    return (tr->step + 1) % tr->cfg.eval_every == 0 || tr->step == tr->cfg.steps - 1;
}
PTDEF int pt_trainer_step(pt_trainer *tr, pt_ctx *ctx, pt_tensor *loss, double tokens)
{
    pt_model *m = tr->m;
    float lv;
    if (!loss) {
        pt_ctx_reset(ctx);
        return pt_last_status() ? pt_last_status() : PT_ERR_ARG;
    }
    lv = loss->data[0];   /* the arena (and the loss tensor) is reset below */
    tr->grad_norm = 0;
    if (pt_backward(ctx, loss) != PT_OK ||
        pt_model_optimizer_step(m, &tr->opt, tr->lr, tr->cfg.grad_clip, &tr->grad_norm) != PT_OK) {
        if (pt_last_status() != PT_ERR_NONFINITE) {
            pt_model_zero_grad(m);
            pt_ctx_reset(ctx);
            return pt_last_status();
        }
        tr->res.skipped++;        /* a non-finite loss or gradient: reported, not trained on */
        lv = NAN;
    } else {
        if (!tr->have_loss) {
            tr->res.first_loss = lv;
            tr->have_loss = 1;
        }
        tr->res.last_loss = lv;
    }
    tr->loss = lv;
    tr->tokens += tokens;
    pt_model_zero_grad(m);
    pt_ctx_reset(ctx);
    return PT_OK;
}
PTDEF int pt_trainer_evaluated(pt_trainer *tr, float eval_loss, float metric)
{
    int better, has_metric = metric == metric, has_loss = eval_loss == eval_loss;
    tr->eval_loss = eval_loss;
    tr->metric = metric;
    better = has_metric ? metric > tr->res.best_metric : has_loss && eval_loss < tr->res.best_eval_loss;
    if (has_loss && eval_loss < tr->res.best_eval_loss) tr->res.best_eval_loss = eval_loss;
    if (!better) return PT_OK;
    if (has_metric) tr->res.best_metric = metric;
    tr->res.best_step = tr->step + 1;
    return tr->cfg.best_path ? pt__save_trained(tr->m, tr->cfg.best_path) : PT_OK;
}
PTDEF int pt_trainer_baseline(pt_trainer *tr, float eval_loss, float metric)
{
    int st;
    if (tr->step != 0) return pt__fail(PT_ERR_ARG, "pt_trainer_baseline: only before the first step");
    tr->step = -1;   /* recorded as step 0 */
    st = pt_trainer_evaluated(tr, eval_loss, metric);
    tr->step = 0;
    tr->eval_loss = tr->metric = NAN;
    if (!tr->cfg.quiet) printf("  %s step     0  eval loss %.4f  metric %.3f (the starting model)\n", tr->cfg.name,
                               eval_loss, metric);
    return st;
}
PTDEF void pt_trainer_log(pt_trainer *tr, const float *extra, int n_extra)
{
    FILE *csv = (FILE *)tr->csv;
    int k, evaluated = tr->eval_loss == tr->eval_loss || tr->metric == tr->metric;
    if (csv) {
        fprintf(csv, "%d,%.5f,%.6g,%.4f,%.5f,%.4f", tr->step + 1, tr->loss, tr->lr, tr->grad_norm, tr->eval_loss,
                tr->metric);
        for (k = 0; k < n_extra; k++) fprintf(csv, ",%.6g", extra[k]);
        fprintf(csv, "\n");
        fflush(csv);   /* a notebook can plot a run that is still going */
    }
    if (!tr->cfg.quiet && (tr->step % 10 == 0 || tr->step == tr->cfg.steps - 1 || evaluated)) {
        double el = pt_time_seconds() - tr->t0;
        printf("\r  %s step %5d/%d  loss %.4f  lr %.2e  %6.0f tok/s  ETA %4.0fs", tr->cfg.name, tr->step + 1,
               tr->cfg.steps, tr->loss, tr->lr, tr->tokens / (el > 0 ? el : 1),
               el / (tr->step + 1) * (tr->cfg.steps - tr->step - 1));
        if (tr->show_extra >= 0 && tr->show_extra < n_extra)
            printf("  %s %.3f", tr->show_name ? tr->show_name : "extra", extra[tr->show_extra]);
        if (evaluated) printf("  eval loss %.4f  metric %.3f\n", tr->eval_loss, tr->metric);
        fflush(stdout);
    }
    tr->step++;
    tr->res.steps_done = tr->step;
    tr->eval_loss = tr->metric = NAN;
    tr->lr = pt_lr_schedule(tr->step, tr->cfg.warmup, tr->cfg.steps, tr->cfg.lr, tr->cfg.min_lr);
}
PTDEF void pt_trainer_end(pt_trainer *tr, const pt_ctx *ctx, pt_train_result *res)
{
    pt_model *m = tr->m;
    if (tr->csv) fclose((FILE *)tr->csv);
    tr->csv = NULL;
    if (!tr->cfg.quiet && tr->step > 0) printf("\n");
    tr->res.seconds = pt_time_seconds() - tr->t0;
    tr->res.tokens_per_s = tr->res.seconds > 0 ? tr->tokens / tr->res.seconds : 0;
    tr->res.weight_bytes = tr->res.state_bytes = 0;
    if (m) {
        pt__param_bytes(m->params, &tr->res.weight_bytes, &tr->res.state_bytes);
        if (m->lora) pt__param_bytes(m->lora->params, &tr->res.weight_bytes, &tr->res.state_bytes);
        if (m->tokens) pt__param_bytes(m->tokens->params, &tr->res.weight_bytes, &tr->res.state_bytes);
        if (m->head) pt__param_bytes(m->head->params, &tr->res.weight_bytes, &tr->res.state_bytes);
    }
    if (ctx) tr->res.activation_bytes = pt_ctx_bytes_peak(ctx);
    if (res) *res = tr->res;
}

PTDEF int pt_sft_train(pt_model *m, const pt_example *train, int n_train, const pt_example *eval, int n_eval,
                       const pt_sft_config *cfg_in, pt_sft_result *res)
{
    pt_sft_config c;
    pt_train_config tc;
    pt_trainer tr;
    pt_ctx *ctx = NULL;
    pt_rng rng;
    int *order = NULL, *buf = NULL, cursor, st = PT_OK, i, B, T;
    float *mask = NULL;
    memset(&c, 0, sizeof c);
    if (cfg_in) c = *cfg_in;
    memset(&tc, 0, sizeof tc);
    tc.steps = c.steps;
    tc.lr = c.lr;
    tc.min_lr = c.min_lr;
    tc.warmup = c.warmup;
    tc.weight_decay = c.weight_decay;
    tc.grad_clip = c.grad_clip;
    tc.eval_every = c.eval_every;
    tc.csv_path = c.csv_path;
    tc.best_path = c.best_path;
    tc.quiet = c.quiet;
    tc.name = "sft";
    B = c.batch_rows > 0 ? c.batch_rows : 8;
    T = c.seq_len > 0 && c.seq_len <= m->cfg.seq_len ? c.seq_len : m->cfg.seq_len;
    if (res) memset(res, 0, sizeof *res);
    if (n_train < 1) return pt__fail(PT_ERR_ARG, "pt_sft_train: no training examples");
    if ((st = pt_trainer_begin(&tr, m, &tc, NULL)) != PT_OK) return st;
    ctx = pt_ctx_new(0);
    order = (int *)PT_MALLOC((size_t)n_train * sizeof(int));
    buf = (int *)PT_MALLOC((size_t)B * T * 4 * sizeof(int));
    mask = (float *)PT_MALLOC((size_t)B * T * sizeof(float));
    if (!ctx || !order || !buf || !mask) {
        st = pt__fail(PT_ERR_NOMEM, "pt_sft_train: out of memory");
        goto done;
    }
    pt_rng_seed(&rng, c.seed ^ 0x5F7A11ull);
    for (i = 0; i < n_train; i++) order[i] = i;
    cursor = n_train;   /* forces a shuffle before the first batch */
    while (pt_trainer_running(&tr)) {
        pt_batch b;
        double tokens = 0;
        int used;
        if (cursor >= n_train) {   /* a new epoch: Fisher-Yates shuffle */
            for (i = n_train - 1; i > 0; i--) {
                int j = pt_rng_int(&rng, 0, i), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            cursor = 0;
        }
        used = pt__pack_batch(&b, train, order + cursor, n_train - cursor, B, T, buf, mask);
        cursor += used > 0 ? used : 1;
        for (i = 0; i < B * T; i++) tokens += b.seg[i] != 0;
        if ((st = pt_trainer_step(&tr, ctx, pt_model_loss(ctx, m, &b), tokens)) != PT_OK) goto done;
        if (pt_trainer_eval_due(&tr)) {
            float eval_loss = NAN, metric = NAN;
            if (eval && n_eval > 0 && (st = pt_eval_loss(m, eval, n_eval, T, &eval_loss)) != PT_OK) goto done;
            if (c.metric) metric = c.metric(m, c.user);
            if ((st = pt_trainer_evaluated(&tr, eval_loss, metric)) != PT_OK) goto done;
        }
        pt_trainer_log(&tr, NULL, 0);
    }
done:
    pt_trainer_end(&tr, ctx, res);
    PT_FREE(order);
    PT_FREE(buf);
    PT_FREE(mask);
    pt_ctx_free(ctx);
    return st;
}

/* --- References ------------------------------------------------------------------------------ */
PTDEF int pt_model_set_adapters(pt_model *m, int enabled)
{
    if (!m) return pt__fail(PT_ERR_ARG, "pt_model_set_adapters: model is NULL");
    if (!enabled && m->lora && m->lora->merged)
        return pt__fail(PT_ERR_ARG,
                        "pt_model_set_adapters: the LoRA adapters are merged into the base; unmerge them first");
    m->adapters_off = !enabled;
    return PT_OK;
}
/* Freeze or unfreeze every tensor of a parameter set, or copy the frozen flags of another. */
static int pt__params_copy_trainable(pt_params *dst, const pt_params *src, int trainable)
{
    int i, st;
    if ((st = pt_params_set_trainable(dst, "*", 0)) < 0) return st;
    for (i = 0; trainable && i < src->count; i++)
        if (!(src->items[i]->flags & PT_PARAM_FROZEN) &&
            (st = pt_params_set_trainable(dst, src->items[i]->name, 1)) < 0)
            return st;
    return PT_OK;
}
PTDEF pt_model *pt_model_clone(const pt_model *m, int trainable)
{
    pt_model *c;
    int st = PT_OK;
    if (!m) return (pt_model *)pt__fail_null(PT_ERR_ARG, "pt_model_clone: model is NULL");
    if (!(c = pt_model_new(&m->cfg, 0))) return NULL;
    if (c->params->n_data != m->params->n_data) {
        pt_model_free(c);
        return (pt_model *)pt__fail_null(PT_ERR_ARG, "pt_model_clone: parameter layout differs");
    }
    memcpy(c->params->data, m->params->data, (size_t)m->params->n_data * sizeof(float));
    if (m->llama2c_rope) {
        c->llama2c_rope = (float *)PT_MALLOC((size_t)m->llama2c_rope_n * sizeof(float));
        if (!c->llama2c_rope) {
            pt_model_free(c);
            return (pt_model *)pt__fail_null(PT_ERR_NOMEM, "pt_model_clone: out of memory");
        }
        memcpy(c->llama2c_rope, m->llama2c_rope, (size_t)m->llama2c_rope_n * sizeof(float));
        c->llama2c_rope_n = m->llama2c_rope_n;
    }
    if (m->lora) {   /* the same slots, then the same values (and dropout RNG state) */
        const pt_lora *lo = m->lora;
        int slot, n_slots = m->cfg.n_layers * PT_LAYER_MATRICES;
        unsigned char *on = (unsigned char *)PT_MALLOC((size_t)n_slots);
        if (!on) st = pt__fail(PT_ERR_NOMEM, "pt_model_clone: out of memory");
        for (slot = 0; on && slot < n_slots; slot++) on[slot] = lo->a[slot] != NULL;
        if (st == PT_OK) st = pt__lora_attach_slots(c, lo->rank, lo->alpha, lo->rslora, lo->dropout, 0, on);
        PT_FREE(on);
        if (st == PT_OK) {
            memcpy(c->lora->params->data, lo->params->data, (size_t)lo->params->n_data * sizeof(float));
            c->lora->merged = lo->merged;
            c->lora->rng = lo->rng;
        }
    }
    if (st == PT_OK && m->tokens) {
        const pt_token_adapter *ta = m->tokens;
        if ((st = pt__tokens_build(c, ta->ids, NULL, ta->n, ta->n_virtual)) == PT_OK)
            memcpy(c->tokens->params->data, ta->params->data, (size_t)ta->params->n_data * sizeof(float));
    }
    if (st == PT_OK && m->head && (st = pt_model_head_attach(c, 0)) == PT_OK)
        memcpy(c->head->params->data, m->head->params->data, (size_t)m->head->params->n_data * sizeof(float));
    if (st == PT_OK && m->head && !trainable && pt_params_set_trainable(c->head->params, "*", 0) < 0)
        st = pt_last_status();
    if (st == PT_OK) st = pt__params_copy_trainable(c->params, m->params, trainable);
    if (st == PT_OK && m->lora) st = pt__params_copy_trainable(c->lora->params, m->lora->params, trainable);
    if (st == PT_OK && m->tokens) st = pt__params_copy_trainable(c->tokens->params, m->tokens->params, trainable);
    if (st < 0) {
        pt_model_free(c);
        return NULL;
    }
    c->adapters_off = m->adapters_off;
    return c;
}
PTDEF int pt_sequence_logprobs(pt_model *m, const pt_example *ex, int n, int rows_per_batch, float *sum_logp,
                               int *n_tokens)
{
    int B = rows_per_batch > 0 ? rows_per_batch : 16, T = 1, st = PT_OK, i, r, at;
    int *buf = NULL;
    float *mask = NULL;
    pt_ctx *ctx = NULL;
    if (!m || (!ex && n > 0) || n < 0 || !sum_logp) return pt__fail(PT_ERR_ARG, "pt_sequence_logprobs: bad arguments");
    for (i = 0; i < n; i++) {
        if (ex[i].n_ids > m->cfg.seq_len)
            return pt__fail(PT_ERR_ARG, "pt_sequence_logprobs: example %d has %d tokens, more than seq_len %d", i,
                            ex[i].n_ids, m->cfg.seq_len);
        if (ex[i].n_ids > T) T = ex[i].n_ids;
    }
    if (B > n) B = n > 0 ? n : 1;
    buf = (int *)PT_MALLOC((size_t)B * T * 4 * sizeof(int));
    mask = (float *)PT_MALLOC((size_t)B * T * sizeof(float));
    ctx = pt_ctx_new(0);
    if (!buf || !mask || !ctx) {
        st = pt__fail(PT_ERR_NOMEM, "pt_sequence_logprobs: out of memory");
        goto done;
    }
    pt_ctx_set_grad(ctx, 0);
    for (at = 0; at < n; at += B) {
        int rows = n - at < B ? n - at : B;
        pt_batch b;
        pt_tensor *lp;
        int64_t blk = (int64_t)rows * T;   /* four [rows, T] blocks: tokens, targets, pos, seg */
        for (r = 0; r < rows; r++) {       /* one example per row, so each row's sum is one sequence's */
            int one = at + r;
            int64_t o = (int64_t)r * T;
            pt_pack_examples(ex, &one, 1, 1, T, 0, buf + o, buf + blk + o, mask + o, buf + 2 * blk + o,
                             buf + 3 * blk + o);
        }
        memset(&b, 0, sizeof b);
        b.B = rows;
        b.T = T;
        b.tokens = buf;
        b.targets = buf + blk;
        b.loss_mask = mask;
        b.pos = buf + 2 * blk;
        b.seg = buf + 3 * blk;
        if (!(lp = pt_model_logprobs(ctx, m, &b, 1.0f))) {
            st = pt_last_status();
            goto done;
        }
        for (r = 0; r < rows; r++) {
            double s = 0;
            int cnt = 0, t;
            for (t = 0; t < T; t++) {
                if (mask[(int64_t)r * T + t] == 0.0f) continue;
                s += lp->data[(int64_t)r * T + t];
                cnt++;
            }
            sum_logp[at + r] = (float)s;
            if (n_tokens) n_tokens[at + r] = cnt;
        }
        pt_ctx_reset(ctx);
    }
done:
    PT_FREE(buf);
    PT_FREE(mask);
    pt_ctx_free(ctx);
    return st;
}

/* --- Pair batches, for every pairwise trainer (reward models, DPO) ---------------------------------
   Row 2i holds chosen i and row 2i + 1 rejected i, one example per row (pt_pack_examples), so the
   [n, 2T] view of any per-token quantity puts a pair's two sequences side by side: the chosen half
   selected by mask_c, the rejected half by mask_r (the same flat memory as the [2n, T] batch). */
typedef struct pt__pairs {
    int cap, T;
    int *buf;                 /* [4][2 cap T]: tokens, targets, positions, segments */
    float *mask;              /* [2 cap T] loss mask: completion targets */
    float *mask_c, *mask_r;   /* [cap, 2T]: the loss mask of each half */
    float *last_c, *last_r;   /* [cap, 2T]: one-hot at each half's last target (a reward's token) */
    float *len_c, *len_r;     /* [cap] completion tokens */
    pt_batch b;
} pt__pairs;
static void pt__pairs_free(pt__pairs *p)
{
    PT_FREE(p->buf);
    PT_FREE(p->mask);
    PT_FREE(p->mask_c);
    PT_FREE(p->mask_r);
    PT_FREE(p->last_c);
    PT_FREE(p->last_r);
    PT_FREE(p->len_c);
    PT_FREE(p->len_r);
    memset(p, 0, sizeof *p);
}
static int pt__pairs_alloc(pt__pairs *p, int cap, int T)
{
    size_t cells = (size_t)2 * cap * T;
    memset(p, 0, sizeof *p);
    p->cap = cap;
    p->T = T;
    p->buf = (int *)PT_MALLOC(4 * cells * sizeof(int));
    p->mask = (float *)PT_MALLOC(cells * sizeof(float));
    p->mask_c = (float *)PT_MALLOC(cells * sizeof(float));
    p->mask_r = (float *)PT_MALLOC(cells * sizeof(float));
    p->last_c = (float *)PT_MALLOC(cells * sizeof(float));
    p->last_r = (float *)PT_MALLOC(cells * sizeof(float));
    p->len_c = (float *)PT_MALLOC((size_t)cap * sizeof(float));
    p->len_r = (float *)PT_MALLOC((size_t)cap * sizeof(float));
    if (p->buf && p->mask && p->mask_c && p->mask_r && p->last_c && p->last_r && p->len_c && p->len_r) return PT_OK;
    pt__pairs_free(p);
    return pt__fail(PT_ERR_NOMEM, "pair batch: out of memory (%d pairs of %d tokens)", cap, T);
}
/* Fill the batch with pairs idx[0..n) (n <= cap): row 2i is chosen[idx[i]], row 2i+1 rejected[idx[i]].
   rejected = NULL fills single examples instead (process RMs, scoring): row i is chosen[idx[i]], and
   mask_c, last_c, len_c describe it with a row stride of T (a [n, T] view). */
static void pt__pairs_fill(pt__pairs *p, const pt_example *chosen, const pt_example *rejected, const int *idx, int n)
{
    int T = p->T, sides = rejected ? 2 : 1, i, side, t;
    int64_t blk = (int64_t)sides * n * T;
    for (i = 0; i < n; i++)
        for (side = 0; side < sides; side++) {
            int one = idx[i], last = -1;
            int64_t o = (int64_t)(sides * i + side) * T;
            float *half = side ? p->mask_r : p->mask_c, *other = side ? p->mask_c : p->mask_r;
            float *one_hot = side ? p->last_r : p->last_c, *other_hot = side ? p->last_c : p->last_r, len = 0.0f;
            pt_pack_examples(side ? rejected : chosen, &one, 1, 1, T, 0, p->buf + o, p->buf + blk + o, p->mask + o,
                             p->buf + 2 * blk + o, p->buf + 3 * blk + o);
            for (t = 0; t < T; t++) {
                half[o + t] = p->mask[o + t];
                other[o + t] = 0.0f;
                one_hot[o + t] = 0.0f;
                other_hot[o + t] = 0.0f;
                len += p->mask[o + t];
                if (p->mask[o + t] != 0.0f) last = t;
            }
            if (last >= 0) one_hot[o + last] = 1.0f;
            (side ? p->len_r : p->len_c)[i] = len;
        }
    memset(&p->b, 0, sizeof p->b);
    p->b.B = sides * n;
    p->b.T = T;
    p->b.tokens = p->buf;
    p->b.targets = p->buf + blk;
    p->b.loss_mask = p->mask;
    p->b.pos = p->buf + 2 * blk;
    p->b.seg = p->buf + 3 * blk;
}
/* The longest example of the given sets, at most the model's seq_len (longer ones are cut). */
static int pt__pairs_T(const pt_model *m, const pt_example *a, const pt_example *b, int n, const pt_example *c,
                       const pt_example *d, int n2)
{
    int T = 2, i;
    for (i = 0; i < n; i++) {
        if (a[i].n_ids > T) T = a[i].n_ids;
        if (b[i].n_ids > T) T = b[i].n_ids;
    }
    for (i = 0; i < n2; i++) {
        if (c[i].n_ids > T) T = c[i].n_ids;
        if (d[i].n_ids > T) T = d[i].n_ids;
    }
    return T < m->cfg.seq_len ? T : m->cfg.seq_len;
}
/* Next batch of pair indices from a shuffled order (reshuffled at each pass). */
static int pt__pairs_next(int *order, int n, int *cursor, pt_rng *rng, int want, int *idx)
{
    int k;
    for (k = 0; k < want; k++) {
        if (*cursor >= n) {
            int i;
            for (i = n - 1; i > 0; i--) {
                int j = pt_rng_int(rng, 0, i), tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
            *cursor = 0;
        }
        idx[k] = order[(*cursor)++];
    }
    return want;
}

/* The loop every pair trainer shares (reward models, DPO): shuffled batches of B pairs, the
   starting model evaluated first (a checkpoint candidate), the held-out pairs every eval_every
   steps. A trainer supplies the loss of a filled batch (and its extra CSV values) and its eval.
   With rejected = NULL the same loop serves single examples (the process RM): B rows of one each. */
typedef struct pt__pair_run pt__pair_run;
struct pt__pair_run {
    pt_model *m;
    pt__pairs p;   /* the batch, refilled for each step and each evaluation */
    const pt_example *chosen, *rejected, *eval_chosen, *eval_rejected;   /* rejected NULL: singles */
    int n, n_eval, B;
    pt_tensor *(*loss)(pt__pair_run *run, pt_ctx *ctx, const int *idx, float *extra);
    int (*eval)(pt__pair_run *run, pt_ctx *ctx, float *eval_loss, float *metric);
    void *user;    /* the trainer's own state */
};
static int pt__pair_run_go(pt__pair_run *run, const pt_train_config *train, const char *extra_columns, int n_extra,
                           uint64_t seed, pt_train_result *res)
{
    pt_trainer tr;
    pt_rng rng;
    pt_ctx *ctx = pt_ctx_new(0);
    int *order = (int *)PT_MALLOC((size_t)run->n * sizeof(int)), idx[256], cursor = run->n, st, i;
    float eval_loss, metric;
    if (!order || !ctx) {
        st = pt__fail(PT_ERR_NOMEM, "%s: out of memory", train->name);
        goto done;
    }
    for (i = 0; i < run->n; i++) order[i] = i;   /* shuffled before the first batch (cursor = n) */
    pt_rng_seed(&rng, seed);
    if ((st = pt_trainer_begin(&tr, run->m, train, extra_columns)) != PT_OK) goto done;
    if (run->eval && (st = run->eval(run, ctx, &eval_loss, &metric)) == PT_OK)
        st = pt_trainer_baseline(&tr, eval_loss, metric);
    while (st == PT_OK && pt_trainer_running(&tr)) {
        float extra[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        pt__pairs_next(order, run->n, &cursor, &rng, run->B, idx);
        pt__pairs_fill(&run->p, run->chosen, run->rejected, idx, run->B);
        st = pt_trainer_step(&tr, ctx, run->loss(run, ctx, idx, extra), (double)run->p.b.B * run->p.T);
        if (st != PT_OK) break;
        if (run->eval && pt_trainer_eval_due(&tr)) {
            st = run->eval(run, ctx, &eval_loss, &metric);
            if (st != PT_OK || (st = pt_trainer_evaluated(&tr, eval_loss, metric)) != PT_OK) break;
        }
        pt_trainer_log(&tr, extra, n_extra);
    }
    pt_trainer_end(&tr, ctx, res);
done:
    PT_FREE(order);
    pt_ctx_free(ctx);
    return st;
}
/* Check a pair trainer's arguments and set up its run (batch buffers sized for every pair).
   pairs = 0: single examples (chosen, eval_chosen; rejected and eval_rejected must be NULL). */
static int pt__pair_run_init(pt__pair_run *run, const char *who, pt_model *m, int pairs, const pt_example *chosen,
                             const pt_example *rejected, int n, const pt_example *eval_chosen,
                             const pt_example *eval_rejected, int n_eval, int batch_pairs)
{
    memset(run, 0, sizeof *run);
    run->B = batch_pairs > 0 ? batch_pairs : 8;
    if (!m || !chosen || !rejected != !pairs || n < 1 || run->B > 256 || n_eval < 0 ||
        (n_eval > 0 && (!eval_chosen || !eval_rejected != !pairs)))
        return pt__fail(PT_ERR_ARG, "%s: need a model, n >= 1 %s, a batch size <= 256 and eval %s", who,
                        pairs ? "pairs" : "examples", pairs ? "pairs" : "examples");
    run->m = m;
    run->chosen = chosen;
    run->rejected = rejected;
    run->eval_chosen = eval_chosen;
    run->eval_rejected = eval_rejected;
    run->n = n;
    run->n_eval = n_eval;
    return pt__pairs_alloc(&run->p, run->B,
                           pt__pairs_T(m, chosen, pairs ? rejected : chosen, n, eval_chosen,
                                       pairs ? eval_rejected : eval_chosen, n_eval));
}

/* ================================================================================================
   11. REWARD MODELS (implementation)                                                     >>rewards
   ================================================================================================ */
/* The completion without what generations end with: trailing whitespace, <|end|> and <eos>. */
static size_t pt__reward_trimmed(const char *s)
{
    size_t n = strlen(s);
    for (;;) {
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t')) n--;
        if (n >= 7 && memcmp(s + n - 7, "<|end|>", 7) == 0) {
            n -= 7;
        } else if (n >= 5 && memcmp(s + n - 5, "<eos>", 5) == 0) {
            n -= 5;
        } else {
            return n;
        }
    }
}
/* Occurrences of pat in s[0..n). */
static int pt__count_in(const char *s, size_t n, const char *pat)
{
    size_t k = strlen(pat), i;
    int count = 0;
    for (i = 0; i + k <= n; i++)
        if (memcmp(s + i, pat, k) == 0) count++;
    return count;
}
PTDEF float pt_reward_correct(const char *prompt, const char *completion, void *user)
{
    pt_problem p;
    const char *a;
    long long v = 0;
    int digits = 0;
    size_t n;
    (void)user;
    if (!prompt || !completion || pt_world_parse(prompt, &p) != PT_OK) return 0.0f;
    n = pt__reward_trimmed(completion);
    /* exactly one answer: repeating or hedging ("<answer>1</answer><answer>2</answer>") earns nothing */
    if (pt__count_in(completion, n, "<answer>") != 1 || pt__count_in(completion, n, "</answer>") != 1) return 0.0f;
    a = strstr(completion, "<answer>") + 8;
    while (*a >= '0' && *a <= '9') {
        if (++digits > 18) return 0.0f;   /* longer than any sum of the world: never overflow */
        v = v * 10 + (*a - '0');
        a++;
    }
    if (digits == 0 || strncmp(a, "</answer>", 9) != 0) return 0.0f;
    return v == p.answer ? 1.0f : 0.0f;
}
PTDEF float pt_reward_format(const char *prompt, const char *completion, void *user)
{
    const char *s = completion, *think_end, *ans, *ans_end;
    size_t n;
    (void)prompt;
    (void)user;
    if (!s) return 0.0f;
    n = pt__reward_trimmed(s);
    while (n > 0 && (*s == ' ' || *s == '\n')) {
        s++;
        n--;
    }
    if (n < 7 || memcmp(s, "<think>", 7) != 0) return 0.0f;
    if (pt__count_in(s, n, "<think>") != 1 || pt__count_in(s, n, "</think>") != 1 ||
        pt__count_in(s, n, "<answer>") != 1 || pt__count_in(s, n, "</answer>") != 1)
        return 0.0f;
    think_end = strstr(s, "</think>");
    ans = strstr(s, "<answer>");
    ans_end = strstr(s, "</answer>");
    if (!(think_end < ans && ans < ans_end)) return 0.0f;
    for (think_end += 8; think_end < ans; think_end++)   /* only whitespace between the blocks */
        if (*think_end != ' ' && *think_end != '\n') return 0.0f;
    /* a non-empty answer, and nothing after it */
    return ans_end > ans + 8 && (size_t)(ans_end + 9 - s) == n ? 1.0f : 0.0f;
}
PTDEF float pt_reward_length(const char *prompt, const char *completion, void *user)
{
    const pt_length_penalty *pl = (const pt_length_penalty *)user;
    int max_len = pl && pl->max_len > 0 ? pl->max_len : 256;
    int cache = pl && pl->cache_len > 0 ? pl->cache_len : max_len / 4;
    double len;
    (void)prompt;
    if (!completion) return 0.0f;
    if (cache < 1) cache = 1;
    if (cache > max_len) cache = max_len;
    len = (double)pt__reward_trimmed(completion);
    if (len <= max_len - cache) return 0.0f;
    if (len > max_len) return -1.0f;
    return (float)((max_len - cache - len) / cache);
}
PTDEF float pt_reward_mix(const pt_reward_term *terms, int n_terms, const char *prompt, const char *completion,
                          float *parts)
{
    double total = 0.0;
    int i;
    for (i = 0; terms && i < n_terms; i++) {
        float r = terms[i].fn ? terms[i].fn(prompt, completion, terms[i].user) : 0.0f;
        if (parts) parts[i] = r;
        total += (double)terms[i].weight * r;
    }
    return (float)total;
}
PTDEF int pt_reward_step_labels(const char *prompt, const char *completion, float *labels, int max_steps)
{
    pt_problem p;
    pt_world_score s;
    int j, n;
    if (!prompt || !completion || !labels || max_steps < 1 || pt_world_parse(prompt, &p) != PT_OK) return 0;
    pt_world_score_text(&p, completion, &s);
    n = s.n_steps < max_steps ? s.n_steps : max_steps;
    if (n > 16) n = 16;   /* pt_world_score keeps the first 16 labels */
    for (j = 0; j < n; j++) labels[j] = s.step_ok[j] ? 1.0f : 0.0f;
    return n;
}

PTDEF pt_tensor *pt_bt_loss(pt_ctx *ctx, pt_tensor *r_chosen, pt_tensor *r_rejected, const float *margins, float eta)
{
    pt_tensor *d, *loss;
    if (!r_chosen || !r_rejected) return NULL;
    if (r_chosen->ndim != 1 || !pt_same_shape(r_chosen, r_rejected))
        return (pt_tensor *)pt__fail_null(PT_ERR_SHAPE, "pt_bt_loss: rewards must be two [n] tensors");
    if (!(eta >= 0.0f && eta < 1e6f)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_bt_loss: eta %g", eta);
    d = pt_sub(ctx, r_chosen, r_rejected);
    if (margins) d = pt_sub(ctx, d, pt_tensor_from(ctx, 1, r_chosen->shape, margins));
    loss = pt_scale(ctx, pt_mean(ctx, pt_log_sigmoid(ctx, d)), -1.0f);
    if (eta > 0.0f)
        loss = pt_add(ctx, loss, pt_scale(ctx, pt_mean(ctx, pt_square(ctx, pt_add(ctx, r_chosen, r_rejected))), eta));
    return loss;
}
PTDEF pt_tensor *pt_bce_loss(pt_ctx *ctx, pt_tensor *logits, const float *labels, const float *mask)
{
    float *w_pos, *w_neg;
    double total = 0.0;
    int64_t i;
    pt_tensor *pos, *neg;
    if (!logits) return NULL;
    if (!labels) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_bce_loss: labels are NULL");
    w_pos = pt__floats(ctx, logits->size);
    w_neg = pt__floats(ctx, logits->size);
    if (!w_pos || !w_neg) return NULL;
    for (i = 0; i < logits->size; i++) {
        float m = mask ? mask[i] : 1.0f;
        if (!(labels[i] >= 0.0f && labels[i] <= 1.0f))
            return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_bce_loss: label %g at %lld is outside [0, 1]",
                                              (double)labels[i], (long long)i);
        w_pos[i] = m * labels[i];
        w_neg[i] = m * (1.0f - labels[i]);
        total += m;
    }
    if (!(total > 0.0)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_bce_loss: the mask selects nothing");
    pos = pt_masked_sum(ctx, pt_log_sigmoid(ctx, logits), w_pos);
    neg = pt_masked_sum(ctx, pt_log_sigmoid(ctx, pt_scale(ctx, logits, -1.0f)), w_neg);
    return pt_scale(ctx, pt_add(ctx, pos, neg), (float)(-1.0 / total));
}
PTDEF float pt_prm_aggregate(const float *step_probs, int n, int mode)
{
    double v;
    int j;
    if (!step_probs || n < 1) return 0.0f;
    if (mode == PT_PRM_LAST) return step_probs[n - 1];
    v = mode == PT_PRM_PRODUCT ? 1.0 : step_probs[0];
    for (j = 0; j < n; j++) {
        if (mode == PT_PRM_PRODUCT) v *= step_probs[j];
        else if (step_probs[j] < v) v = step_probs[j];
    }
    return (float)v;
}

PTDEF int pt_pair_examples(const pt_dataset *ds, const pt_tokenizer *tok, int chat, pt_example *chosen,
                           pt_example *rejected, float *strength)
{
    int i, st = PT_OK;
    if (!ds || !tok || !chosen || !rejected || ds->kind != PT_DATA_PREFERENCE)
        return pt__fail(PT_ERR_ARG, "pt_pair_examples: need a preference dataset, a tokenizer and two arrays");
    memset(chosen, 0, (size_t)ds->n * sizeof *chosen);
    memset(rejected, 0, (size_t)ds->n * sizeof *rejected);
    for (i = 0; i < ds->n && st == PT_OK; i++) {
        st = pt_record_example(tok, &ds->records[i], PT_DATA_PREFERENCE, chat, 0, &chosen[i]);
        if (st == PT_OK) st = pt_record_example(tok, &ds->records[i], PT_DATA_PREFERENCE, chat, 1, &rejected[i]);
        if (strength) strength[i] = ds->records[i].has_strength ? ds->records[i].strength : 0.0f;
    }
    if (st != PT_OK) {   /* all or nothing */
        pt_examples_free(chosen, ds->n);
        pt_examples_free(rejected, ds->n);
    }
    return st;
}
/* The head's values [n, T] of a single-example batch (pt__pairs_fill with rejected = NULL). */
static pt_tensor *pt__single_values(pt_ctx *ctx, pt_model *m, pt__pairs *p, int n)
{
    int shape[2];
    shape[0] = n;
    shape[1] = p->T;
    return pt_reshape(ctx, pt_model_head_values(ctx, m, &p->b), 2, shape);
}
PTDEF int pt_rm_score(pt_model *m, const pt_example *ex, int n, float *rewards)
{
    pt__pairs p;
    pt_ctx *ctx;
    int st, at, i;
    if (!m || !m->head || (!ex && n > 0) || n < 0 || !rewards)
        return pt__fail(PT_ERR_ARG, "pt_rm_score: need a model with a head, examples and an output");
    if (n == 0) return PT_OK;
    if ((st = pt__pairs_alloc(&p, 16, pt__pairs_T(m, ex, ex, n, NULL, NULL, 0))) != PT_OK) return st;
    if (!(ctx = pt_ctx_new(0))) {
        pt__pairs_free(&p);
        return pt__fail(PT_ERR_NOMEM, "pt_rm_score: out of memory");
    }
    pt_ctx_set_grad(ctx, 0);
    for (at = 0; at < n && st == PT_OK; at += 16) {
        int k = n - at < 16 ? n - at : 16, idx[16];
        pt_tensor *v;
        for (i = 0; i < k; i++) idx[i] = at + i;
        pt__pairs_fill(&p, ex, NULL, idx, k);
        v = pt_row_sum(ctx, pt__single_values(ctx, m, &p, k), p.last_c);
        if (!v) st = pt_last_status();
        for (i = 0; v && i < k; i++) rewards[at + i] = v->data[i];
        pt_ctx_reset(ctx);
    }
    pt_ctx_free(ctx);
    pt__pairs_free(&p);
    return st;
}
/* Rewards of a pair batch: r_c, r_r [n] from the head at each side's last completion token. */
static int pt__pair_rewards(pt_ctx *ctx, pt_model *m, pt__pairs *p, int n, pt_tensor **rc, pt_tensor **rr)
{
    int shape[2];
    pt_tensor *view;
    shape[0] = n;
    shape[1] = 2 * p->T;
    view = pt_reshape(ctx, pt_model_head_values(ctx, m, &p->b), 2, shape);
    *rc = pt_row_sum(ctx, view, p->last_c);
    *rr = pt_row_sum(ctx, view, p->last_r);
    return *rc && *rr ? PT_OK : pt_last_status();
}
typedef struct pt__rm_state {
    const pt_rm_config *cfg;
    const float *strength;
} pt__rm_state;
static pt_tensor *pt__rm_loss(pt__pair_run *run, pt_ctx *ctx, const int *idx, float *extra)
{
    const pt__rm_state *rs = (const pt__rm_state *)run->user;
    float margins[256];
    pt_tensor *rc, *rr;
    int i, B = run->B;
    for (i = 0; i < B; i++) margins[i] = rs->strength ? rs->cfg->margin * rs->strength[idx[i]] : 0.0f;
    if (pt__pair_rewards(ctx, run->m, &run->p, B, &rc, &rr) != PT_OK) return NULL;
    for (i = 0; i < B; i++) {   /* CSV: batch accuracy and mean margin */
        extra[0] += (rc->data[i] > rr->data[i]) / (float)B;
        extra[1] += (rc->data[i] - rr->data[i]) / (float)B;
    }
    return pt_bt_loss(ctx, rc, rr, rs->cfg->margin > 0 ? margins : NULL, rs->cfg->center_eta);
}
/* Held-out pairs: the Bradley-Terry loss (no margin) and the accuracy P(r_c > r_r), no gradient. */
static int pt__rm_eval(pt__pair_run *run, pt_ctx *ctx, float *eval_loss, float *accuracy)
{
    double lsum = 0, correct = 0;
    int at, i, st = PT_OK, idx[256];
    pt_tensor *rc, *rr;
    pt_ctx_set_grad(ctx, 0);
    for (at = 0; at < run->n_eval && st == PT_OK; at += run->B) {
        int k = run->n_eval - at < run->B ? run->n_eval - at : run->B;
        for (i = 0; i < k; i++) idx[i] = at + i;
        pt__pairs_fill(&run->p, run->eval_chosen, run->eval_rejected, idx, k);
        if ((st = pt__pair_rewards(ctx, run->m, &run->p, k, &rc, &rr)) != PT_OK) break;
        for (i = 0; i < k; i++) {
            correct += rc->data[i] > rr->data[i];
            lsum -= log(1.0 / (1.0 + exp(-((double)rc->data[i] - rr->data[i]))));
        }
        pt_ctx_reset(ctx);
    }
    pt_ctx_set_grad(ctx, 1);
    *eval_loss = (float)(lsum / run->n_eval);
    *accuracy = (float)(correct / run->n_eval);
    return st;
}
PTDEF int pt_rm_train(pt_model *m, const pt_example *chosen, const pt_example *rejected, const float *strength,
                      int n, const pt_example *eval_chosen, const pt_example *eval_rejected, int n_eval,
                      const pt_rm_config *cfg_in, pt_train_result *res)
{
    pt_rm_config cfg;
    pt__rm_state rs;
    pt__pair_run run;
    int st;
    memset(&cfg, 0, sizeof cfg);
    if (cfg_in) cfg = *cfg_in;
    if (!cfg.train.name) cfg.train.name = "rm";
    st = pt__pair_run_init(&run, "pt_rm_train", m, 1, chosen, rejected, n, eval_chosen, eval_rejected, n_eval,
                           cfg.batch_pairs);
    if (st != PT_OK) return st;
    if (!m->head && (st = pt_model_head_attach(m, cfg.seed)) != PT_OK) {
        pt__pairs_free(&run.p);
        return st;
    }
    rs.cfg = &cfg;
    rs.strength = strength;
    run.user = &rs;
    run.loss = pt__rm_loss;
    run.eval = n_eval > 0 ? pt__rm_eval : NULL;
    st = pt__pair_run_go(&run, &cfg.train, "acc,margin", 2, cfg.seed ^ 0x5eedULL, res);
    pt__pairs_free(&run.p);
    return st;
}

/* --- Process reward model ------------------------------------------------------------------------ */
PTDEF int pt_prm_targets(const pt_tokenizer *tok, const pt_example *ex, int *pos, float *labels, int max_steps)
{
    char *prompt = NULL, *text = NULL;
    int *p_owner = NULL, *owner = NULL, p_len, len, st, n = 0, j, end[PT_PRM_MAX_STEPS];
    int n_c = ex ? ex->n_ids - ex->n_prompt : 0;
    pt_problem prob;
    pt_world_score sc;
    if (!tok || !ex || !ex->ids || ex->n_prompt < 1 || n_c < 0 || !pos || !labels || max_steps < 0)
        return pt__fail(PT_ERR_ARG, "pt_prm_targets: need a tokenizer, an example with a prompt and two arrays");
    if (max_steps > PT_PRM_MAX_STEPS) max_steps = PT_PRM_MAX_STEPS;
    st = pt__decode_owned(tok, tok->bos_id, ex->ids, ex->n_prompt, &prompt, &p_owner, &p_len);
    if (st == PT_OK)
        st = pt__decode_owned(tok, ex->ids[ex->n_prompt - 1], ex->ids + ex->n_prompt, n_c, &text, &owner, &len);
    if (st != PT_OK || !prompt || !text || pt_world_parse(prompt, &prob) != PT_OK) goto done;
    pt_world_score_text(&prob, text, &sc);
    /* the steps the rules labelled (a cut-off step has a span but no label) */
    n = pt__step_spans_text(text, len, owner, NULL, end, sc.n_steps < 16 ? sc.n_steps : 16);
    if (n > max_steps) n = max_steps;
    for (j = 0; j < n; j++) {
        pos[j] = ex->n_prompt + end[j];
        labels[j] = sc.step_ok[j] ? 1.0f : 0.0f;
    }
    if (n < max_steps) {   /* the answer, after the think block */
        const char *think_end = strstr(text, "</think>");
        const char *a = think_end ? strstr(think_end, "<answer>") : NULL, *a_end = a ? strstr(a, "</answer>") : NULL;
        if (a_end) {
            pos[n] = ex->n_prompt + owner[a_end + 8 - text];
            labels[n++] = sc.has_answer && sc.correct ? 1.0f : 0.0f;
        }
    }
done:
    PT_FREE(prompt);
    PT_FREE(p_owner);
    PT_FREE(text);
    PT_FREE(owner);
    return st != PT_OK ? st : n;
}
typedef struct pt__prm_target {
    int n, pos[PT_PRM_MAX_STEPS];
    float label[PT_PRM_MAX_STEPS];
} pt__prm_target;
/* Targets of n examples (heap); steps past the model's context are dropped, as batches cut there. */
static pt__prm_target *pt__prm_targets_all(const pt_tokenizer *tok, const pt_model *m, const pt_example *ex, int n)
{
    pt__prm_target *t = (pt__prm_target *)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof *t);
    int i, j, k;
    if (!t) return (pt__prm_target *)pt__fail_null(PT_ERR_NOMEM, "PRM targets: out of memory (%d examples)", n);
    for (i = 0; i < n; i++) {
        int got = pt_prm_targets(tok, &ex[i], t[i].pos, t[i].label, PT_PRM_MAX_STEPS);
        if (got < 0) {
            PT_FREE(t);
            return NULL;
        }
        for (j = 0, k = 0; j < got; j++)
            if (t[i].pos[j] < m->cfg.seq_len) {
                t[i].pos[k] = t[i].pos[j];
                t[i].label[k++] = t[i].label[j];
            }
        t[i].n = k;
    }
    return t;
}
/* Head values [k * T] of a filled single-example batch, and the targets of its rows as a label and
   a mask array over those values (labels/mask may be NULL). */
static pt_tensor *pt__prm_batch(pt_ctx *ctx, pt_model *m, pt__pairs *p, const pt__prm_target *tg, const int *idx,
                                int k, float *labels, float *mask)
{
    int i, j;
    if (labels && mask) {
        memset(labels, 0, (size_t)k * p->T * sizeof(float));
        memset(mask, 0, (size_t)k * p->T * sizeof(float));
        for (i = 0; i < k; i++)
            for (j = 0; j < tg[idx[i]].n; j++) {
                int64_t o = (int64_t)i * p->T + tg[idx[i]].pos[j];
                labels[o] = tg[idx[i]].label[j];
                mask[o] = 1.0f;
            }
    }
    return pt_model_head_values(ctx, m, &p->b);
}
typedef struct pt__prm_state {
    pt__prm_target *train, *eval;
    float *labels, *mask;   /* [B * T] */
} pt__prm_state;
static pt_tensor *pt__prm_loss(pt__pair_run *run, pt_ctx *ctx, const int *idx, float *extra)
{
    pt__prm_state *ps = (pt__prm_state *)run->user;
    pt_tensor *v = pt__prm_batch(ctx, run->m, &run->p, ps->train, idx, run->B, ps->labels, ps->mask);
    int64_t i;
    float right = 0.0f, total = 0.0f;
    if (!v) return NULL;
    for (i = 0; i < v->size; i++)   /* CSV: the batch's step accuracy */
        if (ps->mask[i] != 0.0f) {
            right += (v->data[i] > 0.0f) == (ps->labels[i] > 0.5f);
            total += 1.0f;
        }
    extra[0] = total > 0.0f ? right / total : 0.0f;
    return pt_bce_loss(ctx, v, ps->labels, ps->mask);
}
/* Held-out examples: the mean BCE over their steps and the step accuracy, no gradient. */
static int pt__prm_eval(pt__pair_run *run, pt_ctx *ctx, float *eval_loss, float *accuracy)
{
    pt__prm_state *ps = (pt__prm_state *)run->user;
    double lsum = 0, right = 0, total = 0;
    int at, i, j, st = PT_OK, idx[256];
    pt_ctx_set_grad(ctx, 0);
    for (at = 0; at < run->n_eval && st == PT_OK; at += run->B) {
        int k = run->n_eval - at < run->B ? run->n_eval - at : run->B;
        pt_tensor *v;
        for (i = 0; i < k; i++) idx[i] = at + i;
        pt__pairs_fill(&run->p, run->eval_chosen, NULL, idx, k);
        if (!(v = pt__prm_batch(ctx, run->m, &run->p, ps->eval, idx, k, NULL, NULL))) {
            st = pt_last_status();
            break;
        }
        for (i = 0; i < k; i++)
            for (j = 0; j < ps->eval[at + i].n; j++) {
                double z = v->data[(int64_t)i * run->p.T + ps->eval[at + i].pos[j]];
                int y = ps->eval[at + i].label[j] > 0.5f;
                right += (z > 0.0) == y;
                lsum += z > 0 ? log1p(exp(-z)) + (y ? 0.0 : z) : log1p(exp(z)) - (y ? z : 0.0);
                total += 1.0;
            }
        pt_ctx_reset(ctx);
    }
    pt_ctx_set_grad(ctx, 1);
    *eval_loss = total > 0 ? (float)(lsum / total) : 0.0f;
    *accuracy = total > 0 ? (float)(right / total) : 0.0f;
    return st;
}
/* The examples with at least one step target, shallow copies (ids stay the caller's), and their
   targets in the same order. */
static int pt__prm_keep(const pt_tokenizer *tok, const pt_model *m, const pt_example *ex, int n, pt_example **kept,
                        pt__prm_target **targets)
{
    pt__prm_target *t = pt__prm_targets_all(tok, m, ex, n);
    pt_example *k = (pt_example *)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof *k);
    int i, count = 0;
    if (!t || !k) {
        PT_FREE(t);
        PT_FREE(k);
        return pt_last_status() ? pt_last_status() : pt__fail(PT_ERR_NOMEM, "PRM data: out of memory");
    }
    for (i = 0; i < n; i++)
        if (t[i].n > 0) {
            k[count] = ex[i];
            t[count++] = t[i];
        }
    *kept = k;
    *targets = t;
    return count;
}
PTDEF int pt_prm_train(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, const pt_example *eval,
                       int n_eval, const pt_prm_config *cfg_in, pt_train_result *res)
{
    pt_prm_config cfg;
    pt__prm_state ps;
    pt__pair_run run;
    pt_example *train_ex = NULL, *eval_ex = NULL;
    int st, n_train = 0, n_kept_eval = 0;
    memset(&cfg, 0, sizeof cfg);
    memset(&ps, 0, sizeof ps);
    if (cfg_in) cfg = *cfg_in;
    if (!cfg.train.name) cfg.train.name = "prm";
    if (!m || !tok || !ex || n < 1 || n_eval < 0 || (n_eval > 0 && !eval))
        return pt__fail(PT_ERR_ARG, "pt_prm_train: need a model, a tokenizer, n >= 1 examples and the eval examples");
    if ((n_train = pt__prm_keep(tok, m, ex, n, &train_ex, &ps.train)) < 0) return n_train;
    if (n_eval > 0 && (n_kept_eval = pt__prm_keep(tok, m, eval, n_eval, &eval_ex, &ps.eval)) < 0) {
        st = n_kept_eval;
        goto done;
    }
    if (n_train < 1) {
        st = pt__fail(PT_ERR_ARG, "pt_prm_train: none of the %d examples has a labelled step (world problems?)", n);
        goto done;
    }
    st = pt__pair_run_init(&run, "pt_prm_train", m, 0, train_ex, NULL, n_train, eval_ex, NULL, n_kept_eval,
                           cfg.batch_size > 0 ? cfg.batch_size : 16);
    if (st != PT_OK) goto done;
    ps.labels = (float *)PT_MALLOC((size_t)run.B * run.p.T * sizeof(float));
    ps.mask = (float *)PT_MALLOC((size_t)run.B * run.p.T * sizeof(float));
    if (!ps.labels || !ps.mask) st = pt__fail(PT_ERR_NOMEM, "pt_prm_train: out of memory");
    if (st == PT_OK && !m->head) st = pt_model_head_attach(m, cfg.seed);
    if (st == PT_OK) {
        run.user = &ps;
        run.loss = pt__prm_loss;
        run.eval = n_kept_eval > 0 ? pt__prm_eval : NULL;
        st = pt__pair_run_go(&run, &cfg.train, "step_acc", 1, cfg.seed ^ 0x9e37ULL, res);
    }
    pt__pairs_free(&run.p);
done:
    PT_FREE(ps.labels);
    PT_FREE(ps.mask);
    PT_FREE(ps.train);
    PT_FREE(ps.eval);
    PT_FREE(train_ex);
    PT_FREE(eval_ex);
    return st;
}
PTDEF int pt_prm_steps(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, int max_steps,
                       float *probs, float *labels, int *n_steps)
{
    pt__prm_target *tg;
    pt__pairs p;
    pt_ctx *ctx;
    int st, at, i, j;
    if (!m || !m->head || !tok || (!ex && n > 0) || n < 0 || max_steps < 1 || !probs || !n_steps)
        return pt__fail(PT_ERR_ARG, "pt_prm_steps: need a model with a head, a tokenizer, examples and outputs");
    if (n == 0) return PT_OK;
    if (!(tg = pt__prm_targets_all(tok, m, ex, n))) return pt_last_status();
    if ((st = pt__pairs_alloc(&p, 16, pt__pairs_T(m, ex, ex, n, NULL, NULL, 0))) != PT_OK) {
        PT_FREE(tg);
        return st;
    }
    if (!(ctx = pt_ctx_new(0))) st = pt__fail(PT_ERR_NOMEM, "pt_prm_steps: out of memory");
    if (ctx) pt_ctx_set_grad(ctx, 0);
    for (at = 0; at < n && st == PT_OK; at += 16) {
        int k = n - at < 16 ? n - at : 16, idx[16];
        pt_tensor *v;
        for (i = 0; i < k; i++) idx[i] = at + i;
        pt__pairs_fill(&p, ex, NULL, idx, k);
        if (!(v = pt__prm_batch(ctx, m, &p, tg, idx, k, NULL, NULL))) st = pt_last_status();
        for (i = 0; v && i < k; i++) {
            const pt__prm_target *t = &tg[at + i];
            n_steps[at + i] = t->n < max_steps ? t->n : max_steps;
            for (j = 0; j < n_steps[at + i]; j++) {
                probs[(int64_t)(at + i) * max_steps + j] = pt__sigmoidf(v->data[(int64_t)i * p.T + t->pos[j]]);
                if (labels) labels[(int64_t)(at + i) * max_steps + j] = t->label[j];
            }
        }
        pt_ctx_reset(ctx);
    }
    pt_ctx_free(ctx);
    pt__pairs_free(&p);
    PT_FREE(tg);
    return st;
}
PTDEF int pt_prm_score(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, int mode, float *scores)
{
    float *probs = (float *)PT_MALLOC((size_t)(n > 0 ? n : 1) * PT_PRM_MAX_STEPS * sizeof(float));
    int *steps = (int *)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof(int)), st, i;
    if (!probs || !steps) st = pt__fail(PT_ERR_NOMEM, "pt_prm_score: out of memory");
    else if (!scores || mode < PT_PRM_MIN || mode > PT_PRM_LAST)
        st = pt__fail(PT_ERR_ARG, "pt_prm_score: need an output and a mode PT_PRM_MIN, _PRODUCT or _LAST");
    else st = pt_prm_steps(m, tok, ex, n, PT_PRM_MAX_STEPS, probs, NULL, steps);
    for (i = 0; st == PT_OK && i < n; i++)
        scores[i] = pt_prm_aggregate(probs + (int64_t)i * PT_PRM_MAX_STEPS, steps[i], mode);
    PT_FREE(probs);
    PT_FREE(steps);
    return st;
}
PTDEF int pt_prm_eval(pt_model *m, const pt_tokenizer *tok, const pt_example *ex, int n, pt_prm_eval_result *r)
{
    size_t cells = (size_t)(n > 0 ? n : 1) * PT_PRM_MAX_STEPS;
    float *probs = (float *)PT_MALLOC(cells * sizeof(float)), *labels = (float *)PT_MALLOC(cells * sizeof(float));
    int *steps = (int *)PT_MALLOC((size_t)(n > 0 ? n : 1) * sizeof(int)), st, i, j;
    double right = 0, found = 0, alarms = 0, labelled_right = 0;
    pt_prm_eval_result out;
    memset(&out, 0, sizeof out);
    if (!probs || !labels || !steps) st = pt__fail(PT_ERR_NOMEM, "pt_prm_eval: out of memory");
    else if (!r) st = pt__fail(PT_ERR_ARG, "pt_prm_eval: result is NULL");
    else st = pt_prm_steps(m, tok, ex, n, PT_PRM_MAX_STEPS, probs, labels, steps);
    for (i = 0; st == PT_OK && i < n; i++) {
        const float *pr = probs + (size_t)i * PT_PRM_MAX_STEPS, *y = labels + (size_t)i * PT_PRM_MAX_STEPS;
        int first_bad = -1, first_flag = -1;
        if (steps[i] == 0) continue;
        out.n_solutions++;
        for (j = 0; j < steps[i]; j++) {
            right += (pr[j] > 0.5f) == (y[j] > 0.5f);
            labelled_right += y[j] > 0.5f;
            if (first_bad < 0 && y[j] < 0.5f) first_bad = j;
            if (first_flag < 0 && pr[j] < 0.5f) first_flag = j;
        }
        out.n_steps += steps[i];
        if (first_bad >= 0) {
            out.n_with_error++;
            found += first_flag == first_bad;
        } else {
            out.n_clean++;
            alarms += first_flag >= 0;
        }
    }
    if (st == PT_OK) {
        out.step_accuracy = out.n_steps ? (float)(right / out.n_steps) : 0.0f;
        out.first_error_rate = out.n_with_error ? (float)(found / out.n_with_error) : 0.0f;
        out.false_alarm_rate = out.n_clean ? (float)(alarms / out.n_clean) : 0.0f;
        out.right_rate = out.n_steps ? (float)(labelled_right / out.n_steps) : 0.0f;
        *r = out;
    }
    PT_FREE(probs);
    PT_FREE(labels);
    PT_FREE(steps);
    return st;
}

/* --- Generative judge ------------------------------------------------------------------------------- */
PTDEF int pt_judge_prompt(const char *prompt, const char *completion, char *out, int cap)
{
    pt_problem p;
    char question[sizeof p.question];
    const char *q = prompt ? prompt : "";
    if (prompt && pt_world_parse(prompt, &p) == PT_OK) {   /* the question alone, whatever wraps it */
        pt__world_user_text(&p, question, sizeof question);
        q = question;
    }
    if (!completion) completion = "";
    {
        size_t n = pt__reward_trimmed(completion), i = 0;
        int len = snprintf(out, out ? (size_t)cap : 0, "%s\n", q), k;
        const char *tail = "\nIs this solution correct?";
        while (i < n) {   /* sampled bytes need not be UTF-8: an invalid byte becomes '?', the prompt stays text */
            k = pt__utf8_len((const unsigned char *)completion + i, n - i);
            if (k == 0) {
                if (out && len < cap - 1) out[len] = '?';
                len++;
                i++;
            }
            for (; k > 0; k--, i++, len++)
                if (out && len < cap - 1) out[len] = completion[i];
        }
        for (; *tail; tail++, len++)
            if (out && len < cap - 1) out[len] = *tail;
        if (out && cap > 0) out[len < cap - 1 ? len : cap - 1] = 0;
        return len;
    }
}
PTDEF int pt_judge_target(const char *prompt, const char *completion, int think, char *out, int cap)
{
    pt_problem p;
    const char *verdict = pt_reward_correct(prompt, completion, NULL) > 0.5f ? "yes" : "no";
    if (think && prompt && pt_world_parse(prompt, &p) == PT_OK)   /* the solution without its "A: " */
        return snprintf(out, out ? (size_t)cap : 0, "%s%s", p.solution + 3, verdict);
    return snprintf(out, out ? (size_t)cap : 0, "%s", verdict);
}
/* s starts with the word w (lowercase ASCII; s in any case) standing alone: not followed by a
   letter or digit. ASCII by hand rather than <ctype.h>, whose answers depend on the locale. */
static int pt__word_at(const char *s, const char *w)
{
    for (; *w; s++, w++)
        if ((*s >= 'A' && *s <= 'Z' ? *s + 32 : *s) != *w) return 0;
    return !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'));
}
static int pt__is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
PTDEF int pt_judge_parse(const char *response)
{
    const char *s = response, *e;
    if (!s) return -1;
    while (pt__is_space(*s)) s++;
    if (strncmp(s, "<think>", 7) == 0) {   /* skip the thought and the judge's own answer */
        if (!(e = strstr(s, "</think>"))) return -1;
        for (s = e + 8; pt__is_space(*s); s++) {}
    }
    if (strncmp(s, "<answer>", 8) == 0) {
        if (!(e = strstr(s, "</answer>"))) return -1;
        for (s = e + 9; pt__is_space(*s); s++) {}
    }
    if (pt__word_at(s, "yes")) return 1;
    if (pt__word_at(s, "no")) return 0;
    return -1;
}
PTDEF int pt_judge_data(const pt_world_config *cfg, int split, uint64_t seed, int n, int think, pt_dataset *ds)
{
    /* right: clean, a step slip, clean; wrong: wrong answer, carried slip, cut off */
    static const int flaws[6] = {PT_FLAW_NONE,    PT_FLAW_ANSWER, PT_FLAW_STEP,
                                 PT_FLAW_CARRIED, PT_FLAW_NONE,   PT_FLAW_TRUNCATED};
    pt_dataset out;
    pt_rng rng;
    int i, st = PT_OK;
    if (!ds || n < 1) return pt__fail(PT_ERR_ARG, "pt_judge_data: need ds and n >= 1, got %d", n);
    memset(&out, 0, sizeof out);
    out.kind = PT_DATA_COMPLETION;
    out.records = (pt_record *)PT_MALLOC((size_t)n * sizeof(pt_record));
    if (!out.records) return pt__fail(PT_ERR_NOMEM, "pt_judge_data: out of memory");
    memset(out.records, 0, (size_t)n * sizeof(pt_record));
    out.n = n;
    pt_rng_seed(&rng, seed ^ 0x7D6EULL ^ (uint64_t)split << 40);
    for (i = 0; i < n && st == PT_OK; i++) {
        pt_problem p;
        char cand[sizeof p.solution], user[sizeof p.question + sizeof p.solution + 64], target[sizeof p.solution + 8];
        pt_world_problem(cfg, split, seed, i, &p);
        pt_world_completion(&p, flaws[i % 6], &rng, cand, sizeof cand);
        pt_judge_prompt(p.question, cand, user, sizeof user);
        pt_judge_target(p.question, cand, think, target, sizeof target);
        out.records[i].line = i + 1;
        out.records[i].prompt = pt__strdup(user);
        out.records[i].completion = pt__strdup(target);
        if (!out.records[i].prompt || !out.records[i].completion) st = PT_ERR_NOMEM;
    }
    if (st != PT_OK) {
        pt_dataset_free(&out);
        return pt__fail(PT_ERR_NOMEM, "pt_judge_data: out of memory");
    }
    *ds = out;
    return PT_OK;
}
/* The judge's thought in a generated response: through its </answer> (or </think>), else none. */
static int pt__judge_thought(const char *text)
{
    const char *t = strstr(text, "</think>"), *a;
    if (!t) return 0;
    a = strstr(t, "</answer>");
    return a ? (int)(a + 9 - text) : (int)(t + 8 - text);
}
PTDEF int pt_judge_score(pt_model *judge, const pt_tokenizer *tok, const char *const *prompts,
                         const char *const *completions, int n, int think, float *p_yes)
{
    pt_example *ex = NULL, *ask = NULL;
    pt_gen_result gen;
    float *lp = NULL;
    int st = PT_OK, i, v;
    memset(&gen, 0, sizeof gen);
    if (!judge || !tok || (n > 0 && (!prompts || !completions)) || n < 0 || !p_yes)
        return pt__fail(PT_ERR_ARG, "pt_judge_score: need a judge, a tokenizer, n texts and an output");
    if (n == 0) return PT_OK;
    ask = (pt_example *)PT_MALLOC((size_t)n * sizeof *ask);
    ex = (pt_example *)PT_MALLOC((size_t)2 * n * sizeof *ex);
    lp = (float *)PT_MALLOC((size_t)2 * n * sizeof(float));
    if (ask) memset(ask, 0, (size_t)n * sizeof *ask);
    if (ex) memset(ex, 0, (size_t)2 * n * sizeof *ex);
    if (!ask || !ex || !lp) st = pt__fail(PT_ERR_NOMEM, "pt_judge_score: out of memory");
    for (i = 0; i < n && st == PT_OK; i++) {   /* the question to the judge, as a generation prompt */
        pt_record r;
        int len = pt_judge_prompt(prompts[i], completions[i], NULL, 0);
        memset(&r, 0, sizeof r);
        if (!(r.prompt = (char *)PT_MALLOC((size_t)len + 1))) {
            st = pt__fail(PT_ERR_NOMEM, "pt_judge_score: out of memory");
            break;
        }
        pt_judge_prompt(prompts[i], completions[i], r.prompt, len + 1);
        st = pt_record_example(tok, &r, PT_DATA_PROMPT, 1, 0, &ask[i]);
        PT_FREE(r.prompt);
    }
    if (st == PT_OK && think) {   /* the thoughts, greedily, all questions in one batch */
        pt_gen_config g;
        const int **ids = (const int **)PT_MALLOC((size_t)n * sizeof(int *));
        int *lens = (int *)PT_MALLOC((size_t)n * sizeof(int)), end[1];
        memset(&g, 0, sizeof g);
        g.max_new_tokens = 96;
        if (tok->encode(tok, "<|end|>", 0, 0, end, 1) == 1) g.stop_tokens[g.n_stop_tokens++] = end[0];
        if (tok->eos_id >= 0) g.stop_tokens[g.n_stop_tokens++] = tok->eos_id;
        for (i = 0; ids && lens && i < n; i++) {
            ids[i] = ask[i].ids;
            lens[i] = ask[i].n_ids;
            if (judge->cfg.seq_len - lens[i] - 4 < g.max_new_tokens)   /* room for the verdict after the thought */
                g.max_new_tokens = judge->cfg.seq_len - lens[i] - 4;
        }
        if (!ids || !lens) st = pt__fail(PT_ERR_NOMEM, "pt_judge_score: out of memory");
        else if (g.max_new_tokens < 16)
            st = pt__fail(PT_ERR_ARG, "pt_judge_score: a question of %d tokens leaves no room to think (seq_len %d)",
                          judge->cfg.seq_len - 4 - g.max_new_tokens, judge->cfg.seq_len);
        else st = pt_generate(judge, ids, lens, n, 1, &g, &gen);
        PT_FREE(ids);
        PT_FREE(lens);
    }
    for (i = 0; i < n && st == PT_OK; i++) {   /* question [+ thought] + verdict, the verdict the target */
        char text[1024] = "";
        int k_thought = 0, thought[512];
        if (think) {
            const int *t = gen.tokens + (size_t)i * gen.width;
            pt_decode(tok, t + gen.prompt_len[i], gen.total_len[i] - gen.prompt_len[i], text, sizeof text);
            text[pt__judge_thought(text)] = 0;
            if (text[0] && (k_thought = tok->encode(tok, text, 0, 0, thought, 512)) < 0) st = k_thought;
            if (k_thought > judge->cfg.seq_len - ask[i].n_ids - 4) k_thought = judge->cfg.seq_len - ask[i].n_ids - 4;
            if (k_thought < 0) k_thought = 0;
        }
        for (v = 0; v < 2 && st == PT_OK; v++) {
            pt_example *e = &ex[2 * i + v];
            int k;
            e->ids = (int *)PT_MALLOC((size_t)(ask[i].n_ids + k_thought + 16) * sizeof(int));
            if (!e->ids) {
                st = pt__fail(PT_ERR_NOMEM, "pt_judge_score: out of memory");
                break;
            }
            memcpy(e->ids, ask[i].ids, (size_t)ask[i].n_ids * sizeof(int));
            if (k_thought > 0) memcpy(e->ids + ask[i].n_ids, thought, (size_t)k_thought * sizeof(int));
            e->n_prompt = ask[i].n_ids + k_thought;
            if ((k = tok->encode(tok, v ? "no" : "yes", 0, 0, e->ids + e->n_prompt, 16)) < 1)
                st = k < 0 ? k : pt__fail(PT_ERR_ARG, "pt_judge_score: the tokenizer cannot encode the verdict");
            e->n_ids = e->n_prompt + (k > 0 ? k : 0);
        }
    }
    if (st == PT_OK) st = pt_sequence_logprobs(judge, ex, 2 * n, 16, lp, NULL);
    for (i = 0; st == PT_OK && i < n; i++) p_yes[i] = pt__sigmoidf(lp[2 * i] - lp[2 * i + 1]);
    if (ask) pt_examples_free(ask, n);
    if (ex) pt_examples_free(ex, 2 * n);
    PT_FREE(ask);
    PT_FREE(ex);
    PT_FREE(lp);
    pt_gen_result_free(&gen);
    return st;
}

/* ================================================================================================
   12. PREFERENCE OPTIMISATION (implementation)                                        >>preference
   ================================================================================================ */
/* Shapes every pair loss checks: pi_c and pi_r [n]; the given float arrays have n entries. */
static int pt__pair_shapes(pt_tensor *pi_c, pt_tensor *pi_r, const char *who)
{
    if (!pi_c || !pi_r) return 0;
    if (pi_c->ndim != 1 || !pt_same_shape(pi_c, pi_r)) {
        pt__fail(PT_ERR_SHAPE, "%s: policy log-probs must be two [n] tensors", who);
        return 0;
    }
    return 1;
}
/* h = (pi_c - ref_c) - (pi_r - ref_r): the policy's log-ratio margin over the reference's. */
static pt_tensor *pt__pref_h(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c, const float *ref_r,
                             const char *who)
{
    float *ref_margin;
    int i;
    if (!pt__pair_shapes(pi_c, pi_r, who)) return NULL;
    if (!ref_c || !ref_r) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: reference log-probs are NULL", who);
    if (!(ref_margin = pt__floats(ctx, pi_c->size))) return NULL;
    for (i = 0; i < pi_c->shape[0]; i++) ref_margin[i] = (float)((double)ref_c[i] - (double)ref_r[i]);
    return pt_sub(ctx, pt_sub(ctx, pi_c, pi_r), pt_tensor_from(ctx, 1, pi_c->shape, ref_margin));
}
/* pi / len per sequence: the mean log-prob per completion token. */
static pt_tensor *pt__per_token(pt_ctx *ctx, pt_tensor *pi, const float *len, const char *who)
{
    float *inv;
    int i;
    if (!pi) return NULL;
    if (!len) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: completion lengths are NULL", who);
    if (!(inv = pt__floats(ctx, pi->size))) return NULL;
    for (i = 0; i < pi->shape[0]; i++) {
        if (!(len[i] > 0.0f))
            return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "%s: completion %d has length %g", who, i, (double)len[i]);
        inv[i] = 1.0f / len[i];
    }
    return pt_mul(ctx, pi, pt_tensor_from(ctx, 1, pi->shape, inv));
}
PTDEF pt_tensor *pt_dpo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c, const float *ref_r,
                             float beta, float label_smoothing, int robust, const float *margins)
{
    float e = label_smoothing;
    pt_tensor *z, *pos, *neg;
    if (!(beta > 0.0f)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_dpo_loss: beta %g must be > 0", (double)beta);
    if (!(e >= 0.0f && e < 0.5f))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_dpo_loss: label smoothing %g not in [0, 0.5)", (double)e);
    z = pt_scale(ctx, pt__pref_h(ctx, pi_c, pi_r, ref_c, ref_r, "pt_dpo_loss"), beta);
    if (z && margins) z = pt_sub(ctx, z, pt_tensor_from(ctx, 1, z->shape, margins));
    pos = pt_mean(ctx, pt_log_sigmoid(ctx, z));   /* mean log sigmoid(z): the label is right */
    if (e == 0.0f) return pt_scale(ctx, pos, -1.0f);
    neg = pt_mean(ctx, pt_log_sigmoid(ctx, pt_scale(ctx, z, -1.0f)));   /* ... the label is flipped */
    if (robust)
        return pt_scale(ctx, pt_sub(ctx, pt_scale(ctx, neg, e), pt_scale(ctx, pos, 1.0f - e)),
                        1.0f / (1.0f - 2.0f * e));
    return pt_scale(ctx, pt_add(ctx, pt_scale(ctx, pos, 1.0f - e), pt_scale(ctx, neg, e)), -1.0f);
}
PTDEF pt_tensor *pt_ipo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c, const float *ref_r,
                             float beta)
{
    if (!(beta > 0.0f)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_ipo_loss: beta %g must be > 0", (double)beta);
    return pt_mean(ctx, pt_square(ctx, pt_add_scalar(ctx, pt__pref_h(ctx, pi_c, pi_r, ref_c, ref_r, "pt_ipo_loss"),
                                                     -1.0f / (2.0f * beta))));
}
PTDEF pt_tensor *pt_hinge_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *ref_c,
                               const float *ref_r, float beta)
{
    if (!(beta > 0.0f))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_hinge_loss: beta %g must be > 0", (double)beta);
    return pt_mean(ctx, pt_relu(ctx, pt_add_scalar(ctx, pt_scale(ctx, pt__pref_h(ctx, pi_c, pi_r, ref_c, ref_r,
                                                                                   "pt_hinge_loss"), -beta), 1.0f)));
}
PTDEF pt_tensor *pt_simpo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *len_c, const float *len_r,
                               float beta, float gamma)
{
    pt_tensor *z;
    if (!pt__pair_shapes(pi_c, pi_r, "pt_simpo_loss")) return NULL;
    if (!(beta > 0.0f))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_simpo_loss: beta %g must be > 0", (double)beta);
    z = pt_sub(ctx, pt__per_token(ctx, pi_c, len_c, "pt_simpo_loss"), pt__per_token(ctx, pi_r, len_r, "pt_simpo_loss"));
    return pt_scale(ctx, pt_mean(ctx, pt_log_sigmoid(ctx, pt_add_scalar(ctx, pt_scale(ctx, z, beta), -gamma))), -1.0f);
}
PTDEF pt_tensor *pt_chosen_nll(pt_ctx *ctx, pt_tensor *pi_c, const float *len_c)
{
    return pt_scale(ctx, pt_mean(ctx, pt__per_token(ctx, pi_c, len_c, "pt_chosen_nll")), -1.0f);
}
/* log odds(p) = log p - log(1 - p) with log p = a (per-token mean log-prob, < 0). a is kept below
   -1e-6 so that 1 - exp(a) stays positive when the model is certain. */
static pt_tensor *pt__log_odds(pt_ctx *ctx, pt_tensor *a)
{
    pt_tensor *c = pt_clamp(ctx, a, -1e30f, -1e-6f);
    return pt_sub(ctx, c, pt_log(ctx, pt_add_scalar(ctx, pt_scale(ctx, pt_exp(ctx, c), -1.0f), 1.0f)));
}
PTDEF pt_tensor *pt_orpo_loss(pt_ctx *ctx, pt_tensor *pi_c, pt_tensor *pi_r, const float *len_c, const float *len_r,
                              float lambda)
{
    pt_tensor *a_c, *a_r, *odds;
    if (!pt__pair_shapes(pi_c, pi_r, "pt_orpo_loss")) return NULL;
    if (!(lambda >= 0.0f)) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_orpo_loss: lambda %g", (double)lambda);
    a_c = pt__per_token(ctx, pi_c, len_c, "pt_orpo_loss");
    a_r = pt__per_token(ctx, pi_r, len_r, "pt_orpo_loss");
    odds = pt_mean(ctx, pt_log_sigmoid(ctx, pt_sub(ctx, pt__log_odds(ctx, a_c), pt__log_odds(ctx, a_r))));
    return pt_sub(ctx, pt_scale(ctx, pt_mean(ctx, a_c), -1.0f), pt_scale(ctx, odds, lambda));
}
/* The one place the preference config's defaults are resolved (a copy). */
static pt_pref_config pt__pref_resolve(const pt_pref_config *in)
{
    pt_pref_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    if (!(c.beta > 0.0f)) c.beta = c.loss == PT_PREF_SIMPO ? 2.0f : 0.1f;
    if (!(c.gamma > 0.0f)) c.gamma = 0.5f;
    if (!(c.lambda > 0.0f)) c.lambda = 0.1f;
    return c;
}
PTDEF pt_tensor *pt_pref_loss(pt_ctx *ctx, const pt_pref_config *cfg_in, pt_tensor *pi_c, pt_tensor *pi_r,
                              const float *ref_c, const float *ref_r, const float *len_c, const float *len_r,
                              const float *strength, pt_pref_metrics *metrics)
{
    pt_pref_config c = pt__pref_resolve(cfg_in);
    pt_tensor *loss = NULL;
    float *margins = NULL;
    int i, n, ref_free = c.loss == PT_PREF_SIMPO || c.loss == PT_PREF_ORPO;
    if (!pt__pair_shapes(pi_c, pi_r, "pt_pref_loss")) return NULL;
    n = pi_c->shape[0];
    if (c.strength_margin > 0.0f && strength) {
        if (!(margins = pt__floats(ctx, n))) return NULL;
        for (i = 0; i < n; i++) margins[i] = c.strength_margin * strength[i];
    }
    switch (c.loss) {
    case PT_PREF_DPO: loss = pt_dpo_loss(ctx, pi_c, pi_r, ref_c, ref_r, c.beta, c.label_smoothing, 0, margins); break;
    case PT_PREF_ROBUST:
        loss = pt_dpo_loss(ctx, pi_c, pi_r, ref_c, ref_r, c.beta, c.label_smoothing, 1, margins);
        break;
    case PT_PREF_IPO: loss = pt_ipo_loss(ctx, pi_c, pi_r, ref_c, ref_r, c.beta); break;
    case PT_PREF_HINGE: loss = pt_hinge_loss(ctx, pi_c, pi_r, ref_c, ref_r, c.beta); break;
    case PT_PREF_SIMPO: loss = pt_simpo_loss(ctx, pi_c, pi_r, len_c, len_r, c.beta, c.gamma); break;
    case PT_PREF_ORPO: loss = pt_orpo_loss(ctx, pi_c, pi_r, len_c, len_r, c.lambda); break;
    default: return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_pref_loss: unknown loss %d", c.loss);
    }
    if (loss && c.rpo_alpha > 0.0f && c.loss != PT_PREF_ORPO)
        loss = pt_add(ctx, loss, pt_scale(ctx, pt_chosen_nll(ctx, pi_c, len_c), c.rpo_alpha));
    if (loss && metrics) {
        double acc = 0, margin = 0, lc = 0, lr = 0, rc = 0, rr = 0, kl = 0;
        for (i = 0; i < n; i++) {
            double a, b;
            if (ref_free) {   /* the implicit reward of a reference-free loss: beta x per-token log-prob */
                a = c.beta * pi_c->data[i] / (len_c ? len_c[i] : 1.0f);
                b = c.beta * pi_r->data[i] / (len_r ? len_r[i] : 1.0f);
            } else {
                a = c.beta * ((double)pi_c->data[i] - ref_c[i]);
                b = c.beta * ((double)pi_r->data[i] - ref_r[i]);
                kl += ((double)pi_c->data[i] - ref_c[i]) + ((double)pi_r->data[i] - ref_r[i]);
            }
            acc += a > b;
            margin += a - b;
            rc += a;
            rr += b;
            lc += pi_c->data[i];
            lr += pi_r->data[i];
        }
        metrics->loss = loss->data[0];
        metrics->accuracy = (float)(acc / n);
        metrics->margin = (float)(margin / n);
        metrics->chosen_reward = (float)(rc / n);
        metrics->rejected_reward = (float)(rr / n);
        metrics->chosen_logp = (float)(lc / n);
        metrics->rejected_logp = (float)(lr / n);
        metrics->kl = (float)(kl / (2.0 * n));
    }
    return loss;
}

/* The policy's per-sequence log-probs of a pair batch: pi_c, pi_r [n] (sums over completion tokens). */
static int pt__pair_logprobs(pt_ctx *ctx, pt_model *m, pt__pairs *p, int n, pt_tensor **pi_c, pt_tensor **pi_r)
{
    int shape[2];
    pt_tensor *view;
    shape[0] = n;
    shape[1] = 2 * p->T;
    view = pt_reshape(ctx, pt_model_logprobs(ctx, m, &p->b, 1.0f), 2, shape);
    *pi_c = pt_row_sum(ctx, view, p->mask_c);
    *pi_r = pt_row_sum(ctx, view, p->mask_r);
    return *pi_c && *pi_r ? PT_OK : pt_last_status();
}
/* Reference log-probs of n pairs, once: ref (or m as it is now, adapters off if asked). */
static int pt__pair_reference(pt_model *m, const pt_dpo_config *cfg, const pt_example *c, const pt_example *r, int n,
                              float *ref_c, float *ref_r)
{
    pt_model *ref = cfg->ref ? cfg->ref : m;
    int st, off = !cfg->ref && cfg->ref_adapters_off;
    if (n < 1) return PT_OK;
    if (off && (st = pt_model_set_adapters(m, 0)) != PT_OK) return st;
    st = pt_sequence_logprobs(ref, c, n, 16, ref_c, NULL);
    if (st == PT_OK) st = pt_sequence_logprobs(ref, r, n, 16, ref_r, NULL);
    if (off) pt_model_set_adapters(m, 1);
    return st;
}
typedef struct pt__dpo_state {
    const pt_dpo_config *cfg;
    pt_pref_config pc;
    const float *strength;
    float *ref;   /* reference log-probs: chosen [n], rejected [n], eval chosen [n_eval], eval rejected */
} pt__dpo_state;
static pt_tensor *pt__dpo_loss(pt__pair_run *run, pt_ctx *ctx, const int *idx, float *extra)
{
    const pt__dpo_state *ds = (const pt__dpo_state *)run->user;
    float ref_c[256], ref_r[256], strength[256];
    pt_pref_metrics met;
    pt_tensor *pi_c, *pi_r, *loss;
    int i;
    for (i = 0; i < run->B; i++) {
        ref_c[i] = ds->ref[idx[i]];
        ref_r[i] = ds->ref[run->n + idx[i]];
        strength[i] = ds->strength ? ds->strength[idx[i]] : 0.0f;
    }
    memset(&met, 0, sizeof met);
    if (pt__pair_logprobs(ctx, run->m, &run->p, run->B, &pi_c, &pi_r) != PT_OK) return NULL;
    loss = pt_pref_loss(ctx, &ds->pc, pi_c, pi_r, ref_c, ref_r, run->p.len_c, run->p.len_r, strength, &met);
    extra[0] = met.accuracy;   /* CSV: acc, margin, chosen_logp, rejected_logp, kl */
    extra[1] = met.margin;
    extra[2] = met.chosen_logp;
    extra[3] = met.rejected_logp;
    extra[4] = met.kl;
    return loss;
}
/* The eval pairs' mean loss and reward accuracy (no gradient); the metric is cfg->metric or that
   accuracy. */
static int pt__dpo_eval(pt__pair_run *run, pt_ctx *ctx, float *eval_loss, float *metric)
{
    const pt__dpo_state *ds = (const pt__dpo_state *)run->user;
    const float *ref = ds->ref + 2 * run->n;
    double lsum = 0, correct = 0;
    int at, i, st = PT_OK, idx[256], n_eval = run->n_eval;
    float ref_c[256], ref_r[256];
    pt_tensor *pi_c, *pi_r;
    pt_ctx_set_grad(ctx, 0);
    for (at = 0; at < n_eval && st == PT_OK; at += run->B) {
        int k = n_eval - at < run->B ? n_eval - at : run->B;
        pt_pref_metrics em;
        for (i = 0; i < k; i++) {
            idx[i] = at + i;
            ref_c[i] = ref[at + i];
            ref_r[i] = ref[n_eval + at + i];
        }
        pt__pairs_fill(&run->p, run->eval_chosen, run->eval_rejected, idx, k);
        if ((st = pt__pair_logprobs(ctx, run->m, &run->p, k, &pi_c, &pi_r)) != PT_OK) break;
        if (!pt_pref_loss(ctx, &ds->pc, pi_c, pi_r, ref_c, ref_r, run->p.len_c, run->p.len_r, NULL, &em)) {
            st = pt_last_status();
            break;
        }
        lsum += (double)em.loss * k;
        correct += (double)em.accuracy * k;
        pt_ctx_reset(ctx);
    }
    pt_ctx_set_grad(ctx, 1);
    *eval_loss = n_eval > 0 ? (float)(lsum / n_eval) : NAN;
    *metric = ds->cfg->metric ? ds->cfg->metric(run->m, ds->cfg->user) : n_eval > 0 ? (float)(correct / n_eval) : NAN;
    return st;
}
PTDEF int pt_dpo_train(pt_model *m, const pt_example *chosen, const pt_example *rejected, const float *strength,
                       int n, const pt_example *eval_chosen, const pt_example *eval_rejected, int n_eval,
                       const pt_dpo_config *cfg_in, pt_train_result *res)
{
    pt_dpo_config cfg;
    pt__dpo_state ds;
    pt__pair_run run;
    int st, ref_free;
    size_t n_ref;
    memset(&cfg, 0, sizeof cfg);
    if (cfg_in) cfg = *cfg_in;
    if (!cfg.train.name) cfg.train.name = "dpo";
    st = pt__pair_run_init(&run, "pt_dpo_train", m, 1, chosen, rejected, n, eval_chosen, eval_rejected, n_eval,
                           cfg.batch_pairs);
    if (st != PT_OK) return st;
    ds.cfg = &cfg;
    ds.pc = pt__pref_resolve(&cfg.pref);
    ds.strength = strength;
    ref_free = ds.pc.loss == PT_PREF_SIMPO || ds.pc.loss == PT_PREF_ORPO;
    n_ref = (size_t)2 * (n + n_eval);
    if (!(ds.ref = (float *)PT_MALLOC(n_ref * sizeof(float)))) {
        pt__pairs_free(&run.p);
        return pt__fail(PT_ERR_NOMEM, "pt_dpo_train: out of memory");
    }
    memset(ds.ref, 0, n_ref * sizeof(float));
    if (!ref_free) {   /* the reference's log-probs, once, before the first step */
        st = pt__pair_reference(m, &cfg, chosen, rejected, n, ds.ref, ds.ref + n);
        if (st == PT_OK)
            st = pt__pair_reference(m, &cfg, eval_chosen, eval_rejected, n_eval, ds.ref + 2 * n,
                                    ds.ref + 2 * n + n_eval);
    }
    run.user = &ds;
    run.loss = pt__dpo_loss;
    run.eval = cfg.metric || n_eval > 0 ? pt__dpo_eval : NULL;
    if (st == PT_OK)
        st = pt__pair_run_go(&run, &cfg.train, "acc,margin,chosen_logp,rejected_logp,kl", 5, cfg.seed ^ 0xd90ULL, res);
    PT_FREE(ds.ref);
    pt__pairs_free(&run.p);
    return st;
}

/* ================================================================================================
   13. POLICY OPTIMISATION (implementation)                                                >>policy
   ================================================================================================ */
/* --- Pure functions over arrays --------------------------------------------------------------- */
PTDEF void pt_kl_tokens(const float *logp, const float *ref_logp, const float *mask, int n, int kind, float *out)
{
    int i;
    for (i = 0; i < n; i++) {
        double d = (double)ref_logp[i] - (double)logp[i];   /* log(ref / policy) at a sampled token */
        double k = kind == PT_KL_K2 ? 0.5 * d * d : kind == PT_KL_K3 ? exp(d) - d - 1.0 : -d;
        out[i] = mask && mask[i] == 0.0f ? 0.0f : (float)k;
    }
}
PTDEF int pt_gae(const float *rewards, const float *values, const float *mask, int B, int T, float gamma,
                 float lambda, float *advantages, float *returns)
{
    int i, t;
    if (B < 0 || T < 0 || !rewards || !values || !mask || !advantages || !returns)
        return pt__fail(PT_ERR_ARG, "pt_gae: bad arguments");
    if (!(gamma >= 0 && gamma <= 1 && lambda >= 0 && lambda <= 1))
        return pt__fail(PT_ERR_ARG, "pt_gae: gamma %g and lambda %g must be in [0, 1]", gamma, lambda);
    for (i = 0; i < B; i++) {
        double next_value = 0, next_adv = 0;   /* after the last action: the episode has ended */
        for (t = T - 1; t >= 0; t--) {
            int64_t at = (int64_t)i * T + t;
            double delta, adv;
            if (mask[at] == 0.0f) {
                advantages[at] = returns[at] = 0.0f;
                continue;
            }
            delta = rewards[at] + gamma * next_value - values[at];
            adv = delta + gamma * lambda * next_adv;
            advantages[at] = (float)adv;
            returns[at] = (float)(adv + values[at]);
            next_value = values[at];
            next_adv = adv;
        }
    }
    return PT_OK;
}
PTDEF void pt_whiten(float *x, const float *mask, int n, int shift_mean)
{
    double sum = 0, sq = 0, cnt = 0, mean, var;
    int i;
    for (i = 0; i < n; i++)
        if (!mask || mask[i] != 0.0f) {
            sum += x[i];
            cnt += 1;
        }
    if (cnt < 1) return;
    mean = sum / cnt;
    for (i = 0; i < n; i++)
        if (!mask || mask[i] != 0.0f) sq += (x[i] - mean) * (x[i] - mean);
    var = cnt > 1 ? sq / (cnt - 1) : 0.0;   /* unbiased, as torch.var and TRL's masked_var */
    for (i = 0; i < n; i++)
        if (!mask || mask[i] != 0.0f) x[i] = (float)((x[i] - mean) / sqrt(var + 1e-8) + (shift_mean ? 0.0 : mean));
}
/* mean and unbiased standard deviation of n values (std 0 when n < 2) */
static void pt__mean_std(const float *x, int n, double *mean, double *std)
{
    double s = 0, sq = 0;
    int i;
    for (i = 0; i < n; i++) s += x[i];
    *mean = n > 0 ? s / n : 0.0;
    for (i = 0; i < n; i++) sq += (x[i] - *mean) * (x[i] - *mean);
    *std = n > 1 ? sqrt(sq / (n - 1)) : 0.0;
}
PTDEF void pt_group_advantages(const float *rewards, int n_groups, int G, int std_mode, float *adv)
{
    double batch_mean, batch_std, mean, std;
    int g, i;
    pt__mean_std(rewards, n_groups * G, &batch_mean, &batch_std);
    for (g = 0; g < n_groups; g++) {
        const float *r = rewards + (int64_t)g * G;
        pt__mean_std(r, G, &mean, &std);
        if (std_mode == PT_ADV_STD_BATCH) std = batch_std;
        for (i = 0; i < G; i++) {
            double centred = r[i] - mean;   /* exactly 0 when the group's rewards are all equal */
            adv[(int64_t)g * G + i] = (float)(std_mode == PT_ADV_STD_NONE ? centred : centred / (std + 1e-4));
        }
    }
}
PTDEF void pt_rloo_advantages(const float *rewards, int n_groups, int G, float *adv)
{
    int g, i;
    for (g = 0; g < n_groups; g++) {
        const float *r = rewards + (int64_t)g * G;
        double sum = 0;
        for (i = 0; i < G; i++) sum += r[i];
        for (i = 0; i < G; i++)   /* the baseline of sample i is the mean of the other G - 1 */
            adv[(int64_t)g * G + i] = G > 1 ? (float)(r[i] - (sum - r[i]) / (G - 1)) : 0.0f;
    }
}
PTDEF void pt_ppo_rewards(const float *scores, const float *logp, const float *ref_logp, const float *mask, int B,
                          int T, float kl_coef, float *rewards)
{
    int i, t;
    for (i = 0; i < B; i++) {
        int last = -1;
        for (t = 0; t < T; t++) {
            int64_t at = (int64_t)i * T + t;
            rewards[at] = 0.0f;
            if (mask[at] == 0.0f) continue;
            rewards[at] = -kl_coef * (logp[at] - ref_logp[at]);   /* -kl_coef * k1 */
            last = t;
        }
        /* the score goes on the last generated token (the stop token), never on padding after it */
        if (last >= 0) rewards[(int64_t)i * T + last] += scores[i];
    }
}
PTDEF void pt_kl_control_update(pt_kl_control *c, float kl, int n_steps)
{
    double err;
    if (!c || c->target <= 0 || !(kl == kl)) return;
    err = kl / c->target - 1.0;
    err = err < -0.2 ? -0.2 : err > 0.2 ? 0.2 : err;
    c->coef *= (float)(1.0 + err * n_steps / (c->horizon > 0 ? c->horizon : 10000.0f));
}

/* --- Losses on the tape: compositions of section 2's ops, so their gradients are those ops' ---- */
static pt_tensor *pt__const_like(pt_ctx *ctx, const pt_tensor *like, const float *data)
{
    return pt_tensor_from(ctx, like->ndim, like->shape, data);
}
PTDEF pt_tensor *pt_clipped_surrogate(pt_ctx *ctx, pt_tensor *logp, const float *old_logp, const float *adv,
                                      float eps_low, float eps_high)
{
    pt_tensor *old, *a, *ratio, *unclipped, *clipped;
    if (!ctx || !logp || !old_logp || !adv)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_clipped_surrogate: NULL input");
    if (!(eps_low >= 0 && eps_low < 1 && eps_high >= 0))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_clipped_surrogate: eps_low %g must be in [0, 1), "
                                          "eps_high %g >= 0", eps_low, eps_high);
    old = pt__const_like(ctx, logp, old_logp);
    a = pt__const_like(ctx, logp, adv);
    ratio = pt_exp(ctx, pt_sub(ctx, logp, old));
    unclipped = pt_mul(ctx, ratio, a);
    clipped = pt_mul(ctx, pt_clamp(ctx, ratio, 1.0f - eps_low, 1.0f + eps_high), a);
    /* the pessimistic bound; on ties the gradient takes the unclipped side (pt_minimum) */
    return pt_scale(ctx, pt_minimum(ctx, unclipped, clipped), -1.0f);
}
PTDEF pt_tensor *pt_kl_penalty(pt_ctx *ctx, pt_tensor *logp, const float *ref_logp, int kind)
{
    pt_tensor *d;
    if (!ctx || !logp || !ref_logp) return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_kl_penalty: NULL input");
    d = pt_sub(ctx, pt__const_like(ctx, logp, ref_logp), logp);   /* d = ref - lp */
    if (kind == PT_KL_K1) return pt_scale(ctx, d, -1.0f);
    if (kind == PT_KL_K2) return pt_scale(ctx, pt_square(ctx, d), 0.5f);
    if (kind == PT_KL_K3) return pt_add_scalar(ctx, pt_sub(ctx, pt_exp(ctx, d), d), -1.0f);
    return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_kl_penalty: kind %d is not PT_KL_K1, K2 or K3", kind);
}
PTDEF pt_tensor *pt_value_loss(pt_ctx *ctx, pt_tensor *values, const float *old_values, const float *returns,
                               float clip)
{
    pt_tensor *ret, *old, *err, *clipped;
    if (!ctx || !values || !returns || (clip > 0 && !old_values))
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_value_loss: NULL input");
    ret = pt__const_like(ctx, values, returns);
    err = pt_square(ctx, pt_sub(ctx, values, ret));
    if (clip > 0) {   /* V_old + clip(V - V_old, -c, c): the critic moves at most c per rollout */
        old = pt__const_like(ctx, values, old_values);
        clipped = pt_add(ctx, old, pt_clamp(ctx, pt_sub(ctx, values, old), -clip, clip));
        err = pt_maximum(ctx, err, pt_square(ctx, pt_sub(ctx, clipped, ret)));
    }
    return pt_scale(ctx, err, 0.5f);
}
PTDEF pt_tensor *pt_aggregate_loss(pt_ctx *ctx, pt_tensor *per_token, const float *mask, int B, int T, int mode,
                                   float denom)
{
    int shape[2];
    double own = 0;
    int64_t i;
    if (!ctx || !per_token || !mask || B < 1 || T < 1 || per_token->size != (int64_t)B * T)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_aggregate_loss: per-token losses must be [B*T] = [%d*%d]",
                                          B, T);
    shape[0] = B;
    shape[1] = T;
    if (mode == PT_AGG_SEQ_MEAN) {
        if (denom <= 0) denom = (float)B;
        return pt_scale(ctx, pt_sum(ctx, pt_row_mean(ctx, pt_reshape(ctx, per_token, 2, shape), mask)), 1.0f / denom);
    }
    if (mode != PT_AGG_TOKEN_MEAN && mode != PT_AGG_SEQ_SUM_NORM)
        return (pt_tensor *)pt__fail_null(PT_ERR_ARG, "pt_aggregate_loss: mode %d is not a PT_AGG_*", mode);
    if (denom <= 0) {
        if (mode == PT_AGG_SEQ_SUM_NORM) own = (double)B * T;
        else
            for (i = 0; i < (int64_t)B * T; i++) own += mask[i];
        denom = own > 0 ? (float)own : 1.0f;   /* an empty mask gives a zero loss, not NaN */
    }
    return pt_scale(ctx, pt_masked_sum(ctx, per_token, mask), 1.0f / denom);
}

/* --- Rollouts --------------------------------------------------------------------------------- */
PTDEF void pt_rollout_free(pt_rollout *r)
{
    int i;
    if (!r) return;
    for (i = 0; i < r->batch.B; i++) {
        if (r->prompt_text) PT_FREE(r->prompt_text[i]);
        if (r->completion_text) PT_FREE(r->completion_text[i]);
    }
    PT_FREE(r->prompt_text);
    PT_FREE(r->completion_text);
    PT_FREE(r->ref_logprobs);
    PT_FREE(r->values);
    PT_FREE(r->n_completion);
    PT_FREE(r->truncated);
    pt_rollout_batch_free(&r->batch);
    pt_gen_result_free(&r->gen);
    memset(r, 0, sizeof *r);
}
/* rows [r0, r0 + rows) of a rollout batch as a pt_batch (positions 0..T-1, one segment per row) */
static pt_batch pt__rollout_rows(const pt_rollout_batch *b, int r0, int rows)
{
    pt_batch v = pt_rollout_view(b);
    int64_t o = (int64_t)r0 * b->T;
    v.B = rows;
    v.tokens += o;
    v.targets += o;
    v.loss_mask += o;
    return v;
}
/* The no-gradient forwards of a rollout: log-probs at a temperature, or (values = 1) head values.
   scratch (may be NULL) is a context to reuse. */
static int pt__rollout_forward(pt_model *m, const pt_rollout_batch *b, float temperature, int rows_per_forward,
                               int values, float *out, pt_ctx *scratch)
{
    int r0, st = PT_OK, R = rows_per_forward > 0 ? rows_per_forward : 32;
    pt_ctx *ctx = scratch;
    if (!m || !b || !out || b->B < 1) return pt__fail(PT_ERR_ARG, "pt_rollout_logprobs: bad arguments");
    if (values && !m->head) return pt__fail(PT_ERR_ARG, "pt_rollout_generate: the critic has no scalar head");
    if (!ctx && !(ctx = pt_ctx_new(0))) return pt__fail(PT_ERR_NOMEM, "pt_rollout_logprobs: out of memory");
    pt_ctx_reset(ctx);
    pt_ctx_set_grad(ctx, 0);
    for (r0 = 0; r0 < b->B && st == PT_OK; r0 += R) {
        int rows = b->B - r0 < R ? b->B - r0 : R;
        pt_batch v = pt__rollout_rows(b, r0, rows);
        pt_tensor *t = values ? pt_model_head_values(ctx, m, &v) : pt_model_logprobs(ctx, m, &v, temperature);
        if (!t) st = pt_last_status();
        else memcpy(out + (int64_t)r0 * b->T, t->data, (size_t)rows * b->T * sizeof(float));
        pt_ctx_reset(ctx);
    }
    pt_ctx_set_grad(ctx, 1);
    if (ctx != scratch) pt_ctx_free(ctx);
    return st;
}
PTDEF int pt_rollout_logprobs(pt_model *m, const pt_rollout_batch *b, float temperature, int rows_per_forward,
                              float *out)
{
    return pt__rollout_forward(m, b, temperature, rows_per_forward, 0, out, NULL);
}
/* the temperature losses score at: the sampler's, or 1 for greedy rollouts */
static float pt__score_temperature(const pt_gen_config *g)
{
    return g->sampler.temperature > 0 ? g->sampler.temperature : 1.0f;
}
static char *pt__decode_alloc(const pt_tokenizer *tok, const int *ids, int n)
{
    int len = pt_decode(tok, ids, n, NULL, 0);
    char *s = (char *)PT_MALLOC((size_t)(len > 0 ? len : 0) + 1);
    if (s) pt_decode(tok, ids, n, s, len + 1);
    return s;
}
PTDEF int pt_rollout_generate(pt_model *policy, const int *const *prompts, const int *prompt_lens, int n_prompts,
                              int group, const pt_rollout_config *cfg, pt_rollout *out)
{
    pt_rollout r;
    int i, st, B;
    int64_t n;
    double t0;
    float temp;
    if (!out) return pt__fail(PT_ERR_ARG, "pt_rollout_generate: out is NULL");
    memset(out, 0, sizeof *out);
    if (!policy || !cfg || !prompts || !prompt_lens) return pt__fail(PT_ERR_ARG, "pt_rollout_generate: NULL argument");
    if (cfg->gen.n_stop_tokens < 1)
        return pt__fail(PT_ERR_ARG, "pt_rollout_generate: no stop token (every completion would be truncated)");
    if (pt__is_stop(&cfg->gen, cfg->pad_id))
        return pt__fail(PT_ERR_ARG, "pt_rollout_generate: pad id %d is also a stop token: the stop token would be "
                                    "masked as padding and the policy would never learn to stop", cfg->pad_id);
    memset(&r, 0, sizeof r);
    temp = pt__score_temperature(&cfg->gen);
    t0 = pt_time_seconds();
    if ((st = pt_generate(policy, prompts, prompt_lens, n_prompts, group, &cfg->gen, &r.gen)) != PT_OK) return st;
    r.gen_s = pt_time_seconds() - t0;
    if ((st = pt_rollout_batch_from(&r.gen, cfg->pad_id, &r.batch)) != PT_OK) goto fail;
    B = r.batch.B;
    n = (int64_t)B * r.batch.T;
    r.n_completion = (int *)PT_MALLOC((size_t)B * sizeof(int));
    r.truncated = (unsigned char *)PT_MALLOC((size_t)B);
    if (cfg->ref || cfg->ref_adapters_off) r.ref_logprobs = (float *)PT_MALLOC((size_t)n * sizeof(float));
    if (cfg->critic) r.values = (float *)PT_MALLOC((size_t)n * sizeof(float));
    if (cfg->tok) {
        r.prompt_text = (char **)PT_MALLOC((size_t)B * sizeof(char *));
        r.completion_text = (char **)PT_MALLOC((size_t)B * sizeof(char *));
        if (r.prompt_text) memset(r.prompt_text, 0, (size_t)B * sizeof(char *));
        if (r.completion_text) memset(r.completion_text, 0, (size_t)B * sizeof(char *));
    }
    if (!r.n_completion || !r.truncated || ((cfg->ref || cfg->ref_adapters_off) && !r.ref_logprobs) ||
        (cfg->critic && !r.values) || (cfg->tok && (!r.prompt_text || !r.completion_text))) {
        st = pt__fail(PT_ERR_NOMEM, "pt_rollout_generate: out of memory");
        goto fail;
    }
    for (i = 0; i < B; i++) {
        const int *seq = r.gen.tokens + (int64_t)i * r.gen.width;
        int p = r.gen.prompt_len[i], len = r.gen.total_len[i];
        int stopped = len > p && pt__is_stop(&cfg->gen, seq[len - 1]);
        r.n_completion[i] = len - p;
        r.truncated[i] = (unsigned char)!stopped;
        if (cfg->tok) {
            r.prompt_text[i] = pt__decode_alloc(cfg->tok, seq, p);
            r.completion_text[i] = pt__decode_alloc(cfg->tok, seq + p, len - p - stopped);
            if (!r.prompt_text[i] || !r.completion_text[i]) {
                st = pt__fail(PT_ERR_NOMEM, "pt_rollout_generate: out of memory");
                goto fail;
            }
        }
    }
    t0 = pt_time_seconds();
    if (cfg->recompute_old &&
        (st = pt__rollout_forward(policy, &r.batch, temp, cfg->rows_per_forward, 0, r.batch.old_logprobs, cfg->ctx)) !=
            PT_OK)
        goto fail;
    if (cfg->ref)
        st = pt__rollout_forward(cfg->ref, &r.batch, temp, cfg->rows_per_forward, 0, r.ref_logprobs, cfg->ctx);
    else if (cfg->ref_adapters_off) {
        int was = policy->adapters_off;
        if ((st = pt_model_set_adapters(policy, 0)) == PT_OK)
            st = pt__rollout_forward(policy, &r.batch, temp, cfg->rows_per_forward, 0, r.ref_logprobs, cfg->ctx);
        pt_model_set_adapters(policy, !was);
    }
    if (st == PT_OK && cfg->critic)
        st = pt__rollout_forward(cfg->critic, &r.batch, 1.0f, cfg->rows_per_forward, 1, r.values, cfg->ctx);
    if (st != PT_OK) goto fail;
    r.logprob_s = pt_time_seconds() - t0;
    *out = r;
    return PT_OK;
fail:
    pt_rollout_free(&r);
    return st;
}

/* --- GRPO, Dr. GRPO, DAPO, RLOO ------------------------------------------------------------------ */
/* A fresh optimizer, as each TRL trainer creates its own: AdamW moments and step count loaded with an
   SFT checkpoint (or left by an earlier run) would otherwise push the first RL updates along the
   previous objective's momentum, even where the RL gradient is zero. */
static void pt__fresh_optimizer(pt_params *P)
{
    if (!P || P->n_grad < 1) return;
    memset(P->adam_m, 0, (size_t)P->n_grad * sizeof(float));
    memset(P->adam_v, 0, (size_t)P->n_grad * sizeof(float));
    P->step = 0;
}
static void pt__fresh_optimizers(pt_model *m)
{
    pt__fresh_optimizer(m->params);
    if (m->lora) pt__fresh_optimizer(m->lora->params);
    if (m->tokens) pt__fresh_optimizer(m->tokens->params);
    if (m->head) pt__fresh_optimizer(m->head->params);
}
/* What both RL trainers check, pick and log ------------------------------------------------------ */
static int pt__rl_check(const char *who, const pt_model *policy, const pt_example *prompts, int n_prompts,
                        const pt_gen_config *gen, int n_rewards, const pt_reward_term *rewards, int has_batch)
{
    int i;
    if (!policy || !prompts || n_prompts < 1) return pt__fail(PT_ERR_ARG, "%s: no policy or no prompts", who);
    if (n_rewards < 0 || n_rewards > 32 || (n_rewards > 0 && !rewards) || (n_rewards == 0 && !has_batch))
        return pt__fail(PT_ERR_ARG, "%s: give 1..32 reward terms and/or a batch reward", who);
    for (i = 0; i < n_prompts; i++) {
        int len = prompts[i].n_prompt > 0 ? prompts[i].n_prompt : prompts[i].n_ids;
        if (!prompts[i].ids || len < 1 || len + gen->max_new_tokens > policy->cfg.seq_len)
            return pt__fail(PT_ERR_ARG, "%s: prompt %d has %d tokens; with max_new_tokens %d it must fit seq_len %d",
                            who, i, len, gen->max_new_tokens, policy->cfg.seq_len);
    }
    return PT_OK;
}
/* The next n prompts of a shuffled cycle over all of them (a new Fisher-Yates order per pass). */
static void pt__rl_next_prompts(pt_rng *rng, int *order, int n_prompts, int *cursor, const pt_example *prompts, int n,
                                const int **ids, int *lens)
{
    int i, k;
    for (i = 0; i < n; i++) {
        const pt_example *ex;
        if (*cursor >= n_prompts) {
            for (k = n_prompts - 1; k > 0; k--) {
                int j = pt_rng_int(rng, 0, k), t = order[k];
                order[k] = order[j];
                order[j] = t;
            }
            *cursor = 0;
        }
        ex = &prompts[order[(*cursor)++]];
        ids[i] = ex->ids;
        lens[i] = ex->n_prompt > 0 ? ex->n_prompt : ex->n_ids;
    }
}
/* CSV columns: the trainer's own, one per reward term (r_NAME), the batch reward, the time split;
   returns how many extra values a row carries. */
static int pt__rl_columns(char *out, size_t cap, const char *own, int n_own, const pt_reward_term *rewards,
                          int n_rewards, int has_batch)
{
    size_t cl = (size_t)snprintf(out, cap, "%s", own);
    int k;
    for (k = 0; k < n_rewards && cl < cap - 80; k++) {
        const char *name = rewards[k].name && *rewards[k].name ? rewards[k].name : "term";
        cl += (size_t)snprintf(out + cl, cap - cl, ",r_%s", name);
    }
    if (has_batch) cl += (size_t)snprintf(out + cl, cap - cl, ",r_batch");
    snprintf(out + cl, cap - cl, ",gen_s,logprob_s,train_s");
    return n_own + n_rewards + (has_batch ? 1 : 0) + 3;
}
/* The end of a CSV row (each reward term's mean, the time split), the evaluation when due, the log. */
static int pt__rl_log(pt_trainer *tr, float *row, float *x, int n_columns, const float *term_mean, int n_terms,
                      const pt_rollout *ro, double t_train, float (*metric)(pt_model *, void *), void *user)
{
    int k, st = PT_OK;
    for (k = 0; k < n_terms; k++) *x++ = term_mean[k];
    *x++ = (float)ro->gen_s;
    *x++ = (float)ro->logprob_s;
    *x++ = (float)(pt_time_seconds() - t_train);
    if (pt_trainer_eval_due(tr) && metric) st = pt_trainer_evaluated(tr, NAN, metric(tr->m, user));
    PT_ASSERT((int)(x - row) == n_columns);   /* the values match the header pt__rl_columns wrote */
    pt_trainer_log(tr, row, n_columns);
    return st;
}
/* The clip fraction's counts: valid tokens where the clip binds (A > 0 and rho > 1 + eps_high, or
   A < 0 and rho < 1 - eps_low), out of all valid tokens. */
static void pt__clip_count(const float *lp, const float *old, const float *adv, const float *mask, int64_t n,
                           float eps_low, float eps_high, double *clipped, double *counted)
{
    int64_t j;
    for (j = 0; j < n; j++) {
        float rho;
        if (mask[j] == 0.0f) continue;
        rho = expf(lp[j] - old[j]);
        *clipped += (adv[j] > 0 && rho > 1 + eps_high) || (adv[j] < 0 && rho < 1 - eps_low);
        *counted += 1;
    }
}
/* The rollout settings both trainers use; step > 0 gives each rollout its own samples. */
static pt_rollout_config pt__rl_rollout(const pt_gen_config *gen, int step, const pt_tokenizer *tok, pt_model *ref,
                                        int ref_adapters_off, int rows, pt_ctx *ctx)
{
    pt_rollout_config rc;
    memset(&rc, 0, sizeof rc);
    rc.gen = *gen;
    rc.gen.seed = gen->seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(step + 1);
    rc.pad_id = tok->pad_id;
    rc.ref = ref;
    rc.ref_adapters_off = !ref && ref_adapters_off;
    rc.tok = tok;
    rc.rows_per_forward = rows;   /* the rows of each update: old log-probs equal the first update's */
    rc.ctx = ctx;                 /* empty between steps: its arena serves the rollout's forwards too */
    return rc;
}
static pt_grpo_config pt__grpo_resolve(const pt_grpo_config *in, const pt_tokenizer *tok)
{
    pt_grpo_config c;
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    if (c.prompts_per_step <= 0) c.prompts_per_step = 8;
    if (c.group_size <= 0) c.group_size = 8;
    if (c.gen.max_new_tokens <= 0) c.gen.max_new_tokens = 64;
    if (c.gen.sampler.temperature <= 0) c.gen.sampler.temperature = 1.0f;   /* greedy groups would not vary */
    if (c.gen.n_stop_tokens <= 0) {   /* the chat template's end of turn, and EOS */
        c.gen.n_stop_tokens = 0;
        if (tok->vocab_size == PT_BYTE_VOCAB) c.gen.stop_tokens[c.gen.n_stop_tokens++] = PT_BYTE_END;
        c.gen.stop_tokens[c.gen.n_stop_tokens++] = tok->eos_id;
    }
    if (c.updates_per_rollout <= 0) c.updates_per_rollout = 1;
    if (c.minibatches <= 0) c.minibatches = 1;
    if (c.minibatches > c.prompts_per_step * c.group_size) c.minibatches = c.prompts_per_step * c.group_size;
    c.beta = c.beta == (float)PT_ZERO ? 0.0f : c.beta > 0 ? c.beta : 0.04f;
    if (c.eps_low <= 0) c.eps_low = 0.2f;
    if (c.eps_high <= 0) c.eps_high = c.eps_low;
    if (c.max_len_norm <= 0) c.max_len_norm = c.gen.max_new_tokens;
    if (c.reward_batch_weight == 0) c.reward_batch_weight = 1.0f;
    if (c.train.lr <= 0) c.train.lr = 1e-4f;
    if (!c.train.name) c.train.name = c.advantage == PT_ADV_RLOO ? "rloo" : "grpo";
    return c;
}
/* Rewards of a rollout: the weighted sum of rule terms and the batch reward, the truncation penalty;
   term_mean receives each term's mean raw value. Returns the number of non-finite rewards. */
static int pt__grpo_rewards(const pt_grpo_config *c, const pt_rollout *ro, float *rewards, float *batch_r,
                            float *term_mean, int *status)
{
    int i, k, N = ro->batch.B, bad = 0;
    *status = PT_OK;
    for (k = 0; k <= c->n_rewards; k++) term_mean[k] = 0.0f;
    if (c->reward_batch &&
        (*status = c->reward_batch((const char *const *)ro->prompt_text, (const char *const *)ro->completion_text, N,
                                   batch_r, c->reward_user)) != PT_OK)
        return 0;
    for (i = 0; i < N; i++) {
        double r = 0;
        for (k = 0; k < c->n_rewards; k++) {
            float v = c->rewards[k].fn(ro->prompt_text[i], ro->completion_text[i], c->rewards[k].user);
            term_mean[k] += v / N;
            r += (double)c->rewards[k].weight * v;
        }
        if (c->reward_batch) {
            term_mean[c->n_rewards] += batch_r[i] / N;
            r += (double)c->reward_batch_weight * batch_r[i];
        }
        if (ro->truncated[i]) r += c->truncated_penalty;
        rewards[i] = (float)r;
        if (!isfinite(rewards[i])) bad++;
    }
    return bad;
}
PTDEF int pt_grpo_train(pt_model *policy, const pt_example *prompts, int n_prompts, const pt_grpo_config *cfg_in,
                        pt_train_result *res)
{
    pt_tokenizer byte_tok = pt_byte_tokenizer();
    const pt_tokenizer *tok = cfg_in && cfg_in->tok ? cfg_in->tok : &byte_tok;
    pt_grpo_config c = pt__grpo_resolve(cfg_in, tok);
    int P = c.prompts_per_step, G = c.group_size, N = P * G, st = PT_OK, i, k, cursor, n_extra;
    int R = (N + c.minibatches - 1) / c.minibatches;   /* rows per optimizer step */
    int need_old = c.updates_per_rollout > 1 || c.minibatches > 1;
    float temp = pt__score_temperature(&c.gen);
    pt_model *ref = c.ref;
    pt_trainer tr;
    pt_ctx *ctx = NULL;
    pt_rng rng;
    int *order = NULL, *plen = NULL;
    const int **pids = NULL;
    float *rewards = NULL, *batch_r = NULL, *adv = NULL, *term_mean = NULL, *adv_buf = NULL;
    size_t adv_cap = 0;
    unsigned char *keep = NULL, *finite = NULL;
    char columns[1536];
    float extra[96];

    if ((st = pt__rl_check("pt_grpo_train", policy, prompts, n_prompts, &c.gen, c.n_rewards, c.rewards,
                           c.reward_batch != NULL)) != PT_OK)
        return st;
    if (c.advantage == PT_ADV_RLOO && G < 2) return pt__fail(PT_ERR_ARG, "pt_grpo_train: RLOO needs group_size >= 2");
    n_extra = pt__rl_columns(columns, sizeof columns, "reward,reward_std,kl,length,clip_frac,truncated,kept,nonfinite,"
                             "length_pos,length_neg", 10, c.rewards, c.n_rewards, c.reward_batch != NULL);

    if (!ref && !c.ref_adapters_off && !(ref = pt_model_clone(policy, 0))) return pt_last_status();
    order = (int *)PT_MALLOC((size_t)n_prompts * sizeof(int));
    plen = (int *)PT_MALLOC((size_t)P * sizeof(int));
    pids = (const int **)PT_MALLOC((size_t)P * sizeof(int *));
    rewards = (float *)PT_MALLOC((size_t)N * 3 * sizeof(float));
    term_mean = (float *)PT_MALLOC(33 * sizeof(float));
    keep = (unsigned char *)PT_MALLOC((size_t)P * 2);
    ctx = pt_ctx_new(0);
    if (!order || !plen || !pids || !rewards || !term_mean || !keep || !ctx) {
        st = pt__fail(PT_ERR_NOMEM, "pt_grpo_train: out of memory");
        goto done;
    }
    batch_r = rewards + N;
    adv = rewards + 2 * N;
    finite = keep + P;
    pt__fresh_optimizers(policy);
    if ((st = pt_trainer_begin(&tr, policy, &c.train, columns)) != PT_OK) goto done;
    tr.show_extra = 0;
    tr.show_name = "reward";
    if (c.metric && (st = pt_trainer_baseline(&tr, NAN, c.metric(policy, c.user))) != PT_OK) goto end;
    pt_rng_seed(&rng, c.seed ^ 0x6790ULL);
    for (i = 0; i < n_prompts; i++) order[i] = i;
    cursor = n_prompts;
    while (pt_trainer_running(&tr)) {
        pt_rollout_config rc;
        pt_rollout ro;
        int T, e, r0, n_bad, kept_groups = 0, g, n_good, n_finite = 0;
        int64_t at;
        double t_train, sum_r = 0, sq_r = 0, kl = 0, length = 0, trunc = 0, clipped = 0, counted = 0;
        double len_pos = 0, len_neg = 0, n_pos = 0, n_neg = 0;
        float *mask, *adv_tok;
        pt__rl_next_prompts(&rng, order, n_prompts, &cursor, prompts, P, pids, plen);
        rc = pt__rl_rollout(&c.gen, tr.step, tok, ref, c.ref_adapters_off, R, ctx);
        rc.recompute_old = need_old;
        if ((st = pt_rollout_generate(policy, pids, plen, P, G, &rc, &ro)) != PT_OK) break;
        T = ro.batch.T;
        n_bad = pt__grpo_rewards(&c, &ro, rewards, batch_r, term_mean, &st);
        if (st != PT_OK) {
            pt_rollout_free(&ro);
            break;
        }
        for (g = 0, n_good = 0; g < P; g++) {   /* a group with a non-finite reward is reported and left out */
            int bad = 0, equal = 1;
            for (i = g * G; i < (g + 1) * G; i++) {
                if (!isfinite(rewards[i])) bad = 1;
                if (rewards[i] != rewards[g * G]) equal = 0;
            }
            finite[g] = (unsigned char)!bad;
            keep[g] = (unsigned char)!(bad || (c.dynamic_sampling && equal));
            kept_groups += keep[g];
            if (!bad) memmove(rewards + n_good++ * G, rewards + g * G, (size_t)G * sizeof(float));   /* compact */
        }
        /* advantages over the finite groups only (their batch std, too), then back to their places */
        if (c.advantage == PT_ADV_RLOO) pt_rloo_advantages(rewards, n_good, G, adv);
        else pt_group_advantages(rewards, n_good, G, c.std_mode, adv);
        for (g = P - 1, k = n_good - 1; g >= 0; g--) {
            int src = finite[g] ? k-- : -1;
            for (i = G - 1; i >= 0; i--) {
                adv[g * G + i] = src >= 0 ? adv[src * G + i] : 0.0f;
                rewards[g * G + i] = src >= 0 ? rewards[src * G + i] : NAN;
            }
        }
        /* the training mask and per-token advantages, in the rollout's own buffers (seq, targets stay) */
        mask = ro.batch.mask;
        if ((size_t)N * T > adv_cap) {   /* grows to the longest rollout, then is reused */
            float *grown = (float *)PT_REALLOC(adv_buf, (size_t)N * T * sizeof(float));
            if (!grown) {
                pt_rollout_free(&ro);
                st = pt__fail(PT_ERR_NOMEM, "pt_grpo_train: out of memory");
                break;
            }
            adv_buf = grown;
            adv_cap = (size_t)N * T;
        }
        adv_tok = adv_buf;
        for (i = 0; i < N; i++) {
            double seq_kl = 0;
            for (at = (int64_t)i * T; at < (int64_t)(i + 1) * T; at++)
                if (mask[at] != 0.0f) seq_kl += ro.batch.old_logprobs[at] - ro.ref_logprobs[at];   /* k1 */
            kl += seq_kl / N;
            length += (double)ro.n_completion[i] / N;
            trunc += (double)ro.truncated[i] / N;
            if (finite[i / G]) {   /* the reward columns average the finite rewards */
                sum_r += rewards[i];
                sq_r += (double)rewards[i] * rewards[i];
                n_finite++;
            }
            if (adv[i] > 0) len_pos += ro.n_completion[i], n_pos++;   /* better than their group's mean */
            if (adv[i] < 0) len_neg += ro.n_completion[i], n_neg++;
            for (at = (int64_t)i * T; at < (int64_t)(i + 1) * T; at++) {
                if (!keep[i / G] || (c.mask_truncated && ro.truncated[i])) mask[at] = 0.0f;
                adv_tok[at] = mask[at] != 0.0f ? adv[i] : 0.0f;
            }
        }
        t_train = pt_time_seconds();
        tr.loss = NAN;
        for (e = 0; e < c.updates_per_rollout && st == PT_OK; e++)
            for (r0 = 0; r0 < N && st == PT_OK; r0 += R) {
                int rows = N - r0 < R ? N - r0 : R, kept_rows = 0;
                int64_t o = (int64_t)r0 * T, j;
                double tokens = 0;
                pt_batch v = pt__rollout_rows(&ro.batch, r0, rows);
                pt_tensor *lp, *per, *loss;
                const float *old;
                float denom;
                for (i = 0; i < rows; i++) {
                    double n_tok = 0;
                    for (j = 0; j < T; j++) n_tok += mask[o + (int64_t)i * T + j];
                    kept_rows += n_tok > 0;
                    tokens += n_tok;
                }
                if (tokens == 0) continue;
                lp = pt_model_logprobs(ctx, policy, &v, temp);
                if (!lp) {
                    st = pt_last_status();
                    break;
                }
                old = need_old ? ro.batch.old_logprobs + o : lp->data;   /* rho = 1 exactly when not recomputed */
                per = pt_clipped_surrogate(ctx, lp, old, adv_tok + o, c.eps_low, c.eps_high);
                if (c.beta > 0)
                    per = pt_add(ctx, per,
                                 pt_scale(ctx, pt_kl_penalty(ctx, lp, ro.ref_logprobs + o, PT_KL_K3), c.beta));
                denom = c.agg == PT_AGG_SEQ_MEAN ? (float)kept_rows
                        : c.agg == PT_AGG_SEQ_SUM_NORM ? (float)kept_rows * c.max_len_norm : 0.0f;
                loss = per ? pt_aggregate_loss(ctx, per, mask + o, rows, T, c.agg, denom) : NULL;
                if (lp) pt__clip_count(lp->data, old, adv_tok + o, mask + o, (int64_t)rows * T, c.eps_low, c.eps_high,
                                       &clipped, &counted);
                st = pt_trainer_step(&tr, ctx, loss, e == 0 && r0 == 0 ? length * N : 0.0);
            }
        tr.res.update_seconds += pt_time_seconds() - t_train;
        tr.res.gen_seconds += ro.gen_s;
        tr.res.logprob_seconds += ro.logprob_s;
        if (st == PT_OK) {
            double mean_r = n_finite > 0 ? sum_r / n_finite : NAN;
            float *x = extra;
            *x++ = (float)mean_r;
            *x++ = n_finite > 0 ? (float)sqrt(sq_r / n_finite - mean_r * mean_r > 0 ? sq_r / n_finite - mean_r * mean_r
                                                                                     : 0.0) : NAN;
            *x++ = (float)kl;
            *x++ = (float)length;
            *x++ = counted > 0 ? (float)(clipped / counted) : 0.0f;
            *x++ = (float)trunc;
            *x++ = (float)kept_groups / P;
            *x++ = (float)n_bad;
            *x++ = n_pos > 0 ? (float)(len_pos / n_pos) : NAN;
            *x++ = n_neg > 0 ? (float)(len_neg / n_neg) : NAN;
            st = pt__rl_log(&tr, extra, x, n_extra, term_mean, c.n_rewards + (c.reward_batch ? 1 : 0), &ro, t_train,
                            c.metric, c.user);
        }
        pt_rollout_free(&ro);
        pt_ctx_reset(ctx);
        if (st != PT_OK) break;
    }
end:
    pt_trainer_end(&tr, ctx, res);
done:
    if (ref != c.ref) pt_model_free(ref);
    PT_FREE(order);
    PT_FREE(plen);
    PT_FREE((void *)pids);
    PT_FREE(rewards);
    PT_FREE(term_mean);
    PT_FREE(keep);
    PT_FREE(adv_buf);
    pt_ctx_free(ctx);
    return st;
}

/* --- PPO ------------------------------------------------------------------------------------------ */
static pt_ppo_config pt__ppo_resolve(const pt_ppo_config *in, const pt_tokenizer *tok)
{
    pt_ppo_config c;
    pt_grpo_config g;   /* the generation defaults are GRPO's */
    memset(&c, 0, sizeof c);
    if (in) c = *in;
    memset(&g, 0, sizeof g);
    g.gen = c.gen;
    g = pt__grpo_resolve(&g, tok);
    c.gen = g.gen;
    if (c.prompts_per_step <= 0) c.prompts_per_step = 32;
    if (c.epochs <= 0) c.epochs = 4;
    if (c.minibatches <= 0) c.minibatches = 1;
    if (c.minibatches > c.prompts_per_step) c.minibatches = c.prompts_per_step;
    c.kl_coef = c.kl_coef == (float)PT_ZERO ? 0.0f : c.kl_coef > 0 ? c.kl_coef : 0.05f;
    c.gamma = c.gamma == (float)PT_ZERO ? 0.0f : c.gamma > 0 ? c.gamma : 1.0f;
    c.lambda = c.lambda == (float)PT_ZERO ? 0.0f : c.lambda > 0 ? c.lambda : 0.95f;
    if (c.clip <= 0) c.clip = 0.2f;
    if (c.value_clip <= 0) c.value_clip = 0.2f;
    if (c.vf_coef <= 0) c.vf_coef = 0.1f;
    if (c.reward_batch_weight == 0) c.reward_batch_weight = 1.0f;
    if (c.train.lr <= 0) c.train.lr = 1e-4f;
    if (!c.train.name) c.train.name = "ppo";
    return c;
}
PTDEF int pt_ppo_train(pt_model *policy, const pt_example *prompts, int n_prompts, const pt_ppo_config *cfg_in,
                       pt_train_result *res)
{
    pt_tokenizer byte_tok = pt_byte_tokenizer();
    const pt_tokenizer *tok = cfg_in && cfg_in->tok ? cfg_in->tok : &byte_tok;
    pt_ppo_config c = pt__ppo_resolve(cfg_in, tok);
    pt_grpo_config rg;   /* the reward settings, in the form pt__grpo_rewards reads */
    int N = c.prompts_per_step, st = PT_OK, i, cursor, n_extra;
    int R = (N + c.minibatches - 1) / c.minibatches;
    float temp = pt__score_temperature(&c.gen);
    pt_model *ref = c.ref, *critic = c.critic;
    pt_kl_control klc;
    pt_adamw_config copt;
    pt_trainer tr;
    pt_ctx *ctx = NULL;
    pt_rng rng;
    int *order = NULL, *plen = NULL;
    const int **pids = NULL;
    float *scores = NULL, *batch_r = NULL, *term_mean = NULL, *work = NULL;
    size_t work_cap = 0;
    char columns[1536];
    float extra[96];

    if ((st = pt__rl_check("pt_ppo_train", policy, prompts, n_prompts, &c.gen, c.n_rewards, c.rewards,
                           c.reward_batch != NULL)) != PT_OK)
        return st;
    if (critic && !critic->head) return pt__fail(PT_ERR_ARG, "pt_ppo_train: the critic has no scalar head");
    memset(&rg, 0, sizeof rg);
    rg.rewards = c.rewards;
    rg.n_rewards = c.n_rewards;
    rg.reward_batch = c.reward_batch;
    rg.reward_user = c.reward_user;
    rg.reward_batch_weight = c.reward_batch_weight;
    rg.truncated_penalty = -c.missing_eos_penalty;
    n_extra = pt__rl_columns(columns, sizeof columns,
                             "reward,kl,kl_coef,length,clip_frac,value_loss,truncated,nonfinite", 8, c.rewards,
                             c.n_rewards, c.reward_batch != NULL);

    if (!ref && !c.ref_adapters_off && !(ref = pt_model_clone(policy, 0))) return pt_last_status();
    if (!critic) {   /* a fresh value head on a copy of the policy (TRL starts it from the reward model) */
        if (!(critic = pt_model_clone(policy, 1)) || pt_model_head_attach(critic, c.seed ^ 0xC417ULL) != PT_OK) {
            st = pt_last_status();
            goto done;
        }
    }
    order = (int *)PT_MALLOC((size_t)n_prompts * sizeof(int));
    plen = (int *)PT_MALLOC((size_t)N * sizeof(int));
    pids = (const int **)PT_MALLOC((size_t)N * sizeof(int *));
    scores = (float *)PT_MALLOC((size_t)N * 2 * sizeof(float));
    term_mean = (float *)PT_MALLOC(33 * sizeof(float));
    ctx = pt_ctx_new(0);
    if (!order || !plen || !pids || !scores || !term_mean || !ctx) {
        st = pt__fail(PT_ERR_NOMEM, "pt_ppo_train: out of memory");
        goto done;
    }
    batch_r = scores + N;
    klc.coef = c.kl_coef;
    klc.target = c.kl_target;
    klc.horizon = c.kl_horizon;
    memset(&copt, 0, sizeof copt);
    copt.beta1 = c.train.beta1;
    copt.beta2 = c.train.beta2;
    pt__fresh_optimizers(policy);
    pt__fresh_optimizers(critic);
    if ((st = pt_trainer_begin(&tr, policy, &c.train, columns)) != PT_OK) goto done;
    tr.show_extra = 0;
    tr.show_name = "reward";
    if (c.metric && (st = pt_trainer_baseline(&tr, NAN, c.metric(policy, c.user))) != PT_OK) goto end;
    pt_rng_seed(&rng, c.seed ^ 0x990ULL);
    for (i = 0; i < n_prompts; i++) order[i] = i;
    cursor = n_prompts;
    while (pt_trainer_running(&tr)) {
        pt_rollout_config rc;
        pt_rollout ro;
        int T, e, r0, n_bad;
        int64_t at, n_tok;
        double t_train, sum_r = 0, kl = 0, length = 0, trunc = 0, clipped = 0, counted = 0, vloss = 0, vcount = 0;
        float *mask, *rewards, *adv, *ret;
        pt__rl_next_prompts(&rng, order, n_prompts, &cursor, prompts, N, pids, plen);
        rc = pt__rl_rollout(&c.gen, tr.step, tok, ref, c.ref_adapters_off, R, ctx);
        rc.recompute_old = 1;   /* several epochs: the clip needs the sampling policy's log-probs */
        rc.critic = critic;
        if ((st = pt_rollout_generate(policy, pids, plen, N, 1, &rc, &ro)) != PT_OK) break;
        T = ro.batch.T;
        n_tok = (int64_t)N * T;
        n_bad = pt__grpo_rewards(&rg, &ro, scores, batch_r, term_mean, &st);
        if (st != PT_OK) {
            pt_rollout_free(&ro);
            break;
        }
        if ((size_t)n_tok * 3 > work_cap) {
            float *grown = (float *)PT_REALLOC(work, (size_t)n_tok * 3 * sizeof(float));
            if (!grown) {
                pt_rollout_free(&ro);
                st = pt__fail(PT_ERR_NOMEM, "pt_ppo_train: out of memory");
                break;
            }
            work = grown;
            work_cap = (size_t)n_tok * 3;
        }
        rewards = work;
        adv = work + n_tok;
        ret = work + 2 * n_tok;
        mask = ro.batch.mask;
        for (i = 0; i < N; i++) {
            double seq_kl = 0;
            if (!isfinite(scores[i])) {   /* reported, not trained on */
                scores[i] = 0.0f;
                for (at = (int64_t)i * T; at < (int64_t)(i + 1) * T; at++) mask[at] = 0.0f;
            }
            for (at = (int64_t)i * T; at < (int64_t)(i + 1) * T; at++)
                if (mask[at] != 0.0f) seq_kl += ro.batch.old_logprobs[at] - ro.ref_logprobs[at];
            kl += seq_kl / N;
            length += (double)ro.n_completion[i] / N;
            trunc += (double)ro.truncated[i] / N;
            sum_r += scores[i];
        }
        pt_ppo_rewards(scores, ro.batch.old_logprobs, ro.ref_logprobs, mask, N, T, klc.coef, rewards);
        if ((st = pt_gae(rewards, ro.values, mask, N, T, c.gamma, c.lambda, adv, ret)) != PT_OK) {
            pt_rollout_free(&ro);
            break;
        }
        pt_whiten(adv, mask, (int)n_tok, 1);
        t_train = pt_time_seconds();
        tr.loss = NAN;
        for (e = 0; e < c.epochs && st == PT_OK; e++)
            for (r0 = 0; r0 < N && st == PT_OK; r0 += R) {
                int rows = N - r0 < R ? N - r0 : R;
                int64_t o = (int64_t)r0 * T, j;
                double tokens = 0, gn = 0;
                pt_batch v = pt__rollout_rows(&ro.batch, r0, rows);
                pt_tensor *lp, *values, *pol, *vl, *loss;
                const float *old = ro.batch.old_logprobs + o;
                for (j = 0; j < (int64_t)rows * T; j++) tokens += mask[o + j];
                if (tokens == 0) continue;
                lp = pt_model_logprobs(ctx, policy, &v, temp);
                values = lp ? pt_model_head_values(ctx, critic, &v) : NULL;
                pol = values ? pt_clipped_surrogate(ctx, lp, old, adv + o, c.clip, c.clip) : NULL;
                vl = pol ? pt_value_loss(ctx, values, ro.values + o, ret + o, c.value_clip) : NULL;
                vl = vl ? pt_aggregate_loss(ctx, vl, mask + o, rows, T, PT_AGG_TOKEN_MEAN, 0) : NULL;
                pol = vl ? pt_aggregate_loss(ctx, pol, mask + o, rows, T, PT_AGG_TOKEN_MEAN, 0) : NULL;
                loss = pol ? pt_add(ctx, pol, pt_scale(ctx, vl, c.vf_coef)) : NULL;
                if (!loss) {
                    st = pt_last_status();
                    pt_ctx_reset(ctx);
                    break;
                }
                vloss += vl->data[0];
                vcount += 1;
                pt__clip_count(lp->data, old, adv + o, mask + o, (int64_t)rows * T, c.clip, c.clip, &clipped, &counted);
                /* one backward fills both models' gradients; the policy steps in the shared loop, the
                   critic with its own AdamW state right after (a skipped step skips both) */
                st = pt_trainer_step(&tr, ctx, loss, e == 0 && r0 == 0 ? length * N : 0.0);
                if (st == PT_OK && tr.loss == tr.loss)
                    st = pt_model_optimizer_step(critic, &copt, tr.lr, tr.cfg.grad_clip, &gn);
                if (st == PT_ERR_NONFINITE) st = PT_OK;
                pt_model_zero_grad(critic);
            }
        pt_kl_control_update(&klc, (float)kl, N);
        tr.res.update_seconds += pt_time_seconds() - t_train;
        tr.res.gen_seconds += ro.gen_s;
        tr.res.logprob_seconds += ro.logprob_s;
        if (st == PT_OK) {
            float *x = extra;
            *x++ = (float)(sum_r / N);
            *x++ = (float)kl;
            *x++ = klc.coef;
            *x++ = (float)length;
            *x++ = counted > 0 ? (float)(clipped / counted) : 0.0f;
            *x++ = vcount > 0 ? (float)(vloss / vcount) : NAN;
            *x++ = (float)trunc;
            *x++ = (float)n_bad;
            st = pt__rl_log(&tr, extra, x, n_extra, term_mean, c.n_rewards + (c.reward_batch ? 1 : 0), &ro, t_train,
                            c.metric, c.user);
        }
        pt_rollout_free(&ro);
        pt_ctx_reset(ctx);
        if (st != PT_OK) break;
    }
end:
    pt_trainer_end(&tr, ctx, res);
done:
    if (ref != c.ref) pt_model_free(ref);
    if (critic != c.critic) pt_model_free(critic);
    PT_FREE(order);
    PT_FREE(plen);
    PT_FREE((void *)pids);
    PT_FREE(scores);
    PT_FREE(term_mean);
    PT_FREE(work);
    pt_ctx_free(ctx);
    return st;
}

/* ================================================================================================
   14. SEARCH AND TEST-TIME COMPUTE (implementation)                                         >>search
   ================================================================================================ */
PTDEF void pt_best_of_n(const float *scores, int n_groups, int N, int n_use, int *pick)
{
    int g, i;
    if (n_use > N) n_use = N;
    for (g = 0; g < n_groups; g++) {
        const float *s = scores + (int64_t)g * N;
        int best = 0;
        for (i = 1; i < n_use; i++)
            if (s[i] > s[best] || (s[best] != s[best] && s[i] == s[i])) best = i;   /* NaN never wins */
        pick[g] = best;
    }
}
PTDEF int pt_majority_vote(const long long *answers, const unsigned char *valid, const float *weights, int n)
{
    int i, j, best = -1;
    double best_w = 0;
    for (i = 0; i < n; i++) {   /* O(n^2): n is a handful of samples; each answer is summed at its first holder */
        double w = 0;
        int first = 1;
        if (valid && !valid[i]) continue;
        for (j = 0; j < n && first; j++) {
            if ((valid && !valid[j]) || answers[j] != answers[i]) continue;
            if (j < i) first = 0;   /* counted already */
            else w += weights ? (double)weights[j] : 1.0;
        }
        if (first && (best < 0 || w > best_w)) {
            best = i;
            best_w = w;
        }
    }
    return best;
}

/* zeroed memory from PT_MALLOC (the allocator overrides have no calloc); NULL on overflow */
static void *pt__zalloc(size_t n, size_t size)
{
    void *p;
    size_t bytes = n * size;
    if (size && n > (size_t)-1 / size) return NULL;
    if ((p = PT_MALLOC(bytes > 0 ? bytes : 1))) memset(p, 0, bytes);
    return p;
}
/* --- Rejection sampling ---------------------------------------------------------------------------- */
/* A prompt text rendered as the model sees it: the chat template's user turn, or <bos> + raw text. */
static int pt__rs_render(const pt_tokenizer *tok, const char *prompt, int chat, int *ids, int cap)
{
    if (chat) {
        size_t len = strlen(prompt) + 64;
        char *text = (char *)PT_MALLOC(len);
        int n;
        if (!text) return PT_ERR_NOMEM;
        pt_chat_text(NULL, prompt, NULL, text, (int)len);
        n = tok->encode(tok, text, 0, 0, ids, cap);
        PT_FREE(text);
        return n;
    }
    return tok->encode(tok, prompt, 1, 0, ids, cap);
}
/* The operand digit count of the world problem in a text (0 if none): the difficulty bins. */
static int pt__difficulty(const char *text)
{
    pt_problem p;
    long long v;
    int d = 0;
    if (pt_world_parse(text, &p) != PT_OK) return 0;
    for (v = p.terms[0]; v > 0; v /= 10) d++;
    return d < 1 ? 1 : d > 16 ? 16 : d;
}
/* A generated completion as text: its tokens, with the stop token's text kept only when it is one
   character (a newline), not a marker the chat template writes itself. */
static char *pt__completion_text(const pt_tokenizer *tok, const pt_gen_config *g, const pt_gen_result *r, int i)
{
    const int *seq = r->tokens + (int64_t)i * r->width;
    int p = r->prompt_len[i], len = r->total_len[i];
    if (len > p && pt__is_stop(g, seq[len - 1])) {
        char buf[16];
        const char *piece = tok->piece(tok, len > 1 ? seq[len - 2] : -1, seq[len - 1], buf);
        if (!piece || strlen(piece) != 1) len--;
    }
    return pt__decode_alloc(tok, seq + p, len - p);
}
PTDEF int pt_rejection_sample(pt_model *m, const char *const *prompts, int n_prompts, const pt_rs_config *cfg,
                              pt_dataset *kept, pt_rs_result *res)
{
    pt_rs_config c;
    pt_tokenizer byte_tok = pt_byte_tokenizer();
    const pt_tokenizer *tok;
    pt_rs_result r;
    pt_dataset out;
    pt__wbuf w;
    int st = PT_OK, p0, cap_rec, ppb, K, i, j;
    int *ids = NULL, **pids = NULL, *plen = NULL, *order = NULL;
    float *scores = NULL, *batch_r = NULL;
    char **texts = NULL, **ptexts = NULL;
    double t0 = pt_time_seconds(), score_sum = 0;
    if (!m || !prompts || n_prompts < 1 || !cfg || !kept)
        return pt__fail(PT_ERR_ARG, "pt_rejection_sample: need a model, prompts, a config and an output dataset");
    c = *cfg;
    tok = c.tok ? c.tok : &byte_tok;
    if (c.n_rewards < 1 && !c.reward_batch)
        return pt__fail(PT_ERR_ARG, "pt_rejection_sample: no reward (cfg->rewards or cfg->reward_batch)");
    if (c.samples <= 0) c.samples = 16;
    if (c.keep <= 0) c.keep = 1;
    if (c.prompts_per_batch <= 0) c.prompts_per_batch = 16;
    if (c.reward_batch_weight == 0) c.reward_batch_weight = 1.0f;
    if (c.gen.sampler.temperature <= 0) c.gen.sampler.temperature = 1.0f;
    c.gen = pt__gen_resolve(&c.gen);
    K = c.samples;
    ppb = c.prompts_per_batch < n_prompts ? c.prompts_per_batch : n_prompts;
    if ((int64_t)n_prompts * c.keep > INT32_MAX / 2 || (int64_t)ppb * K > INT32_MAX / 2)
        return pt__fail(PT_ERR_ARG, "pt_rejection_sample: %d prompts x %d samples is too many", n_prompts, K);
    memset(&r, 0, sizeof r);
    memset(&out, 0, sizeof out);
    memset(&w, 0, sizeof w);
    out.kind = PT_DATA_COMPLETION;
    cap_rec = n_prompts * (c.keep < K ? c.keep : K);
    out.records = (pt_record *)pt__zalloc((size_t)cap_rec, sizeof(pt_record));
    ids = (int *)PT_MALLOC((size_t)ppb * m->cfg.seq_len * sizeof(int));
    pids = (int **)PT_MALLOC((size_t)ppb * sizeof(int *));
    plen = (int *)PT_MALLOC((size_t)ppb * sizeof(int));
    order = (int *)PT_MALLOC((size_t)K * sizeof(int));
    scores = (float *)PT_MALLOC((size_t)ppb * K * sizeof(float));
    batch_r = (float *)PT_MALLOC((size_t)ppb * K * sizeof(float));
    texts = (char **)pt__zalloc((size_t)ppb * K, sizeof(char *));
    ptexts = (char **)pt__zalloc((size_t)ppb * K, sizeof(char *));
    if (!out.records || !ids || !pids || !plen || !order || !scores || !batch_r || !texts || !ptexts) {
        st = pt__fail(PT_ERR_NOMEM, "pt_rejection_sample: out of memory");
        goto done;
    }
    for (p0 = 0; p0 < n_prompts && st == PT_OK; p0 += ppb) {
        int np = n_prompts - p0 < ppb ? n_prompts - p0 : ppb;
        pt_gen_result g;
        pt_gen_config gc = c.gen;
        for (i = 0; i < np; i++) {   /* sample from the hint prompt if given, score against the plain one */
            const char *src = c.hints && c.hints[p0 + i] ? c.hints[p0 + i] : prompts[p0 + i];
            pids[i] = ids + (int64_t)i * m->cfg.seq_len;
            if (!prompts[p0 + i] || !src) {
                st = pt__fail(PT_ERR_ARG, "pt_rejection_sample: prompt %d is NULL", p0 + i);
                break;
            }
            plen[i] = pt__rs_render(tok, src, c.chat, pids[i], m->cfg.seq_len);
            if (plen[i] < 1 || plen[i] + c.gen.max_new_tokens > m->cfg.seq_len) {
                st = pt__fail(PT_ERR_ARG, "pt_rejection_sample: prompt %d (%d tokens) + max_new_tokens %d does not fit "
                              "seq_len %d", p0 + i, plen[i], c.gen.max_new_tokens, m->cfg.seq_len);
                break;
            }
        }
        if (st != PT_OK) break;
        gc.seed = c.gen.seed + (uint64_t)p0 * 0x9E3779B97F4A7C15ull;   /* a batch's streams depend on where it starts */
        if ((st = pt_generate(m, (const int *const *)pids, plen, np, K, &gc, &g)) != PT_OK) break;
        for (i = 0; i < np * K; i++) {
            char *rendered;
            size_t len;
            const char *plain = prompts[p0 + i / K];
            texts[i] = pt__completion_text(tok, &c.gen, &g, i);
            r.tokens += g.total_len[i] - g.prompt_len[i];
            /* rewards read the plain prompt as the model would see it without the hint */
            len = strlen(plain) + 64;
            rendered = (char *)PT_MALLOC(len);
            if (rendered) {
                if (c.chat) pt_chat_text(NULL, plain, NULL, rendered, (int)len);
                else snprintf(rendered, len, "<bos>%s", plain);
            }
            ptexts[i] = rendered;
            if (!texts[i] || !ptexts[i]) st = pt__fail(PT_ERR_NOMEM, "pt_rejection_sample: out of memory");
        }
        pt_gen_result_free(&g);
        if (st == PT_OK && c.reward_batch)
            st = c.reward_batch((const char *const *)ptexts, (const char *const *)texts, np * K, batch_r,
                                c.reward_user);
        for (i = 0; st == PT_OK && i < np * K; i++) {
            double s = c.reward_batch ? (double)c.reward_batch_weight * batch_r[i] : 0;
            for (j = 0; j < c.n_rewards; j++)
                s += (double)c.rewards[j].weight * c.rewards[j].fn(ptexts[i], texts[i], c.rewards[j].user);
            scores[i] = (float)s;
            if (s == s) score_sum += s;   /* a NaN score is never kept (below) nor averaged */
            else r.nonfinite++;
        }
        for (i = 0; st == PT_OK && i < np; i++) {   /* keep the best `keep` of the prompt's K */
            const char *plain = prompts[p0 + i];
            int d = pt__difficulty(plain), n_kept = 0, first_rec = out.n, a, b;
            float *s = scores + (int64_t)i * K;
            for (a = 0; a < K; a++) order[a] = a;
            for (a = 1; a < K; a++)   /* insertion sort, descending, stable, NaN last: ties keep sampling order */
                for (b = a; b > 0 && (s[order[b]] > s[order[b - 1]] || (s[order[b - 1]] != s[order[b - 1]] &&
                                                                        s[order[b]] == s[order[b]])); b--) {
                    int t = order[b];
                    order[b] = order[b - 1];
                    order[b - 1] = t;
                }
            r.prompts_by_difficulty[d]++;
            for (a = 0; a < K && n_kept < c.keep; a++) {
                int k = i * K + order[a], dup = 0;
                pt_record *rec;
                char num[96];
                if (!(s[order[a]] >= c.min_score)) break;
                if (!pt__utf8_ok(texts[k])) continue;   /* sampled bytes that JSON cannot hold: not data */
                for (b = first_rec; c.distinct && b < out.n; b++)   /* against what this prompt kept */
                    if (!strcmp(out.records[b].completion, texts[k])) dup = 1;
                if (dup) continue;
                rec = &out.records[out.n];
                rec->line = out.n + 1;
                rec->prompt = pt__strdup(plain);
                rec->completion = texts[k];
                texts[k] = NULL;
                if (!rec->prompt) {
                    st = pt__fail(PT_ERR_NOMEM, "pt_rejection_sample: out of memory");
                    break;
                }
                out.n++;
                n_kept++;
                if (c.jsonl_path) {
                    int len;
                    pt__put(&w, "{", 1);
                    pt__put_jstring(&w, "prompt", rec->prompt, 1);
                    pt__put_jstring(&w, "completion", rec->completion, 0);
                    len = snprintf(num, sizeof num, ", \"score\": %.9g, \"difficulty\": %d}\n", (double)s[order[a]], d);
                    pt__put(&w, num, (size_t)len);
                }
            }
            r.kept_by_difficulty[d] += n_kept;
            r.n_kept += n_kept;
            r.prompts_with_kept += n_kept > 0;
        }
        for (i = 0; i < np * K; i++) {
            PT_FREE(texts[i]);
            PT_FREE(ptexts[i]);
            texts[i] = ptexts[i] = NULL;
        }
        r.n_prompts += np;
        r.n_samples += np * K;
    }
    if (st == PT_OK && c.jsonl_path) {
        if (w.err) st = pt__fail(PT_ERR_NOMEM, "%s: out of memory", c.jsonl_path);
        else if (out.n == 0) remove(c.jsonl_path);   /* the reader refuses an empty file: none, and no stale one */
        else st = pt_write_file_atomic(c.jsonl_path, w.p, w.n);
    }
done:
    for (i = 0; texts && ptexts && i < ppb * K; i++) {
        PT_FREE(texts[i]);
        PT_FREE(ptexts[i]);
    }
    PT_FREE(w.p);
    PT_FREE(ids);
    PT_FREE(pids);
    PT_FREE(plen);
    PT_FREE(order);
    PT_FREE(scores);
    PT_FREE(batch_r);
    PT_FREE(texts);
    PT_FREE(ptexts);
    if (st != PT_OK) {
        pt_dataset_free(&out);
        return st;
    }
    r.mean_score = r.n_samples > r.nonfinite ? score_sum / (r.n_samples - r.nonfinite) : 0;
    r.seconds = pt_time_seconds() - t0;
    if (res) *res = r;
    *kept = out;
    return PT_OK;
}

/* --- MCTS over reasoning steps ------------------------------------------------------------------------ */
typedef struct pt__mnode {
    int parent, first_child, n_children;
    int n_ids;                /* completion tokens so far (the node's slot holds prompt + these, minus the
                                 last one when the node ended at a stop token) */
    int terminal;             /* 1 stop token, 2 out of tokens or cache */
    int visits;
    double value_sum;
    float value;
} pt__mnode;
typedef struct pt__mcts {
    pt_model *policy, *prm;
    const pt_mcts_config *c;
    const pt_tokenizer *tok;
    pt_kv_cache *kv;
    pt__mnode *node;
    int *ids;                 /* [max_nodes][max_new] completion tokens of each node */
    float *logits;            /* [max_nodes][V] next-token logits of each node */
    float *step_logits;       /* [rows][V] scratch */
    int *rows_seq, *rows_tok, *active, *has_digit;
    float *probs;
    pt_example *ex;
    int max_nodes, n_nodes, max_new, V, tokens;
    const int *prompt;
    int prompt_len;
    uint64_t seed;
} pt__mcts;
static int pt__mcts_step_end(const pt__mcts *s, int prev, int id, int *has_digit)
{
    char buf[16];
    const char *piece = s->tok->piece(s->tok, prev, id, buf), *q;
    int end = 0;
    if (s->c->token_level) return 1;
    for (q = piece ? piece : ""; *q; q++) {
        if (*q >= '0' && *q <= '9') *has_digit = 1;
        else if (*has_digit && strchr(s->c->step_delims, *q)) end = 1;
    }
    return end;
}
/* Sample one step for each new child of `leaf` (nodes first..first+k-1, slots copied from the leaf),
   all children decoding together, one batched forward per token. */
static int pt__mcts_expand(pt__mcts *s, int leaf, int first, int k)
{
    const pt_mcts_config *c = s->c;
    int i, st = PT_OK, n_active = k;
    pt_rng rng[64];
    for (i = 0; i < k; i++) {
        pt__mnode *nd = &s->node[first + i];
        memset(nd, 0, sizeof *nd);
        nd->parent = leaf;
        nd->first_child = -1;
        nd->n_ids = s->node[leaf].n_ids;
        memcpy(s->ids + (int64_t)(first + i) * s->max_new, s->ids + (int64_t)leaf * s->max_new,
               (size_t)nd->n_ids * sizeof(int));
        memcpy(s->logits + (int64_t)(first + i) * s->V, s->logits + (int64_t)leaf * s->V, (size_t)s->V * sizeof(float));
        if ((st = pt_kv_copy(s->kv, leaf, first + i)) != PT_OK) return st;
        pt_rng_seed(&rng[i], s->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(first + i + 1)));
        s->active[i] = 1;
        s->has_digit[i] = 0;
    }
    while (n_active > 0) {
        int rows = 0;
        for (i = 0; i < k; i++) {
            pt__mnode *nd = &s->node[first + i];
            int *path = s->ids + (int64_t)(first + i) * s->max_new, tok, end;
            if (!s->active[i]) continue;
            tok = pt_sample(s->logits + (int64_t)(first + i) * s->V, s->V, &c->sampler, &rng[i], NULL);
            if (tok < 0) return tok;
            path[nd->n_ids++] = tok;
            s->tokens++;
            end = pt__mcts_step_end(s, nd->n_ids > 1 ? path[nd->n_ids - 2] : -1, tok, &s->has_digit[i]);
            {
                int j, stop = 0;
                for (j = 0; j < c->n_stop_tokens; j++) stop |= tok == c->stop_tokens[j];
                if (stop) {
                    nd->terminal = 1;
                    s->active[i] = 0;
                    n_active--;
                    continue;
                }
            }
            if (nd->n_ids >= s->max_new || s->kv->len[first + i] + 1 >= s->kv->max_len) {
                nd->terminal = 2;
                s->active[i] = 0;
                n_active--;
                continue;
            }
            s->rows_seq[rows] = first + i;
            s->rows_tok[rows++] = tok;
            if (end) {   /* fed below for its next-step logits, then the child is done */
                s->active[i] = 0;
                n_active--;
            }
        }
        if (rows && (st = pt_model_step(s->policy, s->kv, rows, s->rows_seq, s->rows_tok, s->step_logits)) != PT_OK)
            return st;
        for (i = 0; i < rows; i++)
            memcpy(s->logits + (int64_t)s->rows_seq[i] * s->V, s->step_logits + (int64_t)i * s->V,
                   (size_t)s->V * sizeof(float));
    }
    return PT_OK;
}
/* PRM values of nodes first..first+k-1: the aggregate of their scored steps; a partial solution
   with no scored step yet keeps its parent's value. */
static int pt__mcts_evaluate(pt__mcts *s, int first, int k)
{
    int i, st, n_steps[64];
    for (i = 0; i < k; i++) {
        pt_example *e = &s->ex[i];
        const pt__mnode *nd = &s->node[first + i];
        memcpy(e->ids, s->prompt, (size_t)s->prompt_len * sizeof(int));
        memcpy(e->ids + s->prompt_len, s->ids + (int64_t)(first + i) * s->max_new, (size_t)nd->n_ids * sizeof(int));
        e->n_prompt = s->prompt_len;
        e->n_ids = s->prompt_len + nd->n_ids;
        e->train = NULL;
    }
    st = pt_prm_steps(s->prm, s->tok, s->ex, k, PT_PRM_MAX_STEPS, s->probs, NULL, n_steps);
    if (st != PT_OK) return st;
    for (i = 0; i < k; i++) {
        pt__mnode *nd = &s->node[first + i];
        const float *probs = s->probs + (int64_t)i * PT_PRM_MAX_STEPS;
        nd->value = n_steps[i] > 0 ? pt_prm_aggregate(probs, n_steps[i], s->c->prm_mode) : s->node[nd->parent].value;
    }
    return PT_OK;
}
static void pt__mcts_backup(pt__mcts *s, int node, float value)
{
    for (; node >= 0; node = s->node[node].parent) {
        s->node[node].visits++;
        s->node[node].value_sum += value;
    }
}
static int pt__mcts_select(const pt__mcts *s)
{
    int n = 0;
    while (s->node[n].n_children > 0 && !s->node[n].terminal) {
        const pt__mnode *p = &s->node[n];
        double best = -1e30, lnN = log((double)(p->visits > 1 ? p->visits : 1));
        int i, pick = p->first_child;
        for (i = 0; i < p->n_children; i++) {
            const pt__mnode *ch = &s->node[p->first_child + i];
            double q = ch->visits ? ch->value_sum / ch->visits : 0;
            double u = q + s->c->c_uct * sqrt(lnN / (ch->visits > 0 ? ch->visits : 1));
            if (u > best) {
                best = u;
                pick = p->first_child + i;
            }
        }
        n = pick;
    }
    return n;
}
static int pt__mcts_one(pt__mcts *s, pt_mcts_result *res)
{
    const pt_mcts_config *c = s->c;
    int sim, i, st, best = -1, n;
    pt__mnode *root = &s->node[0];
    pt_kv_clear(s->kv, -1);
    memset(root, 0, sizeof *root);
    root->parent = root->first_child = -1;
    root->value = 0.5f;   /* no step scored: no information */
    s->n_nodes = 1;
    s->tokens = 0;
    /* the prompt once, into slot 0: every node's cache starts as a copy of it */
    if (s->prompt_len > 1)
        if ((st = pt_model_step(s->policy, s->kv, s->prompt_len - 1, s->rows_seq, s->prompt, NULL)) != PT_OK) return st;
    if ((st = pt_model_step(s->policy, s->kv, 1, s->rows_seq, s->prompt + s->prompt_len - 1, s->logits)) != PT_OK)
        return st;
    for (sim = 0; sim < c->simulations; sim++) {
        int leaf = pt__mcts_select(s), k = c->expand;
        if (s->node[leaf].terminal) {   /* a finished solution chosen again: reinforce it */
            pt__mcts_backup(s, leaf, s->node[leaf].value);
            continue;
        }
        if (s->n_nodes + k > s->max_nodes) break;
        if ((st = pt__mcts_expand(s, leaf, s->n_nodes, k)) != PT_OK) return st;
        if ((st = pt__mcts_evaluate(s, s->n_nodes, k)) != PT_OK) return st;
        s->node[leaf].first_child = s->n_nodes;
        s->node[leaf].n_children = k;
        for (i = 0; i < k; i++) pt__mcts_backup(s, s->n_nodes + i, s->node[s->n_nodes + i].value);
        s->n_nodes += k;
    }
    for (i = 1; i < s->n_nodes; i++) {   /* the best finished solution: value, then visits, then first */
        const pt__mnode *nd = &s->node[i];
        if (nd->terminal != 1) continue;
        if (best < 0 || nd->value > s->node[best].value ||
            (nd->value == s->node[best].value && nd->visits > s->node[best].visits))
            best = i;
    }
    if (best < 0) {   /* none finished: the most valuable leaf (deepest on ties), finished greedily */
        pt_mcts_config greedy = *c;
        pt__mcts g = *s;
        for (i = 0; i < s->n_nodes; i++) {
            const pt__mnode *nd = &s->node[i];
            if (nd->n_children || nd->terminal) continue;
            if (best < 0 || nd->value > s->node[best].value ||
                (nd->value == s->node[best].value && nd->n_ids > s->node[best].n_ids))
                best = i;
        }
        if (best < 0) best = 0;
        memset(&greedy.sampler, 0, sizeof greedy.sampler);
        greedy.token_level = 0;
        greedy.step_delims = "";   /* one "step" to the end */
        g.c = &greedy;
        if (s->n_nodes < s->max_nodes) {
            if ((st = pt__mcts_expand(&g, best, s->n_nodes, 1)) != PT_OK) return st;
            s->tokens = g.tokens;
            if ((st = pt__mcts_evaluate(s, s->n_nodes, 1)) != PT_OK) return st;
            best = s->n_nodes++;
        }
    }
    n = s->node[best].n_ids;
    res->n_ids = n < (int)(sizeof res->ids / sizeof res->ids[0]) ? n : (int)(sizeof res->ids / sizeof res->ids[0]);
    memcpy(res->ids, s->ids + (int64_t)best * s->max_new, (size_t)res->n_ids * sizeof(int));
    res->value = s->node[best].value;
    res->tokens = s->tokens;
    res->nodes = s->n_nodes;
    res->complete = s->node[best].terminal == 1;
    {
        int len = res->n_ids;
        if (res->complete && len > 0) {
            char buf[16];
            const char *piece = s->tok->piece(s->tok, len > 1 ? res->ids[len - 2] : -1, res->ids[len - 1], buf);
            if (!piece || strlen(piece) != 1) len--;
        }
        pt_decode(s->tok, res->ids, len, res->text, (int)sizeof res->text);
    }
    return PT_OK;
}
PTDEF int pt_mcts_solve(pt_model *policy, pt_model *prm, const int *const *prompts, const int *prompt_lens, int n,
                        const pt_mcts_config *cfg, pt_mcts_result *res)
{
    pt_mcts_config c;
    pt_tokenizer byte_tok = pt_byte_tokenizer();
    pt__mcts s;
    int i, st = PT_OK, max_prompt = 0, rows;
    if (!policy || !prm || !prompts || !prompt_lens || n < 0 || !cfg || !res)
        return pt__fail(PT_ERR_ARG, "pt_mcts_solve: need a policy, a PRM, prompts, a config and results");
    if (!prm->head) return pt__fail(PT_ERR_ARG, "pt_mcts_solve: the PRM has no scalar head (section 11)");
    c = *cfg;
    if (c.simulations <= 0) c.simulations = 8;
    if (c.expand <= 0) c.expand = 4;
    if (c.expand > 64) return pt__fail(PT_ERR_ARG, "pt_mcts_solve: expand %d > 64", c.expand);
    c.c_uct = c.c_uct == (float)PT_ZERO ? 0.0f : c.c_uct > 0 ? c.c_uct : 1.0f;
    if (c.sampler.temperature <= 0) c.sampler.temperature = 1.0f;
    if (c.max_new_tokens <= 0) c.max_new_tokens = 64;
    if (c.max_new_tokens > (int)(sizeof res->ids / sizeof res->ids[0]))
        return pt__fail(PT_ERR_ARG, "pt_mcts_solve: max_new_tokens %d > %d (pt_mcts_result.ids)", c.max_new_tokens,
                        (int)(sizeof res->ids / sizeof res->ids[0]));
    if (!c.step_delims) c.step_delims = ";>";
    if (c.n_stop_tokens < 1 || c.n_stop_tokens > PT_MAX_STOP_TOKENS)
        return pt__fail(PT_ERR_ARG, "pt_mcts_solve: n_stop_tokens %d must be in [1, %d]", c.n_stop_tokens,
                        PT_MAX_STOP_TOKENS);
    if (policy->cfg.vocab_size != prm->cfg.vocab_size)
        return pt__fail(PT_ERR_ARG, "pt_mcts_solve: policy and PRM vocabularies differ (%d, %d)",
                        policy->cfg.vocab_size, prm->cfg.vocab_size);
    for (i = 0; i < n; i++) {
        if (!prompts[i] || prompt_lens[i] < 1)
            return pt__fail(PT_ERR_ARG, "pt_mcts_solve: prompt %d is empty", i);
        if (prompt_lens[i] > max_prompt) max_prompt = prompt_lens[i];
    }
    if (max_prompt + c.max_new_tokens > policy->cfg.seq_len || max_prompt + c.max_new_tokens > prm->cfg.seq_len)
        return pt__fail(PT_ERR_ARG, "pt_mcts_solve: prompt %d + max_new_tokens %d exceeds seq_len %d", max_prompt,
                        c.max_new_tokens, policy->cfg.seq_len);
    memset(&s, 0, sizeof s);
    s.policy = policy;
    s.prm = prm;
    s.c = &c;
    s.tok = c.tok ? c.tok : &byte_tok;
    s.max_nodes = 2 + c.simulations * c.expand;   /* + the greedy finish */
    s.max_new = c.max_new_tokens;
    s.V = policy->cfg.vocab_size;
    rows = max_prompt > c.expand ? max_prompt : c.expand;
    s.kv = pt_kv_new(policy, s.max_nodes, max_prompt + c.max_new_tokens);
    s.node = (pt__mnode *)pt__zalloc((size_t)s.max_nodes, sizeof(pt__mnode));
    s.ids = (int *)PT_MALLOC((size_t)s.max_nodes * s.max_new * sizeof(int));
    s.logits = (float *)PT_MALLOC((size_t)s.max_nodes * s.V * sizeof(float));
    s.step_logits = (float *)PT_MALLOC((size_t)rows * s.V * sizeof(float));
    s.rows_seq = (int *)pt__zalloc((size_t)rows, sizeof(int));   /* zeros: the prompt rows go to slot 0 */
    s.rows_tok = (int *)PT_MALLOC((size_t)rows * sizeof(int));
    s.active = (int *)PT_MALLOC((size_t)c.expand * sizeof(int));
    s.has_digit = (int *)PT_MALLOC((size_t)c.expand * sizeof(int));
    s.probs = (float *)PT_MALLOC((size_t)c.expand * PT_PRM_MAX_STEPS * sizeof(float));
    s.ex = (pt_example *)pt__zalloc((size_t)c.expand, sizeof(pt_example));
    if (!s.kv || !s.node || !s.ids || !s.logits || !s.step_logits || !s.rows_seq || !s.rows_tok || !s.active ||
        !s.has_digit || !s.probs || !s.ex)
        st = pt__fail(PT_ERR_NOMEM, "pt_mcts_solve: out of memory");
    for (i = 0; st == PT_OK && i < c.expand; i++)
        if (!(s.ex[i].ids = (int *)PT_MALLOC((size_t)(max_prompt + c.max_new_tokens) * sizeof(int))))
            st = pt__fail(PT_ERR_NOMEM, "pt_mcts_solve: out of memory");
    for (i = 0; st == PT_OK && i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        s.prompt = prompts[i];
        s.prompt_len = prompt_lens[i];
        s.seed = c.seed * 0xD1B54A32D192ED03ull + (uint64_t)i;
        memset(s.rows_seq, 0, (size_t)rows * sizeof(int));
        st = pt__mcts_one(&s, &res[i]);
    }
    if (s.ex) pt_examples_free(s.ex, c.expand);
    PT_FREE(s.ex);
    pt_kv_free(s.kv);
    PT_FREE(s.node);
    PT_FREE(s.ids);
    PT_FREE(s.logits);
    PT_FREE(s.step_logits);
    PT_FREE(s.rows_seq);
    PT_FREE(s.rows_tok);
    PT_FREE(s.active);
    PT_FREE(s.has_digit);
    PT_FREE(s.probs);
    return st;
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif
#endif /* POSTTRAIN_IMPLEMENTATION_DONE */
#endif /* POSTTRAIN_IMPLEMENTATION */

/*
   HISTORY
     0.1.0 (2026-11-28)  engine: status codes, RNG, arena, tensors, tape autograd, blocked SIMD/OpenMP
                         matmul, attention, norms, RoPE, losses and log-prob gather, gradcheck, AdamW;
                         Llama-style transformer with batched KV-cache inference, byte tokenizer,
                         sampling and batched generation, native checkpoints, the arithmetic world;
                         llama2.c checkpoints and BPE tokenizer (greedy output equal to llama2.c's);
                         chat template, packed SFT batches, the SFT trainer, LoRA.
     0.2.0 (2026-11-28)  SFT and PEFT chapter: strict JSONL datasets (TRL schemas), assistant-only
                         masks, token adapters (prompt tuning, trainable tokens), fused LoRA op,
                         measured training memory, distillation from generations.
     0.3.0 (2026-12-01)  foundations for the alignment chapters: held-out splits by construction
                         (canonical-form classes, validation split, distinct stratified eval sets
                         with Wilson intervals and per-digit accuracy), graded preference data
                         (quality levels, four strengths, edit triples, on-policy pairs), prompt
                         parsing and step token spans, scalar heads in checkpoints, adapters off,
                         model clones, reference log-probs, stop-token sets, shared prefill,
                         rollout batches, pass@k and majority vote, the shared training loop,
                         PT_ZERO for zero-valued config fields. Breaking: pt_gen_config.stop_token
                         became stop_tokens[] + n_stop_tokens; world problem streams changed.
     0.4.0 (2026-12-02)  readable chapters: one implementation per model feature (the row blocks of
                         2c shared by the tape ops and KV-cache inference), plain kernels before
                         fast ones (test_kernels pins them), pt_layer_matrix + pt_layer_weight, one
                         checked file writer and reader, typed saved state on the tape, one way to
                         resolve config defaults, a manual checked by test_manual (markers, sections,
                         version, density); reward models and preference optimisation begun: rule
                         rewards, Bradley-Terry and BCE losses, PRM aggregation, the DPO family as
                         pure losses, RM and DPO trainers (examples/reward_model.c, examples/dpo.c).
                         Breaking: pt_tensor_alloc/free became pt_tensor_heap/pt_tensor_heap_free;
                         pt_chat_text and pt_world_completion return full lengths (snprintf-style).
     0.5.0 (2026-12-02)  reward models and preference optimisation completed: process RM (step
                         targets, training, step probabilities, scores, step accuracy, first-error
                         detection), a generative judge (prompt, target, verdict parser, data, p(yes),
                         optional thinking), the pair loop serving single examples, examples
                         reward_model.c (ORM, PRM, judge, best-of-N to 32), dpo.c sweeps and
                         dpo_stories.c (stories260K, exported back to llama2.c), DPO and RM steps in
                         make bench.
     0.6.0 (2026-12-02)  speed: the matmul micro-kernel in full-width vector types (512-bit on AVX-512
                         whatever the compiler's tuning), rows of A read in place, K cut into equal
                         blocks; training attention as blocked matrix products; vectorised SwiGLU,
                         RoPE, AdamW and batch-1 dot products; an OpenMP 'if' that had switched off
                         the simd part of every small elementwise loop; memory-bound loops fork only
                         above 1M elements; gradient buffers handed on through reshapes and adds;
                         pt_profile_* (per-op profile of a step); make bench alternates rounds with
                         PyTorch and reports medians. Results change in the last bits (training
                         trajectories and the examples' numbers with them).
     0.7.0 (2026-12-02)  online RL begun (section 13): KL estimators k1/k2/k3, GAE, whitening, GRPO
                         group advantages (std per group, per batch, none), RLOO, PPO token rewards,
                         the adaptive KL controller, clipped surrogate and value losses, three loss
                         aggregations with whole-batch denominators; a rollout engine (G samples per
                         prompt, reference/old log-probs at the sampling temperature, critic values,
                         truncation flags, decoded texts, time split); GRPO/Dr. GRPO/DAPO/RLOO and
                         PPO trainers with fresh optimizer state; the world's corpus can answer
                         directly (R1-Zero's base) and direct answers are scored; paired held-out
                         comparisons (pt_world_eval_paired, McNemar); examples grpo.c, r1.c, ppo.c,
                         dr_grpo.c, rl_tour.c, reward_hacking.c; notebook 05.
     0.8.0 (2026-12-02)  a rule variant in the world: PT_RULE_NO_CARRY ("Q: 47+85=? (no carry)" -> 22),
                         pt_world_config.rule (the rule of every problem drawn) and .variant (the
                         corpus fraction under it), pt_problem.rule, parsed back from the question;
                         examples sft_vs_rl.c (Chu et al. 2025) and grpo_stories.c (GRPO of
                         stories260K, exported to llama2.c).
     0.9.0 (2026-12-02)  search and test-time compute (section 14): best-of-N, weighted majority vote,
                         rejection sampling (K samples, top-N by rules and/or a learned RM, JSONL with
                         scores, acceptance per difficulty, hint prompts for STaR's rationalisation),
                         MCTS over reasoning steps with PRM values and shared-prefix KV reuse (and a
                         token-level option); examples pipeline.c (the new make demo; make chapters
                         keeps the chapters' runs), test_time.c, star.c, flywheel.c; notebook 06.
     0.9.1 (2026-12-08)  PT_EXTERNAL_IMPLEMENTATION (ignore this file's POSTTRAIN_IMPLEMENTATION and
                         link the implementation compiled elsewhere): the Makefile compiles the
                         implementation once per configuration and links every test and example to
                         it, in parallel; no change to the library's behaviour.

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
