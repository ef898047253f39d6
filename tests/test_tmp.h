/* Temporary files for the tests: one mkdtemp directory per test binary (make_tmp_dir() fills
   g_dir), paths inside it remembered by tmp_path() so cleanup_tmp() removes them (and any leftover
   "<path>.tmp" of an atomic save) and then the directory, checking that it is gone; finish_tmp()
   ends a test's main with that. Also the other POSIX-only helpers: stdout captured into a file,
   a function run in a fork()ed child. Include after posttrain.h and test.h. */
#ifndef PT_TEST_TMP_H
#define PT_TEST_TMP_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
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
/* Makes the test's directory /tmp/pt_<name>_XXXXXX and puts it in g_dir; 0 (and a message) if not. */
TEST_MAYBE_UNUSED static int make_tmp_dir(const char *name)
{
    char t[64];
    snprintf(t, sizeof t, "/tmp/pt_%s_XXXXXX", name);
    if (!mkdtemp(t)) { printf("mkdtemp failed\n"); return 0; }
    snprintf(g_dir, sizeof g_dir, "%s", t);
    return 1;
}
/* The end of a test's main: cleanup_tmp(), the time since t0, then test_end(name). */
TEST_MAYBE_UNUSED static int finish_tmp(const char *name, double t0)
{
    cleanup_tmp();
    printf("  total %.1f s%s\n", pt_time_seconds() - t0, T_SANITIZED ? " (sanitized)" : "");
    return test_end(name);
}

/* Redirects stdout into a file until capture_end() (to see what a run prints, or that it prints
   nothing). */
TEST_MAYBE_UNUSED static int g_saved_stdout = -1;
TEST_MAYBE_UNUSED static void capture_begin(const char *path)
{
    int fd;
    fflush(stdout);
    g_saved_stdout = dup(1);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) { dup2(fd, 1); close(fd); }
}
TEST_MAYBE_UNUSED static void capture_end(void)
{
    fflush(stdout);
    if (g_saved_stdout >= 0) { dup2(g_saved_stdout, 1); close(g_saved_stdout); g_saved_stdout = -1; }
}

/* Runs fn(arg) in a child process (stdout/stderr silenced) and returns its exit code (0..255), or
   1000 + the signal that killed it. Used for inputs expected to crash a buggy build; call it before
   OpenMP starts its worker threads (a forked child of a process with an OpenMP pool must not enter a
   parallel region). */
TEST_MAYBE_UNUSED static int run_in_child(int (*fn)(void *), void *arg)
{
    pid_t pid;
    int status = 0;
    fflush(stdout); fflush(stderr);
    pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
        _exit(fn(arg));
    }
    if (waitpid(pid, &status, 0) < 0) return -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);
    return -1;
}
#endif
