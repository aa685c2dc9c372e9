import Foundation
import NN
import Reasoning
import TensorCore

/// A pretrained model ready to use: the Llama-family network, its tokenizer, its chat
/// template and where it came from, loaded from a GGUF file or a Hugging Face directory in
/// one call (`load`), or rebuilt from a checkpoint's `descriptor` and weights.
public final class PretrainedModel {
  public let model: LlamaModel
  public let tokenizer: BPETokenizer
  /// The chat template text the files carry (Jinja), if any; exports write it.
  public let chatTemplateText: String?
  /// The template kind named at load instead of the files' template (`ChatTemplate.names`).
  public let chatTemplateKind: String?
  /// How chat prompts render: the recognised template, or the error that names the way out
  /// (a template kind by name, or raw prompts).
  public let chatTemplate: Result<ChatTemplate, ChatTemplateError>
  /// What was read, in a line ("GGUF v3 llama, 272 tensors (Q4_1 ×210, F32 ×61, Q8_0 ×1)").
  public let source: String
  /// `ContentHash` of the files the model was first loaded from, 16 hex digits.
  public let contentHash: String

  public var config: LlamaConfig { model.config }

  /// Whether raw-text prompts start with the BOS token: the files ask for it (GGUF
  /// `tokenizer.ggml.add_bos_token`, `tokenizer_config.json`'s `add_bos_token`, a
  /// post-processor that opens with a special token) and name one.
  public var addsBOSToken: Bool { tokenizer.addsBOSToken && tokenizer.bosToken != nil }

  /// Assembles a model from parts already checked against each other (`load` and
  /// `init(descriptor:weights:)` do that).
  init(
    model: LlamaModel, tokenizer: BPETokenizer, chatTemplateText: String?,
    chatTemplateKind: String?, source: String, contentHash: String
  ) throws {
    self.model = model
    self.tokenizer = tokenizer
    self.chatTemplateText = chatTemplateText
    self.chatTemplateKind = chatTemplateKind
    self.source = source
    self.contentHash = contentHash
    chatTemplate = try Self.template(
      kind: chatTemplateKind, text: chatTemplateText,
      bosToken: tokenizer.bosToken.map { tokenizer.tokens[$0] })
  }

  /// Loads a GGUF file or a Hugging Face directory (told apart by whether `path` is a
  /// directory). The architecture, the weight types, the tokenizer and how it fits the
  /// config are checked before any weight is converted; every problem throws an error
  /// naming the file and the key or tensor. `chatTemplateKind` (one of
  /// `ChatTemplate.names`) replaces the files' chat template.
  public static func load(_ path: String, chatTemplateKind: String? = nil) throws
    -> PretrainedModel
  {
    if let chatTemplateKind { _ = try ChatTemplate(named: chatTemplateKind) }
    var tokenizer: BPETokenizer?
    let files = try PretrainedFiles.load(path) { config, source, _ in
      guard let source else { throw PretrainedFileError(path, "has no tokenizer") }
      let t = try BPETokenizer(source)
      try checkFits(t, config, path: path)
      tokenizer = t
    }
    let model = try LlamaModel(config: files.config, weights: files.weights)
    return try PretrainedModel(
      model: model, tokenizer: tokenizer!, chatTemplateText: files.chatTemplate,
      chatTemplateKind: chatTemplateKind, source: files.source, contentHash: files.contentHash)
  }

  /// Throws unless every id the tokenizer produces or the config stops at has a row in the
  /// embedding (Qwen2's embedding may be larger than its vocabulary, never smaller).
  static func checkFits(_ t: BPETokenizer, _ config: LlamaConfig, path: String) throws {
    guard t.vocabularySize <= config.vocabularySize else {
      throw PretrainedFileError(
        path,
        "the tokenizer has \(t.vocabularySize) tokens but the model's vocabulary is "
          + "\(config.vocabularySize)")
    }
    if let bad = config.eosTokens.first(where: { !(0..<config.vocabularySize).contains($0) }) {
      throw PretrainedFileError(
        path, "end-of-sequence id \(bad) is outside the vocabulary of \(config.vocabularySize)")
    }
  }

  private static func template(kind: String?, text: String?, bosToken: String?) throws
    -> Result<ChatTemplate, ChatTemplateError>
  {
    if let kind { return .success(try ChatTemplate(named: kind)) }
    guard let text else {
      return .failure(
        ChatTemplateError(
          "the model has no chat template; name a template kind in the config "
            + "(\(ChatTemplate.names.joined(separator: ", "))) or use raw prompts"))
    }
    do {
      return .success(try ChatTemplate(template: text, bosToken: bosToken))
    } catch let error as ChatTemplateError {
      return .failure(error)
    }
  }

  /// `userMessage` as one user turn in the model's chat template, with the opening of the
  /// assistant's reply; throws the template's error when Allot cannot render it.
  public func chatPrompt(_ userMessage: String) throws -> String {
    try chatTemplate.get().render(
      [ChatMessage(role: "user", content: userMessage)], addGenerationPrompt: true)
  }

  /// The ids a prompt is fed as: raw text gets the BOS token when `addsBOSToken`; chat
  /// prompts are rendered by the template (which writes any BOS itself) and tokenized
  /// without one, as transformers' `apply_chat_template` does.
  public func promptIDs(_ text: String, format: PromptFormat) throws -> [Int] {
    switch format {
    case .raw: return (addsBOSToken ? [tokenizer.bosToken!] : []) + tokenizer.encode(text)
    case .chat: return tokenizer.encode(try chatPrompt(text))
    }
  }

  /// The ids of `text` and each id's token string (the vocabulary's spelling, `Ġ` for a
  /// leading space, as transformers' `convert_ids_to_tokens`); no special tokens added.
  public func tokenize(_ text: String) -> TokenizedText {
    let ids = tokenizer.encode(text)
    return TokenizedText(text: text, ids: ids, pieces: ids.map { tokenizer.tokens[$0] })
  }
}

/// How a prompt string becomes the model's input.
public enum PromptFormat: String, Sendable, Codable, CaseIterable {
  /// The text as it is (with BOS when the model asks for one).
  case raw
  /// The text as one user message in the model's chat template, with the generation prompt.
  case chat
}

/// A text's token ids and their token strings.
public struct TokenizedText: Codable, Equatable, Sendable {
  public var text: String
  public var ids: [Int]
  /// `pieces[i]` is the vocabulary string of `ids[i]` (byte-level alphabet: `Ġ` is a space).
  public var pieces: [String]

  public init(text: String, ids: [Int], pieces: [String]) {
    self.text = text
    self.ids = ids
    self.pieces = pieces
  }

  /// One line of JSON (`{"ids":[…],"pieces":[…],"text":"…"}`), no newline.
  public var jsonLine: String { jsonLineText(self) }
}

/// `value` as one line of JSON with sorted keys and unescaped slashes (a non-finite float
/// as the string "-Infinity", "Infinity" or "NaN", as Python's `json` reads them).
func jsonLineText<T: Encodable>(_ value: T) -> String {
  let encoder = JSONEncoder()
  encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
  encoder.nonConformingFloatEncodingStrategy = .convertToString(
    positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  return String(decoding: try! encoder.encode(value), as: UTF8.self)
}
