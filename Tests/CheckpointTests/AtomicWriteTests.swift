import Foundation
import TensorCore
import Testing

@testable import Checkpoint

/// An error the tests throw to stop a write half-way.
private struct Interrupted: Error {}

@Test func aSuccessfulWriteLeavesOnlyTheCheckpoint() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let url = dir.appendingPathComponent("ckpt.h5")
  try sampleData().write(to: url)
  try sampleData().write(to: url)  // replacing works too
  #expect(try contents(dir) == ["ckpt.h5"])
}

@Test func aWriteInterruptedHalfWayKeepsThePreviousFile() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let url = dir.appendingPathComponent("ckpt.h5")
  try sampleData().write(to: url)
  let before = try Data(contentsOf: url)
  var changed = sampleData()
  changed.tensors[0] = ("model/layers.0.weight", Tensor.zeros([2, 3]))
  var written = 0
  var seenWhileWriting: [String] = []
  #expect(throws: Interrupted.self) {
    try changed.write(
      to: url,
      afterEachDataset: { _ in
        written += 1
        if written == 3 {
          seenWhileWriting = try contents(dir)
          throw Interrupted()
        }
      })
  }
  // The file is built in memory: nothing touched the folder while the datasets were written.
  #expect(seenWhileWriting == ["ckpt.h5"])
  #expect(try contents(dir) == ["ckpt.h5"])
  #expect(try Data(contentsOf: url) == before)
  #expect(try CheckpointData.read(from: url).tensor("model/layers.0.weight")?.scalars[0] == 1)

  // An interrupted first write leaves nothing under the name.
  let fresh = dir.appendingPathComponent("fresh.h5")
  #expect(throws: Interrupted.self) {
    try changed.write(to: fresh, afterEachDataset: { _ in throw Interrupted() })
  }
  #expect(try contents(dir) == ["ckpt.h5"])
}

@Test func badNamesAreRefusedBeforeAnythingIsWritten() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let url = dir.appendingPathComponent("ckpt.h5")
  try sampleData().write(to: url)
  let before = try Data(contentsOf: url)
  var bad = sampleData()
  bad.integers["model/scale"] = [1]  // also a tensor
  bad.doubles["model/layers.0.weight/extra"] = [1]  // under a dataset
  bad.unsignedIntegers["trainer//gap"] = []
  let message = messageOf { try bad.write(to: url) }
  #expect(message.hasPrefix("\(url.path): bad names:\n"))
  #expect(message.contains("/model/scale is named twice"))
  #expect(message.contains("/model/layers.0.weight is a dataset and also the group of"))
  #expect(message.contains("'trainer//gap' is not a valid path"))
  #expect(try contents(dir) == ["ckpt.h5"])
  #expect(try Data(contentsOf: url) == before)
}

@Test func aFailedRenameOrMissingFolderLeavesNothingBehind() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let occupied = dir.appendingPathComponent("ckpt.h5")
  try FileManager.default.createDirectory(
    at: occupied.appendingPathComponent("inside"), withIntermediateDirectories: true)
  let message = messageOf { try sampleData().write(to: occupied) }
  #expect(
    message
      == "\(occupied.path): a directory sits at this checkpoint's name; move or delete it, then retry"
  )
  #expect(try contents(dir) == ["ckpt.h5"])
  #expect(try contents(occupied) == ["inside"])

  let nowhere = dir.appendingPathComponent("no/such/folder/ckpt.h5")
  #expect(
    messageOf { try sampleData().write(to: nowhere) }
      == "\(nowhere.path): its folder does not exist")
}

@Test func aFailedSaveDeletesNoOlderCheckpoint() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  try run.save(runData(), step: 1, keep: 1)
  var bad = runData()
  bad.integers["model/scale"] = [1]
  #expect(throws: CheckpointError.self) { try run.save(bad, step: 2, keep: 1) }
  #expect(run.all().map(\.step) == [1])
  #expect(try run.newestValid().url == run.url(step: 1))
}
