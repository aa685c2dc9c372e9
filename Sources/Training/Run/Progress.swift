import Foundation

/// Reports training progress: a one-line progress bar with step, ETA and key metrics on a
/// terminal, or plain log lines every `logging.every` steps otherwise (or with --quiet).
public final class ProgressReporter {
  let totalSteps: Int
  let interactive: Bool
  let keys: [String]
  let startStep: Int
  let start = Date()
  private var lastDraw = Date.distantPast
  /// The latest value of each shown key (evaluations happen only every so often).
  private var latest: [String: Double] = [:]

  /// `keys` are the metrics shown on each line, in order.
  public init(totalSteps: Int, startStep: Int, quiet: Bool, keys: [String]) {
    self.totalSteps = totalSteps
    self.startStep = startStep
    self.keys = keys
    interactive = !quiet && isatty(STDERR_FILENO) != 0
  }

  /// Called after every step; `logged` says whether this step wrote a metrics line.
  public func update(step: Int, metrics: [String: Double], logged: Bool) {
    let elapsed = Date().timeIntervalSince(start)
    let done = step - startStep
    let eta = done > 0 ? elapsed / Double(done) * Double(totalSteps - step) : 0
    for k in keys { if let v = metrics[k] { latest[k] = v } }
    let shown = keys.compactMap { k in latest[k].map { "\(k) \(String(format: "%.4g", $0))" } }
      .joined(separator: "  ")
    if interactive {
      guard Date().timeIntervalSince(lastDraw) > 0.1 || step == totalSteps else { return }
      lastDraw = Date()
      let width = 24
      let filled = totalSteps > 0 ? width * step / totalSteps : width
      let bar =
        String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
      let line = "\r\u{1B}[2K\(bar) \(step)/\(totalSteps)  ETA \(formatDuration(eta))  \(shown)"
      FileHandle.standardError.write(Data(line.utf8))
      if step == totalSteps { FileHandle.standardError.write(Data("\n".utf8)) }
    } else if logged {
      print("step \(step)/\(totalSteps)  \(shown)  (\(formatDuration(elapsed)) elapsed)")
      fflush(nil)
    }
  }

  /// A line that should not be overwritten by the bar (evaluations, checkpoints).
  public func note(_ text: String) {
    if interactive { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    print(text)
    fflush(nil)
  }
}

func formatDuration(_ seconds: Double) -> String {
  let s = Int(seconds.rounded())
  return s >= 3600
    ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    : String(format: "%d:%02d", s / 60, s % 60)
}
