/* distill.c - distillation: a small student learns from a larger teacher's generations.

   The teacher is the SFT model (build/sft.ckpt from `make chapters`, ~0.94M parameters). It answers
   N_TRAIN training questions in the chat template, sampled at temperature 1.5 (distillation data
   is sampled, not greedy: DeepSeek-R1 sampled its teacher at 0.6; a well-trained teacher makes
   almost no slips at 1 and about 6% at 1.5, which gives the filter something to do); a rule
   scores each answer. Then three
   students of the same small architecture (~0.2M parameters, 1/5 of the teacher), from the same
   random initialisation and with the same SFT budget, learn from:
     ground truth        the world's clean demonstrations (the upper reference)
     teacher (all)       every teacher answer, right or wrong (sequence-level distillation,
                         Kim & Rush 2016; the "distilled" small models of DeepSeek-R1, 2025)
     teacher (correct)   only the answers the rule accepts (rejection sampling before distilling,
                         as DeepSeek-R1 filtered its 800k distillation samples)
   Prints one table (held-out accuracy and format of teacher and students), writes
   build/distill.csv (the table) and build/distill_loss.csv (loss curves).

   usage: distill [student SFT steps (default 800)] [teacher (default build/sft.ckpt)]
                  [teacher temperature (default 1.5)]
   (At 600 steps the students sit at the point where the arithmetic "clicks"; when it clicks varies
   with the data order, so 600-step accuracies vary by tens of points between students.) */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* append_curve */
#include <stdio.h>
#include <stdlib.h>

#define N_TRAIN 4000

static pt_world_config world;

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 800, i, s, n_all, n_correct;
    const char *teacher_path = argc > 2 ? argv[2] : "build/sft.ckpt";
    float temperature = argc > 3 ? (float)atof(argv[3]) : 1.5f;
    pt_model *teacher = pt_model_load(teacher_path);
    static pt_example truth[N_TRAIN], from_all[N_TRAIN], from_correct[N_TRAIN];
    static int prompt_buf[N_TRAIN][192], prompt_len[N_TRAIN];
    static const int *prompts[N_TRAIN];
    static unsigned char correct[N_TRAIN];
    static pt_problem probs[N_TRAIN];
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_world_eval_result t_id, t_ood;
    pt_gen_config g;
    pt_gen_result gen;
    pt_config student_cfg;
    double t0;
    FILE *csv = fopen("build/distill.csv", "w"), *curves = fopen("build/distill_loss.csv", "w");
    if (!teacher) { printf("error: %s (run `make chapters` first)\n", pt_last_error()); return 1; }
    world.min_digits = 1; world.max_digits = 3;

    /* 1. the teacher answers the training questions */
    if (pt_world_eval(teacher, &world, PT_WORLD_ID, 800, 1, &t_id) != PT_OK || pt_world_eval(teacher, &world, PT_WORLD_OOD, 400, 1, &t_ood) != PT_OK) {
        printf("error: %s\n", pt_last_error());
        return 1;
    }
    for (i = 0; i < N_TRAIN; i++) {   /* seed 11: questions neither pretraining (1) nor SFT (7) used */
        pt_world_problem(&world, PT_WORLD_TRAIN, 11, i, &probs[i]);
        prompt_len[i] = pt_world_prompt(&probs[i], 1, prompt_buf[i], 192);
        prompts[i] = prompt_buf[i];
        if (pt_world_sft_example(&world, PT_WORLD_TRAIN, 11, i, &truth[i]) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    }
    memset(&g, 0, sizeof g);
    g.max_new_tokens = 96; g.stop_tokens[0] = PT_BYTE_END; g.n_stop_tokens = 1; g.sampler.temperature = temperature; g.seed = 5;
    t0 = pt_time_seconds();
    if (pt_generate(teacher, prompts, prompt_len, N_TRAIN, 1, &g, &gen) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    for (i = 0, n_correct = 0; i < N_TRAIN; i++) {
        char text[1024];
        pt_world_score sc;
        pt_decode(&tok, gen.tokens + (int64_t)i * gen.width + gen.prompt_len[i], gen.total_len[i] - gen.prompt_len[i], text, sizeof text);
        pt_world_score_text(&probs[i], text, &sc);
        correct[i] = (unsigned char)sc.correct;
        n_correct += sc.correct;
    }
    n_all = pt_examples_from_generations(&gen, NULL, PT_BYTE_EOS, from_all);
    if (pt_examples_from_generations(&gen, correct, PT_BYTE_EOS, from_correct) != n_correct || n_all != N_TRAIN) {
        printf("error: %s\n", pt_last_error());
        return 1;
    }
    printf("teacher %s (%.2fM parameters): held-out ID accuracy %.1f%%, OOD %.1f%%\n", teacher_path,
           pt_params_count(teacher->params, 0) / 1e6, 100 * t_id.accuracy, 100 * t_ood.accuracy);
    printf("teacher sampled (T = %g) answers to %d training questions in %.1f s: %d correct (%.1f%%)\n\n", (double)temperature, N_TRAIN, pt_time_seconds() - t0,
           n_correct, 100.0 * n_correct / N_TRAIN);
    pt_gen_result_free(&gen);

    /* 2. three students, same init, same budget */
    memset(&student_cfg, 0, sizeof student_cfg);
    student_cfg.dim = 64; student_cfg.n_layers = 4; student_cfg.n_heads = 4; student_cfg.n_kv_heads = 2;
    student_cfg.hidden_dim = 176; student_cfg.vocab_size = PT_BYTE_VOCAB; student_cfg.seq_len = teacher->cfg.seq_len;
    if (csv) fprintf(csv, "data,examples,student_params,seconds,first_loss,last_loss,id_accuracy,id_format,ood_accuracy\n");
    if (curves) fprintf(curves, "data,step,loss\n");
    if (csv) fprintf(csv, "teacher,%d,%lld,0,0,0,%.4f,%.4f,%.4f\n", N_TRAIN, (long long)pt_params_count(teacher->params, 0),
                     t_id.accuracy, t_id.format_rate, t_ood.accuracy);
    printf("  %-18s %8s %9s %7s %11s %9s %8s\n", "student data", "examples", "params", "time", "loss", "accuracy", "format");
    printf("  %-18s %8d %9lld %7s %11s %8.1f%% %7.1f%%\n", "(the teacher)", N_TRAIN, (long long)pt_params_count(teacher->params, 0), "-", "-",
           100 * t_id.accuracy, 100 * t_id.format_rate);
    for (s = 0; s < 3; s++) {
        static const char *const names[3] = {"ground truth", "teacher (all)", "teacher (correct)"};
        pt_example *data = s == 0 ? truth : s == 1 ? from_all : from_correct;
        int n = s == 0 ? N_TRAIN : s == 1 ? n_all : n_correct;
        pt_model *student = pt_model_new(&student_cfg, 1234);
        pt_sft_config cfg = {0};
        pt_sft_result res;
        pt_world_eval_result id, ood;
        char path[64];
        if (!student) { printf("error: %s\n", pt_last_error()); return 1; }
        snprintf(path, sizeof path, "build/distill_%d.csv", s);
        cfg.steps = steps; cfg.batch_rows = 16; cfg.lr = 3e-3f; cfg.eval_every = steps; cfg.quiet = 1; cfg.csv_path = path;
        if (pt_sft_train(student, data, n, NULL, 0, &cfg, &res) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
        append_curve(curves, names[s], path);
        if (pt_world_eval(student, &world, PT_WORLD_ID, 800, 1, &id) != PT_OK || pt_world_eval(student, &world, PT_WORLD_OOD, 400, 1, &ood) != PT_OK) {
            printf("error: %s\n", pt_last_error());
            return 1;
        }
        printf("  %-18s %8d %9lld %6.1fs %4.2f>%5.3f %8.1f%% %7.1f%%\n", names[s], n, (long long)pt_params_count(student->params, 0),
               res.seconds, res.first_loss, res.last_loss, 100 * id.accuracy, 100 * id.format_rate);
        fflush(stdout);
        if (csv) fprintf(csv, "%s,%d,%lld,%.2f,%.4f,%.4f,%.4f,%.4f,%.4f\n", names[s], n, (long long)pt_params_count(student->params, 0),
                         res.seconds, res.first_loss, res.last_loss, id.accuracy, id.format_rate, ood.accuracy);
        if (csv) fflush(csv);
        if (curves) fflush(curves);
        pt_model_free(student);
    }
    if (csv) fclose(csv);
    if (curves) fclose(curves);
    printf("\nwritten build/distill.csv and build/distill_loss.csv\n");
    pt_examples_free(truth, N_TRAIN); pt_examples_free(from_all, n_all); pt_examples_free(from_correct, n_correct);
    pt_model_free(teacher);
    return 0;
}
