import TensorCore
import Testing

// Programmer errors stop the process with a message naming the op and the shapes. Each
// runs in a child process (Swift Testing exit tests) whose standard error is checked.

@Test func matmulInnerMismatch() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5]))
  }
  let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
  #expect(text.contains("matmul: inner dimensions differ: [2, 3] × [4, 5] (3 vs 4)"))
}

@Test func broadcastMismatchInAdd() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
  }
  let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
  #expect(text.contains("add: shapes [2, 3] and [4] cannot be broadcast together"))
}

@Test func badAxisInSum() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).sum(axis: 2)
  }
  let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
  #expect(text.contains("sum: axis 2 is out of range for rank 2"))
}

@Test func outOfRangeIndices() async {
  let select = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([3, 2]).indexSelect(axis: 0, [0, 3])
  }
  let selectText = String(decoding: select?.standardErrorContent ?? [], as: UTF8.self)
  #expect(
    selectText.contains(
      "indexSelect: index 3 at position 1 is outside 0..<3 on axis 0 of shape [3, 2]"))
  let gather = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 4]).gatherLast([1, 4])
  }
  let gatherText = String(decoding: gather?.standardErrorContent ?? [], as: UTF8.self)
  #expect(gatherText.contains("gatherLast: index 4 at row 1 is outside 0..<4"))
  let embedding = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([5, 2]).embedding([7])
  }
  let embeddingText = String(decoding: embedding?.standardErrorContent ?? [], as: UTF8.self)
  #expect(embeddingText.contains("indexSelect: index 7 at position 0 is outside 0..<5"))
}

@Test func reshapeToAWrongCount() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    _ = Tensor.zeros([2, 3]).reshaped([4, 2])
  }
  let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
  #expect(text.contains("reshape: shape [2, 3] (6 elements) cannot become [4, 2]"))
}

@Test func backwardFromANonScalar() async {
  let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
    Tensor.ones([2], requiresGrad: true).exp().backward()
  }
  let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
  #expect(text.contains("backward: called on a tensor of shape [2]; it needs a scalar"))
}
