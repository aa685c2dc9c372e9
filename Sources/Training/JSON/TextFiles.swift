import Foundation

/// Appends text to a file, creating it when missing: the one append behind metrics.jsonl,
/// metrics.csv, completions.jsonl and command.txt.
func appendText(_ text: String, to url: URL) throws {
  if !FileManager.default.fileExists(atPath: url.path) {
    FileManager.default.createFile(atPath: url.path, contents: nil)
  }
  let handle = try FileHandle(forWritingTo: url)
  defer { try? handle.close() }
  try handle.seekToEnd()
  try handle.write(contentsOf: Data(text.utf8))
}

/// Appends one compact JSON object per line.
func appendJSONLines(_ values: [JSONValue], to url: URL) throws {
  let text = try values.map { String(decoding: try $0.data(), as: UTF8.self) + "\n" }.joined()
  try appendText(text, to: url)
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

/// Drops the lines of a JSONL log whose "step" is after `step` (a resumed run rewrites
/// them), and lines that are not JSON objects with a step, keeping the rest as they are.
func truncateJSONL(_ url: URL, keepingStepsThrough step: Int) throws {
  guard FileManager.default.fileExists(atPath: url.path) else { return }
  let kept = readJSONLines(url).filter { line in
    guard case .object(let fields)? = try? line.value.get(), case .number(let s)? = fields["step"]
    else { return false }
    return Int(s) <= step
  }
  try Data(kept.map { $0.text + "\n" }.joined().utf8).write(to: url, options: .atomic)
}
