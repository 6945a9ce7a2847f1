/* The floor for any pass-through wrapper: one raw execve system call, with no libc at
 * all (no start-up code, no TLS, no stack protector), of the real client REAL (set at
 * compile time) with the caller's own argv and environment. Built with
 *   gcc -O2 -static -nostdlib -no-pie -fno-stack-protector -DREAL='"/path"'
 * Exits 126 if the execve fails. x86-64 Linux only. */
#ifndef REAL
#error "build with -DREAL='\"/absolute/path\"'"
#endif

static const char real[] = REAL;

static long syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return ret;
}

/* Called by _start with the initial stack pointer: argc, then argv, NULL, envp, NULL. */
__attribute__((used, noreturn)) void start_c(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    syscall3(59 /* execve */, (long)real, (long)argv, (long)envp);
    syscall3(60 /* exit */, 126, 0, 0);
    for (;;) {
    }
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call start_c\n"
        "  hlt\n");
