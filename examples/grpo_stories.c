/* grpo_stories.c - GRPO on a real pretrained model (stories260K) with a rule reward, exported back to
   llama2.c's format.

   The task: each prompt is a story opening that names an object, "Once upon a time, there was a
   little cat named Tom. Tom had a red ball.", and asks (by the rule, not in words: the model is a
   base model) for a story that comes back to that object at its end and stays short:
       word   1 if the requested word (the opening's last word) is in the story's last sentence
              (a closing "The end." does not count as the last sentence)
       short  -1 (GRPO's truncated_penalty) if the story is not finished (BOS) within MAX_NEW tokens
   Prompts: 3 openings x 8 kinds x 12 names x 8 objects; prompt p is for testing when p % 6 == 0, for
   validation when p % 6 == 3, for training otherwise (as examples/dpo_stories.c). GRPO (Shao et al.
   2024): 8 prompts x 8 stories per step at T = 1, k3 KL to the start (beta 0.04), every weight
   trained. Before and after, 4 stories per test prompt: the word rate, the finished rate, both, the
   mean length and the KL to the base, with 95% intervals. Then the model goes out in llama2.c's
   format and back in, and its greedy story must not change.

   usage: grpo_stories [steps (default 60)] [lr (default 3e-4)]
   Models from $PT_MODELS or ../shared/models. Writes build/grpo_stories.csv (per step: reward, word
   rate, KL, length, time split), build/grpo_stories_eval.csv (before/after) and
   build/stories_grpo.bin (llama2.c format). */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* story openings, last sentences */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_NEW 160      /* "stay under a length": a base story is ~150-250 tokens */
#define EVAL_K 4         /* stories per test prompt */
#define N_PROMPTS (3 * 8 * 12 * 8)
enum { TRAIN, VALID, TEST };

static const char *const OBJECT[] = {"a red ball", "a big kite", "a blue hat", "a little boat",
                                     "a yummy cake", "a shiny box", "a soft toy", "a new book"};

static int split_of(int p) { return p % 6 == 0 ? TEST : p % 6 == 3 ? VALID : TRAIN; }
static void prompt_text(int p, char *out, size_t cap)
{
    char first[96];
    story_opening(p % 288, first, sizeof first);
    snprintf(out, cap, "%s %s had %s.", first, story_name(p % 288), OBJECT[p / 288]);
}

/* The requested word: the prompt's last word ("ball"). */
static void requested(const char *prompt, char *w, size_t cap)
{
    const char *end = prompt + strlen(prompt), *s;
    size_t n;
    while (end > prompt && !isalpha((unsigned char)end[-1])) end--;
    for (s = end; s > prompt && isalpha((unsigned char)s[-1]); s--) {}
    n = (size_t)(end - s) < cap - 1 ? (size_t)(end - s) : cap - 1;
    memcpy(w, s, n);
    w[n] = 0;
}
/* 1 if the story's last sentence (before a closing "The end.") holds the prompt's requested word. */
static float reward_word(const char *prompt, const char *story, void *user)
{
    char want[32], w[32];
    const char *p, *end;
    (void)user;
    requested(prompt, want, sizeof want);
    last_sentence(story, &p, &end);
    while (next_word(&p, end, w))
        if (strcmp(w, want) == 0) return 1.0f;
    return 0.0f;
}

static pt_example prompts[N_PROMPTS];
static int n_split[3], first_of[3][N_PROMPTS];

typedef struct { int n, word, finished, both; float kl, tokens; } report;

/* k stories for each prompt of a split at T = 1; the rule's verdicts and the KL to base. */
static int evaluate(pt_model *m, pt_model *base, const pt_tokenizer *tok, int split, int k, report *r)
{
    static pt_example ex[N_PROMPTS * EVAL_K];
    static float lp[N_PROMPTS * EVAL_K], lp_base[N_PROMPTS * EVAL_K];
    static int ntok[N_PROMPTS * EVAL_K];
    const int *ids[N_PROMPTS];
    int lens[N_PROMPTS], i, n = n_split[split];
    pt_gen_config g;
    pt_gen_result res;
    memset(&g, 0, sizeof g);
    memset(r, 0, sizeof *r);
    g.max_new_tokens = MAX_NEW; g.stop_tokens[0] = 1; g.n_stop_tokens = 1; g.sampler.temperature = 1.0f;
    g.seed = 1000 + (uint64_t)split;
    for (i = 0; i < n; i++) {
        ids[i] = prompts[first_of[split][i]].ids;
        lens[i] = prompts[first_of[split][i]].n_ids;
    }
    if (pt_generate(m, ids, lens, n, k, &g, &res) != PT_OK || pt_examples_from_generations(&res, NULL, -1, ex) != n * k)
        return -1;
    for (i = 0; i < n * k; i++) {
        char ptext[256], story[2048];
        int len = ex[i].n_ids - ex[i].n_prompt, fin = len > 0 && ex[i].ids[ex[i].n_ids - 1] == 1;
        pt_decode(tok, ex[i].ids, ex[i].n_prompt, ptext, sizeof ptext);
        pt_decode(tok, ex[i].ids + ex[i].n_prompt, len - fin, story, sizeof story);
        r->word += reward_word(ptext, story, NULL) > 0;
        r->finished += fin;
        r->both += fin && reward_word(ptext, story, NULL) > 0;
    }
    if (base) {
        if (pt_sequence_logprobs(m, ex, n * k, 16, lp, ntok) != PT_OK ||
            pt_sequence_logprobs(base, ex, n * k, 16, lp_base, NULL) != PT_OK)
            return -1;
        for (i = 0; i < n * k; i++) {
            r->kl += (lp[i] - lp_base[i]) / (n * k);
            r->tokens += (float)ntok[i] / (n * k);
        }
    }
    r->n = n * k;
    pt_examples_free(ex, n * k);
    pt_gen_result_free(&res);
    return 0;
}
/* GRPO's metric: the rate of stories that are both finished and come back to the word, on validation. */
static float valid_rate(pt_model *m, void *user)
{
    report r;
    return evaluate(m, NULL, (const pt_tokenizer *)user, VALID, 2, &r) == 0 ? (float)r.both / r.n : 0.0f;
}
static void print_row(FILE *csv, const char *name, const report *r)
{
    float lo, hi, wlo, whi;
    pt_binomial_interval(r->both, r->n, &lo, &hi);
    pt_binomial_interval(r->word, r->n, &wlo, &whi);
    printf("  %-12s %5.1f%% [%4.1f, %4.1f]   %5.1f%% [%4.1f, %4.1f]   %5.1f%%    %5.1f   %6.2f\n", name,
           100.0f * r->both / r->n, 100 * lo, 100 * hi, 100.0f * r->word / r->n, 100 * wlo, 100 * whi,
           100.0f * r->finished / r->n, r->tokens, r->kl);
    fprintf(csv, "%s,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.1f,%.4f\n", name, r->n, (float)r->both / r->n, lo, hi,
            (float)r->word / r->n, (float)r->finished / r->n, r->tokens, r->kl);
}
static int fail(void)
{
    printf("\nerror: %s\n", pt_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 60, i, n_train = 0, same, bos = 1;
    float lr = argc > 2 ? (float)atof(argv[2]) : 3e-4f;
    const int *bos_prompt[1] = {&bos};
    static pt_example train[N_PROMPTS];
    pt_reward_term rewards[1] = {{"word", reward_word, NULL, 1.0f}};
    pt_model *m, *base, *reloaded;
    pt_tokenizer tok;
    pt_grpo_config g;
    pt_gen_config greedy;
    pt_gen_result g1, g2;
    pt_train_result res;
    report before, after;
    FILE *f;
    if (!(m = load_stories(&tok))) return 0;
    if (!(f = fopen("build/grpo_stories_eval.csv", "w"))) {
        printf("error: cannot write build/grpo_stories_eval.csv (run from the repository root)\n");
        return 1;
    }
    for (i = 0; i < N_PROMPTS; i++) {   /* every prompt as ids; the splits index into them */
        char text[256];
        prompt_text(i, text, sizeof text);
        if (!(prompts[i].ids = (int *)malloc(96 * sizeof(int)))) return 1;
        prompts[i].n_ids = prompts[i].n_prompt = tok.encode(&tok, text, 1, 0, prompts[i].ids, 96);
        first_of[split_of(i)][n_split[split_of(i)]++] = i;
        if (split_of(i) == TRAIN) train[n_train++] = prompts[i];   /* shallow: prompts owns the ids */
    }
    base = pt_model_clone(m, 0);
    printf("GRPO of stories260K (%d parameters): come back to the opening's object, finish within %d tokens; "
           "%d steps, lr %g\n  %d training prompts, e.g. \"", (int)pt_params_count(m->params, 0), MAX_NEW, steps, lr,
           n_train);
    {
        char text[256];
        prompt_text(1, text, sizeof text);
        printf("%s\"\n", text);
    }
    if (!base || evaluate(m, base, &tok, TEST, EVAL_K, &before) != 0) return fail();

    memset(&g, 0, sizeof g);
    g.train.steps = steps;
    g.train.lr = lr;
    g.train.warmup = PT_ZERO;
    g.train.eval_every = steps / 3 > 0 ? steps / 3 : 1;
    g.train.csv_path = "build/grpo_stories.csv";
    g.prompts_per_step = 8;
    g.group_size = 8;
    g.gen.max_new_tokens = MAX_NEW;
    g.gen.stop_tokens[0] = 1;   /* a story ends with BOS */
    g.gen.n_stop_tokens = 1;
    g.gen.sampler.temperature = 1.0f;
    g.truncated_penalty = -1.0f;   /* "stay under a length" */
    g.rewards = rewards;
    g.n_rewards = 1;
    g.tok = &tok;
    g.metric = valid_rate;
    g.user = &tok;
    if (pt_grpo_train(m, train, n_train, &g, &res) != PT_OK || evaluate(m, base, &tok, TEST, EVAL_K, &after) != 0)
        return fail();
    printf("  %d steps in %.0f s (generation %.0f s, log-probs %.0f s, updates %.0f s)\n\n", res.steps_done, res.seconds,
           res.gen_seconds, res.logprob_seconds, res.update_seconds);
    printf("  %d test stories (%d prompts x %d), T = 1:\n", after.n, after.n / EVAL_K, EVAL_K);
    printf("  model        both [95%%]             word in the end [95%%]  finished  tokens  KL to base\n");
    fprintf(f, "model,n,both,both_lo,both_hi,word,finished,tokens,kl\n");
    print_row(f, "stories260K", &before);
    print_row(f, "after GRPO", &after);
    fclose(f);

    /* export to llama2.c, reload, and compare greedy stories */
    memset(&greedy, 0, sizeof greedy);
    greedy.max_new_tokens = 200;
    greedy.stop_tokens[0] = 1;   /* one story */
    greedy.n_stop_tokens = 1;
    if (pt_model_save_llama2c(m, "build/stories_grpo.bin") != PT_OK ||
        !(reloaded = pt_model_load_llama2c("build/stories_grpo.bin")) ||
        pt_generate(m, bos_prompt, &bos, 1, 1, &greedy, &g1) != PT_OK ||
        pt_generate(reloaded, bos_prompt, &bos, 1, 1, &greedy, &g2) != PT_OK)
        return fail();
    same = g1.total_len[0] == g2.total_len[0] && memcmp(g1.tokens, g2.tokens, (size_t)g1.total_len[0] * sizeof(int)) == 0;
    {
        char story[2048];
        pt_decode(&tok, g1.tokens + 1, g1.total_len[0] - 1, story, sizeof story);
        printf("\n  greedy story after GRPO: %.400s\n", story);
    }
    printf("  exported build/stories_grpo.bin and reloaded it: greedy story %s\n", same ? "OK (identical)" : "MISMATCH");
    printf("  curves in build/grpo_stories.csv, before/after in build/grpo_stories_eval.csv\n");
    pt_gen_result_free(&g1); pt_gen_result_free(&g2);
    pt_examples_free(prompts, N_PROMPTS);
    pt_model_free(m); pt_model_free(base); pt_model_free(reloaded);
    pt_tokenizer_free(&tok);
    return same ? 0 : 1;
}
