import Foundation
import TensorCore

/// A fast 64-bit checksum for detecting damaged checkpoint data (not a cryptographic hash).
///
/// Position-weighted wrapping sums (Fletcher's scheme over 64-bit words, in four lanes),
/// folded with the length through a bijective mixer. Any change confined to one 64-bit
/// word (so every single-bit flip) always changes the checksum; other damage does except
/// with a chance of about 2⁻⁶⁴. It runs at memory speed.
public enum Checksum {
  /// The checksum of `bytes`.
  public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var a0 = SIMD2<UInt64>(), a1 = SIMD2<UInt64>(), b0 = SIMD2<UInt64>(), b1 = SIMD2<UInt64>()
    let count = bytes.count
    var offset = 0
    if let base = bytes.baseAddress {
      while offset + 32 <= count {
        a0 &+= base.loadUnaligned(fromByteOffset: offset, as: SIMD2<UInt64>.self)
        a1 &+= base.loadUnaligned(fromByteOffset: offset + 16, as: SIMD2<UInt64>.self)
        b0 &+= a0
        b1 &+= a1
        offset += 32
      }
      var tail: UInt64 = 0
      var shift: UInt64 = 0
      while offset < count {
        tail |= UInt64(base.load(fromByteOffset: offset, as: UInt8.self)) << shift
        shift += 8
        offset += 1
        if shift == 64 || offset == count {
          a0[0] &+= tail
          b0[0] &+= a0[0]
          tail = 0
          shift = 0
        }
      }
    }
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)
    for x in [a0[0], a0[1], a1[0], a1[1], b0[0], b0[1], b1[0], b1[1]] { h = mix(h ^ x) }
    return h
  }

  /// The checksum of a string's UTF-8 bytes.
  public static func of(_ string: String) -> UInt64 {
    var copy = string
    return copy.withUTF8 { of(UnsafeRawBufferPointer($0)) }
  }

  /// The checksum of an array's elements in memory.
  public static func of<T>(_ values: [T]) -> UInt64 {
    values.withUnsafeBytes { of($0) }
  }

  /// splitmix64's finalizer: a bijection on 64-bit words.
  @inline(__always)
  static func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Sixteen lowercase hex digits.
  static func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
}

/// The integrity record a checkpoint carries in its `checksums` root attribute: one line
/// `<16 hex digits> <object>` per dataset (`/model/fc.weight`) and per other root attribute
/// (`@step`), sorted by object.
struct IntegrityManifest {
  /// The root attribute holding the manifest.
  static let attribute = "checksums"

  var entries: [String: UInt64] = [:]

  var text: String {
    entries.keys.sorted().map { "\(Checksum.hex(entries[$0]!)) \($0)" }.joined(separator: "\n")
  }

  init() {}

  /// Parses a manifest; nil when any line is malformed (the attribute itself is damaged).
  init?(parsing text: String) {
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
      guard line.count > 17, line[line.index(line.startIndex, offsetBy: 16)] == " ",
        let value = UInt64(line.prefix(16), radix: 16)
      else { return nil }
      let object = String(line.dropFirst(17))
      guard object.hasPrefix("/") || object.hasPrefix("@"), entries[object] == nil else {
        return nil
      }
      entries[object] = value
    }
  }

  /// The checksum of a root attribute's value, its type included.
  static func checksum(of value: AttributeValue) -> UInt64 {
    switch value {
    case .string(let s): Checksum.mix(Checksum.of(s) ^ 1)
    case .integer(let i): Checksum.mix(Checksum.of([i]) ^ 2)
    case .double(let d): Checksum.mix(Checksum.of([d]) ^ 3)
    }
  }
}

/// A tensor or array holding NaN or ±Inf: where, how many, and the first bad index.
public struct NonFiniteValues: Equatable, Sendable, CustomStringConvertible {
  /// The path of the tensor or array (`model/fc.weight`).
  public var name: String
  /// How many of its elements are NaN or infinite.
  public var count: Int
  /// How many elements it has.
  public var total: Int
  /// The flat index of the first non-finite element.
  public var firstIndex: Int
  /// The first non-finite value.
  public var firstValue: Double

  public var description: String {
    "\(name) holds \(count) non-finite value\(count == 1 ? "" : "s") of \(total) "
      + "(first: \(firstValue) at flat index \(firstIndex))"
  }

  /// The first non-finite entry among `tensors` (in order), or nil when all are finite.
  public static func first(in tensors: [(String, Tensor)]) -> NonFiniteValues? {
    for (name, tensor) in tensors {
      let found: NonFiniteValues? = tensor.withUnsafeBufferPointer { buffer in
        var count = 0
        var first = -1
        for i in 0..<buffer.count where !buffer[i].isFinite {
          if first < 0 { first = i }
          count += 1
        }
        return first < 0
          ? nil
          : NonFiniteValues(
            name: name, count: count, total: buffer.count, firstIndex: first,
            firstValue: Double(buffer[first]))
      }
      if let found { return found }
    }
    return nil
  }

  /// The first non-finite entry among named Float64 arrays (by sorted name), or nil.
  public static func first(in arrays: [String: [Double]]) -> NonFiniteValues? {
    for name in arrays.keys.sorted() {
      let values = arrays[name]!
      guard let first = values.firstIndex(where: { !$0.isFinite }) else { continue }
      return NonFiniteValues(
        name: name, count: values.count { !$0.isFinite }, total: values.count,
        firstIndex: first, firstValue: values[first])
    }
    return nil
  }
}

extension CheckpointData {
  /// The first float32 tensor or float64 array holding NaN or ±Inf, or nil when every value
  /// is finite. `RunCheckpoints.save` refuses such data.
  public func firstNonFinite() -> NonFiniteValues? {
    NonFiniteValues.first(in: tensors) ?? NonFiniteValues.first(in: doubles)
  }

  /// The `runID` root attribute: the identity of the run that wrote the checkpoint, fixed
  /// when the run directory was created (see `RunCheckpoints.identity()`).
  public var runID: String? {
    if case .string(let id)? = attributes["runID"] { id } else { nil }
  }

  /// Whether the file was read with its checksums verified (false for files written
  /// without a `checksums` attribute: older Allot builds, or files rebuilt with h5py).
  public var isVerified: Bool { verified }
}
