import TensorCore

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight
/// decay, with PyTorch's update rule: b ← μ·b + g; p ← p − lr·b (or g + μ·b for Nesterov).
public final class SGD: Optimizer {
  public let parameters: [(String, Tensor)]
  public var stepCount = 0
  public var baseLearningRate: Float
  public var schedule: LearningRateSchedule
  public let momentum: Float
  public let nesterov: Bool
  public let weightDecay: Float
  /// Momentum buffers by parameter name (created on first use).
  public private(set) var buffers: [String: Tensor] = [:]

  public init(
    parameters: [(String, Tensor)], learningRate: Float, momentum: Float = 0,
    nesterov: Bool = false, weightDecay: Float = 0, schedule: LearningRateSchedule = .constant
  ) {
    self.parameters = parameters
    self.baseLearningRate = learningRate
    self.momentum = momentum
    self.nesterov = nesterov
    self.weightDecay = weightDecay
    self.schedule = schedule
  }

  public func step() {
    let lr = currentLearningRate
    for (name, p) in parameters {
      guard let grad = p.grad else { continue }
      let buffer = momentum == 0 ? nil : (buffers[name] ?? Tensor.zeros(p.shape))
      if let buffer { buffers[name] = buffer }
      p.withUnsafeMutableBufferPointer { w in
        grad.withUnsafeBufferPointer { g in
          if let buffer {
            buffer.withUnsafeMutableBufferPointer { b in
              for i in 0..<w.count {
                let gi = g[i] + weightDecay * w[i]
                b[i] = momentum * b[i] + gi
                w[i] -= lr * (nesterov ? gi + momentum * b[i] : b[i])
              }
            }
          } else {
            for i in 0..<w.count { w[i] -= lr * (g[i] + weightDecay * w[i]) }
          }
        }
      }
    }
    stepCount += 1
  }

  public var hyperparameters: [String: Double] {
    [
      "learningRate": Double(baseLearningRate), "momentum": Double(momentum),
      "nesterov": nesterov ? 1 : 0, "weightDecay": Double(weightDecay),
    ]
  }

  public func namedState() -> [(String, Tensor)] {
    parameters.compactMap { name, p in
      momentum == 0 ? nil : ("\(name)/momentum", buffers[name] ?? materialise(name, p))
    }
  }

  private func materialise(_ name: String, _ p: Tensor) -> Tensor {
    let b = Tensor.zeros(p.shape)
    buffers[name] = b
    return b
  }
}
