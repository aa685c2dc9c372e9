import Checkpoint
import Foundation
import TensorCore
import TestSupport
import Testing

private func scratchDirectory() throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-ckpt-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

private func sampleData() -> CheckpointData {
  var data = CheckpointData()
  data.tensors = [
    ("model/layers.0.weight", Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])),
    ("model/scale", Tensor(scalar: 2.5)),
    ("model/volume", sample([2, 1, 3, 2], seed: 3)),
    ("model/empty", Tensor.zeros([0, 3])),
    ("optimizer/layers.0.weight/m", Tensor([0.5, -0.5], shape: [2])),
  ]
  data.integers = ["rng/data": [Int64.min, -1, 0, Int64.max], "trainer/none": []]
  data.doubles = ["trainer/history": [0.25, -1e300, 3]]
  data.attributes = [
    "config": .string("{\"note\": \"ünïcödé ✓\"}"), "step": .integer(42),
    "temperature": .double(0.7),
  ]
  return data
}

private func messageOf(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch { return "\(error)" }
}

@Test func everyKindOfValueRoundTrips() throws {
  let dir = try scratchDirectory()
  let url = dir.appendingPathComponent("a.h5")
  try sampleData().write(to: url)
  let back = try CheckpointData.read(from: url)
  let original = sampleData()
  for (name, tensor) in original.tensors {
    let read = try #require(back.tensor(name), "missing \(name)")
    #expect(read.shape == tensor.shape, "\(name)")
    #expect(read.scalars == tensor.scalars, "\(name)")
  }
  #expect(back.tensors.count == original.tensors.count)
  #expect(back.integers == original.integers)
  #expect(back.doubles == original.doubles)
  for (k, v) in original.attributes { #expect(back.attributes[k] == v, "\(k)") }
  #expect(back.attributes["formatVersion"] == .integer(CheckpointData.formatVersion))
  if case .string(let created)? = back.attributes["createdAt"] {
    #expect(created.hasPrefix("20"))
  } else {
    Issue.record("createdAt missing")
  }
}

@Test func writesAreAtomic() throws {
  let dir = try scratchDirectory()
  let url = dir.appendingPathComponent("ckpt.h5")
  try sampleData().write(to: url)
  #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["ckpt.h5"])
  // A failing write (a name used twice) leaves the previous file intact and no temp file.
  var bad = sampleData()
  bad.integers["model/scale"] = [1]
  let message = messageOf { try bad.write(to: url) }
  #expect(message.contains("/model/scale: is named twice"))
  #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["ckpt.h5"])
  #expect(try CheckpointData.read(from: url).tensor("model/scale")?.scalars == [2.5])
}

@Test func strictRestoreReportsEveryBadKeyAtOnce() throws {
  let data = sampleData()
  let weight = Tensor.zeros([2, 3])
  let wrong = Tensor.zeros([3])
  let absent = Tensor.zeros([1])
  let message = messageOf {
    try data.restore(
      [("layers.0.weight", weight), ("scale", wrong), ("bias", absent)], prefix: "model",
      file: "x.h5")
  }
  #expect(message.contains("x.h5: /model: does not fit (4 problems)"))
  #expect(message.contains("model/scale has shape [], expected [3]"))
  #expect(message.contains("missing model/bias [1]"))
  #expect(message.contains("unexpected model/volume [2, 1, 3, 2]"))
  #expect(message.contains("unexpected model/empty [0, 3]"))
  #expect(weight.scalars == [0, 0, 0, 0, 0, 0])  // nothing copied when anything is wrong
  let fine = [("layers.0.weight", weight)]
  var small = CheckpointData()
  small.tensors = [("model/layers.0.weight", data.tensor("model/layers.0.weight")!)]
  try small.restore(fine, prefix: "model", file: "x.h5")
  #expect(weight.scalars == [1, 2, 3, 4, 5, 6])
}

@Test func badFilesGiveClearErrors() throws {
  let dir = try scratchDirectory()
  #expect(
    messageOf { _ = try CheckpointData.read(from: dir.appendingPathComponent("nope.h5")) }.contains(
      "no such file"))
  #expect(messageOf { _ = try CheckpointData.read(from: dir) }.contains("is a directory"))
  let text = dir.appendingPathComponent("notes.h5")
  try Data("hello, not hdf5".utf8).write(to: text)
  #expect(messageOf { _ = try CheckpointData.read(from: text) }.contains("is not an HDF5 file"))
  let good = dir.appendingPathComponent("good.h5")
  try sampleData().write(to: good)
  let bytes = try Data(contentsOf: good)
  let truncated = dir.appendingPathComponent("truncated.h5")
  try bytes.prefix(bytes.count / 2).write(to: truncated)
  let truncatedMessage = messageOf { _ = try CheckpointData.read(from: truncated) }
  #expect(truncatedMessage.contains("truncated or corrupt") || truncatedMessage.contains("damaged"))
  var future = sampleData()
  future.attributes["formatVersion"] = .integer(99)
  let futureURL = dir.appendingPathComponent("future.h5")
  try future.write(to: futureURL)
  #expect(
    messageOf { _ = try CheckpointData.read(from: futureURL) }.contains(
      "@formatVersion: is 99; this build reads format 1"))
  // Nothing was overwritten by any of this.
  #expect(try Data(contentsOf: good) == bytes)
}

@Test func retentionKeepsTheNewest() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  for step in [10, 20, 30, 40, 50] { try run.save(sampleData(), step: step, keep: 2) }
  #expect(run.all().map(\.step) == [40, 50])
  #expect(run.all().last?.url.lastPathComponent == "ckpt_00000050.h5")
  try run.save(sampleData(), step: 60, keep: 1)
  #expect(run.all().map(\.step) == [60])
}

@Test func newestValidSkipsADamagedNewestCheckpoint() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  try run.save(sampleData(), step: 1, keep: 5)
  try run.save(sampleData(), step: 2, keep: 5)
  let newest = run.url(step: 2)
  let bytes = try Data(contentsOf: newest)
  try bytes.prefix(bytes.count - 200).write(to: newest)
  let found = try run.newestValid()
  #expect(found.url.lastPathComponent == "ckpt_00000001.h5")
  #expect(found.warnings.count == 1)
  #expect(found.warnings[0].contains("ckpt_00000002.h5"))
  // No valid checkpoint at all is an error naming each failure.
  try Data("x".utf8).write(to: run.url(step: 1))
  let message = messageOf { _ = try run.newestValid() }
  #expect(message.contains("holds no valid checkpoint"))
  let empty = RunCheckpoints(directory: try scratchDirectory())
  #expect(messageOf { _ = try empty.newestValid() }.contains("holds no checkpoints"))
}

@Test func resumeTargetsResolve() throws {
  let root = try scratchDirectory()
  let older = root.appendingPathComponent("exp__seed0__20260101-000000")
  let newer = root.appendingPathComponent("exp__seed1__20260202-000000")
  let other = root.appendingPathComponent("other__seed0__20270101-000000")
  for dir in [older, newer, other] {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try RunCheckpoints(directory: dir).save(sampleData(), step: 5, keep: 1)
  }
  let auto = try RunCheckpoints.locate("auto", experiment: "exp", root: root.path)
  #expect(auto.url.deletingLastPathComponent().lastPathComponent == newer.lastPathComponent)
  let byDirectory = try RunCheckpoints.locate(older.path, experiment: "exp", root: root.path)
  #expect(byDirectory.url.lastPathComponent == "ckpt_00000005.h5")
  let file = older.appendingPathComponent("ckpt_00000005.h5").path
  #expect(try RunCheckpoints.locate(file, experiment: "exp", root: root.path).url.path == file)
  #expect(
    messageOf { _ = try RunCheckpoints.locate("auto", experiment: "none", root: root.path) }
      .contains("has no run of experiment 'none'"))
  #expect(
    messageOf {
      _ = try RunCheckpoints.locate(root.path + "/missing", experiment: "exp", root: root.path)
    }
    .contains("no such file or directory"))
}

@Test func filesAreReadableByH5dump() throws {
  let h5dump = ["/usr/bin/h5dump", "/usr/local/bin/h5dump"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  guard let h5dump else {
    Issue.record("h5dump not found: install hdf5-tools (bash .ci/setup does)")
    return
  }
  let url = try scratchDirectory().appendingPathComponent("dump.h5")
  try sampleData().write(to: url)
  let process = Process()
  process.executableURL = URL(fileURLWithPath: h5dump)
  process.arguments = ["-d", "/model/layers.0.weight", "-a", "/step", url.path]
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  #expect(process.terminationStatus == 0)
  #expect(output.contains("DATASET \"/model/layers.0.weight\""))
  #expect(output.contains("H5T_IEEE_F32LE"))
  #expect(output.contains("DATASPACE  SIMPLE { ( 2, 3 ) / ( 2, 3 ) }"))
  #expect(output.contains("(0,0): 1, 2, 3,"))
  #expect(output.contains("(0): 42"))
}

/// Every HDF5 handle is closed after writing and reading. Checked in a child process, since
/// other tests open HDF5 files concurrently in this one.
@Test func noHDF5HandleLeaks() async {
  await #expect(processExitsWith: .success) {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "allot-leak-\(UUID().uuidString).h5")
    try! sampleData().write(to: url)
    _ = try! CheckpointData.read(from: url)
    _ = try? CheckpointData.read(from: url.appendingPathExtension("missing"))
    exit(openHDF5ObjectCount() == 0 ? 0 : 1)
  }
}
