extension Tensor {
  /// A tensor of `shape` filled with `value`.
  public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
    let t = Tensor(uninitialized: shape)
    t.pointer.initialize(repeating: value, count: t.count)
    t.requiresGrad = requiresGrad
    return t
  }

  /// A tensor of zeros.
  public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    full(shape, 0, requiresGrad: requiresGrad)
  }

  /// A tensor of ones.
  public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    full(shape, 1, requiresGrad: requiresGrad)
  }

  /// A tensor of zeros shaped like `other`.
  public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape) }

  /// `start, start + step, …` up to but excluding `end`.
  public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
    require(step != 0, "arange: step must not be zero")
    let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
    let t = Tensor(uninitialized: [n])
    for i in 0..<n { t.pointer[i] = start + Float(i) * step }
    return t
  }

  /// `0, 1, …, n − 1`.
  public static func arange(_ n: Int) -> Tensor { arange(0, Float(n)) }

  /// Uniform samples in [low, high).
  public static func uniform(
    _ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RandomState,
    requiresGrad: Bool = false
  ) -> Tensor {
    let t = Tensor(uninitialized: shape)
    for i in 0..<t.count { t.pointer[i] = low + (high - low) * rng.nextUniform() }
    t.requiresGrad = requiresGrad
    return t
  }

  /// Normal samples with the given mean and standard deviation.
  public static func normal(
    _ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RandomState,
    requiresGrad: Bool = false
  ) -> Tensor {
    let t = Tensor(uninitialized: shape)
    for i in 0..<t.count { t.pointer[i] = mean + std * rng.nextNormal() }
    t.requiresGrad = requiresGrad
    return t
  }

  /// Xavier/Glorot uniform initialisation for a weight of shape `[fanOut, fanIn]` (or any
  /// shape whose last two dimensions are those).
  public static func xavierUniform(
    _ shape: [Int], rng: inout RandomState, gain: Float = 1, requiresGrad: Bool = true
  ) -> Tensor {
    require(shape.count >= 2, "xavierUniform: needs rank ≥ 2, got shape \(shape)")
    let fanIn = shape[shape.count - 1]
    let fanOut = shape[shape.count - 2]
    let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
    return uniform(shape, low: -bound, high: bound, rng: &rng, requiresGrad: requiresGrad)
  }

  /// A one-hot encoding: shape `indicesShape + [classes]`.
  public static func oneHot(_ indices: [Int], classes: Int, shape: [Int]? = nil) -> Tensor {
    let outer = shape ?? [indices.count]
    require(
      outer.reduce(1, *) == indices.count,
      "oneHot: \(indices.count) indices do not fill shape \(outer)")
    let t = zeros(outer + [classes])
    for (i, k) in indices.enumerated() {
      require(
        k >= 0 && k < classes, "oneHot: index \(k) at position \(i) is outside 0..<\(classes)")
      t.pointer[i * classes + k] = 1
    }
    return t
  }
}
