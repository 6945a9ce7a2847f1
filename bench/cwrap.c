/* The reference shim: a static C program that only calls execv on the real client —
 * exactly one extra execve, nothing else. REAL is set at compile time. */
#include <unistd.h>
int main(int argc, char **argv) { (void)argc; execv(REAL, argv); return 126; }
