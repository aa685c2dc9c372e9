import Distributed
import Foundation
import TensorCore

/// The checks that keep the ranks of a data-parallel job computing one run
/// (docs/distributed.md): the same config and build at start, the same parameters as it
/// goes.
enum RankAgreement {
  /// Refuses to start unless every rank resolved rank 0's config and runs rank 0's build of
  /// `train`. A rank that differs names the differing keys; every rank then stops with an
  /// error, before anything is written.
  static func check(_ config: ExperimentConfig, communicator: Communicator = .world) throws {
    guard communicator.size > 1 else { return }
    var mine = WireWriter()
    mine.write(buildIdentity)
    mine.write(String(decoding: try JSONValue(encoding: config).data(), as: UTF8.self))
    var root = WireReader(communicator.broadcast(mine.bytes))
    let rootBuild = root.readString()
    let rootConfig = try ConfigLoader.decode(configJSON: root.readString(), source: "rank 0")
    var problem: Error? = nil
    if rootBuild != buildIdentity {
      problem = DistributedError(
        "rank \(communicator.rank) runs another build of train than rank 0 (\(buildIdentity) "
          + "against \(rootBuild)); every rank must run the same executable")
    } else {
      let keys = try ConfigLoader.differences(rootConfig, config)
      if !keys.isEmpty {
        problem = ConfigError(
          source: "rank \(communicator.rank)", path: keys.joined(separator: ", "),
          message: "differs from rank 0's config; every rank must run the same config, "
            + "file and --set arguments")
      }
    }
    let disagreeing = communicator.sum([problem == nil ? 0 : 1])[0]
    if let problem { throw problem }
    if disagreeing > 0 {
      throw DistributedError(
        "\(disagreeing) of \(communicator.size) ranks run another config or build than rank 0 "
          + "(their errors name the keys); nothing was written")
    }
  }

  /// Stops the run when the ranks' parameters (and optimizer state) differ at `step`.
  static func checkSameState(
    _ state: TrainingState, step: Int, communicator: Communicator = .world
  ) throws {
    guard communicator.size > 1 else { return }
    var wire = WireWriter()
    wire.write(stateHash(state))
    let hashes = communicator.allGather(wire.bytes).map { bytes in
      var reader = WireReader(bytes)
      return reader.readUInt64()
    }
    let diverged = hashes.indices.filter { hashes[$0] != hashes[0] }
    if !diverged.isEmpty {
      throw DistributedError(
        "the parameters diverged across ranks at step \(step): rank(s) "
          + diverged.map(String.init).joined(separator: ", ") + " differ from rank 0 (hashes "
          + hashes.map { String($0, radix: 16) }.joined(separator: " ")
          + "); the newest checkpoint predates the divergence")
    }
  }

  /// FNV-1a over the names and float bits of every tensor of `state`.
  static func stateHash(_ state: TrainingState) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    func mix(_ word: UInt64) {
      hash = (hash ^ word) &* 0x0000_0100_0000_01b3
    }
    for (name, tensor) in state.tensors {
      for byte in name.utf8 { mix(UInt64(byte)) }
      tensor.withUnsafeBufferPointer { values in
        for v in values { mix(UInt64(v.bitPattern)) }
      }
    }
    return hash
  }

  /// What identifies this build of the executable: its size and a hash of one 8-byte word
  /// from every 4 KiB of it (any rebuild with a code change alters both, almost surely).
  static let buildIdentity: String = {
    let path =
      FileManager.default.fileExists(atPath: "/proc/self/exe")
      ? "/proc/self/exe" : (Bundle.main.executablePath ?? CommandLine.arguments[0])
    guard let data = FileManager.default.contents(atPath: path) else {
      return "\(allotVersion) (executable unreadable)"
    }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    data.withUnsafeBytes { bytes in
      for offset in stride(from: 0, to: bytes.count - 8, by: 4096) {
        hash =
          (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
          &* 0x0000_0100_0000_01b3
      }
    }
    return "\(allotVersion) \(data.count) bytes #\(String(hash, radix: 16))"
  }()
}
