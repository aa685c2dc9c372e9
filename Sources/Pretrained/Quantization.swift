/// ggml's tensor element types, numbered as in GGUF files, with the block layout of each.
/// Allot dequantises the `supported` ones to Float32 and refuses the others by name.
public enum GGMLType: UInt32, CaseIterable, Sendable {
  case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
  case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
  case iq2_XXS = 16, iq2_XS = 17, iq3_XXS = 18, iq1_S = 19, iq4_NL = 20, iq3_S = 21
  case iq2_S = 22, iq4_XS = 23, i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_M = 29
  case bf16 = 30, tq1_0 = 34, tq2_0 = 35, mxfp4 = 39

  /// The types Allot reads.
  public static let supported: [GGMLType] = [
    .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q4_K, .q5_K, .q6_K,
  ]

  /// ggml's name for the type (`Q4_K`, `IQ2_XXS`, `BF16`).
  public var name: String { "\(self)".uppercased() }

  public var isSupported: Bool { Self.supported.contains(self) }

  /// Elements per block and bytes per block (1 element for the plain types).
  public var block: (elements: Int, bytes: Int) {
    switch self {
    case .f32, .i32: (1, 4)
    case .f16, .bf16, .i16: (1, 2)
    case .i8: (1, 1)
    case .i64, .f64: (1, 8)
    case .q4_0, .iq4_NL: (32, 18)
    case .q4_1: (32, 20)
    case .q5_0: (32, 22)
    case .q5_1: (32, 24)
    case .q8_0: (32, 34)
    case .q8_1: (32, 40)
    case .mxfp4: (32, 17)
    case .q2_K: (256, 84)
    case .q3_K: (256, 110)
    case .q4_K: (256, 144)
    case .q5_K: (256, 176)
    case .q6_K: (256, 210)
    case .q8_K: (256, 292)
    case .iq2_XXS: (256, 66)
    case .iq2_XS: (256, 74)
    case .iq3_XXS: (256, 98)
    case .iq1_S: (256, 50)
    case .iq3_S: (256, 110)
    case .iq2_S: (256, 82)
    case .iq4_XS: (256, 136)
    case .iq1_M: (256, 56)
    case .tq1_0: (256, 54)
    case .tq2_0: (256, 66)
    }
  }

  /// The bytes `count` elements take (count a multiple of the block size).
  public func byteCount(elements count: Int) -> Int { count / block.elements * block.bytes }
}

/// Dequantisation of ggml blocks to Float32. The arithmetic follows ggml's reference
/// order (scale × value, then the offset, each rounded to Float32), so that results equal
/// the `gguf` Python package's `dequantize` bit for bit.
public enum Dequantize {
  /// Float32 of every IEEE half, indexed by its bit pattern (a table beats the software
  /// conversion on the baseline x86-64 Swift targets).
  static let halfTable: [Float] = (0..<65536).map { Float(Float16(bitPattern: UInt16($0))) }

  /// Converts `count` elements of `type` at `source` into `out`. `count` must be a
  /// multiple of the type's block size and `type` one of `GGMLType.supported`.
  public static func run(
    _ type: GGMLType, from source: UnsafeRawPointer, count: Int,
    into out: UnsafeMutablePointer<Float>
  ) {
    let (elements, bytes) = type.block
    precondition(type.isSupported && count % elements == 0, "Dequantize.run: bad \(type) count")
    let blocks = count / elements
    halfTable.withUnsafeBufferPointer { table in
      let half = table.baseAddress!
      func each(_ body: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
        for b in 0..<blocks { body(source + b * bytes, out + b * elements) }
      }
      switch type {
      case .f32:
        for i in 0..<count {
          out[i] = Float(
            bitPattern: UInt32(
              littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
      case .f16: for i in 0..<count { out[i] = half[Int(u16(source, 2 * i))] }
      case .bf16:
        for i in 0..<count { out[i] = Float(bitPattern: UInt32(u16(source, 2 * i)) << 16) }
      case .q8_0: each { q8_0($0, $1, half) }
      case .q4_0: each { q4_0($0, $1, half) }
      case .q4_1: each { q4_1($0, $1, half) }
      case .q4_K: each { kQuant($0, $1, half, fifthBits: false) }
      case .q5_K: each { kQuant($0, $1, half, fifthBits: true) }
      case .q6_K: each { q6_K($0, $1, half) }
      default: preconditionFailure("Dequantize.run: \(type.name) is not supported")
      }
    }
  }

  @inline(__always)
  static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
  }

  /// f16 d, then 32 × int8 q: w = q·d.
  @inline(__always)
  static func q8_0(
    _ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>, _ half: UnsafePointer<Float>
  ) {
    let d = half[Int(u16(p, 0))]
    let q = (p + 2).assumingMemoryBound(to: Int8.self)
    for i in 0..<32 { o[i] = Float(q[i]) * d }
  }

  /// f16 d, then 16 bytes of nibbles (low: weights 0–15, high: 16–31): w = d·(q − 8).
  @inline(__always)
  static func q4_0(
    _ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>, _ half: UnsafePointer<Float>
  ) {
    let d = half[Int(u16(p, 0))]
    let q = (p + 2).assumingMemoryBound(to: UInt8.self)
    for i in 0..<16 {
      o[i] = d * Float(Int(q[i] & 0x0F) - 8)
      o[i + 16] = d * Float(Int(q[i] >> 4) - 8)
    }
  }

  /// f16 d, f16 m, then 16 bytes of nibbles as in Q4_0: w = d·q + m.
  @inline(__always)
  static func q4_1(
    _ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>, _ half: UnsafePointer<Float>
  ) {
    let d = half[Int(u16(p, 0))]
    let m = half[Int(u16(p, 2))]
    let q = (p + 4).assumingMemoryBound(to: UInt8.self)
    for i in 0..<16 {
      o[i] = d * Float(q[i] & 0x0F) + m
      o[i + 16] = d * Float(q[i] >> 4) + m
    }
  }

  /// Q4_K and Q5_K: a super-block of 256 weights in 8 sub-blocks of 32. f16 d, f16
  /// dmin, 12 bytes of packed 6-bit (scale, min) pairs, [Q5_K: 32 bytes of fifth bits,
  /// sub-block j's in bit j], then 128 bytes of nibbles: bytes 32c..<32c+32 hold sub-block
  /// 2c in their low nibbles and 2c+1 in their high ones. w = (d·sc)·q − dmin·mn.
  @inline(__always)
  static func kQuant(
    _ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>, _ half: UnsafePointer<Float>,
    fifthBits: Bool
  ) {
    let d = half[Int(u16(p, 0))]
    let dmin = half[Int(u16(p, 2))]
    let s = (p + 4).assumingMemoryBound(to: UInt8.self)
    let h = (p + 16).assumingMemoryBound(to: UInt8.self)
    let q = (p + (fifthBits ? 48 : 16)).assumingMemoryBound(to: UInt8.self)
    for j in 0..<8 {
      let scale: UInt8
      let minimum: UInt8
      if j < 4 {
        scale = s[j] & 0x3F
        minimum = s[j + 4] & 0x3F
      } else {
        scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 2) & 0x30)
        minimum = (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30)
      }
      let dl = d * Float(scale)
      let ml = dmin * Float(minimum)
      let bytes = q + 32 * (j / 2)
      let shift = UInt8(4 * (j % 2))
      let oj = o + 32 * j
      if fifthBits {
        for l in 0..<32 {
          let v = ((bytes[l] >> shift) & 0x0F) | (((h[l] >> UInt8(j)) & 1) << 4)
          oj[l] = dl * Float(v) - ml
        }
      } else {
        for l in 0..<32 { oj[l] = dl * Float((bytes[l] >> shift) & 0x0F) - ml }
      }
    }
  }

  /// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales (one
  /// per 16 weights), f16 d. Weight e = 128h + 32t + l (h < 2, t < 4, l < 32) takes its
  /// low 4 bits from byte 64h + 32(t % 2) + l (shifted by 4·(t / 2)) and its high 2 bits
  /// from byte 32h + l (shifted by 2t): w = d·scale·(q − 32).
  @inline(__always)
  static func q6_K(
    _ p: UnsafeRawPointer, _ o: UnsafeMutablePointer<Float>, _ half: UnsafePointer<Float>
  ) {
    let ql = p.assumingMemoryBound(to: UInt8.self)
    let qh = (p + 128).assumingMemoryBound(to: UInt8.self)
    let scales = (p + 192).assumingMemoryBound(to: Int8.self)
    let d = half[Int(u16(p, 208))]
    for h in 0..<2 {
      for t in 0..<4 {
        let low = ql + 64 * h + 32 * (t % 2)
        let lowShift = UInt8(4 * (t / 2))
        let highBits = qh + 32 * h
        let highShift = UInt8(2 * t)
        let e0 = 128 * h + 32 * t
        let dl0 = d * Float(scales[e0 / 16])
        let dl1 = d * Float(scales[e0 / 16 + 1])
        for l in 0..<32 {
          let v = ((low[l] >> lowShift) & 0x0F) | (((highBits[l] >> highShift) & 3) << 4)
          o[e0 + l] = (l < 16 ? dl0 : dl1) * Float(Int(v) - 32)
        }
      }
    }
  }
}
