/* A stand-in client: answers `--version` exactly like a real Docker CLI (VERSION and BUILD
 * set at compile time) and otherwise exits 0 at once, so a benchmark measures dockroute's
 * decision, not a client or a daemon. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0)
        printf("Docker version %s, build %s\n", VERSION, BUILD);
    return 0;
}
