import Foundation

/// SIGINT, SIGTERM and SIGHUP set a flag that the training loop checks after each step, so
/// that a run saves a checkpoint and exits cleanly instead of dying mid-write.
public enum StopSignal {
  private nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
  private static let flag = Flag()

  /// Whether a stop was requested.
  public static var requested: Bool { flag.value }

  /// Which signal asked for it (for the message and the exit code).
  public static var signalNumber: Int32 { flag.signal }

  /// Starts catching SIGINT, SIGTERM and SIGHUP (a closed terminal). A second signal ends
  /// the process at once.
  public static func install() {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler {
        if flag.value {
          FileHandle.standardError.write(
            Data("\nsecond signal: stopping now without saving\n".utf8))
          exit(128 + sig)
        }
        flag.set(sig)
        FileHandle.standardError.write(
          Data("\nsignal \(sig): finishing this step, saving a checkpoint, then exiting\n".utf8))
      }
      source.resume()
      sources.append(source)
    }
  }

  final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised: Int32 = 0
    var value: Bool { lock.withLock { raised != 0 } }
    var signal: Int32 { lock.withLock { raised } }
    func set(_ s: Int32) { lock.withLock { raised = s } }
  }
}
