/* Per-call wall time of several commands, measured interleaved in one run.
 *
 * usage: harness N LABEL KEY=VAL... /abs/prog args... --- LABEL ... --- ...
 * Each group: a label, then environment assignments (the child's whole environment),
 * then the program (absolute path) and its arguments. Every round runs each group once
 * (fork, execve, waitpid) so machine noise falls on all of them alike. Prints, per
 * group, the median and the 10th/90th percentiles in microseconds. stdout/stderr of the
 * children go to /dev/null. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct group { const char *label; char **env; char **argv; double *t; };

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: harness N LABEL [K=V...] PROG [ARGS...] [--- ...]\n"); return 2; }
    int n = atoi(argv[1]);
    struct group g[32]; int ng = 0;
    int i = 2;
    while (i < argc && ng < 32) {
        struct group *cur = &g[ng++];
        cur->label = argv[i++];
        int env_start = i;
        while (i < argc && strchr(argv[i], '=') && argv[i][0] != '/') i++;
        int nenv = i - env_start;
        cur->env = calloc(nenv + 1, sizeof(char *));
        for (int k = 0; k < nenv; k++) cur->env[k] = argv[env_start + k];
        int arg_start = i;
        while (i < argc && strcmp(argv[i], "---") != 0) i++;
        int nargs = i - arg_start;
        cur->argv = calloc(nargs + 1, sizeof(char *));
        for (int k = 0; k < nargs; k++) cur->argv[k] = argv[arg_start + k];
        cur->t = calloc(n, sizeof(double));
        if (i < argc) i++; /* skip --- */
    }
    int devnull = open("/dev/null", O_WRONLY);
    for (int r = 0; r < n; r++) {
        for (int k = 0; k < ng; k++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            pid_t pid = fork();
            if (pid == 0) {
                dup2(devnull, 1); dup2(devnull, 2);
                execve(g[k].argv[0], g[k].argv, g[k].env);
                _exit(127);
            }
            int st; waitpid(pid, &st, 0);
            clock_gettime(CLOCK_MONOTONIC, &b);
            g[k].t[r] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
            if (r == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
                fprintf(stderr, "warning: %s exited with status %d\n", g[k].label, st);
        }
    }
    for (int k = 0; k < ng; k++) {
        qsort(g[k].t, n, sizeof(double), cmp);
        printf("%s %.1f %.1f %.1f\n", g[k].label, g[k].t[n / 2], g[k].t[n / 10], g[k].t[n * 9 / 10]);
    }
    return 0;
}
