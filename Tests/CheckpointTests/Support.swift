import Checkpoint
import Foundation
import TensorCore
import TestSupport

/// A fresh, empty folder under the system's temporary directory.
func scratchDirectory() throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-ckpt-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Deletes a folder made by `scratchDirectory()`.
func removeScratch(_ url: URL) {
  try? FileManager.default.removeItem(at: url)
}

/// Every kind of value a checkpoint holds, with edge cases: ranks 0 to 4, empty tensors and
/// arrays, extreme numbers, dotted names, nested groups and unicode strings.
func sampleData() -> CheckpointData {
  var data = CheckpointData()
  data.tensors = [
    ("model/layers.0.weight", Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])),
    ("model/scale", Tensor(scalar: 2.5)),
    ("model/volume", sample([2, 1, 3, 2], seed: 3)),
    ("model/empty", Tensor.zeros([0, 3])),
    ("model/edges", Tensor([.infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .nan])),
    ("optimizer/layers.0.weight/m", Tensor([0.5, -0.5], shape: [2])),
  ]
  data.integers = ["rng/data": [Int64.min, -1, 0, Int64.max], "trainer/none": []]
  data.unsignedIntegers = ["rng/words": [0, 1, UInt64.max, 1 << 63], "rng/nothing": []]
  data.doubles = ["trainer/history/rewards": [0.25, -1e300, 3], "trainer/empty": []]
  data.attributes = [
    "config": .string("{\"note\": \"ünïcödé ✓ 日本語\"}"), "step": .integer(42),
    "temperature": .double(0.7), "model": .string("mlp[2,3]"), "empty": .string(""),
  ]
  return data
}

/// The description of the error `body` throws, or "" when it succeeds.
func messageOf(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch { return "\(error)" }
}

/// The names in a folder, sorted.
func contents(_ folder: URL) throws -> [String] {
  try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
}

/// `sampleData()` without its non-finite tensor: what a run may save.
func runData() -> CheckpointData {
  var data = sampleData()
  data.tensors.removeAll { $0.0 == "model/edges" }
  return data
}
