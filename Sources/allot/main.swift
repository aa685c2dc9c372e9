import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

/// Companion commands to `train`: look into checkpoints and runs, evaluate, summarise
/// sweeps and plot curves.
struct Allot: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "allot",
    abstract: "Inspect, evaluate, summarise and plot Allot runs; run pretrained models.",
    subcommands: [
      Inspect.self, Evaluate.self, Summarize.self, Plot.self, Mine.self, Baselines.self,
      Generate.self, Tokenize.self, Export.self,
    ])
}

/// Says on stderr what a command is doing (loading, generating), for work that takes more
/// than a moment.
func status(_ message: String) {
  FileHandle.standardError.write(Data("\(message)\n".utf8))
}

/// `n word`, with an `s` unless `n` is 1.
func plural(_ n: Int, _ word: String) -> String {
  "\(n) \(word)\(n == 1 ? "" : "s")"
}

/// Prints `message` as one paragraph on stderr and exits non-zero.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("allot: error: \(message)\n".utf8))
  Foundation.exit(1)
}

/// A checkpoint named by its file or its run directory (the newest valid one).
func openCheckpoint(_ argument: String) -> (URL, CheckpointData) {
  do {
    let found = try RunCheckpoints.locate(argument, experiment: "", root: ".")
    for warning in found.warnings {
      FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
    }
    return (found.url, found.data)
  } catch {
    fail("\(error)")
  }
}

// One OpenBLAS thread, as in training: the machines are small and often shared, and
// more threads busy-wait when the other core is taken.
BLAS.setThreads(1)
Allot.main()
