import TensorCore
import Testing

// RandomState: the reference xoshiro256** and SplitMix64 streams, reproducibility, saved
// state, and sample moments. Moment tolerances are five standard errors or more.

@Test func xoshiroMatchesTheReferenceStream() {
  // Outputs of the reference C implementation (Blackman & Vigna) from state 1, 2, 3, 4.
  var rng = RandomState(state: [1, 2, 3, 4])
  #expect(
    (0..<6).map { _ in rng.next() } == [
      11520, 0, 1_509_978_240, 1_215_971_899_390_074_240, 1_216_172_134_540_287_360,
      607_988_272_756_665_600,
    ])
}

@Test func seedingUsesSplitMix64() {
  // The first SplitMix64 output for seed 0 is 0xE220A8397B1DCDAF.
  #expect(RandomState(seed: 0).state[0] == 0xE220_A839_7B1D_CDAF)
  #expect(
    RandomState(seed: 42).state == [
      0xBDD7_3226_2FEB_6E95, 0x28EF_E333_B266_F103, 0x4752_6757_130F_9F52, 0x581C_E1FF_0E4A_E394,
    ])
  var rng = RandomState(seed: 42)
  #expect(
    (0..<3).map { _ in rng.next() } == [
      1_546_998_764_402_558_742, 6_990_951_692_964_543_102, 12_544_586_762_248_559_009,
    ])
  // nextUniform keeps the top 24 bits: exact values for seed 1.
  var uniform = RandomState(seed: 1)
  #expect(
    (0..<3).map { _ in uniform.nextUniform() } == [
      0.702_921_807_765_960_7, 0.520_436_584_949_493_4, 0.574_105_679_988_861_1,
    ])
}

@Test func sameSeedSameStreamAndStateRestores() {
  var a = RandomState(seed: 42)
  var b = RandomState(seed: 42)
  #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
  var c = RandomState(seed: 43)
  #expect((0..<4).map { _ in a.next() } != (0..<4).map { _ in c.next() })
  // Save mid-stream, draw a mix of samples, restore: the continuation is identical.
  _ = a.nextNormal()
  let saved = a.state
  let expected = (0..<50).map { i in i % 3 == 0 ? a.nextUniform() : a.nextNormal() }
  var resumed = RandomState(state: saved)
  #expect(
    (0..<50).map { i in i % 3 == 0 ? resumed.nextUniform() : resumed.nextNormal() } == expected)
  #expect(resumed == a)
  // Tensor sampling draws from the same stream.
  var t1 = RandomState(seed: 9)
  var t2 = RandomState(seed: 9)
  #expect(Tensor.normal([5], rng: &t1).scalars == (0..<5).map { _ in t2.nextNormal() })
  #expect(t1 == t2)
}

@Test func splitGivesAReproducibleIndependentChild() {
  var parent1 = RandomState(seed: 3)
  var parent2 = RandomState(seed: 3)
  var child1 = parent1.split()
  var child2 = parent2.split()
  #expect(child1 == child2)
  #expect(parent1 == parent2)
  #expect(child1 != parent1)
  #expect((0..<4).map { _ in child1.next() } != (0..<4).map { _ in parent1.next() })
  #expect(child2.next() != 0)
}

@Test func normalSamplesHaveUnitMoments() {
  var rng = RandomState(seed: 7)
  let n = 100_000
  let x = (0..<n).map { _ in Double(rng.nextNormal()) }
  let mean = x.reduce(0, +) / Double(n)
  let std = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
  #expect(abs(mean) < 0.015, "mean \(mean)")  // standard error 0.0032
  #expect(abs(std - 1) < 0.015, "std \(std)")  // standard error 0.0022
  // About 68.3% within one standard deviation, 95.4% within two.
  let within1 = Double(x.filter { abs($0) < 1 }.count) / Double(n)
  let within2 = Double(x.filter { abs($0) < 2 }.count) / Double(n)
  #expect(abs(within1 - 0.6827) < 0.01)
  #expect(abs(within2 - 0.9545) < 0.005)
  #expect(x.allSatisfy { $0.isFinite })
  // Shifted and scaled through Tensor.normal.
  var rng2 = RandomState(seed: 8)
  let y = Tensor.normal([n], mean: 3, std: 2, rng: &rng2).scalars.map(Double.init)
  let yMean = y.reduce(0, +) / Double(n)
  let yStd = (y.map { ($0 - yMean) * ($0 - yMean) }.reduce(0, +) / Double(n)).squareRoot()
  #expect(abs(yMean - 3) < 0.03, "mean \(yMean)")
  #expect(abs(yStd - 2) < 0.03, "std \(yStd)")
}

@Test func uniformSamplesLieInTheUnitInterval() {
  var rng = RandomState(seed: 7)
  let n = 100_000
  let u = (0..<n).map { _ in rng.nextUniform() }
  #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
  let mean = Double(u.reduce(0, +)) / Double(n)
  #expect(abs(mean - 0.5) < 0.005, "mean \(mean)")  // standard error 0.0009
  let variance = u.map { (Double($0) - mean) * (Double($0) - mean) }.reduce(0, +) / Double(n)
  #expect(abs(variance - 1.0 / 12) < 0.002, "variance \(variance)")
  // Ten equal bins each hold 10% ± 0.5% (standard error 0.095%).
  var bins = [Int](repeating: 0, count: 10)
  for v in u { bins[Int(v * 10)] += 1 }
  #expect(bins.allSatisfy { abs(Double($0) / Double(n) - 0.1) < 0.005 }, "bins \(bins)")
  let d = (0..<n).map { _ in rng.nextDouble() }
  #expect(d.allSatisfy { $0 >= 0 && $0 < 1 })
  var t = RandomState(seed: 2)
  let ranged = Tensor.uniform([10_000], low: -2, high: 3, rng: &t).scalars
  #expect(ranged.allSatisfy { $0 >= -2 && $0 < 3 })
  #expect(ranged.min()! < -1.9 && ranged.max()! > 2.9)
}

@Test func integersCoverTheirRangeEvenly() {
  var rng = RandomState(seed: 5)
  var counts = [Int](repeating: 0, count: 7)
  for _ in 0..<70_000 { counts[rng.nextInt(below: 7)] += 1 }
  #expect(counts.allSatisfy { abs($0 - 10_000) < 500 }, "counts \(counts)")  // sd ≈ 93
  #expect((0..<100).allSatisfy { _ in rng.nextInt(below: 1) == 0 })
}

@Test func xavierBoundsAndInitialisationAreSeeded() {
  var r1 = RandomState(seed: 1)
  var r2 = RandomState(seed: 1)
  let w1 = Tensor.xavierUniform([30, 20], rng: &r1)
  let w2 = Tensor.xavierUniform([30, 20], rng: &r2)
  #expect(w1.scalars == w2.scalars)
  let bound = Float((6.0 / 50.0).squareRoot())
  #expect(w1.scalars.allSatisfy { abs($0) <= bound })
  #expect(w1.scalars.contains { abs($0) > 0.9 * bound })
  #expect(w1.requiresGrad)
}
