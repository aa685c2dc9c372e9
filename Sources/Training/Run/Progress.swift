import Foundation

/// Reports training progress: a one-line progress bar on a terminal, or plain log lines
/// every `logging.every` steps otherwise (or with --quiet). Each shows the step, percentage,
/// rate, elapsed time and ETA, then the trainer's key metrics; a value not from this step
/// (an evaluation's) is marked with the step it is from, `eval/return 35 @150`.
public final class ProgressReporter {
  let totalSteps: Int
  let interactive: Bool
  let keys: [String]
  let startStep: Int
  let start = Date()
  private var lastDraw = Date.distantPast
  /// The latest value of each shown key and its step (evaluations happen only so often).
  private var latest: [String: (value: Double, step: Int)] = [:]

  /// `keys` are the metrics shown on each line, in order.
  public init(totalSteps: Int, startStep: Int, quiet: Bool, keys: [String]) {
    self.totalSteps = totalSteps
    self.startStep = startStep
    self.keys = keys
    interactive = !quiet && isatty(STDERR_FILENO) != 0
  }

  /// Keeps the shown keys of `metrics`, measured at `step`, without drawing.
  public func remember(step: Int, metrics: [String: Double]) {
    for k in keys { if let v = metrics[k] { latest[k] = (v, step) } }
  }

  /// The line for `step` after keeping its metrics: timing, then the shown keys.
  func line(step: Int, metrics: [String: Double]) -> String {
    remember(step: step, metrics: metrics)
    let shown = keys.compactMap { key in
      latest[key].map {
        "\(key) \(String(format: "%.4g", $0.value))" + ($0.step == step ? "" : " @\($0.step)")
      }
    }
    return ([timing(step)] + shown).joined(separator: "  ")
  }

  /// Called after every step; `logged` says whether this step wrote a metrics line.
  public func update(step: Int, metrics: [String: Double], logged: Bool) {
    let text = line(step: step, metrics: metrics)
    if interactive {
      guard Date().timeIntervalSince(lastDraw) > 0.1 || step == totalSteps else { return }
      lastDraw = Date()
      let width = 12
      let filled = totalSteps > 0 ? width * step / totalSteps : width
      let bar =
        String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
      // Cut to the terminal's width: a wrapped line could not be redrawn in place.
      let fitted = String("\(bar) \(text)".prefix(max(terminalColumns() - 1, 20)))
      FileHandle.standardError.write(Data("\r\u{1B}[2K\(fitted)".utf8))
      if step == totalSteps { FileHandle.standardError.write(Data("\n".utf8)) }
    } else if logged {
      print("step \(text)")
      fflush(nil)
    }
  }

  /// `150/300 50%  2.1 steps/s  elapsed 1:11  ETA 1:11`.
  func timing(_ step: Int) -> String {
    let elapsed = Date().timeIntervalSince(start)
    let done = step - startStep
    let eta = done > 0 ? elapsed / Double(done) * Double(totalSteps - step) : 0
    let percent = totalSteps > 0 ? 100 * step / totalSteps : 100
    let rate = Double(done) / max(elapsed, 1e-9)
    let speed =
      done == 0
      ? ""
      : rate >= 1
        ? String(format: "%.3g steps/s  ", rate) : String(format: "%.3g s/step  ", 1 / rate)
    return "\(step)/\(totalSteps) \(percent)%  \(speed)elapsed \(formatDuration(elapsed))  ETA "
      + formatDuration(eta)
  }

  /// A line that should not be overwritten by the bar (evaluations, checkpoints).
  public func note(_ text: String) {
    if interactive { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    print(text)
    fflush(nil)
  }
}

/// The columns of the terminal on stderr; 80 when it does not say.
func terminalColumns() -> Int {
  var size = winsize()
  return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0
    ? Int(size.ws_col) : 80
}

func formatDuration(_ seconds: Double) -> String {
  let s = Int(seconds.rounded())
  return s >= 3600
    ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    : String(format: "%d:%02d", s / 60, s % 60)
}
