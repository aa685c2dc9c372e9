import Checkpoint
import Foundation
import NN
import Optim
import TensorCore

/// Saving and loading a ~1M-parameter model with its Adam moments (~3M floats): an MLP
/// (30 tensors) and a transformer of the same size (192 tensors, to show the per-tensor
/// cost). Save is the full atomic write (temporary file, flush, fsync, rename, fsync of the
/// folder); load reads every dataset; restore copies model and moments in strictly.
func benchmarkCheckpoint() {
  var rng = RandomState(seed: 0)
  let mlp = MLP([256, 512, 512, 512, 512, 256], rng: &rng)
  measureCheckpoint("MLP 256-512x4-256", mlp.namedParameters(), mlp.parameterCount)
  let blocks = ModuleList((0..<4).map { _ in TransformerBlock(width: 144, heads: 4, rng: &rng) })
  measureCheckpoint(
    "4 transformer blocks, width 144", blocks.namedParameters(), blocks.parameterCount)
}

private func measureCheckpoint(
  _ label: String, _ parameters: [(String, Tensor)], _ parameterCount: Int
) {
  let adam = Adam(parameters: parameters)
  var data = CheckpointData()
  data.tensors =
    parameters.map { ("model/\($0.0)", $0.1) }
    + adam.namedState().map { ("optimizer/\($0.0)", $0.1) }
  data.integers = ["optimizer/step": [0], "trainer/cursor": [0, 0]]
  data.unsignedIntegers = ["rng/data": [1, 2, 3, 4]]
  data.attributes = ["step": .integer(0), "model": .string(label), "config": .string("{}")]
  let floats = data.tensors.reduce(0) { $0 + $1.1.count }
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-bench-\(UUID().uuidString)")
  try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  let url = folder.appendingPathComponent(RunCheckpoints.fileName(step: 0))
  let moments = adam.namedState()
  var saves: [Double] = []
  var loads: [Double] = []
  var restores: [Double] = []
  let clock = { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }
  for _ in 0..<9 {
    let t0 = clock()
    try! data.write(to: url)
    let t1 = clock()
    let back = try! CheckpointData.read(from: url)
    let t2 = clock()
    try! back.restore(parameters, prefix: "model", model: label)
    try! back.restore(moments, prefix: "optimizer")
    let t3 = clock()
    saves.append(t1 - t0)
    loads.append(t2 - t1)
    restores.append(t3 - t2)
  }
  let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
  let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
  let megabytes = Double(bytes) / 1e6
  print(
    "checkpoint, \(label): \(parameterCount) parameters + Adam m, v = \(floats) floats in "
      + "\(data.tensors.count) tensors, \(bytes) bytes on disk")
  print(
    String(
      format:
        "  save (atomic, fsync) %.1f ms (%.0f MB/s)   load %.1f ms (%.0f MB/s)   strict restore %.1f ms   (median of 9)",
      median(saves), megabytes / median(saves) * 1000, median(loads),
      megabytes / median(loads) * 1000, median(restores)))
}
