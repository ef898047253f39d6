/* example.h - the few lines several examples share. Include after posttrain.h; only the public
   API is used here. */
#ifndef PT_EXAMPLE_H
#define PT_EXAMPLE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy a run's (step, loss) rows from its SFT metrics CSV (pt_sft_config.csv_path) into a combined
   curves file as "name,step,loss" lines, then delete the run's CSV. */
static inline void append_curve(FILE *out, const char *name, const char *path)
{
    FILE *in = fopen(path, "r");
    char line[512];
    if (!in || !out) { if (in) fclose(in); return; }
    if (fgets(line, sizeof line, in))   /* header: step,loss,... */
        while (fgets(line, sizeof line, in)) {
            int step; float loss;
            if (sscanf(line, "%d,%f", &step, &loss) == 2) fprintf(out, "%s,%d,%.5f\n", name, step, loss);
        }
    fclose(in);
    remove(path);
}

/* Print a model's held-out results: the in-distribution test split (accuracy with its 95% interval
   and per digit count), format and step accuracy, the out-of-distribution split (4 digits) and,
   when mixed is not NULL, the mixed-length split. */
static inline void print_eval(const char *when, const pt_world_eval_result *id, const pt_world_eval_result *ood,
                              const pt_world_eval_result *mixed)
{
    char line[160];
    pt_world_eval_format(id, line, sizeof line);
    printf("  %-7s  ID test accuracy %s\n", when, line);
    printf("           format %5.1f%%  steps %5.1f%%   OOD (4 digits) accuracy %5.1f%%  format %5.1f%%\n",
           100 * id->format_rate, 100 * id->step_accuracy, 100 * ood->accuracy, 100 * ood->format_rate);
    if (mixed) {
        pt_world_eval_format(mixed, line, sizeof line);
        printf("           mixed lengths (composition) %s\n", line);
    }
}
/* The metric examples choose checkpoints by: greedy accuracy (chat template) on 400 problems of the
   validation split, never the test split they report; user is the pt_world_config. */
static inline float valid_accuracy(pt_model *m, void *user)
{
    pt_world_eval_result r;
    return pt_world_eval(m, (const pt_world_config *)user, PT_WORLD_VALID, 400, 1, &r) == PT_OK ? r.accuracy : 0.0f;
}
/* The RL examples' prompts: n training-class problems of the world (seed as pt_world_problem) in the
   base model's raw format "<bos>Q: 47+85=?\nA: " (prompt-only examples; free with pt_examples_free). */
static inline int raw_prompts(const pt_world_config *wc, uint64_t seed, int n, pt_example *out)
{
    int i;
    for (i = 0; i < n; i++) {
        pt_problem p;
        if (!(out[i].ids = (int *)malloc(64 * sizeof(int)))) return -1;
        pt_world_problem(wc, PT_WORLD_TRAIN, seed, i, &p);
        out[i].n_ids = out[i].n_prompt = pt_world_prompt(&p, 0, out[i].ids, 64);
    }
    return n;
}
/* Sampling for the raw format: T = 1, a solution ends with a newline (then <eos>). */
static inline void raw_gen(pt_gen_config *g, int max_new_tokens)
{
    memset(g, 0, sizeof *g);
    g->max_new_tokens = max_new_tokens;
    g->sampler.temperature = 1.0f;
    g->stop_tokens[0] = '\n';
    g->stop_tokens[1] = PT_BYTE_EOS;
    g->n_stop_tokens = 2;
}
/* The mean of a CSV column over data rows [from, to] (1-based), skipping "nan"; -1 if none. */
static inline double csv_mean(const char *path, const char *column, int from, int to)
{
    FILE *f = fopen(path, "r");
    static char line[8192];
    int col = -1, k, row = 0, n = 0;
    double sum = 0;
    char *t;
    if (!f) return -1;
    if (fgets(line, sizeof line, f))
        for (k = 0, t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), k++)
            if (!strcmp(t, column)) col = k;
    while (col >= 0 && fgets(line, sizeof line, f)) {
        if (++row < from || row > to) continue;
        for (k = 0, t = strtok(line, ",\n"); t; t = strtok(NULL, ",\n"), k++)
            if (k == col && strcmp(t, "nan") != 0) {
                sum += atof(t);
                n++;
            }
    }
    fclose(f);
    return n ? sum / n : -1;
}
#endif
