import NN
import Optim
import TensorCore
import TestSupport
import Testing

@Test func parameterNamesAreDottedAndStable() {
  var rng = RandomState(seed: 1)
  let mlp = MLP([2, 3, 1], rng: &rng)
  #expect(
    mlp.namedParameters().map(\.0) == [
      "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
    ])
  #expect(mlp.parameterCount == 2 * 3 + 3 + 3 + 1)
  let block = TransformerBlock(width: 8, heads: 2, rng: &rng)
  let names = block.namedParameters().map(\.0)
  #expect(names.first == "ln1.weight")
  #expect(names.contains("attn.wq.weight"))
  #expect(names.contains("mlp.layers.1.bias"))
  #expect(Set(names).count == names.count)
}

@Test func linearMatchesHandComputation() {
  var rng = RandomState(seed: 1)
  let layer = Linear(2, 2, rng: &rng)
  layer.weight.assign([1, 2, 3, 4])
  layer.bias!.assign([0.5, -0.5])
  let y = layer(Tensor([1, 1, 2, 0], shape: [2, 2]))
  #expect(y.scalars == [3.5, 6.5, 2.5, 5.5])
}

@Test func mlpLearnsXOR() {
  var rng = RandomState(seed: 3)
  let model = MLP([2, 16, 2], activation: .tanh, rng: &rng)
  let adam = Adam(parameters: model.namedParameters(), learningRate: 0.05)
  let x = Tensor([0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2])
  let y = [0, 1, 1, 0]
  var loss: Float = .infinity
  for _ in 0..<300 {
    adam.zeroGrad()
    let l = model(x).crossEntropy(targets: y)
    loss = l.item
    l.backward()
    adam.step()
  }
  #expect(loss < 0.02, "final XOR loss \(loss)")
  let logits = withoutGrad { model(x) }.scalars
  let predictions = (0..<4).map { logits[2 * $0 + 1] > logits[2 * $0] ? 1 : 0 }
  #expect(predictions == y)
}

@Test func trainingIsBitIdenticalUnderTheSameSeed() {
  func train(seed: UInt64) -> [Float] {
    var rng = RandomState(seed: seed)
    let model = MLP([4, 8, 3], rng: &rng)
    let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 0.01)
    for _ in 0..<20 {
      let x = Tensor.normal([16, 4], rng: &rng)
      let y = (0..<16).map { _ in rng.nextInt(below: 3) }
      adam.zeroGrad()
      model(x.dropout(0.1, rng: &rng)).crossEntropy(targets: y).backward()
      adam.step()
    }
    return model.parameters.flatMap(\.scalars)
  }
  let a = train(seed: 11)
  #expect(a == train(seed: 11))
  #expect(a != train(seed: 12))
}

@Test func layerNormModuleGradients() {
  let ln = LayerNorm(5)
  ln.weight.assign([1, 2, 0.5, -1, 1.5])
  ln.bias.assign([0, 0.1, 0.2, 0.3, 0.4])
  let report = checkGradients([sample([3, 5]), ln.weight, ln.bias]) { t in
    t[0].layerNorm(weight: t[1], bias: t[2])
  }
  #expect(report.passed, "\(report)")
}
