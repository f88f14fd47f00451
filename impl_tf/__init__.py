"""TensorFlow implementations (tf-*). Imported only through the registry."""
