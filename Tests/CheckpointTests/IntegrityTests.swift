import CHDF5
import Foundation
import TensorCore
import Testing

@testable import Checkpoint

/// Flips bit `bit` of the byte at `offset` of the file at `url`.
private func flipBit(_ url: URL, at offset: Int, bit: Int) throws {
  var bytes = try Data(contentsOf: url)
  bytes[offset] ^= UInt8(1 << bit)
  try bytes.write(to: url)
}

/// The offset of the first occurrence of `pattern` in the file at `url`.
private func offset(of pattern: [UInt8], in url: URL) throws -> Int {
  let bytes = try Data(contentsOf: url)
  let range = try #require(bytes.range(of: Data(pattern)))
  return range.lowerBound
}

/// Checkpoint data whose tensors and arrays hold values easy to find in the file.
private func findableData() -> CheckpointData {
  var data = runData()
  data.tensors.append(
    ("model/marked", Tensor((0..<64).map { 1234.5 + Float($0) }, shape: [8, 8])))
  data.integers["trainer/marked"] = [0x0102_0304_0506_0708, 5]
  data.doubles["trainer/markedDoubles"] = [98765.4321, 1]
  return data
}

@Test func checksumsChangeWithEveryBitAndWithOrder() {
  let bytes: [UInt8] = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
  let base = bytes.withUnsafeBytes { Checksum.of($0) }
  var seen: Set<UInt64> = [base]
  for index in [0, 1, 31, 32, 500, 992, 999] {
    for bit in 0..<8 {
      var copy = bytes
      copy[index] ^= UInt8(1 << bit)
      seen.insert(copy.withUnsafeBytes { Checksum.of($0) })
    }
  }
  #expect(seen.count == 1 + 7 * 8)  // every single-bit flip gives a checksum of its own
  var swapped = bytes
  swapped.swapAt(0, 40)  // same bytes, other order
  #expect(swapped.withUnsafeBytes { Checksum.of($0) } != base)
  #expect(Checksum.of([UInt8]()) != Checksum.of([UInt8(0)]))  // the length counts
  #expect(Checksum.of([Float(1), 2]) == Checksum.of([Float(1), 2]))
}

@Test func aBitFlipInAnyDatasetIsReportedByItsPath() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let good = dir.appendingPathComponent("good.h5")
  try findableData().write(to: good)
  #expect(try CheckpointData.read(from: good).isVerified)
  let cases: [(pattern: [UInt8], object: String)] = [
    (withUnsafeBytes(of: Float(1234.5)) { Array($0) }, "/model/marked"),
    (withUnsafeBytes(of: Int64(0x0102_0304_0506_0708)) { Array($0) }, "/trainer/marked"),
    (withUnsafeBytes(of: Double(98765.4321)) { Array($0) }, "/trainer/markedDoubles"),
  ]
  var flips = 0
  for (pattern, object) in cases {
    let at = try offset(of: pattern, in: good)
    for (byte, bit) in [(0, 0), (pattern.count - 1, 7), (pattern.count - 1, 6), (1, 3)] {
      let damaged = dir.appendingPathComponent("damaged-\(flips).h5")
      try FileManager.default.copyItem(at: good, to: damaged)
      try flipBit(damaged, at: at + byte, bit: bit)
      let message = messageOf { _ = try CheckpointData.read(from: damaged) }
      #expect(
        message.hasPrefix(
          "\(damaged.path): \(object): damaged: its data do not match the checksum"),
        "byte \(byte) bit \(bit): \(message)")
      flips += 1
    }
  }
  #expect(flips == 12)
}

@Test func damagedOrMissingAttributesAndDatasetsAreNamed() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let good = dir.appendingPathComponent("good.h5")
  try findableData().write(to: good)

  // A flipped byte inside the config attribute's text: attribute values are HDF5 metadata,
  // refused by the structure seal before HDF5 parses them.
  let config = dir.appendingPathComponent("config.h5")
  try FileManager.default.copyItem(at: good, to: config)
  let at = try offset(of: Array("note".utf8), in: config)
  try flipBit(config, at: at, bit: 1)
  let configMessage = messageOf { _ = try CheckpointData.read(from: config) }
  #expect(configMessage.hasPrefix("\(config.path): HDF5 structure: damaged between bytes "))
  #expect(configMessage.hasSuffix("so nothing in it is read"))
  // The range it names holds the flipped byte.
  let numbers = configMessage.split(separator: " ").compactMap {
    Int($0.trimmingCharacters(in: .punctuationCharacters))
  }
  #expect(numbers.count >= 2 && numbers[0] <= at && at < numbers[1])
  // A damaged seal itself is named too.
  let seal = dir.appendingPathComponent("seal.h5")
  try FileManager.default.copyItem(at: good, to: seal)
  try flipBit(seal, at: 40, bit: 0)  // inside the seal's header words
  #expect(
    messageOf { _ = try CheckpointData.read(from: seal) }
      == "\(seal.path): user block: damaged: the structure seal Allot writes there is unreadable")

  // A file whose manifest lists a dataset it no longer has, and one with an unlisted extra.
  func craft(_ name: String, datasets: [String], manifest: [String]) throws -> URL {
    let url = dir.appendingPathComponent(name)
    let file = try H5File.createInMemory(label: url.path, sizeHint: 0)
    let values: [Float] = [1, 2]
    var entries = IntegrityManifest()
    for dataset in datasets {
      try values.withUnsafeBufferPointer {
        try file.writeDataset(dataset, shape: [2], type: allot_h5t_native_float(), $0.baseAddress)
      }
    }
    for dataset in manifest { entries.entries[dataset] = Checksum.of(values) }
    entries.entries["@formatVersion"] = IntegrityManifest.checksum(of: .integer(1))
    try file.setAttribute("formatVersion", .integer(1))
    try file.setAttribute("checksums", .string(entries.text))
    try Data(file.imageAndClose()).write(to: url)
    return url
  }
  let intact = try craft("intact.h5", datasets: ["/model/a"], manifest: ["/model/a"])
  #expect(try CheckpointData.read(from: intact).tensor("model/a")?.scalars == [1, 2])
  let lost = try craft("lost.h5", datasets: ["/model/a"], manifest: ["/model/a", "/model/b"])
  #expect(
    messageOf { _ = try CheckpointData.read(from: lost) }
      == "\(lost.path): /model/b: missing: the file's @checksums lists this dataset, so the file lost it"
  )
  let extra = try craft("extra.h5", datasets: ["/model/a", "/model/c"], manifest: ["/model/a"])
  #expect(
    messageOf { _ = try CheckpointData.read(from: extra) }
      == "\(extra.path): /model/c: not listed in the file's @checksums: added after the file was written"
  )
}

@Test func saveRefusesNonFiniteValuesNamingTheTensor() throws {
  let run = RunCheckpoints(directory: try scratchDirectory())
  defer { removeScratch(run.directory) }
  try run.save(runData(), step: 1, keep: 1)
  var bad = runData()
  bad.tensors.append(("optimizer/fc.weight/v", Tensor([1, .nan, 3, .infinity, .nan], shape: [5])))
  let message = messageOf { try run.save(bad, step: 2, keep: 1) }
  #expect(
    message
      == "\(run.url(step: 2).path): /optimizer/fc.weight/v: not saved: optimizer/fc.weight/v holds 3 non-finite values of 5 (first: nan at flat index 1); a checkpoint is never written with NaN or Inf (earlier checkpoints are untouched)"
  )
  var badDoubles = runData()
  badDoubles.doubles["trainer/history/rewards"] = [0, -.infinity]
  #expect(
    messageOf { try run.save(badDoubles, step: 2, keep: 1) }.contains(
      "trainer/history/rewards holds 1 non-finite value of 2"))
  #expect(run.all().map(\.step) == [1])
  try run.save(bad, step: 2, keep: 1, allowNonFinite: true)  // explicitly allowed
  #expect(run.all().map(\.step) == [2])
}

@Test func writeFailuresLeaveThePreviousCheckpointAndNoTemporaryFile() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let url = dir.appendingPathComponent("ckpt.h5")
  try runData().write(to: url)
  let before = try Data(contentsOf: url)
  var changed = runData()
  changed.tensors[0] = ("model/layers.0.weight", Tensor.zeros([2, 3]))
  // The disk fills up after the first 4 KB.
  var written = 0
  let full = messageOf {
    try changed.write(
      to: url, afterEachDataset: { _ in },
      writeBytes: { fd, chunk in
        if written >= 4096 {
          errno = ENOSPC
          return -1
        }
        let n = Foundation.write(fd, chunk.baseAddress, min(chunk.count, 4096))
        written += n
        return n
      })
  }
  #expect(full.hasPrefix("\(url.path): the disk is full (or over quota): "))
  #expect(
    full.hasSuffix(
      "nothing was replaced and the previous checkpoint is intact; free space, then resume"))
  #expect(try contents(dir) == ["ckpt.h5"])
  #expect(try Data(contentsOf: url) == before)
  let io = messageOf {
    try changed.write(
      to: url, afterEachDataset: { _ in },
      writeBytes: { _, _ in
        errno = EIO
        return -1
      })
  }
  #expect(io.contains("the disk reported an I/O error"))
  #expect(try contents(dir) == ["ckpt.h5"])

  // A name too long for the file system, in Allot's words.
  let long = dir.appendingPathComponent(String(repeating: "n", count: 240) + ".h5")
  let tooLong = messageOf { try runData().write(to: long) }
  #expect(tooLong.contains("the name is too long for this file system"), "\(tooLong)")
  #expect(tooLong.contains("choose a shorter run name or output folder"))
  #expect(try contents(dir) == ["ckpt.h5"])
  // Read-only and permission problems (root ignores permissions, so the words are checked
  // directly).
  #expect(
    fileProblem(EROFS, creating: url, target: url)
      == "cannot write in \(dir.path): the file system is read-only; choose another output folder")
  #expect(fileProblem(EACCES, creating: url, target: url).contains("permission denied"))
}

/// An empty folder on a small file system (say `mount -t tmpfs -o size=200k tmpfs /mnt/full`), given
/// by `ALLOT_TEST_FULL_DISK`, for the real disk-full case.
private let fullDisk = ProcessInfo.processInfo.environment["ALLOT_TEST_FULL_DISK"]

@Test(.enabled(if: fullDisk != nil, "set ALLOT_TEST_FULL_DISK to a folder on a small tmpfs"))
func aRealFullDiskEndsTheSaveCleanly() throws {
  let run = RunCheckpoints(directory: URL(fileURLWithPath: fullDisk!))
  for checkpoint in run.all() { try FileManager.default.removeItem(at: checkpoint.url) }
  try run.save(runData(), step: 1, keep: 1)
  var big = runData()
  big.tensors.append(("model/big", Tensor.zeros([1 << 20])))  // 4 MB: does not fit
  for step in 2...6 {  // every attempt fails cleanly, and the first checkpoint stays valid
    let message = messageOf { try run.save(big, step: step, keep: 1) }
    #expect(message.contains("the disk is full"), "\(message)")
    #expect(run.all().map(\.step) == [1])
    #expect(try run.newestValid().url == run.url(step: 1))
  }
  #expect(try contents(run.directory).allSatisfy { !$0.contains(".tmp-") })
  try FileManager.default.removeItem(at: run.url(step: 1))
  try? FileManager.default.removeItem(at: run.identityURL)
}

/// Random damage to a checkpoint file (fixed seed): every read either fails with an error
/// naming the file, or returns exactly the data written (the damage hit unused bytes).
@Test func fuzzedCheckpointFilesAreRefusedOrReadExactly() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let good = dir.appendingPathComponent("good.h5")
  let original = findableData()
  try original.write(to: good)
  let bytes = try Data(contentsOf: good)
  let reference = try CheckpointData.read(from: good)
  var rng = RandomState(seed: 99)
  var refused = 0
  var unchanged = 0
  let damaged = dir.appendingPathComponent("damaged.h5")
  for case_ in 0..<300 {
    var copy = bytes
    let flips = 1 + rng.nextInt(below: 4)
    for _ in 0..<flips {
      let at = rng.nextInt(below: copy.count)
      if case_ % 3 == 0 {
        copy[at] = UInt8(truncatingIfNeeded: rng.nextInt(below: 256))  // a random byte
      } else {
        copy[at] ^= UInt8(1 << rng.nextInt(below: 8))  // a bit flip
      }
    }
    try copy.write(to: damaged)
    do {
      let data = try CheckpointData.read(from: damaged)
      #expect(data.isVerified, "case \(case_)")
      #expect(data.tensors.map(\.0) == reference.tensors.map(\.0), "case \(case_)")
      for ((_, a), (_, b)) in zip(data.tensors, reference.tensors) {
        #expect(a.shape == b.shape && a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern))
      }
      #expect(data.integers == reference.integers && data.doubles == reference.doubles)
      #expect(data.attributes == reference.attributes, "case \(case_)")
      unchanged += 1
    } catch let error as CheckpointError {
      #expect(error.file == damaged.path, "case \(case_): \(error)")
      refused += 1
    }
  }
  #expect(refused > 100)
  #expect(refused + unchanged == 300)
  #expect(openHDF5ObjectCount() == 0)
}

@Test func theSameDataGiveTheSameBytes() throws {
  // The file is built in HDF5's memory: no stray bytes of this process may reach it.
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  var data = findableData()
  data.attributes["createdAt"] = .string("2026-12-01T00:00:00Z")
  var sizes: [Data] = []
  for name in ["a.h5", "b.h5"] {
    let url = dir.appendingPathComponent(name)
    try data.write(to: url)
    sizes.append(try Data(contentsOf: url))
    _ = [UInt8](repeating: 0xAB, count: 1 << 20)  // dirty the heap between the writes
  }
  #expect(sizes[0] == sizes[1])
  #expect(try CheckpointData.read(from: dir.appendingPathComponent("b.h5")).isVerified)
}
