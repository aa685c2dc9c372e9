/// The reward of a language-model GRPO run as named, weighted components (docs/rewards.md):
/// the total is Σ weight · component, and each component with a weight other than 0 is
/// logged as `reward/<name>`. The defaults give the task's verifier alone, as before.
public struct RewardsConfig: Codable, Equatable, Sendable {
  /// The weight of `correctness`: 1 when the task's verifier accepts the answer, else 0.
  public var correctness = 1.0
  /// The weight of `format`: 1 when the reply has the form asked for (`task.reasoningFormat`,
  /// or else an answer `task.answerFrom` can read), else 0.
  public var format = 0.0
  /// The weight of `overlong`: DAPO's soft over-length penalty, 0 up to
  /// `grpo.maxCompletionLength` − `overlongCache` tokens, then falling linearly to −1 at the
  /// limit (a reply cut at the limit gets −1).
  public var overlong = 0.0
  /// L_cache: the tokens before the length limit over which the penalty grows.
  public var overlongCache = 16
  public var external = ExternalRewardConfig()

  /// The built-in components with their weights, in the order they are computed and logged.
  var builtIn: [(component: BuiltInReward, weight: Double)] {
    [(.correctness, correctness), (.format, format), (.overlong, overlong)]
  }
}

/// The components Allot computes itself; the raw value is the name in `reward/<name>`.
public enum BuiltInReward: String, CaseIterable, Sendable {
  case correctness, format, overlong
}

/// Rewards from a program of the user's (docs/rewards.md): started once per run, it reads
/// one JSON line per completion on stdin and answers one JSON line of named rewards each.
public struct ExternalRewardConfig: Codable, Equatable, Sendable {
  /// The command, run by `/bin/sh -c` from the working directory; "": none.
  public var command = ""
  /// The rewards every answer line must hold; each is a component `reward/<name>`.
  public var names: [String] = []
  /// Their weights, in the order of `names`; empty: 1 each.
  public var weights: [Double] = []
  /// The longest wait, in seconds, for each answer line.
  public var timeoutSeconds = 60.0
}

extension RewardsConfig {
  /// The metric names `reward/<name>` must not take.
  static let reservedNames: Set<String> = [
    "mean", "std", "fracZeroStd", "gap", "successRate", "bestKnownMean",
  ]

  func validate(_ check: inout ConfigCheck, maxCompletionLength: Int) {
    for (component, weight) in builtIn {
      check.require(weight.isFinite, "rewards.\(component.rawValue)", weight, "must be finite")
    }
    if overlong != 0 {
      check.require(
        (1...maxCompletionLength).contains(overlongCache), "rewards.overlongCache", overlongCache,
        "must lie in 1...grpo.maxCompletionLength (\(maxCompletionLength)) when rewards.overlong ≠ 0"
      )
    }
    let e = external
    if e.command.isEmpty {
      check.require(
        e.names.isEmpty, "rewards.external.names", e.names,
        "names rewards of an external command, but rewards.external.command is empty")
      return
    }
    check.require(
      !e.names.isEmpty, "rewards.external.names", "[]",
      "must list the rewards the command rewards.external.command answers (e.g. [\"correct\"])")
    for name in e.names {
      check.require(
        !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" },
        "rewards.external.names", JSONValue.quote(name),
        "each name must be letters, digits or _")
      check.require(
        BuiltInReward(rawValue: name) == nil && !Self.reservedNames.contains(name),
        "rewards.external.names", JSONValue.quote(name),
        "is taken by a built-in component or a reward/ metric; choose another")
    }
    check.require(
      Set(e.names).count == e.names.count, "rewards.external.names", e.names,
      "names must be unique")
    check.require(
      e.weights.isEmpty || e.weights.count == e.names.count, "rewards.external.weights",
      e.weights, "needs one weight per name (\(e.names.count)), or none for 1 each")
    for weight in e.weights {
      check.require(weight.isFinite, "rewards.external.weights", weight, "must be finite")
    }
    check.require(
      e.timeoutSeconds > 0 && e.timeoutSeconds <= 86_400, "rewards.external.timeoutSeconds",
      e.timeoutSeconds, "must lie in (0, 86400]")
  }
}
