import Foundation
import TensorCore

extension PretrainedModel {
  /// Writes the model as a Hugging Face directory that transformers loads
  /// (`AutoModelForCausalLM`, `AutoTokenizer`) and Allot reads back: `config.json`,
  /// `generation_config.json`, `model.safetensors` (the current parameters in F32; no
  /// `lm_head.weight` when the head is tied), `tokenizer.json` and `tokenizer_config.json`
  /// (with the chat template text), all written from Allot's own data.
  ///
  /// `directory` must not exist or be empty; the files are written into a sibling
  /// directory that is renamed into place, so a failed export leaves nothing behind.
  public func exportHuggingFace(to directory: String) throws {
    let fm = FileManager.default
    let target = URL(fileURLWithPath: directory)
    var isDirectory: ObjCBool = false
    if fm.fileExists(atPath: directory, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else {
        throw PretrainedFileError(directory, "exists and is not a directory")
      }
      guard (try? fm.contentsOfDirectory(atPath: directory))?.isEmpty == true else {
        throw PretrainedFileError(directory, "exists and is not empty; export into a new directory")
      }
    }
    let staging = target.deletingLastPathComponent()
      .appendingPathComponent(".\(target.lastPathComponent).partial-\(UUID().uuidString)")
    do {
      try fm.createDirectory(at: staging, withIntermediateDirectories: true)
      func write(_ name: String, _ value: JSON) throws {
        try Data((value.prettyText + "\n").utf8).write(to: staging.appendingPathComponent(name))
      }
      try write("config.json", try huggingFaceConfig())
      try write("generation_config.json", generationConfig)
      try write("tokenizer.json", try tokenizerJSON())
      try write("tokenizer_config.json", tokenizerConfig)
      let weights = Dictionary(uniqueKeysWithValues: model.namedParameters())
      try SafetensorsWriter.write(
        weights, dtype: .f32, to: staging.appendingPathComponent("model.safetensors"))
      if fm.fileExists(atPath: directory) { try fm.removeItem(at: target) }
      try fm.moveItem(at: staging, to: target)
    } catch {
      try? fm.removeItem(at: staging)
      if let error = error as? PretrainedFileError { throw error }
      throw PretrainedFileError(directory, "cannot be written (\(error.localizedDescription))")
    }
  }

  /// `config.json`: every field transformers' LlamaConfig / Qwen2Config reads for this model.
  func huggingFaceConfig() throws -> JSON {
    let c = config
    if c.family == .qwen2 && !c.attentionBias {
      throw PretrainedFileError(
        source, "a qwen2 model without attention biases has no transformers config to export to")
    }
    var fields: [String: JSON] = [
      "architectures": .array([
        .string(c.family == .qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM")
      ]),
      "model_type": .string(c.family.rawValue),
      "vocab_size": .int(c.vocabularySize), "hidden_size": .int(c.hiddenSize),
      "intermediate_size": .int(c.intermediateSize), "num_hidden_layers": .int(c.layers),
      "num_attention_heads": .int(c.heads), "num_key_value_heads": .int(c.keyValueHeads),
      "head_dim": .int(c.headDimension), "hidden_act": .string("silu"),
      "max_position_embeddings": .int(c.contextLength),
      // The Float's shortest spelling (1e-05), which rounds back to the same Float.
      "rms_norm_eps": .number(Double("\(c.rmsNormEpsilon)")!),
      "rope_theta": .number(c.ropeTheta), "tie_word_embeddings": .bool(c.tiedEmbeddings),
      "attention_dropout": .number(0), "initializer_range": .number(0.02),
      "use_cache": .bool(true), "torch_dtype": .string("float32"),
      "bos_token_id": c.bosToken.map(JSON.int) ?? .null, "eos_token_id": Self.ids(c.eosTokens),
      "rope_scaling": c.ropeScaling.map {
        .object([
          "rope_type": .string("llama3"), "factor": .number($0.factor),
          "low_freq_factor": .number($0.lowFrequencyFactor),
          "high_freq_factor": .number($0.highFrequencyFactor),
          "original_max_position_embeddings": .int($0.originalContextLength),
        ])
      } ?? .null,
    ]
    if c.family == .llama {
      fields["attention_bias"] = .bool(c.attentionBias)
      fields["mlp_bias"] = .bool(false)
      fields["pretraining_tp"] = .int(1)
    } else {
      fields["use_sliding_window"] = .bool(false)
      fields["sliding_window"] = .null
      fields["max_window_layers"] = .int(c.layers)
    }
    if let pad = tokenizer.paddingToken { fields["pad_token_id"] = .int(pad) }
    return .object(fields)
  }

  /// `generation_config.json`: the BOS, end and padding ids.
  var generationConfig: JSON {
    var fields: [String: JSON] = ["eos_token_id": Self.ids(config.eosTokens)]
    if let bos = config.bosToken { fields["bos_token_id"] = .int(bos) }
    if let pad = tokenizer.paddingToken { fields["pad_token_id"] = .int(pad) }
    return .object(fields)
  }

  /// One id, or a list when there are several (as transformers writes `eos_token_id`).
  static func ids(_ ids: [Int]) -> JSON {
    ids.count == 1 ? .int(ids[0]) : .array(ids.map(JSON.int))
  }

  /// `tokenizer_config.json`: special tokens by content, whether a BOS is added, the chat
  /// template.
  var tokenizerConfig: JSON {
    let t = tokenizer
    let name = { (id: Int?) in id.map { JSON.string(t.tokens[$0]) } ?? .null }
    var fields: [String: JSON] = [
      "tokenizer_class": .string("PreTrainedTokenizerFast"),
      "bos_token": name(t.bosToken), "eos_token": name(t.eosToken),
      "pad_token": name(t.paddingToken),
      "add_bos_token": .bool(addsBOSToken), "add_eos_token": .bool(false),
      "clean_up_tokenization_spaces": .bool(false),
      "model_max_length": .int(config.contextLength),
    ]
    if let chatTemplateText { fields["chat_template"] = .string(chatTemplateText) }
    return .object(fields)
  }

  /// `tokenizer.json` in the Hugging Face `tokenizers` format: the BPE model (every token in
  /// `vocab`, merges as pairs), the added tokens, the pre-tokenizer of `preTokenizer`, NFC
  /// when the tokenizer normalises, a BOS post-processor when it adds one, ByteLevel decoding.
  func tokenizerJSON() throws -> JSON {
    let data = TokenizerData(tokenizer)
    var vocab: [String: JSON] = [:]
    for (id, token) in data.tokens.enumerated() {
      guard vocab[token] == nil else {
        throw PretrainedFileError(
          source, "token '\(token)' has two ids, which tokenizer.json cannot hold")
      }
      vocab[token] = .int(id)
    }
    let byteLevel = { (regex: Bool) in
      JSON.object([
        "type": .string("ByteLevel"), "add_prefix_space": .bool(false),
        "trim_offsets": .bool(true), "use_regex": .bool(regex),
      ])
    }
    let pre: JSON
    switch tokenizer.preTokenizer {
    case .gpt2: pre = byteLevel(true)
    case .smollm:
      pre = .object([
        "type": .string("Sequence"),
        "pretokenizers": .array([
          .object(["type": .string("Digits"), "individual_digits": .bool(true)]), byteLevel(true),
        ]),
      ])
    case .llama3, .qwen2:
      let pattern =
        tokenizer.preTokenizer == .llama3 ? PreTokenizer.llama3Pattern : PreTokenizer.qwen2Pattern
      pre = .object([
        "type": .string("Sequence"),
        "pretokenizers": .array([
          .object([
            "type": .string("Split"), "pattern": .object(["Regex": .string(pattern)]),
            "behavior": .string("Isolated"), "invert": .bool(false),
          ]),
          byteLevel(false),
        ]),
      ])
    }
    var post = JSON.null
    if addsBOSToken, let bos = tokenizer.bosToken {
      let token = tokenizer.tokens[bos]
      let special = JSON.object([
        "SpecialToken": .object(["id": .string(token), "type_id": .int(0)])
      ])
      let sequence = { (id: String) in
        JSON.object(["Sequence": .object(["id": .string(id), "type_id": .int(0)])])
      }
      post = .object([
        "type": .string("TemplateProcessing"), "single": .array([special, sequence("A")]),
        "pair": .array([special, sequence("A"), special, sequence("B")]),
        "special_tokens": .object([
          token: .object([
            "id": .string(token), "ids": .array([.int(bos)]), "tokens": .array([.string(token)]),
          ])
        ]),
      ])
    }
    return .object([
      "version": .string("1.0"), "truncation": .null, "padding": .null,
      "added_tokens": .array(
        data.addedTokens.map {
          .object([
            "id": .int($0.id), "content": .string($0.content), "single_word": .bool(false),
            "lstrip": .bool(false), "rstrip": .bool(false), "normalized": .bool(false),
            "special": .bool($0.special),
          ])
        }),
      "normalizer": data.normalizesNFC ? .object(["type": .string("NFC")]) : .null,
      "pre_tokenizer": pre, "post_processor": post,
      "decoder": .object([
        "type": .string("ByteLevel"), "add_prefix_space": .bool(true),
        "trim_offsets": .bool(true), "use_regex": .bool(true),
      ]),
      "model": .object([
        "type": .string("BPE"), "dropout": .null, "unk_token": .null,
        "continuing_subword_prefix": .null, "end_of_word_suffix": .null, "fuse_unk": .bool(false),
        "byte_fallback": .bool(false), "ignore_merges": .bool(data.ignoreMerges),
        "vocab": .object(vocab),
        "merges": .array(data.merges.map { .array($0.map(JSON.string)) }),
      ]),
    ])
  }
}

extension JSON: Encodable {
  static func int(_ n: Int) -> JSON { .number(Double(n)) }

  func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .number(let n) where n == n.rounded() && abs(n) < 9e15: try c.encode(Int64(n))
    case .number(let n): try c.encode(n)
    case .string(let s): try c.encode(s)
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }

  /// Indented JSON with sorted keys.
  var prettyText: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(self), as: UTF8.self)
  }
}
