// Linked into every test binary (cmake/GalaxyCompiler.cmake, galaxy_test): a test that crashes
// prints the stack of the crash to stderr before it dies of the same signal, so a crash on a
// machine without a debugger (the GPU machine, a CI runner) still says where it happened.
// Sanitizer builds keep the sanitizers' own, better reports.
#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

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

void OnCrash(int signal_number) {
  char line[96];
  const int size = std::snprintf(line, sizeof(line), "\n*** test process got signal %d (%s); stack:\n", signal_number,
                                 ::strsignal(signal_number));
  if (size > 0) WriteAll(line, static_cast<size_t>(size));
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
    action.sa_handler = OnCrash;
    action.sa_flags = SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(s, &action, nullptr);
  }
} install_crash_trace;

#endif

}  // namespace
