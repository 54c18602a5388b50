"""Training, conversion and evaluation of Keras models: the only part that imports TensorFlow."""
