// Runs galaxy-search binaries as child processes for integration tests: a command to completion
// with its output captured, or a long-running galaxy-server on a free loopback port.
#ifndef GALAXY_TESTS_SUBPROCESS_H_
#define GALAXY_TESTS_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace galaxy::testutil {

// Directory of the built binaries (build/bin).
std::string BinDir();

struct CommandResult {
  // Exit status when the process exited normally; -signal when a signal killed it.
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) to completion; stdout and stderr captured separately.
// DEADLINE_EXCEEDED (the child is killed) when it runs longer than `timeout`.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout = absl::Seconds(120));

// Runs `argv` and kills it with SIGKILL as soon as its stderr holds `marker` (at once when the
// marker is empty); a child that never writes it runs to its end. exit_code says which happened
// (-SIGKILL: killed). DEADLINE_EXCEEDED when it runs longer than `timeout`.
absl::StatusOr<CommandResult> RunUntilOutput(const std::vector<std::string>& argv, const std::string& marker,
                                             absl::Duration timeout = absl::Seconds(120));

// One of the commands RunTogether runs: `argv`, with `env` ("NAME=value") added to (or replacing
// in) this process's environment; killed with SIGKILL as soon as its stderr holds `kill_marker`
// (never when empty).
struct ConcurrentCommand {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string kill_marker;
};

// Runs `commands` at the same time (the ranks of a training group) until every one has exited;
// their results in the same order. DEADLINE_EXCEEDED (all are killed) past `timeout`.
absl::StatusOr<std::vector<CommandResult>> RunTogether(const std::vector<ConcurrentCommand>& commands,
                                                       absl::Duration timeout = absl::Seconds(300));

// A galaxy-server child process on 127.0.0.1 and a free port. Killed (SIGKILL) on destruction
// if still running.
class ServerProcess {
 public:
  // Starts build/bin/galaxy-server with `extra_args` plus --listen 127.0.0.1:0 and a port file,
  // and waits until it is listening. Its log goes to `log_path` (a temp file when empty).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::vector<std::string>& extra_args, absl::Duration timeout = absl::Seconds(30));

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the exit. Returns the exit code (or -signal).
  absl::StatusOr<int> Stop(int signal, absl::Duration timeout = absl::Seconds(30));

  // The server's log so far.
  std::string Log() const;

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string work_dir_;
};

}  // namespace galaxy::testutil

#endif  // GALAXY_TESTS_SUBPROCESS_H_
