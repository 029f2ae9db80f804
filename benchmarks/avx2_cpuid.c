/* A process that sees an AVX2-only CPU on a CPU that has more (LD_PRELOAD; Linux x86-64).
 *
 * Libraries choose their kernels from the CPUID instruction: oneDNN (in TensorFlow and OpenVINO),
 * ONNX Runtime's and OpenVINO's MLAS, TensorFlow's own oneDNN switch, NumPy. Environment caps
 * reach only some of them (ONEDNN_MAX_CPU_ISA caps oneDNN, not MLAS), so this shim answers CPUID
 * itself: Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID, on Intel CPUs since Ivy Bridge and in
 * VMs that pass it on: the "cpuid_fault" flag in /proc/cpuinfo) turns every CPUID the process runs
 * into a SIGSEGV, whose handler runs the real CPUID and clears the feature bits an AVX2-only CPU
 * (the AMD EPYCs of Zen 2 and 3) lacks: AVX-512 of every kind, AVX-VNNI, AVX-IFMA, AMX and their
 * state components. The setting holds for every thread the process starts and ends at execve; the
 * shim is loaded again there through LD_PRELOAD.
 *
 * Handlers the program installs for SIGSEGV (Python's faulthandler, for one) are kept aside and
 * called for every fault that is not a CPUID. glibc chose its string functions before the shim
 * loaded: benchmarks/isa.py masks those through GLIBC_TUNABLES.
 *
 * Written for this repository's benchmarks (benchmarks/isa.py builds it with the system's cc).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static struct sigaction program_handler; /* the program's own SIGSEGV handler, SIG_DFL at first */
static volatile sig_atomic_t active;

static sigaction_fn real_sigaction(void) {
    static sigaction_fn fn;
    if (!fn) fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return fn;
}

static long set_cpuid(int enabled) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, enabled); }

#define BIT(n) (1u << (n))

/* CPUID leaf 7 subleaf 0 (EBX, ECX, EDX) and subleaf 1 (EAX, EDX): the bits cleared. */
static const uint32_t L7_EBX = BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31);
/* AVX512F DQ IFMA PF ER CD BW VL */
static const uint32_t L7_ECX = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
/* AVX512_VBMI VBMI2 VNNI BITALG VPOPCNTDQ */
static const uint32_t L7_EDX = BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25);
/* AVX512_4VNNIW 4FMAPS VP2INTERSECT, AMX_BF16, AVX512_FP16, AMX_TILE, AMX_INT8 */
static const uint32_t L7S1_EAX = BIT(4) | BIT(5) | BIT(21) | BIT(23);
/* AVX_VNNI, AVX512_BF16, AMX_FP16, AVX_IFMA; subleaf 1's EDX (AVX-VNNI-INT8/INT16, AVX-NE-CONVERT,
   AMX-COMPLEX, AVX10, APX) is cleared whole */
static const uint32_t XSAVE_STATE = BIT(5) | BIT(6) | BIT(7) | BIT(17) | BIT(18);
/* opmask, ZMM_Hi256, Hi16_ZMM; XTILECFG, XTILEDATA */

static void masked_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    set_cpuid(1);
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
    set_cpuid(0);
    if (leaf == 7 && sub == 0) {
        r[1] &= ~L7_EBX;
        r[2] &= ~L7_ECX;
        r[3] &= ~L7_EDX;
    } else if (leaf == 7 && sub == 1) {
        r[0] &= ~L7S1_EAX;
        r[3] = 0;
    } else if (leaf == 0xd && sub == 0) {
        r[0] &= ~XSAVE_STATE;
    } else if (leaf == 0xd && (sub == 5 || sub == 6 || sub == 7 || sub == 17 || sub == 18)) {
        r[0] = r[1] = r[2] = r[3] = 0; /* the removed state components' sizes */
    } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
        r[0] = r[1] = r[2] = r[3] = 0; /* AMX tiles, TMUL, AVX10 */
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
    if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) {
        uint32_t r[4];
        masked_cpuid((uint32_t)regs[REG_RAX], (uint32_t)regs[REG_RCX], r);
        regs[REG_RAX] = r[0];
        regs[REG_RBX] = r[1];
        regs[REG_RCX] = r[2];
        regs[REG_RDX] = r[3];
        regs[REG_RIP] += 2;
        return;
    }
    if (program_handler.sa_flags & SA_SIGINFO) {
        program_handler.sa_sigaction(sig, info, context);
    } else if (program_handler.sa_handler != SIG_DFL && program_handler.sa_handler != SIG_IGN) {
        program_handler.sa_handler(sig);
    } else { /* a real fault: the default action, when the instruction runs again */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        real_sigaction()(SIGSEGV, &dfl, NULL);
    }
}

/* The program's SIGSEGV handlers are kept for faults that are not CPUIDs; ours stays installed. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (sig != SIGSEGV || !active) return real_sigaction()(sig, act, old);
    if (old) *old = program_handler;
    if (act) program_handler = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
    if (sig != SIGSEGV || !active) {
        static sighandler_t (*real_signal)(int, sighandler_t);
        if (!real_signal) real_signal = (sighandler_t(*)(int, sighandler_t))dlsym(RTLD_NEXT, "signal");
        return real_signal(sig, handler);
    }
    sighandler_t before = (program_handler.sa_flags & SA_SIGINFO) ? SIG_DFL : program_handler.sa_handler;
    memset(&program_handler, 0, sizeof program_handler);
    program_handler.sa_handler = handler;
    return before;
}

__attribute__((constructor)) static void start(void) {
    struct sigaction act = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO};
    sigemptyset(&act.sa_mask);
    program_handler.sa_handler = SIG_DFL;
    if (real_sigaction()(SIGSEGV, &act, NULL) || set_cpuid(0)) {
        fprintf(stderr, "avx2_cpuid: CPUID faulting is not available here (arch_prctl ARCH_SET_CPUID): "
                        "this process sees the CPU's own features\n");
        if (getenv("AVX2_CPUID_REQUIRED")) _exit(3);
        return;
    }
    active = 1;
}
