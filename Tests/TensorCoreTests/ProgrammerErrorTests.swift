import TensorCore
import Testing

// Programmer errors stop the process with a message naming the op and the shapes. Each
// runs in a child process (Swift Testing exit tests) whose standard error is checked.

/// Expects the child's standard error to contain every one of `parts`.
private func expectMessage(
  _ result: ExitTest.Result?, _ parts: String..., sourceLocation: SourceLocation = #_sourceLocation
) {
  let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
  #expect(result != nil, "the child process did not fail", sourceLocation: sourceLocation)
  for part in parts {
    #expect(text.contains(part), "stderr: \(text)", sourceLocation: sourceLocation)
  }
}

@Test func matmulInnerMismatch() async {
  let plain = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
  }
  expectMessage(plain, "matmul: inner dimensions differ: [2, 3] × [4, 5] (3 vs 4)")
  let transposed = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.matmul(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]), transposeB: true)
  }
  expectMessage(transposed, "matmul: inner dimensions differ: [2, 3] × [3, 2]ᵀ (3 vs 2)")
}

@Test func matmulBatchMismatch() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.matmul(Tensor.zeros([2, 3, 4]), Tensor.zeros([3, 4, 5]))
  }
  expectMessage(result, "matmul: batch dimensions [2] and [3] differ", "[2, 3, 4]", "[3, 4, 5]")
}

@Test func broadcastMismatchInAdd() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
  }
  expectMessage(result, "add: shapes [2, 3] and [4] cannot be broadcast together")
}

@Test func broadcastMismatchInOtherBinaryOps() async {
  let mul = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([3, 2]) * Tensor.zeros([2, 3])
  }
  expectMessage(mul, "mul: shapes [3, 2] and [2, 3] cannot be broadcast together")
  let div = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.ones([2, 1, 4]) / Tensor.ones([3, 2])
  }
  expectMessage(div, "div: shapes [2, 1, 4] and [3, 2] cannot be broadcast together")
}

@Test func badAxisInSum() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).sum(axis: 2)
  }
  expectMessage(result, "sum: axis 2 is out of range for rank 2")
  let negative = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).softmax(axis: -3)
  }
  expectMessage(negative, "softmax: axis -3 is out of range for rank 2")
}

@Test func outOfRangeIndexInIndexSelect() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([3, 2]).indexSelect(axis: 0, [0, 3])
  }
  expectMessage(
    result, "indexSelect: index 3 at position 1 is outside 0..<3 on axis 0 of shape [3, 2]")
  let negative = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([3, 2]).indexSelect(axis: 1, [-1])
  }
  expectMessage(negative, "indexSelect: index -1 at position 0 is outside 0..<2 on axis 1")
}

@Test func outOfRangeIndexInGatherLast() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 4]).gatherLast([1, 4])
  }
  expectMessage(result, "gatherLast: index 4 at row 1 is outside 0..<4 (shape [2, 4])")
  let count = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 4]).gatherLast([1])
  }
  expectMessage(count, "gatherLast: 1 indices for 2 rows of shape [2, 4]")
}

@Test func outOfRangeIndexInEmbedding() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([5, 2]).embedding([1, 7])
  }
  expectMessage(result, "embedding: index 7 at position 1 is outside 0..<5 for table [5, 2]")
}

@Test func outOfRangeIndexInLogProbabilities() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).logProbabilities(of: [0, 3])
  }
  expectMessage(
    result, "logProbabilities(of:): index 3 at row 1 is outside 0..<3 (logits [2, 3])")
}

@Test func reshapeToAWrongCount() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).reshaped([4, 2])
  }
  expectMessage(result, "reshape: shape [2, 3] (6 elements) cannot become [4, 2]")
  let inferred = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).reshaped([4, -1])
  }
  expectMessage(inferred, "reshape: cannot infer -1 in [4, -1] for 6 elements (shape [2, 3])")
}

@Test func shapeOpMisuse() async {
  let concat = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.concat([Tensor.zeros([2, 3]), Tensor.zeros([3, 2])], axis: 0)
  }
  expectMessage(concat, "concat: shapes [[2, 3], [3, 2]] differ outside axis 0")
  let slice = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).slice(axis: 1, 1..<4)
  }
  expectMessage(slice, "slice: range 1..<4 is outside 0..<3 on axis 1 of shape [2, 3]")
  let squeeze = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).squeezed(axis: 0)
  }
  expectMessage(squeeze, "squeeze: axis 0 of shape [2, 3] has size 2, not 1")
  let broadcast = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).broadcast(to: [3, 3])
  }
  expectMessage(broadcast, "broadcast: shapes [2, 3] and [3, 3] cannot be broadcast together")
}

@Test func layerMisuse() async {
  let linear = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.linear(Tensor.zeros([2, 3]), weight: Tensor.zeros([4, 5]), bias: nil)
  }
  expectMessage(linear, "linear: input [2, 3] does not match weight [out, in] = [4, 5]")
  let norm = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).layerNorm(weight: Tensor.ones([4]), bias: nil)
  }
  expectMessage(norm, "layerNorm: weight shape [4] should be [3]")
}

@Test func backwardMisuse() async {
  let nonScalar = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    Tensor.ones([2], requiresGrad: true).exp().backward()
  }
  expectMessage(nonScalar, "backward: called on a tensor of shape [2]; it needs a scalar")
  let noGrad = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    Tensor.ones([2]).sum().backward()
  }
  expectMessage(noGrad, "backward: this tensor does not require gradients")
}

@Test func constructionMisuse() async {
  let values = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor([1, 2, 3], shape: [2, 2])
  }
  expectMessage(values, "Tensor(_:shape:): 3 values cannot fill shape [2, 2] (4 elements)")
  let state = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = RandomState(state: [0, 0, 0, 0])
  }
  expectMessage(state, "RandomState(state:): needs four words, not all zero")
}

@Test func cachedAttentionMisuse() async {
  let rows = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = withoutGrad {
      Tensor.cachedAttention(
        query: Tensor.zeros([2, 1, 4]), key: Tensor.zeros([2, 3, 4]),
        value: Tensor.zeros([2, 3, 4]), heads: 2, keyLength: 2, rows: [0, 2])
    }
  }
  expectMessage(rows, "cachedAttention: rows [0, 2] need 2 indices below 2")
  let length = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = withoutGrad {
      Tensor.cachedAttention(
        query: Tensor.zeros([1, 1, 4]), key: Tensor.zeros([1, 3, 4]),
        value: Tensor.zeros([1, 3, 4]), heads: 2, keyLength: 4, rows: [0])
    }
  }
  expectMessage(length, "cachedAttention: keyLength 4 must lie in 1...3")
}
