import NN
import Optim
import TensorCore
import Testing

@Test func nonFiniteLossGradientsAndParametersAreNamed() throws {
  var rng = RandomState(seed: 0)
  let model = MLP([2, 3, 2], rng: &rng)
  let adam = Adam(parameters: model.namedParameters(), learningRate: 0.01)
  try checkFinite(loss: 0.5)
  #expect(throws: NonFiniteError.self) { try checkFinite(loss: .nan) }
  try adam.checkParametersFinite()
  try adam.checkGradientsFinite()  // no gradients yet
  let (name, weight) = adam.parameters[0]
  weight.grad = Tensor([Float](repeating: 1, count: weight.count), shape: weight.shape)
  try adam.checkGradientsFinite()
  weight.grad = Tensor(
    [.nan, .infinity] + [Float](repeating: 0, count: weight.count - 2), shape: weight.shape)
  do {
    try adam.checkGradientsFinite()
    Issue.record("no error")
  } catch let error as NonFiniteError {
    #expect(error.kind == "gradient" && error.name == name)
    #expect(error.count == 2 && error.total == weight.count && error.firstValue.isNaN)
    #expect(
      "\(error)".hasPrefix("gradient of \(name) holds 2 non-finite values of \(weight.count)"))
  }
  let (last, bias) = adam.parameters.last!
  bias.assign(Tensor([Float](repeating: .infinity, count: bias.count), shape: bias.shape))
  #expect(firstNonFinite(adam.parameters, kind: "parameter")?.name == last)
  #expect(throws: NonFiniteError.self) { try adam.checkParametersFinite() }
}

@Test func settingsThatFloat32CannotHoldAreRefusedByKey() throws {
  try checkRepresentableAsFloat(1e-8, key: "optimizer.eps")
  try checkRepresentableAsFloat(0, key: "optimizer.weightDecay")
  #expect(throws: Float32RangeError.self) {
    try checkRepresentableAsFloat(1e-50, key: "optimizer.eps")
  }
  do {
    try checkRepresentableAsFloat(1e39, key: "optimizer.learningRate")
    Issue.record("no error")
  } catch {
    #expect("\(error)".hasPrefix("optimizer.learningRate is 1e+39, which is infinite in Float32"))
  }
  #expect(throws: Float32RangeError.self) { try checkRepresentableAsFloat(.nan, key: "x") }
}
