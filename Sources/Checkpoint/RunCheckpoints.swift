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

  /// Writes `data` atomically as the checkpoint of `step`, then deletes older checkpoints so
  /// that `keep` remain (at least one: the one just written, the newest valid). Nothing is
  /// deleted if the write fails, and checkpoints of later steps are never touched.
  @discardableResult
  public func save(_ data: CheckpointData, step: Int, keep: Int) throws -> URL {
    let target = url(step: step)
    try data.write(to: target)
    let older = all().filter { $0.step < step }
    for old in older.dropLast(max(keep - 1, 0)) { try? FileManager.default.removeItem(at: old.url) }
    return target
  }

  /// The newest checkpoint that reads completely, its contents, and a warning for each newer
  /// one that did not (truncated, corrupt, another format). Throws when none is valid.
  public func newestValid() throws -> (url: URL, data: CheckpointData, warnings: [String]) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw CheckpointError(file: directory.path, message: "no such run directory")
    }
    let candidates = all()
    guard !candidates.isEmpty else {
      throw CheckpointError(file: directory.path, message: "holds no checkpoints (ckpt_*.h5)")
    }
    var warnings: [String] = []
    for candidate in candidates.reversed() {
      do {
        return (candidate.url, try CheckpointData.read(from: candidate.url), warnings)
      } catch {
        warnings.append("skipping unreadable checkpoint \(error)")
      }
    }
    throw CheckpointError(
      file: directory.path,
      message: "holds no valid checkpoint:\n" + warnings.map { "  - \($0)" }.joined(separator: "\n")
    )
  }

  /// Resolves a resume argument to a checkpoint, its contents, and warnings about newer
  /// checkpoints that were skipped as unreadable. The argument is one of:
  ///
  /// - a checkpoint file;
  /// - a run directory: its newest valid checkpoint;
  /// - `auto`: the newest run directory under `root` named `<experiment>__seed<k>__<timestamp>`
  ///   that holds checkpoints (by timestamp), then as for a run directory.
  public static func locate(
    _ argument: String, experiment: String, root: String
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
        .newestValid()
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
      throw CheckpointError(file: argument, message: "no such file or directory to resume from")
    }
    if isDirectory.boolValue {
      return try RunCheckpoints(directory: URL(fileURLWithPath: argument, isDirectory: true))
        .newestValid()
    }
    let url = URL(fileURLWithPath: argument)
    return (url, try CheckpointData.read(from: url), [])
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
