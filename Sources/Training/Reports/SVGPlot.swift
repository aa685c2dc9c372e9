import Foundation

/// A line chart of one metric against the step, as a standalone SVG: one colour per
/// variant, its seeds as thin lines, their mean as a thick line with a band of ± one
/// standard deviation over the seeds, and a dot on every step-0 (before training) value.
public struct SVGPlot {
  /// The runs (seeds) of one variant; each run is its (step, value) points.
  public struct Variant {
    public var label: String
    public var runs: [[(x: Double, y: Double)]]

    /// Keeps the finite points, and the runs that have any.
    public init(label: String, runs: [[(x: Double, y: Double)]]) {
      self.label = label
      self.runs = runs.map { $0.filter { $0.y.isFinite } }.filter { !$0.isEmpty }
    }

    /// Per step logged by any run: the mean over the runs that logged it, their sample
    /// std (0 for one) and how many they were.
    public var mean: [(x: Double, y: Double, std: Double, n: Int)] {
      var byStep: [Double: [Double]] = [:]
      for run in runs { for p in run { byStep[p.x, default: []].append(p.y) } }
      return byStep.keys.sorted().map { x in
        let ys = byStep[x]!
        let m = ys.reduce(0, +) / Double(ys.count)
        let v =
          ys.count > 1 ? ys.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(ys.count - 1) : 0
        return (x, m, v.squareRoot(), ys.count)
      }
    }
  }

  public var title: String
  public var xLabel = "step"
  public var yLabel: String
  public var variants: [Variant]
  /// The plot area; the legend is added to the right of it.
  public var plotWidth = 560.0
  public var plotHeight = 330.0

  public init(title: String, yLabel: String, variants: [Variant]) {
    self.title = title
    self.yLabel = yLabel
    self.variants = variants
  }

  static let colors = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#7f7f7f", "#bcbd22",
  ]

  /// Round tick values covering `lo…hi`, about `count` of them.
  static func ticks(_ lo: Double, _ hi: Double, count: Int = 6) -> [Double] {
    guard hi > lo else { return [lo] }
    let raw = (hi - lo) / Double(count)
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
    var t = (lo / step).rounded(.up) * step
    var out: [Double] = []
    while t <= hi + step * 1e-9 {
      // Multiples of a step can land on −0 or 1e-17: they are 0.
      out.append(Swift.abs(t) < step * 1e-9 ? 0 : t)
      t += step
    }
    return out
  }

  /// The labels of one axis's ticks, all in one format: the same decimals for every tick (as
  /// few as show each exactly), thousands as `k` and millions as `M` from 10 000 up, and
  /// scientific notation for axes below 0.001.
  static func tickLabels(_ ticks: [Double]) -> [String] {
    let largest = ticks.map { Swift.abs($0) }.max() ?? 0
    if largest > 0 && largest < 1e-3 {
      return ticks.map { $0 == 0 ? "0" : String(format: "%.1e", $0) }
    }
    let (scale, suffix) = largest >= 1e6 ? (1e6, "M") : largest >= 1e4 ? (1e3, "k") : (1, "")
    let scaled = ticks.map { $0 / scale }
    let decimals =
      (0...6).first { d in
        scaled.allSatisfy { v in
          let shifted = v * pow(10, Double(d))
          return Swift.abs(shifted - shifted.rounded()) < 1e-6 * max(1, Swift.abs(shifted))
        }
      } ?? 6
    return scaled.map { String(format: "%.\(decimals)f", $0) + ($0 == 0 ? "" : suffix) }
  }

  /// Legend entries: the label and, for several runs, how many.
  var legend: [String] {
    variants.map { $0.runs.count > 1 ? "\($0.label) (\($0.runs.count) seeds)" : $0.label }
  }

  public func render() -> String {
    let all = variants.flatMap { $0.runs.flatMap { $0 } }
    // Room for every legend line (about 7 px per character at 12 px) and for every entry.
    let legendWidth = 40 + 7.0 * Double(legend.map(\.count).max() ?? 0)
    let (left, top) = (70.0, 48.0)
    let right = left + plotWidth
    let bottom = top + max(plotHeight, 18 * Double(variants.count) + 10)
    let (width, height) = (right + 20 + legendWidth, bottom + 50)
    // The step axis starts at 0, so the step-0 evaluation and the start of training show.
    var xs = (min(0, all.map(\.x).min() ?? 0), all.map(\.x).max() ?? 1)
    var ys = (all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
    if xs.1 == xs.0 { xs.1 = xs.0 + 1 }
    if ys.1 == ys.0 { ys = (ys.0 - 0.5, ys.1 + 0.5) }
    let pad = (ys.1 - ys.0) * 0.05
    ys = (ys.0 - pad, ys.1 + pad)
    func px(_ x: Double) -> Double { left + (x - xs.0) / (xs.1 - xs.0) * (right - left) }
    func py(_ y: Double) -> Double { bottom - (y - ys.0) / (ys.1 - ys.0) * (bottom - top) }
    func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    func points(_ ps: [(Double, Double)]) -> String {
      ps.map { "\(fmt(px($0.0))),\(fmt(py($0.1)))" }.joined(separator: " ")
    }
    let seeded = variants.contains { $0.runs.count > 1 }
    let stepZero = all.contains { $0.x == 0 }
    var svg = [
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
      // Bands (mean ± std) may reach beyond every seed's values: they are cut at the frame.
      "<clipPath id=\"frame\"><rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(right - left))\" height=\"\(fmt(bottom - top))\"/></clipPath>",
      "<text x=\"\(fmt((left + right) / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>",
    ]
    let keys =
      (seeded ? ["thick: mean over seeds", "band: ± 1 std", "thin: each seed"] : [])
      + (stepZero ? ["large dot: step 0 (before training)"] : [])
    if !keys.isEmpty {
      svg.append(
        "<text x=\"\(fmt((left + right) / 2))\" y=\"37\" text-anchor=\"middle\" fill=\"#555\">\(keys.joined(separator: "; "))</text>"
      )
    }
    let xTicks = Self.ticks(xs.0, xs.1)
    for (t, text) in zip(xTicks, Self.tickLabels(xTicks)) {
      svg.append(
        "<line x1=\"\(fmt(px(t)))\" y1=\"\(fmt(top))\" x2=\"\(fmt(px(t)))\" y2=\"\(fmt(bottom))\" stroke=\"#eee\"/>"
      )
      svg.append(
        "<text x=\"\(fmt(px(t)))\" y=\"\(fmt(bottom + 16))\" text-anchor=\"middle\">\(text)</text>")
    }
    let yTicks = Self.ticks(ys.0, ys.1)
    for (t, text) in zip(yTicks, Self.tickLabels(yTicks)) {
      svg.append(
        "<line x1=\"\(fmt(left))\" y1=\"\(fmt(py(t)))\" x2=\"\(fmt(right))\" y2=\"\(fmt(py(t)))\" stroke=\"#eee\"/>"
      )
      svg.append(
        "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(py(t) + 4))\" text-anchor=\"end\">\(text)</text>")
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
    func color(_ i: Int) -> String { Self.colors[i % Self.colors.count] }
    // After the palette runs out, variants repeat its colours dashed.
    func dash(_ i: Int) -> String { i >= Self.colors.count ? " stroke-dasharray=\"6 3\"" : "" }
    // Bands and seeds first, so that no band covers another variant's mean.
    for (i, variant) in variants.enumerated() where variant.runs.count > 1 {
      let band = variant.mean.filter { $0.n > 1 }
      let outline =
        band.map { ($0.x, $0.y + $0.std) } + band.reversed().map { ($0.x, $0.y - $0.std) }
      svg.append(
        "<polygon clip-path=\"url(#frame)\" fill=\"\(color(i))\" fill-opacity=\"0.15\" points=\"\(points(outline))\"/>"
      )
      for run in variant.runs {
        svg.append(
          "<polyline class=\"seed\" fill=\"none\" stroke=\"\(color(i))\" stroke-opacity=\"0.35\" stroke-width=\"0.8\" points=\"\(points(run.map { ($0.x, $0.y) }))\"/>"
        )
      }
    }
    for (i, (variant, entry)) in zip(variants, legend).enumerated() {
      let mean = variant.mean
      svg.append(
        "<polyline class=\"mean\" fill=\"none\" stroke=\"\(color(i))\"\(dash(i)) stroke-width=\"2\" points=\"\(points(mean.map { ($0.x, $0.y) }))\"/>"
      )
      // Sparse series (evaluations) get a marker on every point; step 0 always does.
      for p in mean where p.x == 0 || mean.count <= 40 {
        svg.append(
          "<circle cx=\"\(fmt(px(p.x)))\" cy=\"\(fmt(py(p.y)))\" r=\"\(p.x == 0 ? 4.5 : 2.5)\" fill=\"\(color(i))\"/>"
        )
      }
      let ly = top + 14 + Double(i) * 18
      svg.append(
        "<line x1=\"\(fmt(right + 12))\" y1=\"\(fmt(ly - 4))\" x2=\"\(fmt(right + 32))\" y2=\"\(fmt(ly - 4))\" stroke=\"\(color(i))\"\(dash(i)) stroke-width=\"2\"/>"
      )
      svg.append("<text x=\"\(fmt(right + 38))\" y=\"\(fmt(ly))\">\(escape(entry))</text>")
    }
    svg.append("</svg>")
    return svg.joined(separator: "\n") + "\n"
  }

  private func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
