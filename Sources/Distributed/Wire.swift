/// Values written as bytes for `Communicator.allGather` and `broadcast`: integers and the
/// exact bit patterns of floats, little-endian, so what a rank reads back is bit for bit
/// what another wrote.
public struct WireWriter: Sendable {
  public private(set) var bytes: [UInt8] = []

  public init() {}

  public mutating func write(_ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }
  public mutating func write(_ value: Int) { write(UInt64(bitPattern: Int64(value))) }
  public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }
  public mutating func write(_ value: Double) { write(value.bitPattern) }
  public mutating func write(_ value: Float) {
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }
  public mutating func write(_ values: [Int]) {
    write(values.count)
    for v in values { write(v) }
  }
  public mutating func write(_ values: [Float]) {
    write(values.count)
    for v in values { write(v) }
  }
  public mutating func write(_ values: [Double]) {
    write(values.count)
    for v in values { write(v) }
  }
  public mutating func write(_ text: String) {
    let utf8 = Array(text.utf8)
    write(utf8.count)
    bytes += utf8
  }
}

/// Reads what a `WireWriter` wrote, in the same order; running past the end is a
/// programmer error (both sides run the same code).
public struct WireReader: Sendable {
  let bytes: [UInt8]
  var offset = 0

  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  /// Whether every byte has been read.
  public var atEnd: Bool { offset == bytes.count }

  private mutating func take(_ count: Int) -> ArraySlice<UInt8> {
    precondition(offset + count <= bytes.count, "WireReader: read past the end")
    defer { offset += count }
    return bytes[offset..<(offset + count)]
  }

  public mutating func readUInt64() -> UInt64 {
    take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
  }
  public mutating func readInt() -> Int { Int(Int64(bitPattern: readUInt64())) }
  public mutating func readBool() -> Bool { take(1).first! != 0 }
  public mutating func readDouble() -> Double { Double(bitPattern: readUInt64()) }
  public mutating func readFloat() -> Float {
    Float(bitPattern: take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) })
  }
  public mutating func readInts() -> [Int] { (0..<readInt()).map { _ in readInt() } }
  public mutating func readFloats() -> [Float] { (0..<readInt()).map { _ in readFloat() } }
  public mutating func readDoubles() -> [Double] { (0..<readInt()).map { _ in readDouble() } }
  public mutating func readString() -> String {
    String(decoding: take(readInt()), as: UTF8.self)
  }
}
