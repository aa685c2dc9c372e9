import Foundation

/// The checkpoints of one run directory: `ckpt_<step, 8 digits>.h5`, newest = highest step.
public struct RunCheckpoints: Sendable {
  public let directory: URL

  public init(directory: URL) { self.directory = directory }

  /// The file name for `step`.
  public static func fileName(step: Int) -> String { String(format: "ckpt_%08d.h5", step) }

  /// The step a checkpoint file name encodes, if it is one.
  public static func step(of fileName: String) -> Int? {
    guard fileName.hasPrefix("ckpt_"), fileName.hasSuffix(".h5") else { return nil }
    return Int(fileName.dropFirst(5).dropLast(3))
  }

  public func url(step: Int) -> URL { directory.appendingPathComponent(Self.fileName(step: step)) }

  /// Every checkpoint file, oldest first.
  public func all() -> [(step: Int, url: URL)] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.compactMap { name in
      Self.step(of: name).map { ($0, directory.appendingPathComponent(name)) }
    }
    .sorted { $0.step < $1.step }
  }

  /// Writes `data` as the checkpoint of `step`, then deletes older ones beyond `keep`,
  /// never the newest valid one.
  @discardableResult
  public func save(_ data: CheckpointData, step: Int, keep: Int) throws -> URL {
    let target = url(step: step)
    try data.write(to: target)
    let older = all().filter { $0.step < step }
    for old in older.dropLast(max(keep - 1, 0)) { try? FileManager.default.removeItem(at: old.url) }
    return target
  }

  /// The newest checkpoint that reads completely, with a warning for each newer one that
  /// did not. Throws when none is valid.
  public func newestValid() throws -> (url: URL, data: CheckpointData, warnings: [String]) {
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

  /// Resolves a resume argument: a checkpoint file, a run directory (its newest valid
  /// checkpoint) or `auto` (the newest run directory under `root` whose name starts with
  /// `<experiment>__`).
  public static func locate(
    _ argument: String, experiment: String, root: String
  ) throws -> (url: URL, data: CheckpointData, warnings: [String]) {
    if argument == "auto" {
      let rootURL = URL(fileURLWithPath: root, isDirectory: true)
      let names = (try? FileManager.default.contentsOfDirectory(atPath: rootURL.path)) ?? []
      let runs = names.filter { $0.hasPrefix(experiment + "__") }
        .map { rootURL.appendingPathComponent($0) }
        .filter { !RunCheckpoints(directory: $0).all().isEmpty }
        .sorted { timestamp($0.lastPathComponent) < timestamp($1.lastPathComponent) }
      guard let newest = runs.last else {
        throw CheckpointError(
          file: rootURL.path,
          message:
            "has no run of experiment '\(experiment)' with a checkpoint to resume (looked for \(experiment)__*/ckpt_*.h5)"
        )
      }
      return try RunCheckpoints(directory: newest).newestValid()
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

  /// The `<timestamp>` part of `<name>__seed<k>__<timestamp>[-n]`, for ordering runs.
  static func timestamp(_ name: String) -> String {
    name.components(separatedBy: "__").last ?? name
  }
}
