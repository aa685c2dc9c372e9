import Foundation
import Testing

@testable import Pretrained

/// The repository root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A golden file of `Tests/PretrainedTests/golden/`, parsed.
func golden(_ name: String) throws -> [String: Any] {
  let url = goldenDirectory.appendingPathComponent(name)
  return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

/// The SmolLM2 GGUF that `.ci/setup` fetches.
let smolLM2GGUFPath = repositoryRoot.appendingPathComponent(
  ".models/SmolLM2-135M-Instruct.Q4_1.gguf")

/// Whether the SmolLM2 tests run: when the file is there, and always under CI (where a
/// missing file fails them rather than skipping them).
let smolLM2Available =
  FileManager.default.fileExists(atPath: smolLM2GGUFPath.path)
  || ProcessInfo.processInfo.environment["CI"] == "true"

/// The `tokenizer.*` metadata of the SmolLM2 GGUF, read once.
let smolLM2Metadata: Result<GGUFMetadata, Error> = Result {
  guard FileManager.default.fileExists(atPath: smolLM2GGUFPath.path) else {
    throw PretrainedFileError(smolLM2GGUFPath.path, "is missing; run `bash .ci/setup` to fetch it")
  }
  return try GGUFFile(url: smolLM2GGUFPath).metadata
}

/// SmolLM2's tokenizer as transformers builds it from the GGUF: `tokenizer.json` written
/// from the GGUF metadata the way transformers' `save_pretrained` writes it (plain
/// `ByteLevel` splitting), then read back by `BPETokenizer(tokenizerJSON:)`.
let smolLM2: Result<BPETokenizer, Error> = Result {
  let m = try smolLM2Metadata.get()
  let tokens = m["tokenizer.ggml.tokens"]!.strings!
  let types = m["tokenizer.ggml.token_type"]!.ints!
  var vocab: [String: Int] = [:]
  var added: [[String: Any]] = []
  for (id, token) in tokens.enumerated() {
    if types[id] == 3 {
      added.append(["id": id, "content": token, "special": true, "normalized": false])
    } else {
      vocab[token] = id
    }
  }
  let merges = m["tokenizer.ggml.merges"]!.strings!.map {
    $0.split(separator: " ").map(String.init)
  }
  let json: [String: Any] = [
    "added_tokens": added, "normalizer": NSNull(),
    "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true],
    "decoder": ["type": "ByteLevel"],
    "model": ["type": "BPE", "vocab": vocab, "merges": merges, "ignore_merges": false],
  ]
  let dir = FileManager.default.temporaryDirectory
    .appendingPathComponent("allot-smollm2-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let url = dir.appendingPathComponent("tokenizer.json")
  try JSONSerialization.data(withJSONObject: json).write(to: url)
  let config: [String: Any] = [
    "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
  ]
  try JSONSerialization.data(withJSONObject: config)
    .write(to: dir.appendingPathComponent("tokenizer_config.json"))
  return try BPETokenizer(tokenizerJSON: url)
}
