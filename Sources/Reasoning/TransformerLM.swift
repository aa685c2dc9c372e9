import NN
import TensorCore

/// The size of a decoder-only transformer.
public struct TransformerShape: Codable, Equatable, Sendable {
  public var vocabulary: Int
  public var layers: Int
  public var heads: Int
  public var width: Int
  /// The longest sequence (prompt + completion) the model handles.
  public var context: Int
  public var mlpRatio: Int
  /// Whether the output head reuses the token embedding (transposed).
  public var tiedEmbeddings: Bool

  public init(
    vocabulary: Int, layers: Int, heads: Int, width: Int, context: Int, mlpRatio: Int = 4,
    tiedEmbeddings: Bool = true
  ) {
    self.vocabulary = vocabulary
    self.layers = layers
    self.heads = heads
    self.width = width
    self.context = context
    self.mlpRatio = mlpRatio
    self.tiedEmbeddings = tiedEmbeddings
  }
}

/// A decoder-only transformer language model: token and learned position embeddings,
/// pre-norm blocks, a final layer norm and a (tied or separate) output head.
public final class TransformerLM: CausalLanguageModel {
  public let shape: TransformerShape
  public let tokens: Embedding
  public let positions: Embedding
  public let blocks: ModuleList<TransformerBlock>
  public let finalNorm: LayerNorm
  public let head: Linear?

  public init(_ shape: TransformerShape, rng: inout RandomState) {
    self.shape = shape
    tokens = Embedding(count: shape.vocabulary, width: shape.width, std: 0.02, rng: &rng)
    positions = Embedding(count: shape.context, width: shape.width, std: 0.02, rng: &rng)
    blocks = ModuleList(
      (0..<shape.layers).map { _ in
        TransformerBlock(
          width: shape.width, heads: shape.heads, mlpRatio: shape.mlpRatio, rng: &rng)
      })
    finalNorm = LayerNorm(shape.width)
    head =
      shape.tiedEmbeddings ? nil : Linear(shape.width, shape.vocabulary, bias: false, rng: &rng)
  }

  public var tokenEmbeddings: Tensor { tokens.weight }

  public var children: [(String, any Module)] {
    var out: [(String, any Module)] = [
      ("tokens", tokens), ("positions", positions), ("blocks", blocks), ("finalNorm", finalNorm),
    ]
    if let head { out.append(("head", head)) }
    return out
  }

  /// Logits `[B, T, vocabulary]` for token ids `[B, T]` (row-major in `ids`).
  ///
  /// `positions` gives each token's position (row-major `[B, T]`); `keyPadding[b]` leading
  /// positions of row b are padding that no token attends to. With `caches` (one per
  /// block; sampling only) the tokens continue the cached sequence.
  public func callAsFunction(
    _ ids: [Int], batch: Int, positions positionIDs: [Int], keyPadding: [Int]? = nil,
    caches: [AttentionCache]? = nil
  ) -> Tensor {
    let t = ids.count / max(batch, 1)
    precondition(
      positionIDs.allSatisfy { $0 >= 0 && $0 < shape.context },
      "TransformerLM: a position lies outside the context of \(shape.context)")
    var h = tokens(ids, shape: [batch, t]) + positions(positionIDs, shape: [batch, t])
    for (i, block) in blocks.items.enumerated() {
      h = block(h, cache: caches?[i], keyPadding: caches == nil ? keyPadding : nil)
    }
    h = finalNorm(h)
    if let head { return head(h) }
    return Tensor.matmul(h, tokens.weight, transposeB: true)
  }

  public var hasPromptPrefixes: Bool { true }

  /// The prompt `ids` as one sequence at positions 0..<P: each block's keys and values and
  /// the last position's hidden state.
  public func promptPrefix(_ ids: [Int]) -> PromptPrefix {
    precondition(
      !ids.isEmpty && ids.count <= shape.context,
      "TransformerLM: a prompt prefix of \(ids.count) tokens (1...\(shape.context))")
    let p = ids.count
    return PromptPrefix(
      prompt: tokens(ids, shape: [1, p]) + positions(Array(0..<p), shape: [1, p]),
      layers: prefixLayers)
  }

  /// The blocks as `PromptPrefix` runs them.
  private var prefixLayers: [PromptPrefix.Layer] {
    blocks.items.map { block in { block($0, prefix: $1) } }
  }

  /// Logits of tokens continuing `prefix` (see `CausalLanguageModel.logits(after:…)`).
  public func logits(after prefix: PromptPrefix, _ ids: [Int], batch: Int, at rows: [Int])
    -> Tensor
  {
    let (t, positionIDs) = prefix.continuation(
      of: ids, batch: batch, layers: shape.layers, context: shape.context, model: "TransformerLM")
    let normed = finalNorm(
      prefix.hiddenStates(
        continuing: t > 0
          ? tokens(ids, shape: [batch, t]) + positions(positionIDs, shape: [batch, t]) : nil,
        layers: prefixLayers, at: rows))
    if let head { return head(normed) }
    return Tensor.matmul(normed, tokens.weight, transposeB: true)
  }

  public var vocabularySize: Int { shape.vocabulary }
  public var contextLength: Int { shape.context }
  public var paddingToken: Int { Tokenizer.pad }
  public var endTokens: [Int] { [Tokenizer.eos] }

  /// One fresh cache per block for sequences of up to `capacity` positions.
  public func makeCaches(capacity: Int, keyPadding: [Int]?) -> [AttentionCache] {
    blocks.items.map { _ in AttentionCache(capacity: capacity, keyPadding: keyPadding) }
  }
}
