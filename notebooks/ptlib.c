/* ptlib.c - flat C functions over posttrain.h for Python's ctypes (the notebooks use it).

   Build (from the repo root):
     cc -std=c99 -O2 -march=native -fopenmp -fPIC -shared -I. notebooks/ptlib.c -o build/libposttrain.so -lm

   Only ints, floats, char pointers and caller-owned arrays cross the boundary; no structs. A loaded
   model + tokenizer is an int handle (1, 2, ...; 0 means failure). Every function that can fail
   returns 0 or a negative pt_status and leaves the reason in pt_last_error(), which the library
   exports too. Not thread-safe: call from one Python thread. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PTL_MAX 16
typedef struct ptl_slot { pt_model *m; pt_tokenizer tok; } ptl_slot;
static ptl_slot ptl_slots[PTL_MAX];

static ptl_slot *ptl_get(int h, const char *fn)
{
    if (h < 1 || h > PTL_MAX || !ptl_slots[h - 1].m) {
        pt_set_error(PT_ERR_ARG, "%s: bad handle %d", fn, h);   /* records the message for pt_last_error() */
        return NULL;
    }
    return &ptl_slots[h - 1];
}

/* Load a llama2.c (or native) checkpoint and a llama2.c tokenizer.bin. Returns a handle >= 1, or 0. */
int ptl_load(const char *model_path, const char *tokenizer_path)
{
    int h;
    for (h = 0; h < PTL_MAX && ptl_slots[h].m; h++) {}
    if (h == PTL_MAX) return pt_set_error(PT_ERR_ARG, "ptl_load: more than %d models loaded", PTL_MAX), 0;
    if (!model_path || !tokenizer_path) return pt_set_error(PT_ERR_ARG, "ptl_load: NULL path"), 0;
    ptl_slots[h].m = pt_model_load_any(model_path);
    if (!ptl_slots[h].m) return 0;
    if (pt_bpe_load(&ptl_slots[h].tok, tokenizer_path, ptl_slots[h].m->cfg.vocab_size) != PT_OK) {
        pt_model_free(ptl_slots[h].m);
        ptl_slots[h].m = NULL;
        return 0;
    }
    return h + 1;
}

void ptl_free(int h)
{
    ptl_slot *s = ptl_get(h, "ptl_free");
    if (!s) return;
    pt_tokenizer_free(&s->tok);
    pt_model_free(s->m);
    s->m = NULL;
}

/* Model facts: which = "vocab_size", "seq_len", "dim", "n_layers", "n_heads", "n_kv_heads",
   "hidden_dim", "n_params", "bos", "eos". Returns -1 for an unknown name or handle. */
long long ptl_info(int h, const char *which)
{
    ptl_slot *s = ptl_get(h, "ptl_info");
    const pt_config *c;
    if (!s || !which) return -1;
    c = &s->m->cfg;
    if (!strcmp(which, "vocab_size")) return c->vocab_size;
    if (!strcmp(which, "seq_len")) return c->seq_len;
    if (!strcmp(which, "dim")) return c->dim;
    if (!strcmp(which, "n_layers")) return c->n_layers;
    if (!strcmp(which, "n_heads")) return c->n_heads;
    if (!strcmp(which, "n_kv_heads")) return c->n_kv_heads;
    if (!strcmp(which, "hidden_dim")) return c->hidden_dim;
    if (!strcmp(which, "n_params")) return (long long)pt_params_count(s->m->params, 0);
    if (!strcmp(which, "bos")) return s->tok.bos_id;
    if (!strcmp(which, "eos")) return s->tok.eos_id;
    pt_set_error(PT_ERR_ARG, "ptl_info: unknown field \"%s\"", which);
    return -1;
}

/* Encode text (with a leading BOS if add_bos) into ids[max_ids]. Returns the count or a negative
   status. Give max_ids >= strlen(text) + 3. */
int ptl_encode(int h, const char *text, int add_bos, int *ids, int max_ids)
{
    ptl_slot *s = ptl_get(h, "ptl_encode");
    if (!s) return PT_ERR_ARG;
    if (!text || !ids) return pt_set_error(PT_ERR_ARG, "ptl_encode: NULL text or ids");
    return s->tok.encode(&s->tok, text, add_bos, 0, ids, max_ids);
}

/* The text of token id (after token prev: a piece that follows BOS drops its leading space) into
   out[cap], NUL-terminated. Returns its length or a negative status. */
int ptl_piece(int h, int prev, int id, char *out, int cap)
{
    ptl_slot *s = ptl_get(h, "ptl_piece");
    char buf[16];
    const char *p;
    int n;
    if (!s) return PT_ERR_ARG;
    if (!out || cap < 1) return pt_set_error(PT_ERR_ARG, "ptl_piece: no output buffer");
    if (id < 0 || id >= s->m->cfg.vocab_size) return pt_set_error(PT_ERR_ARG, "ptl_piece: id %d outside [0, %d)", id, s->m->cfg.vocab_size);
    p = s->tok.piece(&s->tok, prev, id, buf);
    if (!p) p = "";
    n = (int)strlen(p);
    if (n > cap - 1) n = cap - 1;
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    return n;
}

/* Feed BOS + prompt through the KV-cache forward and write the next-token distribution after the
   last prompt token to probs[vocab_size]: softmax(logits / temperature); temperature <= 0 gives the
   greedy one-hot. Returns the number of tokens fed (BOS included) or a negative status. */
int ptl_next_probs(int h, const char *prompt, float temperature, float *probs)
{
    ptl_slot *s = ptl_get(h, "ptl_next_probs");
    pt_kv_cache *kv = NULL;
    int *ids = NULL, *seqs = NULL, n, i, V, rc;
    float *logits = NULL, *last, mx;
    double sum = 0.0;
    if (!s) return PT_ERR_ARG;
    if (!prompt || !probs) return pt_set_error(PT_ERR_ARG, "ptl_next_probs: NULL prompt or probs");
    V = s->m->cfg.vocab_size;
    n = (int)strlen(prompt) + 3;
    ids = (int *)malloc((size_t)n * sizeof(int));
    seqs = (int *)calloc((size_t)n, sizeof(int));          /* every row belongs to sequence 0 */
    if (!ids || !seqs) { rc = pt_set_error(PT_ERR_NOMEM, "ptl_next_probs: out of memory"); goto done; }
    n = s->tok.encode(&s->tok, prompt, 1, 0, ids, n);
    if (n < 0) { rc = n; goto done; }
    if (n > s->m->cfg.seq_len) { rc = pt_set_error(PT_ERR_ARG, "ptl_next_probs: %d tokens > seq_len %d", n, s->m->cfg.seq_len); goto done; }
    logits = (float *)malloc((size_t)n * (size_t)V * sizeof(float));
    kv = pt_kv_new(s->m, 1, n);
    if (!logits || !kv) { rc = kv ? pt_set_error(PT_ERR_NOMEM, "ptl_next_probs: out of memory") : pt_last_status(); goto done; }
    /* prefill: all n tokens in one call, row i at position i; we keep only the last row's logits */
    rc = pt_model_step(s->m, kv, n, seqs, ids, logits);
    if (rc != PT_OK) goto done;
    last = logits + (size_t)(n - 1) * (size_t)V;
    if (!(temperature > 0.0f)) {
        int best = 0;
        for (i = 1; i < V; i++) if (last[i] > last[best]) best = i;
        for (i = 0; i < V; i++) probs[i] = i == best ? 1.0f : 0.0f;
    } else {
        mx = last[0];
        for (i = 1; i < V; i++) if (last[i] > mx) mx = last[i];
        for (i = 0; i < V; i++) { probs[i] = expf((last[i] - mx) / temperature); sum += probs[i]; }
        for (i = 0; i < V; i++) probs[i] = (float)(probs[i] / sum);
    }
    rc = n;
done:
    pt_kv_free(kv);
    free(ids); free(seqs); free(logits);
    return rc;
}

/* Generate as examples/generate.c (and llama2.c's run) does: BOS + prompt, then sample with
   temperature (0 = greedy) and top_p from posttrain.h's RNG seeded with seed; steps counts positions
   including the prompt (<= 0 or > seq_len: seq_len); stop at BOS; each piece decoded after the
   previous token; unprintable single bytes skipped. The prompt text itself is part of the output.
   Writes NUL-terminated text into out[cap] (truncated to cap-1 bytes) and returns the full length,
   or a negative status. */
int ptl_generate(int h, const char *prompt, float temperature, float top_p, unsigned long long seed,
                 int steps, char *out, int cap)
{
    ptl_slot *s = ptl_get(h, "ptl_generate");
    pt_kv_cache *kv = NULL;
    pt_sampler sampler;
    pt_rng rng;
    int *ids = NULL, n_prompt, pos, token, next, seq0 = 0, V, rc, len = 0;
    float *logits = NULL;
    char buf[16];
    if (!s) return PT_ERR_ARG;
    if (!prompt) prompt = "";
    if (!out || cap < 1) return pt_set_error(PT_ERR_ARG, "ptl_generate: no output buffer");
    out[0] = 0;
    V = s->m->cfg.vocab_size;
    if (steps <= 0 || steps > s->m->cfg.seq_len) steps = s->m->cfg.seq_len;
    ids = (int *)malloc(((size_t)strlen(prompt) + 3) * sizeof(int));
    logits = (float *)malloc((size_t)V * sizeof(float));
    if (!ids || !logits) { rc = pt_set_error(PT_ERR_NOMEM, "ptl_generate: out of memory"); goto done; }
    n_prompt = s->tok.encode(&s->tok, prompt, 1, 0, ids, (int)strlen(prompt) + 3);
    if (n_prompt < 1) { rc = n_prompt < 0 ? n_prompt : pt_set_error(PT_ERR_ARG, "ptl_generate: empty encoding"); goto done; }
    kv = pt_kv_new(s->m, 1, steps);
    if (!kv) { rc = pt_last_status(); goto done; }
    sampler.temperature = temperature; sampler.top_k = 0; sampler.top_p = top_p;
    pt_rng_seed(&rng, seed);
    token = ids[0];
    for (pos = 0; pos < steps;) {
        const char *piece;
        rc = pt_model_step(s->m, kv, 1, &seq0, &token, logits);
        if (rc != PT_OK) goto done;
        next = pos < n_prompt - 1 ? ids[pos + 1] : pt_sample(logits, V, &sampler, &rng, NULL);
        if (next < 0) { rc = next; goto done; }
        pos++;
        if (next == s->tok.bos_id) break;
        piece = s->tok.piece(&s->tok, token, next, buf);
        if (piece && piece[0] && (piece[1] || isprint((unsigned char)piece[0]) || isspace((unsigned char)piece[0]))) {
            int k = (int)strlen(piece), room = cap - 1 - len;
            if (room > 0) memcpy(out + len, piece, (size_t)(k < room ? k : room));
            len += k;
            out[len < cap - 1 ? len : cap - 1] = 0;
        }
        token = next;
    }
    rc = len;
done:
    pt_kv_free(kv);
    free(ids); free(logits);
    return rc;
}
