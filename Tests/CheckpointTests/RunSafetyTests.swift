import Foundation
import TensorCore
import Testing

@testable import Checkpoint

/// A process id that no running process has.
private func deadPID() -> Int32 {
  var pid: Int32 = 4_000_000
  while kill(pid, 0) == 0 || errno == EPERM { pid -= 1 }
  return pid
}

/// A checkpoint of another run (its own run directory, its own id), copied into `run` at
/// `step`.
private func plantForeign(in run: RunCheckpoints, step: Int, model: String = "mlp[2,3]") throws {
  let other = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(other.directory) }
  var data = runData()
  data.attributes["model"] = .string(model)
  try other.save(data, step: step, keep: 1)
  try FileManager.default.copyItem(at: other.url(step: step), to: run.url(step: step))
}

@Test func aRunHasOneIdentityStampedOnEveryCheckpoint() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  #expect(try run.identity() == nil)
  let identity = try run.establishIdentity(model: "mlp[2,3]")
  #expect(try run.establishIdentity(model: "other") == identity)  // fixed once made
  #expect(try run.identity() == identity)
  try run.save(runData(), step: 1, keep: 3)
  let saved = try CheckpointData.read(from: run.url(step: 1))
  #expect(saved.runID == identity.runID)

  // Data of another run or another model is refused by name.
  var foreign = runData()
  foreign.attributes["runID"] = .string("someone-else")
  #expect(
    messageOf { try run.save(foreign, step: 2, keep: 3) }
      == "\(run.url(step: 2).path): @runID: is 'someone-else', but \(run.directory.path) belongs to run '\(identity.runID)' (see run-identity.json); not written"
  )
  var otherModel = runData()
  otherModel.attributes["model"] = .string("mlp[2,9]")
  #expect(
    messageOf { try run.save(otherModel, step: 2, keep: 3) }.contains(
      "@model: is 'mlp[2,9]', but \(run.directory.path) belongs to a run of model 'mlp[2,3]'"))
  #expect(run.all().map(\.step) == [1])

  // A damaged identity file is an error that says what to do.
  try Data("{oops".utf8).write(to: run.identityURL)
  #expect(messageOf { _ = try run.identity() }.contains("is damaged"))
}

@Test func resumeFallsBackOverDamagedForeignAndRefusedCheckpoints() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  try run.save(runData(), step: 1, keep: 9)
  try run.save(runData(), step: 2, keep: 9)
  // Step 3: a bit flip in its data. Step 4: lacks a dataset the trainer needs. Step 5: another
  // run's checkpoint of the same model. Step 6: another model. Step 7: a directory.
  try run.save(runData(), step: 3, keep: 9)
  var bytes = try Data(contentsOf: run.url(step: 3))
  let marker = withUnsafeBytes(of: Float(4)) { Data($0) }  // model/layers.0.weight[1][0]
  bytes[try #require(bytes.range(of: marker)).lowerBound + 2] ^= 0x10
  try bytes.write(to: run.url(step: 3))
  var lacking = runData()
  lacking.tensors.removeAll { $0.0 == "model/scale" }
  try run.save(lacking, step: 4, keep: 9)
  try plantForeign(in: run, step: 5)
  try plantForeign(in: run, step: 6, model: "transformer[4]")
  try FileManager.default.createDirectory(at: run.url(step: 7), withIntermediateDirectories: true)

  let found = try run.newestValid(accept: { data in
    guard data.tensor("model/scale") != nil else {
      throw CheckpointError(
        file: data.source ?? "", object: "/model/scale", message: "missing")
    }
  })
  #expect(found.url == run.url(step: 2))
  #expect(found.warnings.count == 5)
  #expect(found.warnings[0].contains("ckpt_00000007.h5: is a directory"))
  #expect(found.warnings[1].contains("ckpt_00000006.h5: belongs to another run"))
  #expect(found.warnings[2].contains("ckpt_00000005.h5: belongs to another run"))
  #expect(found.warnings[3].contains("ckpt_00000004.h5: /model/scale: missing"))
  #expect(found.warnings[4].contains("ckpt_00000003.h5: /model/layers.0.weight: damaged"))

  // Naming the foreign file directly is refused, with the reason.
  #expect(
    messageOf { _ = try RunCheckpoints.locate(run.url(step: 5).path, experiment: "", root: ".") }
      .contains("ckpt_00000005.h5: belongs to another run (@runID '"))
  // Without an identity (nil) any run's checkpoint is taken: the newest readable one.
  #expect(try run.newestIntact(expecting: nil).url == run.url(step: 6))

  // Retention deletes only this run's older checkpoints (the damaged one too: its attributes
  // still name this run), never the foreign ones.
  try FileManager.default.removeItem(at: run.url(step: 7))
  try run.save(runData(), step: 8, keep: 1)
  #expect(run.all().map(\.step) == [5, 6, 8])
}

@Test func checkpointsFromBeforeRunIDsResumeWhenTheirModelMatches() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  try runData().write(to: run.url(step: 1))  // no @runID, as older builds wrote
  #expect(try run.newestValid().url == run.url(step: 1))  // no identity yet: taken
  try run.save(runData(), step: 2, keep: 9)  // records the identity
  try Data("x".utf8).write(to: run.url(step: 2))
  let found = try run.newestValid()
  #expect(found.url == run.url(step: 1))  // same model: still this run's
}

@Test func staleTemporaryFilesOfDeadProcessesAreRemoved() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  let dead = deadPID()
  let names = [
    ".ckpt_00000003.h5.tmp-\(dead)-ABCD1234",  // a dead process: removed
    ".run-identity.json.tmp-\(dead)-EF",  // likewise
    ".ckpt_00000004.h5.tmp-\(getpid())-ABCD1234",  // this process: kept
    ".ckpt_00000005.h5.tmp-1-ABCD1234",  // a live process (init): kept
    ".hidden-notes",  // not a temporary file: kept
  ]
  for name in names { try Data("x".utf8).write(to: run.directory.appendingPathComponent(name)) }
  #expect(RunCheckpoints.temporaryOwner(names[0]) == dead)
  #expect(RunCheckpoints.temporaryOwner("ckpt_00000001.h5") == nil)
  #expect(run.removeStaleTemporaries() == [names[0], names[1]].sorted())
  #expect(try contents(run.directory) == names.dropFirst(2).sorted())
  // save() clears them too.
  try Data("x".utf8).write(to: run.directory.appendingPathComponent(names[0]))
  try run.save(runData(), step: 1, keep: 1)
  #expect(!(try contents(run.directory)).contains(names[0]))
}

@Test func aRunDirectoryHasOneWriter() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  let first = try run.lock()
  #expect(first.tookOverFrom == nil)
  #expect(
    messageOf { _ = try run.lock() }
      == "\(run.directory.path): is in use by process \(getpid()) (it holds run.lock): two processes must not write one run; wait for it to finish or stop it (kill \(getpid()))"
  )
  first.release()
  let second = try run.lock()
  second.release()

  // A lock file left by a dead process is taken over.
  let dead = deadPID()
  try Data("\(dead)\n".utf8).write(to: run.directory.appendingPathComponent("run.lock"))
  let third = try run.lock()
  #expect(third.tookOverFrom == dead)
  #expect(
    try String(contentsOf: run.directory.appendingPathComponent("run.lock"), encoding: .utf8)
      == "\(getpid())\n")
  third.release()
}

private let python3 = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

@Test(.enabled(if: python3 != nil, "python3 not found"))
func anotherProcessHoldingTheLockIsNamedAndItsDeathFreesIt() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  let lockPath = run.directory.appendingPathComponent("run.lock").path
  let process = Process()
  process.executableURL = URL(fileURLWithPath: python3!)
  process.arguments = [
    "-c",
    """
    import fcntl, os, sys, time
    f = open(sys.argv[1], "a+")
    fcntl.flock(f, fcntl.LOCK_EX)
    f.truncate(0); f.write(f"{os.getpid()}\\n"); f.flush()
    print("ready", flush=True)
    time.sleep(30)
    """, lockPath,
  ]
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  defer { if process.isRunning { process.terminate() } }
  _ = pipe.fileHandleForReading.availableData  // "ready"
  let holder = process.processIdentifier
  let message = messageOf { _ = try run.lock() }
  #expect(message.contains("is in use by process \(holder) (it holds run.lock)"), "\(message)")
  kill(holder, SIGKILL)
  process.waitUntilExit()
  let lock = try run.lock()
  #expect(lock.tookOverFrom == holder)
  lock.release()
}
