import Checkpoint
import Foundation
import NN
import Optim
import TensorCore

/// Saving and loading a ~1M-parameter transformer with its Adam moments (~3M floats).
func benchmarkCheckpoint() {
  var rng = RandomState(seed: 0)
  let blocks = ModuleList((0..<4).map { _ in TransformerBlock(width: 144, heads: 4, rng: &rng) })
  let adam = Adam(parameters: blocks.namedParameters())
  var data = CheckpointData()
  data.tensors =
    blocks.namedParameters().map { ("model/\($0.0)", $0.1) }
    + adam.namedState().map { ("optimizer/\($0.0)", $0.1) }
  data.integers = ["optimizer/step": [0], "rng/data": [1, 2, 3, 4]]
  let floats = data.tensors.reduce(0) { $0 + $1.1.count }
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-bench-\(UUID().uuidString)")
  try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  let url = folder.appendingPathComponent("ckpt.h5")
  var saves: [Double] = []
  var loads: [Double] = []
  for _ in 0..<7 {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try! data.write(to: url)
    let t1 = DispatchTime.now().uptimeNanoseconds
    let back = try! CheckpointData.read(from: url)
    try! back.restore(blocks.namedParameters(), prefix: "model", file: url.path)
    let t2 = DispatchTime.now().uptimeNanoseconds
    saves.append(Double(t1 - t0) / 1e6)
    loads.append(Double(t2 - t1) / 1e6)
  }
  let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
  let median = { (xs: [Double]) in xs.sorted()[xs.count / 2] }
  print(
    "checkpoint: \(blocks.parameterCount) parameters + Adam m, v = \(floats) floats in "
      + "\(data.tensors.count) tensors, \(bytes / 1024) KiB on disk")
  print(
    String(
      format: "  save (atomic, fsync) %.1f ms   load + strict restore %.1f ms   (median of 7)",
      median(saves), median(loads)))
}
