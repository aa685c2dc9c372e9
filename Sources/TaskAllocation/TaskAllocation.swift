// The TaskAllocation module; see docs/architecture.md.
