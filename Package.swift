// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "Allot",
  products: [
    .library(name: "TensorCore", targets: ["TensorCore"]),
    .library(name: "NN", targets: ["NN"]),
    .library(name: "Optim", targets: ["Optim"]),
    .library(name: "Checkpoint", targets: ["Checkpoint"]),
    .library(name: "TaskAllocation", targets: ["TaskAllocation"]),
    .library(name: "Reasoning", targets: ["Reasoning"]),
    .library(name: "GRPO", targets: ["GRPO"]),
    .library(name: "Distributed", targets: ["Distributed"]),
    .library(name: "Pretrained", targets: ["Pretrained"]),
    .library(name: "Training", targets: ["Training"]),
    .executable(name: "train", targets: ["train"]),
    .executable(name: "allot", targets: ["allot"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // System-library shims: a module map and a header of small wrappers. Not public API.
    .systemLibrary(
      name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CGLPK", providers: [.apt(["libglpk-dev"])]),
    .systemLibrary(
      name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

    // C loops that Swift does not vectorise. Not public API.
    .target(name: "CKernels"),

    // Libraries, each importing only those above it.
    .target(name: "TensorCore", dependencies: ["CBLAS", "CKernels"]),
    .target(name: "NN", dependencies: ["TensorCore"]),
    .target(name: "Optim", dependencies: ["TensorCore", "CKernels"]),
    .target(name: "Checkpoint", dependencies: ["TensorCore", "CHDF5"]),
    .target(name: "TaskAllocation", dependencies: ["TensorCore", "NN", "Optim", "CGLPK"]),
    .target(name: "Reasoning", dependencies: ["TensorCore", "NN"]),
    .target(
      name: "GRPO", dependencies: ["TensorCore"],
      resources: [.copy("Resources/english-strategic-grams.txt")]),
    .target(name: "Distributed", dependencies: ["CMPI"]),
    .target(name: "Pretrained", dependencies: ["TensorCore", "NN", "Reasoning"]),
    .target(
      name: "Training",
      dependencies: [
        "TensorCore", "NN", "Optim", "Checkpoint", "Reasoning", "GRPO", "TaskAllocation",
        "Distributed", "Pretrained",
      ]),

    // Executables.
    .executableTarget(
      name: "train",
      dependencies: [
        "TensorCore", "NN", "Optim", "Checkpoint", "Training", "Distributed",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "allot",
      dependencies: [
        "TensorCore", "Checkpoint", "Training", "Reasoning", "GRPO", "TaskAllocation",
        "Pretrained",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    .executableTarget(
      name: "allot-bench",
      dependencies: [
        "TensorCore", "NN", "Optim", "Checkpoint", "CBLAS", "CGLPK", "Reasoning", "GRPO",
        "TaskAllocation", "Pretrained", "Training",
      ],
      path: "Benchmarks/AllotBench"),

    // Tests (Swift Testing).
    .target(
      name: "TestSupport", dependencies: ["Reasoning", "TensorCore"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
    .testTarget(name: "NNTests", dependencies: ["NN", "Optim", "TensorCore", "TestSupport"]),
    .testTarget(
      name: "CheckpointTests", dependencies: ["Checkpoint", "TensorCore", "TestSupport"]),
    .testTarget(
      name: "TaskAllocationTests",
      dependencies: ["TaskAllocation", "NN", "TensorCore", "TestSupport"]),
    .testTarget(name: "ReasoningTests", dependencies: ["Reasoning", "Optim", "TestSupport"]),
    .testTarget(name: "GRPOTests", dependencies: ["GRPO", "TestSupport"]),
    .testTarget(name: "DistributedTests", dependencies: ["Distributed"]),
    .testTarget(
      name: "PretrainedTests",
      dependencies: ["Pretrained", "Reasoning", "NN", "TensorCore", "TestSupport"],
      exclude: ["golden"]),
    .testTarget(
      name: "TrainingTests",
      dependencies: [
        "Training", "Checkpoint", "Distributed", "Pretrained", "TestSupport", "train", "allot",
      ],
      exclude: ["golden"]),
  ]
)
