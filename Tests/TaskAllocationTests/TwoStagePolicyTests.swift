import NN
import TensorCore
import TestSupport
import Testing

@testable import TaskAllocation

/// A random decision with some entities busy and one task closed.
private func partlyAvailableProblem(seed: UInt64 = 3, dimensions: Int = 3) -> AllocationProblem {
  var problem = Scenario.random(entities: 12, tasks: 5, dimensions: dimensions, seed: seed)
    .firstDecision
  problem.entityAvailable = problem.entities.indices.map { $0 % 4 != 1 }
  problem.taskAvailable = problem.tasks.indices.map { $0 != 2 }
  return problem
}

private func policy(seed: UInt64 = 1, hidden: Int = 16) -> TwoStagePolicy {
  var rng = RandomState(seed: seed)
  return TwoStagePolicy(hidden: hidden, rng: &rng)
}

@Test func sampledLogProbsEqualScoredLogProbs() {
  let net = policy()
  let f = ProblemFeatures(partlyAvailableProblem())
  var rng = RandomState(seed: 5)
  let samples = net.sample(f, count: 6, rng: &rng)
  let scored = net.logProbabilities(f, samples: samples)
  let width = scored.shape[1]
  for (s, sample) in samples.enumerated() {
    let row = Array(scored.scalars[(s * width)..<(s * width + sample.length)])
    #expect(isClose(row, sample.logProbs, atol: 1e-5, rtol: 0), "sample \(s)")
    #expect(scored.scalars[(s * width + sample.length)..<((s + 1) * width)].allSatisfy { $0 == 0 })
  }
  #expect(samples.contains { !$0.selections.isEmpty })
}

@Test func samplesRespectMasksAndKeepCandidateSetsDisjoint() {
  let problem = partlyAvailableProblem()
  let f = ProblemFeatures(problem)
  #expect(f.entities == problem.entities.indices.filter { $0 % 4 != 1 })
  #expect(f.tasks == [0, 1, 3, 4])
  let net = policy()
  var rng = RandomState(seed: 9)
  for sample in net.sample(f, count: 40, rng: &rng) {
    #expect(problem.isFeasible(sample.allocation))
    for (i, t) in sample.allocation.assignment.enumerated() where t != nil {
      #expect(problem.entityAvailable[i] && problem.taskAvailable[t!])
    }
    // Every pick comes from its own task's candidates, and no entity is picked twice.
    var picked = Set<Int>()
    for step in sample.selections {
      let c = step.eligible[step.chosen]
      #expect(sample.preAssignment[c] == step.task)
      #expect(picked.insert(c).inserted)
    }
    // Declined tasks: whatever is kept pays.
    for t in sample.allocation.completedTasks {
      let members = sample.allocation.assignment.indices.filter {
        sample.allocation.assignment[$0] == t
      }
      #expect(problem.tasks[t].reward - members.reduce(0) { $0 + problem.cost($1, t) } > 0)
    }
    #expect(sample.payoff == problem.payoff(sample.allocation))
  }
}

@Test func preAssignmentIsPermutationEquivariant() {
  let problem = Scenario.random(entities: 9, tasks: 4, dimensions: 3, seed: 11).firstDecision
  let permutation = [4, 0, 8, 2, 7, 1, 6, 3, 5]
  var shuffled = problem
  shuffled.entities = permutation.map { problem.entities[$0] }
  let net = policy()
  let original = net.preAssignLogits(ProblemFeatures(problem)).softmax(axis: 1).scalars
  let moved = net.preAssignLogits(ProblemFeatures(shuffled)).softmax(axis: 1).scalars
  let m = problem.tasks.count
  for (row, source) in permutation.enumerated() {
    #expect(
      isClose(
        Array(moved[(row * m)..<((row + 1) * m)]),
        Array(original[(source * m)..<((source + 1) * m)]), atol: 1e-6, rtol: 1e-5))
  }
}

@Test(arguments: [1, 2, 5]) func oneNetworkServesAnyNumberOfDimensions(dimensions: Int) {
  let net = policy()
  let problem = partlyAvailableProblem(dimensions: dimensions)
  var rng = RandomState(seed: 2)
  let samples = net.sample(ProblemFeatures(problem), count: 4, rng: &rng)
  #expect(samples.allSatisfy { problem.isFeasible($0.allocation) })
}

@Test func actorGradientsMatchFiniteDifferences() {
  let net = policy(hidden: 6)
  let f = ProblemFeatures(partlyAvailableProblem(seed: 4, dimensions: 2))
  var rng = RandomState(seed: 1)
  let samples = net.sample(f, count: 3, rng: &rng)
  let checked = net.namedParameters().filter {
    [
      "preAssign.entityEmbedding.layers.0.weight", "preAssign.pairBias.weight",
      "selector.head.layers.1.weight", "selector.embedding.layers.0.bias",
    ].contains($0.0)
  }
  #expect(checked.count == 4)
  let report = checkGradients(checked.map(\.1), eps: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in
    net.logProbabilities(f, samples: samples)
  }
  #expect(report.passed, "\(report)")
}

@Test func mixerGradientsMatchFiniteDifferences() {
  var rng = RandomState(seed: 8)
  let critic = MixerCritic(hidden: 6, rng: &rng)
  let f = ProblemFeatures(partlyAvailableProblem(seed: 6, dimensions: 2))
  let assignment = f.entities.indices.map { $0 % f.tasks.count }
  let checked = critic.namedParameters().filter {
    [
      "keys.weight", "weights.bias", "output.layers.0.weight",
      "values.taskEmbedding.layers.1.weight",
    ]
    .contains($0.0)
  }
  #expect(checked.count == 4)
  let report = checkGradients(checked.map(\.1), eps: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in
    Tensor.stack([
      critic(f, assignment: assignment),
      critic.counterfactuals(f, assignment: assignment).sum(),
    ])
  }
  #expect(report.passed, "\(report)")
}

@Test func counterfactualsReplaceOneEntitysChoice() {
  var rng = RandomState(seed: 8)
  let critic = MixerCritic(hidden: 8, rng: &rng)
  let f = ProblemFeatures(partlyAvailableProblem(seed: 6))
  let assignment = f.entities.indices.map { ($0 * 3) % f.tasks.count }
  let table = critic.counterfactuals(f, assignment: assignment).scalars
  let m = f.tasks.count
  for (i, t) in [(0, 1), (3, 0), (5, 3)] {
    var changed = assignment
    changed[i] = t
    #expect(abs(table[i * m + t] - critic(f, assignment: changed).item) < 1e-5)
  }
  // Keeping one's own choice gives Q_tot itself.
  #expect(abs(table[0 * m + assignment[0]] - critic(f, assignment: assignment).item) < 1e-5)
}

@Test func greedySamplingIsDeterministicAndRepeatable() {
  let net = policy()
  let f = ProblemFeatures(partlyAvailableProblem())
  var a = RandomState(seed: 1)
  var b = RandomState(seed: 99)
  let first = net.sample(f, count: 3, greedy: true, rng: &a)
  #expect(first == net.sample(f, count: 3, greedy: true, rng: &b))
  #expect(Set(first.map(\.allocation.assignment)).count == 1)
  var c = RandomState(seed: 4)
  var d = RandomState(seed: 4)
  #expect(net.sample(f, count: 5, rng: &c) == net.sample(f, count: 5, rng: &d))
}
