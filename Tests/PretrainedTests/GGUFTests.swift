import Foundation
import TensorCore
import Testing

@testable import Pretrained

/// Tests/PretrainedTests/golden, made by golden/make_quant_golden.py.
let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("golden")

/// The error `body` throws, as text ("" when it throws none).
func errorText(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch {
    return "\(error)"
  }
}

/// A temporary file holding `bytes`.
func temporaryFile(_ bytes: [UInt8], suffix: String = ".gguf") throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("allot-\(UUID().uuidString)\(suffix)")
  try Data(bytes).write(to: url)
  return url
}

/// A golden weight summary: shape, first values, sum and position-weighted sum.
struct WeightSummary: Decodable {
  var shape: [Int]
  var first: [Float]
  var sum: Double
  var wsum: Double

  /// Checks `t` against the summary: shape and first values exactly, sums to 1e-9 relative
  /// of the sum of magnitudes (both sums are over the same Float32 values).
  func check(_ t: Tensor?, _ name: String) {
    guard let t else {
      Issue.record("\(name) missing")
      return
    }
    #expect(t.shape == shape, "\(name)")
    var s = 0.0
    var w = 0.0
    var magnitude = 0.0
    t.withUnsafeBufferPointer { v in
      #expect(Array(v.prefix(first.count)) == first, "\(name)")
      var i = 0
      var position = 1.0
      while i < v.count {
        let x = Double(v[i])
        s += x
        w += x * position
        magnitude += abs(x)
        position = position == 97 ? 1 : position + 1
        i += 1
      }
    }
    magnitude *= 97
    #expect(abs(s - sum) <= 1e-9 * magnitude + 1e-12, "\(name) sum \(s) vs \(sum)")
    #expect(abs(w - wsum) <= 1e-9 * magnitude + 1e-12, "\(name) wsum \(w) vs \(wsum)")
  }
}

struct GoldenModel: Decodable {
  var config: [String: Double]
  var weights: [String: WeightSummary]

  init(_ name: String) throws {
    self = try JSONDecoder().decode(
      GoldenModel.self, from: Data(contentsOf: goldenDirectory.appendingPathComponent(name)))
  }

  enum CodingKeys: CodingKey { case config, weights }
  init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    weights = try c.decode([String: WeightSummary].self, forKey: .weights)
    // Numbers and booleans (tie_word_embeddings as 1 or 0).
    let raw = try c.decode([String: JSONNumberOrBool].self, forKey: .config)
    config = raw.mapValues(\.value)
  }

  struct JSONNumberOrBool: Decodable {
    var value: Double
    init(from decoder: Decoder) throws {
      let c = try decoder.singleValueContainer()
      if let b = try? c.decode(Bool.self) {
        value = b ? 1 : 0
      } else {
        value = try c.decode(Double.self)
      }
    }
  }
}

@Test(arguments: ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"])
func dequantisesAsTheGGUFPackage(_ name: String) throws {
  let type = try #require(GGMLType.allCases.first { $0.name == name })
  #expect(type.isSupported)
  let raw = try Data(contentsOf: goldenDirectory.appendingPathComponent("quant/\(name).bin"))
  let expected = try Data(contentsOf: goldenDirectory.appendingPathComponent("quant/\(name).f32"))
  let count = expected.count / 4
  #expect(type.byteCount(elements: count) == raw.count)
  var out = [Float](repeating: .nan, count: count)
  raw.withUnsafeBytes { src in
    out.withUnsafeMutableBufferPointer {
      Dequantize.run(type, from: src.baseAddress!, count: count, into: $0.baseAddress!)
    }
  }
  let want = expected.withUnsafeBytes { b in
    (0..<count).map { b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) }
  }
  let mismatches = (0..<count).filter { out[$0].bitPattern != want[$0] }
  #expect(
    mismatches.isEmpty,
    "\(name): \(mismatches.count) of \(count) differ, first at \(mismatches.first ?? -1)")
  #expect(Set(out).count > count / 8, "\(name): values are not varied enough to test anything")
}

@Test func readsMetadataOfEveryValueType() throws {
  let file = try GGUFFile(url: goldenDirectory.appendingPathComponent("tiny-llama.gguf"))
  let m = file.metadata
  #expect(file.version == 3)
  #expect(file.alignment == 32)
  #expect(m["test.u8"] == .uint8(200))
  #expect(m["test.i8"] == .int8(-100))
  #expect(m["test.u16"] == .uint16(60000))
  #expect(m["test.i16"] == .int16(-30000))
  #expect(m["test.i32"] == .int32(-2_000_000_000))
  #expect(m["test.u64"]?.int == (1 << 40) + 3)
  #expect(m["test.i64"] == .int64(-(1 << 40)))
  #expect(m["test.f64"] == .float64(0.1))
  #expect(m["test.bool"] == .bool(true))
  #expect(m["test.floats"]?.doubles == [0.5, -1.25, 3])
  #expect(try m.string("general.architecture") == "llama")
  #expect(try m.double("llama.attention.layer_norm_rms_epsilon") == Double(Float(1e-5)))
  let tokens = try m.strings("tokenizer.ggml.tokens")
  #expect(tokens.count == 32 && tokens[1] == "<s>" && tokens[31] == "Ġ")
  #expect(try m.strings("tokenizer.ggml.merges") == ["a b", "ab c"])
  #expect(try m.ints("tokenizer.ggml.token_type").prefix(4) == [3, 3, 3, 1])
  #expect(m["tokenizer.chat_template"]?.string?.hasPrefix("{% for m in messages %}") == true)
  #expect(m.keys.first == "general.architecture")
  #expect(
    errorText { _ = try m.int("general.architecture") }.contains(
      "metadata key 'general.architecture' is string, expected an integer"))
  #expect(errorText { _ = try m.strings("no.such.key") }.contains("'no.such.key' is missing"))
  let q = try #require(file.info("blk.0.attn_q.weight"))
  #expect(q.type == .q4_1 && q.dimensions == [64, 64] && q.byteCount == 64 * 64 / 32 * 20)
  #expect(file.info("blk.0.ffn_down.weight")?.shape == [64, 256])
}

@Test func tinyLlamaAgreesWithTransformers() throws {
  let golden = try GoldenModel("tiny-llama.json")
  let loaded = try PretrainedFiles.load(
    goldenDirectory.appendingPathComponent("tiny-llama.gguf").path)
  let c = loaded.config
  #expect(c.family == .llama && c.layers == 2 && c.hiddenSize == 64 && c.intermediateSize == 256)
  #expect(c.heads == 4 && c.keyValueHeads == 2 && c.headDimension == 16 && c.vocabularySize == 32)
  #expect(c.tiedEmbeddings && !c.attentionBias && c.bosToken == 1 && c.eosTokens == [2])
  #expect(Double(c.rmsNormEpsilon) == golden.config["rms_norm_eps"])
  #expect(c.contextLength == 256 && c.ropeTheta == 10000 && c.ropeScaling == nil)
  #expect(Set(loaded.weights.keys) == Set(golden.weights.keys))
  for (name, summary) in golden.weights { summary.check(loaded.weights[name], name) }
  #expect(loaded.source.hasPrefix("GGUF v3 llama, 20 tensors ("))
  #expect(loaded.contentHash.count == 16)
  guard case .gguf(let metadata)? = loaded.tokenizer else {
    Issue.record("tokenizer source is not GGUF metadata")
    return
  }
  #expect(metadata["tokenizer.ggml.pre"]?.string == "smollm")
}

@Test func tinyQwen2AgreesWithTransformers() throws {
  let golden = try GoldenModel("tiny-qwen2.json")
  let loaded = try PretrainedFiles.load(
    goldenDirectory.appendingPathComponent("tiny-qwen2.gguf").path)
  let c = loaded.config
  #expect(c.family == .qwen2 && c.attentionBias && !c.tiedEmbeddings && c.layers == 1)
  #expect(c.heads == 4 && c.keyValueHeads == 2 && c.intermediateSize == 96)
  #expect(c.ropeTheta == 1_000_000 && c.rmsNormEpsilon == 1e-6 && c.bosToken == nil)
  #expect(c.eosTokens == [3, 4])
  #expect(Set(loaded.weights.keys) == Set(golden.weights.keys))
  #expect(loaded.weights["model.layers.0.self_attn.k_proj.bias"]?.shape == [32])
  // Qwen2's Q/K are not permuted by llama.cpp: the rows come back as stored.
  for (name, summary) in golden.weights { summary.check(loaded.weights[name], name) }
}

@Test func llama3RopeScalingIsRecoveredFromRopeFreqs() throws {
  let url = goldenDirectory.appendingPathComponent("tiny-llama3.gguf")
  let loaded = try PretrainedFiles.load(url.path)
  let c = loaded.config
  #expect(
    c.ropeScaling
      == .init(
        factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 8192))
  #expect(c.ropeTheta == 500000 && c.contextLength == 131072 && c.eosTokens == [1, 2])
  #expect(loaded.weights["rope_freqs.weight"] == nil && loaded.weights.count == 11)
  // One factor off the Llama 3 curve: refused, naming the tensor.
  let file = try GGUFFile(url: url)
  let at = file.dataOffset + file.info("rope_freqs.weight")!.offset + 4 * 4
  var bytes = [UInt8](try Data(contentsOf: url))
  withUnsafeBytes(of: Float(3).bitPattern.littleEndian) {
    bytes.replaceSubrange(at..<(at + 4), with: $0)
  }
  let bad = try temporaryFile(bytes)
  #expect(
    errorText { _ = try PretrainedFiles.load(bad.path) }
      == "\(bad.path): tensor 'rope_freqs.weight' holds rope frequency factors that are not "
      + "Llama 3's scaling (factor 8.0, low 1, high 4, original context 8192); Allot cannot read "
      + "other rope scalings")
}

@Test func unpermutingUndoesLlamaCppsPermutation() {
  // Two heads of head_dim 4, one column: GGUF rows [h, hd/2, 2] hold HF rows [h, 2, hd/2].
  let gguf = Tensor([0, 2, 1, 3, 4, 6, 5, 7], shape: [8, 1])
  #expect(GGUFFile.unpermuteRows(gguf, heads: 2).scalars == [0, 1, 2, 3, 4, 5, 6, 7])
}

/// The bytes of tiny-llama.gguf with `edit` applied.
func tinyLlama(_ edit: (inout [UInt8]) -> Void = { _ in }) throws -> URL {
  var bytes = [UInt8](
    try Data(contentsOf: goldenDirectory.appendingPathComponent("tiny-llama.gguf")))
  edit(&bytes)
  return try temporaryFile(bytes)
}

/// The offset just past the first occurrence of `text` in `bytes`.
func after(_ text: String, in bytes: [UInt8]) -> Int {
  let needle = Array(text.utf8)
  let start = (0...(bytes.count - needle.count)).first {
    bytes[$0..<($0 + needle.count)].elementsEqual(needle)
  }!
  return start + needle.count
}

/// Sets the uint32 metadata value of `key` (its type tag follows the key).
func setUInt32(_ key: String, _ value: UInt32, in bytes: inout [UInt8]) {
  let at = after(key, in: bytes) + 4
  for i in 0..<4 { bytes[at + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
}

/// Sets the type code of tensor `name` in the tensor table.
func setTensorType(_ name: String, _ code: UInt32, in bytes: inout [UInt8]) {
  let at = after(name, in: bytes)
  let rank = Int(bytes[at])
  let typeAt = at + 4 + 8 * rank
  for i in 0..<4 { bytes[typeAt + i] = UInt8(truncatingIfNeeded: code >> (8 * UInt32(i))) }
}

@Test func badGGUFFilesNameTheFileAndTheProblem() throws {
  func load(_ url: URL) -> String {
    let text = errorText { _ = try PretrainedFiles.load(url.path) }
    #expect(text.hasPrefix(url.path + ": "), "\(text)")
    return text
  }
  let size = try Data(contentsOf: goldenDirectory.appendingPathComponent("tiny-llama.gguf")).count
  let cutData = try tinyLlama { $0.removeLast(100) }
  #expect(load(cutData).contains("is truncated: tensor 'output_norm.weight' (F32 [64])"))
  let cutHeader = try tinyLlama { $0.removeLast(size - 300) }
  #expect(load(cutHeader).contains("is truncated or corrupt: the tensor count at byte 8 is 20"))
  #expect(load(try tinyLlama { $0[0] = UInt8(ascii: "X") }).contains("is not a GGUF file"))
  #expect(load(try tinyLlama { $0[4] = 2 }).contains("is GGUF version 2; Allot reads version 3"))
  let missing = load(try tinyLlama { setUInt32("llama.block_count", 3, in: &$0) })
  #expect(
    missing.contains(
      "tensor 'blk.2.attn_norm.weight' (model.layers.2.input_layernorm.weight) is missing"))
  let shape = load(try tinyLlama { setUInt32("llama.feed_forward_length", 128, in: &$0) })
  #expect(
    shape.contains(
      "tensor 'blk.0.ffn_down.weight' (model.layers.0.mlp.down_proj.weight) has shape [64, 256], expected [64, 128]"
    ))
  let iq2 = load(try tinyLlama { setTensorType("blk.0.ffn_down.weight", 16, in: &$0) })
  #expect(
    iq2.contains(
      "tensor 'blk.0.ffn_down.weight' has type IQ2_XXS, which Allot does not read; supported: F32, F16, BF16, Q8_0"
    ))
  let unknown = load(try tinyLlama { setTensorType("blk.1.attn_v.weight", 99, in: &$0) })
  #expect(
    unknown.contains(
      "tensor 'blk.1.attn_v.weight' has type 99 (not a ggml type), which Allot does not read"))
  let arch = load(
    try tinyLlama { b in
      let at = after("general.architecture", in: b) + 12  // type tag, string length
      b.replaceSubrange(at..<(at + 5), with: Array("gemma".utf8))
    })
  #expect(arch.contains("general.architecture is 'gemma'; Allot reads 'llama' and 'qwen2'"))
  #expect(load(URL(fileURLWithPath: "/nonexistent/x.gguf")).contains("does not exist"))
}

/// .models/SmolLM2-135M-Instruct.Q4_1.gguf, which .ci/setup fetches; nil (skipping the
/// test) only outside CI.
func smolLM2GGUF() throws -> URL? {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent(".models/SmolLM2-135M-Instruct.Q4_1.gguf")
  if FileManager.default.fileExists(atPath: url.path) { return url }
  if ProcessInfo.processInfo.environment["CI"] == "true" {
    Issue.record("\(url.path) is missing; .ci/setup fetches it")
  }
  return nil
}

@Test func smolLM2LoadsAsTransformersReadsIt() throws {
  guard let url = try smolLM2GGUF() else { return }
  let golden = try GoldenModel("smollm2.json")
  let loaded = try PretrainedFiles.load(url.path)
  let c = loaded.config
  #expect(c.family == .llama && c.layers == 30 && c.hiddenSize == 576 && c.intermediateSize == 1536)
  #expect(c.heads == 9 && c.keyValueHeads == 3 && c.headDimension == 64)
  #expect(c.vocabularySize == 49152 && c.contextLength == 8192 && c.ropeTheta == 100000)
  #expect(c.rmsNormEpsilon == Float(1e-5) && c.tiedEmbeddings && c.ropeScaling == nil)
  #expect(c.bosToken == 1 && c.eosTokens == [2])
  #expect(loaded.weights.count == 272)
  #expect(loaded.weights.values.reduce(0) { $0 + $1.count } == 134_515_008)
  for (name, summary) in golden.weights { summary.check(loaded.weights[name], name) }
  #expect(loaded.source == "GGUF v3 llama, 272 tensors (Q4_1 ×210, F32 ×61, Q8_0 ×1)")
  #expect(loaded.chatTemplate?.contains("<|im_start|>") == true)
  guard case .gguf(let m)? = loaded.tokenizer else {
    Issue.record("tokenizer source is not GGUF metadata")
    return
  }
  #expect(try m.strings("tokenizer.ggml.tokens").count == 49152)
  #expect(try m.strings("tokenizer.ggml.merges").count == 48900)
}

/// A GGUF file with no tensors and the given metadata entries (key, type tag, value bytes).
func handMadeGGUF(_ entries: [(key: String, type: UInt32, value: [UInt8])]) -> [UInt8] {
  func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
  }
  func string(_ s: [UInt8]) -> [UInt8] { le(UInt64(s.count)) + s }
  var bytes = Array("GGUF".utf8) + le(UInt32(3)) + le(UInt64(0)) + le(UInt64(entries.count))
  for e in entries { bytes += string(Array(e.key.utf8)) + le(e.type) + e.value }
  return bytes
}

@Test func readsNestedArraysAndRefusesBadMetadata() throws {
  func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.littleEndian) { Array($0) }
  }
  // [[1, 2], [3]] as an array of arrays of uint32.
  let inner1 = le(UInt32(4)) + le(UInt64(2)) + le(UInt32(1)) + le(UInt32(2))
  let inner2 = le(UInt32(4)) + le(UInt64(1)) + le(UInt32(3))
  let nested = le(UInt32(9)) + le(UInt64(2)) + inner1 + inner2
  let file = try GGUFFile(url: try temporaryFile(handMadeGGUF([("n", 9, nested)])))
  #expect(file.metadata["n"]?.array?.map { $0.ints ?? [] } == [[1, 2], [3]])
  #expect(file.tensors.isEmpty && file.metadata["n"]?.typeName == "array of array of uint32")
  let twice = try temporaryFile(handMadeGGUF([("k", 4, le(UInt32(1))), ("k", 4, le(UInt32(2)))]))
  #expect(
    errorText { _ = try GGUFFile(url: twice) } == "\(twice.path): metadata key 'k' appears twice")
  let utf8 = try temporaryFile(handMadeGGUF([("s", 8, le(UInt64(2)) + [0xC3, 0x28])]))
  #expect(
    errorText { _ = try GGUFFile(url: utf8) }.contains("the value of metadata key 's' at byte"))
  #expect(errorText { _ = try GGUFFile(url: utf8) }.hasSuffix("is not valid UTF-8"))
  let huge = try temporaryFile(handMadeGGUF([("a", 9, le(UInt32(8)) + le(UInt64(1) << 40))]))
  #expect(errorText { _ = try GGUFFile(url: huge) }.contains("more than the 0 bytes left can hold"))
  let badType = try temporaryFile(handMadeGGUF([("t", 13, [])]))
  #expect(
    errorText { _ = try GGUFFile(url: badType) }.hasSuffix(
      "metadata key 't' has unknown value type 13"))
}
