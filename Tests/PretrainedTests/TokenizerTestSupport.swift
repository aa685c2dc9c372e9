import Foundation
import Testing

@testable import Pretrained

/// The repository root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A golden file of `Tests/PretrainedTests/golden/`, parsed.
func golden(_ name: String) throws -> [String: Any] {
  let url = repositoryRoot.appendingPathComponent("Tests/PretrainedTests/golden/\(name)")
  return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

/// SmolLM2's `tokenizer.json`, as the golden script saves it from the GGUF with transformers.
let smolLM2TokenizerURL = repositoryRoot.appendingPathComponent(
  ".models/SmolLM2-135M-Instruct/tokenizer.json")

/// Whether the SmolLM2 tests run: when the file is there, and always under CI (where a
/// missing file fails them rather than skipping them).
let smolLM2Available =
  FileManager.default.fileExists(atPath: smolLM2TokenizerURL.path)
  || ProcessInfo.processInfo.environment["CI"] == "true"

/// The SmolLM2 tokenizer, read once.
let smolLM2: Result<BPETokenizer, Error> = Result {
  guard FileManager.default.fileExists(atPath: smolLM2TokenizerURL.path) else {
    throw PretrainedFileError(
      smolLM2TokenizerURL.path,
      "is missing; run `bash .ci/setup` then "
        + "`python3 Tests/PretrainedTests/golden/make_tokenizer_golden.py` to write it")
  }
  return try BPETokenizer(tokenizerJSON: smolLM2TokenizerURL)
}

/// The error `body` throws, as text ("" when it throws none).
func thrownMessage(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch {
    return "\(error)"
  }
}
