import Checkpoint
import Foundation

/// A file operation that failed, in Allot's words (`describeFileError`): the path, what
/// happened and what to do.
public struct RunFileError: Error, CustomStringConvertible, Sendable {
  public var description: String
}

/// Runs `body`, a Foundation call on the file at `url`, turning its error into a
/// `RunFileError` naming `url`.
@discardableResult
func fileOperation<T>(_ url: URL, _ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as RunFileError {
    throw error
  } catch {
    throw RunFileError(description: describeFileError(error, path: url.path))
  }
}

/// Appends text to a file, creating it when missing: the one append behind metrics.jsonl,
/// metrics.csv, completions.jsonl and command.txt.
func appendText(_ text: String, to url: URL) throws {
  try appendBytes(Data(text.utf8), to: url)
}

/// Appends bytes to a file, creating it when missing (text files and TensorBoard events).
func appendBytes(_ data: Data, to url: URL) throws {
  try fileOperation(url) {
    if !FileManager.default.fileExists(atPath: url.path) {
      guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
      }
    }
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: data)
  }
}

/// Appends one compact JSON object per line, each whole (`LineFiles.append`).
func appendJSONLines(_ values: [JSONValue], to url: URL) throws {
  for value in values {
    try LineFiles.append(String(decoding: try value.data(), as: UTF8.self), to: url)
  }
}

/// Replaces the file at `url` with `data` atomically: written to a temporary file named as
/// the checkpoints' are (`.<name>.tmp-<pid>-<id>`, so `RunCheckpoints.removeStaleTemporaries`
/// removes it when its writer died), fsynced, then renamed over `url`.
func writeAtomically(_ data: Data, to url: URL) throws {
  let temporary = url.deletingLastPathComponent().appendingPathComponent(
    ".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())")
  func failure(_ code: Int32) -> RunFileError {
    RunFileError(
      description: describeFileError(
        NSError(domain: NSPOSIXErrorDomain, code: Int(code)), path: url.path))
  }
  let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
  guard fd >= 0 else { throw failure(errno) }
  var code: Int32 = 0
  data.withUnsafeBytes { buffer in
    var offset = 0
    while offset < buffer.count {
      let n = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
      if n < 0 && errno == EINTR { continue }
      if n <= 0 {
        code = n < 0 ? errno : ENOSPC
        return
      }
      offset += n
    }
  }
  if code == 0 && fsync(fd) != 0 { code = errno }
  if close(fd) != 0 && code == 0 { code = errno }
  if code == 0 && rename(temporary.path, url.path) != 0 { code = errno }
  if code != 0 {
    unlink(temporary.path)
    throw failure(code)
  }
}

/// One line of a JSONL file: its number (from 1), its text and its value.
public struct JSONLine {
  public var number: Int
  public var text: Substring
  public var value: Result<JSONValue, JSONError>
}

/// The non-empty lines of a JSONL file, none when the file is missing: the one JSONL
/// reader (metrics.jsonl, completions.jsonl).
public func readJSONLines(_ url: URL) -> [JSONLine] {
  guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
  return String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated().map { i, text in
    JSONLine(
      number: i + 1, text: text,
      value: Result { try JSONValue.parse(Data(text.utf8), source: "\(url.path):\(i + 1)") }
        .mapError { $0 as? JSONError ?? JSONError(source: url.path, message: "\($0)") })
  }
}

/// Cuts a JSONL log before its first line whose "step" is after `step` (or that is not a
/// JSON object with a step, or torn), keeping the earlier lines byte for byte: a resumed run
/// writes the later ones again.
func truncateJSONL(_ url: URL, keepingStepsThrough step: Int) throws {
  try LineFiles.truncate(url) { line in
    guard case .object(let fields)? = try? JSONValue.parse(Data(line.utf8), source: ""),
      case .number(let s)? = fields["step"], s.rounded() == s, abs(s) < 1e15
    else { return false }
    return Int(s) <= step
  }
}
