import Foundation

/// The identity of one run: a random id fixed when its directory is first written, and the
/// fingerprint of its model. Stored in the run directory as `run-identity.json` and stamped
/// on every checkpoint (`@runID`, `@model`), so a checkpoint of another run placed in the
/// directory is never resumed and never deleted by retention.
public struct RunIdentity: Codable, Equatable, Sendable {
  /// A random UUID, fixed for the life of the run.
  public var runID: String
  /// The model fingerprint (the checkpoints' `@model`), when known.
  public var model: String?

  public init(runID: String = RunIdentity.newRunID(), model: String?) {
    self.runID = runID
    self.model = model
  }

  /// A fresh random run id.
  public static func newRunID() -> String { UUID().uuidString.lowercased() }
}

extension RunCheckpoints {
  /// The file in a run directory that records its identity.
  public static let identityFileName = "run-identity.json"

  /// The run's identity file.
  public var identityURL: URL { directory.appendingPathComponent(Self.identityFileName) }

  /// The run's identity, or nil for a directory without one (a run from before run ids).
  /// An unreadable identity file is an error naming it.
  public func identity() throws -> RunIdentity? {
    guard let bytes = FileManager.default.contents(atPath: identityURL.path) else {
      if FileManager.default.fileExists(atPath: identityURL.path) {
        throw CheckpointError(file: identityURL.path, message: "cannot be read")
      }
      return nil
    }
    do {
      let identity = try JSONDecoder().decode(RunIdentity.self, from: bytes)
      guard !identity.runID.isEmpty else {
        throw CheckpointError(file: identityURL.path, message: "has an empty runID")
      }
      return identity
    } catch let error as CheckpointError {
      throw error
    } catch {
      throw CheckpointError(
        file: identityURL.path,
        message: "is damaged (not a JSON object with runID and model): restore it from a "
          + "checkpoint's @runID and @model attributes, or delete it to accept any checkpoint")
    }
  }

  /// The run's identity, recording one (a new run id, or `runID` when given, and `model`)
  /// when the directory has none yet. A run calls this when it creates its directory; `save`
  /// calls it too. The file is created exclusively, so two processes agree on one identity.
  @discardableResult
  public func establishIdentity(runID: String? = nil, model: String?) throws -> RunIdentity {
    if let existing = try identity() {
      if existing.model == nil, let model {  // fill in the model once it is known
        var updated = existing
        updated.model = model
        try write(updated, exclusive: false)
        return updated
      }
      return existing
    }
    let fresh = RunIdentity(runID: runID ?? RunIdentity.newRunID(), model: model)
    do {
      try write(fresh, exclusive: true)
    } catch let error as CheckpointError where error.message.hasPrefix("exists") {
      return try identity() ?? fresh  // another process recorded one first
    }
    return fresh
  }

  private func write(_ identity: RunIdentity, exclusive: Bool) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let bytes = try encoder.encode(identity) + Data("\n".utf8)
    let temporary = directory.appendingPathComponent(
      ".\(Self.identityFileName).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw CheckpointError(
        file: identityURL.path,
        message: fileProblem(errno, creating: temporary, target: identityURL))
    }
    let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    let synced = Foundation.fsync(fd) == 0
    close(fd)
    defer { unlink(temporary.path) }
    guard written == bytes.count, synced else {
      throw CheckpointError(
        file: identityURL.path, message: writeProblem(errno, size: bytes.count, target: identityURL)
      )
    }
    if exclusive {
      // link(2) fails if the name exists: the first writer wins.
      guard link(temporary.path, identityURL.path) == 0 else {
        if errno == EEXIST { throw CheckpointError(file: identityURL.path, message: "exists") }
        throw CheckpointError(
          file: identityURL.path, message: "cannot be created (\(posixText(errno)))")
      }
    } else {
      guard rename(temporary.path, identityURL.path) == 0 else {
        throw CheckpointError(
          file: identityURL.path, message: "cannot be replaced (\(posixText(errno)))")
      }
    }
  }

  // MARK: Temporary files

  /// The process id in a temporary file's name (`.<name>.tmp-<pid>-<id>`), or nil when the
  /// name is not one of Allot's temporary files.
  public static func temporaryOwner(_ fileName: String) -> Int32? {
    guard fileName.hasPrefix("."), let range = fileName.range(of: ".tmp-", options: .backwards)
    else { return nil }
    let rest = fileName[range.upperBound...].split(separator: "-", maxSplits: 1)
    guard rest.count == 2, let pid = Int32(rest[0]), pid > 0 else { return nil }
    return pid
  }

  /// Deletes temporary files (of checkpoints and of the identity file) left in the run
  /// directory by processes that are no longer running, and returns their names. Files of
  /// live processes, this one included, stay.
  @discardableResult
  public func removeStaleTemporaries() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    var removed: [String] = []
    for name in names.sorted() {
      guard let pid = Self.temporaryOwner(name), pid != getpid(), !processIsAlive(pid) else {
        continue
      }
      if unlink(directory.appendingPathComponent(name).path) == 0 { removed.append(name) }
    }
    return removed
  }

  // MARK: Locking

  /// The lock file of a run directory.
  public static let lockFileName = "run.lock"

  /// Takes the run directory's lock, held until the returned `RunLock` is released or the
  /// process ends (even by SIGKILL: it is an `flock(2)` lock on `run.lock`, which also
  /// records the holder's PID). A lock held by another process is an error naming its PID;
  /// a lock file left by a dead process is taken over (`RunLock.tookOverFrom`).
  public func lock() throws -> RunLock {
    let url = directory.appendingPathComponent(Self.lockFileName)
    let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw CheckpointError(
        file: url.path, message: fileProblem(errno, creating: url, target: url))
    }
    let previous = Self.lockHolder(fd)
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let code = errno
      close(fd)
      if code == EWOULDBLOCK {
        let holder = previous.map { "process \($0)" } ?? "another process"
        throw CheckpointError(
          file: directory.path,
          message: "is in use by \(holder) (it holds \(Self.lockFileName)): two processes must "
            + "not write one run; wait for it to finish or stop it"
            + (previous.map { " (kill \($0))" } ?? ""))
      }
      throw CheckpointError(
        file: url.path, message: "cannot be locked (\(posixText(code)))")
    }
    let line = "\(getpid())\n"
    _ = ftruncate(fd, 0)
    _ = line.withCString { pwrite(fd, $0, strlen($0), 0) }
    let tookOver = previous.flatMap { $0 != getpid() && !processIsAlive($0) ? $0 : nil }
    return RunLock(url: url, fd: fd, tookOverFrom: tookOver)
  }

  /// The PID recorded in an open lock file, if any.
  static func lockHolder(_ fd: Int32) -> Int32? {
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
    guard count > 0 else { return nil }
    let text = String(decoding: buffer.prefix(count), as: UTF8.self)
    return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}

/// A held run-directory lock (see `RunCheckpoints.lock()`).
public final class RunLock: @unchecked Sendable {
  /// The lock file.
  public let url: URL
  /// The PID of a dead process whose lock was taken over, if any.
  public let tookOverFrom: Int32?
  private var fd: Int32

  init(url: URL, fd: Int32, tookOverFrom: Int32?) {
    self.url = url
    self.fd = fd
    self.tookOverFrom = tookOverFrom
  }

  /// Releases the lock (the file stays, emptied: removing it would let two processes lock
  /// different files of one name).
  public func release() {
    guard fd >= 0 else { return }
    _ = ftruncate(fd, 0)
    flock(fd, LOCK_UN)
    close(fd)
    fd = -1
  }

  deinit { release() }
}

/// Whether a process with this id exists.
func processIsAlive(_ pid: Int32) -> Bool {
  kill(pid, 0) == 0 || errno == EPERM
}
