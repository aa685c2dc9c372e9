// Optim: optimizers.
