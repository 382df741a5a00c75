"""Labs: namespace clusters, protocol peers and virtual machines for tests and the demo."""
