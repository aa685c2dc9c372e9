import Foundation

/// A whole experiment: which trainer runs, on what, for how long, and how it saves and
/// logs. Built from the defaults below, then an experiment file, then `--set` overrides;
/// the resolved config is printed at start and saved in the run directory and every
/// checkpoint. Every key is documented in docs/config.md.
public struct ExperimentConfig: Codable, Equatable, Sendable {
  /// The config format this build reads.
  public static let currentSchemaVersion = 1

  /// The config format version; a file with another version is refused.
  public var schemaVersion = ExperimentConfig.currentSchemaVersion
  /// Which trainer runs.
  public var kind = TrainerKind.classifier
  /// What this experiment shows; free text kept with the run.
  public var notes = ""
  public var run = RunConfig()
  public var model = ModelConfig()
  public var task = TaskConfig()
  public var sft = SFTConfig()
  public var grpo = GRPOConfig()
  public var knapsack = KnapsackConfig()
  public var hicra = HICRAConfig()
  public var evaluation = EvaluationConfig()
  public var classifier = ClassifierConfig()
  public var taskAllocation = TaskAllocationConfig()
  public var optimizer = OptimizerConfig()
  public var checkpoint = CheckpointConfig()
  public var logging = LoggingConfig()

  public init() {}
}

/// The trainers Allot has.
public enum TrainerKind: String, ConfigChoice {
  /// Supervised classification with an MLP on a built-in synthetic data set.
  case classifier
  /// Supervised warm start of the transformer policy on a task's worked solutions.
  case sft
  /// Group Relative Policy Optimization of the transformer policy on a task's rewards.
  case grpo
  /// The two-stage task-allocation policy on a scenario, by GRPO or soft actor-critic.
  case taskAllocation
}

/// The two-stage task-allocation policy and its training (`kind: "taskAllocation"`); see
/// docs/task-allocation.md.
public struct TaskAllocationConfig: Codable, Equatable, Sendable {
  /// The scenario file the policy trains on.
  public var scenario = "Experiments/scenarios/almighty.json"
  /// A scenario file that supplies the fields `scenario` leaves out; "" for none.
  public var base = ""
  /// `grpo` (groups of sampled allocations per decision state) or `sac` (the paper's
  /// discrete soft actor-critic, one episode per step).
  public var method = TaskAllocationMethod.grpo
  /// Hidden size H of every block.
  public var hidden = 64
  /// GRPO: sampled episodes of the initial policy whose decisions are the training states
  /// (the "prompts"); a one-step scenario has its single decision.
  public var stateEpisodes = 4
  /// GRPO: leave out of the loss the pre-assignments of entities stage 2 did not pick
  /// (their draws did not shape the payoff, and crediting them only adds noise).
  public var creditPickedOnly = false
  /// A sampled allocation succeeds (for Knapsack-RL and `eval/pass1`) when its payoff is
  /// within this fraction of the best known payoff of its state.
  public var successTolerance = 0.01
  /// Sampled evaluation episodes besides the greedy one.
  public var evaluationEpisodes = 4
  /// SAC: entropy weight α of both stages.
  public var entropyWeight = 0.01
  /// SAC: discount γ of stage 2.
  public var gamma = 0.98
  /// SAC: target networks follow with this weight per update (τ).
  public var tau = 0.005
  /// SAC: stage-1 replay buffer size, minibatch size and the size it must reach first.
  public var replaySize = 1000
  public var replayBatch = 32
  public var replayStart = 100
  /// SAC: the critics' learning rate (the actor's is `optimizer.learningRate`).
  public var criticLearningRate = 1e-3
}

public enum TaskAllocationMethod: String, ConfigChoice {
  case grpo, sac
}

/// The GRPO trainer (`kind: "grpo"`); see docs/grpo.md.
public struct GRPOConfig: Codable, Equatable, Sendable {
  /// A checkpoint (usually an `sft` run's) whose model starts the policy; "" starts from
  /// random weights. Its model settings must equal `model.*`.
  public var initFrom = ""
  /// Prompts per step (M).
  public var promptsPerStep = 16
  /// Completions per prompt (N), the uniform rollout budget; at least 2.
  public var groupSize = 8
  public var advantageScaling = AdvantageScalingChoice.group
  /// Advantages are clipped to ± this.
  public var advantageClip = 5.0
  public var lossAggregation = LossAggregationChoice.tokenMean
  /// The ratio's lower clip is 1 − epsilonLow.
  public var epsilonLow = 0.2
  /// The ratio's upper clip is 1 + epsilonHigh (clip-higher).
  public var epsilonHigh = 0.28
  /// Dual clip constant c (for Â < 0 the per-token loss is capped at −Â·c); 0 turns it off.
  public var dualClip = 0.0
  /// KL weight β against a frozen copy of the starting policy (k3); 0: no reference.
  public var beta = 0.0
  /// Optimizer passes over each batch (μ).
  public var epochs = 1
  /// Completions per gradient-accumulation minibatch; 0: the whole batch at once.
  public var minibatchSize = 0
  /// Sampling temperature (log-probs are taken at the same temperature).
  public var temperature = 1.0
  /// Nucleus sampling threshold; 1 turns it off.
  public var topP = 1.0
  /// Keep the k most likely tokens; 0 turns it off.
  public var topK = 0
  /// The longest completion sampled; longer ones are cut (and counted).
  public var maxCompletionLength = 160
  /// Leave truncated completions out of the loss.
  public var maskTruncated = false
  /// Prompts per logged step whose completions go to completions.jsonl.
  public var completionsLogged = 2
}

/// Knapsack-RL rollout budgets for GRPO (docs/knapsack-rl.md).
public struct KnapsackConfig: Codable, Equatable, Sendable {
  /// Allocate each step's M·N rollouts by Knapsack-RL instead of N per prompt.
  public var enabled = false
  /// The smallest budget of a prompt (N_low).
  public var low = 2
  /// The largest budget of a prompt (N_up).
  public var up = 128
  /// α of N_α(p), the rollouts needed for a non-zero gradient with probability α.
  public var alpha = 0.9
  /// p̂ uses the latest visit when it had at least this many rollouts, else this many
  /// most recent rewards.
  public var window = 16
  /// Prompts with fewer recorded rollouts get exactly N.
  public var minimum = 8
  /// A reward above this counts as a success.
  public var successThreshold = 0.5
  /// Beta prior pseudo-counts (successes, failures) added to p̂; 0, 0 is off.
  public var priorSuccesses = 0.0
  public var priorFailures = 0.0
  /// `exact` (the optimal greedy with Allot's robust fallbacks) or `parity` (the authors'
  /// dynamic program, quirk included, for comparison).
  public var mode = KnapsackMode.exact
}

/// HICRA planning-token credit assignment for GRPO (docs/hicra.md).
public struct HICRAConfig: Codable, Equatable, Sendable {
  /// Amplify the advantages of planning tokens.
  public var enabled = false
  /// Â = A + α·|A| on planning tokens; in [0, 1) so advantages keep their signs.
  public var alpha = 0.2
  /// Strategic-gram phrases given inline.
  public var phrases: [String] = []
  /// A file of phrases, one per line (e.g. from `allot mine`); "" for none.
  public var phrasesFile = ""
  /// Also use the task's built-in planning vocabulary.
  public var useTaskPhrases = true
  /// `paper`: the rule above. Not from the paper: `entropyAugmented` also amplifies
  /// high-entropy tokens of correct, longer-than-average completions; `entropyOnly`
  /// amplifies only those.
  public var variant = HICRAVariant.paper
  /// The per-sequence entropy percentile above which the entropy variants amplify.
  public var entropyPercentile = 0.7
}

public enum HICRAVariant: String, ConfigChoice {
  case paper, entropyAugmented, entropyOnly
}

public enum KnapsackMode: String, ConfigChoice {
  case exact, parity
}

public enum AdvantageScalingChoice: String, ConfigChoice {
  case group, batch, none
}

public enum LossAggregationChoice: String, ConfigChoice {
  case tokenMean, sequenceMeanTokenMean, sequenceMeanTokenSumNorm
}

/// The transformer policy (kinds `sft` and later `grpo`).
public struct ModelConfig: Codable, Equatable, Sendable {
  /// Transformer blocks.
  public var layers = 4
  /// Attention heads per block; must divide `width`.
  public var heads = 4
  /// The residual width.
  public var width = 128
  /// The longest prompt + completion, in tokens.
  public var context = 224
  /// The MLP's hidden width as a multiple of `width`.
  public var mlpRatio = 4
  /// Whether the output head reuses the token embedding.
  public var tiedEmbeddings = true
}

/// The task with verifiable rewards (kinds `sft` and later `grpo`).
public struct TaskConfig: Codable, Equatable, Sendable {
  public var name = TaskName.arithmetic
  /// Seeds the task's prompts; kept apart from `run.seed` so runs with different seeds
  /// see the same data.
  public var seed = 0
  /// Training prompts (built-in tasks).
  public var trainSize = 20000
  /// Test prompts (built-in tasks).
  public var testSize = 500
  /// Arithmetic: the fewest operand digits.
  public var minDigits = 1
  /// Arithmetic: the most operand digits.
  public var maxDigits = 3
  /// Arithmetic: the operations drawn from.
  public var operations = [ArithmeticOperation.add, .subtract, .multiply]
  /// Countdown: the fewest given numbers.
  public var minNumbers = 3
  /// Countdown: the most given numbers.
  public var maxNumbers = 4
  /// JSONL: the data file.
  public var path = ""
  /// JSONL: how answers are checked.
  public var verifier = VerifierChoice.exact
  /// JSONL, numeric verifier: the largest accepted difference.
  public var tolerance = 1e-6
  /// JSONL: the share of lines without a split that go to test.
  public var testFraction = 0.1
}

public enum TaskName: String, ConfigChoice {
  case arithmetic, countdown, jsonl
}

public enum ArithmeticOperation: String, ConfigChoice {
  case add = "+"
  case subtract = "-"
  case multiply = "*"
}

public enum VerifierChoice: String, ConfigChoice {
  case exact, numeric, regex
}

/// The supervised warm start (`kind: "sft"`).
public struct SFTConfig: Codable, Equatable, Sendable {
  /// Worked solutions per optimizer step.
  public var batchSize = 32
}

/// How the transformer policy is evaluated on the test split.
public struct EvaluationConfig: Codable, Equatable, Sendable {
  /// Test prompts used by the periodic evaluation (greedy pass@1); 0 uses all.
  public var prompts = 200
  /// Samples per prompt for mean@k and pass@k in `allot evaluate`.
  public var samples = 4
  /// Sampling temperature for mean@k and pass@k.
  public var temperature = 1.0
  /// The longest completion generated.
  public var maxNewTokens = 200
}

/// What the run is called, its seed and its length.
public struct RunConfig: Codable, Equatable, Sendable {
  /// The experiment's name: the first part of the run directory's name.
  public var name = "quickstart"
  /// The seed of every random stream in the run.
  public var seed = 0
  /// Optimizer steps to train for.
  public var steps = 1500
  /// The folder run directories are created in.
  public var outputDir = "Checkpoints"
  /// OpenBLAS threads.
  public var blasThreads = 1
}

/// The classifier trainer's network and data (`kind: "classifier"`).
public struct ClassifierConfig: Codable, Equatable, Sendable {
  /// Hidden layer widths of the MLP, input to output.
  public var hidden = [64, 64]
  /// The nonlinearity between layers.
  public var activation = ActivationChoice.relu
  /// The synthetic data set.
  public var dataset = DatasetName.spirals
  /// The number of classes (spiral arms or blobs; XOR always has 2).
  public var classes = 3
  /// Training examples, drawn once from the run's seed.
  public var trainSize = 3000
  /// Held-out examples for evaluation.
  public var testSize = 600
  /// Standard deviation of the Gaussian noise added to each point.
  public var noise = 0.08
  /// Examples per optimizer step.
  public var batchSize = 128
}

/// The nonlinearity between MLP layers.
public enum ActivationChoice: String, ConfigChoice {
  case relu, gelu, tanh, sigmoid
}

/// Built-in synthetic data sets.
public enum DatasetName: String, ConfigChoice {
  /// Interleaved spiral arms in the plane, one per class.
  case spirals
  /// Gaussian blobs around points on a circle, one per class.
  case blobs
  /// The four XOR corners with noise; two classes.
  case xor
}

/// The optimizer and its learning-rate schedule.
public struct OptimizerConfig: Codable, Equatable, Sendable {
  public var kind = OptimizerKind.adamw
  /// The learning rate before the schedule.
  public var learningRate = 0.01
  /// Adam's first-moment decay.
  public var beta1 = 0.9
  /// Adam's second-moment decay.
  public var beta2 = 0.999
  /// Adam's denominator constant.
  public var eps = 1e-8
  /// Weight decay: decoupled for AdamW, L2 added to the gradient for Adam and SGD.
  public var weightDecay = 0.0
  /// SGD momentum (ignored by Adam).
  public var momentum = 0.9
  /// How the learning rate changes over the run.
  public var schedule = ScheduleKind.cosine
  /// Linear warm-up steps (for `linearWarmup` and `cosine`).
  public var warmupSteps = 50
  /// The cosine schedule's final fraction of the learning rate.
  public var minLearningRateFactor = 0.05
  /// Global gradient-norm clip; 0 turns clipping off.
  public var gradClip = 1.0
}

public enum OptimizerKind: String, ConfigChoice {
  case sgd, adam, adamw
}

public enum ScheduleKind: String, ConfigChoice {
  case constant, linearWarmup, cosine
}

/// When checkpoints are written and how many are kept.
public struct CheckpointConfig: Codable, Equatable, Sendable {
  /// Save every this many steps (and always at the end); 0 saves only at the end.
  public var every = 500
  /// Keep the newest this many checkpoints in the run directory.
  public var keep = 3
}

/// What is logged and how often.
public struct LoggingConfig: Codable, Equatable, Sendable {
  /// Write a metrics line every this many steps.
  public var every = 25
  /// Evaluate on the test split every this many steps (and at the end); 0: only at the end.
  public var evalEvery = 250
  /// Plain log lines instead of a progress bar, even on a terminal.
  public var quiet = false
}

extension ExperimentConfig {
  /// Checks ranges and combinations that types alone do not.
  public func validate(source: String) throws {
    var errors: [ConfigError] = []
    func check(_ ok: Bool, _ path: String, _ value: Any, _ allowed: String) {
      if !ok {
        errors.append(ConfigError(source: source, path: path, message: "is \(value); \(allowed)"))
      }
    }
    check(
      schemaVersion == Self.currentSchemaVersion, "schemaVersion", schemaVersion,
      "this build reads version \(Self.currentSchemaVersion)")
    check(
      !run.name.isEmpty && run.name.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        && !run.name.contains("__"),
      "run.name", JSONValue.quote(run.name),
      "use letters, digits, '-', '_' and '.', without '__' (it names directories)")
    check(run.seed >= 0, "run.seed", run.seed, "must be ≥ 0")
    check(run.steps >= 1, "run.steps", run.steps, "must be ≥ 1")
    check(!run.outputDir.isEmpty, "run.outputDir", "\"\"", "must name a folder")
    check(run.blasThreads >= 1, "run.blasThreads", run.blasThreads, "must be ≥ 1")
    // Sections are checked only for the trainer that reads them.
    if kind == .classifier {
      let c = classifier
      check(
        c.hidden.allSatisfy { $0 >= 1 }, "classifier.hidden", c.hidden, "every width must be ≥ 1")
      check(c.classes >= 2, "classifier.classes", c.classes, "must be ≥ 2")
      check(
        c.dataset != .xor || c.classes == 2, "classifier.classes", c.classes,
        "the xor data set has exactly 2 classes")
      check(c.trainSize >= 1, "classifier.trainSize", c.trainSize, "must be ≥ 1")
      check(c.testSize >= 1, "classifier.testSize", c.testSize, "must be ≥ 1")
      check(c.noise >= 0, "classifier.noise", c.noise, "must be ≥ 0")
      check(
        c.batchSize >= 1 && c.batchSize <= c.trainSize, "classifier.batchSize", c.batchSize,
        "must lie in 1...classifier.trainSize (\(c.trainSize))")
    }
    if kind == .sft || kind == .grpo {
      check(model.layers >= 1, "model.layers", model.layers, "must be ≥ 1")
      check(
        model.heads >= 1 && model.width % max(model.heads, 1) == 0, "model.heads", model.heads,
        "must be ≥ 1 and divide model.width (\(model.width))")
      check(model.width >= 1, "model.width", model.width, "must be ≥ 1")
      check(model.context >= 8, "model.context", model.context, "must be ≥ 8")
      check(model.mlpRatio >= 1, "model.mlpRatio", model.mlpRatio, "must be ≥ 1")
      check(task.trainSize >= 1, "task.trainSize", task.trainSize, "must be ≥ 1")
      check(task.testSize >= 1, "task.testSize", task.testSize, "must be ≥ 1")
      check(task.seed >= 0, "task.seed", task.seed, "must be ≥ 0")
      check(
        1 <= task.minDigits && task.minDigits <= task.maxDigits && task.maxDigits <= 9,
        "task.maxDigits",
        task.maxDigits, "needs 1 ≤ task.minDigits (\(task.minDigits)) ≤ task.maxDigits ≤ 9")
      check(
        !task.operations.isEmpty, "task.operations", "[]",
        "needs at least one of \"+\", \"-\", \"*\"")
      check(
        2 <= task.minNumbers && task.minNumbers <= task.maxNumbers && task.maxNumbers <= 6,
        "task.maxNumbers",
        task.maxNumbers, "needs 2 ≤ task.minNumbers (\(task.minNumbers)) ≤ task.maxNumbers ≤ 6")
      check(
        task.name != .jsonl || !task.path.isEmpty, "task.path", "\"\"",
        "the jsonl task needs a data file")
      check(task.tolerance >= 0, "task.tolerance", task.tolerance, "must be ≥ 0")
      check(
        (0...1).contains(task.testFraction), "task.testFraction", task.testFraction,
        "must lie in [0, 1]")
      check(sft.batchSize >= 1, "sft.batchSize", sft.batchSize, "must be ≥ 1")
    }
    let usesGRPO = kind == .grpo || (kind == .taskAllocation && taskAllocation.method == .grpo)
    if kind == .taskAllocation {
      let t = taskAllocation
      check(!t.scenario.isEmpty, "taskAllocation.scenario", "\"\"", "must name a scenario file")
      check(t.hidden >= 1, "taskAllocation.hidden", t.hidden, "must be ≥ 1")
      check(t.stateEpisodes >= 1, "taskAllocation.stateEpisodes", t.stateEpisodes, "must be ≥ 1")
      check(
        (0..<1).contains(t.successTolerance), "taskAllocation.successTolerance",
        t.successTolerance, "must lie in [0, 1)")
      check(
        t.evaluationEpisodes >= 0, "taskAllocation.evaluationEpisodes", t.evaluationEpisodes,
        "must be ≥ 0")
      check(t.entropyWeight >= 0, "taskAllocation.entropyWeight", t.entropyWeight, "must be ≥ 0")
      check((0...1).contains(t.gamma), "taskAllocation.gamma", t.gamma, "must lie in [0, 1]")
      check(t.tau > 0 && t.tau <= 1, "taskAllocation.tau", t.tau, "must lie in (0, 1]")
      check(t.replayBatch >= 1, "taskAllocation.replayBatch", t.replayBatch, "must be ≥ 1")
      check(
        t.replaySize >= t.replayBatch, "taskAllocation.replaySize", t.replaySize,
        "must be ≥ taskAllocation.replayBatch (\(t.replayBatch))")
      check(
        t.replayStart >= t.replayBatch && t.replayStart <= t.replaySize,
        "taskAllocation.replayStart", t.replayStart,
        "must lie in taskAllocation.replayBatch...taskAllocation.replaySize (\(t.replayBatch)...\(t.replaySize))"
      )
      check(
        t.criticLearningRate > 0, "taskAllocation.criticLearningRate", t.criticLearningRate,
        "must be > 0")
    }
    if usesGRPO && hicra.enabled {
      check(
        (0..<1).contains(hicra.alpha), "hicra.alpha", hicra.alpha,
        "must lie in [0, 1) so advantages keep their signs")
      check(
        (0...1).contains(hicra.entropyPercentile), "hicra.entropyPercentile",
        hicra.entropyPercentile, "must lie in [0, 1]")
      check(
        kind == .taskAllocation || !hicra.phrasesFile.isEmpty || !hicra.phrases.isEmpty
          || hicra.useTaskPhrases || hicra.variant == .entropyOnly,
        "hicra.phrases", "[]",
        "name planning phrases (hicra.phrases, hicra.phrasesFile or hicra.useTaskPhrases)")
    }
    if usesGRPO && knapsack.enabled {
      let k = knapsack
      check(
        k.low >= 2, "knapsack.low", k.low, "must be ≥ 2 (a group of one has no standard deviation)")
      check(k.up >= k.low, "knapsack.up", k.up, "must be ≥ knapsack.low (\(k.low))")
      check(
        grpo.groupSize >= k.low && grpo.groupSize <= k.up, "grpo.groupSize", grpo.groupSize,
        "must lie in knapsack.low...knapsack.up (\(k.low)...\(k.up)) so that M·N can be shared out")
      check(k.alpha > 0 && k.alpha < 1, "knapsack.alpha", k.alpha, "must lie in (0, 1)")
      check(k.minimum >= 1, "knapsack.minimum", k.minimum, "must be ≥ 1")
      check(
        k.window >= k.minimum, "knapsack.window", k.window,
        "must be ≥ knapsack.minimum (\(k.minimum))")
      check(k.priorSuccesses >= 0, "knapsack.priorSuccesses", k.priorSuccesses, "must be ≥ 0")
      check(k.priorFailures >= 0, "knapsack.priorFailures", k.priorFailures, "must be ≥ 0")
    }
    if usesGRPO {
      check(grpo.promptsPerStep >= 1, "grpo.promptsPerStep", grpo.promptsPerStep, "must be ≥ 1")
      check(
        grpo.groupSize >= 2, "grpo.groupSize", grpo.groupSize,
        "must be ≥ 2 (a group of one has no standard deviation)")
      check(grpo.advantageClip > 0, "grpo.advantageClip", grpo.advantageClip, "must be > 0")
      check(
        (0..<1).contains(grpo.epsilonLow), "grpo.epsilonLow", grpo.epsilonLow, "must lie in [0, 1)")
      check(grpo.epsilonHigh >= 0, "grpo.epsilonHigh", grpo.epsilonHigh, "must be ≥ 0")
      check(
        grpo.dualClip == 0 || grpo.dualClip > 1, "grpo.dualClip", grpo.dualClip,
        "must be 0 (off) or > 1")
      check(grpo.beta >= 0, "grpo.beta", grpo.beta, "must be ≥ 0")
      check(grpo.epochs >= 1, "grpo.epochs", grpo.epochs, "must be ≥ 1")
      check(
        grpo.minibatchSize >= 0 && grpo.minibatchSize <= grpo.promptsPerStep * grpo.groupSize,
        "grpo.minibatchSize",
        grpo.minibatchSize,
        "must lie in 0...grpo.promptsPerStep × grpo.groupSize (\(grpo.promptsPerStep * grpo.groupSize)); 0 takes the whole batch"
      )
      check(grpo.temperature > 0, "grpo.temperature", grpo.temperature, "must be > 0")
    }
    if kind == .grpo {
      check(grpo.topP > 0 && grpo.topP <= 1, "grpo.topP", grpo.topP, "must lie in (0, 1]")
      check(grpo.topK >= 0, "grpo.topK", grpo.topK, "must be ≥ 0 (0: off)")
      check(
        grpo.maxCompletionLength >= 1 && grpo.maxCompletionLength < model.context,
        "grpo.maxCompletionLength",
        grpo.maxCompletionLength, "must lie in 1..<model.context (\(model.context))")
      check(
        grpo.completionsLogged >= 0, "grpo.completionsLogged", grpo.completionsLogged, "must be ≥ 0"
      )
      check(
        evaluation.prompts >= 0, "evaluation.prompts", evaluation.prompts, "must be ≥ 0 (0: all)")
      check(evaluation.samples >= 1, "evaluation.samples", evaluation.samples, "must be ≥ 1")
      check(
        evaluation.temperature > 0, "evaluation.temperature", evaluation.temperature, "must be > 0")
      check(
        evaluation.maxNewTokens >= 1 && evaluation.maxNewTokens < model.context,
        "evaluation.maxNewTokens",
        evaluation.maxNewTokens, "must lie in 1..<model.context (\(model.context))")
    }
    check(
      optimizer.learningRate > 0, "optimizer.learningRate", optimizer.learningRate, "must be > 0")
    check(
      (0..<1).contains(optimizer.beta1), "optimizer.beta1", optimizer.beta1, "must lie in [0, 1)")
    check(
      (0..<1).contains(optimizer.beta2), "optimizer.beta2", optimizer.beta2, "must lie in [0, 1)")
    check(optimizer.eps > 0, "optimizer.eps", optimizer.eps, "must be > 0")
    check(optimizer.weightDecay >= 0, "optimizer.weightDecay", optimizer.weightDecay, "must be ≥ 0")
    check(
      (0..<1).contains(optimizer.momentum), "optimizer.momentum", optimizer.momentum,
      "must lie in [0, 1)")
    check(optimizer.warmupSteps >= 0, "optimizer.warmupSteps", optimizer.warmupSteps, "must be ≥ 0")
    check(
      (0...1).contains(optimizer.minLearningRateFactor), "optimizer.minLearningRateFactor",
      optimizer.minLearningRateFactor, "must lie in [0, 1]")
    check(optimizer.gradClip >= 0, "optimizer.gradClip", optimizer.gradClip, "must be ≥ 0 (0: off)")
    check(
      checkpoint.every >= 0, "checkpoint.every", checkpoint.every,
      "must be ≥ 0 (0: only at the end)")
    check(checkpoint.keep >= 1, "checkpoint.keep", checkpoint.keep, "must be ≥ 1")
    check(logging.every >= 1, "logging.every", logging.every, "must be ≥ 1")
    check(
      logging.evalEvery >= 0, "logging.evalEvery", logging.evalEvery,
      "must be ≥ 0 (0: only at the end)")
    if !errors.isEmpty { throw ConfigErrors(errors: errors) }
  }
}
