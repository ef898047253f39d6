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
/* 1 under AddressSanitizer (gcc or clang): learning loops shrink there. */
#if defined(__SANITIZE_ADDRESS__)
#define T_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_SANITIZED 1
#endif
#endif
#ifndef T_SANITIZED
#define T_SANITIZED 0
#endif
/* A whole file into a malloc'd buffer (one spare byte); NULL if it cannot be read. */
TEST_MAYBE_UNUSED static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long sz;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    if (b) *n = (size_t)sz;
    return b;
}
#endif
