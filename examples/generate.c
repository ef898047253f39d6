/* generate.c - a llama2.c-compatible command line for posttrain.h models.

     generate MODEL [-z TOKENIZER] [-t TEMP] [-p TOPP] [-s SEED] [-n STEPS] [-i PROMPT] [-a ADAPTER]

   MODEL is a llama2.c checkpoint (legacy v0 or v1) or a native posttrain.h checkpoint. TOKENIZER is
   a llama2.c tokenizer.bin (default "tokenizer.bin" for llama2.c models; native models with the
   byte vocabulary use the byte tokenizer). As in llama2.c's run: -t 1.0, -p 0.9, -n 256 by default,
   -n counts positions including the prompt, generation stops at BOS (token 1) for BPE vocabularies
   or EOS for the byte vocabulary, tokens print as they are produced (unprintable single bytes are
   skipped), and the speed goes to stderr at the end. Temperature 0 is greedy decoding: on
   stories260K.bin it prints exactly what llama2.c prints. Sampling uses posttrain.h's RNG, so a
   seed gives other (equally valid) samples than llama2.c's. -a applies an adapter file on top of
   the base model: LoRA (pt_lora_save) or a token adapter (pt_tokens_save), told apart by its
   first bytes. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    fprintf(stderr, "usage: generate MODEL [-z TOKENIZER] [-t TEMP] [-p TOPP] [-s SEED] [-n STEPS] [-i PROMPT] [-a ADAPTER]\n");
    exit(1);
}

static void print_piece(const char *piece)
{
    if (!piece || !piece[0]) return;
    if (!piece[1] && !(isprint((unsigned char)piece[0]) || isspace((unsigned char)piece[0]))) return;
    fputs(piece, stdout);
}

int main(int argc, char **argv)
{
    const char *model_path, *tok_path = NULL, *prompt = "", *adapter = NULL;
    float temperature = 1.0f, topp = 0.9f;
    unsigned long long seed = 0;
    int steps = 256, i, n_prompt, pos, token, next, stop;
    pt_model *m;
    pt_tokenizer tok;
    pt_kv_cache *kv;
    pt_sampler sampler;
    pt_rng rng;
    int *prompt_ids, seq0 = 0, n_virtual;
    static int virt[1024];
    float *logits;
    double t_start = 0;
    char buf[16];
    if (argc < 2) usage();
    model_path = argv[1];
    for (i = 2; i + 1 < argc; i += 2) {
        if (argv[i][0] != '-' || strlen(argv[i]) != 2) usage();
        switch (argv[i][1]) {
        case 't': temperature = (float)atof(argv[i + 1]); break;
        case 'p': topp = (float)atof(argv[i + 1]); break;
        case 's': seed = strtoull(argv[i + 1], NULL, 10); break;
        case 'n': steps = atoi(argv[i + 1]); break;
        case 'i': prompt = argv[i + 1]; break;
        case 'z': tok_path = argv[i + 1]; break;
        case 'a': adapter = argv[i + 1]; break;
        default: usage();
        }
    }
    if (i != argc) usage();
    if (seed == 0) seed = (unsigned long long)(pt_time_seconds() * 1e6);
    m = pt_model_load_any(model_path);
    if (m && adapter) {   /* "PTTK" = token adapter, else LoRA (whose loader names a bad file) */
        char magic[4] = {0};
        FILE *f = fopen(adapter, "rb");
        int is_tokens = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "PTTK", 4) == 0;
        if (f) fclose(f);
        if ((is_tokens ? pt_tokens_load(m, adapter) : pt_lora_load(m, adapter)) != PT_OK) { fprintf(stderr, "error: %s\n", pt_last_error()); return 1; }
    }
    if (!m) { fprintf(stderr, "error: %s\n", pt_last_error()); return 1; }
    if (!tok_path && m->cfg.vocab_size == PT_BYTE_VOCAB) tok = pt_byte_tokenizer();
    else if (pt_bpe_load(&tok, tok_path ? tok_path : "tokenizer.bin", m->cfg.vocab_size) != PT_OK) {
        fprintf(stderr, "error: %s\n", pt_last_error());
        return 1;
    }
    if (steps <= 0 || steps > m->cfg.seq_len) steps = m->cfg.seq_len;
    stop = tok.encode == pt_byte_tokenizer().encode ? tok.eos_id : tok.bos_id;
    prompt_ids = (int *)malloc(((size_t)strlen(prompt) + 3) * sizeof(int) * 4);
    logits = (float *)malloc((size_t)m->cfg.vocab_size * sizeof(float));
    n_virtual = pt_model_prompt_prefix(m, virt, 1024);   /* prompt tuning: virtual tokens go first, unprinted */
    if (n_virtual > 0 && steps + n_virtual > m->cfg.seq_len) steps = m->cfg.seq_len - n_virtual;
    kv = pt_kv_new(m, 1, steps + (n_virtual > 0 ? n_virtual : 0));
    if (!prompt_ids || !logits || !kv) { fprintf(stderr, "error: out of memory\n"); return 1; }
    n_prompt = tok.encode(&tok, prompt, 1, 0, prompt_ids, (int)strlen(prompt) * 4 + 8);
    if (n_prompt < 1) { fprintf(stderr, "error: %s\n", pt_last_error()); return 1; }
    sampler.temperature = temperature; sampler.top_k = 0; sampler.top_p = topp;
    pt_rng_seed(&rng, seed);

    for (i = 0; i < n_virtual; i++)
        if (pt_model_step(m, kv, 1, &seq0, &virt[i], NULL) != PT_OK) { fprintf(stderr, "error: %s\n", pt_last_error()); return 1; }
    token = prompt_ids[0];
    for (pos = 0; pos < steps;) {
        if (pt_model_step(m, kv, 1, &seq0, &token, logits) != PT_OK) { fprintf(stderr, "\nerror: %s\n", pt_last_error()); return 1; }
        next = pos < n_prompt - 1 ? prompt_ids[pos + 1] : pt_sample(logits, m->cfg.vocab_size, &sampler, &rng, NULL);
        pos++;
        if (next == stop) break;
        print_piece(tok.piece(&tok, token, next, buf));
        fflush(stdout);
        token = next;
        if (t_start == 0) t_start = pt_time_seconds();
    }
    printf("\n");
    if (pos > 1) fprintf(stderr, "achieved tok/s: %f\n", (pos - 1) / (pt_time_seconds() - t_start));
    free(prompt_ids); free(logits);
    pt_kv_free(kv);
    pt_tokenizer_free(&tok);
    pt_model_free(m);
    return 0;
}
