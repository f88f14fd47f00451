"""PyTorch implementations (torch-*). Imported only through the registry."""
