import CHDF5
import Foundation
import TensorCore
import TestSupport
import Testing

@testable import Checkpoint

@Test func everyKindOfValueRoundTrips() throws {
  let folder = try scratchDirectory()
  defer { removeScratch(folder) }
  let url = folder.appendingPathComponent("a.h5")
  let original = sampleData()
  try original.write(to: url)
  let back = try CheckpointData.read(from: url)
  #expect(back.source == url.path)
  #expect(back.tensors.count == original.tensors.count)
  for (name, tensor) in original.tensors {
    let read = try #require(back.tensor(name), "missing \(name)")
    #expect(read.shape == tensor.shape, "\(name)")
    #expect(read.scalars.map(\.bitPattern) == tensor.scalars.map(\.bitPattern), "\(name)")
  }
  #expect(back.tensor("model/scale")?.shape == [])
  #expect(back.tensor("model/volume")?.shape == [2, 1, 3, 2])
  #expect(back.integers == original.integers)
  #expect(back.unsignedIntegers == original.unsignedIntegers)
  #expect(back.doubles == original.doubles)
  for (key, value) in original.attributes { #expect(back.attributes[key] == value, "\(key)") }
  #expect(back.attributes["formatVersion"] == .integer(CheckpointData.formatVersion))
  guard case .string(let created)? = back.attributes["createdAt"] else {
    Issue.record("createdAt missing")
    return
  }
  #expect(ISO8601DateFormatter().date(from: created) != nil)
  #expect(back.model == "mlp[2,3]")
  #expect(back.tensors(under: "optimizer").map(\.0) == ["layers.0.weight/m"])
}

@Test func strictRestoreReportsEveryBadKeyAtOnce() throws {
  let data = sampleData()
  let weight = Tensor.zeros([2, 3])
  let wrong = Tensor.zeros([3])
  let absent = Tensor.zeros([1])
  let message = messageOf {
    try data.restore(
      [("layers.0.weight", weight), ("scale", wrong), ("bias", absent), ("bias", absent)],
      prefix: "model", file: "x.h5")
  }
  #expect(message.hasPrefix("x.h5: /model: does not fit (6 problems):\n"))
  #expect(message.contains("model/scale has shape [], expected [3]"))
  #expect(message.contains("missing model/bias [1]"))
  #expect(message.contains("model/bias is listed twice among the tensors to restore"))
  #expect(message.contains("unexpected model/volume [2, 1, 3, 2]"))
  #expect(message.contains("unexpected model/empty [0, 3]"))
  #expect(message.contains("unexpected model/edges [5]"))
  #expect(message.contains("unexpected model/scale") == false)
  #expect(!message.contains("layers.0.weight"))
  #expect(weight.scalars == [0, 0, 0, 0, 0, 0])  // nothing copied when anything is wrong

  var small = CheckpointData()
  small.tensors = [("model/layers.0.weight", data.tensor("model/layers.0.weight")!)]
  try small.restore([("layers.0.weight", weight)], prefix: "model")
  #expect(weight.scalars == [1, 2, 3, 4, 5, 6])
}

@Test func restoreRefusesAnotherModelOrFormat() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let url = dir.appendingPathComponent("m.h5")
  try sampleData().write(to: url)
  let data = try CheckpointData.read(from: url)
  let targets = data.tensors(under: "model").map { ($0.0, Tensor.zeros($0.1.shape)) }
  let other = messageOf { try data.restore(targets, prefix: "model", model: "transformer[4]") }
  #expect(
    other == "\(url.path): @model: is 'mlp[2,3]', but the model to restore is 'transformer[4]'")
  #expect(targets.allSatisfy { $0.1.scalars.allSatisfy { $0 == 0 } })
  try data.restore(targets, prefix: "model", model: "mlp[2,3]")
  #expect(targets.first { $0.0 == "layers.0.weight" }?.1.scalars == [1, 2, 3, 4, 5, 6])

  var anonymous = sampleData()
  anonymous.attributes["model"] = nil
  #expect(
    messageOf { try anonymous.checkModel("mlp") }
      == "checkpoint: @model: missing; expected model 'mlp'")

  var future = sampleData()
  future.attributes["formatVersion"] = .integer(99)
  let futureURL = dir.appendingPathComponent("future.h5")
  try future.write(to: futureURL)
  #expect(
    messageOf { _ = try CheckpointData.read(from: futureURL) }
      == "\(futureURL.path): @formatVersion: is 99; this build reads format 1")
}

@Test func badFilesGiveClearErrorsAndStayUntouched() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let missing = dir.appendingPathComponent("nope.h5")
  #expect(
    messageOf { _ = try CheckpointData.read(from: missing) } == "\(missing.path): no such file")
  #expect(messageOf { _ = try CheckpointData.read(from: dir) }.contains("is a directory"))

  let text = dir.appendingPathComponent("notes.h5")
  try Data("hello, not hdf5".utf8).write(to: text)
  #expect(
    messageOf { _ = try CheckpointData.read(from: text) }
      == "\(text.path): is not an HDF5 file (or its header is damaged)")

  let good = dir.appendingPathComponent("good.h5")
  try sampleData().write(to: good)
  let bytes = try Data(contentsOf: good)
  for fraction in [0.0, 0.1, 0.5, 0.9] {
    let truncated = dir.appendingPathComponent("truncated-\(fraction).h5")
    let kept = fraction == 0 ? 1 : Int(Double(bytes.count) * fraction)
    try bytes.prefix(kept).write(to: truncated)
    let message = messageOf { _ = try CheckpointData.read(from: truncated) }
    #expect(message.hasPrefix(truncated.path + ": "), "\(fraction)")
    #expect(
      message.contains("truncated or corrupt") || message.contains("header is damaged"),
      "\(fraction): \(message)")
  }
  let oneShort = dir.appendingPathComponent("one-short.h5")
  try bytes.dropLast().write(to: oneShort)
  #expect(messageOf { _ = try CheckpointData.read(from: oneShort) }.contains("truncated"))

  // An HDF5 file that is not an Allot checkpoint (no formatVersion).
  let foreign = dir.appendingPathComponent("foreign.h5")
  let file = try H5File.createInMemory(label: foreign.path, sizeHint: 0)
  try [Float(1), 2].withUnsafeBufferPointer {
    try file.writeDataset("/x", shape: [2], type: allot_h5t_native_float(), $0.baseAddress)
  }
  try Data(file.imageAndClose()).write(to: foreign)
  #expect(
    messageOf { _ = try CheckpointData.read(from: foreign) }
      == "\(foreign.path): @formatVersion: missing: this is not an Allot checkpoint")

  #expect(try Data(contentsOf: good) == bytes)  // nothing was overwritten by any of this
  #expect(try Data(contentsOf: text) == Data("hello, not hdf5".utf8))
}

@Test func filesFromOtherWritersReadAsTheNearestKind() throws {
  // Narrow integers (as h5py or other tools may write) read as Int64; unsigned 64-bit as UInt64.
  let folder = try scratchDirectory()
  defer { removeScratch(folder) }
  let url = folder.appendingPathComponent("narrow.h5")
  let file = try H5File.createInMemory(label: url.path, sizeHint: 0)
  try [Int32(-3), 7].withUnsafeBufferPointer {
    try file.writeDataset(
      "/trainer/narrow", shape: [2], type: allot_h5t_native_int32(), $0.baseAddress)
  }
  try file.setAttribute("formatVersion", .integer(1))
  try Data(file.imageAndClose()).write(to: url)
  let data = try CheckpointData.read(from: url)
  #expect(data.integers["trainer/narrow"] == [-3, 7])
}

/// Writes, reads and fails in every way a checkpoint can, in `folder`.
private func exerciseEveryPath(in folder: URL) {
  let url = folder.appendingPathComponent("a-\(UUID().uuidString).h5")
  try! sampleData().write(to: url)
  let data = try! CheckpointData.read(from: url)
  _ = try? data.restore([("nothing", Tensor.zeros([1]))], prefix: "model", model: "other")
  _ = try? data.restore([("nothing", Tensor.zeros([1]))], prefix: "model")
  _ = try? CheckpointData.read(from: url.appendingPathExtension("missing"))
  let bytes = try! Data(contentsOf: url)
  let truncated = folder.appendingPathComponent("t-\(UUID().uuidString).h5")
  try! bytes.prefix(bytes.count / 2).write(to: truncated)
  _ = try? CheckpointData.read(from: truncated)
  try! bytes.prefix(bytes.count - 10).write(to: truncated)
  _ = try? CheckpointData.read(from: truncated)
  try! Data("not hdf5".utf8).write(to: truncated)
  _ = try? CheckpointData.read(from: truncated)
  _ = try? sampleData().write(
    to: url, afterEachDataset: { _ in throw CheckpointError(file: "", message: "stop") })
  _ = try? sampleData().write(to: folder)
}

/// Every HDF5 handle is closed after writing, reading and every failure path, and HDF5 prints
/// nothing on any thread. Checked in a child process, since the open-object count is
/// process-wide and other tests open HDF5 files concurrently in this one.
@Test func noHandleLeaksAndNoPrintedHDF5Errors() async {
  await #expect(processExitsWith: .success) {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "allot-leak-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    // Send stderr to a file to see whether HDF5 prints anything.
    let log = folder.appendingPathComponent("stderr.txt")
    try! Data().write(to: log)
    let logHandle = try! FileHandle(forWritingTo: log)
    dup2(logHandle.fileDescriptor, 2)
    let baseline = openHDF5ObjectCount()
    exerciseEveryPath(in: folder)
    // Again on a second thread: HDF5 keeps its error-printing switch per thread.
    let thread = Thread { exerciseEveryPath(in: folder) }
    thread.start()
    while !thread.isFinished { usleep(1000) }
    let printed = try! String(contentsOf: log, encoding: .utf8)
    let clean = baseline == 0 && openHDF5ObjectCount() == 0 && printed.isEmpty
    try? FileManager.default.removeItem(at: folder)
    exit(clean ? 0 : 1)
  }
}
