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

/// Drops the lines of a JSONL log whose "step" is after `step` (a resumed run rewrites
/// them), keeping the rest.
func truncateJSONL(_ url: URL, keepingStepsThrough step: Int) throws {
  guard let data = FileManager.default.contents(atPath: url.path) else { return }
  let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
    guard case .object(let fields)? = try? JSONValue.parse(Data(line.utf8), source: url.path),
      case .number(let s)? = fields["step"]
    else { return false }
    return Int(s) <= step
  }
  try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: url, options: .atomic)
}
