import Checkpoint
import Foundation
import TensorCore
import Testing

/// h5dump from the hdf5-tools package, if installed.
private let h5dump = ["/usr/bin/h5dump", "/usr/local/bin/h5dump"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

/// Runs h5dump with `arguments`; its exit status and standard output.
private func runH5dump(_ arguments: [String]) throws -> (Int32, String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: h5dump!)
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = FileHandle.nullDevice
  try process.run()
  let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  return (process.terminationStatus, output)
}

@Test(
  .enabled(if: h5dump != nil, "h5dump not found: install hdf5-tools (bash .ci/setup does)"))
func filesAreReadableByH5dump() throws {
  let folder = try scratchDirectory()
  defer { removeScratch(folder) }
  let url = folder.appendingPathComponent("dump.h5")
  var data = sampleData()
  data.tensors.append(("model/blocks.0.attn.wq.weight", Tensor([7, 8], shape: [1, 2])))
  try data.write(to: url)

  // Dotted parameter names are single datasets, not nested groups.
  let (listStatus, listing) = try runH5dump(["-n", url.path])
  #expect(listStatus == 0)
  for line in [
    " group      /model", " dataset    /model/blocks.0.attn.wq.weight",
    " dataset    /optimizer/layers.0.weight/m", " group      /trainer/history",
    " dataset    /trainer/history/rewards", " dataset    /rng/words",
  ] {
    #expect(listing.contains(line + "\n"), "\(line)")
  }
  #expect(!listing.contains("/model/blocks\n"))

  let (status, output) = try runH5dump([
    "-d", "/model/layers.0.weight", "-d", "/rng/words", "-a", "/step", "-a", "/config", url.path,
  ])
  #expect(status == 0)
  #expect(output.contains("DATASET \"/model/layers.0.weight\""))
  #expect(output.contains("H5T_IEEE_F32LE"))
  #expect(output.contains("DATASPACE  SIMPLE { ( 2, 3 ) / ( 2, 3 ) }"))
  #expect(output.contains("(0,0): 1, 2, 3,"))
  #expect(output.contains("(1,0): 4, 5, 6"))
  #expect(output.contains("H5T_STD_U64LE"))
  #expect(output.contains("(0): 0, 1, 18446744073709551615, 9223372036854775808"))
  #expect(output.contains("(0): 42"))
  #expect(output.contains("CSET H5T_CSET_UTF8"))
}
