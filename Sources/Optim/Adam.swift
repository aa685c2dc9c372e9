import CKernels
import Foundation
import TensorCore

/// Adam with bias correction (Kingma & Ba), or AdamW when `decoupledWeightDecay` is set
/// (Loshchilov & Hutter): weight decay shrinks the parameters directly instead of being
/// added to the gradient. Matches PyTorch's `Adam`/`AdamW` update.
public final class Adam: Optimizer {
  public let parameters: [(String, Tensor)]
  public var stepCount = 0
  public var baseLearningRate: Float
  public var schedule: LearningRateSchedule
  public let beta1: Float
  public let beta2: Float
  public let eps: Float
  public let weightDecay: Float
  public let decoupledWeightDecay: Bool
  /// First and second moment estimates by parameter name.
  public let firstMoments: [String: Tensor]
  public let secondMoments: [String: Tensor]

  public init(
    parameters: [(String, Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9,
    beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0,
    decoupledWeightDecay: Bool = false, schedule: LearningRateSchedule = .constant
  ) {
    precondition(
      Set(parameters.map(\.0)).count == parameters.count,
      "Adam: parameter names must be unique: \(parameters.map(\.0))")
    self.parameters = parameters
    self.baseLearningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.eps = eps
    self.weightDecay = weightDecay
    self.decoupledWeightDecay = decoupledWeightDecay
    self.schedule = schedule
    var m: [String: Tensor] = [:]
    var v: [String: Tensor] = [:]
    for (name, p) in parameters {
      m[name] = .zeros(p.shape)
      v[name] = .zeros(p.shape)
    }
    firstMoments = m
    secondMoments = v
  }

  /// AdamW: Adam with decoupled weight decay (default 0.01, as PyTorch).
  public static func adamW(
    parameters: [(String, Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9,
    beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01,
    schedule: LearningRateSchedule = .constant
  ) -> Adam {
    Adam(
      parameters: parameters, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
      weightDecay: weightDecay, decoupledWeightDecay: true, schedule: schedule)
  }

  public func step() {
    let lr = currentLearningRate
    let t = Float(stepCount + 1)
    let correction1 = 1 - Foundation.pow(beta1, t)
    let correction2 = 1 - Foundation.pow(beta2, t)
    let stepSize = lr / correction1
    let rootCorrection2 = correction2.squareRoot()
    let (b1, b2, eps, wd) = (beta1, beta2, eps, weightDecay)
    let decoupled = decoupledWeightDecay
    for (name, p) in parameters {
      guard let grad = p.grad, let m = firstMoments[name], let v = secondMoments[name] else {
        continue
      }
      p.withUnsafeMutableBufferPointer { w in
        grad.withUnsafeBufferPointer { g in
          m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
              let (w, g, m, v) = (w.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!)
              let n = p.count
              if decoupled && wd != 0 {
                let shrink = 1 - lr * wd
                for i in 0..<n { w[i] *= shrink }
              }
              allot_adam_update(
                w, g, m, v, n, b1, b2, stepSize, 1 / rootCorrection2, eps, decoupled ? 0 : wd)
            }
          }
        }
      }
    }
    stepCount += 1
  }

  public var hyperparameters: [String: Double] {
    [
      "learningRate": Double(baseLearningRate), "beta1": Double(beta1), "beta2": Double(beta2),
      "eps": Double(eps), "weightDecay": Double(weightDecay),
      "decoupledWeightDecay": decoupledWeightDecay ? 1 : 0,
    ]
  }

  public func namedState() -> [(String, Tensor)] {
    parameters.flatMap { name, _ in
      [("\(name)/m", firstMoments[name]!), ("\(name)/v", secondMoments[name]!)]
    }
  }
}
