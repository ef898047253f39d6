/* quiet_star.c - Quiet-STaR, small (Zelikman et al. 2024): a model learns to think where thinking
   makes the true continuation more likely, rewarded by that likelihood alone (no answer checker).

   Quiet-STaR inserts a thought (between start- and end-of-thought tokens) after every token, mixes
   the next-token prediction made with the thought and without it (a learned mixing weight), and
   trains the thought tokens by REINFORCE on how much the thought raised the log-likelihood of the
   true next tokens, against the mean over several thoughts. This small version keeps the reward,
   the mixing and the baseline, and changes the rest to fit a 1M-parameter model:
     - one thought position per problem, after "A: ", where the true continuation is the answer
       "132</answer>"; the start and end of thought are the world's <think> and </think> tokens
     - a fixed mixing weight of 1/2 (no mixing head): r = log(p_with/2 + p_without/2) - log p_without,
       with p_with = p(answer | question, thought), p_without = p(answer | question), both under the
       current model; r > 0 iff the thought helps
     - G = 8 thoughts per question, the group mean as baseline and GRPO's clipped update
       (pt_grpo_train with this reward as its batch reward) instead of plain REINFORCE.
   The model: the mixed-format base of R1-Zero (build/base_mixed.ckpt), whose greedy answers are
   direct; a thought is started by prompting "A: <think>" (as in Quiet-STaR, the algorithm places the
   start of thought and the model learns what to think and when to end). Before and after: accuracy
   with a thought and without one (direct, "A: <answer>") on 400 held-out problems, greedy and one
   sample at T = 1 (the policy the reward trains), and the mean reward.
   Writes build/quiet_star.csv (per rollout) and build/quiet_star_eval.csv (notebook 06).
   Measured (v0.9.0, 200 rollouts, 2 min on 2 cores): the reward rises from 0.28 to 0.51 nats; one
   sample after a thought 40.2% -> 46.0%, greedy after a thought 54.8% -> 54.8%, direct 7.5% -> 6.5%.

   usage: quiet_star [steps (default 200)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"
#include <math.h>

static pt_world_config world;
static pt_tokenizer tok;

/* log p(answer tokens | prefix text) for n (prefix, answer) pairs, under m. */
static int answer_logp(pt_model *m, char **prefix, char **answer, int n, float *out)
{
    pt_example *ex = (pt_example *)calloc((size_t)n, sizeof(pt_example));
    int i, st;
    for (i = 0; i < n; i++) {
        int cap = (int)(strlen(prefix[i]) + strlen(answer[i])) + 8;
        ex[i].ids = (int *)malloc(sizeof(int) * cap);
        ex[i].n_prompt = tok.encode(&tok, prefix[i], 0, 0, ex[i].ids, cap);
        ex[i].n_ids = ex[i].n_prompt + tok.encode(&tok, answer[i], 0, 0, ex[i].ids + ex[i].n_prompt, cap - ex[i].n_prompt);
    }
    st = pt_sequence_logprobs(m, ex, n, 32, out, NULL);
    pt_examples_free(ex, n);
    free(ex);
    return st;
}
/* The batch reward: how much the thought (the completion) raises the mixed likelihood of the answer. */
static int thought_reward(const char *const *prompts, const char *const *thoughts, int n, float *r, void *user)
{
    char **pre = (char **)malloc(sizeof(char *) * 2 * n), **ans = (char **)malloc(sizeof(char *) * 2 * n);
    float *lp = (float *)malloc(sizeof(float) * 2 * n);
    int i, st;
    for (i = 0; i < n; i++) {
        pt_problem p;
        const char *q = strstr(prompts[i], "<think>");
        int head = q ? (int)(q - prompts[i]) : (int)strlen(prompts[i]);
        pt_world_parse(prompts[i], &p);
        pre[2 * i] = (char *)malloc(strlen(prompts[i]) + strlen(thoughts[i]) + 32);
        pre[2 * i + 1] = (char *)malloc(strlen(prompts[i]) + 32);
        ans[2 * i] = ans[2 * i + 1] = (char *)malloc(40);
        sprintf(pre[2 * i], "%s%s</think><answer>", prompts[i], thoughts[i]);
        sprintf(pre[2 * i + 1], "%.*s<answer>", head, prompts[i]);
        sprintf(ans[2 * i], "%lld</answer>", p.answer);
    }
    st = answer_logp((pt_model *)user, pre, ans, 2 * n, lp);
    for (i = 0; i < n; i++) {   /* log(e^a/2 + e^b/2) - b, computed without overflow */
        double a = lp[2 * i], b = lp[2 * i + 1], hi = a > b ? a : b;
        r[i] = (float)(hi + log(0.5 * exp(a - hi) + 0.5 * exp(b - hi)) - b);
        free(pre[2 * i]);
        free(pre[2 * i + 1]);
        free(ans[2 * i]);
    }
    free(pre);
    free(ans);
    free(lp);
    return st;
}
/* Accuracy on held-out problems (greedy, or one sample at temperature T) when the prompt opens a thought
   ("<think>") or forces an answer ("<answer>"); one row of build/quiet_star_eval.csv. */
static float accuracy(pt_model *m, const char *opener, float temperature, const char *when, FILE *csv)
{
    static pt_problem probs[400];
    static int ids[400][64];
    static const int *pp[400];
    static int lens[400];
    int i, n, right = 0;
    float lo, hi;
    pt_gen_config g;
    pt_gen_result r;
    n = pt_world_heldout(&world, PT_WORLD_ID, 400, probs);
    for (i = 0; i < n; i++) {
        char text[256];
        snprintf(text, sizeof text, "%sA: %s", probs[i].question, opener);
        lens[i] = tok.encode(&tok, text, 1, 0, ids[i], 64);
        pp[i] = ids[i];
    }
    raw_gen(&g, 64);
    g.sampler.temperature = temperature;
    g.seed = 11;
    if (pt_generate(m, pp, lens, n, 1, &g, &r) != PT_OK) return -1;
    for (i = 0; i < n; i++) {
        char text[512];
        pt_world_score s;
        int at = (int)strlen(opener);
        strcpy(text, opener);
        pt_decode(&tok, r.tokens + (size_t)i * r.width + lens[i], r.total_len[i] - lens[i], text + at,
                  (int)sizeof text - at);
        pt_world_score_text(&probs[i], text, &s);
        right += s.correct;
    }
    pt_gen_result_free(&r);
    pt_binomial_interval(right, n, &lo, &hi);
    fprintf(csv, "%s,%s,%g,%d,%.4f,%.4f,%.4f\n", when, opener[1] == 't' ? "thought" : "direct", temperature, n,
            (float)right / n, lo, hi);
    return (float)right / n;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 200, i, n_prompts = 2000;
    pt_model *m;
    pt_example *prompts = (pt_example *)calloc((size_t)n_prompts, sizeof(pt_example));
    pt_grpo_config g;
    pt_train_result res;
    float before[4], after[4];
    FILE *eval_csv;
    tok = pt_byte_tokenizer();
    memset(&world, 0, sizeof world);
    if (!(m = pt_model_load("build/base_mixed.ckpt"))) {
        printf("skipped: build/base_mixed.ckpt not found (build/pretrain 1400 0 build/base_mixed.ckpt 0.6)\n");
        return 0;
    }
    for (i = 0; i < n_prompts; i++) {   /* training problems, a thought opened: "Q: 47+85=?\nA: <think>" */
        pt_problem p;
        char text[256];
        pt_world_problem(&world, PT_WORLD_TRAIN, 71, i, &p);
        snprintf(text, sizeof text, "%sA: <think>", p.question);
        prompts[i].ids = (int *)malloc(sizeof(int) * 64);
        prompts[i].n_ids = prompts[i].n_prompt = tok.encode(&tok, text, 1, 0, prompts[i].ids, 64);
    }
    if (!(eval_csv = fopen("build/quiet_star_eval.csv", "w"))) return 1;
    fprintf(eval_csv, "when,prompt,temperature,problems,accuracy,lo,hi\n");
    for (i = 0; i < 4; i++) before[i] = accuracy(m, i & 1 ? "<answer>" : "<think>", i < 2 ? 0.0f : 1.0f, "before", eval_csv);
    memset(&g, 0, sizeof g);
    g.train.steps = steps;
    g.train.lr = 1e-4f;
    g.train.warmup = 5;
    g.train.csv_path = "build/quiet_star.csv";
    g.train.name = "quiet-star";
    g.prompts_per_step = 8;
    g.group_size = 8;
    g.gen.max_new_tokens = 48;
    g.gen.sampler.temperature = 1.0f;
    g.gen.stop_tokens[0] = PT_BYTE_THINK_END;   /* the end-of-thought token */
    g.gen.stop_tokens[1] = PT_BYTE_EOS;
    g.gen.n_stop_tokens = 2;
    g.reward_batch = thought_reward;
    g.reward_user = m;   /* the likelihoods are the current model's, as in Quiet-STaR */
    g.seed = 3;
    printf("Quiet-STaR (small): %d rollouts of 8 questions x 8 thoughts, reward = mixed likelihood gain\n", steps);
    if (pt_grpo_train(m, prompts, n_prompts, &g, &res) != PT_OK) {
        printf("training: %s\n", pt_last_error());
        return 1;
    }
    for (i = 0; i < 4; i++) after[i] = accuracy(m, i & 1 ? "<answer>" : "<think>", i < 2 ? 0.0f : 1.0f, "after", eval_csv);
    fclose(eval_csv);
    printf("\nheld-out accuracy (400 test problems)                   before   after\n");
    for (i = 0; i < 4; i++)
        printf("  %-14s %-34s %5.1f%%  %5.1f%%\n", i < 2 ? "greedy" : "one sample T=1",
               i & 1 ? "without a thought (A: <answer>)" : "with a thought (A: <think>)", 100 * before[i], 100 * after[i]);
    printf("mean reward (nats of mixed likelihood gained by a thought): first 10 rollouts %.3f, last 10 %.3f\n",
           csv_mean("build/quiet_star.csv", "reward", 1, 10), csv_mean("build/quiet_star.csv", "reward", steps - 9, steps));
    pt_examples_free(prompts, n_prompts);
    free(prompts);
    pt_model_free(m);
    return 0;
}
