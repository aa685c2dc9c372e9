import Foundation
import TensorCore

/// Everything a `BPETokenizer` is built from, as plain values: what a checkpoint stores and
/// what an export's `tokenizer.json` is written from, whichever files the tokenizer came from.
public struct TokenizerData: Codable, Equatable, Sendable {
  public struct AddedToken: Codable, Equatable, Sendable {
    public var content: String
    public var id: Int
    public var special: Bool
  }

  /// `tokens[id]` in the byte-level alphabet.
  public var tokens: [String]
  /// The merges in rank order, each a pair of tokens.
  public var merges: [[String]]
  public var addedTokens: [AddedToken]
  /// A `PreTokenizer` raw value (`gpt2`, `smollm`, `llama3`, `qwen2`).
  public var preTokenizer: String
  public var bosToken: Int?
  public var eosToken: Int?
  public var paddingToken: Int?
  public var addsBOSToken: Bool
  public var ignoreMerges: Bool
  public var normalizesNFC: Bool

  /// The data of `t`; merges come back in rank order (a pair listed twice, once).
  public init(_ t: BPETokenizer) {
    tokens = t.tokens
    merges = t.mergeTable.map { key, value in (value >> 32, Int(key >> 32), Int(key & 0xFFFF_FFFF))
    }
    .sorted { $0.0 < $1.0 }.map { [t.tokens[$0.1], t.tokens[$0.2]] }
    addedTokens = t.addedTokens.map {
      AddedToken(content: $0.content, id: $0.id, special: $0.special)
    }
    preTokenizer = t.preTokenizer.rawValue
    bosToken = t.bosToken
    eosToken = t.eosToken
    paddingToken = t.paddingToken
    addsBOSToken = t.addsBOSToken
    ignoreMerges = t.ignoreMerges
    normalizesNFC = t.normalizesNFC
  }

  /// The tokenizer again; `source` names where the data came from in errors.
  public func tokenizer(source: String) throws -> BPETokenizer {
    guard let pre = PreTokenizer(rawValue: preTokenizer) else {
      throw PretrainedFileError(
        source,
        "tokenizer preTokenizer is '\(preTokenizer)'; Allot knows "
          + PreTokenizer.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))
    }
    if let bad = merges.firstIndex(where: { $0.count != 2 }) {
      throw PretrainedFileError(source, "tokenizer merge \(bad) is not a pair of tokens")
    }
    return try BPETokenizer(
      tokens: tokens, merges: .pairs(merges.map { ($0[0], $0[1]) }), preTokenizer: pre,
      addedTokens: addedTokens.map { .init(content: $0.content, id: $0.id, special: $0.special) },
      bosToken: bosToken, eosToken: eosToken, paddingToken: paddingToken,
      addsBOSToken: addsBOSToken, ignoreMerges: ignoreMerges, normalizesNFC: normalizesNFC,
      source: source)
  }
}

/// What a checkpoint needs, besides the weights, to rebuild a `PretrainedModel` without the
/// file it was first loaded from (see docs/pretrained.md, "Checkpoints and export").
struct PretrainedDescriptor: Codable {
  static let format = "allot.pretrained-model"
  static let version = 1

  var format = Self.format
  var version = Self.version
  var config: LlamaConfig
  var tokenizer: TokenizerData
  var chatTemplate: String?
  var chatTemplateKind: String?
  var source: String
  var contentHash: String
}

extension PretrainedModel {
  /// The model's config, tokenizer data, chat template, source line and content hash as one
  /// JSON string (1.3 MB for SmolLM2), for a checkpoint to store beside the weights.
  public var descriptor: String {
    let d = PretrainedDescriptor(
      config: config, tokenizer: TokenizerData(tokenizer), chatTemplate: chatTemplateText,
      chatTemplateKind: chatTemplateKind, source: source, contentHash: contentHash)
    return jsonLineText(d)
  }

  /// Rebuilds a model from a `descriptor` and weights by Hugging Face name (a checkpoint's
  /// `namedParameters()`); errors name the descriptor's problem or the weight at fault.
  public convenience init(descriptor: String, weights: [String: Tensor]) throws {
    let what = "pretrained-model descriptor"
    let d: PretrainedDescriptor
    do {
      d = try JSONDecoder().decode(PretrainedDescriptor.self, from: Data(descriptor.utf8))
    } catch {
      throw PretrainedFileError(what, "is not valid (\(error))")
    }
    guard d.format == PretrainedDescriptor.format, d.version == PretrainedDescriptor.version else {
      throw PretrainedFileError(
        what,
        "has format '\(d.format)' version \(d.version); Allot reads '\(PretrainedDescriptor.format)' "
          + "version \(PretrainedDescriptor.version)")
    }
    let tokenizer = try d.tokenizer.tokenizer(source: what)
    try Self.checkFits(tokenizer, d.config, path: what)
    try self.init(
      model: try LlamaModel(config: d.config, weights: weights), tokenizer: tokenizer,
      chatTemplateText: d.chatTemplate, chatTemplateKind: d.chatTemplateKind, source: d.source,
      contentHash: d.contentHash)
  }
}
