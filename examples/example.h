/* example.h - the few lines several examples share. Include after posttrain.h; only the public
   API is used here. */
#ifndef PT_EXAMPLE_H
#define PT_EXAMPLE_H
#include <stdio.h>

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
#endif
