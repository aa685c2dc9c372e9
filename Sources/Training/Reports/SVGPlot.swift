import Foundation

/// A line chart of one metric against the step for several runs, as a standalone SVG.
public struct SVGPlot {
  public struct Series {
    public var label: String
    public var points: [(x: Double, y: Double)]

    public init(label: String, points: [(x: Double, y: Double)]) {
      self.label = label
      self.points = points
    }
  }

  public var title: String
  public var xLabel = "step"
  public var yLabel: String
  public var series: [Series]
  public var width = 820.0
  public var height = 420.0

  public init(title: String, yLabel: String, series: [Series]) {
    self.title = title
    self.yLabel = yLabel
    self.series = series
  }

  static let colors = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
  ]

  /// Round tick values covering `lo…hi`.
  static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    guard hi > lo else { return [lo] }
    let raw = (hi - lo) / Double(count)
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    var t = (lo / step).rounded(.up) * step
    var out: [Double] = []
    while t <= hi + step * 1e-9 {
      out.append(t)
      t += step
    }
    return out
  }

  public func render() -> String {
    let all = series.flatMap(\.points).filter { $0.y.isFinite }
    let (left, right, top, bottom) = (70.0, width - 250, 40.0, height - 50)
    var xs = (all.map(\.x).min() ?? 0, all.map(\.x).max() ?? 1)
    var ys = (all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
    if xs.1 == xs.0 { xs.1 = xs.0 + 1 }
    if ys.1 == ys.0 { ys = (ys.0 - 0.5, ys.1 + 0.5) }
    let pad = (ys.1 - ys.0) * 0.05
    ys = (ys.0 - pad, ys.1 + pad)
    func px(_ x: Double) -> Double { left + (x - xs.0) / (xs.1 - xs.0) * (right - left) }
    func py(_ y: Double) -> Double { bottom - (y - ys.0) / (ys.1 - ys.0) * (bottom - top) }
    func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    func label(_ raw: Double) -> String {
      // Ticks computed as multiples of a step can land on −0 or 1e-17: show them as 0.
      let v = Swift.abs(raw) < 1e-12 ? 0 : raw
      return abs(v) >= 1e4 || (abs(v) < 1e-3 && v != 0)
        ? String(format: "%.2g", v) : String(format: "%g", (v * 1e6).rounded() / 1e6)
    }
    var svg = [
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
      "<text x=\"\(fmt(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>",
    ]
    for t in Self.ticks(xs.0, xs.1) {
      svg.append(
        "<line x1=\"\(fmt(px(t)))\" y1=\"\(fmt(top))\" x2=\"\(fmt(px(t)))\" y2=\"\(fmt(bottom))\" stroke=\"#eee\"/>"
      )
      svg.append(
        "<text x=\"\(fmt(px(t)))\" y=\"\(fmt(bottom + 16))\" text-anchor=\"middle\">\(label(t))</text>"
      )
    }
    for t in Self.ticks(ys.0, ys.1) {
      svg.append(
        "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(t)))\" x2=\"\(fmt(right))\" y2=\"\(fmt(py(t)))\" stroke=\"#eee\"/>"
      )
      svg.append(
        "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(t) + 4))\" text-anchor=\"end\">\(label(t))</text>"
      )
    }
    svg.append(
      "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(right - left))\" height=\"\(fmt(bottom - top))\" fill=\"none\" stroke=\"#333\"/>"
    )
    svg.append(
      "<text x=\"\(fmt((left + right) / 2))\" y=\"\(fmt(height - 12))\" text-anchor=\"middle\">\(escape(xLabel))</text>"
    )
    svg.append(
      "<text transform=\"translate(16 \(fmt((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>"
    )
    for (i, s) in series.enumerated() {
      let color = Self.colors[i % Self.colors.count]
      // After the palette runs out, lines repeat its colours dashed.
      let dash = i >= Self.colors.count ? " stroke-dasharray=\"6 3\"" : ""
      let path = s.points.filter { $0.y.isFinite }.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }
        .joined(separator: " ")
      svg.append(
        "<polyline fill=\"none\" stroke=\"\(color)\"\(dash) stroke-width=\"1.6\" points=\"\(path)\"/>"
      )
      let ly = top + 14 + Double(i) * 18
      svg.append(
        "<line x1=\"\(fmt(right + 12))\" y1=\"\(fmt(ly - 4))\" x2=\"\(fmt(right + 32))\" y2=\"\(fmt(ly - 4))\" stroke=\"\(color)\"\(dash) stroke-width=\"2\"/>"
      )
      svg.append(
        "<text x=\"\(fmt(right + 38))\" y=\"\(fmt(ly))\">\(escape(String(s.label.prefix(32))))</text>"
      )
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
  }

  private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
