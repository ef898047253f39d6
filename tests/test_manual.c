/* test_manual: the header's manual cannot drift from the file.
   - The version on line 1, the macros and the newest HISTORY entry agree.
   - The table of contents lists the >>markers in the order of the section banners, in both halves
     (API and implementation), and every banner carries its marker.
   - Every public function is defined in the implementation section of the same marker as the API
     section that declares it, and every declared function is defined.
   - Density: no line over 120 characters; one statement per line in the implementation.
   Run from the repository root (make test does), or give the header's path as the argument. */
#include "test.h"
#include <ctype.h>
#include <string.h>
#include "posttrain.h"

#define MAX_LINES 20000
#define MAX_MARKS 64
#define MAX_FUNCS 2000

static char *lines[MAX_LINES];
static int n_lines;

typedef struct { char name[64]; char mark[32]; int line; } func_site;
static func_site api_funcs[MAX_FUNCS], impl_funcs[MAX_FUNCS];
static int n_api, n_impl;

/* A banner line: three spaces, a section number (10, 2a, 8b), a dot, a title, and optionally a
   >>marker at the end. Returns 1 and copies the marker (empty when none). */
static int banner_marker(const char *line, char *mark, size_t cap)
{
    const char *p = line, *m;
    size_t n;
    mark[0] = 0;
    if (strncmp(p, "   ", 3) != 0 || !isdigit((unsigned char)p[3])) return 0;
    p += 3;
    while (isdigit((unsigned char)*p)) p++;
    if (islower((unsigned char)*p)) p++;
    if (p[0] != '.' || p[1] != ' ' || !isalpha((unsigned char)p[2])) return 0;
    m = strstr(line, ">>");
    if (!m) return 1;
    m += 2;
    for (n = 0; n + 1 < cap && (isalnum((unsigned char)m[n]) || m[n] == '_'); n++) mark[n] = m[n];
    mark[n] = 0;
    return 1;
}
/* The function name of a PTDEF line: the identifier right before the first '('. */
static int ptdef_name(const char *line, char *name, size_t cap)
{
    const char *paren = strchr(line, '('), *e, *b;
    size_t n;
    if (strncmp(line, "PTDEF ", 6) != 0 || !paren) return 0;
    e = paren;
    while (e > line && e[-1] == ' ') e--;
    b = e;
    while (b > line && (isalnum((unsigned char)b[-1]) || b[-1] == '_')) b--;
    n = (size_t)(e - b);
    if (n == 0 || n >= cap) return 0;
    memcpy(name, b, n);
    name[n] = 0;
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "posttrain.h";
    size_t size;
    unsigned char *text = read_bytes(path, &size);
    char toc[MAX_MARKS][32], api[MAX_MARKS][32], impl[MAX_MARKS][32], cur[32] = "";
    int n_toc = 0, n_apim = 0, n_implm = 0, impl_start = -1, i, j, in_toc = 0;
    if (!text) {
        printf("cannot read %s (run from the repository root)\n", path);
        return 1;
    }
    text[size] = 0;
    {   /* split into lines in place */
        char *p = (char *)text;
        while (*p && n_lines < MAX_LINES) {
            char *nl = strchr(p, '\n');
            lines[n_lines++] = p;
            if (!nl) break;
            *nl = 0;
            p = nl + 1;
        }
    }
    for (i = 0; i < n_lines; i++)
        if (strcmp(lines[i], "#ifdef POSTTRAIN_IMPLEMENTATION") == 0) { impl_start = i; break; }
    CHECK(impl_start > 0, "no line '#ifdef POSTTRAIN_IMPLEMENTATION'");

    {   /* version: line 1, the macros, the string, the newest history entry */
        char want[32], line1[80], *h = NULL;
        snprintf(want, sizeof want, "%d.%d.%d", PT_VERSION_MAJOR, PT_VERSION_MINOR, PT_VERSION_PATCH);
        snprintf(line1, sizeof line1, "posttrain.h - v%s - ", want);
        CHECK(strstr(lines[0], line1) != NULL, "line 1 must say v%s: %.60s", want, lines[0]);
        CHECK(strcmp(PT_VERSION_STRING, want) == 0, "PT_VERSION_STRING %s vs the numbers %s", PT_VERSION_STRING, want);
        {   /* as text too: tools that read the header (not compile it) see a literal string */
            char lit[64];
            int found = 0;
            snprintf(lit, sizeof lit, "#define PT_VERSION_STRING \"%s\"", want);
            for (i = 0; i < n_lines; i++) found += strncmp(lines[i], lit, strlen(lit)) == 0;
            CHECK(found == 1, "the header must say %s literally (found %d)", lit, found);
        }
        for (i = 0; i < n_lines; i++) {
            const char *p = lines[i];
            while (*p == ' ') p++;
            if (isdigit((unsigned char)p[0]) && p[1] == '.' && strstr(p, " (20") && p - lines[i] == 5) h = lines[i];
        }
        CHECK(h && strncmp(h + 5, want, strlen(want)) == 0, "the newest HISTORY entry must be %s: %.40s", want,
              h ? h : "(none)");
        {
            int n_hist = 0;
            for (i = 0; i < n_lines; i++) n_hist += strstr(lines[i], "HISTORY") != NULL && strlen(lines[i]) < 40;
            CHECK(n_hist == 1, "one HISTORY block, found %d headings", n_hist);
        }
    }

    for (i = 0; i < n_lines; i++) {   /* the TOC: every >>marker between its heading and the blank line */
        const char *p;
        if (strstr(lines[i], "TABLE OF CONTENTS")) { in_toc = 1; continue; }
        if (!in_toc) continue;
        if (lines[i][0] == 0) break;
        for (p = strstr(lines[i], ">>"); p && n_toc < MAX_MARKS; p = strstr(p + 2, ">>")) {
            size_t n = 0;
            p += 2;
            while (n < 31 && (isalnum((unsigned char)p[n]) || p[n] == '_')) { toc[n_toc][n] = p[n]; n++; }
            toc[n_toc][n] = 0;
            if (n) n_toc++;
        }
    }
    CHECK(n_toc >= 10, "the table of contents lists %d markers", n_toc);

    for (i = 0; i < n_lines; i++) {   /* banners of both halves, and where each PTDEF sits */
        char mark[32], name[64];
        int in_impl = impl_start >= 0 && i > impl_start;
        if (banner_marker(lines[i], mark, sizeof mark)) {
            CHECK(mark[0] != 0, "line %d: the section banner has no >>marker: %.70s", i + 1, lines[i]);
            if (mark[0] && strcmp(mark, "implementation") != 0) {
                if (in_impl) {
                    CHECK(strstr(lines[i], "(implementation)") != NULL, "line %d: an implementation banner must say so",
                          i + 1);
                    if (n_implm < MAX_MARKS) strcpy(impl[n_implm++], mark);
                } else if (n_apim < MAX_MARKS) {
                    strcpy(api[n_apim++], mark);
                }
                strcpy(cur, mark);
            }
        }
        if (ptdef_name(lines[i], name, sizeof name)) {
            func_site *f = in_impl ? (n_impl < MAX_FUNCS ? &impl_funcs[n_impl++] : NULL)
                                   : (n_api < MAX_FUNCS ? &api_funcs[n_api++] : NULL);
            if (f) {
                strcpy(f->name, name);
                strcpy(f->mark, cur);
                f->line = i + 1;
            }
        }
    }
    CHECK(n_apim == n_toc, "the API half has %d marked banners, the TOC lists %d", n_apim, n_toc);
    CHECK(n_implm == n_toc, "the implementation half has %d marked banners, the TOC lists %d", n_implm, n_toc);
    for (i = 0; i < n_toc; i++) {
        CHECK(i < n_apim && strcmp(api[i], toc[i]) == 0, "API banner %d is >>%s, the TOC says >>%s", i + 1,
              i < n_apim ? api[i] : "(missing)", toc[i]);
        CHECK(i < n_implm && strcmp(impl[i], toc[i]) == 0, "implementation banner %d is >>%s, the TOC says >>%s", i + 1,
              i < n_implm ? impl[i] : "(missing)", toc[i]);
    }

    {   /* each public function lives in the same section in both halves */
        int misplaced = 0, missing = 0;
        for (i = 0; i < n_api; i++) {
            int found = 0;
            for (j = 0; j < n_impl; j++)
                if (strcmp(api_funcs[i].name, impl_funcs[j].name) == 0) {
                    found = 1;
                    if (strcmp(api_funcs[i].mark, impl_funcs[j].mark) != 0) {
                        misplaced++;
                        printf("  %s: declared in >>%s (line %d), defined in >>%s (line %d)\n", api_funcs[i].name,
                               api_funcs[i].mark, api_funcs[i].line, impl_funcs[j].mark, impl_funcs[j].line);
                    }
                    break;
                }
            if (!found) {
                missing++;
                printf("  %s: declared (line %d) but not defined\n", api_funcs[i].name, api_funcs[i].line);
            }
        }
        CHECK(n_api > 150, "found %d public declarations", n_api);
        CHECK(misplaced == 0, "%d public functions are defined in another section than the one declaring them",
              misplaced);
        CHECK(missing == 0, "%d public functions are declared but not defined", missing);
    }
    {   /* density: lines of at most 120 characters; in the implementation one statement per line
           (a for header's two semicolons, strings, comments, case labels and macros aside) */
        int long_lines = 0, multi = 0, in_comment = 0;
        for (i = 0; i < n_lines; i++) {
            const char *l = lines[i], *p;
            int semis = 0, paren = 0;
            char quote = 0;
            if (strlen(l) > 120) {
                if (long_lines++ < 3) printf("  line %d has %d characters\n", i + 1, (int)strlen(l));
            }
            if (i <= impl_start) continue;
            while (*l == ' ') l++;
            if (in_comment) {
                if (strstr(l, "*/")) in_comment = 0;
                continue;
            }
            if (strncmp(l, "/*", 2) == 0) {
                in_comment = strstr(l, "*/") == NULL;
                continue;
            }
            if (*l == '#' || strncmp(l, "case ", 5) == 0 || strncmp(l, "default:", 8) == 0) continue;
            if (strlen(l) > 0 && l[strlen(l) - 1] == '\\') continue;
            for (p = l; *p; p++) {
                if (quote) {
                    if (*p == '\\' && p[1]) p++;
                    else if (*p == quote) quote = 0;
                    continue;
                }
                if (*p == '"' || *p == '\'') quote = *p;
                else if (p[0] == '/' && p[1] == '*') break;
                else if (*p == '(') paren++;
                else if (*p == ')') paren--;
                else if (*p == ';' && paren == 0) semis++;
            }
            if (semis >= 2 && multi++ < 3) printf("  line %d has %d statements: %.70s\n", i + 1, semis, l);
        }
        CHECK(long_lines == 0, "%d lines are longer than 120 characters", long_lines);
        CHECK(multi == 0, "%d implementation lines hold more than one statement", multi);
    }
    {   /* the checker can fail: a banner without a marker is seen as one */
        char mark[32];
        CHECK(banner_marker("   4b. Something new", mark, sizeof mark) && mark[0] == 0,
              "self-test: a banner without a marker must be caught");
    }
    free(text);
    return test_end("test_manual");
}
