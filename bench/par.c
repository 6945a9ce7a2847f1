/* The floor for "probe every client in parallel": runs each command at once and waits
 * for all of them. usage: par /abs/prog args [-- /abs/prog args ...]; exits 0 when every
 * command did. */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
extern char **environ;
int main(int argc, char **argv) {
    int n = 0, bad = 0;
    for (int i = 1; i < argc;) {
        int start = i;
        while (i < argc && strcmp(argv[i], "--") != 0) i++;
        argv[i < argc ? i : argc] = NULL; /* terminate this command's argv */
        pid_t pid;
        if (posix_spawn(&pid, argv[start], NULL, NULL, argv + start, environ) == 0) n++;
        else bad = 1;
        i++;
    }
    for (int st; n > 0; n--)
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad = 1;
    return bad;
}
