import Distributed
import Foundation
import TensorCore

/// A trainer's share of a data-parallel job (docs/distributed.md): every batch is cut into
/// `distributed.shards` pieces by index, this rank computes the pieces it owns, and the
/// pieces' results are combined in one fixed order, so every rank count (a power of two up
/// to the shard count) gives the same bits. With one shard everything runs as in a single
/// process, untouched.
final class DataParallel {
  let communicator: Communicator
  let tree: ShardTree
  /// Since the last `takeCounters()`: time in collective calls and the bytes this rank
  /// sent and received in them; time waiting for slower ranks before them (imbalance).
  private(set) var communicationSeconds = 0.0
  private(set) var communicationBytes = 0
  private(set) var idleSeconds = 0.0
  /// The CPU time this rank spent in those calls and waits (MPI polls while it waits).
  private(set) var communicationCPUSeconds = 0.0
  /// The piece of the partner's gradient being added, reused from step to step.
  private var scratch: [Float] = []

  init(_ config: DistributedConfig, communicator: Communicator = .world) throws {
    do {
      tree = try ShardTree(shards: config.shards, ranks: communicator.size)
    } catch let error as DistributedError {
      throw ConfigError(
        source: "mpirun -np \(communicator.size)", path: "distributed.shards",
        message: "is \(config.shards); \(error.description)")
    }
    self.communicator = communicator
  }

  private init(single communicator: Communicator) {
    self.communicator = communicator
    tree = try! ShardTree(shards: 1, ranks: 1)
  }

  /// One shard: the single-process arithmetic, no communication. Only for trainers that
  /// refuse more than one rank (or a rank count of one).
  static var single: DataParallel { DataParallel(single: .world) }

  var shards: Int { tree.shards }
  /// The shards (and sampling groups) this rank computes.
  var owned: Range<Int> { tree.owned(by: communicator.rank) }

  /// Positions `count` items are cut into for shard `shard`: contiguous, by index.
  func positions(of shard: Int, count: Int) -> Range<Int> {
    (shard * count / shards)..<((shard + 1) * count / shards)
  }

  /// The whole batch's gradient in every parameter's `grad`, and `extras` floats summed the
  /// same way. `accumulate(shard)` adds one shard's gradients to the parameters (cleared
  /// before each shard) and returns its extras. Shards are summed as `ShardTree`'s tree, in
  /// place in the shards' own gradient tensors (a parameter a shard did not reach counts as
  /// zeros there); a parameter no shard reached keeps no gradient, as in a single process.
  func accumulateGradients(
    _ parameters: [Tensor], extras: Int, _ accumulate: (Int) throws -> [Float]
  ) rethrows -> [Float] {
    guard shards > 1 else { return try accumulate(0) }
    // Each owned shard's gradients (nil where it reached no parameter) and its extras
    // after them, then a flag per parameter: 1 where it has a gradient.
    var local: [(grads: [Tensor?], small: [Float])] = []
    for shard in owned {
      for p in parameters { p.grad = nil }
      let extra = try accumulate(shard)
      precondition(extra.count == extras, "DataParallel: \(extra.count) extras for \(extras)")
      let grads = parameters.map { $0.grad }
      local.append((grads, extra + grads.map { $0 == nil ? 0 : 1 }))
    }
    // This rank's subtree, into local[0].
    ShardTree.combine(&local) { a, b in
      for j in a.grads.indices { a.grads[j] = Self.sum(a.grads[j], b.grads[j]) }
      Self.add(&a.small, b.small)
    }
    var (grads, small) = local[0]
    local = []
    waitForAll()
    let bytes = 2 * 4 * (parameters.reduce(0) { $0 + $1.count + 1 } + extras) * exchanges
    communicating(bytes: bytes) {
      for partner in tree.partners(of: communicator.rank) {
        let theirs = communicator.exchange(small, with: partner)
        for (j, p) in parameters.enumerated() where grads[j] != nil || theirs[extras + j] > 0 {
          let mine = grads[j] ?? Tensor.zeros(p.shape)
          mine.withUnsafeMutableBufferPointer {
            tree.exchangeAndAdd(
              $0, with: partner, scratch: &scratch, communicator: communicator,
              piece: Self.exchangePiece)
          }
          grads[j] = mine
        }
        Self.add(&small, theirs)
      }
    }
    for (p, g) in zip(parameters, grads) { p.grad = g }
    return Array(small[..<extras])
  }

  /// `a + b` for gradients where nil means zeros, in `a`'s or `b`'s storage (both are
  /// this step's own tensors): the same bits as adding zero-filled vectors.
  private static func sum(_ a: Tensor?, _ b: Tensor?) -> Tensor? {
    guard let target = a ?? b else { return nil }
    let other = a == nil ? nil : b
    target.withUnsafeMutableBufferPointer { x in
      if let other {
        other.withUnsafeBufferPointer { ShardTree.add(x, $0) }
      } else {
        for i in x.indices { x[i] += 0 }  // as adding a zero vector (−0 becomes +0)
      }
    }
    return target
  }

  private static func add(_ a: inout [Float], _ b: [Float]) {
    a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { ShardTree.add(x, $0) } }
  }

  /// Every rank's bytes, in rank order, so in the order of the pieces they hold.
  func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
    guard shards > 1, communicator.size > 1 else { return [bytes] }
    waitForAll()
    let gathered = communicating(bytes: 0) { communicator.allGather(bytes) }
    communicationBytes += gathered.reduce(0) { $0 + $1.count }
    return gathered
  }

  /// The sampling groups of a step: context positions dealt to `shards` groups so that
  /// each holds about the same expected tokens (`costs`, one per context), largest first
  /// to the lightest group (ties by index). Depends on the costs only, never on the ranks.
  func samplingGroups(costs: [Double]) -> [[Int]] {
    var load = [Double](repeating: 0, count: shards)
    var groups = [[Int]](repeating: [], count: shards)
    let order = costs.indices.sorted { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }
    for position in order {
      let lightest = load.indices.min { load[$0] != load[$1] ? load[$0] < load[$1] : $0 < $1 }!
      groups[lightest].append(position)
      load[lightest] += costs[position]
    }
    return groups.map { $0.sorted() }
  }

  /// The counters since the last call, as `perf/…` metrics, and resets them.
  func takeCounters() -> [String: Double] {
    defer {
      (communicationSeconds, communicationBytes, idleSeconds, communicationCPUSeconds) = (
        0, 0, 0, 0
      )
    }
    guard shards > 1, communicator.size > 1 else { return [:] }
    return [
      "perf/commSeconds": communicationSeconds, "perf/idleSeconds": idleSeconds,
      "perf/commBytes": Double(communicationBytes), "perf/ranks": Double(communicator.size),
      "perf/commCPUSeconds": communicationCPUSeconds,
    ]
  }

  /// Waits for every rank, charging the wait (the imbalance of the work before it) as idle.
  private func waitForAll() {
    let started = DispatchTime.now().uptimeNanoseconds
    let cpu = cpuSeconds()
    communicator.barrier()
    idleSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    communicationCPUSeconds += cpuSeconds() - cpu
  }

  /// Runs a collective, charging its time and `bytes` (sent plus received).
  private func communicating<T>(bytes: Int, _ body: () -> T) -> T {
    let started = DispatchTime.now().uptimeNanoseconds
    let cpu = cpuSeconds()
    let result = body()
    communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    communicationCPUSeconds += cpuSeconds() - cpu
    communicationBytes += bytes
    return result
  }

  /// The values a gradient exchange sends per message: `ALLOT_EXCHANGE_PIECE` when set to
  /// a positive integer (the tests use small pieces to exercise the cut), else 2²⁰ (4 MB).
  static let exchangePiece: Int = {
    let text = ProcessInfo.processInfo.environment["ALLOT_EXCHANGE_PIECE"] ?? ""
    return Int(text).flatMap { $0 > 0 ? $0 : nil } ?? 1 << 20
  }()

  /// Pairwise exchanges of a tree sum: log₂ of the rank count.
  private var exchanges: Int { communicator.size.trailingZeroBitCount }
}

/// CPU time used by this process so far, in seconds.
func cpuSeconds() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
