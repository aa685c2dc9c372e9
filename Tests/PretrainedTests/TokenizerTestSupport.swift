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

/// The SmolLM2 GGUF that `.ci/setup` fetches.
let smolLM2GGUF = repositoryRoot.appendingPathComponent(".models/SmolLM2-135M-Instruct.Q4_1.gguf")

/// Whether the SmolLM2 tests run: when the file is there, and always under CI (where a
/// missing file fails them rather than skipping them).
let smolLM2Available =
  FileManager.default.fileExists(atPath: smolLM2GGUF.path)
  || ProcessInfo.processInfo.environment["CI"] == "true"

/// The `tokenizer.*` metadata of the SmolLM2 GGUF, read once.
let smolLM2Metadata: Result<[String: GGUFTestValue], Error> = Result {
  guard FileManager.default.fileExists(atPath: smolLM2GGUF.path) else {
    throw PretrainedFileError(smolLM2GGUF.path, "is missing; run `bash .ci/setup` to fetch it")
  }
  return try readGGUFMetadata(smolLM2GGUF, prefix: "tokenizer.")
}

/// SmolLM2's tokenizer as transformers builds it from the GGUF: `tokenizer.json` written
/// from the GGUF metadata the way transformers' `save_pretrained` writes it (plain
/// `ByteLevel` splitting), then read back by `BPETokenizer(tokenizerJSON:)`.
let smolLM2: Result<BPETokenizer, Error> = Result {
  let m = try smolLM2Metadata.get()
  let tokens = m["tokenizer.ggml.tokens"]!.strings
  let types = m["tokenizer.ggml.token_type"]!.integers
  var vocab: [String: Int] = [:]
  var added: [[String: Any]] = []
  for (id, token) in tokens.enumerated() {
    if types[id] == 3 {
      added.append(["id": id, "content": token, "special": true, "normalized": false])
    } else {
      vocab[token] = id
    }
  }
  let merges = m["tokenizer.ggml.merges"]!.strings.map { $0.split(separator: " ").map(String.init) }
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

/// A GGUF metadata value, as far as the tokenizer tests need.
enum GGUFTestValue {
  case integer(Int)
  case string(String)
  case array([GGUFTestValue])
  case other

  var strings: [String] {
    guard case .array(let a) = self else { return [] }
    return a.map { if case .string(let s) = $0 { s } else { "" } }
  }
  var integers: [Int] {
    guard case .array(let a) = self else { return [] }
    return a.map { if case .integer(let i) = $0 { i } else { -1 } }
  }
  var integer: Int? { if case .integer(let i) = self { i } else { nil } }
  var string: String? { if case .string(let s) = self { s } else { nil } }
}

/// The metadata of a GGUF file whose keys start with `prefix` (ggml's `docs/gguf.md`:
/// little-endian; magic, version, tensor count, key count, then typed key-value pairs).
/// A test helper only: the loader's own GGUF reader is the library's.
func readGGUFMetadata(_ url: URL, prefix: String) throws -> [String: GGUFTestValue] {
  let data = try Data(contentsOf: url, options: .alwaysMapped)
  return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
    var at = 0
    func take(_ n: Int) throws -> Int {
      guard at + n <= raw.count else {
        throw PretrainedFileError(url.path, "metadata runs past the end")
      }
      defer { at += n }
      return at
    }
    func u32() throws -> UInt32 { raw.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self) }
    func u64() throws -> UInt64 { raw.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self) }
    func string() throws -> String {
      let n = Int(try u64())
      let start = try take(n)
      return String(
        decoding: UnsafeRawBufferPointer(rebasing: raw[start..<(start + n)]), as: UTF8.self)
    }
    func value(_ type: UInt32) throws -> GGUFTestValue {
      let sizes: [UInt32: Int] = [
        0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8,
      ]
      switch type {
      case 8: return .string(try string())
      case 9:
        let element = try u32()
        let count = Int(try u64())
        return .array(try (0..<count).map { _ in try value(element) })
      case 4: return .integer(Int(try u32()))
      case 5: return .integer(Int(Int32(bitPattern: try u32())))
      default:
        guard let size = sizes[type] else {
          throw PretrainedFileError(url.path, "value type \(type)")
        }
        _ = try take(size)
        return .other
      }
    }
    guard try u32() == 0x4655_4747 else { throw PretrainedFileError(url.path, "is not GGUF") }
    _ = try u32()
    _ = try u64()
    let count = try u64()
    var out: [String: GGUFTestValue] = [:]
    for _ in 0..<count {
      let key = try string()
      let v = try value(try u32())
      if key.hasPrefix(prefix) { out[key] = v }
    }
    return out
  }
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
