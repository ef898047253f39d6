/* A tiny test harness: CHECK counts, failures print where and why, test_end() prints the line
   "N passed, N failed" and returns the process exit code. */
#ifndef PT_TEST_H
#define PT_TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
static int t_pass, t_fail;
#define CHECK(cond, ...) do { if (cond) t_pass++; else { t_fail++; printf("FAIL %s:%d: ", __FILE__, __LINE__); \
    printf(__VA_ARGS__); printf("\n"); fflush(stdout); } } while (0)
#define CHECK_NEAR(a, b, tol, what) CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%s: %.9g vs %.9g (tol %g)", what, (double)(a), (double)(b), (double)(tol))
#if defined(__GNUC__) || defined(__clang__)
#define TEST_MAYBE_UNUSED __attribute__((unused))
#else
#define TEST_MAYBE_UNUSED
#endif
static int test_end(const char *name) { printf("%s: %d passed, %d failed\n", name, t_pass, t_fail); return t_fail ? 1 : 0; }
/* Reference models live outside the repo: $PT_MODELS or ../shared/models. */
TEST_MAYBE_UNUSED static const char *test_models_dir(void) { const char *d = getenv("PT_MODELS"); return d && *d ? d : "../shared/models"; }
#endif
