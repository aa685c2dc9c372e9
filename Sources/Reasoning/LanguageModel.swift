import NN
import TensorCore

/// A causal language model that the batched sampler and the tape scorer drive: Allot's own
/// `TransformerLM` and the pretrained models conform, so sampling, scoring, evaluation and
/// GRPO are written once for every model.
public protocol CausalLanguageModel: Module {
  /// The number of token ids (the logits' last dimension).
  var vocabularySize: Int { get }
  /// The longest sequence (prompt + completion) the model takes.
  var contextLength: Int { get }
  /// The id fed at left-padded positions; padded positions are masked as keys and never
  /// scored, so any valid id works.
  var paddingToken: Int { get }
  /// The ids that end a completion (the sampler stops a row at the first one).
  var endTokens: [Int] { get }
  /// The input token embedding table, `[vocabularySize, width]` (`allot mine` groups
  /// n-grams by it).
  var tokenEmbeddings: Tensor { get }

  /// Logits `[B, T, vocabularySize]` for token ids `[B, T]` (row-major in `ids`).
  ///
  /// `positions` gives each token's position (row-major `[B, T]`); `keyPadding[b]` leading
  /// positions of row b are padding that no token attends to. With `caches` (one per
  /// layer; sampling only, no tape) the tokens continue the cached sequence, and a model
  /// may return the last position's logits only (`[B, 1, vocabularySize]`).
  func callAsFunction(
    _ ids: [Int], batch: Int, positions: [Int], keyPadding: [Int]?, caches: [AttentionCache]?
  ) -> Tensor

  /// One fresh KV cache per layer for sequences of up to `capacity` positions.
  func makeCaches(capacity: Int, keyPadding: [Int]?) -> [AttentionCache]

  /// Logits `[rows.count, vocabularySize]` of the flat positions `rows` of `[B, T]` (with
  /// the tape): what scoring needs, so a model may skip the head where nothing is scored.
  func logits(_ ids: [Int], batch: Int, positions: [Int], keyPadding: [Int]?, at rows: [Int])
    -> Tensor

  /// Positions per forward and backward pass when a batch is scored in chunks whose
  /// gradients add up: bounds the activations a pass keeps for its backward.
  var scoringChunkPositions: Int { get }

  /// Whether `promptPrefix` and `logits(after:…)` work (otherwise completions are scored
  /// whole).
  var hasPromptPrefixes: Bool { get }

  /// The prompt `ids` run once as a prefix that completions continue (with the tape when
  /// grad mode is on).
  func promptPrefix(_ ids: [Int]) -> PromptPrefix

  /// Logits `[rows.count, vocabularySize]` (with the tape) for token ids `[B, T]` that
  /// continue `prefix` at positions P..<P+T, each row attending to the prefix's keys
  /// before its own. Flat index 0 of `rows` is the prefix's last position, 1 + b·T + t
  /// row b's position t.
  func logits(after prefix: PromptPrefix, _ ids: [Int], batch: Int, at rows: [Int]) -> Tensor
}

/// A prompt as its completions see it: each layer's keys and values `[1, P, Dk]` and the
/// last position's hidden state `[1, width]` (before the final norm and the head).
public struct PromptPrefix {
  public var keys: [Tensor]
  public var values: [Tensor]
  public var last: Tensor
  public var length: Int

  public init(keys: [Tensor], values: [Tensor], last: Tensor, length: Int) {
    (self.keys, self.values, self.last, self.length) = (keys, values, last, length)
  }

  /// The tensors in a fixed order: keys, values, then the last hidden state.
  var tensors: [Tensor] { keys + values + [last] }

  /// One layer of a model: its input `[B, T, width]` and, for rows continuing a prefix,
  /// that layer's prefix keys and values, to its output and its own keys and values.
  public typealias Layer = (Tensor, (keys: Tensor, values: Tensor)?) -> (
    output: Tensor, keys: Tensor, values: Tensor
  )

  /// A prompt's pass: its embedded tokens `[1, P, width]` through `layers`.
  public init(prompt embedded: Tensor, layers: [Layer]) {
    let (p, width) = (embedded.shape[1], embedded.shape[2])
    var h = embedded
    var keys: [Tensor] = []
    var values: [Tensor] = []
    for layer in layers {
      let (out, k, v) = layer(h, nil)
      (h, keys, values) = (out, keys + [k], values + [v])
    }
    let last = h.reshaped([p, width]).slice(axis: 0, (p - 1)..<p)
    self.init(keys: keys, values: values, last: last, length: p)
  }

  /// The length T and positions (row-major `[batch, T]`) of `ids` continuing this prefix;
  /// stops with a message naming `model` unless the ids fill `batch` rows, the prefix has
  /// `layers` layers and the sequence fits in `context`.
  public func continuation(
    of ids: [Int], batch: Int, layers: Int, context: Int, model: String
  ) -> (length: Int, positions: [Int]) {
    precondition(
      batch > 0 && ids.count % batch == 0 && keys.count == layers
        && length + ids.count / batch <= context,
      "\(model): \(ids.count) ids for batch \(batch) after a prefix of \(length) positions and "
        + "\(keys.count) layers")
    let t = ids.count / batch
    return (t, (0..<batch).flatMap { _ in length..<(length + t) })
  }

  /// The last layer's states `[rows.count, width]` of rows continuing this prefix: their
  /// embedded tokens `[B, T, width]` (nil when T is 0) through `layers`; flat row 0 is the
  /// prefix's last position, 1 + b·T + t row b's position t.
  public func hiddenStates(continuing embedded: Tensor?, layers: [Layer], at rows: [Int])
    -> Tensor
  {
    var hidden = last
    if var h = embedded {
      let (b, t, width) = (h.shape[0], h.shape[1], h.shape[2])
      for (i, layer) in layers.enumerated() { h = layer(h, (keys[i], values[i])).output }
      hidden = Tensor.concat([hidden, h.reshaped([b * t, width])], axis: 0)
    }
    return hidden.indexSelect(axis: 0, rows)
  }
}

extension CausalLanguageModel {
  /// No shared prefixes: completions are scored whole.
  public var hasPromptPrefixes: Bool { false }

  public func promptPrefix(_ ids: [Int]) -> PromptPrefix {
    preconditionFailure("\(type(of: self)) has no prompt prefixes")
  }

  public func logits(after prefix: PromptPrefix, _ ids: [Int], batch: Int, at rows: [Int])
    -> Tensor
  {
    preconditionFailure("\(type(of: self)) has no prompt prefixes")
  }

  /// Every position's logits, then the rows asked for.
  public func logits(
    _ ids: [Int], batch: Int, positions: [Int], keyPadding: [Int]?, at rows: [Int]
  ) -> Tensor {
    self(ids, batch: batch, positions: positions, keyPadding: keyPadding, caches: nil)
      .reshaped([ids.count, vocabularySize]).indexSelect(axis: 0, rows)
  }
}

/// Text to token ids and back: the character-level `Tokenizer` and the pretrained models'
/// byte-level BPE tokenizers conform.
public protocol TextTokenizer: Sendable {
  /// The ids of `text`, with no special tokens added; throws on text it cannot encode.
  func encode(_ text: String) throws -> [Int]
  /// The text of `tokens` (special tokens left out where the tokenizer has them).
  func decode(_ tokens: [Int]) -> String
}

extension Tokenizer: TextTokenizer {}

extension CausalLanguageModel {
  /// The mean input embedding of the tokens of `text` (`tokenizer`'s ids, no special
  /// tokens); nil when the text has no tokens or cannot be encoded.
  public func meanTokenEmbedding(of text: String, tokenizer: some TextTokenizer) -> [Float]? {
    guard let ids = try? tokenizer.encode(text), !ids.isEmpty else { return nil }
    let table = tokenEmbeddings
    let width = table.shape[1]
    var mean = [Float](repeating: 0, count: width)
    table.withUnsafeBufferPointer { rows in
      for id in ids { for j in 0..<width { mean[j] += rows[id * width + j] } }
    }
    return mean.map { $0 / Float(ids.count) }
  }
}
