/* sft_stories.c - LoRA SFT of a real pretrained model (stories260K) to a new habit.

   stories260K (llama2.c's 260K-parameter TinyStories model) writes a story and ends it with the
   BOS token. We teach it a house style it has never seen: every story opens with a title line
   and closes with "The end.", e.g.
       Title: Lily and the ball
       Once upon a time, there was a little girl named Lily. ... The end.
   The demonstrations come from the model itself: sample stories, keep the finished ones, add the
   title (from the main character's name) and the closing line (a story still running after 200
   tokens is cut after its last full sentence); they travel through a JSONL file
   ({"text": ...}, build/stories_sft.jsonl) as a user's data would. Then LoRA (rank 8 on every
   matrix; the base stays frozen) for a few hundred steps. A rule measures the habit on 100
   sampled stories before and after: title line present, "The end." at the end, both. Finally the
   adapter is merged and the model exported in llama2.c's format (build/stories_titled.bin), which
   llama2.c's `run` (and build/generate) loads; the export is checked by reloading it.

   usage: sft_stories [steps (default 200)] [models dir (default $PT_MODELS or ../shared/models)] */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLE 480   /* stories sampled to build the demonstrations */
#define N_EVAL 100
#define MAX_NEW 200   /* demonstrations: the first 200 tokens, cut after the last full sentence */
#define EVAL_NEW 320

typedef struct { float title, ending, both; char first[600]; } habit;

/* Sample n stories from BOS (temperature 0.8, top-p 0.95); texts[i] gets story i (NULL = don't keep). */
static int sample_stories(pt_model *m, const pt_tokenizer *tok, int n, int max_new, uint64_t seed, char (*texts)[1600], unsigned char *finished)
{
    int bos = 1, i;
    const int *prompt[1] = {&bos};
    pt_gen_config g;
    pt_gen_result r;
    memset(&g, 0, sizeof g);
    g.max_new_tokens = max_new; g.stop_tokens[0] = 1; g.n_stop_tokens = 1;   /* the stories models end a story with BOS */
    g.sampler.temperature = 0.8f; g.sampler.top_p = 0.95f; g.seed = seed;
    if (pt_generate(m, prompt, &bos, 1, n, &g, &r) != PT_OK) return -1;   /* bos doubles as the length 1 */
    for (i = 0; i < n; i++) {
        int len = r.total_len[i] - 1;   /* generated tokens after the prompt */
        const int *t = r.tokens + (int64_t)i * r.width + 1;
        finished[i] = len > 0 && t[len - 1] == 1;
        if (finished[i]) len--;   /* drop the closing BOS */
        pt_decode(tok, t, len, texts[i], 1600);
    }
    pt_gen_result_free(&r);
    return 0;
}

/* The house style, as a rule: a first line "Title: ..." and a last sentence "The end." */
static void measure(pt_model *m, const pt_tokenizer *tok, habit *h)
{
    static char texts[N_EVAL][1600];
    static unsigned char fin[N_EVAL];
    int i;
    memset(h, 0, sizeof *h);
    if (sample_stories(m, tok, N_EVAL, EVAL_NEW, 99, texts, fin) != 0) { printf("error: %s\n", pt_last_error()); return; }
    for (i = 0; i < N_EVAL; i++) {
        const char *s = texts[i];
        size_t n;
        int title, ending;
        while (*s == ' ') s++;
        n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n')) n--;
        title = strncmp(s, "Title: ", 7) == 0 && strchr(s, '\n') != NULL;
        ending = fin[i] && n >= 8 && strncmp(s + n - 8, "The end.", 8) == 0;
        h->title += (float)title / N_EVAL; h->ending += (float)ending / N_EVAL; h->both += (float)(title && ending) / N_EVAL;
    }
    memcpy(h->first, texts[0], sizeof h->first - 1);
    h->first[sizeof h->first - 1] = 0;
}

/* "Title: Lily and the day" from the first name-like word the story uses */
static void make_title(const char *story, char *out, size_t cap)
{
    static const char *const names[] = {"Lily", "Tim", "Timmy", "Ben", "Sue", "Tom", "Max", "Mia", "Sam", "Anna", "Jack",
                                         "Sara", "Lucy", "Amy", "Bob", "Spot", "Mom", "Sally", "Billy", "Jane", "Joe", "Kitty"};
    const char *best = NULL, *at = NULL;
    size_t k;
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *p = strstr(story, names[k]);
        if (p && (!at || p < at)) { at = p; best = names[k]; }
    }
    if (best) snprintf(out, cap, "Title: %s's story\n", best);
    else snprintf(out, cap, "Title: A little story\n");
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 200, i, n_keep = 0;
    const char *dir = argc > 2 ? argv[2] : getenv("PT_MODELS") ? getenv("PT_MODELS") : "../shared/models";
    char path[512], tpath[512];
    pt_model *m, *exported;
    pt_tokenizer tok;
    static char texts[N_SAMPLE][1600];
    static unsigned char fin[N_SAMPLE];
    static pt_example train[N_SAMPLE];
    pt_dataset ds, loaded;
    habit before, after, reloaded;
    pt_lora_config lc = {0};
    pt_sft_config cfg = {0};
    pt_sft_result res;
    snprintf(path, sizeof path, "%s/stories260K.bin", dir);
    snprintf(tpath, sizeof tpath, "%s/tok512.bin", dir);
    m = pt_model_load_llama2c(path);
    if (!m || pt_bpe_load(&tok, tpath, m->cfg.vocab_size) != PT_OK) {
        printf("skipped: stories260K.bin / tok512.bin not found in %s (%s); see README.md for the download\n", dir, pt_last_error());
        return 0;
    }
    tok.eos_id = 1;   /* this model family ends a story with BOS, so examples end with it too */

    /* 1. demonstrations in the house style, written to and read back from JSONL */
    if (sample_stories(m, &tok, N_SAMPLE, MAX_NEW, 7, texts, fin) != 0) { printf("error: %s\n", pt_last_error()); return 1; }
    memset(&ds, 0, sizeof ds);
    ds.kind = PT_DATA_TEXT;
    ds.records = (pt_record *)calloc(N_SAMPLE, sizeof(pt_record));
    for (i = 0; i < N_SAMPLE; i++) {
        char title[64], *text, *s = texts[i], *stop;
        while (*s == ' ') s++;
        if (!fin[i]) {   /* an unfinished story ends after its last full sentence */
            stop = strrchr(s, '.');
            if (stop) stop[1] = 0;
        }
        if (strlen(s) < 100 || s[strlen(s) - 1] != '.') continue;   /* too short, or no full sentence */
        make_title(s, title, sizeof title);
        text = (char *)malloc(strlen(title) + strlen(s) + 16);
        sprintf(text, "%s%s The end.", title, s);
        ds.records[ds.n].text = text;
        ds.records[ds.n].line = ds.n + 1;
        ds.n++;
    }
    if (ds.n < 50) { printf("error: only %d usable stories out of %d\n", ds.n, N_SAMPLE); return 1; }
    if (pt_jsonl_save(&ds, "build/stories_sft.jsonl") != PT_OK || pt_jsonl_load("build/stories_sft.jsonl", PT_DATA_TEXT, 0, &loaded) != PT_OK) {
        printf("error: %s\n", pt_last_error());
        return 1;
    }
    for (i = 0; i < loaded.n; i++)
        if (pt_record_example(&tok, &loaded.records[i], PT_DATA_TEXT, 0, 0, &train[n_keep]) == PT_OK) n_keep++;
    printf("stories260K (%d parameters): %d demonstrations from %d sampled stories, in build/stories_sft.jsonl\n",
           (int)pt_params_count(m->params, 0), n_keep, N_SAMPLE);
    printf("  e.g. %.160s...\n\n", loaded.records[0].text);

    measure(m, &tok, &before);
    printf("  before  title line %5.1f%%   ends \"The end.\" %5.1f%%   both %5.1f%%\n", 100 * before.title, 100 * before.ending, 100 * before.both);

    /* 2. LoRA SFT */
    lc.rank = 8; lc.alpha = 16; lc.targets = "*"; lc.seed = 1;
    if (pt_lora_attach(m, &lc) != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    cfg.steps = steps; cfg.batch_rows = 8; cfg.seq_len = 256; cfg.lr = 3e-3f; cfg.eval_every = steps;
    cfg.csv_path = "build/sft_stories.csv";
    if (pt_sft_train(m, train, n_keep, NULL, 0, &cfg, &res) != PT_OK) { printf("\nerror: %s\n", pt_last_error()); return 1; }
    printf("  LoRA r=8: %lld trainable parameters (base frozen), %d steps in %.1f s, loss %.3f -> %.3f\n",
           (long long)pt_params_count(m->lora->params, 1), res.steps_done, res.seconds, res.first_loss, res.last_loss);
    measure(m, &tok, &after);
    printf("  after   title line %5.1f%%   ends \"The end.\" %5.1f%%   both %5.1f%%\n", 100 * after.title, 100 * after.ending, 100 * after.both);
    printf("  sample: %.400s\n", after.first);

    /* 3. merge and export to llama2.c; the exported file must behave the same */
    if (pt_lora_merge(m) != PT_OK || pt_model_save_llama2c(m, "build/stories_titled.bin") != PT_OK) { printf("error: %s\n", pt_last_error()); return 1; }
    exported = pt_model_load_llama2c("build/stories_titled.bin");
    if (!exported) { printf("error: %s\n", pt_last_error()); return 1; }
    measure(exported, &tok, &reloaded);
    printf("  exported build/stories_titled.bin (llama2.c v0): reloaded, both %5.1f%% (merged model %5.1f%%)\n", 100 * reloaded.both, 100 * after.both);
    printf("  try: build/generate build/stories_titled.bin -z %s -t 0.8\n", tpath);
    {
        FILE *f = fopen("build/sft_stories_habit.csv", "w");
        if (f) {
            fprintf(f, "when,title,ending,both\nbefore,%.4f,%.4f,%.4f\nafter,%.4f,%.4f,%.4f\nexported,%.4f,%.4f,%.4f\n", before.title,
                    before.ending, before.both, after.title, after.ending, after.both, reloaded.title, reloaded.ending, reloaded.both);
            fclose(f);
        }
    }
    pt_examples_free(train, n_keep);
    pt_dataset_free(&ds); pt_dataset_free(&loaded);
    pt_model_free(m); pt_model_free(exported);
    pt_tokenizer_free(&tok);
    return 0;
}
