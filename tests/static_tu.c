/* PT_STATIC build with user allocator overrides (all three), checking that every allocation the
   library makes goes through them and is given back. */
#include <stdlib.h>
static long n_live, n_calls;
static void *my_malloc(size_t n) { n_live++; n_calls++; return malloc(n); }
static void *my_realloc(void *p, size_t n) { if (!p) { n_live++; } n_calls++; return realloc(p, n); }
static void my_free(void *p) { if (p) n_live--; free(p); }
#define PT_MALLOC(sz) my_malloc(sz)
#define PT_REALLOC(p, sz) my_realloc(p, sz)
#define PT_FREE(p) my_free(p)
#define PT_STATIC
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

int main(void)
{
    int shape[2] = {5, 7};
    pt_ctx *ctx;
    pt_tensor *a, *s;
    long before = n_live;
    ctx = pt_ctx_new(1024);
    a = pt_tensor_new(ctx, 2, shape);
    CHECK(a != NULL, "tensor_new");
    a->data[3] = 2.0f;
    s = pt_sum(ctx, pt_square(ctx, a));
    CHECK(s && s->data[0] == 4.0f, "sum of squares");
    CHECK(n_calls > 0, "allocator override used");
    pt_ctx_free(ctx);
    CHECK(n_live == before, "every allocation freed (%ld live)", n_live - before);
    return test_end("static_tu");
}
