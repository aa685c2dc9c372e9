import CMPI
import Foundation

/// The processes of one data-parallel job and the collective operations the trainers use.
///
/// A program started by `mpirun` (or `srun`) joins the job through MPI; started any other
/// way it is a job of one process and never touches MPI. Every collective gives the same
/// bits on every rank, and the reductions of floating-point values give the same bits for
/// every rank count (see `ShardTree`).
public final class Communicator: @unchecked Sendable {
  /// This process's rank, 0 ..< size.
  public let rank: Int
  /// The number of processes in the job.
  public let size: Int
  /// Whether MPI was initialised (the program runs under an MPI launcher).
  public let usesMPI: Bool

  /// The job this process belongs to.
  public static let world = Communicator()

  /// Whether the environment says an MPI launcher started this process.
  public static var launchedByMPI: Bool {
    let environment = ProcessInfo.processInfo.environment
    return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"].contains {
      environment[$0] != nil
    }
  }

  private init() {
    guard Self.launchedByMPI else {
      rank = 0
      size = 1
      usesMPI = false
      return
    }
    var provided: Int32 = 0
    MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
    MPI_Comm_set_errhandler(allot_mpi_comm_world(), allot_mpi_errors_return())
    var r: Int32 = 0
    var s: Int32 = 0
    MPI_Comm_rank(allot_mpi_comm_world(), &r)
    MPI_Comm_size(allot_mpi_comm_world(), &s)
    rank = Int(r)
    size = Int(s)
    usesMPI = true
  }

  /// Whether this is rank 0, which owns the run directory, the logs and the checkpoints.
  public var isRoot: Bool { rank == 0 }

  /// Ends the job's use of MPI; call once, on every rank, before a normal exit.
  public func finalize() {
    if usesMPI { MPI_Finalize() }
  }

  /// Stops every rank of the job at once (after a rank's unrecoverable error, so no rank
  /// waits for ever in a collective).
  public func abort(code: Int32 = 1) -> Never {
    if usesMPI { MPI_Abort(allot_mpi_comm_world(), code) }
    exit(code)
  }

  /// Waits until every rank has come here.
  public func barrier() {
    guard usesMPI else { return }
    check(MPI_Barrier(allot_mpi_comm_world()), "barrier")
  }

  /// Rank `root`'s bytes, on every rank.
  public func broadcast(_ bytes: [UInt8], from root: Int = 0) -> [UInt8] {
    guard usesMPI else { return bytes }
    var count = Int64(bytes.count)
    check(MPI_Bcast(&count, 1, allot_mpi_int64(), Int32(root), allot_mpi_comm_world()), "broadcast")
    var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
    out.withUnsafeMutableBytes { buffer in
      check(
        MPI_Bcast(
          buffer.baseAddress, Int32(count), allot_mpi_byte(), Int32(root), allot_mpi_comm_world()),
        "broadcast")
    }
    return out
  }

  /// Every rank's bytes (of any length), in rank order, on every rank.
  public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
    guard usesMPI else { return [bytes] }
    var lengths = [Int32](repeating: 0, count: size)
    var mine = Int32(bytes.count)
    check(
      MPI_Allgather(
        &mine, 1, allot_mpi_int32(), &lengths, 1, allot_mpi_int32(), allot_mpi_comm_world()),
      "all-gather")
    var offsets = [Int32](repeating: 0, count: size)
    for r in 1..<max(size, 1) { offsets[r] = offsets[r - 1] + lengths[r - 1] }
    let total = Int(offsets[size - 1] + lengths[size - 1])
    var all = [UInt8](repeating: 0, count: total)
    bytes.withUnsafeBytes { send in
      all.withUnsafeMutableBytes { receive in
        check(
          MPI_Allgatherv(
            send.baseAddress, mine, allot_mpi_byte(), receive.baseAddress, &lengths, &offsets,
            allot_mpi_byte(), allot_mpi_comm_world()), "all-gather")
      }
    }
    return (0..<size).map { r in
      Array(all[Int(offsets[r])..<Int(offsets[r] + lengths[r])])
    }
  }

  /// The element-wise sum of every rank's integers (exact, so order does not matter).
  public func sum(_ values: [Int64]) -> [Int64] {
    guard usesMPI else { return values }
    var out = values
    out.withUnsafeMutableBytes { buffer in
      check(
        MPI_Allreduce(
          allot_mpi_in_place(), buffer.baseAddress, Int32(values.count), allot_mpi_int64(),
          allot_mpi_sum(), allot_mpi_comm_world()), "sum")
    }
    return out
  }

  /// Swaps `values` (a few values) with rank `partner`'s vector of the same length.
  public func exchange(_ values: [Float], with partner: Int) -> [Float] {
    var received = [Float](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { send in
      received.withUnsafeMutableBufferPointer { exchange(send, into: $0, with: partner) }
    }
    return received
  }

  /// Sends `values` to rank `partner` and receives its vector of the same length into
  /// `received`.
  func exchange(
    _ values: UnsafeBufferPointer<Float>, into received: UnsafeMutableBufferPointer<Float>,
    with partner: Int
  ) {
    precondition(
      values.count == received.count && values.count <= Int(Int32.max),
      "Communicator.exchange: \(values.count) values into \(received.count)")
    check(
      MPI_Sendrecv(
        values.baseAddress, Int32(values.count), allot_mpi_float(), Int32(partner), 7,
        received.baseAddress, Int32(values.count), allot_mpi_float(), Int32(partner), 7,
        allot_mpi_comm_world(), allot_mpi_status_ignore()), "exchange")
  }

  private func check(_ code: Int32, _ operation: String) {
    guard code != MPI_SUCCESS else { return }
    var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
    var length: Int32 = 0
    MPI_Error_string(code, &text, &length)
    FileHandle.standardError.write(
      Data(
        "allot: rank \(rank) of \(size): MPI \(operation) failed: \(String(cString: text))\n".utf8))
    abort(code: 1)
  }
}
