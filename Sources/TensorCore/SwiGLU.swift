import CKernels

extension Tensor {
  /// SiLU (swish) x · σ(x), elementwise.
  public func silu() -> Tensor {
    Tensor.swiglu(gate: self, up: Tensor.ones(shape))
  }

  /// The gated MLP activation of Llama-family models, silu(gate) · up, elementwise on two
  /// tensors of one shape. Fused: one C kernel forward and one backward.
  public static func swiglu(gate: Tensor, up: Tensor) -> Tensor {
    require(
      gate.shape == up.shape, "swiglu: gate shape \(gate.shape) differs from up \(up.shape)")
    let out = Tensor(uninitialized: gate.shape)
    allot_swiglu_forward(gate.pointer, up.pointer, out.pointer, gate.count)
    return result(out, op: "swiglu", inputs: [gate, up]) { g in
      let dGate = Tensor(uninitialized: gate.shape)
      let dUp = Tensor(uninitialized: up.shape)
      allot_swiglu_backward(
        g.pointer, gate.pointer, up.pointer, dGate.pointer, dUp.pointer, gate.count)
      return [dGate, dUp]
    }
  }
}
