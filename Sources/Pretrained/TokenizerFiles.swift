import Foundation

extension BPETokenizer {
  /// Reads a Hugging Face `tokenizer.json` (BPE model, byte-level pre-tokenizer) and, when
  /// it sits beside it, `tokenizer_config.json` for the BOS, EOS and padding tokens.
  ///
  /// Supported: `model.vocab`; `model.merges` as `"a b"` strings or `["a", "b"]` pairs;
  /// `model.ignore_merges`; `added_tokens` (without lstrip/rstrip/single_word); normalizer
  /// none or NFC; pre-tokenizer `ByteLevel` (GPT-2 regex), `Digits(individual)` +
  /// `ByteLevel`, or `Split` with the Llama 3 or Qwen2 regex + `ByteLevel`; decoder
  /// `ByteLevel`. Anything else is an error naming the file, the key and the value.
  public init(tokenizerJSON url: URL, config configURL: URL? = nil) throws {
    let path = url.path
    let root = try readJSONObject(url)
    guard let model = root["model"] as? [String: Any] else {
      throw PretrainedFileError(path, "has no 'model' object")
    }
    let type = model["type"] as? String ?? "BPE"
    guard type == "BPE" else {
      throw PretrainedFileError(path, "model.type is '\(type)'; Allot reads only byte-level 'BPE'")
    }
    if let fallback = model["byte_fallback"] as? Bool, fallback {
      throw PretrainedFileError(
        path,
        "model.byte_fallback is true (a SentencePiece-style BPE); Allot reads only byte-level BPE")
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
      if let value = model[key] as? String, !value.isEmpty {
        throw PretrainedFileError(path, "model.\(key) is '\(value)'; Allot supports only none")
      }
    }
    guard let vocab = model["vocab"] as? [String: Any] else {
      throw PretrainedFileError(path, "model.vocab is missing or not an object")
    }
    var byID: [Int: String] = [:]
    for (token, value) in vocab {
      guard let id = value as? Int, id >= 0 else {
        throw PretrainedFileError(path, "model.vocab['\(token)'] is \(value), not a token id")
      }
      byID[id] = token
    }
    var added: [AddedToken] = []
    for (k, item) in (root["added_tokens"] as? [Any] ?? []).enumerated() {
      guard let t = item as? [String: Any], let id = t["id"] as? Int,
        let content = t["content"] as? String
      else {
        throw PretrainedFileError(
          path, "added_tokens[\(k)] has no integer 'id' and string 'content'")
      }
      for flag in ["lstrip", "rstrip", "single_word"] where t[flag] as? Bool == true {
        throw PretrainedFileError(
          path, "added_tokens[\(k)] ('\(content)') has \(flag) true, which Allot does not support")
      }
      added.append(AddedToken(content: content, id: id, special: t["special"] as? Bool ?? false))
      byID[id] = content
    }
    let count = (byID.keys.max() ?? -1) + 1
    var tokens: [String] = []
    tokens.reserveCapacity(count)
    for id in 0..<count {
      guard let token = byID[id] else {
        throw PretrainedFileError(
          path, "has no token with id \(id) (ids must run from 0 without gaps)")
      }
      tokens.append(token)
    }

    let merges: Merges
    switch model["merges"] {
    case let lines as [String]: merges = .joined(lines)
    case let pairs as [[String]]:
      if let bad = pairs.firstIndex(where: { $0.count != 2 }) {
        throw PretrainedFileError(path, "model.merges[\(bad)] is not a pair of tokens")
      }
      merges = .pairs(pairs.map { ($0[0], $0[1]) })
    case nil: merges = .joined([])
    default:
      throw PretrainedFileError(
        path, "model.merges is neither \"a b\" strings nor [\"a\", \"b\"] pairs")
    }

    var nfc = false
    if let normalizer = root["normalizer"] as? [String: Any] {
      let kind = normalizer["type"] as? String ?? "?"
      guard kind == "NFC" else {
        throw PretrainedFileError(
          path, "normalizer.type is '\(kind)'; Allot supports none or 'NFC'")
      }
      nfc = true
    }
    let pre = try PreTokenizer(tokenizerJSON: root["pre_tokenizer"], path: path)
    if let decoder = root["decoder"] as? [String: Any], decoder["type"] as? String != "ByteLevel" {
      throw PretrainedFileError(
        path, "decoder.type is '\(decoder["type"] ?? "?")'; Allot supports 'ByteLevel'")
    }

    // Special tokens from tokenizer_config.json beside the file (or the one given).
    let configURL =
      configURL ?? url.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
    var config: [String: Any] = [:]
    if FileManager.default.fileExists(atPath: configURL.path) {
      config = try readJSONObject(configURL)
    }
    func specialID(_ key: String) throws -> Int? {
      let value = config[key]
      guard let name = value as? String ?? (value as? [String: Any])?["content"] as? String else {
        return nil
      }
      guard let id = added.first(where: { $0.content == name })?.id ?? vocab[name] as? Int else {
        throw PretrainedFileError(configURL.path, "\(key) '\(name)' is not a token of \(path)")
      }
      return id
    }
    try self.init(
      tokens: tokens, merges: merges, preTokenizer: pre, addedTokens: added,
      bosToken: try specialID("bos_token"), eosToken: try specialID("eos_token"),
      paddingToken: try specialID("pad_token"),
      addsBOSToken: config["add_bos_token"] as? Bool ?? false,
      ignoreMerges: model["ignore_merges"] as? Bool ?? false, normalizesNFC: nfc, source: path)
  }

  /// Builds the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata values.
  ///
  /// `model` must be `gpt2` (byte-level BPE); `pre` picks the split rules (`smollm`,
  /// `llama-bpe`/`llama3`, `qwen2`, `gpt2`/`default`). Token types 3 (control) become special
  /// added tokens and 4 (user-defined) plain added tokens, both matched in raw text.
  public static func fromGGUF(
    model: String, pre: String?, tokens: [String], merges: [String], tokenTypes: [Int32]?,
    bosTokenID: Int?, eosTokenID: Int?, paddingTokenID: Int?, addBOSToken: Bool?, source: String
  ) throws -> BPETokenizer {
    guard model == "gpt2" else {
      throw PretrainedFileError(
        source, "tokenizer.ggml.model is '\(model)'; Allot reads only 'gpt2' (byte-level BPE)")
    }
    let kind = try PreTokenizer(ggufPre: pre ?? "default", source: source)
    var added: [AddedToken] = []
    if let types = tokenTypes {
      guard types.count == tokens.count else {
        throw PretrainedFileError(
          source, "tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
      }
      for (id, type) in types.enumerated() where type == 3 || type == 4 {
        added.append(AddedToken(content: tokens[id], id: id, special: type == 3))
      }
    }
    return try BPETokenizer(
      tokens: tokens, merges: .joined(merges), preTokenizer: kind, addedTokens: added,
      bosToken: bosTokenID, eosToken: eosTokenID, paddingToken: paddingTokenID,
      addsBOSToken: addBOSToken ?? false, ignoreMerges: kind == .llama3, source: source)
  }
}

extension PreTokenizer {
  /// The split rules a GGUF `tokenizer.ggml.pre` names.
  ///
  /// `smollm` isolates digits as llama.cpp and SmolLM2's own `tokenizer.json` do
  /// (transformers' GGUF loader drops that step; the two differ only where a digit other
  /// than 0–9 follows a space, such as " ²").
  public init(ggufPre: String, source: String) throws {
    switch ggufPre {
    case "default", "gpt2", "gpt-2": self = .gpt2
    case "smollm": self = .smollm
    case "llama-bpe", "llama3", "llama-v3": self = .llama3
    case "qwen2", "deepseek-r1-qwen": self = .qwen2
    default:
      throw PretrainedFileError(
        source,
        "tokenizer.ggml.pre is '\(ggufPre)'; Allot knows 'smollm', 'llama-bpe', 'qwen2' and 'gpt2'")
    }
  }

  /// The split rules of a `tokenizer.json` `pre_tokenizer` value.
  init(tokenizerJSON value: Any?, path: String) throws {
    func fail(_ what: String) -> PretrainedFileError {
      PretrainedFileError(
        path,
        "pre_tokenizer \(what); Allot supports ByteLevel, Digits(individual_digits) + ByteLevel, "
          + "and Split with the Llama 3 or Qwen2 regex + ByteLevel")
    }
    guard let object = value as? [String: Any] else { throw fail("is missing") }
    var steps = [object]
    if object["type"] as? String == "Sequence" {
      steps = object["pretokenizers"] as? [[String: Any]] ?? []
    }
    let types = steps.map { $0["type"] as? String ?? "?" }
    guard let last = steps.last, types.last == "ByteLevel" else {
      throw fail("is \(types) (it must end with ByteLevel)")
    }
    if last["add_prefix_space"] as? Bool == true {
      throw fail("has ByteLevel.add_prefix_space true")
    }
    let usesRegex = last["use_regex"] as? Bool ?? true
    switch (types.count, usesRegex) {
    case (1, true): self = .gpt2
    case (2, true) where types[0] == "Digits":
      guard steps[0]["individual_digits"] as? Bool == true else {
        throw fail("has Digits without individual_digits")
      }
      self = .smollm
    case (2, false) where types[0] == "Split":
      let split = steps[0]
      let pattern = (split["pattern"] as? [String: Any])?["Regex"] as? String ?? "?"
      guard split["behavior"] as? String == "Isolated", split["invert"] as? Bool != true else {
        throw fail("has a Split whose behavior is not Isolated (or is inverted)")
      }
      switch pattern {
      case Self.llama3Pattern: self = .llama3
      case Self.qwen2Pattern: self = .qwen2
      case Self.gpt2Pattern: self = .gpt2
      default: throw fail("has a Split regex Allot does not know: \(pattern)")
      }
    default: throw fail("is \(types) with ByteLevel.use_regex \(usesRegex)")
    }
  }
}

/// The top-level JSON object of `url`, or an error naming the file.
func readJSONObject(_ url: URL) throws -> [String: Any] {
  let data: Data
  do {
    data = try Data(contentsOf: url)
  } catch {
    throw PretrainedFileError(
      url.path, "cannot be read (\((error as NSError).localizedDescription))")
  }
  guard let value = try? JSONSerialization.jsonObject(with: data) else {
    throw PretrainedFileError(url.path, "is not valid JSON")
  }
  guard let object = value as? [String: Any] else {
    throw PretrainedFileError(url.path, "is not a JSON object")
  }
  return object
}
