import Foundation

/// The checkpoints of one run directory: files `ckpt_<step, 8 digits>.h5`; the newest is the
/// one with the highest step.
public struct RunCheckpoints: Sendable {
  /// The run directory.
  public let directory: URL

  public init(directory: URL) { self.directory = directory }

  /// The file name for `step`: `ckpt_00000100.h5`.
  public static func fileName(step: Int) -> String { String(format: "ckpt_%08d.h5", step) }

  /// The step a checkpoint file name encodes, or nil if it is not a checkpoint name.
  public static func step(of fileName: String) -> Int? {
    guard fileName.hasPrefix("ckpt_"), fileName.hasSuffix(".h5") else { return nil }
    let digits = fileName.dropFirst(5).dropLast(3)
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return Int(digits)
  }

  /// The checkpoint file of `step`.
  public func url(step: Int) -> URL { directory.appendingPathComponent(Self.fileName(step: step)) }

  /// Every checkpoint file, oldest first. Temporary files of unfinished writes
  /// (`.ckpt_….h5.tmp-…`) are not checkpoints.
  public func all() -> [(step: Int, url: URL)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.compactMap { name in
      Self.step(of: name).map { ($0, directory.appendingPathComponent(name)) }
    }
    .sorted { $0.step < $1.step }
  }

  /// Writes `data` atomically as the checkpoint of `step`, then deletes older checkpoints of
  /// this run so that `keep` remain (at least one: the one just written, the newest valid).
  ///
  /// Before writing it
  /// - refuses data holding NaN or ±Inf (unless `allowNonFinite`), naming the first tensor or
  ///   array and how many values are bad;
  /// - fixes the run's identity (`establishIdentity(model:)`) and stamps it on the data as the
  ///   `runID` attribute, refusing data that carries another run's id or model;
  /// - removes temporary files that dead processes left (`removeStaleTemporaries()`).
  ///
  /// Nothing is deleted if the write fails; checkpoints of later steps, of other runs (another
  /// `runID` or model) and files that cannot be read are never deleted.
  @discardableResult
  public func save(
    _ data: CheckpointData, step: Int, keep: Int, allowNonFinite: Bool = false
  ) throws -> URL {
    let target = url(step: step)
    if !allowNonFinite, let bad = data.firstNonFinite() {
      throw CheckpointError(
        file: target.path, object: "/" + bad.name,
        message: "not saved: \(bad); a checkpoint is never written with NaN or Inf (earlier "
          + "checkpoints are untouched)")
    }
    let identity = try establishIdentity(runID: data.runID, model: data.model)
    if let id = data.runID, id != identity.runID {
      throw CheckpointError(
        file: target.path, object: "@runID",
        message: "is '\(id)', but \(directory.path) belongs to run '\(identity.runID)' (see "
          + "\(Self.identityFileName)); not written")
    }
    if let model = data.model, let expected = identity.model, model != expected {
      throw CheckpointError(
        file: target.path, object: "@model",
        message: "is '\(model)', but \(directory.path) belongs to a run of model '\(expected)'; "
          + "not written")
    }
    var stamped = data
    stamped.attributes["runID"] = .string(identity.runID)
    removeStaleTemporaries()
    try stamped.write(to: target)
    let older = all().filter { $0.step < step && isOwn($0.url, identity: identity) }
    for old in older.dropLast(max(keep - 1, 0)) { try? FileManager.default.removeItem(at: old.url) }
    return target
  }

  /// Whether the checkpoint at `url` was written by the run `identity` (by its `runID`, or for
  /// a file from before run ids, by its model). Unreadable files are not.
  private func isOwn(_ url: URL, identity: RunIdentity) -> Bool {
    guard let attributes = try? CheckpointData.readAttributes(from: url) else { return false }
    var data = CheckpointData()
    data.attributes = attributes
    return foreignReason(data, expecting: identity) == nil
  }

  /// Why `data` is not a checkpoint of the run `identity`, or nil when it is.
  func foreignReason(_ data: CheckpointData, expecting identity: RunIdentity) -> String? {
    if let id = data.runID {
      if id != identity.runID {
        return "belongs to another run (@runID '\(id)'; this run is '\(identity.runID)'): "
          + "not resumed, and never deleted"
      }
    } else if identity.model == nil {
      return "carries no @runID, so it cannot be told apart from another run's: not resumed"
    }
    if let expected = identity.model, data.model != expected {
      return "holds another model (@model '\(data.model ?? "none")'; this run's is "
        + "'\(expected)'): not resumed, and never deleted"
    }
    return nil
  }

  /// The newest checkpoint that reads completely and verifies, that belongs to this run, and
  /// that `accept` takes; its contents; and a warning for each newer file passed over:
  /// damaged (named by object path), truncated, missing a dataset or attribute, of another
  /// run or model, a directory under a checkpoint name, or refused by `accept` (where the
  /// trainer checks what it needs: its attributes and datasets). Throws, listing every file
  /// and why, when none qualifies.
  ///
  /// - Parameter identity: the run's identity (`identity()` reads the directory's own); nil
  ///   accepts a checkpoint of any run.
  public func newestIntact(
    expecting identity: RunIdentity?, accept: (CheckpointData) throws -> Void = { _ in }
  ) throws -> (url: URL, data: CheckpointData, warnings: [String]) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw CheckpointError(file: directory.path, message: "no such run directory")
    }
    let expected = identity
    let candidates = all()
    guard !candidates.isEmpty else {
      throw CheckpointError(file: directory.path, message: "holds no checkpoints (ckpt_*.h5)")
    }
    var warnings: [String] = []
    for candidate in candidates.reversed() {
      do {
        let data = try CheckpointData.read(from: candidate.url)
        if let expected, let reason = foreignReason(data, expecting: expected) {
          warnings.append("skipping checkpoint \(candidate.url.path): \(reason)")
          continue
        }
        try accept(data)
        return (candidate.url, data, warnings)
      } catch {
        warnings.append("skipping unreadable checkpoint \(error)")
      }
    }
    throw CheckpointError(
      file: directory.path,
      message: "holds no valid checkpoint:\n" + warnings.map { "  - \($0)" }.joined(separator: "\n")
    )
  }

  /// `newestIntact` for the directory's own identity: the newest checkpoint of this run that
  /// reads completely and verifies, with a warning for each newer file passed over.
  public func newestValid(accept: (CheckpointData) throws -> Void = { _ in }) throws -> (
    url: URL, data: CheckpointData, warnings: [String]
  ) {
    try newestIntact(expecting: try identity(), accept: accept)
  }

  /// Resolves a resume argument to a checkpoint, its contents, and warnings about newer
  /// checkpoints that were skipped as unreadable. The argument is one of:
  ///
  /// - a checkpoint file;
  /// - a run directory: its newest valid checkpoint;
  /// - `auto`: the newest run directory under `root` named `<experiment>__seed<k>__<timestamp>`
  ///   that holds checkpoints (by timestamp), then as for a run directory.
  ///
  /// Checkpoints of another run in a run directory are passed over with a warning (see
  /// `newestIntact`); a checkpoint file named directly that belongs to another run than its
  /// directory is refused. `accept` is the trainer's own check, as in `newestIntact`.
  public static func locate(
    _ argument: String, experiment: String, root: String,
    accept: (CheckpointData) throws -> Void = { _ in }
  ) throws -> (url: URL, data: CheckpointData, warnings: [String]) {
    if argument == "auto" {
      let rootURL = URL(fileURLWithPath: root, isDirectory: true)
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: rootURL.path, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        throw CheckpointError(
          file: rootURL.path,
          message: "no such directory to look for runs of experiment '\(experiment)' in")
      }
      let names = (try? FileManager.default.contentsOfDirectory(atPath: rootURL.path)) ?? []
      let runs = names.compactMap { name in
        runOrder(name, experiment: experiment).map { (order: $0, name: name) }
      }
      .filter { !RunCheckpoints(directory: rootURL.appendingPathComponent($0.name)).all().isEmpty }
      .sorted {
        ($0.order.stamp, $0.order.suffix, $0.name) < ($1.order.stamp, $1.order.suffix, $1.name)
      }
      guard let newest = runs.last else {
        throw CheckpointError(
          file: rootURL.path,
          message:
            "has no run of experiment '\(experiment)' with a checkpoint to resume (looked for \(experiment)__seed<k>__<timestamp>/ckpt_*.h5)"
        )
      }
      return try RunCheckpoints(directory: rootURL.appendingPathComponent(newest.name))
        .newestValid(accept: accept)
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
      throw CheckpointError(file: argument, message: "no such file or directory to resume from")
    }
    if isDirectory.boolValue {
      return try RunCheckpoints(directory: URL(fileURLWithPath: argument, isDirectory: true))
        .newestValid(accept: accept)
    }
    let url = URL(fileURLWithPath: argument)
    let data = try CheckpointData.read(from: url)
    let run = RunCheckpoints(directory: url.deletingLastPathComponent())
    if let identity = try run.identity(), let reason = run.foreignReason(data, expecting: identity)
    {
      throw CheckpointError(file: url.path, message: reason)
    }
    try accept(data)
    return (url, data, [])
  }

  /// For a run directory name `<experiment>__seed<k>__<timestamp>[-n]`, the timestamp and
  /// the suffix `n` (1 without one) that order runs; nil for any other name.
  static func runOrder(_ name: String, experiment: String) -> (stamp: String, suffix: Int)? {
    guard name.hasPrefix(experiment + "__seed") else { return nil }
    let rest = name.dropFirst(experiment.count + 6)
    guard let separator = rest.range(of: "__") else { return nil }
    let seed = rest[..<separator.lowerBound]
    let stamp = rest[separator.upperBound...]
    guard !seed.isEmpty, seed.allSatisfy({ $0.isASCII && $0.isNumber }), !stamp.isEmpty,
      !stamp.contains("__")
    else { return nil }
    let parts = stamp.split(separator: "-")
    if parts.count >= 3, let suffix = Int(parts.last!) {
      return (parts.dropLast().joined(separator: "-"), suffix)
    }
    return (String(stamp), 1)
  }
}
