import TensorCore

/// An affine map `x · weightᵀ + bias` over the last dimension. `weight` is `[out, in]`
/// (PyTorch's layout); both are initialised uniformly in ±1/√in, as PyTorch does.
public final class Linear: Module {
  public let weight: Tensor
  public let bias: Tensor?

  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomState) {
    let bound = 1 / Float(max(inFeatures, 1)).squareRoot()
    weight = .uniform(
      [outFeatures, inFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true)
    self.bias =
      bias ? .uniform([outFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
  }

  /// A layer with the given `weight` `[out, in]` and `bias` `[out]` (loaded weights).
  public init(weight: Tensor, bias: Tensor?) {
    precondition(
      weight.rank == 2 && (bias == nil || bias!.shape == [weight.shape[0]]),
      "Linear: weight \(weight.shape) should be [out, in] and bias \(bias?.shape ?? []) [out]")
    self.weight = weight
    self.bias = bias
  }

  public var ownParameters: [(String, Tensor)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    Tensor.linear(x, weight: weight, bias: bias)
  }

  /// The same product, with `packed`'s copy of the weight when it holds one (sampling).
  public func callAsFunction(_ x: Tensor, packed: PackedWeights?) -> Tensor {
    guard let packed else { return self(x) }
    return packed.linear(x, weight: weight, bias: bias)
  }
}

/// A lookup table of `count` learned vectors of size `width`, initialised N(0, std²).
public final class Embedding: Module {
  public let weight: Tensor

  public init(count: Int, width: Int, std: Float = 0.02, rng: inout RandomState) {
    weight = .normal([count, width], std: std, rng: &rng, requiresGrad: true)
  }

  /// A table holding `weight` `[count, width]` (loaded weights).
  public init(weight: Tensor) {
    precondition(weight.rank == 2, "Embedding: weight \(weight.shape) should be [count, width]")
    self.weight = weight
  }

  public var ownParameters: [(String, Tensor)] { [("weight", weight)] }

  /// The vectors at `indices`, shaped `shape + [width]`.
  public func callAsFunction(_ indices: [Int], shape: [Int]? = nil) -> Tensor {
    weight.embedding(indices, shape: shape)
  }
}

/// Layer normalisation over the last dimension with a learned scale and shift.
public final class LayerNorm: Module {
  public let weight: Tensor
  public let bias: Tensor
  public let eps: Float

  public init(_ width: Int, eps: Float = 1e-5) {
    weight = .ones([width], requiresGrad: true)
    bias = .zeros([width], requiresGrad: true)
    self.eps = eps
  }

  public var ownParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    x.layerNorm(weight: weight, bias: bias, eps: eps)
  }
}

/// The nonlinearity between MLP layers.
public enum Activation: String, Sendable, CaseIterable {
  case relu, gelu, tanh, sigmoid

  public func callAsFunction(_ x: Tensor) -> Tensor {
    switch self {
    case .relu: x.relu()
    case .gelu: x.gelu()
    case .tanh: x.tanh()
    case .sigmoid: x.sigmoid()
    }
  }
}

/// A multilayer perceptron: `Linear` layers of the given sizes with an activation between
/// them (none after the last).
public final class MLP: Module {
  public let layers: ModuleList<Linear>
  public let activation: Activation

  /// `sizes` lists the widths from input to output, e.g. `[64, 256, 256, 8]`.
  public init(_ sizes: [Int], activation: Activation = .relu, rng: inout RandomState) {
    precondition(sizes.count >= 2, "MLP: needs at least an input and an output size, got \(sizes)")
    var layers: [Linear] = []
    for i in 0..<(sizes.count - 1) { layers.append(Linear(sizes[i], sizes[i + 1], rng: &rng)) }
    self.layers = ModuleList(layers)
    self.activation = activation
  }

  public var children: [(String, any Module)] { [("layers", layers)] }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    var h = x
    for (i, layer) in layers.items.enumerated() {
      h = layer(h)
      if i < layers.items.count - 1 { h = activation(h) }
    }
    return h
  }
}
