/* Every loader and saver on good and bad input, meant to run under valgrind (make test does when
   valgrind is installed): no invalid reads, no uninitialised jumps, no leaks. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"
#include <string.h>

int main(void)
{
    char model[1024], tokp[1024];
    pt_model *m, *m2, *m3;
    pt_tokenizer tok, t2;
    pt_config c;
    int ids[64], n;
    unsigned char junk[300];
    const char *tmp_native = "build/vg_native.ckpt", *tmp_l2c = "build/vg_l2c.bin", *tmp_bad = "build/vg_bad.bin";
    snprintf(model, sizeof model, "%s/stories260K.bin", test_models_dir());
    snprintf(tokp, sizeof tokp, "%s/tok512.bin", test_models_dir());
    m = pt_model_load_llama2c(model);
    if (!m) {
        printf("SKIPPED: stories260K.bin not found (set PT_MODELS or see README); using a random model\n");
        memset(&c, 0, sizeof c);
        c.dim = 32; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.hidden_dim = 64; c.vocab_size = 512; c.seq_len = 32;
        m = pt_model_new(&c, 1);
    } else if (pt_bpe_load(&tok, tokp, 512) == PT_OK) {
        n = tok.encode(&tok, "Once upon a time", 1, 0, ids, 64);
        CHECK(n == 5 && ids[1] == 403, "encode: %d tokens", n);
        pt_tokenizer_free(&tok);
    }
    CHECK(m != NULL, "model: %s", pt_last_error());
    if (!m) return test_end("valgrind_loaders");
    CHECK(pt_model_save_llama2c(m, tmp_l2c) == PT_OK, "export: %s", pt_last_error());
    CHECK(pt_model_save(m, tmp_native, 1) == PT_OK, "save: %s", pt_last_error());
    m2 = pt_model_load(tmp_native);
    m3 = pt_model_load_any(tmp_l2c);
    CHECK(m2 && m3, "reload: %s", pt_last_error());
    CHECK(m2 && memcmp(m2->params->data, m->params->data, (size_t)m->params->n_data * sizeof(float)) == 0, "native round trip");
    for (n = 0; n < (int)sizeof junk; n++) junk[n] = (unsigned char)(n * 37 + 11);
    write_bytes(tmp_bad, junk, sizeof junk);
    CHECK(pt_model_load_any(tmp_bad) == NULL, "junk model rejected");
    CHECK(pt_model_load(tmp_bad) == NULL, "junk checkpoint rejected");
    CHECK(pt_bpe_load(&t2, tmp_bad, 512) != PT_OK, "junk tokenizer rejected");
    write_bytes(tmp_bad, junk, 12);
    CHECK(pt_model_load_llama2c(tmp_bad) == NULL, "short llama2.c file rejected");
    CHECK(pt_model_load_into(m, tmp_l2c) != PT_OK, "a llama2.c file is not a native checkpoint");
    /* adapters (LoRA and token) and JSONL datasets: good and bad files */
    {
        pt_lora_config lc = {0};
        const char *tmp_ad = "build/vg_adapter.bin", *tmp_tk = "build/vg_tokens.bin", *tmp_js = "build/vg_data.jsonl";
        const int train_ids[2] = {3, 7};
        pt_dataset ds, back;
        static const char bad_json[] = "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\", \"completion\": [1, {\"x\": \"\\ud800\"}]}\n";
        lc.rank = 2; lc.targets = "*";
        CHECK(pt_lora_attach(m, &lc) == PT_OK && pt_lora_save(m, tmp_ad) == PT_OK && pt_lora_load(m, tmp_ad) == PT_OK, "lora: %s", pt_last_error());
        CHECK(pt_tokens_attach(m, 2, NULL, train_ids, 2, 1) == PT_OK && pt_tokens_save(m, tmp_tk) == PT_OK && pt_tokens_load(m, tmp_tk) == PT_OK, "tokens: %s", pt_last_error());
        write_bytes(tmp_bad, junk, sizeof junk);
        CHECK(pt_lora_load(m, tmp_bad) != PT_OK && pt_tokens_load(m, tmp_bad) != PT_OK, "junk adapters rejected");
        CHECK(pt_world_dataset(NULL, PT_WORLD_TRAIN, 1, 20, PT_DATA_MESSAGES, &ds) == PT_OK && pt_jsonl_save(&ds, tmp_js) == PT_OK &&
              pt_jsonl_load(tmp_js, PT_DATA_AUTO, 0, &back) == PT_OK && back.n == 20, "jsonl round trip: %s", pt_last_error());
        pt_dataset_free(&ds); pt_dataset_free(&back);
        write_bytes(tmp_js, bad_json, sizeof bad_json - 1);
        CHECK(pt_jsonl_load(tmp_js, PT_DATA_AUTO, 0, &back) != PT_OK, "bad JSONL rejected");
        write_bytes(tmp_js, junk, sizeof junk);
        CHECK(pt_jsonl_load(tmp_js, PT_DATA_AUTO, 0, &back) != PT_OK, "junk JSONL rejected");
        remove(tmp_ad); remove(tmp_tk); remove(tmp_js);
    }
    /* scalar heads: in a native checkpoint and alone in a head file; bad files; preference JSONL */
    {
        const char *tmp_hd = "build/vg_head.bin", *tmp_hc = "build/vg_head.ckpt", *tmp_js = "build/vg_pref.jsonl";
        pt_model *h = NULL;
        pt_dataset ds, back;
        CHECK(pt_model_head_attach(m, 3) == PT_OK && pt_model_head_save(m, tmp_hd) == PT_OK && pt_model_head_load(m, tmp_hd) == PT_OK,
              "head file: %s", pt_last_error());
        CHECK(pt_model_save(m, tmp_hc, 1) == PT_OK && (h = pt_model_load(tmp_hc)) != NULL && h->head != NULL, "head checkpoint: %s", pt_last_error());
        pt_model_free(h);
        write_bytes(tmp_bad, junk, sizeof junk);
        CHECK(pt_model_head_load(m, tmp_bad) != PT_OK, "junk head file rejected");
        write_bytes(tmp_bad, junk, 16);
        CHECK(pt_model_head_load(m, tmp_bad) != PT_OK, "short head file rejected");
        pt_model_head_detach(m);
        CHECK(pt_model_load_into(m, tmp_hc) != PT_OK, "a headed checkpoint into a headless model is refused");
        CHECK(pt_world_preferences(NULL, PT_WORLD_TRAIN, 1, 40, 0, &ds) == PT_OK && pt_jsonl_save(&ds, tmp_js) == PT_OK &&
              pt_jsonl_load(tmp_js, PT_DATA_PREFERENCE, 0, &back) == PT_OK && back.n == 40 && back.records[0].has_strength,
              "preference jsonl round trip: %s", pt_last_error());
        pt_dataset_free(&ds); pt_dataset_free(&back);
        remove(tmp_hd); remove(tmp_hc); remove(tmp_js);
    }
    remove(tmp_native); remove(tmp_l2c); remove(tmp_bad);
    pt_model_free(m); pt_model_free(m2); pt_model_free(m3);
    return test_end("valgrind_loaders");
}
