/* peak.h - the machine's FP32 peak for the benchmarks (bench_matmul.c, bench_model.c): NCH independent
   FMA chains of one full-width vector each per thread, all in registers. Include after posttrain.h
   (pt_time_seconds) with <math.h>, <stdio.h> and, under OpenMP, <omp.h>. */
#ifndef BENCH_PEAK_H
#define BENCH_PEAK_H
#define CH12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#if defined(__AVX512F__)   /* 32 zmm registers: 20 chains of one zmm each */
#define LANES 16
#define NCH 20
#define CHAINS(X) CH12(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19)
#else                      /* 16 ymm registers (AVX2): 12 chains of one ymm each */
#define LANES 8
#define NCH 12
#define CHAINS(X) CH12(X)
#endif

/* iters * NCH * LANES FMAs; returns the sum of all accumulators so nothing can be dropped.
   Explicit vector types (gcc and clang vector extensions): the width is the one we ask for, not the
   one the compiler's tuning prefers. gcc's tuning for Intel (-march=native included) prefers 256-bit
   registers for loops it vectorises itself, which would measure half the AVX-512 peak. */
#if defined(__GNUC__) || defined(__clang__)
typedef float bench_vec __attribute__((vector_size(LANES * sizeof(float))));
#if defined(__clang__)
__attribute__((min_vector_width(LANES * 32)))    /* else clang splits the vectors when tuned for 256 bits */
#else
__attribute__((optimize("fp-contract=fast")))   /* x * a + b as one FMA even under -std=c99 */
#endif
static double fma_chains(long iters, float a, float b, float seed)
{
    bench_vec va, vb;
    double s = 0.0;
    long it;
    int l;
    for (l = 0; l < LANES; l++) { va[l] = a; vb[l] = b; }
#define DECL(c) bench_vec x##c; for (l = 0; l < LANES; l++) x##c[l] = seed + 0.001f * (float)((c) * LANES + l);
    CHAINS(DECL)
    for (it = 0; it < iters; it++) {
#define STEP(c) x##c = x##c * va + vb;
        CHAINS(STEP)
    }
#define SUM(c) for (l = 0; l < LANES; l++) s += x##c[l];
    CHAINS(SUM)
    return s;
}
#else
/* Other compilers: scalar lanes (the figure is then a lower bound of the peak). */
static double fma_chains(long iters, float a, float b, float seed)
{
    double s = 0.0;
    long it;
    int l;
#define DECL(c) float x##c[LANES];
    CHAINS(DECL)
#define INIT(c) for (l = 0; l < LANES; l++) x##c[l] = seed + 0.001f * (float)((c) * LANES + l);
    CHAINS(INIT)
    for (it = 0; it < iters; it++) {
#define STEP(c) for (l = 0; l < LANES; l++) x##c[l] = x##c[l] * a + b;
        CHAINS(STEP)
    }
#define SUM(c) for (l = 0; l < LANES; l++) s += x##c[l];
    CHAINS(SUM)
    return s;
}
#endif

static volatile float g_a = 0.9999f, g_b = 0.0001f;   /* runtime values: no constant folding */
/* Called through a volatile pointer so it is compiled (and checked with objdump) once, not inlined. */
static double (*volatile fma_chains_fn)(long, float, float, float) = fma_chains;
static volatile double g_sink;

/* Runs `iters` on each of nt threads; returns the wall time of the whole parallel region. */
static double fma_run(int nt, long iters)
{
    double t0, t1, sink = 0.0;
    float a = g_a, b = g_b;
    t0 = pt_time_seconds();
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(+ : sink)
    sink += fma_chains_fn(iters, a, b, 1.0f + 0.5f * (float)omp_get_thread_num());
#else
    (void)nt;
    sink = fma_chains_fn(iters, a, b, 1.0f);
#endif
    t1 = pt_time_seconds();
    g_sink += sink;
    return t1 - t0;
}

/* GFLOP/s of nt threads: calibrate, then 3 runs of ~0.1 s (0.3 s in all), best of them. */
static double fma_peak(int nt)
{
    long iters = 10000;
    double t, best = 1e30, flops;
    int r;
#ifndef _OPENMP
    nt = 1;                                           /* fma_run runs one thread */
#endif
    fma_run(nt, iters);                               /* wake the threads, ramp the clock */
    while ((t = fma_run(nt, iters)) < 0.02) iters *= 4;
    iters = (long)((double)iters * 0.1 / t) + 1;
    for (r = 0; r < 3; r++) { t = fma_run(nt, iters); if (t < best) best = t; }
    flops = 2.0 * (double)iters * NCH * LANES * nt;   /* 2 flops per FMA per lane */
    return flops / best * 1e-9;
}

/* A ~10 ms FMA run on nt threads (GFLOP/s), to see whether the cores are ours right now. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((unused))
#endif
static double fma_probe(int nt, double peak)
{
    long iters = (long)(0.01 * peak * 1e9 / (2.0 * NCH * LANES * nt)) + 1;
#ifndef _OPENMP
    nt = 1;
#endif
    return 2.0 * (double)iters * NCH * LANES * nt / fma_run(nt, iters) * 1e-9;
}

#endif
