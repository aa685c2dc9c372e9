import Checkpoint
import Foundation
import Testing

@Test func checkpointNamesCarryTheStepInEightDigits() {
  #expect(RunCheckpoints.fileName(step: 100) == "ckpt_00000100.h5")
  #expect(RunCheckpoints.fileName(step: 123_456_789) == "ckpt_123456789.h5")
  #expect(RunCheckpoints.step(of: "ckpt_00000100.h5") == 100)
  #expect(RunCheckpoints.step(of: "ckpt_123456789.h5") == 123_456_789)
  for name in [
    "ckpt_.h5", "ckpt_-0001.h5", "ckpt_+1.h5", "ckpt_0001.h5.tmp", ".ckpt_0001.h5.tmp-1-x",
    "config.json",
  ] {
    #expect(RunCheckpoints.step(of: name) == nil, "\(name)")
  }
}

@Test func retentionKeepsTheNewest() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let run = RunCheckpoints(directory: dir)
  for step in [10, 20, 30, 40, 50] { try run.save(runData(), step: step, keep: 2) }
  #expect(run.all().map(\.step) == [40, 50])
  #expect(run.all().last?.url.lastPathComponent == "ckpt_00000050.h5")
  try run.save(runData(), step: 60, keep: 1)
  #expect(run.all().map(\.step) == [60])
  try run.save(runData(), step: 70, keep: 0)  // keeps at least the one just written
  #expect(run.all().map(\.step) == [70])
  // Checkpoints of later steps (say, from before a resume at an earlier step) stay, and so
  // do files that are not checkpoints.
  try Data("notes".utf8).write(to: dir.appendingPathComponent("metrics.jsonl"))
  try run.save(runData(), step: 65, keep: 1)
  #expect(run.all().map(\.step) == [65, 70])
  #expect(
    try contents(dir) == [
      "ckpt_00000065.h5", "ckpt_00000070.h5", "metrics.jsonl", "run-identity.json",
    ])
}

@Test func newestValidSkipsADamagedNewestCheckpoint() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  try run.save(runData(), step: 1, keep: 5)
  try run.save(runData(), step: 2, keep: 5)
  let newest = run.url(step: 2)
  let bytes = try Data(contentsOf: newest)
  try bytes.prefix(bytes.count - 200).write(to: newest)
  // A temporary file left by a write that was killed is not a checkpoint.
  try Data("partial".utf8).write(
    to: run.directory.appendingPathComponent(".ckpt_00000003.h5.tmp-1-a"))
  let found = try run.newestValid()
  #expect(found.url.lastPathComponent == "ckpt_00000001.h5")
  #expect(found.data.attributes["step"] == .integer(42))
  #expect(found.warnings.count == 1)
  #expect(found.warnings[0].hasPrefix("skipping unreadable checkpoint \(newest.path): "))
  #expect(found.warnings[0].contains("truncated"))

  // No valid checkpoint at all is an error naming each failure.
  try Data("x".utf8).write(to: run.url(step: 1))
  let message = messageOf { _ = try run.newestValid() }
  #expect(message.hasPrefix("\(run.directory.path): holds no valid checkpoint:\n"))
  #expect(message.contains("ckpt_00000001.h5: is not an HDF5 file"))
  #expect(message.contains("ckpt_00000002.h5: cannot be opened: the file is truncated"))

  let empty = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(empty.directory) }
  #expect(
    messageOf { _ = try empty.newestValid() }
      == "\(empty.directory.path): holds no checkpoints (ckpt_*.h5)")
  let absent = RunCheckpoints(directory: empty.directory.appendingPathComponent("gone"))
  #expect(messageOf { _ = try absent.newestValid() }.hasSuffix("gone: no such run directory"))
}

@Test func resumeArgumentsResolve() throws {
  let root = try scratchDirectory()
  defer { removeScratch(root) }
  func run(_ name: String, steps: [Int]) throws -> URL {
    let dir = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for step in steps { try RunCheckpoints(directory: dir).save(runData(), step: step, keep: 9) }
    return dir
  }
  let older = try run("exp__seed0__20260101-000000", steps: [5])
  _ = try run("exp__seed1__20260202-000000", steps: [5, 10])
  _ = try run("exp__seed1__20260202-000000-2", steps: [5])
  let newest = try run("exp__seed1__20260202-000000-10", steps: [5, 15])
  _ = try run("exp__seed3__20990101-000000", steps: [])  // newer, but nothing to resume
  _ = try run("exp__b__seed0__20990101-000000", steps: [5])  // experiment "exp__b"
  _ = try run("expanded__seed0__20990101-000000", steps: [5])
  _ = try run("other__seed0__20990101-000000", steps: [5])

  let auto = try RunCheckpoints.locate("auto", experiment: "exp", root: root.path)
  #expect(auto.url == newest.appendingPathComponent("ckpt_00000015.h5"))
  #expect(auto.warnings.isEmpty)
  // A truncated newest checkpoint in the newest run: the one before it, with a warning.
  try Data("junk".utf8).write(to: newest.appendingPathComponent("ckpt_00000015.h5"))
  let fallback = try RunCheckpoints.locate("auto", experiment: "exp", root: root.path)
  #expect(fallback.url.lastPathComponent == "ckpt_00000005.h5")
  #expect(fallback.url.deletingLastPathComponent().lastPathComponent == newest.lastPathComponent)
  #expect(fallback.warnings.count == 1)

  let byDirectory = try RunCheckpoints.locate(older.path, experiment: "exp", root: root.path)
  #expect(byDirectory.url.lastPathComponent == "ckpt_00000005.h5")
  let file = older.appendingPathComponent("ckpt_00000005.h5").path
  let byFile = try RunCheckpoints.locate(file, experiment: "", root: ".")
  #expect(byFile.url.path == file)
  #expect(byFile.data.attributes["step"] == .integer(42))

  #expect(
    messageOf { _ = try RunCheckpoints.locate("auto", experiment: "none", root: root.path) }
      .contains("has no run of experiment 'none' with a checkpoint to resume"))
  let nowhere = root.appendingPathComponent("missing").path
  #expect(
    messageOf { _ = try RunCheckpoints.locate(nowhere, experiment: "exp", root: root.path) }
      == "\(nowhere): no such file or directory to resume from")
  #expect(
    messageOf { _ = try RunCheckpoints.locate("auto", experiment: "exp", root: nowhere) }
      .contains("no such directory to look for runs of experiment 'exp' in"))
}
