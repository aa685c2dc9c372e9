// NN: modules and layers.
