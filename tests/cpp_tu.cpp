// The implementation compiled as C++ (g++/clang++ with -Wall -Wextra -Werror), with a smoke test.
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

int main()
{
    pt_params *P = pt_params_new();
    int wshape[2] = {3, 4}, xshape[2] = {2, 4};
    pt_tensor *W = pt_params_add(P, "w", 2, wshape, 0);
    CHECK(W != NULL && pt_params_alloc(P) == PT_OK, "params: %s", pt_last_error());
    for (int i = 0; i < 12; i++) W->data[i] = 0.1f * (float)i;
    pt_ctx *ctx = pt_ctx_new(0);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    pt_tensor *xt = pt_tensor_from(ctx, 2, xshape, x);
    pt_tensor *loss = pt_sum(ctx, pt_linear(ctx, xt, W, NULL));
    CHECK(loss != NULL, "forward: %s", pt_last_error());
    // sum_ij (x W^T)_ij = sum_j (sum_i x_i) . W_j
    double want = 0;
    for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++) want += (x[k] + x[4 + k]) * W->data[j * 4 + k];
    CHECK_NEAR(loss->data[0], want, 1e-4, "linear sum");
    CHECK(pt_backward(ctx, loss) == PT_OK, "backward");
    CHECK_NEAR(W->grad[5], x[1] + x[5], 1e-5, "dW[1][1]");
    pt_ctx_free(ctx);
    pt_params_free(P);
    return test_end("cpp_tu");
}
