import Foundation

/// The signal that asked for a stop (0: none), written only by the handler below.
private nonisolated(unsafe) var raisedSignal: sig_atomic_t = 0
/// The messages the handler writes, made before it is installed (a handler must not allocate).
private nonisolated(unsafe) var stopMessages: [Int32: UnsafeMutablePointer<CChar>] = [:]
private nonisolated(unsafe) var secondMessage: UnsafeMutablePointer<CChar>? = nil

/// Sets the flag on the first signal; ends the process at once on the second. Only
/// async-signal-safe calls (`write`, `_exit`).
private func stopHandler(_ sig: Int32) {
  if raisedSignal != 0 {
    if let text = secondMessage { _ = write(2, text, strlen(text)) }
    _exit(128 + sig)
  }
  raisedSignal = sig
  if let text = stopMessages[sig] { _ = write(2, text, strlen(text)) }
}

/// SIGINT, SIGTERM and SIGHUP set a flag that the training loop checks after each step, so
/// that a run saves a checkpoint and exits cleanly instead of dying mid-write.
public enum StopSignal {
  /// Whether a stop was requested.
  public static var requested: Bool { raisedSignal != 0 }

  /// Which signal asked for it (for the message and the exit code).
  public static var signalNumber: Int32 { raisedSignal }

  /// Starts catching SIGINT, SIGTERM and SIGHUP (a closed terminal) with one `sigaction`
  /// each, so no signal is lost between ignoring it and handling it (a SIGTERM that came in
  /// that gap was ignored, and the run went on). A second signal ends the process at once.
  public static func install() {
    secondMessage = strdup("\nsecond signal: stopping now without saving\n")
    for sig in [SIGINT, SIGTERM, SIGHUP] {
      stopMessages[sig] = strdup(
        "\nsignal \(sig): finishing this step, saving a checkpoint, then exiting\n")
    }
    var unblock = sigset_t()
    sigemptyset(&unblock)
    for sig in [SIGINT, SIGTERM, SIGHUP] {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = stopHandler
      sigemptyset(&action.sa_mask)
      action.sa_flags = SA_RESTART
      sigaction(sig, &action, nil)
      sigaddset(&unblock, sig)
    }
    // A parent may start `train` with these signals blocked (Foundation's Process does):
    // unblocked here, a signal that came while starting is handled now, not lost.
    pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
  }
}
