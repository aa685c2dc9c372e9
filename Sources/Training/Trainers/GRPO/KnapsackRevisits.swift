extension GRPOTrainer {
  /// A startup warning when Knapsack-RL is on but a run of `steps` steps never draws a
  /// training context twice: the success-rate estimates it allocates from come from earlier
  /// visits, so every budget would stay the uniform N. Nil when contexts are revisited (or
  /// Knapsack-RL is off).
  public func knapsackRevisitWarning(steps: Int) -> String? {
    guard options.knapsack != nil else { return nil }
    let contexts = task.contexts.count
    let drawsPerStep = options.promptsPerStep * (options.dynamicSampling?.maxDraws ?? 1)
    let draws = steps * drawsPerStep
    guard draws <= contexts else { return nil }
    let perStep =
      options.dynamicSampling == nil
      ? "\(options.promptsPerStep) per step"
      : "at most \(drawsPerStep) per step with dynamic sampling"
    return "warning: knapsack.enabled, but this run's \(draws) prompt draws (\(steps) steps, "
      + "\(perStep)) do not exceed its \(contexts) training prompts, so no prompt is drawn twice: "
      + "Knapsack-RL estimates a prompt's success rate from its earlier visits, and without "
      + "one every budget stays the uniform \(options.groupSize) (grpo.groupSize). Use fewer "
      + "training prompts, more steps or more prompts per step (docs/knapsack-rl.md)."
  }
}
