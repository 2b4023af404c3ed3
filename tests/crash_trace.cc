// Linked into every test binary (cmake/GalaxyCompiler.cmake, galaxy_test): a test that crashes
// prints the stack of the crash to stderr before it dies of the same signal, so a crash on a
// machine without a debugger (the GPU machine, a CI runner) still says where it happened.
// Sanitizer builds keep the sanitizers' own, better reports.
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace {

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

void WriteAll(const char* text, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, size);
    if (n <= 0) return;
    text += n;
    size -= static_cast<size_t>(n);
  }
}

// Writes what snprintf put in `line` (size: its return value; truncated output is cut at the end).
void WriteFormatted(const char* line, int size, size_t capacity) {
  if (size > 0) WriteAll(line, std::min<size_t>(static_cast<size_t>(size), capacity - 1));
}

void OnCrash(int signal_number, siginfo_t* info, void* context) {
  char line[512];
  int size = std::snprintf(line, sizeof(line), "\n*** test process got signal %d (%s) in thread %ld, address %p\n",
                           signal_number, ::strsignal(signal_number), static_cast<long>(::syscall(SYS_gettid)),
                           info != nullptr ? info->si_addr : nullptr);
  WriteFormatted(line, size, sizeof(line));
#if defined(__x86_64__)
  // The faulting instruction, by library and symbol: code without unwind tables (JIT kernels,
  // some assembly) stops the stack below at the signal frame, but this line still names it.
  if (context != nullptr) {
    void* pc = reinterpret_cast<void*>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP]);
    Dl_info where{};
    const bool in_library = ::dladdr(pc, &where) != 0;
    if (in_library) {
      size = std::snprintf(line, sizeof(line), "*** at %p: %s+%#lx (%s+%#lx)\n", pc,
                           where.dli_fname != nullptr ? where.dli_fname : "?",
                           static_cast<unsigned long>(static_cast<char*>(pc) - static_cast<char*>(where.dli_fbase)),
                           where.dli_sname != nullptr ? where.dli_sname : "?",
                           where.dli_saddr != nullptr
                               ? static_cast<unsigned long>(static_cast<char*>(pc) - static_cast<char*>(where.dli_saddr))
                               : 0ul);
    } else {
      size = std::snprintf(line, sizeof(line), "*** at %p: in no loaded library (generated code?)\n", pc);
    }
    WriteFormatted(line, size, sizeof(line));
    if (!in_library) {
      // A call through a null or stray pointer: the caller's return address is on top of the stack.
      void* caller = *reinterpret_cast<void**>(static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RSP]);
      Dl_info from{};
      if (::dladdr(caller, &from) != 0) {
        size = std::snprintf(line, sizeof(line), "*** called from %p: %s+%#lx (%s)\n", caller,
                             from.dli_fname != nullptr ? from.dli_fname : "?",
                             static_cast<unsigned long>(static_cast<char*>(caller) - static_cast<char*>(from.dli_fbase)),
                             from.dli_sname != nullptr ? from.dli_sname : "?");
        WriteFormatted(line, size, sizeof(line));
      }
    }
  }
#endif
  WriteAll("*** stack:\n", 11);
  void* frames[64];
  const int count = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, count, STDERR_FILENO);
  // The handler was installed with SA_RESETHAND: this dies of the same signal, as without it.
  ::raise(signal_number);
}

struct InstallCrashTrace {
  InstallCrashTrace() {
    // backtrace() loads libgcc_s on its first call, which allocates: do it now, not in the handler.
    void* warm[2];
    (void)::backtrace(warm, 2);
    // Its own stack, so that a stack overflow is reported too.
    static char alternate_stack[64 * 1024];
    stack_t ss{};
    ss.ss_sp = alternate_stack;
    ss.ss_size = sizeof(alternate_stack);
    ::sigaltstack(&ss, nullptr);
    struct sigaction action {};
    action.sa_sigaction = OnCrash;
    action.sa_flags = SA_RESETHAND | SA_ONSTACK | SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(s, &action, nullptr);
  }
} install_crash_trace;

#endif

}  // namespace
