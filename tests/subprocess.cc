#include "tests/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/file_util.h"

extern char** environ;

namespace galaxy::testutil {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string FreshDir(absl::string_view stem) {
  static int counter = 0;
  fs::path dir = fs::temp_directory_path() /
                 absl::StrCat("galaxy_", stem, "_", ::getpid(), "_", counter++);
  RemoveTree(dir).IgnoreError();
  fs::create_directories(dir);
  return dir.string();
}

// Starts argv with stdout/stderr redirected to files, with `env` ("NAME=value") over this
// process's environment.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& out_path,
                            const std::string& err_path, const std::vector<std::string>& env = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    const absl::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& added : env) replaced = replaced || absl::StartsWith(added, absl::StrCat(name, "="));
    if (!replaced) environment.push_back(*e);
  }
  for (const std::string& added : env) environment.push_back(const_cast<char*>(added.c_str()));
  environment.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environment.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": rc ", rc));
  return pid;
}

// Waits for `pid` until `deadline`; returns the exit code (-signal) or DEADLINE_EXCEEDED.
absl::StatusOr<int> WaitUntil(pid_t pid, absl::Time deadline) {
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (done < 0) return absl::InternalError("waitpid failed");
    if (absl::Now() > deadline) return absl::DeadlineExceededError("process did not exit in time");
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace

std::string BinDir() { return GALAXY_BIN_DIR; }

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout) {
  std::string dir = FreshDir("cmd");
  absl::StatusOr<pid_t> pid = Spawn(argv, dir + "/out", dir + "/err");
  if (!pid.ok()) return pid.status();
  absl::StatusOr<int> code = WaitUntil(*pid, absl::Now() + timeout);
  if (!code.ok()) {
    ::kill(*pid, SIGKILL);
    ::waitpid(*pid, nullptr, 0);
    return code.status();
  }
  CommandResult result{*code, ReadFile(dir + "/out"), ReadFile(dir + "/err")};
  RemoveTree(dir).IgnoreError();
  return result;
}

absl::StatusOr<CommandResult> RunUntilOutput(const std::vector<std::string>& argv, const std::string& marker,
                                             absl::Duration timeout) {
  std::string dir = FreshDir("cmd");
  absl::StatusOr<pid_t> pid = Spawn(argv, dir + "/out", dir + "/err");
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(*pid, &status, WNOHANG);
    if (done == *pid) break;
    if (done < 0) return absl::InternalError("waitpid failed");
    if (marker.empty() || ReadFile(dir + "/err").find(marker) != std::string::npos) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, &status, 0);
      break;
    }
    if (absl::Now() > deadline) {
      ::kill(*pid, SIGKILL);
      ::waitpid(*pid, nullptr, 0);
      return absl::DeadlineExceededError(absl::StrCat(argv[0], " ran past ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  CommandResult result{WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), ReadFile(dir + "/out"),
                       ReadFile(dir + "/err")};
  RemoveTree(dir).IgnoreError();
  return result;
}

absl::StatusOr<std::vector<CommandResult>> RunTogether(const std::vector<ConcurrentCommand>& commands,
                                                       absl::Duration timeout) {
  const std::string dir = FreshDir("together");
  std::vector<pid_t> pids;
  std::vector<int> codes(commands.size(), 0);
  std::vector<bool> running;
  auto kill_all = [&] {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (!running[i]) continue;
      ::kill(pids[i], SIGKILL);
      ::waitpid(pids[i], nullptr, 0);
    }
  };
  for (size_t i = 0; i < commands.size(); ++i) {
    absl::StatusOr<pid_t> pid =
        Spawn(commands[i].argv, absl::StrCat(dir, "/out", i), absl::StrCat(dir, "/err", i), commands[i].env);
    if (!pid.ok()) {
      kill_all();
      return pid.status();
    }
    pids.push_back(*pid);
    running.push_back(true);
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (std::find(running.begin(), running.end(), true) != running.end()) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (!running[i]) continue;
      int status = 0;
      if (::waitpid(pids[i], &status, WNOHANG) == pids[i]) {
        running[i] = false;
        codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      } else if (!commands[i].kill_marker.empty() &&
                 ReadFile(absl::StrCat(dir, "/err", i)).find(commands[i].kill_marker) != std::string::npos) {
        ::kill(pids[i], SIGKILL);
      }
    }
    if (absl::Now() > deadline) {
      kill_all();
      return absl::DeadlineExceededError(absl::StrCat("commands ran past ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::vector<CommandResult> results;
  for (size_t i = 0; i < commands.size(); ++i) {
    results.push_back({codes[i], ReadFile(absl::StrCat(dir, "/out", i)), ReadFile(absl::StrCat(dir, "/err", i))});
  }
  RemoveTree(dir).IgnoreError();
  return results;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::vector<std::string>& extra_args, absl::Duration timeout) {
  std::unique_ptr<ServerProcess> server(new ServerProcess);
  server->work_dir_ = FreshDir("server");
  std::string port_file = server->work_dir_ + "/port";
  std::vector<std::string> argv = {BinDir() + "/galaxy-server", "--listen", "127.0.0.1:0",
                                   "--port-file", port_file};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  std::string log = server->work_dir_ + "/log";
  absl::StatusOr<pid_t> pid = Spawn(argv, log, log + ".err");
  if (!pid.ok()) return pid.status();
  server->pid_ = *pid;
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::string text(absl::StripAsciiWhitespace(ReadFile(port_file)));
    if (int port = 0; !text.empty() && absl::SimpleAtoi(text, &port) && port > 0) {
      server->port_ = port;
      return server;
    }
    int status = 0;
    if (::waitpid(server->pid_, &status, WNOHANG) == server->pid_) {
      server->pid_ = -1;
      return absl::InternalError(
          absl::StrCat("galaxy-server exited before listening: ", ReadFile(log + ".err")));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("galaxy-server did not listen in time: ", server->Log()));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  RemoveTree(work_dir_).IgnoreError();
}

absl::StatusOr<int> ServerProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("server is not running");
  ::kill(pid_, signal);
  absl::StatusOr<int> code = WaitUntil(pid_, absl::Now() + timeout);
  if (code.ok()) pid_ = -1;
  return code;
}

std::string ServerProcess::Log() const {
  return ReadFile(work_dir_ + "/log") + ReadFile(work_dir_ + "/log.err");
}

}  // namespace galaxy::testutil
