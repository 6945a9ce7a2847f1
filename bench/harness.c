/* Per-call wall time of several commands, measured interleaved in one run.
 *
 * usage: harness [-w WARMUP] N GROUP [--- GROUP ...]
 *   GROUP = LABEL [@rmrf=DIR ...] [KEY=VAL ...] /abs/prog [ARGS ...]
 *
 * Each group is a label, optional preparation steps (`@rmrf=DIR`: remove DIR before
 * every run of the group, untimed — an empty cache each time), the child's whole
 * environment, then the program (absolute path) and its arguments.
 *
 * Every round runs each group once, in a freshly shuffled order, so machine noise (other
 * processes, frequency changes, cache warmth left by the previous command) falls on all
 * of them alike. WARMUP rounds (default 50) run first and are not recorded. A run is
 * posix_spawn (vfork-style: no page-table copy of the harness) + waitpid, timed with
 * CLOCK_MONOTONIC; children's stdout/stderr go to /dev/null.
 *
 * Output, one line per group, times in microseconds:
 *   LABEL MEDIAN P10 P90 MEAN FAILS FAULTS
 * FAULTS is the median number of page faults (minor + major, from wait4's rusage) of the
 * child and of whatever it exec'd into.
 * and, for every group after the first, one line of per-round paired differences
 * against the first group (the same round's samples), which cancel slow drift:
 *   LABEL-minus-FIRST MEDIAN_OF_DIFFERENCES P10 P90 MEAN 0 0
 * FAILS counts runs (warm-up included) that did not exit 0; the first is also reported
 * on stderr. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXG 32

struct group {
    const char *label;
    char **rmrf; int nrmrf;
    char **env;
    char **argv;
    double *t;
    double *faults;
    int fails;
};

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;
static unsigned next_rand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static posix_spawn_file_actions_t fa;

/* One run of g: returns wall microseconds and stores the page faults (minor + major) of
 * the child and whatever it exec'd into; counts a failure when not exit 0. */
static double run(struct group *g, double *faults) {
    for (int k = 0; k < g->nrmrf; k++)
        nftw(g->rmrf[k], rm_one, 16, FTW_DEPTH | FTW_PHYS);
    struct timespec a, b;
    pid_t pid;
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    clock_gettime(CLOCK_MONOTONIC, &a);
    int e = posix_spawn(&pid, g->argv[0], &fa, NULL, g->argv, g->env);
    if (e == 0) wait4(pid, &st, 0, &ru);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *faults = (double)(ru.ru_minflt + ru.ru_majflt);
    if (e != 0 || !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        if (g->fails++ == 0)
            fprintf(stderr, "warning: %s: %s (status %d)\n", g->label,
                    e ? strerror(e) : "did not exit 0", st);
    }
    return (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
}

static double median(double *v, int n) {
    qsort(v, n, sizeof(double), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void stats(const char *label, const char *suffix, double *v, int n, int fails, double faults) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    double med = median(v, n);
    printf("%s%s %.2f %.2f %.2f %.2f %d %.0f\n", label, suffix, med, v[n / 10], v[n * 9 / 10], sum / n, fails, faults);
}

int main(int argc, char **argv) {
    int warmup = 50, i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-w") == 0) { warmup = atoi(argv[i + 1]); i += 2; }
    if (argc - i < 3) {
        fprintf(stderr, "usage: harness [-w WARMUP] N LABEL [@rmrf=DIR...] [K=V...] /PROG [ARGS...] [--- ...]\n");
        return 2;
    }
    int n = atoi(argv[i++]);
    if (n < 1) { fprintf(stderr, "harness: N must be positive\n"); return 2; }
    struct group g[MAXG];
    int ng = 0;
    while (i < argc) {
        if (ng == MAXG) { fprintf(stderr, "harness: at most %d groups\n", MAXG); return 2; }
        struct group *cur = &g[ng++];
        memset(cur, 0, sizeof *cur);
        cur->label = argv[i++];
        cur->rmrf = calloc(argc, sizeof(char *));
        while (i < argc && strncmp(argv[i], "@rmrf=", 6) == 0) cur->rmrf[cur->nrmrf++] = argv[i++] + 6;
        int env_start = i;
        while (i < argc && argv[i][0] != '/' && strchr(argv[i], '=')) i++;
        int nenv = i - env_start;
        cur->env = calloc(nenv + 1, sizeof(char *));
        for (int k = 0; k < nenv; k++) cur->env[k] = argv[env_start + k];
        int arg_start = i;
        while (i < argc && strcmp(argv[i], "---") != 0) i++;
        int nargs = i - arg_start;
        cur->argv = calloc(nargs + 1, sizeof(char *));
        for (int k = 0; k < nargs; k++) cur->argv[k] = argv[arg_start + k];
        if (nargs == 0 || cur->argv[0][0] != '/') {
            fprintf(stderr, "harness: group %s needs an absolute program path\n", cur->label);
            return 2;
        }
        cur->t = calloc(n, sizeof(double));
        cur->faults = calloc(n, sizeof(double));
        if (i < argc) i++; /* skip --- */
    }
    int devnull = open("/dev/null", O_RDWR);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 0);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, devnull, 2);

    int order[MAXG];
    for (int k = 0; k < ng; k++) order[k] = k;
    for (int r = -warmup; r < n; r++) {
        for (int k = ng - 1; k > 0; k--) {
            int j = next_rand() % (k + 1), tmp = order[k];
            order[k] = order[j]; order[j] = tmp;
        }
        for (int k = 0; k < ng; k++) {
            struct group *cur = &g[order[k]];
            double f;
            double t = run(cur, &f);
            if (r >= 0) { cur->t[r] = t; cur->faults[r] = f; }
        }
    }
    double *d = calloc(n, sizeof(double));
    char suffix[256];
    snprintf(suffix, sizeof suffix, "-minus-%s", g[0].label);
    for (int k = 1; k < ng; k++) {
        for (int r = 0; r < n; r++) d[r] = g[k].t[r] - g[0].t[r];
        stats(g[k].label, suffix, d, n, 0, 0);
    }
    for (int k = 0; k < ng; k++) stats(g[k].label, "", g[k].t, n, g[k].fails, median(g[k].faults, n));
    return 0;
}
