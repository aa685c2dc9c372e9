import Checkpoint
import Foundation

/// One run's folder: `<outputDir>/<name>__seed<k>__<timestamp>/` holding `config.json`,
/// `command.txt`, `metrics.jsonl`, `metrics.csv` and the checkpoints.
public struct RunDirectory: Sendable {
  public let url: URL

  /// The folder name for a new run of `config`, stamped with `date` (UTC).
  public static func name(for config: ExperimentConfig, date: Date = Date()) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMdd-HHmmss"
    return "\(config.run.name)__seed\(config.run.seed)__\(formatter.string(from: date))"
  }

  /// Creates a fresh run directory under `config.run.outputDir`; never reuses one. `note`
  /// follows the command line as a shell comment.
  public static func create(for config: ExperimentConfig, command: [String], note: String? = nil)
    throws -> RunDirectory
  {
    let root = URL(fileURLWithPath: config.run.outputDir, isDirectory: true)
    try fileOperation(root) {
      try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }
    var url = root.appendingPathComponent(name(for: config))
    var suffix = 1
    while FileManager.default.fileExists(atPath: url.path) {
      suffix += 1
      url = root.appendingPathComponent("\(name(for: config))-\(suffix)")
    }
    try fileOperation(url) {
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }
    let run = RunDirectory(url: url)
    try run.writeConfig(config)
    try run.appendCommand(command, note: note)
    return run
  }

  public init(url: URL) { self.url = url }

  public var configURL: URL { url.appendingPathComponent("config.json") }
  public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }
  public var metricsCSVURL: URL { url.appendingPathComponent("metrics.csv") }
  public var commandURL: URL { url.appendingPathComponent("command.txt") }

  /// Writes the resolved config as pretty JSON (atomically; see `writeAtomically`).
  public func writeConfig(_ config: ExperimentConfig) throws {
    try writeAtomically(JSONValue(encoding: config).data(pretty: true), to: configURL)
  }

  /// Reads the resolved config a run was started with.
  public func readConfig() throws -> ExperimentConfig {
    guard let data = FileManager.default.contents(atPath: configURL.path) else {
      throw ConfigError(source: configURL.path, path: "", message: "file does not exist")
    }
    // Keys added to Allot after the run was made take their defaults.
    return try ConfigLoader.decode(
      configJSON: String(decoding: data, as: UTF8.self), source: configURL.path)
  }

  /// Appends the command line (shell-quoted, then `  # note`) to `command.txt`; a resumed
  /// run adds a line.
  public func appendCommand(_ arguments: [String], note: String? = nil) throws {
    let line =
      arguments.map(shellQuote).joined(separator: " ") + (note.map { "  # \($0)" } ?? "") + "\n"
    try appendText(line, to: commandURL)
  }
}

/// `'…'`-quotes an argument when the shell would split or expand it.
func shellQuote(_ s: String) -> String {
  let safe = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
  return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
