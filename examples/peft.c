/* peft.c - the same SFT budget spent on different sets of trainable parameters.

   Starting each time from the pretrained base model (build/base.ckpt), fine-tune on the world's
   demonstrations (as examples/sft.c does) with: full fine-tuning, LoRA at ranks 1, 4 and 16 on
   every matrix, trainable tokens (only the embedding rows of the chat template's markers, which
   the base model never saw), prompt tuning (16 virtual tokens, plus those markers' rows), the
   RMSNorm gains only, and the
   last layer only. Prints one table: held-out accuracy and format validity, trainable parameters,
   memory measured from the trainer's buffers (the optimizer state: gradients + AdamW moments of
   the trainable tensors; activations: the step arena's high-water mark; peak: those two plus all
   weights), and wall time. Writes build/peft.csv (the table) and build/peft_loss.csv (every variant's loss curve).

   usage: peft [steps per variant (default 150)] [base checkpoint (default build/base.ckpt)]
               [output prefix (default build/peft: build/peft.csv, build/peft_loss.csv)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "example.h"   /* append_curve */
#include <stdio.h>
#include <stdlib.h>

#define N_TRAIN 3000

typedef struct { const char *name; int lora_rank; const char *trainable; int prompt_tokens, chat_tokens; } variant;
#define N_VARIANTS 8

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 150, i, v;
    const char *base = argc > 2 ? argv[2] : "build/base.ckpt", *prefix = argc > 3 ? argv[3] : "build/peft";
    char table_path[512], curves_path[512];
    static pt_example train[N_TRAIN], prefixed[N_TRAIN];
    pt_world_config world = {0};
    variant vs[N_VARIANTS] = {{"full fine-tuning", 0, "*", 0, 0}, {"LoRA r=1", 1, NULL, 0, 0}, {"LoRA r=4", 4, NULL, 0, 0},
                              {"LoRA r=16", 16, NULL, 0, 0}, {"prompt k=16 + chat", 0, NULL, 16, 1},
                              {"chat tokens only", 0, NULL, 0, 1}, {"norms only", 0, "*norm", 0, 0}, {"last layer only", 0, NULL, 0, 0}};
    /* the chat template's markers: <|user|>, <|assistant|>, <|end|> and <eos> after them */
    const int chat_ids[4] = {PT_BYTE_USER, PT_BYTE_ASSISTANT, PT_BYTE_END, PT_BYTE_EOS};
    FILE *csv, *curves;
    snprintf(table_path, sizeof table_path, "%s.csv", prefix);
    snprintf(curves_path, sizeof curves_path, "%s_loss.csv", prefix);
    csv = fopen(table_path, "w"); curves = fopen(curves_path, "w");
    world.min_digits = 1; world.max_digits = 3;
    for (i = 0; i < N_TRAIN; i++)
        if (pt_world_sft_example(&world, PT_WORLD_TRAIN, 7, i, &train[i]) != PT_OK ||
            pt_world_sft_example(&world, PT_WORLD_TRAIN, 7, i, &prefixed[i]) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    if (curves) fprintf(curves, "variant,step,loss\n");
    if (csv) fprintf(csv, "variant,trainable_params,train_memory_bytes,activation_bytes,peak_bytes,seconds,first_loss,last_loss,id_accuracy,id_format,ood_accuracy\n");
    printf("%d SFT steps per variant from %s\n\n", steps, base);
    printf("  %-19s %10s %9s %9s %8s %7s %9s %8s %7s\n", "variant", "trainable", "opt state", "activ.", "peak", "time", "loss", "accuracy", "format");
    for (v = 0; v < N_VARIANTS; v++) {
        pt_model *m = pt_model_load(base);
        pt_example *data = train;
        pt_sft_config cfg = {0};
        pt_sft_result res;
        pt_world_eval_result id, ood;
        int64_t trainable;
        double peak;
        char last[64], csv_path[600];
        if (!m) { printf("error: %s (run `make chapters` first)\n", pt_last_error()); return 1; }
        if (vs[v].lora_rank > 0) {
            pt_lora_config lc = {0};
            lc.rank = vs[v].lora_rank; lc.alpha = 2.0f * (float)lc.rank; lc.targets = "*"; lc.seed = 1;
            if (pt_lora_attach(m, &lc) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
        } else if (vs[v].prompt_tokens > 0) {
            int prefix[64], k;
            /* the soft prompt plus the chat markers' rows: a soft prompt alone cannot teach the
               model the template's new tokens (it scores 0% format here) */
            if (pt_tokens_attach(m, vs[v].prompt_tokens, NULL, chat_ids, 4, 1) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
            k = pt_model_prompt_prefix(m, prefix, 64);   /* virtual ids V.. in front of every example */
            if (pt_examples_prepend(prefixed, N_TRAIN, prefix, k) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
            data = prefixed;
        } else if (vs[v].chat_tokens) {
            if (pt_trainable_tokens_attach(m, chat_ids, 4) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
        } else {
            pt_params_set_trainable(m->params, "*", 0);
            if (vs[v].trainable) pt_params_set_trainable(m->params, vs[v].trainable, 1);
            else { snprintf(last, sizeof last, "layers.%d.*", m->cfg.n_layers - 1); pt_params_set_trainable(m->params, last, 1); }
        }
        trainable = pt_params_count(m->params, 1) + (m->lora ? pt_params_count(m->lora->params, 1) : 0) +
                    (m->tokens ? pt_params_count(m->tokens->params, 1) : 0);
        snprintf(csv_path, sizeof csv_path, "%s_%d.csv", prefix, v);
        cfg.steps = steps; cfg.batch_rows = 8; cfg.quiet = 1; cfg.eval_every = steps; cfg.csv_path = csv_path;
        /* small parameter sets take larger steps (as in the papers: LoRA 1e-4..3e-3 at scale, prompt tuning 0.3).
           Full FT and LoRA rates chosen on the validation split (150 steps from this base; accuracy on
           400 validation problems): full FT 1e-3 7%, 2e-3 92%, 3e-3 74%; LoRA r=4 3e-3 2%, 1e-2 35%,
           2e-2 5%, 3e-2 0%. The rate decides whether reading the question in the template "clicks". */
        cfg.lr = vs[v].lora_rank > 0 ? 1e-2f : vs[v].prompt_tokens || vs[v].chat_tokens ? 3e-2f :
                 (vs[v].trainable && strcmp(vs[v].trainable, "*norm") == 0 ? 1e-2f : 2e-3f);
        if (pt_sft_train(m, data, N_TRAIN, NULL, 0, &cfg, &res) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
        append_curve(curves, vs[v].name, csv_path);
        if (pt_world_eval(m, &world, PT_WORLD_ID, 800, 1, &id) != PT_OK || pt_world_eval(m, &world, PT_WORLD_OOD, 400, 1, &ood) != PT_OK) {
            printf("error: %s\n", pt_last_error());
            return 1;
        }
        peak = (double)res.weight_bytes + (double)res.state_bytes + (double)res.activation_bytes;
        printf("  %-19s %10lld %6.2f MB %6.1f MB %5.1f MB %6.1fs %4.2f>%4.2f %8.1f%% %6.1f%%\n", vs[v].name, (long long)trainable,
               res.state_bytes / 1e6, res.activation_bytes / 1e6, peak / 1e6, res.seconds, res.first_loss, res.last_loss,
               100 * id.accuracy, 100 * id.format_rate);
        fflush(stdout);
        if (csv) fprintf(csv, "%s,%lld,%zu,%zu,%.0f,%.2f,%.4f,%.4f,%.4f,%.4f,%.4f\n", vs[v].name, (long long)trainable,
                         res.state_bytes, res.activation_bytes, peak, res.seconds, res.first_loss, res.last_loss,
                         id.accuracy, id.format_rate, ood.accuracy);
        if (csv) fflush(csv);   /* a notebook can plot a run that is still going */
        if (curves) fflush(curves);
        pt_model_free(m);
    }
    if (csv) fclose(csv);
    if (curves) fclose(curves);
    pt_examples_free(train, N_TRAIN); pt_examples_free(prefixed, N_TRAIN);
    printf("\nwritten %s and %s (the base model: %s)\n", table_path, curves_path, base);
    return 0;
}
