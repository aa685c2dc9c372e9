import Foundation
import TensorCore

/// The parts of a Hugging Face `tokenizer_config.json` the tokenizer and the chat
/// template need (special tokens may be strings or `{"content": …}` objects there).
public struct HuggingFaceTokenizerConfig: Sendable, Equatable {
  /// `chat_template` (a string, or the entry named "default" of a list), or the
  /// directory's `chat_template.jinja`.
  public var chatTemplate: String?
  public var bosToken: String?
  public var eosToken: String?
  public var unkToken: String?
  public var padToken: String?
  public var addBosToken: Bool?
  public var addEosToken: Bool?
}

/// A Hugging Face model directory: `config.json` (model_type llama or qwen2),
/// `generation_config.json`, `model.safetensors` or shards listed in
/// `model.safetensors.index.json`, and the tokenizer files. The constructor reads and
/// checks everything but the weights' values, which `weights()` converts.
public struct HuggingFaceDirectory: Sendable {
  public let url: URL
  public let config: LlamaConfig
  /// The safetensors files holding the weights.
  public let weightFiles: [SafetensorsFile]
  /// `tokenizer.json`, when present.
  public let tokenizerJSON: URL?
  /// `tokenizer_config.json` parsed, when present.
  public let tokenizerConfig: HuggingFaceTokenizerConfig?

  /// The `model_type`s Allot reads.
  public static let modelTypes = ["llama", "qwen2"]

  public init(url: URL) throws {
    self.url = url
    let configURL = url.appendingPathComponent("config.json")
    guard let json = try Self.object(configURL) else {
      throw PretrainedFileError(url.path, "has no config.json")
    }
    var config = try Self.config(json, path: configURL.path)
    if let generation = try Self.object(url.appendingPathComponent("generation_config.json")) {
      let ids = try Self.ids(
        generation["eos_token_id"], key: "eos_token_id", path: url.path + "/generation_config.json")
      config.eosTokens = ids + config.eosTokens.filter { !ids.contains($0) }
    }
    self.config = config
    weightFiles = try Self.weightFiles(url)
    try config.checkWeightShapes(
      Dictionary(weightFiles.flatMap { f in f.entries.map { ($0.key, $0.value.shape) } }) { a, _ in
        a
      },
      path: url.path)
    let tokenizer = url.appendingPathComponent("tokenizer.json")
    tokenizerJSON = FileManager.default.fileExists(atPath: tokenizer.path) ? tokenizer : nil
    tokenizerConfig = try Self.tokenizerConfig(url)
  }

  /// "Hugging Face llama directory, 1 safetensors file (F32 ×12)".
  public var description: String {
    var types: [String: Int] = [:]
    for f in weightFiles { for e in f.entries.values { types[e.dtype.rawValue, default: 0] += 1 } }
    let counts = types.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
    return "Hugging Face \(config.family.rawValue) directory, \(weightFiles.count) safetensors "
      + "file\(weightFiles.count == 1 ? "" : "s") (\(counts.joined(separator: ", ")))"
  }

  /// Every weight as Float32, by name.
  public func weights() throws -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    for file in weightFiles {
      for name in file.entries.keys { out[name] = try file.tensor(name) }
    }
    return out
  }

  /// `ContentHash` of config.json and the weight files, in order.
  public func contentHash() throws -> String {
    var hashes: [UInt64] = []
    for path in [url.appendingPathComponent("config.json").path] + weightFiles.map(\.path) {
      let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
      hashes.append(data.withUnsafeBytes { ContentHash.hash($0) })
    }
    return hashes.withUnsafeBytes { ContentHash.hex(of: $0) }
  }

  /// The JSON object in `url`, nil when the file does not exist.
  static func object(_ url: URL) throws -> [String: JSON]? {
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw PretrainedFileError(url.path, "cannot be read (\(SafetensorsFile.reason(error)))")
    }
    guard case .object(let object)? = try? JSONDecoder().decode(JSON.self, from: data) else {
      throw PretrainedFileError(url.path, "is not a JSON object")
    }
    return object
  }

  /// A token id or a list of them (`eos_token_id`); [] when absent or null.
  static func ids(_ value: JSON?, key: String, path: String) throws -> [Int] {
    switch value {
    case nil, .null?: return []
    case .number(let n)? where n == n.rounded() && n >= 0: return [Int(n)]
    case .array(let list)?
    where list.allSatisfy({
      if case .number(let n) = $0 { n == n.rounded() && n >= 0 } else { false }
    }):
      return list.compactMap { if case .number(let n) = $0 { Int(n) } else { nil } }
    case let v?: throw PretrainedFileError(path, "\(key) is \(v), not a token id or a list of them")
    }
  }

  /// The `LlamaConfig` of the text of a `config.json` (read from `path`).
  public static func config(json text: Data, path: String) throws -> LlamaConfig {
    guard case .object(let object)? = try? JSONDecoder().decode(JSON.self, from: text) else {
      throw PretrainedFileError(path, "is not a JSON object")
    }
    return try config(object, path: path)
  }

  /// The `LlamaConfig` of a `config.json` object; other model types are refused by name.
  static func config(_ json: [String: JSON], path: String) throws -> LlamaConfig {
    func number(_ key: String, _ fallback: Double? = nil) throws -> Double {
      switch json[key] {
      case .number(let n)?: return n
      case nil, .null?:
        if let fallback { return fallback }
        throw PretrainedFileError(path, "has no \(key)")
      case let v?: throw PretrainedFileError(path, "\(key) is \(v), not a number")
      }
    }
    func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
      let v = try number(key, fallback.map(Double.init))
      guard v == v.rounded(), v >= 0, v < 1e12 else {
        throw PretrainedFileError(path, "\(key) is \(v), not a count")
      }
      return Int(v)
    }
    func bool(_ key: String, _ fallback: Bool) throws -> Bool {
      switch json[key] {
      case nil, .null?: return fallback
      case .bool(let b)?: return b
      case let v?: throw PretrainedFileError(path, "\(key) is \(v), not true or false")
      }
    }
    let type = json["model_type"]?.string ?? "(none)"
    guard let family = LlamaConfig.Family(rawValue: type), modelTypes.contains(type) else {
      throw PretrainedFileError(
        path,
        "model_type is '\(type)'; Allot reads "
          + modelTypes.map { "'\($0)'" }.joined(separator: " and "))
    }
    if try bool("mlp_bias", false) {
      throw PretrainedFileError(path, "mlp_bias is true; Allot's Llama has no MLP biases")
    }
    if family == .qwen2, try bool("use_sliding_window", false) {
      throw PretrainedFileError(
        path, "use_sliding_window is true; Allot has no sliding-window attention")
    }
    let hidden = try int("hidden_size")
    let heads = try int("num_attention_heads")
    guard heads > 0 else { throw PretrainedFileError(path, "num_attention_heads is 0") }
    let kvHeads = try int("num_key_value_heads", heads)
    guard kvHeads > 0, heads % kvHeads == 0 else {
      throw PretrainedFileError(
        path, "num_key_value_heads is \(kvHeads), which does not divide \(heads) heads")
    }
    // transformers 5 writes the rotary settings as one `rope_parameters` object (its
    // rope_theta, and rope_type "default" or a scaling's type and fields); older files put
    // rope_theta and rope_scaling at the top level, which win when both are there.
    var theta = try number("rope_theta", 10000)
    var ropeKey = "rope_scaling"
    var ropeValue = json["rope_scaling"]
    if let parameters = json["rope_parameters"], parameters != .null {
      guard case .object(let p) = parameters else {
        throw PretrainedFileError(path, "rope_parameters is \(parameters), not an object")
      }
      if json["rope_theta"] == nil, case .number(let t)? = p["rope_theta"] { theta = t }
      let kind = (p["rope_type"] ?? p["type"])?.string ?? "default"
      if kind != "default", ropeValue == nil || ropeValue == .null {
        (ropeKey, ropeValue) = ("rope_parameters", parameters)
      }
    }
    var scaling: LlamaConfig.Llama3RopeScaling?
    if let rope = ropeValue, rope != .null {
      guard case .object(let r) = rope else {
        throw PretrainedFileError(path, "\(ropeKey) is \(rope), not an object")
      }
      let kind = (r["rope_type"] ?? r["type"])?.string ?? "(none)"
      guard kind == "llama3" else {
        throw PretrainedFileError(
          path, "\(ropeKey) type is '\(kind)'; Allot supports only 'llama3'")
      }
      func field(_ key: String) throws -> Double {
        guard case .number(let v)? = r[key] else {
          throw PretrainedFileError(path, "\(ropeKey) has no number \(key)")
        }
        return v
      }
      scaling = .init(
        factor: try field("factor"), lowFrequencyFactor: try field("low_freq_factor"),
        highFrequencyFactor: try field("high_freq_factor"),
        originalContextLength: Int(try field("original_max_position_embeddings")))
    }
    return LlamaConfig(
      family: family, vocabularySize: try int("vocab_size"), hiddenSize: hidden,
      intermediateSize: try int("intermediate_size"), layers: try int("num_hidden_layers"),
      heads: heads, keyValueHeads: kvHeads, headDimension: try int("head_dim", hidden / heads),
      rmsNormEpsilon: Float(try number("rms_norm_eps", 1e-6)),
      ropeTheta: theta, ropeScaling: scaling,
      contextLength: try int("max_position_embeddings", family == .qwen2 ? 32768 : 2048),
      tiedEmbeddings: try bool("tie_word_embeddings", false),
      attentionBias: try bool("attention_bias", family == .qwen2),
      bosToken: try ids(json["bos_token_id"], key: "bos_token_id", path: path).first,
      eosTokens: try ids(json["eos_token_id"], key: "eos_token_id", path: path))
  }

  /// `model.safetensors`, or the shards `model.safetensors.index.json` lists (each tensor
  /// in exactly the shard the index names).
  static func weightFiles(_ url: URL) throws -> [SafetensorsFile] {
    let indexURL = url.appendingPathComponent("model.safetensors.index.json")
    if let index = try object(indexURL) {
      guard case .object(let entries)? = index["weight_map"],
        case let map = entries.compactMapValues(\.string), map.count == entries.count
      else {
        throw PretrainedFileError(indexURL.path, "has no weight_map of tensor names to files")
      }
      var files: [SafetensorsFile] = []
      for shard in Set(map.values).sorted() {
        let file = try SafetensorsFile(url: url.appendingPathComponent(shard))
        for name in file.entries.keys where map[name] != shard {
          throw PretrainedFileError(
            file.path, "holds tensor '\(name)', which the index places in \(map[name] ?? "no file")"
          )
        }
        files.append(file)
      }
      for (name, shard) in map.sorted(by: { $0.key < $1.key })
      where files.first(where: { $0.path.hasSuffix("/" + shard) })?.entries[name] == nil {
        throw PretrainedFileError(
          indexURL.path, "places tensor '\(name)' in \(shard), which lacks it")
      }
      return files
    }
    let single = url.appendingPathComponent("model.safetensors")
    guard FileManager.default.fileExists(atPath: single.path) else {
      let bin = FileManager.default.fileExists(
        atPath: url.appendingPathComponent("pytorch_model.bin").path)
      throw PretrainedFileError(
        url.path,
        "has no model.safetensors or model.safetensors.index.json"
          + (bin
            ? " (only pytorch_model.bin, which Allot does not read: convert it to safetensors)"
            : ""))
    }
    return [try SafetensorsFile(url: single)]
  }

  static func tokenizerConfig(_ url: URL) throws -> HuggingFaceTokenizerConfig? {
    let jinja = url.appendingPathComponent("chat_template.jinja")
    let template = try? String(contentsOf: jinja, encoding: .utf8)
    guard let json = try object(url.appendingPathComponent("tokenizer_config.json")) else {
      return template.map { HuggingFaceTokenizerConfig(chatTemplate: $0) }
    }
    func token(_ key: String) -> String? { json[key]?.string ?? json[key]?["content"]?.string }
    var chat = json["chat_template"]?.string
    if chat == nil, case .array(let list)? = json["chat_template"] {
      chat = list.first { $0["name"]?.string == "default" }?["template"]?.string
    }
    return HuggingFaceTokenizerConfig(
      chatTemplate: template ?? chat, bosToken: token("bos_token"), eosToken: token("eos_token"),
      unkToken: token("unk_token"), padToken: token("pad_token"),
      addBosToken: json["add_bos_token"]?.bool, addEosToken: json["add_eos_token"]?.bool)
  }
}

/// A parsed JSON value (JSONDecoder keeps booleans and numbers apart, which
/// JSONSerialization on Linux does not reliably do).
enum JSON: Decodable, Equatable, CustomStringConvertible {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSON])
  case object([String: JSON])

  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let n = try? c.decode(Double.self) {
      self = .number(n)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSON].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSON].self))
    }
  }

  var string: String? { if case .string(let s) = self { s } else { nil } }
  var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
  subscript(key: String) -> JSON? { if case .object(let o) = self { o[key] } else { nil } }

  var description: String {
    switch self {
    case .null: "null"
    case .bool(let b): "\(b)"
    case .number(let n): n == n.rounded() && abs(n) < 1e15 ? "\(Int(n))" : "\(n)"
    case .string(let s): "\"\(s)\""
    case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
    case .object(let o):
      "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]!)" }.joined(separator: ", ") + "}"
    }
  }
}
