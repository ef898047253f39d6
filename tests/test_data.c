/* Tests for the datasets of posttrain.h (section 9c, >>jsonl): the strict JSONL reader
   (pt_jsonl_parse / pt_jsonl_load) on every TRL schema and on a table of malformed inputs (each
   must fail with FILE:LINE:COL, a message that says why, and the output untouched), the writer
   (pt_jsonl_save round trips, atomic), the world export (pt_world_dataset in every schema), records
   as tokenized examples (pt_record_example, with the byte tokenizer and, if present, the llama2.c
   BPE tokenizer), packing with per-token train masks (pt_pack_examples), and the small helpers.

   Temporary files go to a fresh mkdtemp directory /tmp/pt_test_data_XXXXXX, removed at the end. */
#define POSTTRAIN_IMPLEMENTATION
#include "posttrain.h"
#include "test.h"

#include <string.h>
#include <stdint.h>

#include "test_tmp.h"
#include <sys/wait.h>

/* ---------------------------------------------------------------------------------------------
   Helpers
   --------------------------------------------------------------------------------------------- */
#define NAME "t.jsonl"
static int parse(const char *text, int kind, pt_dataset *ds) { return pt_jsonl_parse(NAME, text, strlen(text), kind, 0, ds); }
static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static char *dup_str(const char *s)
{
    size_t n;
    char *d;
    if (!s) return NULL;
    n = strlen(s) + 1;
    d = (char *)malloc(n);
    memcpy(d, s, n);
    return d;
}
static char *read_all(const char *path, size_t *n)
{
    unsigned char *d = NULL;
    if (pt_read_file(path, &d, n) != PT_OK) return NULL;
    return (char *)d;
}
/* The last line of a test input, printable (for failure messages). */
static const char *show(const char *text)
{
    static char out[256];
    size_t n = strlen(text), o = 0, start;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) n--;
    start = n;
    while (start > 0 && text[start - 1] != '\n') start--;
    for (; start < n && o + 6 < sizeof out; start++) {
        unsigned char c = (unsigned char)text[start];
        if (c >= 0x20 && c < 0x7f) out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02X", c);
    }
    out[o] = 0;
    return out;
}
/* Which field of two records differs (NULL if none). */
static const char *record_diff(const pt_record *a, const pt_record *b)
{
    int i;
    if (!str_eq(a->text, b->text)) return "text";
    if (!str_eq(a->prompt, b->prompt)) return "prompt";
    if (!str_eq(a->completion, b->completion)) return "completion";
    if (!str_eq(a->chosen, b->chosen)) return "chosen";
    if (!str_eq(a->rejected, b->rejected)) return "rejected";
    if (!str_eq(a->answer, b->answer)) return "answer";
    if (a->has_strength != b->has_strength) return "has_strength";
    if (a->has_strength && a->strength != b->strength) return "strength";
    if (a->n_messages != b->n_messages) return "n_messages";
    if ((a->messages == NULL) != (b->messages == NULL)) return "messages";
    for (i = 0; i < a->n_messages; i++) {
        if (!str_eq(a->messages[i].role, b->messages[i].role)) return "messages[].role";
        if (!str_eq(a->messages[i].content, b->messages[i].content)) return "messages[].content";
    }
    return NULL;
}
/* Number of records that differ between two datasets; the first is described in `first`. */
static int dataset_diff(const pt_dataset *a, const pt_dataset *b, char *first, size_t cap)
{
    int i, bad = 0;
    first[0] = 0;
    if (a->n != b->n || a->kind != b->kind) { snprintf(first, cap, "n %d vs %d, kind %d vs %d", a->n, b->n, a->kind, b->kind); return 1; }
    for (i = 0; i < a->n; i++) {
        const char *d = record_diff(&a->records[i], &b->records[i]);
        if (d) { if (!bad) snprintf(first, cap, "record %d: field %s", i, d); bad++; }
    }
    return bad;
}
/* ids of a plain ASCII string under the byte tokenizer */
static int push_str(int *ids, unsigned char *tr, int n, const char *s, int train)
{
    for (; *s; s++) { ids[n] = (unsigned char)*s; tr[n] = (unsigned char)train; n++; }
    return n;
}
static int push_id(int *ids, unsigned char *tr, int n, int id, int train) { ids[n] = id; tr[n] = (unsigned char)train; return n + 1; }

/* ---------------------------------------------------------------------------------------------
   1. Every schema parses
   --------------------------------------------------------------------------------------------- */
static void test_schemas(void)
{
    pt_dataset ds;
    int st;
    memset(&ds, 0, sizeof ds);

    /* text */
    st = parse("{\"text\": \"hello\"}\n{\"text\": \"world\", \"id\": 7}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_TEXT && ds.n == 2, "text: status %d kind %d n %d (%s)", st, ds.kind, ds.n, pt_last_error());
    if (st == PT_OK && ds.n == 2) {
        CHECK(strcmp(ds.records[0].text, "hello") == 0 && strcmp(ds.records[1].text, "world") == 0, "text values");
        CHECK(ds.records[0].line == 1 && ds.records[1].line == 2, "text lines %d %d", ds.records[0].line, ds.records[1].line);
        CHECK(!ds.records[0].prompt && !ds.records[0].completion && !ds.records[0].chosen && !ds.records[0].rejected &&
              !ds.records[0].answer && !ds.records[0].messages && ds.records[0].n_messages == 0 && !ds.records[0].has_strength,
              "text: other fields absent");
    }
    pt_dataset_free(&ds);

    /* prompt + completion */
    st = parse("{\"prompt\": \"Q: 1+2=?\\nA: \", \"completion\": \"3\"}\n{\"completion\": \"c2\", \"prompt\": \"p2\"}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_COMPLETION && ds.n == 2, "completion: status %d kind %d n %d (%s)", st, ds.kind, ds.n, pt_last_error());
    if (st == PT_OK && ds.n == 2) {
        CHECK(strcmp(ds.records[0].prompt, "Q: 1+2=?\nA: ") == 0 && strcmp(ds.records[0].completion, "3") == 0, "completion values 0");
        CHECK(strcmp(ds.records[1].prompt, "p2") == 0 && strcmp(ds.records[1].completion, "c2") == 0, "completion values 1 (fields in any order)");
        CHECK(!ds.records[0].text && !ds.records[0].answer, "completion: no text/answer");
    }
    pt_dataset_free(&ds);

    /* messages: system/user/assistant, multi-turn; content before role; extra keys in a message */
    st = parse("{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U1\"}, "
               "{\"role\": \"assistant\", \"content\": \"A1\"}, {\"role\": \"user\", \"content\": \"U2\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}\n"
               "{\"id\": \"x\", \"messages\": [ {\"content\": \"hi\", \"name\": \"bob\", \"role\": \"user\"} , {\"role\":\"assistant\",\"content\":\"\"} ] }\n",
               PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_MESSAGES && ds.n == 2, "messages: status %d kind %d n %d (%s)", st, ds.kind, ds.n, pt_last_error());
    if (st == PT_OK && ds.n == 2) {
        const pt_record *r = &ds.records[0];
        static const char *roles[5] = {"system", "user", "assistant", "user", "assistant"}, *contents[5] = {"S", "U1", "A1", "U2", "A2"};
        int i, bad = 0;
        CHECK(r->n_messages == 5 && r->messages, "messages: n %d", r->n_messages);
        for (i = 0; i < 5 && i < r->n_messages; i++) bad += strcmp(r->messages[i].role, roles[i]) != 0 || strcmp(r->messages[i].content, contents[i]) != 0;
        CHECK(bad == 0, "messages: %d turns differ", bad);
        r = &ds.records[1];
        CHECK(r->n_messages == 2 && strcmp(r->messages[0].role, "user") == 0 && strcmp(r->messages[0].content, "hi") == 0 &&
              strcmp(r->messages[1].role, "assistant") == 0 && strcmp(r->messages[1].content, "") == 0, "messages line 2");
        CHECK(!r->text && !r->prompt, "messages: no text/prompt");
    }
    pt_dataset_free(&ds);

    /* preference: with strength, with margin, without */
    st = parse("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"strength\": 0.75}\n"
               "{\"margin\": -2.5e0, \"rejected\": \"r2\", \"chosen\": \"c2\", \"prompt\": \"p2\"}\n"
               "{\"prompt\": \"p3\", \"chosen\": \"c3\", \"rejected\": \"r3\"}\n"
               "{\"prompt\": \"p4\", \"chosen\": \"c4\", \"rejected\": \"r4\", \"strength\": 0}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_PREFERENCE && ds.n == 4, "preference: status %d kind %d n %d (%s)", st, ds.kind, ds.n, pt_last_error());
    if (st == PT_OK && ds.n == 4) {
        const pt_record *r = ds.records;
        CHECK(strcmp(r[0].prompt, "p") == 0 && strcmp(r[0].chosen, "c") == 0 && strcmp(r[0].rejected, "r") == 0, "preference values");
        CHECK(r[0].has_strength == 1 && r[0].strength == 0.75f, "strength: has %d value %g", r[0].has_strength, (double)r[0].strength);
        CHECK(r[1].has_strength == 1 && r[1].strength == -2.5f, "margin: has %d value %g", r[1].has_strength, (double)r[1].strength);
        CHECK(strcmp(r[1].prompt, "p2") == 0 && strcmp(r[1].chosen, "c2") == 0 && strcmp(r[1].rejected, "r2") == 0, "preference values 2");
        CHECK(r[2].has_strength == 0 && r[2].strength == 0.0f, "no strength: has %d value %g", r[2].has_strength, (double)r[2].strength);
        CHECK(r[3].has_strength == 1 && r[3].strength == 0.0f, "strength 0 is given: has %d", r[3].has_strength);
    }
    pt_dataset_free(&ds);

    /* prompt, with and without answer */
    st = parse("{\"prompt\": \"Q: 1+2=?\", \"answer\": \"3\"}\n{\"prompt\": \"Q: 2+2=?\"}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_PROMPT && ds.n == 2, "prompt: status %d kind %d n %d (%s)", st, ds.kind, ds.n, pt_last_error());
    if (st == PT_OK && ds.n == 2) {
        CHECK(strcmp(ds.records[0].prompt, "Q: 1+2=?") == 0 && ds.records[0].answer && strcmp(ds.records[0].answer, "3") == 0, "prompt with answer");
        CHECK(strcmp(ds.records[1].prompt, "Q: 2+2=?") == 0 && ds.records[1].answer == NULL, "prompt without answer");
    }
    pt_dataset_free(&ds);

    /* auto-detection order: messages, else chosen+rejected, else completion, else text, else prompt */
    {
        static const struct { const char *line; int kind; } det[] = {
            { "{\"text\": \"t\", \"prompt\": \"p\"}\n", PT_DATA_TEXT },
            { "{\"prompt\": \"p\", \"text\": \"t\", \"completion\": \"c\"}\n", PT_DATA_COMPLETION },
            { "{\"prompt\": \"p\", \"completion\": \"c\", \"chosen\": \"a\", \"rejected\": \"b\"}\n", PT_DATA_PREFERENCE },
            { "{\"text\": \"t\", \"messages\": [{\"role\": \"user\", \"content\": \"u\"}], \"prompt\": \"p\"}\n", PT_DATA_MESSAGES },
            { "{\"prompt\": \"p\", \"answer\": \"a\", \"id\": 3}\n", PT_DATA_PROMPT },
        };
        int i;
        for (i = 0; i < (int)(sizeof det / sizeof det[0]); i++) {
            st = parse(det[i].line, PT_DATA_AUTO, &ds);
            CHECK(st == PT_OK && ds.kind == det[i].kind, "auto-detect case %d: status %d kind %s, want %s (%s)", i, st,
                  pt_data_kind_name(ds.kind), pt_data_kind_name(det[i].kind), pt_last_error());
            pt_dataset_free(&ds);
        }
    }

    /* a forced kind is honoured */
    st = parse("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \"p2\", \"chosen\": \"c2\", \"rejected\": \"r2\"}\n", PT_DATA_PROMPT, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_PROMPT && ds.n == 2 && strcmp(ds.records[1].prompt, "p2") == 0,
          "preference file as prompt: status %d kind %d (%s)", st, ds.kind, pt_last_error());
    pt_dataset_free(&ds);
    st = parse("{\"text\": \"t\", \"prompt\": \"p\"}\n", PT_DATA_PROMPT, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_PROMPT, "text+prompt forced to prompt: status %d kind %d", st, ds.kind);
    pt_dataset_free(&ds);
    {
        static const struct { const char *text; int kind; const char *missing; } forced[] = {
            { "{\"text\": \"t\"}\n", PT_DATA_COMPLETION, "missing field \"prompt\"" },
            { "{\"prompt\": \"p\"}\n", PT_DATA_COMPLETION, "missing field \"completion\"" },
            { "{\"prompt\": \"p\", \"completion\": \"c\"}\n", PT_DATA_TEXT, "missing field \"text\"" },
            { "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n", PT_DATA_COMPLETION, "missing field \"completion\"" },
            { "{\"prompt\": \"p\", \"completion\": \"c\"}\n", PT_DATA_PREFERENCE, "missing field \"chosen\"" },
            { "{\"prompt\": \"p\", \"chosen\": \"c\"}\n", PT_DATA_PREFERENCE, "missing field \"rejected\"" },
            { "{\"text\": \"t\"}\n", PT_DATA_MESSAGES, "missing field \"messages\"" },
            { "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}]}\n", PT_DATA_TEXT, "missing field \"text\"" },
            { "{\"text\": \"t\"}\n", PT_DATA_PROMPT, "missing field \"prompt\"" },
        };
        int i;
        for (i = 0; i < (int)(sizeof forced / sizeof forced[0]); i++) {
            memset(&ds, 0, sizeof ds);
            st = parse(forced[i].text, forced[i].kind, &ds);
            CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), NAME ":1:") && strstr(pt_last_error(), forced[i].missing) &&
                  strstr(pt_last_error(), pt_data_kind_name(forced[i].kind)),
                  "forced %s case %d: status %d, '%s'", pt_data_kind_name(forced[i].kind), i, st, pt_last_error());
            CHECK(ds.n == 0 && ds.records == NULL, "forced case %d: dataset written on failure", i);
        }
    }
    /* bad arguments */
    CHECK(parse("{\"text\": \"t\"}\n", 6, &ds) == PT_ERR_ARG, "kind 6 is an argument error");
    CHECK(parse("{\"text\": \"t\"}\n", -1, &ds) == PT_ERR_ARG, "kind -1 is an argument error");
    CHECK(pt_jsonl_parse(NAME, "{\"text\": \"t\"}\n", 14, PT_DATA_AUTO, 0, NULL) == PT_ERR_ARG, "NULL dataset is an argument error");
    CHECK(pt_jsonl_parse(NAME, NULL, 5, PT_DATA_AUTO, 0, &ds) == PT_ERR_ARG, "NULL text is an argument error");
    /* the length is honoured: text past len is not read */
    st = pt_jsonl_parse(NAME, "{\"text\": \"a\"}\n{\"text\": ", 14, PT_DATA_AUTO, 0, &ds);
    CHECK(st == PT_OK && ds.n == 1, "len stops the parse: status %d n %d (%s)", st, ds.n, pt_last_error());
    pt_dataset_free(&ds);

    /* unknown fields of every JSON type are validated and skipped */
    st = parse("{\"id\": 12, \"meta\": {\"a\": [1, 2.5e-3, -0, 0.0, 1E+2, -12.25, true, false, null, {\"b\": \"c\\u00e9\"}, [[], {}]], \"e\": {}}, "
               "\"tags\": [], \"text\": \"x\", \"score\": -1.25E+2, \"ok\": true, \"no\": false, \"none\": null, \"s\": \"str\\n\", "
               "\"big\": 123456789012345678901234567890, \"tiny\": 1e-300, \"under\": 1e-400, \"z\": [0e5, -0.0e-0, 0E+0, 9.999e+2, -1]}\n"
               "{\"text\": \"y\", \"obj\": {\"k\": {\"k\": {\"k\": [true, [false, [null]]]}}}}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_TEXT && ds.n == 2 && strcmp(ds.records[0].text, "x") == 0 && strcmp(ds.records[1].text, "y") == 0,
          "unknown fields: status %d (%s)", st, pt_last_error());
    pt_dataset_free(&ds);
    /* nesting: the record object is level 1, so 63 nested arrays inside it (64 levels) are fine */
    {
        char line[512];
        int i, at = 0;
        at += sprintf(line + at, "{\"text\": \"a\", \"x\": ");
        for (i = 0; i < 63; i++) line[at++] = '[';
        for (i = 0; i < 63; i++) line[at++] = ']';
        at += sprintf(line + at, "}\n");
        st = parse(line, PT_DATA_AUTO, &ds);
        CHECK(st == PT_OK && ds.n == 1, "64 levels of nesting: status %d (%s)", st, pt_last_error());
        pt_dataset_free(&ds);
    }

    /* blank lines are skipped but counted */
    st = parse("\n   \n{\"text\": \"a\"}\n\t\n\r\n \t \r\n{\"text\": \"b\"}\n\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.n == 2, "blank lines: status %d n %d (%s)", st, ds.n, pt_last_error());
    if (st == PT_OK && ds.n == 2) CHECK(ds.records[0].line == 3 && ds.records[1].line == 7, "blank lines: record lines %d %d (want 3 7)", ds.records[0].line, ds.records[1].line);
    pt_dataset_free(&ds);
    /* CRLF line ends; whitespace around tokens */
    st = parse("{\"text\": \"a\"}\r\n  {\t\"text\" :  \"b\\r\"  ,\"id\" : [ 1 , 2 ] }  \r\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.n == 2 && strcmp(ds.records[0].text, "a") == 0 && strcmp(ds.records[1].text, "b\r") == 0 && ds.records[1].line == 2,
          "CRLF: status %d (%s)", st, pt_last_error());
    pt_dataset_free(&ds);
    /* a leading UTF-8 byte-order mark */
    st = parse("\xEF\xBB\xBF{\"text\": \"a\"}\n{\"text\": \"b\"}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.n == 2 && strcmp(ds.records[0].text, "a") == 0 && ds.records[0].line == 1, "BOM: status %d (%s)", st, pt_last_error());
    pt_dataset_free(&ds);
    /* the last line without a newline */
    st = parse("{\"text\": \"a\"}\n{\"text\": \"b\"}", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.n == 2 && strcmp(ds.records[1].text, "b") == 0, "no final newline: status %d n %d (%s)", st, ds.n, pt_last_error());
    pt_dataset_free(&ds);
    st = parse("{\"text\": \"a\"}\r", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.n == 1 && strcmp(ds.records[0].text, "a") == 0, "final CR without LF: status %d (%s)", st, pt_last_error());
    pt_dataset_free(&ds);

    /* escapes decode exactly; raw UTF-8 passes through */
    st = parse("{\"text\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t e\\u00e9 E\\u00E9 eur\\u20ac smile\\ud83d\\ude00 A\\u0041 del\\u007f ctl\\u0001 "
               "raw \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\"}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.n == 1, "escapes: status %d (%s)", st, pt_last_error());
    if (st == PT_OK && ds.n == 1) {
        const char *want = "q\" b\\ s/ \b\f\n\r\t e\xC3\xA9 E\xC3\xA9 eur\xE2\x82\xAC smile\xF0\x9F\x98\x80 AA del\x7f ctl\x01 "
                           "raw \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
        CHECK(strcmp(ds.records[0].text, want) == 0, "escapes decoded to '%s'", ds.records[0].text);
        CHECK(strlen(ds.records[0].text) == strlen(want), "escapes: length %d want %d", (int)strlen(ds.records[0].text), (int)strlen(want));
    }
    pt_dataset_free(&ds);
    /* escapes in keys: "\u0074ext" is the key "text" */
    st = parse("{\"\\u0074ext\": \"a\"}\n", PT_DATA_AUTO, &ds);
    CHECK(st == PT_OK && ds.kind == PT_DATA_TEXT && strcmp(ds.records[0].text, "a") == 0, "escaped key: status %d (%s)", st, pt_last_error());
    pt_dataset_free(&ds);
    /* many records (growth of the record array) */
    {
        char *big = (char *)malloc(1000 * 40);
        int i, at = 0, bad = 0;
        for (i = 0; i < 1000; i++) at += sprintf(big + at, "{\"text\": \"record %d\"}\n", i);
        st = parse(big, PT_DATA_AUTO, &ds);
        CHECK(st == PT_OK && ds.n == 1000, "1000 records: status %d n %d", st, ds.n);
        for (i = 0; st == PT_OK && i < ds.n; i++) {
            char want[32];
            sprintf(want, "record %d", i);
            bad += strcmp(ds.records[i].text, want) != 0 || ds.records[i].line != i + 1;
        }
        CHECK(bad == 0, "1000 records: %d wrong", bad);
        pt_dataset_free(&ds);
        free(big);
    }
}

/* ---------------------------------------------------------------------------------------------
   2. Bad JSONL: FILE:LINE:COL: message, PT_ERR_FORMAT, the dataset untouched
   --------------------------------------------------------------------------------------------- */
#define G "{\"text\": \"ok\"}\n"
#define G2 G G                       /* the bad line is line 3 */
#define G6 G "\n" G G G G            /* the bad line is line 7 (one blank line among them) */
#define GC "{\"prompt\": \"p\", \"completion\": \"c\"}\n"
#define GP "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"
#define R8 "[[[[[[[["
#define C8 "]]]]]]]]"
#define R64 R8 R8 R8 R8 R8 R8 R8 R8
#define C64 C8 C8 C8 C8 C8 C8 C8 C8
#define R63 R8 R8 R8 R8 R8 R8 R8 "[[[[[[["
#define C63 C8 C8 C8 C8 C8 C8 C8 "]]]]]]]"
#define GM "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n"
typedef struct bad_case { const char *text; int line, col; const char *sub; size_t max_line; } bad_case;
static const bad_case bad_cases[] = {
    /* syntax */
    { "{\"text\": \"a\",}\n", 1, 14, "found '}'", 0 },                                    /* trailing comma, object */
    { G2 "{\"text\": \"a\", \"x\": [1, 2,]}\n", 3, 26, "found ']'", 0 },                  /* trailing comma, array */
    { "{\"text\" \"a\"}\n", 1, 9, "expected ':'", 0 },                                     /* missing colon */
    { G6 "{\"text\": \"a\" \"id\": 1}\n", 7, 14, "expected ','", 0 },                      /* missing comma */
    { G2 "{\"text\": \"a\", \"x\": [1 2]}\n", 3, 23, "expected ','", 0 },                  /* missing comma, array */
    { "{'text': 'a'}\n", 1, 2, "found '''", 0 },                                          /* single quotes */
    { G2 "{text: \"a\"}\n", 3, 2, "found 't'", 0 },                                        /* unquoted key */
    { G2 "// a comment\n", 3, 1, "found '/'", 0 },                                        /* comment line */
    { "{\"text\": \"a\" /* c */}\n", 1, 14, "found '/'", 0 },                              /* comment inside */
    { G6 "{\"text\": \"a\"} # c\n", 7, 15, "found '#'", 0 },                               /* comment after */
    { "{\"text\": \"a\", \"x\": NaN}\n", 1, 20, "found 'N'", 0 },                          /* NaN */
    { G2 "{\"x\": Infinity, \"text\": \"a\"}\n", 3, 7, "found 'I'", 0 },                   /* Infinity */
    { "{\"x\": -Infinity, \"text\": \"a\"}\n", 1, 8, "found 'I'", 0 },                     /* -Infinity */
    { "{\"x\": 01, \"text\": \"a\"}\n", 1, 7, "leading zero", 0 },                         /* 01 */
    { G2 "{\"x\": -012, \"text\": \"a\"}\n", 3, 7, "leading zero", 0 },                    /* -012 */
    { "{\"x\": 1., \"text\": \"a\"}\n", 1, 9, "digit", 0 },                                /* 1. */
    { "{\"x\": .5, \"text\": \"a\"}\n", 1, 7, "found '.'", 0 },                            /* .5 */
    { G6 "{\"x\": 1e, \"text\": \"a\"}\n", 7, 9, "exponent", 0 },                          /* 1e */
    { "{\"x\": 1e+, \"text\": \"a\"}\n", 1, 10, "exponent", 0 },                           /* 1e+ */
    { "{\"x\": -, \"text\": \"a\"}\n", 1, 8, "expected a number", 0 },                     /* - */
    { "{\"x\": +1, \"text\": \"a\"}\n", 1, 7, "found '+'", 0 },                            /* +1 */
    { G2 "{\"x\": 1e999, \"text\": \"a\"}\n", 3, 7, "out of range", 0 },                   /* huge number */
    { "{\"x\": -1e999, \"text\": \"a\"}\n", 1, 7, "out of range", 0 },                     /* huge negative */
    { "{\"x\": tru, \"text\": \"a\"}\n", 1, 7, "found 't'", 0 },                           /* bad literal */
    { "{\"x\": nul}\n", 1, 7, "found 'n'", 0 },
    { "{\"x\": True, \"text\": \"a\"}\n", 1, 7, "found 'T'", 0 },
    { "{\"text\": \"a\"\n", 1, 13, "end of line", 0 },                                     /* truncated object */
    { G2 "{\"text\": \"a\", \"x\": {\"k\": [1, {\"j\": 2}\n", 3, 38, "end of line", 0 },  /* truncated nested */
    { "{\n", 1, 2, "end of line", 0 },
    { "{\"text\": \"abc\n", 1, 10, "unterminated", 0 },                                   /* unterminated string */
    { G2 "{\"text\": \"abc\\\"}\n", 3, 10, "unterminated", 0 },                           /* escaped closing quote */
    { "{\"text\": \"a\\xb\"}\n", 1, 12, "invalid escape", 0 },                            /* \x */
    { "{\"text\": \"a\\'\"}\n", 1, 12, "invalid escape", 0 },                             /* \' */
    { G6 "{\"text\": \"\\u12G4\"}\n", 7, 11, "hex", 0 },                                   /* \u non-hex */
    { "{\"text\": \"\\u12\"}\n", 1, 11, "hex", 0 },                                        /* \u too short */
    { "{\"text\": \"\\udc00\"}\n", 1, 11, "low surrogate", 0 },                           /* lone low surrogate */
    { G2 "{\"text\": \"\\ud83d x\"}\n", 3, 11, "surrogate", 0 },                           /* high without low */
    { "{\"text\": \"\\ud83d\"}\n", 1, 11, "surrogate", 0 },                                /* high at the end */
    { "{\"text\": \"\\ud83d\\u0041\"}\n", 1, 11, "surrogate", 0 },                         /* high + non-surrogate */
    { "{\"text\": \"\\ud83d\\ud83d\"}\n", 1, 11, "surrogate", 0 },                         /* high + high */
    { G2 "{\"text\": \"a\\u0000\"}\n", 3, 12, "NUL", 0 },                                  /* \u0000 */
    { "{\"text\": \"a\tb\"}\n", 1, 12, "control character", 0 },                          /* raw tab */
    { G2 "{\"text\": \"a\x01" "b\"}\n", 3, 12, "control character", 0 },                  /* raw 0x01 */
    { "{\"text\": \"a\x1f\"}\n", 1, 12, "control character", 0 },                         /* raw 0x1f */
    { "{\"text\": \"a\r\"}\n", 1, 12, "control character", 0 },                           /* raw CR in a string */
    /* UTF-8 */
    { "{\"text\": \"a\xFF\"}\n", 1, 12, "UTF-8", 0 },                                      /* 0xFF */
    { G2 "{\"text\": \"a\xC0\xAF\"}\n", 3, 12, "UTF-8", 0 },                               /* overlong C0 AF */
    { "{\"text\": \"a\xE0\x80\xAF\"}\n", 1, 12, "UTF-8", 0 },                              /* overlong E0 80 AF */
    { "{\"text\": \"a\xED\xA0\x80\"}\n", 1, 12, "UTF-8", 0 },                              /* surrogate ED A0 80 */
    { G6 "{\"text\": \"a\xF5\x80\x80\x80\"}\n", 7, 12, "UTF-8", 0 },                       /* F5 .. */
    { "{\"text\": \"a\xF4\x90\x80\x80\"}\n", 1, 12, "UTF-8", 0 },                          /* past U+10FFFF */
    { "{\"text\": \"a\x80\"}\n", 1, 12, "UTF-8", 0 },                                      /* lone continuation */
    { "{\"text\": \"a\xC3" "b\"}\n", 1, 12, "UTF-8", 0 },                                  /* truncated mid-string */
    { G2 "{\"text\": \"a\"}\xE2\x82\n", 3, 14, "UTF-8", 0 },                               /* truncated at end of line */
    { "{\"text\": \"a\"}\xC3\r\n", 1, 14, "UTF-8", 0 },                                    /* truncated before CRLF */
    /* only space, tab, CR and LF are JSON whitespace */
    { "{\"text\":\f\"a\"}\n", 1, 9, "byte 0x0c", 0 },                                       /* form feed */
    { G2 "{\"text\": \"a\",\v\"x\": 1}\n", 3, 14, "byte 0x0b", 0 },                          /* vertical tab */
    { "{\"text\":\xC2\xA0\"a\"}\n", 1, 9, "byte 0xc2", 0 },                                 /* no-break space */
    /* not one object per line */
    { "[{\"text\": \"a\"}]\n", 1, 1, "expected '{'", 0 },                                  /* top-level array */
    { G2 "\"text\"\n", 3, 1, "expected '{'", 0 },                                           /* top-level string */
    { "42\n", 1, 1, "expected '{'", 0 },                                                    /* top-level number */
    { "null\n", 1, 1, "expected '{'", 0 },
    { "{\"text\": \"a\"}{\"text\": \"b\"}\n", 1, 14, "end of the line", 0 },                /* two objects */
    { G6 "{\"text\": \"a\"} x\n", 7, 15, "end of the line", 0 },                           /* garbage after */
    { "{\"text\": \"a\"},\n", 1, 14, "end of the line", 0 },
    /* wrong types */
    { "{\"text\": 3}\n", 1, 10, "must be a string", 0 },
    { G2 "{\"text\": [\"a\"]}\n", 3, 10, "must be a string", 0 },
    { GC GC "{\"prompt\": null, \"completion\": \"c\"}\n", 3, 12, "must be a string", 0 },
    { "{\"prompt\": \"p\", \"completion\": {}}\n", 1, 31, "must be a string", 0 },
    { "{\"messages\": \"x\"}\n", 1, 14, "must be an array", 0 },
    { GM "{\"messages\": {\"role\": \"user\"}}\n", 2, 14, "must be an array", 0 },
    { "{\"messages\": []}\n", 1, 14, "empty", 0 },
    { G2 "{\"messages\": [ ]}\n", 3, 14, "empty", 0 },
    { "{\"messages\": [\"hi\"]}\n", 1, 15, "message object", 0 },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}, 3]}\n", 1, 49, "message object", 0 },
    { "{\"messages\": [{\"role\": 1, \"content\": \"c\"}]}\n", 1, 24, "must be a string", 0 },
    { GM GM "{\"messages\": [{\"role\": \"bot\", \"content\": \"c\"}]}\n", 3, 24, "\"bot\"", 0 },
    { "{\"messages\": [{\"role\": \"User\", \"content\": \"c\"}]}\n", 1, 24, "\"User\"", 0 },
    { "{\"messages\": [{\"role\": \"user\", \"content\": null}]}\n", 1, 43, "must be a string", 0 },
    { "{\"messages\": [{\"role\": \"user\"}]}\n", 1, 15, "\"content\"", 0 },
    { GM "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}, {\"content\": \"c\"}]}\n", 2, 49, "\"role\"", 0 },
    { "{\"messages\": [{}]}\n", 1, 15, "\"role\"", 0 },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"},]}\n", 1, 48, "found ']'", 0 },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}\n", 1, 47, "end of line", 0 },
    { GP "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"strength\": \"high\"}\n", 2, 61, "must be a number", 0 },
    { "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"margin\": true}\n", 1, 59, "must be a number", 0 },
    { "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"strength\": 1e35}\n", 1, 61, "out of range", 0 },
    /* a schema field twice */
    { GC "{\"prompt\": \"a\", \"prompt\": \"b\", \"completion\": \"c\"}\n", 2, 17, "twice", 0 },
    { G2 "{\"text\": \"a\", \"text\": \"a\"}\n", 3, 15, "twice", 0 },
    { "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"strength\": 1, \"margin\": 2}\n", 1, 64, "\"margin\"", 0 },
    { "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"strength\": 1, \"strength\": 1}\n", 1, 64, "\"strength\"", 0 },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"}], \"messages\": [{\"role\": \"user\", \"content\": \"u\"}]}\n", 1, 50, "twice", 0 },
    { GM "{\"messages\": [{\"role\": \"user\", \"role\": \"assistant\", \"content\": \"c\"}]}\n", 2, 32, "twice", 0 },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"a\", \"content\": \"b\"}]}\n", 1, 48, "twice", 0 },
    /* schema */
    { GC GC "{\"prompt\": \"p\"}\n", 3, 1, "missing field \"completion\"", 0 },        /* missing field later */
    { GM "{\"text\": \"t\"}\n", 2, 1, "missing field \"messages\"", 0 },
    { GP "\n" GP GP GP GP "{\"prompt\": \"p\", \"chosen\": \"c\"}\n", 7, 1, "missing field \"rejected\"", 0 },
    { "{\"id\": 1, \"meta\": {}}\n", 1, 1, "no dataset fields", 0 },                   /* no known field */
    { "{}\n", 1, 1, "no dataset fields", 0 },
    /* limits */
    { "{\"text\": \"a\", \"x\": " R64 R64 C64 C64 "}\n", 1, 83, "64 levels", 0 },               /* 129 levels */
    { G2 "{\"text\": \"a\", \"x\": " R63 "{\"k\": 1}" C63 "}\n", 3, 83, "64 levels", 0 },     /* 65 levels */
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"u\", \"x\": " R63 C63 "}]}\n", 1, 0, "64 levels", 0 },   /* in a message (column: see the report) */
    { G2 "{\"text\": \"01234567890123456789012345678901234567890123456789012\"}\n", 3, 1, "longer than", 64 },   /* 65 bytes */
    { "{\"text\": \"" "0123456789012345678901234567890123456789012345678901234567890123456789" "\"}\n", 1, 1, "longer than", 64 },
    { "", 0, 0, "no records", 0 },                                                     /* empty file */
    { "\n  \n\r\n\t\n", 0, 0, "no records", 0 },                                       /* only blank lines */
    { "\xEF\xBB\xBF", 0, 0, "no records", 0 },                                          /* only a BOM */
};

static void test_bad_jsonl(void)
{
    int i, n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    unsigned char want[sizeof(pt_dataset)];
    memset(want, 0xA5, sizeof want);
    printf("  %d malformed inputs\n", n);
    for (i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        pt_dataset ds;
        char prefix[64];
        const char *e;
        int st;
        memset(&ds, 0xA5, sizeof ds);
        pt_clear_error();
        st = pt_jsonl_parse(NAME, c->text, strlen(c->text), PT_DATA_AUTO, c->max_line, &ds);
        e = pt_last_error();
        if (c->line > 0 && c->col > 0) snprintf(prefix, sizeof prefix, NAME ":%d:%d: ", c->line, c->col);
        else if (c->line > 0) snprintf(prefix, sizeof prefix, NAME ":%d:", c->line);
        else snprintf(prefix, sizeof prefix, NAME ":");
        CHECK(st == PT_ERR_FORMAT, "bad case %d [%s]: status %s, want PT_ERR_FORMAT ('%s')", i, show(c->text), pt_status_name(st), e);
        CHECK(starts_with(e, prefix), "bad case %d [%s]: message '%s' does not start with '%s'", i, show(c->text), e, prefix);
        CHECK(strstr(e, c->sub) != NULL, "bad case %d [%s]: message '%s' does not contain '%s'", i, show(c->text), e, c->sub);
        CHECK(memcmp(&ds, want, sizeof ds) == 0, "bad case %d [%s]: the dataset was written on failure", i, show(c->text));
        if (st == PT_OK) pt_dataset_free(&ds);
    }
    /* the boundary of max_line: 64 bytes pass (the CR of a CRLF is not counted), 65 fail */
    {
        const char *line64 = "{\"text\": \"0123456789012345678901234567890123456789012345678901\"}\n";   /* 64 + LF */
        const char *line64crlf = "{\"text\": \"0123456789012345678901234567890123456789012345678901\"}\r\n";
        pt_dataset ds;
        int st;
        CHECK(strlen(line64) == 65, "test setup: line of %d bytes", (int)strlen(line64));
        st = pt_jsonl_parse(NAME, line64, strlen(line64), PT_DATA_AUTO, 64, &ds);
        CHECK(st == PT_OK && ds.n == 1, "a line of exactly max_line bytes: status %d (%s)", st, pt_last_error());
        if (st == PT_OK) pt_dataset_free(&ds);
        st = pt_jsonl_parse(NAME, line64crlf, strlen(line64crlf), PT_DATA_AUTO, 64, &ds);
        CHECK(st == PT_OK && ds.n == 1, "a CRLF line of max_line bytes: status %d (%s)", st, pt_last_error());
        if (st == PT_OK) pt_dataset_free(&ds);
        st = pt_jsonl_parse(NAME, line64, strlen(line64), PT_DATA_AUTO, 63, &ds);
        CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), NAME ":1:1:") && (strstr(pt_last_error(), "64") != NULL),
              "max_line 63 on a 64-byte line: status %d '%s'", st, pt_last_error());
    }
    /* NUL bytes are never valid (the length, not a terminator, ends the text) */
    {
        static const char in_string[] = "{\"text\": \"a\0b\"}\n", after[] = "{\"text\": \"a\"}\0\n";
        pt_dataset ds;
        int st = pt_jsonl_parse(NAME, in_string, sizeof in_string - 1, PT_DATA_AUTO, 0, &ds);
        CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), NAME ":1:12: ") && (strstr(pt_last_error(), "control") != NULL), "NUL in a string: %d '%s'", st, pt_last_error());
        st = pt_jsonl_parse(NAME, after, sizeof after - 1, PT_DATA_AUTO, 0, &ds);
        CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), NAME ":1:14: ") && (strstr(pt_last_error(), "0x00") != NULL), "NUL after the object: %d '%s'", st, pt_last_error());
    }
    /* the missing-field message names the schema and the line it came from */
    {
        pt_dataset ds;
        int st = parse(GP GP "\n" "{\"prompt\": \"p\", \"chosen\": \"c\"}\n", PT_DATA_AUTO, &ds);
        CHECK(st == PT_ERR_FORMAT && (strstr(pt_last_error(), "preference") != NULL) && (strstr(pt_last_error(), "line 1") != NULL),
              "missing field message: '%s'", pt_last_error());
    }
    /* a failure deep in a file frees what was read (ASan checks the leak) and keeps the old dataset */
    {
        pt_dataset ds, keep;
        char *big = (char *)malloc(300 * 64);
        int i2, at = 0, st;
        st = parse("{\"text\": \"old\"}\n", PT_DATA_AUTO, &ds);
        keep = ds;
        for (i2 = 0; i2 < 300; i2++) at += sprintf(big + at, "{\"text\": \"record %d\", \"id\": [%d]}\n", i2, i2);
        sprintf(big + at, "{\"text\": \"x\", \"text\": \"y\"}\n");
        st = parse(big, PT_DATA_AUTO, &ds);
        CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), NAME ":301:15: "), "bad line 301: %d '%s'", st, pt_last_error());
        CHECK(memcmp(&ds, &keep, sizeof ds) == 0 && ds.n == 1 && strcmp(ds.records[0].text, "old") == 0, "the previous dataset is kept");
        pt_dataset_free(&ds);
        free(big);
    }
}

/* ---------------------------------------------------------------------------------------------
   3. pt_jsonl_load
   --------------------------------------------------------------------------------------------- */
static void test_load(void)
{
    const char *text = "\xEF\xBB\xBF{\"prompt\": \"p\", \"chosen\": \"c\\u20ac\", \"rejected\": \"r\", \"margin\": 1.5}\r\n\r\n"
                       "{\"prompt\": \"p2\", \"chosen\": \"c2\", \"rejected\": \"r2\", \"meta\": {\"x\": [null]}}";
    const char *path = tmp_path("good.jsonl"), *missing = tmp_path("missing.jsonl"), *badp = tmp_path("bad.jsonl"), *empty = tmp_path("empty.jsonl");
    pt_dataset a, b;
    char diff[128], prefix[200];
    int st;
    memset(&a, 0xA5, sizeof a);
    st = pt_jsonl_load(missing, PT_DATA_AUTO, 0, &a);
    CHECK(st == PT_ERR_IO && strstr(pt_last_error(), missing), "missing file: %s '%s'", pt_status_name(st), pt_last_error());
    {
        unsigned char want[sizeof a];
        memset(want, 0xA5, sizeof want);
        CHECK(memcmp(&a, want, sizeof a) == 0, "missing file: dataset written");
    }
    st = pt_jsonl_load(g_dir, PT_DATA_AUTO, 0, &a);
    CHECK(st == PT_ERR_IO, "a directory: %s '%s'", pt_status_name(st), pt_last_error());

    CHECK(write_bytes(path, text, strlen(text)) == 0, "write %s", path);
    st = pt_jsonl_load(path, PT_DATA_AUTO, 0, &a);
    CHECK(st == PT_OK && a.n == 2 && a.kind == PT_DATA_PREFERENCE, "load: %d (%s)", st, pt_last_error());
    if (st == PT_OK) {
        CHECK(parse(text, PT_DATA_AUTO, &b) == PT_OK, "parse the same text");
        CHECK(dataset_diff(&a, &b, diff, sizeof diff) == 0, "load and parse differ: %s", diff);
        CHECK(a.records[1].line == 3 && a.records[0].has_strength && a.records[0].strength == 1.5f, "load: line %d strength %g", a.records[1].line, (double)a.records[0].strength);
        pt_dataset_free(&b);
        pt_dataset_free(&a);
    }
    /* a forced kind and max_line reach the parser */
    st = pt_jsonl_load(path, PT_DATA_PROMPT, 0, &a);
    CHECK(st == PT_OK && a.kind == PT_DATA_PROMPT, "load forced prompt: %d", st);
    if (st == PT_OK) pt_dataset_free(&a);
    st = pt_jsonl_load(path, PT_DATA_AUTO, 40, &a);
    snprintf(prefix, sizeof prefix, "%s:1:1: ", path);
    CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), prefix), "load max_line 40: %d '%s'", st, pt_last_error());

    /* errors name the path */
    CHECK(write_bytes(badp, G "{\"text\": \"a\",}\n", strlen(G) + 15) == 0, "write %s", badp);
    st = pt_jsonl_load(badp, PT_DATA_AUTO, 0, &a);
    snprintf(prefix, sizeof prefix, "%s:2:14: ", badp);
    CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), prefix), "bad file: %d '%s' (want prefix '%s')", st, pt_last_error(), prefix);
    CHECK(write_bytes(empty, "", 0) == 0, "write %s", empty);
    st = pt_jsonl_load(empty, PT_DATA_AUTO, 0, &a);
    snprintf(prefix, sizeof prefix, "%s: ", empty);
    CHECK(st == PT_ERR_FORMAT && starts_with(pt_last_error(), prefix) && (strstr(pt_last_error(), "no records") != NULL), "empty file: %d '%s'", st, pt_last_error());
}

/* ---------------------------------------------------------------------------------------------
   4. Round trips through pt_jsonl_save
   --------------------------------------------------------------------------------------------- */
static void round_trip(const pt_dataset *ds, const char *name, const char *what)
{
    const char *path = tmp_path(name);
    char tmp[200], diff[128];
    pt_dataset back;
    size_t n = 0;
    char *raw;
    int st, i, lines = 0;
    st = pt_jsonl_save(ds, path);
    CHECK(st == PT_OK, "%s: save: %s", what, pt_last_error());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!file_exists(tmp), "%s: %s left behind", what, tmp);
    /* one object per line: exactly n line feeds, one at the end of each record */
    raw = read_all(path, &n);
    CHECK(raw != NULL, "%s: read back", what);
    if (raw) {
        for (i = 0; i < (int)n; i++) lines += raw[i] == '\n';
        CHECK(lines == ds->n && n > 0 && raw[n - 1] == '\n', "%s: %d line feeds for %d records", what, lines, ds->n);
        pt_free(raw);
    }
    st = pt_jsonl_load(path, PT_DATA_AUTO, 0, &back);
    CHECK(st == PT_OK, "%s: load: %s", what, pt_last_error());
    if (st != PT_OK) return;
    CHECK(back.kind == ds->kind, "%s: kind %s after the round trip, want %s", what, pt_data_kind_name(back.kind), pt_data_kind_name(ds->kind));
    back.kind = ds->kind;
    for (i = 0; i < back.n && i < ds->n; i++) back.records[i].line = ds->records[i].line;
    CHECK(dataset_diff(ds, &back, diff, sizeof diff) == 0, "%s: round trip differs: %s", what, diff);
    pt_dataset_free(&back);
}
static void test_round_trip(void)
{
    static const int kinds[5] = {PT_DATA_TEXT, PT_DATA_COMPLETION, PT_DATA_MESSAGES, PT_DATA_PREFERENCE, PT_DATA_PROMPT};
    static const char *nasty[6] = {
        "q\"uote\" back\\slash \\\" \\u0041 /slash/ \\n",
        "new\nline\r\ntab\tbs\bff\f ctl\x01\x02\x1f del\x7f",
        "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC 5 \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF",
        "",
        "<|user|>{\"text\": \"x\"}</s>\n{\"a\":1}",
        "  leading and trailing spaces  ",
    };
    pt_world_config wc;
    pt_dataset ds;
    int k, st, i;
    char name[64], what[64];
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 4; wc.terms = 3;
    /* the world in every schema */
    for (k = 0; k < 5; k++) {
        st = pt_world_dataset(&wc, PT_WORLD_TRAIN, 11, 40, kinds[k], &ds);
        CHECK(st == PT_OK && ds.n == 40 && ds.kind == kinds[k], "world dataset %s: %s", pt_data_kind_name(kinds[k]), pt_last_error());
        if (st != PT_OK) continue;
        if (kinds[k] == PT_DATA_PREFERENCE)   /* strengths on some records, exact floats included */
            for (i = 0; i < ds.n; i += 3) { ds.records[i].has_strength = 1; ds.records[i].strength = i == 0 ? 0.1f : i == 3 ? -3.0e-7f : (float)i * 1.37f - 20.0f; }
        if (kinds[k] == PT_DATA_PROMPT)   /* some prompts without answer */
            for (i = 1; i < ds.n; i += 4) { free(ds.records[i].answer); ds.records[i].answer = NULL; }
        snprintf(name, sizeof name, "world_%s.jsonl", pt_data_kind_name(kinds[k]));
        snprintf(what, sizeof what, "world %s", pt_data_kind_name(kinds[k]));
        round_trip(&ds, name, what);
        /* saving again over the file replaces it */
        round_trip(&ds, name, what);
        pt_dataset_free(&ds);
    }
    /* hand-made datasets with nasty strings, every schema */
    for (k = 0; k < 5; k++) {
        memset(&ds, 0, sizeof ds);
        ds.kind = kinds[k];
        ds.n = 6;
        ds.records = (pt_record *)calloc(6, sizeof(pt_record));
        for (i = 0; i < 6; i++) {
            pt_record *r = &ds.records[i];
            const char *s = nasty[i], *t = nasty[(i + 1) % 6], *u = nasty[(i + 2) % 6];
            r->line = i + 1;
            switch (kinds[k]) {
            case PT_DATA_TEXT: r->text = dup_str(s); break;
            case PT_DATA_COMPLETION: r->prompt = dup_str(s); r->completion = dup_str(t); break;
            case PT_DATA_MESSAGES:
                r->n_messages = 3;
                r->messages = (pt_message *)calloc(3, sizeof(pt_message));
                r->messages[0].role = dup_str("system"); r->messages[0].content = dup_str(s);
                r->messages[1].role = dup_str("user"); r->messages[1].content = dup_str(t);
                r->messages[2].role = dup_str("assistant"); r->messages[2].content = dup_str(u);
                break;
            case PT_DATA_PREFERENCE:
                r->prompt = dup_str(s); r->chosen = dup_str(t); r->rejected = dup_str(u);
                if (i % 2) { r->has_strength = 1; r->strength = (float)i / 3.0f - 1.0f; }
                break;
            default: r->prompt = dup_str(s); if (i % 2 == 0) r->answer = dup_str(t);
            }
        }
        snprintf(name, sizeof name, "nasty_%s.jsonl", pt_data_kind_name(kinds[k]));
        snprintf(what, sizeof what, "nasty %s", pt_data_kind_name(kinds[k]));
        round_trip(&ds, name, what);
        pt_dataset_free(&ds);
    }
    /* errors: no schema, a record without its field; nothing is written */
    {
        const char *p = tmp_path("never.jsonl");
        pt_record r;
        memset(&ds, 0, sizeof ds);
        memset(&r, 0, sizeof r);
        r.text = dup_str("t");
        ds.n = 1; ds.records = &r; ds.kind = PT_DATA_AUTO;
        CHECK(pt_jsonl_save(&ds, p) == PT_ERR_ARG && !file_exists(p), "save without a schema: '%s'", pt_last_error());
        ds.kind = PT_DATA_COMPLETION;
        CHECK(pt_jsonl_save(&ds, p) == PT_ERR_ARG && !file_exists(p) && (strstr(pt_last_error(), "prompt") != NULL), "save a record without its field: '%s'", pt_last_error());
        CHECK(pt_jsonl_save(NULL, p) == PT_ERR_ARG, "save NULL");
        free(r.text);
    }
}

/* pt_jsonl_save never writes a file that pt_jsonl_load refuses: a record the reader would reject
   (a non-finite or out-of-range strength, invalid UTF-8, a role outside the three, an empty
   "messages") must make the save fail with nothing written, or else load back. */
static void test_save_invalid(void)
{
    static const char *what[7] = {"strength NaN", "strength +inf", "strength 1e31", "invalid UTF-8 in a string",
                                  "role \"bot\"", "empty messages", "overlong UTF-8 in a string"};
    int c;
    for (c = 0; c < 7; c++) {
        pt_dataset ds, back;
        pt_record r;
        pt_message m[1];
        char name[32];
        const char *path;
        int st;
        memset(&ds, 0, sizeof ds);
        memset(&r, 0, sizeof r);
        ds.n = 1; ds.records = &r;
        ds.kind = c < 3 ? PT_DATA_PREFERENCE : (c == 4 || c == 5) ? PT_DATA_MESSAGES : PT_DATA_TEXT;
        r.prompt = (char *)"p"; r.chosen = (char *)"c"; r.rejected = (char *)"r";
        if (c < 3) { r.has_strength = 1; r.strength = c == 0 ? (float)NAN : c == 1 ? (float)INFINITY : 1e31f; }
        if (c == 3) r.text = (char *)"bad \xFF byte";
        if (c == 6) r.text = (char *)"overlong \xC0\xAF";
        m[0].role = (char *)"bot"; m[0].content = (char *)"hi";
        if (c == 4) { r.messages = m; r.n_messages = 1; }
        if (c == 5) { r.messages = m; r.n_messages = 0; }
        snprintf(name, sizeof name, "invalid_%d.jsonl", c);
        path = tmp_path(name);
        st = pt_jsonl_save(&ds, path);
        if (st != PT_OK) { CHECK(!file_exists(path), "%s: save failed (%s) but wrote the file", what[c], pt_status_name(st)); continue; }
        st = pt_jsonl_load(path, PT_DATA_AUTO, 0, &back);
        CHECK(st == PT_OK, "pt_jsonl_save accepted a record with %s and wrote a file that pt_jsonl_load rejects: '%s'", what[c], pt_last_error());
        if (st == PT_OK) pt_dataset_free(&back);
    }
}

/* Bad input returns an error status (the header's CONVENTIONS), never crashes: a hand-made message
   with a NULL role or content. Each call runs in a child process; 0 = returned an error, 2 =
   returned PT_OK, a signal = crashed. */
static int g_null_case;
static int null_message_call(void)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_message m[2];
    pt_record r;
    pt_dataset ds;
    pt_example ex;
    int st;
    memset(&r, 0, sizeof r);
    m[0].role = (char *)"user"; m[0].content = (char *)"u";
    m[1].role = (char *)"assistant"; m[1].content = (char *)"a";
    if (g_null_case & 1) m[1].role = NULL; else m[1].content = NULL;
    r.messages = m; r.n_messages = 2;
    if (g_null_case < 2) {
        ds.kind = PT_DATA_MESSAGES; ds.n = 1; ds.records = &r;
        st = pt_jsonl_save(&ds, tmp_path("null_message.jsonl"));
    } else {
        st = pt_record_example(&tok, &r, PT_DATA_MESSAGES, 1, 0, &ex);
        if (st == PT_OK) pt_examples_free(&ex, 1);
    }
    return st == PT_OK ? 2 : 0;
}
static void test_null_fields(void)
{
    static const char *what[4] = {"pt_jsonl_save, NULL content", "pt_jsonl_save, NULL role",
                                  "pt_record_example, NULL content", "pt_record_example, NULL role"};
    tmp_path("null_message.jsonl");   /* registered here too, so the cleanup removes it if a child wrote it */
    for (g_null_case = 0; g_null_case < 4; g_null_case++) {
        pid_t pid;
        int status = 0;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            if (!freopen("/dev/null", "w", stderr)) _exit(3);
            _exit(null_message_call());
        }
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
        /* under the sanitizers a crash is reported and the child exits 1 */
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s%d instead of returning an error status", what[g_null_case],
              WIFSIGNALED(status) ? "crashed with signal " : WIFEXITED(status) && WEXITSTATUS(status) == 2 ? "returned PT_OK, exit " : "crashed, exit ",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
}

/* ---------------------------------------------------------------------------------------------
   5. pt_world_dataset semantics
   --------------------------------------------------------------------------------------------- */
static void test_world_dataset(void)
{
    pt_world_config wc;
    pt_dataset ds, ds2;
    pt_tokenizer tok = pt_byte_tokenizer();
    int st, i, bad;
    char buf[1024];
    memset(&wc, 0, sizeof wc);
    wc.min_digits = 1; wc.max_digits = 3;

    /* text = question + solution + "\n" */
    st = pt_world_dataset(&wc, PT_WORLD_TRAIN, 5, 100, PT_DATA_TEXT, &ds);
    CHECK(st == PT_OK && ds.n == 100 && ds.kind == PT_DATA_TEXT, "text: %s", pt_last_error());
    for (i = 0, bad = 0; st == PT_OK && i < ds.n; i++) {
        pt_problem p;
        pt_world_problem(&wc, PT_WORLD_TRAIN, 5, i, &p);
        snprintf(buf, sizeof buf, "%s%s\n", p.question, p.solution);
        if (strcmp(ds.records[i].text, buf) != 0) { if (!bad) printf("  text '%s' want '%s'\n", ds.records[i].text, buf); bad++; }
        bad += ds.records[i].line != i + 1;
    }
    CHECK(bad == 0, "text records: %d wrong", bad);
    /* and it starts like the pretraining corpus document */
    if (st == PT_OK) {
        pt_problem p;
        pt_world_problem(&wc, PT_WORLD_TRAIN, 5, 0, &p);
        CHECK(starts_with(ds.records[0].text, "Q: ") && strstr(ds.records[0].text, "\nA: <think>") && strstr(ds.records[0].text, "</answer>\n"), "text shape '%s'", ds.records[0].text);
    }
    pt_dataset_free(&ds);

    /* completion: prompt "Q: ..\nA: ", completion the solution after "A: " plus "\n"; prompt+completion = text */
    st = pt_world_dataset(&wc, PT_WORLD_ID, 0, 100, PT_DATA_COMPLETION, &ds);
    for (i = 0, bad = 0; st == PT_OK && i < ds.n; i++) {
        pt_problem p;
        char want[1024];
        pt_world_problem(&wc, PT_WORLD_ID, 0, i, &p);
        snprintf(want, sizeof want, "%sA: ", p.question);
        snprintf(buf, sizeof buf, "%s\n", p.solution + 3);
        bad += strcmp(ds.records[i].prompt, want) != 0 || strcmp(ds.records[i].completion, buf) != 0;
        snprintf(buf, sizeof buf, "%s%s", ds.records[i].prompt, ds.records[i].completion);
        snprintf(want, sizeof want, "%s%s\n", p.question, p.solution);
        bad += strcmp(buf, want) != 0;
    }
    CHECK(st == PT_OK && bad == 0, "completion records: %d wrong (%s)", bad, pt_last_error());
    pt_dataset_free(&ds);

    /* prompt: "Q: 47+85=?" and the answer in decimal */
    {
        pt_world_config w5;
        memset(&w5, 0, sizeof w5);
        w5.min_digits = 10; w5.max_digits = 15; w5.terms = 5;   /* large answers too */
        st = pt_world_dataset(&w5, PT_WORLD_TRAIN, 2, 100, PT_DATA_PROMPT, &ds);
        for (i = 0, bad = 0; st == PT_OK && i < ds.n; i++) {
            pt_problem p;
            char want[64];
            pt_world_problem(&w5, PT_WORLD_TRAIN, 2, i, &p);
            snprintf(want, sizeof want, "%lld", p.answer);
            bad += !ds.records[i].answer || strcmp(ds.records[i].answer, want) != 0;
            snprintf(buf, sizeof buf, "%s\n", ds.records[i].prompt);
            bad += strcmp(buf, p.question) != 0;
            bad += ds.records[i].completion != NULL || ds.records[i].text != NULL;
        }
        CHECK(st == PT_OK && bad == 0, "prompt records: %d wrong (%s)", bad, pt_last_error());
        pt_dataset_free(&ds);
    }

    /* preference: graded pairs (section 9), the rules prefer chosen by the stored strength */
    st = pt_world_dataset(&wc, PT_WORLD_TRAIN, 3, 200, PT_DATA_PREFERENCE, &ds);
    CHECK(st == PT_OK && ds.n == 200, "preference: %s", pt_last_error());
    {
        int same = 0, chosen_bad = 0, rejected_bad_format = 0, rejected_correct = 0, wrong_answer = 0, wrong_step = 0, not_clean = 0, prompt_bad = 0;
        for (i = 0; st == PT_OK && i < ds.n; i++) {
            pt_problem p;
            const pt_record *r = &ds.records[i];
            pt_world_problem(&wc, PT_WORLD_TRAIN, 3, i, &p);
            snprintf(buf, sizeof buf, "%s\n", r->prompt);
            prompt_bad += strcmp(buf, p.question) != 0;
            same += strcmp(r->chosen, r->rejected) == 0;
            {   /* graded pairs: the rules prefer chosen by exactly the stored strength */
                pt_world_score a, b;
                snprintf(buf, sizeof buf, "A: %s", r->chosen);
                pt_world_score_text(&p, buf, &a);
                snprintf(buf, sizeof buf, "A: %s", r->rejected);
                pt_world_score_text(&p, buf, &b);
                not_clean += !r->has_strength || r->strength != (float)pt_world_strength(&a, &b);
                chosen_bad += r->strength < 0 || pt_world_quality(&a) < pt_world_quality(&b);
                rejected_correct += b.correct && b.format_ok && b.steps_ok == b.n_steps;
                wrong_answer += !b.correct;
                wrong_step += b.first_bad_step >= 0;
                rejected_bad_format += !b.format_ok;
            }
        }
        CHECK(prompt_bad == 0, "preference prompts: %d are not the question", prompt_bad);
        CHECK(same == 0, "preference: chosen == rejected in %d of 200", same);
        CHECK(not_clean == 0, "preference: %d strengths differ from the rules' verdict", not_clean);
        CHECK(chosen_bad == 0, "preference: %d chosen are not preferred by the rules", chosen_bad);
        CHECK(rejected_correct == 0, "preference: %d rejected are fully correct", rejected_correct);
        CHECK(wrong_answer > 0 && wrong_step > 0 && rejected_bad_format > 0,
              "preference: every kind of flaw occurs (wrong answer %d, wrong step %d, malformed %d)", wrong_answer, wrong_step, rejected_bad_format);
    }
    /* deterministic */
    st = pt_world_dataset(&wc, PT_WORLD_TRAIN, 3, 200, PT_DATA_PREFERENCE, &ds2);
    {
        char diff[128];
        CHECK(st == PT_OK && dataset_diff(&ds, &ds2, diff, sizeof diff) == 0, "preference dataset not deterministic: %s", diff);
    }
    pt_dataset_free(&ds2);
    pt_dataset_free(&ds);

    /* messages: through pt_record_example exactly pt_world_sft_example's ids and n_prompt */
    {
        static const struct { int min_d, max_d, terms, split; uint64_t seed; } cases[] = {
            { 1, 3, 2, PT_WORLD_TRAIN, 9 }, { 2, 4, 3, PT_WORLD_ID, 0 }, { 1, 2, 2, PT_WORLD_OOD, 0 },
        };
        int ci;
        for (ci = 0; ci < 3; ci++) {
            int diff_ids = 0, diff_np = 0, bad_roles = 0, errs = 0;
            pt_world_config c;
            memset(&c, 0, sizeof c);
            c.min_digits = cases[ci].min_d; c.max_digits = cases[ci].max_d; c.terms = cases[ci].terms;
            st = pt_world_dataset(&c, cases[ci].split, cases[ci].seed, 50, PT_DATA_MESSAGES, &ds);
            CHECK(st == PT_OK && ds.n == 50, "messages case %d: %s", ci, pt_last_error());
            for (i = 0; st == PT_OK && i < ds.n; i++) {
                pt_example a, b;
                pt_problem p;
                const pt_record *r = &ds.records[i];
                pt_world_problem(&c, cases[ci].split, cases[ci].seed, i, &p);
                snprintf(buf, sizeof buf, "%s\n", r->messages[0].content);
                bad_roles += r->n_messages != 2 || strcmp(r->messages[0].role, "user") != 0 || strcmp(r->messages[1].role, "assistant") != 0 ||
                             strcmp(buf, p.question) != 0 || strcmp(r->messages[1].content, p.solution + 3) != 0;
                if (pt_record_example(&tok, r, 0, 1, 0, &a) != PT_OK) { errs++; continue; }
                if (pt_world_sft_example(&c, cases[ci].split, cases[ci].seed, i, &b) != PT_OK) { errs++; pt_examples_free(&a, 1); continue; }
                diff_ids += a.n_ids != b.n_ids || memcmp(a.ids, b.ids, (size_t)a.n_ids * sizeof(int)) != 0;
                diff_np += a.n_prompt != b.n_prompt;
                pt_examples_free(&a, 1); pt_examples_free(&b, 1);
            }
            CHECK(errs == 0, "messages case %d: %d errors (%s)", ci, errs, pt_last_error());
            CHECK(bad_roles == 0, "messages case %d: %d records are not user question + assistant solution", ci, bad_roles);
            CHECK(diff_ids == 0, "messages case %d: %d of 50 differ from pt_world_sft_example in ids", ci, diff_ids);
            CHECK(diff_np == 0, "messages case %d: %d of 50 differ in n_prompt", ci, diff_np);
            pt_dataset_free(&ds);
        }
    }
    /* errors */
    memset(&ds, 0xA5, sizeof ds);
    CHECK(pt_world_dataset(&wc, PT_WORLD_TRAIN, 0, 0, PT_DATA_TEXT, &ds) == PT_ERR_ARG, "n = 0 is an error");
    CHECK(pt_world_dataset(&wc, PT_WORLD_TRAIN, 0, 5, PT_DATA_AUTO, &ds) == PT_ERR_ARG, "kind auto is an error");
    CHECK(pt_world_dataset(&wc, PT_WORLD_TRAIN, 0, 5, 6, &ds) == PT_ERR_ARG, "kind 6 is an error");
    CHECK(pt_world_dataset(&wc, PT_WORLD_TRAIN, 0, 5, PT_DATA_TEXT, NULL) == PT_ERR_ARG, "NULL dataset is an error");
    /* NULL config means the defaults */
    st = pt_world_dataset(NULL, PT_WORLD_TRAIN, 0, 3, PT_DATA_TEXT, &ds);
    CHECK(st == PT_OK && ds.n == 3, "NULL config: %s", pt_last_error());
    if (st == PT_OK) pt_dataset_free(&ds);
}

/* ---------------------------------------------------------------------------------------------
   6. pt_record_example
   --------------------------------------------------------------------------------------------- */
static int ids_equal(const pt_example *ex, const int *want, int n) { return ex->n_ids == n && memcmp(ex->ids, want, (size_t)n * sizeof(int)) == 0; }
static void test_record_example(void)
{
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_record r;
    pt_example ex;
    pt_message msgs[5];
    int want[512], n, st, i, k;
    unsigned char wtr[512];
    char text[1024];

    /* text: <bos>TEXT<eos>, n_prompt 1, every token trained */
    memset(&r, 0, sizeof r);
    r.text = (char *)"Hi <think>";
    st = pt_record_example(&tok, &r, PT_DATA_TEXT, 0, 0, &ex);
    n = 0; n = push_id(want, wtr, n, PT_BYTE_BOS, 0); n = push_str(want, wtr, n, "Hi ", 1); n = push_id(want, wtr, n, PT_BYTE_THINK, 1); n = push_id(want, wtr, n, PT_BYTE_EOS, 1);
    CHECK(st == PT_OK && ids_equal(&ex, want, n) && ex.n_prompt == 1, "text example: %d ids n_prompt %d (%s)", ex.n_ids, ex.n_prompt, pt_last_error());
    CHECK(st == PT_OK && ex.ids[0] == PT_BYTE_BOS && ex.ids[ex.n_ids - 1] == PT_BYTE_EOS, "text: BOS first, EOS last");
    pt_examples_free(&ex, 1);
    /* auto kind and chat = 1 change nothing for text */
    st = pt_record_example(&tok, &r, PT_DATA_AUTO, 1, 0, &ex);
    CHECK(st == PT_OK && ids_equal(&ex, want, n) && ex.n_prompt == 1, "text example (auto, chat 1)");
    pt_examples_free(&ex, 1);

    /* completion, chat 0: BOS + encode(prompt) | encode(completion) + EOS */
    memset(&r, 0, sizeof r);
    r.prompt = (char *)"Q: 1+2=?\nA: ";
    r.completion = (char *)"<think>1+2=3</think><answer>3</answer>\n";
    st = pt_record_example(&tok, &r, PT_DATA_COMPLETION, 0, 0, &ex);
    {
        int a = tok.encode(&tok, r.prompt, 1, 0, want, 512), b;
        b = tok.encode(&tok, r.completion, 0, 1, want + a, 512 - a);
        CHECK(st == PT_OK && ids_equal(&ex, want, a + b) && ex.n_prompt == a, "completion chat 0: %d ids (want %d), n_prompt %d (want %d)", ex.n_ids, a + b, ex.n_prompt, a);
        CHECK(st == PT_OK && ex.n_prompt == 1 + (int)strlen(r.prompt) && ex.ids[ex.n_prompt] == PT_BYTE_THINK && ex.train == NULL,
              "completion chat 0: boundary by hand");
    }
    pt_examples_free(&ex, 1);
    /* completion, chat 1: the template */
    st = pt_record_example(&tok, &r, PT_DATA_COMPLETION, 1, 0, &ex);
    {
        int a, np = -1;
        pt_chat_text(NULL, r.prompt, r.completion, text, sizeof text);
        a = tok.encode(&tok, text, 0, 0, want, 512);
        for (i = 0; i < a; i++) if (want[i] == PT_BYTE_ASSISTANT) { np = i + 1; break; }
        CHECK(st == PT_OK && ids_equal(&ex, want, a) && ex.n_prompt == np, "completion chat 1: %d ids (want %d), n_prompt %d (want %d)", ex.n_ids, a, ex.n_prompt, np);
        CHECK(st == PT_OK && ex.ids[0] == PT_BYTE_BOS && ex.ids[1] == PT_BYTE_USER && ex.ids[ex.n_ids - 2] == PT_BYTE_END && ex.ids[ex.n_ids - 1] == PT_BYTE_EOS,
              "completion chat 1: markers");
    }
    pt_examples_free(&ex, 1);

    /* multi-turn messages: train on both assistant turns, their <|end|> and the final EOS */
    memset(&r, 0, sizeof r);
    msgs[0].role = (char *)"system"; msgs[0].content = (char *)"Be brief.";
    msgs[1].role = (char *)"user"; msgs[1].content = (char *)"Q: 1+2=?";
    msgs[2].role = (char *)"assistant"; msgs[2].content = (char *)"3";
    msgs[3].role = (char *)"user"; msgs[3].content = (char *)"And 2+2?";
    msgs[4].role = (char *)"assistant"; msgs[4].content = (char *)"It is 4.";
    r.messages = msgs; r.n_messages = 5;
    st = pt_record_example(&tok, &r, PT_DATA_MESSAGES, 1, 0, &ex);
    {
        int np;
        n = 0;
        n = push_id(want, wtr, n, PT_BYTE_BOS, 0);
        n = push_id(want, wtr, n, PT_BYTE_SYSTEM, 0); n = push_str(want, wtr, n, "Be brief.", 0); n = push_id(want, wtr, n, PT_BYTE_END, 0);
        n = push_id(want, wtr, n, PT_BYTE_USER, 0); n = push_str(want, wtr, n, "Q: 1+2=?", 0); n = push_id(want, wtr, n, PT_BYTE_END, 0);
        n = push_id(want, wtr, n, PT_BYTE_ASSISTANT, 0); np = n; n = push_str(want, wtr, n, "3", 1); n = push_id(want, wtr, n, PT_BYTE_END, 1);
        n = push_id(want, wtr, n, PT_BYTE_USER, 0); n = push_str(want, wtr, n, "And 2+2?", 0); n = push_id(want, wtr, n, PT_BYTE_END, 0);
        n = push_id(want, wtr, n, PT_BYTE_ASSISTANT, 0); n = push_str(want, wtr, n, "It is 4.", 1); n = push_id(want, wtr, n, PT_BYTE_END, 1);
        n = push_id(want, wtr, n, PT_BYTE_EOS, 1);
        CHECK(st == PT_OK && ids_equal(&ex, want, n), "multi-turn ids: %d (want %d) (%s)", ex.n_ids, n, pt_last_error());
        CHECK(st == PT_OK && ex.n_prompt == np, "multi-turn n_prompt %d, want %d (just after the first <|assistant|>)", ex.n_prompt, np);
        CHECK(st == PT_OK && ex.train != NULL, "multi-turn: train mask present");
        if (st == PT_OK && ex.train && ex.n_ids == n) {
            int bad = 0, ones = 0, first_bad = -1;
            for (i = 0; i < n; i++) { if ((ex.train[i] != 0) != (wtr[i] != 0)) { bad++; if (first_bad < 0) first_bad = i; } ones += ex.train[i] != 0; }
            CHECK(bad == 0, "multi-turn train mask: %d positions wrong (first %d)", bad, first_bad);
            CHECK(ones == 1 + 1 + 8 + 1 + 1, "multi-turn: %d trained tokens, want 12", ones);
            /* the template text as a whole gives the same ids */
            CHECK(pt_decode(&tok, ex.ids, ex.n_ids, text, sizeof text) > 0 &&
                  strcmp(text, "<bos><|system|>Be brief.<|end|><|user|>Q: 1+2=?<|end|><|assistant|>3<|end|><|user|>And 2+2?<|end|><|assistant|>It is 4.<|end|><eos>") == 0,
                  "multi-turn decodes to '%s'", text);
        }
    }
    pt_examples_free(&ex, 1);
    /* auto kind picks messages; chat is irrelevant for messages */
    st = pt_record_example(&tok, &r, PT_DATA_AUTO, 0, 0, &ex);
    CHECK(st == PT_OK && ids_equal(&ex, want, n) && ex.train, "multi-turn through auto kind, chat 0");
    pt_examples_free(&ex, 1);
    /* no assistant turn: a generation prompt, n_ids == n_prompt, nothing trained */
    r.n_messages = 2;
    st = pt_record_example(&tok, &r, PT_DATA_MESSAGES, 1, 0, &ex);
    {
        pt_chat_text("Be brief.", "Q: 1+2=?", NULL, text, sizeof text);
        k = tok.encode(&tok, text, 0, 0, want, 512);
        CHECK(st == PT_OK && ids_equal(&ex, want, k) && ex.n_ids == ex.n_prompt && ex.ids[ex.n_ids - 1] == PT_BYTE_ASSISTANT,
              "no assistant turn: %d ids n_prompt %d (want %d)", ex.n_ids, ex.n_prompt, k);
        for (i = 0, k = 0; st == PT_OK && ex.train && i < ex.n_ids; i++) k += ex.train[i] != 0;
        CHECK(k == 0, "no assistant turn: %d tokens marked for training", k);
    }
    pt_examples_free(&ex, 1);
    /* user then assistant only (the world's shape): n_prompt after <|assistant|> */
    r.messages = msgs + 1; r.n_messages = 2;
    st = pt_record_example(&tok, &r, PT_DATA_MESSAGES, 1, 0, &ex);
    pt_chat_text(NULL, "Q: 1+2=?", "3", text, sizeof text);
    k = tok.encode(&tok, text, 0, 0, want, 512);
    CHECK(st == PT_OK && ids_equal(&ex, want, k) && ex.n_prompt == k - 3, "user+assistant: n_prompt %d want %d", ex.n_prompt, k - 3);
    pt_examples_free(&ex, 1);

    /* preference: which 0 / 1 give chosen / rejected after the same prompt */
    {
        pt_example c, rj;
        int chat;
        memset(&r, 0, sizeof r);
        r.prompt = (char *)"Q: 5+6=?";
        r.chosen = (char *)"<think>5+6=11</think><answer>11</answer>";
        r.rejected = (char *)"<think>5+6=12</think><answer>12</answer>";
        for (chat = 0; chat <= 1; chat++) {
            char tc[512], tr[512];
            int sc = pt_record_example(&tok, &r, PT_DATA_PREFERENCE, chat, 0, &c);
            int sr = pt_record_example(&tok, &r, PT_DATA_PREFERENCE, chat, 1, &rj);
            CHECK(sc == PT_OK && sr == PT_OK, "preference chat %d: %s", chat, pt_last_error());
            if (sc != PT_OK || sr != PT_OK) continue;
            CHECK(c.n_prompt == rj.n_prompt && memcmp(c.ids, rj.ids, (size_t)c.n_prompt * sizeof(int)) == 0, "preference chat %d: prompts differ", chat);
            pt_decode(&tok, c.ids + c.n_prompt, c.n_ids - c.n_prompt, tc, sizeof tc);
            pt_decode(&tok, rj.ids + rj.n_prompt, rj.n_ids - rj.n_prompt, tr, sizeof tr);
            if (chat) {
                snprintf(text, sizeof text, "%s<|end|><eos>", r.chosen);
                CHECK(strcmp(tc, text) == 0, "preference chat 1 chosen part '%s'", tc);
                snprintf(text, sizeof text, "%s<|end|><eos>", r.rejected);
                CHECK(strcmp(tr, text) == 0, "preference chat 1 rejected part '%s'", tr);
                pt_decode(&tok, c.ids, c.n_prompt, tc, sizeof tc);
                CHECK(strcmp(tc, "<bos><|user|>Q: 5+6=?<|end|><|assistant|>") == 0, "preference chat 1 prompt '%s'", tc);
            } else {
                snprintf(text, sizeof text, "%s<eos>", r.chosen);
                CHECK(strcmp(tc, text) == 0, "preference chat 0 chosen part '%s'", tc);
                snprintf(text, sizeof text, "%s<eos>", r.rejected);
                CHECK(strcmp(tr, text) == 0, "preference chat 0 rejected part '%s'", tr);
                pt_decode(&tok, c.ids, c.n_prompt, tc, sizeof tc);
                CHECK(strcmp(tc, "<bos>Q: 5+6=?") == 0, "preference chat 0 prompt '%s'", tc);
            }
            pt_examples_free(&c, 1); pt_examples_free(&rj, 1);
        }
        /* with chat 0, which = 0 gives the same ids as a prompt+completion record with the chosen text */
        {
            pt_record rc2;
            memset(&rc2, 0, sizeof rc2);
            rc2.prompt = r.prompt; rc2.completion = r.chosen;
            if (pt_record_example(&tok, &r, PT_DATA_PREFERENCE, 0, 0, &c) == PT_OK && pt_record_example(&tok, &rc2, PT_DATA_COMPLETION, 0, 0, &rj) == PT_OK) {
                CHECK(c.n_ids == rj.n_ids && c.n_prompt == rj.n_prompt && memcmp(c.ids, rj.ids, (size_t)c.n_ids * sizeof(int)) == 0,
                      "preference chat 0 != completion chat 0 with the chosen text");
                pt_examples_free(&c, 1); pt_examples_free(&rj, 1);
            } else CHECK(0, "preference/completion examples: %s", pt_last_error());
        }
    }
    /* prompt: the generation prompt alone */
    memset(&r, 0, sizeof r);
    r.prompt = (char *)"Q: 5+6=?"; r.answer = (char *)"11";
    st = pt_record_example(&tok, &r, PT_DATA_PROMPT, 1, 0, &ex);
    pt_chat_text(NULL, r.prompt, NULL, text, sizeof text);
    k = tok.encode(&tok, text, 0, 0, want, 512);
    CHECK(st == PT_OK && ids_equal(&ex, want, k) && ex.n_prompt == ex.n_ids, "prompt chat 1: %d ids n_prompt %d", ex.n_ids, ex.n_prompt);
    pt_examples_free(&ex, 1);
    st = pt_record_example(&tok, &r, PT_DATA_PROMPT, 0, 0, &ex);
    k = tok.encode(&tok, r.prompt, 1, 0, want, 512);
    CHECK(st == PT_OK && ids_equal(&ex, want, k) && ex.n_prompt == ex.n_ids, "prompt chat 0: %d ids n_prompt %d", ex.n_ids, ex.n_prompt);
    pt_examples_free(&ex, 1);
    /* the world's prompt record gives pt_world_prompt's ids */
    {
        pt_world_config wc;
        pt_dataset ds;
        int bad = 0, j;
        memset(&wc, 0, sizeof wc);
        st = pt_world_dataset(&wc, PT_WORLD_ID, 0, 20, PT_DATA_PROMPT, &ds);
        for (j = 0; st == PT_OK && j < ds.n; j++) {
            pt_problem p;
            pt_world_problem(&wc, PT_WORLD_ID, 0, j, &p);
            k = pt_world_prompt(&p, 1, want, 512);
            if (pt_record_example(&tok, &ds.records[j], PT_DATA_AUTO, 1, 0, &ex) != PT_OK) { bad++; continue; }
            bad += !ids_equal(&ex, want, k) || ex.n_prompt != k;
            pt_examples_free(&ex, 1);
        }
        CHECK(st == PT_OK && bad == 0, "world prompt records vs pt_world_prompt: %d differ", bad);
        if (st == PT_OK) pt_dataset_free(&ds);
    }

    /* a record without the schema's field is an error, and ex is left empty */
    memset(&r, 0, sizeof r);
    r.text = (char *)"t"; r.line = 17;
    memset(&ex, 0xA5, sizeof ex);
    st = pt_record_example(&tok, &r, PT_DATA_COMPLETION, 0, 0, &ex);
    CHECK(st != PT_OK && (strstr(pt_last_error(), "\"prompt\"") != NULL) && (strstr(pt_last_error(), "17") != NULL), "completion without prompt: %d '%s'", st, pt_last_error());
    CHECK(ex.ids == NULL && ex.train == NULL && ex.n_ids == 0, "failed example not emptied");
    r.prompt = (char *)"p";
    st = pt_record_example(&tok, &r, PT_DATA_COMPLETION, 1, 0, &ex);
    CHECK(st != PT_OK && (strstr(pt_last_error(), "\"completion\"") != NULL), "completion without completion: %d '%s'", st, pt_last_error());
    st = pt_record_example(&tok, &r, PT_DATA_PREFERENCE, 0, 1, &ex);
    CHECK(st != PT_OK && (strstr(pt_last_error(), "\"chosen\"") != NULL), "preference without chosen: %d '%s'", st, pt_last_error());
    st = pt_record_example(&tok, &r, PT_DATA_MESSAGES, 1, 0, &ex);
    CHECK(st != PT_OK && (strstr(pt_last_error(), "\"messages\"") != NULL), "messages without messages: %d '%s'", st, pt_last_error());
    memset(&r, 0, sizeof r);
    st = pt_record_example(&tok, &r, PT_DATA_AUTO, 0, 0, &ex);
    CHECK(st != PT_OK, "an empty record is an error");
    CHECK(pt_record_example(NULL, &r, PT_DATA_TEXT, 0, 0, &ex) == PT_ERR_ARG, "NULL tokenizer");
    CHECK(pt_record_example(&tok, NULL, PT_DATA_TEXT, 0, 0, &ex) == PT_ERR_ARG, "NULL record");

    /* the llama2.c BPE tokenizer */
    {
        char path[512];
        pt_tokenizer bpe;
        snprintf(path, sizeof path, "%s/tok512.bin", test_models_dir());
        if (!file_exists(path)) { printf("  skipped: %s not found (BPE checks)\n", path); return; }
        st = pt_bpe_load(&bpe, path, 512);
        CHECK(st == PT_OK, "pt_bpe_load %s: %s", path, pt_last_error());
        if (st != PT_OK) return;
        memset(&r, 0, sizeof r);
        r.text = (char *)"Once upon a time";
        st = pt_record_example(&bpe, &r, PT_DATA_TEXT, 0, 0, &ex);
        CHECK(st == PT_OK && ex.n_ids > 2 && ex.ids[0] == 1 && ex.ids[ex.n_ids - 1] == 2 && ex.n_prompt == 1, "BPE text: %d ids (%s)", ex.n_ids, pt_last_error());
        if (st == PT_OK) {
            pt_decode(&bpe, ex.ids + 1, ex.n_ids - 2, text, sizeof text);
            CHECK(strstr(text, "Once upon a time") != NULL, "BPE text decodes to '%s'", text);
        }
        pt_examples_free(&ex, 1);
        memset(&r, 0, sizeof r);
        r.prompt = (char *)"Once upon a time,";
        r.completion = (char *)"there was a little cat.";
        st = pt_record_example(&bpe, &r, PT_DATA_COMPLETION, 0, 0, &ex);
        CHECK(st == PT_OK && ex.ids[0] == 1 && ex.ids[ex.n_ids - 1] == 2 && ex.n_prompt > 1 && ex.n_prompt < ex.n_ids - 1, "BPE completion: %d ids n_prompt %d (%s)", ex.n_ids, ex.n_prompt, pt_last_error());
        if (st == PT_OK) {
            int bos = 0;
            for (i = 1; i < ex.n_ids; i++) bos += ex.ids[i] == 1;
            CHECK(bos == 0, "BPE completion: %d extra BOS", bos);
            pt_decode(&bpe, ex.ids + ex.n_prompt, ex.n_ids - ex.n_prompt - 1, text, sizeof text);
            CHECK(strstr(text, "there was a little cat.") != NULL, "BPE completion part decodes to '%s'", text);
            pt_decode(&bpe, ex.ids + 1, ex.n_prompt - 1, text, sizeof text);
            CHECK(strstr(text, "Once upon a time,") != NULL && strstr(text, "cat") == NULL, "BPE prompt part decodes to '%s'", text);
        }
        pt_examples_free(&ex, 1);
        /* messages with BPE: the markers are text there, the mask still covers the assistant */
        r.messages = msgs + 1; r.n_messages = 2;
        st = pt_record_example(&bpe, &r, PT_DATA_MESSAGES, 1, 0, &ex);
        CHECK(st == PT_OK && ex.ids[0] == 1 && ex.ids[ex.n_ids - 1] == 2 && ex.train && ex.train[ex.n_ids - 1] && !ex.train[0] && !ex.train[ex.n_prompt - 1],
              "BPE messages: %d ids (%s)", ex.n_ids, pt_last_error());
        pt_examples_free(&ex, 1);
        pt_tokenizer_free(&bpe);
    }
}

/* ---------------------------------------------------------------------------------------------
   7. Packing honours ex.train
   --------------------------------------------------------------------------------------------- */
static void test_pack_train(void)
{
    enum { B = 2, T = 64 };
    static int tokens[B * T], targets[B * T], pos[B * T], seg[B * T];
    static float mask[B * T];
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_message msgs[5];
    pt_record r, rc;
    pt_example ex[2], cut;
    int order[2] = {0, 1}, st, used, t, n0, n1, bad, ones, ones_want;
    memset(&r, 0, sizeof r);
    msgs[0].role = (char *)"system"; msgs[0].content = (char *)"S";
    msgs[1].role = (char *)"user"; msgs[1].content = (char *)"U1";
    msgs[2].role = (char *)"assistant"; msgs[2].content = (char *)"A1";
    msgs[3].role = (char *)"user"; msgs[3].content = (char *)"U2";
    msgs[4].role = (char *)"assistant"; msgs[4].content = (char *)"A2";
    r.messages = msgs; r.n_messages = 5;
    memset(&rc, 0, sizeof rc);
    rc.prompt = (char *)"P:"; rc.completion = (char *)"C!";
    st = pt_record_example(&tok, &r, PT_DATA_MESSAGES, 1, 0, &ex[0]);
    CHECK(st == PT_OK && ex[0].train, "multi-turn example: %s", pt_last_error());
    st |= pt_record_example(&tok, &rc, PT_DATA_COMPLETION, 0, 0, &ex[1]);
    CHECK(st == PT_OK && ex[1].train == NULL, "completion example has no train mask");
    if (st != PT_OK) return;
    n0 = ex[0].n_ids; n1 = ex[1].n_ids;
    used = pt_pack_examples(ex, order, 2, B, T, PT_BYTE_PAD, tokens, targets, mask, pos, seg);
    CHECK(used == 2, "packed %d of 2", used);
    /* example 0 at row 0 from 0: mask[t] = train[t + 1] (the mask is for predicting ids[t+1]) */
    for (t = 0, bad = 0, ones = 0; t < n0; t++) {
        float w = t + 1 < n0 ? (float)(ex[0].train[t + 1] != 0) : 0.0f;
        bad += mask[t] != w || tokens[t] != ex[0].ids[t] || seg[t] != 1 || pos[t] != t || (t + 1 < n0 && targets[t] != ex[0].ids[t + 1]);
        ones += mask[t] != 0.0f;
    }
    CHECK(bad == 0, "multi-turn packing: %d positions wrong", bad);
    /* by hand: targets A1 (2 bytes), <|end|>, A2 (2 bytes), <|end|>, <eos> */
    ones_want = 2 + 1 + 2 + 1 + 1;
    CHECK(ones == ones_want, "multi-turn packing: %d trained targets, want %d", ones, ones_want);
    for (t = 0, bad = 0; t + 1 < n0; t++) {
        int tgt = ex[0].ids[t + 1];
        if (tgt == PT_BYTE_ASSISTANT || tgt == PT_BYTE_USER || tgt == 'U' || tgt == PT_BYTE_SYSTEM || tgt == 'S') bad += mask[t] != 0.0f;
        if (tgt == 'A' || tgt == PT_BYTE_EOS) bad += mask[t] != 1.0f;
    }
    CHECK(bad == 0, "multi-turn packing: %d markers/turns with the wrong mask", bad);
    /* the second prompt turn (U2) is not trained even though it comes after n_prompt */
    {
        int u2 = -1;
        for (t = ex[0].n_prompt; t < n0; t++) if (ex[0].ids[t] == 'U') { u2 = t; break; }
        CHECK(u2 > ex[0].n_prompt && mask[u2 - 1] == 0.0f, "U2 at %d after n_prompt %d is not trained", u2, ex[0].n_prompt);
    }
    /* example 1 right after, in the same row: from n_prompt on, as before */
    for (t = 0, bad = 0; t < n1; t++) {
        int rr = n0 + t;
        float w = t + 1 < n1 && t + 1 >= ex[1].n_prompt ? 1.0f : 0.0f;
        bad += mask[rr] != w || tokens[rr] != ex[1].ids[t] || seg[rr] != 2 || pos[rr] != t;
    }
    CHECK(n0 + n1 <= T && bad == 0, "completion packed after: %d positions wrong", bad);
    for (t = n0 + n1, bad = 0; t < B * T; t++) bad += mask[t] != 0.0f || seg[t] != 0 || tokens[t] != PT_BYTE_PAD;
    CHECK(bad == 0, "padding: %d positions wrong", bad);
    /* without its train mask the same example falls back to n_prompt (and trains the user turn U2) */
    {
        unsigned char *keep = ex[0].train;
        int ones2 = 0;
        ex[0].train = NULL;
        used = pt_pack_examples(ex, order, 1, 1, T, PT_BYTE_PAD, tokens, targets, mask, pos, seg);
        for (t = 0, bad = 0; t < n0; t++) {
            float w = t + 1 < n0 && t + 1 >= ex[0].n_prompt ? 1.0f : 0.0f;
            bad += mask[t] != w;
            ones2 += mask[t] != 0.0f;
        }
        CHECK(used == 1 && bad == 0 && ones2 == n0 - ex[0].n_prompt, "no train mask: %d wrong, %d ones", bad, ones2);
        ex[0].train = keep;
    }
    /* an example cut to T keeps following its mask */
    {
        int Tc = n0 - 3;
        cut = ex[0];
        used = pt_pack_examples(&cut, order, 1, 1, Tc, PT_BYTE_PAD, tokens, targets, mask, pos, seg);
        for (t = 0, bad = 0; t < Tc; t++) bad += mask[t] != (t + 1 < Tc ? (float)(ex[0].train[t + 1] != 0) : 0.0f);
        CHECK(used == 1 && bad == 0, "cut example: %d wrong", bad);
    }
    pt_examples_free(ex, 2);
}

/* ---------------------------------------------------------------------------------------------
   8. Small helpers
   --------------------------------------------------------------------------------------------- */
static void test_helpers(void)
{
    static const char *names[6] = {"auto", "text", "completion", "messages", "preference", "prompt"};
    pt_dataset ds;
    int k;
    memset(&ds, 0, sizeof ds);
    pt_dataset_free(&ds);
    pt_dataset_free(&ds);
    pt_dataset_free(NULL);
    CHECK(ds.n == 0 && ds.records == NULL, "free of a zeroed dataset");
    CHECK(parse(G G, PT_DATA_AUTO, &ds) == PT_OK, "parse");
    pt_dataset_free(&ds);
    CHECK(ds.n == 0 && ds.records == NULL && ds.kind == 0, "free zeroes the dataset");
    pt_dataset_free(&ds);   /* twice in a row: safe */
    for (k = 0; k < 6; k++) CHECK(strcmp(pt_data_kind_name(k), names[k]) == 0, "kind %d name '%s'", k, pt_data_kind_name(k));
    CHECK(strcmp(pt_data_kind_name(PT_DATA_PREFERENCE), "preference") == 0 && strcmp(pt_data_kind_name(PT_DATA_MESSAGES), "messages") == 0, "enum names");
    CHECK(strcmp(pt_data_kind_name(6), "unknown") == 0, "kind 6: '%s'", pt_data_kind_name(6));
    CHECK(strcmp(pt_data_kind_name(-1), "unknown") == 0, "kind -1: '%s'", pt_data_kind_name(-1));
    CHECK(strcmp(pt_data_kind_name(1000000), "unknown") == 0, "kind 1e6: '%s'", pt_data_kind_name(1000000));
}

/* Found in review: a schema number outside PT_DATA_* (crashed), an empty dataset saved as a file
   the reader refuses, a line the writer makes longer than the reader's default limit, the
   "messages" array not counted as a nesting level, reserved names with the wrong type. */
static void test_review_fixes(void)
{
    static const int bad_kinds[4] = {6, 99, -1, -100};
    pt_tokenizer tok = pt_byte_tokenizer();
    pt_dataset ds, back;
    pt_record r;
    pt_example ex;
    char *big, *line;
    size_t overhead = 0, n, limit = (size_t)1 << 20;
    int k, st, d;
    memset(&r, 0, sizeof r);
    r.prompt = (char *)"hello";
    for (k = 0; k < 4; k++) {
        int chat;
        for (chat = 0; chat < 2; chat++) {
            memset(&ex, 0x5A, sizeof ex);
            st = pt_record_example(&tok, &r, bad_kinds[k], chat, 0, &ex);
            CHECK(st == PT_ERR_ARG && (strstr(pt_last_error(), "schema") != NULL) && ex.ids == NULL,
                  "pt_record_example(kind %d, chat %d): %s '%s'", bad_kinds[k], chat, pt_status_name(st), pt_last_error());
        }
    }
    /* an empty dataset: refused, nothing written */
    memset(&ds, 0, sizeof ds);
    ds.kind = PT_DATA_TEXT;
    st = pt_jsonl_save(&ds, tmp_path("empty_save.jsonl"));
    CHECK(st == PT_ERR_ARG && !file_exists(tmp_path("empty_save.jsonl")) && (strstr(pt_last_error(), "no records") != NULL),
          "saving an empty dataset: %s '%s'", pt_status_name(st), pt_last_error());
    /* the line limit: a text that makes a line of exactly 1 MiB round-trips; one byte more is refused */
    memset(&r, 0, sizeof r);
    ds.n = 1; ds.records = &r;
    r.text = (char *)"abc";
    if (pt_jsonl_save(&ds, tmp_path("small.jsonl")) == PT_OK && (line = read_all(tmp_path("small.jsonl"), &n)) != NULL) {
        overhead = n - 1 - 3;   /* the line minus its text and its '\n' */
        free(line);
    }
    CHECK(overhead > 0 && overhead < 32, "line overhead of a text record: %zu bytes", overhead);
    big = (char *)malloc(limit + 2);
    for (d = 0; d < 2 && overhead > 0; d++) {
        size_t len = limit - overhead + (size_t)d;
        memset(big, 'x', len); big[len] = 0;
        r.text = big;
        st = pt_jsonl_save(&ds, tmp_path("big.jsonl"));
        if (d == 0) {
            CHECK(st == PT_OK, "a line of exactly %zu bytes: %s", limit, pt_last_error());
            st = pt_jsonl_load(tmp_path("big.jsonl"), PT_DATA_AUTO, 0, &back);
            CHECK(st == PT_OK && back.n == 1 && strlen(back.records[0].text) == len, "the 1 MiB line loads back: %s", pt_last_error());
            if (st == PT_OK) pt_dataset_free(&back);
            remove(tmp_path("big.jsonl"));
        } else {
            CHECK(st == PT_ERR_ARG && !file_exists(tmp_path("big.jsonl")) && (strstr(pt_last_error(), "longer than") != NULL),
                  "a line of %zu bytes is refused at save: %s '%s'", limit + 1, pt_status_name(st), pt_last_error());
        }
    }
    free(big);
    /* depth: object 1, "messages" 2, a message 3, then arrays in an extra field: 64 is the limit */
    for (d = 63; d <= 65; d++) {
        char text[512];
        int o = snprintf(text, sizeof text, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\", \"meta\": "), i;
        for (i = 3; i < d; i++) text[o++] = '[';
        for (i = 3; i < d; i++) text[o++] = ']';
        o += snprintf(text + o, sizeof text - (size_t)o, "}]}\n");
        st = parse(text, PT_DATA_AUTO, &back);
        if (d <= 64) { CHECK(st == PT_OK, "messages nested %d deep: %s", d, pt_last_error()); if (st == PT_OK) pt_dataset_free(&back); }
        else CHECK(st == PT_ERR_FORMAT && (strstr(pt_last_error(), "deeper than 64") != NULL), "messages nested %d deep: %s '%s'", d, pt_status_name(st), pt_last_error());
    }
    /* reserved names keep their type in every schema (documented) */
    st = parse("{\"text\": \"a\", \"answer\": 42}\n", PT_DATA_TEXT, &back);
    CHECK(st == PT_ERR_FORMAT && (strstr(pt_last_error(), "\"answer\" must be a string") != NULL), "reserved \"answer\" as a number: %s '%s'",
          pt_status_name(st), pt_last_error());
    if (st == PT_OK) pt_dataset_free(&back);
}

int main(void)
{
    double t0 = pt_time_seconds();
    if (!make_tmp_dir("test_data")) return 1;
    RUN("schemas", test_schemas);
    RUN("malformed JSONL", test_bad_jsonl);
    RUN("load", test_load);
    RUN("save round trips", test_round_trip);
    RUN("save of invalid records", test_save_invalid);
    RUN("NULL message fields", test_null_fields);
    RUN("world datasets", test_world_dataset);
    RUN("records as examples", test_record_example);
    RUN("packing with train masks", test_pack_train);
    RUN("helpers", test_helpers);
    RUN("review fixes", test_review_fixes);
    return finish_tmp("test_data", t0);
}
