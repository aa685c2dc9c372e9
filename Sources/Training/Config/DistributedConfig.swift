/// How a run is cut up for data-parallel training over MPI (docs/distributed.md).
public struct DistributedConfig: Codable, Equatable, Sendable {
  /// The fixed pieces of every batch, by index: sampling groups and gradient shards. A
  /// power of two; a job may have any power-of-two number of ranks up to it, and every such
  /// rank count gives the same bits. 1 keeps the single-process arithmetic of earlier
  /// versions (and allows only one rank).
  public var shards = 1
  /// Compare a hash of the parameters across ranks every this many steps (0: never); a
  /// difference stops the run.
  public var checkEvery = 50
}

extension DistributedConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(
      shards >= 1 && shards <= 1024 && shards & (shards - 1) == 0, "distributed.shards", shards,
      "must be a power of two from 1 to 1024")
    check.require(checkEvery >= 0, "distributed.checkEvery", checkEvery, "must be ≥ 0 (0: never)")
  }
}
