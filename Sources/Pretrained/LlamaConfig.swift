/// The shape and constants of a Llama-family decoder (Llama 2/3, SmolLM2, Qwen2), as read
/// from a GGUF file's metadata or a Hugging Face `config.json`.
public struct LlamaConfig: Codable, Equatable, Sendable {
  /// Which family the weights come from; decides the q/k/v biases and the file's names.
  public enum Family: String, Codable, Sendable {
    case llama
    case qwen2
  }

  /// Llama 3's rotary frequency scaling (`rope_scaling.rope_type == "llama3"`).
  public struct Llama3RopeScaling: Codable, Equatable, Sendable {
    public var factor: Double
    public var lowFrequencyFactor: Double
    public var highFrequencyFactor: Double
    public var originalContextLength: Int

    public init(
      factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double,
      originalContextLength: Int
    ) {
      self.factor = factor
      self.lowFrequencyFactor = lowFrequencyFactor
      self.highFrequencyFactor = highFrequencyFactor
      self.originalContextLength = originalContextLength
    }
  }

  public var family: Family
  public var vocabularySize: Int
  /// The residual width (`hidden_size`).
  public var hiddenSize: Int
  /// The MLP's inner width (`intermediate_size`).
  public var intermediateSize: Int
  public var layers: Int
  public var heads: Int
  /// Key/value heads (grouped-query attention when fewer than `heads`).
  public var keyValueHeads: Int
  public var headDimension: Int
  public var rmsNormEpsilon: Float
  public var ropeTheta: Double
  public var ropeScaling: Llama3RopeScaling?
  /// The longest context the model was trained for.
  public var contextLength: Int
  /// Whether the output head reuses the token embedding.
  public var tiedEmbeddings: Bool
  /// Whether q, k and v projections have biases (Qwen2).
  public var attentionBias: Bool
  public var bosToken: Int?
  /// The ids that end generation (`eos_token_id`, which may be a list).
  public var eosTokens: [Int]

  public init(
    family: Family, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layers: Int,
    heads: Int, keyValueHeads: Int, headDimension: Int, rmsNormEpsilon: Float,
    ropeTheta: Double, ropeScaling: Llama3RopeScaling? = nil, contextLength: Int,
    tiedEmbeddings: Bool, attentionBias: Bool, bosToken: Int?, eosTokens: [Int]
  ) {
    self.family = family
    self.vocabularySize = vocabularySize
    self.hiddenSize = hiddenSize
    self.intermediateSize = intermediateSize
    self.layers = layers
    self.heads = heads
    self.keyValueHeads = keyValueHeads
    self.headDimension = headDimension
    self.rmsNormEpsilon = rmsNormEpsilon
    self.ropeTheta = ropeTheta
    self.ropeScaling = ropeScaling
    self.contextLength = contextLength
    self.tiedEmbeddings = tiedEmbeddings
    self.attentionBias = attentionBias
    self.bosToken = bosToken
    self.eosTokens = eosTokens
  }
}
