"""JAX implementations (jax-*). Imported only through the registry."""
