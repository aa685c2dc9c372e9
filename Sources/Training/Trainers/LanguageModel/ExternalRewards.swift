import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The external reward command failed: a malformed answer, a crash or a timeout. The step
/// it happened in is abandoned (nothing of it logged or kept), so the run can save its
/// last finished step and stop.
public struct ExternalRewardError: Error, CustomStringConvertible {
  /// `rewards.external.command`.
  public var command: String
  public var message: String

  public var description: String {
    "rewards.external.command \(JSONValue.quote(command)): \(message)"
  }
}

/// The user's reward program (`rewards.external`), started on first use and kept for the
/// run: each batch is written as one JSON line per completion on its stdin, and each line
/// is answered by one JSON object of `names` → numbers on its stdout, in order. Its stderr
/// is the run's. A failed batch stops the program; the next batch starts it again.
final class ExternalRewardProcess {
  let command: String
  let names: [String]
  /// The longest wait for one answer line.
  let timeout: Double
  /// The program's process id (also its process group's); 0 when it is not running.
  private var pid: pid_t = 0
  /// Its wait status once it has ended.
  private var status: Int32?
  private var input: Int32 = -1
  private var output: Int32 = -1
  /// Bytes read past the last complete line.
  private var pending: [UInt8] = []
  /// Answer lines read from the running program, for messages.
  private var linesRead = 0

  init(command: String, names: [String], timeout: Double) {
    self.command = command
    self.names = names
    self.timeout = timeout
  }

  deinit { stop(grace: 1) }

  /// The rewards of each request, in `names` order; throws naming the command and the
  /// answer line at fault, after stopping the program.
  func rewards(for requests: [JSONValue]) throws -> [[Double]] {
    if pid == 0 { try start() }
    var bytes: [UInt8] = []
    for request in requests {
      bytes += try request.data()
      bytes.append(0x0A)
    }
    // Written alongside the reads, so a program that answers before reading everything
    // cannot fill both pipes and wait for ever.
    let writer = DispatchGroup()
    let (fd, lines) = (input, bytes)
    DispatchQueue.global().async(group: writer) { writeAll(lines, to: fd) }
    do {
      let answers = try requests.indices.map { i in
        try parse(try readLine(request: i, of: requests.count), request: i, of: requests.count)
      }
      writer.wait()
      return answers
    } catch {
      kill(-pid, SIGKILL)  // the writer sees a closed pipe and returns
      writer.wait()
      stop(grace: 0)
      throw error
    }
  }

  /// Starts `/bin/sh -c command` in a process group of its own (so that stopping it stops
  /// whatever it started), its stdin and stdout piped to this process.
  private func start() throws {
    signal(SIGPIPE, SIG_IGN)  // a program that exits early must not take the run with it
    var toChild: [Int32] = [-1, -1]
    var fromChild: [Int32] = [-1, -1]
    guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else {
      throw ExternalRewardError(command: command, message: "cannot make pipes (errno \(errno))")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
    posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
    for fd in toChild + fromChild { posix_spawn_file_actions_addclose(&actions, fd) }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
    posix_spawnattr_setpgroup(&attributes, 0)
    let argv: [UnsafeMutablePointer<CChar>?] =
      [String](["/bin/sh", "-c", command]).map { strdup($0) } + [nil]
    defer { for arg in argv { free(arg) } }
    var child: pid_t = 0
    let result = posix_spawn(&child, "/bin/sh", &actions, &attributes, argv, environ)
    close(toChild[0])
    close(fromChild[1])
    guard result == 0 else {
      close(toChild[1])
      close(fromChild[0])
      throw ExternalRewardError(
        command: command, message: "cannot be started: \(String(cString: strerror(result)))")
    }
    for fd in [toChild[1], fromChild[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    (pid, status, input, output, pending, linesRead) = (child, nil, toChild[1], fromChild[0], [], 0)
  }

  /// Whether the program has ended (reaping it when it has).
  private func ended() -> Bool {
    if status != nil { return true }
    var s: Int32 = 0
    if waitpid(pid, &s, WNOHANG) == pid { status = s }
    return status != nil
  }

  private func waitForEnd(seconds: Double) {
    let deadline = Date().addingTimeInterval(seconds)
    while !ended() && Date() < deadline { usleep(10_000) }
  }

  /// Closes the program's stdin, gives it `grace` seconds to exit, then kills its group.
  private func stop(grace: Double) {
    guard pid != 0 else { return }
    close(input)
    waitForEnd(seconds: grace)
    kill(-pid, SIGKILL)
    if status == nil {
      var s: Int32 = 0
      _ = waitpid(pid, &s, 0)
    }
    close(output)
    pid = 0
  }

  /// The next line of the program's stdout, waiting at most `timeout` for it.
  private func readLine(request: Int, of count: Int) throws -> String {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      if let newline = pending.firstIndex(of: 0x0A) {
        let line = String(decoding: pending[..<newline], as: UTF8.self)
        pending.removeSubrange(...newline)
        linesRead += 1
        return line
      }
      let left = deadline.timeIntervalSinceNow
      if left <= 0 {
        throw failure(
          request: request, of: count,
          "gave no answer line \(linesRead + 1) within rewards.external.timeoutSeconds "
            + "(\(timeout) s); it was stopped")
      }
      var fds = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
      let ready = poll(&fds, 1, Int32(min(left, 0.2) * 1000) + 1)
      var n = 0
      if ready > 0 {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        n = read(output, &buffer, buffer.count)
        if n > 0 {
          pending += buffer[..<n]
          continue
        }
        if n < 0 && errno == EINTR { continue }
      }
      // End of its output, or nothing to read and the program gone.
      guard ready > 0 || ended() else { continue }
      waitForEnd(seconds: 1)
      let how =
        status.map { s in
          s & 0x7f == 0
            ? "exited with status \((s >> 8) & 0xff)" : "was killed by signal \(s & 0x7f)"
        } ?? "closed its output"
      throw failure(request: request, of: count, "\(how) before answer line \(linesRead + 1)")
    }
  }

  /// One answer line as the rewards of `names`.
  private func parse(_ line: String, request: Int, of count: Int) throws
    -> [Double]
  {
    let number = linesRead
    func malformed(_ why: String) -> ExternalRewardError {
      failure(
        request: request, of: count,
        "answer line \(number) \(why): \(JSONValue.quote(String(line.prefix(200))))")
    }
    guard case .object(let fields)? = try? JSONValue.parse(Data(line.utf8), source: "") else {
      throw malformed("is not a JSON object")
    }
    if let extra = fields.keys.sorted().first(where: { !names.contains($0) }) {
      throw malformed(
        "has \(JSONValue.quote(extra)), which rewards.external.names (\(names)) does not list")
    }
    return try names.map { name in
      guard case .number(let value)? = fields[name] else {
        throw malformed("lacks the number \(JSONValue.quote(name))")
      }
      guard value.isFinite else { throw malformed("has a non-finite \(JSONValue.quote(name))") }
      return value
    }
  }

  private func failure(request: Int, of count: Int, _ text: String) -> ExternalRewardError {
    ExternalRewardError(
      command: command, message: "\(text) (completion \(request + 1) of \(count) in this step)")
  }
}

/// Writes all of `bytes` to `fd`, giving up when the reader has gone.
private func writeAll(_ bytes: [UInt8], to fd: Int32) {
  var offset = 0
  while offset < bytes.count {
    let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    if n > 0 {
      offset += n
    } else if n < 0 && errno == EINTR {
      continue
    } else {
      return
    }
  }
}
