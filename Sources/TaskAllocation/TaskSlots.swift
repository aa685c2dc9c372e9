/// The task side every time-stepped environment shares: `taskSlots` slots filled from the
/// queue at step 0 and whenever `step % refillEvery == 0`; a slot whose task has gone
/// `decayAfterStale` steps without completing has its reward and requirement multiplied
/// by `decay` every further step; totals of what completed.
public struct TaskSlots: Sendable {
  public let scenario: Scenario
  public private(set) var slots: [TaskSpec?]
  public private(set) var stale: [Int]
  public private(set) var queueCursor = 0
  public private(set) var totalReturn = 0.0
  public private(set) var totalReward = 0.0
  public private(set) var completed = 0

  init(_ scenario: Scenario) {
    self.scenario = scenario
    slots = [TaskSpec?](repeating: nil, count: scenario.taskSlots)
    stale = [Int](repeating: 0, count: scenario.taskSlots)
    refill(at: 0)
  }

  /// Whether the queue is exhausted and every slot done.
  var exhausted: Bool { queueCursor >= scenario.tasks.count && slots.allSatisfy { $0 == nil } }

  mutating func refill(at step: Int) {
    guard scenario.refillEvery > 0, step % scenario.refillEvery == 0 else { return }
    for s in slots.indices where slots[s] == nil && queueCursor < scenario.tasks.count {
      slots[s] = scenario.tasks[queueCursor]
      stale[s] = 0
      queueCursor += 1
    }
  }

  /// Records slot `s`'s task as completed with `payoff` and empties the slot.
  mutating func complete(_ s: Int, payoff: Double) {
    totalReturn += payoff
    totalReward += slots[s]!.reward
    completed += 1
    slots[s] = nil
  }

  /// One more step without completion for slot `s`, decaying it once stale.
  mutating func age(_ s: Int) {
    stale[s] += 1
    if scenario.decayAfterStale > 0 && stale[s] > scenario.decayAfterStale {
      slots[s]!.reward *= scenario.decay
      slots[s]!.requirement = slots[s]!.requirement.map { $0 * scenario.decay }
    }
  }

  /// The decision's task list (empty slots as zero tasks) and which are open: active and
  /// not yet allocated.
  func decisionTasks(allocated: [Int?]) -> (tasks: [TaskSpec], open: [Bool]) {
    let taken = Set(allocated.compactMap { $0 })
    let zero = TaskSpec(reward: 0, requirement: [Double](repeating: 0, count: scenario.dimensions))
    return (slots.map { $0 ?? zero }, slots.indices.map { slots[$0] != nil && !taken.contains($0) })
  }
}
