/* A client that answers `--version` like a real Docker CLI (VERSION set at compile time)
 * and otherwise exits 0 at once, so a benchmark measures dockroute, not dockerd. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) printf("Docker version %s, build bench\n", VERSION);
    return 0;
}
