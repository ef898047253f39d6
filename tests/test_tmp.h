/* Temporary files for the tests: one mkdtemp directory per test binary (the test fills g_dir),
   paths inside it remembered by tmp_path() so cleanup_tmp() removes them (and any leftover
   "<path>.tmp" of an atomic save) and then the directory, checking that it is gone. POSIX only.
   Include after test.h. */
#ifndef PT_TEST_TMP_H
#define PT_TEST_TMP_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define TEST_MAX_TMP 192
static char g_dir[64];
static char g_files[TEST_MAX_TMP][160];
static int g_nfiles;

/* A path inside the temporary directory; remembered so the cleanup removes it. */
TEST_MAYBE_UNUSED static const char *tmp_path(const char *name)
{
    int i;
    char p[160];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    for (i = 0; i < g_nfiles; i++) if (strcmp(g_files[i], p) == 0) return g_files[i];
    if (g_nfiles == TEST_MAX_TMP) { printf("too many temp files\n"); exit(2); }
    strcpy(g_files[g_nfiles], p);
    return g_files[g_nfiles++];
}
TEST_MAYBE_UNUSED static void cleanup_tmp(void)
{
    int i;
    for (i = 0; i < g_nfiles; i++) {
        char t[200];
        remove(g_files[i]);
        snprintf(t, sizeof t, "%.150s.tmp", g_files[i]);
        remove(t);
    }
    if (g_dir[0]) CHECK(rmdir(g_dir) == 0, "temp dir %s not removed (stray files?)", g_dir);
}
TEST_MAYBE_UNUSED static int file_exists(const char *p) { struct stat st; return stat(p, &st) == 0; }
#endif
