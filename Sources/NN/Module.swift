import TensorCore

/// A piece of a model: parameters of its own and named child modules. Parameter names are
/// dotted paths (`blocks.0.attn.wq.weight`) in a stable order, which checkpoints and
/// optimizers use as keys.
public protocol Module: AnyObject {
  /// The parameters this module owns directly, with local names, in a fixed order.
  var ownParameters: [(String, Tensor)] { get }
  /// The child modules, with local names, in a fixed order.
  var children: [(String, any Module)] { get }
}

extension Module {
  public var ownParameters: [(String, Tensor)] { [] }
  public var children: [(String, any Module)] { [] }

  /// Every parameter of this module and its descendants, named by dotted path.
  public func namedParameters() -> [(String, Tensor)] {
    var out = ownParameters
    for (name, child) in children {
      out += child.namedParameters().map { ("\(name).\($0.0)", $0.1) }
    }
    return out
  }

  /// Every parameter, in `namedParameters()` order.
  public var parameters: [Tensor] { namedParameters().map(\.1) }

  /// The total number of parameter elements.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// Clears the accumulated gradient of every parameter.
  public func zeroGrad() {
    for p in parameters { p.grad = nil }
  }

  /// Copies every parameter value from `other`, a module of the same structure.
  public func copyParameters(from other: any Module) {
    let mine = namedParameters()
    let theirs = Dictionary(other.namedParameters(), uniquingKeysWith: { a, _ in a })
    for (name, p) in mine {
      guard let source = theirs[name] else {
        fatalError("copyParameters: the source module has no parameter '\(name)'")
      }
      p.assign(source)
    }
  }
}

/// A list of modules of one kind, named `0`, `1`, … in order.
public final class ModuleList<Element: Module>: Module {
  public let items: [Element]

  public init(_ items: [Element]) { self.items = items }

  public var children: [(String, any Module)] {
    items.enumerated().map { ("\($0.offset)", $0.element) }
  }
}
