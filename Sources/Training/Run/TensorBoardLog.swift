import Foundation

/// TensorBoard event files beside metrics.jsonl (`logging.tensorboard`), written without
/// TensorFlow: TFRecord framing (length, masked CRC-32C of the length, the bytes, their
/// masked CRC-32C) around `Event` protocol buffers, one per logged step, holding a `Summary`
/// of `simple_value` scalars. Each process writes a new file starting with the
/// `file_version` event; a resumed one then logs `SessionLog.START` at its step, so
/// TensorBoard drops what an earlier process logged after that step.
public final class TensorBoardLog {
  public let url: URL
  /// Seconds since 1970 for each event's `wall_time`.
  let clock: () -> Double

  /// A new event file in `directory`, named as TensorBoard's writers name theirs.
  public init(directory: URL, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
    self.clock = clock
    let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
    url = directory.appendingPathComponent(
      String(
        format: "events.out.tfevents.%010d.%@.%d", Int(clock()), host,
        ProcessInfo.processInfo.processIdentifier))
  }

  /// Writes the first events: the file version and, after a resume, `SessionLog.START`.
  public func start(resumedAt step: Int?) throws {
    // Event.file_version (field 3)
    let version = Self.event(wallTime: clock(), step: 0, field: 3, Array("brain.Event:2".utf8))
    var bytes = Self.record(version)
    if let step {
      // Event.session_log (field 7): SessionLog { status: START (1) }
      bytes += Self.record(Self.event(wallTime: clock(), step: step, field: 7, [0x08, 0x01]))
    }
    try appendBytes(Data(bytes), to: url)
  }

  /// One event holding every value of `record` (names sorted) as a scalar.
  public func append(_ record: MetricsRecord) throws {
    var summary: [UInt8] = []
    for name in record.values.keys.sorted() {
      // Summary.Value { tag: name, simple_value: value }
      var value = Self.field(1, Array(name.utf8))
      value.append(0x15)
      withUnsafeBytes(of: Float(record.values[name]!).bitPattern.littleEndian) {
        value += $0
      }
      summary += Self.field(1, value)
    }
    // Event.summary (field 5)
    try appendBytes(
      Data(Self.record(Self.event(wallTime: clock(), step: record.step, field: 5, summary))),
      to: url)
  }

  /// `Event { wall_time, step, <field>: payload }`, fields in number order and a zero step
  /// left out, as protobuf serialises them.
  static func event(wallTime: Double, step: Int, field: Int, _ payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [0x09]
    withUnsafeBytes(of: wallTime.bitPattern.littleEndian) { bytes += $0 }
    if step != 0 { bytes += [0x10] + varint(UInt64(bitPattern: Int64(step))) }
    return bytes + Self.field(field, payload)
  }

  /// A length-delimited protobuf field.
  static func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
    varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
  }

  static func varint(_ value: UInt64) -> [UInt8] {
    var v = value
    var out: [UInt8] = []
    while v >= 0x80 {
      out.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    return out + [UInt8(v)]
  }

  /// A TFRecord: little-endian length, its masked CRC, the data, its masked CRC.
  static func record(_ data: [UInt8]) -> [UInt8] {
    var length: [UInt8] = []
    withUnsafeBytes(of: UInt64(data.count).littleEndian) { length += $0 }
    return length + le32(maskedCRC(length)) + data + le32(maskedCRC(data))
  }

  static func le32(_ v: UInt32) -> [UInt8] {
    [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)]
  }

  /// TFRecord's mask of a CRC-32C: rotated right by 15 bits, plus a constant.
  static func maskedCRC(_ bytes: [UInt8]) -> UInt32 {
    let crc = crc32c(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }

  /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
  static func crc32c(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return ~crc
  }

  static let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
    return c
  }
}
