import Foundation

/// A seeded pseudo-random generator (xoshiro256**) whose whole state is four words, so a
/// checkpoint can save it and a resumed run continues the same stream.
public struct RandomState: RandomNumberGenerator, Sendable, Equatable {
  /// The generator state. Save it to resume a stream; never all zero.
  public private(set) var state: [UInt64]

  /// A generator seeded deterministically from `seed` (through SplitMix64).
  public init(seed: UInt64) {
    var z = seed
    var words: [UInt64] = []
    for _ in 0..<4 {
      z &+= 0x9E37_79B9_7F4A_7C15
      var x = z
      x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
      x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
      words.append(x ^ (x >> 31))
    }
    state = words
  }

  /// A generator continuing from a saved `state`.
  public init(state: [UInt64]) {
    require(
      state.count == 4 && state.contains(where: { $0 != 0 }),
      "RandomState(state:): needs four words, not all zero; got \(state)")
    self.state = state
  }

  public mutating func next() -> UInt64 {
    let result = rotl(state[1] &* 5, 7) &* 9
    let t = state[1] << 17
    state[2] ^= state[0]
    state[3] ^= state[1]
    state[1] ^= state[2]
    state[0] ^= state[3]
    state[2] ^= t
    state[3] = rotl(state[3], 45)
    return result
  }

  /// A uniform `Float` in [0, 1) with 24 random bits.
  public mutating func nextUniform() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }

  /// A uniform `Double` in [0, 1) with 53 random bits.
  public mutating func nextDouble() -> Double {
    Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
  }

  /// A standard normal sample (Box–Muller; one of the pair is used, so the state stays
  /// four words).
  public mutating func nextNormal() -> Float {
    let u1 = 1.0 - nextDouble()  // (0, 1]
    let u2 = nextDouble()
    return Float((-2.0 * Foundation.log(u1)).squareRoot() * cos(2.0 * Double.pi * u2))
  }

  /// A uniform integer in `0..<bound`.
  public mutating func nextInt(below bound: Int) -> Int {
    require(bound > 0, "RandomState.nextInt(below:): bound \(bound) must be positive")
    return Int(next(upperBound: UInt64(bound)))
  }

  /// A child generator for an independent stream (e.g. one per worker or per component).
  public mutating func split() -> RandomState {
    RandomState(seed: next())
  }

  private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
